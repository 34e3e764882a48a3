//! How conversations move: into the queue, to an agent, back to the queue, to
//! their end; and what the timers and departing sessions set off.

use std::time::Instant;

use smol_str::SmolStr;
use time::OffsetDateTime;

use super::{Ended, Hub, Placement, Role, Timer};
use crate::{
    domain::{AgentId, ConversationId, ConversationState, EndReason, Priority, Topic},
    metrics::{ReasonLabel, TopicLabel},
    protocol::{AgentRef, AgentStatus, CustomerRef, ServerFrame, UnassignReason},
    store::Change,
    tickets::TicketReason,
};

impl Hub {
    /// Carry out the router's assignments.
    pub(super) fn carry_out(&mut self, assignments: Vec<super::Assignment>, now: Instant) {
        for assignment in assignments {
            self.assigned(assignment.conversation, assignment.agent, now);
        }
    }

    /// Tell both sides of a new assignment; the agent gets the whole transcript.
    fn assigned(&mut self, conversation: ConversationId, agent: AgentId, now: Instant) {
        let Some(spec) = self.router.spec(&conversation) else {
            return;
        };
        let Some(c) = self.conversations.get_mut(&conversation) else {
            return;
        };
        // This stay in the queue feeds the wait histogram; the customer's total
        // time queued is what the agent is told.
        let stay = c.queued_since.map_or(std::time::Duration::ZERO, |since| {
            now.saturating_duration_since(since)
        });
        c.leave_queue(now);
        c.assignment_epoch += 1;
        c.agent_replied = false;
        let epoch = c.assignment_epoch;
        let waited = c.queued_for(now).as_secs();
        let customer_key = c.customer.key.clone();
        let agent_name = self
            .agents
            .get(&agent)
            .map_or_else(|| agent.clone(), |a| a.name.clone());
        let to_agent = ServerFrame::AssignedToAgent {
            conversation_id: conversation,
            customer: CustomerRef::of(&c.customer, &c.metadata),
            topic: &spec.topic,
            language: &spec.language,
            priority: spec.priority,
            waited_seconds: waited,
            transcript: &c.messages,
        }
        .render()
        .into();
        let to_customer = ServerFrame::AssignedToCustomer {
            conversation_id: conversation,
            agent: AgentRef {
                id: agent.clone(),
                name: agent_name,
            },
        }
        .render()
        .into();
        self.writes.push(Change::Assigned {
            id: conversation,
            agent: agent.clone(),
        });
        self.send_to_customer(&customer_key, &to_customer);
        self.send_to_agent(&agent, &to_agent);

        let label = TopicLabel {
            topic: spec.topic.to_string(),
        };
        self.metrics.assignments.get_or_create(&label).inc();
        self.desk.assigned(now);
        self.metrics
            .queue_wait
            .get_or_create(&label)
            .observe(stay.as_secs_f64());
        if let Some(rate) = self.rates.get_mut(&spec.topic) {
            rate.record(now);
        }
        if let Some(secs) = self.config.timeouts.first_reply_secs {
            self.timers.insert(
                Timer::FirstReply {
                    conversation,
                    epoch,
                },
                std::time::Duration::from_secs(secs),
            );
        }
        tracing::info!(%conversation, agent_id = %agent, waited_secs = waited, "assigned");
    }

