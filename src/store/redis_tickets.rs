//! Tickets and the webhook outbox in Redis: the Redis store's half of the ticket
//! contract (`ticket_book.rs` keeps the same rules in memory).
//!
//! Layout, under the store's prefix `P` (nothing here expires):
//! - `P ticket:<id>` hash: `header` (immutable JSON: id, customer, topic,
//!   language, created_at), `matter` (`<customer key>|<topic>`, the open index's
//!   suffix) and the mutable plain fields `status`, `assignee`, `priority`,
//!   `reason`, `updated_at`, `revision`;
//! - `P ticket:<id>:convs` list: one JSON `TicketConversation` per conversation;
//! - `P ticket:<id>:notes` list: one JSON `TicketNote` per note;
//! - `P ticket:conv:<conversation id>` string: the ticket the conversation went to;
//! - `P ticket:open:<customer key>|<topic>` string: the customer's open (or
//!   pending) ticket on the topic;
//! - `P tickets` sorted set, every score 0, member = ticket id: UUID v7 in
//!   lowercase hex sorts lexicographically in creation order, so a list is a
//!   `ZRANGE … BYLEX REV`;
//! - `P outbox:<ticket id>:<revision>` string: the JSON `Delivery`;
//! - `P outbox:due` sorted set: score = due time (unix ms), member
//!   `<ticket id>:<revision>`;
//! - `P outbox:dead` sorted set: score = when it died (unix ms), same members.
//!
//! JSON stays opaque to Lua (its cjson turns an empty array into `{}`): Rust
//! builds every document, scripts only move them and set the plain fields. The
//! one exception is the delivery record a script writes, a flat object with no
//! array in it.

use std::{collections::HashMap, sync::LazyLock};

use redis::Script;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{
    RedisStore, StoreError,
    redis::{from_word, rfc3339, word},
    unavailable,
};
use crate::{
    domain::{Language, Topic},
    tickets::{
        Delivery, Filing, SCAN_BUDGET, Ticket, TicketConversation, TicketCustomer, TicketId,
        TicketNote, TicketPage, TicketQuery, TicketUpdate, UpdateError,
    },
};

/// Lua functions shared by the commit script (which files tickets) and the
/// update script. Prepended to both.
pub(super) const LUA_TICKETS: &str = r#"
local RANK = {urgent = 0, vip = 1, standard = 2}

-- Queue a webhook delivery for the ticket's current revision, due at `at_ms`.
local function enqueue(p, tid, at, at_ms)
  local rev = tonumber(redis.call('HGET', p .. 'ticket:' .. tid, 'revision'))
  local member = tid .. ':' .. rev
  local event = 'ticket.updated'
  if rev == 1 then event = 'ticket.created' end
  redis.call('SET', p .. 'outbox:' .. member, cjson.encode({
    ticket_id = tid, revision = rev, event = event, attempts = 0,
    last_error = cjson.null, created_at = at,
  }))
  redis.call('ZADD', p .. 'outbox:due', at_ms, member)
end

-- File a conversation: its ticket if it was filed before (then nothing
-- changes), else the customer's open ticket on the topic, else a new one.
local function file_ticket(p, op)
  local by_conv = p .. 'ticket:conv:' .. op.id
  local filed = redis.call('GET', by_conv)
  if filed then return filed end
  local open_key = p .. 'ticket:open:' .. op.matter
  local tid = redis.call('GET', open_key)
  local key = nil
  if tid then key = p .. 'ticket:' .. tid end
  if key and redis.call('EXISTS', key) == 1 then
    redis.call('RPUSH', key .. ':convs', op.conv)
    if op.note then redis.call('RPUSH', key .. ':notes', op.note) end
    local priority = redis.call('HGET', key, 'priority')
    if RANK[op.priority] < (RANK[priority] or 3) then priority = op.priority end
    redis.call('HSET', key, 'reason', op.reason, 'priority', priority,
      'status', 'open', 'updated_at', op.at)
    redis.call('HINCRBY', key, 'revision', 1)
  else
    tid = op.tid
    key = p .. 'ticket:' .. tid
    redis.call('DEL', key, key .. ':convs', key .. ':notes')
    redis.call('HSET', key, 'header', op.header, 'matter', op.matter,
      'status', 'open', 'priority', op.priority, 'reason', op.reason,
      'updated_at', op.at, 'revision', 1)
    redis.call('RPUSH', key .. ':convs', op.conv)
    if op.note then redis.call('RPUSH', key .. ':notes', op.note) end
    redis.call('ZADD', p .. 'tickets', 0, tid)
    redis.call('SET', open_key, tid)
  end
  redis.call('SET', by_conv, tid)
  if op.notify then enqueue(p, tid, op.at, op.at_ms) end
  return tid
