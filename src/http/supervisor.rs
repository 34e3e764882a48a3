//! A supervisor's actions during a rally, as REST:
//! `POST /api/agents/{id}/status` (set an agent away, online or offline, as
//! the agent's own `status` frame would) and
//! `POST /api/conversations/{id}/route` (give a queued chat another topic or
//! priority, as a transfer would). Supervisor role only: a plain agent gets
//! `unauthorized` "supervisor role required …", like the dead letters.
//!
//! Both are carried out by the hub in its turn and answered once the turn is
//! stored. Only a node that runs the hub can: the cluster bus carries a
//! follower's commands to the matcher but no answer back, so a follower
//! answers `unavailable`, "ask the matcher node".

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    extract::{
        Path, State,
        rejection::{JsonRejection, PathRejection},
    },
    http::HeaderMap,
};
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;
use tokio::sync::oneshot;
use utoipa::ToSchema;

use super::{
    api_error::{ApiError, body_error, path_error, require_supervisor},
    openapi::ApiErrorBody,
    presence::agent_config_of,
    tickets::given,
};
use crate::{
    domain::{ConversationId, ConversationState, Priority},
    error::ErrorCode,
    hub::{Command, HubHandle, SupervisorRefusal},
    protocol::AgentStatus,
    state::AppState,
};

/// How long a request waits for the hub's answer. Longer only while the
/// store is down (the hub holds its turn until the store takes it).
const PATIENCE: Duration = Duration::from_secs(5);

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message)
}

fn unavailable(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, message)
}

/// The hub of this node, if it runs one and its store takes writes.
fn own_hub(state: &AppState) -> Result<HubHandle, ApiError> {
    let hub = state.hubs.get().ok_or_else(|| {
        unavailable("this node is on standby (no matcher to follow yet): try again shortly")
    })?;
    if !hub.handle.is_local() {
        let matcher = hub
            .matcher
            .as_deref()
            .and_then(|lease| lease.split_once(':'))
            .map_or("the matcher", |(node, _)| node);
        return Err(unavailable(format!(
            "this node follows the matcher node `{matcher}` and cannot carry out a supervisor's \
             action: ask the matcher node (its /healthz says \"role\": \"matcher\")"
        )));
    }
    if hub.handle.store_down() {
        return Err(unavailable(
            "the store is unavailable, retry shortly: nothing was changed",
        ));
    }
    Ok(hub.handle)
}

/// Send a command and wait for its answer.
async fn ask<T>(
    hub: &HubHandle,
    command: Command,
    answer: oneshot::Receiver<Result<T, SupervisorRefusal>>,
) -> Result<Result<T, SupervisorRefusal>, ApiError> {
    // The hub's channel is bounded: in a surge it may have no room for a
    // while, and a supervisor is better told so than kept waiting.
    match tokio::time::timeout(PATIENCE, hub.send(command)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err(unavailable("the hub is stopping: retry on another node")),
        Err(_) => {
            return Err(unavailable(
                "the hub is too busy to take it now: nothing was changed, retry shortly",
            ));
        }
    }
    match tokio::time::timeout(PATIENCE, answer).await {
        Ok(Ok(answer)) => Ok(answer),
        // Dropped: the hub stopped before its turn was stored.
        Ok(Err(_)) => Err(unavailable(
            "the hub stopped before the change was stored: nothing was changed, retry",
        )),
        Err(_) => Err(unavailable(format!(
            "the hub did not answer within {} s (is the store down?): the change may still \
             be made once it is stored; sending it again is harmless",
            PATIENCE.as_secs()
        ))),
    }
}

/// The status to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusBody {
    /// `online` (takes new chats while it has a session), `away` (keeps its
    /// chats, takes no new ones) or `offline` (its chats go back to the
    /// queue, or to tickets, at once).
    status: AgentStatus,
}

/// The agent's status now.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AgentStatusAnswer {
    /// The agent.
    id: String,
    /// Its status now.
    status: AgentStatus,
}

/// Set an agent's status, as if the agent had sent `status`: its sessions get
/// `status` with reason `supervisor`.
#[utoipa::path(
    post,
    path = "/api/agents/{id}/status",
    tag = "supervisor",
    params(("id" = String, Path, description = "An agent id of the roster")),
    request_body(content = StatusBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Set; the agent's sessions have been told", body = AgentStatusAnswer),
        (status = 400, description = "`bad_request`: the body is not JSON, not sent as `application/json`, lacks `status`, has an unknown status or field (the message names it)", body = ApiErrorBody),
        (status = 401, description = "`unauthorized`: no, malformed or unknown agent token, or not a supervisor", body = ApiErrorBody),
        (status = 404, description = "`not_found`: no such agent in the roster", body = ApiErrorBody),
        (status = 413, description = "`too_large`: the body is over 2 MB", body = ApiErrorBody),
        (status = 503, description = "`unavailable`: a follower or standby node (ask the matcher node), the store is down, or the hub did not answer in time", body = ApiErrorBody),
    )
)]
pub(super) async fn set_agent_status(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Result<Json<AgentStatusAnswer>, ApiError> {
    let caller = agent_config_of(&headers, &state)?;
    require_supervisor(caller, "to set an agent's status")?;
    let Path(id) = id.map_err(path_error)?;
    if !state.config.agents.iter().any(|agent| agent.id == id) {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no agent `{id}` in the roster"),
        ));
    }
    let Json(body) = body.map_err(body_error)?;
    let hub = own_hub(&state)?;
    let (reply, answer) = oneshot::channel();
    let command = Command::SupervisorStatus {
        agent: SmolStr::new(&id),
        status: body.status,
        reply,
    };
    let status = ask(&hub, command, answer)
        .await?
        .map_err(|refusal| ApiError::new(ErrorCode::NotFound, refusal.to_string()))?;
    tracing::info!(supervisor = %caller.id, agent_id = %id, status = status.as_str(), "agent status set over REST");
    Ok(Json(AgentStatusAnswer { id, status }))
}

