//! switchboard's relay figures, measured exactly as the transport floor is
//! ([`crate::floor`]) so that each can be published beside the other: the same
//! open-loop schedule, the same microsecond histograms, the same ceiling
//! stepping and the same [`FloorResult`], through switchboard's protocol
//! instead of the bare relay's.
//!
//! [`measure_switchboard`] connects the agents first (`hello` with a roster
//! token, then `welcome`), then `pairs` customers, each with its own
//! `visitor_id` (`relay-<run>-<n>`): `hello`, `welcome`, `start` on the topic,
//! and `assigned`. The agent connection learns each conversation it holds from
//! its own `assigned`. Customers and agents may be on different nodes
//! ([`SwitchboardRelay::customer_urls`], [`SwitchboardRelay::agent_urls`]).
//! Then every customer sends `message` frames open-loop, each text ending in
//! ` p=<phase> t=<send time, µs>`: the agent connection that holds
//! the conversation records send → delivery, the customer send → echo. At the
//! end the agents resolve every chat of the run, so that their slots are free
//! for the next one (and a run that finds chats left over by an interrupted one
//! resolves those first).
//!
//! [`roster_toml`] is the `[[agents]]` roster the server needs for it.

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt as _, StreamExt as _, stream::SplitSink};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::{sync::mpsc, time::Instant};
use tokio_tungstenite::tungstenite::Message as ClientMessage;
use tokio_util::task::TaskTracker;

use crate::floor::{
    self, Ceiling, ClientStream, FloorConfig, FloorResult, Kind, Seen, Shared, Step, StepFailure,
};

/// The topic customers start chats on unless told otherwise.
pub const DEFAULT_TOPIC: &str = "trading";
/// Most agent connections [`measure_switchboard`] opens.
pub const MAX_AGENTS: usize = 5000;
/// The server's largest `agents[].capacity`.
pub const MAX_CAPACITY: u32 = 100;
/// Longest text: the server's default `limits.max_text_chars` is 4000, and
/// the stamp takes up to 35 more.
pub const MAX_TEXT_BYTES: usize = 3900;
/// Target: switchboard's delivery p50 at most this many times the floor's.
pub const TARGET_P50_RATIO: f64 = 2.0;
/// Target: switchboard's delivery p99 at most this many times the floor's.
pub const TARGET_P99_RATIO: f64 = 1.5;
/// Target: switchboard's ceiling at least this share of the floor's.
pub const TARGET_CEILING_RATIO: f64 = 0.4;

/// Connecting all agents, and then all customers, may take this long each.
const SETUP: Duration = Duration::from_secs(60);
/// One awaited answer (`welcome`, `ended`) may take this long.
const PATIENCE: Duration = Duration::from_secs(10);
/// A customer's `start` may wait this long for `assigned`.
const ASSIGN_WAIT: Duration = Duration::from_secs(20);
/// Connections opened at once.
const AT_ONCE: usize = 64;

/// What to measure through switchboard.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchboardRelay {
    /// Node URLs the customers connect to (`ws://127.0.0.1:8080`, loopback
    /// only), customer `n` to the `n % len`-th.
    pub customer_urls: Vec<String>,
    /// Node URLs the agents connect to, agent `k` to the `k % len`-th: another
    /// node than the customers' puts customer and agent on different nodes.
    pub agent_urls: Vec<String>,
    /// Agent tokens of the server's roster, one connection each (at most
    /// [`MAX_AGENTS`]); their capacities must add up to `pairs` at least.
    pub agents: Vec<String>,
    /// Customers, one chat each (at most [`floor::MAX_PAIRS`]).
    pub pairs: usize,
    /// Offered messages per second, all customers together, customer → agent.
    pub rate: f64,
    /// How long to send at `rate` (at most [`floor::MAX_DURATION`]).
    pub duration: Duration,
    /// Characters of each message's text, before its stamp (at most
    /// [`MAX_TEXT_BYTES`]).
    pub text_bytes: usize,
    /// Then find the ceiling, if set.
    pub ceiling: Option<Ceiling>,
    /// The topic of every chat (one of the server's `routing.topics`, among
    /// the agents' skills).
    pub topic: String,
}

