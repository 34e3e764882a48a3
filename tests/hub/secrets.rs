//! Secrets customers must never send, end to end: each kind is masked in
//! what the agent gets, in the stored transcript (a resumed tab, the agent's
//! welcome), on the ticket, in the webhook body and (on Redis) in every key;
//! the customer is warned in its language; agents cannot ask for them.

use std::time::Duration;

use serde_json::json;
use switchboard::config::AgentRole;

use crate::{common::*, receiver::Receiver};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const WIF: &str = "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ";
const XPRV: &str = "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi";
const HEX_KEY: &str = "e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35";
const BACKUP_CODE: &str = "48213377";

/// (what the customer pastes, the secret in it, the mask that replaces it)
fn pastes() -> Vec<(String, &'static str, &'static str)> {
    vec![
        (
            format!(
                "my wallet words are: {}. please help!",
                MNEMONIC.to_uppercase()
            ),
            "ABANDON ABANDON ABANDON ABANDON",
            "[redacted: seed phrase]",
        ),
        (
            format!("wif {WIF} is it safe?"),
            WIF,
            "[redacted: private key]",
        ),
        (
            format!("here is my xprv: {XPRV} thanks"),
            XPRV,
            "[redacted: extended private key]",
        ),
        (
            format!("my private key is {HEX_KEY} please help"),
            HEX_KEY,
            "[redacted: private key]",
        ),
        (
            format!("My 2FA backup codes:\n1. {BACKUP_CODE}\n2. 90125566\nthanks"),
            BACKUP_CODE,
            "[redacted: 2FA backup codes]",
        ),
    ]
}

const SECRETS: [&str; 6] = [
    "abandon abandon abandon abandon",
    "ABANDON ABANDON",
    WIF,
    XPRV,
    HEX_KEY,
    BACKUP_CODE,
];

#[track_caller]
fn clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} holds `{secret}`:\n{text}");
    }
}

fn desk(receiver: &Receiver) -> switchboard::config::Config {
    let mut sup = agent("sup", &["general"], &["en"], 1);
    sup.role = AgentRole::Supervisor;
    let mut cfg = config(vec![agent("ann", &["trading"], &["en", "es"], 5), sup]);
    cfg.tickets.webhook_url = Some(receiver.url());
    cfg.tickets.webhook_secret = Some("helpdesk-shared-secret".into());
    cfg.tickets.webhook_backoff_ms = 50;
    cfg
}

#[tokio::test]
async fn every_kind_is_masked_in_relay_store_ticket_webhook_and_redis() {
    let receiver = Receiver::start(0).await;
    let server = TestServer::start(desk(&receiver)).await;
    let (mut ann, mut customer, conversation) =
        chatting(&server, "token-ann", "v-panic", "trading").await;
    for (n, (paste, secret, mask)) in pastes().into_iter().enumerate() {
        let id = format!("c-{n}");
        customer.send(say(&id, &paste)).await;
        let echo = customer.until("message").await;
        assert_eq!(echo["client_msg_id"], id.as_str());
        let stored = echo["text"].as_str().unwrap();
        assert!(stored.contains(mask), "{stored}");
        assert!(!stored.contains(secret), "{stored}");
        let relayed = ann.until("message").await;
        assert_eq!(relayed["text"], stored, "the agent gets the masked text");
        // The customer's warning follows: a system notice both sides see.
        let warning = customer.until("message").await;
        assert_eq!(warning["from"], "system", "{warning}");
        assert!(
            warning["text"]
                .as_str()
                .unwrap()
                .contains("Support will never ask"),
            "{warning}"
        );
        assert_eq!(ann.until("message").await["text"], warning["text"]);
    }
    // The stored transcript, as a new tab and the agent's next session see it.
    let (_tab, welcome) = server.customer("v-panic").await;
    clean("the customer's welcome", &welcome.to_string());
    let (_ann2, agent_welcome) = server.agent("token-ann").await;
    clean("the agent's welcome", &agent_welcome.to_string());
    // A start with a secret in its first text, in Spanish: warned in Spanish.
    let (mut other, _) = server.customer("v-es").await;
    other
        .send(json!({"type": "start", "topic": "trading", "language": "es", "text": format!("mi frase: {MNEMONIC}")}))
        .await;
    let mut spanish = None;
    for _ in 0..6 {
        let frame = other.recv().await;
        if frame["type"] == "message" && frame["from"] == "system" {
            spanish = Some(frame);
            break;
        }
    }
    let spanish = spanish.expect("a warning");
    assert!(
        spanish["text"]
            .as_str()
            .unwrap()
            .contains("El soporte nunca"),
        "{spanish}"
    );

    // A ticket of the conversation, and the webhook body.
    ann.send(json!({"type": "escalate", "conversation_id": conversation, "note": "customer pasted secrets"}))
        .await;
    let ended = customer.until("ended").await;
    let ticket_id = ended["ticket_id"].as_str().unwrap().to_string();
    let (status, ticket) = server
        .get_with(
            &format!("/api/tickets/{ticket_id}"),
            "Authorization: Bearer token-sup\r\n",
        )
        .await;
    assert_eq!(status, 200, "{ticket}");
    assert!(ticket.contains("[redacted: seed phrase]"), "{ticket}");
    clean("the ticket", &ticket);
    let delivered = receiver.wait_for(1).await;
    let body = String::from_utf8_lossy(&delivered[0].body).to_string();
    assert!(body.contains("[redacted: extended private key]"), "{body}");
    clean("the webhook body", &body);

    let metrics = server.get("/metrics").await.1;
    for kind in [
        "seed_phrase",
        "wif_private_key",
        "extended_private_key",
        "hex_private_key",
        "2fa_backup_codes",
    ] {
        assert!(
            metrics.contains(&format!(
                "switchboard_secrets_redacted_total{{kind=\"{kind}\"}}"
            )),
            "{kind}:\n{metrics}"
        );
    }
    assert!(
        metrics.contains(r#"switchboard_secrets_redacted_total{kind="seed_phrase"} 2"#),
        "{metrics}"
    );

    if let Some(redis) = &server.redis {
        let dump = redis_dump(&redis.url).await;
        assert!(
            dump.contains("[redacted: seed phrase]"),
            "the transcript is in Redis"
        );
        clean("Redis", &dump);
    }
    server.shutdown().await;
}

/// Every value of every key of a Redis, as text.
async fn redis_dump(url: &str) -> String {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut out = String::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let value: redis::Value = match kind.as_str() {
            "string" => redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap(),
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .unwrap(),
            "hash" => redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap(),
            "set" => redis::cmd("SMEMBERS")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .unwrap(),
            "stream" => redis::cmd("XRANGE")
                .arg(&key)
                .arg("-")
                .arg("+")
                .query_async(&mut conn)
                .await
                .unwrap(),
            _ => redis::Value::Nil,
        };
        out.push_str(&format!("{key}: {value:?}\n"));
        if let redis::Value::Array(items) = &value {
            for item in items {
                if let redis::Value::BulkString(bytes) = item {
                    out.push_str(&String::from_utf8_lossy(bytes));
                    out.push('\n');
                }
            }
        }
        if let redis::Value::BulkString(bytes) = &value {
            out.push_str(&String::from_utf8_lossy(bytes));
            out.push('\n');
        }
    }
    out
}

