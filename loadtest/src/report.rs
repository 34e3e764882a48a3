//! The run's report: one JSON document ([`Report`], [`write_json`]) and the same
//! data as one self-contained HTML page ([`render_html`], [`write_html`]): no
//! scripts, fonts, style sheets or images from anywhere, the charts drawn here
//! as inline SVG.
//!
//! The runner fills a [`Report`]; the checker's violations are carried as they
//! come (opaque JSON values). The transport floor ([`crate::floor`]), when it
//! was measured in the same run, is printed beside switchboard's figures with
//! the ratio between them, which is what holds from machine to machine.

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::floor::FloorResult;

/// Everything a run produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// What ran, where, when.
    pub meta: Meta,
    /// Latency distributions by name (`connect_welcome`, `start_queued`,
    /// `queue_wait`, `first_response`, `message_echo`, `message_delivery`).
    #[serde(default)]
    pub latencies: BTreeMap<String, Percentiles>,
    /// Counts by name (`sessions`, `chats_started`, `assigned`, `resolved`,
    /// `ticketed`, `abandoned`, `messages_sent`, `messages_delivered`,
    /// `reconnects`, `errors_<code>` …).
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    /// One sample per second of the run.
    #[serde(default)]
    pub series: Vec<Sample>,
    /// The checker's findings, as it reported them.
    #[serde(default)]
    pub violations: Vec<serde_json::Value>,
    /// `pass` or `fail`.
    pub verdict: String,
    /// The transport floor measured in the same run, if it was.
    #[serde(default)]
    pub floor: Option<FloorResult>,
}

/// What ran, where, when.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Scenario name.
    pub scenario: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// `--scale` (durations multiplied by it).
    #[serde(default = "one")]
    pub scale: f64,
    /// Start of the run, RFC 3339.
    pub started_at: String,
    /// Length of the run, seconds.
    pub duration_secs: f64,
    /// Node URLs the clients connected to.
    #[serde(default)]
    pub targets: Vec<String>,
    /// The machine ([`machine`] describes this one).
    #[serde(default)]
    pub machine: String,
    /// The command line of the run.
    #[serde(default)]
    pub command: String,
}

fn one() -> f64 {
    1.0
}

/// A latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Observations.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Percentiles {
    /// From a histogram of values recorded in **microseconds**. An empty
    /// histogram gives all zeros.
    pub fn from_histogram(histogram: &hdrhistogram::Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
            mean_ms: histogram.mean() / 1000.0,
        }
    }
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the start (the start of this second).
    pub t_secs: f64,
    /// The scenario phase this second belongs to.
    pub phase: String,
    /// Offered customer arrival rate, per second (what the scenario asked for).
    pub arrival_rate: f64,
    /// Customers who arrived (sent `start`) in this second.
    pub arrivals: u64,
    /// Conversations assigned to an agent in this second.
    pub assignments: u64,
    /// Conversations that ended in this second.
    pub ended: u64,
    /// Open client connections at the end of the second.
    pub connections: u64,
    /// Queue depth from the server's `/metrics`, when it could be read.
    #[serde(default)]
    pub queue_depth: Option<u64>,
    /// Customers waiting for an agent, as the clients know it.
    pub waiting: u64,
    /// Median queue wait of the customers assigned in this second, ms.
    #[serde(default)]
    pub queue_wait_p50_ms: Option<f64>,
    /// 99th percentile of that, ms.
    #[serde(default)]
    pub queue_wait_p99_ms: Option<f64>,
    /// 99th percentile of message delivery (send → other side) in this second, ms.
    #[serde(default)]
    pub delivery_p99_ms: Option<f64>,
    /// Each server process (`--server-pid`).
    #[serde(default)]
    pub server: Vec<ServerSample>,
    /// `TCP: mem` of `/proc/net/sockstat` (pages of kernel socket buffers).
    #[serde(default)]
    pub sockstat_tcp_mem_pages: Option<u64>,
}

/// One server process, at one sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSample {
    /// Process id.
    pub pid: u32,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// CPU over the last second, percent of one core.
    pub cpu_percent: f64,
}

impl Report {
    /// Did the run pass?
    pub fn passed(&self) -> bool {
        self.verdict.eq_ignore_ascii_case("pass")
    }
}

/// This machine, for [`Meta::machine`]: CPU model, logical CPUs, memory
/// (`AMD EPYC 7B13 · 8 CPUs · 31.4 GiB`), from `/proc` where there is one.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        });
    match memory {
        Some(kb) => format!(
            "{cpu} · {cpus} CPUs · {:.1} GiB",
            kb as f64 / (1024.0 * 1024.0)
        ),
        None => format!("{cpu} · {cpus} CPUs"),
    }
}

/// Write the report as pretty JSON.
pub fn write_json(report: &Report, path: &Path) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report).context("serializing the report")?;
    std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Read a report written by [`write_json`] (to render it again).
pub fn read_json(path: &Path) -> anyhow::Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Write the report as a self-contained HTML page.
pub fn write_html(report: &Report, path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, render_html(report)).with_context(|| format!("writing {}", path.display()))
}

// ---------------------------------------------------------------------------
// HTML

