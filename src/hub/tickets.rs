//! How the hub hands conversations to tickets: one path for every trigger
//! (queue timeout, no agent, overflow, escalation, customer or agent gone), so
//! each ends the same way: a system notice telling the customer where the answer
//! will come, a `Ticketed` filing committed with the conversation's end, and an
//! `ended` frame carrying the ticket the store filed it under.

use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use time::OffsetDateTime;

use super::{Hub, Outgoing, RouteSpec};
use crate::{
    domain::{AgentId, Author, ConversationId, ConversationState, EndReason},
    metrics::ReasonLabel,
    protocol::{AgentStatus, ServerFrame},
    store::{Change, Receipt},
    tickets::{Filing, TicketId, TicketNote, TicketReason},
};

/// Why no agent can serve a chat now, as told in `offline.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unserved {
    /// No agent online has the topic among its skills.
    Topic,
    /// Agents online serve the topic, but none speaks the language (nor the
    /// fallback language).
    Language,
}

impl Unserved {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Topic => "no_agent_for_topic",
            Self::Language => "no_agent_for_language",
        }
    }
}

/// When a conversation started: its id is a UUID v7, stamped at the start.
pub(super) fn started_at(conversation: ConversationId) -> OffsetDateTime {
    conversation
        .0
        .get_timestamp()
        .and_then(|ts| {
            let (secs, nanos) = ts.to_unix();
            let at = OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()?;
            Some(at + Duration::from_nanos(u64::from(nanos)))
        })
        .unwrap_or_else(OffsetDateTime::now_utc)
}

impl Hub {
    /// Can an agent online (status `online`, connected) serve this topic in this
    /// language, or in the fallback language the chat falls back to?
    pub(super) fn unserved(&self, topic: &str, language: &str) -> Option<Unserved> {
        let fallback = self.config.routing.fallback_language.as_str();
        let mut topic_served = false;
        for agent in self.agents.values() {
            if agent.status != AgentStatus::Online
                || agent.sessions.is_empty()
                || !agent.skills.iter().any(|s| s == topic)
            {
                continue;
            }
            topic_served = true;
            if agent
                .languages
                .iter()
                .any(|l| l == language || l == fallback)
            {
                return None;
            }
        }
        Some(if topic_served {
            Unserved::Language
        } else {
            Unserved::Topic
        })
    }

    /// Hand an open conversation to a ticket and end it. `spec` is its routing
    /// spec (from the router, or from the offer of a chat that never queued).
    pub(super) fn file_ticket(
        &mut self,
        conversation: ConversationId,
        spec: RouteSpec,
        reason: TicketReason,
        note: Option<TicketNote>,
        now: Instant,
    ) {
        if !self.conversations.contains_key(&conversation) {
            return;
        }
        let notice = self.config.tickets.customer_notice.clone();
        self.notice(conversation, &notice);
        let agent = self.holder(&conversation);
        let Some(c) = self.conversations.get(&conversation) else {
            return;
        };
        let started_at = started_at(conversation);
        let first_response_secs = c
            .messages
            .iter()
            .find(|m| m.from == Author::Agent)
            .map(|m| u64::try_from((m.ts - started_at).whole_seconds()).unwrap_or(0));
        let filing = Filing {
            conversation,
            candidate: TicketId::new(),
            customer: c.customer.clone(),
            topic: spec.topic,
            language: spec.language,
            priority: spec.priority,
            reason,
            agent,
            note,
            metadata: c.metadata.clone(),
            messages: c.messages.clone(),
            queue_wait_secs: c.queued_for(now).as_secs(),
            first_response_secs,
            started_at,
            at: OffsetDateTime::now_utc(),
            notify: self.config.tickets.webhook_url.is_some(),
        };
        self.writes.push(Change::Ticketed(Box::new(filing)));
        self.metrics
            .tickets
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
        self.desk.ticket_filed(OffsetDateTime::now_utc());
        tracing::info!(%conversation, reason = reason.as_str(), "handed to a ticket");
        self.end(
            conversation,
            ConversationState::Ticketed,
            EndReason::Ticketed,
            now,
        );
    }

    /// `ended` (ticketed) to every session of both sides, its ticket id filled
    /// in once the commit has filed it.
    pub(super) fn announce_ticketed(&mut self, conversation: ConversationId) {
        let mut sessions = Vec::new();
        if let Some(c) = self.conversations.get(&conversation)
            && let Some(entry) = self.customers.get(&c.customer.key)
        {
            sessions.extend(entry.sessions.iter().copied());
        }
        if let Some(agent) = self.holder(&conversation)
            && let Some(entry) = self.agents.get(&agent)
        {
            sessions.extend(entry.sessions.iter().copied());
        }
        for session in sessions {
            self.outbox
                .push((session, Outgoing::Ticketed(conversation)));
        }
    }

    /// After a commit: remember the ticket each filed conversation went to.
    pub(super) fn filed(&mut self, receipt: &Receipt) {
        for (conversation, ticket) in &receipt.tickets {
            if let Some(ended) = self.ended.get_mut(conversation) {
                ended.ticket = Some(*ticket);
            }
        }
    }

    /// The `ended` frame of a ticketed conversation.
    pub(super) fn ticketed_frame(&self, conversation: ConversationId) -> Utf8Bytes {
        ServerFrame::Ended {
            conversation_id: conversation,
            reason: EndReason::Ticketed,
            ticket_id: self.ended.get(&conversation).and_then(|e| e.ticket),
        }
        .render()
        .into()
    }

    /// Did the customer write last, with no agent answer after it?
    pub(super) fn unanswered(&self, conversation: ConversationId) -> bool {
        self.conversations.get(&conversation).is_some_and(|c| {
            c.messages
                .iter()
                .rev()
                .find(|m| m.from != Author::System)
                .is_some_and(|m| m.from == Author::Customer)
        })
    }

    /// The agent of a chat left: should the chat go to a ticket rather than back
    /// to the queue? Yes when no agent online can serve it, or when at the head
    /// of its line it would still not be served before the queue timeout.
    pub(super) fn no_one_can_take(&self, conversation: ConversationId, now: Instant) -> bool {
        if !self.config.tickets.ticket_when_unserved {
            return false;
        }
        let Some(spec) = self.router.spec(&conversation) else {
            return false;
        };
        if self.unserved(&spec.topic, &spec.language).is_some() {
            return true;
        }
        let Some(c) = self.conversations.get(&conversation) else {
            return false;
        };
        let max_wait = Duration::from_secs(self.config.timeouts.max_queue_wait_secs);
        let left = max_wait.saturating_sub(c.queued_for(now));
        let eta = self
            .rates
            .get(&spec.topic)
            .and_then(|r| r.eta_seconds(1, now));
        left.is_zero() || eta.is_some_and(|eta| Duration::from_secs(eta) > left)
    }

    /// An agent's `escalate`: the chat becomes a ticket with the agent's note.
    pub(super) fn escalate(
        &mut self,
        agent: &AgentId,
        conversation: ConversationId,
        note: Option<String>,
        now: Instant,
    ) {
        let Some(spec) = self.router.spec(&conversation) else {
            return;
        };
        let note = note
            .filter(|n| !n.trim().is_empty())
            .map(|text| TicketNote {
                author: agent.clone(),
                text,
                at: OffsetDateTime::now_utc(),
            });
        self.file_ticket(conversation, spec, TicketReason::Escalated, note, now);
    }
}
