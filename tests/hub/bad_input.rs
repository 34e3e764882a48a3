//! Invariant 7: every bad frame gets its error (or a close with a reason), and
//! everybody else carries on.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

/// A customer and agent mid-chat, to prove other sessions are unaffected.
struct Bystanders {
    customer: Ws,
    agent: Ws,
    conversation: Value,
    next: u32,
}

impl Bystanders {
    async fn new(server: &TestServer) -> Self {
        let (mut agent, _) = server.agent("token-ann").await;
        let (mut customer, _) = server.customer("bystander").await;
        customer.send(start("trading", None)).await;
        let conversation = customer.expect("assigned").await["conversation_id"].clone();
        let _ = agent.expect("assigned").await;
        Self {
            customer,
            agent,
            conversation,
            next: 0,
        }
    }

    /// A round trip each way still works. The agent may serve others meanwhile:
    /// their frames are skipped.
    async fn still_chatting(&mut self) {
        self.next += 1;
        let id = format!("b-{}", self.next);
        self.customer.send(say(&id, "still here?")).await;
        assert_eq!(self.customer.expect("message").await["client_msg_id"], id);
        assert_eq!(self.agent_message().await["client_msg_id"], id);
        self.agent.send(reply(&self.conversation, &id, "yes")).await;
        assert_eq!(self.agent_message().await["client_msg_id"], id);
        assert_eq!(self.customer.expect("message").await["client_msg_id"], id);
    }

    async fn agent_message(&mut self) -> Value {
        loop {
            let frame = self.agent.recv().await;
            if frame["type"] == "message" && frame["conversation_id"] == self.conversation {
                return frame;
            }
        }
    }
}

fn server_config() -> switchboard::config::Config {
    let mut cfg = config(vec![agent("ann", &["trading"], &["en"], 5)]);
    cfg.timeouts.hello_secs = 1;
    cfg.limits.max_frame_bytes = 1024;
    cfg.limits.max_transport_bytes = 8192;
    cfg.limits.max_text_chars = 200;
    cfg.limits.max_metadata_bytes = 256;
    cfg
}

async fn error_for(ws: &mut Ws, text: &str) -> Value {
    ws.send_text(text).await;
    ws.expect("error").await
}

