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
    tickets::{
        Delivery, Filing, SCAN_BUDGET, Ticket, TicketId, TicketNote, TicketQuery, TicketReason,
        TicketStatus, TicketUpdate, UpdateError,
    },
};
use time::{Duration, OffsetDateTime};

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

/// A Redis store on `redis` under `prefix`.
async fn connect(redis: &redis_server::RedisServer, prefix: &str) -> RedisStore {
    RedisStore::connect(&redis.url, &settings(prefix))
        .await
        .unwrap()
}

#[tokio::test]
async fn redis_store_keeps_the_contract() {
    let redis = redis_server::RedisServer::start();
    let store = connect(&redis, "contract:").await;
    contract(Arc::new(store)).await;
}

#[tokio::test]
async fn redis_prefixes_keep_deployments_apart() {
    let redis = redis_server::RedisServer::start();
    let one = connect(&redis, "one:").await;
    let two = connect(&redis, "two:").await;
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
    let store = connect(&redis, "outage:").await;
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

// ---------------------------------------------------------------------------
// Tickets and the webhook outbox: the same contract on every backend.

fn transcript_message(seq: u64, text: &str) -> Message {
    Message {
        seq,
        from: Author::Customer,
        agent_id: None,
        client_msg_id: None,
        text: text.into(),
        ts: OffsetDateTime::now_utc(),
    }
}

/// A filing of `conversation` for `customer` on `topic`, ending now.
fn filing(conversation: ConversationId, customer: &str, topic: &str) -> Filing {
    let at = OffsetDateTime::now_utc();
    let mut metadata = Map::new();
    metadata.insert("uid".into(), customer.into());
    Filing {
        conversation,
        candidate: TicketId::new(),
        customer: CustomerProfile {
            key: customer.into(),
            verified: true,
            name: Some("Seven".into()),
            vip: false,
        },
        topic: topic.into(),
        language: "en".into(),
        priority: Priority::Standard,
        reason: TicketReason::QueueTimeout,
        agent: None,
        note: None,
        metadata,
        messages: vec![
            transcript_message(1, "my withdrawal is stuck"),
            transcript_message(2, "anyone?"),
        ],
        queue_wait_secs: 300,
        first_response_secs: None,
        started_at: at - Duration::minutes(5),
        at,
        notify: false,
    }
}

fn file(filing: &Filing) -> Change {
    Change::Ticketed(Box::new(filing.clone()))
}

fn note(author: &str, text: &str) -> TicketNote {
    TicketNote {
        author: author.into(),
        text: text.into(),
        at: OffsetDateTime::now_utc(),
    }
}

fn status(status: TicketStatus) -> TicketUpdate {
    TicketUpdate {
        status: Some(status),
        ..TicketUpdate::default()
    }
}

fn ids(tickets: &[Ticket]) -> Vec<TicketId> {
    tickets.iter().map(|t| t.id).collect()
}

/// Filing, deduplication, absorbing, closing and reopening.
async fn ticket_contract(store: Arc<dyn Store>) {
    // Ending a conversation and filing it are one batch; the receipt names the
    // ticket.
    let a = ConversationId::new();
    let mut first = filing(a, "u:1", "trading");
    first.agent = Some("ann".into());
    first.note = Some(note("ann", "needs the KYC team"));
    let receipt = store
        .commit(&[
            opened(a),
            message(a, 1, "hello"),
            ended(a, ConversationState::Ticketed, EndReason::Ticketed),
            file(&first),
        ])
        .await
        .unwrap();
    let id = first.candidate;
    assert_eq!(receipt.tickets, [(a, id)]);
    let ticket = store.ticket(id).await.unwrap().unwrap();
    assert_eq!(ticket, Ticket::open(&first));
    assert_eq!(ticket.revision, 1);
    assert_eq!(ticket.status, TicketStatus::Open);
    let texts: Vec<_> = ticket.conversations[0]
        .transcript
        .iter()
        .map(|m| m.text.to_string())
        .collect();
    assert_eq!(texts, ["my withdrawal is stuck", "anyone?"]);
    assert_eq!(ticket.notes.len(), 1);

    // A retried batch, or a second trigger with a fresh candidate, changes
    // nothing and reports the same ticket.
    let receipt = store.commit(&[file(&first)]).await.unwrap();
    assert_eq!(receipt.tickets, [(a, id)]);
    let again = Filing {
        candidate: TicketId::new(),
        ..first.clone()
    };
    let receipt = store.commit(&[file(&again)]).await.unwrap();
    assert_eq!(receipt.tickets, [(a, id)]);
    assert!(store.ticket(again.candidate).await.unwrap().is_none());
    assert_eq!(store.ticket(id).await.unwrap().unwrap(), ticket);

    // A second conversation of the customer on the topic joins the open ticket,
    // more urgent and with the newer reason.
    let b = ConversationId::new();
    let mut second = filing(b, "u:1", "trading");
    second.priority = Priority::Urgent;
    second.reason = TicketReason::Escalated;
    second.note = Some(note("bob", "suspected takeover"));
    let receipt = store.commit(&[file(&second)]).await.unwrap();
    assert_eq!(receipt.tickets, [(b, id)]);
    let mut expected = Ticket::open(&first);
    expected.absorb(&second);
    let ticket = store.ticket(id).await.unwrap().unwrap();
    assert_eq!(ticket, expected);
    assert_eq!(ticket.revision, 2);
    assert_eq!(ticket.status, TicketStatus::Open);
    assert_eq!(ticket.priority, Priority::Urgent);
    assert_eq!(ticket.reason, TicketReason::Escalated);
    let conversations: Vec<_> = ticket
        .conversations
        .iter()
        .map(|c| c.conversation_id)
        .collect();
    assert_eq!(conversations, [a, b]);
    assert_eq!(ticket.notes.len(), 2);
    // A later, less urgent one does not lower the priority.
    let c = ConversationId::new();
    let third = filing(c, "u:1", "trading");
    store.commit(&[file(&third)]).await.unwrap();
    expected.absorb(&third);
    let ticket = store.ticket(id).await.unwrap().unwrap();
    assert_eq!(ticket, expected);
    assert_eq!(ticket.priority, Priority::Urgent);
    assert_eq!(ticket.revision, 3);

    // Another topic is another ticket; several filings in one batch are
    // reported in batch order.
    let d = ConversationId::new();
    let e = ConversationId::new();
    let deposits = filing(d, "u:1", "deposits");
    let other_customer = filing(e, "u:2", "trading");
    let receipt = store
        .commit(&[file(&deposits), file(&other_customer)])
        .await
        .unwrap();
    assert_eq!(
        receipt.tickets,
        [(d, deposits.candidate), (e, other_customer.candidate)]
    );
    assert_ne!(deposits.candidate, id);
    assert_eq!(
        store.ticket(deposits.candidate).await.unwrap().unwrap(),
        Ticket::open(&deposits)
    );

    // Pending still takes new filings.
    let at = OffsetDateTime::now_utc();
    store
        .update_ticket(deposits.candidate, &status(TicketStatus::Pending), at)
        .await
        .unwrap();
    let f = ConversationId::new();
    let receipt = store
        .commit(&[file(&filing(f, "u:1", "deposits"))])
        .await
        .unwrap();
    assert_eq!(receipt.tickets, [(f, deposits.candidate)]);
    let pending = store.ticket(deposits.candidate).await.unwrap().unwrap();
    assert_eq!(pending.status, TicketStatus::Open);
    assert_eq!(pending.revision, 3);

    // Closing: status, assignee and note in one update, returned whole.
    let close = TicketUpdate {
        status: Some(TicketStatus::Closed),
        assignee: Some(Some("bob".into())),
        note: Some(note("bob", "refunded")),
        notify: false,
    };
    let at = OffsetDateTime::now_utc();
    let closed = store.update_ticket(id, &close, at).await.unwrap();
    expected.apply(&close, at);
    assert_eq!(closed, expected);
    assert_eq!(closed.status, TicketStatus::Closed);
    assert_eq!(closed.assignee.as_deref(), Some("bob"));
    assert_eq!(closed.revision, 4);
    assert_eq!(closed.updated_at, at);
    assert_eq!(store.ticket(id).await.unwrap().unwrap(), closed);

    // After closing, the next unresolved chat opens a new ticket...
    let g = ConversationId::new();
    let later = filing(g, "u:1", "trading");
    let receipt = store.commit(&[file(&later)]).await.unwrap();
    assert_eq!(receipt.tickets, [(g, later.candidate)]);
    assert_ne!(later.candidate, id);
    // ... and reopening the old one would make two open tickets.
    for reopen in [TicketStatus::Open, TicketStatus::Pending] {
        let refused = store
            .update_ticket(id, &status(reopen), OffsetDateTime::now_utc())
            .await;
        assert!(
            matches!(refused, Err(UpdateError::Conflict(other)) if other == later.candidate),
            "{refused:?}"
        );
    }
    assert_eq!(store.ticket(id).await.unwrap().unwrap(), closed);
    // Other changes to a closed ticket are fine; `Some(None)` unassigns.
    let unassign = TicketUpdate {
        assignee: Some(None),
        ..TicketUpdate::default()
    };
    let unassigned = store
        .update_ticket(id, &unassign, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(unassigned.assignee, None);
    assert_eq!(unassigned.status, TicketStatus::Closed);
    assert_eq!(unassigned.revision, 5);
    // Once the new one is closed, the old one may reopen, and takes the next
    // filing.
    store
        .update_ticket(
            later.candidate,
            &status(TicketStatus::Closed),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let reopened = store
        .update_ticket(id, &status(TicketStatus::Open), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(reopened.status, TicketStatus::Open);
    assert_eq!(reopened.revision, 6);
    let h = ConversationId::new();
    let receipt = store
        .commit(&[file(&filing(h, "u:1", "trading"))])
        .await
        .unwrap();
    assert_eq!(receipt.tickets, [(h, id)]);

    // No such ticket.
    let nobody = TicketId::new();
    assert!(store.ticket(nobody).await.unwrap().is_none());
    assert!(matches!(
        store
            .update_ticket(nobody, &status(TicketStatus::Closed), OffsetDateTime::now_utc())
            .await,
        Err(UpdateError::NotFound(missing)) if missing == nobody
    ));

    // A filing needs no stored conversation: it carries the transcript (here an
    // empty one, with no metadata).
    let lost = ConversationId::new();
    let mut orphan = filing(lost, "v:9", "trading");
    orphan.messages.clear();
    orphan.metadata.clear();
    let receipt = store.commit(&[file(&orphan)]).await.unwrap();
    assert_eq!(receipt.tickets, [(lost, orphan.candidate)]);
    let ticket = store.ticket(orphan.candidate).await.unwrap().unwrap();
    assert_eq!(ticket, Ticket::open(&orphan));
    assert!(ticket.conversations[0].transcript.is_empty());

    // All or nothing: a batch refused for another change files nothing.
    let unknown = ConversationId::new();
    let refused = filing(ConversationId::new(), "v:10", "trading");
    assert!(matches!(
        store
            .commit(&[file(&refused), message(unknown, 1, "x")])
            .await,
        Err(StoreError::Missing(id)) if id == unknown
    ));
    assert!(store.ticket(refused.candidate).await.unwrap().is_none());
}

/// Lists: newest first, filters, cursors.
async fn ticket_list_contract(store: Arc<dyn Store>) {
    let mut made = Vec::new();
    let mut since = None;
    for i in 0..5 {
        if i == 3 {
            // Tickets 3 and 4 are created at or after `since`, 0-2 before it.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            since = Some(OffsetDateTime::now_utc());
        }
        let topic = if i % 2 == 0 { "trading" } else { "deposits" };
        let filing = filing(ConversationId::new(), &format!("u:{i}"), topic);
        store.commit(&[file(&filing)]).await.unwrap();
        made.push(filing.candidate);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    store
        .update_ticket(
            made[1],
            &status(TicketStatus::Closed),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let newest_first = |picks: &[usize]| picks.iter().map(|&i| made[i]).collect::<Vec<_>>();
    let query = |limit| TicketQuery {
        limit,
        ..TicketQuery::default()
    };

    // Pages of two: 2, 2, 1, then the end.
    let page = store.tickets(&query(2)).await.unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[4, 3]));
    assert_eq!(page.next_cursor, Some(made[3]));
    let page = store
        .tickets(&TicketQuery {
            cursor: page.next_cursor,
            ..query(2)
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[2, 1]));
    assert_eq!(page.next_cursor, Some(made[1]));
    let page = store
        .tickets(&TicketQuery {
            cursor: page.next_cursor,
            ..query(2)
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[0]));
    assert_eq!(page.next_cursor, None);
    // Exactly everything: no cursor; one short of everything: a cursor.
    let page = store.tickets(&query(5)).await.unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[4, 3, 2, 1, 0]));
    assert_eq!(page.next_cursor, None);
    let page = store.tickets(&query(4)).await.unwrap();
    assert_eq!(page.next_cursor, Some(made[1]));
    let page = store.tickets(&query(0)).await.unwrap();
    assert!(page.tickets.is_empty());
    assert_eq!(page.next_cursor, None);
    // The listed tickets are whole.
    let page = store.tickets(&query(1)).await.unwrap();
    assert_eq!(
        page.tickets[0],
        store.ticket(made[4]).await.unwrap().unwrap()
    );

    // Filters.
    let page = store
        .tickets(&TicketQuery {
            status: Some(TicketStatus::Closed),
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[1]));
    assert_eq!(page.next_cursor, None);
    let page = store
        .tickets(&TicketQuery {
            status: Some(TicketStatus::Open),
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[4, 3, 2, 0]));
    let page = store
        .tickets(&TicketQuery {
            topic: Some("trading".into()),
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[4, 2, 0]));
    let page = store
        .tickets(&TicketQuery {
            customer: Some("u:3".into()),
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[3]));
    let page = store
        .tickets(&TicketQuery {
            created_since: since,
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[4, 3]));
    assert_eq!(page.next_cursor, None);

    // A filter with a cursor: the cursor is the last ticket looked at, and a
    // page may come back empty at the end.
    let deposits = |cursor| TicketQuery {
        topic: Some("deposits".into()),
        cursor,
        ..query(1)
    };
    let page = store.tickets(&deposits(None)).await.unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[3]));
    assert_eq!(page.next_cursor, Some(made[3]));
    let page = store.tickets(&deposits(page.next_cursor)).await.unwrap();
    assert_eq!(ids(&page.tickets), newest_first(&[1]));
    assert_eq!(page.next_cursor, Some(made[1]));
    let page = store.tickets(&deposits(page.next_cursor)).await.unwrap();
    assert!(page.tickets.is_empty());
    assert_eq!(page.next_cursor, None);
}

