//! The embedded store: conversations in process memory. Durable for the life of
//! the process, which is what one node with nothing installed can offer.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Mutex,
};

use async_trait::async_trait;

use time::OffsetDateTime;

use super::{Change, ConversationRecord, Receipt, Store, StoreError, ticket_book::TicketBook};
use crate::{
    domain::ConversationId,
    tickets::{Delivery, Ticket, TicketId, TicketPage, TicketQuery, TicketUpdate, UpdateError},
};

/// Conversations in a map. A std `Mutex`: it is never held across an `.await`
/// and every critical section is a few map operations.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// Ended conversations kept before the oldest is dropped.
    retain_ended: usize,
}

#[derive(Debug, Default)]
struct Inner {
    conversations: HashMap<ConversationId, ConversationRecord>,
    /// Ended conversations, oldest first, for eviction.
    ended: VecDeque<ConversationId>,
    /// Tickets are never evicted: they are the desk's record.
    tickets: TicketBook,
}

impl MemoryStore {
    /// A store keeping at most `retain_ended` ended conversations (open ones are
    /// always kept).
    pub fn new(retain_ended: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            retain_ended,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves maps that are still consistent per
        // change, so a poisoned lock is safe to keep using.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(100_000)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn commit(&self, batch: &[Change]) -> Result<Receipt, StoreError> {
        let mut inner = self.lock();
        let mut receipt = Receipt::default();
        // All or nothing: refuse the batch before applying any of it if a change
        // names a conversation neither stored nor opened earlier in the batch.
        let mut opened = HashSet::new();
        for change in batch {
            let id = change.conversation();
            if matches!(change, Change::Opened { .. }) {
                opened.insert(id);
            } else if matches!(change, Change::Ticketed(_)) {
                // A filing carries all it needs.
            } else if !opened.contains(&id) && !inner.conversations.contains_key(&id) {
                return Err(StoreError::Missing(id));
            }
        }
        for change in batch {
            let id = change.conversation();
            if let Change::Ticketed(filing) = change {
                let ticket = inner.tickets.file(filing);
                receipt.tickets.push((id, ticket));
                continue;
            }
            if let Some(record) = ConversationRecord::opened(change) {
                inner.conversations.entry(id).or_insert(record);
                continue;
            }
            let Some(record) = inner.conversations.get_mut(&id) else {
                continue;
            };
            let was_open = record.state.is_open();
            record.apply(change);
            if was_open && !record.state.is_open() {
                inner.ended.push_back(id);
            }
        }
        // Evict only once the whole batch is applied, so a change later in the
        // batch never misses a record evicted by an earlier one.
        while inner.ended.len() > self.retain_ended {
            if let Some(old) = inner.ended.pop_front() {
                inner.conversations.remove(&old);
            }
        }
        Ok(receipt)
    }

    async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        Ok(self.lock().conversations.get(&id).cloned())
    }

    async fn open_conversations(&self) -> Result<Vec<ConversationRecord>, StoreError> {
        let mut open: Vec<_> = self
            .lock()
            .conversations
            .values()
            .filter(|r| r.state.is_open())
            .cloned()
            .collect();
        // Ids are UUID v7: creation order, which is the queue's arrival order.
        open.sort_by_key(|r| r.id);
        Ok(open)
    }

    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        Ok(self.lock().tickets.get(id))
    }

    async fn tickets(&self, query: &TicketQuery) -> Result<TicketPage, StoreError> {
        Ok(self.lock().tickets.page(query))
    }

    async fn update_ticket(
        &self,
        id: TicketId,
        update: &TicketUpdate,
        at: OffsetDateTime,
    ) -> Result<Ticket, UpdateError> {
        self.lock().tickets.update(id, update, at)
    }

    async fn due_deliveries(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        Ok(self.lock().tickets.due(now, limit))
    }

    async fn delivered(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.lock().tickets.delivered(delivery);
        Ok(())
    }

    async fn retry_delivery(
        &self,
        delivery: &Delivery,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.lock().tickets.retry(delivery, at);
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.lock()
            .tickets
            .kill(delivery, OffsetDateTime::now_utc());
        Ok(())
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        Ok(self.lock().tickets.dead(limit))
    }

    async fn redeliver(&self, ticket: TicketId, revision: u64) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .tickets
            .revive((ticket, revision), OffsetDateTime::now_utc()))
    }

    async fn outbox_depth(&self) -> Result<(usize, usize), StoreError> {
        Ok(self.lock().tickets.depth())
    }
}
