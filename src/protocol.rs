//! Wire protocol v1: the frames of `docs/protocol.md`, parsed from and rendered to
//! JSON text. This is the contract with the widget, the console, the load tester
//! and integrations: extend it, never change it without a version bump.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};
use smol_str::SmolStr;

use crate::{
    domain::{
        AgentId, Author, ConversationId, ConversationState, CustomerProfile, EndReason, Language,
        Message, Priority, SessionId, Topic,
    },
    error::{ErrorCode, FrameError},
};

/// `hello.resume` of a customer, or one entry of an agent's `hello.resume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The conversation the session was in.
    pub conversation_id: ConversationId,
    /// The last `seq` it saw; everything after it is replayed.
    pub last_seq: u64,
    /// The conversation's log epoch the session saw (`welcome`, `resync`). A
    /// different one means the server's log was rebuilt: the session is resynced.
    #[serde(default)]
    pub epoch: Option<u32>,
}

/// A frame from the customer widget. (Serialize: followers forward validated
/// frames to the matcher node.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CustomerFrame {
    /// First frame: who the customer is.
    Hello {
        /// Random id the widget keeps in localStorage.
        visitor_id: Option<String>,
        /// JWT (HS256) signed by the exchange.
        identity: Option<String>,
        /// Where this session left off.
        resume: Option<Resume>,
    },
    /// Ask for a chat (or join the open one).
    Start {
        /// One of `routing.topics`.
        topic: String,
        /// Language code; `routing.default_language` when absent.
        language: Option<String>,
        /// The first message, optional.
        text: Option<String>,
        /// Idempotency key of `text`: a retried `start` does not store it twice.
        client_msg_id: Option<String>,
        /// Pre-chat context (UID, TxID …), shown to the agent.
        metadata: Option<Map<String, Value>>,
    },
    /// A chat message.
    Message {
        /// Idempotency key: a resend with the same key is not stored twice.
        client_msg_id: String,
        /// The text.
        text: String,
    },
    /// Typing indicator, relayed and never stored.
    Typing {
        /// Typing or not.
        on: bool,
    },
    /// End the open conversation.
    Close {},
    /// Leave a message for the support team instead of a live chat: after
    /// `offline` (no agent can serve the chat now) it opens the conversation as
    /// a ticket; while queued (after `overflow`, or unprompted) it ends the
    /// queued conversation as a ticket. Never while an agent holds the chat.
    LeaveMessage {
        /// The message.
        text: String,
        /// Idempotency key.
        client_msg_id: Option<String>,
    },
    /// Satisfaction score 1-5 for an ended conversation (final once given).
    Rate {
        /// 1 to 5.
        score: i64,
        /// Which conversation; defaults to the customer's most recently ended one.
        conversation_id: Option<ConversationId>,
    },
}

/// Agent availability, set by `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Takes new chats.
    Online,
    /// Keeps its chats, takes no new ones.
    Away,
    /// Logs off: its chats go back to the queue head at once.
    Offline,
}

impl AgentStatus {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Offline => "offline",
        }
    }
}

/// A frame from the agent console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentFrame {
    /// First frame: the agent's token.
    Hello {
        /// The agent token from the roster.
        token: String,
        /// Where this session left off, per conversation.
        #[serde(default)]
        resume: Vec<Resume>,
    },
    /// Change availability.
    Status {
        /// New status.
        status: AgentStatus,
    },
    /// A chat message in a held conversation.
    Message {
        /// The conversation.
        conversation_id: ConversationId,
        /// Idempotency key.
        client_msg_id: String,
        /// The text.
        text: String,
    },
    /// Typing indicator.
    Typing {
        /// The conversation.
        conversation_id: ConversationId,
        /// Typing or not.
        on: bool,
    },
    /// The conversation is done.
    Resolve {
        /// The conversation.
        conversation_id: ConversationId,
    },
    /// Hand the conversation to a ticket.
    Escalate {
        /// The conversation.
        conversation_id: ConversationId,
        /// Why, for the ticket.
        note: Option<String>,
    },
    /// Send the conversation back to the queue under another topic.
    Transfer {
        /// The conversation.
        conversation_id: ConversationId,
        /// The new topic.
        topic: String,
        /// Raise (or set) the priority, e.g. `urgent`.
        priority: Option<Priority>,
    },
}