impl Default for SwitchboardRelay {
    fn default() -> Self {
        let floor = FloorConfig::default();
        Self {
            customer_urls: Vec::new(),
            agent_urls: Vec::new(),
            agents: Vec::new(),
            pairs: floor.pairs,
            rate: floor.rate,
            duration: floor.duration,
            text_bytes: floor.text_bytes,
            ceiling: None,
            topic: DEFAULT_TOPIC.into(),
        }
    }
}

/// The tokens of the first `agents` agents of [`roster_toml`]'s roster.
pub fn roster_tokens(agents: usize) -> Vec<String> {
    (0..agents).map(|n| format!("relay-token-{n}")).collect()
}

/// A server roster for the relay measurement: `agents` agents
/// (`relay-agent-<n>`, token `relay-token-<n>`) serving [`DEFAULT_TOPIC`] in
/// English, `capacity` chats each (clamped to 1 to [`MAX_CAPACITY`], the
/// server's limit), so `agents × capacity` pairs at most.
pub fn roster_toml(agents: usize, capacity: u32) -> String {
    let capacity = capacity.clamp(1, MAX_CAPACITY);
    let mut out = format!(
        "# switchboard roster for `switchboard-loadtest relay`: {agents} agents x capacity \
         {capacity} = {} chats,\n# the most pairs it can measure. Paste into the server \
         configuration (`{DEFAULT_TOPIC}` must be one\n# of routing.topics, as it is by default; \
         identity_secret is not needed).\n",
        agents as u64 * u64::from(capacity)
    );
    for (n, token) in roster_tokens(agents).into_iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "\n[[agents]]\nid = \"relay-agent-{n}\"\nname = \"Relay agent {n}\"\n\
             token = \"{token}\"\nskills = [\"{DEFAULT_TOPIC}\"]\nlanguages = [\"en\"]\n\
             capacity = {capacity}\n"
        );
    }
    // Written to a String: cannot fail.
    let _ = write!(
        out,
        "\n# Each relay customer sends far faster than a person types: lift the frame\n\
         # budget (merge into an existing [limits] table if there is one).\n\
         [limits]\ncustomer_frames_per_sec = {RELAY_FRAME_BUDGET}\n\
         customer_frame_burst = {RELAY_FRAME_BUDGET}\n"
    );
    out.push_str(crate::scenario::LOAD_SECURITY);
    out
}

/// The per-customer frame budget of a relay roster: above any rate a relay run
/// can offer one customer.
const RELAY_FRAME_BUDGET: u32 = 1_000_000;

/// Measure switchboard's relay: see the module documentation. Bounded: at
/// most [`MAX_AGENTS`] agents and [`floor::MAX_PAIRS`] customers, each set
/// connected within a minute, then the floor's bounds on the sending.
pub async fn measure_switchboard(config: SwitchboardRelay) -> anyhow::Result<FloorResult> {
    let (customer_bases, agent_bases) = validate(&config)?;
    let shared = Shared::new();
    let tasks = TaskTracker::new();
    let mut run = Run::default();
    let outcome = drive(
        &config,
        &customer_bases,
        &agent_bases,
        &shared,
        &tasks,
        &mut run,
    )
    .await;
    run.close().await;
    floor::finish(&shared, tasks).await;
    let mut result = outcome?;
    result.relay = format!(
        "customers at {}, agents at {}",
        customer_bases.join(" "),
        agent_bases.join(" ")
    );
    Ok(result)
}

/// The URLs' bases (customers', agents'), or why the configuration is refused.
fn validate(c: &SwitchboardRelay) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    if c.text_bytes > MAX_TEXT_BYTES {
        bail!(
            "text_bytes must be at most {MAX_TEXT_BYTES}, not {}",
            c.text_bytes
        );
    }
    floor::validate(&FloorConfig {
        url: None,
        pairs: c.pairs,
        rate: c.rate,
        duration: c.duration,
        text_bytes: c.text_bytes,
        ceiling: c.ceiling.clone(),
        relay: floor::RelayConfig::default(),
    })?;
    if c.agents.is_empty() || c.agents.len() > MAX_AGENTS {
        bail!(
            "give 1 to {MAX_AGENTS} agent tokens, not {}",
            c.agents.len()
        );
    }
    let topic_ok = !c.topic.is_empty()
        && c.topic.len() <= 64
        && c.topic
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !topic_ok {
        bail!(
            "the topic must be 1-64 characters of a-z, 0-9 and _, not `{}`",
            c.topic
        );
    }
    let bases = |urls: &[String], who: &str| -> anyhow::Result<Vec<String>> {
        if urls.is_empty() {
            bail!("no URL for the {who}: give at least one switchboard node");
        }
        urls.iter()
            .map(|url| {
                floor::loopback_base(url)
                    .with_context(|| format!("the {who}' switchboard URL `{url}`"))
            })
            .collect()
    };
    Ok((
        bases(&c.customer_urls, "customers")?,
        bases(&c.agent_urls, "agents")?,
    ))
}

