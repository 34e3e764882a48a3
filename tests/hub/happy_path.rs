//! The whole happy path, customer and agent, asserting every frame.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn customer_and_agent_chat_from_hello_to_rating() {
    let server = TestServer::start(config(vec![agent(
        "ann",
        &["deposit_withdrawal"],
        &["en"],
        2,
    )]))
    .await;

    // Customer first: no agent yet, so it waits in the queue.
    let (mut customer, welcome) = server.customer("visitor-1").await;
    assert_eq!(welcome["customer_key"], "v:visitor-1");
    assert!(welcome["conversation"].is_null());
    assert!(welcome["session_id"].is_string());

    customer
        .send(json!({
            "type": "start", "topic": "deposit_withdrawal", "language": "en",
            "text": "My BTC deposit has not arrived",
            "metadata": {"uid": "12345", "txid": "abc"}
        }))
        .await;
    let first = customer.expect("message").await;
    let conversation = first["conversation_id"].clone();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["from"], "customer");
    assert_eq!(first["text"], "My BTC deposit has not arrived");
    assert!(first["client_msg_id"].is_null());
    assert!(first["ts"].as_str().unwrap().ends_with('Z'));
    let queued = customer.expect("queued").await;
    assert_eq!(queued["conversation_id"], conversation);
    assert_eq!(queued["position"], 1);
    assert!(queued["eta_seconds"].is_null(), "no history, no estimate");

    // The agent logs in, is online at once and takes the chat.
    let (mut agent, welcome) = server.agent("token-ann").await;
    assert_eq!(welcome["agent"]["id"], "ann");
    assert_eq!(welcome["agent"]["name"], "Agent ann");
    assert_eq!(welcome["agent"]["capacity"], 2);
    assert_eq!(welcome["agent"]["status"], "online");
    assert_eq!(welcome["conversations"], json!([]));

    let assigned = agent.expect("assigned").await;
    assert_eq!(assigned["conversation_id"], conversation);
    assert_eq!(assigned["customer"]["key"], "v:visitor-1");
    assert_eq!(assigned["customer"]["verified"], false);
    assert_eq!(
        assigned["customer"]["metadata"],
        json!({"uid": "12345", "txid": "abc"})
    );
    assert_eq!(assigned["topic"], "deposit_withdrawal");
    assert_eq!(assigned["language"], "en");
    assert_eq!(assigned["priority"], "standard");
    let transcript = assigned["transcript"].as_array().unwrap();
    assert_eq!(transcript.len(), 1);
    assert_eq!(transcript[0]["seq"], 1);
    assert_eq!(transcript[0]["text"], "My BTC deposit has not arrived");

    let assigned = customer.expect("assigned").await;
    assert_eq!(assigned["conversation_id"], conversation);
    assert_eq!(assigned["agent"], json!({"id": "ann", "name": "Agent ann"}));

    // Agent replies: echoed to the agent (the acknowledgement) and delivered.
    agent
        .send(reply(&conversation, "a-1", "Hello! Let me check."))
        .await;
    for side in [&mut agent, &mut customer] {
        let m = side.expect("message").await;
        assert_eq!(m["conversation_id"], conversation);
        assert_eq!(m["seq"], 2);
        assert_eq!(m["from"], "agent");
        assert_eq!(m["agent_id"], "ann");
        assert_eq!(m["client_msg_id"], "a-1");
        assert_eq!(m["text"], "Hello! Let me check.");
    }

    // Typing goes to the other side only, never stored.
    customer.send(json!({"type": "typing", "on": true})).await;
    let typing = agent.expect("typing").await;
    assert_eq!(
        typing,
        json!({"type": "typing", "conversation_id": conversation, "from": "customer", "on": true})
    );
    agent
        .send(json!({"type": "typing", "conversation_id": conversation, "on": false}))
        .await;
    let typing = customer.expect("typing").await;
    assert_eq!(
        typing,
        json!({"type": "typing", "conversation_id": conversation, "from": "agent", "on": false})
    );

    customer.send(say("c-1", "TxID is abc")).await;
    for side in [&mut customer, &mut agent] {
        let m = side.expect("message").await;
        assert_eq!(m["seq"], 3);
        assert_eq!(m["from"], "customer");
        assert_eq!(m["client_msg_id"], "c-1");
    }

    agent
        .send(json!({"type": "resolve", "conversation_id": conversation}))
        .await;
    for side in [&mut agent, &mut customer] {
        let ended = side.expect("ended").await;
        assert_eq!(
            ended,
            json!({"type": "ended", "conversation_id": conversation, "reason": "resolved", "ticket_id": null})
        );
    }

    customer.send(json!({"type": "rate", "score": 5})).await;
    let rated = customer.expect("rated").await;
    assert_eq!(
        rated,
        json!({"type": "rated", "conversation_id": conversation, "score": 5})
    );

    // The customer can start again: a new conversation.
    customer.send(start("deposit_withdrawal", None)).await;
    let assigned = customer.expect("assigned").await;
    assert_ne!(assigned["conversation_id"], conversation);
    let _ = agent.expect("assigned").await;

    customer
        .expect_silence(std::time::Duration::from_millis(200))
        .await;
    agent
        .expect_silence(std::time::Duration::from_millis(200))
        .await;

    // Metrics saw it.
    let (status, body) = server.get("/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "switchboard_connections{role=\"customer\"} 1",
        "switchboard_assignments_total{topic=\"deposit_withdrawal\"} 2",
        "switchboard_messages_total{from=\"customer\"} 2",
        "switchboard_messages_total{from=\"agent\"} 1",
        "switchboard_csat_ratings_total{score=\"5\"} 1",
        "switchboard_conversations_ended_total{reason=\"resolved\"} 1",
        "switchboard_queue_wait_seconds_count{topic=\"deposit_withdrawal\"} 2",
        "switchboard_first_response_seconds_count{topic=\"deposit_withdrawal\"} 1",
        "switchboard_queue_depth{topic=\"trading\"} 0",
    ] {
        assert!(body.contains(name), "metrics lack `{name}`:\n{body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn ratings_come_after_the_end_once_from_any_session() {
    let server = TestServer::start(config(vec![agent("ann", &["earn"], &["en"], 2)])).await;
    let (mut ann, mut customer, conversation) =
        chatting(&server, "token-ann", "rater", "earn").await;

    customer.send(json!({"type": "rate", "score": 5})).await;
    assert_eq!(
        customer.expect("error").await["code"],
        "not_found",
        "nothing ended yet"
    );
    customer
        .send(json!({"type": "rate", "score": 5, "conversation_id": conversation}))
        .await;
    assert_eq!(
        customer.expect("error").await["code"],
        "conflict",
        "still open"
    );

    ann.send(json!({"type": "resolve", "conversation_id": conversation}))
        .await;
    let _ = customer.expect("ended").await;
    customer.close().await;

    // A new session (another tab, later) rates without naming the conversation.
    let (mut later, _) = server.customer("rater").await;
    later.send(json!({"type": "rate", "score": 2})).await;
    assert_eq!(
        later.expect("rated").await,
        json!({"type": "rated", "conversation_id": conversation, "score": 2})
    );
    later.send(json!({"type": "rate", "score": 5})).await;
    assert_eq!(
        later.expect("error").await["code"],
        "conflict",
        "ratings are final"
    );
    let (mut stranger, _) = server.customer("stranger").await;
    stranger
        .send(json!({"type": "rate", "score": 1, "conversation_id": conversation}))
        .await;
    assert_eq!(stranger.expect("error").await["code"], "not_found");
    let (_, body) = server.get("/metrics").await;
    assert!(body.contains("switchboard_csat_ratings_total{score=\"2\"} 1"));
    assert!(!body.contains("score=\"5\""));
    server.shutdown().await;
}
