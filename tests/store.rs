//! The store contract, written once for every backend: each backend's test
//! calls `contract` with a fresh store. (The Redis backend joins here.)

#![allow(clippy::unwrap_used)]

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;

use serde_json::Map;
use smol_str::SmolStr;
use switchboard::{
    config::RedisSettings,
    domain::{
        Author, ConversationId, ConversationState, CustomerProfile, EndReason, Message, Priority,
    },
    store::{Change, MemoryStore, RedisStore, Store, StoreError},
};
use time::OffsetDateTime;

fn opened(id: ConversationId) -> Change {
    Change::Opened {
        id,
        customer: CustomerProfile {
            key: "u:7".into(),
            verified: true,
            name: Some("Seven".into()),
            vip: true,
        },
        topic: "trading".into(),
        language: "en".into(),
        priority: Priority::Vip,
        metadata: Map::new(),
        at: OffsetDateTime::now_utc(),
    }
}

fn ended(id: ConversationId, state: ConversationState, reason: EndReason) -> Change {
    Change::Ended {
        id,
        state,
        reason,
        at: OffsetDateTime::now_utc(),
    }
}

fn message(id: ConversationId, seq: u64, text: &str) -> Change {
    Change::Appended {
        id,
        message: Message {
            seq,
            from: Author::Customer,
            agent_id: None,
            client_msg_id: Some(SmolStr::new(format!("c-{seq}"))),
            text: text.into(),
            ts: OffsetDateTime::now_utc(),
        },
    }
}

