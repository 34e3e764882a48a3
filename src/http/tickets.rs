//! The ticket REST API: `/api/tickets` and the webhook dead letters under
//! `/api/webhooks/dead-letters`. The OpenAPI document (`/api/openapi.json`,
//! see `openapi.rs`) is generated from the `#[utoipa::path]` attributes here.
//!
//! Every endpoint takes an agent token of the roster as
//! `Authorization: Bearer <token>`, and answers every error as an `ApiError`
//! (`{"error":{"code","message"}}`), never as axum's plain-text rejections.
//!
//! # Who sees and changes what
//!
//! The roster's `role` decides:
//!
//! - A **supervisor** sees and updates every ticket, may assign a ticket to any
//!   agent of the roster, and reads and retries the webhook dead letters.
//! - An **agent** (the default role) sees a ticket when its topic is one of the
//!   agent's skills, or when the agent is its assignee or held one of its
//!   conversations (`Visibility::allows`). A list holds only those tickets. A
//!   ticket the agent may not see answers `not_found`, exactly like one that
//!   does not exist, so ids cannot be probed. An agent may update the tickets it
//!   sees, and may assign them only to itself or to nobody (`null`); naming any
//!   other assignee is refused with `unauthorized` ("supervisor role
//!   required"), as are the dead-letter endpoints. (The wire vocabulary has no
//!   `forbidden`: a role refusal is `unauthorized` with that message.)

use std::sync::Arc;

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::HeaderMap,
};
use serde::{Deserialize, Deserializer, Serialize};
use smol_str::SmolStr;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use utoipa::{IntoParams, ToSchema};

use super::{
    api_error::{ApiError, body_error, path_error, require_supervisor, supervisor_required},
    openapi::ApiErrorBody,
    presence::agent_config_of,
};
use crate::{
    config::{AgentConfig, AgentRole, Config},
    error::ErrorCode,
    state::AppState,
    store::StoreError,
    tickets::{
        Delivery, Ticket, TicketId, TicketNote, TicketQuery, TicketStatus, TicketSummary,
        TicketUpdate, UpdateError, Visibility,
    },
};

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;
/// The largest `limit`.
const MAX_LIMIT: usize = 200;
/// Every status, in the order the error messages list them.
const STATUSES: [TicketStatus; 3] = [
    TicketStatus::Open,
    TicketStatus::Pending,
    TicketStatus::Closed,
];

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message)
}

fn unavailable(error: &StoreError) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!("the store is unavailable, retry shortly: {error}"),
    )
}

fn no_ticket(id: TicketId) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no ticket {id}"))
}

/// Axum's query rejection (unknown or repeated parameter) as JSON.
fn query_error(rejection: QueryRejection) -> ApiError {
    bad_request(rejection.body_text())
}

/// A ticket id from the path or a parameter, or `bad_request` naming `what`.
fn parse_id(what: &str, raw: &str) -> Result<TicketId, ApiError> {
    raw.parse().map_err(|_| {
        bad_request(format!(
            "`{what}` must be a ticket id (a UUID), not `{raw}`"
        ))
    })
}

/// `limit`: 1..=`MAX_LIMIT`, `DEFAULT_LIMIT` when absent.
fn parse_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    raw.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            bad_request(format!(
                "`limit` must be an integer from 1 to {MAX_LIMIT}, not `{raw}`"
            ))
        })
}

fn parse_status(raw: &str) -> Result<TicketStatus, ApiError> {
    STATUSES
        .into_iter()
        .find(|s| s.as_str() == raw)
        .ok_or_else(|| {
            bad_request(format!(
                "`status` must be one of {}, not `{raw}`",
                STATUSES.map(TicketStatus::as_str).join(", ")
            ))
        })
}

fn parse_topic(raw: &str, config: &Config) -> Result<SmolStr, ApiError> {
    if config.routing.topics.iter().any(|t| t == raw) {
        return Ok(SmolStr::new(raw));
    }
    Err(bad_request(format!(
        "`topic`: unknown topic `{raw}`; topics are {}",
        config.routing.topics.join(", ")
    )))
}

/// `customer`: `u:<user id>` (1-128 characters) or `v:<visitor id>` (1-128
/// characters of A-Z, a-z, 0-9, -, _ and .): every customer key, as they are
/// made (a user id is at most 128 bytes), and nothing else ([`CUSTOMER`]).
fn parse_customer(raw: &str) -> Result<SmolStr, ApiError> {
    let valid = match raw.split_once(':') {
        Some(("u", user)) => (1..=128).contains(&user.chars().count()),
        Some(("v", visitor)) => {
            (1..=128).contains(&visitor.len())
                && visitor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    };
    if valid {
        Ok(SmolStr::new(raw))
    } else {
        Err(bad_request(format!(
            "`customer` must be a customer key, `u:<user id>` or `v:<visitor id>`, not `{raw}`"
        )))
    }
}

fn parse_since(raw: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|e| {
        bad_request(format!(
            "`created_since` must be an RFC 3339 time such as 2024-05-01T00:00:00Z, not `{raw}` ({e})"
        ))
    })
}

