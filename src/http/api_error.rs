//! REST errors: JSON with the wire protocol's `code` vocabulary and the matching
//! HTTP status, so every client branches on the same codes.

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    config::{AgentConfig, AgentRole},
    error::ErrorCode,
    on_duty::OnDutyError,
};

/// An error answered by a REST endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// Stable code, as in `error` frames.
    pub code: ErrorCode,
    /// Detail for people.
    pub message: String,
    /// With `rate_limited`: the `Retry-After` seconds.
    pub retry_after_secs: Option<u64>,
    /// The caller presented credentials that are wrong: counted against its
    /// address by the gate.
    failed_sign_in: bool,
}

/// Marks a response whose request presented wrong credentials, for the gate
/// layer to count against the client's address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailedSignIn;

impl ApiError {
    /// An error with this code and detail.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_secs: None,
            failed_sign_in: false,
        }
    }

    /// `unauthorized` for credentials that are wrong (not merely missing):
    /// the gate counts them against the caller's address.
    pub fn wrong_credentials(message: impl Into<String>) -> Self {
        Self {
            failed_sign_in: true,
            ..Self::new(ErrorCode::Unauthorized, message)
        }
    }

    /// `rate_limited` (429) with `Retry-After`.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }

    /// The HTTP status of the code.
    pub fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        }
    }
}

/// Who is on duty could not be told: `unavailable`, with the reason's message.
impl From<OnDutyError> for ApiError {
    fn from(error: OnDutyError) -> Self {
        Self::new(ErrorCode::Unavailable, error.to_string())
    }
}

/// A role refusal: the wire vocabulary has no `forbidden`, so it is
/// `unauthorized` with this message ("supervisor role required to …").
pub(super) fn supervisor_required(what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        format!("supervisor role required {what}"),
    )
}

/// `Ok` for a supervisor; [`supervisor_required`] `what` for a plain agent.
pub(super) fn require_supervisor(caller: &AgentConfig, what: &str) -> Result<(), ApiError> {
    match caller.role {
        AgentRole::Supervisor => Ok(()),
        AgentRole::Agent => Err(supervisor_required(what)),
    }
}

/// Axum's path rejection (bad percent-encoding) as JSON.
pub(super) fn path_error(rejection: PathRejection) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, rejection.body_text())
}

/// Axum's JSON body rejection as JSON: a missing or wrong content type, bad
/// JSON and a body of the wrong shape are `bad_request` (serde's message
/// names the field); a body over the size limit is `too_large`.
pub(super) fn body_error(rejection: JsonRejection) -> ApiError {
    let bad_request = |message: String| ApiError::new(ErrorCode::BadRequest, message);
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            bad_request("the body must be JSON, sent with `Content-Type: application/json`".into())
        }
        JsonRejection::JsonSyntaxError(e) => bad_request(e.body_text()),
        JsonRejection::JsonDataError(e) => bad_request(e.body_text()),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::TooLarge, other.body_text())
        }
        other => bad_request(other.body_text()),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(json!({"error": {"code": self.code, "message": self.message}}));
        let mut response = (status, body).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if self.failed_sign_in {
            response.extensions_mut().insert(FailedSignIn);
        }
        if status == StatusCode::UNAUTHORIZED
            && let Ok(value) = "Bearer realm=\"switchboard\"".parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
