//! `GET /api/presence`: the agents on duty, per node. Any agent token may read it.

use std::sync::Arc;

use axum::{Json, extract::State, http::HeaderMap};
use serde_json::{Value, json};

use super::api_error::ApiError;
use crate::{
    config::AgentConfig, error::ErrorCode, on_duty, presence::NodePresence, state::AppState,
};

/// The agent a bearer token belongs to, or `unauthorized`.
pub(super) fn agent_of(headers: &HeaderMap, state: &AppState) -> Result<String, ApiError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "an `Authorization: Bearer <agent token>` header is required",
            )
        })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::wrong_credentials("the Authorization header must be `Bearer <agent token>`")
        })?;
    state
        .roster
        .agent(token.trim())
        .map(|agent| agent.to_string())
        .ok_or_else(|| ApiError::wrong_credentials("unknown agent token"))
}

/// The roster entry (id, role, skills) of the agent a bearer token belongs
/// to, or `unauthorized`: `agent_of` with the agent's configuration.
pub(super) fn agent_config_of<'a>(
    headers: &HeaderMap,
    state: &'a AppState,
) -> Result<&'a AgentConfig, ApiError> {
    let id = agent_of(headers, state)?;
    state
        .config
        .agents
        .iter()
        .find(|agent| agent.id == id)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "unknown agent token"))
}

/// This node's snapshot, fresh from its hub ([`on_duty::local_snapshot`]),
/// its errors as `unavailable`.
pub(crate) async fn local_snapshot(state: &AppState) -> Result<NodePresence, ApiError> {
    Ok(on_duty::local_snapshot(&state.hubs, &state.node_id).await?)
}

pub(super) async fn presence(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    agent_of(&headers, &state)?;
    let mut nodes = state
        .presence
        .nodes()
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?;
    // This node's own entry, fresh, if it runs a hub; a follower shows the
    // matcher's published one.
    if state.hubs.get().is_some_and(|h| h.handle.is_local()) {
        let local = local_snapshot(&state).await?;
        nodes.retain(|n| n.node != local.node);
        nodes.push(local);
    }
    nodes.sort_by(|a, b| a.node.cmp(&b.node));
    let online: usize = nodes
        .iter()
        .flat_map(|n| &n.agents)
        .filter(|a| a.status == crate::protocol::AgentStatus::Online && a.sessions > 0)
        .count();
    Ok(Json(json!({
        "node": state.node_id,
        "agents_online": online,
        "nodes": nodes,
    })))
}
