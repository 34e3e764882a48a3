//! The nouns of the domain (DESIGN.md, "Domain"): ids, priorities, states and
//! message authors, shared by the hub, the store and the wire protocol.

use std::{fmt, sync::Arc};

use serde::{Deserialize, Serialize};
use smol_str::SmolStr;
use time::OffsetDateTime;
use uuid::Uuid;

/// A conversation id: a UUID v7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(pub Uuid);

impl ConversationId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for ConversationId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A session (one WebSocket connection) id, unique within the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub Uuid);

impl SessionId {
    /// A fresh id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `u:<user_id>` for a verified user, `v:<visitor_id>` for an anonymous visitor.
pub type CustomerKey = SmolStr;
/// An agent's id from the roster.
pub type AgentId = SmolStr;
/// A topic from `routing.topics`.
pub type Topic = SmolStr;
/// A language code, lowercase primary subtag (`en`, `es`, …).
pub type Language = SmolStr;

/// Queue priority. The derived order is the serving order: urgent first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Asset safety: blocked withdrawal, suspected account takeover.
    Urgent,
    /// Tiered accounts (identity token `tier = "vip"`).
    Vip,
    /// Everyone else.
    Standard,
}

impl Priority {
    /// All priorities in serving order.
    pub const ALL: [Priority; 3] = [Priority::Urgent, Priority::Vip, Priority::Standard];

    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Urgent => "urgent",
            Self::Vip => "vip",
            Self::Standard => "standard",
        }
    }
}

/// Where a conversation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// Waiting for an agent.
    Queued,
    /// Held by one agent.
    Assigned,
    /// Ended by the agent (or by the customer while served).
    Resolved,
    /// Handed to a ticket.
    Ticketed,
    /// Ended without service: customer gone, or queue timeout.
    Abandoned,
}

impl ConversationState {
    /// Is the conversation still open (queued or assigned)?
    pub fn is_open(self) -> bool {
        matches!(self, Self::Queued | Self::Assigned)
    }
}

/// Why a conversation ended, as told in `ended.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The agent resolved it.
    Resolved,
    /// It became a ticket.
    Ticketed,
    /// Nobody served it in time, or the customer left.
    Abandoned,
    /// The customer closed it.
    Closed,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// The customer, from any of its sessions.
    Customer,
    /// The agent holding the conversation.
    Agent,
    /// The server (handoffs, notices).
    System,
}

/// One stored message. `seq` is assigned by the server: 1, 2, 3 … per conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Position in the conversation, from 1, without gaps.
    pub seq: u64,
    /// Author.
    pub from: Author,
    /// The agent who wrote it, for agent messages (transfers change the agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// The sender's idempotency key, if it sent one.
    pub client_msg_id: Option<SmolStr>,
    /// The text. Shared: a message is fanned out to many sessions.
    pub text: Arc<str>,
    /// Server receive time.
    #[serde(with = "time::serde::rfc3339")]
    pub ts: OffsetDateTime,
}

/// What the customer told us about itself, kept with the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerProfile {
    /// `u:…` or `v:…`.
    pub key: CustomerKey,
    /// True when the exchange vouched for the id with a signed identity token.
    pub verified: bool,
    /// Display name from the identity token, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<SmolStr>,
    /// `vip` from the identity token's `tier` claim.
    pub vip: bool,
}
