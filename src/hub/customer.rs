//! What the hub does with a customer's frames.

use std::{sync::Arc, time::Instant};

use smol_str::SmolStr;
use time::OffsetDateTime;

use super::{Conversation, CustomerEntry, Hub, Placement, Role, SessionEntry};
use crate::{
    domain::{Author, ConversationId, ConversationState, CustomerProfile, EndReason, SessionId},
    error::{ErrorCode, FrameError},
    metrics::{RoleLabel, ScoreLabel},
    protocol::{AgentRef, CustomerConversation, CustomerFrame, Resume, ServerFrame},
    session::link::SessionLink,
    store::Change,
    tickets::TicketReason,
};

/// The fields of a `start` that opens a new conversation.
struct Opening {
    topic: String,
    language: Option<String>,
    text: Option<String>,
    client_msg_id: Option<String>,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A chat about to open, its routing settled: from a `start`, or held while the
/// customer is offered to leave a message (`offline`).
#[derive(Debug, Clone)]
pub(super) struct Offer {
    topic: SmolStr,
    language: SmolStr,
    priority: crate::domain::Priority,
    text: Option<String>,
    client_msg_id: Option<String>,
    metadata: serde_json::Map<String, serde_json::Value>,
}

impl Offer {
    /// Does it hold a question the customer typed?
    pub(super) fn has_text(&self) -> bool {
        self.text.is_some()
    }

    fn spec(&self) -> super::RouteSpec {
        super::RouteSpec {
            topic: self.topic.clone(),
            language: self.language.clone(),
            priority: self.priority,
        }
    }
}

impl Hub {
    /// Register a customer session: `welcome` with the open conversation (this is
    /// how a second tab or a reconnect finds its chat), then what it missed.
    pub(super) fn customer_hello(
        &mut self,
        link: SessionLink,
        profile: CustomerProfile,
        resume: Option<Resume>,
        now: Instant,
    ) {
        let session = link.id();
        let key = profile.key.clone();
        self.sessions.insert(
            session,
            SessionEntry {
                link,
                role: Role::Customer(key.clone()),
            },
        );
        self.metrics
            .connections
            .get_or_create(&RoleLabel { role: "customer" })
            .inc();
        let entry = self
            .customers
            .entry(key.clone())
            .or_insert_with(|| CustomerEntry {
                profile: profile.clone(),
                sessions: Vec::new(),
                open: None,
                offer: None,
                epoch: 0,
            });
        entry.sessions.push(session);
        // A new session cancels any grace period.
        entry.epoch += 1;
        if profile.verified {
            entry.profile = profile;
        }
        let open = entry.open;

        let summary = open.and_then(|id| self.customer_view(id));
        let welcome = ServerFrame::CustomerWelcome {
            session_id: session,
            customer_key: &key,
            conversation: summary,
        }
        .render()
        .into();
        self.send(session, welcome);

        match (resume, open) {
            (Some(r), Some(id)) if r.conversation_id == id => self.resume(session, id, &r),
            (Some(r), open) => {
                self.replay_ended(session, &key, r);
                if let Some(id) = open {
                    self.replay(session, id, 0);
                }
            }
            (None, Some(id)) => self.replay(session, id, 0),
            (None, None) => {}
        }
        if let Some(id) = open
            && let Some(frame) = self.queued_frame(id, now)
        {
            self.send(session, frame);
        }
    }

    /// The customer's view of its open conversation.
    fn customer_view(&self, id: ConversationId) -> Option<CustomerConversation> {
        let c = self.conversations.get(&id)?;
        let spec = self.router.spec(&id)?;
        let (state, agent) = match self.router.placement(&id)? {
            Placement::Queued => (ConversationState::Queued, None),
            Placement::Assigned(agent) => (
                ConversationState::Assigned,
                Some(AgentRef {
                    id: agent.clone(),
                    name: self
                        .agents
                        .get(agent)
                        .map_or_else(|| agent.clone(), |a| a.name.clone()),
                }),
            ),
        };
        Some(CustomerConversation {
            id,
            state,
            topic: spec.topic.clone(),
            language: spec.language.clone(),
            last_seq: c.last_seq(),
            epoch: c.epoch,
            agent,
        })
    }

