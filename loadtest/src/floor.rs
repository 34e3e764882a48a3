//! The transport floor: what the same frames cost through the same WebSocket
//! stack with no hub logic, measured in the same run as switchboard, so that
//! every figure can be published beside it. The ratio is what holds from
//! machine to machine.
//!
//! [`serve_relay`] is the bare relay: axum 0.8 WebSockets with switchboard's
//! buffer sizes (`limits.ws_buffer_bytes`, 4 KiB read and write) and transport
//! limits, one task per connection running one `select!` over the socket, a
//! bounded outbound queue (`limits.outbound_queue`), a ping tick and shutdown;
//! switchboard's own burst writer ([`switchboard::session::write_burst`]), and a
//! full queue kills the slow consumer as the hub does. A client says
//! `{"type":"hello","pair":"<id>"}` on `/ws/customer` or `/ws/agent`; the
//! customer and agent of a pair are linked (both get
//! `{"type":"linked","pair":"<id>"}`). Each `{"type":"message",…}` frame is
//! parsed with serde_json, given the pair's next `"seq"`, serialized once and
//! sent to the sender (the echo) and to the peer. A connection that only said
//! hello holds what an idle switchboard connection holds in the transport: the
//! task, the socket and its buffers, the queue, the ping timer.
//!
//! [`measure`] drives it (in process, or a relay at a loopback URL): `pairs`
//! customer/agent pairs, an open-loop rate of customer → agent messages each
//! carrying the time it was handed to its socket; the agent records send →
//! delivery, the customer send → echo, in microsecond histograms. How late
//! each hand-over was against the open-loop schedule is recorded beside them
//! (send lateness), so a generator that falls behind (a 1 ms timer tick, a
//! saturated core, a socket that stopped taking frames) is shown as such
//! rather than added to the relay's latency or hidden. In ceiling mode the rate
//! then steps up until delivery p99 passes a limit, the achieved rate falls
//! below a share of the offered one, or the send lateness p99 passes the limit
//! (the generator's ceiling, not the relay's).

use std::{
    collections::{HashMap, hash_map::Entry},
    future::Future,
    net::IpAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, bail};
use axum::{
    Router,
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket},
    },
    response::Response,
    routing::get,
};
use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot},
    time::Instant,
};
use tokio_tungstenite::tungstenite::Message as ClientMessage;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::report::Percentiles;

// ---------------------------------------------------------------------------
// The relay

/// The relay's transport settings; the defaults are switchboard's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// WebSocket read and write buffer, bytes (`limits.ws_buffer_bytes`).
    pub ws_buffer_bytes: usize,
    /// Largest WebSocket message and frame, bytes (`limits.max_transport_bytes`).
    pub max_transport_bytes: usize,
    /// Largest frame accepted, bytes (`limits.max_frame_bytes`).
    pub max_frame_bytes: usize,
    /// Outbound queue per connection, in batches (`limits.outbound_queue`).
    pub outbound_queue: usize,
    /// Ping period, seconds (`timeouts.ping_secs`).
    pub ping_secs: u64,
    /// Time to say hello, seconds (`timeouts.hello_secs`).
    pub hello_secs: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            ws_buffer_bytes: 4096,
            max_transport_bytes: 64 * 1024,
            max_frame_bytes: 16 * 1024,
            outbound_queue: 512,
            ping_secs: 30,
            hello_secs: 10,
        }
    }
}

/// Serve the bare relay on `listener` (switchboard's transport settings)
/// until `shutdown` completes; open connections are then closed and waited for.
pub async fn serve_relay(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_relay_with(listener, RelayConfig::default(), shutdown).await
}

/// [`serve_relay`] with other transport settings.
pub async fn serve_relay_with(
    listener: TcpListener,
    config: RelayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stop = CancellationToken::new();
    let relay = Arc::new(Relay {
        config,
        pairs: Mutex::new(HashMap::new()),
        stop: stop.clone(),
        tasks: TaskTracker::new(),
        next_id: AtomicU64::new(1),
    });
    let app = Router::new()
        .route("/ws/customer", get(customer_ws))
        .route("/ws/agent", get(agent_ws))
        .with_state(relay.clone());
    let signal = stop.clone();
    let watcher = tokio::spawn(async move {
        shutdown.await;
        signal.cancel();
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .await;
    watcher.abort();
    stop.cancel();
    relay.tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), relay.tasks.wait()).await;
    served
}

struct Relay {
    config: RelayConfig,
    pairs: Mutex<HashMap<String, Pair>>,
    stop: CancellationToken,
    tasks: TaskTracker,
    next_id: AtomicU64,
}

/// A customer and an agent linked by a pair id, and the pair's message count.
#[derive(Default)]
struct Pair {
    seq: Arc<AtomicU64>,
    customer: Option<Peer>,
    agent: Option<Peer>,
}

impl Pair {
    fn side(&mut self, side: RelaySide) -> &mut Option<Peer> {
        match side {
            RelaySide::Customer => &mut self.customer,
            RelaySide::Agent => &mut self.agent,
        }
    }
}

/// How to reach one connection.
#[derive(Clone)]
struct Peer {
    id: u64,
    outbound: mpsc::Sender<Vec<Utf8Bytes>>,
    kill: CancellationToken,
}

