//! The supervisor's live view: `GET /api/dashboard` (one snapshot, with the
//! hour of queue samples) and `GET /api/dashboard/stream` (Server-Sent Events:
//! a snapshot at once, then every `dashboard.push_ms`). Supervisors only.
//!
//! Where the snapshot comes from: the hub, fresh, on the node running it (a
//! single node, or the matcher); on a follower, which has no hub, the one the
//! matcher posts on the presence board every second (`cluster::dashboard`).
//! A standby node has neither and answers 503.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    Json,
    extract::State,
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use futures_util::Stream;
use time::OffsetDateTime;
use tokio::{sync::oneshot, time::Interval};

use super::{
    api_error::{ApiError, require_supervisor},
    openapi::{ApiErrorBody, DashboardEvent},
    presence::agent_config_of,
};
use crate::{
    error::ErrorCode,
    hub::{Command, DashboardSnapshot, HubHandle},
    state::AppState,
};

/// How long the hub has to take the command, and then to answer: a hub
/// too busy for the dashboard says so rather than hold the request.
const HUB_PATIENCE: Duration = Duration::from_secs(1);
/// Comment lines on a quiet stream, so proxies do not take it for dead.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The caller, if a supervisor; `unauthorized` otherwise.
fn supervisor(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    require_supervisor(agent_config_of(headers, state)?, "to read the dashboard")
}

fn unavailable(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, message)
}

/// The hub's snapshot, `nodes` left empty.
pub(crate) async fn from_hub(
    hub: &HubHandle,
    history: bool,
) -> Result<DashboardSnapshot, ApiError> {
    let (reply, answer) = oneshot::channel();
    let silent = || unavailable("the hub did not answer");
    tokio::time::timeout(
        HUB_PATIENCE,
        hub.send(Command::Dashboard { history, reply }),
    )
    .await
    .map_err(|_| silent())?
    .map_err(|_| silent())?;
    tokio::time::timeout(HUB_PATIENCE, answer)
        .await
        .map_err(|_| silent())?
        .map_err(|_| silent())
}

/// The view now, with the live nodes: from this node's hub, or the matcher's
/// published one on a follower (`history` dropped unless asked for).
async fn current(state: &AppState, history: bool) -> Result<DashboardSnapshot, ApiError> {
    let hub = state.hubs.get().ok_or_else(|| {
        unavailable("this node is on standby (no matcher to follow yet): try again shortly")
    })?;
    let mut snapshot = if hub.handle.is_local() {
        from_hub(&hub.handle, history).await?
    } else {
        let mut published = state
            .presence
            .dashboard()
            .await
            .map_err(|e| unavailable(e.to_string()))?
            .ok_or_else(|| {
                unavailable("the matcher has not published its dashboard lately: try again shortly")
            })?;
        if !history {
            published.history = None;
        }
        published
    };
    // The nodes are the board's, read here rather than by the hub (which
    // does no I/O in its turn). Without them the rest is still worth showing.
    match state.presence.nodes().await {
        Ok(nodes) => snapshot.set_nodes(&nodes),
        Err(e) => {
            tracing::warn!(error = %e, "dashboard without the presence board's nodes");
            snapshot.set_nodes(&[]);
        }
    }
    Ok(snapshot)
}