/// What a run opened, to close whatever happens.
#[derive(Default)]
struct Run {
    /// Agent connections: the agent's id, the writing half.
    agents: Vec<(String, SplitSink<ClientStream, ClientMessage>)>,
    /// Each customer's sender.
    senders: Vec<mpsc::Sender<Step>>,
    /// Each customer's chat: conversation id, the holding agent's id.
    chats: Vec<(String, String)>,
    /// Conversations the agent connections saw end (or leave them).
    ended: Arc<AtomicUsize>,
}

impl Run {
    /// Resolve every chat of the run through its agent (waiting, a bounded
    /// while, for the ends), then close every connection.
    async fn close(self) {
        let Self {
            mut agents,
            senders,
            chats,
            ended,
        } = self;
        let mut by_agent: HashMap<&str, Vec<&str>> = HashMap::new();
        for (conversation, agent) in &chats {
            by_agent
                .entry(agent.as_str())
                .or_default()
                .push(conversation.as_str());
        }
        let already = ended.load(Ordering::Relaxed);
        let resolving = agents.iter_mut().map(|(id, sink)| {
            let held = by_agent.get(id.as_str()).cloned().unwrap_or_default();
            async move {
                let resolve = async {
                    for conversation in &held {
                        let frame = json!({"type": "resolve", "conversation_id": conversation});
                        sink.feed(ClientMessage::text(frame.to_string())).await?;
                    }
                    sink.flush().await
                };
                match tokio::time::timeout(PATIENCE, resolve).await {
                    Ok(Ok(())) => held.len(),
                    _ => 0,
                }
            }
        });
        let resolved: usize = futures_util::future::join_all(resolving)
            .await
            .into_iter()
            .sum();
        let deadline = Instant::now() + Duration::from_secs(3);
        while ended.load(Ordering::Relaxed) < already + resolved && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The customers' senders close their connections when their step
        // channels close.
        drop(senders);
        let closing = agents.into_iter().map(|(_, mut sink)| async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
        });
        futures_util::future::join_all(closing).await;
    }
}

