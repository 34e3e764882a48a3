//! Tickets: what a conversation that ends without resolution becomes (invariant
//! 4). The hub files a `Filing` in the same store commit that ends the
//! conversation; the store turns it into a new ticket or appends it to the
//! customer's open ticket on the same topic, exactly once per conversation.
//! The REST API reads and updates tickets, and a webhook outbox, written in the
//! same commit, tells the exchange's helpdesk.

pub mod webhook;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{
    AgentId, ConversationId, CustomerKey, CustomerProfile, Language, Message, Priority, Topic,
};

/// A ticket's id: a UUID v7, so ids sort in creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(pub Uuid);

impl TicketId {
    /// A fresh id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The smallest id a ticket created at or after `at` can have: ids are
    /// UUID v7, whose first 48 bits are the creation time in milliseconds.
    pub fn lower_bound(at: OffsetDateTime) -> Self {
        let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let high = u128::from(millis & 0xFFFF_FFFF_FFFF) << 80;
        Self(Uuid::from_u128(high))
    }
}

impl Default for TicketId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for TicketId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Where a ticket stands at the helpdesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Waiting for the support team.
    Open,
    /// The team answered and waits for the customer (or a third party).
    Pending,
    /// Done. A later unresolved chat on the same topic opens a new ticket.
    Closed,
}

impl TicketStatus {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Closed => "closed",
        }
    }
}

/// Why a conversation became (part of) a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketReason {
    /// It waited in the queue past `timeouts.max_queue_wait_secs`.
    QueueTimeout,
    /// No agent online could serve its topic or language; the customer left a
    /// message.
    NoAgent,
    /// Offered to leave a message because the estimated wait was too long
    /// (`tickets.overflow_eta_secs`), the customer did.
    Overflow,
    /// The customer left a message instead of waiting, unprompted.
    LeftMessage,
    /// An agent escalated it.
    Escalated,
    /// The customer left (grace expired) with a message no agent answered.
    CustomerLeft,
    /// Its agent left and no other agent could take it in time.
    AgentLeft,
}

impl TicketReason {
    /// The wire word (also the metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueueTimeout => "queue_timeout",
            Self::NoAgent => "no_agent",
            Self::Overflow => "overflow",
            Self::LeftMessage => "left_message",
            Self::Escalated => "escalated",
            Self::CustomerLeft => "customer_left",
            Self::AgentLeft => "agent_left",
        }
    }
}

/// An internal note on a ticket: never shown to the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketNote {
    /// The agent who wrote it, or `system`.
    #[schema(value_type = String)]
    pub author: AgentId,
    /// The note.
    pub text: String,
    /// When it was written.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// What the hub files when a conversation ends unresolved: everything the
/// ticket needs, so the store never has to read the conversation back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filing {
    /// The conversation that ended.
    pub conversation: ConversationId,
    /// The id a new ticket gets (unused when the filing joins an open ticket).
    pub candidate: TicketId,
    /// The customer.
    pub customer: CustomerProfile,
    /// Topic (the dedupe key with the customer).
    pub topic: Topic,
    /// Language.
    pub language: Language,
    /// Priority.
    pub priority: Priority,
    /// Why.
    pub reason: TicketReason,
    /// The last agent who held it, if any.
    pub agent: Option<AgentId>,
    /// The escalating agent's note.
    pub note: Option<TicketNote>,
    /// Pre-chat context.
    pub metadata: Map<String, Value>,
    /// The whole transcript.
    pub messages: Vec<Message>,
    /// Seconds spent queued, over all its stays in the queue.
    pub queue_wait_secs: u64,
    /// Seconds from start to the first agent reply, if there was one.
    pub first_response_secs: Option<u64>,
    /// When the conversation started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Queue a webhook delivery (a webhook is configured).
    pub notify: bool,
}

/// One conversation's part of a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketConversation {
    /// The conversation.
    #[schema(value_type = String, format = Uuid)]
    pub conversation_id: ConversationId,
    /// Why it became part of the ticket.
    pub reason: TicketReason,
    /// Its language.
    #[schema(value_type = String)]
    pub language: Language,
    /// Its priority.
    #[schema(value_type = String)]
    pub priority: Priority,
    /// The last agent who held it.
    #[schema(value_type = Option<String>)]
    pub agent: Option<AgentId>,
    /// Pre-chat context (UID, TxID …).
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Seconds spent queued.
    pub queue_wait_secs: u64,
    /// Seconds to the first agent reply, if any.
    pub first_response_secs: Option<u64>,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: OffsetDateTime,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub ended_at: OffsetDateTime,
    /// The whole transcript, in `seq` order.
    #[schema(value_type = Vec<Object>)]
    pub transcript: Vec<Message>,
}

