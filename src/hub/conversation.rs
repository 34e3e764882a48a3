//! One open conversation as the hub holds it: the customer, the transcript and the
//! idempotency keys. Routing facts (queued or assigned, to whom) live in the
//! router alone.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Map, Value};
use smol_str::SmolStr;
use time::OffsetDateTime;

use crate::domain::{AgentId, Author, ConversationId, CustomerProfile, Message};

/// An open conversation.
#[derive(Debug)]
pub struct Conversation {
    /// Id.
    pub id: ConversationId,
    /// Who it is with.
    pub customer: CustomerProfile,
    /// Pre-chat context.
    pub metadata: Map<String, Value>,
    /// When the customer started it.
    pub started_at: Instant,
    /// The transcript, `messages[i].seq == i + 1`.
    pub messages: Vec<Message>,
    /// `(author, agent, client_msg_id)` → `seq`, so a resend gets its original
    /// `seq`. The agent is part of the key: after a transfer the next agent's
    /// `a-1` is a new message, not the previous agent's.
    sent: HashMap<(Author, Option<AgentId>, SmolStr), u64>,
    /// Message-log epoch: bumped when the log had to be rebuilt, so sessions
    /// holding an older copy resync.
    pub epoch: u32,
    /// Bumped at every assignment, so a timer set for an earlier one is ignored.
    pub assignment_epoch: u64,
    /// Did the current agent answer yet?
    pub agent_replied: bool,
    /// Has any agent ever answered (for the first-response metric)?
    pub first_response_seen: bool,
    /// Time spent queued before the current stay in the queue.
    pub queued_before: Duration,
    /// Start of the current stay in the queue, while queued.
    pub queued_since: Option<Instant>,
    /// Last position told to the customer.
    pub told_position: Option<usize>,
    /// Was the customer offered to leave a message for the long wait?
    pub overflow_offered: bool,
}

/// The outcome of appending a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored with this `seq`.
    New(u64),
    /// Already stored under this `seq` (same `client_msg_id` from the same side).
    Duplicate(u64),
}

impl Conversation {
    /// A new conversation, not yet routed.
    pub fn new(
        id: ConversationId,
        customer: CustomerProfile,
        metadata: Map<String, Value>,
        now: Instant,
    ) -> Self {
        Self {
            id,
            customer,
            metadata,
            started_at: now,
            messages: Vec::new(),
            sent: HashMap::new(),
            epoch: 0,
            assignment_epoch: 0,
            agent_replied: false,
            first_response_seen: false,
            queued_before: Duration::ZERO,
            queued_since: None,
            told_position: None,
            overflow_offered: false,
        }
    }

    /// A conversation found in the store at start-up, with its transcript; the
    /// idempotency keys are rebuilt from it, so resends stay deduplicated across
    /// a restart.
    pub fn restored(
        id: ConversationId,
        customer: CustomerProfile,
        metadata: Map<String, Value>,
        messages: Vec<Message>,
        epoch: u32,
        started_at: Instant,
    ) -> Self {
        let mut conversation = Self::new(id, customer, metadata, started_at);
        conversation.epoch = epoch;
        for m in &messages {
            if let Some(key) = &m.client_msg_id {
                conversation
                    .sent
                    .insert((m.from, m.agent_id.clone(), key.clone()), m.seq);
            }
        }
        conversation.first_response_seen = messages.iter().any(|m| m.from == Author::Agent);
        // A restored chat does not restart the first-reply clock of its agent.
        conversation.agent_replied = true;
        conversation.messages = messages;
        conversation
    }

    /// Highest `seq`, 0 when empty.
    pub fn last_seq(&self) -> u64 {
        self.messages.len() as u64
    }

    /// Messages after `seq`, in order.
    pub fn after(&self, seq: u64) -> &[Message] {
        let from = usize::try_from(seq)
            .unwrap_or(usize::MAX)
            .min(self.messages.len());
        &self.messages[from..]
    }

    /// The message with this `seq`.
    pub fn get(&self, seq: u64) -> Option<&Message> {
        self.messages
            .get(usize::try_from(seq).ok()?.checked_sub(1)?)
    }

    /// Store a message unless its `client_msg_id` was seen from the same side.
    pub fn append(
        &mut self,
        from: Author,
        agent_id: Option<AgentId>,
        client_msg_id: Option<SmolStr>,
        text: Arc<str>,
    ) -> Appended {
        if let Some(key) = &client_msg_id
            && let Some(&seq) = self.sent.get(&(from, agent_id.clone(), key.clone()))
        {
            return Appended::Duplicate(seq);
        }
        let seq = self.last_seq() + 1;
        if let Some(key) = &client_msg_id {
            self.sent.insert((from, agent_id.clone(), key.clone()), seq);
        }
        self.messages.push(Message {
            seq,
            from,
            agent_id,
            client_msg_id,
            text,
            ts: OffsetDateTime::now_utc(),
        });
        Appended::New(seq)
    }

    /// Total time queued so far, including the current stay.
    pub fn queued_for(&self, now: Instant) -> Duration {
        self.queued_before
            + self
                .queued_since
                .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// Enter the queue (again).
    pub fn enter_queue(&mut self, now: Instant) {
        if self.queued_since.is_none() {
            self.queued_since = Some(now);
        }
        self.told_position = None;
    }

    /// Leave the queue for an agent.
    pub fn leave_queue(&mut self, now: Instant) {
        if let Some(since) = self.queued_since.take() {
            self.queued_before += now.saturating_duration_since(since);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation() -> Conversation {
        Conversation::new(
            ConversationId::new(),
            CustomerProfile {
                key: "v:1".into(),
                verified: false,
                name: None,
                vip: false,
            },
            Map::new(),
            Instant::now(),
        )
    }

    #[test]
    fn resend_gets_original_seq() {
        let mut c = conversation();
        assert_eq!(
            c.append(Author::Customer, None, Some("c-1".into()), "hi".into()),
            Appended::New(1)
        );
        assert_eq!(
            c.append(Author::Agent, None, Some("c-1".into()), "hello".into()),
            Appended::New(2),
            "the same key from the other side is another message"
        );
        assert_eq!(
            c.append(Author::Customer, None, Some("c-1".into()), "hi".into()),
            Appended::Duplicate(1)
        );
        assert_eq!(
            c.append(
                Author::Agent,
                Some("bob".into()),
                Some("c-1".into()),
                "hi".into()
            ),
            Appended::New(3),
            "another agent's key is its own"
        );
        assert_eq!(c.messages.len(), 3);
        assert_eq!(c.after(1).len(), 2);
        assert_eq!(c.after(99).len(), 0);
        assert_eq!(c.get(2).map(|m| m.seq), Some(2));
        assert!(c.get(0).is_none());
    }
}
