//! The hostile barrage: every kind of malformed or hostile input of
//! `docs/hostile-input.md`, each with its documented reaction, on a server where
//! a control customer and agent are chatting. After each barrage the control
//! pair still has exactly its own transcript, nobody else's frame reached it,
//! and the node still answers `/healthz`. (Refusals already covered by
//! `bad_input.rs` and `rate_limit.rs` are not repeated here.)

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    common::*,
    raw_ws::{self, Event, RawWs},
};

/// How long a raw client waits for the server's next move.
const WAIT: Duration = Duration::from_secs(5);

/// A customer and an agent chatting on the server under attack; `transcript`
/// is what both must see, no more and no less.
struct Control {
    customer: Ws,
    agent: Ws,
    conversation: Value,
    /// `(from, text)` of every message of the conversation, in `seq` order.
    transcript: Vec<(String, String)>,
}

impl Control {
    /// The control pair: agent `ann`, customer `control`, one round trip.
    async fn new(server: &TestServer) -> Self {
        let (agent, customer, conversation) =
            chatting(server, "token-ann", "control", "trading").await;
        let mut control = Self {
            customer,
            agent,
            conversation,
            transcript: Vec::new(),
        };
        control.round_trip().await;
        control
    }

    /// One message each way, checked on both sides.
    async fn round_trip(&mut self) {
        let n = self.transcript.len() + 1;
        let text = format!("control question {n}");
        self.customer.send(say(&format!("c-{n}"), &text)).await;
        for side in [&mut self.customer, &mut self.agent] {
            let echo = side.expect("message").await;
            assert_eq!(echo["text"], text.as_str());
            assert_eq!(echo["seq"], n as u64);
        }
        self.transcript.push(("customer".into(), text));
        let text = format!("control answer {}", n + 1);
        self.agent
            .send(reply(&self.conversation, &format!("a-{n}"), &text))
            .await;
        for side in [&mut self.agent, &mut self.customer] {
            let echo = side.expect("message").await;
            assert_eq!(echo["text"], text.as_str());
            assert_eq!(echo["seq"], n as u64 + 1);
        }
        self.transcript.push(("agent".into(), text));
    }

    /// Nothing reached the pair meanwhile; the chat goes on; a new session of
    /// each side is replayed exactly the pair's own transcript; `/healthz` is 200.
    async fn intact(&mut self, server: &TestServer) {
        self.customer
            .expect_silence(Duration::from_millis(200))
            .await;
        self.agent.expect_silence(Duration::from_millis(50)).await;
        self.round_trip().await;

        let (mut tab, welcome) = server.customer("control").await;
        assert_eq!(welcome["conversation"]["id"], self.conversation);
        assert_eq!(welcome["conversation"]["state"], "assigned");
        assert_eq!(welcome["conversation"]["epoch"], 0, "never resynced");
        assert_eq!(
            welcome["conversation"]["last_seq"],
            self.transcript.len() as u64
        );
        assert_eq!(self.replayed(&mut tab).await, self.transcript);
        tab.close().await;

        let (mut console, welcome) = server.agent("token-ann").await;
        let held: Vec<&Value> = welcome["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["id"])
            .collect();
        assert_eq!(
            held,
            [&self.conversation],
            "ann holds only the control chat"
        );
        assert_eq!(self.replayed(&mut console).await, self.transcript);
        console.close().await;

        let (status, body) = server.get("/healthz").await;
        assert_eq!(status, 200, "{body}");
    }

    /// The whole transcript a new session is replayed after its `welcome`.
    async fn replayed(&self, ws: &mut Ws) -> Vec<(String, String)> {
        let mut seen = Vec::new();
        for seq in 1..=self.transcript.len() as u64 {
            let frame = ws.expect("message").await;
            assert_eq!(frame["conversation_id"], self.conversation);
            assert_eq!(frame["seq"], seq);
            seen.push((
                frame["from"].as_str().unwrap().to_string(),
                frame["text"].as_str().unwrap().to_string(),
            ));
        }
        ws.expect_silence(Duration::from_millis(100)).await;
        seen
    }
}

/// The roster: `ann` serves the control chat; `eve` and `mal` are hostile
/// agents (on topics the control chat is not on, so they never take it).
fn hostile_config() -> switchboard::config::Config {
    let mut cfg = config(vec![
        agent("ann", &["trading"], &["en"], 1),
        agent("eve", &["earn"], &["en"], 5),
        agent("mal", &["earn"], &["en"], 5),
    ]);
    cfg.timeouts.hello_secs = 2;
    cfg
}

/// Send raw text, expect an `error` with this code.
async fn refused(ws: &mut Ws, text: &str, code: &str) -> Value {
    ws.send_text(text).await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], code, "{} → {error}", shorten(text));
    error
}

fn shorten(text: &str) -> String {
    text.chars().take(120).collect()
}