/// The webhook outbox: one delivery per notified revision, retried, dead-lettered
/// and redelivered.
async fn outbox_contract(store: Arc<dyn Store>) {
    assert_eq!(store.outbox_depth().await.unwrap(), (0, 0));
    // No webhook: nothing queued.
    store
        .commit(&[file(&filing(ConversationId::new(), "u:5", "trading"))])
        .await
        .unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), (0, 0));

    let a = ConversationId::new();
    let mut first = filing(a, "u:1", "trading");
    first.notify = true;
    let id = first.candidate;
    store.commit(&[file(&first)]).await.unwrap();
    // A retried filing queues nothing more.
    store.commit(&[file(&first)]).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let due = store.due_deliveries(now, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let created = due[0].clone();
    assert_eq!(created.key(), format!("{id}:1"));
    assert_eq!(created.event, "ticket.created");
    assert_eq!(created.ticket_id, id);
    assert_eq!(created.revision, 1);
    assert_eq!(created.attempts, 0);
    assert_eq!(created.last_error, None);
    assert_eq!(created.created_at, first.at);
    assert_eq!(
        created,
        Delivery::new(&store.ticket(id).await.unwrap().unwrap())
    );
    assert!(
        store
            .due_deliveries(first.at - Duration::seconds(1), 10)
            .await
            .unwrap()
            .is_empty(),
        "not due before the ticket changed"
    );
    assert_eq!(store.outbox_depth().await.unwrap(), (1, 0));

    // An absorbed filing and an update each queue their revision, oldest due
    // first.
    let mut second = filing(ConversationId::new(), "u:1", "trading");
    second.notify = true;
    store.commit(&[file(&second)]).await.unwrap();
    let update = TicketUpdate {
        assignee: Some(Some("ann".into())),
        notify: true,
        ..TicketUpdate::default()
    };
    let updated = store
        .update_ticket(id, &update, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(updated.revision, 3);
    let due = store
        .due_deliveries(OffsetDateTime::now_utc(), 10)
        .await
        .unwrap();
    let keys: Vec<_> = due.iter().map(Delivery::key).collect();
    assert_eq!(
        keys,
        [format!("{id}:1"), format!("{id}:2"), format!("{id}:3")]
    );
    assert_eq!(due[1].event, "ticket.updated");
    assert_eq!(due[2], Delivery::new(&updated));
    assert_eq!(
        store
            .due_deliveries(OffsetDateTime::now_utc(), 2)
            .await
            .unwrap()
            .len(),
        2
    );
    store.delivered(&due[1]).await.unwrap();
    store.delivered(&due[2]).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), (1, 0));

    // A failed attempt backs off: not due now, due later, with its attempts.
    let failed = Delivery {
        attempts: 1,
        last_error: Some("HTTP 503".into()),
        ..created.clone()
    };
    let now = OffsetDateTime::now_utc();
    store
        .retry_delivery(&failed, now + Duration::hours(1))
        .await
        .unwrap();
    assert!(store.due_deliveries(now, 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .due_deliveries(now + Duration::hours(2), 10)
            .await
            .unwrap(),
        std::slice::from_ref(&failed)
    );
    assert_eq!(store.outbox_depth().await.unwrap(), (1, 0));

    // The last failure: into the dead letters.
    let dead = Delivery {
        attempts: 8,
        last_error: Some("HTTP 500".into()),
        ..created.clone()
    };
    store.dead_letter(&dead).await.unwrap();
    assert_eq!(
        store.dead_letters(10).await.unwrap(),
        std::slice::from_ref(&dead)
    );
    assert!(store.dead_letters(0).await.unwrap().is_empty());
    assert!(
        store
            .due_deliveries(now + Duration::hours(2), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.outbox_depth().await.unwrap(), (0, 1));

    // Redelivered: due now, attempts reset.
    assert!(
        !store.redeliver(id, 2).await.unwrap(),
        "no such dead letter"
    );
    assert!(!store.redeliver(TicketId::new(), 1).await.unwrap());
    assert!(store.redeliver(id, 1).await.unwrap());
    assert!(
        !store.redeliver(id, 1).await.unwrap(),
        "already redelivered"
    );
    assert!(store.dead_letters(10).await.unwrap().is_empty());
    assert_eq!(store.outbox_depth().await.unwrap(), (1, 0));
    let due = store
        .due_deliveries(OffsetDateTime::now_utc() + Duration::seconds(1), 10)
        .await
        .unwrap();
    assert_eq!(
        due,
        [Delivery {
            attempts: 0,
            ..dead.clone()
        }]
    );

    // Delivered is gone for good: a late retry or dead letter from an
    // overlapping node brings nothing back.
    store.delivered(&due[0]).await.unwrap();
    store
        .retry_delivery(&failed, OffsetDateTime::now_utc())
        .await
        .unwrap();
    store.dead_letter(&dead).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), (0, 0));
    assert!(
        store
            .due_deliveries(OffsetDateTime::now_utc() + Duration::hours(2), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.dead_letters(10).await.unwrap().is_empty());
}