end
"#;

/// ARGV: prefix, ticket id, status (`''`: unchanged), assignee mode (`''`,
/// `set`, `clear`), assignee, note JSON (`''`: none), at, at (unix ms), notify
/// (`1`/`0`). Returns `{outcome, conflicting id, fields, convs, notes}`.
const UPDATE: &str = r#"
local p = ARGV[1]
local tid = ARGV[2]
local key = p .. 'ticket:' .. tid
if redis.call('EXISTS', key) == 0 then return {'not_found', '', {}, {}, {}} end
local status = ARGV[3]
local current = redis.call('HGET', key, 'status')
local open_key = p .. 'ticket:open:' .. redis.call('HGET', key, 'matter')
if current == 'closed' and status ~= '' and status ~= 'closed' then
  local other = redis.call('GET', open_key)
  if other then return {'conflict', other, {}, {}, {}} end
end
if status == '' then
  status = current
else
  redis.call('HSET', key, 'status', status)
end
if ARGV[4] == 'set' then
  redis.call('HSET', key, 'assignee', ARGV[5])
elseif ARGV[4] == 'clear' then
  redis.call('HDEL', key, 'assignee')
end
if ARGV[6] ~= '' then redis.call('RPUSH', key .. ':notes', ARGV[6]) end
redis.call('HSET', key, 'updated_at', ARGV[7])
redis.call('HINCRBY', key, 'revision', 1)
if status == 'closed' then
  if redis.call('GET', open_key) == tid then redis.call('DEL', open_key) end
else
  redis.call('SET', open_key, tid)
end
if ARGV[9] == '1' then enqueue(p, tid, ARGV[7], ARGV[8]) end
return {'ok', '', redis.call('HGETALL', key), redis.call('LRANGE', key .. ':convs', 0, -1),
  redis.call('LRANGE', key .. ':notes', 0, -1)}
"#;

/// ARGV: prefix, max score, limit, zset (`due`/`dead`). The records of the
/// first `limit` members scored at most `max`, lowest score first.
const LIST: &str = r#"
local p = ARGV[1]
local members = redis.call('ZRANGE', p .. 'outbox:' .. ARGV[4], '-inf', ARGV[2],
  'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, m in ipairs(members) do
  local record = redis.call('GET', p .. 'outbox:' .. m)
  if record then out[#out + 1] = record end
end
return out
"#;

/// ARGV: prefix, member, delivery JSON, due at (unix ms). Only a delivery still
/// in the outbox: one delivered meanwhile stays delivered.
const RETRY: &str = r#"
local record = ARGV[1] .. 'outbox:' .. ARGV[2]
if redis.call('EXISTS', record) == 0 then return 0 end
redis.call('SET', record, ARGV[3])
redis.call('ZADD', ARGV[1] .. 'outbox:due', ARGV[4], ARGV[2])
return 1
"#;

/// ARGV: prefix, member, delivery JSON, now (unix ms).
const KILL: &str = r#"
local record = ARGV[1] .. 'outbox:' .. ARGV[2]
if redis.call('EXISTS', record) == 0 then return 0 end
redis.call('ZREM', ARGV[1] .. 'outbox:due', ARGV[2])
redis.call('SET', record, ARGV[3])
redis.call('ZADD', ARGV[1] .. 'outbox:dead', ARGV[4], ARGV[2])
return 1
"#;

/// ARGV: prefix, member, now (unix ms). The record is a flat object (no array
/// for cjson to mangle), so resetting its attempts here is safe.
const REVIVE: &str = r#"
local p = ARGV[1]
if redis.call('ZSCORE', p .. 'outbox:dead', ARGV[2]) == false then return 0 end
redis.call('ZREM', p .. 'outbox:dead', ARGV[2])
local key = p .. 'outbox:' .. ARGV[2]
local record = redis.call('GET', key)
if record then
  local delivery = cjson.decode(record)
  delivery.attempts = 0
  redis.call('SET', key, cjson.encode(delivery))
end
redis.call('ZADD', p .. 'outbox:due', ARGV[3], ARGV[2])
return 1
"#;

static UPDATE_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&[LUA_TICKETS, UPDATE].concat()));
static LIST_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(LIST));
static RETRY_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RETRY));
static KILL_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(KILL));
static REVIVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(REVIVE));

