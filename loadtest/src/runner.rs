//! A run: agents online first, then customers arriving open-loop at the
//! scenario's offered rate (an arrival never waits for an earlier one, so a
//! slow server shows up as latency, not as a lower rate), faults at their
//! times, a progress line every second, then a drain, the correctness check,
//! and the report.

use std::{path::PathBuf, sync::Arc, time::Duration};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{
    agent::{self, AgentPlan},
    assemble,
    check::{self, CheckSettings},
    client::Sources,
    customer::{self, Plan},
    report::{self, Report},
    sampler::Sampler,
    scenario::{Range, Scenario},
    stats::Recorder,
    workers::Worker,
};

/// What every simulated client of a run shares.
#[derive(Debug)]
pub struct Run {
    /// Histograms, counters, time series, event log.
    pub rec: Arc<Recorder>,
    /// Source addresses to spread connections over.
    pub sources: Sources,
    /// Node URLs.
    pub targets: Vec<String>,
    /// The scenario, scaled.
    pub scenario: Scenario,
    /// Fired when the run is over: agents log off.
    pub stop: CancellationToken,
    /// Fired at the scenario's `[storm]` time: every customer of the storm's
    /// target reconnects at once, to the other targets.
    pub storm: CancellationToken,
}

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenario, already scaled and with targets applied.
    pub scenario: Scenario,
    /// The scale it was scaled by (for the report).
    pub scale: f64,
    /// Server processes to sample (`/proc/<pid>`), also `$SERVER_PID_<n>` in faults.
    pub server_pids: Vec<u32>,
    /// Where the reports go.
    pub out: PathBuf,
    /// The command line, for the report.
    pub command: String,
    /// Seconds to wait after the last arrival for chats to finish.
    pub drain_secs: u64,
    /// Print the progress line.
    pub progress: bool,
    /// Write the event log (`events.jsonl`) even when the run is clean.
    pub keep_events: bool,
    /// This process's part of a run spread over several (`--workers`).
    pub worker: Option<Worker>,
}

/// The event log, one JSON object a line, for a second look at a failed run.
fn write_events(events: &[crate::events::Event], path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for event in events {
        serde_json::to_writer(&mut file, event)?;
        file.write_all(b"\n")?;
    }
    file.flush()?;
    Ok(())
}

/// What a run ended with.
#[derive(Debug)]
pub struct Outcome {
    /// The report written.
    pub report: Report,
    /// Did the checker find nothing?
    pub clean: bool,
}

/// A value drawn uniformly from the range.
fn uniform(range: Range) -> f64 {
    range.min + fastrand::f64() * (range.max - range.min)
}

/// A duration drawn from a range of milliseconds (think times).
pub(crate) fn draw(range: Range) -> Duration {
    Duration::from_secs_f64(uniform(range).max(0.0) / 1000.0)
}

fn weighted(weights: &std::collections::BTreeMap<String, u32>) -> String {
    let total: u32 = weights.values().sum();
    let mut pick = fastrand::u32(0..total.max(1));
    for (key, weight) in weights {
        if pick < *weight {
            return key.clone();
        }
        pick -= weight;
    }
    weights.keys().next().cloned().unwrap_or_default()
}

