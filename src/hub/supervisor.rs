//! What the hub does for a supervisor, from the REST API
//! (`POST /api/agents/{id}/status`, `POST /api/conversations/{id}/route`):
//! the agent's own `status` path, and the transfer's path back into a line,
//! run in the hub's turn like the frames they mirror. The answer waits until
//! that turn is stored, so a supervisor is never told of a change the store
//! does not have.

use std::time::Instant;

use tokio::sync::oneshot;

use super::{Hub, Placement};
use crate::{
    domain::{AgentId, ConversationId, ConversationState, Priority, Topic},
    protocol::AgentStatus,
};

/// `status.reason` when a supervisor set the agent's status (§6.10).
pub const BY_SUPERVISOR: &str = "supervisor";

/// Why the hub refused a supervisor's request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorRefusal {
    /// The roster has no such agent.
    #[error("no agent `{0}` in the roster")]
    UnknownAgent(AgentId),
    /// The hub has no such conversation, open or remembered as ended.
    #[error("no conversation {0}")]
    UnknownConversation(ConversationId),
    /// An agent holds it: it is that agent's to transfer.
    #[error(
        "conversation {0} is held by an agent: only a queued conversation can be re-routed (its agent can transfer it)"
    )]
    Assigned(ConversationId),
    /// It has ended.
    #[error("conversation {0} has ended: only a queued conversation can be re-routed")]
    Ended(ConversationId),
    /// The topic is not in `routing.topics`.
    #[error("unknown topic `{0}`")]
    UnknownTopic(Topic),
}

/// A re-routed conversation, as the supervisor is told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rerouted {
    /// The conversation.
    pub id: ConversationId,
    /// Its topic now.
    pub topic: Topic,
    /// Its priority now.
    pub priority: Priority,
    /// `Queued`, or `Assigned` when an agent of its new line took it at once.
    pub state: ConversationState,
    /// Its 1-based place in its line while queued (as its `queued` says).
    pub position: Option<usize>,
}

/// Where the answer to a status request goes.
pub type StatusReply = oneshot::Sender<Result<AgentStatus, SupervisorRefusal>>;
/// Where the answer to a re-route goes.
pub type RouteReply = oneshot::Sender<Result<Rerouted, SupervisorRefusal>>;

/// An answer held until the turn that made it is stored.
#[derive(Debug)]
pub(super) enum Answer {
    /// To a status request.
    Status(StatusReply, Result<AgentStatus, SupervisorRefusal>),
    /// To a re-route.
    Route(RouteReply, Result<Rerouted, SupervisorRefusal>),
}

impl Answer {
    /// Answer now. A caller that stopped waiting (its timeout) is no error.
    pub(super) fn send(self) {
        match self {
            Self::Status(reply, answer) => {
                let _ = reply.send(answer);
            }
            Self::Route(reply, answer) => {
                let _ = reply.send(answer);
            }
        }
    }
}

impl Hub {
    /// Set an agent's status as its own `status` frame would: every session
    /// of the agent hears of it (reason `supervisor`, even when unchanged),
    /// `offline` hands its chats on, and it takes new chats only `online`.
    pub(super) fn supervisor_status(
        &mut self,
        agent: AgentId,
        status: AgentStatus,
        reply: StatusReply,
        now: Instant,
    ) {
        let answer = if self.agents.contains_key(&agent) {
            tracing::info!(agent_id = %agent, status = status.as_str(), "status set by a supervisor");
            self.set_status(&agent, status, Some(BY_SUPERVISOR), now);
            Ok(status)
        } else {
            Err(SupervisorRefusal::UnknownAgent(agent))
        };
        self.answers.push(Answer::Status(reply, answer));
    }

    /// Give a queued conversation another topic or priority.
    pub(super) fn supervisor_route(
        &mut self,
        conversation: ConversationId,
        topic: Option<Topic>,
        priority: Option<Priority>,
        reply: RouteReply,
        now: Instant,
    ) {
        let answer = self.route_queued(conversation, topic, priority, now);
        self.answers.push(Answer::Route(reply, answer));
    }

    /// A new topic keeps the chat's arrival, as a transfer does, so it goes
    /// ahead of the new line's later arrivals; a new priority moves it within
    /// its line. The customer hears its new place (`queued`) either way, and
    /// the transfer's system message only when its topic changes: a new
    /// priority is not the customer's business.
    fn route_queued(
        &mut self,
        id: ConversationId,
        topic: Option<Topic>,
        priority: Option<Priority>,
        now: Instant,
    ) -> Result<Rerouted, SupervisorRefusal> {
        let Some(before) = self.router.spec(&id) else {
            return Err(if self.ended.contains_key(&id) {
                SupervisorRefusal::Ended(id)
            } else {
                SupervisorRefusal::UnknownConversation(id)
            });
        };
        if let Some(Placement::Assigned(_)) = self.router.placement(&id) {
            return Err(SupervisorRefusal::Assigned(id));
        }
        if let Some(topic) = topic.as_ref().filter(|t| !self.router.has_topic(t)) {
            return Err(SupervisorRefusal::UnknownTopic(topic.clone()));
        }
        if let Some(new) = topic.as_ref().filter(|t| **t != before.topic) {
            self.notice(id, &super::lifecycle::transfer_notice(new));
        }
        self.reroute(id, topic, priority, now);
        let after = self
            .router
            .spec(&id)
            .ok_or(SupervisorRefusal::UnknownConversation(id))?;
        let position = self.router.position(&id);
        tracing::info!(conversation = %id, topic = %after.topic, priority = after.priority.as_str(), "re-routed by a supervisor");
        Ok(Rerouted {
            id,
            topic: after.topic,
            priority: after.priority,
            state: if position.is_some() {
                ConversationState::Queued
            } else {
                ConversationState::Assigned
            },
            position,
        })
    }
}