impl Peer {
    /// Queue frames; a full queue is a slow consumer, killed. `false`: the
    /// connection is gone.
    fn deliver(&self, frames: Vec<Utf8Bytes>) -> bool {
        match self.outbound.try_send(frames) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kill.cancel();
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RelaySide {
    Customer,
    Agent,
}

impl RelaySide {
    fn other(self) -> Self {
        match self {
            Self::Customer => Self::Agent,
            Self::Agent => Self::Customer,
        }
    }
}

async fn customer_ws(State(relay): State<Arc<Relay>>, ws: WebSocketUpgrade) -> Response {
    upgrade(ws, relay, RelaySide::Customer)
}

async fn agent_ws(State(relay): State<Arc<Relay>>, ws: WebSocketUpgrade) -> Response {
    upgrade(ws, relay, RelaySide::Agent)
}

fn upgrade(ws: WebSocketUpgrade, relay: Arc<Relay>, side: RelaySide) -> Response {
    let c = &relay.config;
    switchboard::session::sized(ws, c.ws_buffer_bytes, c.max_transport_bytes).on_upgrade(
        move |socket| {
            let tasks = relay.tasks.clone();
            tasks.track_future(run(socket, relay, side))
        },
    )
}

/// Takes the connection out of its pair on every exit path.
struct Registration {
    relay: Arc<Relay>,
    pair: String,
    side: RelaySide,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Ok(mut pairs) = self.relay.pairs.lock() else {
            return;
        };
        if let Some(pair) = pairs.get_mut(&self.pair) {
            let slot = pair.side(self.side);
            if slot.as_ref().is_some_and(|p| p.id == self.id) {
                *slot = None;
            }
            if pair.customer.is_none() && pair.agent.is_none() {
                pairs.remove(&self.pair);
            }
        }
    }
}

/// A registered connection's view of its pair.
struct Linked {
    registration: Registration,
    seq: Arc<AtomicU64>,
    peer: Option<Peer>,
    me: Peer,
}

impl Linked {
    fn lookup_peer(&mut self) {
        let relay = &self.registration.relay;
        self.peer = relay.pairs.lock().ok().and_then(|mut pairs| {
            pairs
                .get_mut(&self.registration.pair)
                .and_then(|p| p.side(self.registration.side.other()).clone())
        });
    }

    /// To the peer, if there is one (looked up again if it went away).
    fn relay_to_peer(&mut self, frame: Utf8Bytes) {
        if self.peer.is_none() {
            self.lookup_peer();
        }
        let delivered = self
            .peer
            .as_ref()
            .is_some_and(|p| p.deliver(vec![frame.clone()]));
        if !delivered {
            self.lookup_peer();
            if let Some(peer) = &self.peer {
                peer.deliver(vec![frame]);
            }
        }
    }
}

async fn run(mut socket: WebSocket, relay: Arc<Relay>, side: RelaySide) {
    let Some((linked, outbound)) = hello(&mut socket, &relay, side).await else {
        return;
    };
    if let Some((code, reason)) = serve(&mut socket, &relay, linked, outbound).await {
        let frame = WsMessage::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(frame)).await;
    }
}

fn error_frame(message: &str) -> Utf8Bytes {
    serde_json::json!({"type": "error", "code": "bad_request", "message": message})
        .to_string()
        .into()
}

/// Wait for `hello` (within `hello_secs`), then join the pair.
async fn hello(
    socket: &mut WebSocket,
    relay: &Arc<Relay>,
    side: RelaySide,
) -> Option<(Linked, mpsc::Receiver<Vec<Utf8Bytes>>)> {
    let deadline = Instant::now() + Duration::from_secs(relay.config.hello_secs);
    loop {
        let received = tokio::select! {
            received = tokio::time::timeout_at(deadline, socket.recv()) => received,
            () = relay.stop.cancelled() => return None,
        };
        let text = match received {
            Ok(Some(Ok(WsMessage::Text(text)))) => text,
            Ok(Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_)))) => continue,
            _ => return None,
        };
        let hello = serde_json::from_str::<Map<String, Value>>(&text)
            .ok()
            .filter(|m| m.get("type").and_then(Value::as_str) == Some("hello"));
        // A switchboard customer `hello` (a `visitor_id`, no pair) is answered
        // with `welcome`, as the server does, so the load tester's idle
        // connections weigh the floor the same way they weigh switchboard.
        let visitor = hello
            .as_ref()
            .and_then(|m| m.get("visitor_id").and_then(Value::as_str))
            .map(|v| format!("visitor:{v}"));
        let greet = visitor.is_some();
        let pair = hello
            .as_ref()
            .and_then(|m| m.get("pair").and_then(Value::as_str).map(str::to_owned))
            .or(visitor);
        let Some(pair) = pair else {
            let frame = error_frame("the first frame must be {\"type\":\"hello\",\"pair\":\"…\"}");
            if socket.send(WsMessage::Text(frame)).await.is_err() {
                return None;
            }
            continue;
        };
        let (tx, rx) = mpsc::channel(relay.config.outbound_queue.max(1));
        let me = Peer {
            id: relay.next_id.fetch_add(1, Ordering::Relaxed),
            outbound: tx,
            kill: CancellationToken::new(),
        };
        let (seq, peer) = {
            let Ok(mut pairs) = relay.pairs.lock() else {
                return None;
            };
            let entry = pairs.entry(pair.clone()).or_default();
            *entry.side(side) = Some(me.clone());
            (entry.seq.clone(), entry.side(side.other()).clone())
        };
        let registration = Registration {
            relay: relay.clone(),
            pair: pair.clone(),
            side,
            id: me.id,
        };
        if greet {
            let welcome: Utf8Bytes = serde_json::json!({"type": "welcome", "session_id": me.id})
                .to_string()
                .into();
            me.deliver(vec![welcome]);
        }
        if let Some(peer) = &peer {
            let linked: Utf8Bytes = serde_json::json!({"type": "linked", "pair": pair})
                .to_string()
                .into();
            me.deliver(vec![linked.clone()]);
            peer.deliver(vec![linked]);
        }
        return Some((
            Linked {
                registration,
                seq,
                peer,
                me,
            },
            rx,
        ));
    }
}