/// A narrow filter over more tickets than a call may look at: a short (here
/// empty) page with a cursor to go on from.
async fn scan_budget_contract(store: Arc<dyn Store>) {
    let mut made = Vec::new();
    let mut batch = Vec::new();
    for i in 0..=SCAN_BUDGET {
        // Only the oldest ticket is the one customer's.
        let customer = if i == 0 {
            "u:needle".to_string()
        } else {
            format!("u:{i}")
        };
        let mut filing = filing(ConversationId::new(), &customer, "trading");
        filing.messages.truncate(1);
        made.push(filing.candidate);
        batch.push(file(&filing));
        if batch.len() == 500 {
            store.commit(&batch).await.unwrap();
            batch.clear();
        }
    }
    store.commit(&batch).await.unwrap();
    let needle = |cursor| TicketQuery {
        customer: Some("u:needle".into()),
        cursor,
        limit: 10,
        ..TicketQuery::default()
    };
    let page = store.tickets(&needle(None)).await.unwrap();
    assert!(page.tickets.is_empty());
    assert_eq!(page.next_cursor, Some(made[1]), "stopped after the budget");
    let page = store.tickets(&needle(page.next_cursor)).await.unwrap();
    assert_eq!(ids(&page.tickets), [made[0]]);
    assert_eq!(page.next_cursor, None);
    // Exactly the budget left to look at: the end, no cursor.
    let page = store
        .tickets(&needle(Some(made[SCAN_BUDGET])))
        .await
        .unwrap();
    assert_eq!(ids(&page.tickets), [made[0]]);
    assert_eq!(page.next_cursor, None);
}