    /// A conversation has just entered (or re-entered) the queue and was not
    /// matched at once: tell the customer its place, and set its timers.
    pub(super) fn waiting(&mut self, conversation: ConversationId, now: Instant) {
        if self.router.placement(&conversation) != Some(Placement::Queued) {
            return;
        }
        let Some(c) = self.conversations.get_mut(&conversation) else {
            return;
        };
        // A chat re-routed while it waits (a supervisor's) stays in the same
        // stay: its timers are set already, and stay right.
        let new_stay = c.queued_since.is_none();
        c.enter_queue(now);
        if new_stay {
            let max_wait = std::time::Duration::from_secs(self.config.timeouts.max_queue_wait_secs);
            let left = max_wait.saturating_sub(c.queued_for(now));
            self.timers
                .insert(Timer::QueueTimeout { conversation }, left);
            if let Some((_, since)) = self.router.arrival(&conversation) {
                let fallback =
                    std::time::Duration::from_secs(self.config.routing.language_fallback_secs);
                let due = (since + fallback).saturating_duration_since(now);
                self.timers
                    .insert(Timer::LanguageFallback { conversation }, due);
            }
        }
        if let Some(position) = self.router.position(&conversation) {
            self.tell_position(conversation, position, now);
        }
    }

    /// A `queued` frame with the conversation's position and ETA.
    fn queued_frame_at(
        &self,
        conversation: ConversationId,
        position: usize,
        now: Instant,
    ) -> Option<axum::extract::ws::Utf8Bytes> {
        let topic = self.router.spec(&conversation)?.topic;
        let eta = self
            .rates
            .get(&topic)
            .and_then(|r| r.eta_seconds(position, now));
        Some(
            ServerFrame::Queued {
                conversation_id: conversation,
                position,
                eta_seconds: eta,
            }
            .render()
            .into(),
        )
    }

    /// A `queued` frame with the conversation's current position, if it is queued.
    pub(super) fn queued_frame(
        &self,
        conversation: ConversationId,
        now: Instant,
    ) -> Option<axum::extract::ws::Utf8Bytes> {
        let position = self.router.position(&conversation)?;
        self.queued_frame_at(conversation, position, now)
    }

    /// Send `queued` to every session of the customer if its position changed
    /// since it was last told.
    fn tell_position(&mut self, conversation: ConversationId, position: usize, now: Instant) {
        let Some(c) = self.conversations.get(&conversation) else {
            return;
        };
        if c.told_position == Some(position) {
            return;
        }
        let key = c.customer.key.clone();
        let Some(frame) = self.queued_frame_at(conversation, position, now) else {
            return;
        };
        if let Some(c) = self.conversations.get_mut(&conversation) {
            c.told_position = Some(position);
        }
        self.send_to_customer(&key, &frame);
    }

    /// Positions change on every assignment; they are told in batches, per line
    /// whose order changed, at `routing.position_update_ms`. A line is walked
    /// once in serving order, so each position costs O(1).
    pub(super) fn refresh_positions(&mut self, now: Instant) {
        for line in self.router.take_changed_lines() {
            for (index, conversation) in line.into_iter().enumerate() {
                self.tell_position(conversation, index + 1, now);
            }
        }
    }

    /// End a conversation for good: both sides hear `ended`, the agent's slot is
    /// freed and goes to the next customer.
    pub(super) fn end(
        &mut self,
        conversation: ConversationId,
        state: ConversationState,
        reason: EndReason,
        now: Instant,
    ) {
        if !self.conversations.contains_key(&conversation) {
            return;
        }
        if reason == EndReason::Ticketed {
            self.announce_ticketed(conversation);
        } else {
            let frame = ServerFrame::Ended {
                conversation_id: conversation,
                reason,
                ticket_id: None,
            }
            .render()
            .into();
            self.send_to_both(&conversation, &frame);
        }
        let last_agent = self.holder(&conversation);
        self.writes.push(Change::Ended {
            id: conversation,
            state,
            reason,
            at: OffsetDateTime::now_utc(),
        });
        let freed = self.router.remove(conversation, now).unwrap_or_default();
        if let Some(c) = self.conversations.remove(&conversation) {
            let key = c.customer.key.clone();
            if let Some(entry) = self.customers.get_mut(&key) {
                if entry.open == Some(conversation) {
                    entry.open = None;
                }
                if entry.sessions.is_empty() {
                    self.customers.remove(&key);
                }
            }
            self.remember_ended(
                conversation,
                Ended {
                    customer: key,
                    agent: last_agent,
                    reason,
                    messages: c.messages,
                    rating: None,
                    ticket: None,
                },
            );
        }
        self.metrics
            .ended
            .get_or_create(&ReasonLabel {
                reason: reason_str(reason),
            })
            .inc();
        self.desk.ended(reason, OffsetDateTime::now_utc());
        tracing::info!(%conversation, ?reason, "ended");
        self.carry_out(freed, now);
    }