/// The registered connection's loop; `Some`: the close frame to send.
async fn serve(
    socket: &mut WebSocket,
    relay: &Relay,
    mut linked: Linked,
    mut outbound: mpsc::Receiver<Vec<Utf8Bytes>>,
) -> Option<(u16, &'static str)> {
    let ping_every = Duration::from_secs(relay.config.ping_secs.max(1));
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    let kill = linked.me.kill.clone();
    let flush_every = relay.config.max_transport_bytes;
    loop {
        tokio::select! {
            biased;
            () = kill.cancelled() => return Some((1008, "slow consumer")),
            () = relay.stop.cancelled() => return Some((1001, "shutting down")),
            frames = outbound.recv() => {
                let Some(frames) = frames else { return Some((1011, "gone")) };
                if !switchboard::session::write_burst(socket, &kill, &mut outbound, frames, flush_every).await {
                    return if kill.is_cancelled() { Some((1008, "slow consumer")) } else { None };
                }
                heard = Instant::now();
            }
            received = socket.recv() => {
                heard = Instant::now();
                let text = match received {
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(WsMessage::Binary(_))) => return Some((1003, "text frames only")),
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                    None | Some(Ok(WsMessage::Close(_)) | Err(_)) => return None,
                };
                inbound(&mut linked, relay, &text);
            }
            _ = ping.tick() => {
                if heard.elapsed() > ping_every * 2 {
                    return Some((1001, "no pong"));
                }
                if socket.send(WsMessage::Ping(Default::default())).await.is_err() {
                    return None;
                }
            }
        }
    }
}

/// One text frame: a message is parsed, numbered, serialized once, echoed and
/// relayed; anything else is answered with an error.
fn inbound(linked: &mut Linked, relay: &Relay, text: &str) {
    if text.len() > relay.config.max_frame_bytes {
        linked.me.deliver(vec![error_frame("frame too large")]);
        return;
    }
    let mut frame = match serde_json::from_str::<Map<String, Value>>(text) {
        Ok(frame) => frame,
        Err(_) => {
            linked
                .me
                .deliver(vec![error_frame("frame must be a JSON object")]);
            return;
        }
    };
    if frame.get("type").and_then(Value::as_str) != Some("message") {
        linked
            .me
            .deliver(vec![error_frame("only `message` frames are relayed")]);
        return;
    }
    let seq = linked.seq.fetch_add(1, Ordering::Relaxed) + 1;
    frame.insert("seq".into(), Value::from(seq));
    let Ok(out) = serde_json::to_string(&frame) else {
        return;
    };
    let out = Utf8Bytes::from(out);
    linked.me.deliver(vec![out.clone()]);
    linked.relay_to_peer(out);
}

// ---------------------------------------------------------------------------
// The measurement

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorConfig {
    /// Base URL of a relay already running (`ws://127.0.0.1:9100`, loopback
    /// only); `None`: start one in this process, on its own runtime.
    pub url: Option<String>,
    /// Customer/agent pairs (at most [`MAX_PAIRS`]).
    pub pairs: usize,
    /// Offered messages per second, all pairs together, customer → agent.
    pub rate: f64,
    /// How long to send at `rate` (at most [`MAX_DURATION`]).
    pub duration: Duration,
    /// Characters of each message's text.
    pub text_bytes: usize,
    /// Then find the ceiling, if set.
    pub ceiling: Option<Ceiling>,
    /// The in-process relay's settings.
    pub relay: RelayConfig,
}

impl Default for FloorConfig {
    fn default() -> Self {
        Self {
            url: None,
            pairs: 50,
            rate: 1000.0,
            duration: Duration::from_secs(10),
            text_bytes: 80,
            ceiling: None,
            relay: RelayConfig::default(),
        }
    }
}

/// Ceiling mode: steps of rising rate until one fails.
#[derive(Debug, Clone, PartialEq)]
pub struct Ceiling {
    /// First step's rate; `None`: [`FloorConfig::rate`].
    pub start_rate: Option<f64>,
    /// Each step's rate is the last one's times this (> 1).
    pub factor: f64,
    /// Length of each step.
    pub step: Duration,
    /// Most steps (at most [`MAX_STEPS`]).
    pub max_steps: u32,
    /// A step fails when delivery p99 (or the generator's send lateness p99)
    /// is above this, ms.
    pub p99_limit_ms: f64,
    /// … or when the achieved rate is below this share of the offered one.
    pub min_achieved: f64,
}

