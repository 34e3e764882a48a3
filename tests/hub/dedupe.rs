//! Invariants 1 and 3: one conversation per customer; no lost or doubled message.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn two_tabs_share_one_conversation_and_see_every_message() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut tab1, _) = server.customer("two-tabs").await;
    tab1.send(start("trading", Some("hi from tab 1"))).await;
    let conversation = tab1.expect("message").await["conversation_id"].clone();
    let _ = tab1.expect("assigned").await;
    let _ = ann.expect("assigned").await;

    // The second tab finds the open conversation in its welcome, then its transcript.
    let (mut tab2, welcome) = server.customer("two-tabs").await;
    assert_eq!(welcome["conversation"]["id"], conversation);
    assert_eq!(welcome["conversation"]["state"], "assigned");
    assert_eq!(welcome["conversation"]["last_seq"], 1);
    assert_eq!(welcome["conversation"]["agent"]["id"], "ann");
    let replayed = tab2.expect("message").await;
    assert_eq!(replayed["seq"], 1);

    // A second `start` joins: no new conversation, no new queue entry.
    tab2.send(start("trading", Some("hi from tab 2"))).await;
    assert_eq!(
        tab2.expect("assigned").await["conversation_id"],
        conversation
    );
    for ws in [&mut tab1, &mut tab2, &mut ann] {
        let m = ws.expect("message").await;
        assert_eq!(
            (m["seq"].clone(), m["text"].clone()),
            (json!(2), json!("hi from tab 2"))
        );
        assert_eq!(m["conversation_id"], conversation);
    }
    ann.expect_silence(Duration::from_millis(200)).await;

    // A message from one tab reaches the other tab and the agent; the agent's reply
    // reaches both tabs.
    tab1.send(say("t1-1", "from tab 1")).await;
    for ws in [&mut tab1, &mut tab2, &mut ann] {
        assert_eq!(ws.expect("message").await["seq"], 3);
    }
    ann.send(reply(&conversation, "a-1", "hello both")).await;
    for ws in [&mut ann, &mut tab1, &mut tab2] {
        assert_eq!(ws.expect("message").await["seq"], 4);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn second_start_while_queued_keeps_one_queue_entry() {
    let server = TestServer::start(config(vec![])).await;
    let (mut first, _) = server.customer("x").await;
    first.send(start("earn", None)).await;
    let queued = first.expect("queued").await;
    let (mut other, _) = server.customer("y").await;
    other.send(start("earn", None)).await;
    assert_eq!(other.expect("queued").await["position"], 2);

    let (mut second, welcome) = server.customer("x").await;
    assert_eq!(welcome["conversation"]["state"], "queued");
    assert_eq!(second.expect("queued").await, queued);
    second.send(start("earn", None)).await;
    assert_eq!(second.expect("queued").await, queued, "joined, same place");
    // Nobody moved: the other customer is still second.
    other.expect_silence(Duration::from_millis(300)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn reconnect_with_resume_gets_only_what_it_missed_once() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("resumer").await;
    customer.send(start("trading", Some("one"))).await;
    let conversation = customer.expect("message").await["conversation_id"].clone();
    let _ = customer.expect("assigned").await;
    let _ = ann.expect("assigned").await;
    ann.send(reply(&conversation, "a-1", "two")).await;
    assert_eq!(customer.expect("message").await["seq"], 2);
    let _ = ann.expect("message").await;

    // The customer drops; the agent writes meanwhile.
    customer.close().await;
    ann.send(reply(&conversation, "a-2", "three")).await;
    ann.send(reply(&conversation, "a-3", "four")).await;
    assert_eq!(ann.expect("message").await["seq"], 3);
    assert_eq!(ann.expect("message").await["seq"], 4);

    let (mut back, welcome) = server
        .customer_with(json!({"type": "hello", "visitor_id": "resumer",
            "resume": {"conversation_id": conversation, "last_seq": 2}}))
        .await;
    assert_eq!(welcome["conversation"]["last_seq"], 4);
    let three = back.expect("message").await;
    let four = back.expect("message").await;
    assert_eq!(
        (three["seq"].clone(), three["text"].clone()),
        (json!(3), json!("three"))
    );
    assert_eq!(
        (four["seq"].clone(), four["text"].clone()),
        (json!(4), json!("four"))
    );
    back.expect_silence(Duration::from_millis(300)).await;

    // And the conversation goes on.
    back.send(say("c-5", "five")).await;
    assert_eq!(ann.expect("message").await["seq"], 5);
    server.shutdown().await;
}

#[tokio::test]
async fn agent_reconnect_resumes_its_chats() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", Some("one"))).await;
    let conversation = customer.expect("message").await["conversation_id"].clone();
    let _ = ann.expect("assigned").await;
    ann.close().await;
    let _ = customer.expect("assigned").await;
    customer.send(say("c-2", "two")).await;
    let _ = customer.expect("message").await;

    let mut back = Ws::connect(server.addr, "/ws/agent").await;
    back.send(json!({"type": "hello", "token": "token-ann",
        "resume": [{"conversation_id": conversation, "last_seq": 1}]}))
        .await;
    let welcome = back.expect("welcome").await;
    let held = welcome["conversations"].as_array().unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["id"], conversation);
    assert_eq!(held[0]["last_seq"], 2);
    assert_eq!(held[0]["customer"]["key"], "v:c");
    let missed = back.expect("message").await;
    assert_eq!(
        (missed["seq"].clone(), missed["text"].clone()),
        (json!(2), json!("two"))
    );
    back.expect_silence(Duration::from_millis(200)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn resent_client_msg_id_gets_its_original_seq_and_is_stored_once() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (mut ann, mut customer, conversation) =
        chatting(&server, "token-ann", "c", "trading").await;

    customer.send(say("c-1", "once")).await;
    let echo = customer.expect("message").await;
    assert_eq!(ann.expect("message").await, echo);
    customer.send(say("c-1", "once")).await;
    assert_eq!(
        customer.expect("message").await,
        echo,
        "same seq, same frame"
    );
    ann.expect_silence(Duration::from_millis(300)).await;

    ann.send(reply(&conversation, "a-1", "ok")).await;
    let echo = ann.expect("message").await;
    assert_eq!(echo["seq"], 2);
    assert_eq!(customer.expect("message").await, echo);
    ann.send(reply(&conversation, "a-1", "ok")).await;
    assert_eq!(ann.expect("message").await, echo);
    customer.expect_silence(Duration::from_millis(300)).await;

    // A new tab's replay shows each message once.
    let (mut tab, _) = server.customer("c").await;
    assert_eq!(tab.expect("message").await["seq"], 1);
    assert_eq!(tab.expect("message").await["seq"], 2);
    tab.expect_silence(Duration::from_millis(200)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn resume_of_an_ended_conversation_tells_how_it_ended() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (mut ann, customer, conversation) = chatting(&server, "token-ann", "c", "trading").await;
    let (mut other_tab, _) = server.customer("c").await;
    customer.close().await;
    ann.send(reply(&conversation, "a-1", "all done")).await;
    ann.send(json!({"type": "resolve", "conversation_id": conversation}))
        .await;
    let _ = other_tab.until("ended").await;

    let (mut back, welcome) = server
        .customer_with(json!({"type": "hello", "visitor_id": "c",
            "resume": {"conversation_id": conversation, "last_seq": 0}}))
        .await;
    assert!(welcome["conversation"].is_null());
    assert_eq!(back.expect("message").await["text"], "all done");
    assert_eq!(back.expect("ended").await["reason"], "resolved");

    // Someone else's conversation id is not found.
    let (mut stranger, _) = server
        .customer_with(json!({"type": "hello", "visitor_id": "stranger",
            "resume": {"conversation_id": conversation, "last_seq": 0}}))
        .await;
    assert_eq!(stranger.expect("error").await["code"], "not_found");
    server.shutdown().await;
}

#[tokio::test]
async fn a_retried_start_does_not_store_its_text_twice() {
    let server = TestServer::start(config(vec![])).await;
    let (mut customer, _) = server.customer("retry").await;
    let with_id =
        json!({"type": "start", "topic": "api", "text": "key rejected", "client_msg_id": "s-1"});
    customer.send(with_id.clone()).await;
    let first = customer.expect("message").await;
    let _ = customer.expect("queued").await;
    customer.send(with_id).await;
    let _ = customer.expect("queued").await;
    assert_eq!(
        customer.expect("message").await,
        first,
        "the original echo again"
    );
    // Without an id, a start repeating the opening start's text is a retry too…
    let (mut keyless, _) = server.customer("keyless").await;
    keyless.send(start("api", Some("key rejected"))).await;
    let _ = keyless.expect("message").await;
    let _ = keyless.expect("queued").await;
    keyless.send(start("api", Some("key rejected"))).await;
    let _ = keyless.expect("queued").await;
    keyless.expect_silence(Duration::from_millis(200)).await;
    // …while new text joins the conversation as a message.
    keyless.send(start("api", Some("also: 403 errors"))).await;
    let _ = keyless.expect("queued").await;
    assert_eq!(keyless.expect("message").await["seq"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn a_replay_longer_than_the_outbound_queue_is_delivered_whole() {
    let mut cfg = config(vec![agent("ann", &["trading"], &["en"], 3)]);
    cfg.limits.outbound_queue = 8;
    let server = TestServer::start(cfg).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("long").await;
    customer.send(start("trading", None)).await;
    let conversation = ann.expect("assigned").await["conversation_id"].clone();
    let _ = customer.expect("assigned").await;
    for i in 1..=100 {
        ann.send(reply(&conversation, &format!("a-{i}"), "line"))
            .await;
        assert_eq!(ann.expect("message").await["seq"], i);
        let _ = customer.expect("message").await;
    }
    let (mut tab, _) = server.customer("long").await;
    for seq in 1..=100 {
        assert_eq!(tab.expect("message").await["seq"], seq);
    }
    tab.send(say("c-1", "all there")).await;
    assert_eq!(tab.expect("message").await["seq"], 101);
    server.shutdown().await;
}

#[tokio::test]
async fn the_next_agent_after_a_transfer_has_its_own_message_ids() {
    let server = TestServer::start(config(vec![
        agent("ann", &["trading"], &["en"], 3),
        agent("kyc", &["verification"], &["en"], 3),
    ]))
    .await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut kyc, _) = server.agent("token-kyc").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let conversation = ann.expect("assigned").await["conversation_id"].clone();
    ann.send(reply(&conversation, "a-1", "from ann")).await;
    let _ = ann.expect("message").await;
    ann.send(json!({"type": "transfer", "conversation_id": conversation, "topic": "verification"}))
        .await;
    let _ = kyc.expect("assigned").await;
    kyc.send(reply(&conversation, "a-1", "from kyc")).await;
    let echo = kyc.expect("message").await;
    assert_eq!(echo["text"], "from kyc");
    assert_eq!(
        echo["seq"], 3,
        "a new message after ann's and the transfer notice"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_session_ahead_of_the_log_makes_everyone_resync() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", Some("one"))).await;
    let conversation = customer.expect("message").await["conversation_id"].clone();
    let _ = customer.expect("assigned").await;
    let assigned = ann.expect("assigned").await;
    assert_eq!(assigned["transcript"].as_array().unwrap().len(), 1);

    // A tab claims to have seen seq 7 of a log that holds 1: the log lost
    // messages (the store lost writes). Everyone is resynced to a new epoch.
    let (mut tab, welcome) = server
        .customer_with(json!({"type": "hello", "visitor_id": "c",
            "resume": {"conversation_id": conversation, "last_seq": 7, "epoch": 0}}))
        .await;
    assert_eq!(welcome["conversation"]["epoch"], 0);
    for ws in [&mut tab, &mut customer, &mut ann] {
        assert_eq!(
            ws.expect("resync").await,
            json!({"type": "resync", "conversation_id": conversation, "epoch": 1, "reason": "client_ahead"})
        );
        assert_eq!(ws.expect("message").await["seq"], 1);
    }
    // A session still on epoch 0 that resumes is resynced too, alone.
    let (mut old, welcome) = server
        .customer_with(json!({"type": "hello", "visitor_id": "c",
            "resume": {"conversation_id": conversation, "last_seq": 1, "epoch": 0}}))
        .await;
    assert_eq!(welcome["conversation"]["epoch"], 1);
    assert_eq!(old.expect("resync").await["reason"], "epoch_changed");
    assert_eq!(old.expect("message").await["seq"], 1);
    ann.expect_silence(Duration::from_millis(200)).await;
    server.shutdown().await;
}