async fn drive(
    config: &SwitchboardRelay,
    customer_bases: &[String],
    agent_bases: &[String],
    shared: &Arc<Shared>,
    tasks: &TaskTracker,
    run: &mut Run,
) -> anyhow::Result<FloorResult> {
    // The agents, a few at a time.
    let mut capacity: u64 = 0;
    let connected = tokio::time::timeout(SETUP, async {
        let mut connecting = futures_util::stream::iter(config.agents.iter().enumerate())
            .map(|(k, token)| {
                let base = &agent_bases[k % agent_bases.len()];
                async move { (k, connect_agent(base, token).await) }
            })
            .buffer_unordered(AT_ONCE);
        while let Some((k, agent)) = connecting.next().await {
            let agent = agent?;
            capacity += u64::from(agent.capacity);
            let (sink, stream) = agent.ws.split();
            tasks.spawn(floor::read(
                stream,
                shared.clone(),
                Kind::Delivery,
                k + 7,
                agent_seen(run.ended.clone()),
            ));
            run.agents.push((agent.id, sink));
        }
        anyhow::Ok(())
    })
    .await;
    match connected {
        Ok(connected) => connected?,
        Err(_) => bail!(
            "connecting {} agents took over {} s",
            config.agents.len(),
            SETUP.as_secs()
        ),
    }
    if capacity < config.pairs as u64 {
        bail!(
            "the {} agents hold {capacity} chats at most (their capacities added up), fewer \
             than the {} pairs: connect more agents or give them more capacity \
             (`switchboard-loadtest relay-roster --agents N --capacity C`, capacity at most {MAX_CAPACITY})",
            config.agents.len(),
            config.pairs
        );
    }

    // The customers, a few at a time: each starts a chat and waits for it to
    // be assigned, then its reader and its sender run.
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let text: Arc<str> = floor::prose(config.text_bytes).into();
    let started = tokio::time::timeout(SETUP, async {
        let mut starting = futures_util::stream::iter(0..config.pairs)
            .map(|i| {
                let base = &customer_bases[i % customer_bases.len()];
                let visitor = format!("relay-{run_id}-{i}");
                async move { (i, start_customer(base, &visitor, &config.topic).await) }
            })
            .buffer_unordered(AT_ONCE);
        while let Some((i, customer)) = starting.next().await {
            let customer = customer?;
            let (sink, stream) = customer.ws.split();
            tasks.spawn(floor::read(
                stream,
                shared.clone(),
                Kind::Echo,
                i,
                customer_seen,
            ));
            let (tx, rx) = mpsc::channel(2);
            tasks.spawn(floor::send(
                sink,
                rx,
                shared.clone(),
                i,
                text.clone(),
                message_frame,
            ));
            run.senders.push(tx);
            run.chats.push((customer.conversation, customer.agent));
        }
        anyhow::Ok(())
    })
    .await;
    match started {
        Ok(started) => started?,
        Err(_) => bail!(
            "starting {} chats took over {} s ({} were assigned)",
            config.pairs,
            SETUP.as_secs(),
            run.chats.len()
        ),
    }

    // Every agent connection must know the chat it holds.
    let deadline = Instant::now() + PATIENCE;
    while shared.linked.load(Ordering::Relaxed) < config.pairs {
        if Instant::now() > deadline {
            bail!(
                "the agent connections were told of {} of the {} chats' assignment within {} s",
                shared.linked.load(Ordering::Relaxed),
                config.pairs,
                PATIENCE.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    floor::run_phases(
        shared,
        &run.senders,
        config.rate,
        config.duration,
        config.ceiling.as_ref(),
    )
    .await
}

/// An agent past `welcome`.
struct AgentSession {
    ws: ClientStream,
    id: String,
    capacity: u32,
}

/// `hello` with `token`, `welcome`; chats the agent still holds (left over by
/// an earlier run) are resolved, and their ends awaited.
async fn connect_agent(base: &str, token: &str) -> anyhow::Result<AgentSession> {
    let url = format!("{base}/ws/agent");
    let mut ws = floor::open(&url).await?;
    send_json(&mut ws, &json!({"type": "hello", "token": token})).await?;
    let deadline = Instant::now() + PATIENCE;
    let welcome = loop {
        let frame = next_json(&mut ws, deadline)
            .await
            .with_context(|| format!("agent token `{token}` at {url}: waiting for welcome"))?;
        match frame["type"].as_str() {
            Some("welcome") => break frame,
            Some("error") => bail!(
                "agent token `{token}` refused at {url}: {} (is it in the server's roster? \
                 see `switchboard-loadtest relay-roster`)",
                frame["message"].as_str().unwrap_or("no message")
            ),
            _ => {}
        }
    };
    let id = welcome["agent"]["id"]
        .as_str()
        .with_context(|| format!("agent token `{token}`: a welcome without agent.id"))?
        .to_owned();
    let capacity = welcome["agent"]["capacity"]
        .as_u64()
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0);
    let mut leftovers: HashSet<String> = welcome["conversations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    for conversation in &leftovers {
        let frame = json!({"type": "resolve", "conversation_id": conversation});
        send_json(&mut ws, &frame).await?;
    }
    let deadline = Instant::now() + PATIENCE;
    while !leftovers.is_empty() {
        let frame = next_json(&mut ws, deadline).await.with_context(|| {
            format!(
                "agent `{id}`: resolving {} chats left over",
                leftovers.len()
            )
        })?;
        if matches!(frame["type"].as_str(), Some("ended" | "unassigned"))
            && let Some(conversation) = frame["conversation_id"].as_str()
        {
            leftovers.remove(conversation);
        }
    }
    Ok(AgentSession { ws, id, capacity })
}

/// A customer whose chat an agent holds.
struct CustomerSession {
    ws: ClientStream,
    conversation: String,
    agent: String,
}

/// `hello` with `visitor`, `welcome`, `start` on `topic`, `assigned`.
async fn start_customer(base: &str, visitor: &str, topic: &str) -> anyhow::Result<CustomerSession> {
    let url = format!("{base}/ws/customer");
    let mut ws = floor::open(&url).await?;
    send_json(&mut ws, &json!({"type": "hello", "visitor_id": visitor})).await?;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let frame = next_json(&mut ws, deadline)
            .await
            .with_context(|| format!("customer `{visitor}` at {url}: waiting for welcome"))?;
        match frame["type"].as_str() {
            Some("welcome") => break,
            Some("error") => bail!(
                "customer `{visitor}` refused at {url}: {}",
                frame["message"].as_str().unwrap_or("no message")
            ),
            _ => {}
        }
    }
    send_json(&mut ws, &json!({"type": "start", "topic": topic})).await?;
    let deadline = Instant::now() + ASSIGN_WAIT;
    let mut queued = false;
    loop {
        let frame = match next_json(&mut ws, deadline).await {
            Ok(frame) => frame,
            Err(e) if queued => {
                return Err(e.context(format!(
                    "customer `{visitor}` at {url}: still queued after {} s; the agents are \
                     full (they hold other chats, or their capacities add up to fewer than \
                     the pairs)",
                    ASSIGN_WAIT.as_secs()
                )));
            }
            Err(e) => {
                return Err(e.context(format!(
                    "customer `{visitor}` at {url}: waiting for `assigned`"
                )));
            }
        };
        match frame["type"].as_str() {
            Some("assigned") => {
                let conversation = frame["conversation_id"]
                    .as_str()
                    .context("an `assigned` without conversation_id")?
                    .to_owned();
                let agent = frame["agent"]["id"]
                    .as_str()
                    .context("an `assigned` without agent.id")?
                    .to_owned();
                return Ok(CustomerSession {
                    ws,
                    conversation,
                    agent,
                });
            }
            Some("queued") => queued = true,
            Some("offline") => bail!(
                "customer `{visitor}` at {url}: no agent online takes topic `{topic}` ({}); \
                 are the agents connected, with `{topic}` among their skills?",
                frame["reason"].as_str().unwrap_or("no reason given")
            ),
            Some("error") => bail!(
                "customer `{visitor}` at {url}: `start` refused: {} {}",
                frame["code"].as_str().unwrap_or("?"),
                frame["message"].as_str().unwrap_or("")
            ),
            _ => {}
        }
    }
}

async fn send_json(ws: &mut ClientStream, frame: &Value) -> anyhow::Result<()> {
    ws.send(ClientMessage::text(frame.to_string()))
        .await
        .context("sending a frame")
}

/// The next JSON frame before `deadline`.
async fn next_json(ws: &mut ClientStream, deadline: Instant) -> anyhow::Result<Value> {
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| anyhow!("no answer in time"))?;
        match frame {
            Some(Ok(ClientMessage::Text(text))) => {
                return serde_json::from_str(&text).context("a frame that is not JSON");
            }
            Some(Ok(ClientMessage::Close(close))) => bail!(
                "closed by the server: {}",
                close
                    .map(|c| format!("{} {}", c.code, c.reason))
                    .unwrap_or_default()
            ),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e).context("the connection failed"),
            None => bail!("the connection ended"),
        }
    }
}

