//! Active and standby nodes on one Redis. The node holding the matcher lease
//! runs the hub (rebuilt from Redis when it takes over); the others wait on
//! standby (`/healthz` 503, WebSocket upgrades refused) and take the lease when
//! it expires or is released. Sessions reconnect to the active node and resume.
//!
//! Each term of office gets its own fenced store handle, so a hub that lost the
//! lease (paused, partitioned) can never commit, not even under a later term.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio_util::task::TaskTracker;

use super::lease::{Fence, MatcherLease};
use crate::{
    hub::{ActiveHub, Hub},
    metrics::Metrics,
    server::AppState,
    store::{RedisStore, Store},
};

/// Take the lease when free, serve while holding it, step down when it is lost;
/// until the node shuts down.
pub async fn supervise(
    state: Arc<AppState>,
    store: RedisStore,
    lease: MatcherLease,
    lease_ttl: Duration,
    metrics: Arc<Metrics>,
    tasks: TaskTracker,
) {
    let every = lease_ttl / 3;
    let mut standby_logged = false;
    while !state.shutdown.is_cancelled() {
        let fence = match lease.try_acquire().await {
            Ok(Some(fence)) => fence,
            Ok(None) => {
                if !standby_logged {
                    tracing::info!(node = %state.node_id, "standby: another node holds the matcher lease");
                    standby_logged = true;
                }
                pause(&state, every).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach the matcher lease");
                pause(&state, every).await;
                continue;
            }
        };
        standby_logged = false;
        tracing::info!(node = %state.node_id, token = fence.token, "took the matcher lease: serving");
        serve_term(&state, &store, &lease, &fence, lease_ttl, &metrics, &tasks).await;
        // Give the lease up if it is still ours, so another node takes over now
        // rather than at its expiry.
        if let Err(e) = lease.release(&fence).await {
            tracing::warn!(error = %e, "lease not released; it expires by itself");
        }
        if !state.shutdown.is_cancelled() {
            tracing::warn!(node = %state.node_id, "stepped down: standby");
            pause(&state, every).await;
        }
    }
}

/// One term as matcher: start the hub on a store fenced by this lease, renew
/// the lease every third of its TTL, and stop the hub when the lease is lost,
/// the hub is fenced, or the node shuts down.
async fn serve_term(
    state: &Arc<AppState>,
    store: &RedisStore,
    lease: &MatcherLease,
    fence: &Fence,
    lease_ttl: Duration,
    metrics: &Arc<Metrics>,
    tasks: &TaskTracker,
) {
    let stop = state.shutdown.child_token();
    let term_store: Arc<dyn Store> = Arc::new(store.fenced(&fence.holder));
    match Hub::spawn(
        state.config.clone(),
        term_store,
        metrics.clone(),
        stop.clone(),
        tasks,
    )
    .await
    {
        Ok(handle) => state.hubs.set(Some(ActiveHub {
            handle,
            stop: stop.clone(),
        })),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the hub");
            stop.cancel();
            return;
        }
    }
    let mut renewed = Instant::now();
    loop {
        tokio::select! {
            () = tokio::time::sleep(lease_ttl / 3) => {}
            // Node shutdown, or the hub stopped itself on a fenced commit.
            () = stop.cancelled() => break,
        }
        match lease.renew(fence).await {
            Ok(true) => renewed = Instant::now(),
            Ok(false) => {
                tracing::error!(
                    token = fence.token,
                    "lost the matcher lease to another node"
                );
                break;
            }
            Err(e) if renewed.elapsed() >= lease_ttl => {
                tracing::error!(error = %e, "could not renew the matcher lease in time");
                break;
            }
            Err(e) => tracing::warn!(error = %e, "lease renewal failed; retrying"),
        }
    }
    state.hubs.set(None);
    stop.cancel();
}

async fn pause(state: &AppState, wait: Duration) {
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = state.shutdown.cancelled() => {}
    }
}
