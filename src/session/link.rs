//! The hub's handle on one session: where to send its frames and how to close it.

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::domain::SessionId;

/// Given to the hub at `hello`. The outbound queue is bounded: the hub never
/// waits on a session, it closes the session when the queue is full. Each item is
/// everything one hub turn has for the session (a replay, a burst of echoes), so
/// the bound counts turns the client has not drained, not frames.
#[derive(Debug, Clone)]
pub struct SessionLink {
    /// The session.
    pub id: SessionId,
    /// Rendered frames for the session's writer, one batch per hub turn.
    pub outbound: mpsc::Sender<Vec<Utf8Bytes>>,
    /// Cancelled by the hub to close the session as a slow consumer.
    pub kill: CancellationToken,
}

/// What happened to a frame offered to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for the writer.
    Queued,
    /// The queue was full: the session has been told to close.
    Killed,
    /// The session is already gone.
    Gone,
}

impl SessionLink {
    /// Offer a turn's frames without waiting.
    pub fn deliver(&self, frames: Vec<Utf8Bytes>) -> Delivery {
        match self.outbound.try_send(frames) {
            Ok(()) => Delivery::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kill.cancel();
                Delivery::Killed
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Delivery::Gone,
        }
    }
}
