//! Ticket store throughput, memory and Redis: what filing a ticket costs (one
//! commit, as the hub makes it when a chat ends unresolved), and what a page of
//! the REST list costs over 10,000 tickets, unfiltered and with a filter only
//! one ticket in seven passes.
//!
//! The Redis runs start their own `redis-server` (Debian's package) on a free
//! loopback port, without persistence.
//!
//! Run: `cargo bench --bench tickets`.

#![allow(clippy::unwrap_used)]

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::{hint::black_box, sync::Arc, time::Duration};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Map;
use switchboard::{
    config::RedisSettings,
    domain::{Author, ConversationId, CustomerProfile, Message, Priority},
    store::{Change, MemoryStore, RedisStore, Store},
    tickets::{Filing, TicketId, TicketQuery, TicketReason},
};
use time::OffsetDateTime;
use tokio::runtime::Runtime;

const TOPICS: [&str; 7] = [
    "account_access",
    "verification",
    "deposit_withdrawal",
    "trading",
    "earn",
    "api",
    "general",
];
/// Messages in a filed transcript: a typical unresolved chat.
const TRANSCRIPT: u64 = 20;
const PRELOADED: usize = 10_000;

fn filing(n: usize) -> Change {
    let at = OffsetDateTime::now_utc();
    let conversation = ConversationId::new();
    let messages = (1..=TRANSCRIPT)
        .map(|seq| Message {
            seq,
            from: if seq % 2 == 0 {
                Author::Agent
            } else {
                Author::Customer
            },
            agent_id: (seq % 2 == 0).then(|| "ann".into()),
            client_msg_id: Some(format!("m-{seq}").into()),
            text: Arc::from("My withdrawal of 0.5 BTC has been pending for two hours, TxID 9f2c…"),
            ts: at,
        })
        .collect();
    Change::Ticketed(Box::new(Filing {
        conversation,
        candidate: TicketId::new(),
        customer: CustomerProfile {
            key: format!("u:{n}").into(),
            verified: true,
            name: None,
            vip: false,
        },
        topic: TOPICS[n % TOPICS.len()].into(),
        language: "en".into(),
        priority: Priority::Standard,
        reason: TicketReason::QueueTimeout,
        agent: Some("ann".into()),
        note: None,
        metadata: Map::new(),
        messages,
        queue_wait_secs: 600,
        first_response_secs: None,
        started_at: at,
        at,
        notify: true,
    }))
}

fn bench_store(c: &mut Criterion, name: &str, store: Arc<dyn Store>, runtime: &Runtime) {
    let mut group = c.benchmark_group(format!("tickets/{name}"));
    group.throughput(Throughput::Elements(1));
    let mut n = 0;
    group.bench_function("file", |b| {
        b.iter(|| {
            n += 1;
            runtime.block_on(store.commit(&[filing(n)])).unwrap()
        });
    });
    // The list runs over PRELOADED more tickets than the filing left behind.
    runtime.block_on(async {
        for chunk in (0..PRELOADED).collect::<Vec<_>>().chunks(500) {
            let batch: Vec<Change> = chunk.iter().map(|&i| filing(1_000_000 + i)).collect();
            store.commit(&batch).await.unwrap();
        }
    });
    let page = TicketQuery {
        limit: 50,
        ..TicketQuery::default()
    };
    group.bench_function("list 50", |b| {
        b.iter(|| black_box(runtime.block_on(store.tickets(&page)).unwrap()));
    });
    let filtered = TicketQuery {
        topic: Some("earn".into()),
        limit: 50,
        ..TicketQuery::default()
    };
    group.bench_function("list 50, 1 in 7 passes", |b| {
        b.iter(|| black_box(runtime.block_on(store.tickets(&filtered)).unwrap()));
    });
    group.finish();
}

fn tickets(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    bench_store(c, "memory", Arc::new(MemoryStore::default()), &runtime);
    let redis = redis_server::RedisServer::start();
    let settings = RedisSettings {
        prefix: "bench:".into(),
        ..RedisSettings::default()
    };
    let store = runtime
        .block_on(RedisStore::connect(&redis.url, &settings))
        .unwrap();
    bench_store(c, "redis", Arc::new(store), &runtime);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = tickets
}
criterion_main!(benches);