/// A vip identity token for `sub`, signed with the scenario's secret.
fn identity(secret: &str, sub: &str) -> Option<String> {
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 24 * 3600;
    encode(
        &Header::default(),
        &json!({"sub": sub, "tier": "vip", "exp": exp}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .ok()
}

/// Draw customer `n`'s plan from the mix.
fn plan(scenario: &Scenario, run_tag: &str, n: u64, targets: usize) -> Plan {
    let c = &scenario.customers;
    let visitor = format!("lt-{run_tag}-{n}");
    let vip = c.identity_secret.is_some() && fastrand::f64() < c.vip_share;
    let identity = if vip {
        c.identity_secret
            .as_deref()
            .and_then(|s| identity(s, &visitor))
    } else {
        None
    };
    let key = if identity.is_some() {
        format!("u:{visitor}")
    } else {
        format!("v:{visitor}")
    };
    let urgent = fastrand::f64() < c.urgent_share;
    let first_text = if urgent {
        format!("My account was {} and funds are moving", c.urgent_keyword)
    } else {
        "My deposit has not arrived yet".to_string()
    };
    let messages = (uniform(c.messages).round() as u32).max(1);
    Plan {
        visitor,
        identity,
        key,
        topic: weighted(&c.topics),
        language: weighted(&c.languages),
        first_text,
        messages,
        think: draw(c.think_ms),
        patience: Duration::from_secs_f64(uniform(c.patience_secs).max(0.1)),
        second_tab: fastrand::f64() < c.second_tab_share,
        reconnect: fastrand::f64() < c.reconnect_share,
        repeat_start: fastrand::f64() < c.repeat_start_share,
        target: usize::try_from(n).unwrap_or(0) % targets.max(1),
    }
}

/// Run the scenario to its end and write the reports.
pub async fn execute(options: Options) -> anyhow::Result<Outcome> {
    let scenario = match options.worker {
        Some(worker) => crate::workers::share(&options.scenario, worker),
        None => options.scenario.clone(),
    };
    let worker = options.worker.unwrap_or(Worker { index: 0, of: 1 });
    fastrand::seed(scenario.seed);
    let run = Arc::new(Run {
        rec: Arc::new(Recorder::new()),
        sources: Sources::loopback(
            scenario.targets.source_first,
            scenario.targets.source_addresses,
        ),
        targets: scenario.targets.urls.clone(),
        scenario: scenario.clone(),
        stop: CancellationToken::new(),
        storm: CancellationToken::new(),
    });
    let run_tag = format!("{:x}w{}", fastrand::u32(..), worker.index);
    let started_at = time::OffsetDateTime::now_utc();
    let sampler = Sampler::new(options.server_pids.clone(), run.targets.clone());
    let sampling = sampler.spawn(run.rec.clone(), run.stop.clone());

    if let Some(idle) = scenario.idle.clone() {
        check_descriptors(u64::from(idle.connections))?;
        let cost = crate::idle::hold(run.clone(), idle, &options.server_pids, &run_tag).await;
        let samples = sampling.await.unwrap_or_default();
        return finish(&run, &scenario, &options, started_at, samples, |report| {
            let counters = &mut report.counters;
            counters.insert("idle_rss_growth_bytes".into(), cost.rss_growth_bytes);
            counters.insert(
                "idle_rss_bytes_per_connection".into(),
                cost.per_connection(),
            );
            counters.insert(
                "idle_tcp_mem_growth_pages".into(),
                cost.tcp_mem_growth_pages,
            );
            if cost.dropped > 0 || cost.failed > 0 {
                report.violations.push(json!({
                    "kind": "idle_connections_lost",
                    "detail": format!("{} dropped by the server while held, {} never opened", cost.dropped, cost.failed),
                }));
                report.verdict = "fail".into();
            }
        });
    }

    // Agents first, all online before the first customer.
    let mut agents = JoinSet::new();
    for n in (0..scenario.agents.count).filter(|&n| worker.has_agent(n)) {
        let plan = AgentPlan {
            id: format!("{}{n}", scenario.agents.id_prefix),
            token: format!("{}{n}", scenario.agents.token_prefix),
            target: n as usize % run.targets.len().max(1),
        };
        agents.spawn(agent::run(run.clone(), plan));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let faults = spawn_faults(&scenario, &options.server_pids);
    let storm = scenario.storm.clone().map(|storm| {
        let run = run.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(storm.at_secs)).await;
            eprintln!(
                "storm: every customer of {} reconnects",
                run.targets.get(storm.target).map_or("?", String::as_str)
            );
            run.storm.cancel();
        })
    });
    let progress = options
        .progress
        .then(|| tokio::spawn(progress_line(run.clone(), scenario.clone())));

    // Open loop: arrival n is due at its time on the run's clock, whatever
    // happened to the ones before.
    let total = scenario.duration_secs();
    let mut customers = JoinSet::new();
    let mut n = 0u64;
    let mut t = 0.0f64;
    let clock = tokio::time::Instant::now();
    while t < total {
        let rate = scenario.rate_at(t);
        if rate <= 0.0 {
            t += 0.05;
            continue;
        }
        // Poisson arrivals: exponential gaps at the current rate.
        let gap = -(1.0 - fastrand::f64()).ln() / rate;
        t += gap;
        if t >= total {
            break;
        }
        tokio::time::sleep_until(clock + Duration::from_secs_f64(t)).await;
        let spread = if scenario.targets.spread {
            run.targets.len()
        } else {
            1
        };
        let plan = plan(&scenario, &run_tag, n, spread);
        n += 1;
        customers.spawn(customer::run(run.clone(), plan));
        // Reap finished chats as we go, so the set stays the size of the live ones.
        while customers.try_join_next().is_some() {}
    }
    run.rec.count("arrivals_offered", n);
    // Quiet phases (rate 0) at the end still last their time: faults and the
    // storm may be set in them.
    tokio::time::sleep_until(clock + Duration::from_secs_f64(total)).await;

    // Drain: the chats under way finish, within a bound.
    let drained = tokio::time::timeout(Duration::from_secs(options.drain_secs), async {
        while customers.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        run.rec
            .count("customers_cut_at_drain", customers.len() as u64);
        customers.abort_all();
    }
    run.stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while agents.join_next().await.is_some() {}
    })
    .await;
    agents.abort_all();
    for fault in faults {
        fault.abort();
    }
    if let Some(storm) = storm {
        storm.abort();
    }
    if let Some(progress) = progress {
        progress.abort();
    }
    let samples = sampling.await.unwrap_or_default();

    finish(&run, &scenario, &options, started_at, samples, |_| {})
}

