//! What operators rely on: health, metrics, graceful shutdown, and slow clients
//! cut off before they cost anybody else.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn healthz_and_metrics_answer() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"], if on_redis() { "redis" } else { "memory" });

    let (_agent, _) = server.agent("token-ann").await;
    let (mut waiting, _) = server.customer("w").await;
    waiting.send(start("earn", None)).await;
    let _ = waiting.expect("queued").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = server.get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "switchboard_connections{role=\"agent\"} 1",
        "switchboard_connections{role=\"customer\"} 1",
        "switchboard_queue_depth{topic=\"earn\"} 1",
        "switchboard_queue_oldest_wait_seconds{topic=\"earn\"} 1",
    ] {
        assert!(body.contains(line), "metrics lack `{line}`:\n{body}");
    }
    assert!(body.ends_with("# EOF\n"));
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_session_with_1012() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (mut agent, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let _ = customer.expect("assigned").await;
    let _ = agent.expect("assigned").await;
    let mut unhelloed = Ws::connect(server.addr, "/ws/customer").await;
    let addr = server.addr;
    server.shutdown().await;
    for ws in [&mut agent, &mut customer, &mut unhelloed] {
        let (code, reason) = ws.expect_close().await;
        assert_eq!(code, 1012, "{reason}");
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_closed_and_nobody_waits_for_it() {
    let mut cfg = config(vec![agent("ann", &["trading"], &["en"], 3)]);
    cfg.limits.outbound_queue = 8;
    cfg.limits.max_frame_bytes = 64 * 1024;
    cfg.limits.max_transport_bytes = 64 * 1024;
    cfg.limits.max_text_chars = 60_000;
    let server = TestServer::start(cfg).await;
    let (agent, mut stalled, conversation) =
        chatting(&server, "token-ann", "stalled", "trading").await;

    // The agent floods; the stalled customer reads nothing. Kernel buffers take a
    // few MB, then its outbound queue fills and the hub cuts it off. The agent's
    // own echoes keep coming the whole time.
    let text = "z".repeat(50_000);
    let (mut sink, mut sent, mut echoes) = (agent, 0, 0);
    loop {
        for _ in 0..20 {
            sent += 1;
            sink.send(reply(&conversation, &format!("a-{sent}"), &text))
                .await;
            while let Some(Ok(frame)) = sink.next(Duration::from_millis(1)).await {
                if frame["type"] == "message" {
                    echoes += 1;
                }
            }
        }
        let (_, body) = server.get("/metrics").await;
        if body.contains("switchboard_slow_consumer_disconnects_total 1") {
            break;
        }
        assert!(
            sent < 2000,
            "100 MB sent and the stalled client was never cut off"
        );
    }
    // The client reads again (its network came back) before the node's
    // one-second wait for room to write the close frame runs out.
    let (code, reason) = stalled.expect_close().await;
    assert_eq!(code, 1008);
    assert!(reason.contains("slow consumer"), "{reason}");
    while echoes < sent {
        let frame = sink.recv().await;
        if frame["type"] == "message" {
            echoes += 1;
        }
    }
    let total = sent;

    // The conversation lives on for the customer's other sessions and for the agent.
    let (mut back, welcome) = server
        .customer_with(json!({"type": "hello", "visitor_id": "stalled",
            "resume": {"conversation_id": conversation, "last_seq": total}}))
        .await;
    assert_eq!(welcome["conversation"]["id"], conversation);
    back.send(say("c-1", "sorry, bad network")).await;
    assert_eq!(back.expect("message").await["seq"], total + 1);
    server.shutdown().await;
}

use switchboard::{
    store::StoreError,
    tickets::{Delivery, Ticket, TicketId, TicketPage, TicketQuery, TicketUpdate, UpdateError},
};

/// A memory store whose commits wait while its gate is shut: stands in for a slow
/// durable backend, to see that nothing is told before it is stored.
#[derive(Debug)]
struct GatedStore {
    inner: switchboard::store::MemoryStore,
    open: tokio::sync::watch::Sender<bool>,
}

#[async_trait::async_trait]
impl switchboard::store::Store for GatedStore {
    async fn commit(
        &self,
        batch: &[switchboard::store::Change],
    ) -> Result<switchboard::store::Receipt, switchboard::store::StoreError> {
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|open| *open).await;
        self.inner.commit(batch).await
    }

    async fn conversation(
        &self,
        id: switchboard::domain::ConversationId,
    ) -> Result<Option<switchboard::store::ConversationRecord>, switchboard::store::StoreError>
    {
        self.inner.conversation(id).await
    }

    async fn open_conversations(
        &self,
    ) -> Result<Vec<switchboard::store::ConversationRecord>, switchboard::store::StoreError> {
        self.inner.open_conversations().await
    }

    fn backend(&self) -> &'static str {
        "gated"
    }

    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        self.inner.ticket(id).await
    }

    async fn tickets(&self, query: &TicketQuery) -> Result<TicketPage, StoreError> {
        self.inner.tickets(query).await
    }

    async fn update_ticket(
        &self,
        id: TicketId,
        update: &TicketUpdate,
        at: time::OffsetDateTime,
    ) -> Result<Ticket, UpdateError> {
        self.inner.update_ticket(id, update, at).await
    }

    async fn due_deliveries(
        &self,
        now: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.inner.due_deliveries(now, limit).await
    }

    async fn delivered(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.inner.delivered(delivery).await
    }

    async fn retry_delivery(
        &self,
        delivery: &Delivery,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.inner.retry_delivery(delivery, at).await
    }

    async fn dead_letter(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.inner.dead_letter(delivery).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.inner.dead_letters(limit).await
    }

    async fn redeliver(&self, ticket: TicketId, revision: u64) -> Result<bool, StoreError> {
        self.inner.redeliver(ticket, revision).await
    }

    async fn outbox_depth(&self) -> Result<(usize, usize), StoreError> {
        self.inner.outbox_depth().await
    }
}

