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

#[tokio::test]
async fn while_redis_is_down_nothing_is_acknowledged_and_service_returns_by_itself() {
    let mut redis = RedisServer::start_durable();
    let server = TestServer::start_with_store(roster(), redis_store(&redis, "outage:").await).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let conversation = ann.expect("assigned").await["conversation_id"].clone();
    let _ = customer.expect("assigned").await;

    redis.kill();
    // The first message reaches the hub before anyone knows; it is held, not
    // acknowledged. Later ones are refused at once with `unavailable`.
    customer.send(say("m-0", "sent as Redis died")).await;
    let mut refused = None;
    for i in 1..=50 {
        let id = format!("m-{i}");
        customer.send(say(&id, "while down")).await;
        match customer.next(Duration::from_millis(300)).await {
            Some(Ok(frame)) if frame["type"] == "error" => {
                assert_eq!(frame["code"], "unavailable", "{frame}");
                assert_eq!(frame["ref"], id.as_str());
                refused = Some(id);
                break;
            }
            Some(Ok(frame)) => panic!("acknowledged while Redis is down: {frame}"),
            Some(Err(close)) => panic!("closed: {close:?}"),
            None => {}
        }
    }
    let refused = refused.expect("no `unavailable` within 50 tries");
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""store_status":"unavailable""#), "{body}");

    // Redis comes back with its data; the held message is stored, then acknowledged.
    redis.restart();
    let held = customer.until("message").await;
    assert_eq!(held["client_msg_id"], "m-0");
    assert_eq!(held["seq"], 1);
    assert_eq!(ann.until("message").await["client_msg_id"], "m-0");
    // A refused message was never stored: sent again, it gets the next seq.
    customer.send(say(&refused, "again")).await;
    let mut again = customer.until("message").await;
    while again["client_msg_id"] != refused.as_str() {
        again = customer.until("message").await;
    }
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, 200);

    let id: switchboard::domain::ConversationId = serde_json::from_value(conversation).unwrap();
    let store = redis_store(&redis, "outage:").await;
    let record = store.conversation(id).await.unwrap().unwrap();
    let stored: Vec<_> = record
        .messages
        .iter()
        .map(|m| m.client_msg_id.as_deref().unwrap_or("").to_string())
        .collect();
    assert_eq!(stored.first().map(String::as_str), Some("m-0"));
    assert_eq!(stored.last(), Some(&refused));
    assert_eq!(record.messages.len() as u64, again["seq"].as_u64().unwrap());
    server.shutdown().await;
}

#[tokio::test]
async fn a_redis_that_lost_its_data_is_written_back_and_sessions_resync() {
    let mut redis = RedisServer::start(); // persists nothing: a restart wipes it
    let server = TestServer::start_with_store(roster(), redis_store(&redis, "wiped:").await).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", Some("one"))).await;
    let conversation = customer.expect("message").await["conversation_id"].clone();
    let _ = customer.expect("assigned").await;
    let _ = ann.expect("assigned").await;
    ann.send(reply(&conversation, "a-1", "two")).await;
    let _ = ann.expect("message").await;
    let _ = customer.expect("message").await;

    redis.restart();
    customer.send(say("c-3", "three")).await;
    // Held until the store is back and rebuilt, then acknowledged; every session
    // is told the log was rebuilt and gets the whole transcript.
    let echo = customer.until("message").await;
    assert_eq!(
        (echo["seq"].clone(), echo["client_msg_id"].clone()),
        (json!(3), json!("c-3"))
    );
    let resync = customer.expect("resync").await;
    assert_eq!(resync["reason"], "store_reset");
    assert_eq!(resync["epoch"], 1);
    for seq in 1..=3 {
        assert_eq!(customer.expect("message").await["seq"], seq);
    }
    assert_eq!(ann.until("resync").await["reason"], "store_reset");

    let id: switchboard::domain::ConversationId = serde_json::from_value(conversation).unwrap();
    let record = redis_store(&redis, "wiped:")
        .await
        .conversation(id)
        .await
        .unwrap()
        .expect("written back");
    assert_eq!(record.messages.len(), 3);
    assert_eq!(record.epoch, 1);
    assert_eq!(record.agent.as_deref(), Some("ann"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_ticket_filed_as_redis_comes_back_empty_is_not_lost() {
    let mut redis = RedisServer::start(); // persists nothing: a restart wipes it
    let store = redis_store(&redis, "wiped:").await;
    let server = TestServer::start_with_store(roster(), store.clone()).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer
        .send(start("trading", Some("where is my BTC?")))
        .await;
    let conversation = ann.until("assigned").await["conversation_id"].clone();

    // The escalation's commit (notice, filing, end) is the first to meet the
    // empty store: the hub writes back what is open, and the filing with it.
    redis.restart();
    ann.send(json!({"type": "escalate", "conversation_id": conversation,
        "note": "filed across a reset"}))
        .await;
    let ended = customer.until("ended").await;
    assert_eq!(ended["reason"], "ticketed");
    let id: switchboard::tickets::TicketId =
        serde_json::from_value(ended["ticket_id"].clone()).expect("a ticket id");
    let ticket = store
        .ticket(id)
        .await
        .unwrap()
        .expect("the ticket is stored");
    assert_eq!(ticket.notes[0].text, "filed across a reset");
    assert_eq!(
        ticket.conversations[0].transcript[0].text.as_ref(),
        "where is my BTC?"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_log_that_lost_its_tail_is_written_back_whole() {
    let redis = RedisServer::start();
    let server = TestServer::start_with_store(roster(), redis_store(&redis, "tail:").await).await;
    let (mut ann, mut customer, conversation) =
        chatting(&server, "token-ann", "c", "trading").await;
    for i in 1..=3 {
        customer.send(say(&format!("c-{i}"), "hello")).await;
        let _ = customer.expect("message").await;
        let _ = ann.expect("message").await;
    }
    // Redis loses the last two messages it acknowledged (a failover to a
    // lagging replica, a snapshot restored): the list is cut to one entry.
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("tail:msgs:{}", conversation.as_str().unwrap());
    let _: () = redis::cmd("LTRIM")
        .arg(&key)
        .arg(0)
        .arg(0)
        .query_async(&mut raw)
        .await
        .unwrap();

    // The next message finds the gap: the node writes the whole log back under a
    // new epoch, and both sides resync.
    customer.send(say("c-4", "are you there?")).await;
    let echo = customer.expect("message").await;
    assert_eq!(echo["seq"], 4);
    assert_eq!(customer.expect("resync").await["reason"], "store_reset");
    assert_eq!(ann.until("resync").await["epoch"], 1);
    let id: switchboard::domain::ConversationId = serde_json::from_value(conversation).unwrap();
    let record = redis_store(&redis, "tail:")
        .await
        .conversation(id)
        .await
        .unwrap()
        .unwrap();
    let seqs: Vec<u64> = record.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(record.epoch, 1);
    server.shutdown().await;
}
