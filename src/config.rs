//! One `Config`, layered: built-in defaults, then the TOML file, then
//! `SWITCHBOARD_*` environment variables, then command-line flags. Every field
//! documents its default and unit; `validate` names the key of any bad value.

use std::{
    collections::{BTreeMap, HashSet},
    net::SocketAddr,
    path::Path,
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// A configuration problem, always naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or an environment variable could not be read or has the wrong type.
    #[error("configuration: {0}")]
    Load(String),
    /// A value parsed but breaks a rule.
    #[error("configuration: `{key}`: {problem}")]
    Invalid {
        /// Dotted path of the key, e.g. `agents[2].capacity`.
        key: String,
        /// What is wrong and what is expected.
        problem: String,
    },
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// The whole server configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:8080`; port 0 picks a free port.
    pub listen: SocketAddr,
    /// HS256 secret the exchange signs customer identity tokens with. Default: none,
    /// in which case every `hello.identity` is refused with `unauthorized`.
    /// At least 16 bytes when set.
    pub identity_secret: Option<String>,
    /// Time limits, all in seconds.
    pub timeouts: Timeouts,
    /// Queue and matching rules.
    pub routing: Routing,
    /// Size and rate bounds that protect the node from one client.
    pub limits: Limits,
    /// Who may connect: origins, proxies, failed sign-ins, connections per
    /// address, slow requests.
    pub security: SecuritySettings,
    /// This node's id in presence and logs. Default: `node-` and 8 random hex
    /// digits, new at every start. 1-64 characters of a-z, A-Z, 0-9, -, _ and .
    pub node_id: Option<String>,
    /// Redis URL (`redis://[user:password@]host:port/db` or `unix:///path`): turns
    /// on the Redis store. Default: unset, the embedded memory store.
    pub redis_url: Option<String>,
    /// Redis store settings, used with `redis_url`.
    pub redis: RedisSettings,
    /// Several nodes on one Redis, used with `redis_url`.
    pub cluster: ClusterSettings,
    /// The supervisor's live view (`GET /api/dashboard`).
    pub dashboard: DashboardSettings,
    /// Handing unresolved chats to tickets, and the helpdesk webhook.
    pub tickets: TicketSettings,
    /// What the customer widget shows (`GET /api/widget/settings`).
    pub widget: WidgetSettings,
    /// Canned replies the agent console offers (`GET /api/canned`), in this
    /// order; see `canned::CannedReply`. Default: none.
    pub canned: Vec<crate::canned::CannedReply>,
    /// The agent roster. Default: empty (no agent can log in).
    pub agents: Vec<AgentConfig>,
}

/// How nodes share one Redis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// Seconds the matcher lease lasts without renewal: how long the cluster can
    /// go without a matcher after the matcher dies. Renewed every third of it.
    /// Default 5.
    pub lease_secs: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self { lease_secs: 5 }
    }
}

/// The supervisor's live view: when a waiting chat counts as past its SLA, and
/// how often the stream pushes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardSettings {
    /// Seconds a vip or standard chat may wait before the dashboard lists it
    /// as past its SLA. Default 300; 1-86400.
    pub sla_wait_secs: u64,
    /// The same for an urgent chat. Default 120; 1-86400.
    pub sla_urgent_secs: u64,
    /// Milliseconds between two snapshots of `GET /api/dashboard/stream`.
    /// Default 1000; 100-10000.
    pub push_ms: u64,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        Self {
            sla_wait_secs: 300,
            sla_urgent_secs: 120,
            push_ms: 1000,
        }
    }
}

/// Tickets: when a customer is offered to leave a message, what the customer is
/// told, and the helpdesk webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TicketSettings {
    /// When no agent online can serve a chat's topic or language, hand it to a
    /// ticket instead of queueing it where nobody serves: a new chat is told at
    /// once (`offline`) and can leave a message; a chat whose agent left goes to
    /// a ticket when no other agent can take it before the queue timeout.
    /// Default true.
    pub ticket_when_unserved: bool,
    /// Offer to leave a message (`overflow`) to a customer who starts a chat
    /// while the estimated wait exceeds this many seconds. Default 300; 0 turns
    /// the offer off.
    pub overflow_eta_secs: u64,
    /// The system message a customer gets when the chat becomes a ticket: where
    /// the answer will come.
    pub customer_notice: String,
    /// The helpdesk endpoint that gets a POST per ticket created or updated
    /// (`http://` or `https://`). Default: unset, no webhook.
    pub webhook_url: Option<String>,
    /// HMAC-SHA256 key of the `X-Switchboard-Signature` header; required with
    /// `webhook_url`, at least 16 bytes.
    pub webhook_secret: Option<String>,
    /// Attempts before a delivery goes to the dead-letter list. Default 10.
    pub webhook_max_attempts: u32,
    /// First retry delay in milliseconds; doubled per attempt, with jitter.
    /// Default 1000.
    pub webhook_backoff_ms: u64,
    /// Longest retry delay in seconds. Default 300.
    pub webhook_backoff_max_secs: u64,
    /// Seconds a delivery may take before it counts as failed. Default 10.
    pub webhook_timeout_secs: u64,
}

