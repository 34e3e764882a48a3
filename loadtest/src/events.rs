//! What the simulated clients saw, as a flat log: the correctness checker's
//! only input. Every client appends what it sends and receives; the checker
//! knows nothing of the simulation, so a run can be checked after the fact
//! (`--events events.jsonl`), and the checker can be fed hand-made logs in tests.
//!
//! Times are microseconds since the run started, on one clock shared by every
//! client of the process.

use serde::{Deserialize, Serialize};

/// One simulated session: who (a customer key or an agent id) and which of its
/// connections (a second tab, a reconnect: each a new session number).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionRef {
    /// `customer` or `agent`.
    pub side: Side,
    /// Customer key (`v:…`, `u:…`) or agent id.
    pub who: String,
    /// This connection of that customer or agent, from 0.
    pub session: u32,
}

/// Which side of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// A customer in the widget.
    Customer,
    /// An agent in the console.
    Agent,
}

/// One observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A session got `welcome`. For a customer, the conversation it was shown as
    /// open (a second tab or a reconnect must see the open one).
    Welcome {
        /// When.
        at_us: u64,
        /// The session.
        session: SessionRef,
        /// The open conversation shown, if any (customers only).
        conversation: Option<String>,
        /// The open conversation this customer had when the session connected,
        /// as the client knew it (a second tab, a reconnect); `None` for a
        /// customer's first session or when none was open.
        expected: Option<String>,
    },
    /// A session starts reading a conversation's messages after `from_seq`
    /// (0 for a fresh session; `last_seq` for a resume). Messages of the
    /// conversation this session sees next must continue at `from_seq + 1`.
    Follow {
        /// When.
        at_us: u64,
        /// The session.
        session: SessionRef,
        /// The conversation.
        conversation: String,
        /// Messages up to here were seen (or are not wanted) already.
        from_seq: u64,
    },
    /// A session sent a message (or a `start` with text, or a `leave_message`).
    Sent {
        /// When.
        at_us: u64,
        /// The sender.
        session: SessionRef,
        /// The conversation, when the client knew it.
        conversation: Option<String>,
        /// The idempotency key (every simulated message has one).
        client_msg_id: String,
    },
    /// A `message` frame arrived at a session: the sender's echo or the other
    /// side's delivery.
    Message {
        /// When.
        at_us: u64,
        /// The receiving session.
        session: SessionRef,
        /// Conversation.
        conversation: String,
        /// Its `seq`.
        seq: u64,
        /// `customer`, `agent` or `system`.
        from: String,
        /// The sender's key, if any.
        client_msg_id: Option<String>,
    },
    /// An agent session got `assigned`, with the seqs of the transcript it
    /// carried (the agent has seen those messages).
    Assigned {
        /// When.
        at_us: u64,
        /// The agent session.
        session: SessionRef,
        /// Conversation.
        conversation: String,
        /// `seq` of each transcript message.
        transcript: Vec<u64>,
    },
    /// An agent session lost a conversation (`unassigned`).
    Unassigned {
        /// When.
        at_us: u64,
        /// The agent session.
        session: SessionRef,
        /// Conversation.
        conversation: String,
    },
    /// A conversation ended, as a session heard it.
    Ended {
        /// When.
        at_us: u64,
        /// The session.
        session: SessionRef,
        /// Conversation.
        conversation: String,
        /// `resolved`, `ticketed`, `abandoned` or `closed`.
        reason: String,
        /// With `ticketed`.
        ticket_id: Option<String>,
    },
    /// A customer opened a conversation (`queued` or `assigned` for its
    /// `start`), or saw a repeated `start` answered.
    Started {
        /// When.
        at_us: u64,
        /// The session.
        session: SessionRef,
        /// The conversation the `start` led to.
        conversation: String,
        /// Was this a repeated `start` while the conversation was open (it must
        /// lead to the same conversation)?
        repeated: bool,
    },
    /// An agent's capacity, from its `welcome`.
    Capacity {
        /// When.
        at_us: u64,
        /// The agent session.
        session: SessionRef,
        /// Most concurrent chats.
        capacity: u32,
    },
    /// An `error` frame.
    Error {
        /// When.
        at_us: u64,
        /// The session.
        session: SessionRef,
        /// Its code.
        code: String,
    },
}

impl Event {
    /// When it was seen.
    pub fn at_us(&self) -> u64 {
        match self {
            Self::Welcome { at_us, .. }
            | Self::Follow { at_us, .. }
            | Self::Sent { at_us, .. }
            | Self::Message { at_us, .. }
            | Self::Assigned { at_us, .. }
            | Self::Unassigned { at_us, .. }
            | Self::Ended { at_us, .. }
            | Self::Started { at_us, .. }
            | Self::Capacity { at_us, .. }
            | Self::Error { at_us, .. } => *at_us,
        }
    }
}