/// A customer message of a phase: the phase and the send time ride at the end
/// of the text.
fn message_frame(pair: usize, n: u64, phase: u32, t: u64, text: &str) -> String {
    format!(
        "{{\"type\":\"message\",\"client_msg_id\":\"r{pair}-{n}\",\"text\":\"{text} p={phase} t={t}\"}}"
    )
}

/// The fields of a server frame the readers look at. Borrowed: a frame whose
/// field has escapes fails to parse, and is none of the measured ones.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    conversation_id: Option<&'a str>,
    #[serde(default)]
    from: Option<&'a str>,
    #[serde(default)]
    text: Option<&'a str>,
}

/// ` p=<phase> t=<µs>` at the end of a text.
fn stamp(text: &str) -> Option<(u32, u64)> {
    let (rest, t) = text.rsplit_once(" t=")?;
    let (_, p) = rest.rsplit_once(" p=")?;
    Some((p.parse().ok()?, t.parse().ok()?))
}

fn measured(frame: &Frame<'_>) -> Seen {
    match frame.text.and_then(stamp) {
        Some((phase, sent_us)) => Seen::Message { phase, sent_us },
        None => Seen::Other,
    }
}

/// The customer's side: the echoes of its own messages.
fn customer_seen(text: &str) -> Seen {
    match serde_json::from_str::<Frame<'_>>(text) {
        Ok(frame) if frame.kind == "message" && frame.from == Some("customer") => measured(&frame),
        _ => Seen::Other,
    }
}

