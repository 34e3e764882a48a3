//! Every way a chat becomes a ticket, over real WebSockets: the `ended` frame,
//! then the ticket over the REST API with its transcript.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config::{AgentConfig, AgentRole, Config};

use crate::common::{TestServer, Ws, agent, config, reply, say, start};

const SUPERVISOR: &str = "Authorization: Bearer token-sup\r\n";

/// A supervisor in the roster, for reading tickets; it never goes online.
fn supervisor() -> AgentConfig {
    let mut sup = agent("sup", &["general"], &["en"], 1);
    sup.role = AgentRole::Supervisor;
    sup
}

/// The test config with a supervisor, and tickets for unserved chats on.
fn desk(mut agents: Vec<AgentConfig>) -> Config {
    agents.push(supervisor());
    let mut cfg = config(agents);
    cfg.tickets.ticket_when_unserved = true;
    cfg
}

async fn ticket(server: &TestServer, id: &Value) -> Value {
    let id = id.as_str().expect("a ticket id");
    let (status, body) = server
        .get_with(&format!("/api/tickets/{id}"), SUPERVISOR)
        .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("ticket JSON")
}

async fn tickets_of(server: &TestServer, customer: &str) -> Vec<Value> {
    let (status, body) = server
        .get_with(&format!("/api/tickets?customer={customer}"), SUPERVISOR)
        .await;
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).expect("page JSON");
    page["tickets"].as_array().cloned().unwrap_or_default()
}

