//! The matcher lease and its fence, against a real `redis-server`.

#![allow(clippy::unwrap_used)]

#[path = "support/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use switchboard::{
    cluster::lease::MatcherLease,
    config::RedisSettings,
    domain::{ConversationId, CustomerProfile, Priority},
    store::{Change, RedisStore, RedisTarget, Store, StoreError},
};
use time::OffsetDateTime;

const PREFIX: &str = "lease:";

async fn lease(redis: &redis_server::RedisServer, node: &str, ttl_ms: u64) -> MatcherLease {
    MatcherLease::connect(
        &RedisTarget::new(&redis.url, &RedisSettings::default()),
        PREFIX,
        node,
        Duration::from_millis(ttl_ms),
    )
    .await
    .unwrap()
}

/// Take the lease as soon as its holder's TTL runs out (within 5 s).
async fn acquire_once_expired(lease: &MatcherLease) -> switchboard::cluster::lease::Fence {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(fence) = lease.try_acquire().await.unwrap() {
            return fence;
        }
        assert!(Instant::now() < deadline, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn opened() -> Change {
    Change::Opened {
        id: ConversationId::new(),
        customer: CustomerProfile {
            key: "v:x".into(),
            verified: false,
            name: None,
            vip: false,
        },
        topic: "trading".into(),
        language: "en".into(),
        priority: Priority::Standard,
        metadata: Default::default(),
        at: OffsetDateTime::now_utc(),
    }
}

#[tokio::test]
async fn one_holder_at_a_time_with_increasing_tokens() {
    let redis = redis_server::RedisServer::start();
    let one = lease(&redis, "n1", 60_000).await;
    let two = lease(&redis, "n2", 60_000).await;
    let first = one.try_acquire().await.unwrap().expect("free lease taken");
    assert_eq!(first.holder, format!("n1:{}", first.token));
    assert_eq!(two.try_acquire().await.unwrap(), None, "held by n1");
    assert!(one.renew(&first).await.unwrap());
    // n2 cannot renew what it does not hold, even knowing the token.
    let forged = switchboard::cluster::lease::Fence {
        token: first.token,
        holder: format!("n2:{}", first.token),
    };
    assert!(!two.renew(&forged).await.unwrap());
    // Released on shutdown: taken at once, with a greater token.
    one.release(&first).await.unwrap();
    let second = two
        .try_acquire()
        .await
        .unwrap()
        .expect("released lease taken");
    assert!(second.token > first.token);
    assert!(!one.renew(&first).await.unwrap(), "the old holder lost it");
}

#[tokio::test]
async fn an_unrenewed_lease_expires_and_passes_on() {
    let redis = redis_server::RedisServer::start();
    let one = lease(&redis, "n1", 300).await;
    let two = lease(&redis, "n2", 300).await;
    let first = one.try_acquire().await.unwrap().unwrap();
    // n1 stops renewing (paused, partitioned, dead): n2 gets it within the TTL.
    let second = acquire_once_expired(&two).await;
    assert!(second.token > first.token);
    assert!(
        !one.renew(&first).await.unwrap(),
        "n1 finds out when it renews"
    );
}

#[tokio::test]
async fn a_stale_matcher_cannot_commit() {
    let redis = redis_server::RedisServer::start();
    let settings = RedisSettings {
        prefix: PREFIX.into(),
        ..Default::default()
    };
    let stale_store = RedisStore::connect(&redis.url, &settings).await.unwrap();
    let new_store = RedisStore::connect(&redis.url, &settings).await.unwrap();
    let one = lease(&redis, "n1", 300).await;
    let two = lease(&redis, "n2", 60_000).await;

    let first = one.try_acquire().await.unwrap().unwrap();
    stale_store.set_fence(Some(first.holder.clone()));
    stale_store.commit(&[opened()]).await.unwrap();

    // n1 is paused past its TTL; n2 takes over and commits.
    let second = acquire_once_expired(&two).await;
    new_store.set_fence(Some(second.holder.clone()));
    new_store.commit(&[opened()]).await.unwrap();

    // n1 wakes up and tries to commit as matcher: refused, nothing written.
    let change = opened();
    let id = change.conversation();
    assert!(matches!(
        stale_store.commit(&[change]).await,
        Err(StoreError::Fenced)
    ));
    assert!(new_store.conversation(id).await.unwrap().is_none());
}

mod presence {
    use std::time::{Duration, Instant};

    use switchboard::{
        config::RedisSettings,
        presence::{NodePresence, PresenceBoard, RedisBoard},
        store::RedisTarget,
    };

    fn snapshot(node: &str) -> NodePresence {
        NodePresence {
            node: node.into(),
            agents: Vec::new(),
            queued: 0,
            at: time::OffsetDateTime::now_utc(),
        }
    }

    #[tokio::test]
    async fn nodes_appear_by_heartbeat_and_vanish_by_ttl_or_withdrawal() {
        let redis = super::redis_server::RedisServer::start();
        let target = RedisTarget::new(&redis.url, &RedisSettings::default());
        let one = RedisBoard::connect(&target, "presence:").await.unwrap();
        let two = RedisBoard::connect(&target, "presence:").await.unwrap();
        let other = RedisBoard::connect(&target, "elsewhere:").await.unwrap();
        // A publish tells whether the node's last entry was still there: not
        // the first time, then yes while it beats in time.
        for was_live in [false, true] {
            let n1 = snapshot("n1");
            let published = one.publish(&n1, Duration::from_secs(60)).await;
            assert_eq!(published.unwrap(), was_live);
        }
        two.publish(&snapshot("n2"), Duration::from_millis(300))
            .await
            .unwrap();
        other
            .publish(&snapshot("x"), Duration::from_secs(60))
            .await
            .unwrap();
        let names =
            |nodes: Vec<NodePresence>| nodes.into_iter().map(|n| n.node).collect::<Vec<_>>();
        assert_eq!(names(one.nodes().await.unwrap()), ["n1", "n2"]);
        // n2 stops beating (dead): gone within its TTL.
        let deadline = Instant::now() + Duration::from_secs(5);
        while names(one.nodes().await.unwrap()).len() > 1 {
            assert!(Instant::now() < deadline, "n2 never expired");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Beating again after a lapse, it learns it lapsed.
        let n2 = snapshot("n2");
        let again = two.publish(&n2, Duration::from_millis(300)).await;
        assert!(!again.unwrap());
        // n1 and n2 shut down cleanly: gone at once.
        one.withdraw("n1").await.unwrap();
        two.withdraw("n2").await.unwrap();
        assert!(two.nodes().await.unwrap().is_empty());
        assert_eq!(names(other.nodes().await.unwrap()), ["x"]);
    }
}
