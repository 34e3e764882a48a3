//! Durable record of conversations, behind one trait with a backend per
//! deployment: `memory` (one node, nothing to install) and `redis`.
//!
//! The hub writes every change a client is about to hear of as a `Change`, in
//! batches: one `commit` per burst of frames, before the frames are sent. A
//! backend applies the changes in order and must make the whole batch durable
//! (for its notion of durable) before returning.

mod memory;
mod redis;
mod redis_tickets;
mod ticket_book;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

pub use self::redis::{RedisStore, RedisTarget};

/// A connection for the cluster's own use (lease, presence, bus), with the
/// default command timeout.
pub(crate) async fn redis_connection(
    target: &RedisTarget,
) -> Result<::redis::aio::ConnectionManager, StoreError> {
    self::redis::managed_connection(target, self::redis::CLUSTER_TIMEOUT).await
}
pub use memory::MemoryStore;

use crate::{
    domain::{
        AgentId, ConversationId, ConversationState, CustomerProfile, EndReason, Language, Message,
        Priority, Topic,
    },
    tickets::{
        Delivery, Filing, Ticket, TicketId, TicketPage, TicketQuery, TicketUpdate, UpdateError,
    },
};

/// A store failure: the batch was not (wholly) written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or refused the write.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A change refers to a conversation the store does not have.
    #[error("store has no conversation {0}")]
    Missing(ConversationId),
    /// A message's `seq` is past the end of the stored log: the store lost
    /// messages of this conversation it had acknowledged.
    #[error("the stored log of conversation {0} lost messages")]
    Gap(ConversationId),
    /// The store lost its data since this node connected (a Redis restart without
    /// persistence, a failover to an empty replica): the batch was refused, and
    /// the caller must write back what it holds (see `Store::adopt_reset`).
    #[error("the store was reset: it lost the data it had acknowledged")]
    Reset,
    /// This node committed as matcher, but the matcher lease has passed to
    /// another node: the write was refused and this node must step down.
    #[error("fenced: the matcher lease is held by another node")]
    Fenced,
}

/// A Redis (or other backend) failure, as `StoreError::Unavailable`: one
/// constructor for every module that talks to Redis.
pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// One state change, in the order the hub made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A new conversation entered the queue.
    Opened {
        /// Id.
        id: ConversationId,
        /// The customer.
        customer: CustomerProfile,
        /// Topic.
        topic: Topic,
        /// Language.
        language: Language,
        /// Priority.
        priority: Priority,
        /// Pre-chat context.
        metadata: Map<String, Value>,
        /// Wall-clock start.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Back in the queue (agent gone, transfer, first-reply timeout).
    Requeued {
        /// Id.
        id: ConversationId,
        /// Topic now.
        topic: Topic,
        /// Priority now.
        priority: Priority,
    },
    /// Held by an agent.
    Assigned {
        /// Id.
        id: ConversationId,
        /// The agent.
        agent: AgentId,
    },
    /// A message was stored.
    Appended {
        /// Id.
        id: ConversationId,
        /// The message with its `seq`.
        message: Message,
    },
    /// The conversation ended.
    Ended {
        /// Id.
        id: ConversationId,
        /// Final state.
        state: ConversationState,
        /// Why.
        reason: EndReason,
        /// Wall-clock end.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// The message log was rebuilt; clients resync to this epoch.
    Epoch {
        /// Id.
        id: ConversationId,
        /// The new epoch.
        epoch: u32,
    },
    /// The customer rated it.
    Rated {
        /// Id.
        id: ConversationId,
        /// 1-5.
        score: u8,
    },
    /// It ended unresolved: file it as a new ticket, or append it to the
    /// customer's open ticket on the same topic. Exactly once per conversation:
    /// a filing for a conversation that is already in a ticket changes nothing.
    /// Needs no stored conversation (the filing carries the transcript), so a
    /// ticket is never lost with a conversation the store lost.
    Ticketed(Box<Filing>),
}

impl Change {
    /// The conversation the change is about.
    pub fn conversation(&self) -> ConversationId {
        match self {
            Self::Opened { id, .. }
            | Self::Requeued { id, .. }
            | Self::Assigned { id, .. }
            | Self::Appended { id, .. }
            | Self::Ended { id, .. }
            | Self::Epoch { id, .. }
            | Self::Rated { id, .. } => *id,
            Self::Ticketed(filing) => filing.conversation,
        }
    }
}

/// A conversation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    /// Id.
    pub id: ConversationId,
    /// The customer.
    pub customer: CustomerProfile,
    /// Topic.
    pub topic: Topic,
    /// Language.
    pub language: Language,
    /// Priority.
    pub priority: Priority,
    /// Pre-chat context.
    pub metadata: Map<String, Value>,
    /// State.
    pub state: ConversationState,
    /// The agent, while assigned (and the last one, once ended).
    pub agent: Option<AgentId>,
    /// Transcript in `seq` order.
    pub messages: Vec<Message>,
    /// Why it ended.
    pub end_reason: Option<EndReason>,
    /// CSAT.
    pub rating: Option<u8>,
    /// Message-log epoch (0 until the log is ever rebuilt).
    #[serde(default)]
    pub epoch: u32,
    /// Wall-clock start.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Wall-clock end.
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
}