impl TicketConversation {
    /// The part of a ticket a filing adds.
    pub fn from_filing(filing: &Filing) -> Self {
        Self {
            conversation_id: filing.conversation,
            reason: filing.reason,
            language: filing.language.clone(),
            priority: filing.priority,
            agent: filing.agent.clone(),
            metadata: filing.metadata.clone(),
            queue_wait_secs: filing.queue_wait_secs,
            first_response_secs: filing.first_response_secs,
            started_at: filing.started_at,
            ended_at: filing.at,
            transcript: filing.messages.clone(),
        }
    }
}

/// Who the ticket is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketCustomer {
    /// `u:<user id>` (verified) or `v:<visitor id>`.
    #[schema(value_type = String)]
    pub key: CustomerKey,
    /// Did the exchange vouch for the identity (a signed identity token)?
    pub verified: bool,
    /// Name from the identity token.
    #[schema(value_type = Option<String>)]
    pub name: Option<smol_str::SmolStr>,
}

impl From<&CustomerProfile> for TicketCustomer {
    fn from(profile: &CustomerProfile) -> Self {
        Self {
            key: profile.key.clone(),
            verified: profile.verified,
            name: profile.name.clone(),
        }
    }
}

/// A ticket with everything in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ticket {
    /// Id.
    #[schema(value_type = String, format = Uuid)]
    pub id: TicketId,
    /// The customer.
    pub customer: TicketCustomer,
    /// Topic.
    #[schema(value_type = String)]
    pub topic: Topic,
    /// Language of the first conversation.
    #[schema(value_type = String)]
    pub language: Language,
    /// The highest priority of its conversations.
    #[schema(value_type = String)]
    pub priority: Priority,
    /// Why the latest conversation became part of it.
    pub reason: TicketReason,
    /// Status.
    pub status: TicketStatus,
    /// The agent working on it.
    #[schema(value_type = Option<String>)]
    pub assignee: Option<AgentId>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// Bumped by every change; with the id, the webhook's idempotency key.
    pub revision: u64,
    /// The conversations that fed it, oldest first, each with its transcript.
    pub conversations: Vec<TicketConversation>,
    /// Internal notes (escalation notes, agents' notes), oldest first.
    pub notes: Vec<TicketNote>,
}

impl Ticket {
    /// A new ticket from its first filing.
    pub fn open(filing: &Filing) -> Self {
        Self {
            id: filing.candidate,
            customer: TicketCustomer::from(&filing.customer),
            topic: filing.topic.clone(),
            language: filing.language.clone(),
            priority: filing.priority,
            reason: filing.reason,
            status: TicketStatus::Open,
            assignee: None,
            created_at: filing.at,
            updated_at: filing.at,
            revision: 1,
            conversations: vec![TicketConversation::from_filing(filing)],
            notes: filing.note.iter().cloned().collect(),
        }
    }

    /// Append a later unresolved conversation on the same matter: the ticket is
    /// bumped (open again if it was pending, priority raised if need be).
    pub fn absorb(&mut self, filing: &Filing) {
        self.conversations
            .push(TicketConversation::from_filing(filing));
        self.notes.extend(filing.note.iter().cloned());
        self.reason = filing.reason;
        self.priority = self.priority.min(filing.priority);
        self.status = TicketStatus::Open;
        self.touch(filing.at);
    }

    /// Apply an update from the REST API.
    pub fn apply(&mut self, update: &TicketUpdate, at: OffsetDateTime) {
        if let Some(status) = update.status {
            self.status = status;
        }
        match &update.assignee {
            Some(Some(agent)) => self.assignee = Some(agent.clone()),
            Some(None) => self.assignee = None,
            None => {}
        }
        if let Some(note) = &update.note {
            self.notes.push(note.clone());
        }
        self.touch(at);
    }

    fn touch(&mut self, at: OffsetDateTime) {
        self.updated_at = at;
        self.revision += 1;
    }

    /// Does this ticket hold that conversation?
    pub fn holds(&self, conversation: ConversationId) -> bool {
        self.conversations
            .iter()
            .any(|c| c.conversation_id == conversation)
    }

    /// Did this agent ever hold one of its conversations?
    pub fn touched_by(&self, agent: &str) -> bool {
        self.assignee.as_deref() == Some(agent)
            || self
                .conversations
                .iter()
                .any(|c| c.agent.as_deref() == Some(agent))
    }

    /// The list view: everything but the transcripts and notes.
    pub fn summary(&self) -> TicketSummary {
        TicketSummary {
            id: self.id,
            customer: self.customer.clone(),
            topic: self.topic.clone(),
            language: self.language.clone(),
            priority: self.priority,
            reason: self.reason,
            status: self.status,
            assignee: self.assignee.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            revision: self.revision,
            conversation_ids: self
                .conversations
                .iter()
                .map(|c| c.conversation_id)
                .collect(),
            messages: self.conversations.iter().map(|c| c.transcript.len()).sum(),
        }
    }
}

