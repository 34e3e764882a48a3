//! Tickets and the webhook outbox in process memory: the memory store's half of
//! the ticket contract (the Redis store keeps the same rules in its scripts).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use time::OffsetDateTime;

use crate::{
    domain::{ConversationId, CustomerKey, Topic},
    tickets::{
        Delivery, Filing, SCAN_BUDGET, Ticket, TicketId, TicketPage, TicketQuery, TicketStatus,
        TicketUpdate, UpdateError,
    },
};

type DeliveryKey = (TicketId, u64);

/// Every ticket, its indexes, and the outbox.
#[derive(Debug, Default)]
pub(super) struct TicketBook {
    tickets: BTreeMap<TicketId, Ticket>,
    by_conversation: HashMap<ConversationId, TicketId>,
    /// The one open (or pending) ticket per customer and topic.
    open: HashMap<(CustomerKey, Topic), TicketId>,
    deliveries: HashMap<DeliveryKey, Delivery>,
    due: BTreeSet<(OffsetDateTime, DeliveryKey)>,
    due_at: HashMap<DeliveryKey, OffsetDateTime>,
    dead: BTreeSet<(OffsetDateTime, DeliveryKey)>,
}

impl TicketBook {
    /// File a conversation: its ticket if it was filed before, else the
    /// customer's open ticket on the topic, else a new one.
    pub(super) fn file(&mut self, filing: &Filing) -> TicketId {
        if let Some(&id) = self.by_conversation.get(&filing.conversation) {
            return id;
        }
        let matter = (filing.customer.key.clone(), filing.topic.clone());
        let id = match self
            .open
            .get(&matter)
            .and_then(|id| self.tickets.get_mut(id))
        {
            Some(ticket) => {
                ticket.absorb(filing);
                ticket.id
            }
            None => {
                let ticket = Ticket::open(filing);
                let id = ticket.id;
                self.tickets.insert(id, ticket);
                self.open.insert(matter, id);
                id
            }
        };
        self.by_conversation.insert(filing.conversation, id);
        if filing.notify {
            self.enqueue(id);
        }
        id
    }

    fn enqueue(&mut self, id: TicketId) {
        let Some(ticket) = self.tickets.get(&id) else {
            return;
        };
        let delivery = Delivery::new(ticket);
        let key = (id, delivery.revision);
        self.schedule(key, delivery.created_at);
        self.deliveries.insert(key, delivery);
    }

    fn schedule(&mut self, key: DeliveryKey, at: OffsetDateTime) {
        if let Some(old) = self.due_at.insert(key, at) {
            self.due.remove(&(old, key));
        }
        self.due.insert((at, key));
    }

    fn unschedule(&mut self, key: DeliveryKey) {
        if let Some(old) = self.due_at.remove(&key) {
            self.due.remove(&(old, key));
        }
    }

    pub(super) fn get(&self, id: TicketId) -> Option<Ticket> {
        self.tickets.get(&id).cloned()
    }

    pub(super) fn page(&self, query: &TicketQuery) -> TicketPage {
        let lower = query
            .created_since
            .map_or(std::ops::Bound::Unbounded, |at| {
                std::ops::Bound::Included(TicketId::lower_bound(at))
            });
        let upper = query
            .cursor
            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let mut page = TicketPage::default();
        let mut last = None;
        for (scanned, (id, ticket)) in self.tickets.range((lower, upper)).rev().enumerate() {
            if page.tickets.len() == query.limit || scanned == SCAN_BUDGET {
                // More to see: the cursor is exclusive, so the next page starts
                // just past the last ticket looked at.
                page.next_cursor = last;
                break;
            }
            last = Some(*id);
            if query.matches(ticket) {
                page.tickets.push(ticket.clone());
            }
        }
        page
    }

    pub(super) fn update(
        &mut self,
        id: TicketId,
        update: &TicketUpdate,
        at: OffsetDateTime,
    ) -> Result<Ticket, UpdateError> {
        let ticket = self.tickets.get(&id).ok_or(UpdateError::NotFound(id))?;
        let matter = (ticket.customer.key.clone(), ticket.topic.clone());
        let reopening = ticket.status == TicketStatus::Closed
            && update.status.is_some_and(|s| s != TicketStatus::Closed);
        if reopening && let Some(&other) = self.open.get(&matter) {
            return Err(UpdateError::Conflict(other));
        }
        let ticket = self.tickets.get_mut(&id).ok_or(UpdateError::NotFound(id))?;
        ticket.apply(update, at);
        let ticket = ticket.clone();
        if ticket.status == TicketStatus::Closed {
            if self.open.get(&matter) == Some(&id) {
                self.open.remove(&matter);
            }
        } else {
            self.open.insert(matter, id);
        }
        if update.notify {
            self.enqueue(id);
        }
        Ok(ticket)
    }

    pub(super) fn due(&self, now: OffsetDateTime, limit: usize) -> Vec<Delivery> {
        self.due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .filter_map(|(_, key)| self.deliveries.get(key).cloned())
            .collect()
    }

    pub(super) fn delivered(&mut self, delivery: &Delivery) {
        let key = (delivery.ticket_id, delivery.revision);
        self.unschedule(key);
        self.deliveries.remove(&key);
    }

    pub(super) fn retry(&mut self, delivery: &Delivery, at: OffsetDateTime) {
        let key = (delivery.ticket_id, delivery.revision);
        // Only a delivery still in the outbox: one delivered meanwhile (by a
        // node that overlapped this one) stays delivered.
        if let Some(kept) = self.deliveries.get_mut(&key) {
            *kept = delivery.clone();
            self.schedule(key, at);
        }
    }

    pub(super) fn kill(&mut self, delivery: &Delivery, at: OffsetDateTime) {
        let key = (delivery.ticket_id, delivery.revision);
        if let Some(kept) = self.deliveries.get_mut(&key) {
            *kept = delivery.clone();
            self.unschedule(key);
            // Once in the list, however often it is dead-lettered.
            self.dead.retain(|(_, k)| *k != key);
            self.dead.insert((at, key));
        }
    }

    pub(super) fn dead(&self, limit: usize) -> Vec<Delivery> {
        self.dead
            .iter()
            .take(limit)
            .filter_map(|(_, key)| self.deliveries.get(key).cloned())
            .collect()
    }

    pub(super) fn revive(&mut self, key: DeliveryKey, now: OffsetDateTime) -> bool {
        let Some(entry) = self.dead.iter().find(|(_, k)| *k == key).copied() else {
            return false;
        };
        self.dead.remove(&entry);
        if let Some(delivery) = self.deliveries.get_mut(&key) {
            delivery.attempts = 0;
        }
        self.schedule(key, now);
        true
    }

    pub(super) fn depth(&self) -> (usize, usize) {
        (self.due.len(), self.dead.len())
    }
}
