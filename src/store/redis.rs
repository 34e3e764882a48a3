//! The Redis store: conversations survive the node, and many nodes can share them.
//!
//! Layout, under the configured prefix `P`:
//! - `P conv:<id>` hash: `header` (immutable JSON: customer, language, metadata,
//!   start time) and the mutable fields `topic`, `priority`, `state`, `agent`,
//!   `end_reason`, `ended_at`, `rating`, each a plain string so a script can set
//!   it without decoding JSON;
//! - `P msgs:<id>` list: the transcript, one JSON message per entry, index = seq − 1;
//! - `P open` set: ids of open conversations, to rebuild the hub on start-up.
//! - tickets and the webhook outbox: see `redis_tickets.rs` (never expire).
//!
//! A batch is applied by one Lua script call: one round trip, atomic, all or
//! nothing (it checks every conversation exists before writing anything), and
//! idempotent for appends (a message is pushed only at its `seq`), so a batch
//! retried after a lost reply does not double anything. Ended conversations expire
//! after `redis.retain_ended_secs`.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use async_trait::async_trait;
use redis::{
    AsyncCommands, Client, Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::{Change, ConversationRecord, Receipt, Store, StoreError, unavailable};
use crate::{
    config::RedisSettings,
    domain::{ConversationId, CustomerProfile, Language, Message},
    tickets::{Delivery, Ticket, TicketId, TicketPage, TicketQuery, TicketUpdate, UpdateError},
};

/// The part of a conversation that never changes after it is opened.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    customer: CustomerProfile,
    language: Language,
    metadata: Map<String, Value>,
    #[serde(with = "time::serde::rfc3339")]
    started_at: OffsetDateTime,
}

const COMMIT: &str = r#"
local p = ARGV[1]
local retain = tonumber(ARGV[2])
local ops = cjson.decode(ARGV[3])
if redis.call('GET', p .. 'epoch') ~= ARGV[5] then
  return redis.error_reply('RESET store epoch changed')
end
if ARGV[4] ~= '' and redis.call('GET', p .. 'matcher:lease') ~= ARGV[4] then
  return redis.error_reply('FENCED ' .. ARGV[4])
end
-- Conversations opened in this batch or found stored: each checked once.
local known = {}
local lengths = {}
for _, op in ipairs(ops) do
  if op.o == 'open' then
    known[op.id] = true
  elseif op.o == 'ticket' then
    -- A filing carries all it needs: no stored conversation required.
  elseif not known[op.id] then
    if redis.call('EXISTS', p .. 'conv:' .. op.id) == 0 then
      return redis.error_reply('MISSING ' .. op.id)
    end
    known[op.id] = true
  end
  if op.o == 'append' then
    -- A message beyond the end of the stored log means the log lost messages
    -- it had acknowledged: refuse, so the writer can write the log back whole.
    local len = lengths[op.id] or redis.call('LLEN', p .. 'msgs:' .. op.id)
    if op.seq - 1 > len then
      return redis.error_reply('GAP ' .. op.id)
    end
    -- A retried batch finds its messages stored: pushed once only.
    op.push = op.seq - 1 == len
    if op.push then len = len + 1 end
    lengths[op.id] = len
  end
end
local filed = {}
for _, op in ipairs(ops) do
  local key = p .. 'conv:' .. op.id
  if op.o == 'ticket' then
    filed[#filed + 1] = file_ticket(p, op)
  elseif op.o == 'open' then
    if redis.call('EXISTS', key) == 0 then
      redis.call('HSET', key, 'header', op.header, 'topic', op.topic,
        'priority', op.priority, 'state', 'queued')
      redis.call('SADD', p .. 'open', op.id)
    end
  elseif op.o == 'append' then
    if op.push then
      redis.call('RPUSH', p .. 'msgs:' .. op.id, op.msg)
    end
  elseif op.o == 'requeue' then
    redis.call('HSET', key, 'state', 'queued', 'topic', op.topic, 'priority', op.priority)
  elseif op.o == 'assign' then
    redis.call('HSET', key, 'state', 'assigned', 'agent', op.agent)
  elseif op.o == 'end' then
    redis.call('HSET', key, 'state', op.state, 'end_reason', op.reason, 'ended_at', op.at)
    redis.call('SREM', p .. 'open', op.id)
    redis.call('EXPIRE', key, retain)
    redis.call('EXPIRE', p .. 'msgs:' .. op.id, retain)
  elseif op.o == 'rate' then
    redis.call('HSET', key, 'rating', op.score)
  elseif op.o == 'epoch' then
    redis.call('HSET', key, 'epoch', op.epoch)
  end
end
-- The ticket of each filing, in batch order.
return filed
"#;

/// Where Redis is: its URL and, for a `rediss://` one, the certificate
/// authorities to trust if not the system's (`redis.tls_ca_file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// `redis://`, `rediss://` or `unix://` URL.
    pub url: String,
    /// PEM file of the CAs to trust for a `rediss://` URL.
    pub tls_ca_file: Option<std::path::PathBuf>,
}

