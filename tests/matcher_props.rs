//! Property test of the routing core (`switchboard::hub::router::Router`) against a
//! deliberately naive reference model (vectors and linear scans), plus plain tests
//! of specific routing scenarios.
//!
//! What is checked after every step of a random operation sequence:
//! - `Router::check_invariants(now)` is Ok;
//! - no conversation is both queued and assigned; every open conversation is where
//!   the model says; loads and held chats agree;
//! - no agent holds more than its capacity, unless its capacity was lowered below
//!   the load it already had (and then it gained nothing since);
//! - every assignment went to an agent that was accepting, under capacity, with the
//!   topic among its skills and the language among its languages (or the fallback
//!   language once the conversation had waited the fallback delay);
//! - fair order (DESIGN.md invariant 5): when C goes to agent A, no other queued
//!   conversation A could have served has a higher priority, or the same priority
//!   and an earlier first arrival (kept across requeues);
//! - a conversation-driven match (arrival, requeue, fallback timer) goes to the
//!   eligible agent with the lowest load ratio, then the longest idle;
//! - no agent that is accepting and under capacity is left idle while something
//!   it could serve waits;
//! - `position` is exactly 1..n per (topic, language) line in serving order, and
//!   `take_changed_lines` reports every line whose order changed, in that order;
//! - `queued_total`, `queued_in_topic`, `oldest_in_topic` agree with the model.
//!
//! Time: every operation happens at its own instant (1 ms after the previous one),
//! and the language-fallback timer of each conversation fires at exactly its
//! deadline (first entry + delay), in deadline order, as the hub's timers do.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use proptest::prelude::*;
use smol_str::SmolStr;
use switchboard::{
    domain::{AgentId, ConversationId, Priority},
    hub::{Assignment, Placement, RouteError, RouteSpec, Router},
};
use uuid::Uuid;

const TOPICS: [&str; 3] = ["account_access", "deposit_withdrawal", "trading"];
/// Customers' languages; `ja` is spoken by no agent, so it is served only by fallback.
const LANGS: [&str; 4] = ["en", "fr", "de", "ja"];
/// Agents' languages are drawn from the first three.
const AGENT_LANGS: usize = 3;
const FALLBACK: usize = 0; // "en"
const FALLBACK_MS: u64 = 30_000;

fn topic(i: usize) -> SmolStr {
    SmolStr::new(TOPICS[i])
}

fn lang(i: usize) -> SmolStr {
    SmolStr::new(LANGS[i])
}

fn prio_ix(p: Priority) -> usize {
    match p {
        Priority::Urgent => 0,
        Priority::Vip => 1,
        Priority::Standard => 2,
    }
}

fn cid(n: u128) -> ConversationId {
    ConversationId(Uuid::from_u128(n))
}

// ---------------------------------------------------------------------------
// Reference model
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct MConv {
    id: ConversationId,
    topic: usize,
    lang: usize,
    prio: Priority,
    /// Order of first enqueue.
    arrival: u64,
    /// Time (ms from base) of first enqueue.
    enq: u64,
    holder: Option<usize>,
    /// The fallback timer of this conversation has fired.
    timer_fired: bool,
}

impl MConv {
    fn key(&self) -> (usize, u64) {
        (prio_ix(self.prio), self.arrival)
    }
    fn fallback_ready(&self, now: u64) -> bool {
        now.saturating_sub(self.enq) >= FALLBACK_MS
    }
}

#[derive(Debug, Clone)]
struct MAgent {
    id: AgentId,
    skills: Vec<usize>,
    langs: Vec<usize>,
    cap: u32,
    accepting: bool,
    held: Vec<ConversationId>,
    idle_since: u64,
    /// Load when the capacity was last lowered below the load: the most it may hold.
    over_allowance: Option<usize>,
}

impl MAgent {
    fn load(&self) -> u32 {
        u32::try_from(self.held.len()).expect("small")
    }
    fn free(&self) -> bool {
        self.accepting && self.load() < self.cap
    }
    /// Could serve this conversation at `now` as far as skills and languages go.
    fn can_serve(&self, c: &MConv, now: u64) -> bool {
        self.skills.contains(&c.topic)
            && (self.langs.contains(&c.lang)
                || (self.langs.contains(&FALLBACK) && c.fallback_ready(now)))
    }
}

#[derive(Debug)]
struct Model {
    agents: Vec<MAgent>,
    /// Open conversations, in arrival order.
    convs: Vec<MConv>,
    next_arrival: u64,
    next_id: u128,
    /// Serving order of each (topic, lang) line after the previous step.
    lines_before: BTreeMap<(usize, usize), Vec<ConversationId>>,
}

impl Model {
    fn conv(&self, id: ConversationId) -> &MConv {
        self.convs
            .iter()
            .find(|c| c.id == id)
            .expect("known conversation")
    }
    fn conv_mut(&mut self, id: ConversationId) -> &mut MConv {
        self.convs
            .iter_mut()
            .find(|c| c.id == id)
            .expect("known conversation")
    }
    fn agent_ix(&self, id: &AgentId) -> usize {
        self.agents
            .iter()
            .position(|a| &a.id == id)
            .expect("known agent")
    }
    fn queued(&self) -> impl Iterator<Item = &MConv> {
        self.convs.iter().filter(|c| c.holder.is_none())
    }

