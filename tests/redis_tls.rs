//! Nodes on a `redis-server` that speaks only TLS (`rediss://`), its
//! certificate signed by a CA of the test's own: trusted through
//! `redis.tls_ca_file`, refused without it.

#![allow(clippy::unwrap_used)]

#[path = "hub/common.rs"]
mod common;
#[path = "support/node.rs"]
mod node;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::{
    net::SocketAddr,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::json;

/// A CA, and a certificate it signed for 127.0.0.1, written to `dir`.
fn certificates(dir: &Path) -> redis_server::Tls {
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "switchboard test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "redis");
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();

    let tls = redis_server::Tls {
        cert: dir.join("redis.pem"),
        key: dir.join("redis.key"),
        ca: dir.join("ca.pem"),
    };
    std::fs::write(&tls.cert, cert.pem()).unwrap();
    std::fs::write(&tls.key, key.serialize_pem()).unwrap();
    std::fs::write(&tls.ca, ca.pem()).unwrap();
    tls
}

const ROSTER: &str = r#"
[[agents]]
id = "ann"
name = "Ann"
token = "token-ann"
skills = ["trading"]
languages = ["en"]
capacity = 3
"#;

fn serve(redis: &redis_server::RedisServer, config: &Path, id: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .args(["--redis-url", &redis.url])
        .env("SWITCHBOARD_NODE_ID", id)
        .env("SWITCHBOARD_CLUSTER__LEASE_SECS", "1")
        .env("SWITCHBOARD_REDIS__PREFIX", "tls:");
    command
}

async fn role(addr: SocketAddr, role: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = http_get(addr, "/healthz", "").await;
        let health: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if health["role"] == role {
            assert_eq!(health["store"], "redis");
            return;
        }
        assert!(Instant::now() < deadline, "never {role}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_chat_through_a_redis_that_speaks_only_tls() {
    let dir = tempfile::tempdir().unwrap();
    let tls = certificates(dir.path());
    let redis = redis_server::RedisServer::start_tls(tls.clone());
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!("[redis]\ntls_ca_file = \"{}\"\n{ROSTER}", tls.ca.display()),
    )
    .unwrap();

    // The matcher (store, lease, presence, inbox) and a follower (the bus).
    let a = node::Node::spawn(serve(&redis, &config, "a"));
    role(a.addr, "matcher").await;
    let b = node::Node::spawn(serve(&redis, &config, "b"));
    role(b.addr, "follower").await;

    let mut ann = Ws::connect(a.addr, "/ws/agent").await;
    ann.send(json!({"type": "hello", "token": "token-ann"}))
        .await;
    let _ = ann.expect("welcome").await;
    let mut customer = Ws::connect(b.addr, "/ws/customer").await;
    customer
        .send(json!({"type": "hello", "visitor_id": "c"}))
        .await;
    let _ = customer.expect("welcome").await;
    customer.send(start("trading", Some("over TLS?"))).await;
    let echo = customer.expect("message").await;
    assert_eq!(echo["seq"], 1);
    let assigned = ann.expect("assigned").await;
    assert_eq!(assigned["transcript"][0]["text"], "over TLS?");
    ann.send(reply(&assigned["conversation_id"], "a-1", "yes"))
        .await;
    assert_eq!(customer.until("message").await["text"], "yes");
}

#[tokio::test]
async fn a_node_that_does_not_trust_redis_s_certificate_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let tls = certificates(dir.path());
    let redis = redis_server::RedisServer::start_tls(tls);
    let config = dir.path().join("switchboard.toml");
    std::fs::write(&config, ROSTER).unwrap();
    // The system's trust store does not know the test's CA.
    let output = serve(&redis, &config, "a")
        .env("SWITCHBOARD_REDIS__TIMEOUT_SECS", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("opening the store"), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}
