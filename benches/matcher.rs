//! Matcher throughput: how many assignments per second the routing core makes
//! when the queue is long.
//!
//! Setup: 7 topics × 4 languages, 1,000 agents with realistic profiles (2-3 skills,
//! 1-2 languages, capacity 3), all accepting and full, and N customers waiting,
//! spread over topics, languages and priorities. The measured step is the hub's hot
//! path under a surge: an agent's chat ends (`remove`), the router gives that agent
//! its next customer, and a new customer arrives (`enqueue`) so the queue stays at
//! N. One step is one assignment; criterion reports elements/s = assignments/s.
//!
//! Run: `cargo bench --bench matcher`.

use std::{
    collections::HashMap,
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use smol_str::SmolStr;
use switchboard::{
    domain::{AgentId, ConversationId, Priority},
    hub::{Assignment, RouteSpec, Router},
};
use uuid::Uuid;

const TOPICS: [&str; 7] = [
    "account_access",
    "verification",
    "deposit_withdrawal",
    "trading",
    "earn",
    "api",
    "general",
];
/// Relative chat volume per topic (deposits/withdrawals and trading dominate a rally).
const TOPIC_WEIGHTS: [u32; 7] = [15, 10, 30, 25, 8, 4, 8];
const LANGS: [&str; 4] = ["en", "es", "tr", "ru"];
const LANG_WEIGHTS: [u32; 4] = [55, 20, 15, 10];
const AGENTS: usize = 1_000;
const CAPACITY: u32 = 3;
/// Simulated time between two steps: 1,000 agents × 3 chats of ~10 minutes end
/// about 5 chats a second.
const STEP: Duration = Duration::from_millis(200);
const FALLBACK_AFTER: Duration = Duration::from_secs(60);

/// xorshift64*: deterministic, cheap, good enough for workload shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = (self.next() % u64::from(total)) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

fn random_spec(rng: &mut Rng) -> RouteSpec {
    let priority = match rng.below(100) {
        0..5 => Priority::Urgent,
        5..20 => Priority::Vip,
        _ => Priority::Standard,
    };
    RouteSpec {
        topic: SmolStr::new_static(TOPICS[rng.weighted(&TOPIC_WEIGHTS)]),
        language: SmolStr::new_static(LANGS[rng.weighted(&LANG_WEIGHTS)]),
        priority,
    }
}

struct World {
    router: Router,
    agent_ids: Vec<AgentId>,
    agent_ix: HashMap<AgentId, usize>,
    /// The chats each agent holds, kept from the assignments the router returns.
    held: Vec<Vec<ConversationId>>,
    /// Pre-drawn customer specs, cycled.
    specs: Vec<RouteSpec>,
    next_spec: usize,
    next_id: u128,
    rng: Rng,
    base: Instant,
    now: Instant,
    steps: u64,
    assignments: u64,
}

impl World {
    fn new(queued: usize) -> Self {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ queued as u64);
        let base = Instant::now();
        let topics: Vec<SmolStr> = TOPICS.iter().map(|t| SmolStr::new_static(t)).collect();
        let mut router = Router::new(&topics, &SmolStr::new_static("en"), FALLBACK_AFTER);
        let mut agent_ids = Vec::with_capacity(AGENTS);
        let mut agent_ix = HashMap::with_capacity(AGENTS);
        for i in 0..AGENTS {
            let id = AgentId::new(format!("agent-{i:04}"));
            // 2-3 distinct skills, drawn by volume so coverage follows demand.
            let n_skills = 2 + rng.below(2);
            let mut skills: Vec<SmolStr> = Vec::new();
            while skills.len() < n_skills {
                let t = SmolStr::new_static(TOPICS[rng.weighted(&TOPIC_WEIGHTS)]);
                if !skills.contains(&t) {
                    skills.push(t);
                }
            }
            // 1-2 languages; most agents speak English.
            let n_langs = 1 + rng.below(2);
            let mut langs: Vec<SmolStr> = Vec::new();
            while langs.len() < n_langs {
                let l = SmolStr::new_static(LANGS[rng.weighted(&LANG_WEIGHTS)]);
                if !langs.contains(&l) {
                    langs.push(l);
                }
            }
            router
                .add_agent(id.clone(), &skills, &langs, CAPACITY, base)
                .expect("add agent");
            router.set_accepting(&id, true, base).expect("accepting");
            agent_ix.insert(id.clone(), i);
            agent_ids.push(id);
        }
        let specs = (0..8192).map(|_| random_spec(&mut rng)).collect();
        let mut world = Self {
            router,
            agent_ids,
            agent_ix,
            held: (0..AGENTS)
                .map(|_| Vec::with_capacity(CAPACITY as usize))
                .collect(),
            specs,
            next_spec: 0,
            next_id: 1,
            rng,
            base,
            now: base,
            steps: 0,
            assignments: 0,
        };
        // Fill every agent, then the queue up to `queued`.
        let full = AGENTS * CAPACITY as usize;
        let mut guard = 0usize;
        while world.held_total() < full || world.router.queued_total() < queued {
            world.arrive();
            guard += 1;
            assert!(guard < 100 * (full + queued), "could not fill the agents");
        }
        world
            .router
            .check_invariants(world.now)
            .expect("invariants after setup");
        world.assignments = 0;
        world
    }

    fn held_total(&self) -> usize {
        self.held.iter().map(Vec::len).sum()
    }

    fn record(&mut self, asg: Assignment) {
        let a = self.agent_ix[&asg.agent];
        self.held[a].push(asg.conversation);
        self.assignments += 1;
    }

    fn arrive(&mut self) {
        let spec = self.specs[self.next_spec].clone();
        self.next_spec = (self.next_spec + 1) % self.specs.len();
        let id = ConversationId(Uuid::from_u128(self.next_id));
        self.next_id += 1;
        if let Some(asg) = self.router.enqueue(id, spec, self.now).expect("enqueue") {
            self.record(asg);
        }
    }

    /// One step: a chat ends, its agent takes its next customer, a customer arrives.
    fn step(&mut self) {
        self.now += STEP;
        self.steps += 1;
        let a = loop {
            let a = self.rng.below(AGENTS);
            if !self.held[a].is_empty() {
                break a;
            }
        };
        let k = self.rng.below(self.held[a].len());
        let ended = self.held[a].swap_remove(k);
        let next = self.router.remove(ended, self.now).expect("remove");
        for asg in next {
            debug_assert_eq!(asg.agent, self.agent_ids[a]);
            self.held[a].push(asg.conversation);
            self.assignments += 1;
        }
        self.arrive();
    }
}

fn matcher(c: &mut Criterion) {
    let mut group = c.benchmark_group("matcher");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(1));
    for queued in [1_000usize, 10_000, 100_000] {
        let started = Instant::now();
        let mut world = World::new(queued);
        let setup = started.elapsed();
        group.bench_with_input(
            BenchmarkId::new("chat_ends_next_assigned", queued),
            &queued,
            |b, _| b.iter(|| black_box(&mut world).step()),
        );
        world
            .router
            .check_invariants(world.now)
            .expect("invariants after the run");
        eprintln!(
            "  N={queued}: setup {setup:.2?}; {} steps, {:.3} assignments/step, queue {} \
             (ends at {}), {} held, simulated {:.0?}",
            world.steps,
            world.assignments as f64 / world.steps.max(1) as f64,
            queued,
            world.router.queued_total(),
            world.held_total(),
            world.now - world.base,
        );
    }
    group.finish();
}

criterion_group!(benches, matcher);
criterion_main!(benches);
