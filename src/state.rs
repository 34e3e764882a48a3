//! The state every handler shares: configuration, hub slot, store, presence,
//! metrics, shutdown.

use std::sync::Arc;

use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    config::Config, gate::Gate, hub::HubSlot, identity::IdentityVerifier, metrics::Metrics,
    on_duty::DutyCache, presence::PresenceBoard, roster::Roster, store::Store,
};

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The hub this node serves with (none while a cluster node is on standby).
    pub hubs: HubSlot,
    /// Metrics of this node.
    pub metrics: Arc<Metrics>,
    /// Agent token digests → agent ids.
    pub roster: Roster,
    /// Who may connect (origins, proxies, sign-in failures, connections).
    pub gate: Arc<Gate>,
    /// Customer identity verification.
    pub identity: IdentityVerifier,
    /// The store backend.
    pub store: Arc<dyn Store>,
    /// Cancelled when the node shuts down; sessions close with 1012.
    pub shutdown: CancellationToken,
    /// Owns every session and the hub, so `run` returns only when all are done.
    pub tasks: TaskTracker,
    /// This node's id.
    pub node_id: String,
    /// Where nodes publish which agents are on duty.
    pub presence: Arc<dyn PresenceBoard>,
    /// Who is on duty per topic, for the public widget settings: asked of the
    /// hub at most once a second however many pages ask.
    pub duty: DutyCache,
}

#[cfg(test)]
impl AppState {
    /// A node with no hub of its own and none to follow, serving `config`: the
    /// roster is its agents' tokens, as the server builds it.
    pub(crate) fn standby_for_tests(config: Config) -> Arc<Self> {
        Arc::new(Self {
            roster: Roster::new(&config.agents),
            gate: Arc::new(Gate::new(&config.security)),
            identity: IdentityVerifier::new(None),
            config: Arc::new(config),
            hubs: HubSlot::default(),
            metrics: Arc::new(Metrics::new()),
            store: Arc::new(crate::store::MemoryStore::default()),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            node_id: "standby-1".into(),
            presence: Arc::new(crate::presence::MemoryBoard::default()),
            duty: DutyCache::default(),
        })
    }
}
