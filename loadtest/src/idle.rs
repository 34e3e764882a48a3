//! `idle-capacity`: open N customer connections past `hello`, hold them, and
//! measure what they cost the server: RSS growth per connection (from
//! `/proc/<pid>/status` before and after), the kernel's TCP memory separately,
//! and every connection the server dropped while they were held.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use tokio::task::JoinSet;

use crate::{
    client::Conn,
    runner::Run,
    sampler::{rss_bytes, tcp_mem_pages},
    scenario::Idle,
    stats::Latency,
};

/// What the idle connections cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdleCost {
    /// Connections past `welcome`.
    pub opened: u64,
    /// Connections that could not be opened.
    pub failed: u64,
    /// Connections the server closed while held.
    pub dropped: u64,
    /// RSS growth of all server processes together, bytes.
    pub rss_growth_bytes: u64,
    /// Kernel TCP memory growth, pages.
    pub tcp_mem_growth_pages: u64,
}

impl IdleCost {
    /// RSS growth per open connection, bytes.
    pub fn per_connection(&self) -> u64 {
        self.rss_growth_bytes / self.opened.max(1)
    }
}

fn total_rss(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|&pid| rss_bytes(pid)).sum()
}

/// Open, hold, measure. `share` of `idle.connections` (this worker's part).
pub async fn hold(run: Arc<Run>, idle: Idle, pids: &[u32], tag: &str) -> IdleCost {
    let rec = run.rec.clone();
    let rss_before = total_rss(pids);
    let tcp_before = tcp_mem_pages().unwrap_or(0);
    let mut held = JoinSet::new();
    let clock = tokio::time::Instant::now();
    let gap = 1.0 / idle.open_rate.max(0.001);
    for n in 0..idle.connections {
        tokio::time::sleep_until(clock + Duration::from_secs_f64(f64::from(n) * gap)).await;
        let run = run.clone();
        let visitor = format!("idle-{tag}-{n}");
        held.spawn(async move {
            let rec = run.rec.clone();
            let began = tokio::time::Instant::now();
            let target = &run.targets[n as usize % run.targets.len()];
            let opened = async {
                let mut conn = Conn::open(&run.sources, target, "/ws/customer")
                    .await?
                    .counted(&rec);
                conn.send(&json!({"type": "hello", "visitor_id": visitor}))
                    .await?;
                loop {
                    let frame = conn.recv_within(Duration::from_secs(30)).await?;
                    if frame["type"] == "welcome" {
                        return Ok::<_, crate::client::ClientError>(conn);
                    }
                }
            }
            .await;
            let Ok(mut conn) = opened else {
                rec.count("idle_failed", 1);
                return;
            };
            rec.latency(
                Latency::ConnectWelcome,
                u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX),
            );
            rec.count("idle_opened", 1);
            // Held until the run stops; anything else ending it is a drop.
            tokio::select! {
                _ = async { while conn.recv().await.is_ok() {} } => {
                    rec.count("idle_dropped", 1);
                }
                () = run.stop.cancelled() => conn.close().await,
            }
        });
    }
    // Everything opened (or failed): let the server settle, then weigh it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rec.counter("idle_opened") + rec.counter("idle_failed") < u64::from(idle.connections)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cost = IdleCost {
        opened: rec.counter("idle_opened"),
        failed: rec.counter("idle_failed"),
        dropped: 0,
        rss_growth_bytes: total_rss(pids).saturating_sub(rss_before),
        tcp_mem_growth_pages: tcp_mem_pages().unwrap_or(0).saturating_sub(tcp_before),
    };
    eprintln!(
        "idle: {} open ({} failed); server RSS +{} bytes = {} bytes per connection; kernel TCP memory +{} pages",
        cost.opened,
        cost.failed,
        cost.rss_growth_bytes,
        cost.per_connection(),
        cost.tcp_mem_growth_pages
    );
    tokio::time::sleep(Duration::from_secs_f64(idle.hold_secs)).await;
    run.stop.cancel();
    while held.join_next().await.is_some() {}
    IdleCost {
        dropped: rec.counter("idle_dropped"),
        ..cost
    }
}