/// A ticket in a list: no transcripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketSummary {
    /// Id.
    #[schema(value_type = String, format = Uuid)]
    pub id: TicketId,
    /// The customer.
    pub customer: TicketCustomer,
    /// Topic.
    #[schema(value_type = String)]
    pub topic: Topic,
    /// Language.
    #[schema(value_type = String)]
    pub language: Language,
    /// Priority.
    #[schema(value_type = String)]
    pub priority: Priority,
    /// Latest reason.
    pub reason: TicketReason,
    /// Status.
    pub status: TicketStatus,
    /// Assignee.
    #[schema(value_type = Option<String>)]
    pub assignee: Option<AgentId>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// Revision.
    pub revision: u64,
    /// The conversations that fed it.
    #[schema(value_type = Vec<String>)]
    pub conversation_ids: Vec<ConversationId>,
    /// Messages over all its transcripts.
    pub messages: usize,
}

/// A change to a ticket from the REST API; absent fields are left alone.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TicketUpdate {
    /// New status.
    pub status: Option<TicketStatus>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<AgentId>>,
    /// An internal note to add.
    pub note: Option<TicketNote>,
    /// Queue a webhook delivery.
    pub notify: bool,
}

/// Which tickets a list asks for, newest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TicketQuery {
    /// Only this status.
    pub status: Option<TicketStatus>,
    /// Only this topic.
    pub topic: Option<Topic>,
    /// Only this customer.
    pub customer: Option<CustomerKey>,
    /// Only tickets created at or after this time.
    pub created_since: Option<OffsetDateTime>,
    /// Only what this agent may see (`None`: everything, a supervisor).
    pub visible_to: Option<Visibility>,
    /// Continue after this id (the previous page's `next_cursor`).
    pub cursor: Option<TicketId>,
    /// Most tickets in the page.
    pub limit: usize,
}

/// What an agent (not a supervisor) may see: tickets on its topics, and
/// tickets it holds or held a conversation of.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Visibility {
    /// The agent.
    pub agent: AgentId,
    /// Its skills.
    pub topics: Vec<Topic>,
}

impl Visibility {
    /// May the agent see this ticket?
    pub fn allows(&self, ticket: &Ticket) -> bool {
        self.topics.contains(&ticket.topic) || ticket.touched_by(&self.agent)
    }
}

impl TicketQuery {
    /// Does the ticket pass every filter?
    pub fn matches(&self, ticket: &Ticket) -> bool {
        self.status.is_none_or(|s| s == ticket.status)
            && self.topic.as_ref().is_none_or(|t| *t == ticket.topic)
            && self
                .customer
                .as_ref()
                .is_none_or(|c| *c == ticket.customer.key)
            && self
                .created_since
                .is_none_or(|since| ticket.created_at >= since)
            && self.visible_to.as_ref().is_none_or(|v| v.allows(ticket))
    }
}

/// Tickets a store looks at per list call, at most: a narrow filter over many
/// tickets answers a short (even empty) page with a cursor to go on from,
/// rather than scanning everything in one request.
pub const SCAN_BUDGET: usize = 5_000;

/// One page of a ticket list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TicketPage {
    /// The tickets, newest first.
    pub tickets: Vec<Ticket>,
    /// Pass as `cursor` to go on; `None` at the end.
    pub next_cursor: Option<TicketId>,
}

/// Why a ticket update was refused.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// No such ticket.
    #[error("no ticket {0}")]
    NotFound(TicketId),
    /// Reopening it would make a second open ticket for the same customer and
    /// topic.
    #[error("the customer already has open ticket {0} on this topic")]
    Conflict(TicketId),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A webhook delivery waiting in the outbox: one per ticket revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// The ticket.
    #[schema(value_type = String, format = Uuid)]
    pub ticket_id: TicketId,
    /// The revision the event is for.
    pub revision: u64,
    /// `ticket.created` or `ticket.updated`.
    pub event: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl Delivery {
    /// The idempotency key the receiver dedupes on: the same for every attempt.
    pub fn key(&self) -> String {
        format!("{}:{}", self.ticket_id, self.revision)
    }

    /// A fresh delivery for this revision of a ticket.
    pub fn new(ticket: &Ticket) -> Self {
        Self {
            ticket_id: ticket.id,
            revision: ticket.revision,
            event: if ticket.revision == 1 {
                "ticket.created".into()
            } else {
                "ticket.updated".into()
            },
            attempts: 0,
            last_error: None,
            created_at: ticket.updated_at,
        }
    }
}
