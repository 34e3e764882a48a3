//! Spreading a run over several load-tester processes, for loads one process's
//! descriptor limit cannot hold (20,000 here, and `ulimit -Hn` cannot be
//! raised): the parent starts N copies of itself, each with 1/N of the arrival
//! rate, of the idle connections and of the agents, its own range of source
//! addresses and its own seed; then it merges what they recorded (event logs,
//! histograms, counters, time series) and checks the whole run as one.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::Context;
use hdrhistogram::{
    Histogram,
    serialization::{Deserializer, Serializer, V2Serializer},
};

use crate::{
    check::{self, CheckSettings},
    events::Event,
    report::{self, Percentiles, Report, Sample},
    runner::Outcome,
    scenario::Scenario,
    stats::{Latency, Recorder},
};

/// This process's part of a spread run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worker {
    /// From 0.
    pub index: u32,
    /// How many processes share the run.
    pub of: u32,
}

impl Worker {
    /// Does agent `n` of the pool belong to this worker?
    pub fn has_agent(self, n: u32) -> bool {
        n % self.of == self.index
    }
}

/// This worker's share of the scenario: rates and idle connections divided,
/// its own source addresses and seed. Agents are split by [`Worker::has_agent`].
pub fn share(scenario: &Scenario, worker: Worker) -> Scenario {
    let mut part = scenario.clone();
    let of = f64::from(worker.of.max(1));
    for phase in &mut part.phases {
        phase.rate /= of;
        if let Some(to) = phase.to_rate.as_mut() {
            *to /= of;
        }
    }
    if let Some(idle) = part.idle.as_mut() {
        let base = idle.connections / worker.of.max(1);
        let extra = u32::from(worker.index < idle.connections % worker.of.max(1));
        idle.connections = base + extra;
        idle.open_rate /= of;
    }
    part.targets.source_first += worker.index * part.targets.source_addresses;
    part.seed = part.seed.wrapping_add(u64::from(worker.index));
    if worker.index != 0 {
        part.faults.clear(); // run once, by worker 0
    }
    part
}

/// The histograms a worker writes for the parent to merge.
pub fn write_histograms(recorder: &Recorder, path: &Path) -> anyhow::Result<()> {
    let mut encoded: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (kind, histogram) in recorder.histograms() {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&histogram, &mut bytes)
            .map_err(|e| anyhow::anyhow!("encoding the {} histogram: {e:?}", kind.key()))?;
        encoded.insert(kind.key().to_string(), bytes);
    }
    std::fs::write(path, serde_json::to_vec(&encoded)?)?;
    Ok(())
}

fn read_histograms(path: &Path) -> anyhow::Result<BTreeMap<String, Histogram<u64>>> {
    let encoded: BTreeMap<String, Vec<u8>> = serde_json::from_slice(&std::fs::read(path)?)?;
    let mut decoded = BTreeMap::new();
    for (key, bytes) in encoded {
        let histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| anyhow::anyhow!("decoding the {key} histogram: {e:?}"))?;
        decoded.insert(key, histogram);
    }
    Ok(decoded)
}

fn read_events(path: &Path) -> anyhow::Result<Vec<Event>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).context("a line of events.jsonl"))
        .collect()
}

/// How to start the workers: this binary, and the arguments of `run` they
/// share.
#[derive(Debug, Clone)]
pub struct Spread {
    /// The load tester's own executable.
    pub exe: PathBuf,
    /// The `run` arguments every worker gets (scenario, scale, targets, drain).
    pub args: Vec<String>,
    /// Server processes: worker 0 samples them and runs the faults.
    pub server_pids: Vec<u32>,
    /// Where the merged report goes; worker i writes to `<out>/worker-<i>`.
    pub out: PathBuf,
    /// How many processes.
    pub workers: u32,
    /// The command line, for the report.
    pub command: String,
}

/// Run the workers to their end, then merge and check.
pub async fn run(spread: Spread) -> anyhow::Result<Outcome> {
    let mut children = Vec::new();
    for index in 0..spread.workers {
        let dir = spread.out.join(format!("worker-{index}"));
        let mut command = tokio::process::Command::new(&spread.exe);
        command
            .arg("run")
            .args(&spread.args)
            .args(["--quiet", "--keep-events", "--worker"])
            .arg(index.to_string())
            .arg("--workers")
            .arg(spread.workers.to_string())
            .arg("--out")
            .arg(&dir);
        if index == 0 {
            for pid in &spread.server_pids {
                command.arg("--server-pid").arg(pid.to_string());
            }
        }
        children.push((index, dir, command.spawn().context("starting a worker")?));
    }
    let mut dirs = Vec::new();
    for (index, dir, mut child) in children {
        let status = child.wait().await?;
        // A worker exits 1 on violations it saw alone; the merged check decides.
        anyhow::ensure!(
            status.code().is_some_and(|c| c == 0 || c == 1),
            "worker {index} failed: {status}"
        );
        dirs.push(dir);
    }
    merge(&dirs, &spread)
}

