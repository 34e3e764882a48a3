//! Secrets at the door: a customer's seed phrase, private key or 2FA codes
//! are masked here, before the frame reaches the hub (and so the store,
//! Redis, the cluster bus, tickets, the webhook and the logs); an agent
//! message that asks the customer for one is refused.

use crate::{
    error::{ErrorCode, FrameError},
    metrics::{KindLabel, Metrics},
    protocol::{AgentFrame, CustomerFrame},
    secrets::{SecretKind, SecretScanner, asks_for_secret},
};

/// Mask the secrets in a customer frame's text, in place; the kinds found
/// (none, the common case), each counted in the metrics.
pub(super) fn customer(frame: &mut CustomerFrame, metrics: &Metrics) -> Vec<SecretKind> {
    let text = match frame {
        CustomerFrame::Start {
            text: Some(text), ..
        }
        | CustomerFrame::Message { text, .. }
        | CustomerFrame::LeaveMessage { text, .. } => text,
        _ => return Vec::new(),
    };
    let Some(redaction) = SecretScanner::global().redact(text) else {
        return Vec::new();
    };
    *text = redaction.text;
    for kind in &redaction.kinds {
        metrics
            .secrets_redacted
            .get_or_create(&KindLabel {
                kind: kind.as_str(),
            })
            .inc();
    }
    redaction.kinds
}

/// Refuse an agent message (or escalation note) that asks the customer for
/// a secret: support never does, and a scammer posing as support always
/// does. Counted by kind; the agent may rephrase.
pub(super) fn agent(frame: &AgentFrame, metrics: &Metrics) -> Result<(), FrameError> {
    let AgentFrame::Message { text, .. } = frame else {
        return Ok(());
    };
    let Some(request) = asks_for_secret(text) else {
        return Ok(());
    };
    metrics
        .secret_requests_refused
        .get_or_create(&KindLabel {
            kind: request.as_str(),
        })
        .inc();
    Err(FrameError::new(
        ErrorCode::BadRequest,
        format!(
            "this message asks the customer for {}: support never asks for seed phrases, private keys, passwords or 2FA codes, and a customer who is asked should take it for a scam. It was not sent; rephrase it (e.g. point them to Settings to reset it themselves)",
            request.describe()
        ),
    ))
}