/// A queued conversation's new line: at least one field; an absent one is
/// left as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub(super) struct RouteBody {
    /// Another topic, one of `routing.topics` (it may be the current one; the
    /// served document lists them). The conversation keeps its arrival, so it
    /// goes ahead of that topic's later arrivals, and the customer gets the
    /// transfer's system message.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = String)]
    topic: Option<String>,
    /// Another priority: it moves within its line.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Priority)]
    priority: Option<Priority>,
}

/// Where the conversation is now.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RouteAnswer {
    /// The conversation.
    #[schema(value_type = String, format = Uuid)]
    id: ConversationId,
    /// Its topic now.
    topic: String,
    /// Its priority now.
    priority: Priority,
    /// `queued`, or `assigned` when an agent of its line took it at once.
    #[schema(value_type = String, example = "queued")]
    state: ConversationState,
    /// Its place in its (topic, language) line, 1 = next; `null` once assigned.
    #[schema(required = true)]
    position: Option<usize>,
}

/// Give a queued conversation another topic or priority.
#[utoipa::path(
    post,
    path = "/api/conversations/{id}/route",
    tag = "supervisor",
    params(("id" = String, Path, format = Uuid, description = "A queued conversation")),
    request_body(content = RouteBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Re-routed; the customer has been told its new place", body = RouteAnswer),
        (status = 400, description = "`bad_request`: malformed id, body not JSON or of the wrong shape, no field set, a `null` field, unknown field, topic or priority (the message names it)", body = ApiErrorBody),
        (status = 401, description = "`unauthorized`: no, malformed or unknown agent token, or not a supervisor", body = ApiErrorBody),
        (status = 404, description = "`not_found`: no such conversation", body = ApiErrorBody),
        (status = 409, description = "`conflict`: the conversation is not queued: an agent holds it (the agent can transfer it) or it has ended", body = ApiErrorBody),
        (status = 413, description = "`too_large`: the body is over 2 MB", body = ApiErrorBody),
        (status = 503, description = "`unavailable`: a follower or standby node (ask the matcher node), the store is down, or the hub did not answer in time", body = ApiErrorBody),
    )
)]
pub(super) async fn route_conversation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<RouteBody>, JsonRejection>,
) -> Result<Json<RouteAnswer>, ApiError> {
    let caller = agent_config_of(&headers, &state)?;
    require_supervisor(caller, "to re-route a conversation")?;
    let Path(raw) = id.map_err(path_error)?;
    let id = raw.parse().map(ConversationId).map_err(|_| {
        bad_request(format!(
            "`id` must be a conversation id (a UUID), not `{raw}`"
        ))
    })?;
    let Json(body) = body.map_err(body_error)?;
    if body.topic.is_none() && body.priority.is_none() {
        return Err(bad_request(
            "the body must set at least one of `topic` and `priority`",
        ));
    }
    let topics = &state.config.routing.topics;
    if let Some(topic) = body.topic.as_ref().filter(|t| !topics.contains(t)) {
        return Err(bad_request(format!(
            "`topic`: unknown topic `{topic}`; topics are {}",
            topics.join(", ")
        )));
    }
    let hub = own_hub(&state)?;
    let (reply, answer) = oneshot::channel();
    let command = Command::SupervisorRoute {
        conversation: id,
        topic: body.topic.as_deref().map(SmolStr::new),
        priority: body.priority,
        reply,
    };
    let rerouted = match ask(&hub, command, answer).await? {
        Ok(rerouted) => rerouted,
        Err(refusal) => return Err(refused(&state, id, refusal).await),
    };
    tracing::info!(supervisor = %caller.id, conversation = %id, "conversation re-routed over REST");
    Ok(Json(RouteAnswer {
        id: rerouted.id,
        topic: rerouted.topic.to_string(),
        priority: rerouted.priority,
        state: rerouted.state,
        position: rerouted.position,
    }))
}

/// A re-route refused by the hub. The hub remembers only so many ended
/// conversations, and none from before a restart: the store tells an ended
/// one (`conflict`) from one that never was (`not_found`).
async fn refused(state: &AppState, id: ConversationId, refusal: SupervisorRefusal) -> ApiError {
    let message = refusal.to_string();
    match refusal {
        SupervisorRefusal::Assigned(_) | SupervisorRefusal::Ended(_) => {
            ApiError::new(ErrorCode::Conflict, message)
        }
        SupervisorRefusal::UnknownTopic(_) => bad_request(format!("`topic`: {message}")),
        SupervisorRefusal::UnknownAgent(_) => ApiError::new(ErrorCode::NotFound, message),
        SupervisorRefusal::UnknownConversation(_) => match state.store.conversation(id).await {
            Ok(Some(record)) if !record.state.is_open() => ApiError::new(
                ErrorCode::Conflict,
                SupervisorRefusal::Ended(id).to_string(),
            ),
            Ok(_) => ApiError::new(ErrorCode::NotFound, message),
            Err(e) => unavailable(format!("the store is unavailable, retry shortly: {e}")),
        },
    }
}