async fn contract(store: Arc<dyn Store>) {
    let a = ConversationId::new();
    let b = ConversationId::new();
    store
        .commit(&[
            opened(a),
            message(a, 1, "one"),
            Change::Assigned {
                id: a,
                agent: "ann".into(),
            },
            message(a, 2, "two"),
            opened(b),
        ])
        .await
        .unwrap();
    let record = store.conversation(a).await.unwrap().unwrap();
    assert_eq!(record.state, ConversationState::Assigned);
    assert_eq!(record.agent.as_deref(), Some("ann"));
    assert_eq!(record.customer.key, "u:7");
    let texts: Vec<_> = record.messages.iter().map(|m| m.text.to_string()).collect();
    assert_eq!(texts, ["one", "two"]);

    // A batch replayed after a partial failure does not double a message.
    store.commit(&[message(a, 2, "two")]).await.unwrap();
    assert_eq!(
        store.conversation(a).await.unwrap().unwrap().messages.len(),
        2
    );

    let open: Vec<_> = store
        .open_conversations()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(open, [a, b], "open conversations in creation order");

    store
        .commit(&[
            Change::Requeued {
                id: a,
                topic: "verification".into(),
                priority: Priority::Urgent,
            },
            ended(b, ConversationState::Abandoned, EndReason::Abandoned),
        ])
        .await
        .unwrap();
    let record = store.conversation(a).await.unwrap().unwrap();
    assert_eq!(record.state, ConversationState::Queued);
    assert_eq!(record.topic, "verification");
    assert_eq!(record.priority, Priority::Urgent);
    let ended = store.conversation(b).await.unwrap().unwrap();
    assert_eq!(ended.end_reason, Some(EndReason::Abandoned));
    assert!(ended.ended_at.is_some());
    store
        .commit(&[Change::Rated { id: b, score: 4 }])
        .await
        .unwrap();
    assert_eq!(
        store.conversation(b).await.unwrap().unwrap().rating,
        Some(4)
    );
    let open: Vec<_> = store
        .open_conversations()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(open, [a]);

    let unknown = ConversationId::new();
    assert!(store.conversation(unknown).await.unwrap().is_none());
    assert!(matches!(
        store.commit(&[message(unknown, 1, "x")]).await,
        Err(StoreError::Missing(id)) if id == unknown
    ));
    // All or nothing: the good change before the bad one is not applied either.
    assert!(
        store
            .commit(&[message(a, 3, "three"), message(unknown, 1, "x")])
            .await
            .is_err()
    );
    assert_eq!(
        store.conversation(a).await.unwrap().unwrap().messages.len(),
        2
    );
}

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    contract(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn memory_store_drops_the_oldest_ended_beyond_its_bound() {
    let store = MemoryStore::new(2);
    let ids: Vec<_> = (0..3).map(|_| ConversationId::new()).collect();
    for &id in &ids {
        store
            .commit(&[
                opened(id),
                ended(id, ConversationState::Resolved, EndReason::Resolved),
            ])
            .await
            .unwrap();
    }
    assert!(store.conversation(ids[0]).await.unwrap().is_none());
    assert!(store.conversation(ids[1]).await.unwrap().is_some());
    assert!(store.conversation(ids[2]).await.unwrap().is_some());
}

fn settings(prefix: &str) -> RedisSettings {
    RedisSettings {
        prefix: prefix.into(),
        ..RedisSettings::default()
    }
}

#[tokio::test]
async fn redis_store_keeps_the_contract() {
    let redis = redis_server::RedisServer::start();
    let store = RedisStore::connect(&redis.url, &settings("contract:"))
        .await
        .unwrap();
    contract(Arc::new(store)).await;
}

#[tokio::test]
async fn redis_prefixes_keep_deployments_apart() {
    let redis = redis_server::RedisServer::start();
    let one = RedisStore::connect(&redis.url, &settings("one:"))
        .await
        .unwrap();
    let two = RedisStore::connect(&redis.url, &settings("two:"))
        .await
        .unwrap();
    let id = ConversationId::new();
    one.commit(&[opened(id), message(id, 1, "one")])
        .await
        .unwrap();
    assert!(two.conversation(id).await.unwrap().is_none());
    assert!(two.open_conversations().await.unwrap().is_empty());
    assert_eq!(one.open_conversations().await.unwrap().len(), 1);
    // And each keeps the contract beside the other.
    contract(Arc::new(two)).await;
}

#[tokio::test]
async fn redis_ended_conversations_expire() {
    let redis = redis_server::RedisServer::start();
    let store = RedisStore::connect(
        &redis.url,
        &RedisSettings {
            retain_ended_secs: 1,
            ..settings("expiry:")
        },
    )
    .await
    .unwrap();
    let id = ConversationId::new();
    store
        .commit(&[
            opened(id),
            message(id, 1, "bye"),
            ended(id, ConversationState::Resolved, EndReason::Resolved),
        ])
        .await
        .unwrap();
    assert!(store.conversation(id).await.unwrap().is_some());
    // Redis expires keys on its own clock; poll instead of guessing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while store.conversation(id).await.unwrap().is_some() {
        assert!(std::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_down_is_unavailable_and_back_is_served() {
    let mut redis = redis_server::RedisServer::start();
    let store = RedisStore::connect(&redis.url, &settings("outage:"))
        .await
        .unwrap();
    let id = ConversationId::new();
    store.commit(&[opened(id)]).await.unwrap();
    redis.kill();
    let down = store.commit(&[message(id, 1, "lost?")]).await;
    assert!(matches!(down, Err(StoreError::Unavailable(_))), "{down:?}");
    // Back, but empty (this test server persists nothing): the store reconnects by
    // itself and refuses to write into a store that forgot what it acknowledged.
    redis.restart();
    let id = ConversationId::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match store.commit(&[opened(id)]).await {
            Err(StoreError::Reset) => break,
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("expected the reset to be noticed, got {other:?}"),
        }
        assert!(std::time::Instant::now() < deadline, "never reconnected");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Once the caller adopts the reset (and writes back what it holds), writes go on.
    store.adopt_reset().await.unwrap();
    store.commit(&[opened(id)]).await.unwrap();
    assert!(store.conversation(id).await.unwrap().is_some());
}

#[tokio::test]
async fn unreachable_redis_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = RedisStore::connect(&format!("redis://127.0.0.1:{port}/"), &settings("x:"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
}