/// What the caller may see: `None` (everything) for a supervisor.
fn visibility(caller: &AgentConfig) -> Option<Visibility> {
    match caller.role {
        AgentRole::Supervisor => None,
        AgentRole::Agent => Some(Visibility {
            agent: SmolStr::new(&caller.id),
            topics: caller.skills.iter().map(SmolStr::new).collect(),
        }),
    }
}

/// What a plain agent is refused on the dead letters.
const DEAD_LETTERS: &str = "to read or retry webhook dead letters";

/// The ticket, if it exists and the caller may see it; `not_found` otherwise.
async fn visible_ticket(
    state: &AppState,
    caller: &AgentConfig,
    id: TicketId,
) -> Result<Ticket, ApiError> {
    let ticket = state
        .store
        .ticket(id)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(|| no_ticket(id))?;
    match visibility(caller) {
        Some(v) if !v.allows(&ticket) => Err(no_ticket(id)),
        _ => Ok(ticket),
    }
}

/// The document's pattern of `customer`: what [`parse_customer`] takes.
#[cfg(test)]
const CUSTOMER: &str = r"^(?:u:[\s\S]{1,128}|v:[A-Za-z0-9._-]{1,128})$";

/// The document's pattern of a note: at least one character that is not
/// white space (Unicode's `White_Space`, which `str::trim` takes away), as
/// [`TicketPatch::update`] wants.
#[cfg(test)]
const NON_BLANK: &str = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// Query parameters of `GET /api/tickets`. Kept as text, so that each one is
/// validated here and a bad one is named in the error.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    /// Only tickets with this status.
    #[param(value_type = Option<TicketStatus>)]
    status: Option<String>,
    /// Only tickets on this topic (one of `routing.topics`).
    #[param(value_type = Option<String>)]
    topic: Option<String>,
    /// Only this customer's tickets: `u:<user id>` (1-128 characters) or
    /// `v:<visitor id>` (1-128 characters of A-Z, a-z, 0-9, -, _ and .).
    #[param(value_type = Option<String>, pattern = r"^(?:u:[\s\S]{1,128}|v:[A-Za-z0-9._-]{1,128})$")]
    customer: Option<String>,
    /// Only tickets created at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    created_since: Option<String>,
    /// Continue after this ticket: the previous page's `next_cursor`.
    #[param(value_type = Option<String>, format = Uuid)]
    cursor: Option<String>,
    /// Most tickets in the page, 1-200. Default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

impl ListParams {
    /// The store query these parameters ask for, as `caller` may see it.
    fn query(&self, caller: &AgentConfig, config: &Config) -> Result<TicketQuery, ApiError> {
        Ok(TicketQuery {
            status: self.status.as_deref().map(parse_status).transpose()?,
            topic: self
                .topic
                .as_deref()
                .map(|t| parse_topic(t, config))
                .transpose()?,
            customer: self.customer.as_deref().map(parse_customer).transpose()?,
            created_since: self.created_since.as_deref().map(parse_since).transpose()?,
            visible_to: visibility(caller),
            cursor: self
                .cursor
                .as_deref()
                .map(|c| parse_id("cursor", c))
                .transpose()?,
            limit: parse_limit(self.limit.as_deref())?,
        })
    }
}

/// One page of tickets, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TicketList {
    /// The tickets, without transcripts and notes.
    tickets: Vec<TicketSummary>,
    /// Pass as `cursor` for the next page; `null` at the end. A page may be
    /// short (even empty) and still have a next one: the store looks at a
    /// bounded number of tickets per request.
    #[schema(value_type = Option<String>, format = Uuid, required = true)]
    next_cursor: Option<TicketId>,
}

