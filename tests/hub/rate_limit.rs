//! Each session's frame budget: the frames past it are refused, by name, and
//! nothing refused is stored or relayed; sent again later, they go through.
//! A client that keeps sending into a closed budget is cut off.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

fn limited(per_sec: u32, burst: u32) -> switchboard::config::Config {
    let mut cfg = config(vec![agent("ann", &["trading"], &["en"], 3)]);
    cfg.limits.customer_frames_per_sec = per_sec;
    cfg.limits.customer_frame_burst = burst;
    cfg.limits.agent_frames_per_sec = per_sec;
    cfg.limits.agent_frame_burst = burst;
    cfg
}

/// The next `count` echoes and errors (other frames skipped), sorted out by
/// `client_msg_id` / `ref`: `(taken, refused)`.
async fn sort_out(ws: &mut Ws, count: usize) -> (Vec<String>, Vec<(String, Value)>) {
    let (mut taken, mut refused) = (Vec::new(), Vec::new());
    while taken.len() + refused.len() < count {
        let frame = ws.recv().await;
        match frame["type"].as_str() {
            Some("message") => taken.push(frame["client_msg_id"].as_str().unwrap().to_string()),
            Some("error") => refused.push((frame["ref"].as_str().unwrap_or("").to_string(), frame)),
            _ => {}
        }
    }
    (taken, refused)
}

#[tokio::test]
async fn frames_past_the_budget_are_refused_by_name_and_taken_when_sent_again() {
    let server = TestServer::start(limited(2, 3)).await;
    let (mut ann, mut customer, conversation) =
        chatting(&server, "token-ann", "c", "trading").await;
    // `start` spent one of the burst of 3.
    for n in 1..=5 {
        customer.send(say(&format!("c-{n}"), "hello?")).await;
    }
    let (taken, refused) = sort_out(&mut customer, 5).await;
    assert_eq!(taken, ["c-1", "c-2"]);
    let refs: Vec<&str> = refused.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(refs, ["c-3", "c-4", "c-5"]);
    for (_, error) in &refused {
        assert_eq!(error["code"], "rate_limited");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("2 frames a second"),
            "{error}"
        );
    }
    // The agent saw only what was taken.
    for id in ["c-1", "c-2"] {
        assert_eq!(ann.expect("message").await["client_msg_id"], id);
    }
    ann.expect_silence(Duration::from_millis(200)).await;

    // Sent again at the limit's pace, every refused one is stored, in order.
    for id in ["c-3", "c-4", "c-5"] {
        tokio::time::sleep(Duration::from_millis(550)).await;
        customer.send(say(id, "hello?")).await;
        let echo = customer.expect("message").await;
        assert_eq!(echo["client_msg_id"], id);
        assert_eq!(ann.expect("message").await, echo);
    }
    let (status, body) = server.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("switchboard_frame_errors_total{code=\"rate_limited\"} 3"),
        "{body}"
    );

    // A resume shows the transcript whole: 5 messages, seq 1..5.
    let (back, welcome) = server.customer("c").await;
    assert_eq!(welcome["conversation"]["id"], conversation);
    assert_eq!(welcome["conversation"]["last_seq"], 5);
    back.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_keeps_sending_while_refused_is_closed_and_others_carry_on() {
    let server = TestServer::start(limited(1, 2)).await;
    let (mut ann, mut bystander, conversation) =
        chatting(&server, "token-ann", "b", "trading").await;
    let (mut flood, _) = server.customer("flood").await;
    // 2 taken, then 4 bursts (8) refused, then closed.
    for _ in 0..11 {
        flood.send(json!({"type": "typing", "on": true})).await;
    }
    let (code, reason) = flood.expect_close().await;
    assert_eq!(code, 1008);
    assert!(reason.contains("rate limit"), "{reason}");

    bystander.send(say("b-1", "still here?")).await;
    assert_eq!(bystander.expect("message").await["client_msg_id"], "b-1");
    assert_eq!(ann.expect("message").await["client_msg_id"], "b-1");
    ann.send(reply(&conversation, "a-1", "yes")).await;
    assert_eq!(bystander.expect("message").await["client_msg_id"], "a-1");
    server.shutdown().await;
}

#[tokio::test]
async fn agents_are_held_to_their_own_budget() {
    let mut cfg = limited(1, 2);
    cfg.limits.customer_frame_burst = 50;
    cfg.limits.customer_frames_per_sec = 50;
    let server = TestServer::start(cfg).await;
    let (mut ann, mut customer, conversation) =
        chatting(&server, "token-ann", "c", "trading").await;
    for n in 1..=3 {
        ann.send(reply(&conversation, &format!("a-{n}"), "hi"))
            .await;
    }
    let (taken, refused) = sort_out(&mut ann, 3).await;
    assert_eq!(taken, ["a-1", "a-2"]);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, "a-3");
    assert_eq!(refused[0].1["code"], "rate_limited");
    for id in ["a-1", "a-2"] {
        assert_eq!(customer.expect("message").await["client_msg_id"], id);
    }
    server.shutdown().await;
}