impl Default for TicketSettings {
    fn default() -> Self {
        Self {
            ticket_when_unserved: true,
            overflow_eta_secs: 300,
            customer_notice: "We have passed this conversation to our support team as a \
                ticket. The answer will come to your Support inbox and by email: you do \
                not need to stay on this page."
                .into(),
            webhook_url: None,
            webhook_secret: None,
            webhook_max_attempts: 10,
            webhook_backoff_ms: 1000,
            webhook_backoff_max_secs: 300,
            webhook_timeout_secs: 10,
        }
    }
}

/// What the customer widget shows: served to it by `GET /api/widget/settings`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WidgetSettings {
    /// Title of the chat panel and its launcher's label. Default `Support`;
    /// 1-80 characters, not blank.
    pub title: String,
    /// Colour of the launcher, the panel's header and the customer's bubbles,
    /// as `#rrggbb`. The widget draws white text on it, so it must give white
    /// text a contrast of at least 4.5:1 (WCAG AA). Default `#0b57d0`.
    pub accent_color: String,
    /// Topic → language → the label the topic picker shows, overriding the
    /// widget's built-in translations (which cover the default topics only).
    /// Each topic one of `routing.topics`, each language 2-8 lowercase
    /// letters, each label 1-64 characters, not blank. Default: empty.
    pub topic_labels: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for WidgetSettings {
    fn default() -> Self {
        Self {
            title: "Support".into(),
            accent_color: "#0b57d0".into(),
            topic_labels: BTreeMap::new(),
        }
    }
}

/// The contrast ratio of white text on an `#rrggbb` colour (WCAG 2.x: the
/// lighter relative luminance plus 0.05 over the darker plus 0.05, from 1 to
/// 21), or `None` if `color` is not of that form.
pub fn contrast_with_white(color: &str) -> Option<f64> {
    let hex = color.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| -> Option<f64> {
        let srgb = f64::from(u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()?) / 255.0;
        // The sRGB transfer function, linearised (WCAG 2.2 gives 0.04045,
        // where 2.0 printed 0.03928: no 8-bit value falls between them).
        Some(if srgb <= 0.04045 {
            srgb / 12.92
        } else {
            ((srgb + 0.055) / 1.055).powf(2.4)
        })
    };
    let luminance = 0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?;
    Some(1.05 / (luminance + 0.05))
}

/// How the Redis store lays out and keeps its data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// Prefix of every key, so deployments or test runs can share one Redis.
    /// Default `switchboard:`.
    pub prefix: String,
    /// Seconds an ended conversation (record and transcript) is kept. Default
    /// 604800 (7 days).
    pub retain_ended_secs: u64,
    /// Seconds to wait for Redis to answer before a write counts as failed.
    /// Default 2.
    pub timeout_secs: u64,
    /// With a `rediss://` URL: a PEM file of the certificate authorities to
    /// trust for Redis's certificate, instead of the system's (a private CA,
    /// a self-signed Redis). Unset: the system's trust store.
    pub tls_ca_file: Option<std::path::PathBuf>,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            prefix: "switchboard:".into(),
            retain_ended_secs: 7 * 24 * 3600,
            timeout_secs: 2,
            tls_ca_file: None,
        }
    }
}

/// Time limits. Each accepts small values (1 s) so tests run quickly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// Seconds a new connection has to send `hello`, else close 1008. Default 10.
    pub hello_secs: u64,
    /// Seconds an agent with no session keeps its chats before they return to the
    /// queue. Default 60.
    pub agent_grace_secs: u64,
    /// Seconds a customer with no session keeps its conversation before it is
    /// abandoned. Default 120.
    pub customer_grace_secs: u64,
    /// Seconds a conversation may spend queued, all its stays in the queue added
    /// up (time held by an agent does not count), before it ends. Default 900.
    pub max_queue_wait_secs: u64,
    /// Seconds an agent has for its first reply after an assignment before the chat
    /// goes to the next agent and the agent is set away. Default: unset (no limit).
    pub first_reply_secs: Option<u64>,
    /// Seconds between WebSocket pings from the server. Default 30.
    pub ping_secs: u64,
    /// Seconds between presence heartbeats; a node's entry lives three times as
    /// long, so a dead node's agents drop off within that. Default 2.
    pub heartbeat_secs: u64,
}

/// Queue and matching rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Routing {
    /// Topics a conversation may have. Default: `account_access`, `verification`,
    /// `deposit_withdrawal`, `trading`, `earn`, `api`, `general`.
    pub topics: Vec<String>,
    /// Case-insensitive phrases that make a conversation `urgent` when found in its
    /// first message. Default: a list about blocked withdrawals and account takeover.
    pub urgent_keywords: Vec<String>,
    /// Seconds a conversation waits for an agent speaking its language before an
    /// agent speaking `fallback_language` may take it too. Default 60.
    pub language_fallback_secs: u64,
    /// The language every desk is expected to cover. Default `en`.
    pub fallback_language: String,
    /// Language of a `start` that names none. Default `en`.
    pub default_language: String,
    /// Milliseconds between `queued` position refreshes; positions change on every
    /// assignment, so they are sent in batches. Default 1000.
    pub position_update_ms: u64,
}

