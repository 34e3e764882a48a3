//! A supervisor's actions over REST: an agent's status set as if it had sent
//! `status` (its sessions told, reason `supervisor`), and a queued chat given
//! another priority or topic; plain agents refused, every bad request named.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config::{AgentRole, Config};

use crate::common::*;

const SUE: &str = "token-sue";
const ANN: &str = "token-ann";

/// A supervisor (`sue`, on general), an agent on trading (`ann`) and one on
/// earn (`bob`).
fn desk() -> Config {
    let mut sue = agent("sue", &["general"], &["en"], 3);
    sue.role = AgentRole::Supervisor;
    config(vec![
        sue,
        agent("ann", &["trading"], &["en"], 2),
        agent("bob", &["earn"], &["en"], 2),
    ])
}

async fn set_status(server: &TestServer, token: &str, agent: &str, body: &str) -> (u16, Value) {
    let path = format!("/api/agents/{agent}/status");
    api(server.addr, "POST", &path, Some(token), body).await
}

async fn route(server: &TestServer, token: &str, conversation: &Value, body: &str) -> (u16, Value) {
    let id = conversation.as_str().unwrap_or("not-a-string");
    let path = format!("/api/conversations/{id}/route");
    api(server.addr, "POST", &path, Some(token), body).await
}

/// A visitor who starts a chat on `topic` and is queued: its socket and
/// conversation id.
async fn queued(server: &TestServer, visitor: &str, topic: &str, position: u64) -> (Ws, Value) {
    let (mut customer, _) = server.customer(visitor).await;
    customer.send(start(topic, Some("hello?"))).await;
    let queued = customer.until("queued").await;
    assert_eq!(queued["position"], position, "{queued}");
    (customer, queued["conversation_id"].clone())
}