    /// Replay what a resuming session missed. A session that has seen more than
    /// the log holds, or an older epoch of it, proves the log lost messages (the
    /// store lost writes): the log gets a new epoch and every session of both
    /// sides resyncs, rather than silently missing messages or taking new ones
    /// for ones it has seen.
    pub(super) fn resume(&mut self, session: SessionId, conversation: ConversationId, r: &Resume) {
        let Some(c) = self.conversations.get(&conversation) else {
            return;
        };
        if r.last_seq > c.last_seq() {
            tracing::warn!(%conversation, client = r.last_seq, server = c.last_seq(), "a session is ahead of the log: resync");
            self.resync(conversation, "client_ahead");
        } else if r.epoch.is_some_and(|e| e != c.epoch) {
            self.send_resync(session, conversation, "epoch_changed");
        } else {
            self.replay(session, conversation, r.last_seq);
        }
    }

    /// New epoch for a conversation's log, and every session of both sides gets
    /// the whole transcript again.
    pub(super) fn resync(&mut self, conversation: ConversationId, reason: &str) {
        let Some(c) = self.conversations.get_mut(&conversation) else {
            return;
        };
        c.epoch += 1;
        let epoch = c.epoch;
        self.writes.push(Change::Epoch {
            id: conversation,
            epoch,
        });
        self.resync_sessions(conversation, reason);
    }

    /// Every session of both sides gets `resync` and the whole transcript.
    pub(super) fn resync_sessions(&mut self, conversation: ConversationId, reason: &str) {
        let Some(key) = self
            .conversations
            .get(&conversation)
            .map(|c| c.customer.key.clone())
        else {
            return;
        };
        let mut sessions: Vec<SessionId> = self
            .customers
            .get(&key)
            .map(|e| e.sessions.clone())
            .unwrap_or_default();
        if let Some(agent) = self.holder(&conversation)
            && let Some(a) = self.agents.get(&agent)
        {
            sessions.extend(a.sessions.iter().copied());
        }
        for session in sessions {
            self.send_resync(session, conversation, reason);
        }
    }

    fn send_resync(&mut self, session: SessionId, conversation: ConversationId, reason: &str) {
        let Some(epoch) = self.conversations.get(&conversation).map(|c| c.epoch) else {
            return;
        };
        let frame = ServerFrame::Resync {
            conversation_id: conversation,
            epoch,
            reason,
        }
        .render()
        .into();
        self.send(session, frame);
        self.replay(session, conversation, 0);
    }

    /// Send the messages after `last_seq` to one session.
    pub(super) fn replay(
        &mut self,
        session: SessionId,
        conversation: ConversationId,
        last_seq: u64,
    ) {
        let Some(c) = self.conversations.get(&conversation) else {
            return;
        };
        let frames: Vec<_> = c
            .after(last_seq)
            .iter()
            .map(|m| Self::render_message(conversation, m))
            .collect();
        for frame in frames {
            self.send(session, frame);
        }
    }

    /// A resume for a conversation that is no longer open: what was missed, then
    /// how it ended; or `not_found` once it is no longer remembered.
    fn replay_ended(&mut self, session: SessionId, customer: &SmolStr, resume: Resume) {
        let id = resume.conversation_id;
        let Some(ended) = self.ended.get(&id).filter(|e| &e.customer == customer) else {
            self.error(
                session,
                FrameError::new(
                    ErrorCode::NotFound,
                    format!("resume: conversation {id} is not open"),
                ),
                None,
            );
            return;
        };
        let from = usize::try_from(resume.last_seq)
            .unwrap_or(usize::MAX)
            .min(ended.messages.len());
        let mut frames: Vec<_> = ended.messages[from..]
            .iter()
            .map(|m| Self::render_message(id, m))
            .collect();
        frames.push(
            ServerFrame::Ended {
                conversation_id: id,
                reason: ended.reason,
                ticket_id: ended.ticket,
            }
            .render()
            .into(),
        );
        for frame in frames {
            self.send(session, frame);
        }
    }