#[tokio::test]
async fn memory_store_keeps_the_scan_budget() {
    scan_budget_contract(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn redis_store_keeps_the_scan_budget() {
    let redis = redis_server::RedisServer::start();
    let store = connect(&redis, "budget:").await;
    scan_budget_contract(Arc::new(store)).await;
}

#[tokio::test]
async fn memory_store_keeps_the_ticket_contract() {
    ticket_contract(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn memory_store_keeps_the_ticket_list_contract() {
    ticket_list_contract(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn memory_store_keeps_the_outbox_contract() {
    outbox_contract(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn redis_store_keeps_the_ticket_contract() {
    let redis = redis_server::RedisServer::start();
    let store = connect(&redis, "tickets:").await;
    ticket_contract(Arc::new(store)).await;
}

#[tokio::test]
async fn redis_store_keeps_the_ticket_list_contract() {
    let redis = redis_server::RedisServer::start();
    let store = connect(&redis, "lists:").await;
    // Another deployment's tickets on the same Redis stay out of the lists.
    let neighbour = connect(&redis, "list:").await;
    neighbour
        .commit(&[file(&filing(ConversationId::new(), "u:1", "trading"))])
        .await
        .unwrap();
    ticket_list_contract(Arc::new(store)).await;
}

#[tokio::test]
async fn redis_store_keeps_the_outbox_contract() {
    let redis = redis_server::RedisServer::start();
    let store = connect(&redis, "outbox:").await;
    outbox_contract(Arc::new(store)).await;
}

#[tokio::test]
async fn redis_refuses_a_filing_under_a_stale_fence_whole() {
    let redis = redis_server::RedisServer::start();
    let store = connect(&redis, "fence:").await;
    let id = ConversationId::new();
    store.commit(&[opened(id)]).await.unwrap();
    // Nobody holds the lease under this value: the term is over.
    let stale = store.fenced("node-a:1");
    let mut late = filing(id, "u:1", "trading");
    late.notify = true;
    let refused = stale
        .commit(&[
            ended(id, ConversationState::Ticketed, EndReason::Ticketed),
            file(&late),
        ])
        .await;
    assert!(matches!(refused, Err(StoreError::Fenced)), "{refused:?}");
    assert!(store.ticket(late.candidate).await.unwrap().is_none());
    assert_eq!(store.outbox_depth().await.unwrap(), (0, 0));
    assert_eq!(
        store.conversation(id).await.unwrap().unwrap().state,
        ConversationState::Queued
    );
    // The unfenced store files it.
    let receipt = store.commit(&[file(&late)]).await.unwrap();
    assert_eq!(receipt.tickets, [(id, late.candidate)]);
}
