//! Grace periods, timeouts, transfers: chats move between agents with their
//! transcript and keep their place; unserved ones end.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn agent_grace_expiry_hands_chats_to_another_agent_with_the_transcript() {
    let mut cfg = config(vec![
        agent("ann", &["trading"], &["en"], 3),
        agent("bob", &["trading"], &["en"], 3),
    ]);
    cfg.timeouts.agent_grace_secs = 1;
    let server = TestServer::start(cfg).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", Some("help"))).await;
    let conversation = customer.expect("message").await["conversation_id"].clone();
    assert_eq!(customer.expect("assigned").await["agent"]["id"], "ann");
    let _ = ann.expect("assigned").await;
    ann.send(reply(&conversation, "a-1", "looking")).await;
    let _ = ann.expect("message").await;
    let _ = customer.expect("message").await;

    // Bob is busy elsewhere (away) while ann drops; after ann's grace the chat
    // waits at the head of the queue, and goes to bob when he is back.
    let (mut bob, _) = server.agent("token-bob").await;
    bob.send(json!({"type": "status", "status": "away"})).await;
    let _ = bob.expect("status").await;
    ann.close().await;
    customer.expect_silence(Duration::from_millis(700)).await;

    let notice = customer.expect("message").await;
    assert_eq!(notice["from"], "system");
    assert_eq!(notice["seq"], 3);
    let queued = customer.expect("queued").await;
    assert_eq!(queued["position"], 1);

    bob.send(json!({"type": "status", "status": "online"}))
        .await;
    let _ = bob.expect("status").await;
    let assigned = bob.expect("assigned").await;
    assert_eq!(assigned["conversation_id"], conversation);
    let texts: Vec<_> = assigned["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["from"].clone(), m["text"].clone()))
        .collect();
    assert_eq!(texts.len(), 3);
    assert_eq!(texts[0], (json!("customer"), json!("help")));
    assert_eq!(texts[1], (json!("agent"), json!("looking")));
    assert_eq!(texts[2].0, json!("system"));
    assert_eq!(customer.expect("assigned").await["agent"]["id"], "bob");

    // Ann, back after her grace, holds nothing and is told so.
    let mut ann = Ws::connect(server.addr, "/ws/agent").await;
    ann.send(json!({"type": "hello", "token": "token-ann",
        "resume": [{"conversation_id": conversation, "last_seq": 2}]}))
        .await;
    let welcome = ann.expect("welcome").await;
    assert_eq!(welcome["conversations"], json!([]));
    assert_eq!(
        ann.expect("unassigned").await["conversation_id"],
        conversation
    );
    server.shutdown().await;
}