impl ConversationRecord {
    /// Apply one change to this record (the change's id must be this record's).
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Opened { .. } => {}
            Change::Requeued {
                topic, priority, ..
            } => {
                self.state = ConversationState::Queued;
                self.topic = topic.clone();
                self.priority = *priority;
            }
            Change::Assigned { agent, .. } => {
                self.state = ConversationState::Assigned;
                self.agent = Some(agent.clone());
            }
            Change::Appended { message, .. } => {
                // Idempotent: a change replayed after a partial failure must not
                // store the message twice.
                if message.seq == self.messages.len() as u64 + 1 {
                    self.messages.push(message.clone());
                }
            }
            Change::Ended {
                state, reason, at, ..
            } => {
                self.state = *state;
                self.end_reason = Some(*reason);
                self.ended_at = Some(*at);
            }
            Change::Rated { score, .. } => self.rating = Some(*score),
            Change::Epoch { epoch, .. } => self.epoch = *epoch,
            Change::Ticketed(_) => {}
        }
    }

    /// A fresh record from an `Opened` change.
    pub fn opened(change: &Change) -> Option<Self> {
        let Change::Opened {
            id,
            customer,
            topic,
            language,
            priority,
            metadata,
            at,
        } = change
        else {
            return None;
        };
        Some(Self {
            id: *id,
            customer: customer.clone(),
            topic: topic.clone(),
            language: language.clone(),
            priority: *priority,
            metadata: metadata.clone(),
            state: ConversationState::Queued,
            agent: None,
            messages: Vec::new(),
            end_reason: None,
            rating: None,
            epoch: 0,
            started_at: *at,
            ended_at: None,
        })
    }
}

/// What a commit reports back: the ticket each `Ticketed` change went to (a
/// new one, the customer's open one, or, for a retried filing, the one it went
/// to the first time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Conversation → its ticket, in batch order.
    pub tickets: Vec<(ConversationId, TicketId)>,
}

/// Where conversations and tickets are kept.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Apply a batch of changes in order, durably, all or nothing as far as the
    /// backend allows.
    async fn commit(&self, batch: &[Change]) -> Result<Receipt, StoreError>;

    /// One conversation, open or ended (ended ones are kept for a bounded time).
    async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError>;

    /// Every open conversation, to rebuild the hub on start-up.
    async fn open_conversations(&self) -> Result<Vec<ConversationRecord>, StoreError>;

    /// Backend name for logs and `/healthz`.
    fn backend(&self) -> &'static str;

    /// After `StoreError::Reset`: accept the store as it now is, so the caller can
    /// write its state back into it.
    async fn adopt_reset(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// One ticket.
    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError>;

    /// A page of tickets, newest first.
    async fn tickets(&self, query: &TicketQuery) -> Result<TicketPage, StoreError>;

    /// Change a ticket's status, assignee or notes, and queue a webhook
    /// delivery for the new revision if `update.notify`.
    async fn update_ticket(
        &self,
        id: TicketId,
        update: &TicketUpdate,
        at: OffsetDateTime,
    ) -> Result<Ticket, UpdateError>;

    /// Webhook deliveries due at `now`, oldest due first.
    async fn due_deliveries(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Delivered: out of the outbox for good.
    async fn delivered(&self, delivery: &Delivery) -> Result<(), StoreError>;

    /// Failed: try again at `at` (the delivery carries its attempts and error).
    async fn retry_delivery(
        &self,
        delivery: &Delivery,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Failed for the last time: into the dead-letter list.
    async fn dead_letter(&self, delivery: &Delivery) -> Result<(), StoreError>;

    /// The dead-letter list, oldest first.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<Delivery>, StoreError>;

    /// Take a dead letter back into the outbox, due now, with its attempts
    /// reset. False if there is no such dead letter.
    async fn redeliver(&self, ticket: TicketId, revision: u64) -> Result<bool, StoreError>;

    /// Deliveries waiting (due or backing off), and dead letters.
    async fn outbox_depth(&self) -> Result<(usize, usize), StoreError>;
}