fn merge(dirs: &[PathBuf], spread: &Spread) -> anyhow::Result<Outcome> {
    let mut reports = Vec::new();
    let mut events = Vec::new();
    let mut histograms: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for dir in dirs {
        reports.push(report::read_json(&dir.join("report.json"))?);
        events.extend(read_events(&dir.join("events.jsonl"))?);
        for (key, h) in read_histograms(&dir.join("histograms.json"))? {
            match histograms.get_mut(&key) {
                Some(merged) => merged
                    .add(&h)
                    .map_err(|e| anyhow::anyhow!("merging {key}: {e:?}"))?,
                None => {
                    histograms.insert(key, h);
                }
            }
        }
    }
    let verdict = check::check(&events, &CheckSettings::default());
    let mut merged = reports.first().cloned().unwrap_or_default();
    merged.meta.command = spread.command.clone();
    merged.latencies = Latency::ALL
        .iter()
        .map(|k| {
            let p = histograms
                .get(k.key())
                .map(Percentiles::from_histogram)
                .unwrap_or_default();
            (k.key().to_string(), p)
        })
        .collect();
    merged.counters = BTreeMap::new();
    for r in &reports {
        for (k, v) in &r.counters {
            if !k.starts_with("violations_")
                && !k.starts_with("idle_rss")
                && !k.starts_with("idle_tcp")
            {
                *merged.counters.entry(k.clone()).or_default() += v;
            }
        }
    }
    // Server-side figures come from worker 0, the only one that sampled.
    if let Some(first) = reports.first() {
        for (k, v) in &first.counters {
            if k.starts_with("idle_rss") || k.starts_with("idle_tcp") {
                merged.counters.insert(k.clone(), *v);
            }
        }
    }
    for (kind, count) in verdict.by_kind() {
        merged
            .counters
            .insert(format!("violations_{}", kind.as_str()), count as u64);
    }
    merged.series = merge_series(&reports);
    merged.violations = verdict
        .violations
        .iter()
        .map(|v| serde_json::to_value(v).unwrap_or_default())
        .collect();
    // Lost idle connections are a worker's own finding, not the checker's.
    for r in &reports {
        merged.violations.extend(
            r.violations
                .iter()
                .filter(|v| v["kind"] == "idle_connections_lost")
                .cloned(),
        );
    }
    merged.verdict = if merged.violations.is_empty() {
        "pass"
    } else {
        "fail"
    }
    .into();
    std::fs::create_dir_all(&spread.out)?;
    report::write_json(&merged, &spread.out.join("report.json"))?;
    report::write_html(&merged, &spread.out.join("report.html"))?;
    Ok(Outcome {
        clean: merged.passed(),
        report: merged,
    })
}

/// Second by second: client-side figures summed over the workers, the
/// servers' (sampled by worker 0) as they are.
fn merge_series(reports: &[Report]) -> Vec<Sample> {
    let length = reports.iter().map(|r| r.series.len()).max().unwrap_or(0);
    (0..length)
        .map(|i| {
            let mut sample = reports
                .first()
                .and_then(|r| r.series.get(i).cloned())
                .unwrap_or_default();
            for r in reports.iter().skip(1) {
                if let Some(s) = r.series.get(i) {
                    sample.arrival_rate += s.arrival_rate;
                    sample.arrivals += s.arrivals;
                    sample.assignments += s.assignments;
                    sample.ended += s.ended;
                    sample.connections += s.connections;
                    sample.waiting += s.waiting;
                    sample.queue_wait_p99_ms =
                        max_of(sample.queue_wait_p99_ms, s.queue_wait_p99_ms);
                    sample.delivery_p99_ms = max_of(sample.delivery_p99_ms, s.delivery_p99_ms);
                }
            }
            sample
        })
        .collect()
}

/// The larger of two per-worker p99s: an upper bound of the merged p99.
fn max_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
