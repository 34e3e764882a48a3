//! The hub's handle on one session: where to send its frames and how to close
//! it. A session is local (on the hub's own node) or remote (held by a follower
//! node, reached over the cluster bus).

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{cluster::bus::RemoteOutbox, domain::SessionId};

/// A session on this node. The outbound queue is bounded: the hub never waits
/// on a session, it closes the session when the queue is full. Each item is
/// everything one hub turn has for the session (a replay, a burst of echoes), so
/// the bound counts turns the client has not drained, not frames.
#[derive(Debug, Clone)]
pub struct LocalLink {
    /// The session.
    pub id: SessionId,
    /// Rendered frames for the session's writer, one batch per hub turn.
    pub outbound: mpsc::Sender<Vec<Utf8Bytes>>,
    /// Cancelled by the hub to close the session as a slow consumer.
    pub kill: CancellationToken,
}

/// A session held by another node: its frames go out over the cluster bus, and
/// that node enforces the outbound bound.
#[derive(Debug, Clone)]
pub struct RemoteLink {
    /// The session.
    pub id: SessionId,
    /// The node holding it.
    pub node: String,
    /// Frames for remote sessions, published after each hub turn's commit.
    pub outbox: Arc<RemoteOutbox>,
}

/// Given to the hub at `hello`.
#[derive(Debug, Clone)]
pub enum SessionLink {
    /// On this node.
    Local(LocalLink),
    /// On a follower node.
    Remote(RemoteLink),
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
    /// The session.
    pub fn id(&self) -> SessionId {
        match self {
            Self::Local(link) => link.id,
            Self::Remote(link) => link.id,
        }
    }

    /// Offer a turn's frames without waiting.
    pub fn deliver(&self, frames: Vec<Utf8Bytes>) -> Delivery {
        match self {
            Self::Local(link) => link.deliver(frames),
            Self::Remote(link) => {
                link.outbox.push(&link.node, link.id, frames);
                Delivery::Queued
            }
        }
    }
}

impl LocalLink {
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