    /// Agent order: lowest load ratio, then longest idle, then the order added.
    fn agent_better(&self, a: usize, b: usize) -> bool {
        let (x, y) = (&self.agents[a], &self.agents[b]);
        let lhs = u64::from(x.load()) * u64::from(y.cap);
        let rhs = u64::from(y.load()) * u64::from(x.cap);
        (lhs, x.idle_since, a) < (rhs, y.idle_since, b)
    }

    /// The agent a conversation-driven match must pick.
    fn best_agent_for(&self, c: ConversationId, now: u64, skip: Option<usize>) -> Option<usize> {
        let conv = self.conv(c);
        let mut best: Option<usize> = None;
        for (i, a) in self.agents.iter().enumerate() {
            if Some(i) == skip || !a.free() || !a.can_serve(conv, now) {
                continue;
            }
            if best.is_none_or(|b| self.agent_better(i, b)) {
                best = Some(i);
            }
        }
        best
    }

    /// The conversation a freed agent must take next.
    fn best_conv_for(&self, a: usize, now: u64) -> Option<ConversationId> {
        let agent = &self.agents[a];
        self.queued()
            .filter(|c| agent.can_serve(c, now))
            .min_by_key(|c| c.key())
            .map(|c| c.id)
    }

    /// Check one assignment against the spec, then apply it.
    fn apply(&mut self, asg: &Assignment, now: u64) -> Result<(), String> {
        let a = self.agent_ix(&asg.agent);
        let conv = self
            .convs
            .iter()
            .find(|c| c.id == asg.conversation)
            .ok_or(format!("assigned unknown {}", asg.conversation))?
            .clone();
        let agent = &self.agents[a];
        if conv.holder.is_some() {
            return Err(format!("{} assigned while already held", conv.id));
        }
        if !agent.accepting {
            return Err(format!(
                "{} went to {} who is not accepting",
                conv.id, agent.id
            ));
        }
        if agent.load() >= agent.cap {
            return Err(format!(
                "{} went to {} at load {} of capacity {}",
                conv.id,
                agent.id,
                agent.load(),
                agent.cap
            ));
        }
        if !agent.skills.contains(&conv.topic) {
            return Err(format!(
                "{} (topic {}) went to {} without the skill",
                conv.id, TOPICS[conv.topic], agent.id
            ));
        }
        if !agent.langs.contains(&conv.lang) {
            if !agent.langs.contains(&FALLBACK) {
                return Err(format!(
                    "{} ({}) went to {} who speaks neither it nor the fallback",
                    conv.id, LANGS[conv.lang], agent.id
                ));
            }
            if !conv.fallback_ready(now) {
                return Err(format!(
                    "{} ({}) went to fallback agent {} after {} ms, before the delay",
                    conv.id,
                    LANGS[conv.lang],
                    agent.id,
                    now - conv.enq
                ));
            }
        }
        // Fair order: nothing A could have served is ahead of C.
        for other in self.queued() {
            if other.id != conv.id && agent.can_serve(other, now) && other.key() < conv.key() {
                return Err(format!(
                    "unfair: {} ({:?}, arrival {}) went to {} while {} ({:?}, arrival {}) waited",
                    conv.id, conv.prio, conv.arrival, agent.id, other.id, other.prio, other.arrival
                ));
            }
        }
        self.conv_mut(conv.id).holder = Some(a);
        let agent = &mut self.agents[a];
        agent.held.push(conv.id);
        agent.idle_since = now;
        Ok(())
    }

    /// Apply the assignments an agent took for itself; it must end saturated.
    fn apply_agent_driven(
        &mut self,
        a: usize,
        asgs: &[Assignment],
        now: u64,
    ) -> Result<(), String> {
        for asg in asgs {
            if asg.agent != self.agents[a].id {
                return Err(format!(
                    "freed agent {} but {} got {}",
                    self.agents[a].id, asg.agent, asg.conversation
                ));
            }
            self.apply(asg, now)?;
        }
        if self.agents[a].free()
            && let Some(c) = self.best_conv_for(a, now)
        {
            return Err(format!(
                "{} left free while {c} waits for it",
                self.agents[a].id
            ));
        }
        Ok(())
    }