    pub(super) fn customer_frame(
        &mut self,
        session: SessionId,
        frame: CustomerFrame,
        now: Instant,
    ) {
        let Some(SessionEntry {
            role: Role::Customer(key),
            ..
        }) = self.sessions.get(&session)
        else {
            return;
        };
        let key = key.clone();
        let open = self.customers.get(&key).and_then(|c| c.open);
        match frame {
            CustomerFrame::Hello { .. } => self.error(
                session,
                FrameError::new(ErrorCode::BadRequest, "hello was already received"),
                None,
            ),
            CustomerFrame::Start {
                topic,
                language,
                text,
                client_msg_id,
                metadata,
            } => match open {
                Some(id) => self.join(session, id, text, client_msg_id, now),
                None => self.start(
                    &key,
                    Opening {
                        topic,
                        language,
                        text,
                        client_msg_id,
                        metadata,
                    },
                    now,
                ),
            },
            CustomerFrame::Message {
                client_msg_id,
                text,
            } => match open {
                Some(id) => {
                    self.post(
                        id,
                        Some(session),
                        Author::Customer,
                        None,
                        Some(SmolStr::new(&client_msg_id)),
                        Arc::from(text),
                    );
                }
                None => self.error(
                    session,
                    FrameError::new(
                        ErrorCode::Conflict,
                        "no open conversation: send `start` first",
                    ),
                    Some(&client_msg_id),
                ),
            },
            CustomerFrame::Typing { on } => {
                if let Some(id) = open
                    && let Some(agent) = self.holder(&id)
                {
                    let frame = ServerFrame::Typing {
                        conversation_id: id,
                        from: Author::Customer,
                        on,
                    }
                    .render()
                    .into();
                    self.send_to_agent(&agent, &frame);
                }
            }
            CustomerFrame::Close {} => match open {
                Some(id) => {
                    let state = match self.router.placement(&id) {
                        Some(Placement::Assigned(_)) => ConversationState::Resolved,
                        _ => ConversationState::Abandoned,
                    };
                    self.end(id, state, EndReason::Closed, now);
                }
                None => self.error(
                    session,
                    FrameError::new(ErrorCode::Conflict, "no open conversation to close"),
                    None,
                ),
            },
            CustomerFrame::Rate {
                score,
                conversation_id,
            } => self.rate(session, &key, open, score, conversation_id),
            CustomerFrame::LeaveMessage {
                text,
                client_msg_id,
            } => self.leave_message(session, &key, open, text, client_msg_id, now),
        }
    }

    /// `leave_message`: the question goes to a ticket instead of a live chat.
    fn leave_message(
        &mut self,
        session: SessionId,
        key: &SmolStr,
        open: Option<ConversationId>,
        text: String,
        client_msg_id: Option<String>,
        now: Instant,
    ) {
        let reference = client_msg_id.clone();
        let conflict = |message: &str| FrameError::new(ErrorCode::Conflict, message);
        let (id, spec, reason) = match open {
            Some(id) => {
                if let Some(Placement::Assigned(_)) = self.router.placement(&id) {
                    self.error(
                        session,
                        conflict("an agent is with you: send `message` instead"),
                        reference.as_deref(),
                    );
                    return;
                }
                let Some(spec) = self.router.spec(&id) else {
                    return;
                };
                let offered = self
                    .conversations
                    .get(&id)
                    .is_some_and(|c| c.overflow_offered);
                let reason = if offered {
                    TicketReason::Overflow
                } else {
                    TicketReason::LeftMessage
                };
                (id, spec, reason)
            }
            None => {
                let Some(offer) = self.customers.get_mut(key).and_then(|c| c.offer.take()) else {
                    self.error(
                        session,
                        conflict("no chat to leave a message for: send `start` first"),
                        reference.as_deref(),
                    );
                    return;
                };
                let spec = offer.spec();
                let Some(id) = self.open_conversation(key, offer) else {
                    return;
                };
                (id, spec, TicketReason::NoAgent)
            }
        };
        self.post(
            id,
            Some(session),
            Author::Customer,
            None,
            client_msg_id.map(SmolStr::from),
            Arc::from(text),
        );
        self.file_ticket(id, spec, reason, None, now);
    }