/// Tickets fetched per pipeline, at most.
const CHUNK: usize = 200;

/// The part of a ticket that never changes after it is created.
#[derive(Debug, Serialize, Deserialize)]
struct TicketHeader {
    id: TicketId,
    customer: TicketCustomer,
    topic: Topic,
    language: Language,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

/// Unix milliseconds, as a score argument.
fn millis(at: OffsetDateTime) -> String {
    (at.unix_timestamp_nanos() / 1_000_000).to_string()
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(unavailable)
}

fn ticket_key(prefix: &str, id: TicketId) -> String {
    format!("{prefix}ticket:{id}")
}

/// The commit script's op for a filing.
pub(super) fn encode_filing(filing: &Filing) -> Result<Value, StoreError> {
    let header = TicketHeader {
        id: filing.candidate,
        customer: TicketCustomer::from(&filing.customer),
        topic: filing.topic.clone(),
        language: filing.language.clone(),
        created_at: filing.at,
    };
    let mut op = json!({
        "o": "ticket",
        "id": filing.conversation.to_string(),
        "tid": filing.candidate.to_string(),
        "matter": format!("{}|{}", filing.customer.key, filing.topic),
        "header": to_json(&header)?,
        "priority": word(&filing.priority)?,
        "reason": word(&filing.reason)?,
        "at": rfc3339(&filing.at)?,
        "at_ms": millis(filing.at),
        "conv": to_json(&TicketConversation::from_filing(filing))?,
        "notify": filing.notify,
    });
    // Absent, not null: cjson decodes null to a value Lua finds true.
    if let (Some(note), Some(op)) = (&filing.note, op.as_object_mut()) {
        op.insert("note".into(), Value::String(to_json(note)?));
    }
    Ok(op)
}

/// Build a ticket from its hash and lists; `None` if the hash is gone.
fn decode(
    id: TicketId,
    fields: &HashMap<String, String>,
    convs: &[String],
    notes: &[String],
) -> Result<Option<Ticket>, StoreError> {
    let Some(header) = fields.get("header") else {
        return Ok(None);
    };
    let header: TicketHeader = serde_json::from_str(header)
        .map_err(|e| unavailable(format!("corrupt header of ticket {id}: {e}")))?;
    let field = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| unavailable(format!("corrupt ticket {id}: no `{name}`")))
    };
    let conversations = convs
        .iter()
        .map(|c| serde_json::from_str::<TicketConversation>(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unavailable(format!("corrupt conversation of ticket {id}: {e}")))?;
    let notes = notes
        .iter()
        .map(|n| serde_json::from_str::<TicketNote>(n))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unavailable(format!("corrupt note of ticket {id}: {e}")))?;
    let updated_at = OffsetDateTime::parse(
        field("updated_at")?,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| unavailable(format!("corrupt updated_at of ticket {id}: {e}")))?;
    let revision = field("revision")?
        .parse()
        .map_err(|e| unavailable(format!("corrupt revision of ticket {id}: {e}")))?;
    Ok(Some(Ticket {
        id: header.id,
        customer: header.customer,
        topic: header.topic,
        language: header.language,
        priority: from_word(field("priority")?)?,
        reason: from_word(field("reason")?)?,
        status: from_word(field("status")?)?,
        assignee: fields.get("assignee").map(Into::into),
        created_at: header.created_at,
        updated_at,
        revision,
        conversations,
        notes,
    }))
}

