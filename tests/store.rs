//! The store contract, written once for every backend: each backend's test
//! calls `contract` with a fresh store. (The Redis backend joins here.)

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::Map;
use smol_str::SmolStr;
use switchboard::{
    domain::{
        Author, ConversationId, ConversationState, CustomerProfile, EndReason, Message, Priority,
    },
    store::{Change, MemoryStore, Store, StoreError},
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
            Change::Ended {
                id: b,
                state: ConversationState::Abandoned,
                reason: EndReason::Abandoned,
                at: OffsetDateTime::now_utc(),
            },
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
                Change::Ended {
                    id,
                    state: ConversationState::Resolved,
                    reason: EndReason::Resolved,
                    at: OffsetDateTime::now_utc(),
                },
            ])
            .await
            .unwrap();
    }
    assert!(store.conversation(ids[0]).await.unwrap().is_none());
    assert!(store.conversation(ids[1]).await.unwrap().is_some());
    assert!(store.conversation(ids[2]).await.unwrap().is_some());
}