    fn serving_lines(&self) -> BTreeMap<(usize, usize), Vec<ConversationId>> {
        let mut lines: BTreeMap<(usize, usize), Vec<&MConv>> = BTreeMap::new();
        for c in self.queued() {
            lines.entry((c.topic, c.lang)).or_default().push(c);
        }
        lines
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by_key(|c| c.key());
                (k, v.into_iter().map(|c| c.id).collect())
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct AgentProfile {
    skills: Vec<usize>,
    langs: Vec<usize>,
    cap: u32,
}

#[derive(Debug, Clone)]
enum Op {
    Arrive {
        topic: usize,
        lang: usize,
        prio: Priority,
    },
    Accepting {
        agent: usize,
        on: bool,
    },
    Capacity {
        agent: usize,
        cap: u32,
    },
    End {
        pick: usize,
    },
    Requeue {
        pick: usize,
        topic: Option<usize>,
        prio: Option<Priority>,
    },
    Advance {
        ms: u64,
    },
}

fn priority() -> impl Strategy<Value = Priority> {
    prop_oneof![
        1 => Just(Priority::Urgent),
        2 => Just(Priority::Vip),
        4 => Just(Priority::Standard),
    ]
}

fn subset(n: usize) -> impl Strategy<Value = Vec<usize>> {
    // Mostly non-empty; the empty set is allowed too (an agent that can serve nothing).
    (0u32..(1 << n)).prop_map(move |mask| (0..n).filter(|i| mask & (1 << i) != 0).collect())
}

fn agent_profile() -> impl Strategy<Value = AgentProfile> {
    (subset(TOPICS.len()), subset(AGENT_LANGS), 0u32..=3)
        .prop_map(|(skills, langs, cap)| AgentProfile { skills, langs, cap })
}

fn op(agents: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..TOPICS.len(), 0..LANGS.len(), priority())
            .prop_map(|(topic, lang, prio)| Op::Arrive { topic, lang, prio }),
        3 => (0..agents, prop::bool::weighted(0.7)).prop_map(|(agent, on)| Op::Accepting { agent, on }),
        2 => (0..agents, 0u32..=4).prop_map(|(agent, cap)| Op::Capacity { agent, cap }),
        5 => any::<usize>().prop_map(|pick| Op::End { pick }),
        3 => (
            any::<usize>(),
            prop::option::weighted(0.4, 0..TOPICS.len()),
            prop::option::weighted(0.4, priority()),
        )
            .prop_map(|(pick, topic, prio)| Op::Requeue { pick, topic, prio }),
        3 => prop_oneof![0u64..2_000, 0u64..40_000].prop_map(|ms| Op::Advance { ms }),
    ]
}

fn scenario() -> impl Strategy<Value = (Vec<AgentProfile>, Vec<Op>)> {
    prop::collection::vec(agent_profile(), 1..=6).prop_flat_map(|agents| {
        let n = agents.len();
        (Just(agents), prop::collection::vec(op(n), 1..=200))
    })
}

// ---------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------

struct Harness {
    router: Router,
    model: Model,
    base: Instant,
    /// Milliseconds since `base`.
    now: u64,
}