/// List the tickets the caller may see, newest first.
#[utoipa::path(
    get,
    path = "/api/tickets",
    tag = "tickets",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of tickets, newest first", body = TicketList, links(
            ("GetTicket" = (operation_id = "get_ticket", parameters(("id" = "$response.body#/tickets/0/id")), description = "The first ticket of the page, whole")),
            ("UpdateTicket" = (operation_id = "update_ticket", parameters(("id" = "$response.body#/tickets/0/id")), description = "Change the first ticket of the page")),
        )),
        (status = 400, description = "`bad_request`: a parameter is malformed, out of range or unknown (the message names it)", body = ApiErrorBody),
        (status = 401, description = "`unauthorized`: no, malformed or unknown agent token", body = ApiErrorBody),
        (status = 503, description = "`unavailable`: the store cannot be reached", body = ApiErrorBody),
    )
)]
pub(super) async fn list_tickets(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<TicketList>, ApiError> {
    let caller = agent_config_of(&headers, &state)?;
    let Query(params) = params.map_err(query_error)?;
    let query = params.query(caller, &state.config)?;
    let page = state
        .store
        .tickets(&query)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(TicketList {
        tickets: page.tickets.iter().map(Ticket::summary).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One ticket, with its transcripts and notes.
#[utoipa::path(
    get,
    path = "/api/tickets/{id}",
    tag = "tickets",
    params(("id" = String, Path, format = Uuid, description = "The ticket id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The ticket", body = Ticket, links(
            ("UpdateTicket" = (operation_id = "update_ticket", parameters(("id" = "$response.body#/id")), description = "Change this ticket")),
        )),
        (status = 400, description = "`bad_request`: the id is not a UUID", body = ApiErrorBody),
        (status = 401, description = "`unauthorized`: no, malformed or unknown agent token", body = ApiErrorBody),
        (status = 404, description = "`not_found`: no such ticket, or one the agent may not see", body = ApiErrorBody),
        (status = 503, description = "`unavailable`: the store cannot be reached", body = ApiErrorBody),
    )
)]
pub(super) async fn get_ticket(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Ticket>, ApiError> {
    let caller = agent_config_of(&headers, &state)?;
    let Path(id) = id.map_err(path_error)?;
    let id = parse_id("id", &id)?;
    visible_ticket(&state, caller, id).await.map(Json)
}

/// `Some(value)` for a field that is present, even as `null`: so that an
/// absent `assignee` leaves it alone and `null` unassigns.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `Some(value)` for a field that is present, with `#[serde(default)]` for
/// `None` when it is absent: `null` is refused (the message names the field),
/// as the document has it.
pub(super) fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    match Option::<T>::deserialize(d)? {
        Some(value) => Ok(Some(value)),
        None => Err(serde::de::Error::custom(
            "null is not a value here: leave the field out to leave it as it is",
        )),
    }
}

/// A change to a ticket: at least one field; absent fields are left alone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub(super) struct TicketPatch {
    /// The new status. Reopening a ticket is refused with `conflict` while the
    /// customer has another open ticket on the same topic.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = TicketStatus)]
    status: Option<TicketStatus>,
    /// The agent to assign (an agent id of the roster; an agent may name only
    /// itself), or `null` to unassign.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    assignee: Option<Option<String>>,
    /// An internal note to add, 1 to `limits.max_text_chars` characters, not
    /// all white space; its author is the caller.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = String, min_length = 1, pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")]
    note: Option<String>,
}

impl TicketPatch {
    /// The store update, if the caller may make it.
    fn update(
        self,
        caller: &AgentConfig,
        config: &Config,
        now: OffsetDateTime,
    ) -> Result<TicketUpdate, ApiError> {
        if self.status.is_none() && self.assignee.is_none() && self.note.is_none() {
            return Err(bad_request(
                "the body must set at least one of `status`, `assignee` and `note`",
            ));
        }
        if let Some(Some(assignee)) = &self.assignee {
            match caller.role {
                AgentRole::Supervisor => {
                    if !config.agents.iter().any(|a| a.id == *assignee) {
                        // As `POST /api/agents/{id}/status` answers it.
                        return Err(ApiError::new(
                            ErrorCode::NotFound,
                            format!("`assignee`: no agent `{assignee}` in the roster"),
                        ));
                    }
                }
                AgentRole::Agent => {
                    if *assignee != caller.id {
                        return Err(supervisor_required(
                            "to assign a ticket to another agent: an agent may assign \
                             only itself, or null",
                        ));
                    }
                }
            }
        }
        let note = match self.note {
            None => None,
            Some(text) => {
                if text.trim().is_empty() {
                    return Err(bad_request("`note` must not be empty"));
                }
                let chars = text.chars().count();
                if chars > config.limits.max_text_chars {
                    return Err(ApiError::new(
                        ErrorCode::TooLarge,
                        format!(
                            "`note` is {chars} characters; the limit is {}",
                            config.limits.max_text_chars
                        ),
                    ));
                }
                Some(TicketNote {
                    author: SmolStr::new(&caller.id),
                    text,
                    at: now,
                })
            }
        };
        Ok(TicketUpdate {
            status: self.status,
            assignee: self.assignee.map(|a| a.map(SmolStr::from)),
            note,
            notify: config.tickets.webhook_url.is_some(),
        })
    }
}

/// Change a ticket's status or assignee, or add a note.
#[utoipa::path(
    patch,
    path = "/api/tickets/{id}",
    tag = "tickets",
    params(("id" = String, Path, format = Uuid, description = "The ticket id")),
    request_body(content = TicketPatch, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated ticket", body = Ticket, links(
            ("GetTicket" = (operation_id = "get_ticket", parameters(("id" = "$response.body#/id")), description = "Read this ticket again")),
        )),
        (status = 400, description = "`bad_request`: malformed id, body not JSON or of the wrong shape, no field set, a `null` status or note, unknown field or status, blank note", body = ApiErrorBody),
        (status = 401, description = "`unauthorized`: no, malformed or unknown agent token; or an agent assigning another agent (supervisor role required)", body = ApiErrorBody),
        (status = 404, description = "`not_found`: no such ticket, or one the agent may not see; or a supervisor naming an assignee not in the roster", body = ApiErrorBody),
        (status = 409, description = "`conflict`: reopening it would give the customer a second open ticket on the topic (the message names that ticket)", body = ApiErrorBody),
        (status = 413, description = "`too_large`: the note is over `limits.max_text_chars` characters, or the body over 2 MB", body = ApiErrorBody),
        (status = 503, description = "`unavailable`: the store cannot be reached", body = ApiErrorBody),
    )
)]
pub(super) async fn update_ticket(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<TicketPatch>, JsonRejection>,
) -> Result<Json<Ticket>, ApiError> {
    let caller = agent_config_of(&headers, &state)?;
    let Path(id) = id.map_err(path_error)?;
    let id = parse_id("id", &id)?;
    let Json(patch) = body.map_err(body_error)?;
    let now = OffsetDateTime::now_utc();
    let update = patch.update(caller, &state.config, now)?;
    if visibility(caller).is_some() {
        // An agent updates only what it may see (a supervisor's update finds
        // out about a missing ticket from the store).
        visible_ticket(&state, caller, id).await?;
    }
    match state.store.update_ticket(id, &update, now).await {
        Ok(ticket) => Ok(Json(ticket)),
        Err(UpdateError::NotFound(id)) => Err(no_ticket(id)),
        Err(UpdateError::Conflict(other)) => Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "the customer already has open ticket {other} on this topic: \
                 work on that one, or close it before reopening this one"
            ),
        )),
        Err(UpdateError::Store(e)) => Err(unavailable(&e)),
    }
}