    /// Take a conversation from its agent and put it back in the queue with its
    /// original wait, optionally under another topic or priority.
    pub(super) fn requeue(
        &mut self,
        conversation: ConversationId,
        why: UnassignReason,
        topic: Option<Topic>,
        priority: Option<Priority>,
        notice: &str,
        now: Instant,
    ) {
        let Some(previous) = self.holder(&conversation) else {
            return;
        };
        let frame = ServerFrame::Unassigned {
            conversation_id: conversation,
            reason: why,
        }
        .render()
        .into();
        self.send_to_agent(&previous, &frame);
        // The notice goes to the agent too, while it still holds the chat, so its
        // transcript shows why it lost it.
        self.notice(conversation, notice);
        if self.reroute(conversation, topic, priority, now) {
            tracing::info!(%conversation, agent_id = %previous, ?why, "requeued");
        }
    }

    /// Put an open conversation, held or queued, in the line of its (new)
    /// topic and priority with its original arrival, so it keeps its place
    /// ahead of later arrivals; store that, then match it at once or tell the
    /// customer its place. False if the router refused (logged).
    pub(super) fn reroute(
        &mut self,
        conversation: ConversationId,
        topic: Option<Topic>,
        priority: Option<Priority>,
        now: Instant,
    ) -> bool {
        let assignments = match self.router.requeue(conversation, topic, priority, now) {
            Ok(assignments) => assignments,
            Err(e) => {
                tracing::error!(%conversation, error = %e, "requeue refused");
                return false;
            }
        };
        if let Some(spec) = self.router.spec(&conversation) {
            self.writes.push(Change::Requeued {
                id: conversation,
                topic: spec.topic.clone(),
                priority: spec.priority,
            });
        }
        self.carry_out(assignments, now);
        self.waiting(conversation, now);
        true
    }

    /// Is this agent taking new chats: online, with a session?
    fn accepting(&self, agent: &AgentId) -> bool {
        self.agents
            .get(agent)
            .is_some_and(|a| a.status == AgentStatus::Online && !a.sessions.is_empty())
    }

    /// Bring the router in line with the agent's status and sessions.
    pub(super) fn sync_accepting(&mut self, agent: &AgentId, now: Instant) {
        let accepting = self.accepting(agent);
        match self.router.set_accepting(agent, accepting, now) {
            Ok(assignments) => self.carry_out(assignments, now),
            Err(e) => tracing::error!(agent_id = %agent, error = %e, "agent unknown to router"),
        }
    }

    /// Change an agent's status and tell all its sessions. `offline` hands its
    /// chats back to the queue at once.
    pub(super) fn set_status(
        &mut self,
        agent: &AgentId,
        status: AgentStatus,
        reason: Option<&str>,
        now: Instant,
    ) {
        let Some(entry) = self.agents.get_mut(agent) else {
            return;
        };
        // A person's choice, the agent's own `status` or its supervisor's, is
        // always told; the server's only when it changes something (a
        // first-reply timeout on several chats sets away once).
        let changed = entry.status != status;
        entry.status = status;
        if changed || reason.is_none() || reason == Some(super::supervisor::BY_SUPERVISOR) {
            let frame = ServerFrame::Status { status, reason }.render().into();
            self.send_to_agent(agent, &frame);
        }
        if status == AgentStatus::Offline {
            self.release_all(agent, now);
        }
        self.sync_accepting(agent, now);
        tracing::info!(agent_id = %agent, status = status.as_str(), "agent status");
    }

