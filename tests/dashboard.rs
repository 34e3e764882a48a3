//! The supervisor dashboard over real HTTP, one in-process server per test:
//! its numbers against `/metrics` and `/api/presence`, the SLA list, the
//! supervisor-only rule, the event stream, the recent past (first responses,
//! endings, tickets, ratings), and a follower serving the matcher's snapshot
//! through the presence board (memory and Redis boards alike).
#![allow(clippy::unwrap_used)]

#[path = "hub/common.rs"]
mod common;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use common::{PATIENCE, SECRET, TestServer, agent, config, identity, reply, start};
use serde_json::{Value, json};
use switchboard::{
    config::{AgentConfig, AgentRole, Config, RedisSettings},
    hub::DashboardSnapshot,
    presence::{MemoryBoard, PresenceBoard, RedisBoard},
    store::RedisTarget,
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

const SUPERVISOR: &str = "Authorization: Bearer token-sue\r\n";

fn supervisor() -> AgentConfig {
    AgentConfig {
        role: AgentRole::Supervisor,
        ..agent("sue", &["general"], &["en"], 1)
    }
}

/// Ana serves trading and deposits in English and Spanish; Sue supervises.
fn desk() -> Config {
    let mut config = config(vec![
        agent("ana", &["trading", "deposit_withdrawal"], &["en", "es"], 2),
        supervisor(),
    ]);
    config.node_id = Some("node-dash".into());
    config
}

async fn dashboard(addr: SocketAddr) -> Value {
    let (status, body) = common::http_get(addr, "/api/dashboard", SUPERVISOR).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Ask for the dashboard until `done` holds (the hub works in turns; nothing
/// here waits longer than it has to).
async fn dashboard_until(addr: SocketAddr, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let snapshot = dashboard(addr).await;
        if done(&snapshot) {
            return snapshot;
        }
        assert!(Instant::now() < deadline, "never {what}: {snapshot:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `/metrics` as `name{labels}` → value.
async fn metrics(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, body) = common::http_get(addr, "/metrics", "").await;
    assert_eq!(status, 200);
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(key, value)| Some((key.to_string(), value.parse().ok()?)))
        .collect()
}

/// The sum of a metric over all its label sets.
fn total(metrics: &HashMap<String, f64>, name: &str) -> f64 {
    metrics
        .iter()
        .filter(|(key, _)| key.split('{').next() == Some(name))
        .map(|(_, v)| v)
        .sum()
}

fn at(snapshot: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(snapshot["at"].as_str().unwrap(), &Rfc3339).unwrap()
}

/// Per topic of the configuration: (depth, oldest wait) from the snapshot's rows.
fn per_topic(snapshot: &Value, topic: &str) -> (u64, u64) {
    let rows: Vec<&Value> = snapshot["queue"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["topic"] == topic)
        .collect();
    let depth = rows.iter().map(|r| r["depth"].as_u64().unwrap()).sum();
    let oldest = rows
        .iter()
        .map(|r| r["oldest_wait_secs"].as_u64().unwrap())
        .max()
        .unwrap_or(0);
    (depth, oldest)
}

#[tokio::test]
async fn a_burst_in_the_queue_shows_as_metrics_and_presence_show_it() {
    let mut config = desk();
    config.dashboard.sla_urgent_secs = 1;
    let server = TestServer::start(config.clone()).await;

    // Ana is connected but away: nobody is free to take the burst.
    let (mut ana, _) = server.agent("token-ana").await;
    ana.send(json!({"type": "status", "status": "away"})).await;
    ana.until("status").await;

    let mut customers = Vec::new();
    for i in 0..9 {
        let (mut ws, _) = server.customer(&format!("v-burst-{i}")).await;
        let (topic, language) = match i % 3 {
            0 => ("trading", "en"),
            1 => ("trading", "es"),
            _ => ("deposit_withdrawal", "en"),
        };
        ws.send(json!({"type": "start", "topic": topic, "language": language}))
            .await;
        ws.expect("queued").await;
        customers.push(ws);
    }
    // A logged-in customer whose first words make the chat urgent.
    let hello = json!({"type": "hello", "identity": identity(SECRET, "42", "standard", 3600)});
    let (mut urgent, _) = server.customer_with(hello).await;
    urgent
        .send(start("deposit_withdrawal", Some("My account was hacked")))
        .await;
    let conversation = urgent.until("queued").await["conversation_id"].clone();
    customers.push(urgent);

    // Past its one-second SLA, the urgent chat is listed, alone: the others
    // are within their 300 s.
    let first = dashboard_until(server.addr, "listing the urgent chat", |d| {
        d["waiting_total"] == 1
    })
    .await;
    assert_eq!(first["queued_total"], 10);
    assert_eq!(first["sla_urgent_secs"], 1);
    assert_eq!(first["sla_wait_secs"], 300);
    let waiting = first["waiting"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{first:#}");
    let row = &waiting[0];
    assert_eq!(row["conversation_id"], conversation);
    assert_eq!(row["customer_key"], "u:42");
    assert_eq!(row["customer_name"], "User 42");
    assert_eq!(row["priority"], "urgent");
    assert_eq!(row["topic"], "deposit_withdrawal");
    assert_eq!(row["language"], "en");
    assert_eq!(row["sla_secs"], 1);
    assert!(row["waited_secs"].as_u64().unwrap() >= 1, "{row}");

    // One row per (topic, language, priority), in configured topic order.
    let rows: Vec<(String, String, String, u64)> = first["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["topic"].as_str().unwrap().to_string(),
                r["language"].as_str().unwrap().to_string(),
                r["priority"].as_str().unwrap().to_string(),
                r["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("deposit_withdrawal", "en", "urgent", 1),
        ("deposit_withdrawal", "en", "standard", 3),
        ("trading", "en", "standard", 3),
        ("trading", "es", "standard", 3),
    ];
    assert_eq!(
        rows,
        expected.map(|(t, l, p, n)| (t.into(), l.into(), p.into(), n))
    );

    // The gauges, scraped between two snapshots: the same depths, and waits
    // between the two snapshots' (nobody leaves the queue meanwhile).
    let scraped = metrics(server.addr).await;
    let second = dashboard(server.addr).await;
    assert!(at(&second) > at(&first));
    for topic in &config.routing.topics {
        let (depth, oldest_before) = per_topic(&first, topic);
        let (depth_after, oldest_after) = per_topic(&second, topic);
        assert_eq!(depth, depth_after, "{topic}");
        let gauge = |name: &str| scraped[&format!("{name}{{topic=\"{topic}\"}}")] as u64;
        assert_eq!(gauge("switchboard_queue_depth"), depth, "{topic}");
        let oldest = gauge("switchboard_queue_oldest_wait_seconds");
        assert!(
            (oldest_before..=oldest_after).contains(&oldest),
            "{topic}: {oldest_before} <= {oldest} <= {oldest_after}"
        );
    }
    assert_eq!(
        second["longest_wait_secs"],
        second["queue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["oldest_wait_secs"].as_u64().unwrap())
            .max()
            .unwrap()
    );

    // The agents presence shows, as it shows them; the rest of the roster idle.
    let (status, body) = common::http_get(
        server.addr,
        "/api/presence",
        "Authorization: Bearer token-ana\r\n",
    )
    .await;
    assert_eq!(status, 200);
    let presence: Value = serde_json::from_str(&body).unwrap();
    let shown = presence["nodes"][0]["agents"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{presence}");
    let agents = second["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2);
    let ana_row = &agents[0];
    for field in [
        "id", "name", "status", "sessions", "load", "capacity", "nodes",
    ] {
        assert_eq!(ana_row[field], shown[0][field], "{field}");
    }
    assert_eq!(ana_row["status"], "away");
    assert_eq!(ana_row["chats"], json!([]));
    assert_eq!(
        agents[1],
        json!({"id": "sue", "name": "Agent sue", "status": "offline", "sessions": 0,
               "load": 0, "capacity": 1, "chats": [], "nodes": []})
    );

    // One node, this one, which runs the hub; and the chart's first sample.
    let nodes = second["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["node"], "node-dash");
    assert_eq!(nodes[0]["matcher"], true);
    assert_eq!(nodes[0]["queued"], 10);
    assert_eq!(nodes[0]["agents"], 1);
    assert_eq!(second["node"], "node-dash");
    assert!(!second["history"].as_array().unwrap().is_empty());

    // Ana comes online: she takes the urgent chat first, and it leaves the list.
    ana.send(json!({"type": "status", "status": "online"}))
        .await;
    let taken = ana.until("assigned").await;
    assert_eq!(taken["conversation_id"], conversation);
    let after = dashboard_until(server.addr, "dropping the taken chat", |d| {
        d["queued_total"] == 8
    })
    .await;
    assert_eq!(after["waiting_total"], 0);
    assert_eq!(after["agents"][0]["load"], 2);
    assert_eq!(after["agents"][0]["chats"].as_array().unwrap().len(), 2);
    assert!(
        after["agents"][0]["chats"]
            .as_array()
            .unwrap()
            .contains(&conversation)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn only_supervisors_may_look() {
    let server = TestServer::start(desk()).await;
    for path in ["/api/dashboard", "/api/dashboard/stream"] {
        for headers in [
            "Authorization: Bearer token-ana\r\n",
            "Authorization: Bearer nobody-at-all\r\n",
            "",
        ] {
            let (status, body) = common::http_get(server.addr, path, headers).await;
            assert_eq!(status, 401, "{path} {headers:?}: {body}");
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
        }
        let (_, body) =
            common::http_get(server.addr, path, "Authorization: Bearer token-ana\r\n").await;
        assert!(body.contains("supervisor role required"), "{body}");
    }
    server.shutdown().await;
}

/// Server-Sent Events as they arrive: `(event, data)`.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(addr: SocketAddr) -> Self {
        let response = reqwest::Client::new()
            .get(format!("http://{addr}/api/dashboard/stream"))
            .bearer_auth("token-sue")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), or `None` once the stream ends.
    async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = String::from("message");
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                    }
                }
                if !data.is_empty() {
                    return Some((event, data.join("\n")));
                }
                continue;
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("the stream goes on or ends")
                .ok()??;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

#[tokio::test]
async fn the_stream_sends_a_snapshot_at_once_then_every_second_and_ends_with_the_node() {
    let server = TestServer::start(desk()).await;
    let mut events = Events::open(server.addr).await;
    let (kind, data) = events.next().await.unwrap();
    assert_eq!(kind, "snapshot");
    let first: Value = serde_json::from_str(&data).unwrap();
    assert!(first["history"].is_array(), "the first carries the chart");
    let opened = Instant::now();
    let (kind, data) = events.next().await.unwrap();
    assert_eq!(kind, "snapshot");
    let second: Value = serde_json::from_str(&data).unwrap();
    assert!(second.get("history").is_none(), "only the first does");
    let apart = at(&second) - at(&first);
    assert!(
        apart >= time::Duration::milliseconds(900),
        "{apart} between two snapshots"
    );
    assert!(opened.elapsed() >= Duration::from_millis(800));
    // Every snapshot parses as the type the server sends.
    let _: DashboardSnapshot = serde_json::from_value(second).unwrap();

    // Shutdown ends the stream, and does not wait for the page to go away.
    let stopping = tokio::spawn(server.shutdown());
    let deadline = Instant::now() + PATIENCE;
    while events.next().await.is_some() {
        assert!(Instant::now() < deadline, "the stream outlived the node");
    }
    stopping.await.unwrap();
}

#[tokio::test]
async fn the_recent_past_counts_first_responses_endings_tickets_and_ratings() {
    let server = TestServer::start(desk()).await;
    let quiet = dashboard(server.addr).await;
    assert_eq!(
        quiet["last_15_min"],
        json!({"assignments": 0, "first_responses": 0,
               "first_response_p50_secs": null, "first_response_p90_secs": null})
    );
    assert_eq!(
        quiet["today"]["ended"],
        json!({"resolved": 0, "closed": 0, "abandoned": 0, "ticketed": 0})
    );
    assert_eq!(
        quiet["today"]["ratings"],
        json!({"count": 0, "average": null})
    );

    // Assigned, answered, resolved, rated.
    let (mut ana, mut customer, conversation) =
        common::chatting(&server, "token-ana", "v-past-1", "trading").await;
    ana.send(reply(&conversation, "a-1", "Hello, looking into it"))
        .await;
    customer.until("message").await;
    let answered = dashboard_until(server.addr, "counting the first response", |d| {
        d["last_15_min"]["first_responses"] == 1
    })
    .await;
    let p50 = answered["last_15_min"]["first_response_p50_secs"]
        .as_f64()
        .unwrap();
    assert_eq!(answered["last_15_min"]["first_response_p90_secs"], p50);
    // One response: both percentiles are it, as the histogram has it.
    let scraped = metrics(server.addr).await;
    let observed = scraped["switchboard_first_response_seconds_sum{topic=\"trading\"}"];
    assert!((p50 - observed).abs() <= 0.0005, "{p50} vs {observed}");
    assert_eq!(
        scraped["switchboard_first_response_seconds_count{topic=\"trading\"}"],
        1.0
    );

    ana.send(json!({"type": "resolve", "conversation_id": conversation}))
        .await;
    assert_eq!(customer.until("ended").await["reason"], "resolved");
    customer.send(json!({"type": "rate", "score": 4})).await;
    customer.until("rated").await;

    // Another chat, escalated to a ticket.
    let (mut second, _) = server.customer("v-past-2").await;
    second.send(start("trading", None)).await;
    let escalated = ana.until("assigned").await["conversation_id"].clone();
    ana.send(json!({"type": "escalate", "conversation_id": escalated, "note": "on-chain trace"}))
        .await;
    assert_eq!(second.until("ended").await["reason"], "ticketed");

    let done = dashboard_until(server.addr, "counting the day", |d| {
        d["today"]["tickets_filed"] == 1 && d["today"]["ratings"]["count"] == 1
    })
    .await;
    assert_eq!(
        done["today"]["ended"],
        json!({"resolved": 1, "closed": 0, "abandoned": 0, "ticketed": 1})
    );
    assert_eq!(
        done["today"]["ratings"],
        json!({"count": 1, "average": 4.0})
    );
    assert_eq!(done["last_15_min"]["assignments"], 2);
    let since = OffsetDateTime::parse(done["today"]["since"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(since <= at(&done));

    // The same numbers as the node's counters.
    let scraped = metrics(server.addr).await;
    assert_eq!(total(&scraped, "switchboard_assignments_total"), 2.0);
    assert_eq!(
        scraped["switchboard_conversations_ended_total{reason=\"resolved\"}"],
        1.0
    );
    assert_eq!(
        scraped["switchboard_conversations_ended_total{reason=\"ticketed\"}"],
        1.0
    );
    assert_eq!(total(&scraped, "switchboard_tickets_filed_total"), 1.0);
    assert_eq!(total(&scraped, "switchboard_csat_ratings_total"), 1.0);
    server.shutdown().await;
}

/// A snapshot as the protocol document shows it.
fn sample(queued: usize) -> DashboardSnapshot {
    serde_json::from_value(json!({
        "at": "2026-05-01T10:00:00Z", "node": "node-a",
        "queue": [{"topic": "trading", "language": "en", "priority": "urgent", "depth": queued, "oldest_wait_secs": 130}],
        "queued_total": queued, "longest_wait_secs": 130, "sla_wait_secs": 300, "sla_urgent_secs": 120,
        "waiting": [{"conversation_id": "0196a3f2-7c41-7b2e-9d51-3c0e8f6a1b22", "customer_key": "u:42",
                     "customer_name": "User 42", "topic": "trading", "language": "en", "priority": "urgent",
                     "waited_secs": 130, "sla_secs": 120}],
        "waiting_total": 1,
        "agents": [{"id": "ana", "name": "Ana", "status": "online", "sessions": 1, "load": 0, "capacity": 3,
                    "chats": [], "nodes": ["node-a"]}],
        "nodes": [{"node": "node-a", "matcher": true, "queued": queued, "agents": 1, "at": "2026-05-01T10:00:00Z"}],
        "last_15_min": {"assignments": 4, "first_responses": 3, "first_response_p50_secs": 12.5, "first_response_p90_secs": 40.0},
        "today": {"since": "2026-05-01T00:00:00Z", "ended": {"resolved": 3, "closed": 1, "abandoned": 0, "ticketed": 1},
                  "tickets_filed": 1, "ratings": {"count": 2, "average": 4.5}},
        "history": [{"at": "2026-05-01T09:59:50Z", "queued_total": 1, "longest_wait_secs": 120}]
    }))
    .unwrap()
}

/// What a board must do with the dashboard, whatever it keeps it in.
async fn keeps_the_latest_dashboard_until_its_ttl(board: &dyn PresenceBoard) {
    assert_eq!(board.dashboard().await.unwrap(), None);
    board
        .publish_dashboard(&sample(1), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(board.dashboard().await.unwrap(), Some(sample(1)));
    board
        .publish_dashboard(&sample(2), Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(board.dashboard().await.unwrap(), Some(sample(2)));
    let deadline = Instant::now() + PATIENCE;
    while board.dashboard().await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the dashboard never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_memory_board_keeps_the_latest_dashboard_until_its_ttl() {
    keeps_the_latest_dashboard_until_its_ttl(&MemoryBoard::default()).await;
}

#[tokio::test]
async fn the_redis_board_keeps_the_latest_dashboard_until_its_ttl() {
    let redis = redis_server::RedisServer::start();
    let target = RedisTarget::new(&redis.url, &RedisSettings::default());
    let board = RedisBoard::connect(&target, "dash:").await.unwrap();
    keeps_the_latest_dashboard_until_its_ttl(&board).await;
}

/// A cluster node in this process, on a shared Redis.
struct ClusterNode {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl ClusterNode {
    async fn start(redis: &redis_server::RedisServer, id: &str) -> Self {
        let mut config = desk();
        config.node_id = Some(id.into());
        config.redis_url = Some(redis.url.clone());
        config.redis.prefix = "dash-cluster:".into();
        config.cluster.lease_secs = 1;
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.validate().unwrap();
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = switchboard::server::Backend::open(&config).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            switchboard::server::run(listener, config, backend, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            addr,
            stop: Some(stop),
            handle,
        }
    }

    async fn wait_for(&self, role: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, body) = common::http_get(self.addr, "/healthz", "").await;
            if serde_json::from_str::<Value>(&body).is_ok_and(|h| h["role"] == role) {
                return;
            }
            assert!(Instant::now() < deadline, "never {role}: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn a_follower_serves_the_snapshot_the_matcher_publishes() {
    let redis = redis_server::RedisServer::start();
    let matcher = ClusterNode::start(&redis, "node-m").await;
    matcher.wait_for("matcher").await;
    let follower = ClusterNode::start(&redis, "node-f").await;
    follower.wait_for("follower").await;

    // A customer on the follower, waiting: the follower's dashboard is the
    // matcher's, with both nodes.
    let mut customer = common::Ws::connect(follower.addr, "/ws/customer").await;
    customer
        .send(json!({"type": "hello", "visitor_id": "v-far"}))
        .await;
    customer.expect("welcome").await;
    customer.send(start("trading", None)).await;
    customer.expect("queued").await;
    let seen = dashboard_until(follower.addr, "showing the matcher's queue", |d| {
        d["queued_total"] == 1 && d["nodes"].as_array().is_some_and(|n| n.len() == 2)
    })
    .await;
    assert_eq!(seen["node"], "node-m");
    assert_eq!(seen["nodes"][0]["node"], "node-f");
    assert_eq!(seen["nodes"][0]["matcher"], false);
    assert_eq!(seen["nodes"][1]["node"], "node-m");
    assert_eq!(seen["nodes"][1]["matcher"], true);
    assert_eq!(seen["nodes"][1]["queued"], 1);
    assert!(seen["history"].is_array());
    // The matcher's own, fresh, agrees.
    let fresh = dashboard(matcher.addr).await;
    assert_eq!(fresh["queue"], seen["queue"]);

    // The follower's stream: a new `at` every event.
    let mut events = Events::open(follower.addr).await;
    let (_, one) = events.next().await.unwrap();
    let (_, two) = events.next().await.unwrap();
    let (one, two): (Value, Value) = (
        serde_json::from_str(&one).unwrap(),
        serde_json::from_str(&two).unwrap(),
    );
    assert!(at(&two) > at(&one));
    drop(events);
    customer.close().await;
    follower.shutdown().await;
    matcher.shutdown().await;
}
