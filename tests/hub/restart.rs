//! With the Redis store, a node that stops (or dies) leaves everything behind in
//! Redis: the next node brings back the queue in its order, the open
//! conversations with their transcripts, and the agents' chats.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

fn roster() -> switchboard::config::Config {
    config(vec![
        agent("ann", &["trading"], &["en"], 1),
        agent("bob", &["trading"], &["en"], 3),
    ])
}

#[tokio::test]
async fn a_new_node_on_the_same_redis_carries_on_where_the_last_stopped() {
    let redis = RedisServer::start();
    let first = TestServer::start_with_store(roster(), redis_store(&redis, "restart:").await).await;

    // Ann holds one chat with a transcript; three more customers wait, in order.
    let (mut ann, _) = first.agent("token-ann").await;
    let (mut served, _) = first.customer("served").await;
    served
        .send(start("trading", Some("my order is stuck")))
        .await;
    let held = ann.expect("assigned").await["conversation_id"].clone();
    ann.send(reply(&held, "a-1", "checking")).await;
    let _ = ann.expect("message").await;
    let mut waiting = Vec::new();
    for name in ["w1", "w2", "w3"] {
        let (mut ws, _) = first.customer(name).await;
        let text = if name == "w3" {
            "account HACKED"
        } else {
            "hello"
        };
        ws.send(start("trading", Some(text))).await;
        let _ = ws.expect("message").await;
        waiting.push(ws.expect("queued").await["conversation_id"].clone());
    }
    served.send(say("c-1", "thanks")).await;
    // Acknowledged (echoed) before the node stops.
    while served.until("message").await["client_msg_id"] != "c-1" {}
    first.shutdown().await;

    // The next node, on the same Redis.
    let second =
        TestServer::start_with_store(roster(), redis_store(&redis, "restart:").await).await;

    // The customer resumes with what it missed and its conversation as it was.
    let (mut back, welcome) = second
        .customer_with(json!({"type": "hello", "visitor_id": "served",
            "resume": {"conversation_id": held, "last_seq": 1}}))
        .await;
    assert_eq!(welcome["conversation"]["id"], held, "{welcome}");
    assert_eq!(welcome["conversation"]["last_seq"], 3, "{welcome}");
    assert_eq!(welcome["conversation"]["state"], "assigned");
    assert_eq!(welcome["conversation"]["agent"]["id"], "ann");
    assert_eq!(back.expect("message").await["text"], "checking");
    assert_eq!(back.expect("message").await["text"], "thanks");

    // Ann's console reconnects to her chat, transcript intact.
    let mut ann = Ws::connect(second.addr, "/ws/agent").await;
    ann.send(json!({"type": "hello", "token": "token-ann",
        "resume": [{"conversation_id": held, "last_seq": 2}]}))
        .await;
    let welcome = ann.expect("welcome").await;
    assert_eq!(welcome["conversations"][0]["id"], held);
    assert_eq!(welcome["conversations"][0]["last_seq"], 3);
    assert_eq!(ann.expect("message").await["text"], "thanks");
    // A resend of a message stored before the restart is still recognised.
    ann.send(reply(&held, "a-1", "checking")).await;
    assert_eq!(ann.expect("message").await["seq"], 2);

    // The queue is back in its order: urgent first, then first come first served.
    let (mut bob, _) = second.agent("token-bob").await;
    let mut order = Vec::new();
    for _ in 0..3 {
        order.push(bob.expect("assigned").await["conversation_id"].clone());
    }
    assert_eq!(
        order,
        vec![waiting[2].clone(), waiting[0].clone(), waiting[1].clone()]
    );
    bob.expect_silence(Duration::from_millis(200)).await;
    second.shutdown().await;
}

#[tokio::test]
async fn restored_chats_whose_people_never_return_run_out_their_grace() {
    let redis = RedisServer::start();
    let mut cfg = roster();
    cfg.timeouts.agent_grace_secs = 1;
    let first =
        TestServer::start_with_store(cfg.clone(), redis_store(&redis, "grace:").await).await;
    let (mut ann, _) = first.agent("token-ann").await;
    let (mut customer, _) = first.customer("c").await;
    customer.send(start("trading", None)).await;
    let held = ann.expect("assigned").await["conversation_id"].clone();
    first.shutdown().await;

    // Ann never comes back: after her grace the chat goes to Bob.
    let second = TestServer::start_with_store(cfg, redis_store(&redis, "grace:").await).await;
    let (mut customer, _) = second.customer("c").await;
    let (mut bob, _) = second.agent("token-bob").await;
    assert_eq!(bob.expect("assigned").await["conversation_id"], held);
    assert_eq!(customer.until("assigned").await["agent"]["id"], "bob");
    second.shutdown().await;
}