/// Query parameters of `GET /api/webhooks/dead-letters`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct DeadLetterParams {
    /// Most dead letters listed, 1-200. Default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

/// The webhook outbox at a glance, with its dead letters.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DeadLetters {
    /// Deliveries waiting (due or backing off).
    pending: usize,
    /// Deliveries that failed for the last time.
    dead: usize,
    /// The dead letters, oldest first, at most `limit` of them.
    dead_letters: Vec<Delivery>,
}

/// The webhook deliveries that failed for good, and the outbox depth.
#[utoipa::path(
    get,
    path = "/api/webhooks/dead-letters",
    tag = "webhooks",
    params(DeadLetterParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The outbox depth and the dead letters, oldest first", body = DeadLetters, links(
            ("RetryDeadLetter" = (operation_id = "retry_dead_letter", parameters(("ticket_id" = "$response.body#/dead_letters/0/ticket_id"), ("revision" = "$response.body#/dead_letters/0/revision")), description = "Retry the oldest dead letter")),
        )),
        (status = 400, description = "`bad_request`: bad or unknown parameter", body = ApiErrorBody),
        (status = 401, description = "`unauthorized`: no, malformed or unknown agent token, or not a supervisor", body = ApiErrorBody),
        (status = 503, description = "`unavailable`: the store cannot be reached", body = ApiErrorBody),
    )
)]
pub(super) async fn dead_letters(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Query<DeadLetterParams>, QueryRejection>,
) -> Result<Json<DeadLetters>, ApiError> {
    let caller = agent_config_of(&headers, &state)?;
    require_supervisor(caller, DEAD_LETTERS)?;
    let Query(params) = params.map_err(query_error)?;
    let limit = parse_limit(params.limit.as_deref())?;
    let (pending, dead) = state
        .store
        .outbox_depth()
        .await
        .map_err(|e| unavailable(&e))?;
    let dead_letters = state
        .store
        .dead_letters(limit)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(DeadLetters {
        pending,
        dead,
        dead_letters,
    }))
}

