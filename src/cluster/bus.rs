//! Sessions on follower nodes, served by the matcher node's hub over Redis
//! pub/sub.
//!
//! - Followers publish what their sessions say to `P hub:in`: hellos (with the
//!   customer's verified profile or the agent's id), validated frames, departures.
//!   The matcher's inbox turns each into the same hub command a local session
//!   would send, with a `RemoteLink` in place of a local queue.
//! - After each turn's commit, the matcher publishes every remote session's frames
//!   to its node's channel `P node:<id>:out`, one message per node per turn. The
//!   follower hands them to the sessions' bounded queues and closes any session
//!   that does not drain (reporting its departure).
//!
//! Pub/sub delivers at most once. That is enough: nothing is acknowledged before
//! the matcher stored it, so a lost command is an unacknowledged frame the client
//! resends (same `client_msg_id`), and a lost delivery is recovered by resume.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use redis::{AsyncCommands, aio::ConnectionManager};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{
    domain::{AgentId, CustomerProfile, SessionId},
    hub::{Command, HubHandle},
    protocol::{AgentFrame, CustomerFrame, Resume},
    session::link::{Delivery, LocalLink, RemoteLink, SessionLink},
    store::{RedisTarget, StoreError, unavailable},
};

/// What a follower's session tells the matcher.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Inbound {
    /// A customer session passed `hello` on `node`.
    CustomerHello {
        /// The follower.
        node: String,
        /// The session.
        session: SessionId,
        /// Who it is (verified there).
        profile: CustomerProfile,
        /// Where it left off.
        resume: Option<Resume>,
    },
    /// An agent session passed `hello` on `node`.
    AgentHello {
        /// The follower.
        node: String,
        /// The session.
        session: SessionId,
        /// Which agent.
        agent: AgentId,
        /// Where it left off.
        resume: Vec<Resume>,
    },
    /// A validated customer frame.
    Customer {
        /// The session.
        session: SessionId,
        /// The frame, its secrets already masked.
        frame: CustomerFrame,
        /// The kinds of secret masked in it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        redacted: Vec<crate::secrets::SecretKind>,
    },
    /// A validated agent frame.
    Agent {
        /// The session.
        session: SessionId,
        /// The frame.
        frame: AgentFrame,
    },
    /// The session ended.
    Left {
        /// The session.
        session: SessionId,
    },
}

/// What the matcher sends one follower after a turn.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Outbound {
    /// Each session's frames of the turn, in order.
    pub frames: Vec<(SessionId, Vec<String>)>,
}

fn inbox_channel(prefix: &str) -> String {
    format!("{prefix}hub:in")
}

fn node_channel(prefix: &str, node: &str) -> String {
    format!("{prefix}node:{node}:out")
}

/// The matcher's frames for remote sessions, gathered during a turn and
/// published per node after its commit. A std lock: held only to push or take.
pub struct RemoteOutbox {
    pending: Mutex<HashMap<String, Outbound>>,
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RemoteOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteOutbox")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RemoteOutbox {
    /// An outbox publishing on this Redis.
    pub async fn connect(target: &RedisTarget, prefix: &str) -> Result<Arc<Self>, StoreError> {
        let connection = crate::store::redis_connection(target).await?;
        Ok(Arc::new(Self {
            pending: Mutex::new(HashMap::new()),
            connection,
            prefix: prefix.to_string(),
        }))
    }

    /// Queue a turn's frames for a remote session.
    pub fn push(&self, node: &str, session: SessionId, frames: Vec<Utf8Bytes>) {
        let frames = frames.iter().map(|f| f.as_str().to_string()).collect();
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(node.to_string())
            .or_default()
            .frames
            .push((session, frames));
    }

    /// Publish what the turn gathered: one message per node, one round trip.
    pub async fn flush(&self) {
        let pending = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if pending.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for (node, outbound) in &pending {
            match serde_json::to_string(outbound) {
                Ok(json) => {
                    pipe.publish(node_channel(&self.prefix, node), json)
                        .ignore();
                }
                Err(e) => tracing::error!(error = %e, "outbound frames failed to serialize"),
            }
        }
        let mut connection = self.connection.clone();
        if let Err(e) = pipe.query_async::<()>(&mut connection).await {
            // Not acknowledged frames are lost with the message; acknowledged
            // ones are in the store, and the client's resume recovers them.
            tracing::warn!(error = %e, nodes = pending.len(), "publishing to followers failed");
        }
    }
}

