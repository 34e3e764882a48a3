//! `GET /api/canned`: the canned replies of the configuration, for the agent
//! console. Any agent token may read them; they are the same for everyone
//! (the console offers those of the conversation's topic).

use std::sync::Arc;

use axum::{Json, extract::State, http::HeaderMap};
use serde::Serialize;
use utoipa::ToSchema;

use super::{api_error::ApiError, openapi::ApiErrorBody, presence::agent_of};
use crate::{canned::CannedReply, state::AppState};

/// The canned replies, in configuration order.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CannedList {
    /// Each with its shortcut, title, text per language and topics (`null`:
    /// every topic). Placeholders `{customer_name}`, `{agent_name}` and
    /// `{topic}` are left in the text for the console to fill.
    canned: Vec<CannedReply>,
}

/// The canned replies of the configuration (`[[canned]]`).
#[utoipa::path(
    get,
    path = "/api/canned",
    tag = "console",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The canned replies, in configuration order", body = CannedList),
        (status = 401, description = "`unauthorized`: no, malformed or unknown agent token", body = ApiErrorBody),
    )
)]
pub(super) async fn canned(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<CannedList>, ApiError> {
    agent_of(&headers, &state)?;
    Ok(Json(CannedList {
        canned: state.config.canned.clone(),
    }))
}
