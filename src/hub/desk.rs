//! What the desk did lately, recorded by the hub as it happens, for the
//! supervisor's dashboard: assignments and first responses of the last 15
//! minutes, today's (UTC) endings, tickets and ratings, and an hour of queue
//! samples for its chart. Every record is bounded, whatever the surge. It lives
//! in the hub's memory: a restart, or a new matcher, starts it afresh.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, Time};
use utoipa::ToSchema;

use crate::domain::EndReason;

/// How far back `last_15_min` looks.
pub(super) const WINDOW: Duration = Duration::from_secs(15 * 60);
/// First responses kept for the percentiles: past this many in the window
/// (over 100 a second), the oldest are dropped and the percentiles are those
/// of the latest ones.
const FIRST_RESPONSES_KEPT: usize = 100_000;
/// Assignments are counted per second of the window rather than kept one by
/// one: the count stays exact at any rate, in at most this many buckets.
const BUCKET: Duration = Duration::from_secs(1);
/// How often the queue is sampled for the chart.
pub(super) const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples kept: an hour's worth.
const SAMPLES_KEPT: usize = 360;

/// One point of the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueSample {
    /// When it was taken (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// Conversations waiting then.
    pub queued_total: usize,
    /// The longest wait then, in seconds.
    pub longest_wait_secs: u64,
}

/// The last 15 minutes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LastFifteen {
    /// Assignments made (a chat transferred or sent back to the queue and
    /// taken again counts again, as in `switchboard_assignments_total`).
    pub assignments: u64,
    /// First responses seen.
    pub first_responses: usize,
    /// Median first response time, in seconds (ms precision); `null` when none.
    pub first_response_p50_secs: Option<f64>,
    /// 90th percentile first response time, in seconds; `null` when none.
    pub first_response_p90_secs: Option<f64>,
}

/// Conversations ended today, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EndedToday {
    /// Resolved by the agent.
    pub resolved: u64,
    /// Closed by the customer.
    pub closed: u64,
    /// Abandoned (the customer gone, nothing unanswered).
    pub abandoned: u64,
    /// Handed to a ticket.
    pub ticketed: u64,
}

/// Ratings received today.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RatingsToday {
    /// How many.
    pub count: u64,
    /// Their mean score (1-5, two decimals); `null` when none.
    pub average: Option<f64>,
}

/// Today, UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TodayStats {
    /// Counted since: UTC midnight, or the hub's start when later (a restart,
    /// or a new matcher, starts counting afresh).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: OffsetDateTime,
    /// Conversations ended, by reason.
    pub ended: EndedToday,
    /// Conversations handed to a ticket (new or appended), whatever the reason.
    pub tickets_filed: u64,
    /// Ratings.
    pub ratings: RatingsToday,
}

#[derive(Debug)]
struct Today {
    date: Date,
    since: OffsetDateTime,
    ended: EndedToday,
    tickets_filed: u64,
    ratings: u64,
    rating_sum: u64,
}

impl Today {
    fn starting(since: OffsetDateTime) -> Self {
        Self {
            date: since.date(),
            since,
            ended: EndedToday::default(),
            tickets_filed: 0,
            ratings: 0,
            rating_sum: 0,
        }
    }
}

/// The hub's record. Times come in as arguments, so tests can drive it.
#[derive(Debug)]
pub(super) struct Desk {
    /// (start of the second, assignments in it), oldest first.
    assignments: VecDeque<(Instant, u64)>,
    /// (when, seconds), oldest first.
    first_responses: VecDeque<(Instant, f64)>,
    today: Today,
    history: VecDeque<QueueSample>,
}

impl Desk {
    pub(super) fn new(started: OffsetDateTime) -> Self {
        Self {
            assignments: VecDeque::new(),
            first_responses: VecDeque::new(),
            today: Today::starting(started),
            history: VecDeque::with_capacity(SAMPLES_KEPT),
        }
    }

