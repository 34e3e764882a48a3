//! Nodes on one Redis. The node holding the matcher lease runs the hub (rebuilt
//! from Redis when it takes over); the others follow it, holding sessions whose
//! commands and frames travel over the cluster bus, and take the lease when it
//! expires or is released. When the matcher changes, followers close their
//! sessions (1012) so clients reconnect and resume against the new state.
//!
//! Each term of office gets its own fenced store handle, so a hub that lost the
//! lease (paused, partitioned) can never commit, not even under a later term.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    bus::{Follower, RemoteOutbox, run_inbox, subscribe_inbox},
    lease::{Fence, MatcherLease},
};
use crate::{
    hub::{ActiveHub, Hub, HubHandle},
    metrics::Metrics,
    state::AppState,
    store::{RedisStore, RedisTarget, Store},
};

/// Take the lease when free and serve while holding it; otherwise follow the
/// node that holds it (sessions here are served by its hub over the bus), and
/// start over with a new matcher when the lease changes hands; until the node
/// shuts down.
pub async fn supervise(
    state: Arc<AppState>,
    target: RedisTarget,
    store: RedisStore,
    lease: MatcherLease,
    lease_ttl: Duration,
    metrics: Arc<Metrics>,
    tasks: TaskTracker,
) {
    let prefix = state.config.redis.prefix.clone();
    let every = lease_ttl / 3;
    // The matcher followed (its lease value) and the token ending that.
    let mut following: Option<(String, CancellationToken)> = None;
    while !state.shutdown.is_cancelled() {
        if following
            .as_ref()
            .is_some_and(|(_, stop)| stop.is_cancelled())
        {
            following = None;
        }
        match lease.try_acquire().await {
            Ok(Some(fence)) => {
                if let Some((_, stop)) = following.take() {
                    stop.cancel();
                }
                tracing::info!(node = %state.node_id, token = fence.token, "took the matcher lease: serving");
                serve_term(
                    &state, &store, &lease, &fence, lease_ttl, &metrics, &tasks, &target,
                )
                .await;
                // Give the lease up if it is still ours, so another node takes over
                // now rather than at its expiry.
                if let Err(e) = lease.release(&fence).await {
                    tracing::warn!(error = %e, "lease not released; it expires by itself");
                }
                if !state.shutdown.is_cancelled() {
                    tracing::warn!(node = %state.node_id, "stepped down");
                }
            }
            Ok(None) => {
                let holder = lease.holder().await.ok().flatten();
                // Held in our name without our knowing: an acquire whose reply
                // was lost (Redis stalled past our timeout) still ran. Give it
                // up so the next round takes it properly.
                if let Some(stale) = holder.as_deref().filter(|h| {
                    h.rsplit_once(':')
                        .is_some_and(|(node, _)| node == state.node_id)
                }) {
                    let token = stale
                        .rsplit(':')
                        .next()
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0);
                    let orphan = Fence {
                        token,
                        holder: stale.to_string(),
                    };
                    if let Err(e) = lease.release(&orphan).await {
                        tracing::warn!(error = %e, "cannot release an orphaned lease");
                    }
                    pause(&state, every).await;
                    continue;
                }
                let same = matches!((&following, &holder), (Some((followed, _)), Some(h)) if followed == h);
                if let (false, Some(holder)) = (same, holder) {
                    // A new matcher: sessions following the old one close (1012)
                    // and reconnect, so they resume against the new one's state.
                    if let Some((_, stop)) = following.take() {
                        stop.cancel();
                    }
                    let connected = async {
                        let follower = Follower::connect(&target, &prefix, &state.node_id).await?;
                        let frames = follower.listen(&target).await?;
                        Ok::<_, crate::store::StoreError>((follower, frames))
                    };
                    match connected.await {
                        Ok((follower, frames)) => {
                            // Announce this node before any session arrives, so the
                            // matcher does not take its sessions for a dead node's,
                            // and before the heartbeat sees this follow, which takes
                            // a missing entry for a lapse.
                            let ttl = Duration::from_secs(state.config.timeouts.heartbeat_secs * 3);
                            let _ = publish_follower(&state, ttl).await;
                            let stop = state.shutdown.child_token();
                            tasks.spawn(follower.clone().run(frames, stop.clone()));
                            state.hubs.set(Some(ActiveHub {
                                handle: HubHandle::remote(follower),
                                stop: stop.clone(),
                                matcher: Some(holder.clone()),
                            }));
                            tracing::info!(node = %state.node_id, matcher = %holder, "following the matcher");
                            following = Some((holder, stop));
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot follow the matcher"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot reach the matcher lease"),
        }
        pause(&state, every).await;
    }
    if let Some((_, stop)) = following {
        stop.cancel();
    }
}

/// One term as matcher: start the hub on a store fenced by this lease, renew
/// the lease every third of its TTL, and stop the hub when the lease is lost,
/// the hub is fenced, or the node shuts down.
#[allow(clippy::too_many_arguments)] // one term's whole context; called once
async fn serve_term(
    state: &Arc<AppState>,
    store: &RedisStore,
    lease: &MatcherLease,
    fence: &Fence,
    lease_ttl: Duration,
    metrics: &Arc<Metrics>,
    tasks: &TaskTracker,
    target: &RedisTarget,
) {
    let stop = state.shutdown.child_token();
    let prefix = &state.config.redis.prefix;
    let outbox = match RemoteOutbox::connect(target, prefix).await {
        Ok(outbox) => outbox,
        Err(e) => {
            tracing::error!(error = %e, "cannot publish to followers");
            return;
        }
    };
    // Subscribed before the hub is announced, so no follower's command is
    // published to an inbox nobody reads yet.
    let inbox = match subscribe_inbox(target, prefix).await {
        Ok(inbox) => inbox,
        Err(e) => {
            tracing::error!(error = %e, "cannot subscribe to the hub inbox");
            return;
        }
    };
    let term_store: Arc<dyn Store> = match store.for_term(&fence.holder, lease_ttl).await {
        Ok(term_store) => Arc::new(term_store),
        Err(e) => {
            tracing::error!(error = %e, "cannot open the store for this term");
            return;
        }
    };
    match Hub::spawn(
        state.config.clone(),
        term_store,
        metrics.clone(),
        stop.clone(),
        tasks,
        Some(outbox.clone()),
    )
    .await
    {
        Ok(handle) => {
            tasks.spawn(run_inbox(
                inbox,
                target.clone(),
                prefix.clone(),
                handle.clone(),
                outbox,
                stop.clone(),
            ));
            // For the followers' dashboards; stops with this term.
            tasks.spawn(super::dashboard::publish(
                state.clone(),
                handle.clone(),
                stop.clone(),
            ));
            state.hubs.set(Some(ActiveHub {
                handle,
                stop: stop.clone(),
                matcher: Some(fence.holder.clone()),
            }));
        }
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

/// A follower's heartbeat: alive, no hub of its own. Whether its previous
/// snapshot was still there; `None` if Redis did not take this one.
pub(crate) async fn publish_follower(state: &AppState, ttl: Duration) -> Option<bool> {
    let snapshot = crate::presence::NodePresence {
        node: state.node_id.clone(),
        agents: Vec::new(),
        queued: 0,
        at: time::OffsetDateTime::now_utc(),
    };
    match state.presence.publish(&snapshot, ttl).await {
        Ok(was_live) => Some(was_live),
        Err(e) => {
            tracing::warn!(error = %e, "presence heartbeat failed");
            None
        }
    }
}