/// Bounds that keep one client from harming the others.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest text frame, in bytes, answered with `too_large`; the session goes on.
    /// Default 16384.
    pub max_frame_bytes: usize,
    /// Largest WebSocket message, in bytes, before the connection is closed with 1009
    /// (the stream cannot be resynced past it). Default 65536.
    pub max_transport_bytes: usize,
    /// Longest message text, in characters. Default 4000.
    pub max_text_chars: usize,
    /// Largest `start.metadata`, in bytes of JSON. Default 4096.
    pub max_metadata_bytes: usize,
    /// Hub turns (batches of frames) queued to one session and not yet written
    /// before it is closed as a slow consumer. Default 512.
    pub outbound_queue: usize,
    /// WebSocket read and write buffer, in bytes, per connection. Default 4096
    /// (tungstenite's 128 KiB default costs ~140 KB per idle connection).
    pub ws_buffer_bytes: usize,
    /// Frames a customer session may send a second, on average; the extra ones
    /// are refused with `rate_limited`. Default 10.
    pub customer_frames_per_sec: u32,
    /// Frames a customer session may send at once after a quiet spell. Default 20.
    pub customer_frame_burst: u32,
    /// Frames an agent session may send a second, on average. Default 30.
    pub agent_frames_per_sec: u32,
    /// Frames an agent session may send at once after a quiet spell. Default 60.
    pub agent_frame_burst: u32,
}

/// Who may connect and how hard they may try: the node's defences on the open
/// internet (see the README's "Safe on the public internet").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Exact origins (`https://www.exchange.com`, scheme, host and port if not
    /// the scheme's default) whose pages may open WebSockets and call the REST
    /// API; a request with another `Origin` is refused with 403 (cross-site
    /// WebSocket hijacking). Requests without `Origin` (servers, tools) pass,
    /// and so do the server's own pages (an `Origin` naming the request's
    /// `Host`). Default: empty, which lets every origin in (development); the
    /// node warns at start-up.
    pub allowed_origins: Vec<String>,
    /// Refuse customers who do not send an identity token (`unauthorized`):
    /// only the exchange's signed-in users may chat. Default false.
    pub require_identity: bool,
    /// Peers (addresses or CIDR blocks, e.g. `10.0.0.0/8`) whose
    /// `X-Forwarded-For` names the client: the load balancers. Any other peer
    /// is the client itself, whatever it claims. Default: none.
    pub trusted_proxies: Vec<String>,
    /// Failed sign-ins (unknown agent tokens, bad identity tokens) one client
    /// address may make in a burst before its attempts are refused with
    /// `rate_limited`. Default 10; 1-1000.
    pub auth_failure_burst: u32,
    /// Seconds after which a refused address earns one more attempt (the
    /// burst refills at this pace). Default 6 (10 a minute); 1-3600.
    pub auth_failure_refill_secs: u64,
    /// Most connections one client address may hold open on this node: TCP
    /// connections from a peer that is not a trusted proxy, and WebSocket
    /// sessions by forwarded address behind one. Keeps one host from taking
    /// the node's descriptors. Default 1000 (customers behind one carrier-grade
    /// NAT share an address); 1-1000000.
    pub max_connections_per_address: u32,
    /// Seconds a connection has to send a whole HTTP request head, from
    /// opening it or from the end of its previous request: a client that
    /// never finishes its upgrade (or a slowloris, one byte at a time) is
    /// closed. Default 10; 1-300.
    pub header_read_secs: u64,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            require_identity: false,
            trusted_proxies: Vec::new(),
            auth_failure_burst: 10,
            auth_failure_refill_secs: 6,
            max_connections_per_address: 1000,
            header_read_secs: 10,
        }
    }
}

/// One agent of the roster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Stable id, unique in the roster.
    pub id: String,
    /// Display name the customer sees.
    pub name: String,
    /// SHA-256 of the secret the agent console sends in `hello.token` (and
    /// REST calls as `Bearer`), 64 hex digits: what `switchboard hash-token`
    /// prints. The roster needs this or `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    /// The secret itself, in the clear: still accepted, with a start-up
    /// warning (anyone who reads the file can sign in as the agent).
    /// Unique, at least 8 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Topics the agent serves; each must be in `routing.topics`.
    pub skills: Vec<String>,
    /// Languages the agent speaks (e.g. `en`, `es`).
    pub languages: Vec<String>,
    /// Most concurrent chats. Default 3.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// `agent` (default) or `supervisor`: what the ticket API lets it see and do.
    #[serde(default)]
    pub role: AgentRole,
}

/// What an agent token may do in the REST API.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    /// Sees tickets on its topics and tickets it held; assigns tickets to itself.
    #[default]
    Agent,
    /// Sees and updates every ticket, assigns to anyone, reads the dead letters.
    Supervisor,
}

fn default_capacity() -> u32 {
    3
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            identity_secret: None,
            timeouts: Timeouts::default(),
            routing: Routing::default(),
            limits: Limits::default(),
            security: SecuritySettings::default(),
            node_id: None,
            redis_url: None,
            redis: RedisSettings::default(),
            cluster: ClusterSettings::default(),
            dashboard: DashboardSettings::default(),
            tickets: TicketSettings::default(),
            widget: WidgetSettings::default(),
            canned: Vec::new(),
            agents: Vec::new(),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            hello_secs: 10,
            agent_grace_secs: 60,
            customer_grace_secs: 120,
            max_queue_wait_secs: 900,
            first_reply_secs: None,
            ping_secs: 30,
            heartbeat_secs: 2,
        }
    }
}