/// The matcher's inbox: remote sessions' commands into the local hub, until
/// `stop`. A dropped subscription (Redis restart, a slow matcher cut off by
/// Redis's output buffer limit) is renewed with backoff: what was published
/// meanwhile is lost, which costs only unacknowledged frames that clients resend.
/// `first` is the subscription [`subscribe_inbox`] made before the hub was
/// announced, so no follower's command published after that is missed.
pub async fn run_inbox(
    first: redis::aio::PubSub,
    target: RedisTarget,
    prefix: String,
    hub: HubHandle,
    outbox: Arc<RemoteOutbox>,
    stop: CancellationToken,
) {
    if !drain_inbox(first, &hub, &outbox, &stop).await {
        return;
    }
    tracing::warn!("hub inbox subscription ended: subscribing again");
    let mut backoff = std::time::Duration::from_millis(50);
    while !stop.is_cancelled() {
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.cancelled() => return,
        }
        backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
        match subscribe_inbox(&target, &prefix).await {
            Ok(pubsub) => {
                backoff = std::time::Duration::from_millis(50);
                if !drain_inbox(pubsub, &hub, &outbox, &stop).await {
                    return;
                }
                tracing::warn!("hub inbox subscription ended: subscribing again");
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to the hub inbox"),
        }
    }
}

/// Subscribe to the hub's inbox, where followers publish their sessions'
/// commands.
pub async fn subscribe_inbox(
    target: &RedisTarget,
    prefix: &str,
) -> Result<redis::aio::PubSub, StoreError> {
    subscribe(target, &inbox_channel(prefix)).await
}

/// Feed one subscription's messages to the hub; false when the inbox should stop
/// (the term ended or the hub is gone), true when the subscription dropped.
async fn drain_inbox(
    mut pubsub: redis::aio::PubSub,
    hub: &HubHandle,
    outbox: &Arc<RemoteOutbox>,
    stop: &CancellationToken,
) -> bool {
    let mut messages = pubsub.on_message();
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            () = stop.cancelled() => return false,
        };
        let Some(message) = message else {
            return true;
        };
        let Ok(payload) = message.get_payload::<String>() else {
            continue;
        };
        let inbound: Inbound = match serde_json::from_str(&payload) {
            Ok(inbound) => inbound,
            Err(e) => {
                tracing::warn!(error = %e, "malformed message on the hub inbox");
                continue;
            }
        };
        let remote = |node: String, session| {
            SessionLink::Remote(RemoteLink {
                id: session,
                node,
                outbox: outbox.clone(),
            })
        };
        let command = match inbound {
            Inbound::CustomerHello {
                node,
                session,
                profile,
                resume,
            } => Command::CustomerHello {
                link: remote(node, session),
                profile,
                resume,
            },
            Inbound::AgentHello {
                node,
                session,
                agent,
                resume,
            } => Command::AgentHello {
                link: remote(node, session),
                agent,
                resume,
            },
            Inbound::Customer {
                session,
                frame,
                redacted,
            } => Command::FromCustomer {
                session,
                frame,
                redacted,
            },
            Inbound::Agent { session, frame } => Command::FromAgent { session, frame },
            Inbound::Left { session } => Command::Left { session },
        };
        if hub.send(command).await.is_err() {
            return false;
        }
    }
}

async fn subscribe(target: &RedisTarget, channel: &str) -> Result<redis::aio::PubSub, StoreError> {
    let client = target.client()?;
    let mut pubsub = client.get_async_pubsub().await.map_err(unavailable)?;
    pubsub.subscribe(channel).await.map_err(unavailable)?;
    Ok(pubsub)
}

