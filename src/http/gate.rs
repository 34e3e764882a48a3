//! The gate in front of every route: the request's client address (from a
//! trusted proxy's `X-Forwarded-For`), origins not allowed refused with 403,
//! and callers whose address failed to sign in too often refused with 429
//! before their credentials are looked at.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::api_error::{ApiError, FailedSignIn};
use crate::{error::ErrorCode, gate::Gate, metrics::Metrics};

/// What the layer needs of the node.
#[derive(Debug, Clone)]
pub struct GateState {
    /// The node's gate.
    pub gate: Arc<Gate>,
    /// Where refusals are counted.
    pub metrics: Arc<Metrics>,
}

/// Seconds for a `Retry-After`, at least 1.
pub fn whole_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// The layer: see the module.
pub async fn guard(
    State(state): State<GateState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = state.gate.client(peer.ip(), request.headers());
    if let Err(foreign) = state.gate.origins.check(request.headers()) {
        state.metrics.gate_refused("origin");
        tracing::info!(client = %client.ip, origin = %foreign.0, "refused: origin not allowed");
        return ApiError::new(ErrorCode::Forbidden, foreign.to_string()).into_response();
    }
    if request.headers().contains_key(header::AUTHORIZATION)
        && let Err(wait) = state.gate.failures.check(client.ip)
    {
        state.metrics.gate_refused("sign_in_rate_limited");
        return ApiError::rate_limited(
            "too many failed sign-ins from your address: try again later",
            whole_seconds(wait),
        )
        .into_response();
    }
    request.extensions_mut().insert(client);
    let response = next.run(request).await;
    if response.extensions().get::<FailedSignIn>().is_some() {
        state.gate.failures.failed(client.ip);
        state.metrics.gate_refused("sign_in_failed");
        tracing::info!(client = %client.ip, "failed sign-in (REST)");
    }
    response
}
