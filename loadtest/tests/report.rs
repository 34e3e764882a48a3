//! The report: JSON round trip, the HTML page, percentiles from a histogram.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use switchboard_loadtest::{
    floor::FloorResult,
    report::{self, Meta, Percentiles, Report, Sample, ServerSample},
};

fn percentiles(scale: f64, count: u64) -> Percentiles {
    Percentiles {
        count,
        p50_ms: 1.5 * scale,
        p90_ms: 4.0 * scale,
        p99_ms: 12.0 * scale,
        p999_ms: 40.0 * scale,
        max_ms: 95.0 * scale,
        mean_ms: 2.125 * scale,
    }
}

/// A run of 30 s in three phases, two server processes, one violation.
fn synthetic(verdict: &str) -> Report {
    let phases = [("baseline", 10), ("rally <surge>", 10), ("cool-down", 10)];
    let mut series = Vec::new();
    let mut t = 0;
    for (phase, secs) in phases {
        for _ in 0..secs {
            let rate = if phase == "baseline" { 5.0 } else { 40.0 };
            series.push(Sample {
                t_secs: t as f64,
                phase: phase.into(),
                arrival_rate: rate,
                arrivals: rate as u64,
                assignments: (rate as u64).min(25),
                ended: 3,
                connections: 100 + 10 * t,
                queue_depth: if t == 7 { None } else { Some(t / 2) },
                waiting: t / 2,
                queue_wait_p50_ms: (t > 2).then_some(20.0 + t as f64),
                queue_wait_p99_ms: (t > 2).then_some(200.0 + 30.0 * t as f64),
                delivery_p99_ms: Some(3.0 + (t % 5) as f64),
                server: vec![
                    ServerSample {
                        pid: 4242,
                        rss_bytes: (50 + t) * 1024 * 1024,
                        cpu_percent: 30.0 + t as f64,
                    },
                    ServerSample {
                        pid: 4343,
                        rss_bytes: (40 + t) * 1024 * 1024,
                        cpu_percent: 20.0,
                    },
                ],
                sockstat_tcp_mem_pages: Some(1000 + 50 * t),
            });
            t += 1;
        }
    }
    let latencies: BTreeMap<String, Percentiles> = [
        ("connect_welcome", percentiles(0.5, 1200)),
        ("queue_wait", percentiles(100.0, 900)),
        ("message_echo", percentiles(1.0, 5000)),
        ("message_delivery", percentiles(1.25, 5000)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let counters: BTreeMap<String, u64> = [
        ("sessions", 1300),
        ("chats_started", 1000),
        ("assigned", 900),
        ("resolved", 800),
        ("ticketed", 60),
        ("abandoned", 40),
        ("messages_sent", 5000),
        ("messages_delivered", 5000),
        ("reconnects", 12),
        ("errors_rate_limited", 3),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Report {
        meta: Meta {
            scenario: "rally<script>alert(1)</script>".into(),
            description: "A market rally & its surge".into(),
            scale: 0.5,
            started_at: "2025-03-01T12:00:00Z".into(),
            duration_secs: 30.0,
            targets: vec!["ws://127.0.0.1:8080".into(), "ws://127.0.0.1:8081".into()],
            machine: "Test CPU · 8 CPUs · 16.0 GiB".into(),
            command: "switchboard-loadtest run rally --scale 0.5 --out 'r\"1'".into(),
        },
        latencies,
        counters,
        series,
        violations: vec![serde_json::json!({
            "kind": "lost_message",
            "conversation": "c-1",
            "detail": "seq 4 never reached <agent>",
        })],
        verdict: verdict.into(),
        floor: Some(FloorResult {
            pairs: 50,
            rate: 1000.0,
            duration_secs: 10.0,
            sent: 10_000,
            delivered: 10_000,
            echoed: 10_000,
            achieved_msgs_per_sec: 999.0,
            delivery: percentiles(0.125, 10_000),
            echo: percentiles(0.0625, 10_000),
            send_lateness: percentiles(1.0, 10_000),
            ceiling_msgs_per_sec: Some(45_000.0),
            ceiling_p99_limit_ms: 10.0,
            ceiling_is_lower_bound: false,
            steps: Vec::new(),
            relay: "in-process".into(),
        }),
    }
}

#[test]
fn json_round_trips() {
    let report = synthetic("fail");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("report.json");
    report::write_json(&report, &path).expect("write");
    let back = report::read_json(&path).expect("read");
    assert_eq!(back, report);
    // And through a plain string, as the runner's consumers would read it.
    let text = serde_json::to_string(&report).expect("serialize");
    let back: Report = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, report);
}

#[test]
fn html_shows_a_failed_run() {
    let report = synthetic("fail");
    let html = report::render_html(&report);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("FAIL"), "verdict shown");
    assert!(html.contains("class=\"verdict fail\""));
    assert!(html.contains("lost_message"), "violations listed");
    assert!(html.contains("seq 4 never reached &lt;agent&gt;"));
    // One chart per figure over time: arrivals, queue, latency, connections,
    // memory, CPU.
    assert_eq!(html.matches("<svg").count(), 6, "an <svg> per chart");
    assert_eq!(html.matches("</svg>").count(), 6);
    for phase in ["baseline", "rally &lt;surge&gt;", "cool-down"] {
        assert!(html.contains(phase), "phase {phase} named");
    }
    // Escaped everywhere: the scenario name, the description, the command.
    assert!(
        !html.contains("<script"),
        "no script element, escaped or not"
    );
    assert!(html.contains("rally&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("A market rally &amp; its surge"));
    assert!(html.contains("r&quot;1"));
    assert!(!html.contains("rally <surge>"));
    // Self-contained.
    for external in ["http://", "https://", "src=", "href=", "@import", "url("] {
        assert!(
            !html.contains(external),
            "no external reference: {external}"
        );
    }
    // Tables and tiles.
    assert!(html.contains("message → delivery"));
    assert!(html.contains("errors rate limited"));
    assert!(html.contains("figure vs transport floor"));
    assert!(
        html.contains("×10.0<"),
        "p99 delivery ratio to the floor: 15 / 1.5"
    );
    assert!(html.contains("pid 4242") && html.contains("pid 4343"));
    assert!(html.contains("1,300"), "thousands separated");
}

#[test]
fn html_shows_a_passed_run() {
    let mut report = synthetic("pass");
    report.violations.clear();
    report.floor = None;
    let html = report::render_html(&report);
    assert!(html.contains("class=\"verdict pass\""));
    assert!(html.contains(">PASS<"));
    assert!(!html.contains("<section class=\"violations\""));
    assert!(!html.contains("transport floor"));
    assert_eq!(html.matches("<svg").count(), 6);
}

#[test]
fn html_survives_an_empty_report() {
    let html = report::render_html(&Report::default());
    assert!(html.contains("FAIL"));
    assert_eq!(html.matches("<svg").count(), 6);
    assert!(html.contains("no data"));
    assert!(!html.contains("NaN") && !html.contains("inf\""));
}

#[test]
fn html_draws_gaps_for_missing_values() {
    let report = synthetic("pass");
    let html = report::render_html(&report);
    // Queue depth is missing at t = 7: its line is drawn in two pieces.
    let queue = html
        .split("<path d=\"")
        .find(|p| p.contains("<title>queue depth (server)</title>"))
        .expect("queue depth line");
    let d = queue.split('"').next().unwrap_or_default();
    assert_eq!(d.matches('M').count(), 2, "{d}");
    assert!(!html.contains("NaN"));
}

#[test]
fn percentiles_from_a_known_histogram() {
    // 1 ms to 1000 ms, one of each, recorded in microseconds.
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    for ms in 1..=1000u64 {
        h.record(ms * 1000).expect("record");
    }
    let p = Percentiles::from_histogram(&h);
    assert_eq!(p.count, 1000);
    let close = |got: f64, want: f64| (got - want).abs() <= want * 0.002;
    assert!(close(p.p50_ms, 500.0), "p50 {}", p.p50_ms);
    assert!(close(p.p90_ms, 900.0), "p90 {}", p.p90_ms);
    assert!(close(p.p99_ms, 990.0), "p99 {}", p.p99_ms);
    assert!(close(p.p999_ms, 999.0), "p999 {}", p.p999_ms);
    assert!(close(p.max_ms, 1000.0), "max {}", p.max_ms);
    assert!(close(p.mean_ms, 500.5), "mean {}", p.mean_ms);

    let empty = Histogram::<u64>::new(3).expect("histogram");
    assert_eq!(Percentiles::from_histogram(&empty), Percentiles::default());
}

#[test]
fn machine_is_described() {
    let m = report::machine();
    assert!(m.contains("CPUs"), "{m}");
}
