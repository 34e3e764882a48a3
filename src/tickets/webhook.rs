//! The helpdesk webhook: one POST per ticket revision, delivered from the
//! store's outbox (written in the same commit as the ticket), so a delivery
//! survives the node that queued it. Failures are retried with exponential
//! backoff and jitter; after `tickets.webhook_max_attempts` the delivery moves to
//! the dead-letter list, where the REST API shows it and can requeue it.
//!
//! Every request carries `Idempotency-Key: <ticket id>:<revision>` (the same on
//! every attempt, and whichever node sends it) and `X-Switchboard-Signature:
//! sha256=<hex HMAC-SHA256 of the body with tickets.webhook_secret>`. The body
//! is `{"event","idempotency_key","revision","ticket"}`, with the ticket as it
//! is when delivered (its own `revision` may be newer than the event's).

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::Delivery;
use crate::{
    config::TicketSettings,
    metrics::{Metrics, OutcomeLabel},
    store::Store,
};

/// Deliveries taken from the outbox per round.
const BATCH: usize = 64;
/// Deliveries in flight at once.
const CONCURRENCY: usize = 8;
/// How often an idle outbox is looked at.
const POLL: Duration = Duration::from_millis(250);

/// The header with the body's signature.
pub const SIGNATURE_HEADER: &str = "x-switchboard-signature";
/// The header with the delivery's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail; an empty tag would
    // simply not verify at the receiver.
    let tag = Hmac::<Sha256>::new_from_slice(secret)
        .map(|mut mac| {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        })
        .unwrap_or_default();
    format!("sha256={tag}")
}

/// Delay before attempt `attempts + 1`: the base doubled per attempt, capped,
/// then jittered to between half and all of it, so deliveries that failed
/// together do not retry together.
pub fn backoff(settings: &TicketSettings, attempts: u32) -> Duration {
    let base = settings
        .webhook_backoff_ms
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(30));
    let capped = base.min(settings.webhook_backoff_max_secs.saturating_mul(1000));
    let half = capped / 2;
    Duration::from_millis(half + fastrand::u64(0..=capped - half))
}

/// Delivers the outbox until `shutdown`.
#[derive(Debug)]
pub struct Webhook {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    settings: TicketSettings,
    url: String,
    secret: String,
    client: reqwest::Client,
}

/// Why the webhook could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No `tickets.webhook_url` (or secret) configured.
    #[error("no webhook configured")]
    NotConfigured,
    /// The HTTP client could not be built (TLS roots, …).
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl Webhook {
    /// A webhook for these settings, or `NotConfigured`.
    pub fn new(
        settings: &TicketSettings,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, WebhookError> {
        let (Some(url), Some(secret)) = (&settings.webhook_url, &settings.webhook_secret) else {
            return Err(WebhookError::NotConfigured);
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.webhook_timeout_secs))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store,
            metrics,
            settings: settings.clone(),
            url: url.clone(),
            secret: secret.clone(),
            client,
        })
    }

    /// Deliver what is due, round after round, until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(url = %self.url, "webhook delivery started");
        loop {
            let due = match self
                .store
                .due_deliveries(OffsetDateTime::now_utc(), BATCH)
                .await
            {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook outbox unreadable; retrying");
                    Vec::new()
                }
            };
            if due.is_empty() {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => continue,
                    () = shutdown.cancelled() => break,
                }
            }
            let round = futures_util::stream::iter(due)
                .for_each_concurrent(CONCURRENCY, |delivery| self.deliver(delivery));
            tokio::select! {
                () = round => {}
                // An attempt cut short is retried by whichever node delivers
                // next: the receiver dedupes on the idempotency key.
                () = shutdown.cancelled() => break,
            }
        }
        tracing::info!("webhook delivery stopped");
    }

    /// One attempt, and its bookkeeping in the outbox.
    async fn deliver(&self, mut delivery: Delivery) {
        let outcome = self.attempt(&delivery).await;
        let booked = match outcome {
            Ok(()) => {
                self.count("delivered");
                tracing::info!(key = %delivery.key(), event = %delivery.event, "webhook delivered");
                self.store.delivered(&delivery).await
            }
            Err(error) => {
                delivery.attempts += 1;
                delivery.last_error = Some(error.clone());
                if delivery.attempts >= self.settings.webhook_max_attempts {
                    self.count("dead");
                    tracing::error!(key = %delivery.key(), attempts = delivery.attempts, %error, "webhook delivery failed for good: dead-lettered");
                    self.store.dead_letter(&delivery).await
                } else {
                    self.count("failed");
                    let wait = backoff(&self.settings, delivery.attempts);
                    tracing::warn!(key = %delivery.key(), attempts = delivery.attempts, %error, retry_in_ms = wait.as_millis(), "webhook delivery failed; will retry");
                    self.store
                        .retry_delivery(&delivery, OffsetDateTime::now_utc() + wait)
                        .await
                }
            }
        };
        if let Err(e) = booked {
            // The outbox still has it as it was: it is attempted again.
            tracing::warn!(key = %delivery.key(), error = %e, "webhook outcome not recorded");
        }
    }

    fn count(&self, outcome: &'static str) {
        self.metrics
            .webhook
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// POST the ticket; `Err` with a reason for anything but a 2xx.
    async fn attempt(&self, delivery: &Delivery) -> Result<(), String> {
        let ticket = self
            .store
            .ticket(delivery.ticket_id)
            .await
            .map_err(|e| format!("reading the ticket: {e}"))?
            .ok_or_else(|| format!("ticket {} is not in the store", delivery.ticket_id))?;
        let body = serde_json::to_vec(&json!({
            "event": delivery.event,
            "idempotency_key": delivery.key(),
            "revision": delivery.revision,
            "ticket": ticket,
        }))
        .map_err(|e| format!("encoding: {e}"))?;
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, delivery.key())
            .header("x-switchboard-event", &delivery.event)
            .header("x-switchboard-attempt", (delivery.attempts + 1).to_string())
            .header(SIGNATURE_HEADER, signature(self.secret.as_bytes(), &body))
            .body(body)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the helpdesk answered {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let settings = TicketSettings {
            webhook_backoff_ms: 1000,
            webhook_backoff_max_secs: 10,
            ..TicketSettings::default()
        };
        for _ in 0..100 {
            let first = backoff(&settings, 1).as_millis();
            assert!((500..=1000).contains(&first), "{first}");
            let third = backoff(&settings, 3).as_millis();
            assert!((2000..=4000).contains(&third), "{third}");
            let late = backoff(&settings, 40).as_millis();
            assert!((5000..=10_000).contains(&late), "{late}");
        }
    }
}
