//! The node: HTTP routes, building the [`AppState`] its handlers share (the
//! type lives in `state`), and `run`, which serves until the shutdown future
//! resolves and then closes every session with 1012.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Extension, Router,
    extract::{State, WebSocketUpgrade},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    accept::{AcceptSettings, HeldSlot},
    cluster::{
        lease::MatcherLease,
        node::{publish_follower, supervise},
    },
    config::Config,
    gate::{ClientAddr, Gate},
    http::{self, gate::GateState},
    hub::{ActiveHub, Hub, HubSlot, StartError},
    identity::IdentityVerifier,
    metrics::Metrics,
    on_duty::DutyCache,
    presence::{MemoryBoard, PresenceBoard, RedisBoard},
    roster::Roster,
    session::{self, Side},
    state::AppState,
    store::{MemoryStore, RedisStore, RedisTarget, Store, StoreError},
};

/// Why the node could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The hub could not start (roster, or reading the store).
    #[error("hub")]
    Hub(#[from] StartError),
    /// The configured store cannot be reached.
    #[error("store")]
    Store(#[from] StoreError),
    /// The listener failed.
    #[error("serving")]
    Io(#[from] std::io::Error),
}

/// The store a node runs on, opened before it listens (an unreachable Redis
/// stops start-up).
#[derive(Debug)]
pub enum Backend {
    /// The embedded memory store: one node.
    Memory,
    /// Redis: active/standby nodes sharing it.
    Redis(RedisStore),
}

impl Backend {
    /// The backend the configuration asks for: Redis with `redis_url` (which must
    /// answer now), else memory.
    pub async fn open(config: &Config) -> Result<Self, StoreError> {
        Ok(match &config.redis_url {
            Some(url) => Self::Redis(RedisStore::connect(url, &config.redis).await?),
            None => Self::Memory,
        })
    }

    /// Its name in logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis(_) => "redis",
        }
    }
}

/// Serve on `listener` until `shutdown` resolves: then stop accepting, close
/// every session with 1012 so clients reconnect elsewhere, let the hub commit its
/// last changes, and return. On Redis the node is active while it holds the
/// matcher lease, standby otherwise.
pub async fn run(
    listener: TcpListener,
    config: Config,
    backend: Backend,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    match backend {
        Backend::Redis(store) => run_cluster(listener, config, store, shutdown).await,
        Backend::Memory => {
            run_with_store(listener, config, Arc::new(MemoryStore::default()), shutdown).await
        }
    }
}

/// `run` with a given store and a single hub, whatever the store: no lease, no
/// standby. What tests use to run the hub on any backend.
pub async fn run_with_store(
    listener: TcpListener,
    config: Config,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_node(listener, config, store, None, shutdown).await
}

/// `run` as one node of a cluster on this Redis store: active while it holds
/// the matcher lease, standby otherwise.
pub async fn run_cluster(
    listener: TcpListener,
    config: Config,
    store: RedisStore,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_node(
        listener,
        config,
        Arc::new(store.clone()),
        Some(store),
        shutdown,
    )
    .await
}

async fn serve_node(
    listener: TcpListener,
    mut config: Config,
    store: Arc<dyn Store>,
    cluster: Option<RedisStore>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let redis_target = config
        .redis_url
        .as_deref()
        .map(|url| RedisTarget::new(url, &config.redis));
    let presence: Arc<dyn PresenceBoard> = match &redis_target {
        Some(target) => Arc::new(RedisBoard::connect(target, &config.redis.prefix).await?),
        None => Arc::new(MemoryBoard::default()),
    };
    let node_id = config.node_id.clone().unwrap_or_else(|| {
        let id = uuid::Uuid::now_v7().simple().to_string();
        format!("node-{}", &id[id.len() - 8..])
    });
    // Settled once, so every part of the node (the hub's presence too) names it alike.
    config.node_id = Some(node_id.clone());
    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::new());
    let gate = Arc::new(Gate::new(&config.security));
    warn_about_security(&config);
    let token = CancellationToken::new();
    let tasks = TaskTracker::new();
    let state = Arc::new(AppState {
        roster: Roster::new(&config.agents),
        gate: gate.clone(),
        identity: IdentityVerifier::new(config.identity_secret.as_deref()),
        config: config.clone(),
        hubs: HubSlot::default(),
        metrics: metrics.clone(),
        store: store.clone(),
        shutdown: token.clone(),
        tasks: tasks.clone(),
        node_id,
        presence,
        duty: DutyCache::default(),
    });
    match (cluster, redis_target) {
        (Some(redis), Some(target)) => {
            let ttl = Duration::from_secs(config.cluster.lease_secs);
            let lease =
                MatcherLease::connect(&target, &config.redis.prefix, &state.node_id, ttl).await?;
            tasks.spawn(supervise(
                state.clone(),
                target,
                redis,
                lease,
                ttl,
                metrics,
                tasks.clone(),
            ));
        }
        _ => {
            let stop = token.child_token();
            let handle =
                Hub::spawn(config.clone(), store, metrics, stop.clone(), &tasks, None).await?;
            state.hubs.set(Some(ActiveHub {
                handle,
                stop,
                matcher: None,
            }));
        }
    }
    tasks.spawn(heartbeat(state.clone()));
    // Hash and compress the embedded files now, not in the first request.
    let assets = crate::web::catalog();
    tracing::info!(
        version = %assets.version,
        files = assets.len(),
        "web assets ready"
    );
    let accept = AcceptSettings {
        gate,
        metrics: state.metrics.clone(),
        header_read: Duration::from_secs(config.security.header_read_secs),
    };
    let app = router(state);
    let stop = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: closing sessions with 1012");
        stop.cancel();
    });
    crate::accept::serve(listener, app, accept, token.clone()).await;
    tasks.close();
    tasks.wait().await;
    Ok(())
}