/// The `message` a customer's text became, as its agent received it.
async fn relayed(customer: &mut Ws, agent: &mut Ws, id: &str, text: &str) -> Value {
    customer.send(say(id, text)).await;
    let echo = customer.expect("message").await;
    let got = agent.expect("message").await;
    assert_eq!(echo, got);
    got
}

/// An agent session that says this `hello`.
async fn agent_with(server: &TestServer, hello: Value) -> (Ws, Value) {
    let mut ws = Ws::connect(server.addr, "/ws/agent").await;
    ws.send(hello).await;
    let welcome = ws.expect("welcome").await;
    (ws, welcome)
}

/// A hostile customer `visitor` with an open chat taken by `eve`.
async fn hostile_pair(server: &TestServer, visitor: &str) -> (Ws, Ws, Value) {
    chatting(server, "token-eve", visitor, "earn").await
}

#[tokio::test]
async fn adversarial_json_nesting_numbers_duplicates_types_and_ids() {
    let server = TestServer::start(hostile_config()).await;
    let mut control = Control::new(&server).await;
    let (mut eve, mut mallory, mine) = hostile_pair(&server, "mallory").await;

    // Deep nesting under the frame limit: serde_json's recursion limit (128)
    // refuses it without recursing further.
    let deep = "[".repeat(16_000);
    let error = refused(&mut mallory, &deep, "bad_request").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("recursion limit"),
        "{error}"
    );
    let nested = format!(
        r#"{{"type":"message","client_msg_id":"n-1","text":"hi","x":{}1{}}}"#,
        "{\"a\":".repeat(2_000),
        "}".repeat(2_000)
    );
    refused(&mut mallory, &nested, "bad_request").await;
    // Under the transport limit but over the frame limit: too_large, unparsed.
    let error = refused(&mut mallory, &"[".repeat(60_000), "too_large").await;
    assert_eq!(error["ref"], Value::Null);

    // Huge numbers: out of f64's range is not JSON serde_json accepts; past
    // the integer types of the fields is a wrong type.
    for text in [
        r#"{"type":"rate","score":1e400}"#,
        r#"{"type":"rate","score":18446744073709551617}"#,
        r#"{"type":"rate","score":-9223372036854775809}"#,
        r#"{"type":"rate","score":5.0}"#,
        r#"{"type":"rate","score":1e2}"#,
        r#"{"type":"typing","on":1}"#,
    ] {
        refused(&mut mallory, text, "bad_request").await;
    }
    // An i64 score out of 1-5 is a range error, not an overflow.
    let error = refused(
        &mut mallory,
        r#"{"type":"rate","score":9223372036854775807}"#,
        "bad_request",
    )
    .await;
    assert!(error["message"].as_str().unwrap().contains("1 to 5"));

    // Duplicate keys: the last one wins, once, for the whole frame (the frame
    // is parsed once, so no two readers can disagree on it).
    let error = refused(
        &mut mallory,
        r#"{"type":"message","type":"hello","visitor_id":"control"}"#,
        "bad_request",
    )
    .await;
    assert_eq!(error["message"], "hello was already received");
    mallory
        .send_text(r#"{"type":"hello","type":"message","client_msg_id":"d-1","text":"first","text":"second"}"#)
        .await;
    let echo = mallory.expect("message").await;
    assert_eq!(echo["text"], "second");
    assert_eq!(echo["conversation_id"], mine);
    assert_eq!(eve.expect("message").await, echo);
    // Same key, other text: a resend, answered with the original.
    mallory
        .send_text(
            r#"{"type":"message","client_msg_id":"d-1","client_msg_id":"d-1","text":"third"}"#,
        )
        .await;
    assert_eq!(mallory.expect("message").await, echo);

    // Wrong types for fields.
    for text in [
        r#"{"type":"message","client_msg_id":5,"text":"x"}"#,
        r#"{"type":"message","client_msg_id":"w-1","text":["x"]}"#,
        r#"{"type":"message","client_msg_id":null,"text":"x"}"#,
        r#"{"type":"message","client_msg_id":"w-2","text":{"$gt":""}}"#,
        r#"{"type":"start","topic":["trading"]}"#,
        r#"{"type":"start","topic":"earn","metadata":[1,2]}"#,
        r#"{"type":"start","topic":"earn","metadata":"uid=1"}"#,
        r#"{"type":"rate","score":"5"}"#,
        r#"{"type":"rate","score":5,"conversation_id":12}"#,
        r#"{"type":["message"]}"#,
        r#"{"type":null}"#,
    ] {
        refused(&mut mallory, text, "bad_request").await;
    }
    for frame in [
        json!({"type": "resolve", "conversation_id": 1}),
        json!({"type": "status", "status": true}),
        json!({"type": "transfer", "conversation_id": mine, "topic": 7}),
        json!({"type": "transfer", "conversation_id": mine, "topic": "earn", "priority": "god"}),
        json!({"type": "message", "conversation_id": {"id": mine}, "client_msg_id": "w", "text": "x"}),
    ] {
        refused(&mut eve, &frame.to_string(), "bad_request").await;
    }

    // Unknown frame types, including ones named like internals.
    for kind in [
        "admin",
        "",
        "Hello",
        "MESSAGE",
        "__proto__",
        "assigned",
        "welcome",
        "resync",
    ] {
        let error = refused(
            &mut mallory,
            &json!({"type": kind, "conversation_id": control.conversation}).to_string(),
            "bad_request",
        )
        .await;
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("unknown frame type"),
            "{error}"
        );
    }
    refused(
        &mut eve,
        r#"{"type":"assign","conversation_id":"x"}"#,
        "bad_request",
    )
    .await;

    // Oversize ids: a 10 KB client_msg_id is refused by name (the key comes
    // back as `ref`, so the client can tell which frame it was); a 10 KB
    // conversation id is not a UUID.
    let huge_id = "k".repeat(10_240);
    let error = refused(
        &mut mallory,
        &say(&huge_id, "hi").to_string(),
        "bad_request",
    )
    .await;
    assert_eq!(error["ref"], huge_id.as_str());
    refused(
        &mut eve,
        &reply(&json!("u".repeat(10_240)), "e-1", "hi").to_string(),
        "bad_request",
    )
    .await;
    refused(
        &mut eve,
        &reply(&mine, &huge_id, "hi").to_string(),
        "bad_request",
    )
    .await;

    // The hostile pair's chat still works, and holds exactly what it took.
    let got = relayed(&mut mallory, &mut eve, "ok-1", "still fine").await;
    assert_eq!(got["seq"], 2);
    control.intact(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn adversarial_hellos_and_resumes() {
    let server = TestServer::start(hostile_config()).await;
    let mut control = Control::new(&server).await;
    let theirs = control.conversation.clone();

    // Absurd `resume.last_seq` and oversize ids in a hello: bad_request, and
    // the session may say hello again.
    let mut ws = Ws::connect(server.addr, "/ws/customer").await;
    for resume in [
        r#"{"conversation_id":"0190e0e0-0000-7000-8000-000000000000","last_seq":18446744073709551616}"#,
        r#"{"conversation_id":"0190e0e0-0000-7000-8000-000000000000","last_seq":-1}"#,
        r#"{"conversation_id":"0190e0e0-0000-7000-8000-000000000000","last_seq":1.5}"#,
        r#"{"conversation_id":"0190e0e0-0000-7000-8000-000000000000","last_seq":1e400}"#,
        r#"{"conversation_id":"0190e0e0-0000-7000-8000-000000000000","last_seq":"1"}"#,
        r#"{"conversation_id":"0190e0e0-0000-7000-8000-000000000000","last_seq":1,"epoch":4294967296}"#,
        r#"{"conversation_id":"not-a-uuid","last_seq":1}"#,
        r#"[]"#,
    ] {
        refused(
            &mut ws,
            &format!(r#"{{"type":"hello","visitor_id":"absurd","resume":{resume}}}"#),
            "bad_request",
        )
        .await;
    }
    refused(
        &mut ws,
        &json!({"type": "hello", "visitor_id": "v".repeat(10_240)}).to_string(),
        "bad_request",
    )
    .await;
    // A hello flood before registering: each refused, none restarts the hello
    // deadline, so the connection ends at `timeouts.hello_secs` all the same.
    for n in 0..500 {
        ws.send_text(&format!(r#"{{"type":"hello","visitor_id":"bad id {n}"}}"#))
            .await;
    }
    let (code, reason) = ws.expect_close().await;
    assert_eq!(code, 1008);
    assert!(reason.contains("hello timeout"), "{reason}");

    // Another customer resuming the control conversation, at every seq:
    // not_found, no transcript, no resync for the control pair.
    for last_seq in [0, 1, u64::MAX] {
        let (mut thief, welcome) = server
            .customer_with(json!({"type": "hello", "visitor_id": "thief",
                "resume": {"conversation_id": theirs, "last_seq": last_seq}}))
            .await;
        assert_eq!(welcome["conversation"], Value::Null);
        let error = thief.expect("error").await;
        assert_eq!(error["code"], "not_found");
        thief.expect_silence(Duration::from_millis(100)).await;
        // Nor can it rate it, or reach it with frames.
        refused(
            &mut thief,
            &json!({"type": "rate", "score": 1, "conversation_id": theirs}).to_string(),
            "not_found",
        )
        .await;
        refused(&mut thief, &say("t-1", "let me in").to_string(), "conflict").await;
        thief.close().await;
    }
    // The same thief, vouched for by a valid identity token.
    let token = identity(SECRET, "thief", "vip", 600);
    let (mut thief, _) = server
        .customer_with(json!({"type": "hello", "identity": token,
            "resume": {"conversation_id": theirs, "last_seq": u64::MAX, "epoch": 0}}))
        .await;
    assert_eq!(thief.expect("error").await["code"], "not_found");
    thief.close().await;

    // An agent resuming a chat it does not hold: `unassigned`, no transcript.
    let (mut eve, welcome) = agent_with(
        &server,
        json!({"type": "hello", "token": "token-eve",
            "resume": [{"conversation_id": theirs, "last_seq": 0},
                       {"conversation_id": theirs, "last_seq": u64::MAX},
                       {"conversation_id": "0190e0e0-0000-7000-8000-000000000000", "last_seq": 3}]}),
    )
    .await;
    assert_eq!(welcome["conversations"], json!([]));
    for _ in 0..3 {
        let frame = eve.expect("unassigned").await;
        assert_eq!(frame["reason"], "not_held");
    }
    eve.expect_silence(Duration::from_millis(100)).await;

    // Hellos after registering are refused, one by one, and the session goes on.
    for _ in 0..200 {
        eve.send(json!({"type": "hello", "token": "token-ann"}))
            .await;
    }
    for _ in 0..200 {
        let error = eve.expect("error").await;
        assert_eq!(error["message"], "hello was already received");
    }
    let (mut mallory, _) = server.customer("mallory").await;
    for _ in 0..200 {
        mallory
            .send(json!({"type": "hello", "visitor_id": "control"}))
            .await;
    }
    for _ in 0..200 {
        assert_eq!(mallory.expect("error").await["code"], "bad_request");
    }

    // A customer's own absurd resume: u64::MAX is ahead of its log, so its
    // own chat is resynced (§7.3), and only its own.
    mallory.send(start("earn", Some("mine"))).await;
    let mine = mallory.until("assigned").await["conversation_id"].clone();
    let _ = eve.until("assigned").await;
    let (mut tab, _) = server
        .customer_with(json!({"type": "hello", "visitor_id": "mallory",
            "resume": {"conversation_id": mine, "last_seq": u64::MAX}}))
        .await;
    for ws in [&mut tab, &mut mallory, &mut eve] {
        let resync = ws.expect("resync").await;
        assert_eq!(resync["conversation_id"], mine);
        assert_eq!(resync["reason"], "client_ahead");
        assert_eq!(ws.expect("message").await["text"], "mine");
    }
    // And 0 replays it whole.
    let (mut again, _) = server
        .customer_with(json!({"type": "hello", "visitor_id": "mallory",
            "resume": {"conversation_id": mine, "last_seq": 0}}))
        .await;
    assert_eq!(again.expect("message").await["text"], "mine");
    again.expect_silence(Duration::from_millis(100)).await;

    control.intact(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn adversarial_agents_reach_only_what_they_hold() {
    let server = TestServer::start(hostile_config()).await;
    let mut control = Control::new(&server).await;
    let theirs = control.conversation.clone();
    let (mut eve, mut mallory, mine) = hostile_pair(&server, "mallory").await;
    let (mut mal, _) = server.agent("token-mal").await;
    let random = json!("0190e0e0-0000-7000-8000-00000000beef");

    // Another agent's chat, a random id, and (for mal) a colleague's chat.
    for (which, target) in [(0, &theirs), (0, &random), (1, &theirs), (1, &mine)] {
        let who = if which == 0 { &mut eve } else { &mut mal };
        let error = refused(
            who,
            &reply(target, "x-1", "mine now").to_string(),
            "not_found",
        )
        .await;
        assert_eq!(error["ref"], "x-1");
        for frame in [
            json!({"type": "resolve", "conversation_id": target}),
            json!({"type": "escalate", "conversation_id": target, "note": "take it"}),
            json!({"type": "transfer", "conversation_id": target, "topic": "earn"}),
            json!({"type": "transfer", "conversation_id": target, "topic": "trading", "priority": "urgent"}),
            json!({"type": "typing", "conversation_id": target, "on": true}),
        ] {
            refused(who, &frame.to_string(), "not_found").await;
        }
    }
    mallory.expect_silence(Duration::from_millis(100)).await;

    // Agent token guessing from one address: the first burst of wrong
    // tokens is refused and closed; past it every attempt, the right token
    // included, is refused unchecked. Other addresses are not locked out.
    let guesser: std::net::IpAddr = "127.0.0.20".parse().unwrap();
    let burst = switchboard::config::SecuritySettings::default().auth_failure_burst;
    for n in 0..100 {
        let mut guess = Ws::connect_from(server.addr, "/ws/agent", guesser, &[])
            .await
            .unwrap();
        let token = match n % 4 {
            0 => format!("token-{n}"),
            1 => "token-an".to_string(),
            2 => "token-ann ".to_string(),
            _ => "t".repeat(10_000),
        };
        guess.send(json!({"type": "hello", "token": token})).await;
        let error = guess.expect("error").await;
        if n < burst {
            assert_eq!(error["code"], "unauthorized");
            assert_eq!(guess.expect_close().await, (1008, "unauthorized".into()));
        } else {
            assert_eq!(error["code"], "rate_limited", "attempt {n}: {error}");
            assert_eq!(guess.expect_close().await.0, 1008);
        }
    }
    let mut right = Ws::connect_from(server.addr, "/ws/agent", guesser, &[])
        .await
        .unwrap();
    right
        .send(json!({"type": "hello", "token": "token-ann"}))
        .await;
    assert_eq!(right.expect("error").await["code"], "rate_limited");
    for token in [json!(null), json!(1), json!(["token-ann"])] {
        let mut guess = Ws::connect(server.addr, "/ws/agent").await;
        refused(
            &mut guess,
            &json!({"type": "hello", "token": token}).to_string(),
            "bad_request",
        )
        .await;
        guess.close().await;
    }

    // Their own chat is untouched.
    let got = relayed(&mut mallory, &mut eve, "m-1", "still mine").await;
    assert_eq!(got["conversation_id"], mine);
    let (status, body) = server
        .get_with("/api/tickets", "Authorization: Bearer token-ann\r\n")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["tickets"],
        json!([])
    );
    control.intact(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn adversarial_unicode_passes_intact() {
    let server = TestServer::start(hostile_config()).await;
    let mut control = Control::new(&server).await;
    let (mut eve, mut mallory, _) = hostile_pair(&server, "mallory").await;

    let texts = [
        "🚀🌕 BTC to the moon 👩🏽‍💻🏳️‍🌈",
        "مرحبا، لم يصل إيداعي",
        "\u{202E}txt.exe\u{202C} and \u{200F}RTL mark",
        "zero\u{200B}width\u{200C}non\u{200D}joiner\u{FEFF}bom\u{2060}",
        "e\u{0301}\u{0301}\u{0301}\u{0301} combining marks Z\u{0335}\u{0358}\u{0324}",
        "line one\nline two\tand a tab",
        "中文 русский Tiếng Việt Türkçe",
        "\u{FFFD} replacement and \u{10FFFF} the last scalar",
    ];
    for (n, text) in texts.iter().enumerate() {
        let got = relayed(&mut mallory, &mut eve, &format!("u-{n}"), text).await;
        assert_eq!(got["text"], *text, "passed intact");
    }
    // Escaped surrogate pairs decode to the scalar they name; a lone surrogate
    // is not a Unicode string and is refused.
    mallory
        .send_text(r#"{"type":"message","client_msg_id":"s-1","text":"\ud83d\ude00"}"#)
        .await;
    assert_eq!(mallory.expect("message").await["text"], "😀");
    let _ = eve.expect("message").await;
    refused(
        &mut mallory,
        r#"{"type":"message","client_msg_id":"s-2","text":"\ud800"}"#,
        "bad_request",
    )
    .await;
    // The limit counts characters, not bytes: 4000 four-byte emoji fit.
    let wide = "😀".repeat(4000);
    let got = relayed(&mut mallory, &mut eve, "wide", &wide).await;
    assert_eq!(got["text"], wide.as_str());
    control.intact(&server).await;
    server.shutdown().await;
}

/// The main engineer is adding this refusal (text fields with control
/// characters other than `\n` and `\t`); until it lands this test fails.
#[tokio::test]
async fn adversarial_control_characters_are_refused() {
    let server = TestServer::start(hostile_config()).await;
    let mut control = Control::new(&server).await;
    let (mut eve, mut mallory, mine) = hostile_pair(&server, "mallory").await;
    for (n, text) in [
        "nul\u{0}byte",
        "escape \u{1b}[2J\u{1b}[31mred",
        "bell\u{7}",
        "carriage\rreturn",
        "delete\u{7f}",
        "c1 \u{9b}31m",
    ]
    .iter()
    .enumerate()
    {
        let error = refused(
            &mut mallory,
            &say(&format!("cc-{n}"), text).to_string(),
            "bad_request",
        )
        .await;
        assert_eq!(error["ref"], format!("cc-{n}"));
    }
    refused(
        &mut mallory,
        &json!({"type": "leave_message", "text": "ring\u{7}"}).to_string(),
        "bad_request",
    )
    .await;
    refused(
        &mut eve,
        &reply(&mine, "cc-a", "\u{0}").to_string(),
        "bad_request",
    )
    .await;
    refused(
        &mut eve,
        &json!({"type": "escalate", "conversation_id": mine, "note": "\u{1b}]0;pwned\u{7}"})
            .to_string(),
        "bad_request",
    )
    .await;
    eve.expect_silence(Duration::from_millis(100)).await;
    // Newlines and tabs are text.
    relayed(&mut mallory, &mut eve, "cc-ok", "one\ntwo\tthree").await;
    control.intact(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn adversarial_transport_frames() {
    let server = TestServer::start(hostile_config()).await;
    let mut control = Control::new(&server).await;
    let hello = json!({"type": "hello", "visitor_id": "raw"});

    // A binary frame after hello: 1003, as before it (bad_input.rs).
    let mut raw = RawWs::connect(server.addr, "/ws/customer").await;
    raw.json(&hello).await.unwrap();
    assert_eq!(raw.recv(WAIT).await["type"], "welcome");
    raw.frame(true, raw_ws::BINARY, b"\x00\x01", true)
        .await
        .unwrap();
    assert_eq!(
        raw.end(WAIT).await,
        Event::Close(1003, "binary frames are not supported".into())
    );

    // A close frame with a code no endpoint may send: the transport answers
    // 1002 (protocol error).
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999] {
        let mut raw = RawWs::connect(server.addr, "/ws/customer").await;
        raw.json(&hello).await.unwrap();
        let _ = raw.recv(WAIT).await;
        raw.frame(true, raw_ws::CLOSE, &code.to_be_bytes(), true)
            .await
            .unwrap();
        assert_eq!(
            raw.end(WAIT).await,
            Event::Close(1002, "Protocol violation".into()),
            "close code {code}"
        );
    }
    // A valid application code (4000-4999) is answered with itself.
    let mut raw = RawWs::connect(server.addr, "/ws/customer").await;
    raw.json(&hello).await.unwrap();
    let _ = raw.recv(WAIT).await;
    raw.frame(true, raw_ws::CLOSE, &4321u16.to_be_bytes(), true)
        .await
        .unwrap();
    assert!(
        matches!(raw.end(WAIT).await, Event::Close(4321, _)),
        "echoed"
    );

    // Fragments that never end, growing: the transport limit closes 1009.
    let mut raw = RawWs::connect(server.addr, "/ws/customer").await;
    raw.json(&hello).await.unwrap();
    let _ = raw.recv(WAIT).await;
    raw.frame(
        false,
        raw_ws::TEXT,
        b"{\"type\":\"message\",\"text\":\"",
        true,
    )
    .await
    .unwrap();
    let chunk = vec![b'a'; 4096];
    for _ in 0..40 {
        if raw
            .frame(false, raw_ws::CONTINUATION, &chunk, true)
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(
        raw.end(WAIT).await,
        Event::Close(1009, "frame exceeds the transport size limit".into())
    );

    // A fragmented message reassembled is one frame like any other.
    let mut raw = RawWs::connect(server.addr, "/ws/customer").await;
    let text = hello.to_string();
    let (a, b) = text.as_bytes().split_at(10);
    raw.frame(false, raw_ws::TEXT, a, true).await.unwrap();
    raw.frame(true, raw_ws::CONTINUATION, b, true)
        .await
        .unwrap();
    assert_eq!(raw.recv(WAIT).await["type"], "welcome");

    // A ping flood: thousands of pings in a few writes. Pings are answered
    // (tungstenite keeps at most one pong pending, so fewer pongs than pings),
    // cost no hub work, and the session goes on.
    let mut pings = Vec::new();
    for n in 0..5_000u32 {
        pings.extend(raw_ws::encode(true, raw_ws::PING, &n.to_be_bytes(), true));
    }
    raw.write(&pings).await.unwrap();
    raw.json(&start("trading", None)).await.unwrap();
    let mut pongs = 0;
    let answer = loop {
        match raw.next(WAIT).await {
            Event::Pong(_) => pongs += 1,
            Event::Text(v) => break v,
            other => panic!("expected pongs then an answer, got {other:?}"),
        }
    };
    assert!(pongs >= 1, "pings are answered");
    // ann is busy with the control chat (capacity 1): queued.
    assert_eq!(answer["type"], "queued", "{answer}");

    // Protocol violations the transport refuses: each ends the connection.
    // What it does exactly (a 1002 close, or dropped) is in
    // `transport_violations_close_1002`.
    control.intact(&server).await;
    server.shutdown().await;
}

/// Each frame that breaks RFC 6455 itself. Documented reaction: close 1002
/// (protocol error). Today the server drops the TCP connection without a
/// close frame (axum surfaces the error, the session ends as if the peer had
/// gone): this test reports which kinds get which.
#[tokio::test]
async fn adversarial_transport_violations_close_1002() {
    let server = TestServer::start(hostile_config()).await;
    let mut control = Control::new(&server).await;
    let hello = json!({"type": "hello", "visitor_id": "raw"}).to_string();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "unmasked text frame",
            raw_ws::encode(true, raw_ws::TEXT, b"{}", false),
        ),
        (
            "reserved data opcode 0x3",
            raw_ws::encode(true, 0x3, b"x", true),
        ),
        (
            "reserved control opcode 0xB",
            raw_ws::encode(true, 0xB, b"x", true),
        ),
        ("RSV1 set without an extension", {
            let mut f = raw_ws::encode(true, raw_ws::TEXT, b"{}", true);
            f[0] |= 0x40;
            f
        }),
        (
            "fragmented ping",
            raw_ws::encode(false, raw_ws::PING, b"x", true),
        ),
        (
            "ping over 125 bytes",
            raw_ws::encode(true, raw_ws::PING, &[0; 126], true),
        ),
        (
            "continuation with nothing to continue",
            raw_ws::encode(true, raw_ws::CONTINUATION, b"x", true),
        ),
        ("a new text frame inside a fragmented one", {
            let mut f = raw_ws::encode(false, raw_ws::TEXT, b"{", true);
            f.extend(raw_ws::encode(true, raw_ws::TEXT, b"{}", true));
            f
        }),
    ];
    let mut outcomes = Vec::new();
    for (name, bytes) in &cases {
        for registered in [false, true] {
            let mut raw = RawWs::connect(server.addr, "/ws/customer").await;
            if registered {
                raw.text(hello.as_bytes()).await.unwrap();
                let _ = raw.recv(WAIT).await;
            }
            let _ = raw.write(bytes).await;
            let end = raw.end(WAIT).await;
            assert_ne!(end, Event::Silence, "{name}: the connection must end");
            outcomes.push((name.to_string(), registered, end));
        }
    }
    control.intact(&server).await;
    for (name, registered, end) in &outcomes {
        eprintln!("{name} (after hello: {registered}): {end:?}");
    }
    for (name, registered, end) in outcomes {
        assert!(
            matches!(end, Event::Close(1002, _)),
            "{name} (after hello: {registered}): expected close 1002, got {end:?}"
        );
    }
    server.shutdown().await;
}

/// Invalid UTF-8 in a text frame: close 1007 (RFC 6455 §8.1). The main
/// engineer is changing this path; until that lands this test fails.
#[tokio::test]
async fn adversarial_invalid_utf8_closes_1007() {
    let server = TestServer::start(hostile_config()).await;
    let mut control = Control::new(&server).await;
    let hello = json!({"type": "hello", "visitor_id": "utf8"}).to_string();
    let mut outcomes = Vec::new();
    for (name, bytes) in [
        ("a lone continuation byte", &b"{\"type\":\"\x80\"}"[..]),
        ("an overlong encoding", &b"{\"type\":\"\xc0\xaf\"}"[..]),
        ("a UTF-16 surrogate", &b"{\"type\":\"\xed\xa0\x80\"}"[..]),
        ("past U+10FFFF", &b"{\"type\":\"\xf4\x90\x80\x80\"}"[..]),
        ("cut mid-character", &b"{\"type\":\"\xe2\x82"[..]),
    ] {
        for registered in [false, true] {
            let mut raw = RawWs::connect(server.addr, "/ws/customer").await;
            if registered {
                raw.text(hello.as_bytes()).await.unwrap();
                let _ = raw.recv(WAIT).await;
            }
            raw.text(bytes).await.unwrap();
            let end = raw.end(WAIT).await;
            outcomes.push((name, registered, end));
        }
    }
    // Split across fragments, each half invalid alone, valid together: fine.
    let mut raw = RawWs::connect(server.addr, "/ws/customer").await;
    let text = json!({"type": "hello", "visitor_id": "utf8", "x": "€"}).to_string();
    let cut = text.find('€').unwrap() + 1;
    raw.frame(false, raw_ws::TEXT, &text.as_bytes()[..cut], true)
        .await
        .unwrap();
    raw.frame(true, raw_ws::CONTINUATION, &text.as_bytes()[cut..], true)
        .await
        .unwrap();
    assert_eq!(raw.recv(WAIT).await["type"], "welcome");
    control.intact(&server).await;
    for (name, registered, end) in &outcomes {
        eprintln!("{name} (after hello: {registered}): {end:?}");
    }
    for (name, registered, end) in outcomes {
        assert!(
            matches!(end, Event::Close(1007, _)),
            "{name} (after hello: {registered}): expected close 1007, got {end:?}"
        );
    }
    server.shutdown().await;
}

/// Fragments that never end and never grow (empty continuation frames): before
/// `hello` the hello deadline closes them; after it, the dead-peer check
/// (nothing the session can read arrives) closes them within three pings.
#[tokio::test]
async fn adversarial_endless_fragments_are_closed_by_the_deadlines() {
    let mut cfg = hostile_config();
    cfg.timeouts.hello_secs = 1;
    cfg.timeouts.ping_secs = 1;
    let server = TestServer::start(cfg).await;
    let mut control = Control::new(&server).await;

    let endless = |mut raw: RawWs| async move {
        raw.frame(false, raw_ws::TEXT, b"{", true).await.unwrap();
        let started = tokio::time::Instant::now();
        let end = loop {
            if raw
                .frame(false, raw_ws::CONTINUATION, b"", true)
                .await
                .is_err()
            {
                break raw.end(WAIT).await;
            }
            match raw.next(Duration::from_millis(20)).await {
                Event::Silence | Event::Ping(_) => {}
                end => break end,
            }
            assert!(started.elapsed() < Duration::from_secs(10), "kept open");
        };
        (end, started.elapsed())
    };
    let before = RawWs::connect(server.addr, "/ws/customer").await;
    let mut after = RawWs::connect(server.addr, "/ws/customer").await;
    after
        .json(&json!({"type": "hello", "visitor_id": "endless"}))
        .await
        .unwrap();
    assert_eq!(after.recv(WAIT).await["type"], "welcome");
    // The control pair reads meanwhile, so its own pongs flow.
    let ((before, _), (after, _), (), ()) = tokio::join!(
        endless(before),
        endless(after),
        control.customer.expect_silence(Duration::from_millis(3500)),
        control.agent.expect_silence(Duration::from_millis(3500)),
    );
    assert_eq!(
        before,
        Event::Close(1008, "hello timeout: the first frame must be hello".into())
    );
    assert_eq!(
        after,
        Event::Close(1008, "no pong: connection presumed dead".into())
    );
    control
        .agent
        .expect_silence(Duration::from_millis(10))
        .await;
    control.intact(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn adversarial_oversized_upgrade_headers() {
    let server = TestServer::start(hostile_config()).await;
    let mut control = Control::new(&server).await;
    // One 100 KB header, and 1 MB of headers: hyper reads at most ~400 KB of
    // request head, then answers 431 or closes.
    let mut outcomes = Vec::new();
    for (name, extra) in [
        (
            "one 100 KB header",
            format!("X-Big: {}\r\n", "a".repeat(100 * 1024)),
        ),
        (
            "1 MB of headers",
            format!("X-Big: {}\r\n", "a".repeat(1024 * 1024)),
        ),
        (
            "2,000 small headers",
            (0..2000)
                .map(|n| format!("X-H{n}: v\r\n"))
                .collect::<String>(),
        ),
    ] {
        let answer = match RawWs::try_connect(server.addr, "/ws/customer", &extra).await {
            Ok(mut ws) => {
                ws.json(&json!({"type": "hello", "visitor_id": "headers"}))
                    .await
                    .unwrap();
                format!("upgraded: {}", ws.recv(WAIT).await["type"])
            }
            Err(head) => head.lines().next().unwrap_or("closed").to_string(),
        };
        eprintln!("{name}: {answer}");
        outcomes.push((name, answer));
    }
    let (code, body) = server.get("/healthz").await;
    assert_eq!(code, 200, "{body}");
    control.intact(&server).await;
    for (name, answer) in outcomes {
        match name {
            "one 100 KB header" => assert!(
                answer.starts_with("upgraded") || answer.contains("431") || answer == "closed",
                "{name}: {answer}"
            ),
            _ => assert!(
                answer.contains("431") || answer == "closed",
                "{name}: {answer}"
            ),
        }
    }
    server.shutdown().await;
}

/// With the documented default budgets (customer 10 a second, burst 20):
/// pings and hellos after `hello` spend the frame budget like any frame.
#[tokio::test]
async fn adversarial_floods_of_pings_and_hellos_meet_the_frame_budget() {
    let mut cfg = hostile_config();
    let defaults = switchboard::config::Limits::default();
    cfg.limits.customer_frames_per_sec = defaults.customer_frames_per_sec;
    cfg.limits.customer_frame_burst = defaults.customer_frame_burst;
    let server = TestServer::start(cfg).await;
    let mut control = Control::new(&server).await;

    // A ping flood: a few answered, then closed 1008 like a frame flood.
    let mut raw = RawWs::connect(server.addr, "/ws/customer").await;
    raw.json(&json!({"type": "hello", "visitor_id": "pinger"}))
        .await
        .unwrap();
    assert_eq!(raw.recv(WAIT).await["type"], "welcome");
    let mut pings = Vec::new();
    for n in 0..5_000u32 {
        pings.extend(raw_ws::encode(true, raw_ws::PING, &n.to_be_bytes(), true));
    }
    let _ = raw.write(&pings).await;
    assert_eq!(
        raw.end(WAIT).await,
        Event::Close(1008, "rate limit: kept sending while refused".into())
    );
    // Pinging at a sane pace is fine.
    let mut raw = RawWs::connect(server.addr, "/ws/customer").await;
    raw.json(&json!({"type": "hello", "visitor_id": "pinger"}))
        .await
        .unwrap();
    let _ = raw.recv(WAIT).await;
    for _ in 0..10 {
        raw.frame(true, raw_ws::PING, b"hi", true).await.unwrap();
        assert_eq!(raw.next(WAIT).await, Event::Pong(b"hi".to_vec()));
    }

    // A hello flood after registering: within the burst, each is refused as
    // a second hello; past it, rate_limited; then closed 1008.
    let (mut mallory, _) = server.customer("mallory").await;
    for _ in 0..200 {
        mallory
            .send(json!({"type": "hello", "visitor_id": "control"}))
            .await;
    }
    let (mut again, mut limited) = (0, 0);
    let close = loop {
        match mallory.next(WAIT).await {
            Some(Ok(error)) if error["code"] == "bad_request" => again += 1,
            Some(Ok(error)) if error["code"] == "rate_limited" => limited += 1,
            Some(Ok(other)) => panic!("{other}"),
            Some(Err(close)) => break close,
            None => panic!("not closed"),
        }
    };
    // The hub's answers to the taken ones race the close: some may be cut off.
    assert!(again <= defaults.customer_frame_burst, "{again}");
    assert!(limited > 0);
    assert_eq!(close.0, 1008, "{close:?}");
    control.intact(&server).await;
    server.shutdown().await;
}
