//! A flood from one client never slows the others: a control chat (a customer
//! and an agent, 10 round trips a second) runs for a quiet phase, then for a
//! flooded one, on the same node, while
//!
//! - one customer sends frames as fast as it can (and, cut off, reconnects and
//!   does it again),
//! - one client pings as fast as it can,
//! - one client opens WebSocket connections as fast as it can (at most
//!   `OPENER_MAX`, held open, well below the process's 20,000 descriptors).
//!
//! Speed is measured, not asserted: the control chat's round-trip p50/p99 of
//! both phases are printed and written to `target/figures/flood.json`. What is
//! asserted is correctness: every control message delivered, in order, none
//! lost; the flooder refused with `rate_limited` and closed `1008` per its
//! budget; the opener's sockets accepted or refused without the node failing;
//! and one very generous bound (a flooded round trip under 2 s at p99).
//!
//! `cargo test --release --test flood -- --nocapture` (add
//! `SWITCHBOARD_TEST_STORE=redis` for the Redis store).

#![allow(clippy::unwrap_used)]

#[path = "hub/common.rs"]
mod common;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::Message};

/// Each phase's length.
const PHASE: Duration = Duration::from_secs(5);
/// The control chat's pace: one round trip every 100 ms.
const PACE: Duration = Duration::from_millis(100);
/// The most connections the opener holds at once.
const OPENER_MAX: usize = 1_500;

/// What the flooders did, counted as they go.
#[derive(Default)]
struct Tally {
    flood_sessions: AtomicU64,
    flood_frames: AtomicU64,
    rate_limited: AtomicU64,
    flood_closed_1008: AtomicU64,
    /// Cut off after being refused, without the close frame: the server
    /// waits a second for the client's close after sending its own, reading
    /// the flood meanwhile; past that it drops a socket with unread bytes in
    /// it, and the reset discards what the client had not read yet.
    flood_reset: AtomicU64,
    other_closes: AtomicU64,
    pings: AtomicU64,
    pongs: AtomicU64,
    ping_closed: AtomicU64,
    opened: AtomicU64,
    welcomed: AtomicU64,
    refused: AtomicU64,
}

fn flood_config() -> switchboard::config::Config {
    let mut cfg = config(vec![agent("ann", &["trading"], &["en"], 3)]);
    // The documented defaults for a customer are 10 frames a second, burst 20:
    // the control customer sends exactly 10 a second, so give every customer
    // twice that (the flooder too; it sends thousands).
    cfg.limits.customer_frames_per_sec = 20;
    cfg.limits.customer_frame_burst = 40;
    cfg.limits.agent_frames_per_sec = 30;
    cfg.limits.agent_frame_burst = 60;
    cfg
}

/// One customer session after another, each sending `message` frames as fast
/// as the socket takes them until the server cuts it off.
async fn frame_flooder(server: std::net::SocketAddr, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    while !stop.load(Relaxed) {
        let Ok((ws, _)) = connect_async(format!("ws://{server}/ws/customer")).await else {
            continue;
        };
        tally.flood_sessions.fetch_add(1, Relaxed);
        let (mut tx, mut rx) = ws.split();
        let hello = json!({"type": "hello", "visitor_id": "flooder"}).to_string();
        if tx.send(Message::Text(hello.into())).await.is_err() {
            continue;
        }
        // Its own task: a sender that never has to wait would starve a
        // reader polled beside it.
        let sender = {
            let stop = stop.clone();
            let tally = tally.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Relaxed) {
                    n += 1;
                    let frame = json!({"type": "typing", "on": n.is_multiple_of(2)}).to_string();
                    if tx.feed(Message::Text(frame.into())).await.is_err() {
                        break;
                    }
                    if n.is_multiple_of(64) && tx.flush().await.is_err() {
                        break;
                    }
                    tally.flood_frames.fetch_add(1, Relaxed);
                }
            })
        };
        let reader = async {
            let mut refused = false;
            while let Some(message) = rx.next().await {
                let Ok(message) = message else {
                    if refused {
                        tally.flood_reset.fetch_add(1, Relaxed);
                    } else {
                        tally.other_closes.fetch_add(1, Relaxed);
                    }
                    return;
                };
                match message {
                    Message::Text(text) => {
                        let frame: Value = serde_json::from_str(&text).unwrap();
                        if frame["code"] == "rate_limited" {
                            refused = true;
                            tally.rate_limited.fetch_add(1, Relaxed);
                        }
                    }
                    Message::Close(Some(close)) if u16::from(close.code) == 1008 => {
                        assert!(close.reason.contains("rate limit"), "{close:?}");
                        tally.flood_closed_1008.fetch_add(1, Relaxed);
                        return;
                    }
                    Message::Close(_) => {
                        tally.other_closes.fetch_add(1, Relaxed);
                        return;
                    }
                    _ => {}
                }
            }
        };
        // The session ends when the server closes it (the reader returns).
        tokio::select! {
            () = reader => {}
            () = stopped(&stop) => {}
        }
        sender.abort();
    }
}