/// Publish this node's presence every `timeouts.heartbeat_secs` (TTL three
/// beats), and withdraw it on shutdown.
async fn heartbeat(state: Arc<AppState>) {
    let every = Duration::from_secs(state.config.timeouts.heartbeat_secs);
    let mut beat = tokio::time::interval(every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = beat.tick() => {}
            () = state.shutdown.cancelled() => break,
        }
        let Some(hub) = state.hubs.get() else {
            continue; // standby: nothing to show
        };
        if !hub.handle.is_local() {
            // A follower: alive, holding sessions; the matcher shows the agents.
            // Every follow starts by announcing this node (cluster::node), so
            // an entry gone by now expired: stalled or cut off from Redis past
            // three beats, the matcher may have taken this node for dead and
            // let go of its sessions, which would then talk to nobody. Close
            // them (1012) so their clients reconnect and resume; supervise
            // follows again.
            if publish_follower(&state, every * 3).await == Some(false) {
                tracing::warn!(
                    node = %state.node_id,
                    "this node's presence lapsed (missed heartbeats): closing its sessions so they resume"
                );
                hub.stop.cancel();
            }
            continue;
        }
        match crate::http::local_snapshot(&state).await {
            Ok(snapshot) => {
                if let Err(e) = state.presence.publish(&snapshot, every * 3).await {
                    tracing::warn!(error = %e, "presence heartbeat failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "no presence snapshot"),
        }
        // The matcher forgets sessions held by followers that stopped beating
        // (killed): their customers' and agents' grace periods start.
        if state.config.redis_url.is_some()
            && let Ok(nodes) = state.presence.nodes().await
        {
            let mut live: std::collections::HashSet<String> =
                nodes.into_iter().map(|n| n.node).collect();
            live.insert(state.node_id.clone());
            let _ = hub
                .handle
                .send(crate::hub::Command::LiveNodes { nodes: live })
                .await;
        }
    }
    if let Err(e) = state.presence.withdraw(&state.node_id).await {
        tracing::warn!(error = %e, "presence not withdrawn; it expires by itself");
    }
}

/// What an operator should hear at start-up about how open the node is.
fn warn_about_security(config: &Config) {
    let plain = Roster::plain_token_agents(&config.agents);
    if !plain.is_empty() {
        tracing::warn!(
            agents = %plain.join(", "),
            "agent tokens in the clear in the configuration: anyone who reads it can sign in as these agents; \
             store `token_sha256` instead (`switchboard hash-token`)"
        );
    }
    if config.security.allowed_origins.is_empty() {
        tracing::warn!(
            "security.allowed_origins is empty: pages of any web site may open chats and call the API \
             (fine for development; list the exchange's origins in production)"
        );
    }
}

fn router(state: Arc<AppState>) -> Router {
    let gate = GateState {
        gate: state.gate.clone(),
        metrics: state.metrics.clone(),
    };
    Router::new()
        .route("/ws/customer", get(customer_ws))
        .route("/ws/agent", get(agent_ws))
        .merge(http::routes())
        .merge(crate::web::routes())
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            gate,
            http::gate::guard,
        ))
}

fn upgrade(
    ws: WebSocketUpgrade,
    state: Arc<AppState>,
    side: Side,
    client: ClientAddr,
    slot: Option<HeldSlot>,
) -> Response {
    // A direct peer's connection was counted when accepted; a client behind
    // a trusted proxy is counted here, by its forwarded address.
    let held = match slot.and_then(|slot| slot.take()) {
        Some(held) => Some(held),
        None if client.via_proxy => match state.gate.connections.hold(client.ip) {
            Some(held) => Some(held),
            None => {
                state.metrics.gate_refused("connections_per_address");
                return crate::http::ApiError::rate_limited(
                    format!(
                        "your address holds {} connections, the most it may",
                        state.gate.connections.max()
                    ),
                    10,
                )
                .into_response();
            }
        },
        None => None,
    };
    let Some(hub) = state.hubs.get() else {
        return crate::http::ApiError::new(
            crate::error::ErrorCode::Unavailable,
            "this node is on standby (no matcher to follow yet): try again shortly",
        )
        .into_response();
    };
    let limits = &state.config.limits;
    session::sized(ws, limits.ws_buffer_bytes, limits.max_transport_bytes).on_upgrade(
        move |socket| {
            let tasks = state.tasks.clone();
            tasks.track_future(async move {
                let _held = held;
                session::run(socket, state, side, hub, client.ip).await;
            })
        },
    )
}

async fn customer_ws(
    State(state): State<Arc<AppState>>,
    Extension(client): Extension<ClientAddr>,
    slot: Option<Extension<HeldSlot>>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(ws, state, Side::Customer, client, slot.map(|s| s.0))
}

async fn agent_ws(
    State(state): State<Arc<AppState>>,
    Extension(client): Extension<ClientAddr>,
    slot: Option<Extension<HeldSlot>>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(ws, state, Side::Agent, client, slot.map(|s| s.0))
}