impl Default for Routing {
    fn default() -> Self {
        Self {
            topics: [
                "account_access",
                "verification",
                "deposit_withdrawal",
                "trading",
                "earn",
                "api",
                "general",
            ]
            .map(String::from)
            .to_vec(),
            urgent_keywords: [
                "withdrawal blocked",
                "blocked withdrawal",
                "withdrawal is blocked",
                "hacked",
                "account takeover",
                "stolen",
                "unauthorized withdrawal",
                "unauthorised withdrawal",
                "compromised",
                "someone logged in",
            ]
            .map(String::from)
            .to_vec(),
            language_fallback_secs: 60,
            fallback_language: "en".into(),
            default_language: "en".into(),
            position_update_ms: 1000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 16 * 1024,
            max_transport_bytes: 64 * 1024,
            max_text_chars: 4000,
            max_metadata_bytes: 4096,
            outbound_queue: 512,
            ws_buffer_bytes: 4096,
            customer_frames_per_sec: 10,
            customer_frame_burst: 20,
            agent_frames_per_sec: 30,
            agent_frame_burst: 60,
        }
    }
}

impl Timeouts {
    /// `hello_secs` as a duration.
    pub fn hello(&self) -> Duration {
        Duration::from_secs(self.hello_secs)
    }
}

/// A URL with its password (if any) masked: `redis://user:<redacted>@host/`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            if credentials.contains(':') {
                format!("{scheme}://{user}:<redacted>@{host}")
            } else {
                format!("{scheme}://<redacted>@{host}")
            }
        }
        None => url.to_string(),
    }
}

/// Is `tag` a plausible language tag? We route on the primary subtag only.
pub fn is_language_tag(tag: &str) -> bool {
    (2..=8).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_lowercase())
}

/// One line per problem, each naming the dotted key and where its value came
/// from (the file or a `SWITCHBOARD_*` variable).
fn describe(error: figment::Error) -> ConfigError {
    let lines: Vec<String> = error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".").to_lowercase();
            let source = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(source) => source.to_string(),
                    None => m.name.to_string(),
                })
                .unwrap_or_default();
            let mut line = if key.is_empty() {
                e.kind.to_string()
            } else {
                format!("`{key}`: {}", e.kind)
            };
            if !source.is_empty() {
                line.push_str(&format!(" (in {source})"));
            }
            line
        })
        .collect();
    ConfigError::Load(lines.join("; "))
}

