//! Identity tokens under attack (protocol §3): one algorithm (HS256) is
//! accepted, with `exp` required, `nbf` honoured and five seconds of clock
//! skew; `alg: none`, another HMAC, an asymmetric header (key confusion),
//! a tampered payload and header tricks (`kid`, `jku`) are all refused, and
//! never downgraded to an anonymous visitor.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::common::*;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A JWT with this header and these claims, signed HMAC-SHA256 with `key`
/// whatever the header says (`None`: no signature at all).
fn token(header: Value, claims: Value, key: Option<&[u8]>) -> String {
    let signed = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = key.map_or_else(String::new, |key| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(signed.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    });
    format!("{signed}.{signature}")
}

fn claims(exp_in: i64) -> Value {
    json!({"sub": "u-42", "tier": "vip", "name": "Mallory", "exp": now() + exp_in})
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

async fn hello(server: &TestServer, identity: &str) -> Value {
    let mut ws = Ws::connect(server.addr, "/ws/customer").await;
    ws.send(json!({"type": "hello", "identity": identity, "visitor_id": "fallback"}))
        .await;
    ws.recv().await
}

#[tokio::test]
async fn only_hs256_with_the_secret_and_a_live_exp_is_accepted() {
    let mut config = config(vec![agent("ann", &["general"], &["en"], 1)]);
    config.identity_secret = Some(SECRET.into());
    config.security.auth_failure_burst = 100;
    let server = TestServer::start(config).await;
    let key = Some(SECRET.as_bytes());

    let welcome = hello(&server, &token(hs256(), claims(600), key)).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["customer_key"], "u:u-42");
    // Clock skew: expired 2 s ago, or valid from 2 s from now, still passes.
    let skewed = json!({"sub": "u-42", "exp": now() - 2, "nbf": now() + 2});
    assert_eq!(
        hello(&server, &token(hs256(), skewed, key)).await["type"],
        "welcome"
    );
    // Header fields we never act on (no key is ever fetched) change nothing.
    let tricks =
        json!({"alg": "HS256", "kid": "../../dev/null", "jku": "https://evil.example/keys.json"});
    assert_eq!(
        hello(&server, &token(tricks, claims(600), key)).await["type"],
        "welcome"
    );

    let mut tampered = token(hs256(), claims(600), key);
    let genuine_payload = B64.encode(claims(600).to_string());
    let forged_payload =
        B64.encode(json!({"sub": "admin", "tier": "vip", "exp": now() + 600}).to_string());
    tampered = tampered.replacen(&genuine_payload, &forged_payload, 1);
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims(600),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let refusals: Vec<(&str, String, &str)> = vec![
        (
            "alg none, unsigned",
            token(json!({"alg": "none", "typ": "JWT"}), claims(600), None),
            "well-formed",
        ),
        (
            "alg None, unsigned",
            token(json!({"alg": "None"}), claims(600), None),
            "well-formed",
        ),
        (
            "alg none, signed anyway",
            token(json!({"alg": "none"}), claims(600), key),
            "well-formed",
        ),
        (
            "HS256 with the signature cut",
            token(hs256(), claims(600), None),
            "signature",
        ),
        ("algorithm switched to HS512", hs512, "HS256"),
        (
            "key confusion: RS256 header, HMAC signature",
            token(json!({"alg": "RS256"}), claims(600), key),
            "HS256",
        ),
        (
            "ES256 header",
            token(json!({"alg": "ES256"}), claims(600), key),
            "HS256",
        ),
        ("payload tampered after signing", tampered, "signature"),
        (
            "another secret",
            token(hs256(), claims(600), Some(b"not-the-secret-0123456789")),
            "signature",
        ),
        (
            "expired past the skew",
            token(hs256(), claims(-30), key),
            "expired",
        ),
        (
            "not valid for a minute",
            token(
                hs256(),
                json!({"sub": "u-42", "exp": now() + 600, "nbf": now() + 60}),
                key,
            ),
            "not valid yet",
        ),
        (
            "no exp",
            token(hs256(), json!({"sub": "u-42"}), key),
            "`exp`",
        ),
        (
            "no sub",
            token(hs256(), json!({"exp": now() + 600}), key),
            "`sub`",
        ),
        (
            "exp as a string",
            token(hs256(), json!({"sub": "u-42", "exp": "tomorrow"}), key),
            "`exp`",
        ),
        (
            "two parts",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0".into(),
            "well-formed",
        ),
    ];
    for (case, forged, says) in refusals {
        let mut ws = Ws::connect(server.addr, "/ws/customer").await;
        ws.send(json!({"type": "hello", "identity": forged, "visitor_id": "fallback"}))
            .await;
        let error = ws.recv().await;
        assert_eq!(error["code"], "unauthorized", "{case}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{case}: {error} should say {says}"
        );
        assert_eq!(
            ws.expect_close().await.0,
            1008,
            "{case}: never downgraded to the visitor"
        );
    }
    server.shutdown().await;
}
