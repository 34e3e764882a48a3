//! Nodes (the real binary) on one real `redis-server`: clients on any node; kill
//! -9 or SIGSTOP the matcher, and a follower takes over within the lease,
//! rebuilds from Redis, and the clients resume. A stale matcher never commits.

#![allow(clippy::unwrap_used)]

#[path = "hub/common.rs"]
mod common;
#[path = "support/node.rs"]
mod node;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::{
    net::SocketAddr,
    process::Command,
    time::{Duration, Instant},
};

use common::*;
use node::Node;
use serde_json::{Value, json};

/// Customers queue before any agent is online here, as in a surge's first
/// seconds; offering them to leave a message instead is tested in tests/hub.
const ROSTER: &str = r#"
[tickets]
ticket_when_unserved = false

[[agents]]
id = "ann"
name = "Ann"
token = "token-ann"
skills = ["trading"]
languages = ["en"]
capacity = 3
"#;

impl Node {
    fn start(redis: &redis_server::RedisServer, config: &std::path::Path, id: &str) -> Self {
        Self::start_with(redis, config, id, &[])
    }

    fn start_with(
        redis: &redis_server::RedisServer,
        config: &std::path::Path,
        id: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .envs(env.iter().copied())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .args(["--redis-url", &redis.url])
            .env("SWITCHBOARD_NODE_ID", id)
            .env("SWITCHBOARD_CLUSTER__LEASE_SECS", "1")
            .env("SWITCHBOARD_REDIS__PREFIX", "failover:");
        Self::spawn(command)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    async fn health(&self) -> (u16, Value) {
        let (status, body) = http_get(self.addr, "/healthz", "").await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Wait until `/healthz` reports this role: `matcher`, `follower`, `standby`.
    async fn wait_for(&self, role: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let (_, health) = self.health().await;
            if health["role"] == role {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node never became {role}: {health}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn config_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("switchboard.toml");
    let mut roster = ROSTER.to_string();
    for i in 0..SURGE_AGENTS {
        roster.push_str(&format!(
            "\n[[agents]]\nid = \"ag{i}\"\nname = \"Agent {i}\"\ntoken = \"token-ag{i}\"\nskills = [\"earn\"]\nlanguages = [\"en\"]\ncapacity = 1\n"
        ));
    }
    std::fs::write(&path, roster).unwrap();
    path
}

const SURGE_AGENTS: usize = 5;
const SURGE_CUSTOMERS: usize = 100;

/// Start nodes on one Redis: the first becomes the matcher, the others follow it.
async fn start_nodes<const N: usize>(
    redis: &redis_server::RedisServer,
    config: &std::path::Path,
    ids: [&str; N],
    env: &[(&str, &str)],
) -> [Node; N] {
    let mut nodes = Vec::with_capacity(N);
    for (i, id) in ids.into_iter().enumerate() {
        let node = Node::start_with(redis, config, id, env);
        // One at a time, so the first is the matcher before the others start.
        let role = if i == 0 { "matcher" } else { "follower" };
        node.wait_for(role, Duration::from_secs(10)).await;
        nodes.push(node);
    }
    let Ok(nodes) = <[Node; N]>::try_from(nodes) else {
        unreachable!("exactly N nodes were started")
    };
    nodes
}

/// Like the widget: a list of node URLs, tried in turn from `first` until one
/// takes the session.
async fn hello_any(addrs: &[SocketAddr], first: usize, path: &str, frame: Value) -> (Ws, Value) {
    for k in 0..addrs.len() {
        let addr = addrs[(first + k) % addrs.len()];
        if let Some(mut ws) = Ws::try_connect(addr, path).await {
            ws.send(frame.clone()).await;
            let welcome = ws.expect("welcome").await;
            return (ws, welcome);
        }
    }
    panic!("no node took the session");
}

/// Wait until every node in `nodes` reports the same matcher and exactly one of
/// them is it: the cluster has settled after a takeover.
async fn settled(nodes: &[&Node]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut seen = Vec::new();
        for node in nodes {
            seen.push(node.health().await.1);
        }
        let matcher = seen[0]["matcher"].as_str().map(String::from);
        let one_matcher = seen.iter().filter(|h| h["role"] == "matcher").count() == 1;
        if one_matcher
            && let Some(matcher) = matcher
            && seen.iter().all(|h| h["matcher"] == matcher.as_str())
        {
            return matcher;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster never settled: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Ann (agent, on `agent_node`) serving `visitor` (customer, on
/// `customer_node`), whose start said "one": `(ann, customer, conversation)`.
async fn ann_serves(
    agent_node: SocketAddr,
    customer_node: SocketAddr,
    visitor: &str,
) -> (Ws, Ws, Value) {
    let (mut ann, _) = hello(
        agent_node,
        "/ws/agent",
        json!({"type": "hello", "token": "token-ann"}),
    )
    .await;
    let (mut customer, _) = hello(
        customer_node,
        "/ws/customer",
        json!({"type": "hello", "visitor_id": visitor}),
    )
    .await;
    customer.send(start("trading", Some("one"))).await;
    let conversation = customer.expect("message").await["conversation_id"].clone();
    let _ = customer.expect("assigned").await;
    assert_eq!(
        ann.expect("assigned").await["conversation_id"],
        conversation
    );
    (ann, customer, conversation)
}

async fn hello(addr: SocketAddr, path: &str, hello: Value) -> (Ws, Value) {
    let mut ws = Ws::connect(addr, path).await;
    ws.send(hello).await;
    let welcome = ws.expect("welcome").await;
    (ws, welcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_takes_over_when_the_matcher_is_killed() {
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let [mut a, b] = start_nodes(&redis, &config, ["a", "b"], &[]).await;
    assert_eq!(b.health().await.0, 200, "a follower serves clients too");

    let (mut ann, mut customer, conversation) = ann_serves(a.addr, a.addr, "c").await;
    ann.send(reply(&conversation, "a-1", "two")).await;
    assert_eq!(ann.expect("message").await["seq"], 2);
    assert_eq!(customer.expect("message").await["seq"], 2);

    let killed = Instant::now();
    a.signal("-KILL");
    let _ = a.child.wait();
    b.wait_for("matcher", Duration::from_secs(10)).await;
    eprintln!("standby serving {:?} after kill -9", killed.elapsed());

    // Both sides reconnect to the survivor and resume where they were.
    let (mut customer, welcome) = hello(
        b.addr,
        "/ws/customer",
        json!({"type": "hello", "visitor_id": "c",
            "resume": {"conversation_id": conversation, "last_seq": 2, "epoch": 0}}),
    )
    .await;
    assert_eq!(welcome["conversation"]["id"], conversation);
    assert_eq!(welcome["conversation"]["last_seq"], 2);
    assert_eq!(welcome["conversation"]["agent"]["id"], "ann");
    let (mut ann, welcome) = hello(
        b.addr,
        "/ws/agent",
        json!({"type": "hello", "token": "token-ann",
            "resume": [{"conversation_id": conversation, "last_seq": 2, "epoch": 0}]}),
    )
    .await;
    assert_eq!(welcome["conversations"][0]["id"], conversation);
    customer.send(say("c-3", "three")).await;
    assert_eq!(customer.expect("message").await["seq"], 3);
    assert_eq!(ann.expect("message").await["seq"], 3);
    // Nothing was lost or doubled: the resend of a message from before is known.
    ann.send(reply(&conversation, "a-1", "two")).await;
    assert_eq!(ann.expect("message").await["seq"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_matcher_is_fenced_when_it_wakes() {
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let [a, b] = start_nodes(&redis, &config, ["a", "b"], &[]).await;

    let (mut customer, _) = hello(
        a.addr,
        "/ws/customer",
        json!({"type": "hello", "visitor_id": "c"}),
    )
    .await;
    customer
        .send(start("trading", Some("before the pause")))
        .await;
    let conversation = customer.expect("message").await["conversation_id"].clone();
    let _ = customer.expect("queued").await;

    // The active node freezes (GC pause, SIGSTOP) past its lease; the standby
    // takes over. A message reaches the frozen node's socket meanwhile.
    a.signal("-STOP");
    b.wait_for("matcher", Duration::from_secs(10)).await;
    customer
        .send(say("c-stale", "sent to the frozen node"))
        .await;
    a.signal("-CONT");

    // Waking, the stale node may read the message, but cannot commit it: no echo,
    // its sessions close with 1012, and it follows the new matcher.
    let (code, _) = customer.expect_close().await;
    assert_eq!(code, 1012);
    a.wait_for("follower", Duration::from_secs(10)).await;

    let id: switchboard::domain::ConversationId = serde_json::from_value(conversation).unwrap();
    let store = redis_store(&redis, "failover:").await;
    let record = store.conversation(id).await.unwrap().unwrap();
    assert_eq!(
        record.messages.len(),
        1,
        "the stale node's write never landed"
    );
    assert_eq!(record.messages[0].text.as_ref(), "before the pause");

    // The customer resumes on the new active node, still first in the queue.
    let (mut customer, welcome) = hello(
        b.addr,
        "/ws/customer",
        json!({"type": "hello", "visitor_id": "c",
            "resume": {"conversation_id": record.id, "last_seq": 1}}),
    )
    .await;
    assert_eq!(welcome["conversation"]["state"], "queued");
    assert_eq!(customer.expect("queued").await["position"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_matcher_mid_surge_loses_no_one_and_keeps_the_order() {
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let [mut a, b, c] = start_nodes(&redis, &config, ["a", "b", "c"], &[]).await;

    let mut agents = Vec::new();
    for i in 0..SURGE_AGENTS {
        let token = format!("token-ag{i}");
        let (ws, _) = hello(
            a.addr,
            "/ws/agent",
            json!({"type": "hello", "token": token}),
        )
        .await;
        agents.push(ws);
    }
    // 100 customers arrive in order: 5 are served, 95 wait in a known order.
    let mut held: Vec<Value> = Vec::new();
    let mut waiting: Vec<(usize, Value, u64)> = Vec::new(); // (customer, conversation, position)
    let mut customers = Vec::new();
    for i in 0..SURGE_CUSTOMERS {
        let visitor = format!("s{i}");
        let (mut ws, _) = hello(
            a.addr,
            "/ws/customer",
            json!({"type": "hello", "visitor_id": visitor}),
        )
        .await;
        ws.send(json!({"type": "start", "topic": "earn", "language": "en"}))
            .await;
        let frame = ws.recv().await;
        match frame["type"].as_str() {
            Some("assigned") => {
                ws.send(say("m-1", "acknowledged before the crash")).await;
                assert_eq!(ws.expect("message").await["seq"], 1);
                held.push(frame["conversation_id"].clone());
            }
            Some("queued") => waiting.push((
                i,
                frame["conversation_id"].clone(),
                frame["position"].as_u64().unwrap(),
            )),
            _ => panic!("unexpected {frame}"),
        }
        customers.push(ws);
    }
    assert_eq!(held.len(), SURGE_AGENTS);
    assert_eq!(waiting.len(), SURGE_CUSTOMERS - SURGE_AGENTS);

    a.signal("-KILL");
    let _ = a.child.wait();
    drop((agents, customers));
    let matcher = settled(&[&b, &c]).await;
    assert!(
        matcher.starts_with("b:") || matcher.starts_with("c:"),
        "{matcher}"
    );
    // Clients come back through their list of nodes (the dead one first for
    // some), spread over the survivors, matcher and follower alike.
    let nodes = [a.addr, b.addr, c.addr];

    // Every agent still holds exactly its chat, with the acknowledged message once.
    let mut holders = std::collections::HashMap::new();
    for i in 0..SURGE_AGENTS {
        let token = format!("token-ag{i}");
        let (mut ws, welcome) = hello_any(
            &nodes,
            i,
            "/ws/agent",
            json!({"type": "hello", "token": token}),
        )
        .await;
        let chats = welcome["conversations"].as_array().unwrap().clone();
        assert_eq!(chats.len(), 1, "agent {i}: {welcome}");
        assert_eq!(chats[0]["last_seq"], 1);
        assert_eq!(ws.expect("message").await["client_msg_id"], "m-1");
        ws.expect_silence(Duration::from_millis(50)).await;
        assert!(
            holders.insert(chats[0]["id"].clone(), i).is_none(),
            "assigned twice"
        );
    }
    for conversation in &held {
        assert!(
            holders.contains_key(conversation),
            "{conversation} lost its agent"
        );
    }
    // Every waiting customer is still waiting, at the place it had.
    for (i, conversation, position) in &waiting {
        let (mut ws, welcome) = hello_any(
            &nodes,
            *i,
            "/ws/customer",
            json!({"type": "hello", "visitor_id": format!("s{i}"),
                "resume": {"conversation_id": conversation, "last_seq": 0}}),
        )
        .await;
        assert_eq!(welcome["conversation"]["id"], *conversation);
        assert_eq!(welcome["conversation"]["state"], "queued");
        assert_eq!(
            ws.expect("queued").await["position"],
            *position,
            "customer {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_on_different_nodes_share_chats_and_conversations() {
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let [a, b] = start_nodes(&redis, &config, ["a", "b"], &[]).await;

    // The agent on the matcher, the customer on the follower.
    let (mut ann, _) = hello(
        a.addr,
        "/ws/agent",
        json!({"type": "hello", "token": "token-ann"}),
    )
    .await;
    let (mut tab_b, welcome) = hello(
        b.addr,
        "/ws/customer",
        json!({"type": "hello", "visitor_id": "x"}),
    )
    .await;
    assert!(welcome["conversation"].is_null());
    tab_b
        .send(start("trading", Some("hello from node b")))
        .await;
    let first = tab_b.expect("message").await;
    let conversation = first["conversation_id"].clone();
    assert_eq!(tab_b.expect("assigned").await["agent"]["id"], "ann");
    let assigned = ann.expect("assigned").await;
    assert_eq!(assigned["transcript"][0]["text"], "hello from node b");

    // A second tab of the same customer on the other node shares it.
    let (mut tab_a, welcome) = hello(
        a.addr,
        "/ws/customer",
        json!({"type": "hello", "visitor_id": "x"}),
    )
    .await;
    assert_eq!(welcome["conversation"]["id"], conversation);
    assert_eq!(tab_a.expect("message").await["seq"], 1);
    // A second start on the other node joins, never opens another conversation.
    tab_a.send(start("trading", None)).await;
    assert_eq!(
        tab_a.expect("assigned").await["conversation_id"],
        conversation
    );

    ann.send(reply(&conversation, "a-1", "hi, both tabs")).await;
    assert_eq!(ann.expect("message").await["seq"], 2);
    for tab in [&mut tab_a, &mut tab_b] {
        let m = tab.expect("message").await;
        assert_eq!(
            (m["seq"].clone(), m["text"].clone()),
            (json!(2), json!("hi, both tabs"))
        );
    }
    tab_b.send(say("c-1", "thanks")).await;
    for ws in [&mut tab_b, &mut tab_a, &mut ann] {
        assert_eq!(ws.expect("message").await["client_msg_id"], "c-1");
    }
    // Typing crosses nodes too, and is never stored.
    ann.send(json!({"type": "typing", "conversation_id": conversation, "on": true}))
        .await;
    assert_eq!(tab_b.expect("typing").await["on"], true);
    ann.send(json!({"type": "resolve", "conversation_id": conversation}))
        .await;
    assert_eq!(tab_b.until("ended").await["reason"], "resolved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_customers_node_then_the_agents_node_both_resume() {
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let [mut a, mut b, c] = start_nodes(&redis, &config, ["a", "b", "c"], &[]).await;

    let (mut ann, _customer_on_b, conversation) = ann_serves(a.addr, b.addr, "k").await;

    // The customer's node dies; the agent keeps writing; the customer comes back
    // on another node and gets what it missed.
    b.signal("-KILL");
    let _ = b.child.wait();
    ann.send(reply(&conversation, "a-1", "two")).await;
    assert_eq!(ann.expect("message").await["seq"], 2);
    let (mut customer, _) = hello(
        c.addr,
        "/ws/customer",
        json!({"type": "hello", "visitor_id": "k", "resume": {"conversation_id": conversation, "last_seq": 1}}),
    )
    .await;
    assert_eq!(customer.expect("message").await["text"], "two");

    // Now the agent's node (the matcher) dies; the survivor takes over.
    a.signal("-KILL");
    let _ = a.child.wait();
    c.wait_for("matcher", Duration::from_secs(10)).await;
    let (mut ann, welcome) = hello(
        c.addr,
        "/ws/agent",
        json!({"type": "hello", "token": "token-ann", "resume": [{"conversation_id": conversation, "last_seq": 2}]}),
    )
    .await;
    assert_eq!(welcome["conversations"][0]["id"], conversation);
    let (mut customer, _) = hello(
        c.addr,
        "/ws/customer",
        json!({"type": "hello", "visitor_id": "k", "resume": {"conversation_id": conversation, "last_seq": 2}}),
    )
    .await;
    customer.send(say("c-3", "three")).await;
    assert_eq!(customer.expect("message").await["seq"], 3);
    assert_eq!(ann.expect("message").await["seq"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_followers_customers_run_out_their_grace() {
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let fast = [
        ("SWITCHBOARD_TIMEOUTS__HEARTBEAT_SECS", "1"),
        ("SWITCHBOARD_TIMEOUTS__CUSTOMER_GRACE_SECS", "1"),
    ];
    let [a, mut b] = start_nodes(&redis, &config, ["a", "b"], &fast).await;
    let (mut ann, _) = hello(
        a.addr,
        "/ws/agent",
        json!({"type": "hello", "token": "token-ann"}),
    )
    .await;
    let (mut customer, _) = hello(
        b.addr,
        "/ws/customer",
        json!({"type": "hello", "visitor_id": "gone"}),
    )
    .await;
    customer.send(start("trading", None)).await;
    let conversation = ann.expect("assigned").await["conversation_id"].clone();

    // The follower dies without a word; its key expires (3 beats), the matcher
    // drops its sessions, and the customer's grace runs out.
    b.signal("-KILL");
    let _ = b.child.wait();
    let deadline = Instant::now() + Duration::from_secs(15);
    let ended = loop {
        if let Some(Ok(frame)) = ann.next(Duration::from_millis(500)).await
            && frame["type"] == "ended"
        {
            break frame;
        }
        assert!(
            Instant::now() < deadline,
            "the dead node's customer was never let go"
        );
    };
    assert_eq!(ended["conversation_id"], conversation);
    assert_eq!(ended["reason"], "abandoned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_shows_which_node_holds_each_agent() {
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let [a, b] = start_nodes(&redis, &config, ["a", "b"], &[]).await;
    let (_ann, _) = hello(
        b.addr,
        "/ws/agent",
        json!({"type": "hello", "token": "token-ann"}),
    )
    .await;
    let (_ag0, _) = hello(
        a.addr,
        "/ws/agent",
        json!({"type": "hello", "token": "token-ag0"}),
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Ask the follower: it shows what the matcher publishes.
        let (_, body) = http_get(
            b.addr,
            "/api/presence",
            "Authorization: Bearer token-ann\r\n",
        )
        .await;
        let body: Value = serde_json::from_str(&body).unwrap();
        let nodes: Vec<&str> = body["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["node"].as_str())
            .collect();
        let matcher = body["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node"] == "a");
        if nodes == ["a", "b"]
            && let Some(matcher) = matcher
        {
            let agents = matcher["agents"].as_array().unwrap();
            let where_is = |id: &str| {
                agents
                    .iter()
                    .find(|x| x["id"] == id)
                    .map(|x| x["nodes"].clone())
            };
            if where_is("ann") == Some(json!(["b"])) && where_is("ag0") == Some(json!(["a"])) {
                assert_eq!(body["agents_online"], 2);
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "presence never showed both nodes: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matcher_whose_redis_came_back_empty_writes_everything_back() {
    let mut redis = redis_server::RedisServer::start(); // persists nothing
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let a = Node::start(&redis, &config, "a");
    a.wait_for("matcher", Duration::from_secs(10)).await;
    let (_ann, mut customer, conversation) = ann_serves(a.addr, a.addr, "w").await;

    // Redis restarts empty: the lease is gone with the data. The matcher takes
    // its lease back, writes its open conversations back and resyncs.
    redis.restart();
    customer.send(say("c-2", "two")).await;
    let echo = customer.until("message").await;
    assert_eq!(
        (echo["seq"].clone(), echo["client_msg_id"].clone()),
        (json!(2), json!("c-2"))
    );
    assert_eq!(customer.expect("resync").await["reason"], "store_reset");
    assert_eq!(a.health().await.1["role"], "matcher");
    let id: switchboard::domain::ConversationId = serde_json::from_value(conversation).unwrap();
    let record = redis_store(&redis, "failover:")
        .await
        .conversation(id)
        .await
        .unwrap()
        .expect("written back");
    assert_eq!(record.messages.len(), 2);
    assert_eq!(record.agent.as_deref(), Some("ann"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_missed_its_heartbeats_closes_its_sessions_so_they_resume() {
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let env = [("SWITCHBOARD_TIMEOUTS__HEARTBEAT_SECS", "1")];
    let [a, b] = start_nodes(&redis, &config, ["a", "b"], &env).await;
    let (mut ann, mut customer, conversation) = ann_serves(a.addr, b.addr, "c").await;

    // The follower stalls past three heartbeats: its presence expires and the
    // matcher takes it for dead, dropping its sessions.
    b.signal("-STOP");
    tokio::time::sleep(Duration::from_millis(5500)).await;
    b.signal("-CONT");

    // Waking, it finds its presence lapsed and closes its sessions, rather
    // than keep ones the matcher no longer serves.
    let (code, _) = customer.expect_close().await;
    assert_eq!(code, 1012);

    // The customer resumes (the follower follows again first), and the chat
    // goes on where it was.
    b.wait_for("follower", Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut customer, welcome) = loop {
        let mut ws = Ws::connect(b.addr, "/ws/customer").await;
        ws.send(json!({"type": "hello", "visitor_id": "c",
            "resume": {"conversation_id": conversation, "last_seq": 1}}))
            .await;
        match ws.next(Duration::from_secs(2)).await {
            Some(Ok(welcome)) if welcome["type"] == "welcome" => break (ws, welcome),
            other => {
                assert!(Instant::now() < deadline, "never welcomed back: {other:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(welcome["conversation"]["id"], conversation);
    assert_eq!(welcome["conversation"]["last_seq"], 1);
    assert_eq!(welcome["conversation"]["agent"]["id"], "ann");
    customer.send(say("c-2", "still there?")).await;
    assert_eq!(customer.until("message").await["seq"], 2);
    assert_eq!(ann.until("message").await["seq"], 2);
}

/// A supervisor's actions are answered by the hub, and the bus between nodes
/// carries no answer back: a follower refuses them, naming the matcher; the
/// matcher carries them out, for sessions on any node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_actions_are_refused_on_a_follower_and_done_on_the_matcher() {
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    let sue = "\n[[agents]]\nid = \"sue\"\nname = \"Sue\"\ntoken = \"token-sue\"\nskills = [\"general\"]\nlanguages = [\"en\"]\nrole = \"supervisor\"\n";
    std::fs::write(&config, format!("{ROSTER}{sue}")).unwrap();
    let [a, b] = start_nodes(&redis, &config, ["a", "b"], &[]).await;
    let (mut ann, _) = hello(
        b.addr,
        "/ws/agent",
        json!({"type": "hello", "token": "token-ann"}),
    )
    .await;

    let path = "/api/agents/ann/status";
    let away = r#"{"status":"away"}"#;
    api_refused(
        api(b.addr, "POST", path, Some("token-sue"), away).await,
        503,
        "unavailable",
        "follows the matcher node `a`",
    );
    api_refused(
        api(b.addr, "POST", path, Some("token-sue"), away).await,
        503,
        "unavailable",
        "ask the matcher node",
    );
    let (status, body) = api(a.addr, "POST", path, Some("token-sue"), away).await;
    assert_eq!(
        (status, body),
        (200, json!({"id": "ann", "status": "away"}))
    );
    assert_eq!(
        ann.until("status").await,
        json!({"type": "status", "status": "away", "reason": "supervisor"})
    );
}
