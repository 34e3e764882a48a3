//! The matcher posts its supervisor dashboard on the presence board every
//! second, so that followers, which have no hub, can serve it
//! (`GET /api/dashboard` on any node). The post expires after a few seconds:
//! once the matcher is gone, followers say `unavailable` rather than show a
//! frozen desk.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::{hub::HubHandle, state::AppState};

/// How often the matcher posts.
const EVERY: Duration = Duration::from_secs(1);
/// How long a post stays readable: a few missed posts (a busy hub, a Redis
/// hiccup) do not blank the followers' view, a dead matcher soon does.
pub const TTL: Duration = Duration::from_secs(5);

/// Post `hub`'s dashboard every second until `stop` (the end of this term
/// as matcher, or the node's shutdown).
pub async fn publish(state: Arc<AppState>, hub: HubHandle, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Said once per run of failures, not every second.
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => break,
        }
        let posted = match crate::http::dashboard_from_hub(&hub, true).await {
            Ok(snapshot) => state
                .presence
                .publish_dashboard(&snapshot, TTL)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.message),
        };
        match posted {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("publishing the dashboard again");
            }
            Ok(()) => {}
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "dashboard not published for followers; retrying every second");
            }
            Err(_) => {}
        }
    }
}