/// The supervisor's view now, with the last hour of queue samples.
#[utoipa::path(
    get,
    path = "/api/dashboard",
    tag = "dashboard",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The snapshot, with `history`", body = DashboardSnapshot, links(
            ("RouteConversation" = (operation_id = "route_conversation", parameters(("id" = "$response.body#/waiting/0/conversation_id")), description = "Re-route the first waiting chat")),
            ("SetAgentStatus" = (operation_id = "set_agent_status", parameters(("id" = "$response.body#/agents/0/id")), description = "Set the first agent's status")),
        )),
        (status = 401, description = "`unauthorized`: no, malformed or unknown agent token, or not a supervisor", body = ApiErrorBody),
        (status = 503, description = "`unavailable`: a standby node; the hub did not take the request, or answer it, within a second; on a follower, no dashboard published by the matcher in the last 5 s", body = ApiErrorBody),
    )
)]
pub(super) async fn dashboard(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<DashboardSnapshot>, ApiError> {
    supervisor(&headers, &state)?;
    Ok(Json(current(&state, true).await?))
}

/// What the stream has to do next.
struct Feed {
    state: Arc<AppState>,
    /// The first snapshot, with `history`, sent at once.
    first: Option<DashboardSnapshot>,
    /// `at` of the last snapshot sent: a follower's copy is sent once.
    last_at: OffsetDateTime,
    ticks: Interval,
}

fn snapshot_event(snapshot: &DashboardSnapshot) -> Event {
    Event::default()
        .event("snapshot")
        .json_data(snapshot)
        .unwrap_or_else(|e| error_event(&unavailable(e.to_string())))
}

fn error_event(error: &ApiError) -> Event {
    let body = serde_json::json!({"error": {"code": error.code, "message": error.message}});
    Event::default().event("error").data(body.to_string())
}

impl Feed {
    /// The next event; `None` ends the stream: the node shuts down, or it
    /// went on standby (the client reconnects, through the load balancer, to
    /// a node that can answer).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if let Some(first) = self.first.take() {
            return Some((Ok(snapshot_event(&first)), self));
        }
        loop {
            tokio::select! {
                _ = self.ticks.tick() => {}
                () = self.state.shutdown.cancelled() => return None,
            }
            let taken = tokio::select! {
                taken = current(&self.state, false) => taken,
                () = self.state.shutdown.cancelled() => return None,
            };
            match taken {
                Ok(snapshot) if snapshot.at <= self.last_at => {}
                Ok(snapshot) => {
                    self.last_at = snapshot.at;
                    return Some((Ok(snapshot_event(&snapshot)), self));
                }
                Err(_) if self.state.hubs.get().is_none() => return None,
                Err(e) => return Some((Ok(error_event(&e)), self)),
            }
        }
    }
}

/// Server-Sent Events: `event: snapshot` with the snapshot as JSON (the
/// first with `history`) at once, then every `dashboard.push_ms`; `event:
/// error` with `{"error":{code,message}}` when one could not be taken (the
/// stream goes on); comment lines every 15 s when quiet. Ends when the node
/// shuts down or goes on standby.
#[utoipa::path(
    get,
    path = "/api/dashboard/stream",
    tag = "dashboard",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`text/event-stream`: `event: snapshot` events, each `data` a DashboardSnapshot as JSON (the first with `history`); `event: error` when one could not be taken. In OpenAPI 3.1 the schema of an event stream is that of each of its events", content_type = "text/event-stream", body = DashboardEvent),
        (status = 401, description = "`unauthorized`: no, malformed or unknown agent token, or not a supervisor", body = ApiErrorBody),
        (status = 503, description = "`unavailable`: as for `GET /api/dashboard`, for the first snapshot", body = ApiErrorBody),
    )
)]
pub(super) async fn stream(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    supervisor(&headers, &state)?;
    // Taken before the answer starts, so a node that cannot answer says so
    // with a status, not with an empty stream.
    let first = current(&state, true).await?;
    let push = Duration::from_millis(state.config.dashboard.push_ms);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + push, push);
    // Behind (a slow hub), skip rather than burst: only the latest matters.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let feed = Feed {
        last_at: first.at,
        first: Some(first),
        state,
        ticks,
    };
    let events = futures_util::stream::unfold(feed, Feed::next);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

#[cfg(test)]
mod tests {
    use axum::{http::StatusCode, response::IntoResponse};

    use super::*;
    use crate::config::{AgentConfig, AgentRole, Config};

    /// A node with no hub of its own and none to follow, and a supervisor.
    fn standby() -> Arc<AppState> {
        let config = Config {
            agents: vec![AgentConfig {
                id: "sue".into(),
                name: "Sue".into(),
                token_sha256: None,
                token: Some("token-sue".into()),
                skills: vec!["general".into()],
                languages: vec!["en".into()],
                capacity: 1,
                role: AgentRole::Supervisor,
            }],
            ..Config::default()
        };
        AppState::standby_for_tests(config)
    }

    #[tokio::test]
    async fn a_standby_node_says_it_cannot_answer() {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::AUTHORIZATION,
            axum::http::HeaderValue::from_static("Bearer token-sue"),
        );
        let refused = dashboard(State(standby()), headers.clone())
            .await
            .unwrap_err();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(refused.message.contains("standby"), "{}", refused.message);
        let streamed = stream(State(standby()), headers).await.into_response();
        assert_eq!(streamed.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
