//! The hub's handle on one session: where to send its frames and how to close it.

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::domain::SessionId;

/// Given to the hub at `hello`. The outbound queue is bounded: the hub never
/// waits on a session, it closes the session when the queue is full.
#[derive(Debug, Clone)]
pub struct SessionLink {
    /// The session.
    pub id: SessionId,
    /// Rendered frames for the session's writer.
    pub outbound: mpsc::Sender<Utf8Bytes>,
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
    /// Offer a frame without waiting.
    pub fn deliver(&self, frame: Utf8Bytes) -> Delivery {
        match self.outbound.try_send(frame) {
            Ok(()) => Delivery::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kill.cancel();
                Delivery::Killed
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Delivery::Gone,
        }
    }
}