/// A parse failure, with the `client_msg_id` of the frame if it had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What to answer.
    pub error: FrameError,
    /// `client_msg_id` of the bad frame, echoed as `error.ref`.
    pub reference: Option<SmolStr>,
}

/// Parse one text frame, with errors that say what is wrong in the client's terms.
pub fn parse<F: DeserializeOwned>(text: &str) -> Result<F, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError {
        error: FrameError::bad_request(format!("frame is not valid JSON: {e}")),
        reference: None,
    })?;
    let Value::Object(object) = &value else {
        return Err(ParseError {
            error: FrameError::bad_request("frame must be a JSON object"),
            reference: None,
        });
    };
    let reference = object
        .get("client_msg_id")
        .and_then(Value::as_str)
        .map(SmolStr::new);
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => {
            return Err(ParseError {
                error: FrameError::bad_request("field `type` must be a string"),
                reference,
            });
        }
        None => {
            return Err(ParseError {
                error: FrameError::bad_request("field `type` is required"),
                reference,
            });
        }
    };
    serde_json::from_value(value).map_err(|e| {
        let detail = e.to_string();
        let message = if detail.starts_with("unknown variant") {
            format!("unknown frame type `{kind}`")
        } else if let Some(field) = detail
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            format!("`{kind}` frame: field `{field}` is required")
        } else {
            format!("`{kind}` frame: {detail}")
        };
        ParseError {
            error: FrameError::bad_request(message),
            reference,
        }
    })
}

/// The agent as the customer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRef {
    /// Agent id.
    pub id: AgentId,
    /// Display name.
    pub name: SmolStr,
}

/// The customer's open conversation in its `welcome`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerConversation {
    /// Conversation id.
    pub id: ConversationId,
    /// `queued` or `assigned`.
    pub state: ConversationState,
    /// Topic.
    pub topic: Topic,
    /// Language.
    pub language: Language,
    /// Highest `seq` so far.
    pub last_seq: u64,
    /// Log epoch: changes when the server had to rebuild the message log.
    pub epoch: u32,
    /// The agent, once assigned.
    pub agent: Option<AgentRef>,
}

/// The customer as the agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerRef {
    /// `u:…` or `v:…`.
    pub key: SmolStr,
    /// Vouched for by the exchange.
    pub verified: bool,
    /// Name from the identity token.
    pub name: Option<SmolStr>,
    /// The account tier from the identity token; `None` (`null`) for a
    /// visitor, whom nobody vouched for.
    pub tier: Option<CustomerTier>,
    /// Pre-chat metadata.
    pub metadata: Map<String, Value>,
}

impl CustomerRef {
    /// The agent's view of a conversation's customer.
    pub fn of(customer: &CustomerProfile, metadata: &Map<String, Value>) -> Self {
        Self {
            key: customer.key.clone(),
            verified: customer.verified,
            name: customer.name.clone(),
            // A visitor's profile says `vip: false` too, but that is no tier:
            // the console must not show a visitor as a standard account.
            tier: customer.verified.then_some(if customer.vip {
                CustomerTier::Vip
            } else {
                CustomerTier::Standard
            }),
            metadata: metadata.clone(),
        }
    }
}

/// A verified customer's account tier (the identity token's `tier` claim; a
/// token without one is `standard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerTier {
    /// `tier: "vip"`: its chats are queued as vip (unless urgent).
    Vip,
    /// Any other verified customer.
    Standard,
}

