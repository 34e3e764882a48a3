//! 200 customers and 10 agents of capacity 3 connect at once: no conversation is
//! assigned twice, no capacity is exceeded, and the rest queue at 1..n per line.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use serde_json::{Value, json};

use crate::common::*;

const CUSTOMERS: usize = 200;
const AGENTS: usize = 10;
const TOPICS: [&str; 2] = ["trading", "deposit_withdrawal"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_arrivals_are_assigned_once_within_capacity() {
    let agents = (0..AGENTS)
        .map(|i| agent(&format!("a{i}"), &TOPICS, &["en"], 3))
        .collect();
    let server = TestServer::start(config(agents)).await;
    let addr = server.addr;

    let mut tasks = Vec::new();
    for i in 0..AGENTS {
        tasks.push(tokio::spawn(async move {
            let mut ws = Ws::connect(addr, "/ws/agent").await;
            ws.send(json!({"type": "hello", "token": format!("token-a{i}")}))
                .await;
            let _ = ws.expect("welcome").await;
            let mut held = Vec::new();
            // Collect every assignment until things are quiet.
            while let Some(Ok(frame)) = ws.next(Duration::from_millis(1500)).await {
                if frame["type"] == "assigned" {
                    held.push(frame["conversation_id"].clone());
                }
            }
            (format!("a{i}"), held, ws)
        }));
    }
    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        customers.push(tokio::spawn(async move {
            let mut ws = Ws::connect(addr, "/ws/customer").await;
            ws.send(json!({"type": "hello", "visitor_id": format!("c{i}")}))
                .await;
            let _ = ws.expect("welcome").await;
            let topic = TOPICS[i % TOPICS.len()];
            ws.send(start(topic, None)).await;
            let mut last: Option<Value> = None;
            let mut assigned = Vec::new();
            while let Some(Ok(frame)) = ws.next(Duration::from_millis(1500)).await {
                match frame["type"].as_str() {
                    Some("queued") => last = Some(frame),
                    Some("assigned") => assigned.push(frame),
                    _ => {}
                }
            }
            (topic, last, assigned, ws)
        }));
    }

    let mut held_by: HashMap<Value, String> = HashMap::new();
    let mut sockets = Vec::new();
    for task in tasks {
        let (agent, held, ws) = task.await.unwrap();
        assert!(
            held.len() <= 3,
            "{agent} holds {} chats over capacity 3",
            held.len()
        );
        for conversation in held {
            if let Some(other) = held_by.insert(conversation.clone(), agent.clone()) {
                panic!("{conversation} assigned to both {other} and {agent}");
            }
        }
        sockets.push(ws);
    }
    assert_eq!(held_by.len(), AGENTS * 3, "every slot is filled");

    let mut positions: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut assigned_customers = HashSet::new();
    for task in customers {
        let (topic, last, assigned, ws) = task.await.unwrap();
        assert!(
            assigned.len() <= 1,
            "a customer was assigned {} times",
            assigned.len()
        );
        if let Some(frame) = assigned.first() {
            let id = frame["conversation_id"].clone();
            assert_eq!(
                held_by.get(&id).map(String::as_str),
                frame["agent"]["id"].as_str()
            );
            assigned_customers.insert(id);
        } else {
            let last = last.expect("a customer not assigned was queued");
            positions
                .entry(topic)
                .or_default()
                .push(last["position"].as_u64().unwrap());
        }
        sockets.push(ws);
    }
    assert_eq!(assigned_customers.len(), AGENTS * 3);
    let mut waiting = 0;
    for (topic, mut seen) in positions {
        seen.sort_unstable();
        let expected: Vec<u64> = (1..=seen.len() as u64).collect();
        assert_eq!(seen, expected, "positions in the {topic} line");
        waiting += seen.len();
    }
    assert_eq!(waiting, CUSTOMERS - AGENTS * 3);
    drop(sockets);
    server.shutdown().await;
}