/// Escape text for HTML element content and quoted attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --fg:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --pass:#15803d; --fail:#b91c1c; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 24px 48px; }
header { display:flex; gap:20px; align-items:flex-start; background:#fff; border:1px solid var(--line);
  border-radius:10px; padding:18px 20px; }
.verdict { font-size:28px; font-weight:800; letter-spacing:.06em; color:#fff; border-radius:8px;
  padding:10px 18px; white-space:nowrap; }
.verdict.pass { background:var(--pass); } .verdict.fail { background:var(--fail); }
h1 { font-size:22px; margin:0 0 4px; } h2 { font-size:17px; margin:28px 0 10px; }
h3 { font-size:14px; margin:0 0 4px; }
.desc { color:var(--muted); margin:0 0 8px; }
dl.meta { display:grid; grid-template-columns:max-content 1fr; gap:2px 14px; margin:0; }
dl.meta dt { color:var(--muted); } dl.meta dd { margin:0; overflow-wrap:anywhere; }
code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background:#f1f5f9;
  padding:1px 5px; border-radius:4px; }
.violations { margin-top:14px; background:#fef2f2; border:1px solid #fecaca; border-radius:10px; padding:12px 18px; }
.violations h2 { margin:0 0 6px; color:var(--fail); }
.violations ol { margin:0; padding-left:22px; max-height:320px; overflow:auto; }
.violations li { margin:2px 0; }
.tiles { display:grid; grid-template-columns:repeat(auto-fill, minmax(168px, 1fr)); gap:10px; }
.tile { background:#fff; border:1px solid var(--line); border-radius:10px; padding:10px 14px; }
.tile .v { font-size:21px; white-space:nowrap; font-weight:700; font-variant-numeric: tabular-nums; }
.tile .k { color:var(--muted); font-size:12.5px; }
.tile .s { color:var(--muted); font-size:12px; }
.tile.bad { border-color:#fecaca; background:#fef2f2; } .tile.bad .v { color:var(--fail); }
.charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(560px, 1fr)); gap:14px; }
.chart { background:#fff; border:1px solid var(--line); border-radius:10px; padding:12px 14px 8px; }
.chart svg { width:100%; height:auto; display:block; }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; font-size:12.5px; color:var(--muted); margin-bottom:4px; }
.legend span::before { content:""; display:inline-block; width:16px; height:0; margin-right:5px;
  vertical-align:middle; border-top:3px solid var(--c); }
.legend span.dash::before { border-top-style:dashed; }
.note { color:var(--muted); font-size:12px; margin:2px 0 0; }
.tables { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:14px; align-items:start; }
table { border-collapse:collapse; background:#fff; border:1px solid var(--line); border-radius:10px;
  overflow:hidden; width:100%; font-variant-numeric: tabular-nums; }
th, td { padding:6px 12px; border-bottom:1px solid var(--line); text-align:right; }
th:first-child, td:first-child { text-align:left; white-space:normal; }
th, td { white-space:nowrap; }
thead th { background:#f1f5f9; font-weight:600; font-size:12.5px; color:#374151; }
tbody tr:last-child td { border-bottom:none; }
td.bad { color:var(--fail); font-weight:600; }
td .sub { color:var(--muted); font-size:12px; }
.phases { display:flex; flex-wrap:wrap; gap:6px; margin-top:10px; }
.phases span { background:#eef2ff; color:#3730a3; border-radius:999px; padding:2px 10px; font-size:12.5px; }
footer { color:var(--muted); font-size:12px; margin-top:28px; }
"#;

/// The report as one self-contained HTML page.
pub fn render_html(report: &Report) -> String {
    let phases = phase_spans(&report.series);
    let mut h = String::with_capacity(64 * 1024);
    let title = format!(
        "{} · {} · switchboard load test",
        report.meta.scenario,
        if report.passed() { "PASS" } else { "FAIL" }
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        esc(&title)
    );
    header(&mut h, report, &phases);
    tiles(&mut h, report);
    charts(&mut h, report, &phases);
    tables(&mut h, report);
    let _ = write!(
        h,
        "<footer>switchboard-loadtest · report of the run started {} · every figure from the \
         clients' view unless marked as the server's</footer>\n</main>\n</body>\n</html>\n",
        esc(&report.meta.started_at)
    );
    h
}

fn header(h: &mut String, report: &Report, phases: &[PhaseSpan]) {
    let m = &report.meta;
    let (class, word) = if report.passed() {
        ("pass", "PASS".to_string())
    } else if report.verdict.eq_ignore_ascii_case("fail") || report.verdict.is_empty() {
        ("fail", "FAIL".to_string())
    } else {
        ("fail", report.verdict.to_uppercase())
    };
    let _ = write!(
        h,
        "<header>\n<div class=\"verdict {class}\">{}</div>\n<div>\n<h1>{}</h1>\n",
        esc(&word),
        esc(&m.scenario)
    );
    if !m.description.is_empty() {
        let _ = writeln!(h, "<p class=\"desc\">{}</p>", esc(&m.description));
    }
    h.push_str("<dl class=\"meta\">\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(h, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    };
    row("started", esc(&m.started_at));
    let scale = if (m.scale - 1.0).abs() > f64::EPSILON {
        format!(" (scale {})", fmt_num(m.scale))
    } else {
        String::new()
    };
    row(
        "duration",
        format!("{}{}", esc(&fmt_duration(m.duration_secs)), esc(&scale)),
    );
    if !m.targets.is_empty() {
        row(
            "targets",
            m.targets
                .iter()
                .map(|t| format!("<code>{}</code>", esc(t)))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    if !m.machine.is_empty() {
        row("machine", esc(&m.machine));
    }
    if !m.command.is_empty() {
        row("command", format!("<code>{}</code>", esc(&m.command)));
    }
    h.push_str("</dl>\n");
    if !phases.is_empty() {
        h.push_str("<div class=\"phases\">");
        for p in phases {
            let _ = write!(
                h,
                "<span title=\"{0}: {1}–{2} s\">{0} · {1}–{2} s</span>",
                esc(&p.name),
                fmt_num(p.start),
                fmt_num(p.end)
            );
        }
        h.push_str("</div>\n");
    }
    h.push_str("</div>\n</header>\n");
    if !report.passed() || !report.violations.is_empty() {
        h.push_str("<section class=\"violations\">\n");
        let _ = writeln!(
            h,
            "<h2>{} violation{}</h2>",
            report.violations.len(),
            if report.violations.len() == 1 {
                ""
            } else {
                "s"
            }
        );
        if report.violations.is_empty() {
            h.push_str("<p>The run failed without a recorded violation: see the counters.</p>\n");
        } else {
            h.push_str("<ol>\n");
            const SHOWN: usize = 500;
            for v in report.violations.iter().take(SHOWN) {
                let _ = writeln!(h, "<li>{}</li>", violation(v));
            }
            h.push_str("</ol>\n");
            if report.violations.len() > SHOWN {
                let _ = writeln!(
                    h,
                    "<p>… and {} more (all of them are in the JSON report).</p>",
                    report.violations.len() - SHOWN
                );
            }
        }
        h.push_str("</section>\n");
    }
}

/// One violation, readable: its `kind` (or `rule`, `type`) first, in bold, then
/// the other fields as `key: value`.
fn violation(v: &serde_json::Value) -> String {
    use serde_json::Value;
    let Value::Object(map) = v else {
        return match v {
            Value::String(s) => esc(s),
            other => format!("<code>{}</code>", esc(&other.to_string())),
        };
    };
    let head = ["kind", "rule", "type", "violation"]
        .iter()
        .find_map(|k| map.get(*k).and_then(Value::as_str).map(|s| (*k, s)));
    let mut out = String::new();
    if let Some((_, s)) = head {
        let _ = write!(out, "<strong>{}</strong>", esc(s));
    }
    let mut first = head.is_none();
    for (k, val) in map {
        if head.is_some_and(|(hk, _)| hk == k) {
            continue;
        }
        let text = match val {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(if first { "" } else { " · " });
        first = false;
        let _ = write!(out, "<span class=\"sub\">{}:</span> {}", esc(k), esc(&text));
    }
    out
}

fn tiles(h: &mut String, report: &Report) {
    let c = |k: &str| report.counters.get(k).copied();
    let lat = |k: &str| report.latencies.get(k).filter(|p| p.count > 0);
    let peak_connections = report.series.iter().map(|s| s.connections).max();
    let errors: u64 = report
        .counters
        .iter()
        .filter(|(k, _)| k.starts_with("errors"))
        .map(|(_, v)| *v)
        .sum();
    let peak_rss = report
        .series
        .iter()
        .map(|s| s.server.iter().map(|p| p.rss_bytes).sum::<u64>())
        .max()
        .filter(|b| *b > 0);
    let peak_cpu = report
        .series
        .iter()
        .map(|s| s.server.iter().map(|p| p.cpu_percent).sum::<f64>())
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
        .filter(|_| report.series.iter().any(|s| !s.server.is_empty()));

    h.push_str("<h2>Summary</h2>\n<div class=\"tiles\">\n");
    let mut tile = |key: &str, value: String, sub: String, bad: bool| {
        let _ = writeln!(
            h,
            "<div class=\"tile{}\"><div class=\"v\">{}</div><div class=\"k\">{}</div>{}</div>",
            if bad { " bad" } else { "" },
            esc(&value),
            esc(key),
            if sub.is_empty() {
                String::new()
            } else {
                format!("<div class=\"s\">{}</div>", esc(&sub))
            }
        );
    };
    let count = |v: Option<u64>| v.map_or_else(|| "—".to_string(), fmt_int);
    tile(
        "peak connections",
        count(peak_connections),
        String::new(),
        false,
    );
    tile(
        "chats started",
        count(c("chats_started")),
        String::new(),
        false,
    );
    let started = c("chats_started").unwrap_or(0);
    let share = |v: Option<u64>| match (v, started) {
        (Some(v), s) if s > 0 => format!("{:.1}% of started", 100.0 * v as f64 / s as f64),
        _ => String::new(),
    };
    tile(
        "assigned",
        count(c("assigned")),
        share(c("assigned")),
        false,
    );
    tile(
        "resolved",
        count(c("resolved")),
        share(c("resolved")),
        false,
    );
    tile(
        "ticketed",
        count(c("ticketed")),
        share(c("ticketed")),
        false,
    );
    tile(
        "abandoned",
        count(c("abandoned")),
        share(c("abandoned")),
        false,
    );
    let sent = c("messages_sent");
    let delivered = c("messages_delivered");
    tile(
        "messages sent",
        count(sent),
        delivered.map_or(String::new(), |d| format!("{} delivered", fmt_int(d))),
        false,
    );
    tile(
        "p99 queue wait",
        lat("queue_wait").map_or("—".into(), |p| fmt_ms(p.p99_ms)),
        lat("queue_wait").map_or(String::new(), |p| format!("p50 {}", fmt_ms(p.p50_ms))),
        false,
    );
    let floor_ratio = report
        .floor
        .as_ref()
        .filter(|f| f.delivery.count > 0 && f.delivery.p99_ms > 0.0)
        .and_then(|f| lat("message_delivery").map(|p| p.p99_ms / f.delivery.p99_ms));
    tile(
        "p99 message delivery",
        lat("message_delivery").map_or("—".into(), |p| fmt_ms(p.p99_ms)),
        match (floor_ratio, lat("message_delivery")) {
            (Some(r), _) => format!("{} the transport floor", fmt_ratio(r)),
            (None, Some(p)) => format!("p50 {}", fmt_ms(p.p50_ms)),
            _ => String::new(),
        },
        false,
    );
    if let Some(r) = c("reconnects") {
        tile("reconnects", fmt_int(r), String::new(), false);
    }
    tile("errors", fmt_int(errors), String::new(), errors > 0);
    if let Some(b) = peak_rss {
        tile(
            "peak server RSS",
            fmt_bytes(b),
            peak_connections
                .filter(|c| *c > 0)
                .map_or(String::new(), |c| {
                    format!("{} per connection", fmt_bytes(b / c))
                }),
            false,
        );
    }
    if let Some(cpu) = peak_cpu {
        tile(
            "peak server CPU",
            format!("{cpu:.0}%"),
            "of one core".into(),
            false,
        );
    }
    h.push_str("</div>\n");
}

fn tables(h: &mut String, report: &Report) {
    h.push_str("<h2>Latencies and counts</h2>\n<div class=\"tables\">\n");
    // Latencies.
    h.push_str(
        "<table>\n<thead><tr><th>latency (ms)</th><th>count</th><th>p50</th><th>p90</th>\
         <th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr></thead>\n<tbody>\n",
    );
    if report.latencies.is_empty() {
        h.push_str("<tr><td colspan=\"8\">none recorded</td></tr>\n");
    }
    for (name, p) in &report.latencies {
        let _ = writeln!(
            h,
            "<tr><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            esc(name),
            esc(&latency_label(name)),
            fmt_int(p.count),
            fmt_ms_bare(p.p50_ms),
            fmt_ms_bare(p.p90_ms),
            fmt_ms_bare(p.p99_ms),
            fmt_ms_bare(p.p999_ms),
            fmt_ms_bare(p.max_ms),
            fmt_ms_bare(p.mean_ms),
        );
    }
    h.push_str("</tbody>\n</table>\n");
    // Counters.
    h.push_str("<table>\n<thead><tr><th>counter</th><th>value</th></tr></thead>\n<tbody>\n");
    if report.counters.is_empty() {
        h.push_str("<tr><td colspan=\"2\">none recorded</td></tr>\n");
    }
    for (name, v) in &report.counters {
        let bad = name.starts_with("errors") && *v > 0;
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td{}>{}</td></tr>",
            esc(&name.replace('_', " ")),
            if bad { " class=\"bad\"" } else { "" },
            fmt_int(*v)
        );
    }
    h.push_str("</tbody>\n</table>\n");
    if let Some(floor) = &report.floor {
        floor_table(h, report, floor);
    }
    h.push_str("</div>\n");
}

fn floor_table(h: &mut String, report: &Report, floor: &FloorResult) {
    h.push_str(
        "<table>\n<thead><tr><th>figure vs transport floor</th><th>switchboard</th>\
         <th>floor</th><th>ratio</th></tr></thead>\n<tbody>\n",
    );
    let empty = Percentiles::default();
    let pairs: [(&str, &str, &Percentiles); 2] = [
        ("message delivery", "message_delivery", &floor.delivery),
        ("message echo", "message_echo", &floor.echo),
    ];
    for (label, key, fl) in pairs {
        let sb = report.latencies.get(key).unwrap_or(&empty);
        let have = sb.count > 0;
        let rows: [(&str, f64, f64); 4] = [
            ("p50", sb.p50_ms, fl.p50_ms),
            ("p99", sb.p99_ms, fl.p99_ms),
            ("p99.9", sb.p999_ms, fl.p999_ms),
            ("max", sb.max_ms, fl.max_ms),
        ];
        for (q, s, f) in rows {
            let ratio = if have && fl.count > 0 && f > 0.0 {
                fmt_ratio(s / f)
            } else {
                "—".into()
            };
            let _ = writeln!(
                h,
                "<tr><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(label),
                q,
                if have { fmt_ms(s) } else { "—".into() },
                if fl.count > 0 {
                    fmt_ms(f)
                } else {
                    "—".into()
                },
                ratio
            );
        }
    }
    // Messages per second: the run's delivered rate against the floor's.
    let run_rate = report
        .counters
        .get("messages_delivered")
        .filter(|_| report.meta.duration_secs > 0.0)
        .map(|d| *d as f64 / report.meta.duration_secs);
    let _ = writeln!(
        h,
        "<tr><td>messages delivered / s <span class=\"sub\">(run average vs floor offered \
         {} at {} pairs)</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
        fmt_rate(floor.rate),
        fmt_int(floor.pairs as u64),
        run_rate.map_or("—".into(), fmt_rate),
        fmt_rate(floor.achieved_msgs_per_sec),
        match run_rate {
            Some(r) if floor.achieved_msgs_per_sec > 0.0 => {
                fmt_ratio(r / floor.achieved_msgs_per_sec)
            }
            _ => "—".into(),
        }
    );
    if let Some(ceiling) = floor.ceiling_msgs_per_sec {
        let _ = writeln!(
            h,
            "<tr><td>floor ceiling, messages / s <span class=\"sub\">(p99 ≤ {} and ≥ 90% \
             achieved)</span></td><td>—</td><td>{}{}</td><td>—</td></tr>",
            fmt_ms(floor.ceiling_p99_limit_ms),
            if floor.ceiling_is_lower_bound {
                "≥ "
            } else {
                ""
            },
            fmt_rate(ceiling)
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn latency_label(name: &str) -> String {
    match name {
        "connect_welcome" => "connect → welcome".into(),
        "start_queued" => "start → queued".into(),
        "queue_wait" => "queue wait".into(),
        "first_response" => "first agent response".into(),
        "message_echo" => "message → echo".into(),
        "message_delivery" => "message → delivery".into(),
        other => other.replace('_', " "),
    }
}

// ---------------------------------------------------------------------------
// Charts

const BLUE: &str = "#2563eb";
const ORANGE: &str = "#ea580c";
const GREEN: &str = "#16a34a";
const PURPLE: &str = "#7c3aed";
const GREY: &str = "#64748b";
const RED: &str = "#dc2626";
const PALETTE: [&str; 8] = [
    BLUE, ORANGE, GREEN, PURPLE, RED, "#0891b2", "#ca8a04", "#db2777",
];

/// A phase of the run, on the time axis.
#[derive(Debug, Clone, PartialEq)]
struct PhaseSpan {
    name: String,
    start: f64,
    end: f64,
}

/// Consecutive samples of the same phase, from the first sample's time to the
/// next phase's first (the last one to one sample past its last).
fn phase_spans(series: &[Sample]) -> Vec<PhaseSpan> {
    let step = series
        .windows(2)
        .map(|w| w[1].t_secs - w[0].t_secs)
        .find(|d| *d > 0.0)
        .unwrap_or(1.0);
    let mut spans: Vec<PhaseSpan> = Vec::new();
    for s in series {
        match spans.last_mut() {
            Some(last) if last.name == s.phase => last.end = s.t_secs + step,
            _ => {
                if let Some(last) = spans.last_mut() {
                    last.end = s.t_secs;
                }
                spans.push(PhaseSpan {
                    name: s.phase.clone(),
                    start: s.t_secs,
                    end: s.t_secs + step,
                });
            }
        }
    }
    spans
}

struct Line {
    name: String,
    color: &'static str,
    dashed: bool,
    width: f64,
    points: Vec<(f64, Option<f64>)>,
}

impl Line {
    fn new(name: impl Into<String>, color: &'static str, points: Vec<(f64, Option<f64>)>) -> Self {
        Self {
            name: name.into(),
            color,
            dashed: false,
            width: 2.0,
            points,
        }
    }

    fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }

    fn thin(mut self) -> Self {
        self.width = 1.3;
        self
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Scale {
    Linear,
    Log,
}

struct Chart<'a> {
    title: &'a str,
    note: &'a str,
    y_label: &'a str,
    scale: Scale,
    lines: Vec<Line>,
}

fn charts(h: &mut String, report: &Report, phases: &[PhaseSpan]) {
    let s = &report.series;
    let pts = |f: &dyn Fn(&Sample) -> Option<f64>| -> Vec<(f64, Option<f64>)> {
        s.iter().map(|x| (x.t_secs, f(x))).collect()
    };
    let x_range = match (s.first(), phases.last()) {
        (Some(first), Some(last)) => (first.t_secs.min(0.0), last.end.max(first.t_secs + 1.0)),
        _ => (0.0, report.meta.duration_secs.max(1.0)),
    };

    let mut list = vec![
        Chart {
            title: "Arrivals and assignments",
            note: "Customers per second: the rate the scenario offered, the customers who \
                   arrived, and the conversations assigned to an agent.",
            y_label: "per second",
            scale: Scale::Linear,
            lines: vec![
                Line::new("offered arrival rate", GREY, pts(&|x| Some(x.arrival_rate))).dashed(),
                Line::new("arrivals", BLUE, pts(&|x| Some(x.arrivals as f64))).thin(),
                Line::new("assignments", GREEN, pts(&|x| Some(x.assignments as f64))),
            ],
        },
        Chart {
            title: "Queue",
            note: "Queue depth as the server's /metrics reported it, and customers the \
                   clients knew to be waiting for an agent.",
            y_label: "customers",
            scale: Scale::Linear,
            lines: vec![
                Line::new(
                    "queue depth (server)",
                    PURPLE,
                    pts(&|x| x.queue_depth.map(|v| v as f64)),
                ),
                Line::new(
                    "waiting (clients)",
                    ORANGE,
                    pts(&|x| Some(x.waiting as f64)),
                )
                .dashed(),
            ],
        },
        Chart {
            title: "Latency over time",
            note: "Per second: queue wait of the customers assigned in it, and message \
                   delivery (sent → other side). Logarithmic scale.",
            y_label: "ms (log)",
            scale: Scale::Log,
            lines: vec![
                Line::new("queue wait p50", BLUE, pts(&|x| x.queue_wait_p50_ms)).thin(),
                Line::new("queue wait p99", PURPLE, pts(&|x| x.queue_wait_p99_ms)),
                Line::new("delivery p99", ORANGE, pts(&|x| x.delivery_p99_ms)),
            ],
        },
        Chart {
            title: "Open connections",
            note: "Client connections open at the end of each second.",
            y_label: "connections",
            scale: Scale::Linear,
            lines: vec![Line::new(
                "connections",
                BLUE,
                pts(&|x| Some(x.connections as f64)),
            )],
        },
    ];

    // Per-pid memory and CPU, in the order the pids first appear.
    let mut pids: Vec<u32> = Vec::new();
    for x in s {
        for p in &x.server {
            if !pids.contains(&p.pid) {
                pids.push(p.pid);
            }
        }
    }
    let per_pid = |f: fn(&ServerSample) -> f64| -> Vec<Line> {
        pids.iter()
            .enumerate()
            .map(|(i, pid)| {
                Line::new(
                    format!("pid {pid}"),
                    PALETTE[i % PALETTE.len()],
                    pts(&|x| x.server.iter().find(|p| p.pid == *pid).map(f)),
                )
            })
            .collect()
    };
    let mut memory = per_pid(|p| p.rss_bytes as f64 / MIB);
    if s.iter().any(|x| x.sockstat_tcp_mem_pages.is_some()) {
        memory.push(
            Line::new(
                "kernel TCP buffers",
                GREY,
                pts(&|x| x.sockstat_tcp_mem_pages.map(|p| p as f64 * 4096.0 / MIB)),
            )
            .dashed(),
        );
    }
    list.push(Chart {
        title: "Server memory",
        note: "Resident set size of each server process; kernel TCP buffers from \
               /proc/net/sockstat (pages × 4 KiB), whole machine.",
        y_label: "MiB",
        scale: Scale::Linear,
        lines: memory,
    });
    list.push(Chart {
        title: "Server CPU",
        note: "CPU of each server process over each second, percent of one core.",
        y_label: "% of a core",
        scale: Scale::Linear,
        lines: per_pid(|p| p.cpu_percent),
    });

    h.push_str("<h2>Over time</h2>\n<div class=\"charts\">\n");
    for chart in &list {
        render_chart(h, chart, phases, x_range);
    }
    h.push_str("</div>\n");
}

const MIB: f64 = 1024.0 * 1024.0;
const W: f64 = 640.0;
const H: f64 = 250.0;
const ML: f64 = 56.0;
const MR: f64 = 14.0;
const MT: f64 = 20.0;
const MB: f64 = 34.0;

fn render_chart(h: &mut String, chart: &Chart<'_>, phases: &[PhaseSpan], x_range: (f64, f64)) {
    let _ = write!(
        h,
        "<section class=\"chart\">\n<h3>{}</h3>\n<div class=\"legend\">",
        esc(chart.title)
    );
    for line in &chart.lines {
        let _ = write!(
            h,
            "<span{} style=\"--c:{}\">{}</span>",
            if line.dashed { " class=\"dash\"" } else { "" },
            line.color,
            esc(&line.name)
        );
    }
    h.push_str("</div>\n");
    let _ = writeln!(
        h,
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" font-size=\"11\" \
         font-family=\"system-ui, sans-serif\">",
        esc(chart.title)
    );
    let (pw, ph) = (W - ML - MR, H - MT - MB);
    let (x0, x1) = x_range;
    let xs = |t: f64| ML + (t - x0) / (x1 - x0).max(f64::MIN_POSITIVE) * pw;

    // Phase bands and labels.
    for (i, p) in phases.iter().enumerate() {
        let (a, b) = (xs(p.start).clamp(ML, ML + pw), xs(p.end).clamp(ML, ML + pw));
        if b <= a {
            continue;
        }
        let fill = if i % 2 == 0 { "#f1f5f9" } else { "#ffffff" };
        let _ = writeln!(
            h,
            "<rect x=\"{a:.1}\" y=\"{MT}\" width=\"{:.1}\" height=\"{ph}\" fill=\"{fill}\">\
             <title>{}: {}–{} s</title></rect>",
            b - a,
            esc(&p.name),
            fmt_num(p.start),
            fmt_num(p.end)
        );
        if i > 0 {
            let _ = writeln!(
                h,
                "<line x1=\"{a:.1}\" x2=\"{a:.1}\" y1=\"{MT}\" y2=\"{:.1}\" stroke=\"#94a3b8\" \
                 stroke-dasharray=\"3 3\"/>",
                MT + ph
            );
        }
        let fits = ((b - a - 6.0) / 6.0).floor().max(0.0) as usize;
        let label = fit_label(&p.name, fits);
        if !label.is_empty() {
            let _ = writeln!(
                h,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#475569\" font-weight=\"600\">{}</text>",
                a + 4.0,
                MT - 6.0,
                esc(&label)
            );
        }
    }

    // Y axis.
    let values = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|(_, v)| *v))
        .filter(|v| v.is_finite());
    let axis = match chart.scale {
        Scale::Linear => YAxis::linear(values.fold(0.0, f64::max)),
        Scale::Log => {
            let (lo, hi) = values
                .filter(|v| *v > 0.0)
                .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                });
            YAxis::log(lo, hi)
        }
    };
    let ys = |v: f64| MT + ph - axis.frac(v) * ph;
    for (v, major) in &axis.ticks {
        let y = ys(*v);
        let _ = writeln!(
            h,
            "<line x1=\"{ML}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{}\"/>",
            ML + pw,
            if *major { "#e2e8f0" } else { "#f1f5f9" }
        );
        if *major || axis.ticks.len() <= 12 {
            let _ = writeln!(
                h,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#475569\">{}</text>",
                ML - 6.0,
                y + 3.5,
                esc(&fmt_tick(*v))
            );
        }
    }
    let _ = writeln!(
        h,
        "<text transform=\"translate(13 {:.1}) rotate(-90)\" text-anchor=\"middle\" \
         fill=\"#475569\">{}</text>",
        MT + ph / 2.0,
        esc(chart.y_label)
    );

    // X axis.
    let step = nice_step((x1 - x0) / 8.0);
    let mut t = (x0 / step).ceil() * step;
    while t <= x1 + step * 1e-9 {
        let x = xs(t);
        let _ = writeln!(
            h,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#475569\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#475569\">{}</text>",
            MT + ph,
            MT + ph + 4.0,
            MT + ph + 16.0,
            esc(&fmt_tick(t))
        );
        t += step;
    }
    let _ = writeln!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#475569\">seconds since start</text>",
        ML + pw,
        H - 4.0
    );
    let _ = writeln!(
        h,
        "<path d=\"M{ML} {MT}V{:.1}H{:.1}\" fill=\"none\" stroke=\"#475569\"/>",
        MT + ph,
        ML + pw
    );

    // Lines: a gap where a value is missing; a dot for a lone point.
    let mut any = false;
    for line in &chart.lines {
        let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (t, v) in &line.points {
            match v.filter(|v| v.is_finite()) {
                Some(v) => {
                    if let Some(seg) = segments.last_mut() {
                        seg.push((xs(*t), ys(v)));
                    }
                }
                None => {
                    if segments.last().is_some_and(|s| !s.is_empty()) {
                        segments.push(Vec::new());
                    }
                }
            }
        }
        let mut d = String::new();
        for seg in segments.iter().filter(|s| !s.is_empty()) {
            any = true;
            if seg.len() == 1 {
                let _ = writeln!(
                    h,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"/>",
                    seg[0].0, seg[0].1, line.color
                );
                continue;
            }
            for (i, (x, y)) in seg.iter().enumerate() {
                let _ = write!(d, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { "L" });
            }
        }
        if !d.is_empty() {
            let _ = writeln!(
                h,
                "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" \
                 stroke-linejoin=\"round\"{}><title>{}</title></path>",
                line.color,
                line.width,
                if line.dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                },
                esc(&line.name)
            );
        }
    }
    if !any {
        let _ = writeln!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#94a3b8\" \
             font-size=\"14\">no data</text>",
            ML + pw / 2.0,
            MT + ph / 2.0
        );
    }
    h.push_str("</svg>\n");
    let _ = writeln!(h, "<p class=\"note\">{}</p>\n</section>", esc(chart.note));
}

/// `name` cut to `chars` characters (with an ellipsis), or nothing when fewer
/// than 3 fit.
fn fit_label(name: &str, chars: usize) -> String {
    let n = name.chars().count();
    if n <= chars {
        name.to_string()
    } else if chars >= 3 {
        name.chars().take(chars - 1).chain(['…']).collect()
    } else {
        String::new()
    }
}

struct YAxis {
    scale: Scale,
    lo: f64,
    hi: f64,
    /// Value, and whether it is labelled as a major tick.
    ticks: Vec<(f64, bool)>,
}

impl YAxis {
    fn linear(max: f64) -> Self {
        let max = if max > 0.0 { max } else { 1.0 };
        let step = nice_step(max / 5.0);
        let hi = (max / step).ceil() * step;
        let ticks = (0..)
            .map(|i| i as f64 * step)
            .take_while(|v| *v <= hi + step * 1e-9)
            .map(|v| (v, true))
            .collect();
        Self {
            scale: Scale::Linear,
            lo: 0.0,
            hi,
            ticks,
        }
    }

    fn log(min: f64, max: f64) -> Self {
        let (min, max) = if min.is_finite() && max > 0.0 {
            (min.max(1e-3), max.max(1e-3))
        } else {
            (1.0, 100.0)
        };
        let lo_e = min.log10().floor() as i32;
        let mut hi_e = max.log10().ceil() as i32;
        if hi_e <= lo_e {
            hi_e = lo_e + 1;
        }
        let decades = hi_e - lo_e;
        let mut ticks = Vec::new();
        for e in lo_e..=hi_e {
            let base = 10f64.powi(e);
            ticks.push((base, true));
            if e < hi_e && decades <= 3 {
                ticks.push((2.0 * base, false));
                ticks.push((5.0 * base, false));
            }
        }
        Self {
            scale: Scale::Log,
            lo: 10f64.powi(lo_e),
            hi: 10f64.powi(hi_e),
            ticks,
        }
    }

    /// Where `v` sits between the bottom (0) and the top (1).
    fn frac(&self, v: f64) -> f64 {
        let f = match self.scale {
            Scale::Linear => (v - self.lo) / (self.hi - self.lo),
            Scale::Log => {
                let v = v.max(self.lo);
                (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
            }
        };
        f.clamp(0.0, 1.0)
    }
}

/// 1, 2 or 5 × a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * base)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * base)
}

// ---------------------------------------------------------------------------
// Numbers

/// `12345` → `12,345`.
fn fmt_int(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number with at most three decimals and no trailing zeros.
fn fmt_num(v: f64) -> String {
    if v.abs() >= 1000.0 {
        let s = fmt_int(v.abs().round() as u64);
        return if v < 0.0 { format!("-{s}") } else { s };
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// An axis label: `1.5k`, `20k`, `2M`, `0.5`.
fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", fmt_num(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", fmt_num(v / 1e3))
    } else {
        fmt_num(v)
    }
}

/// Milliseconds with a unit, to three significant digits (`0.412 ms`,
/// `42.1 ms`, `1.25 s`).
fn fmt_ms(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{} ms", fmt_ms_bare(ms))
    }
}

/// Milliseconds, three significant digits, no unit.
fn fmt_ms_bare(ms: f64) -> String {
    if ms >= 100.0 {
        fmt_int(ms.round() as u64)
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

/// A rate: whole numbers from 100 up, one decimal below.
fn fmt_rate(r: f64) -> String {
    if r >= 100.0 {
        fmt_int(r.round() as u64)
    } else {
        format!("{r:.1}")
    }
}

fn fmt_ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("×{r:.0}")
    } else if r >= 10.0 {
        format!("×{r:.1}")
    } else {
        format!("×{r:.2}")
    }
}

fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1024.0 * MIB {
        format!("{:.2} GiB", b / (1024.0 * MIB))
    } else if b >= MIB {
        format!("{:.1} MiB", b / MIB)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b} B")
    }
}

