//! The customer's tier in the agent's view (`customer.tier`): `vip` or
//! `standard` from the identity token, `null` for a visitor; in `assigned`, in
//! the agent's `welcome`, and after a restart on Redis.

use serde_json::{Value, json};

use crate::common::*;

/// An identity token with no `tier` claim: a standard account.
fn identity_without_tier(sub: &str) -> String {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    encode(
        &Header::default(),
        &json!({"sub": sub, "name": format!("User {sub}"), "exp": exp}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// The hellos of a vip, a standard account, one with no tier claim and a
/// visitor, with the tier the agent must see for each.
fn customers() -> Vec<(Value, Value)> {
    vec![
        (
            json!({"type": "hello", "identity": identity(SECRET, "7", "vip", 600)}),
            json!("vip"),
        ),
        (
            json!({"type": "hello", "identity": identity(SECRET, "8", "standard", 600)}),
            json!("standard"),
        ),
        (
            json!({"type": "hello", "identity": identity_without_tier("9")}),
            json!("standard"),
        ),
        (
            json!({"type": "hello", "visitor_id": "v-anon"}),
            Value::Null,
        ),
    ]
}

#[tokio::test]
async fn agents_see_the_tier_in_assigned_and_in_their_welcome() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 4)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let mut want = Vec::new();
    let mut sessions = Vec::new();
    for (hello, tier) in customers() {
        let (mut customer, welcome) = server.customer_with(hello).await;
        customer.send(start("trading", Some("hello"))).await;
        let assigned = ann.expect("assigned").await;
        let who = &assigned["customer"];
        assert_eq!(who["key"], welcome["customer_key"], "{assigned}");
        assert_eq!(who["tier"], tier, "{assigned}");
        assert!(who.get("tier").is_some(), "present even when null: {who}");
        assert_eq!(who["verified"], !tier.is_null(), "{who}");
        want.push((assigned["conversation_id"].clone(), tier));
        sessions.push(customer);
    }
    assert_eq!(
        want.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(),
        [
            json!("vip"),
            json!("standard"),
            json!("standard"),
            Value::Null
        ]
    );

    // A second console of hers lists the chats with the same tiers.
    let (_, welcome) = server.agent("token-ann").await;
    let listed: Vec<(Value, Value)> = welcome["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].clone(), c["customer"]["tier"].clone()))
        .collect();
    assert_eq!(listed, want, "{welcome}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_tier_survives_a_restart_on_redis() {
    let redis = RedisServer::start();
    let roster = || config(vec![agent("ann", &["trading"], &["en"], 1)]);
    let first = TestServer::start_with_store(roster(), redis_store(&redis, "tier:").await).await;
    let (mut ann, _) = first.agent("token-ann").await;
    let (mut vip, _) = first
        .customer_with(json!({"type": "hello", "identity": identity(SECRET, "7", "vip", 600)}))
        .await;
    vip.send(start("trading", Some("held by ann"))).await;
    let held = ann.expect("assigned").await["conversation_id"].clone();
    let _ = vip.until("assigned").await;
    // Ann is full: the standard account waits in the queue.
    let (mut standard, _) = first
        .customer_with(json!({"type": "hello", "identity": identity(SECRET, "8", "standard", 600)}))
        .await;
    standard.send(start("trading", Some("waiting"))).await;
    let waiting = standard.until("queued").await["conversation_id"].clone();
    first.shutdown().await;

    let second = TestServer::start_with_store(roster(), redis_store(&redis, "tier:").await).await;
    let (mut ann, welcome) = second.agent("token-ann").await;
    let conversation = &welcome["conversations"][0];
    assert_eq!(conversation["id"], held, "{welcome}");
    assert_eq!(conversation["customer"]["tier"], "vip", "{welcome}");
    ann.send(json!({"type": "resolve", "conversation_id": held}))
        .await;
    let assigned = ann.until("assigned").await;
    assert_eq!(assigned["conversation_id"], waiting, "{assigned}");
    assert_eq!(assigned["customer"]["tier"], "standard", "{assigned}");
    second.shutdown().await;
}