    /// Every chat of the agent goes back to the queue head.
    fn release_all(&mut self, agent: &AgentId, now: Instant) {
        // Stop new chats first so the released ones cannot come straight back.
        if let Err(e) = self.router.set_accepting(agent, false, now) {
            tracing::error!(agent_id = %agent, error = %e, "agent unknown to router");
        }
        let mut held: Vec<ConversationId> = self.router.chats(agent).copied().collect();
        held.sort();
        for conversation in held {
            if self.no_one_can_take(conversation, now)
                && let Some(spec) = self.router.spec(&conversation)
            {
                self.file_ticket(conversation, spec, TicketReason::AgentLeft, None, now);
                continue;
            }
            self.requeue(
                conversation,
                UnassignReason::AgentOffline,
                None,
                None,
                "Your agent is no longer available. You keep your place in the queue and the next agent will see this conversation.",
                now,
            );
        }
    }

    /// A session is gone, by any path: unregister it and start the grace period
    /// when it was its owner's last.
    pub(super) fn session_left(&mut self, session: super::SessionId, now: Instant) {
        let Some(entry) = self.sessions.remove(&session) else {
            return;
        };
        match entry.role {
            Role::Customer(key) => {
                self.metrics
                    .connections
                    .get_or_create(&crate::metrics::RoleLabel { role: "customer" })
                    .dec();
                let Some(customer) = self.customers.get_mut(&key) else {
                    return;
                };
                customer.sessions.retain(|s| *s != session);
                if !customer.sessions.is_empty() {
                    return;
                }
                // A question typed into a chat nobody could serve waits out the
                // grace period too: it goes to a ticket if the customer does not
                // come back.
                if customer.open.is_none()
                    && !customer
                        .offer
                        .as_ref()
                        .is_some_and(super::customer::Offer::has_text)
                {
                    self.customers.remove(&key);
                    return;
                }
                customer.epoch += 1;
                let epoch = customer.epoch;
                self.timers.insert(
                    Timer::CustomerGrace {
                        customer: key,
                        epoch,
                    },
                    std::time::Duration::from_secs(self.config.timeouts.customer_grace_secs),
                );
            }
            Role::Agent(agent) => {
                self.metrics
                    .connections
                    .get_or_create(&crate::metrics::RoleLabel { role: "agent" })
                    .dec();
                let Some(entry) = self.agents.get_mut(&agent) else {
                    return;
                };
                entry.sessions.retain(|s| *s != session);
                if !entry.sessions.is_empty() {
                    return;
                }
                entry.epoch += 1;
                let epoch = entry.epoch;
                self.timers.insert(
                    Timer::AgentGrace {
                        agent: agent.clone(),
                        epoch,
                    },
                    std::time::Duration::from_secs(self.config.timeouts.agent_grace_secs),
                );
                self.sync_accepting(&agent, now);
                tracing::info!(agent_id = %agent, "agent disconnected, grace started");
            }
        }
    }

