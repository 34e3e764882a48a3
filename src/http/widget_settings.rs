//! `GET /api/widget/settings`: what the customer widget needs before it shows
//! anything: its title and colour, the languages, the topics with their label
//! overrides and whether someone is on duty for each now, and the size limits
//! of what it may send. Public (no token): the widget calls it from the
//! exchange's pages, another origin, without credentials.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    Json,
    extract::State,
    http::{
        HeaderValue, StatusCode,
        header::{
            ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
            ALLOW, CACHE_CONTROL,
        },
    },
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{api_error::ApiError, openapi::ApiErrorBody};
use crate::{config::Config, on_duty::OnDuty, state::AppState};

/// The widget's settings.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct WidgetSettingsBody {
    /// Title of the chat panel (`widget.title`).
    title: String,
    /// `#rrggbb` the widget draws white text on (`widget.accent_color`).
    accent_color: String,
    /// Language of a chat that names none (`routing.default_language`).
    default_language: String,
    /// The language every desk covers (`routing.fallback_language`): a chat in
    /// another language waits `routing.language_fallback_secs` for an agent
    /// speaking it, then an agent speaking this one may take it.
    fallback_language: String,
    /// Every language some agent of the roster speaks, sorted.
    languages: Vec<String>,
    /// Every topic, in `routing.topics` order.
    topics: Vec<WidgetTopic>,
    /// What one message may hold.
    limits: WidgetLimits,
}

/// One topic.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct WidgetTopic {
    /// The topic, as sent in `start.topic`.
    id: String,
    /// Language → label, only those set in `widget.topic_labels` (the widget
    /// has its own translations of the default topics).
    labels: BTreeMap<String, String>,
    /// Whether an agent serving this topic is on duty now (status `online`,
    /// with a session), however busy: a full desk still queues.
    available: bool,
    /// The languages of those agents, sorted; empty when none is on duty.
    languages: Vec<String>,
}

/// Size limits of what a customer sends.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct WidgetLimits {
    /// Longest message text, in characters (`limits.max_text_chars`).
    max_text_chars: usize,
    /// Largest `start.metadata`, in bytes of JSON (`limits.max_metadata_bytes`).
    max_metadata_bytes: usize,
}

/// Any page may read it; no credentials are involved.
fn public(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn settings(config: &Config, on_duty: &OnDuty) -> WidgetSettingsBody {
    let mut languages: Vec<String> = config
        .agents
        .iter()
        .flat_map(|agent| agent.languages.iter().cloned())
        .collect();
    languages.sort();
    languages.dedup();
    let topics = config
        .routing
        .topics
        .iter()
        .map(|topic| {
            let languages = on_duty.languages(topic);
            WidgetTopic {
                id: topic.clone(),
                labels: config
                    .widget
                    .topic_labels
                    .get(topic)
                    .cloned()
                    .unwrap_or_default(),
                available: !languages.is_empty(),
                languages,
            }
        })
        .collect();
    WidgetSettingsBody {
        title: config.widget.title.clone(),
        accent_color: config.widget.accent_color.clone(),
        default_language: config.routing.default_language.clone(),
        fallback_language: config.routing.fallback_language.clone(),
        languages,
        topics,
        limits: WidgetLimits {
            max_text_chars: config.limits.max_text_chars,
            max_metadata_bytes: config.limits.max_metadata_bytes,
        },
    }
}

/// The widget's settings, with who is on duty now.
#[utoipa::path(
    get,
    path = "/api/widget/settings",
    tag = "widget",
    responses(
        (status = 200, description = "The settings; availability at most a second old (plus a heartbeat on a follower node). \
            Sent with `Access-Control-Allow-Origin: *` and `Cache-Control: no-cache`", body = WidgetSettingsBody),
        (status = 503, description = "`unavailable`: this node is on standby, or its hub did not answer, so it cannot tell who is on duty; ask another node", body = ApiErrorBody),
    )
)]
pub(super) async fn widget_settings(State(state): State<Arc<AppState>>) -> Response {
    let on_duty = state
        .duty
        .get(
            &state.hubs,
            state.presence.as_ref(),
            &state.config,
            &state.node_id,
        )
        .await;
    let answer = match on_duty {
        Ok(on_duty) => Json(settings(&state.config, &on_duty)).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    };
    public(answer)
}

/// A CORS preflight. A plain GET needs none, but a page that adds a header
/// of its own triggers one, and should learn what is allowed.
pub(super) async fn preflight() -> Response {
    let mut response = public(StatusCode::NO_CONTENT.into_response());
    let headers = response.headers_mut();
    headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD"),
    );
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

#[cfg(test)]
mod tests {
    use axum::{extract::State, http::StatusCode};

    use super::*;

    /// A node with no hub of its own and none to follow.
    fn standby() -> Arc<AppState> {
        AppState::standby_for_tests(Config::default())
    }

    #[tokio::test]
    async fn a_standby_node_cannot_tell_and_says_so() {
        let response = widget_settings(State(standby())).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        // Readable by the widget's page all the same.
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "unavailable");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("standby"),
            "{body}"
        );
    }
}