#[tokio::test]
async fn ordinary_messages_pass_unmasked_and_unwarned() {
    let receiver = Receiver::start(0).await;
    let server = TestServer::start(desk(&receiver)).await;
    let (mut ann, mut customer, _) = chatting(&server, "token-ann", "v-calm", "trading").await;
    let txid = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";
    for (n, text) in [
        format!("my withdrawal is stuck, txid {txid}"),
        "I lost access to my account after I changed my phone".to_string(),
        "my address is bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq, xpub6CUGRUonZSQ4TWtTMmzXdrXDtypWKiKrhko4egpiMZbpiaQL2jkwSB1icqYh2cfDfVxdx4df189oLKnC5fSwqPfgyP3hooxujYzAu3fDVmz".to_string(),
    ]
    .iter()
    .enumerate()
    {
        customer.send(say(&format!("c-{n}"), text)).await;
        assert_eq!(customer.until("message").await["text"], text.as_str());
        assert_eq!(ann.until("message").await["text"], text.as_str());
    }
    customer.expect_silence(Duration::from_millis(200)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_agent_asking_for_a_secret_is_refused_and_may_rephrase() {
    let receiver = Receiver::start(0).await;
    let server = TestServer::start(desk(&receiver)).await;
    let (mut ann, mut customer, conversation) =
        chatting(&server, "token-ann", "v-mark", "trading").await;
    for (n, ask) in [
        "To verify your wallet, please send me your 12-word seed phrase.",
        "What is your 2FA code?",
        "Please tell me your password so I can check the account.",
    ]
    .iter()
    .enumerate()
    {
        let id = format!("a-{n}");
        ann.send(reply(&conversation, &id, ask)).await;
        let refused = ann.until("error").await;
        assert_eq!(refused["code"], "bad_request", "{refused}");
        assert_eq!(refused["ref"], id.as_str());
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("support never asks"),
            "{refused}"
        );
    }
    customer.expect_silence(Duration::from_millis(200)).await;
    let warning = "Never share your seed phrase or 2FA codes with anyone, including us.";
    ann.send(reply(&conversation, "a-ok", warning)).await;
    assert_eq!(customer.until("message").await["text"], warning);
    let metrics = server.get("/metrics").await.1;
    assert!(
        metrics.contains(r#"switchboard_secret_requests_refused_total{kind="seed_phrase"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"switchboard_secret_requests_refused_total{kind="password"} 1"#),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn nothing_unmasked_reaches_the_logs() {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(
        &path,
        "[[agents]]\nid = \"ann\"\nname = \"Ann\"\ntoken = \"token-ann\"\nskills = [\"trading\"]\nlanguages = [\"en\"]\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .env("SWITCHBOARD_LOG", "trace")
        // The suite's own switch would read as an unknown config key.
        .env_remove("SWITCHBOARD_TEST_STORE")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // The bound address is logged: read until it appears.
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ = lines_tx.send(all.clone());
        }
        all
    });
    let addr = loop {
        let seen = lines_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the server logs");
        if let Some(rest) = seen.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    let server = TestServer::attach(addr);
    let (mut ann, mut customer, _) = chatting(&server, "token-ann", "v-log", "trading").await;
    for (n, (paste, _, _)) in pastes().into_iter().enumerate() {
        customer.send(say(&format!("c-{n}"), &paste)).await;
        ann.until("message").await;
    }
    ann.close().await;
    customer.close().await;
    let _ = child.kill();
    let _ = child.wait();
    let logs = reader.join().unwrap();
    assert!(logs.contains("v:v-log"), "trace logs were read:\n{logs}");
    clean("the logs", &logs);
}