#[tokio::test]
async fn agent_back_within_grace_keeps_its_chats() {
    let mut cfg = config(vec![agent("ann", &["trading"], &["en"], 3)]);
    cfg.timeouts.agent_grace_secs = 2;
    let server = TestServer::start(cfg).await;
    let (ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let conversation = customer.expect("assigned").await["conversation_id"].clone();
    ann.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_ann, welcome) = server.agent("token-ann").await;
    assert_eq!(welcome["conversations"][0]["id"], conversation);
    customer.expect_silence(Duration::from_millis(2500)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn customer_grace_expiry_abandons_the_conversation() {
    let mut cfg = config(vec![agent("ann", &["trading"], &["en"], 3)]);
    cfg.timeouts.customer_grace_secs = 1;
    let server = TestServer::start(cfg).await;
    let (mut ann, customer, conversation) = chatting(&server, "token-ann", "c", "trading").await;
    customer.close().await;
    ann.expect_silence(Duration::from_millis(700)).await;
    let ended = ann.expect("ended").await;
    assert_eq!(ended["conversation_id"], conversation);
    assert_eq!(ended["reason"], "abandoned");

    // The freed slot is usable, and the customer starts afresh.
    let (mut again, welcome) = server.customer("c").await;
    assert!(welcome["conversation"].is_null());
    again.send(start("trading", None)).await;
    assert_ne!(
        again.expect("assigned").await["conversation_id"],
        conversation
    );
    server.shutdown().await;
}

#[tokio::test]
async fn customer_back_within_grace_keeps_its_conversation() {
    let mut cfg = config(vec![]);
    cfg.timeouts.customer_grace_secs = 2;
    let server = TestServer::start(cfg).await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let conversation = customer.expect("queued").await["conversation_id"].clone();
    customer.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut back, welcome) = server.customer("c").await;
    assert_eq!(welcome["conversation"]["id"], conversation);
    assert_eq!(back.expect("queued").await["position"], 1);
    back.expect_silence(Duration::from_millis(2000)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn no_first_reply_in_time_moves_the_chat_and_sets_the_agent_away() {
    let mut cfg = config(vec![
        agent("ann", &["trading"], &["en"], 3),
        agent("bob", &["trading"], &["en"], 3),
    ]);
    cfg.timeouts.first_reply_secs = Some(1);
    let server = TestServer::start(cfg).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let conversation = ann.expect("assigned").await["conversation_id"].clone();
    let _ = customer.expect("assigned").await;
    let (mut bob, _) = server.agent("token-bob").await;

    let status = ann.expect("status").await;
    assert_eq!(
        status,
        json!({"type": "status", "status": "away", "reason": "first_reply_timeout"})
    );
    let unassigned = ann.expect("unassigned").await;
    assert_eq!(
        unassigned,
        json!({"type": "unassigned", "conversation_id": conversation, "reason": "first_reply_timeout"})
    );
    let assigned = bob.expect("assigned").await;
    assert_eq!(assigned["conversation_id"], conversation);
    // Bob answers in time and keeps it.
    bob.send(reply(&conversation, "b-1", "hi, I am here")).await;
    let _ = bob.expect("message").await;
    bob.expect_silence(Duration::from_millis(1500)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn transfer_requeues_under_the_new_topic_keeping_the_original_wait() {
    let server = TestServer::start(config(vec![
        agent("trader", &["trading"], &["en"], 3),
        agent("kyc", &["verification"], &["en"], 1),
    ]))
    .await;
    let (mut trader, _) = server.agent("token-trader").await;
    let (mut kyc, _) = server.agent("token-kyc").await;
    // kyc is busy with someone else.
    let (mut busy, _) = server.customer("busy").await;
    busy.send(json!({"type": "start", "topic": "verification", "language": "en"}))
        .await;
    let busy_id = kyc.expect("assigned").await["conversation_id"].clone();

    let (mut customer, _) = server.customer("c").await;
    customer
        .send(start("trading", Some("actually this is about my KYC")))
        .await;
    let conversation = trader.expect("assigned").await["conversation_id"].clone();
    // Another verification customer arrives after ours started.
    let (mut later, _) = server.customer("later").await;
    later
        .send(json!({"type": "start", "topic": "verification", "language": "en"}))
        .await;
    let _ = later.expect("queued").await;

    trader
        .send(json!({"type": "transfer", "conversation_id": conversation, "topic": "verification"}))
        .await;
    assert_eq!(
        trader.expect("unassigned").await,
        json!({"type": "unassigned", "conversation_id": conversation, "reason": "transferred"})
    );
    assert_eq!(customer.expect("message").await["from"], "customer");
    assert_eq!(customer.expect("assigned").await["agent"]["id"], "trader");
    let notice = customer.expect("message").await;
    assert_eq!(notice["from"], "system");
    assert!(notice["text"].as_str().unwrap().contains("verification"));
    // Our customer started first, so it is ahead of `later` in verification.
    assert_eq!(customer.expect("queued").await["position"], 1);

    kyc.send(json!({"type": "resolve", "conversation_id": busy_id}))
        .await;
    let _ = kyc.expect("ended").await;
    let assigned = kyc.expect("assigned").await;
    assert_eq!(assigned["conversation_id"], conversation);
    assert_eq!(assigned["topic"], "verification");
    server.shutdown().await;
}

#[tokio::test]
async fn agent_going_offline_requeues_its_chats_at_once() {
    let server = TestServer::start(config(vec![
        agent("ann", &["trading"], &["en"], 3),
        agent("bob", &["trading"], &["en"], 3),
    ]))
    .await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let conversation = ann.expect("assigned").await["conversation_id"].clone();
    let (mut bob, _) = server.agent("token-bob").await;
    ann.send(json!({"type": "status", "status": "offline"}))
        .await;
    let _ = ann.expect("status").await;
    assert_eq!(ann.expect("unassigned").await["reason"], "agent_offline");
    assert_eq!(
        bob.expect("assigned").await["conversation_id"],
        conversation
    );
    server.shutdown().await;
}

#[tokio::test]
async fn customer_close_ends_for_both_sides() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let conversation = ann.expect("assigned").await["conversation_id"].clone();
    let _ = customer.expect("assigned").await;
    customer.send(json!({"type": "close"})).await;
    for ws in [&mut customer, &mut ann] {
        assert_eq!(
            ws.expect("ended").await,
            json!({"type": "ended", "conversation_id": conversation, "reason": "closed", "ticket_id": null})
        );
    }
    server.shutdown().await;
}