/// One held conversation in the agent's `welcome`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentConversation {
    /// Conversation id.
    pub id: ConversationId,
    /// Always `assigned` for held conversations.
    pub state: ConversationState,
    /// Topic.
    pub topic: Topic,
    /// Language.
    pub language: Language,
    /// Priority.
    pub priority: Priority,
    /// The customer.
    pub customer: CustomerRef,
    /// Highest `seq` so far.
    pub last_seq: u64,
    /// Log epoch: changes when the server had to rebuild the message log.
    pub epoch: u32,
}

/// The agent's own record in its `welcome`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentSelf {
    /// Agent id.
    pub id: AgentId,
    /// Display name.
    pub name: SmolStr,
    /// Most concurrent chats.
    pub capacity: u32,
    /// Current status.
    pub status: AgentStatus,
    /// Topics served.
    pub skills: Vec<Topic>,
    /// Languages spoken.
    pub languages: Vec<Language>,
}

/// Why an agent lost a conversation it held (server frame `unassigned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnassignReason {
    /// The agent transferred it.
    Transferred,
    /// No first reply within `timeouts.first_reply_secs`.
    FirstReplyTimeout,
    /// The agent went offline (status or grace expiry).
    AgentOffline,
    /// Told on resume: the agent does not hold it (it is queued, with another
    /// agent, or unknown to this server).
    NotHeld,
}

/// A frame from the server. Rendered once per event and shared by every session
/// it goes to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    /// Answer to a customer's `hello`.
    #[serde(rename = "welcome")]
    CustomerWelcome {
        /// This session.
        session_id: SessionId,
        /// `u:…` or `v:…`.
        customer_key: &'a str,
        /// The open conversation, if any.
        conversation: Option<CustomerConversation>,
    },
    /// Answer to an agent's `hello`.
    #[serde(rename = "welcome")]
    AgentWelcome {
        /// This session.
        session_id: SessionId,
        /// The agent.
        agent: AgentSelf,
        /// Conversations it holds.
        conversations: Vec<AgentConversation>,
    },
    /// The customer's place in the queue.
    Queued {
        /// Conversation.
        conversation_id: ConversationId,
        /// 1 = next for its topic and language.
        position: usize,
        /// Estimate from the recent assignment rate; null while unknown.
        eta_seconds: Option<u64>,
    },
    /// To the customer: an agent took the chat.
    #[serde(rename = "assigned")]
    AssignedToCustomer {
        /// Conversation.
        conversation_id: ConversationId,
        /// The agent.
        agent: AgentRef,
    },
    /// To the agent: a new chat, with its context and transcript.
    #[serde(rename = "assigned")]
    AssignedToAgent {
        /// Conversation.
        conversation_id: ConversationId,
        /// The customer.
        customer: CustomerRef,
        /// Topic.
        topic: &'a str,
        /// Language.
        language: &'a str,
        /// Priority.
        priority: Priority,
        /// Seconds the customer waited in the queue.
        waited_seconds: u64,
        /// Every message so far.
        transcript: &'a [Message],
    },
    /// A stored message; to its sender it is the acknowledgement.
    Message {
        /// Conversation.
        conversation_id: ConversationId,
        /// The stored message.
        #[serde(flatten)]
        message: &'a Message,
    },
    /// The other side is typing.
    Typing {
        /// Conversation.
        conversation_id: ConversationId,
        /// Who types.
        from: Author,
        /// On or off.
        on: bool,
    },
    /// The conversation ended.
    Ended {
        /// Conversation.
        conversation_id: ConversationId,
        /// Why.
        reason: EndReason,
        /// The ticket, with `ticketed`.
        ticket_id: Option<crate::tickets::TicketId>,
    },
    /// No agent online can serve a `start` now: the chat was not queued; the
    /// customer can `leave_message` for a ticket.
    Offline {
        /// The topic asked for.
        topic: &'a str,
        /// The routing language.
        language: &'a str,
        /// `no_agent_for_topic` or `no_agent_for_language`.
        reason: &'a str,
        /// A `leave_message` is taken.
        leave_message: bool,
    },
    /// The estimated wait is past `tickets.overflow_eta_secs`: the customer may
    /// keep waiting, or `leave_message` to end the chat as a ticket.
    Overflow {
        /// Conversation.
        conversation_id: ConversationId,
        /// Place in the queue.
        position: usize,
        /// Estimated wait.
        eta_seconds: u64,
    },
    /// The message log was rebuilt (the store lost writes): drop what you hold of
    /// this conversation; its whole transcript follows, from `seq` 1.
    Resync {
        /// Conversation.
        conversation_id: ConversationId,
        /// The new log epoch.
        epoch: u32,
        /// Why: `store_reset`, `client_ahead` or `epoch_changed`.
        reason: &'a str,
    },
    /// To the agent: it no longer holds this conversation.
    Unassigned {
        /// Conversation.
        conversation_id: ConversationId,
        /// Why.
        reason: UnassignReason,
    },
    /// To the agent: its status changed (by itself in another tab, or the server).
    Status {
        /// New status.
        status: AgentStatus,
        /// Why the server changed it, if it did.
        reason: Option<&'a str>,
    },
    /// To the customer: its rating was stored.
    Rated {
        /// Conversation.
        conversation_id: ConversationId,
        /// The score.
        score: u8,
    },
    /// A frame was refused.
    Error {
        /// Stable code.
        code: ErrorCode,
        /// Detail.
        message: &'a str,
        /// `client_msg_id` of the refused frame.
        #[serde(rename = "ref")]
        reference: Option<&'a str>,
        /// With `rate_limited`, where known: seconds before a retry can succeed.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
}

