//! The hub: the one owner of routing state (queue, agents, open conversations),
//! run as a single task and reached by messages. Connections never lock it.
//!
//! Each turn of the loop takes a batch of commands, applies them, then flushes:
//! the changes are committed to the store in one call, and only then are the
//! frames that tell clients about them delivered. So nothing is acknowledged that
//! is not stored, and a burst costs one store round trip, not one per frame.

mod agent;
mod census;
mod conversation;
mod customer;
mod dashboard;
mod desk;
mod eta;
mod lifecycle;
mod restore;
pub mod router;
mod secrets;
mod slot;
mod supervisor;
mod tickets;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::extract::ws::Utf8Bytes;
use smol_str::SmolStr;
use tokio::sync::{mpsc, oneshot};
use tokio_util::{sync::CancellationToken, task::TaskTracker, time::DelayQueue};

pub use census::QueueRow;
pub use conversation::{Appended, Conversation};
pub use dashboard::{DashboardAgent, DashboardNode, DashboardSnapshot, WAITING_LISTED, WaitingRow};
pub use desk::{EndedToday, LastFifteen, QueueSample, RatingsToday, TodayStats};
pub use eta::AssignmentRate;
pub use restore::RestoreError;
pub use router::{Assignment, Placement, RouteError, RouteSpec, Router};
pub use slot::{ActiveHub, HubSlot};
pub use supervisor::{BY_SUPERVISOR, Rerouted, RouteReply, StatusReply, SupervisorRefusal};

use crate::{
    config::Config,
    domain::{
        AgentId, ConversationId, CustomerKey, CustomerProfile, EndReason, Message, SessionId,
    },
    error::FrameError,
    metrics::{CodeLabel, Metrics, TopicLabel},
    protocol::{AgentFrame, AgentStatus, CustomerFrame, Resume, ServerFrame, error_frame},
    session::link::{Delivery, SessionLink},
    store::{Change, Receipt, Store, StoreError},
    tickets::TicketId,
};