impl Harness {
    fn new(profiles: &[AgentProfile]) -> Self {
        let base = Instant::now();
        let topics: Vec<SmolStr> = (0..TOPICS.len()).map(topic).collect();
        let mut router = Router::new(&topics, &lang(FALLBACK), Duration::from_millis(FALLBACK_MS));
        let mut agents = Vec::new();
        for (i, p) in profiles.iter().enumerate() {
            let id = AgentId::new(format!("agent-{i}"));
            let skills: Vec<SmolStr> = p.skills.iter().map(|&t| topic(t)).collect();
            let langs: Vec<SmolStr> = p.langs.iter().map(|&l| lang(l)).collect();
            router
                .add_agent(id.clone(), &skills, &langs, p.cap, base)
                .expect("add agent");
            agents.push(MAgent {
                id,
                skills: p.skills.clone(),
                langs: p.langs.clone(),
                cap: p.cap,
                accepting: false,
                held: Vec::new(),
                idle_since: 0,
                over_allowance: None,
            });
        }
        assert_eq!(
            router.add_agent(AgentId::new("agent-0"), &[], &[], 1, base),
            Err(RouteError::DuplicateAgent(AgentId::new("agent-0")))
        );
        Self {
            router,
            model: Model {
                agents,
                convs: Vec::new(),
                next_arrival: 0,
                next_id: 1,
                lines_before: BTreeMap::new(),
            },
            base,
            now: 0,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    /// Move the clock to `to`, firing every fallback timer due on the way at its
    /// own deadline, in deadline order.
    fn advance_to(&mut self, to: u64) -> Result<(), String> {
        loop {
            let due = self
                .model
                .convs
                .iter()
                .filter(|c| !c.timer_fired && c.enq + FALLBACK_MS <= to)
                .min_by_key(|c| (c.enq, c.arrival))
                .map(|c| (c.id, c.enq + FALLBACK_MS));
            let Some((c, deadline)) = due else { break };
            self.now = self.now.max(deadline);
            let now = self.now;
            self.model.conv_mut(c).timer_fired = true;
            let expected = if self.model.conv(c).holder.is_none() {
                self.model.best_agent_for(c, now, None)
            } else {
                None
            };
            let got = match self.router.fallback_due(c, self.at(now)).as_slice() {
                [] => None,
                [one] => Some(one.clone()),
                more => return Err(format!("fallback_due({c}) on time made {more:?}")),
            };
            match (got, expected) {
                (None, None) => {}
                (Some(asg), Some(a))
                    if asg.conversation == c && asg.agent == self.model.agents[a].id =>
                {
                    self.model.apply(&asg, now)?;
                }
                (got, expected) => {
                    return Err(format!(
                        "fallback_due({c}) at {now} ms gave {got:?}, expected agent {:?}",
                        expected.map(|a| &self.model.agents[a].id)
                    ));
                }
            }
            self.check()?;
        }
        self.now = self.now.max(to);
        Ok(())
    }

    fn pick_open(&self, pick: usize) -> Option<ConversationId> {
        if self.model.convs.is_empty() {
            None
        } else {
            Some(self.model.convs[pick % self.model.convs.len()].id)
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), String> {
        // Every event has its own instant.
        self.advance_to(self.now + 1)?;
        let now = self.now;
        let at = self.at(now);
        match op {
            Op::Arrive {
                topic: t,
                lang: l,
                prio,
            } => {
                let id = cid(self.model.next_id);
                self.model.next_id += 1;
                let spec = RouteSpec {
                    topic: topic(*t),
                    language: lang(*l),
                    priority: *prio,
                };
                self.model.convs.push(MConv {
                    id,
                    topic: *t,
                    lang: *l,
                    prio: *prio,
                    arrival: self.model.next_arrival,
                    enq: now,
                    holder: None,
                    timer_fired: false,
                });
                self.model.next_arrival += 1;
                let expected = self.model.best_agent_for(id, now, None);
                let got = self
                    .router
                    .enqueue(id, spec.clone(), at)
                    .map_err(|e| e.to_string())?;
                match (&got, expected) {
                    (None, None) => {}
                    (Some(asg), Some(a))
                        if asg.conversation == id && asg.agent == self.model.agents[a].id =>
                    {
                        self.model.apply(asg, now)?;
                    }
                    _ => {
                        return Err(format!(
                            "enqueue({id}) gave {got:?}, expected agent {:?}",
                            expected.map(|a| &self.model.agents[a].id)
                        ));
                    }
                }
                if self.router.enqueue(id, spec, at) != Err(RouteError::AlreadyRouted(id)) {
                    return Err("second enqueue of the same conversation not refused".into());
                }
            }
            Op::Accepting { agent, on } => {
                let id = self.model.agents[*agent].id.clone();
                let got = self
                    .router
                    .set_accepting(&id, *on, at)
                    .map_err(|e| e.to_string())?;
                let ag = &mut self.model.agents[*agent];
                if ag.accepting == *on {
                    if !got.is_empty() {
                        return Err(format!(
                            "set_accepting({id}, {on}) unchanged but assigned {got:?}"
                        ));
                    }
                } else {
                    ag.accepting = *on;
                    if *on {
                        ag.idle_since = now;
                    }
                    if !*on && !got.is_empty() {
                        return Err(format!("{id} stopped accepting but got {got:?}"));
                    }
                    self.model.apply_agent_driven(*agent, &got, now)?;
                }
            }
            Op::Capacity { agent, cap } => {
                let id = self.model.agents[*agent].id.clone();
                let got = self
                    .router
                    .set_capacity(&id, *cap, at)
                    .map_err(|e| e.to_string())?;
                let ag = &mut self.model.agents[*agent];
                ag.cap = *cap;
                ag.over_allowance = (ag.held.len() > *cap as usize).then_some(ag.held.len());
                self.model.apply_agent_driven(*agent, &got, now)?;
            }
            Op::End { pick } => match self.pick_open(*pick) {
                None => {
                    let ghost = cid(u128::MAX - 7);
                    if self.router.remove(ghost, at) != Err(RouteError::NotRouted(ghost)) {
                        return Err("remove of an unknown conversation not refused".into());
                    }
                }
                Some(c) => {
                    let holder = self.model.conv(c).holder;
                    let got = self.router.remove(c, at).map_err(|e| e.to_string())?;
                    self.model.convs.retain(|x| x.id != c);
                    match holder {
                        None => {
                            if !got.is_empty() {
                                return Err(format!("removing queued {c} assigned {got:?}"));
                            }
                        }
                        Some(a) => {
                            let ag = &mut self.model.agents[a];
                            ag.held.retain(|x| *x != c);
                            if ag.over_allowance.is_some_and(|m| {
                                ag.held.len() <= ag.cap as usize || ag.held.len() < m
                            }) {
                                // Only shrinks; keep the tightest bound.
                                ag.over_allowance =
                                    (ag.held.len() > ag.cap as usize).then_some(ag.held.len());
                            }
                            self.model.apply_agent_driven(a, &got, now)?;
                        }
                    }
                    if self.router.remove(c, at) != Err(RouteError::NotRouted(c)) {
                        return Err(format!("second remove of {c} not refused"));
                    }
                }
            },
            Op::Requeue {
                pick,
                topic: t,
                prio,
            } => {
                let Some(c) = self.pick_open(*pick) else {
                    return Ok(());
                };
                let previous = self.model.conv(c).holder;
                let got = self
                    .router
                    .requeue(c, t.map(topic), *prio, at)
                    .map_err(|e| e.to_string())?;
                {
                    let conv = self.model.conv_mut(c);
                    conv.holder = None;
                    if let Some(t) = t {
                        conv.topic = *t;
                    }
                    if let Some(p) = prio {
                        conv.prio = *p;
                    }
                }
                if let Some(p) = previous {
                    self.model.agents[p].held.retain(|x| *x != c);
                }
                // First: the conversation itself goes to the best agent other than
                // the one who held it, if there is one.
                let expected = self.model.best_agent_for(c, now, previous);
                let mut rest: &[Assignment] = &got;
                if let Some(b) = expected {
                    match got.first() {
                        Some(asg)
                            if asg.conversation == c && asg.agent == self.model.agents[b].id =>
                        {
                            self.model.apply(asg, now)?;
                            rest = &got[1..];
                        }
                        _ => {
                            return Err(format!(
                                "requeue({c}) gave {got:?}, expected it to go first to {}",
                                self.model.agents[b].id
                            ));
                        }
                    }
                }
                // Then the agent who held it takes what it can.
                match previous {
                    Some(p) => self.model.apply_agent_driven(p, rest, now)?,
                    None if rest.is_empty() => {}
                    None => return Err(format!("requeue of queued {c} gave extra {rest:?}")),
                }
            }
            Op::Advance { ms } => {
                self.advance_to(now + ms)?;
            }
        }
        self.check()
    }

    /// Everything that must hold between events.
    fn check(&mut self) -> Result<(), String> {
        let now = self.now;
        let at = self.at(now);
        let r = &self.router;
        let m = &self.model;
        r.check_invariants(at)
            .map_err(|e| format!("check_invariants: {e}"))?;

        // Placement, spec, arrival of every open conversation.
        for c in &m.convs {
            let want = match c.holder {
                None => Placement::Queued,
                Some(a) => Placement::Assigned(&m.agents[a].id),
            };
            if r.placement(&c.id) != Some(want) {
                return Err(format!(
                    "{} placed {:?}, model {want:?}",
                    c.id,
                    r.placement(&c.id)
                ));
            }
            let spec = r.spec(&c.id).ok_or("no spec")?;
            if spec.topic != TOPICS[c.topic]
                || spec.language != LANGS[c.lang]
                || spec.priority != c.prio
            {
                return Err(format!("{} spec {spec:?} differs from the model", c.id));
            }
            if r.arrival(&c.id) != Some((c.arrival, self.at(c.enq))) {
                return Err(format!(
                    "{} arrival {:?}, model ({}, {} ms)",
                    c.id,
                    r.arrival(&c.id),
                    c.arrival,
                    c.enq
                ));
            }
        }

        // Agents: held chats, load, capacity; nothing both queued and assigned.
        for (i, a) in m.agents.iter().enumerate() {
            let held: BTreeSet<ConversationId> = r.chats(&a.id).copied().collect();
            let want: BTreeSet<ConversationId> = a.held.iter().copied().collect();
            if held != want {
                return Err(format!("{} holds {held:?}, model {want:?}", a.id));
            }
            if r.load(&a.id) != a.load() {
                return Err(format!(
                    "{} load {} model {}",
                    a.id,
                    r.load(&a.id),
                    a.load()
                ));
            }
            for c in &held {
                if r.position(c).is_some() || r.placement(c) != Some(Placement::Assigned(&a.id)) {
                    return Err(format!("{c} held by {} but also queued or elsewhere", a.id));
                }
            }
            if a.held.len() > a.cap as usize
                && a.over_allowance.is_none_or(|max| a.held.len() > max)
            {
                return Err(format!(
                    "{} holds {} over capacity {} (allowance {:?})",
                    a.id,
                    a.held.len(),
                    a.cap,
                    a.over_allowance
                ));
            }
            // Work conservation: a free agent has nothing it could serve waiting.
            if a.free()
                && let Some(c) = m.best_conv_for(i, now)
            {
                return Err(format!("{} is free while {c} waits for it", a.id));
            }
        }

        // Fallback timers that fired have nothing left to do.
        // (Calling fallback_due again for any queued conversation past its delay
        // must find no agent: one free would already have taken it.)
        let ready: Vec<ConversationId> = m
            .queued()
            .filter(|c| c.fallback_ready(now))
            .map(|c| c.id)
            .collect();
        for c in ready {
            let late = self.router.fallback_due(c, at);
            if !late.is_empty() {
                return Err(format!(
                    "late fallback_due({c}) assigned {late:?}: a free agent had been left idle"
                ));
            }
        }
        let r = &mut self.router;
        let m = &mut self.model;

        // Totals per topic.
        let queued: Vec<&MConv> = m.queued().collect();
        if r.queued_total() != queued.len() {
            return Err(format!(
                "queued_total {} model {}",
                r.queued_total(),
                queued.len()
            ));
        }
        for t in 0..TOPICS.len() {
            let in_topic: Vec<&&MConv> = queued.iter().filter(|c| c.topic == t).collect();
            if r.queued_in_topic(t) != in_topic.len() {
                return Err(format!(
                    "queued_in_topic({t}) {} model {}",
                    r.queued_in_topic(t),
                    in_topic.len()
                ));
            }
            let oldest = in_topic
                .iter()
                .map(|c| self.base + Duration::from_millis(c.enq))
                .min();
            if r.oldest_in_topic(t) != oldest {
                return Err(format!("oldest_in_topic({t}) differs"));
            }
        }

        // Positions: exactly 1..n per line in serving order.
        let lines = m.serving_lines();
        for line in lines.values() {
            for (i, c) in line.iter().enumerate() {
                if r.position(c) != Some(i + 1) {
                    return Err(format!(
                        "{c} at position {:?}, expected {}",
                        r.position(c),
                        i + 1
                    ));
                }
            }
        }
        for a in &m.agents {
            for c in &a.held {
                if r.position(c).is_some() {
                    return Err(format!("assigned {c} has a position"));
                }
            }
        }

        // Changed lines: each reported line is in serving order; every line whose
        // order changed is reported.
        let reported = r.take_changed_lines();
        let mut reported_keys = BTreeSet::new();
        let mut reported_empty = 0;
        for line in &reported {
            let Some(first) = line.first() else {
                reported_empty += 1;
                continue;
            };
            let f = m.conv(*first);
            let key = (f.topic, f.lang);
            if lines.get(&key) != Some(line) {
                return Err(format!(
                    "changed line {key:?} reported as {line:?}, model {:?}",
                    lines.get(&key)
                ));
            }
            reported_keys.insert(key);
        }
        let mut emptied = 0;
        for (key, before) in &m.lines_before {
            match lines.get(key) {
                Some(after) if after == before => {}
                Some(_) if !reported_keys.contains(key) => {
                    return Err(format!("line {key:?} changed but was not reported"));
                }
                Some(_) => {}
                None => emptied += 1,
            }
        }
        for key in lines.keys() {
            if !m.lines_before.contains_key(key) && !reported_keys.contains(key) {
                return Err(format!("new line {key:?} was not reported"));
            }
        }
        if reported_empty < emptied {
            return Err(format!(
                "{emptied} lines emptied, {reported_empty} reported"
            ));
        }
        m.lines_before = lines;
        Ok(())
    }
}

fn run(profiles: &[AgentProfile], ops: &[Op]) -> Result<(), String> {
    let mut h = Harness::new(profiles);
    h.check()?;
    for (i, op) in ops.iter().enumerate() {
        h.step(op)
            .map_err(|e| format!("step {i} {op:?} at {} ms: {e}", h.now))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        // 256 by default; PROPTEST_CASES=n for a longer hunt.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    })]

    #[test]
    fn router_agrees_with_model((profiles, ops) in scenario()) {
        if let Err(e) = run(&profiles, &ops) {
            prop_assert!(false, "{}", e);
        }
    }
}

// ---------------------------------------------------------------------------
// Plain scenarios
// ---------------------------------------------------------------------------

const F: Duration = Duration::from_secs(30);

fn router() -> Router {
    let topics: Vec<SmolStr> = TOPICS.iter().map(SmolStr::new).collect();
    Router::new(&topics, &SmolStr::new("en"), F)
}

fn spec(t: &str, l: &str, p: Priority) -> RouteSpec {
    RouteSpec {
        topic: SmolStr::new(t),
        language: SmolStr::new(l),
        priority: p,
    }
}

fn agent(
    r: &mut Router,
    id: &str,
    skills: &[&str],
    langs: &[&str],
    cap: u32,
    now: Instant,
) -> AgentId {
    let id = AgentId::new(id);
    let skills: Vec<SmolStr> = skills.iter().map(SmolStr::new).collect();
    let langs: Vec<SmolStr> = langs.iter().map(SmolStr::new).collect();
    r.add_agent(id.clone(), &skills, &langs, cap, now)
        .expect("add agent");
    id
}

fn asg(c: ConversationId, a: &AgentId) -> Assignment {
    Assignment {
        conversation: c,
        agent: a.clone(),
    }
}

const T: &str = "trading";

#[test]
fn urgent_before_vip_before_standard() {
    let t0 = Instant::now();
    let mut r = router();
    let a = agent(&mut r, "a", &[T], &["en"], 1, t0);
    let (std, vip, urg) = (cid(1), cid(2), cid(3));
    assert_eq!(
        r.enqueue(std, spec(T, "en", Priority::Standard), t0),
        Ok(None)
    );
    assert_eq!(r.enqueue(vip, spec(T, "en", Priority::Vip), t0), Ok(None));
    assert_eq!(
        r.enqueue(urg, spec(T, "en", Priority::Urgent), t0),
        Ok(None)
    );
    assert_eq!(
        (r.position(&urg), r.position(&vip), r.position(&std)),
        (Some(1), Some(2), Some(3))
    );
    assert_eq!(r.set_accepting(&a, true, t0), Ok(vec![asg(urg, &a)]));
    assert_eq!(r.remove(urg, t0), Ok(vec![asg(vip, &a)]));
    assert_eq!(r.remove(vip, t0), Ok(vec![asg(std, &a)]));
    assert_eq!(r.queued_total(), 0);
    r.check_invariants(t0).expect("invariants");
}

#[test]
fn first_come_first_served_within_a_priority() {
    let t0 = Instant::now();
    let mut r = router();
    let a = agent(&mut r, "a", &[T], &["en"], 1, t0);
    let ids: Vec<ConversationId> = (1..=4).map(cid).collect();
    for (i, c) in ids.iter().enumerate() {
        let at = t0 + Duration::from_millis(i as u64);
        assert_eq!(r.enqueue(*c, spec(T, "en", Priority::Vip), at), Ok(None));
    }
    for (i, c) in ids.iter().enumerate() {
        assert_eq!(r.position(c), Some(i + 1));
    }
    let lines = r.take_changed_lines();
    assert_eq!(lines, vec![ids.clone()]);
    let now = t0 + Duration::from_secs(1);
    assert_eq!(r.set_accepting(&a, true, now), Ok(vec![asg(ids[0], &a)]));
    for w in ids.windows(2) {
        assert_eq!(r.position(&w[1]), Some(1));
        assert_eq!(r.remove(w[0], now), Ok(vec![asg(w[1], &a)]));
    }
    r.check_invariants(now).expect("invariants");
}

#[test]
fn lowest_load_ratio_then_longest_idle() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut r = router();
    let big = agent(&mut r, "big", &[T], &["en"], 4, t0);
    let small = agent(&mut r, "small", &[T], &["en"], 2, t0);
    // small becomes available first, so it has been idle longest.
    r.set_accepting(&small, true, ms(1)).expect("ok");
    r.set_accepting(&big, true, ms(2)).expect("ok");
    // Both at ratio 0: the longest idle (small) wins.
    assert_eq!(
        r.enqueue(cid(1), spec(T, "en", Priority::Standard), ms(10)),
        Ok(Some(asg(cid(1), &small)))
    );
    // small 1/2, big 0/4: big has the lower ratio.
    assert_eq!(
        r.enqueue(cid(2), spec(T, "en", Priority::Standard), ms(11)),
        Ok(Some(asg(cid(2), &big)))
    );
    // small 1/2 = 0.5, big 1/4 = 0.25: big again.
    assert_eq!(
        r.enqueue(cid(3), spec(T, "en", Priority::Standard), ms(12)),
        Ok(Some(asg(cid(3), &big)))
    );
    // small 1/2, big 2/4: equal ratio; small was idle since 10 ms, big since 12 ms.
    assert_eq!(
        r.enqueue(cid(4), spec(T, "en", Priority::Standard), ms(13)),
        Ok(Some(asg(cid(4), &small)))
    );
    // small 2/2 full; big 2/4 takes the rest.
    assert_eq!(
        r.enqueue(cid(5), spec(T, "en", Priority::Standard), ms(14)),
        Ok(Some(asg(cid(5), &big)))
    );
    // A third agent, fresh at ratio 0, beats everyone.
    let fresh = agent(&mut r, "fresh", &[T], &["en"], 3, ms(15));
    r.set_accepting(&fresh, true, ms(15)).expect("ok");
    assert_eq!(
        r.enqueue(cid(6), spec(T, "en", Priority::Standard), ms(16)),
        Ok(Some(asg(cid(6), &fresh)))
    );
    assert_eq!((r.load(&big), r.load(&small), r.load(&fresh)), (3, 2, 1));
    r.check_invariants(ms(16)).expect("invariants");
}

#[test]
fn language_fallback_only_after_the_delay_and_only_to_fallback_speakers() {
    let t0 = Instant::now();
    let mut r = router();
    let de = agent(&mut r, "de", &[T], &["de"], 2, t0);
    let en = agent(&mut r, "en", &[T], &["en"], 2, t0);
    let other_topic = agent(&mut r, "en-other", &[TOPICS[0]], &["en"], 2, t0);
    for a in [&de, &en, &other_topic] {
        r.set_accepting(a, true, t0).expect("ok");
    }
    let fr = cid(1);
    assert_eq!(
        r.enqueue(fr, spec(T, "fr", Priority::Standard), t0),
        Ok(None)
    );
    // Not before the delay, whatever happens.
    let early = t0 + F - Duration::from_millis(1);
    assert_eq!(r.fallback_due(fr, early), vec![]);
    r.set_accepting(&en, false, early).expect("ok");
    assert_eq!(r.set_accepting(&en, true, early), Ok(vec![]));
    r.check_invariants(early).expect("invariants");
    // At the delay: to the agent speaking the fallback language with the skill,
    // never to the German speaker nor to the English speaker without the topic.
    assert_eq!(r.fallback_due(fr, t0 + F), vec![asg(fr, &en)]);
    r.check_invariants(t0 + F).expect("invariants");

    // An agent freed after the delay takes a waiting fallback conversation at once,
    // without a new timer.
    let ja = cid(2);
    let t1 = t0 + Duration::from_secs(100);
    r.set_accepting(&en, false, t1).expect("ok");
    assert_eq!(
        r.enqueue(ja, spec(T, "ja", Priority::Standard), t1),
        Ok(None)
    );
    assert_eq!(r.fallback_due(ja, t1 + F), vec![]);
    assert_eq!(
        r.set_accepting(&en, true, t1 + F + Duration::from_secs(1)),
        Ok(vec![asg(ja, &en)])
    );
    // A conversation in the fallback language itself needs no delay.
    assert_eq!(
        r.enqueue(
            cid(3),
            spec(T, "en", Priority::Standard),
            t1 + F + Duration::from_secs(2)
        ),
        Ok(None), // en is full (2 of 2)
    );
    assert_eq!(
        r.remove(fr, t1 + F + Duration::from_secs(3)),
        Ok(vec![asg(cid(3), &en)])
    );
    r.check_invariants(t1 + F + Duration::from_secs(3))
        .expect("invariants");
}

#[test]
fn requeue_keeps_the_original_place() {
    let t0 = Instant::now();
    let s = |n: u64| t0 + Duration::from_secs(n);
    let mut r = router();
    let a = agent(&mut r, "a", &[T, TOPICS[0]], &["en"], 1, t0);
    let b = agent(&mut r, "b", &[T, TOPICS[0]], &["en"], 1, t0);
    r.set_accepting(&a, true, s(0)).expect("ok");
    let (c1, c2, c3) = (cid(1), cid(2), cid(3));
    assert_eq!(
        r.enqueue(c1, spec(T, "en", Priority::Standard), s(1)),
        Ok(Some(asg(c1, &a)))
    );
    assert_eq!(
        r.enqueue(c2, spec(T, "en", Priority::Standard), s(2)),
        Ok(None)
    );
    assert_eq!(
        r.enqueue(c3, spec(T, "en", Priority::Standard), s(3)),
        Ok(None)
    );
    let arrival = r.arrival(&c1);
    // The agent goes away and hands the chat back: it is first in line again.
    assert_eq!(r.set_accepting(&a, false, s(4)), Ok(vec![]));
    assert_eq!(r.requeue(c1, None, None, s(5)), Ok(vec![]));
    assert_eq!(r.arrival(&c1), arrival);
    assert_eq!(
        (r.position(&c1), r.position(&c2), r.position(&c3)),
        (Some(1), Some(2), Some(3))
    );
    // The next agent takes it before the others.
    assert_eq!(r.set_accepting(&b, true, s(6)), Ok(vec![asg(c1, &b)]));
    // Transfer to another topic as vip: nobody else can take it, so b takes it
    // back; it keeps its first arrival.
    assert_eq!(
        r.requeue(c1, Some(SmolStr::new(TOPICS[0])), Some(Priority::Vip), s(7)),
        Ok(vec![asg(c1, &b)])
    );
    assert_eq!(r.arrival(&c1), arrival);
    assert_eq!(r.spec(&c1), Some(spec(TOPICS[0], "en", Priority::Vip)));
    // a comes back and takes c2, c3 in order.
    r.set_capacity(&a, 2, s(8)).expect("ok");
    assert_eq!(
        r.set_accepting(&a, true, s(8)),
        Ok(vec![asg(c2, &a), asg(c3, &a)])
    );
    assert_eq!(r.set_capacity(&a, 3, s(9)), Ok(vec![]));
    // The holder is skipped when someone else can take it.
    assert_eq!(r.requeue(c1, None, None, s(10)), Ok(vec![asg(c1, &a)]));
    assert_eq!(r.arrival(&c1), arrival);
    assert_eq!(r.load(&b), 0);
    r.check_invariants(s(10)).expect("invariants");
}

#[test]
fn capacity_lowered_below_load() {
    let t0 = Instant::now();
    let s = |n: u64| t0 + Duration::from_secs(n);
    let mut r = router();
    let a = agent(&mut r, "a", &[T], &["en"], 3, t0);
    r.set_accepting(&a, true, t0).expect("ok");
    let held: Vec<ConversationId> = (1..=3).map(cid).collect();
    for c in &held {
        assert_eq!(
            r.enqueue(*c, spec(T, "en", Priority::Standard), s(1)),
            Ok(Some(asg(*c, &a)))
        );
    }
    let waiting = cid(10);
    assert_eq!(
        r.enqueue(waiting, spec(T, "en", Priority::Urgent), s(2)),
        Ok(None)
    );
    // Lowered to 1: keeps its 3 chats, takes nothing new.
    assert_eq!(r.set_capacity(&a, 1, s(3)), Ok(vec![]));
    assert_eq!(r.load(&a), 3);
    r.check_invariants(s(3)).expect("invariants");
    assert_eq!(r.remove(held[0], s(4)), Ok(vec![]));
    assert_eq!(r.remove(held[1], s(5)), Ok(vec![]));
    assert_eq!(r.load(&a), 1);
    r.check_invariants(s(5)).expect("invariants");
    // Under the new capacity again: takes the next.
    assert_eq!(r.remove(held[2], s(6)), Ok(vec![asg(waiting, &a)]));
    assert_eq!(r.load(&a), 1);
    // Capacity 0 stops new chats altogether; raising it takes from the queue.
    r.set_capacity(&a, 0, s(7)).expect("ok");
    assert_eq!(
        r.enqueue(cid(11), spec(T, "en", Priority::Standard), s(8)),
        Ok(None)
    );
    assert_eq!(r.remove(waiting, s(9)), Ok(vec![]));
    assert_eq!(r.set_capacity(&a, 2, s(10)), Ok(vec![asg(cid(11), &a)]));
    r.check_invariants(s(10)).expect("invariants");
}

/// Several fallback deadlines pass before the hub gets to the timers (a burst, a
/// busy hub loop, or one timer tick): the agent `fallback_due` picks takes the
/// best conversation it can serve, not merely the one whose timer fired first.
#[test]
fn late_fallback_timers_keep_fair_order() {
    let t0 = Instant::now();
    let mut r = router();
    let en = agent(&mut r, "en", &[T], &["en"], 1, t0);
    r.set_accepting(&en, true, t0).expect("ok");
    let (std, urg) = (cid(1), cid(2));
    assert_eq!(
        r.enqueue(std, spec(T, "fr", Priority::Standard), t0),
        Ok(None)
    );
    assert_eq!(
        r.enqueue(
            urg,
            spec(T, "fr", Priority::Urgent),
            t0 + Duration::from_millis(1)
        ),
        Ok(None)
    );
    let late = t0 + F + Duration::from_millis(5);
    // The earlier deadline's timer is handled first, then the other.
    let mut got: Vec<Assignment> = r.fallback_due(std, late);
    got.extend(r.fallback_due(urg, late));
    assert_eq!(
        got,
        vec![asg(urg, &en)],
        "the urgent conversation should have been served first"
    );
    assert_eq!(r.placement(&std), Some(Placement::Queued));
}
