//! `GET /api/openapi.json`: the OpenAPI 3 document of the REST API, generated
//! by utoipa from the handlers' `#[utoipa::path]` attributes and the types'
//! `ToSchema` derives, so it cannot drift from the code. No authentication.

use std::borrow::Cow;

use axum::Json;
use utoipa::{
    Modify, OpenApi, PartialSchema, ToSchema,
    openapi::{
        RefOr,
        schema::{ObjectBuilder, Schema, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use super::{canned, dashboard, tickets, widget_settings};
use crate::{
    error::ErrorCode,
    hub,
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
                 `not_found` 404, `conflict` 409, `rate_limited` 429, `too_large` 413, \
                 `unavailable` 503",
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
    )),
    modifiers(&BearerAuth),
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

/// The document, generated from the code.
pub(super) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
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
}