/// Check what the clients saw, then write the event log (kept, failed, or a
/// worker's for its parent), a worker's histograms, and the reports; `adjust`
/// adds what a mode knows beyond the checker.
fn finish(
    run: &Run,
    scenario: &Scenario,
    options: &Options,
    started_at: time::OffsetDateTime,
    samples: Vec<crate::sampler::ServerPoint>,
    adjust: impl FnOnce(&mut Report),
) -> anyhow::Result<Outcome> {
    let events = run.rec.take_events();
    let verdict = check::check(&events, &CheckSettings::default());
    std::fs::create_dir_all(&options.out)?;
    if options.keep_events || options.worker.is_some() || !verdict.is_clean() {
        write_events(&events, &options.out.join("events.jsonl"))?;
    }
    if options.worker.is_some() {
        crate::workers::write_histograms(&run.rec, &options.out.join("histograms.json"))?;
    }
    let mut report = assemble::build(assemble::Inputs {
        scenario,
        scale: options.scale,
        started_at,
        command: options.command.clone(),
        recorder: &run.rec,
        samples,
        verdict: &verdict,
    });
    adjust(&mut report);
    report::write_json(&report, &options.out.join("report.json"))?;
    report::write_html(&report, &options.out.join("report.html"))?;
    Ok(Outcome {
        clean: report.passed(),
        report,
    })
}

/// Can this process hold `connections` more sockets? If not, say what to raise.
fn check_descriptors(connections: u64) -> anyhow::Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let Some(line) = limits.lines().find(|l| l.starts_with("Max open files")) else {
        return Ok(());
    };
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (Some(&soft), Some(&hard)) = (numbers.first(), numbers.get(1)) else {
        return Ok(());
    };
    // Room for the runtime, the sampler and the report files.
    let needed = connections + 64;
    if needed > soft {
        anyhow::bail!(
            "{connections} connections need about {needed} file descriptors, but this process may open {soft} \
             (hard limit {hard}). Raise it with `ulimit -n {needed}`{}, or split the load over \
             several load-tester processes, each with a share of the connections and its own \
             source addresses (`[targets] source_addresses`).",
            if needed > hard {
                " after raising the hard limit (`/etc/security/limits.conf`, and `fs.nr_open` past 1048576)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// Each fault's command at its time, with `$SERVER_PID_<n>` set.
fn spawn_faults(scenario: &Scenario, pids: &[u32]) -> Vec<tokio::task::JoinHandle<()>> {
    scenario
        .faults
        .iter()
        .map(|fault| {
            let fault = fault.clone();
            let pids = pids.to_vec();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs_f64(fault.at_secs)).await;
                let mut command = tokio::process::Command::new("sh");
                command.arg("-c").arg(&fault.run);
                for (i, pid) in pids.iter().enumerate() {
                    command.env(format!("SERVER_PID_{i}"), pid.to_string());
                }
                match command.status().await {
                    Ok(status) => {
                        eprintln!("fault at {}s: `{}` → {status}", fault.at_secs, fault.run)
                    }
                    Err(e) => eprintln!("fault at {}s: `{}` failed: {e}", fault.at_secs, fault.run),
                }
            })
        })
        .collect()
}

/// One line a second: elapsed, phase, connections, rates, waiting, p99s.
async fn progress_line(run: Arc<Run>, scenario: Scenario) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let rec = &run.rec;
        let t = rec.elapsed().as_secs_f64();
        let seconds = rec.seconds();
        let last = seconds.len().checked_sub(2).and_then(|i| seconds.get(i));
        let histograms = rec.histograms();
        let p99 = |kind| {
            histograms
                .get(&kind)
                .map_or(0.0, |h| h.value_at_quantile(0.99) as f64 / 1000.0)
        };
        let started = rec.counter("chats_started");
        let assigned = rec.counter("assigned");
        let ended: u64 = rec
            .counters()
            .iter()
            .filter(|(k, _)| k.starts_with("ended_"))
            .map(|(_, v)| *v)
            .sum();
        eprintln!(
            "{t:>6.1}s {phase:<10} offered {rate:>6.1}/s | arrived {arr:>4}/s assigned {asg:>4}/s | chats {started} started, {waiting} waiting, {ended} ended | p99 wait {wait:.0} ms, delivery {del:.1} ms | failures {fail}",
            phase = scenario.phase_at(t).map_or("drain", |p| p.name.as_str()),
            rate = scenario.rate_at(t),
            arr = last.map_or(0, |s| s.arrivals),
            asg = last.map_or(0, |s| s.assignments),
            waiting = started
                .saturating_sub(assigned)
                .saturating_sub(rec.counter("gave_up")),
            wait = p99(crate::stats::Latency::QueueWait),
            del = p99(crate::stats::Latency::MessageDelivery),
            fail = rec.counter("customers_failed"),
        );
    }
}