impl RedisTarget {
    /// The Redis at `url`, with the TLS trust of `settings`.
    pub fn new(url: &str, settings: &RedisSettings) -> Self {
        Self {
            url: url.to_string(),
            tls_ca_file: settings.tls_ca_file.clone(),
        }
    }

    /// A client for it. With `rediss://`, Redis's certificate must chain to
    /// the CAs of `tls_ca_file`, or to the system's trust store without one.
    pub(crate) fn client(&self) -> Result<Client, StoreError> {
        match &self.tls_ca_file {
            Some(path) if self.url.starts_with("rediss://") => {
                let pem = std::fs::read(path).map_err(|e| {
                    unavailable(format!(
                        "cannot read redis.tls_ca_file {}: {e}",
                        path.display()
                    ))
                })?;
                Client::build_with_tls(
                    self.url.as_str(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem),
                    },
                )
                .map_err(unavailable)
            }
            _ => Client::open(self.url.as_str()).map_err(unavailable),
        }
    }
}

/// A self-reconnecting connection that gives up on a command after `timeout`
/// (so nothing, shutdown included, waits on an unreachable Redis for long).
pub(crate) async fn managed_connection(
    target: &RedisTarget,
    timeout: Duration,
) -> Result<ConnectionManager, StoreError> {
    let url = target.url.as_str();
    let client = target.client()?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(3);
    match tokio::time::timeout(
        timeout,
        ConnectionManager::new_with_config(client.clone(), config),
    )
    .await
    {
        Ok(connected) => connected.map_err(unavailable),
        Err(_) => {
            // The manager retries, so a refusal (a TLS certificate, a password)
            // would show as a mere timeout: one plain attempt says why.
            let why = match tokio::time::timeout(timeout, client.get_multiplexed_async_connection())
                .await
            {
                Ok(Err(e)) => format!(": {e}"),
                _ => String::new(),
            };
            Err(unavailable(format!(
                "no answer from {} within {timeout:?}{why}",
                crate::config::redact_url(url)
            )))
        }
    }
}

/// The command timeout of the cluster's own connections (lease, presence, bus).
pub(crate) const CLUSTER_TIMEOUT: Duration = Duration::from_secs(2);

/// Take the lease back after a reset if nobody holds it; keep the fencing
/// counter at least at this term's token, so later terms still get greater ones.
const RECLAIM: &str = r#"
local current = redis.call('GET', KEYS[1])
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
  if fence < tonumber(ARGV[3]) then redis.call('SET', KEYS[2], ARGV[3]) end
  return 1
elseif current == ARGV[1] then
  return 1
end
return 0
"#;

/// Conversations in Redis. The connection manager reconnects by itself, with
/// backoff, after Redis restarts or the network drops.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    retain_ended_secs: u64,
    commit: Script,
    /// While this node commits as matcher: the lease value its commits require.
    /// A std lock, held only to clone the value, never across an `.await`.
    fence: Arc<RwLock<Option<String>>>,
    /// The lease's TTL, to reclaim it after Redis lost it with everything else.
    lease_ttl: Duration,
    /// The store's epoch (`P epoch`, a random id set once): if Redis loses its
    /// data, the key is gone or different, and every commit is refused with
    /// `Reset` instead of writing into an empty store as if nothing happened.
    epoch: Arc<RwLock<String>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The wire string of a unit enum (`"queued"`, `"vip"` …).
