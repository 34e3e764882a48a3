//! Prometheus metrics of one node. Each server owns its own registry (no global
//! recorder), so tests that run several servers in one process see their own.

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// Label: `role` = `customer` or `agent`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoleLabel {
    /// `customer` or `agent`.
    pub role: &'static str,
}

/// Label: `topic`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabel {
    /// A configured topic.
    pub topic: String,
}

/// Label: `from` = author of a message.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FromLabel {
    /// `customer`, `agent` or `system`.
    pub from: &'static str,
}

/// Label: `reason` an ended conversation ended with.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// `resolved`, `ticketed`, `abandoned`, `closed`.
    pub reason: &'static str,
}

/// Label: what became of a webhook delivery attempt.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `delivered`, `failed` or `dead`.
    pub outcome: &'static str,
}

/// Label: wire error `code`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    /// An `error.code`.
    pub code: &'static str,
}

/// Label: CSAT `score`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScoreLabel {
    /// 1-5.
    pub score: u8,
}

/// Label: why the gate refused a connection or a request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GateLabel {
    /// `origin`, `sign_in_failed`, `sign_in_rate_limited`,
    /// `connections_per_address`, `header_timeout`.
    pub reason: &'static str,
}

/// Label: a kind of secret.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// `seed_phrase`, `wif_private_key`, … (customer) or `seed_phrase`,
    /// `private_key`, `password`, `2fa_code` (agent requests).
    pub kind: &'static str,
}

fn seconds_buckets() -> impl Iterator<Item = f64> {
    // 0.1 s .. ~55 min
    exponential_buckets(0.1, 2.0, 16)
}

fn commit_buckets() -> impl Iterator<Item = f64> {
    // 50 µs .. ~1.6 s: a store commit on the hub's path, memory to a slow Redis
    exponential_buckets(0.000_05, 2.0, 16)
}

fn change_buckets() -> impl Iterator<Item = f64> {
    // 1 .. 2048 changes a commit
    exponential_buckets(1.0, 2.0, 12)
}

