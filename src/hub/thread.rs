//! The hub's own thread. Every message passes through the hub task twice
//! (the sender's session hands it over, the hub hands it out), so each wait
//! of the hub in the shared runtime's run queue, behind thousands of session
//! tasks, is added to every message of that turn. On the shared runtime the
//! relay's p99 passed 10 ms at 17k msg/s on 2 cores; on this thread it held
//! 2 ms there (README, relay benchmark).
//!
//! One thread for the process, started with the first hub and kept until the
//! process exits: a hub that stops (shutdown, fencing) and the next one the
//! node starts share it, and whatever a store connection spawns from the hub
//! (a reconnect) is never left on a runtime that has gone away.

use std::{future::Future, sync::OnceLock};

use tokio::runtime::{Builder, Handle};
use tokio_util::task::TaskTracker;

static RUNTIME: OnceLock<Option<Handle>> = OnceLock::new();

/// Run `hub` on the hub thread, tracked by `tracker` (which sees it end); on
/// the caller's runtime if the thread cannot be started.
pub(super) fn spawn<F>(tracker: &TaskTracker, hub: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match handle() {
        Some(handle) => {
            let task = handle.spawn(hub);
            tracker.spawn(async move {
                let _ = task.await;
            });
        }
        None => {
            tracker.spawn(hub);
        }
    }
}

fn handle() -> Option<Handle> {
    RUNTIME.get_or_init(start).clone()
}

fn start() -> Option<Handle> {
    let runtime = match Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::warn!(error = %e, "no runtime for the hub thread: the hub shares the node's");
            return None;
        }
    };
    let handle = runtime.handle().clone();
    let started = std::thread::Builder::new()
        .name("switchboard-hub".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()));
    match started {
        Ok(_) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "no hub thread: the hub shares the node's runtime");
            None
        }
    }
}