pub(super) fn word<T: Serialize>(value: &T) -> Result<String, StoreError> {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => Ok(s),
        Ok(other) => Err(unavailable(format!("not a word: {other}"))),
        Err(e) => Err(unavailable(e)),
    }
}

pub(super) fn from_word<T: DeserializeOwned>(word: &str) -> Result<T, StoreError> {
    serde_json::from_value(Value::String(word.to_string()))
        .map_err(|e| unavailable(format!("corrupt field `{word}`: {e}")))
}

pub(super) fn rfc3339(at: &OffsetDateTime) -> Result<String, StoreError> {
    at.format(&time::format_description::well_known::Rfc3339)
        .map_err(unavailable)
}

impl RedisStore {
    /// Connect, failing at once if Redis cannot be reached: a node must not start
    /// on a store it cannot write to.
    pub async fn connect(url: &str, settings: &RedisSettings) -> Result<Self, StoreError> {
        let connection = managed_connection(
            &RedisTarget::new(url, settings),
            Duration::from_secs(settings.timeout_secs),
        )
        .await?;
        let store = Self {
            connection,
            prefix: settings.prefix.clone(),
            retain_ended_secs: settings.retain_ended_secs,
            // The ticket functions (`file_ticket`) the script calls come first.
            commit: Script::new(&[super::redis_tickets::LUA_TICKETS, COMMIT].concat()),
            fence: Arc::new(RwLock::new(None)),
            lease_ttl: Duration::from_secs(5),
            epoch: Arc::new(RwLock::new(String::new())),
        };
        store.adopt_epoch().await?;
        let mut connection = store.connection.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(store)
    }

    /// A handle on the same Redis whose commits require this lease value: one per
    /// matcher term, so a hub from an earlier term can never commit under a later
    /// term's fence.
    pub fn fenced(&self, holder: &str) -> Self {
        Self {
            fence: Arc::new(RwLock::new(Some(holder.to_string()))),
            epoch: Arc::new(RwLock::new(self.current_epoch())),
            ..self.clone()
        }
    }

    /// The handle for a matcher term: fenced by `holder`, and on the store's
    /// epoch as it is now (another node may have adopted a reset since this one
    /// connected, and the term restores from the store as it is).
    pub async fn for_term(&self, holder: &str, lease_ttl: Duration) -> Result<Self, StoreError> {
        let store = Self {
            lease_ttl,
            ..self.fenced(holder)
        };
        store.adopt_epoch().await?;
        Ok(store)
    }

    /// After a reset, the lease key is gone with the data: take it back for this
    /// term's holder, unless another node took it meanwhile (then `Fenced`).
    async fn reclaim_lease(&self, holder: &str) -> Result<(), StoreError> {
        let token: u64 = holder
            .rsplit(':')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let mut connection = self.connection.clone();
        let reclaimed: i64 = Script::new(RECLAIM)
            .key(crate::cluster::lease::MatcherLease::key(&self.prefix))
            .key(format!("{}matcher:fence", self.prefix))
            .arg(holder)
            .arg(u64::try_from(self.lease_ttl.as_millis()).unwrap_or(u64::MAX))
            .arg(token)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        if reclaimed == 1 {
            Ok(())
        } else {
            Err(StoreError::Fenced)
        }
    }

    /// Commit only while holding this lease (`Fence::holder`), or without
    /// condition (`None`, a single node).
    pub fn set_fence(&self, holder: Option<String>) {
        *self
            .fence
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = holder;
    }

