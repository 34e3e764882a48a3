//! The matcher lease: a Redis key `P matcher:lease` holding `<node>:<token>` with
//! a TTL, where the token comes from `INCR P matcher:fence` at each acquisition,
//! so every holder in history has a distinct, increasing token.
//!
//! Only the holder renews or releases it (checked atomically in Lua). The store's
//! commit script checks the same key when the node commits as matcher, which is
//! the fence: after the lease passes on, the old holder's writes are refused even
//! if it has not noticed yet.

use std::time::Duration;

use redis::{Script, aio::ConnectionManager};

use crate::store::{RedisTarget, StoreError, unavailable};

const ACQUIRE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"#;

const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// A held lease: the value that proves it in Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The fencing token: greater for every later holder.
    pub token: u64,
    /// `<node>:<token>`, the lease key's value while held.
    pub holder: String,
}

/// The lease of one node.
#[derive(Clone)]
pub struct MatcherLease {
    connection: ConnectionManager,
    node: String,
    lease_key: String,
    fence_key: String,
    ttl: Duration,
    acquire: Script,
    renew: Script,
    release: Script,
}

impl std::fmt::Debug for MatcherLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatcherLease")
            .field("node", &self.node)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl MatcherLease {
    /// The lease key under `prefix`; the store's fenced commits check it.
    pub fn key(prefix: &str) -> String {
        format!("{prefix}matcher:lease")
    }

    /// A lease handle for `node`, lasting `ttl` unless renewed.
    pub async fn connect(
        target: &RedisTarget,
        prefix: &str,
        node: &str,
        ttl: Duration,
    ) -> Result<Self, StoreError> {
        let connection = crate::store::redis_connection(target).await?;
        Ok(Self {
            connection,
            node: node.to_string(),
            lease_key: Self::key(prefix),
            fence_key: format!("{prefix}matcher:fence"),
            ttl,
            acquire: Script::new(ACQUIRE),
            renew: Script::new(RENEW),
            release: Script::new(RELEASE),
        })
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Take the lease if nobody holds it.
    pub async fn try_acquire(&self) -> Result<Option<Fence>, StoreError> {
        let mut connection = self.connection.clone();
        let token: Option<u64> = self
            .acquire
            .key(&self.lease_key)
            .key(&self.fence_key)
            .arg(&self.node)
            .arg(self.ttl_ms())
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(token.map(|token| Fence {
            token,
            holder: format!("{}:{token}", self.node),
        }))
    }

    /// Extend the lease; false if it is no longer ours (expired, taken over).
    pub async fn renew(&self, fence: &Fence) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let renewed: i64 = self
            .renew
            .key(&self.lease_key)
            .arg(&fence.holder)
            .arg(self.ttl_ms())
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(renewed == 1)
    }

    /// Who holds the lease now (`<node>:<token>`), if anyone.
    pub async fn holder(&self) -> Result<Option<String>, StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("GET")
            .arg(&self.lease_key)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)
    }

    /// Give the lease up (on shutdown), so another node takes over at once.
    pub async fn release(&self, fence: &Fence) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let _: i64 = self
            .release
            .key(&self.lease_key)
            .arg(&fence.holder)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