/// An agent connection's side: each `assigned` adds a conversation it holds
/// (counted as linked), and the customer messages of those are recorded;
/// `ended` and `unassigned` take one away (counted in `ended`).
fn agent_seen(ended: Arc<AtomicUsize>) -> impl FnMut(&str) -> Seen + Send + 'static {
    let mut held: HashSet<String> = HashSet::new();
    move |text: &str| {
        let Ok(frame) = serde_json::from_str::<Frame<'_>>(text) else {
            return Seen::Other;
        };
        let Some(conversation) = frame.conversation_id else {
            return Seen::Other;
        };
        match frame.kind {
            "message" if frame.from == Some("customer") && held.contains(conversation) => {
                measured(&frame)
            }
            "assigned" if held.insert(conversation.to_owned()) => Seen::Linked,
            "ended" | "unassigned" => {
                if held.remove(conversation) {
                    ended.fetch_add(1, Ordering::Relaxed);
                }
                Seen::Other
            }
            _ => Seen::Other,
        }
    }
}

// ---------------------------------------------------------------------------
// Side by side

/// switchboard beside the floor, as `relay --with-floor` prints and writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideBySide {
    /// Through switchboard.
    pub switchboard: FloorResult,
    /// Through the bare relay, in the same run.
    #[serde(default)]
    pub floor: Option<FloorResult>,
    /// switchboard ÷ floor.
    #[serde(default)]
    pub ratios: Option<Ratios>,
}

impl SideBySide {
    /// The two results and their ratios.
    pub fn new(switchboard: FloorResult, floor: Option<FloorResult>) -> Self {
        let ratios = floor.as_ref().map(|f| Ratios::of(&switchboard, f));
        Self {
            switchboard,
            floor,
            ratios,
        }
    }

    /// The table `relay` prints.
    pub fn table(&self) -> String {
        match &self.floor {
            Some(floor) => table(&[("switchboard", &self.switchboard), ("floor", floor)]),
            None => table(&[("switchboard", &self.switchboard)]),
        }
    }
}

/// switchboard's figures divided by the floor's; `None` where the floor's is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Ratios {
    /// Delivery p50 (target at most [`TARGET_P50_RATIO`]).
    pub delivery_p50: Option<f64>,
    /// Delivery p99 (target at most [`TARGET_P99_RATIO`]).
    pub delivery_p99: Option<f64>,
    /// Echo p50.
    pub echo_p50: Option<f64>,
    /// Echo p99.
    pub echo_p99: Option<f64>,
    /// Ceilings, when both were measured (target at least
    /// [`TARGET_CEILING_RATIO`]).
    pub ceiling: Option<f64>,
}

impl Ratios {
    /// `switchboard ÷ floor`.
    pub fn of(switchboard: &FloorResult, floor: &FloorResult) -> Self {
        let ceiling = match (switchboard.ceiling_msgs_per_sec, floor.ceiling_msgs_per_sec) {
            (Some(s), Some(f)) => ratio(s, f),
            _ => None,
        };
        Self {
            delivery_p50: ratio(switchboard.delivery.p50_ms, floor.delivery.p50_ms),
            delivery_p99: ratio(switchboard.delivery.p99_ms, floor.delivery.p99_ms),
            echo_p50: ratio(switchboard.echo.p50_ms, floor.echo.p50_ms),
            echo_p99: ratio(switchboard.echo.p99_ms, floor.echo.p99_ms),
            ceiling,
        }
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite()).then(|| a / b)
}

