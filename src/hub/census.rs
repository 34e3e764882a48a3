//! What waits where, counted once: one row per (topic, language, priority)
//! line with someone waiting. The `/metrics` queue gauges and the dashboard's
//! queue are both read off this one count, so the two cannot disagree.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::router::Router;
use crate::domain::{Language, Priority, Topic};

/// One (topic, language, priority) line with someone waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueRow {
    /// One of `routing.topics`.
    #[schema(value_type = String)]
    pub topic: Topic,
    /// The conversations' language.
    #[schema(value_type = String)]
    pub language: Language,
    /// `urgent`, `vip` or `standard`.
    #[schema(value_type = String)]
    pub priority: Priority,
    /// Conversations waiting in the line (at least 1).
    pub depth: usize,
    /// How long its longest-waiting conversation has waited since it first
    /// entered the queue, in whole seconds.
    pub oldest_wait_secs: u64,
}

/// The queue at one instant.
#[derive(Debug)]
pub(super) struct Census {
    /// Topics in configured order, then languages sorted, then priorities in
    /// serving order.
    pub(super) rows: Vec<QueueRow>,
}

impl Census {
    pub(super) fn take(router: &Router, now: Instant) -> Self {
        let topics = router.topics();
        let mut rows: Vec<(usize, QueueRow)> = router
            .lines()
            .map(|line| {
                // A line's first conversation is its longest waiting.
                let oldest = line.waiting().next().map_or(0, |(_, since)| {
                    now.saturating_duration_since(since).as_secs()
                });
                let rank = topics.iter().position(|t| t == line.topic).unwrap_or(0);
                (
                    rank,
                    QueueRow {
                        topic: line.topic.clone(),
                        language: line.language.clone(),
                        priority: line.priority,
                        depth: line.depth(),
                        oldest_wait_secs: oldest,
                    },
                )
            })
            .collect();
        // Languages are interned in the order first seen: sort them by name, so
        // the dashboard's rows do not move about from one run to the next.
        rows.sort_by(|(ra, a), (rb, b)| {
            (ra, &a.language, a.priority).cmp(&(rb, &b.language, b.priority))
        });
        Self {
            rows: rows.into_iter().map(|(_, row)| row).collect(),
        }
    }

    /// Per topic of `topics` (every one, waiting or not): conversations
    /// waiting and the longest wait in seconds, what the gauges show.
    pub(super) fn per_topic<'a>(
        &'a self,
        topics: &'a [Topic],
    ) -> impl Iterator<Item = (&'a Topic, usize, u64)> + 'a {
        topics.iter().map(|topic| {
            let rows = self.rows.iter().filter(move |r| &r.topic == topic);
            let depth = rows.clone().map(|r| r.depth).sum();
            let oldest = rows.map(|r| r.oldest_wait_secs).max().unwrap_or(0);
            (topic, depth, oldest)
        })
    }

    /// Conversations waiting in all.
    pub(super) fn total(&self) -> usize {
        self.rows.iter().map(|r| r.depth).sum()
    }

    /// The longest wait of all, in seconds; 0 with nobody waiting.
    pub(super) fn longest_wait_secs(&self) -> u64 {
        self.rows
            .iter()
            .map(|r| r.oldest_wait_secs)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use smol_str::SmolStr;

    use super::*;
    use crate::{domain::ConversationId, hub::router::RouteSpec};

    fn spec(topic: &str, language: &str, priority: Priority) -> RouteSpec {
        RouteSpec {
            topic: SmolStr::new(topic),
            language: SmolStr::new(language),
            priority,
        }
    }

    #[test]
    fn rows_add_up_to_the_topic_counts_the_router_keeps() {
        let topics = [SmolStr::new("trading"), SmolStr::new("api")];
        let mut router = Router::new(&topics, &SmolStr::new("en"), Duration::from_secs(60));
        let t0 = Instant::now();
        let arrivals = [
            (spec("api", "es", Priority::Standard), 0),
            (spec("api", "en", Priority::Urgent), 5),
            (spec("api", "en", Priority::Standard), 7),
            (spec("api", "en", Priority::Standard), 9),
            (spec("trading", "en", Priority::Vip), 10),
        ];
        for (spec, at) in arrivals {
            let queued = router.enqueue(ConversationId::new(), spec, t0 + Duration::from_secs(at));
            assert!(matches!(queued, Ok(None)));
        }
        let now = t0 + Duration::from_secs(30);
        let census = Census::take(&router, now);
        let shape: Vec<_> = census
            .rows
            .iter()
            .map(|r| {
                (
                    r.topic.as_str(),
                    r.language.as_str(),
                    r.priority,
                    r.depth,
                    r.oldest_wait_secs,
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("trading", "en", Priority::Vip, 1, 20),
                ("api", "en", Priority::Urgent, 1, 25),
                ("api", "en", Priority::Standard, 2, 23),
                ("api", "es", Priority::Standard, 1, 30),
            ]
        );
        assert_eq!(census.total(), router.queued_total());
        assert_eq!(census.longest_wait_secs(), 30);
        for (ix, (topic, depth, oldest)) in census.per_topic(&topics).enumerate() {
            assert_eq!(topic, &topics[ix]);
            assert_eq!(depth, router.queued_in_topic(ix));
            let router_oldest = router
                .oldest_in_topic(ix)
                .map_or(0, |t| now.saturating_duration_since(t).as_secs());
            assert_eq!(oldest, router_oldest);
        }
    }
}
