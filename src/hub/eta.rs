//! Queue ETA from the recent assignment rate of a topic: what a waiting customer
//! can expect, without any model of agents' handle times.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

/// Assignments of one topic over a sliding window.
#[derive(Debug, Default)]
pub struct AssignmentRate {
    recent: VecDeque<Instant>,
}

/// How far back the rate looks.
const WINDOW: Duration = Duration::from_secs(300);
/// Assignments needed before an estimate is offered at all.
const MIN_SAMPLES: usize = 3;
/// Bound on memory per topic; at 5,000 assignments in the window the rate is exact
/// enough, and older samples are dropped.
const MAX_SAMPLES: usize = 5_000;

impl AssignmentRate {
    /// Count one assignment.
    pub fn record(&mut self, now: Instant) {
        self.forget_before(now);
        if self.recent.len() == MAX_SAMPLES {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
    }

    fn forget_before(&mut self, now: Instant) {
        while self
            .recent
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) > WINDOW)
        {
            self.recent.pop_front();
        }
    }

    /// Seconds until the customer at `position` is served, at the recent rate;
    /// `None` until there is enough history to say.
    pub fn eta_seconds(&self, position: usize, now: Instant) -> Option<u64> {
        // Samples are dropped only when one is recorded: skip the stale ones here.
        let stale = self
            .recent
            .partition_point(|&t| now.saturating_duration_since(t) > WINDOW);
        let live = self.recent.len() - stale;
        if live < MIN_SAMPLES {
            return None;
        }
        let first = self.recent[stale];
        // Measure over the span since the oldest live sample (at least 1 s), so a
        // burst right after start-up does not promise an absurd rate.
        let span = now
            .saturating_duration_since(first)
            .max(Duration::from_secs(1));
        let per_second = live as f64 / span.as_secs_f64();
        Some((position as f64 / per_second).ceil() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_estimate_without_history() {
        let rate = AssignmentRate::default();
        assert_eq!(rate.eta_seconds(3, Instant::now()), None);
    }

    #[test]
    fn estimate_follows_rate() {
        let start = Instant::now();
        let mut rate = AssignmentRate::default();
        // One assignment every 2 s for 20 s: 0.5 per second.
        for i in 0..10 {
            rate.record(start + Duration::from_secs(2 * i));
        }
        let now = start + Duration::from_secs(20);
        assert_eq!(rate.eta_seconds(5, now), Some(10));
    }
}