/// A table of results, one column each; with two columns, the first's ratio
/// to the second's and the targets on the rows that have one.
pub fn table(columns: &[(&str, &FloorResult)]) -> String {
    let mut out = String::new();
    for (name, result) in columns {
        let _ = writeln!(out, "{name}: {}", result.relay);
    }
    let pair = (columns.len() == 2).then(|| (columns[0].1, columns[1].1));
    let _ = write!(out, "\n{:<28}", "");
    for (name, _) in columns {
        let _ = write!(out, "{name:>14}");
    }
    if pair.is_some() {
        let _ = write!(out, "{:>10}  target", "ratio");
    }
    out.push('\n');
    let rows = [
        Row::count("pairs", |r| r.pairs as f64, 0),
        Row::count("offered msg/s", |r| r.rate, 0),
        Row::count("seconds", |r| r.duration_secs, 1),
        Row::count("sent", |r| r.sent as f64, 0),
        Row::count("delivered", |r| r.delivered as f64, 0),
        Row::count("echoed", |r| r.echoed as f64, 0),
        Row::plain("achieved msg/s", |r| r.achieved_msgs_per_sec, 0),
        Row {
            target: Some(Target::AtMost(TARGET_P50_RATIO)),
            ..Row::plain("delivery p50 ms", |r| r.delivery.p50_ms, 3)
        },
        Row::plain("delivery p90 ms", |r| r.delivery.p90_ms, 3),
        Row {
            target: Some(Target::AtMost(TARGET_P99_RATIO)),
            ..Row::plain("delivery p99 ms", |r| r.delivery.p99_ms, 3)
        },
        Row::plain("delivery p99.9 ms", |r| r.delivery.p999_ms, 3),
        Row::plain("delivery max ms", |r| r.delivery.max_ms, 3),
        Row::plain("delivery mean ms", |r| r.delivery.mean_ms, 3),
        Row::plain("echo p50 ms", |r| r.echo.p50_ms, 3),
        Row::plain("echo p99 ms", |r| r.echo.p99_ms, 3),
        Row::plain("echo p99.9 ms", |r| r.echo.p999_ms, 3),
        Row::plain("echo max ms", |r| r.echo.max_ms, 3),
        Row::plain("send lateness p50 ms", |r| r.send_lateness.p50_ms, 3),
        Row::plain("send lateness p99 ms", |r| r.send_lateness.p99_ms, 3),
    ];
    for row in rows {
        let _ = write!(out, "{:<28}", row.label);
        for (_, result) in columns {
            let _ = write!(out, "{:>14.*}", row.decimals, (row.get)(result));
        }
        if let Some((a, b)) = pair
            && row.ratio
        {
            let r = ratio((row.get)(a), (row.get)(b));
            let _ = write!(out, "{:>10}", shown_ratio(r));
            if let Some(target) = row.target {
                let _ = write!(out, "  {}", verdict(r, target));
            }
        }
        out.push('\n');
    }
    if columns
        .iter()
        .any(|(_, r)| r.ceiling_msgs_per_sec.is_some())
    {
        let limit = columns[0].1.ceiling_p99_limit_ms;
        let _ = write!(out, "{:<28}", format!("ceiling msg/s (p99<={limit}ms)"));
        for (_, result) in columns {
            let shown = match result.ceiling_msgs_per_sec {
                Some(c) if result.ceiling_is_lower_bound => format!(">={c:.0}"),
                Some(c) => format!("{c:.0}"),
                None => "-".into(),
            };
            let _ = write!(out, "{shown:>14}");
        }
        if let Some((a, b)) = pair {
            let r = match (a.ceiling_msgs_per_sec, b.ceiling_msgs_per_sec) {
                (Some(x), Some(y)) => ratio(x, y),
                _ => None,
            };
            let _ = write!(
                out,
                "{:>10}  {}",
                shown_ratio(r),
                verdict(r, Target::AtLeast(TARGET_CEILING_RATIO))
            );
        }
        out.push('\n');
        for (name, result) in columns {
            if result.steps.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n{name} ceiling steps: offered -> achieved msg/s, delivery p99 / echo p99 / send lateness p99 ms"
            );
            for s in &result.steps {
                let verdict = match s.failed_by {
                    None if s.held => "held",
                    Some(StepFailure::Generator) => "FAILED: the load generator fell behind",
                    _ => "FAILED",
                };
                let _ = writeln!(
                    out,
                    "  {:>9.0} -> {:>9.0}   {:>9.3} / {:>9.3} / {:>7.3}   {}/{}/{} sent/delivered/echoed   {verdict}",
                    s.offered_msgs_per_sec,
                    s.achieved_msgs_per_sec,
                    s.delivery_p99_ms,
                    s.echo_p99_ms,
                    s.lateness_p99_ms,
                    s.sent,
                    s.delivered,
                    s.echoed,
                );
            }
        }
    }
    out
}