impl ServerFrame<'_> {
    /// Render as JSON text.
    pub fn render(&self) -> String {
        // Serializing these types cannot fail: no maps with non-string keys.
        serde_json::to_string(self).unwrap_or_else(|e| {
            tracing::error!(error = %e, "server frame failed to serialize");
            String::from(r#"{"type":"error","code":"unavailable","message":"internal"}"#)
        })
    }
}

/// Render an `error` frame.
pub fn error_frame(error: &FrameError, reference: Option<&str>) -> String {
    ServerFrame::Error {
        code: error.code,
        message: &error.message,
        reference,
        retry_after_secs: error.retry_after_secs,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_say_what_is_wrong() {
        let e = parse::<CustomerFrame>("nope").unwrap_err();
        assert!(e.error.message.starts_with("frame is not valid JSON"));
        let e = parse::<CustomerFrame>("[1]").unwrap_err();
        assert_eq!(e.error.message, "frame must be a JSON object");
        let e = parse::<CustomerFrame>(r#"{"type":"dance"}"#).unwrap_err();
        assert_eq!(e.error.message, "unknown frame type `dance`");
        let e = parse::<CustomerFrame>(r#"{"type":"message","client_msg_id":"c-1"}"#).unwrap_err();
        assert_eq!(e.error.message, "`message` frame: field `text` is required");
        assert_eq!(e.reference.as_deref(), Some("c-1"));
        let e = parse::<CustomerFrame>(r#"{"type":"typing","on":"yes"}"#).unwrap_err();
        assert!(
            e.error.message.contains("invalid type"),
            "{}",
            e.error.message
        );
        let e = parse::<CustomerFrame>(r#"{"kind":"hello"}"#).unwrap_err();
        assert_eq!(e.error.message, "field `type` is required");
    }

    #[test]
    fn frames_parse() {
        let f: CustomerFrame = parse(r#"{"type":"close"}"#).unwrap();
        assert_eq!(f, CustomerFrame::Close {});
        let f: AgentFrame = parse(r#"{"type":"hello","token":"t"}"#).unwrap();
        assert_eq!(
            f,
            AgentFrame::Hello {
                token: "t".into(),
                resume: vec![]
            }
        );
    }

    #[test]
    fn two_welcome_variants_render_as_welcome() {
        let text = ServerFrame::CustomerWelcome {
            session_id: SessionId::new(),
            customer_key: "v:x",
            conversation: None,
        }
        .render();
        assert!(text.starts_with(r#"{"type":"welcome""#), "{text}");
    }
}