#[tokio::test]
async fn nothing_is_acknowledged_before_the_store_has_it() {
    let store = std::sync::Arc::new(GatedStore {
        inner: switchboard::store::MemoryStore::default(),
        open: tokio::sync::watch::channel(true).0,
    });
    let server = TestServer::start_with_store(
        config(vec![agent("ann", &["trading"], &["en"], 3)]),
        store.clone(),
    )
    .await;
    let (mut ann, mut customer, conversation) =
        chatting(&server, "token-ann", "c", "trading").await;

    store.open.send_replace(false);
    customer.send(say("c-1", "is this stored?")).await;
    customer.expect_silence(Duration::from_millis(300)).await;
    ann.expect_silence(Duration::from_millis(50)).await;
    store.open.send_replace(true);
    let echo = customer.expect("message").await;
    assert_eq!(ann.expect("message").await, echo);

    let id: switchboard::domain::ConversationId = serde_json::from_value(conversation).unwrap();
    let record = switchboard::store::Store::conversation(&store.inner, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.messages.len(), 1);
    assert_eq!(record.messages[0].text.as_ref(), "is this stored?");
    assert_eq!(record.agent.as_deref(), Some("ann"));

    // The held commit is the one the commit-time histogram shows over 0.2 s.
    let (_, metrics) = server.get("/metrics").await;
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("metrics lack `{name}`:\n{metrics}"))
    };
    let commits = sample("switchboard_store_commit_seconds_count ");
    let quick = sample("switchboard_store_commit_seconds_bucket{le=\"0.2048\"} ");
    assert!(commits >= 2.0, "{commits} commits");
    assert_eq!(commits - quick, 1.0, "one commit was held:\n{metrics}");
    assert!(sample("switchboard_store_commit_changes_count ") >= commits);
    server.shutdown().await;
}

#[tokio::test]
async fn presence_shows_agents_on_duty_to_agents_only() {
    let server = TestServer::start(config(vec![
        agent("ann", &["trading"], &["en"], 3),
        agent("bob", &["trading"], &["en"], 2),
    ]))
    .await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (_bob_tab_1, _) = server.agent("token-bob").await;
    let (mut bob, _) = server.agent("token-bob").await;
    bob.send(json!({"type": "status", "status": "away"})).await;
    let _ = bob.expect("status").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let _ = ann.expect("assigned").await;

    for (headers, why) in [
        ("", "no token"),
        ("Authorization: Bearer nope\r\n", "unknown token"),
        (
            "Authorization: Basic dG9rZW4tYW5u\r\n",
            "not a bearer token",
        ),
    ] {
        let (status, body) = server.get_with("/api/presence", headers).await;
        assert_eq!(status, 401, "{why}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["code"], "unauthorized", "{why}");
        assert!(error["error"]["message"].is_string());
    }

    let (status, body) = server
        .get_with("/api/presence", "Authorization: Bearer token-bob\r\n")
        .await;
    assert_eq!(status, 200, "{body}");
    let presence: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(presence["agents_online"], 1);
    let nodes = presence["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["node"], presence["node"]);
    let node = presence["node"].clone();
    assert_eq!(
        nodes[0]["agents"],
        json!([
            {"id": "ann", "name": "Agent ann", "status": "online", "sessions": 1, "nodes": [node], "load": 1, "capacity": 3},
            {"id": "bob", "name": "Agent bob", "status": "away", "sessions": 2, "nodes": [node], "load": 0, "capacity": 2},
        ])
    );
    server.shutdown().await;
}