#[tokio::test]
async fn plain_agents_and_strangers_are_refused() {
    let server = TestServer::start(desk()).await;
    let (_customer, id) = queued(&server, "v1", "trading", 1).await;
    api_refused(
        set_status(&server, ANN, "ann", r#"{"status":"away"}"#).await,
        401,
        "unauthorized",
        "supervisor role required to set an agent's status",
    );
    api_refused(
        route(&server, ANN, &id, r#"{"priority":"urgent"}"#).await,
        401,
        "unauthorized",
        "supervisor role required to re-route a conversation",
    );
    let path = "/api/agents/ann/status";
    api_refused(
        api(server.addr, "POST", path, None, r#"{"status":"away"}"#).await,
        401,
        "unauthorized",
        "Authorization",
    );
    api_refused(
        api(
            server.addr,
            "POST",
            path,
            Some("nobody-1"),
            r#"{"status":"away"}"#,
        )
        .await,
        401,
        "unauthorized",
        "unknown agent token",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn setting_an_agent_away_tells_its_sessions_and_stops_its_new_chats() {
    let server = TestServer::start(desk()).await;
    let (mut ann, _) = server.agent(ANN).await;
    let (mut ann_too, _) = server.agent(ANN).await;

    let (status, body) = set_status(&server, SUE, "ann", r#"{"status":"away"}"#).await;
    assert_eq!(
        (status, body),
        (200, json!({"id": "ann", "status": "away"}))
    );
    let told = json!({"type": "status", "status": "away", "reason": "supervisor"});
    assert_eq!(ann.expect("status").await, told);
    assert_eq!(ann_too.expect("status").await, told);

    // Away: a new chat on her topic waits instead of going to her.
    let (mut customer, id) = queued(&server, "v1", "trading", 1).await;
    ann.expect_silence(Duration::from_millis(300)).await;

    // As an agent's own `status`, it is told even when nothing changes.
    let (status, _) = set_status(&server, SUE, "ann", r#"{"status":"away"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(ann.expect("status").await, told);

    // Online again: she takes the waiting chat.
    let (status, body) = set_status(&server, SUE, "ann", r#"{"status":"online"}"#).await;
    assert_eq!(
        (status, body),
        (200, json!({"id": "ann", "status": "online"}))
    );
    assert_eq!(
        ann.expect("status").await,
        json!({"type": "status", "status": "online", "reason": "supervisor"})
    );
    assert_eq!(ann.expect("assigned").await["conversation_id"], id);
    assert_eq!(customer.until("assigned").await["agent"]["id"], "ann");

    // Offline hands her chat on, as her own `status offline` would.
    let (status, _) = set_status(&server, SUE, "ann", r#"{"status":"offline"}"#).await;
    assert_eq!(status, 200);
    let _ = ann_too.until("status").await;
    assert_eq!(ann.until("status").await["status"], "offline");
    let unassigned = ann.expect("unassigned").await;
    assert_eq!(unassigned["reason"], "agent_offline", "{unassigned}");

    // A supervisor may set anyone, itself too; an agent it does not have is 404.
    let (status, _) = set_status(&server, SUE, "sue", r#"{"status":"away"}"#).await;
    assert_eq!(status, 200);
    api_refused(
        set_status(&server, SUE, "zed", r#"{"status":"away"}"#).await,
        404,
        "not_found",
        "no agent `zed`",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_status_bodies_are_named() {
    let server = TestServer::start(desk()).await;
    for (body, says) in [
        ("{}", "status"),
        (r#"{"status":"busy"}"#, "status"),
        (r#"{"status":"Away"}"#, "status"),
        (r#"{"status":null}"#, "status"),
        (r#"{"status":"away","reason":"rally"}"#, "reason"),
        ("away", "expected"),
        ("[]", "expected"),
    ] {
        api_refused(
            set_status(&server, SUE, "ann", body).await,
            400,
            "bad_request",
            says,
        );
    }
    let (status, body) = http_request(
        server.addr,
        "POST",
        "/api/agents/ann/status",
        &format!("Authorization: Bearer {SUE}\r\n"),
        r#"{"status":"away"}"#,
    )
    .await;
    assert_eq!(status, 400, "no content type: {body}");
    assert!(body.contains("Content-Type: application/json"), "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_urgent_priority_moves_a_queued_chat_ahead_of_earlier_ones() {
    let server = TestServer::start(desk()).await;
    let (mut first, first_id) = queued(&server, "v1", "trading", 1).await;
    let (mut second, second_id) = queued(&server, "v2", "trading", 2).await;

    let (status, body) = route(&server, SUE, &second_id, r#"{"priority":"urgent"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"id": second_id, "topic": "trading", "priority": "urgent",
               "state": "queued", "position": 1})
    );
    // Its customer hears its new place, and nothing else: no system message
    // for a priority.
    let frame = second.recv().await;
    assert_eq!(frame["type"], "queued", "{frame}");
    assert_eq!(frame["position"], 1, "{frame}");
    second.expect_silence(Duration::from_millis(200)).await;
    assert_eq!(first.until("queued").await["position"], 2);

    // The next agent takes the urgent one first.
    let (mut ann, _) = server.agent(ANN).await;
    let assigned = ann.expect("assigned").await;
    assert_eq!(assigned["conversation_id"], second_id, "{assigned}");
    assert_eq!(assigned["priority"], "urgent");
    assert_eq!(ann.expect("assigned").await["conversation_id"], first_id);
    server.shutdown().await;
}

#[tokio::test]
async fn a_new_topic_keeps_the_arrival_and_reaches_that_topic_s_agent() {
    let server = TestServer::start(desk()).await;
    // Nobody serves api; the earn line has a later arrival.
    let (mut early, early_id) = queued(&server, "v-api", "api", 1).await;
    let (mut later, later_id) = queued(&server, "v-earn", "earn", 1).await;

    let (status, body) = route(&server, SUE, &early_id, r#"{"topic":"earn"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"id": early_id, "topic": "earn", "priority": "standard",
               "state": "queued", "position": 1})
    );
    // The customer reads why, as after a transfer, and its place.
    let notice = early.expect("message").await;
    assert_eq!(notice["from"], "system");
    assert_eq!(
        notice["text"],
        "Your conversation is being transferred to our earn team. You keep your place in the queue."
    );
    assert_eq!(early.expect("queued").await["position"], 1);
    assert_eq!(later.until("queued").await["position"], 2);

    // Bob, on earn, takes it first, with its new topic and the notice.
    let (mut bob, _) = server.agent("token-bob").await;
    let assigned = bob.expect("assigned").await;
    assert_eq!(assigned["conversation_id"], early_id, "{assigned}");
    assert_eq!(assigned["topic"], "earn");
    let transcript = assigned["transcript"].as_array().unwrap();
    assert_eq!(transcript.last().unwrap()["from"], "system");
    assert_eq!(bob.expect("assigned").await["conversation_id"], later_id);
    let (_, welcome) = server
        .customer_with(json!({"type": "hello", "visitor_id": "v-api"}))
        .await;
    assert_eq!(welcome["conversation"]["topic"], "earn", "{welcome}");

    // Held now: it is bob's to transfer.
    api_refused(
        route(&server, SUE, &early_id, r#"{"topic":"trading"}"#).await,
        409,
        "conflict",
        "held by an agent",
    );
    bob.send(json!({"type": "resolve", "conversation_id": early_id}))
        .await;
    let _ = bob.until("ended").await;
    api_refused(
        route(&server, SUE, &early_id, r#"{"priority":"vip"}"#).await,
        409,
        "conflict",
        "has ended",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_new_topic_with_an_agent_free_is_assigned_at_once() {
    let server = TestServer::start(desk()).await;
    let (mut customer, id) = queued(&server, "v-api", "api", 1).await;
    let (mut bob, _) = server.agent("token-bob").await;
    let (status, body) = route(&server, SUE, &id, r#"{"topic":"earn","priority":"vip"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"id": id, "topic": "earn", "priority": "vip", "state": "assigned", "position": null})
    );
    let assigned = bob.expect("assigned").await;
    assert_eq!(
        (assigned["topic"].clone(), assigned["priority"].clone()),
        (json!("earn"), json!("vip"))
    );
    assert_eq!(customer.until("assigned").await["agent"]["id"], "bob");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_route_requests_are_named() {
    let server = TestServer::start(desk()).await;
    let (_customer, id) = queued(&server, "v1", "trading", 1).await;
    for (body, says) in [
        ("{}", "at least one of `topic` and `priority`"),
        (
            r#"{"topic":null,"priority":null}"#,
            "topic: null is not a value here",
        ),
        (r#"{"priority":null}"#, "priority: null is not a value here"),
        (r#"{"topic":"astrology"}"#, "unknown topic `astrology`"),
        (r#"{"topic":5}"#, "topic"),
        (r#"{"priority":"low"}"#, "priority"),
        (r#"{"priority":"urgent","queue":"vip"}"#, "queue"),
        ("not json", "expected"),
    ] {
        api_refused(
            route(&server, SUE, &id, body).await,
            400,
            "bad_request",
            says,
        );
    }
    api_refused(
        route(&server, SUE, &json!("12345"), r#"{"priority":"urgent"}"#).await,
        400,
        "bad_request",
        "`id` must be a conversation id",
    );
    api_refused(
        route(
            &server,
            SUE,
            &json!("0196a3f2-7c41-7b2e-9d51-3c0e8f6a1b22"),
            r#"{"priority":"urgent"}"#,
        )
        .await,
        404,
        "not_found",
        "no conversation",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_re_routed_chat_is_restored_where_it_was_moved() {
    let redis = RedisServer::start();
    let first = TestServer::start_with_store(desk(), redis_store(&redis, "reroute:").await).await;
    let (_a, early) = queued(&first, "v1", "trading", 1).await;
    let (_b, moved) = queued(&first, "v2", "trading", 2).await;
    let (_c, elsewhere) = queued(&first, "v3", "api", 1).await;
    let (status, _) = route(&first, SUE, &moved, r#"{"priority":"urgent"}"#).await;
    assert_eq!(status, 200);
    let (status, _) = route(&first, SUE, &elsewhere, r#"{"topic":"trading"}"#).await;
    assert_eq!(status, 200);
    first.shutdown().await;

    let second = TestServer::start_with_store(desk(), redis_store(&redis, "reroute:").await).await;
    // Ann (capacity 2) takes two in serving order, the third once one ends.
    let (mut ann, _) = second.agent(ANN).await;
    let mut order = Vec::new();
    for _ in 0..3 {
        let assigned = ann.until("assigned").await;
        let id = assigned["conversation_id"].clone();
        order.push((
            id.clone(),
            assigned["topic"].clone(),
            assigned["priority"].clone(),
        ));
        if order.len() == 2 {
            ann.send(json!({"type": "resolve", "conversation_id": order[0].0}))
                .await;
        }
    }
    assert_eq!(
        order,
        [
            (moved, json!("trading"), json!("urgent")),
            (early, json!("trading"), json!("standard")),
            (elsewhere, json!("trading"), json!("standard")),
        ]
    );
    second.shutdown().await;
}