/// Commands from connections (and the HTTP layer) to the hub.
#[derive(Debug)]
pub enum Command {
    /// A customer session passed `hello`.
    CustomerHello {
        /// Where its frames go.
        link: SessionLink,
        /// Who it is.
        profile: CustomerProfile,
        /// Where it left off.
        resume: Option<Resume>,
    },
    /// An agent session passed `hello`.
    AgentHello {
        /// Where its frames go.
        link: SessionLink,
        /// Which agent.
        agent: AgentId,
        /// Where it left off.
        resume: Vec<Resume>,
    },
    /// A validated frame from a customer session.
    FromCustomer {
        /// The session.
        session: SessionId,
        /// The frame (never `hello`), its secrets already masked.
        frame: CustomerFrame,
        /// The kinds of secret masked in it: the customer is warned.
        redacted: Vec<crate::secrets::SecretKind>,
    },
    /// A validated frame from an agent session.
    FromAgent {
        /// The session.
        session: SessionId,
        /// The frame (never `hello`).
        frame: AgentFrame,
    },
    /// A session ended, by any path.
    Left {
        /// The session.
        session: SessionId,
    },
    /// The nodes alive now (by presence): sessions held by any other node are
    /// gone.
    LiveNodes {
        /// Node ids.
        nodes: HashSet<String>,
    },
    /// This node's agents, for the presence board.
    Presence {
        /// Answered with the snapshot.
        reply: oneshot::Sender<(Vec<crate::presence::AgentPresence>, usize)>,
    },
    /// Fill the scrape-time gauges and answer.
    RefreshGauges {
        /// Answered when the gauges are set.
        done: oneshot::Sender<()>,
    },
    /// A supervisor sets an agent's status (REST), as the agent's own
    /// `status` frame would; answered once the turn is stored.
    SupervisorStatus {
        /// The agent.
        agent: AgentId,
        /// Its new status.
        status: AgentStatus,
        /// Answered with the status set, or why not.
        reply: StatusReply,
    },
    /// A supervisor gives a queued conversation another topic or priority
    /// (REST); answered once the turn is stored.
    SupervisorRoute {
        /// The conversation.
        conversation: ConversationId,
        /// Its new topic, if it changes.
        topic: Option<crate::domain::Topic>,
        /// Its new priority, if it changes.
        priority: Option<crate::domain::Priority>,
        /// Answered with where it is now, or why not.
        reply: RouteReply,
    },
    /// The supervisor's dashboard, taken in this turn (its `nodes` empty).
    Dashboard {
        /// With the hour of queue samples?
        history: bool,
        /// Answered with the snapshot.
        reply: oneshot::Sender<DashboardSnapshot>,
    },
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The roster does not fit the routing rules.
    #[error("routing")]
    Routing(#[from] RouteError),
    /// The store's open conversations could not be read.
    #[error("restoring from the store")]
    Restore(#[from] RestoreError),
}

/// The hub is gone (shutting down).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the hub has stopped")]
pub struct HubGone;

/// How connections reach the hub: the one on this node, or the matcher node's
/// over the cluster bus (on a follower). Cheap to clone.
#[derive(Debug, Clone)]
pub struct HubHandle {
    route: Route,
}

#[derive(Debug, Clone)]
enum Route {
    Local {
        tx: mpsc::Sender<Command>,
        store_down: Arc<AtomicBool>,
    },
    Remote(Arc<crate::cluster::bus::Follower>),
}

impl HubHandle {
    /// A handle that forwards to the matcher node.
    pub fn remote(follower: Arc<crate::cluster::bus::Follower>) -> Self {
        Self {
            route: Route::Remote(follower),
        }
    }

    /// Is the hub on this node (so node-local questions, like presence, can be
    /// asked of it)?
    pub fn is_local(&self) -> bool {
        matches!(self.route, Route::Local { .. })
    }

    /// Is the store failing to take writes right now? Sessions then refuse frames
    /// that need a durable write with `unavailable` instead of queueing them
    /// behind a hub that is retrying its last batch. (A follower cannot tell; the
    /// matcher holds such frames unacknowledged.)
    pub fn store_down(&self) -> bool {
        match &self.route {
            Route::Local { store_down, .. } => store_down.load(Ordering::Relaxed),
            Route::Remote(_) => false,
        }
    }

    /// Send a command, waiting for room (the channel is bounded: a hub under
    /// pressure slows its senders down instead of growing without bound).
    pub async fn send(&self, command: Command) -> Result<(), HubGone> {
        match &self.route {
            Route::Local { tx, .. } => tx.send(command).await.map_err(|_| HubGone),
            Route::Remote(follower) => follower.forward(command).await.map_err(|e| {
                tracing::warn!(error = %e, "cannot reach the matcher");
                HubGone
            }),
        }
    }

    /// Send from a context that cannot wait (a `Drop`): try now, else hand the
    /// send to a short task that ends when the hub takes it or stops.
    pub fn send_later(&self, command: Command) {
        match &self.route {
            Route::Local { tx, .. } => match tx.try_send(command) {
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(command)) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let _ = tx.send(command).await;
                    });
                }
            },
            Route::Remote(follower) => {
                let follower = follower.clone();
                tokio::spawn(async move {
                    let _ = follower.forward(command).await;
                });
            }
        }
    }
}

/// Commands taken per turn of the loop; bounds the latency one turn can add.
const BATCH: usize = 512;
/// Room in the command channel.
const CHANNEL: usize = 8192;
/// Ended conversations remembered for resume and late ratings.
const ENDED_REMEMBERED: usize = 10_000;

/// Timers the hub sets; each is checked against the current state when it fires,
/// so a timer made stale by later events does nothing.
#[derive(Debug, Clone)]
enum Timer {
    AgentGrace {
        agent: AgentId,
        epoch: u64,
    },
    CustomerGrace {
        customer: CustomerKey,
        epoch: u64,
    },
    QueueTimeout {
        conversation: ConversationId,
    },
    LanguageFallback {
        conversation: ConversationId,
    },
    FirstReply {
        conversation: ConversationId,
        epoch: u64,
    },
}

#[derive(Debug)]
enum Role {
    Customer(CustomerKey),
    Agent(AgentId),
}

#[derive(Debug)]
struct SessionEntry {
    link: SessionLink,
    role: Role,
}

#[derive(Debug)]
struct CustomerEntry {
    profile: CustomerProfile,
    sessions: Vec<SessionId>,
    open: Option<ConversationId>,
    /// A chat no agent could serve, held while the customer is offered to
    /// leave a message (`offline`).
    offer: Option<customer::Offer>,
    /// Bumped whenever a session joins, so a pending grace timer is ignored.
    epoch: u64,
}