    pub(super) fn assigned(&mut self, now: Instant) {
        match self.assignments.back_mut() {
            Some((second, count)) if now.saturating_duration_since(*second) < BUCKET => {
                *count += 1;
            }
            _ => self.assignments.push_back((now, 1)),
        }
        self.forget(now);
    }

    pub(super) fn first_response(&mut self, now: Instant, secs: f64) {
        self.first_responses.push_back((now, secs));
        if self.first_responses.len() > FIRST_RESPONSES_KEPT {
            self.first_responses.pop_front();
        }
        self.forget(now);
    }

    pub(super) fn ended(&mut self, reason: EndReason, utc: OffsetDateTime) {
        let ended = &mut self.today(utc).ended;
        match reason {
            EndReason::Resolved => ended.resolved += 1,
            EndReason::Closed => ended.closed += 1,
            EndReason::Abandoned => ended.abandoned += 1,
            EndReason::Ticketed => ended.ticketed += 1,
        }
    }

    pub(super) fn ticket_filed(&mut self, utc: OffsetDateTime) {
        self.today(utc).tickets_filed += 1;
    }

    pub(super) fn rated(&mut self, score: u8, utc: OffsetDateTime) {
        let today = self.today(utc);
        today.ratings += 1;
        today.rating_sum += u64::from(score);
    }

    pub(super) fn sample(&mut self, sample: QueueSample) {
        if self.history.len() == SAMPLES_KEPT {
            self.history.pop_front();
        }
        self.history.push_back(sample);
    }

    /// The last 15 minutes as of `now`.
    pub(super) fn last_fifteen(&mut self, now: Instant) -> LastFifteen {
        self.forget(now);
        let mut secs: Vec<f64> = self.first_responses.iter().map(|&(_, s)| s).collect();
        LastFifteen {
            assignments: self.assignments.iter().map(|&(_, n)| n).sum(),
            first_responses: secs.len(),
            first_response_p50_secs: percentile(&mut secs, 50),
            first_response_p90_secs: percentile(&mut secs, 90),
        }
    }

    /// Today as of `utc`.
    pub(super) fn today_stats(&mut self, utc: OffsetDateTime) -> TodayStats {
        let today = self.today(utc);
        TodayStats {
            since: today.since,
            ended: today.ended.clone(),
            tickets_filed: today.tickets_filed,
            ratings: RatingsToday {
                count: today.ratings,
                average: (today.ratings > 0).then(|| {
                    // Exact for any count a day can hold (well under 2^52).
                    let mean = today.rating_sum as f64 / today.ratings as f64;
                    (mean * 100.0).round() / 100.0
                }),
            },
        }
    }

    /// The chart's samples, oldest first.
    pub(super) fn history(&self) -> Vec<QueueSample> {
        self.history.iter().cloned().collect()
    }

    /// Today's counters, started afresh when the UTC date has changed since
    /// they were last touched.
    fn today(&mut self, utc: OffsetDateTime) -> &mut Today {
        let date = utc.to_offset(time::UtcOffset::UTC).date();
        if date != self.today.date {
            self.today = Today::starting(date.with_time(Time::MIDNIGHT).assume_utc());
        }
        &mut self.today
    }

    /// Drop what fell out of the window.
    fn forget(&mut self, now: Instant) {
        let old = |at: Instant| now.saturating_duration_since(at) > WINDOW;
        while self.assignments.front().is_some_and(|&(at, _)| old(at)) {
            self.assignments.pop_front();
        }
        while self.first_responses.front().is_some_and(|&(at, _)| old(at)) {
            self.first_responses.pop_front();
        }
    }
}

