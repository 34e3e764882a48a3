//! `GET /api/openapi.json`: the OpenAPI 3 document of the REST API, generated
//! by utoipa from the handlers' `#[utoipa::path]` attributes and the types'
//! `ToSchema` derives, so it cannot drift from the code. No authentication.
//!
//! What the gate in front of every route answers (403 for a foreign origin,
//! 429 for an address over its limits) is added to every operation by
//! [`GateResponses`], and what depends on the configuration (the topics, the
//! longest note) is filled in from the node's configuration when the
//! document is served ([`document`]), so that a request the document allows
//! is one the server takes.

use std::{borrow::Cow, sync::Arc};

use axum::{Json, extract::State};
use serde_json::{Value, json};
use utoipa::{
    Modify, OpenApi, PartialSchema, ToSchema,
    openapi::{
        ContentBuilder, HeaderBuilder, RefOr, ResponseBuilder,
        schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use super::{canned, dashboard, tickets, widget_settings};
use crate::{
    config::Config,
    error::ErrorCode,
    hub,
    state::AppState,
    tickets::{
        Delivery, Ticket, TicketConversation, TicketCustomer, TicketNote, TicketReason,
        TicketStatus, TicketSummary,
    },
};

/// The body of every REST error (`ApiError`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents `ApiError`'s JSON; never built
pub(super) struct ApiErrorBody {
    /// The error.
    error: ApiErrorDetail,
}

/// What went wrong.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents `ApiError`'s JSON; never built
pub(super) struct ApiErrorDetail {
    /// Stable code, the wire protocol's vocabulary: branch on this.
    code: ErrorCodeSchema,
    /// Detail for people; names the parameter, field or rule at fault.
    message: String,
}

/// The schema of `ErrorCode`: a string, one of its wire words.
#[derive(Debug)]
pub(super) struct ErrorCodeSchema;

impl ErrorCodeSchema {
    /// Every code's wire word. The match is exhaustive, so a new `ErrorCode`
    /// variant does not compile until it is looked at here.
    fn words() -> Vec<&'static str> {
        use ErrorCode::*;
        let word = |code: ErrorCode| match code {
            BadRequest | Unauthorized | NotFound | Conflict | RateLimited | TooLarge
            | Unavailable | Forbidden => code.as_str(),
        };
        [
            BadRequest,
            Unauthorized,
            NotFound,
            Conflict,
            RateLimited,
            TooLarge,
            Unavailable,
            Forbidden,
        ]
        .map(word)
        .to_vec()
    }
}

impl PartialSchema for ErrorCodeSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Self::words()))
            .description(Some(
                "`bad_request` 400, `unauthorized` 401 (also: supervisor role required), \
                 `forbidden` 403 (an origin not allowed), `not_found` 404, `conflict` 409, \
                 `rate_limited` 429, `too_large` 413, `unavailable` 503",
            ))
            .into()
    }
}

impl ToSchema for ErrorCodeSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

/// Adds the `bearer` security scheme the operations require.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "An agent token of the roster (`agents[].token`); its role \
                             (`agent` or `supervisor`) decides what it may see and do",
                        ))
                        .build(),
                ),
            );
    }
}

/// One event of `GET /api/dashboard/stream`, as a client's `EventSource`
/// sees it: its `event` name and its `data`, which is JSON.
#[derive(Debug)]
pub(super) struct DashboardEvent;

impl DashboardEvent {
    /// An event named `name` whose `data` is JSON of the schema `data`.
    fn event(name: &str, description: &str, data: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .description(Some(description))
            .property(
                "event",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([name])),
            )
            .property(
                "data",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("application/json")
                    .content_schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        data,
                    )))),
            )
            .required("event")
            .required("data")
    }
}

impl PartialSchema for DashboardEvent {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "A Server-Sent Event of the dashboard stream. Comment lines (keep-alives) are \
                 not events.",
            ))
            .item(Self::event(
                "snapshot",
                "A snapshot, at once and then every `dashboard.push_ms` (the first with `history`)",
                "DashboardSnapshot",
            ))
            .item(Self::event(
                "error",
                "A snapshot could not be taken; the stream goes on",
                "ApiErrorBody",
            ))
            .into()
    }
}

impl ToSchema for DashboardEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DashboardEvent")
    }
}

/// What the gate in front of every route may answer (`http::gate`), added to
/// every operation: `forbidden` for a request from a page of an origin not
/// allowed, and `rate_limited` for an address that failed to sign in too
/// often (a request with an `Authorization` header) or holds as many
/// connections as it may (any request).
#[derive(Debug)]
struct GateResponses;

impl GateResponses {
    const FORBIDDEN: &'static str = "Forbidden";
    const RATE_LIMITED: &'static str = "RateLimited";
}

