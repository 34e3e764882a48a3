//! The servers' side, once a second: RSS and CPU of the target processes
//! (`/proc/<pid>/status`, `/proc/<pid>/stat`), the kernel's TCP memory
//! (`/proc/net/sockstat`), and the queue depth from each target's `/metrics`.

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use crate::{client::resolve, stats::Recorder};

/// One process at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessPoint {
    /// Its pid.
    pub pid: u32,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// CPU over the last second, percent of one core.
    pub cpu_percent: f64,
}

/// One second of the servers' side.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerPoint {
    /// Seconds into the run.
    pub t_secs: u64,
    /// Each sampled process.
    pub processes: Vec<ProcessPoint>,
    /// `TCP: … mem N` of `/proc/net/sockstat`, pages.
    pub tcp_mem_pages: Option<u64>,
    /// Sum of `switchboard_queue_depth` over the targets that answered.
    pub queue_depth: Option<u64>,
    /// Client connections open (the load tester's own count).
    pub connections: u64,
    /// Customers waiting for an agent, as the clients know it.
    pub waiting: u64,
}

/// Samples the servers until stopped.
#[derive(Debug, Clone)]
pub struct Sampler {
    pids: Vec<u32>,
    targets: Vec<String>,
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`),
/// 100 on every Linux this runs on.
const TICKS: f64 = 100.0;

impl Sampler {
    /// Sample these processes and targets.
    pub fn new(pids: Vec<u32>, targets: Vec<String>) -> Self {
        Self { pids, targets }
    }

    /// Sample every second until `stop`; the task returns the samples.
    pub fn spawn(
        self,
        rec: Arc<Recorder>,
        stop: CancellationToken,
    ) -> JoinHandle<Vec<ServerPoint>> {
        tokio::spawn(async move {
            let mut points = Vec::new();
            let mut last_cpu: Vec<Option<u64>> = vec![None; self.pids.len()];
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = stop.cancelled() => break,
                }
                let mut point = ServerPoint {
                    t_secs: rec.elapsed().as_secs(),
                    tcp_mem_pages: tcp_mem_pages(),
                    connections: rec.gauge_value("connections"),
                    waiting: rec.gauge_value("waiting"),
                    ..ServerPoint::default()
                };
                for (i, &pid) in self.pids.iter().enumerate() {
                    let Some(rss_bytes) = rss_bytes(pid) else {
                        continue; // gone (killed by a fault)
                    };
                    let ticks = cpu_ticks(pid);
                    let cpu_percent = match (ticks, last_cpu[i]) {
                        (Some(now), Some(before)) => {
                            (now.saturating_sub(before)) as f64 / TICKS * 100.0
                        }
                        _ => 0.0,
                    };
                    last_cpu[i] = ticks;
                    point.processes.push(ProcessPoint {
                        pid,
                        rss_bytes,
                        cpu_percent,
                    });
                }
                let mut depth = None;
                for target in &self.targets {
                    if let Some(d) = queue_depth(target).await {
                        *depth.get_or_insert(0) += d;
                    }
                }
                point.queue_depth = depth;
                points.push(point);
            }
            points
        })
    }
}

/// `VmRSS` of a process, bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// utime + stime of a process, clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields count from after its `)`.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The kernel's TCP memory, pages (`/proc/net/sockstat`).
pub fn tcp_mem_pages() -> Option<u64> {
    let sockstat = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let tcp = sockstat.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = tcp.split_whitespace();
    while let Some(word) = words.next() {
        if word == "mem" {
            return words.next()?.parse().ok();
        }
    }
    None
}

/// GET `path` over plain HTTP/1.1 from a `ws://host:port` target: the body.
pub async fn http_get(target: &str, path: &str) -> Option<String> {
    let addr = resolve(target).await.ok()?;
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        Some(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(1), exchange)
        .await
        .ok()??;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// Sum of `switchboard_queue_depth` in a target's `/metrics`.
async fn queue_depth(target: &str) -> Option<u64> {
    let body = http_get(target, "/metrics").await?;
    let mut total = None;
    for line in body
        .lines()
        .filter(|l| l.starts_with("switchboard_queue_depth{"))
    {
        if let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<u64>().ok()) {
            *total.get_or_insert(0) += value;
        }
    }
    total
}