    /// A timer fired: act only if what it was set for still holds.
    pub(super) fn on_timer(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::AgentGrace { agent, epoch } => {
                let Some(entry) = self.agents.get(&agent) else {
                    return;
                };
                if entry.epoch != epoch || !entry.sessions.is_empty() {
                    return;
                }
                tracing::info!(agent_id = %agent, "agent grace expired");
                self.set_status(&agent, AgentStatus::Offline, Some("grace_expired"), now);
            }
            Timer::CustomerGrace { customer, epoch } => {
                let Some(entry) = self.customers.get(&customer) else {
                    return;
                };
                if entry.epoch != epoch || !entry.sessions.is_empty() {
                    return;
                }
                match entry.open {
                    // Gone with a message nobody answered: the question must
                    // still reach the desk.
                    Some(conversation) if self.unanswered(conversation) => {
                        if let Some(spec) = self.router.spec(&conversation) {
                            self.file_ticket(
                                conversation,
                                spec,
                                TicketReason::CustomerLeft,
                                None,
                                now,
                            );
                        }
                    }
                    Some(conversation) => {
                        self.end(
                            conversation,
                            ConversationState::Abandoned,
                            EndReason::Abandoned,
                            now,
                        );
                    }
                    None => self.offer_expired(&customer, now),
                }
            }
            Timer::QueueTimeout { conversation } => {
                if self.router.placement(&conversation) != Some(Placement::Queued) {
                    return;
                }
                let Some(c) = self.conversations.get(&conversation) else {
                    return;
                };
                let max_wait =
                    std::time::Duration::from_secs(self.config.timeouts.max_queue_wait_secs);
                if c.queued_for(now) < max_wait {
                    return;
                }
                tracing::info!(%conversation, "queue timeout");
                self.notice(
                    conversation,
                    "We could not connect you to an agent in time.",
                );
                if let Some(spec) = self.router.spec(&conversation) {
                    self.file_ticket(conversation, spec, TicketReason::QueueTimeout, None, now);
                }
            }
            Timer::LanguageFallback { conversation } => {
                let assignments = self.router.fallback_due(conversation, now);
                self.carry_out(assignments, now);
            }
            Timer::FirstReply {
                conversation,
                epoch,
            } => {
                let Some(c) = self.conversations.get(&conversation) else {
                    return;
                };
                if c.assignment_epoch != epoch || c.agent_replied {
                    return;
                }
                let Some(agent) = self.holder(&conversation) else {
                    return;
                };
                tracing::info!(%conversation, agent_id = %agent, "no first reply in time");
                // Away first, so the chat does not come straight back to it.
                self.set_status(&agent, AgentStatus::Away, Some("first_reply_timeout"), now);
                self.requeue(
                    conversation,
                    UnassignReason::FirstReplyTimeout,
                    None,
                    None,
                    "Connecting you to the next available agent.",
                    now,
                );
            }
        }
    }

    /// Priority of a new conversation: urgent by keyword, else vip by identity.
    pub(super) fn classify(&self, text: Option<&str>, vip: bool) -> Priority {
        let urgent = text.is_some_and(|t| {
            let t = t.to_lowercase();
            self.urgent_keywords.iter().any(|k| t.contains(k.as_str()))
        });
        if urgent {
            Priority::Urgent
        } else if vip {
            Priority::Vip
        } else {
            Priority::Standard
        }
    }

    /// First agent message since the assignment: stop the first-reply clock, and
    /// record the first response time once per conversation.
    pub(super) fn agent_replied(&mut self, conversation: ConversationId, now: Instant) {
        let topic: Option<SmolStr> = self.router.spec(&conversation).map(|s| s.topic);
        let Some(c) = self.conversations.get_mut(&conversation) else {
            return;
        };
        c.agent_replied = true;
        if !c.first_response_seen {
            c.first_response_seen = true;
            let secs = now.saturating_duration_since(c.started_at).as_secs_f64();
            if let Some(topic) = topic {
                self.metrics
                    .first_response
                    .get_or_create(&TopicLabel {
                        topic: topic.to_string(),
                    })
                    .observe(secs);
                self.desk.first_response(now, secs);
            }
        }
    }
}

/// The system message of a move to another topic's team (a transfer, or a
/// supervisor's re-route), with the topic's `_` read as a space.
pub(super) fn transfer_notice(topic: &str) -> String {
    format!(
        "Your conversation is being transferred to our {} team. You keep your place in the queue.",
        topic.replace('_', " ")
    )
}

/// The wire string of an end reason.
pub(super) fn reason_str(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Resolved => "resolved",
        EndReason::Ticketed => "ticketed",
        EndReason::Abandoned => "abandoned",
        EndReason::Closed => "closed",
    }
}