/// A raw client that sends pings as fast as it can, reading the pongs.
async fn ping_flooder(server: std::net::SocketAddr, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let Ok((ws, _)) = connect_async(format!("ws://{server}/ws/customer")).await else {
        return;
    };
    let (mut tx, mut rx) = ws.split();
    let hello = json!({"type": "hello", "visitor_id": "pinger"}).to_string();
    if tx.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    let sending = stop.clone();
    let counting = tally.clone();
    let sender = tokio::spawn(async move {
        let (stop, tally) = (sending, counting);
        let mut n = 0u32;
        while !stop.load(Relaxed) {
            n = n.wrapping_add(1);
            if tx
                .feed(Message::Ping(n.to_be_bytes().to_vec().into()))
                .await
                .is_err()
            {
                return;
            }
            if n.is_multiple_of(64) && tx.flush().await.is_err() {
                return;
            }
            tally.pings.fetch_add(1, Relaxed);
        }
    });
    // Closed with 1008, or reset (the close frame lost, as for the frame
    // flooder): either way the server ended it.
    let reader = async {
        while let Some(Ok(message)) = rx.next().await {
            match message {
                Message::Pong(_) => {
                    tally.pongs.fetch_add(1, Relaxed);
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        tally.ping_closed.fetch_add(1, Relaxed);
    };
    tokio::select! {
        () = reader => {}
        () = stopped(&stop) => {}
    }
    sender.abort();
}

/// Resolves once the flood phase is over.
async fn stopped(stop: &AtomicBool) {
    while !stop.load(Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Open WebSocket connections as fast as possible, each saying `hello` as a
/// visitor of its own, and hold them until the phase ends.
async fn opener(server: std::net::SocketAddr, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let mut held = Vec::new();
    let mut n = 0;
    while !stop.load(Relaxed) && held.len() < OPENER_MAX {
        n += 1;
        let attempt = async {
            let (mut ws, _) = connect_async(format!("ws://{server}/ws/customer"))
                .await
                .ok()?;
            let hello = json!({"type": "hello", "visitor_id": format!("opener-{n}")});
            ws.send(Message::Text(hello.to_string().into()))
                .await
                .ok()?;
            Some(ws)
        };
        tally.opened.fetch_add(1, Relaxed);
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Some(ws)) => held.push(ws),
            _ => {
                tally.refused.fetch_add(1, Relaxed);
            }
        }
    }
    // Count the welcomes of what was held, then let them go.
    for mut ws in held {
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(200), ws.next()).await
            && text.contains("\"welcome\"")
        {
            tally.welcomed.fetch_add(1, Relaxed);
        }
        drop(ws);
    }
    while !stop.load(Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The control chat for one phase: a round trip every `PACE`, each timed from
/// the customer's send to its receipt of the agent's answer. Every message
/// either side sees must be the next `seq`.
async fn control_phase(
    customer: &mut Ws,
    agent: &mut Ws,
    conversation: &Value,
    seq: &mut u64,
    round: &mut u64,
) -> Vec<Duration> {
    let mut rtts = Vec::new();
    let end = Instant::now() + PHASE;
    let mut tick = tokio::time::interval(PACE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while Instant::now() < end {
        tick.tick().await;
        *round += 1;
        let question = format!("question {round}");
        let sent = Instant::now();
        customer.send(say(&format!("c-{round}"), &question)).await;
        // The customer's echo, and the agent's copy, are the next seq.
        *seq += 1;
        let echo = customer.expect("message").await;
        assert_eq!(
            (echo["seq"].as_u64(), &echo["text"]),
            (Some(*seq), &json!(question))
        );
        let got = agent.expect("message").await;
        assert_eq!(got, echo, "the agent sees exactly the customer's message");
        let answer = format!("answer {round}");
        agent
            .send(reply(conversation, &format!("a-{round}"), &answer))
            .await;
        *seq += 1;
        let echo = agent.expect("message").await;
        assert_eq!(
            (echo["seq"].as_u64(), &echo["text"]),
            (Some(*seq), &json!(answer))
        );
        let got = customer.expect("message").await;
        assert_eq!(got, echo);
        rtts.push(sent.elapsed());
    }
    rtts
}

/// The nearest-rank percentile, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn summary(mut rtts: Vec<Duration>) -> Value {
    rtts.sort();
    json!({
        "round_trips": rtts.len(),
        "p50_ms": (percentile(&rtts, 50.0) * 100.0).round() / 100.0,
        "p99_ms": (percentile(&rtts, 99.0) * 100.0).round() / 100.0,
        "max_ms": (percentile(&rtts, 100.0) * 100.0).round() / 100.0,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_client_never_slows_the_others() {
    let server = TestServer::start(flood_config()).await;
    let (mut agent, mut customer, conversation) =
        chatting(&server, "token-ann", "control", "trading").await;
    let (mut seq, mut round) = (0, 0);

    let quiet = control_phase(
        &mut customer,
        &mut agent,
        &conversation,
        &mut seq,
        &mut round,
    )
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let flooders = [
        tokio::spawn(frame_flooder(server.addr, stop.clone(), tally.clone())),
        tokio::spawn(ping_flooder(server.addr, stop.clone(), tally.clone())),
        tokio::spawn(opener(server.addr, stop.clone(), tally.clone())),
    ];
    // Let the flood build up before timing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let flooded = control_phase(
        &mut customer,
        &mut agent,
        &conversation,
        &mut seq,
        &mut round,
    )
    .await;
    stop.store(true, Relaxed);
    for flooder in flooders {
        tokio::time::timeout(Duration::from_secs(10), flooder)
            .await
            .expect("flooders stop")
            .expect("flooders did not panic");
    }

    // Nothing lost: a new tab is replayed the whole transcript, in order.
    let (mut tab, welcome) = server.customer("control").await;
    assert_eq!(welcome["conversation"]["id"], conversation);
    assert_eq!(welcome["conversation"]["last_seq"], seq);
    for n in 1..=seq {
        let frame = tab.expect("message").await;
        assert_eq!(frame["seq"], n);
        let round = n.div_ceil(2);
        let text = if n % 2 == 1 {
            format!("question {round}")
        } else {
            format!("answer {round}")
        };
        assert_eq!(frame["text"], text);
    }
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 200, "{body}");

    let t = |c: &AtomicU64| c.load(Relaxed);
    let figures = json!({
        "test": "tests/flood.rs a_flood_from_one_client_never_slows_the_others",
        "store": if on_redis() { "redis" } else { "memory" },
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "phase_secs": PHASE.as_secs(),
        "control_pace_ms": PACE.as_millis() as u64,
        "quiet": summary(quiet.clone()),
        "flooded": summary(flooded.clone()),
        "flood": {
            "frame_flooder_sessions": t(&tally.flood_sessions),
            "frames_sent": t(&tally.flood_frames),
            "rate_limited_errors": t(&tally.rate_limited),
            "closed_1008_rate_limit": t(&tally.flood_closed_1008),
            "cut_off_close_frame_lost": t(&tally.flood_reset),
            "other_closes": t(&tally.other_closes),
            "pings_sent": t(&tally.pings),
            "pongs_received": t(&tally.pongs),
            "ping_flooder_closed": t(&tally.ping_closed),
            "connections_attempted": t(&tally.opened),
            "connections_welcomed": t(&tally.welcomed),
            "connections_refused_or_timed_out": t(&tally.refused),
        },
    });
    println!("{}", serde_json::to_string_pretty(&figures).unwrap());
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("figures");
    std::fs::create_dir_all(&dir).unwrap();
    let name = if on_redis() {
        "flood-redis.json"
    } else {
        "flood.json"
    };
    std::fs::write(
        dir.join(name),
        serde_json::to_string_pretty(&figures).unwrap(),
    )
    .unwrap();

    // The flooder met its budget: refused by name, then cut off, every time.
    assert!(t(&tally.rate_limited) > 0, "{figures}");
    assert!(
        t(&tally.flood_closed_1008) + t(&tally.flood_reset) > 0,
        "{figures}"
    );
    assert_eq!(t(&tally.other_closes), 0, "{figures}");
    // So was the pinger.
    assert_eq!(t(&tally.ping_closed), 1, "{figures}");
    assert!(t(&tally.opened) > 0, "{figures}");
    // Quiet and flooded, the control chat kept its pace (within a very
    // generous bound: this is a shared 2-core machine).
    assert!(quiet.len() >= 20 && flooded.len() >= 20, "{figures}");
    assert!(
        figures["flooded"]["p99_ms"].as_f64().unwrap() < 2000.0,
        "{figures}"
    );
    tab.close().await;
    server.shutdown().await;
}
