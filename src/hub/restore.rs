//! Start-up from a durable store: the queue in its order, the open conversations
//! with their transcripts, and the agents' chats, as they were when the last node
//! stopped. Sessions come back by themselves (clients reconnect and resume); until
//! they do, the grace periods run as if every session had just dropped.

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::{Conversation, CustomerEntry, Hub, RouteSpec, Timer};
use crate::{
    domain::{ConversationId, ConversationState, CustomerKey},
    store::{Change, ConversationRecord, StoreError},
};

/// Why the hub could not start from its store.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The store could not be read.
    #[error("reading open conversations")]
    Store(#[from] StoreError),
}

impl Hub {
    /// Everything the hub holds of its open conversations, as changes that
    /// rebuild them in an empty store, each under a new log epoch; their sessions
    /// are told to resync. Used when the store lost its data.
    pub(super) fn reseed(&mut self) -> Vec<Change> {
        let mut ids: Vec<_> = self.conversations.keys().copied().collect();
        ids.sort();
        ids.into_iter().flat_map(|id| self.reseed_one(id)).collect()
    }

    /// One open conversation's whole state as changes, under a new log epoch,
    /// and its sessions told to resync. Nothing for a conversation not open here.
    pub(super) fn reseed_one(&mut self, id: ConversationId) -> Vec<Change> {
        let mut changes = Vec::new();
        let wall_now = OffsetDateTime::now_utc();
        {
            let id = &id;
            let (Some(spec), Some(c)) = (self.router.spec(id), self.conversations.get_mut(id))
            else {
                return changes;
            };
            c.epoch += 1;
            let age = time::Duration::try_from(c.started_at.elapsed()).unwrap_or_default();
            changes.push(Change::Opened {
                id: *id,
                customer: c.customer.clone(),
                topic: spec.topic.clone(),
                language: spec.language,
                priority: spec.priority,
                metadata: c.metadata.clone(),
                at: wall_now - age,
            });
            changes.extend(c.messages.iter().map(|m| Change::Appended {
                id: *id,
                message: m.clone(),
            }));
            changes.push(Change::Epoch {
                id: *id,
                epoch: c.epoch,
            });
            // `Opened` does not touch an existing record: set where it is now.
            changes.push(Change::Requeued {
                id: *id,
                topic: spec.topic.clone(),
                priority: spec.priority,
            });
            if let Some(agent) = self.holder(id) {
                changes.push(Change::Assigned { id: *id, agent });
            }
        }
        self.resync_sessions(id, "store_reset");
        changes
    }

    /// Rebuild from the store's open conversations (in creation order).
    pub(super) async fn restore(&mut self, now: Instant) -> Result<usize, RestoreError> {
        let records = self.store.open_conversations().await?;
        let count = records.len();
        let wall_now = OffsetDateTime::now_utc();
        for record in records {
            self.restore_one(record, now, wall_now);
        }
        // Agents holding chats have no session yet: their grace starts now.
        let holding: Vec<_> = self
            .agents
            .keys()
            .filter(|agent| self.router.load(agent) > 0)
            .cloned()
            .collect();
        let grace = Duration::from_secs(self.config.timeouts.agent_grace_secs);
        for agent in holding {
            self.timers
                .insert(Timer::AgentGrace { agent, epoch: 0 }, grace);
        }
        Ok(count)
    }

    fn restore_one(&mut self, record: ConversationRecord, now: Instant, wall_now: OffsetDateTime) {
        let id = record.id;
        let age = Duration::try_from(wall_now - record.started_at).unwrap_or_default();
        let started = now.checked_sub(age).unwrap_or(now);
        // A chat held by an agent no longer in the roster goes back to the queue.
        let agent = record
            .agent
            .filter(|a| record.state == ConversationState::Assigned && self.agents.contains_key(a));
        let spec = RouteSpec {
            topic: record.topic.clone(),
            language: record.language.clone(),
            priority: record.priority,
        };
        if let Err(e) = self.router.restore(id, spec, started, agent.as_ref()) {
            tracing::error!(conversation = %id, error = %e, "cannot restore; left in the store");
            return;
        }
        let key: CustomerKey = record.customer.key.clone();
        self.conversations.insert(
            id,
            Conversation::restored(
                id,
                record.customer.clone(),
                record.metadata,
                record.messages,
                record.epoch,
                started,
            ),
        );
        let entry = self
            .customers
            .entry(key.clone())
            .or_insert_with(|| CustomerEntry {
                profile: record.customer,
                sessions: Vec::new(),
                open: None,
                offer: None,
                epoch: 0,
            });
        entry.open = Some(id);
        self.timers.insert(
            Timer::CustomerGrace {
                customer: key,
                epoch: entry.epoch,
            },
            Duration::from_secs(self.config.timeouts.customer_grace_secs),
        );
        if agent.is_none() {
            self.waiting(id, now);
        }
    }
}
