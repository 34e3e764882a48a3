//! Queue order, skills, languages and capacity.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

/// Start a chat and return the conversation id from the `queued` frame.
async fn queued_start(ws: &mut Ws, frame: Value) -> Value {
    ws.send(frame).await;
    let queued = ws.until("queued").await;
    queued["conversation_id"].clone()
}

#[tokio::test]
async fn urgent_before_vip_before_standard_and_fifo_within_each() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 1)])).await;

    let (mut standard_1, _) = server.customer("s1").await;
    let s1 = queued_start(
        &mut standard_1,
        start("trading", Some("question about fees")),
    )
    .await;
    let (mut vip, welcome) = server
        .customer_with(json!({"type": "hello", "identity": identity(SECRET, "42", "vip", 600)}))
        .await;
    assert_eq!(welcome["customer_key"], "u:42");
    let v = queued_start(&mut vip, start("trading", Some("futures question"))).await;
    let (mut standard_2, _) = server.customer("s2").await;
    let s2 = queued_start(&mut standard_2, start("trading", None)).await;
    let (mut urgent, _) = server.customer("u1").await;
    let u = queued_start(
        &mut urgent,
        start(
            "trading",
            Some("I think my account was HACKED, please help"),
        ),
    )
    .await;

    let (mut ann, _) = server.agent("token-ann").await;
    let mut order = Vec::new();
    for _ in 0..4 {
        let assigned = ann.expect("assigned").await;
        let id = assigned["conversation_id"].clone();
        order.push((id.clone(), assigned["priority"].clone()));
        ann.send(json!({"type": "resolve", "conversation_id": id}))
            .await;
        let _ = ann.expect("ended").await;
    }
    assert_eq!(
        order,
        vec![
            (u, json!("urgent")),
            (v, json!("vip")),
            (s1, json!("standard")),
            (s2, json!("standard")),
        ]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn positions_count_higher_priorities_ahead() {
    // Spanish is spoken on the desk (the agent is not connected).
    let server = TestServer::start(config(vec![agent("es", &["earn"], &["es"], 1)])).await;
    let (mut a, _) = server.customer("a").await;
    a.send(start("earn", None)).await;
    assert_eq!(a.expect("queued").await["position"], 1);
    let (mut b, _) = server.customer("b").await;
    b.send(start("earn", None)).await;
    assert_eq!(b.expect("queued").await["position"], 2);
    // Urgent jumps ahead: both standard customers move back one place.
    let (mut c, _) = server.customer("c").await;
    c.send(start("earn", Some("withdrawal blocked since yesterday")))
        .await;
    let _ = c.expect("message").await;
    assert_eq!(c.expect("queued").await["position"], 1);
    assert_eq!(a.expect("queued").await["position"], 2);
    assert_eq!(b.expect("queued").await["position"], 3);
    // Another language is another line.
    let (mut d, _) = server.customer("d").await;
    d.send(json!({"type": "start", "topic": "earn", "language": "es"}))
        .await;
    assert_eq!(d.expect("queued").await["position"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn skills_and_languages_are_respected() {
    let server = TestServer::start(config(vec![
        agent("en-trader", &["trading"], &["en"], 3),
        agent("es-kyc", &["verification"], &["es"], 3),
    ]))
    .await;
    let (mut en_trader, _) = server.agent("token-en-trader").await;
    let (mut es_kyc, _) = server.agent("token-es-kyc").await;

    // Spanish verification goes to the Spanish KYC agent, not the trader.
    let (mut c1, _) = server.customer("c1").await;
    c1.send(json!({"type": "start", "topic": "verification", "language": "es-MX"}))
        .await;
    let assigned = es_kyc.expect("assigned").await;
    assert_eq!(assigned["language"], "es");
    assert_eq!(c1.expect("assigned").await["agent"]["id"], "es-kyc");

    // English verification: nobody serves it (language fallback is 60 s away).
    let (mut c2, _) = server.customer("c2").await;
    c2.send(json!({"type": "start", "topic": "verification", "language": "en"}))
        .await;
    assert_eq!(c2.expect("queued").await["position"], 1);
    // English earn: nobody has the skill.
    let (mut c3, _) = server.customer("c3").await;
    c3.send(start("earn", None)).await;
    assert_eq!(c3.expect("queued").await["position"], 1);

    en_trader.expect_silence(Duration::from_millis(300)).await;
    es_kyc.expect_silence(Duration::from_millis(100)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn capacity_is_never_exceeded_and_resolve_frees_a_slot() {
    let server = TestServer::start(config(vec![agent("ann", &["api"], &["en"], 2)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let mut customers = Vec::new();
    for i in 0..3 {
        let (mut ws, _) = server.customer(&format!("c{i}")).await;
        ws.send(start("api", None)).await;
        customers.push(ws);
    }
    let first = ann.expect("assigned").await["conversation_id"].clone();
    let _second = ann.expect("assigned").await;
    ann.expect_silence(Duration::from_millis(300)).await;
    let waiting = customers[2].expect("queued").await;
    assert_eq!(waiting["position"], 1);

    ann.send(json!({"type": "resolve", "conversation_id": first}))
        .await;
    assert_eq!(ann.expect("ended").await["conversation_id"], first);
    let third = ann.expect("assigned").await;
    assert_eq!(third["conversation_id"], waiting["conversation_id"]);
    assert_eq!(customers[2].expect("assigned").await["agent"]["id"], "ann");
    server.shutdown().await;
}

#[tokio::test]
async fn least_loaded_agent_is_chosen_then_longest_idle() {
    let server = TestServer::start(config(vec![
        agent("big", &["general"], &["en"], 4),
        agent("small", &["general"], &["en"], 2),
    ]))
    .await;
    let (mut big, _) = server.agent("token-big").await;
    let (mut small, _) = server.agent("token-small").await;
    // Both idle at 0 load: `big` has been idle longer (it connected first).
    let mut who = Vec::new();
    let mut customers = Vec::new();
    for i in 0..4 {
        let (mut ws, _) = server.customer(&format!("c{i}")).await;
        ws.send(start("general", None)).await;
        who.push(ws.expect("assigned").await["agent"]["id"].clone());
        customers.push(ws);
    }
    // big 0/4 → big; then small 0/2 < big 1/4 → small; then big 1/4 < small 1/2 → big;
    // then big 2/4 = small 1/2, small idle longer → small.
    assert_eq!(
        who,
        vec![json!("big"), json!("small"), json!("big"), json!("small")]
    );
    let _ = (big.expect("assigned").await, small.expect("assigned").await);
    server.shutdown().await;
}

#[tokio::test]
async fn language_fallback_after_its_delay() {
    let mut cfg = config(vec![
        agent("ann", &["trading"], &["en"], 3),
        // Turkish is spoken on the desk, but not by anyone who does trading.
        agent("kyc-tr", &["verification"], &["tr"], 3),
    ]);
    cfg.routing.language_fallback_secs = 1;
    let server = TestServer::start(cfg).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c1").await;
    customer
        .send(json!({"type": "start", "topic": "trading", "language": "tr"}))
        .await;
    assert_eq!(customer.expect("queued").await["position"], 1);
    ann.expect_silence(Duration::from_millis(600)).await;
    let assigned = ann.expect("assigned").await;
    assert_eq!(assigned["language"], "tr");
    assert!(assigned["waited_seconds"].as_u64().unwrap() >= 1);
    assert_eq!(customer.expect("assigned").await["agent"]["id"], "ann");
    server.shutdown().await;
}

#[tokio::test]
async fn a_language_nobody_speaks_is_routed_in_the_fallback_language_at_once() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 3)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    let (mut customer, _) = server.customer("c1").await;
    customer
        .send(json!({"type": "start", "topic": "trading", "language": "tlh"}))
        .await;
    assert_eq!(ann.expect("assigned").await["language"], "en");
    assert_eq!(customer.expect("assigned").await["agent"]["id"], "ann");
    server.shutdown().await;
}

#[tokio::test]
async fn away_agents_get_nothing_new_and_online_takes_the_queue() {
    let server = TestServer::start(config(vec![agent("ann", &["earn"], &["en"], 3)])).await;
    let (mut ann, _) = server.agent("token-ann").await;
    ann.send(json!({"type": "status", "status": "away"})).await;
    assert_eq!(
        ann.expect("status").await,
        json!({"type": "status", "status": "away", "reason": null})
    );
    let (mut customer, _) = server.customer("c1").await;
    customer.send(start("earn", None)).await;
    let _ = customer.expect("queued").await;
    ann.expect_silence(Duration::from_millis(300)).await;
    ann.send(json!({"type": "status", "status": "online"}))
        .await;
    let _ = ann.expect("status").await;
    let _ = ann.expect("assigned").await;
    server.shutdown().await;
}
