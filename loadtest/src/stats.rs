//! What a run records as it goes: latency histograms (HdrHistogram, µs),
//! counters, one bucket per second for the time series, and the event log for
//! the checker. One short std mutex per kind of record: clients record a few
//! times per frame, never across an `.await`.

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;

use crate::events::Event;

/// The latencies a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Latency {
    /// TCP connect + WebSocket upgrade + `hello` → `welcome`.
    ConnectWelcome,
    /// `start` → `queued` (or `assigned` when served at once).
    StartQueued,
    /// `start` → `assigned`: the queue wait.
    QueueWait,
    /// `start` → the first agent message: the first response time.
    FirstResponse,
    /// A message sent → its echo to the sender (the acknowledgement).
    MessageEcho,
    /// A message sent → its delivery at the other party.
    MessageDelivery,
    /// A customer's connection lost (its node killed, a reconnect storm) →
    /// its session resumed on another (`welcome`).
    Resume,
}

impl Latency {
    /// Every kind, in report order.
    pub const ALL: [Latency; 7] = [
        Latency::ConnectWelcome,
        Latency::StartQueued,
        Latency::QueueWait,
        Latency::FirstResponse,
        Latency::MessageEcho,
        Latency::MessageDelivery,
        Latency::Resume,
    ];

    /// Its key in reports.
    pub fn key(self) -> &'static str {
        match self {
            Self::ConnectWelcome => "connect_welcome",
            Self::StartQueued => "start_queued",
            Self::QueueWait => "queue_wait",
            Self::FirstResponse => "first_response",
            Self::MessageEcho => "message_echo",
            Self::MessageDelivery => "message_delivery",
            Self::Resume => "resume",
        }
    }
}

/// One second of the run.
#[derive(Debug, Clone, Default)]
pub struct Second {
    /// Customers that arrived.
    pub arrivals: u64,
    /// Conversations assigned (as customers heard it).
    pub assignments: u64,
    /// Conversations ended (as customers heard it).
    pub ended: u64,
    /// Queue waits that ended in this second, µs.
    pub queue_wait: Option<Histogram<u64>>,
    /// Deliveries in this second, µs.
    pub delivery: Option<Histogram<u64>>,
}

/// A 1 µs .. 1 h histogram with 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // Constant bounds within what HdrHistogram takes (low ≥ 1, high ≥ 2 low,
    // 0-5 significant digits): this cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything a run records.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    histograms: Mutex<BTreeMap<Latency, Histogram<u64>>>,
    counters: Mutex<BTreeMap<String, u64>>,
    seconds: Mutex<Vec<Second>>,
    events: Mutex<Vec<Event>>,
    gauges: Mutex<BTreeMap<&'static str, i64>>,
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            histograms: Mutex::new(Latency::ALL.iter().map(|&l| (l, histogram())).collect()),
            counters: Mutex::new(BTreeMap::new()),
            seconds: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
            gauges: Mutex::new(BTreeMap::new()),
        }
    }

    /// Microseconds since the run started.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// The run's clock.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// When the run started.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// Record a latency of `micros`.
    pub fn latency(&self, kind: Latency, micros: u64) {
        let micros = micros.max(1);
        if let Some(h) = lock(&self.histograms).get_mut(&kind) {
            let _ = h.record(micros);
        }
        if matches!(kind, Latency::QueueWait | Latency::MessageDelivery) {
            self.in_second(|s| {
                let slot = match kind {
                    Latency::QueueWait => &mut s.queue_wait,
                    _ => &mut s.delivery,
                };
                let _ = slot.get_or_insert_with(histogram).record(micros);
            });
        }
    }

    /// Add to a counter.
    pub fn count(&self, name: &str, by: u64) {
        *lock(&self.counters).entry(name.to_string()).or_default() += by;
    }

    /// The current value of a counter.
    pub fn counter(&self, name: &str) -> u64 {
        lock(&self.counters).get(name).copied().unwrap_or(0)
    }

    /// Move a gauge (`connections`, `waiting`) by `delta`.
    pub fn gauge(&self, name: &'static str, delta: i64) {
        *lock(&self.gauges).entry(name).or_default() += delta;
    }

    /// A gauge's value now.
    pub fn gauge_value(&self, name: &'static str) -> u64 {
        u64::try_from(lock(&self.gauges).get(name).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// Change this second's bucket.
    pub fn in_second(&self, change: impl FnOnce(&mut Second)) {
        let index = usize::try_from(self.start.elapsed().as_secs()).unwrap_or(usize::MAX);
        let mut seconds = lock(&self.seconds);
        if seconds.len() <= index {
            seconds.resize_with(index + 1, Second::default);
        }
        if let Some(second) = seconds.get_mut(index) {
            change(second);
        }
    }

    /// Log an observation for the checker.
    pub fn event(&self, event: Event) {
        lock(&self.events).push(event);
    }

    /// The histograms so far.
    pub fn histograms(&self) -> BTreeMap<Latency, Histogram<u64>> {
        lock(&self.histograms).clone()
    }

    /// The counters so far.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        lock(&self.counters).clone()
    }

    /// The per-second buckets so far.
    pub fn seconds(&self) -> Vec<Second> {
        lock(&self.seconds).clone()
    }

    /// Take the event log (the run is over).
    pub fn take_events(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.events))
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}