/// The nearest-rank `p`th percentile (the smallest value with at least p% of
/// the values at or below it), to the millisecond; `None` for no values.
/// Reorders `values`: O(n), no full sort.
fn percentile(values: &mut [f64], p: usize) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = (values.len() * p).div_ceil(100).max(1);
    let (_, value, _) = values.select_nth_unstable_by(rank - 1, f64::total_cmp);
    Some((*value * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use time::format_description::well_known::Rfc3339;

    use super::*;

    fn at(rfc3339: &str) -> OffsetDateTime {
        OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&mut [], 50), None);
        assert_eq!(percentile(&mut [7.0], 50), Some(7.0));
        assert_eq!(percentile(&mut [7.0], 90), Some(7.0));
        let mut values: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert_eq!(percentile(&mut values, 50), Some(5.0));
        assert_eq!(percentile(&mut values, 90), Some(9.0));
        assert_eq!(percentile(&mut [0.1234, 2.0], 50), Some(0.123));
    }

    #[test]
    fn the_window_forgets_after_fifteen_minutes() {
        let t0 = Instant::now();
        let mut desk = Desk::new(at("2026-05-01T10:00:00Z"));
        for ms in [0, 200, 900, 1500] {
            desk.assigned(t0 + Duration::from_millis(ms));
        }
        desk.first_response(t0, 3.0);
        desk.first_response(t0 + Duration::from_secs(60), 1.0);
        let now = t0 + Duration::from_secs(60);
        let last = desk.last_fifteen(now);
        assert_eq!(last.assignments, 4);
        assert_eq!(last.first_responses, 2);
        assert_eq!(last.first_response_p50_secs, Some(1.0));
        assert_eq!(last.first_response_p90_secs, Some(3.0));
        // The first second's bucket and the first response fall out first.
        let later = desk.last_fifteen(t0 + WINDOW + Duration::from_millis(1200));
        assert_eq!(later.assignments, 1);
        assert_eq!(later.first_responses, 1);
        let gone = desk.last_fifteen(t0 + WINDOW + Duration::from_secs(61));
        assert_eq!(gone.assignments, 0);
        assert_eq!(gone.first_response_p50_secs, None);
    }

    #[test]
    fn today_starts_afresh_at_utc_midnight() {
        let mut desk = Desk::new(at("2026-05-01T22:00:00Z"));
        desk.ended(EndReason::Resolved, at("2026-05-01T23:59:00Z"));
        desk.ticket_filed(at("2026-05-01T23:59:00Z"));
        desk.rated(5, at("2026-05-01T23:59:00Z"));
        desk.rated(4, at("2026-05-01T23:59:00Z"));
        let today = desk.today_stats(at("2026-05-01T23:59:30Z"));
        assert_eq!(today.since, at("2026-05-01T22:00:00Z"));
        assert_eq!(today.ended.resolved, 1);
        assert_eq!(today.tickets_filed, 1);
        assert_eq!(today.ratings.average, Some(4.5));
        // Another offset, same instant: still the same UTC day.
        let same = desk.today_stats(at("2026-05-02T01:59:30+02:00"));
        assert_eq!(same.ended.resolved, 1);
        desk.ended(EndReason::Closed, at("2026-05-02T00:00:01Z"));
        let next = desk.today_stats(at("2026-05-02T00:00:02Z"));
        assert_eq!(next.since, at("2026-05-02T00:00:00Z"));
        assert_eq!(
            next.ended,
            EndedToday {
                closed: 1,
                ..EndedToday::default()
            }
        );
        assert_eq!(next.ratings, RatingsToday::default());
    }

    #[test]
    fn the_history_keeps_an_hour() {
        let mut desk = Desk::new(at("2026-05-01T10:00:00Z"));
        for n in 0..SAMPLES_KEPT + 5 {
            desk.sample(QueueSample {
                at: at("2026-05-01T10:00:00Z"),
                queued_total: n,
                longest_wait_secs: 0,
            });
        }
        let history = desk.history();
        assert_eq!(history.len(), SAMPLES_KEPT);
        assert_eq!(history[0].queued_total, 5);
    }
}