/// The texts of a ticket conversation's transcript.
fn texts(conversation: &Value) -> Vec<String> {
    conversation["transcript"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|m| m["text"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Skip frames until `ended`, which must say `ticketed` with an id.
async fn ticketed(ws: &mut Ws, conversation: &Value) -> Value {
    let ended = ws.until("ended").await;
    assert_eq!(ended["conversation_id"], *conversation, "{ended}");
    assert_eq!(ended["reason"], "ticketed", "{ended}");
    assert!(ended["ticket_id"].is_string(), "{ended}");
    ended["ticket_id"].clone()
}

#[tokio::test]
async fn queue_timeout_files_a_ticket_with_the_whole_transcript() {
    let mut cfg = desk(vec![]);
    cfg.tickets.ticket_when_unserved = false; // queue where nobody serves
    cfg.timeouts.max_queue_wait_secs = 1;
    let server = TestServer::start(cfg).await;
    let (mut customer, _) = server.customer("c").await;
    customer
        .send(json!({"type": "start", "topic": "deposit_withdrawal",
            "text": "My BTC deposit has not arrived", "metadata": {"uid": "12345", "txid": "abc"}}))
        .await;
    let conversation = customer.until("queued").await["conversation_id"].clone();
    let notice = customer.until("message").await;
    assert_eq!(notice["from"], "system");
    let ticket_id = ticketed(&mut customer, &conversation).await;

    let ticket = ticket(&server, &ticket_id).await;
    assert_eq!(ticket["id"], ticket_id);
    assert_eq!(ticket["customer"]["key"], "v:c");
    assert_eq!(ticket["topic"], "deposit_withdrawal");
    assert_eq!(ticket["reason"], "queue_timeout");
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["revision"], 1);
    let part = &ticket["conversations"][0];
    assert_eq!(part["conversation_id"], conversation);
    assert_eq!(part["metadata"]["txid"], "abc");
    assert!(part["queue_wait_secs"].as_u64().unwrap() >= 1, "{part}");
    assert!(part["first_response_secs"].is_null());
    let texts = texts(part);
    assert_eq!(texts[0], "My BTC deposit has not arrived");
    assert!(
        texts.len() == 3,
        "question, timeout notice, ticket notice: {texts:?}"
    );
    assert!(texts[2].contains("Support inbox"), "{texts:?}");
    let seqs: Vec<u64> = part["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);

    let (_status, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains("switchboard_tickets_filed_total{reason=\"queue_timeout\"} 1"),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn no_agent_for_the_topic_offers_to_leave_a_message_at_once() {
    // Ann serves trading but is not online.
    let server = TestServer::start(desk(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (mut customer, _) = server.customer("c").await;
    customer
        .send(
            json!({"type": "start", "topic": "trading", "text": "Liquidated at the wrong price",
            "metadata": {"uid": "42"}}),
        )
        .await;
    let offline = customer.expect("offline").await;
    assert_eq!(
        offline,
        json!({"type": "offline", "topic": "trading", "language": "en",
            "reason": "no_agent_for_topic", "leave_message": true})
    );
    customer.expect_silence(Duration::from_millis(200)).await;

    customer
        .send(json!({"type": "leave_message", "client_msg_id": "m-1",
            "text": "Please answer by email"}))
        .await;
    // The question of the `start` opens the transcript, then the message.
    let question = customer.until("message").await;
    assert_eq!(question["seq"], 1);
    let echo = customer.until("message").await;
    assert_eq!(echo["client_msg_id"], "m-1");
    assert_eq!(echo["seq"], 2);
    let conversation = echo["conversation_id"].clone();
    let ticket_id = ticketed(&mut customer, &conversation).await;
    let ticket = ticket(&server, &ticket_id).await;
    assert_eq!(ticket["reason"], "no_agent");
    let part = &ticket["conversations"][0];
    assert_eq!(part["metadata"]["uid"], "42");
    let texts = texts(part);
    assert_eq!(
        texts[..2],
        ["Liquidated at the wrong price", "Please answer by email"]
    );

    // Nothing was queued, and no chat is left open.
    let (_status, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains("switchboard_queue_depth{topic=\"trading\"} 0"),
        "{metrics}"
    );
    customer.send(say("c-2", "anyone?")).await;
    assert_eq!(customer.until("error").await["code"], "conflict");
    server.shutdown().await;
}

#[tokio::test]
async fn no_agent_for_the_language_is_told_as_such() {
    let mut cfg = desk(vec![agent("ana", &["trading"], &["es"], 3)]);
    cfg.routing.fallback_language = "es".into();
    cfg.routing.default_language = "en".into();
    cfg.routing.language_fallback_secs = 1;
    let mut cfg_pt = cfg.clone();
    cfg_pt.routing.fallback_language = "pt".into();
    // With Spanish as the fallback, an English chat falls back to Ana: served.
    let server = TestServer::start(cfg).await;
    let (mut ana, _) = server.agent("token-ana").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let _ = ana.until("assigned").await;
    server.shutdown().await;

    // With a fallback nobody speaks, it is not.
    let server = TestServer::start(cfg_pt).await;
    let (_ana, _) = server.agent("token-ana").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let offline = customer.expect("offline").await;
    assert_eq!(offline["reason"], "no_agent_for_language");
    server.shutdown().await;
}

#[tokio::test]
async fn a_customer_who_leaves_with_an_offered_question_still_reaches_the_desk() {
    let mut cfg = desk(vec![]);
    cfg.timeouts.customer_grace_secs = 1;
    let server = TestServer::start(cfg).await;
    let (mut customer, _) = server.customer("gone").await;
    customer
        .send(start("api", Some("My API key stopped working")))
        .await;
    let _ = customer.expect("offline").await;
    customer.close().await;
    // Filed when the 1 s grace runs out: poll for it, 5 s at most.
    let mut tickets = Vec::new();
    for _ in 0..50 {
        tickets = tickets_of(&server, "v:gone").await;
        if !tickets.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["reason"], "no_agent");
    server.shutdown().await;
}

#[tokio::test]
async fn surge_overflow_offers_to_leave_a_message_and_that_ends_the_chat_as_a_ticket() {
    let mut cfg = desk(vec![agent("ann", &["trading"], &["en"], 3)]);
    cfg.tickets.overflow_eta_secs = 1;
    let server = TestServer::start(cfg).await;
    let (mut ann, _) = server.agent("token-ann").await;
    // Three chats fill Ann and give the queue its assignment rate.
    let mut served = Vec::new();
    for i in 0..3 {
        let (mut c, _) = server.customer(&format!("served-{i}")).await;
        c.send(start("trading", None)).await;
        let _ = c.until("assigned").await;
        served.push(c);
    }
    let _ = ann.until("assigned").await;
    // Three assignments over ~2 s: about 1.5 served per second, so the second in
    // line waits an estimated 2 s, past the 1 s threshold.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let (mut first, _) = server.customer("first").await;
    first.send(start("trading", None)).await;
    let _ = first.until("queued").await;
    let (mut second, _) = server.customer("second").await;
    second
        .send(start("trading", Some("Is my order stuck?")))
        .await;
    let conversation = second.until("queued").await["conversation_id"].clone();
    let overflow = second.until("overflow").await;
    assert_eq!(overflow["conversation_id"], conversation);
    assert_eq!(overflow["position"], 2);
    assert!(overflow["eta_seconds"].as_u64().unwrap() > 1, "{overflow}");

    second
        .send(json!({"type": "leave_message", "text": "Call me back instead"}))
        .await;
    let ticket_id = ticketed(&mut second, &conversation).await;
    let ticket = ticket(&server, &ticket_id).await;
    assert_eq!(ticket["reason"], "overflow");
    assert_eq!(
        texts(&ticket["conversations"][0])[..2],
        ["Is my order stuck?", "Call me back instead"]
    );
    // Only the first in line is left waiting.
    let (_status, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains("switchboard_queue_depth{topic=\"trading\"} 1"),
        "{metrics}"
    );
    drop(first);
    server.shutdown().await;
}

#[tokio::test]
async fn leaving_a_message_unprompted_while_queued_and_refused_while_served() {
    let server = TestServer::start(desk(vec![agent("ann", &["trading"], &["en"], 1)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut served, _) = server.customer("served").await;
    served.send(start("trading", None)).await;
    let _ = served.until("assigned").await;
    let _ = ann.until("assigned").await;
    served
        .send(json!({"type": "leave_message", "client_msg_id": "x-1", "text": "hi"}))
        .await;
    let error = served.until("error").await;
    assert_eq!(error["code"], "conflict");
    assert_eq!(error["ref"], "x-1");

    let (mut waiting, _) = server.customer("waiting").await;
    waiting.send(start("trading", None)).await;
    let conversation = waiting.until("queued").await["conversation_id"].clone();
    waiting
        .send(json!({"type": "leave_message", "text": "I cannot wait, email me"}))
        .await;
    let ticket_id = ticketed(&mut waiting, &conversation).await;
    assert_eq!(ticket(&server, &ticket_id).await["reason"], "left_message");

    // Nothing to leave a message for.
    let (mut idle, _) = server.customer("idle").await;
    idle.send(json!({"type": "leave_message", "text": "hello?"}))
        .await;
    assert_eq!(idle.until("error").await["code"], "conflict");
    server.shutdown().await;
}

#[tokio::test]
async fn agent_escalation_files_the_note_and_frees_the_slot() {
    let server = TestServer::start(desk(vec![agent(
        "ann",
        &["deposit_withdrawal"],
        &["en"],
        1,
    )]))
    .await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer
        .send(start(
            "deposit_withdrawal",
            Some("Sent USDT on the wrong network"),
        ))
        .await;
    let conversation = ann.until("assigned").await["conversation_id"].clone();
    ann.send(reply(&conversation, "a-1", "Let me check")).await;
    let _ = customer.until("message").await;
    let (mut next, _) = server.customer("next").await;
    next.send(start("deposit_withdrawal", None)).await;
    let _ = next.until("queued").await;

    ann.send(json!({"type": "escalate", "conversation_id": conversation,
        "note": "needs on-chain trace"}))
        .await;
    let ticket_id = ticketed(&mut customer, &conversation).await;
    assert_eq!(ticketed(&mut ann, &conversation).await, ticket_id);
    // Ann's slot goes to the next customer.
    let _ = next.until("assigned").await;

    let ticket = ticket(&server, &ticket_id).await;
    assert_eq!(ticket["reason"], "escalated");
    assert_eq!(ticket["notes"][0]["author"], "ann");
    assert_eq!(ticket["notes"][0]["text"], "needs on-chain trace");
    let part = &ticket["conversations"][0];
    assert_eq!(part["agent"], "ann");
    assert!(part["first_response_secs"].is_u64(), "{part}");
    assert_eq!(
        texts(part)[..2],
        ["Sent USDT on the wrong network", "Let me check"]
    );

    // A conversation Ann no longer holds cannot be escalated again.
    ann.send(json!({"type": "escalate", "conversation_id": conversation}))
        .await;
    assert_eq!(ann.until("error").await["code"], "not_found");
    server.shutdown().await;
}

#[tokio::test]
async fn a_customer_gone_with_an_unanswered_message_becomes_a_ticket() {
    let mut cfg = desk(vec![agent("ann", &["trading"], &["en"], 3)]);
    cfg.timeouts.customer_grace_secs = 1;
    let server = TestServer::start(cfg).await;
    let (mut ann, _) = server.agent("token-ann").await;

    // Answered, then gone: abandoned, no ticket.
    let (mut answered, _) = server.customer("answered").await;
    answered.send(start("trading", Some("hi"))).await;
    let first = ann.until("assigned").await["conversation_id"].clone();
    ann.send(reply(&first, "a-1", "Hello, how can I help?"))
        .await;
    let _ = answered.until("message").await;
    answered.close().await;
    let ended = ann.until("ended").await;
    assert_eq!(ended["reason"], "abandoned");
    assert!(tickets_of(&server, "v:answered").await.is_empty());

    // Asked, then gone before an answer: a ticket.
    let (mut asking, _) = server.customer("asking").await;
    asking.send(start("trading", None)).await;
    let second = ann.until("assigned").await["conversation_id"].clone();
    asking.send(say("c-1", "Why was my order cancelled?")).await;
    let _ = asking.until("message").await;
    asking.close().await;
    let ticket_id = ticketed(&mut ann, &second).await;
    let ticket = ticket(&server, &ticket_id).await;
    assert_eq!(ticket["reason"], "customer_left");
    assert_eq!(
        texts(&ticket["conversations"][0])[0],
        "Why was my order cancelled?"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn agent_gone_with_no_one_to_take_the_chat_becomes_a_ticket() {
    let mut cfg = desk(vec![
        agent("ann", &["trading"], &["en"], 3),
        agent("bob", &["earn"], &["en"], 3),
    ]);
    cfg.timeouts.agent_grace_secs = 1;
    let server = TestServer::start(cfg).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (_bob, _) = server.agent("token-bob").await;
    let (mut customer, _) = server.customer("c").await;
    customer
        .send(start("trading", Some("Futures position will not close")))
        .await;
    let conversation = ann.until("assigned").await["conversation_id"].clone();
    let _ = customer.until("assigned").await;
    ann.close().await;
    // Bob does not serve trading: nobody can take the chat.
    let ticket_id = ticketed(&mut customer, &conversation).await;
    let ticket = ticket(&server, &ticket_id).await;
    assert_eq!(ticket["reason"], "agent_left");
    assert_eq!(ticket["conversations"][0]["agent"], "ann");
    server.shutdown().await;
}

#[tokio::test]
async fn agent_gone_with_another_agent_online_requeues_instead() {
    let mut cfg = desk(vec![
        agent("ann", &["trading"], &["en"], 3),
        agent("bob", &["trading"], &["en"], 3),
    ]);
    cfg.timeouts.agent_grace_secs = 1;
    let server = TestServer::start(cfg).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c").await;
    customer.send(start("trading", None)).await;
    let conversation = ann.until("assigned").await["conversation_id"].clone();
    let (mut bob, _) = server.agent("token-bob").await;
    ann.close().await;
    assert_eq!(bob.until("assigned").await["conversation_id"], conversation);
    assert!(tickets_of(&server, "v:c").await.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn repeat_unresolved_chats_on_one_topic_share_one_ticket_and_other_topics_get_their_own() {
    let server =
        TestServer::start(desk(vec![agent("ann", &["trading", "earn"], &["en"], 3)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("repeat").await;
    let mut tickets = Vec::new();
    let mut conversations = Vec::new();
    for (topic, text) in [
        ("trading", "first question"),
        ("trading", "second question"),
        ("earn", "savings question"),
    ] {
        customer.send(start(topic, Some(text))).await;
        let conversation = ann.until("assigned").await["conversation_id"].clone();
        ann.send(json!({"type": "escalate", "conversation_id": conversation}))
            .await;
        tickets.push(ticketed(&mut customer, &conversation).await);
        conversations.push(conversation);
    }
    assert_eq!(
        tickets[0], tickets[1],
        "same customer, same topic: one ticket"
    );
    assert_ne!(tickets[0], tickets[2], "another topic: another ticket");

    let trading = ticket(&server, &tickets[0]).await;
    assert_eq!(trading["revision"], 2);
    let parts = trading["conversations"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["conversation_id"], conversations[0]);
    assert_eq!(parts[1]["conversation_id"], conversations[1]);
    assert_eq!(texts(&parts[0])[0], "first question");
    assert_eq!(texts(&parts[1])[0], "second question");
    assert_eq!(tickets_of(&server, "v:repeat").await.len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn escalation_racing_the_customers_grace_expiry_makes_one_ticket() {
    let mut cfg = desk(vec![agent("ann", &["trading"], &["en"], 100)]);
    cfg.timeouts.customer_grace_secs = 1;
    let server = TestServer::start(cfg).await;
    let (mut ann, _) = server.agent("token-ann").await;
    // Each round lets the escalation land a little earlier or later than the
    // grace expiry; whichever wins, the conversation is filed once.
    for (round, offset_ms) in [900u64, 950, 1000, 1050, 1100].into_iter().enumerate() {
        let visitor = format!("race-{round}");
        let (mut customer, _) = server.customer(&visitor).await;
        customer.send(start("trading", None)).await;
        let conversation = ann.until("assigned").await["conversation_id"].clone();
        customer.send(say("c-1", "still waiting")).await;
        let _ = customer.until("message").await;
        let _ = ann.until("message").await;
        customer.close().await;
        tokio::time::sleep(Duration::from_millis(offset_ms)).await;
        ann.send(json!({"type": "escalate", "conversation_id": conversation,
            "note": "race"}))
            .await;
        let ticket_id = ticketed(&mut ann, &conversation).await;
        // The loser finds the conversation gone: a `not_found`, or nothing.
        let mut extra = Vec::new();
        while let Some(Ok(frame)) = ann.next(Duration::from_millis(200)).await {
            extra.push(frame);
        }
        assert!(
            extra
                .iter()
                .all(|f| f["type"] == "error" && f["code"] == "not_found"),
            "{extra:?}"
        );
        let tickets = tickets_of(&server, &format!("v:{visitor}")).await;
        assert_eq!(tickets.len(), 1, "{tickets:?}");
        assert_eq!(tickets[0]["id"], ticket_id);
        assert_eq!(tickets[0]["conversation_ids"], json!([conversation]));
    }
    server.shutdown().await;
}
