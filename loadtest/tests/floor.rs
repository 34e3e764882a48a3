//! The transport floor: the bare relay, a short measurement, ceiling mode.

#[path = "support/steps.rs"]
mod steps;

use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use switchboard_loadtest::floor::{self, Ceiling, FloorConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn start_relay() -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        floor::serve_relay(listener, async {
            let _ = stopped.await;
        })
        .await
        .expect("relay");
    });
    (format!("ws://{addr}"), stop, served)
}

async fn open(base: &str, side: &str, pair: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{base}/ws/{side}"))
        .await
        .expect("connect");
    ws.send(Message::text(
        json!({"type": "hello", "pair": pair}).to_string(),
    ))
    .await
    .expect("hello");
    ws
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("stream open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}

fn without_seq(mut v: Value) -> Value {
    if let Some(map) = v.as_object_mut() {
        map.remove("seq");
    }
    v
}

#[tokio::test]
async fn relay_links_a_pair_echoes_and_relays_with_seq() {
    let (base, stop, served) = start_relay().await;
    let mut customer = open(&base, "customer", "p1").await;
    let mut agent = open(&base, "agent", "p1").await;
    assert_eq!(
        next_json(&mut customer).await,
        json!({"type": "linked", "pair": "p1"})
    );
    assert_eq!(
        next_json(&mut agent).await,
        json!({"type": "linked", "pair": "p1"})
    );

    // A connection of another pair sees none of it.
    let mut other = open(&base, "customer", "p2").await;

    let sent = json!({"type": "message", "client_msg_id": "c-1", "text": "hello <there>", "t": 17});
    customer
        .send(Message::text(sent.to_string()))
        .await
        .expect("send");
    let echo = next_json(&mut customer).await;
    let delivered = next_json(&mut agent).await;
    assert_eq!(echo["seq"], 1);
    assert_eq!(delivered, echo, "the same frame to both sides");
    assert_eq!(without_seq(delivered), sent, "unchanged but for seq");

    let reply = json!({"type": "message", "client_msg_id": "a-1", "text": "hi"});
    agent
        .send(Message::text(reply.to_string()))
        .await
        .expect("send");
    let echo = next_json(&mut agent).await;
    let delivered = next_json(&mut customer).await;
    assert_eq!(echo["seq"], 2, "one seq per pair");
    assert_eq!(delivered, echo);
    assert_eq!(without_seq(delivered), reply);

    // Anything but a message is refused, and the connection stays.
    customer
        .send(Message::text(r#"{"type":"dance"}"#))
        .await
        .expect("send");
    assert_eq!(next_json(&mut customer).await["type"], "error");
    customer
        .send(Message::text("not json"))
        .await
        .expect("send");
    assert_eq!(next_json(&mut customer).await["type"], "error");

    // The other pair got nothing; a message there goes nowhere but its echo.
    let lone = json!({"type": "message", "client_msg_id": "o-1", "text": "anyone?"});
    other
        .send(Message::text(lone.to_string()))
        .await
        .expect("send");
    let echo = next_json(&mut other).await;
    assert_eq!(echo["seq"], 1);
    assert_eq!(echo["client_msg_id"], "o-1");

    // A frame before hello is refused.
    let (mut early, _) = tokio_tungstenite::connect_async(format!("{base}/ws/agent"))
        .await
        .expect("connect");
    early
        .send(Message::text(lone.to_string()))
        .await
        .expect("send");
    assert_eq!(next_json(&mut early).await["type"], "error");

    // Shutdown closes the open connections and returns.
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(8), served)
        .await
        .expect("relay stops")
        .expect("relay task");
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match customer.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the customer's connection was closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_measurement_counts_what_was_sent() {
    let result = floor::measure(FloorConfig {
        pairs: 2,
        rate: 200.0,
        duration: Duration::from_secs(2),
        ..FloorConfig::default()
    })
    .await
    .expect("measure");
    assert_eq!(result.pairs, 2);
    assert_eq!(result.relay, "in-process");
    // 100 per pair per second for 2 s; the schedule's edges may cut one each.
    assert!((396..=400).contains(&result.sent), "sent {}", result.sent);
    assert_eq!(result.delivered, result.sent, "every message delivered");
    assert_eq!(result.echoed, result.sent, "every message echoed");
    assert_eq!(result.delivery.count, result.sent);
    assert_eq!(result.echo.count, result.sent);
    assert!(
        (180.0..=205.0).contains(&result.achieved_msgs_per_sec),
        "achieved {}",
        result.achieved_msgs_per_sec
    );
    for p in [result.delivery, result.echo] {
        assert!(p.p50_ms > 0.0, "{p:?}");
        assert!(p.p50_ms <= p.p90_ms && p.p90_ms <= p.p99_ms, "{p:?}");
        assert!(p.p99_ms <= p.p999_ms && p.p999_ms <= p.max_ms, "{p:?}");
        assert!(p.p99_ms < 500.0, "loopback at 200 msg/s: {p:?}");
        assert!(p.mean_ms > 0.0 && p.mean_ms <= p.max_ms, "{p:?}");
    }
    assert_eq!(result.ceiling_msgs_per_sec, None);
    assert!(result.steps.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceiling_mode_stops_by_itself() {
    // Steps double from 200 msg/s; at most 4 steps of 0.4 s, each with at most
    // 3 s of draining (1 s when everything arrives).
    let started = Instant::now();
    let result = floor::measure(FloorConfig {
        pairs: 2,
        rate: 100.0,
        duration: Duration::from_millis(300),
        ceiling: Some(Ceiling {
            start_rate: Some(200.0),
            factor: 2.0,
            step: Duration::from_millis(400),
            max_steps: 4,
            ..Ceiling::default()
        }),
        ..FloorConfig::default()
    })
    .await
    .expect("measure");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "bounded in time"
    );
    steps::assert_doubling_steps(&result, 200.0, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceiling_stops_at_the_first_step_over_the_limit() {
    // A p99 limit no relay meets: the first step fails and ends the search.
    let started = Instant::now();
    let result = floor::measure(FloorConfig {
        pairs: 1,
        rate: 50.0,
        duration: Duration::from_millis(200),
        ceiling: Some(Ceiling {
            step: Duration::from_millis(300),
            max_steps: 10,
            p99_limit_ms: 0.000_001,
            ..Ceiling::default()
        }),
        ..FloorConfig::default()
    })
    .await
    .expect("measure");
    assert_eq!(result.steps.len(), 1, "{:?}", result.steps);
    assert!(!result.steps[0].held);
    assert_eq!(result.ceiling_msgs_per_sec, Some(0.0));
    assert!(!result.ceiling_is_lower_bound);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn measure_refuses_what_it_should_not_do() {
    let bad = [
        FloorConfig {
            pairs: 0,
            ..FloorConfig::default()
        },
        FloorConfig {
            rate: -1.0,
            ..FloorConfig::default()
        },
        FloorConfig {
            url: Some("ws://192.0.2.1:9100".into()),
            ..FloorConfig::default()
        },
        FloorConfig {
            duration: Duration::from_secs(3600),
            ..FloorConfig::default()
        },
    ];
    for config in bad {
        assert!(floor::measure(config.clone()).await.is_err(), "{config:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_against_a_relay_at_a_url() {
    let (base, stop, served) = start_relay().await;
    let result = floor::measure(FloorConfig {
        url: Some(base.clone()),
        pairs: 3,
        rate: 150.0,
        duration: Duration::from_secs(1),
        ..FloorConfig::default()
    })
    .await
    .expect("measure");
    assert_eq!(result.relay, base);
    assert!(result.sent >= 145, "sent {}", result.sent);
    assert_eq!(result.delivered, result.sent);
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(8), served).await;
}

#[tokio::test]
async fn a_customer_hello_is_welcomed_as_switchboard_would() {
    let (base, stop, served) = start_relay().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{base}/ws/customer"))
        .await
        .expect("connect");
    ws.send(Message::text(
        json!({"type": "hello", "visitor_id": "idle-1"}).to_string(),
    ))
    .await
    .expect("hello");
    assert_eq!(next_json(&mut ws).await["type"], "welcome");
    drop(ws);
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), served).await;
}