impl Default for Ceiling {
    fn default() -> Self {
        Self {
            start_rate: None,
            factor: 1.5,
            step: Duration::from_secs(3),
            max_steps: 20,
            p99_limit_ms: 10.0,
            min_achieved: 0.9,
        }
    }
}

/// Most pairs [`measure`] opens.
pub const MAX_PAIRS: usize = 5000;
/// Longest fixed-rate measurement, and longest ceiling step.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// Most ceiling steps.
pub const MAX_STEPS: u32 = 40;
/// Highest rate offered, messages per second.
pub const MAX_RATE: f64 = 2_000_000.0;

/// The floor, as measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FloorResult {
    /// Customer/agent pairs.
    pub pairs: usize,
    /// Offered messages per second (all pairs, customer → agent).
    pub rate: f64,
    /// Seconds sent at `rate`.
    #[serde(default)]
    pub duration_secs: f64,
    /// Messages sent at `rate`.
    #[serde(default)]
    pub sent: u64,
    /// … delivered to the agent.
    #[serde(default)]
    pub delivered: u64,
    /// … echoed to the customer.
    #[serde(default)]
    pub echoed: u64,
    /// Delivered per second, from the first scheduled send to the last
    /// delivery (at least the sending time).
    #[serde(default)]
    pub achieved_msgs_per_sec: f64,
    /// Send → delivery to the agent.
    pub delivery: Percentiles,
    /// Send → echo to the customer.
    pub echo: Percentiles,
    /// Scheduled send → the frame handed to the socket: how far the load
    /// generator itself fell behind its schedule. The latencies above are
    /// measured from the hand-over, so a generator's timer granularity or a
    /// busy core shows here rather than as relay latency; a ceiling step whose
    /// send lateness passes the p99 limit fails, blamed on the generator.
    #[serde(default)]
    pub send_lateness: Percentiles,
    /// Ceiling mode: the highest achieved rate of a step that held (delivery
    /// p99 within the limit, achieved rate within its share of offered); 0 if
    /// none did.
    #[serde(default)]
    pub ceiling_msgs_per_sec: Option<f64>,
    /// The ceiling's p99 limit, ms.
    #[serde(default = "ten")]
    pub ceiling_p99_limit_ms: f64,
    /// The ceiling is a lower bound: every step held (step or rate limit hit).
    #[serde(default)]
    pub ceiling_is_lower_bound: bool,
    /// The ceiling's steps, in order.
    #[serde(default)]
    pub steps: Vec<FloorStep>,
    /// `in-process` or the relay's URL.
    #[serde(default)]
    pub relay: String,
}

fn ten() -> f64 {
    10.0
}

/// One step of ceiling mode.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FloorStep {
    /// Offered messages per second.
    pub offered_msgs_per_sec: f64,
    /// Delivered per second.
    pub achieved_msgs_per_sec: f64,
    /// Seconds sent.
    pub secs: f64,
    /// Sent.
    pub sent: u64,
    /// Delivered to the agent.
    pub delivered: u64,
    /// Echoed to the customer.
    pub echoed: u64,
    /// Delivery p99, ms.
    pub delivery_p99_ms: f64,
    /// Echo p99, ms.
    pub echo_p99_ms: f64,
    /// Send lateness p99, ms (see [`FloorResult::send_lateness`]).
    #[serde(default)]
    pub lateness_p99_ms: f64,
    /// Within the limits.
    pub held: bool,
    /// A step that failed: what failed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_by: Option<StepFailure>,
}

/// What failed a ceiling step: the relay measured, or the load generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepFailure {
    /// Delivery p99 over the limit, or too little of the offered rate got
    /// through: the relay under test sets the ceiling.
    Relay,
    /// The generator could not send on schedule (send lateness p99 over the
    /// limit): the ceiling is the generator's, a lower bound for the relay.
    Generator,
}

/// Measure the floor: see the module documentation. Bounded: at most
/// [`MAX_PAIRS`] pairs, `duration` ≤ [`MAX_DURATION`], [`MAX_STEPS`] steps of
/// at most [`MAX_DURATION`], plus a few seconds of draining per step.
pub async fn measure(config: FloorConfig) -> anyhow::Result<FloorResult> {
    validate(&config)?;
    let (base, local) = match &config.url {
        Some(url) => (loopback_base(url)?, None),
        None => {
            let local = LocalRelay::start(config.relay.clone())?;
            (format!("ws://{}", local.addr), Some(local))
        }
    };
    let result = drive(&base, &config).await;
    if let Some(local) = local {
        local.stop().await;
    }
    let mut result = result?;
    result.relay = config.url.clone().unwrap_or_else(|| "in-process".into());
    Ok(result)
}

pub(crate) fn validate(c: &FloorConfig) -> anyhow::Result<()> {
    if c.pairs == 0 || c.pairs > MAX_PAIRS {
        bail!("pairs must be 1 to {MAX_PAIRS}, not {}", c.pairs);
    }
    if !(c.rate > 0.0 && c.rate <= MAX_RATE) {
        bail!(
            "rate must be above 0 and at most {MAX_RATE}, not {}",
            c.rate
        );
    }
    if c.duration.is_zero() || c.duration > MAX_DURATION {
        bail!("duration must be above 0 and at most {MAX_DURATION:?}");
    }
    if c.text_bytes > c.relay.max_frame_bytes / 2 {
        bail!("text_bytes must be at most {}", c.relay.max_frame_bytes / 2);
    }
    if let Some(k) = &c.ceiling {
        if !(k.factor > 1.0 && k.factor.is_finite()) {
            bail!("ceiling factor must be above 1");
        }
        if k.step.is_zero() || k.step > MAX_DURATION {
            bail!("ceiling step must be above 0 and at most {MAX_DURATION:?}");
        }
        if k.max_steps == 0 || k.max_steps > MAX_STEPS {
            bail!("ceiling max_steps must be 1 to {MAX_STEPS}");
        }
        if let Some(r) = k.start_rate
            && !(r > 0.0 && r <= MAX_RATE)
        {
            bail!("ceiling start_rate must be above 0 and at most {MAX_RATE}");
        }
    }
    Ok(())
}