/// Tickets by id, in the order asked (`None` for one that is gone): one atomic
/// pipeline per chunk, so each ticket is read whole at one point in time.
async fn load(store: &RedisStore, ids: &[TicketId]) -> Result<Vec<Option<Ticket>>, StoreError> {
    let mut tickets = Vec::with_capacity(ids.len());
    let mut connection = store.connection();
    for chunk in ids.chunks(CHUNK) {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for &id in chunk {
            let key = ticket_key(store.prefix(), id);
            pipe.hgetall(&key)
                .lrange(format!("{key}:convs"), 0, -1)
                .lrange(format!("{key}:notes"), 0, -1);
        }
        let replies: Vec<redis::Value> = pipe
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let mut replies = replies.into_iter();
        for &id in chunk {
            let (Some(fields), Some(convs), Some(notes)) =
                (replies.next(), replies.next(), replies.next())
            else {
                return Err(unavailable("short pipeline reply"));
            };
            let fields: HashMap<String, String> =
                redis::from_redis_value(fields).map_err(unavailable)?;
            let convs: Vec<String> = redis::from_redis_value(convs).map_err(unavailable)?;
            let notes: Vec<String> = redis::from_redis_value(notes).map_err(unavailable)?;
            tickets.push(decode(id, &fields, &convs, &notes)?);
        }
    }
    Ok(tickets)
}

pub(super) async fn ticket(store: &RedisStore, id: TicketId) -> Result<Option<Ticket>, StoreError> {
    Ok(load(store, &[id]).await?.pop().flatten())
}

/// Ticket ids, newest first, below `upper` (a `ZRANGE BYLEX` bound) and at or
/// above `lower`, at most `count`.
async fn ids_below(
    store: &RedisStore,
    upper: &str,
    lower: &str,
    count: usize,
) -> Result<Vec<TicketId>, StoreError> {
    let mut connection = store.connection();
    let ids: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{}tickets", store.prefix()))
        .arg(upper)
        .arg(lower)
        .arg("BYLEX")
        .arg("REV")
        .arg("LIMIT")
        .arg(0)
        .arg(count)
        .query_async(&mut connection)
        .await
        .map_err(unavailable)?;
    ids.iter()
        .map(|id| {
            id.parse()
                .map_err(|e| unavailable(format!("corrupt ticket id `{id}`: {e}")))
        })
        .collect()
}

pub(super) async fn tickets(
    store: &RedisStore,
    query: &TicketQuery,
) -> Result<TicketPage, StoreError> {
    let lower = query.created_since.map_or_else(
        || "-".to_string(),
        |at| format!("[{}", TicketId::lower_bound(at)),
    );
    let mut upper = query
        .cursor
        .map_or_else(|| "+".to_string(), |id| format!("({id}"));
    let mut page = TicketPage::default();
    let mut scanned = 0;
    let mut last = None;
    // Fetched but not looked at yet, oldest last.
    let mut pending = std::collections::VecDeque::new();
    // No ticket left below `upper`.
    let mut exhausted = false;
    let mut want = 0;
    loop {
        if page.tickets.len() == query.limit || scanned == SCAN_BUDGET {
            // More to see? Then the next page starts just past the last ticket
            // looked at (the cursor is exclusive).
            let more = last.is_some()
                && (!pending.is_empty()
                    || (!exhausted && !ids_below(store, &upper, &lower, 1).await?.is_empty()));
            if more {
                page.next_cursor = last;
            }
            break;
        }
        if pending.is_empty() {
            if exhausted {
                break;
            }
            // Small pages fetch little; a narrow filter fetches more each round.
            want = (query.limit - page.tickets.len())
                .max(want * 2)
                .clamp(1, CHUNK)
                .min(SCAN_BUDGET - scanned);
            let ids = ids_below(store, &upper, &lower, want).await?;
            exhausted = ids.len() < want;
            let Some(oldest) = ids.last() else {
                break;
            };
            upper = format!("({oldest}");
            let loaded = load(store, &ids).await?;
            pending.extend(ids.into_iter().zip(loaded));
        }
        let Some((id, ticket)) = pending.pop_front() else {
            break;
        };
        scanned += 1;
        last = Some(id);
        if let Some(ticket) = ticket
            && query.matches(&ticket)
        {
            page.tickets.push(ticket);
        }
    }
    Ok(page)
}

