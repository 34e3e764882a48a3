//! Plain HTTP endpoints: health, Prometheus metrics, the REST API, and the
//! widget's public settings.

mod api_error;
mod canned;
mod dashboard;
pub mod gate;
mod openapi;
mod presence;
mod supervisor;
mod tickets;
mod widget_settings;

pub use api_error::ApiError;
pub(crate) use dashboard::from_hub as dashboard_from_hub;
pub(crate) use presence::local_snapshot;

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::json;
use tokio::sync::oneshot;

use crate::{hub::Command, state::AppState};

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/presence", get(presence::presence))
        .route("/api/dashboard", get(dashboard::dashboard))
        .route("/api/dashboard/stream", get(dashboard::stream))
        .route("/api/canned", get(canned::canned))
        .route(
            "/api/agents/{id}/status",
            post(supervisor::set_agent_status),
        )
        .route(
            "/api/conversations/{id}/route",
            post(supervisor::route_conversation),
        )
        .route("/api/tickets", get(tickets::list_tickets))
        .route(
            "/api/tickets/{id}",
            get(tickets::get_ticket).patch(tickets::update_ticket),
        )
        .route("/api/webhooks/dead-letters", get(tickets::dead_letters))
        .route(
            "/api/webhooks/dead-letters/{ticket_id}/{revision}/retry",
            post(tickets::retry_dead_letter),
        )
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route(
            "/api/widget/settings",
            get(widget_settings::widget_settings).options(widget_settings::preflight),
        )
}

/// 200 on a matcher (or single node) whose hub answers within a second and
/// whose store takes writes, and on a follower; 503 otherwise, and on a node
/// with no matcher to follow yet, so a load balancer sends clients elsewhere.
async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let hub = state.hubs.get();
    let role = match &hub {
        None => "standby",
        Some(h) if !h.handle.is_local() => "follower",
        Some(_) if state.config.redis_url.is_some() => "matcher",
        Some(_) => "single",
    };
    // Ask the store's state first: while it is down the hub is busy retrying
    // and would not answer anyway. A follower serves through the matcher's hub.
    let store_ok = hub.as_ref().is_some_and(|h| !h.handle.store_down());
    let hub_ok = store_ok && (role == "follower" || refresh_gauges(&state).await);
    let status = if hub_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if hub.is_none() { "standby" } else if hub_ok { "ok" } else { "degraded" },
            "hub": if hub.is_none() { "none (standby)" } else if !store_ok { "waiting for the store" } else if hub_ok { "ok" } else { "unresponsive" },
            "node": state.node_id,
            "role": role,
            "matcher": hub.as_ref().and_then(|h| h.matcher.clone()),
            "store": state.store.backend(),
            "store_status": if hub.is_some() && !store_ok { "unavailable" } else { "ok" },
            "shutting_down": state.shutdown.is_cancelled(),
        })),
    )
}

/// Ask the hub to set the scrape-time gauges; false if it did not answer in time.
async fn refresh_gauges(state: &AppState) -> bool {
    let Some(hub) = state.hubs.get().filter(|h| h.handle.is_local()) else {
        return false;
    };
    let (done, answered) = oneshot::channel();
    if hub
        .handle
        .send(Command::RefreshGauges { done })
        .await
        .is_err()
    {
        return false;
    }
    matches!(
        tokio::time::timeout(Duration::from_secs(1), answered).await,
        Ok(Ok(()))
    )
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    refresh_gauges(&state).await;
    if state.config.tickets.webhook_url.is_some()
        && let Ok((pending, dead)) = state.store.outbox_depth().await
    {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        state.metrics.webhook_pending.set(gauge(pending));
        state.metrics.webhook_dead.set(gauge(dead));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
