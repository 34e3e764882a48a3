//! What the hub does with an agent's frames.

use std::{sync::Arc, time::Instant};

use smol_str::SmolStr;

use super::{Hub, Role, SessionEntry};
use crate::{
    domain::{AgentId, Author, ConversationId, ConversationState, EndReason, SessionId},
    error::{ErrorCode, FrameError},
    metrics::RoleLabel,
    protocol::{
        AgentConversation, AgentFrame, AgentSelf, AgentStatus, CustomerRef, Resume, ServerFrame,
        UnassignReason,
    },
    session::link::SessionLink,
};

impl Hub {
    /// Register an agent session: `welcome` with the chats it holds, then what it
    /// missed in each. A console reconnecting within its grace keeps everything.
    pub(super) fn agent_hello(
        &mut self,
        link: SessionLink,
        agent: AgentId,
        resume: Vec<Resume>,
        now: Instant,
    ) {
        let session = link.id();
        let Some(entry) = self.agents.get_mut(&agent) else {
            return;
        };
        self.sessions.insert(
            session,
            SessionEntry {
                link,
                role: Role::Agent(agent.clone()),
            },
        );
        self.metrics
            .connections
            .get_or_create(&RoleLabel { role: "agent" })
            .inc();
        // A console logging in brings an offline agent online; its other open
        // consoles (if it set itself offline) hear of it.
        if entry.status == AgentStatus::Offline {
            entry.status = AgentStatus::Online;
            let frame = ServerFrame::Status {
                status: AgentStatus::Online,
                reason: Some("new_session"),
            }
            .render()
            .into();
            self.send_to_agent(&agent, &frame);
        }
        let Some(entry) = self.agents.get_mut(&agent) else {
            return;
        };
        entry.sessions.push(session);
        entry.epoch += 1;
        let me = AgentSelf {
            id: agent.clone(),
            name: entry.name.clone(),
            capacity: entry.capacity,
            status: entry.status,
            skills: entry.skills.clone(),
            languages: entry.languages.clone(),
        };
        let mut held: Vec<ConversationId> = self.router.chats(&agent).copied().collect();
        held.sort();
        let conversations: Vec<AgentConversation> = held
            .iter()
            .filter_map(|id| {
                let c = self.conversations.get(id)?;
                let spec = self.router.spec(id)?;
                Some(AgentConversation {
                    id: *id,
                    state: ConversationState::Assigned,
                    topic: spec.topic.clone(),
                    language: spec.language.clone(),
                    priority: spec.priority,
                    customer: CustomerRef::of(&c.customer, &c.metadata),
                    last_seq: c.last_seq(),
                    epoch: c.epoch,
                })
            })
            .collect();
        let welcome = ServerFrame::AgentWelcome {
            session_id: session,
            agent: me,
            conversations,
        }
        .render()
        .into();
        self.send(session, welcome);
        for id in held {
            match resume.iter().find(|r| r.conversation_id == id) {
                Some(r) => self.resume(session, id, r),
                None => self.replay(session, id, 0),
            }
        }
        let lost: Vec<ConversationId> = resume
            .iter()
            .map(|r| r.conversation_id)
            .filter(|id| self.holder(id).as_ref() != Some(&agent))
            .collect();
        // A resumed conversation the agent no longer holds: say how it ended if it
        // did, else that another agent has it, so the console stops showing it.
        for conversation_id in lost {
            let frame = match self
                .ended
                .get(&conversation_id)
                .filter(|ended| ended.agent.as_ref() == Some(&agent))
            {
                Some(ended) => ServerFrame::Ended {
                    conversation_id,
                    reason: ended.reason,
                    ticket_id: ended.ticket,
                },
                None => ServerFrame::Unassigned {
                    conversation_id,
                    reason: UnassignReason::NotHeld,
                },
            }
            .render()
            .into();
            self.send(session, frame);
        }
        tracing::info!(agent_id = %agent, %session, "agent connected");
        self.sync_accepting(&agent, now);
    }

    pub(super) fn agent_frame(&mut self, session: SessionId, frame: AgentFrame, now: Instant) {
        let Some(SessionEntry {
            role: Role::Agent(agent),
            ..
        }) = self.sessions.get(&session)
        else {
            return;
        };
        let agent = agent.clone();
        match frame {
            AgentFrame::Hello { .. } => self.error(
                session,
                FrameError::new(ErrorCode::BadRequest, "hello was already received"),
                None,
            ),
            AgentFrame::Status { status } => self.set_status(&agent, status, None, now),
            AgentFrame::Message {
                conversation_id,
                client_msg_id,
                text,
            } => {
                if !self.holds(session, &agent, conversation_id, Some(&client_msg_id)) {
                    return;
                }
                let seq = self.post(
                    conversation_id,
                    Some(session),
                    Author::Agent,
                    Some(agent.clone()),
                    Some(SmolStr::new(&client_msg_id)),
                    Arc::from(text),
                );
                if seq.is_some() {
                    self.agent_replied(conversation_id, now);
                }
            }
            AgentFrame::Typing {
                conversation_id,
                on,
            } => {
                if !self.holds(session, &agent, conversation_id, None) {
                    return;
                }
                let Some(key) = self
                    .conversations
                    .get(&conversation_id)
                    .map(|c| c.customer.key.clone())
                else {
                    return;
                };
                let frame = ServerFrame::Typing {
                    conversation_id,
                    from: Author::Agent,
                    on,
                }
                .render()
                .into();
                self.send_to_customer(&key, &frame);
            }
            AgentFrame::Resolve { conversation_id } => {
                if self.holds(session, &agent, conversation_id, None) {
                    self.end(
                        conversation_id,
                        ConversationState::Resolved,
                        EndReason::Resolved,
                        now,
                    );
                }
            }
            AgentFrame::Transfer {
                conversation_id,
                topic,
                priority,
            } => {
                if !self.holds(session, &agent, conversation_id, None) {
                    return;
                }
                let notice = super::lifecycle::transfer_notice(&topic);
                self.requeue(
                    conversation_id,
                    UnassignReason::Transferred,
                    Some(SmolStr::new(&topic)),
                    priority,
                    &notice,
                    now,
                );
            }
            AgentFrame::Escalate {
                conversation_id,
                note,
            } => {
                if self.holds(session, &agent, conversation_id, None) {
                    self.escalate(&agent, conversation_id, note, now);
                }
            }
        }
    }

    /// Does this agent hold the conversation? Answers `not_found` if not.
    fn holds(
        &mut self,
        session: SessionId,
        agent: &AgentId,
        conversation: ConversationId,
        reference: Option<&str>,
    ) -> bool {
        if self.holder(&conversation).as_ref() == Some(agent) {
            return true;
        }
        self.error(
            session,
            FrameError::new(
                ErrorCode::NotFound,
                format!("you do not hold conversation {conversation}"),
            ),
            reference,
        );
        false
    }
}