pub(super) async fn update_ticket(
    store: &RedisStore,
    id: TicketId,
    update: &TicketUpdate,
    at: OffsetDateTime,
) -> Result<Ticket, UpdateError> {
    let status = update.status.map(|s| s.as_str()).unwrap_or_default();
    let (mode, assignee) = match &update.assignee {
        Some(Some(agent)) => ("set", agent.as_str()),
        Some(None) => ("clear", ""),
        None => ("", ""),
    };
    let note = update.note.as_ref().map(to_json).transpose()?;
    let mut connection = store.connection();
    let (outcome, other, fields, convs, notes): (
        String,
        String,
        HashMap<String, String>,
        Vec<String>,
        Vec<String>,
    ) = UPDATE_SCRIPT
        .arg(store.prefix())
        .arg(id.to_string())
        .arg(status)
        .arg(mode)
        .arg(assignee)
        .arg(note.unwrap_or_default())
        .arg(rfc3339(&at)?)
        .arg(millis(at))
        .arg(if update.notify { "1" } else { "0" })
        .invoke_async(&mut connection)
        .await
        .map_err(unavailable)?;
    match outcome.as_str() {
        "ok" => decode(id, &fields, &convs, &notes)?
            .ok_or_else(|| unavailable(format!("ticket {id} vanished while updated")).into()),
        "not_found" => Err(UpdateError::NotFound(id)),
        "conflict" => Err(UpdateError::Conflict(other.parse().map_err(|e| {
            unavailable(format!("corrupt open ticket id `{other}`: {e}"))
        })?)),
        other => Err(unavailable(format!("unexpected update outcome `{other}`")).into()),
    }
}

fn decode_deliveries(records: &[String]) -> Result<Vec<Delivery>, StoreError> {
    records
        .iter()
        .map(|r| serde_json::from_str(r).map_err(|e| unavailable(format!("corrupt delivery: {e}"))))
        .collect()
}

async fn list(
    store: &RedisStore,
    set: &str,
    max: &str,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut connection = store.connection();
    let records: Vec<String> = LIST_SCRIPT
        .arg(store.prefix())
        .arg(max)
        .arg(limit)
        .arg(set)
        .invoke_async(&mut connection)
        .await
        .map_err(unavailable)?;
    decode_deliveries(&records)
}

pub(super) async fn due_deliveries(
    store: &RedisStore,
    now: OffsetDateTime,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    list(store, "due", &millis(now), limit).await
}

pub(super) async fn delivered(store: &RedisStore, delivery: &Delivery) -> Result<(), StoreError> {
    let member = delivery.key();
    let prefix = store.prefix();
    let mut connection = store.connection();
    let _: () = redis::pipe()
        .atomic()
        .zrem(format!("{prefix}outbox:due"), &member)
        .ignore()
        .del(format!("{prefix}outbox:{member}"))
        .ignore()
        .query_async(&mut connection)
        .await
        .map_err(unavailable)?;
    Ok(())
}

pub(super) async fn retry_delivery(
    store: &RedisStore,
    delivery: &Delivery,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    let mut connection = store.connection();
    let _: i64 = RETRY_SCRIPT
        .arg(store.prefix())
        .arg(delivery.key())
        .arg(to_json(delivery)?)
        .arg(millis(at))
        .invoke_async(&mut connection)
        .await
        .map_err(unavailable)?;
    Ok(())
}

pub(super) async fn dead_letter(store: &RedisStore, delivery: &Delivery) -> Result<(), StoreError> {
    let mut connection = store.connection();
    let _: i64 = KILL_SCRIPT
        .arg(store.prefix())
        .arg(delivery.key())
        .arg(to_json(delivery)?)
        .arg(millis(OffsetDateTime::now_utc()))
        .invoke_async(&mut connection)
        .await
        .map_err(unavailable)?;
    Ok(())
}

pub(super) async fn dead_letters(
    store: &RedisStore,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    list(store, "dead", "+inf", limit).await
}

pub(super) async fn redeliver(
    store: &RedisStore,
    ticket: TicketId,
    revision: u64,
) -> Result<bool, StoreError> {
    let mut connection = store.connection();
    let revived: i64 = REVIVE_SCRIPT
        .arg(store.prefix())
        .arg(format!("{ticket}:{revision}"))
        .arg(millis(OffsetDateTime::now_utc()))
        .invoke_async(&mut connection)
        .await
        .map_err(unavailable)?;
    Ok(revived == 1)
}

pub(super) async fn outbox_depth(store: &RedisStore) -> Result<(usize, usize), StoreError> {
    let prefix = store.prefix();
    let mut connection = store.connection();
    redis::pipe()
        .zcard(format!("{prefix}outbox:due"))
        .zcard(format!("{prefix}outbox:dead"))
        .query_async(&mut connection)
        .await
        .map_err(unavailable)
}