#[tokio::test]
async fn malformed_frames_get_bad_request_and_the_session_goes_on() {
    let server = TestServer::start(server_config()).await;
    let mut others = Bystanders::new(&server).await;
    let (mut customer, _) = server.customer("bad").await;

    let cases: &[(&str, &str)] = &[
        ("not json at all", "frame is not valid JSON"),
        ("[1,2,3]", "frame must be a JSON object"),
        (r#"{"text":"no type"}"#, "field `type` is required"),
        (r#"{"type":7}"#, "field `type` must be a string"),
        (r#"{"type":"dance"}"#, "unknown frame type `dance`"),
        (
            r#"{"type":"start"}"#,
            "`start` frame: field `topic` is required",
        ),
        (
            r#"{"type":"typing","on":"yes"}"#,
            "`typing` frame: invalid type",
        ),
        (
            r#"{"type":"start","topic":"astrology"}"#,
            "unknown topic `astrology`",
        ),
        (
            r#"{"type":"start","topic":"trading","language":"english!"}"#,
            "is not a language code",
        ),
        (r#"{"type":"rate","score":9}"#, "`score` must be 1 to 5"),
        (
            r#"{"type":"hello","visitor_id":"again"}"#,
            "hello was already received",
        ),
    ];
    for (frame, expected) in cases {
        let error = error_for(&mut customer, frame).await;
        assert_eq!(error["code"], "bad_request", "{frame} → {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(expected), "{frame} → {message}");
    }
    // A message with a missing field still echoes its client_msg_id as `ref`.
    let error = error_for(&mut customer, r#"{"type":"message","client_msg_id":"c-9"}"#).await;
    assert_eq!(error["ref"], "c-9");
    assert_eq!(
        error["message"],
        "`message` frame: field `text` is required"
    );
    // Empty text and a too-long id.
    let error = error_for(&mut customer, &say("c-10", "   ").to_string()).await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("must not be empty")
    );
    let long_id = "x".repeat(65);
    let error = error_for(&mut customer, &say(&long_id, "hi").to_string()).await;
    assert!(error["message"].as_str().unwrap().contains("client_msg_id"));

    // Out of order: a message or close before any conversation.
    let error = error_for(&mut customer, &say("c-1", "hello?").to_string()).await;
    assert_eq!(error["code"], "conflict");
    assert_eq!(error["ref"], "c-1");
    let error = error_for(&mut customer, r#"{"type":"close"}"#).await;
    assert_eq!(error["code"], "conflict");
    let error = error_for(&mut customer, r#"{"type":"rate","score":4}"#).await;
    assert_eq!(error["code"], "not_found");

    // After all that, the session works.
    customer.send(start("trading", None)).await;
    let _ = customer.expect("assigned").await;
    others.still_chatting().await;
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_input_gets_too_large_or_a_1009_close() {
    let server = TestServer::start(server_config()).await;
    let mut others = Bystanders::new(&server).await;
    let (mut customer, _) = server.customer("big").await;
    customer.send(start("trading", None)).await;
    let _ = customer.expect("assigned").await;
    let _ = others.agent.expect("assigned").await;

    // Over max_frame_bytes but under the transport limit: an error, and on we go.
    let error = error_for(&mut customer, &say("c-1", &"a".repeat(2000)).to_string()).await;
    assert_eq!(error["code"], "too_large");
    // Text over max_text_chars in a small frame.
    let error = error_for(&mut customer, &say("c-2", &"é".repeat(201)).to_string()).await;
    assert_eq!(error["code"], "too_large");
    assert_eq!(error["ref"], "c-2");
    let metadata =
        json!({"type": "start", "topic": "trading", "metadata": {"blob": "m".repeat(300)}});
    let error = error_for(&mut customer, &metadata.to_string()).await;
    assert_eq!(error["code"], "too_large");
    customer.send(say("c-3", "fine")).await;
    assert_eq!(customer.expect("message").await["client_msg_id"], "c-3");

    // Over the transport limit: the stream cannot be resynced; close 1009.
    customer.send_text(&"x".repeat(10_000)).await;
    let (code, reason) = customer.expect_close().await;
    assert_eq!(code, 1009, "{reason}");
    others.still_chatting().await;
    server.shutdown().await;
}

#[tokio::test]
async fn frames_before_hello_and_hello_timeout() {
    let server = TestServer::start(server_config()).await;
    let mut others = Bystanders::new(&server).await;

    let mut early = Ws::connect(server.addr, "/ws/customer").await;
    let error = error_for(&mut early, &start("trading", None).to_string()).await;
    assert_eq!(error["code"], "bad_request");
    assert_eq!(error["message"], "the first frame must be `hello`");
    let error = error_for(&mut early, "garbage").await;
    assert_eq!(error["code"], "bad_request");
    // A hello with neither id nor identity is refused but may be retried.
    let error = error_for(&mut early, r#"{"type":"hello"}"#).await;
    assert!(error["message"].as_str().unwrap().contains("visitor_id"));
    let error = error_for(&mut early, r#"{"type":"hello","visitor_id":"has spaces"}"#).await;
    assert_eq!(error["code"], "bad_request");
    early
        .send(json!({"type": "hello", "visitor_id": "late-but-fine"}))
        .await;
    let _ = early.expect("welcome").await;

    // Silence: closed with 1008 after hello_secs.
    let mut silent = Ws::connect(server.addr, "/ws/agent").await;
    let (code, reason) = silent.expect_close().await;
    assert_eq!(code, 1008);
    assert!(reason.contains("hello"), "{reason}");

    // Binary frames are unsupported data; oversized ones close 1009 even before hello.
    let mut binary = Ws::connect(server.addr, "/ws/customer").await;
    binary.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    let (code, _) = binary.expect_close().await;
    assert_eq!(code, 1003);
    let mut huge = Ws::connect(server.addr, "/ws/customer").await;
    huge.send_text(&"h".repeat(10_000)).await;
    assert_eq!(huge.expect_close().await.0, 1009);
    others.still_chatting().await;
    server.shutdown().await;
}

/// A token issued for an hour from now.
fn not_yet_valid() -> String {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    encode(
        &Header::default(),
        &json!({"sub": "1", "tier": "standard", "nbf": now + 3600, "exp": now + 7200}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn bad_credentials_are_refused_and_closed() {
    let server = TestServer::start(server_config()).await;
    let mut others = Bystanders::new(&server).await;

    let mut agent = Ws::connect(server.addr, "/ws/agent").await;
    agent
        .send(json!({"type": "hello", "token": "token-nobody"}))
        .await;
    let error = agent.expect("error").await;
    assert_eq!(error["code"], "unauthorized");
    assert_eq!(agent.expect_close().await.0, 1008);

    let cases = [
        (
            identity("wrong-secret-wrong-secret", "1", "vip", 600),
            "signature",
        ),
        (identity(SECRET, "1", "vip", -600), "expired"),
        (identity(SECRET, "1", "platinum", 600), "tier"),
        ("not.a.jwt".to_string(), "invalid"),
        (not_yet_valid(), "not valid yet"),
    ];
    for (token, expected) in cases {
        let mut customer = Ws::connect(server.addr, "/ws/customer").await;
        customer
            .send(json!({"type": "hello", "identity": token, "visitor_id": "fallback"}))
            .await;
        let error = customer.expect("error").await;
        assert_eq!(error["code"], "unauthorized");
        assert!(
            error["message"].as_str().unwrap().contains(expected),
            "{error}"
        );
        assert_eq!(
            customer.expect_close().await.0,
            1008,
            "never downgraded to the visitor"
        );
    }
    others.still_chatting().await;
    server.shutdown().await;
}

#[tokio::test]
async fn agents_cannot_touch_conversations_they_do_not_hold() {
    let mut cfg = server_config();
    cfg.agents.push(agent("eve", &["trading"], &["en"], 1));
    let server = TestServer::start(cfg).await;
    let mut others = Bystanders::new(&server).await;
    let (mut eve, _) = server.agent("token-eve").await;
    let theirs = others.conversation.clone();
    let unknown = json!("0190e0e0-0000-7000-8000-000000000000");
    for target in [&theirs, &unknown] {
        let error = error_for(&mut eve, &reply(target, "e-1", "mine now").to_string()).await;
        assert_eq!(error["code"], "not_found");
        assert_eq!(error["ref"], "e-1");
        for frame in [
            json!({"type": "resolve", "conversation_id": target}),
            json!({"type": "typing", "conversation_id": target, "on": true}),
            json!({"type": "transfer", "conversation_id": target, "topic": "earn"}),
        ] {
            let error = error_for(&mut eve, &frame.to_string()).await;
            assert_eq!(error["code"], "not_found", "{frame}");
        }
    }
    let error = error_for(&mut eve, r#"{"type":"resolve","conversation_id":"nope"}"#).await;
    assert_eq!(error["code"], "bad_request");
    let error = error_for(&mut eve, r#"{"type":"status","status":"napping"}"#).await;
    assert_eq!(error["code"], "bad_request");
    let error = error_for(
        &mut eve,
        &json!({"type": "transfer", "conversation_id": theirs, "topic": "astrology"}).to_string(),
    )
    .await;
    assert_eq!(error["code"], "bad_request");
    others
        .customer
        .expect_silence(Duration::from_millis(200))
        .await;
    others.still_chatting().await;
    server.shutdown().await;
}

#[tokio::test]
async fn bad_ticket_frames_get_clear_errors_and_file_nothing() {
    let server = TestServer::start(server_config()).await;
    let mut others = Bystanders::new(&server).await;
    let (mut customer, _) = server.customer("bad-ticket").await;
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"{"type":"leave_message"}"#,
            "bad_request",
            "`leave_message` frame: field `text` is required",
        ),
        (
            r#"{"type":"leave_message","text":"  "}"#,
            "bad_request",
            "`leave_message` frame: `text` must not be empty",
        ),
        (
            r#"{"type":"leave_message","text":7}"#,
            "bad_request",
            "`leave_message` frame: invalid type",
        ),
        (
            r#"{"type":"leave_message","text":"hi","client_msg_id":""}"#,
            "bad_request",
            "client_msg_id",
        ),
        // Nothing open and nothing offered: nothing to leave a message for.
        (
            r#"{"type":"leave_message","text":"hi","client_msg_id":"l-1"}"#,
            "conflict",
            "send `start` first",
        ),
    ];
    for (frame, code, expected) in cases {
        let error = error_for(&mut customer, frame).await;
        assert_eq!(error["code"], *code, "{frame} → {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(expected), "{frame} → {message}");
    }
    let long = json!({"type": "leave_message", "client_msg_id": "l-2", "text": "é".repeat(201)});
    let error = error_for(&mut customer, &long.to_string()).await;
    assert_eq!(error["code"], "too_large");
    assert_eq!(error["ref"], "l-2");

    // An agent escalating what it does not hold, or with a note too long.
    let (mut ann, _) = server.agent("token-ann").await;
    let stranger =
        json!({"type": "escalate", "conversation_id": "0190e5b4-0000-7000-8000-000000000000"});
    let error = error_for(&mut ann, &stranger.to_string()).await;
    assert_eq!(error["code"], "not_found");
    let error = error_for(&mut ann, r#"{"type":"escalate","conversation_id":"nope"}"#).await;
    assert_eq!(error["code"], "bad_request");
    let noisy = json!({"type": "escalate", "conversation_id": others.conversation,
        "note": "n".repeat(201)});
    let error = error_for(&mut ann, &noisy.to_string()).await;
    assert_eq!(error["code"], "too_large");

    // Nothing was filed, and everyone carries on.
    let (status, body) = server
        .get_with("/api/tickets", "Authorization: Bearer token-ann\r\n")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["tickets"],
        json!([])
    );
    others.still_chatting().await;
    server.shutdown().await;
}