    /// Read the store's epoch, creating it if this is a fresh (or wiped) store.
    async fn adopt_epoch(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let key = format!("{}epoch", self.prefix);
        let fresh = uuid::Uuid::now_v7().to_string();
        let _: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&fresh)
            .arg("NX")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let epoch: String = connection.get(&key).await.map_err(unavailable)?;
        *self
            .epoch
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = epoch;
        Ok(())
    }

    /// A handle on the connection, for the ticket half of the store.
    pub(super) fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The key prefix.
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    fn current_epoch(&self) -> String {
        self.epoch
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn current_fence(&self) -> String {
        self.fence
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .unwrap_or_default()
    }

    fn conv_key(&self, id: ConversationId) -> String {
        format!("{}conv:{id}", self.prefix)
    }

    fn msgs_key(&self, id: ConversationId) -> String {
        format!("{}msgs:{id}", self.prefix)
    }

    fn encode(change: &Change) -> Result<Value, StoreError> {
        Ok(match change {
            Change::Opened {
                id,
                customer,
                topic,
                language,
                priority,
                metadata,
                at,
            } => {
                let header = Header {
                    customer: customer.clone(),
                    language: language.clone(),
                    metadata: metadata.clone(),
                    started_at: *at,
                };
                json!({
                    "o": "open", "id": id.to_string(),
                    "header": serde_json::to_string(&header).map_err(unavailable)?,
                    "topic": topic.as_str(), "priority": word(priority)?,
                })
            }
            Change::Appended { id, message } => json!({
                "o": "append", "id": id.to_string(), "seq": message.seq,
                "msg": serde_json::to_string(message).map_err(unavailable)?,
            }),
            Change::Requeued {
                id,
                topic,
                priority,
            } => json!({
                "o": "requeue", "id": id.to_string(),
                "topic": topic.as_str(), "priority": word(priority)?,
            }),
            Change::Assigned { id, agent } => json!({
                "o": "assign", "id": id.to_string(), "agent": agent.as_str(),
            }),
            Change::Ended {
                id,
                state,
                reason,
                at,
            } => json!({
                "o": "end", "id": id.to_string(), "state": word(state)?,
                "reason": word(reason)?, "at": rfc3339(at)?,
            }),
            Change::Epoch { id, epoch } => json!({
                "o": "epoch", "id": id.to_string(), "epoch": epoch.to_string(),
            }),
            Change::Rated { id, score } => json!({
                "o": "rate", "id": id.to_string(), "score": score.to_string(),
            }),
            Change::Ticketed(filing) => super::redis_tickets::encode_filing(filing)?,
        })
    }

    /// Build a record from its hash and transcript.
    fn decode(
        id: ConversationId,
        fields: std::collections::HashMap<String, String>,
        messages: Vec<String>,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        let Some(header) = fields.get("header") else {
            return Ok(None);
        };
        let header: Header = serde_json::from_str(header)
            .map_err(|e| unavailable(format!("corrupt header of {id}: {e}")))?;
        let field = |name: &str| {
            fields
                .get(name)
                .cloned()
                .ok_or_else(|| unavailable(format!("{id} lacks `{name}`")))
        };
        let messages = messages
            .iter()
            .map(|m| serde_json::from_str::<Message>(m))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unavailable(format!("corrupt message of {id}: {e}")))?;
        Ok(Some(ConversationRecord {
            id,
            customer: header.customer,
            topic: field("topic")?.into(),
            language: header.language,
            priority: from_word(&field("priority")?)?,
            metadata: header.metadata,
            state: from_word(&field("state")?)?,
            agent: fields.get("agent").map(Into::into),
            messages,
            end_reason: fields.get("end_reason").map(|r| from_word(r)).transpose()?,
            rating: fields.get("rating").and_then(|r| r.parse().ok()),
            epoch: fields
                .get("epoch")
                .and_then(|e| e.parse().ok())
                .unwrap_or(0),
            started_at: header.started_at,
            ended_at: fields
                .get("ended_at")
                .map(|at| {
                    OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                        .map_err(unavailable)
                })
                .transpose()?,
        }))
    }

    async fn load_many(
        &self,
        ids: &[ConversationId],
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let mut records = Vec::with_capacity(ids.len());
        let mut connection = self.connection.clone();
        // One round trip per chunk, not per conversation.
        for chunk in ids.chunks(500) {
            let mut pipe = redis::pipe();
            for &id in chunk {
                pipe.hgetall(self.conv_key(id))
                    .lrange(self.msgs_key(id), 0, -1);
            }
            let replies: Vec<redis::Value> = pipe
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            let mut replies = replies.into_iter();
            for &id in chunk {
                let (Some(fields), Some(messages)) = (replies.next(), replies.next()) else {
                    return Err(unavailable("short pipeline reply"));
                };
                let fields = redis::from_redis_value(fields).map_err(unavailable)?;
                let messages = redis::from_redis_value(messages).map_err(unavailable)?;
                if let Some(record) = Self::decode(id, fields, messages)? {
                    records.push(record);
                }
            }
        }
        Ok(records)
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn commit(&self, batch: &[Change]) -> Result<Receipt, StoreError> {
        if batch.is_empty() {
            return Ok(Receipt::default());
        }
        let ops = batch
            .iter()
            .map(Self::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let ops = serde_json::to_string(&ops).map_err(unavailable)?;
        let mut connection = self.connection.clone();
        let result: Result<Vec<String>, redis::RedisError> = self
            .commit
            .arg(&self.prefix)
            .arg(self.retain_ended_secs)
            .arg(ops)
            .arg(self.current_fence())
            .arg(self.current_epoch())
            .invoke_async(&mut connection)
            .await;
        match result {
            Ok(filed) => {
                // One ticket id per filing, in batch order.
                let mut filed = filed.into_iter();
                let mut receipt = Receipt::default();
                for change in batch {
                    if let Change::Ticketed(filing) = change {
                        let ticket = filed
                            .next()
                            .and_then(|id| id.parse().ok())
                            .ok_or_else(|| unavailable("corrupt commit reply: no ticket id"))?;
                        receipt.tickets.push((filing.conversation, ticket));
                    }
                }
                Ok(receipt)
            }
            Err(e) if e.code() == Some("FENCED") => Err(StoreError::Fenced),
            Err(e) if e.code() == Some("RESET") => Err(StoreError::Reset),
            Err(e) => {
                // The script's `MISSING <id>` / `GAP <id>` replies: the code, then
                // the conversation.
                let id = e
                    .detail()
                    .and_then(|id| id.trim().parse().ok())
                    .map(ConversationId);
                match (e.code(), id) {
                    (Some("MISSING"), Some(id)) => Err(StoreError::Missing(id)),
                    (Some("GAP"), Some(id)) => Err(StoreError::Gap(id)),
                    _ => Err(unavailable(e)),
                }
            }
        }
    }

    async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        Ok(self.load_many(&[id]).await?.pop())
    }

    async fn open_conversations(&self) -> Result<Vec<ConversationRecord>, StoreError> {
        let mut connection = self.connection.clone();
        let ids: Vec<String> = connection
            .smembers(format!("{}open", self.prefix))
            .await
            .map_err(unavailable)?;
        let mut ids: Vec<ConversationId> = ids
            .iter()
            .filter_map(|id| id.parse().ok().map(ConversationId))
            .collect();
        // Ids are UUID v7: creation order, which is the queue's arrival order.
        ids.sort();
        self.load_many(&ids).await
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn adopt_reset(&self) -> Result<(), StoreError> {
        self.adopt_epoch().await?;
        let holder = self
            .fence
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match holder {
            Some(holder) => self.reclaim_lease(&holder).await,
            None => Ok(()),
        }
    }

    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        super::redis_tickets::ticket(self, id).await
    }

    async fn tickets(&self, query: &TicketQuery) -> Result<TicketPage, StoreError> {
        super::redis_tickets::tickets(self, query).await
    }

    async fn update_ticket(
        &self,
        id: TicketId,
        update: &TicketUpdate,
        at: OffsetDateTime,
    ) -> Result<Ticket, UpdateError> {
        super::redis_tickets::update_ticket(self, id, update, at).await
    }

    async fn due_deliveries(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        super::redis_tickets::due_deliveries(self, now, limit).await
    }

    async fn delivered(&self, delivery: &Delivery) -> Result<(), StoreError> {
        super::redis_tickets::delivered(self, delivery).await
    }

    async fn retry_delivery(
        &self,
        delivery: &Delivery,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        super::redis_tickets::retry_delivery(self, delivery, at).await
    }

    async fn dead_letter(&self, delivery: &Delivery) -> Result<(), StoreError> {
        super::redis_tickets::dead_letter(self, delivery).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        super::redis_tickets::dead_letters(self, limit).await
    }

    async fn redeliver(&self, ticket: TicketId, revision: u64) -> Result<bool, StoreError> {
        super::redis_tickets::redeliver(self, ticket, revision).await
    }

    async fn outbox_depth(&self) -> Result<(usize, usize), StoreError> {
        super::redis_tickets::outbox_depth(self).await
    }
}