/// Answer to a retry.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Requeued {
    /// Always true: the dead letter is back in the outbox, due now.
    requeued: bool,
}

/// Put a dead letter back into the outbox, due now, with its attempts reset.
#[utoipa::path(
    post,
    path = "/api/webhooks/dead-letters/{ticket_id}/{revision}/retry",
    tag = "webhooks",
    params(
        ("ticket_id" = String, Path, format = Uuid, description = "The delivery's ticket"),
        ("revision" = u64, Path, description = "The delivery's ticket revision"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Back in the outbox", body = Requeued),
        (status = 400, description = "`bad_request`: the ticket id is not a UUID or the revision not an integer", body = ApiErrorBody),
        (status = 401, description = "`unauthorized`: no, malformed or unknown agent token, or not a supervisor", body = ApiErrorBody),
        (status = 404, description = "`not_found`: no such dead letter", body = ApiErrorBody),
        (status = 503, description = "`unavailable`: the store cannot be reached", body = ApiErrorBody),
    )
)]
pub(super) async fn retry_dead_letter(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Requeued>, ApiError> {
    let caller = agent_config_of(&headers, &state)?;
    require_supervisor(caller, DEAD_LETTERS)?;
    let Path((ticket, revision)) = path.map_err(path_error)?;
    let ticket = parse_id("ticket_id", &ticket)?;
    let revision: u64 = revision.parse().map_err(|_| {
        bad_request(format!(
            "`revision` must be a non-negative integer, not `{revision}`"
        ))
    })?;
    if state
        .store
        .redeliver(ticket, revision)
        .await
        .map_err(|e| unavailable(&e))?
    {
        Ok(Json(Requeued { requeued: true }))
    } else {
        Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no dead letter for ticket {ticket} revision {revision}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_one_by_one() {
        assert!(parse_status("open").is_ok());
        let e = parse_status("reopened").unwrap_err();
        assert!(e.message.contains("open, pending, closed"), "{}", e.message);
        assert!(parse_limit(None).is_ok_and(|n| n == DEFAULT_LIMIT));
        for bad in ["0", "201", "-1", "ten", ""] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
        assert!(parse_customer("v:abc-1").is_ok());
        assert!(parse_customer("u:42").is_ok());
        for bad in ["abc", "v:", "x:1", "v:a b"] {
            assert!(parse_customer(bad).is_err(), "{bad}");
        }
        assert!(parse_since("2024-05-01T00:00:00Z").is_ok());
        assert!(parse_since("2024-05-01").is_err());
    }

    /// The served document and the parsing here agree: what the one allows,
    /// the other takes, and nothing more.
    #[test]
    fn the_document_says_what_is_taken() {
        let doc = super::super::openapi::document(&Config::default());
        let list = doc["paths"]["/api/tickets"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let customer = list.iter().find(|p| p["name"] == "customer").unwrap();
        assert_eq!(customer["schema"]["pattern"], CUSTOMER);
        // 128 characters, whatever their bytes; as many as a user id may have.
        assert!(parse_customer(&format!("u:{}", "é".repeat(128))).is_ok());
        assert!(parse_customer(&format!("u:{}", "é".repeat(129))).is_err());
        assert!(parse_customer(&format!("v:{}", "a".repeat(128))).is_ok());
        assert!(parse_customer(&format!("v:{}", "a".repeat(129))).is_err());

        let note = &doc["components"]["schemas"]["TicketPatch"]["properties"]["note"];
        assert_eq!(note["pattern"], NON_BLANK);
        // NON_BLANK's class is exactly the white space that `trim` takes away.
        let white: [(u32, u32); 11] = [
            (0x09, 0x0d),
            (0x20, 0x20),
            (0x85, 0x85),
            (0xa0, 0xa0),
            (0x1680, 0x1680),
            (0x2000, 0x200a),
            (0x2028, 0x2028),
            (0x2029, 0x2029),
            (0x202f, 0x202f),
            (0x205f, 0x205f),
            (0x3000, 0x3000),
        ];
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let listed = white.iter().any(|&(a, b)| (a..=b).contains(&u32::from(c)));
            assert_eq!(c.is_whitespace(), listed, "{:#x}", u32::from(c));
        }
        let escape = |c: u32| match c {
            0x09 => "\\t".to_string(),
            0x0d => "\\r".to_string(),
            0x20 => " ".to_string(),
            c => format!("\\u{c:04x}"),
        };
        let class: String = white
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    escape(a)
                } else {
                    format!("{}-{}", escape(a), escape(b))
                }
            })
            .collect();
        assert_eq!(format!("[^{class}]"), NON_BLANK);
    }
}