/// A follower node's side: its sessions' commands go to the matcher, and the
/// matcher's frames come back to their queues.
pub struct Follower {
    node: String,
    prefix: String,
    connection: ConnectionManager,
    sessions: Mutex<HashMap<SessionId, LocalLink>>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// A follower publishing on this Redis.
    pub async fn connect(
        target: &RedisTarget,
        prefix: &str,
        node: &str,
    ) -> Result<Arc<Self>, StoreError> {
        let connection = crate::store::redis_connection(target).await?;
        Ok(Arc::new(Self {
            node: node.to_string(),
            prefix: prefix.to_string(),
            connection,
            sessions: Mutex::new(HashMap::new()),
        }))
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, LocalLink>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forward a session's command to the matcher.
    pub async fn forward(&self, command: Command) -> Result<(), StoreError> {
        let inbound = match command {
            Command::CustomerHello {
                link,
                profile,
                resume,
            } => {
                let session = self.register(link);
                Inbound::CustomerHello {
                    node: self.node.clone(),
                    session,
                    profile,
                    resume,
                }
            }
            Command::AgentHello {
                link,
                agent,
                resume,
            } => {
                let session = self.register(link);
                Inbound::AgentHello {
                    node: self.node.clone(),
                    session,
                    agent,
                    resume,
                }
            }
            Command::FromCustomer {
                session,
                frame,
                redacted,
            } => Inbound::Customer {
                session,
                frame,
                redacted,
            },
            Command::FromAgent { session, frame } => Inbound::Agent { session, frame },
            Command::Left { session } => {
                self.sessions().remove(&session);
                Inbound::Left { session }
            }
            // A supervisor's action is answered, and the bus carries nothing
            // back: the REST layer refuses it on a follower before it gets
            // here (`unavailable`, "ask the matcher node").
            Command::SupervisorStatus { .. } | Command::SupervisorRoute { .. } => {
                return Ok(());
            }
            // Node-local questions (gauges, presence, the dashboard: a
            // follower reads the matcher's published one) are not forwarded.
            Command::RefreshGauges { .. }
            | Command::Presence { .. }
            | Command::Dashboard { .. }
            | Command::LiveNodes { .. } => {
                return Ok(());
            }
        };
        self.publish(&inbound).await
    }

    fn register(&self, link: SessionLink) -> SessionId {
        let id = link.id();
        if let SessionLink::Local(local) = link {
            self.sessions().insert(id, local);
        }
        id
    }

    async fn publish(&self, inbound: &Inbound) -> Result<(), StoreError> {
        let json = serde_json::to_string(inbound).map_err(unavailable)?;
        let mut connection = self.connection.clone();
        connection
            .publish::<_, _, ()>(inbox_channel(&self.prefix), json)
            .await
            .map_err(unavailable)
    }

    /// Subscribe to this node's channel, where the matcher publishes its
    /// sessions' frames: before any session can arrive, so none is missed.
    pub async fn listen(&self, target: &RedisTarget) -> Result<redis::aio::PubSub, StoreError> {
        subscribe(target, &node_channel(&self.prefix, &self.node)).await
    }

    /// Hand the matcher's frames (from the [`Follower::listen`] subscription)
    /// to this node's sessions until `stop`; a session that does not drain is
    /// closed and its departure reported.
    pub async fn run(self: Arc<Self>, mut pubsub: redis::aio::PubSub, stop: CancellationToken) {
        let mut messages = pubsub.on_message();
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                () = stop.cancelled() => break,
            };
            let Some(message) = message else {
                tracing::error!("node channel subscription ended: closing this node's sessions");
                stop.cancel();
                break;
            };
            let Ok(outbound) = message
                .get_payload::<String>()
                .map_err(|e| e.to_string())
                .and_then(|p| serde_json::from_str::<Outbound>(&p).map_err(|e| e.to_string()))
            else {
                tracing::warn!("malformed message on this node's channel");
                continue;
            };
            let mut gone = Vec::new();
            for (session, frames) in outbound.frames {
                let link = self.sessions().get(&session).cloned();
                let Some(link) = link else { continue };
                let frames = frames.into_iter().map(Utf8Bytes::from).collect();
                if link.deliver(frames) != Delivery::Queued {
                    gone.push(session);
                }
            }
            for session in gone {
                let _ = self.forward(Command::Left { session }).await;
            }
        }
    }
}