impl Config {
    /// A copy with secrets masked, for printing.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        if copy.identity_secret.is_some() {
            copy.identity_secret = Some("<redacted>".into());
        }
        for agent in &mut copy.agents {
            if agent.token.is_some() {
                agent.token = Some("<redacted>".into());
            }
            if agent.token_sha256.is_some() {
                agent.token_sha256 = Some("<redacted>".into());
            }
        }
        copy.redis_url = copy.redis_url.as_deref().map(redact_url);
        if copy.tickets.webhook_secret.is_some() {
            copy.tickets.webhook_secret = Some("<redacted>".into());
        }
        copy.tickets.webhook_url = copy.tickets.webhook_url.as_deref().map(redact_url);
        copy
    }

    /// Layer defaults, the optional TOML file and `SWITCHBOARD_*` variables, then
    /// validate. Nested keys use `__` in variables: `SWITCHBOARD_TIMEOUTS__HELLO_SECS=1`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(file, |_| {})
    }

    /// [`Config::load`], with `overrides` (command-line flags) applied last,
    /// before validation: rules that join two settings see the final pair.
    pub fn load_with(
        file: Option<&Path>,
        overrides: impl FnOnce(&mut Config),
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(invalid(
                    "--config",
                    format!("file {} does not exist", path.display()),
                ));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // SWITCHBOARD_LOG is the log filter, read by the binary, not a config key.
        figment = figment.merge(Env::prefixed("SWITCHBOARD_").ignore(&["log"]).split("__"));
        let mut config: Config = figment.extract().map_err(describe)?;
        overrides(&mut config);
        config.validate()?;
        Ok(config)
    }

    /// Check every rule that types cannot express; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(secret) = &self.identity_secret
            && secret.len() < 16
        {
            return Err(invalid(
                "identity_secret",
                "must be at least 16 bytes (it signs customer identities)",
            ));
        }
        let t = &self.timeouts;
        for (key, value) in [
            ("timeouts.hello_secs", t.hello_secs),
            ("timeouts.agent_grace_secs", t.agent_grace_secs),
            ("timeouts.customer_grace_secs", t.customer_grace_secs),
            ("timeouts.max_queue_wait_secs", t.max_queue_wait_secs),
            ("timeouts.ping_secs", t.ping_secs),
            ("timeouts.heartbeat_secs", t.heartbeat_secs),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1 second"));
            }
        }
        if t.first_reply_secs == Some(0) {
            return Err(invalid(
                "timeouts.first_reply_secs",
                "must be at least 1 second (leave it out to disable)",
            ));
        }
        let r = &self.routing;
        if r.topics.is_empty() {
            return Err(invalid("routing.topics", "must name at least one topic"));
        }
        let mut topics = HashSet::new();
        for (i, topic) in r.topics.iter().enumerate() {
            if topic.is_empty()
                || topic.len() > 64
                || !topic
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(invalid(
                    format!("routing.topics[{i}]"),
                    format!("`{topic}` must be 1-64 characters of a-z, 0-9 and _"),
                ));
            }
            if !topics.insert(topic.as_str()) {
                return Err(invalid(
                    format!("routing.topics[{i}]"),
                    format!("`{topic}` is listed twice"),
                ));
            }
        }
        if r.urgent_keywords.iter().any(|k| k.trim().is_empty()) {
            return Err(invalid(
                "routing.urgent_keywords",
                "keywords must not be empty",
            ));
        }
        if r.language_fallback_secs == 0 {
            return Err(invalid(
                "routing.language_fallback_secs",
                "must be at least 1 second",
            ));
        }
        for (key, lang) in [
            ("routing.fallback_language", &r.fallback_language),
            ("routing.default_language", &r.default_language),
        ] {
            if !is_language_tag(lang) {
                return Err(invalid(
                    key,
                    format!("`{lang}` is not a language code (2-8 lowercase letters, e.g. `en`)"),
                ));
            }
        }
        if r.position_update_ms < 10 {
            return Err(invalid(
                "routing.position_update_ms",
                "must be at least 10 ms",
            ));
        }
        let l = &self.limits;
        if l.max_frame_bytes < 256 {
            return Err(invalid("limits.max_frame_bytes", "must be at least 256"));
        }
        if l.max_transport_bytes < l.max_frame_bytes {
            return Err(invalid(
                "limits.max_transport_bytes",
                "must be at least limits.max_frame_bytes",
            ));
        }
        if l.max_text_chars == 0 {
            return Err(invalid("limits.max_text_chars", "must be at least 1"));
        }
        if l.outbound_queue < 8 {
            return Err(invalid("limits.outbound_queue", "must be at least 8"));
        }
        if l.ws_buffer_bytes < 512 {
            return Err(invalid("limits.ws_buffer_bytes", "must be at least 512"));
        }
        for (key, value) in [
            ("limits.customer_frames_per_sec", l.customer_frames_per_sec),
            ("limits.customer_frame_burst", l.customer_frame_burst),
            ("limits.agent_frames_per_sec", l.agent_frames_per_sec),
            ("limits.agent_frame_burst", l.agent_frame_burst),
        ] {
            if value == 0 {
                return Err(invalid(
                    key,
                    "must be at least 1 (raise it rather than turn the limit off)",
                ));
            }
        }
        if let Some(node) = &self.node_id
            && (node.is_empty()
                || node.len() > 64
                || !node
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
        {
            return Err(invalid(
                "node_id",
                "must be 1-64 characters of a-z, A-Z, 0-9, -, _ and .",
            ));
        }
        if let Some(url) = &self.redis_url
            && !["redis://", "rediss://", "unix://", "redis+unix://"]
                .iter()
                .any(|scheme| url.starts_with(scheme))
        {
            return Err(invalid(
                "redis_url",
                "must start with redis://, rediss:// (TLS) or unix:// (e.g. redis://127.0.0.1:6379/0)",
            ));
        }
        let redis = &self.redis;
        if let Some(path) = &redis.tls_ca_file {
            if !self
                .redis_url
                .as_deref()
                .is_some_and(|url| url.starts_with("rediss://"))
            {
                return Err(invalid(
                    "redis.tls_ca_file",
                    "is only used with a rediss:// (TLS) redis_url",
                ));
            }
            let pem = std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    "redis.tls_ca_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(invalid(
                    "redis.tls_ca_file",
                    format!("{} holds no PEM certificate", path.display()),
                ));
            }
        }
        if redis.prefix.is_empty()
            || redis.prefix.len() > 64
            || redis
                .prefix
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(invalid(
                "redis.prefix",
                "must be 1-64 characters without spaces",
            ));
        }
        if redis.retain_ended_secs == 0 {
            return Err(invalid(
                "redis.retain_ended_secs",
                "must be at least 1 second",
            ));
        }
        if !(1..=60).contains(&self.cluster.lease_secs) {
            return Err(invalid(
                "cluster.lease_secs",
                "must be between 1 and 60 seconds",
            ));
        }
        if redis.timeout_secs == 0 {
            return Err(invalid("redis.timeout_secs", "must be at least 1 second"));
        }
        let d = &self.dashboard;
        for (key, value) in [
            ("dashboard.sla_wait_secs", d.sla_wait_secs),
            ("dashboard.sla_urgent_secs", d.sla_urgent_secs),
        ] {
            if !(1..=86_400).contains(&value) {
                return Err(invalid(key, "must be between 1 and 86400 seconds"));
            }
        }
        if !(100..=10_000).contains(&d.push_ms) {
            return Err(invalid(
                "dashboard.push_ms",
                "must be between 100 and 10000 ms",
            ));
        }
        self.validate_tickets()?;
        self.validate_security()?;
        self.validate_widget(&topics)?;
        crate::canned::validate(&self.canned, &r.topics, l.max_text_chars)?;
        let mut ids = HashSet::new();
        let mut tokens = HashSet::new();
        for (i, agent) in self.agents.iter().enumerate() {
            let at = |field: &str| format!("agents[{i}].{field}");
            if agent.id.is_empty() || agent.id.len() > 64 {
                return Err(invalid(at("id"), "must be 1-64 characters"));
            }
            if !ids.insert(agent.id.as_str()) {
                return Err(invalid(
                    at("id"),
                    format!("`{}` is used by two agents", agent.id),
                ));
            }
            if agent.name.trim().is_empty() {
                return Err(invalid(at("name"), "must not be empty"));
            }
            let digest = match (&agent.token, &agent.token_sha256) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        at("token"),
                        "give `token_sha256` or `token`, not both",
                    ));
                }
                (None, None) => {
                    return Err(invalid(
                        at("token_sha256"),
                        "is required (or a plain `token`): `switchboard hash-token` makes one",
                    ));
                }
                (Some(token), None) => {
                    if token.len() < 8 {
                        return Err(invalid(at("token"), "must be at least 8 bytes"));
                    }
                    crate::roster::digest(token)
                }
                (None, Some(hash)) => crate::roster::parse_digest(hash).ok_or_else(|| {
                    invalid(
                        at("token_sha256"),
                        "must be 64 hex digits (the SHA-256 that `switchboard hash-token` prints)",
                    )
                })?,
            };
            if !tokens.insert(digest) {
                return Err(invalid(
                    at(if agent.token.is_some() {
                        "token"
                    } else {
                        "token_sha256"
                    }),
                    "is used by two agents",
                ));
            }
            if agent.skills.is_empty() {
                return Err(invalid(at("skills"), "must name at least one topic"));
            }
            for skill in &agent.skills {
                if !topics.contains(skill.as_str()) {
                    return Err(invalid(
                        at("skills"),
                        format!(
                            "`{skill}` is not a topic (routing.topics: {})",
                            r.topics.join(", ")
                        ),
                    ));
                }
            }
            if agent.languages.is_empty() {
                return Err(invalid(at("languages"), "must name at least one language"));
            }
            if let Some(lang) = agent.languages.iter().find(|l| !is_language_tag(l)) {
                return Err(invalid(
                    at("languages"),
                    format!("`{lang}` is not a language code (2-8 lowercase letters)"),
                ));
            }
            if agent.capacity == 0 || agent.capacity > 100 {
                return Err(invalid(at("capacity"), "must be between 1 and 100"));
            }
        }
        Ok(())
    }

    fn validate_security(&self) -> Result<(), ConfigError> {
        let s = &self.security;
        for (i, origin) in s.allowed_origins.iter().enumerate() {
            if let Err(problem) = crate::gate::origin::normalize(origin) {
                return Err(invalid(format!("security.allowed_origins[{i}]"), problem));
            }
        }
        for (i, proxy) in s.trusted_proxies.iter().enumerate() {
            if crate::gate::parse_network(proxy).is_none() {
                return Err(invalid(
                    format!("security.trusted_proxies[{i}]"),
                    format!(
                        "`{proxy}` is not an address or CIDR block (e.g. `10.0.0.7`, `10.0.0.0/8`, `::1`)"
                    ),
                ));
            }
        }
        for (key, value, range) in [
            (
                "security.auth_failure_burst",
                u64::from(s.auth_failure_burst),
                1..=1000,
            ),
            (
                "security.auth_failure_refill_secs",
                s.auth_failure_refill_secs,
                1..=3600,
            ),
            (
                "security.max_connections_per_address",
                u64::from(s.max_connections_per_address),
                1..=1_000_000,
            ),
            ("security.header_read_secs", s.header_read_secs, 1..=300),
        ] {
            if !range.contains(&value) {
                return Err(invalid(
                    key,
                    format!(
                        "must be between {} and {} (it is {value})",
                        range.start(),
                        range.end()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_widget(&self, topics: &HashSet<&str>) -> Result<(), ConfigError> {
        let w = &self.widget;
        let title = w.title.chars().count();
        if w.title.trim().is_empty() || title > 80 {
            return Err(invalid(
                "widget.title",
                format!("must be 1-80 characters, not blank (it has {title})"),
            ));
        }
        let Some(contrast) = contrast_with_white(&w.accent_color) else {
            return Err(invalid(
                "widget.accent_color",
                format!(
                    "`{}` is not a colour of the form #rrggbb (e.g. #0b57d0)",
                    w.accent_color
                ),
            ));
        };
        if contrast < 4.5 {
            // Rounded down, so a refused colour never reads as 4.50:1.
            let shown = (contrast * 100.0).floor() / 100.0;
            return Err(invalid(
                "widget.accent_color",
                format!(
                    "`{}` gives the widget's white text a contrast of only {shown:.2}:1; \
                     WCAG AA needs at least 4.5:1: pick a darker colour",
                    w.accent_color
                ),
            ));
        }
        for (topic, labels) in &w.topic_labels {
            let at = format!("widget.topic_labels.{topic}");
            if !topics.contains(topic.as_str()) {
                return Err(invalid(
                    at,
                    format!(
                        "`{topic}` is not a topic (routing.topics: {})",
                        self.routing.topics.join(", ")
                    ),
                ));
            }
            for (language, label) in labels {
                let at = format!("{at}.{language}");
                if !is_language_tag(language) {
                    return Err(invalid(
                        at,
                        format!(
                            "`{language}` is not a language code (2-8 lowercase letters, e.g. `en`)"
                        ),
                    ));
                }
                let length = label.chars().count();
                if label.trim().is_empty() || length > 64 {
                    return Err(invalid(
                        at,
                        format!("the label must be 1-64 characters, not blank (it has {length})"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_tickets(&self) -> Result<(), ConfigError> {
        let t = &self.tickets;
        if t.customer_notice.trim().is_empty() {
            return Err(invalid(
                "tickets.customer_notice",
                "must say where the answer will come",
            ));
        }
        if let Some(url) = &t.webhook_url {
            let parsed = url
                .parse::<axum::http::Uri>()
                .ok()
                .filter(|u| matches!(u.scheme_str(), Some("http" | "https")))
                .filter(|u| u.host().is_some_and(|h| !h.is_empty()));
            if parsed.is_none() {
                return Err(invalid(
                    "tickets.webhook_url",
                    format!("`{url}` is not an http:// or https:// URL with a host"),
                ));
            }
            match &t.webhook_secret {
                None => {
                    return Err(invalid(
                        "tickets.webhook_secret",
                        "is required with tickets.webhook_url (it signs every delivery)",
                    ));
                }
                Some(secret) if secret.len() < 16 => {
                    return Err(invalid(
                        "tickets.webhook_secret",
                        "must be at least 16 bytes",
                    ));
                }
                Some(_) => {}
            }
        }
        if !(1..=100).contains(&t.webhook_max_attempts) {
            return Err(invalid(
                "tickets.webhook_max_attempts",
                "must be between 1 and 100",
            ));
        }
        if t.webhook_backoff_ms == 0 {
            return Err(invalid(
                "tickets.webhook_backoff_ms",
                "must be at least 1 ms",
            ));
        }
        if t.webhook_backoff_max_secs == 0
            || u128::from(t.webhook_backoff_max_secs) * 1000 < u128::from(t.webhook_backoff_ms)
        {
            return Err(invalid(
                "tickets.webhook_backoff_max_secs",
                "must be at least 1 second and at least tickets.webhook_backoff_ms",
            ));
        }
        if !(1..=300).contains(&t.webhook_timeout_secs) {
            return Err(invalid(
                "tickets.webhook_timeout_secs",
                "must be between 1 and 300 seconds",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;

    fn agent() -> AgentConfig {
        AgentConfig {
            id: "a1".into(),
            name: "Ann".into(),
            token_sha256: None,
            token: Some("secret-token".into()),
            skills: vec!["trading".into()],
            languages: vec!["en".into()],
            capacity: 3,
            role: AgentRole::Agent,
        }
    }

    fn problem(config: &Config) -> String {
        match config.validate() {
            Err(e) => e.to_string(),
            Ok(()) => String::from("accepted"),
        }
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact_url("redis://app:s3cret@10.0.0.1:6379/0"),
            "redis://app:<redacted>@10.0.0.1:6379/0"
        );
        assert_eq!(
            redact_url("redis://:s3cret@host/"),
            "redis://:<redacted>@host/"
        );
        assert_eq!(
            redact_url("redis://token@host/"),
            "redis://<redacted>@host/"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
    }

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let mut c = Config::default();
        c.timeouts.hello_secs = 0;
        assert!(problem(&c).contains("timeouts.hello_secs"));

        let mut c = Config::default();
        c.agents = vec![agent(), agent()];
        assert!(problem(&c).contains("agents[1].id"));

        let mut c = Config::default();
        let mut a = agent();
        a.skills = vec!["astrology".into()];
        c.agents = vec![a];
        assert!(problem(&c).contains("agents[0].skills"), "{}", problem(&c));

        let mut c = Config::default();
        let mut a = agent();
        a.capacity = 0;
        c.agents = vec![a];
        assert!(problem(&c).contains("agents[0].capacity"));

        let mut c = Config::default();
        c.identity_secret = Some("short".into());
        assert!(problem(&c).contains("identity_secret"));

        let mut c = Config::default();
        c.routing.fallback_language = "English".into();
        assert!(problem(&c).contains("routing.fallback_language"));

        let mut c = Config::default();
        c.routing.topics.push("trading".into());
        assert!(problem(&c).contains("routing.topics[7]"));

        let mut c = Config::default();
        c.limits.customer_frame_burst = 0;
        assert!(problem(&c).contains("limits.customer_frame_burst"));

        let mut c = Config::default();
        c.timeouts.first_reply_secs = Some(0);
        assert!(problem(&c).contains("timeouts.first_reply_secs"));

        let mut c = Config::default();
        c.redis_url = Some("localhost:6379".into());
        assert!(problem(&c).contains("redis_url"));

        let mut c = Config::default();
        c.redis_url = Some("rediss://example:6380".into());
        assert_eq!(problem(&c), "accepted");

        let mut c = Config::default();
        c.redis_url = Some("redis://example:6379".into());
        c.redis.tls_ca_file = Some("/etc/hostname".into());
        assert!(problem(&c).contains("redis.tls_ca_file"), "{}", problem(&c));

        let mut c = Config::default();
        c.redis_url = Some("rediss://example:6380".into());
        c.redis.tls_ca_file = Some("/nonexistent/ca.pem".into());
        assert!(
            problem(&c).contains("cannot read /nonexistent/ca.pem"),
            "{}",
            problem(&c)
        );

        let mut c = Config::default();
        c.redis_url = Some("rediss://example:6380".into());
        c.redis.tls_ca_file = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml").into());
        assert!(
            problem(&c).contains("no PEM certificate"),
            "{}",
            problem(&c)
        );

        let mut c = Config::default();
        c.redis.prefix = "two words".into();
        assert!(problem(&c).contains("redis.prefix"));
    }

    #[test]
    fn bad_security_settings_name_their_key() {
        type Breaks = fn(&mut Config);
        let cases: [(Breaks, &str); 9] = [
            (
                |c| c.security.allowed_origins = vec!["www.exchange.com".into()],
                "security.allowed_origins[0]",
            ),
            (
                |c| c.security.allowed_origins = vec!["https://x.com/path".into()],
                "security.allowed_origins[0]",
            ),
            (
                |c| c.security.trusted_proxies = vec!["10.0.0.0/33".into()],
                "security.trusted_proxies[0]",
            ),
            (
                |c| c.security.trusted_proxies = vec!["lb.internal".into()],
                "security.trusted_proxies[0]",
            ),
            (
                |c| c.security.auth_failure_burst = 0,
                "security.auth_failure_burst",
            ),
            (
                |c| c.security.auth_failure_refill_secs = 0,
                "security.auth_failure_refill_secs",
            ),
            (
                |c| c.security.max_connections_per_address = 0,
                "security.max_connections_per_address",
            ),
            (
                |c| c.security.header_read_secs = 0,
                "security.header_read_secs",
            ),
            (
                |c| c.security.header_read_secs = 301,
                "security.header_read_secs",
            ),
        ];
        for (breaks, key) in cases {
            let mut c = Config::default();
            breaks(&mut c);
            assert!(problem(&c).contains(key), "{key}: {}", problem(&c));
        }
        let mut c = Config::default();
        c.security.allowed_origins = vec![
            "https://www.exchange.com".into(),
            "http://localhost:8080".into(),
        ];
        c.security.trusted_proxies = vec!["10.0.0.0/8".into(), "::1".into(), "127.0.0.1".into()];
        assert_eq!(problem(&c), "accepted");
    }

    #[test]
    fn agent_tokens_are_hashed_or_plain_never_both_nor_neither() {
        let with = |token: Option<&str>, hash: Option<&str>| {
            let mut c = Config::default();
            let mut a = agent();
            a.token = token.map(Into::into);
            a.token_sha256 = hash.map(Into::into);
            c.agents = vec![a];
            problem(&c)
        };
        let hash = crate::roster::hex_digest("secret-token");
        assert_eq!(with(None, Some(&hash)), "accepted");
        assert_eq!(with(None, Some(&hash.to_uppercase())), "accepted");
        assert!(with(None, None).contains("agents[0].token_sha256"));
        assert!(with(Some("secret-token"), Some(&hash)).contains("not both"));
        assert!(with(None, Some("abc123")).contains("64 hex digits"));
        assert!(with(None, Some(&"g".repeat(64))).contains("64 hex digits"));
        // The same secret twice, once hashed and once plain, is one token for two agents.
        let mut c = Config::default();
        let mut a = agent();
        let mut b = agent();
        b.id = "a2".into();
        a.token = None;
        a.token_sha256 = Some(hash);
        c.agents = vec![a, b];
        assert!(
            problem(&c).contains("`agents[1].token`: is used by two agents"),
            "{}",
            problem(&c)
        );
        let printed = toml::to_string(&c.redacted()).unwrap_or_default();
        assert!(
            !printed.contains("secret-token")
                && !printed.contains(&crate::roster::hex_digest("secret-token")),
            "{printed}"
        );
    }

    #[test]
    fn contrast_with_white_follows_wcag() {
        let ratio = |c: &str| contrast_with_white(c).map(|r| (r * 100.0).round() / 100.0);
        assert_eq!(ratio("#000000"), Some(21.0));
        assert_eq!(ratio("#ffffff"), Some(1.0));
        assert_eq!(ratio("#FFFFFF"), Some(1.0));
        // The darkest grey that still passes AA with white text, and the next lighter.
        assert!(contrast_with_white("#767676").unwrap() >= 4.5);
        assert!(contrast_with_white("#777777").unwrap() < 4.5);
        assert!(contrast_with_white(&WidgetSettings::default().accent_color).unwrap() >= 4.5);
        for bad in [
            "red", "#fff", "0b57d0", "#0b57d", "#0b57d0f", "#gg0000", "#+1+1+1",
        ] {
            assert_eq!(contrast_with_white(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_widget_settings_name_their_key() {
        let mut c = Config::default();
        c.widget.title = "x".repeat(81);
        assert!(problem(&c).contains("widget.title"), "{}", problem(&c));
        c.widget.title = "é".repeat(80);
        assert_eq!(problem(&c), "accepted");

        let mut c = Config::default();
        c.widget.accent_color = "#ffff00".into();
        assert!(problem(&c).contains("1.07:1"), "{}", problem(&c));

        let mut c = Config::default();
        c.widget.topic_labels.insert(
            "trading".into(),
            [("EN".to_string(), "Trade".to_string())].into(),
        );
        assert!(
            problem(&c).contains("widget.topic_labels.trading.EN"),
            "{}",
            problem(&c)
        );
    }
}