/// `ws://host:port` of a loopback URL, without a trailing slash or path.
pub(crate) fn loopback_base(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("ws://")
        .with_context(|| format!("the URL must be ws://host:port, not {url}"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("the URL must be on loopback (127.0.0.0/8, [::1] or localhost), not {host}");
    }
    Ok(format!("ws://{authority}"))
}

/// A relay in this process, on its own runtime (as a server process would
/// have its own threads).
struct LocalRelay {
    addr: std::net::SocketAddr,
    stop: CancellationToken,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl LocalRelay {
    fn start(config: RelayConfig) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding the relay")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("floor-relay")
            .build()
            .context("starting the relay's runtime")?;
        let stop = CancellationToken::new();
        let signal = stop.clone();
        let served = runtime.spawn(async move {
            let listener = TcpListener::from_std(listener)?;
            serve_relay_with(listener, config, signal.cancelled_owned()).await
        });
        Ok(Self {
            addr,
            stop,
            served: Some(served),
            runtime: Some(runtime),
        })
    }

    async fn stop(mut self) {
        self.stop.cancel();
        if let Some(served) = self.served.take() {
            let _ = tokio::time::timeout(Duration::from_secs(6), served).await;
        }
    }
}

impl Drop for LocalRelay {
    fn drop(&mut self) {
        self.stop.cancel();
        // Dropping a runtime blocks, which an async context forbids.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Latencies and counts of one phase (the fixed rate, then each step), from
/// every connection of one kind, sharded to keep the locks uncontended.
struct Collector {
    shards: Vec<Mutex<HashMap<u32, Agg>>>,
    /// Phases below this are collected: late arrivals are dropped.
    open_from: AtomicU32,
}

struct Agg {
    histogram: Histogram<u64>,
    count: u64,
    last_us: u64,
}

const SHARDS: usize = 16;

/// 1 µs to 60 s, 3 significant digits (cannot fail with these bounds).
fn histogram() -> Option<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).ok()
}

impl Collector {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            open_from: AtomicU32::new(0),
        }
    }

    fn record(&self, shard: usize, phase: u32, latency_us: u64, at_us: u64) {
        if phase < self.open_from.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut map) = self.shards[shard % SHARDS].lock() {
            let agg = match map.entry(phase) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let Some(histogram) = histogram() else { return };
                    e.insert(Agg {
                        histogram,
                        count: 0,
                        last_us: 0,
                    })
                }
            };
            agg.histogram.saturating_record(latency_us.max(1));
            agg.count += 1;
            agg.last_us = agg.last_us.max(at_us);
        }
    }

    fn count(&self, phase: u32) -> u64 {
        self.shards
            .iter()
            .filter_map(|s| s.lock().ok().and_then(|m| m.get(&phase).map(|a| a.count)))
            .sum()
    }

    /// Take the phase out: its percentiles, count and last arrival (µs).
    fn take(&self, phase: u32) -> (Percentiles, u64, u64) {
        self.open_from.fetch_max(phase + 1, Ordering::Relaxed);
        let mut all: Option<Histogram<u64>> = None;
        let (mut count, mut last) = (0, 0);
        for shard in &self.shards {
            let Ok(mut map) = shard.lock() else { continue };
            if let Some(agg) = map.remove(&phase) {
                count += agg.count;
                last = last.max(agg.last_us);
                match &mut all {
                    Some(all) => {
                        let _ = all.add(&agg.histogram);
                    }
                    None => all = Some(agg.histogram),
                }
            }
        }
        let percentiles = all
            .as_ref()
            .map(Percentiles::from_histogram)
            .unwrap_or_default();
        (percentiles, count, last)
    }
}

/// What a measurement's readers and senders share (also [`crate::relay`]'s).
pub(crate) struct Shared {
    epoch: Instant,
    delivery: Collector,
    echo: Collector,
    lateness: Collector,
    /// Connections linked (the floor), or conversations assigned to an agent
    /// connection (switchboard).
    pub(crate) linked: AtomicUsize,
    /// Stops every reader.
    pub(crate) stop: CancellationToken,
}

impl Shared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            delivery: Collector::new(),
            echo: Collector::new(),
            lateness: Collector::new(),
            linked: AtomicUsize::new(0),
            stop: CancellationToken::new(),
        })
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

/// One phase for one customer's sender.
pub(crate) struct Step {
    phase: u32,
    first: Instant,
    interval: Duration,
    until: Instant,
    done: oneshot::Sender<u64>,
}

#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    t: Option<u64>,
    #[serde(default)]
    p: Option<u32>,
}

