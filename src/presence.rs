//! Who is on duty where: each node's agents (status, load, sessions), published
//! by a heartbeat with a TTL so a dead node's agents vanish on their own. With the
//! memory store there is one node and the board holds only its own snapshot.
//!
//! The matcher also posts its supervisor dashboard here every second, with a
//! short TTL, for followers (which have no hub) to serve.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use redis::{AsyncCommands, aio::ConnectionManager};
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

use crate::{
    hub::DashboardSnapshot,
    protocol::AgentStatus,
    store::{RedisTarget, StoreError, unavailable},
};

/// One agent as its node sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentPresence {
    /// Agent id.
    pub id: SmolStr,
    /// Display name.
    pub name: SmolStr,
    /// `online`, `away` or `offline`.
    pub status: AgentStatus,
    /// Open console sessions, on any node.
    pub sessions: usize,
    /// The nodes holding those sessions.
    pub nodes: Vec<String>,
    /// Chats held.
    pub load: u32,
    /// Most concurrent chats.
    pub capacity: u32,
}

/// One node's snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePresence {
    /// Node id (`node_id` in the configuration).
    pub node: String,
    /// Agents with at least one session on this node, or holding chats here.
    pub agents: Vec<AgentPresence>,
    /// Conversations waiting, as this node's hub counts them.
    pub queued: usize,
    /// When the snapshot was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
}

/// Where nodes publish their presence.
#[async_trait]
pub trait PresenceBoard: Send + Sync + std::fmt::Debug {
    /// Publish this node's snapshot, valid for `ttl`; `true` if its previous
    /// snapshot was still there (`false` the first time, and after a lapse:
    /// the node missed its heartbeats long enough to be taken for dead).
    async fn publish(&self, node: &NodePresence, ttl: Duration) -> Result<bool, StoreError>;
    /// Withdraw this node (graceful shutdown).
    async fn withdraw(&self, node: &str) -> Result<(), StoreError>;
    /// Every live node's latest snapshot.
    async fn nodes(&self) -> Result<Vec<NodePresence>, StoreError>;
    /// Post the matcher's dashboard, valid for `ttl` (replacing the last).
    async fn publish_dashboard(
        &self,
        snapshot: &DashboardSnapshot,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// The latest dashboard posted, unless its TTL has run out.
    async fn dashboard(&self) -> Result<Option<DashboardSnapshot>, StoreError>;
}

/// One node, no sharing: the board is this node's last snapshot.
#[derive(Debug, Default)]
pub struct MemoryBoard {
    last: Mutex<Option<NodePresence>>,
    /// The last dashboard posted and when it expires.
    dashboard: Mutex<Option<(DashboardSnapshot, Instant)>>,
}

#[async_trait]
impl PresenceBoard for MemoryBoard {
    async fn publish(&self, node: &NodePresence, _ttl: Duration) -> Result<bool, StoreError> {
        let previous = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .replace(node.clone());
        Ok(previous.is_some())
    }

    async fn withdraw(&self, _node: &str) -> Result<(), StoreError> {
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        Ok(())
    }

    async fn nodes(&self) -> Result<Vec<NodePresence>, StoreError> {
        Ok(self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect())
    }

    async fn publish_dashboard(
        &self,
        snapshot: &DashboardSnapshot,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        *self
            .dashboard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((snapshot.clone(), Instant::now() + ttl));
        Ok(())
    }

    async fn dashboard(&self) -> Result<Option<DashboardSnapshot>, StoreError> {
        let mut slot = self
            .dashboard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot
            .as_ref()
            .is_some_and(|(_, expires)| *expires <= Instant::now())
        {
            *slot = None;
        }
        Ok(slot.as_ref().map(|(snapshot, _)| snapshot.clone()))
    }
}

/// `P node:<id>` keys holding each node's snapshot as JSON, with a TTL; and
/// `P dashboard`, the matcher's latest dashboard as JSON, with a TTL.
#[derive(Clone)]
pub struct RedisBoard {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBoard")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisBoard {
    /// A board on this Redis, under `prefix`.
    pub async fn connect(target: &RedisTarget, prefix: &str) -> Result<Self, StoreError> {
        let connection = crate::store::redis_connection(target).await?;
        Ok(Self {
            connection,
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, node: &str) -> String {
        format!("{}node:{node}", self.prefix)
    }

    fn dashboard_key(&self) -> String {
        format!("{}dashboard", self.prefix)
    }
}

#[async_trait]
impl PresenceBoard for RedisBoard {
    async fn publish(&self, node: &NodePresence, ttl: Duration) -> Result<bool, StoreError> {
        let json = serde_json::to_string(node).map_err(unavailable)?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let mut connection = self.connection.clone();
        let previous: Option<String> = redis::cmd("SET")
            .arg(self.key(&node.node))
            .arg(json)
            .arg("PX")
            .arg(ttl_ms)
            .arg("GET")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(previous.is_some())
    }

    async fn withdraw(&self, node: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        connection
            .del::<_, ()>(self.key(node))
            .await
            .map_err(unavailable)
    }

    async fn nodes(&self) -> Result<Vec<NodePresence>, StoreError> {
        let mut connection = self.connection.clone();
        let pattern = format!("{}node:*", self.prefix);
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(100)
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        keys.sort();
        let values: Vec<Option<String>> = connection.mget(&keys).await.map_err(unavailable)?;
        Ok(values
            .into_iter()
            .flatten()
            .filter_map(|json| serde_json::from_str(&json).ok())
            .collect())
    }

    async fn publish_dashboard(
        &self,
        snapshot: &DashboardSnapshot,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(snapshot).map_err(unavailable)?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut connection = self.connection.clone();
        connection
            .pset_ex::<_, _, ()>(self.dashboard_key(), json, ttl_ms)
            .await
            .map_err(unavailable)
    }

    async fn dashboard(&self) -> Result<Option<DashboardSnapshot>, StoreError> {
        let mut connection = self.connection.clone();
        let json: Option<String> = connection
            .get(self.dashboard_key())
            .await
            .map_err(unavailable)?;
        let Some(json) = json else {
            return Ok(None);
        };
        match serde_json::from_str(&json) {
            Ok(snapshot) => Ok(Some(snapshot)),
            // Written by a node of another version, say: as good as none, and
            // the page waits for the next one rather than fail.
            Err(e) => {
                tracing::warn!(error = %e, "the published dashboard is unreadable");
                Ok(None)
            }
        }
    }
}
