//! The two tables every client depends on: wire error codes (`error.code`) and
//! WebSocket close codes. Both are part of protocol v1 (see `docs/protocol.md`).

use serde::Serialize;

/// The `code` of an `error` frame (and of REST errors later): a small, stable
/// vocabulary that clients branch on. Never rename a variant's wire string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is malformed: not JSON, unknown type, missing or mistyped field,
    /// a value out of range, or a frame out of order (e.g. before `hello`).
    BadRequest,
    /// Bad agent token, bad signature or expired identity token.
    Unauthorized,
    /// The frame names something that does not exist or that the sender does not hold.
    NotFound,
    /// The frame is well-formed but the conversation's state does not allow it.
    Conflict,
    /// The sender exceeded a rate limit.
    RateLimited,
    /// The frame or a field of it is over its size limit.
    TooLarge,
    /// The server cannot serve this now (overloaded, store down, shutting down).
    Unavailable,
    /// REST and WebSocket upgrades only (403): the request came from a web
    /// page whose origin is not in `security.allowed_origins`.
    Forbidden,
}

impl ErrorCode {
    /// The wire string, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::TooLarge => "too_large",
            Self::Unavailable => "unavailable",
            Self::Forbidden => "forbidden",
        }
    }
}

/// An error answered to one client frame; it never affects other sessions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct FrameError {
    /// Stable code for programs.
    pub code: ErrorCode,
    /// Human-readable detail; names the field or the rule broken.
    pub message: String,
    /// With `rate_limited`: seconds before a retry can succeed.
    pub retry_after_secs: Option<u64>,
}

impl FrameError {
    /// An error with the given code and detail.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// `rate_limited`, retry in `retry_after_secs`.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }

    /// Shorthand for the most common case.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
}

/// Close codes the server uses, one place for all of them (RFC 6455 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCode {
    /// 1002: protocol error. The client broke RFC 6455 itself (an unmasked
    /// frame, a reserved opcode or bit, a malformed fragment or control frame).
    Protocol,
    /// 1003: unsupported data (a binary frame; the protocol is JSON text).
    Unsupported,
    /// 1007: a text frame that is not valid UTF-8.
    InvalidData,
    /// 1008: policy violation. No `hello` in time, unauthenticated, a client too
    /// slow to drain its outbound queue, one silent past two pings, or one that
    /// kept sending past its rate limit.
    Policy,
    /// 1009: a frame bigger than the transport limit; the stream cannot be resynced.
    TooBig,
    /// 1011: the server hit an internal error for this session.
    Internal,
    /// 1012: service restart. The node is shutting down; reconnect (elsewhere).
    Restart,
}

impl CloseCode {
    /// The numeric code on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::Protocol => 1002,
            Self::Unsupported => 1003,
            Self::InvalidData => 1007,
            Self::Policy => 1008,
            Self::TooBig => 1009,
            Self::Internal => 1011,
            Self::Restart => 1012,
        }
    }
}

/// Why the server closes a session: code plus a reason the client can log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// The close code.
    pub code: CloseCode,
    /// The close reason (at most 123 bytes on the wire).
    pub reason: &'static str,
}

impl Disconnect {
    /// `hello` did not arrive within `timeouts.hello_secs`.
    pub const HELLO_TIMEOUT: Self = Self {
        code: CloseCode::Policy,
        reason: "hello timeout: the first frame must be hello",
    };
    /// The client did not drain its outbound queue.
    pub const SLOW_CONSUMER: Self = Self {
        code: CloseCode::Policy,
        reason: "slow consumer: outbound queue full",
    };
    /// The hello was refused; the session cannot continue.
    pub const UNAUTHORIZED: Self = Self {
        code: CloseCode::Policy,
        reason: "unauthorized",
    };
    /// A frame above the transport limit.
    pub const TOO_BIG: Self = Self {
        code: CloseCode::TooBig,
        reason: "frame exceeds the transport size limit",
    };
    /// The node is shutting down.
    pub const SHUTDOWN: Self = Self {
        code: CloseCode::Restart,
        reason: "server shutting down: reconnect",
    };
    /// The hub is gone (it only stops on shutdown, or on a bug).
    pub const HUB_GONE: Self = Self {
        code: CloseCode::Internal,
        reason: "hub unavailable",
    };
    /// The peer answered no ping for two ping periods (a half-open connection).
    pub const NO_PONG: Self = Self {
        code: CloseCode::Policy,
        reason: "no pong: connection presumed dead",
    };
    /// The session kept sending past its frame budget after being refused.
    pub const FLOOD: Self = Self {
        code: CloseCode::Policy,
        reason: "rate limit: kept sending while refused",
    };
    /// Too many failed sign-ins from the client's address.
    pub const SIGN_IN_RATE_LIMITED: Self = Self {
        code: CloseCode::Policy,
        reason: "too many failed sign-ins from this address: retry later",
    };
    /// A text frame that is not UTF-8.
    pub const INVALID_UTF8: Self = Self {
        code: CloseCode::InvalidData,
        reason: "text frame is not valid UTF-8",
    };
    /// The peer broke the WebSocket protocol (unmasked frame, bad opcode,
    /// reserved bits, a continuation out of place).
    pub const PROTOCOL: Self = Self {
        code: CloseCode::Protocol,
        reason: "WebSocket protocol error",
    };
    /// A binary frame: the protocol is JSON text frames.
    pub const BINARY: Self = Self {
        code: CloseCode::Unsupported,
        reason: "binary frames are not supported",
    };
}