/// What a reader made of one text frame.
pub(crate) enum Seen {
    /// The connection is linked to its peer (counted in [`Shared::linked`]).
    Linked,
    /// A measured message: its phase and send time (µs since the run's
    /// epoch).
    Message { phase: u32, sent_us: u64 },
    /// Anything else.
    Other,
}

/// The floor relay's frames: `linked`, and messages carrying `p` and `t`.
fn floor_seen(text: &str) -> Seen {
    let Ok(incoming) = serde_json::from_str::<Incoming>(text) else {
        return Seen::Other;
    };
    match (incoming.kind.as_str(), incoming.t, incoming.p) {
        ("linked", _, _) => Seen::Linked,
        ("message", Some(sent_us), Some(phase)) => Seen::Message { phase, sent_us },
        _ => Seen::Other,
    }
}

/// One customer message of a phase: `(pair, n, phase, sent_us, text)` →
/// the frame.
pub(crate) type MessageFrame = fn(usize, u64, u32, u64, &str) -> String;

/// The floor relay's message frame: the phase and send time ride as `p` and
/// `t`.
fn floor_message(pair: usize, n: u64, phase: u32, t: u64, text: &str) -> String {
    format!(
        "{{\"type\":\"message\",\"client_msg_id\":\"f{pair}-{n}\",\"text\":\"{text}\",\"p\":{phase},\"t\":{t}}}"
    )
}

pub(crate) type ClientStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket to `url`, Nagle off.
pub(crate) async fn open(url: &str) -> anyhow::Result<ClientStream> {
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(crate::client::ws_config()), true)
            .await
            .with_context(|| format!("connecting to {url}"))?;
    Ok(ws)
}

async fn connect(url: &str, pair: &str) -> anyhow::Result<ClientStream> {
    let mut ws = open(url).await?;
    let hello = serde_json::json!({"type": "hello", "pair": pair}).to_string();
    ws.send(ClientMessage::text(hello)).await?;
    Ok(ws)
}

/// Read frames until the stream ends or the run stops; `classify` says what
/// each text frame is, and every message of a phase is recorded into the
/// collector of `kind`.
pub(crate) async fn read(
    mut stream: futures_util::stream::SplitStream<ClientStream>,
    shared: Arc<Shared>,
    kind: Kind,
    shard: usize,
    mut classify: impl FnMut(&str) -> Seen,
) {
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            () = shared.stop.cancelled() => return,
        };
        let text = match frame {
            Some(Ok(ClientMessage::Text(text))) => text,
            Some(Ok(ClientMessage::Close(_))) | Some(Err(_)) | None => return,
            Some(Ok(_)) => continue,
        };
        match classify(&text) {
            Seen::Linked => {
                shared.linked.fetch_add(1, Ordering::Relaxed);
            }
            Seen::Message { phase, sent_us } => {
                let now = shared.now_us();
                let collector = match kind {
                    Kind::Delivery => &shared.delivery,
                    Kind::Echo => &shared.echo,
                };
                collector.record(shard, phase, now.saturating_sub(sent_us), now);
            }
            Seen::Other => {}
        }
    }
}

/// Which latency a reader records.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// Send → delivery to the agent.
    Delivery,
    /// Send → echo to the customer.
    Echo,
}