/// Every metric the node exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket sessions past `hello`.
    pub connections: Family<RoleLabel, Gauge>,
    /// Conversations waiting, per topic (set at scrape time by the hub).
    pub queue_depth: Family<TopicLabel, Gauge>,
    /// Wait of the longest-waiting conversation, per topic, in seconds.
    pub queue_oldest_wait: Family<TopicLabel, Gauge>,
    /// Assignments made.
    pub assignments: Family<TopicLabel, Counter>,
    /// Time from entering the queue to each assignment.
    pub queue_wait: Family<TopicLabel, Histogram>,
    /// Time from the customer's start to the first agent message.
    pub first_response: Family<TopicLabel, Histogram>,
    /// Messages stored.
    pub messages: Family<FromLabel, Counter>,
    /// Conversations ended, by reason.
    pub ended: Family<ReasonLabel, Counter>,
    /// Conversations filed as tickets, by ticket reason.
    pub tickets: Family<ReasonLabel, Counter>,
    /// Webhook deliveries, by outcome (`delivered`, `failed`, `dead`).
    pub webhook: Family<OutcomeLabel, Counter>,
    /// Ratings received.
    pub csat: Family<ScoreLabel, Counter>,
    /// `error` frames sent, by code.
    pub frame_errors: Family<CodeLabel, Counter>,
    /// Sessions closed because they did not drain their outbound queue.
    pub slow_consumers: Counter,
    /// Connections and requests the gate refused, and failed sign-ins.
    pub gate: Family<GateLabel, Counter>,
    /// Secrets masked in customer messages, by kind.
    pub secrets_redacted: Family<KindLabel, Counter>,
    /// Agent messages refused for asking the customer for a secret, by kind.
    pub secret_requests_refused: Family<KindLabel, Counter>,
    /// Each hub turn's store commit, successful ones: every frame of the turn
    /// waits for it, so under load this is where a slow store shows first.
    pub store_commit: Histogram,
    /// Changes in each of those commits: how much the hub batches per turn.
    pub commit_changes: Histogram,
    /// Webhook deliveries waiting in the outbox (due or backing off).
    pub webhook_pending: Gauge,
    /// Webhook deliveries in the dead-letter list.
    pub webhook_dead: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let connections = Family::<RoleLabel, Gauge>::default();
        registry.register(
            "connections",
            "Open sessions past hello",
            connections.clone(),
        );
        let queue_depth = Family::<TopicLabel, Gauge>::default();
        registry.register("queue_depth", "Conversations waiting", queue_depth.clone());
        let queue_oldest_wait = Family::<TopicLabel, Gauge>::default();
        registry.register(
            "queue_oldest_wait_seconds",
            "Wait of the longest-waiting conversation",
            queue_oldest_wait.clone(),
        );
        let assignments = Family::<TopicLabel, Counter>::default();
        registry.register(
            "assignments",
            "Conversations assigned to an agent",
            assignments.clone(),
        );
        let queue_wait = Family::<TopicLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(seconds_buckets())
        });
        registry.register(
            "queue_wait_seconds",
            "Time from entering the queue to assignment",
            queue_wait.clone(),
        );
        let first_response = Family::<TopicLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(seconds_buckets())
        });
        registry.register(
            "first_response_seconds",
            "Time from start to the first agent message",
            first_response.clone(),
        );
        let messages = Family::<FromLabel, Counter>::default();
        registry.register("messages", "Messages stored", messages.clone());
        let ended = Family::<ReasonLabel, Counter>::default();
        registry.register("conversations_ended", "Conversations ended", ended.clone());
        let tickets = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "tickets_filed",
            "Conversations filed as tickets, by reason",
            tickets.clone(),
        );
        let webhook_pending = Gauge::default();
        registry.register(
            "webhook_outbox_pending",
            "Webhook deliveries waiting in the outbox",
            webhook_pending.clone(),
        );
        let webhook_dead = Gauge::default();
        registry.register(
            "webhook_dead_letters",
            "Webhook deliveries in the dead-letter list",
            webhook_dead.clone(),
        );
        let webhook = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by outcome",
            webhook.clone(),
        );
        let csat = Family::<ScoreLabel, Counter>::default();
        registry.register(
            "csat_ratings",
            "Customer satisfaction ratings",
            csat.clone(),
        );
        let frame_errors = Family::<CodeLabel, Counter>::default();
        registry.register("frame_errors", "Error frames sent", frame_errors.clone());
        let slow_consumers = Counter::default();
        registry.register(
            "slow_consumer_disconnects",
            "Sessions closed for not draining their outbound queue",
            slow_consumers.clone(),
        );
        let gate = Family::<GateLabel, Counter>::default();
        registry.register(
            "gate_refusals",
            "Connections and requests refused at the gate, and failed sign-ins, by reason",
            gate.clone(),
        );
        let secrets_redacted = Family::<KindLabel, Counter>::default();
        registry.register(
            "secrets_redacted",
            "Secrets masked in customer messages, by kind",
            secrets_redacted.clone(),
        );
        let secret_requests_refused = Family::<KindLabel, Counter>::default();
        registry.register(
            "secret_requests_refused",
            "Agent messages refused for asking for a secret, by kind",
            secret_requests_refused.clone(),
        );
        let store_commit = Histogram::new(commit_buckets());
        registry.register(
            "store_commit_seconds",
            "Time of each hub turn's store commit (every frame of the turn waits for it)",
            store_commit.clone(),
        );
        let commit_changes = Histogram::new(change_buckets());
        registry.register(
            "store_commit_changes",
            "Changes written by each hub turn's store commit",
            commit_changes.clone(),
        );
        Self {
            registry,
            connections,
            queue_depth,
            queue_oldest_wait,
            assignments,
            queue_wait,
            first_response,
            messages,
            ended,
            tickets,
            webhook,
            webhook_pending,
            webhook_dead,
            csat,
            frame_errors,
            slow_consumers,
            gate,
            secrets_redacted,
            secret_requests_refused,
            store_commit,
            commit_changes,
        }
    }

    /// Count one refusal (or failed sign-in) at the gate.
    pub fn gate_refused(&self, reason: &'static str) {
        self.gate.get_or_create(&GateLabel { reason }).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }
}