impl Modify for GateResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error_body = || {
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    ApiErrorBody::name(),
                ))))
                .build()
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.responses.insert(
            Self::FORBIDDEN.into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(
                        "`forbidden`: the request's `Origin` is not one of \
                         `security.allowed_origins`",
                    )
                    .content("application/json", error_body())
                    .build(),
            ),
        );
        components.responses.insert(
            Self::RATE_LIMITED.into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(
                        "`rate_limited`: the caller's address failed to sign in too often \
                         (`security.auth_failure_burst`; only requests with an `Authorization` \
                         header are refused so), or holds \
                         `security.max_connections_per_address` connections; retry after \
                         `Retry-After` seconds",
                    )
                    .header(
                        "Retry-After",
                        HeaderBuilder::new()
                            .schema(Some(
                                ObjectBuilder::new()
                                    .schema_type(SchemaType::Type(Type::Integer))
                                    .minimum(Some(1)),
                            ))
                            .description(Some("Seconds to wait before trying again"))
                            .build(),
                    )
                    .content("application/json", error_body())
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
            {
                for (status, name) in [("403", Self::FORBIDDEN), ("429", Self::RATE_LIMITED)] {
                    operation.responses.responses.insert(
                        status.into(),
                        RefOr::Ref(utoipa::openapi::Ref::new(format!(
                            "#/components/responses/{name}"
                        ))),
                    );
                }
            }
        }
    }
}

/// The REST API's document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "switchboard REST API",
        description = "Tickets filed from unresolved chats, the helpdesk webhook's \
            dead letters, the customer widget's settings, the agent console's canned \
            replies and a supervisor's actions on agents and the queue. Every operation but this \
            document and the widget settings takes an agent token as \
            `Authorization: Bearer <token>`. Errors are JSON `{\"error\":{\"code\",\"message\"}}` \
            with the wire protocol's codes (docs/protocol.md, \"Tickets REST API\")."
    ),
    paths(
        tickets::list_tickets,
        tickets::get_ticket,
        tickets::update_ticket,
        tickets::dead_letters,
        tickets::retry_dead_letter,
        widget_settings::widget_settings,
        canned::canned,
        super::supervisor::set_agent_status,
        super::supervisor::route_conversation,
        dashboard::dashboard,
        dashboard::stream,
    ),
    components(schemas(
        Ticket,
        TicketSummary,
        TicketCustomer,
        TicketConversation,
        TicketNote,
        TicketStatus,
        TicketReason,
        Delivery,
        tickets::TicketList,
        tickets::TicketPatch,
        tickets::DeadLetters,
        tickets::Requeued,
        canned::CannedList,
        super::supervisor::StatusBody,
        super::supervisor::AgentStatusAnswer,
        super::supervisor::RouteBody,
        super::supervisor::RouteAnswer,
        crate::protocol::AgentStatus,
        crate::domain::Priority,
        crate::canned::CannedReply,
        widget_settings::WidgetSettingsBody,
        widget_settings::WidgetTopic,
        widget_settings::WidgetLimits,
        ApiErrorBody,
        ApiErrorDetail,
        ErrorCodeSchema,
        hub::DashboardSnapshot,
        hub::QueueRow,
        hub::WaitingRow,
        hub::DashboardAgent,
        hub::DashboardNode,
        hub::LastFifteen,
        hub::TodayStats,
        hub::EndedToday,
        hub::RatingsToday,
        hub::QueueSample,
        DashboardEvent,
    )),
    modifiers(&BearerAuth, &GateResponses),
    tags(
        (name = "tickets", description = "Tickets: list, read, update"),
        (name = "webhooks", description = "The helpdesk webhook's dead letters (supervisors)"),
        (name = "widget", description = "What the customer widget reads (public, no token)"),
        (name = "dashboard", description = "The supervisor's live view (supervisors)"),
        (name = "console", description = "What the agent console reads and the supervisor does (agent tokens)"),
        (name = "supervisor", description = "A supervisor's actions on agents and the queue (supervisors; on the node that runs the hub)"),
    )
)]
pub(super) struct ApiDoc;

/// The document, generated from the code, with what `config` decides filled
/// in: the topics a request may name (`routing.topics`) and the longest note
/// (`limits.max_text_chars`).
pub(super) fn document(config: &Config) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|e| {
        // Not reachable: the document is plain data.
        json!({"openapi": "3.1.0", "info": {"title": e.to_string(), "version": ""}, "paths": {}})
    });
    let topics = json!(config.routing.topics);
    if let Some(parameters) = doc
        .pointer_mut("/paths/~1api~1tickets/get/parameters")
        .and_then(Value::as_array_mut)
    {
        for parameter in parameters.iter_mut().filter(|p| p["name"] == "topic") {
            parameter["schema"]["enum"] = topics.clone();
        }
    }
    if let Some(topic) = doc.pointer_mut("/components/schemas/RouteBody/properties/topic") {
        topic["enum"] = topics;
    }
    if let Some(note) = doc.pointer_mut("/components/schemas/TicketPatch/properties/note") {
        note["maxLength"] = json!(config.limits.max_text_chars);
    }
    doc
}

