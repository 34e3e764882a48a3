//! The helpdesk webhook against a real local HTTP receiver that fails on
//! purpose: retried until it takes the ticket, once, with a valid signature;
//! dead-lettered when it never does; delivered across a node restart on Redis.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::{
    config::{AgentRole, Config},
    tickets::webhook::signature,
};

use crate::{
    common::{TestServer, agent, config, redis_store, start},
    receiver::{Received, Receiver},
    redis_server::RedisServer,
};

const SECRET: &str = "helpdesk-shared-secret";

fn webhook_config(receiver: &Receiver, backoff_ms: u64) -> Config {
    let mut sup = agent("sup", &["general"], &["en"], 1);
    sup.role = AgentRole::Supervisor;
    let mut cfg = config(vec![agent("ann", &["trading"], &["en"], 3), sup]);
    cfg.tickets.webhook_url = Some(receiver.url());
    cfg.tickets.webhook_secret = Some(SECRET.into());
    cfg.tickets.webhook_backoff_ms = backoff_ms;
    cfg.tickets.webhook_backoff_max_secs = 1;
    cfg
}

/// An agent escalates a fresh chat of `visitor`: its ticket id.
async fn escalated_ticket(server: &TestServer, visitor: &str) -> String {
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer(visitor).await;
    customer.send(start("trading", Some("help"))).await;
    let conversation = ann.until("assigned").await["conversation_id"].clone();
    ann.send(json!({"type": "escalate", "conversation_id": conversation}))
        .await;
    let ended = customer.until("ended").await;
    ended["ticket_id"].as_str().unwrap().to_string()
}

fn assert_signed(received: &Received) {
    assert_eq!(
        received.signature,
        signature(SECRET.as_bytes(), &received.body),
        "the signature is the HMAC-SHA256 of the body"
    );
}

#[tokio::test]
async fn a_ticket_reaches_the_helpdesk_once_after_three_failures() {
    let receiver = Receiver::start(3).await;
    let server = TestServer::start(webhook_config(&receiver, 50)).await;
    let ticket = escalated_ticket(&server, "hooked").await;

    let seen = receiver.wait_for(4).await;
    let answered: Vec<u16> = seen.iter().map(|r| r.answered).collect();
    assert_eq!(answered, [500, 500, 500, 200]);
    for received in &seen {
        assert_eq!(
            received.key,
            format!("{ticket}:1"),
            "one key for every attempt"
        );
        assert_eq!(received.event, "ticket.created");
        assert_signed(received);
    }
    let body: Value = serde_json::from_slice(&seen[3].body).unwrap();
    assert_eq!(body["event"], "ticket.created");
    assert_eq!(body["idempotency_key"], format!("{ticket}:1"));
    assert_eq!(body["ticket"]["id"], ticket);
    assert_eq!(body["ticket"]["reason"], "escalated");
    assert_eq!(
        body["ticket"]["conversations"][0]["transcript"][0]["text"],
        "help"
    );

    // Delivered: never sent again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.seen().len(), 4);
    let (_status, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains("switchboard_webhook_deliveries_total{outcome=\"failed\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_webhook_deliveries_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_delivery_that_never_succeeds_is_dead_lettered_and_visible_over_the_api() {
    let receiver = Receiver::start(usize::MAX).await;
    let mut cfg = webhook_config(&receiver, 20);
    cfg.tickets.webhook_max_attempts = 2;
    let server = TestServer::start(cfg).await;
    let ticket = escalated_ticket(&server, "unlucky").await;
    receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.seen().len(), 2, "no attempt after the last one");

    let (status, body) = server
        .get_with(
            "/api/webhooks/dead-letters",
            "Authorization: Bearer token-sup\r\n",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let dead: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(dead["dead"], 1, "{dead}");
    assert_eq!(dead["pending"], 0, "{dead}");
    let (_status, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains("switchboard_webhook_dead_letters 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_webhook_outbox_pending 0"),
        "{metrics}"
    );
    let letter = &dead["dead_letters"][0];
    assert_eq!(letter["ticket_id"], ticket);
    assert_eq!(letter["attempts"], 2);
    assert!(
        letter["last_error"].as_str().unwrap().contains("500"),
        "{letter}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn on_redis_a_node_restarted_mid_retry_still_delivers() {
    let redis = RedisServer::start();
    // Failures 1 s apart: the node is stopped after the first.
    let receiver = Receiver::start(2).await;
    let cfg = webhook_config(&receiver, 1000);
    let server =
        TestServer::start_with_store(cfg.clone(), redis_store(&redis, "hook:").await).await;
    let ticket = escalated_ticket(&server, "restarted").await;
    receiver.wait_for(1).await;
    server.shutdown().await;

    let server = TestServer::start_with_store(cfg, redis_store(&redis, "hook:").await).await;
    // The ticket acknowledged before the restart is there after it.
    let (status, body) = server
        .get_with(
            &format!("/api/tickets/{ticket}"),
            "Authorization: Bearer token-sup\r\n",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let seen = receiver.wait_for(3).await;
    let answered: Vec<u16> = seen.iter().map(|r| r.answered).collect();
    assert_eq!(answered, [500, 500, 200]);
    assert!(seen.iter().all(|r| r.key == format!("{ticket}:1")));
    seen.iter().for_each(assert_signed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.seen().len(), 3, "delivered once");
    server.shutdown().await;
}