#[derive(Debug)]
struct AgentEntry {
    name: SmolStr,
    capacity: u32,
    skills: Vec<SmolStr>,
    languages: Vec<SmolStr>,
    status: AgentStatus,
    sessions: Vec<SessionId>,
    epoch: u64,
}

/// What the hub remembers of an ended conversation.
#[derive(Debug)]
struct Ended {
    customer: CustomerKey,
    /// The agent who held it last, if any.
    agent: Option<AgentId>,
    reason: EndReason,
    messages: Vec<Message>,
    rating: Option<u8>,
    /// Its ticket, once the store has filed it.
    ticket: Option<TicketId>,
}

/// A frame of this turn, to deliver once the turn is committed.
#[derive(Debug)]
enum Outgoing {
    /// Rendered already.
    Frame(Utf8Bytes),
    /// `ended` with `ticketed`: its `ticket_id` is known only once the store
    /// has filed the ticket (a new one, or the customer's open one).
    Ticketed(ConversationId),
}

/// The hub's state. Built by `Hub::spawn`, owned by its task.
#[derive(Debug)]
pub struct Hub {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    router: Router,
    conversations: HashMap<ConversationId, Conversation>,
    customers: HashMap<CustomerKey, CustomerEntry>,
    agents: HashMap<AgentId, AgentEntry>,
    sessions: HashMap<SessionId, SessionEntry>,
    ended: HashMap<ConversationId, Ended>,
    ended_order: VecDeque<ConversationId>,
    /// Each customer's most recently ended conversation, for `rate` without an id,
    /// from any session, as long as it is remembered in `ended`.
    last_ended: HashMap<CustomerKey, ConversationId>,
    rates: HashMap<SmolStr, AssignmentRate>,
    /// Set while the store refuses writes; shared with every `HubHandle`.
    store_down: Arc<AtomicBool>,
    /// Frames for sessions on follower nodes, published after each commit.
    remote: Option<Arc<crate::cluster::bus::RemoteOutbox>>,
    /// Languages some agent speaks, plus the default and fallback ones.
    known_languages: HashSet<SmolStr>,
    timers: DelayQueue<Timer>,
    urgent_keywords: Vec<String>,
    /// Changes of this turn, committed before `outbox` is delivered.
    writes: Vec<Change>,
    /// Frames of this turn.
    outbox: Vec<(SessionId, Outgoing)>,
    /// Supervisors' answers of this turn, sent once it is stored.
    answers: Vec<supervisor::Answer>,
    /// What the dashboard shows of the recent past.
    desk: desk::Desk,
}

impl Hub {
    /// Build the hub from the store's open conversations and start its task on
    /// `tracker`; it stops when `shutdown` is cancelled.
    pub async fn spawn(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
        tracker: &TaskTracker,
        remote: Option<Arc<crate::cluster::bus::RemoteOutbox>>,
    ) -> Result<HubHandle, StartError> {
        let mut hub = Self::new(config, store, metrics)?;
        let restored = hub.restore(Instant::now()).await?;
        if restored > 0 {
            tracing::info!(
                conversations = restored,
                "restored open conversations from the store"
            );
        }
        let (tx, rx) = mpsc::channel(CHANNEL);
        let store_down = hub.store_down.clone();
        hub.remote = remote;
        // The webhook lives with the hub: one node delivers the outbox, and the
        // next matcher takes it over from the store.
        match crate::tickets::webhook::Webhook::new(
            &hub.config.tickets,
            hub.store.clone(),
            hub.metrics.clone(),
        ) {
            Ok(webhook) => {
                tracker.spawn(webhook.run(shutdown.clone()));
            }
            Err(crate::tickets::webhook::WebhookError::NotConfigured) => {}
            Err(e) => tracing::error!(error = %e, "webhook not started"),
        }
        tracker.spawn(hub.run(rx, shutdown));
        Ok(HubHandle {
            route: Route::Local { tx, store_down },
        })
    }

    fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, RouteError> {
        let now = Instant::now();
        let topics: Vec<SmolStr> = config.routing.topics.iter().map(SmolStr::new).collect();
        let mut router = Router::new(
            &topics,
            &SmolStr::new(&config.routing.fallback_language),
            Duration::from_secs(config.routing.language_fallback_secs),
        );
        let mut agents = HashMap::new();
        for a in &config.agents {
            let id = SmolStr::new(&a.id);
            let skills: Vec<SmolStr> = a.skills.iter().map(SmolStr::new).collect();
            let languages: Vec<SmolStr> = a.languages.iter().map(SmolStr::new).collect();
            router.add_agent(id.clone(), &skills, &languages, a.capacity, now)?;
            agents.insert(
                id,
                AgentEntry {
                    name: SmolStr::new(&a.name),
                    capacity: a.capacity,
                    skills,
                    languages,
                    status: AgentStatus::Offline,
                    sessions: Vec::new(),
                    epoch: 0,
                },
            );
        }
        let mut known_languages: HashSet<SmolStr> = agents
            .values()
            .flat_map(|a: &AgentEntry| a.languages.iter().cloned())
            .collect();
        known_languages.insert(SmolStr::new(&config.routing.fallback_language));
        known_languages.insert(SmolStr::new(&config.routing.default_language));
        Ok(Self {
            store_down: Arc::new(AtomicBool::new(false)),
            remote: None,
            known_languages,
            urgent_keywords: config
                .routing
                .urgent_keywords
                .iter()
                .map(|k| k.to_lowercase())
                .collect(),
            rates: topics
                .iter()
                .map(|t| (t.clone(), AssignmentRate::default()))
                .collect(),
            config,
            store,
            metrics,
            router,
            conversations: HashMap::new(),
            customers: HashMap::new(),
            agents,
            sessions: HashMap::new(),
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
            last_ended: HashMap::new(),
            timers: DelayQueue::new(),
            writes: Vec::new(),
            outbox: Vec::new(),
            answers: Vec::new(),
            desk: desk::Desk::new(time::OffsetDateTime::now_utc()),
        })
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>, shutdown: CancellationToken) {
        let mut commands = Vec::with_capacity(BATCH);
        let mut positions = tokio::time::interval(Duration::from_millis(
            self.config.routing.position_update_ms,
        ));
        positions.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The dashboard's chart: sampled here whether anyone watches or not,
        // so a page opened later gets the hour behind it.
        let mut samples = tokio::time::interval(desk::SAMPLE_EVERY);
        samples.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = rx.recv_many(&mut commands, BATCH) => {
                    if received == 0 {
                        break;
                    }
                    let now = Instant::now();
                    for command in commands.drain(..) {
                        self.handle(command, now);
                    }
                }
                Some(expired) = std::future::poll_fn(|cx| self.timers.poll_expired(cx)) => {
                    self.on_timer(expired.into_inner(), Instant::now());
                }
                _ = positions.tick() => self.refresh_positions(Instant::now()),
                _ = samples.tick() => self.sample_queue(Instant::now()),
                () = shutdown.cancelled() => break,
            }
            self.flush(&shutdown).await;
        }
        // Commit what the last turn changed; sessions are closing with 1012.
        self.flush(&shutdown).await;
        tracing::info!("hub stopped");
    }

    fn handle(&mut self, command: Command, now: Instant) {
        match command {
            Command::CustomerHello {
                link,
                profile,
                resume,
            } => self.customer_hello(link, profile, resume, now),
            Command::AgentHello {
                link,
                agent,
                resume,
            } => self.agent_hello(link, agent, resume, now),
            Command::FromCustomer {
                session,
                frame,
                redacted,
            } => {
                self.customer_frame(session, frame, now);
                if !redacted.is_empty() {
                    self.warn_of_secrets(session);
                }
            }
            Command::FromAgent { session, frame } => self.agent_frame(session, frame, now),
            Command::Left { session } => self.session_left(session, now),
            Command::LiveNodes { nodes } => {
                let dead: Vec<SessionId> = self
                    .sessions
                    .iter()
                    .filter(|(_, entry)| {
                        matches!(&entry.link, SessionLink::Remote(remote) if !nodes.contains(&remote.node))
                    })
                    .map(|(id, _)| *id)
                    .collect();
                for session in dead {
                    tracing::info!(%session, "its node stopped beating: session gone");
                    self.session_left(session, now);
                }
            }
            Command::Presence { reply } => {
                let _ = reply.send((self.presence(), self.router.queued_total()));
            }
            Command::RefreshGauges { done } => {
                self.refresh_gauges(now);
                let _ = done.send(());
            }
            Command::SupervisorStatus {
                agent,
                status,
                reply,
            } => self.supervisor_status(agent, status, reply, now),
            Command::SupervisorRoute {
                conversation,
                topic,
                priority,
                reply,
            } => self.supervisor_route(conversation, topic, priority, reply, now),
            Command::Dashboard { history, reply } => {
                let _ = reply.send(self.dashboard(now, history));
            }
        }
    }

    /// Commit this turn's changes, then deliver its frames. Closing a slow
    /// consumer can cause more changes (its agent's chats move on), which go
    /// through the same commit-then-deliver round.
    async fn flush(&mut self, shutdown: &CancellationToken) {
        loop {
            if !self.writes.is_empty() {
                let writes = std::mem::take(&mut self.writes);
                let count = writes.len();
                let Some(receipt) = self.commit(writes, shutdown).await else {
                    // Shutting down with the store down: these frames were never
                    // acknowledged, so dropping them loses nothing a client holds.
                    tracing::warn!(
                        changes = count,
                        frames = self.outbox.len(),
                        "stopping before the store took this turn (down or fenced): unacknowledged changes dropped"
                    );
                    self.outbox.clear();
                    // Dropped unanswered: the REST callers say `unavailable`.
                    self.answers.clear();
                    return;
                };
                self.filed(&receipt);
            }
            // A supervisor hears of what the turn did only now that it is stored.
            for answer in std::mem::take(&mut self.answers) {
                answer.send();
            }
            // One batch per session, in the order the turn produced its frames.
            let mut batches: HashMap<SessionId, Vec<Utf8Bytes>> = HashMap::new();
            let outbox = std::mem::take(&mut self.outbox);
            for (session, outgoing) in outbox {
                let frame = match outgoing {
                    Outgoing::Frame(frame) => frame,
                    Outgoing::Ticketed(conversation) => self.ticketed_frame(conversation),
                };
                batches.entry(session).or_default().push(frame);
            }
            let mut killed = Vec::new();
            for (session, frames) in batches {
                let Some(entry) = self.sessions.get(&session) else {
                    continue;
                };
                if entry.link.deliver(frames) == Delivery::Killed {
                    killed.push(session);
                }
            }
            if let Some(remote) = &self.remote {
                remote.flush().await;
            }
            if killed.is_empty() {
                return;
            }
            let now = Instant::now();
            for session in killed {
                self.metrics.slow_consumers.inc();
                tracing::warn!(%session, "slow consumer closed");
                self.session_left(session, now);
            }
        }
    }

    /// Agents connected here or holding chats, as the presence board shows them.
    fn presence(&self) -> Vec<crate::presence::AgentPresence> {
        let mut agents: Vec<_> = self
            .agents
            .iter()
            .filter(|(id, a)| !a.sessions.is_empty() || self.router.load(id) > 0)
            .map(|(id, a)| crate::presence::AgentPresence {
                id: id.clone(),
                name: a.name.clone(),
                status: a.status,
                sessions: a.sessions.len(),
                nodes: self.session_nodes(&a.sessions),
                load: self.router.load(id),
                capacity: a.capacity,
            })
            .collect();
        agents.sort_by(|a, b| a.id.cmp(&b.id));
        agents
    }

    /// The nodes holding these sessions, sorted, each once.
    fn session_nodes(&self, sessions: &[SessionId]) -> Vec<String> {
        let own = self.config.node_id.clone().unwrap_or_default();
        let mut nodes: Vec<String> = sessions
            .iter()
            .filter_map(|s| self.sessions.get(s))
            .map(|entry| match &entry.link {
                SessionLink::Local(_) => own.clone(),
                SessionLink::Remote(remote) => remote.node.clone(),
            })
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// Write a batch, retrying with backoff while the store is down: the hub
    /// holds its frames (nothing is acknowledged before it is stored) and takes no
    /// new commands meanwhile, while sessions refuse durable frames with
    /// `unavailable`. Batches are idempotent, so a retry after a lost reply is
    /// safe. None only if shutdown came first.
    async fn commit(
        &mut self,
        mut writes: Vec<Change>,
        shutdown: &CancellationToken,
    ) -> Option<Receipt> {
        let mut backoff = Duration::from_millis(50);
        loop {
            let started = Instant::now();
            match self.store.commit(&writes).await {
                Ok(receipt) => {
                    self.metrics
                        .store_commit
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.commit_changes.observe(writes.len() as f64);
                    if self.store_down.swap(false, Ordering::Relaxed) {
                        tracing::info!("store is back: serving again");
                    }
                    return Some(receipt);
                }
                Err(StoreError::Reset) => {
                    let adopted = self.store.adopt_reset().await;
                    if matches!(adopted, Err(StoreError::Fenced)) {
                        tracing::error!(
                            "the store was reset and another node holds the matcher lease now: stopping this hub"
                        );
                        shutdown.cancel();
                        return None;
                    }
                    if adopted.is_ok() {
                        tracing::error!(
                            conversations = self.conversations.len(),
                            "the store lost its data (restart without persistence, or failover to an empty replica): writing back every open conversation and resyncing their sessions"
                        );
                        // The open conversations' whole state supersedes the
                        // batch; what it held for ended ones was lost with them,
                        // but not their tickets: a filing carries all it needs.
                        let filings: Vec<Change> = writes
                            .into_iter()
                            .filter(|change| matches!(change, Change::Ticketed(_)))
                            .collect();
                        writes = self.reseed();
                        writes.extend(filings);
                        continue;
                    }
                    if !self
                        .wait_for_store(
                            &mut backoff,
                            shutdown,
                            "reset, not readable yet",
                            writes.len(),
                        )
                        .await
                    {
                        return None;
                    }
                }
                Err(StoreError::Fenced) => {
                    // Another node is the matcher now; this hub's state is stale
                    // and its frames were never acknowledged. Stop: its sessions
                    // close with 1012 and reconnect to the matcher, and the node
                    // supervising this hub notices and steps down.
                    tracing::error!(
                        changes = writes.len(),
                        "fenced: another node holds the matcher lease; stopping this hub"
                    );
                    shutdown.cancel();
                    return None;
                }
                Err(stored @ (StoreError::Missing(id) | StoreError::Gap(id))) => {
                    // The store lost (part of) a conversation it had acknowledged.
                    // An open one is written back whole from memory, under a new
                    // epoch; for an ended one there is nothing left to write, so
                    // its changes are dropped. Nothing is delivered until the
                    // rest of the batch is stored.
                    tracing::error!(conversation = %id, "the store lost data of this conversation: writing it back");
                    if self.conversations.contains_key(&id) {
                        // Its whole state supersedes its changes in the batch.
                        writes.retain(|change| change.conversation() != id);
                        writes.extend(self.reseed_one(id));
                    } else {
                        // Ended here: its end, rating and ticket still go in;
                        // only the messages that no longer fit the stored log
                        // are lost from the conversation record (its ticket
                        // carries the whole transcript).
                        writes.retain(|change| {
                            change.conversation() != id
                                || !matches!(
                                    change,
                                    Change::Appended { .. } | Change::Opened { .. }
                                )
                        });
                        if matches!(stored, StoreError::Missing(_)) {
                            writes.retain(|change| {
                                change.conversation() != id || matches!(change, Change::Ticketed(_))
                            });
                        }
                    }
                }
                Err(e) => {
                    if !self
                        .wait_for_store(&mut backoff, shutdown, &e.to_string(), writes.len())
                        .await
                    {
                        return None;
                    }
                }
            }
        }
    }

    /// The store is down: say so (once), then wait `backoff` (doubling, up to
    /// 2 s) unless shutdown comes first (false).
    async fn wait_for_store(
        &self,
        backoff: &mut Duration,
        shutdown: &CancellationToken,
        error: &str,
        changes: usize,
    ) -> bool {
        if !self.store_down.swap(true, Ordering::Relaxed) {
            tracing::error!(%error, changes, "store down: holding frames and retrying");
        }
        if shutdown.is_cancelled() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(*backoff) => {}
            () = shutdown.cancelled() => return false,
        }
        *backoff = (*backoff * 2).min(Duration::from_secs(2));
        true
    }

    /// The queue gauges, from the census the dashboard shows too.
    fn refresh_gauges(&mut self, now: Instant) {
        let census = census::Census::take(&self.router, now);
        for (topic, depth, oldest) in census.per_topic(self.router.topics()) {
            let label = TopicLabel {
                topic: topic.to_string(),
            };
            let depth = i64::try_from(depth).unwrap_or(i64::MAX);
            self.metrics.queue_depth.get_or_create(&label).set(depth);
            self.metrics
                .queue_oldest_wait
                .get_or_create(&label)
                .set(i64::try_from(oldest).unwrap_or(i64::MAX));
        }
    }

    // ---- sending ------------------------------------------------------------

    fn send(&mut self, session: SessionId, frame: Utf8Bytes) {
        self.outbox.push((session, Outgoing::Frame(frame)));
    }

    fn error(&mut self, session: SessionId, error: FrameError, reference: Option<&str>) {
        self.metrics
            .frame_errors
            .get_or_create(&CodeLabel {
                code: error.code.as_str(),
            })
            .inc();
        self.send(session, error_frame(&error, reference).into());
    }

    fn send_to_customer(&mut self, customer: &CustomerKey, frame: &Utf8Bytes) {
        if let Some(entry) = self.customers.get(customer) {
            for &s in &entry.sessions {
                self.outbox.push((s, Outgoing::Frame(frame.clone())));
            }
        }
    }

    fn send_to_agent(&mut self, agent: &AgentId, frame: &Utf8Bytes) {
        if let Some(entry) = self.agents.get(agent) {
            for &s in &entry.sessions {
                self.outbox.push((s, Outgoing::Frame(frame.clone())));
            }
        }
    }

    /// The agent holding a conversation, if any.
    fn holder(&self, conversation: &ConversationId) -> Option<AgentId> {
        match self.router.placement(conversation)? {
            Placement::Assigned(agent) => Some(agent.clone()),
            Placement::Queued => None,
        }
    }

    /// Send a frame to both sides of a conversation.
    fn send_to_both(&mut self, conversation: &ConversationId, frame: &Utf8Bytes) {
        if let Some(c) = self.conversations.get(conversation) {
            let customer = c.customer.key.clone();
            self.send_to_customer(&customer, frame);
        }
        if let Some(agent) = self.holder(conversation) {
            self.send_to_agent(&agent, frame);
        }
    }

    fn render_message(conversation: ConversationId, message: &Message) -> Utf8Bytes {
        ServerFrame::Message {
            conversation_id: conversation,
            message,
        }
        .render()
        .into()
    }

    /// Store a message and tell both sides; a resend gets its original echo back,
    /// to the sending session only.
    fn post(
        &mut self,
        conversation: ConversationId,
        sender: Option<SessionId>,
        author: crate::domain::Author,
        agent_id: Option<AgentId>,
        client_msg_id: Option<SmolStr>,
        text: Arc<str>,
    ) -> Option<u64> {
        let c = self.conversations.get_mut(&conversation)?;
        match c.append(author, agent_id, client_msg_id, text) {
            Appended::Duplicate(seq) => {
                let frame = c.get(seq).map(|m| Self::render_message(conversation, m));
                if let (Some(session), Some(frame)) = (sender, frame) {
                    self.send(session, frame);
                }
                Some(seq)
            }
            Appended::New(seq) => {
                let message = c.get(seq)?.clone();
                let frame = Self::render_message(conversation, &message);
                self.metrics
                    .messages
                    .get_or_create(&crate::metrics::FromLabel {
                        from: match author {
                            crate::domain::Author::Customer => "customer",
                            crate::domain::Author::Agent => "agent",
                            crate::domain::Author::System => "system",
                        },
                    })
                    .inc();
                self.writes.push(Change::Appended {
                    id: conversation,
                    message,
                });
                self.send_to_both(&conversation, &frame);
                Some(seq)
            }
        }
    }

    /// A notice from the server, stored in the transcript like any message.
    fn notice(&mut self, conversation: ConversationId, text: &str) {
        self.post(
            conversation,
            None,
            crate::domain::Author::System,
            None,
            None,
            Arc::from(text),
        );
    }

    fn remember_ended(&mut self, id: ConversationId, ended: Ended) {
        self.last_ended.insert(ended.customer.clone(), id);
        self.ended.insert(id, ended);
        self.ended_order.push_back(id);
        while self.ended_order.len() > ENDED_REMEMBERED {
            let Some(old) = self.ended_order.pop_front() else {
                break;
            };
            if let Some(forgotten) = self.ended.remove(&old)
                && self.last_ended.get(&forgotten.customer) == Some(&old)
            {
                self.last_ended.remove(&forgotten.customer);
            }
        }
    }
}