/// `3725` → `1 h 2 min 5 s`; `12.5` → `12.5 s`.
fn fmt_duration(secs: f64) -> String {
    if !(secs.is_finite() && secs >= 0.0) {
        return "—".into();
    }
    if secs < 60.0 {
        return format!("{} s", fmt_num((secs * 10.0).round() / 10.0));
    }
    let total = secs.round() as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 {
        parts.push(format!("{s} s"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(1234567), "1,234,567");
        assert_eq!(fmt_num(2.50), "2.5");
        assert_eq!(fmt_num(12345.6), "12,346");
        assert_eq!(fmt_duration(3725.0), "1 h 2 min 5 s");
        assert_eq!(fmt_duration(12.5), "12.5 s");
        assert_eq!(fmt_ms(0.4123), "0.412 ms");
        assert_eq!(fmt_ms(1250.0), "1.25 s");
        assert_eq!(fmt_tick(15000.0), "15k");
        assert_eq!(fmt_tick(1000.0), "1k");
        assert_eq!(fmt_rate(166.667), "167");
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(0.3), 0.5);
    }

    #[test]
    fn phases_span_their_samples() {
        let series: Vec<Sample> = ["a", "a", "b", "b", "b"]
            .iter()
            .enumerate()
            .map(|(i, p)| Sample {
                t_secs: i as f64,
                phase: (*p).into(),
                ..Sample::default()
            })
            .collect();
        let spans = phase_spans(&series);
        assert_eq!(spans.len(), 2);
        assert_eq!((spans[0].start, spans[0].end), (0.0, 2.0));
        assert_eq!((spans[1].start, spans[1].end), (2.0, 5.0));
    }

    #[test]
    fn log_axis_covers_the_values() {
        let axis = YAxis::log(0.3, 420.0);
        assert_eq!((axis.lo, axis.hi), (0.1, 1000.0));
        assert!(axis.frac(0.1) == 0.0 && axis.frac(1000.0) == 1.0);
    }
}