/// `GET /api/openapi.json`: [`document`] for this node's configuration.
pub(super) async fn openapi_json(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(document(&state.config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_has_every_path_and_the_bearer_scheme() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in [
            "/api/tickets",
            "/api/tickets/{id}",
            "/api/webhooks/dead-letters",
            "/api/webhooks/dead-letters/{ticket_id}/{revision}/retry",
            "/api/widget/settings",
            "/api/canned",
            "/api/agents/{id}/status",
            "/api/conversations/{id}/route",
            "/api/dashboard",
            "/api/dashboard/stream",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        assert!(doc["paths"]["/api/tickets/{id}"]["patch"].is_object());
        let settings = &doc["paths"]["/api/widget/settings"]["get"];
        assert!(settings["security"].is_null(), "public: {settings}");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let list = &doc["components"]["schemas"]["TicketList"]["required"];
        assert!(
            list.as_array().unwrap().iter().any(|f| f == "next_cursor"),
            "{list}"
        );
        let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
        assert_eq!(codes.as_array().unwrap().len(), 8, "{codes}");
    }

    #[test]
    fn every_operation_lists_what_the_gate_answers() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                let responses = &operation["responses"];
                assert_eq!(
                    responses["403"]["$ref"], "#/components/responses/Forbidden",
                    "{method} {path}"
                );
                assert_eq!(
                    responses["429"]["$ref"], "#/components/responses/RateLimited",
                    "{method} {path}"
                );
            }
        }
        assert_eq!(operations, 11);
        let limited = &doc["components"]["responses"]["RateLimited"];
        assert_eq!(
            limited["headers"]["Retry-After"]["schema"]["type"],
            "integer"
        );
        assert_eq!(
            limited["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ApiErrorBody"
        );
    }

    #[test]
    fn the_stream_documents_its_events() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let ok = &doc["paths"]["/api/dashboard/stream"]["get"]["responses"]["200"];
        assert_eq!(
            ok["content"]["text/event-stream"]["schema"]["$ref"],
            "#/components/schemas/DashboardEvent"
        );
        let events = doc["components"]["schemas"]["DashboardEvent"]["oneOf"]
            .as_array()
            .unwrap();
        let data = |name: &str| {
            events
                .iter()
                .find(|e| e["properties"]["event"]["enum"][0] == name)
                .map(|e| e["properties"]["data"].clone())
                .unwrap()
        };
        assert_eq!(data("snapshot")["contentMediaType"], "application/json");
        assert_eq!(
            data("snapshot")["contentSchema"]["$ref"],
            "#/components/schemas/DashboardSnapshot"
        );
        assert_eq!(
            data("error")["contentSchema"]["$ref"],
            "#/components/schemas/ApiErrorBody"
        );
    }

    #[test]
    fn the_served_document_has_the_configuration_s_topics_and_limits() {
        let mut config = Config::default();
        config.routing.topics = vec!["general".into(), "astrology".into()];
        config.limits.max_text_chars = 321;
        let doc = document(&config);
        let topics = json!(["general", "astrology"]);
        let list = doc["paths"]["/api/tickets"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let topic = list.iter().find(|p| p["name"] == "topic").unwrap();
        assert_eq!(topic["schema"]["enum"], topics);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["RouteBody"]["properties"]["topic"]["enum"], topics);
        assert_eq!(
            schemas["TicketPatch"]["properties"]["note"]["maxLength"],
            321
        );
        // A body sets at least one field, and none of them as null but the
        // assignee (null unassigns).
        for body in ["RouteBody", "TicketPatch"] {
            assert_eq!(schemas[body]["minProperties"], 1, "{body}");
            assert_eq!(schemas[body]["additionalProperties"], false, "{body}");
        }
        assert_eq!(
            schemas["TicketPatch"]["properties"]["status"]["$ref"],
            "#/components/schemas/TicketStatus"
        );
        assert_eq!(
            schemas["TicketPatch"]["properties"]["note"]["type"],
            "string"
        );
        assert_eq!(
            schemas["TicketPatch"]["properties"]["assignee"]["type"],
            json!(["string", "null"])
        );
        assert_eq!(
            schemas["RouteBody"]["properties"]["topic"]["type"],
            "string"
        );
        assert_eq!(
            schemas["RouteBody"]["properties"]["priority"]["$ref"],
            "#/components/schemas/Priority"
        );
    }
}
