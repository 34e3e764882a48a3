//! The report, from what a run recorded: latencies, counters, one sample a
//! second (the clients' view joined with the servers'), and the verdict.

use serde_json::Value;

use crate::{
    check::Verdict,
    report::{Meta, Percentiles, Report, Sample, ServerSample, machine},
    sampler::ServerPoint,
    scenario::Scenario,
    stats::Recorder,
};

/// What `build` reads.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The scenario as run (scaled).
    pub scenario: &'a Scenario,
    /// Its scale.
    pub scale: f64,
    /// When the run started.
    pub started_at: time::OffsetDateTime,
    /// The command line.
    pub command: String,
    /// What the clients recorded.
    pub recorder: &'a Recorder,
    /// What the sampler saw, one point a second.
    pub samples: Vec<ServerPoint>,
    /// The checker's verdict.
    pub verdict: &'a Verdict,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Assemble the report.
pub fn build(inputs: Inputs<'_>) -> Report {
    let Inputs {
        scenario,
        scale,
        started_at,
        command,
        recorder,
        samples,
        verdict,
    } = inputs;
    let latencies = recorder
        .histograms()
        .iter()
        .map(|(kind, h)| (kind.key().to_string(), Percentiles::from_histogram(h)))
        .collect();
    let mut counters = recorder.counters();
    for (kind, count) in verdict.by_kind() {
        counters.insert(format!("violations_{}", kind.as_str()), count as u64);
    }
    let seconds = recorder.seconds();
    let length = seconds.len().max(samples.len());
    let series = (0..length)
        .map(|i| {
            let t = i as f64;
            let second = seconds.get(i).cloned().unwrap_or_default();
            let point = samples.iter().find(|p| p.t_secs == i as u64);
            Sample {
                t_secs: t,
                phase: scenario
                    .phase_at(t + 0.5)
                    .map_or_else(|| "drain".to_string(), |p| p.name.clone()),
                arrival_rate: scenario.rate_at(t + 0.5),
                arrivals: second.arrivals,
                assignments: second.assignments,
                ended: second.ended,
                connections: point.map_or(0, |p| p.connections),
                queue_depth: point.and_then(|p| p.queue_depth),
                waiting: point.map_or(0, |p| p.waiting),
                queue_wait_p50_ms: second
                    .queue_wait
                    .as_ref()
                    .map(|h| ms(h.value_at_quantile(0.5))),
                queue_wait_p99_ms: second
                    .queue_wait
                    .as_ref()
                    .map(|h| ms(h.value_at_quantile(0.99))),
                delivery_p99_ms: second
                    .delivery
                    .as_ref()
                    .map(|h| ms(h.value_at_quantile(0.99))),
                server: point
                    .map(|p| {
                        p.processes
                            .iter()
                            .map(|pp| ServerSample {
                                pid: pp.pid,
                                rss_bytes: pp.rss_bytes,
                                cpu_percent: pp.cpu_percent,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                sockstat_tcp_mem_pages: point.and_then(|p| p.tcp_mem_pages),
            }
        })
        .collect();
    let violations = verdict
        .violations
        .iter()
        .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
        .collect();
    Report {
        meta: Meta {
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            scale,
            started_at: started_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            duration_secs: recorder.elapsed().as_secs_f64(),
            targets: scenario.targets.urls.clone(),
            machine: machine(),
            command,
        },
        latencies,
        counters,
        series,
        violations,
        verdict: if verdict.is_clean() { "pass" } else { "fail" }.to_string(),
        floor: None,
    }
}
