//! The hub a node is serving with, if any. A single node always has one; in a
//! cluster a standby node has none until it takes the matcher lease, and loses it
//! when it steps down.

use std::sync::RwLock;

use tokio_util::sync::CancellationToken;

use super::HubHandle;

/// A running hub and the token that stops it (and closes its sessions with 1012).
#[derive(Debug, Clone)]
pub struct ActiveHub {
    /// How to reach it.
    pub handle: HubHandle,
    /// Cancelled when the hub stops: node shutdown, or stepping down.
    pub stop: CancellationToken,
    /// On a follower: the matcher it follows (its lease value, `<node>:<token>`).
    pub matcher: Option<String>,
}

/// Where handlers find the current hub. A std lock: held only to clone the
/// handle out, never across an `.await`.
#[derive(Debug, Default)]
pub struct HubSlot {
    current: RwLock<Option<ActiveHub>>,
}

impl HubSlot {
    /// A slot holding this hub.
    pub fn with(hub: ActiveHub) -> Self {
        Self {
            current: RwLock::new(Some(hub)),
        }
    }

    /// The hub serving now, if any.
    pub fn get(&self) -> Option<ActiveHub> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .filter(|hub| !hub.stop.is_cancelled())
    }

    /// Serve with this hub from now on, or with none (standby).
    pub fn set(&self, hub: Option<ActiveHub>) {
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = hub;
    }
}