/// A customer's sender: each step's messages on schedule, open loop, each
/// frame made by `frame`.
pub(crate) async fn send(
    mut sink: futures_util::stream::SplitSink<ClientStream, ClientMessage>,
    mut steps: mpsc::Receiver<Step>,
    shared: Arc<Shared>,
    pair: usize,
    text: Arc<str>,
    frame: MessageFrame,
) {
    let mut n: u64 = 0;
    let mut broken = false;
    while let Some(step) = steps.recv().await {
        let mut sent = 0;
        let mut next = step.first;
        while !broken && next < step.until {
            tokio::time::sleep_until(next).await;
            let now = Instant::now();
            // Everything due by now (a sender that fell behind catches up; its
            // lateness counts in the latencies).
            let mut burst = 0;
            while next <= now && next < step.until && burst < 4096 {
                n += 1;
                let scheduled = next.duration_since(shared.epoch).as_micros() as u64;
                let t = shared.now_us();
                shared
                    .lateness
                    .record(pair, step.phase, t.saturating_sub(scheduled), t);
                let frame = frame(pair, n, step.phase, t, &text);
                if sink.feed(ClientMessage::text(frame)).await.is_err() {
                    broken = true;
                    break;
                }
                sent += 1;
                burst += 1;
                next += step.interval;
            }
            if !broken && sink.flush().await.is_err() {
                broken = true;
            }
        }
        let _ = step.done.send(sent);
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}

impl Ceiling {
    /// What failed a step offered at `rate`, if anything did. The generator
    /// is blamed first: when it could not keep to its schedule, the relay was
    /// not offered the rate, whatever its latencies.
    fn judge(&self, step: &PhaseOutcome, rate: f64) -> Option<StepFailure> {
        if step.lateness.p99_ms > self.p99_limit_ms {
            Some(StepFailure::Generator)
        } else if step.sent == 0
            || step.delivery.p99_ms > self.p99_limit_ms
            || step.achieved < self.min_achieved * rate
        {
            Some(StepFailure::Relay)
        } else {
            None
        }
    }
}

/// What one phase gave.
#[derive(Default)]
struct PhaseOutcome {
    secs: f64,
    sent: u64,
    delivered: u64,
    echoed: u64,
    delivery: Percentiles,
    echo: Percentiles,
    lateness: Percentiles,
    achieved: f64,
}

/// A customer's sentence, repeated and cut to `bytes`: words, numbers and
/// punctuation as support chats have them, so the server's secret scanner
/// (which the floor does not run; both relay the same text) does the work it does on real messages.
pub fn prose(bytes: usize) -> String {
    const SENTENCE: &str = "hi, my deposit of 0.25 ETH from yesterday still shows pending, \
                            order 48213377, can you check it please? ";
    SENTENCE.chars().cycle().take(bytes).collect()
}

async fn drive(base: &str, config: &FloorConfig) -> anyhow::Result<FloorResult> {
    let shared = Shared::new();
    let tasks = TaskTracker::new();
    let text: Arc<str> = prose(config.text_bytes).into();
    let customer_url = format!("{base}/ws/customer");
    let agent_url = format!("{base}/ws/agent");
    let run_id = uuid::Uuid::new_v4().simple().to_string();

    // Connect every pair, a few at a time.
    let connected = tokio::time::timeout(Duration::from_secs(30), async {
        let mut connections = futures_util::stream::iter(0..config.pairs)
            .map(|i| {
                let (c, a) = (customer_url.clone(), agent_url.clone());
                let pair = format!("floor-{run_id}-{i}");
                async move {
                    let customer = connect(&c, &pair).await?;
                    let agent = connect(&a, &pair).await?;
                    anyhow::Ok((i, customer, agent))
                }
            })
            .buffer_unordered(64);
        let mut senders = Vec::with_capacity(config.pairs);
        let mut agents = Vec::with_capacity(config.pairs);
        while let Some(connection) = connections.next().await {
            let (i, customer, agent) = connection?;
            let (sink, stream) = customer.split();
            let (agent_sink, agent_stream) = agent.split();
            tasks.spawn(read(stream, shared.clone(), Kind::Echo, i, floor_seen));
            tasks.spawn(read(
                agent_stream,
                shared.clone(),
                Kind::Delivery,
                i + 7,
                floor_seen,
            ));
            let (tx, rx) = mpsc::channel(2);
            tasks.spawn(send(
                sink,
                rx,
                shared.clone(),
                i,
                text.clone(),
                floor_message,
            ));
            senders.push(tx);
            agents.push(agent_sink);
        }
        anyhow::Ok((senders, agents))
    })
    .await;
    let (senders, agents) = match connected {
        Ok(Ok(connected)) => connected,
        Ok(Err(e)) => {
            shared.stop.cancel();
            return Err(e);
        }
        Err(_) => {
            shared.stop.cancel();
            bail!("connecting {} pairs took over 30 s", config.pairs);
        }
    };

    let outcome = async {
        // Wait for every pair to be linked.
        let deadline = Instant::now() + Duration::from_secs(10);
        while shared.linked.load(Ordering::Relaxed) < 2 * config.pairs {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {} connections were linked after 10 s",
                    shared.linked.load(Ordering::Relaxed),
                    2 * config.pairs
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        run_phases(
            &shared,
            &senders,
            config.rate,
            config.duration,
            config.ceiling.as_ref(),
        )
        .await
    }
    .await;

    // Close: every connection sends a close frame, then the readers stop.
    drop(senders);
    let closing = agents.into_iter().map(|mut agent| async move {
        let _ = tokio::time::timeout(Duration::from_secs(1), agent.close()).await;
    });
    futures_util::future::join_all(closing).await;
    finish(&shared, tasks).await;
    outcome
}

/// The readers and senders are done with: stop them and wait (bounded).
pub(crate) async fn finish(shared: &Shared, tasks: TaskTracker) {
    tokio::time::sleep(Duration::from_millis(50)).await;
    shared.stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(3), tasks.wait()).await;
}

/// The fixed-rate phase, then (with `ceiling`) the ceiling's steps, through
/// the customers' `senders` (one per pair, each feeding a [`send`]), with the
/// readers recording into `shared`. `relay` is left empty.
pub(crate) async fn run_phases(
    shared: &Shared,
    senders: &[mpsc::Sender<Step>],
    rate: f64,
    duration: Duration,
    ceiling: Option<&Ceiling>,
) -> anyhow::Result<FloorResult> {
    let main = run_phase(shared, senders, 0, rate, duration).await?;
    let mut result = FloorResult {
        pairs: senders.len(),
        rate,
        duration_secs: main.secs,
        sent: main.sent,
        delivered: main.delivered,
        echoed: main.echoed,
        achieved_msgs_per_sec: main.achieved,
        delivery: main.delivery,
        echo: main.echo,
        send_lateness: main.lateness,
        ceiling_msgs_per_sec: None,
        ceiling_p99_limit_ms: ten(),
        ceiling_is_lower_bound: false,
        steps: Vec::new(),
        relay: String::new(),
    };
    if let Some(ceiling) = ceiling {
        result.ceiling_p99_limit_ms = ceiling.p99_limit_ms;
        let mut rate = ceiling.start_rate.unwrap_or(rate);
        let mut best: f64 = 0.0;
        let mut all_held = true;
        for step in 0..ceiling.max_steps {
            let o = run_phase(shared, senders, step + 1, rate, ceiling.step).await?;
            let (delivery, echo) = (o.delivery, o.echo);
            let failed_by = ceiling.judge(&o, rate);
            let held = failed_by.is_none();
            result.steps.push(FloorStep {
                offered_msgs_per_sec: rate,
                achieved_msgs_per_sec: o.achieved,
                secs: o.secs,
                sent: o.sent,
                delivered: o.delivered,
                echoed: o.echoed,
                delivery_p99_ms: delivery.p99_ms,
                echo_p99_ms: echo.p99_ms,
                lateness_p99_ms: o.lateness.p99_ms,
                held,
                failed_by,
            });
            if !held {
                all_held = false;
                break;
            }
            best = best.max(o.achieved);
            rate *= ceiling.factor;
            if rate > MAX_RATE {
                break;
            }
        }
        result.ceiling_msgs_per_sec = Some(best);
        result.ceiling_is_lower_bound = all_held;
    }
    Ok(result)
}

/// Send at `rate` for `length`, wait for the deliveries and echoes (a bounded
/// drain), and collect.
async fn run_phase(
    shared: &Shared,
    senders: &[mpsc::Sender<Step>],
    phase: u32,
    rate: f64,
    length: Duration,
) -> anyhow::Result<PhaseOutcome> {
    let pairs = senders.len() as f64;
    let per_pair = rate / pairs;
    let interval = Duration::from_secs_f64((1.0 / per_pair).min(3600.0));
    let start = Instant::now() + Duration::from_millis(20);
    let until = start + length;
    let mut done = Vec::with_capacity(senders.len());
    for (k, tx) in senders.iter().enumerate() {
        // Stagger the pairs over one interval.
        let offset = interval.mul_f64(k as f64 / pairs);
        let (reply, wait) = oneshot::channel();
        let step = Step {
            phase,
            first: start + offset,
            interval,
            until,
            done: reply,
        };
        if tx.send(step).await.is_ok() {
            done.push(wait);
        }
    }
    let mut sent = 0;
    let deadline = until + Duration::from_secs(5);
    for wait in done {
        if let Ok(Ok(n)) = tokio::time::timeout_at(deadline, wait).await {
            sent += n;
        }
    }
    // Drain: until everything arrived, or a bounded while.
    let drain = length
        .mul_f64(0.5)
        .clamp(Duration::from_secs(1), Duration::from_secs(3));
    let drain_until = Instant::now().max(until) + drain;
    while Instant::now() < drain_until
        && (shared.delivery.count(phase) < sent || shared.echo.count(phase) < sent)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (delivery, delivered, last_delivery_us) = shared.delivery.take(phase);
    let (echo, echoed, _) = shared.echo.take(phase);
    let (lateness, _, _) = shared.lateness.take(phase);
    let start_us = start.duration_since(shared.epoch).as_micros() as u64;
    let secs = length.as_secs_f64();
    let span = (last_delivery_us.saturating_sub(start_us) as f64 / 1e6).max(secs);
    Ok(PhaseOutcome {
        secs,
        sent,
        delivered,
        echoed,
        delivery,
        echo,
        lateness,
        achieved: if span > 0.0 {
            delivered as f64 / span
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(sent: u64, achieved: f64, delivery_p99: f64, lateness_p99: f64) -> PhaseOutcome {
        PhaseOutcome {
            secs: 3.0,
            sent,
            delivered: sent,
            echoed: sent,
            delivery: Percentiles {
                p99_ms: delivery_p99,
                ..Percentiles::default()
            },
            lateness: Percentiles {
                p99_ms: lateness_p99,
                ..Percentiles::default()
            },
            achieved,
            ..PhaseOutcome::default()
        }
    }

    #[test]
    fn a_ceiling_step_is_failed_by_what_passed_its_limit() {
        let ceiling = Ceiling::default();
        let limit = ceiling.p99_limit_ms;
        assert_eq!(ceiling.judge(&step(3000, 1000.0, 2.0, 1.0), 1000.0), None);
        assert_eq!(
            ceiling.judge(&step(3000, 1000.0, limit + 0.1, 1.0), 1000.0),
            Some(StepFailure::Relay)
        );
        assert_eq!(
            ceiling.judge(&step(3000, 800.0, 2.0, 1.0), 1000.0),
            Some(StepFailure::Relay),
            "too little of the offered rate got through"
        );
        assert_eq!(
            ceiling.judge(&step(0, 0.0, 0.0, 0.0), 1000.0),
            Some(StepFailure::Relay),
            "nothing sent"
        );
        // A late generator is blamed even when the relay's latency is over
        // the limit too: the relay was not offered the rate.
        assert_eq!(
            ceiling.judge(&step(3000, 1000.0, limit * 3.0, limit + 0.1), 1000.0),
            Some(StepFailure::Generator)
        );
    }

    #[test]
    fn only_loopback_urls() {
        assert_eq!(
            loopback_base("ws://127.0.0.1:9100/").ok().as_deref(),
            Some("ws://127.0.0.1:9100")
        );
        assert!(loopback_base("ws://localhost:9100").is_ok());
        assert!(loopback_base("ws://[::1]:9100").is_ok());
        assert!(loopback_base("ws://10.0.0.1:9100").is_err());
        assert!(loopback_base("wss://127.0.0.1:9100").is_err());
        assert!(loopback_base("ws://example.com").is_err());
    }
}