    /// The customer left while offered to leave a message: a question it had
    /// typed in its `start` still goes to a ticket.
    pub(super) fn offer_expired(&mut self, key: &SmolStr, now: Instant) {
        let Some(entry) = self.customers.remove(key) else {
            return;
        };
        let Some(offer) = entry.offer.filter(Offer::has_text) else {
            return;
        };
        // Back for the length of the filing, which needs the customer's profile.
        self.customers.insert(
            key.clone(),
            super::CustomerEntry {
                offer: None,
                ..entry
            },
        );
        let spec = offer.spec();
        if let Some(id) = self.open_conversation(key, offer) {
            self.file_ticket(id, spec, TicketReason::NoAgent, None, now);
        }
        if self
            .customers
            .get(key)
            .is_some_and(|c| c.sessions.is_empty())
        {
            self.customers.remove(key);
        }
    }

    /// Open a conversation from an offer: stored, the customer's open one, its
    /// first text posted. Not routed.
    fn open_conversation(&mut self, key: &SmolStr, offer: Offer) -> Option<ConversationId> {
        let profile = self.customers.get(key).map(|c| c.profile.clone())?;
        let id = ConversationId::new();
        self.writes.push(Change::Opened {
            id,
            customer: profile.clone(),
            topic: offer.topic.clone(),
            language: offer.language.clone(),
            priority: offer.priority,
            metadata: offer.metadata.clone(),
            at: OffsetDateTime::now_utc(),
        });
        self.conversations.insert(
            id,
            Conversation::new(id, profile, offer.metadata, Instant::now()),
        );
        if let Some(entry) = self.customers.get_mut(key) {
            entry.open = Some(id);
            entry.offer = None;
        }
        if let Some(text) = offer.text {
            let key = offer.client_msg_id.map(SmolStr::from);
            self.post(id, None, Author::Customer, None, key, Arc::from(text));
        }
        Some(id)
    }

    /// Past `tickets.overflow_eta_secs` of estimated wait: offer the customer to
    /// leave a message instead.
    fn offer_overflow(&mut self, id: ConversationId, now: Instant) {
        let threshold = self.config.tickets.overflow_eta_secs;
        if threshold == 0 {
            return;
        }
        let Some(position) = self.router.position(&id) else {
            return;
        };
        let Some(topic) = self.router.spec(&id).map(|s| s.topic) else {
            return;
        };
        let Some(eta) = self
            .rates
            .get(&topic)
            .and_then(|r| r.eta_seconds(position, now))
            .filter(|&eta| eta > threshold)
        else {
            return;
        };
        let Some(c) = self.conversations.get_mut(&id) else {
            return;
        };
        c.overflow_offered = true;
        let key = c.customer.key.clone();
        let frame = ServerFrame::Overflow {
            conversation_id: id,
            position,
            eta_seconds: eta,
        }
        .render()
        .into();
        self.send_to_customer(&key, &frame);
    }

    /// A new conversation: classify, then queue and match, or, when no agent
    /// online can serve it, offer to leave a message (`offline`).
    fn start(&mut self, key: &SmolStr, opening: Opening, now: Instant) {
        let Some(vip) = self.customers.get(key).map(|c| c.profile.vip) else {
            return;
        };
        let text = opening.text.filter(|t| !t.trim().is_empty());
        let offer = Offer {
            topic: SmolStr::new(opening.topic),
            language: self.routing_language(opening.language),
            priority: self.classify(text.as_deref(), vip),
            text,
            client_msg_id: opening.client_msg_id,
            metadata: opening.metadata.unwrap_or_default(),
        };
        if self.config.tickets.ticket_when_unserved
            && let Some(why) = self.unserved(&offer.topic, &offer.language)
        {
            let frame = ServerFrame::Offline {
                topic: &offer.topic,
                language: &offer.language,
                reason: why.as_str(),
                leave_message: true,
            }
            .render()
            .into();
            tracing::info!(customer = %key, topic = %offer.topic, reason = why.as_str(), "no agent can serve: offered to leave a message");
            self.send_to_customer(key, &frame);
            if let Some(entry) = self.customers.get_mut(key) {
                entry.offer = Some(offer);
            }
            return;
        }
        let spec = offer.spec();
        // Posted before routing, so the first message reaches an agent that takes
        // the chat at once through the transcript of its `assigned`.
        let Some(id) = self.open_conversation(key, offer) else {
            return;
        };
        tracing::info!(conversation = %id, customer = %key, topic = %spec.topic, language = %spec.language, priority = spec.priority.as_str(), "started");
        match self.router.enqueue(id, spec, now) {
            Ok(Some(assignment)) => self.carry_out(vec![assignment], now),
            Ok(None) => {
                self.waiting(id, now);
                self.offer_overflow(id, now);
            }
            Err(e) => tracing::error!(conversation = %id, error = %e, "enqueue refused"),
        }
    }