fn shown_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{r:.2}x"))
}

/// A ratio's target.
#[derive(Clone, Copy)]
enum Target {
    AtMost(f64),
    AtLeast(f64),
}

/// One row of [`table`]: a figure of each result.
struct Row {
    label: &'static str,
    get: fn(&FloorResult) -> f64,
    decimals: usize,
    /// With two columns, show the first's ratio to the second's.
    ratio: bool,
    target: Option<Target>,
}

impl Row {
    /// A figure whose ratio is shown.
    fn plain(label: &'static str, get: fn(&FloorResult) -> f64, decimals: usize) -> Self {
        Self {
            label,
            get,
            decimals,
            ratio: true,
            target: None,
        }
    }

    /// A setting or a count: no ratio.
    fn count(label: &'static str, get: fn(&FloorResult) -> f64, decimals: usize) -> Self {
        Self {
            ratio: false,
            ..Self::plain(label, get, decimals)
        }
    }
}

fn verdict(r: Option<f64>, target: Target) -> String {
    let Some(r) = r else {
        return "-".into();
    };
    let (met, sign, bound) = match target {
        Target::AtMost(bound) => (r <= bound, "<=", bound),
        Target::AtLeast(bound) => (r >= bound, ">=", bound),
    };
    format!("{sign}{bound}x {}", if met { "met" } else { "MISSED" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let frame = message_frame(3, 7, 2, 123_456, "xx");
        let v: Value = serde_json::from_str(&frame).expect("JSON");
        assert_eq!(v["client_msg_id"], "r3-7");
        let text = v["text"].as_str().expect("text");
        assert_eq!(stamp(text), Some((2, 123_456)));
        assert_eq!(stamp("no stamp"), None);
        assert_eq!(stamp("a t=5"), None);
    }

    #[test]
    fn agents_record_only_the_chats_they_hold() {
        let ended = Arc::new(AtomicUsize::new(0));
        let mut seen = agent_seen(ended.clone());
        let message = |c: &str| {
            json!({"type": "message", "conversation_id": c, "seq": 1, "from": "customer",
                   "client_msg_id": "r1-1", "text": "x p=0 t=10", "ts": "…"})
            .to_string()
        };
        assert!(matches!(seen(&message("c1")), Seen::Other));
        let assigned = json!({"type": "assigned", "conversation_id": "c1", "transcript": []});
        assert!(matches!(seen(&assigned.to_string()), Seen::Linked));
        assert!(matches!(seen(&assigned.to_string()), Seen::Other));
        assert!(matches!(
            seen(&message("c1")),
            Seen::Message {
                phase: 0,
                sent_us: 10
            }
        ));
        assert!(matches!(seen(&message("c2")), Seen::Other));
        let ended_frame = json!({"type": "ended", "conversation_id": "c1", "reason": "resolved"});
        assert!(matches!(seen(&ended_frame.to_string()), Seen::Other));
        assert_eq!(ended.load(Ordering::Relaxed), 1);
        assert!(matches!(seen(&message("c1")), Seen::Other));
    }

    #[test]
    fn roster_holds_the_pairs() {
        let roster = roster_toml(3, 500);
        assert_eq!(roster.matches("[[agents]]").count(), 3);
        assert!(roster.contains("capacity = 100\n"));
        assert!(roster.contains("token = \"relay-token-2\""));
        let parsed: toml::Table = toml::from_str(&roster).expect("TOML");
        assert_eq!(parsed["agents"].as_array().map(Vec::len), Some(3));
    }
}