    /// The language a conversation is routed in: the customer's if some agent
    /// speaks it (or it is the default or fallback language), else the fallback
    /// language at once, since waiting for a speaker nobody employs helps no one.
    /// This also keeps the set of queues bounded whatever codes clients send.
    fn routing_language(&self, requested: Option<String>) -> SmolStr {
        let routing = &self.config.routing;
        let language = SmolStr::new(requested.unwrap_or_else(|| routing.default_language.clone()));
        if self.known_languages.contains(&language) {
            language
        } else {
            SmolStr::new(&routing.fallback_language)
        }
    }

    /// A `start` while a conversation is open joins it: the session hears where
    /// the conversation is, and a first text becomes a message in it.
    fn join(
        &mut self,
        session: SessionId,
        id: ConversationId,
        text: Option<String>,
        client_msg_id: Option<String>,
        now: Instant,
    ) {
        match self.router.placement(&id) {
            Some(Placement::Assigned(agent)) => {
                let agent = agent.clone();
                let name = self
                    .agents
                    .get(&agent)
                    .map_or_else(|| agent.clone(), |a| a.name.clone());
                let frame = ServerFrame::AssignedToCustomer {
                    conversation_id: id,
                    agent: AgentRef { id: agent, name },
                }
                .render()
                .into();
                self.send(session, frame);
            }
            Some(Placement::Queued) => {
                if let Some(frame) = self.queued_frame(id, now) {
                    self.send(session, frame);
                }
            }
            None => {}
        }
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return;
        };
        // Without an idempotency key, a `start` repeating the text of the `start`
        // that opened the conversation (its first message, which has no key) is
        // taken for the retry it almost surely is.
        let retried_opening = client_msg_id.is_none()
            && self.conversations.get(&id).is_some_and(|c| {
                c.messages.first().is_some_and(|m| {
                    m.from == Author::Customer && m.client_msg_id.is_none() && *m.text == *text
                })
            });
        if !retried_opening {
            let key = client_msg_id.map(SmolStr::from);
            self.post(
                id,
                Some(session),
                Author::Customer,
                None,
                key,
                Arc::from(text),
            );
        }
    }

    fn rate(
        &mut self,
        session: SessionId,
        key: &SmolStr,
        open: Option<ConversationId>,
        score: i64,
        conversation: Option<ConversationId>,
    ) {
        let Ok(score) = u8::try_from(score)
            .map_err(|_| ())
            .and_then(|s| if (1..=5).contains(&s) { Ok(s) } else { Err(()) })
        else {
            self.error(
                session,
                FrameError::new(
                    ErrorCode::BadRequest,
                    "`rate` frame: `score` must be 1 to 5",
                ),
                None,
            );
            return;
        };
        let target = conversation.or_else(|| self.last_ended.get(key).copied());
        if target.is_some() && target == open {
            self.error(
                session,
                FrameError::new(
                    ErrorCode::Conflict,
                    "rate the conversation once it has ended",
                ),
                None,
            );
            return;
        }
        let Some((id, ended)) = target
            .and_then(|id| Some((id, self.ended.get_mut(&id)?)))
            .filter(|(_, ended)| &ended.customer == key)
        else {
            self.error(
                session,
                FrameError::new(
                    ErrorCode::NotFound,
                    "no ended conversation of yours to rate",
                ),
                None,
            );
            return;
        };
        if ended.rating.is_some() {
            self.error(
                session,
                FrameError::new(ErrorCode::Conflict, "this conversation is already rated"),
                None,
            );
            return;
        }
        ended.rating = Some(score);
        self.writes.push(Change::Rated { id, score });
        self.metrics.csat.get_or_create(&ScoreLabel { score }).inc();
        self.desk.rated(score, time::OffsetDateTime::now_utc());
        let frame = ServerFrame::Rated {
            conversation_id: id,
            score,
        }
        .render()
        .into();
        self.send_to_customer(key, &frame);
    }
}
