//! Scenario files: what a run simulates. TOML, every key documented in
//! `loadtest/scenarios/README.md`; the built-in scenarios ship in
//! `loadtest/scenarios/` and are compiled into the binary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (`rally`).
    pub name: String,
    /// What it shows, for the report.
    #[serde(default)]
    pub description: String,
    /// Seed of the random choices (mix, think times); same seed, same choices.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Customer arrivals over time, in order.
    pub phases: Vec<Phase>,
    /// The agent pool.
    pub agents: Agents,
    /// The customer mix.
    pub customers: Customers,
    /// Where to connect.
    #[serde(default)]
    pub targets: Targets,
    /// Commands run at set times (kill a node, restart Redis).
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Open idle connections instead of chats (`idle-capacity`).
    #[serde(default)]
    pub idle: Option<Idle>,
    /// Every customer of one target reconnects at once (`reconnect-storm`).
    #[serde(default)]
    pub storm: Option<Storm>,
}

fn default_seed() -> u64 {
    1
}

/// How the arrival rate moves within a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// `rate` throughout.
    Steady,
    /// From `rate` to `to_rate`, linearly.
    Ramp,
    /// `rate`, then `to_rate` from `step_at_secs` on.
    Step,
}

/// One phase of arrivals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Name shown in progress and reports (`baseline`, `ramp`, `hold`).
    pub name: String,
    /// Length, seconds (multiplied by `--scale`).
    pub duration_secs: f64,
    /// Customer arrivals per second at the start.
    pub rate: f64,
    /// `steady` (default), `ramp` or `step`.
    #[serde(default = "default_shape")]
    pub shape: Shape,
    /// Rate at the end (`ramp`) or after the step (`step`).
    #[serde(default)]
    pub to_rate: Option<f64>,
    /// Seconds into the phase when a `step` happens (multiplied by `--scale`).
    #[serde(default)]
    pub step_at_secs: Option<f64>,
}

fn default_shape() -> Shape {
    Shape::Steady
}

/// A duration drawn per use: uniform between `min` and `max` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Least.
    pub min: f64,
    /// Most.
    pub max: f64,
}

/// The agent pool: `count` agents, ids `<id_prefix><n>`, tokens
/// `<token_prefix><n>` (the server's roster must have them:
/// `switchboard-loadtest roster <scenario>` prints it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agents {
    /// How many.
    pub count: u32,
    /// Chats at once each.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// Topics each agent serves (every agent all of them).
    pub skills: Vec<String>,
    /// Languages each speaks.
    pub languages: Vec<String>,
    /// Time to answer a customer message, ms (multiplied by `--scale`).
    pub think_ms: Range,
    /// Resolve the chat after this many customer messages answered.
    pub resolve_after: u32,
    /// Agent id prefix.
    #[serde(default = "default_id_prefix")]
    pub id_prefix: String,
    /// Agent token prefix.
    #[serde(default = "default_token_prefix")]
    pub token_prefix: String,
}

fn default_capacity() -> u32 {
    3
}

fn default_id_prefix() -> String {
    "lt-agent-".into()
}

fn default_token_prefix() -> String {
    "lt-token-".into()
}

/// The customer mix. Weights are relative (`{trading = 3, earn = 1}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customers {
    /// Topic → weight.
    pub topics: BTreeMap<String, u32>,
    /// Language → weight.
    pub languages: BTreeMap<String, u32>,
    /// Share of verified customers with `tier = "vip"` (needs `identity_secret`).
    #[serde(default)]
    pub vip_share: f64,
    /// Share whose first message holds an urgent keyword (`urgent_keyword`).
    #[serde(default)]
    pub urgent_share: f64,
    /// A word of the server's `routing.urgent_keywords`.
    #[serde(default = "default_urgent_keyword")]
    pub urgent_keyword: String,
    /// The server's `identity_secret`, to sign vip identity tokens.
    #[serde(default)]
    pub identity_secret: Option<String>,
    /// Messages each customer sends (the first goes in `start`).
    pub messages: Range,
    /// Time between a reply and the customer's next message, ms (× `--scale`).
    pub think_ms: Range,
    /// Seconds a customer waits in the queue before closing (× `--scale`).
    pub patience_secs: Range,
    /// Share who open a second tab mid-chat.
    #[serde(default)]
    pub second_tab_share: f64,
    /// Share who drop their connection mid-chat and resume.
    #[serde(default)]
    pub reconnect_share: f64,
    /// Share who send a repeated `start` mid-chat.
    #[serde(default)]
    pub repeat_start_share: f64,
}

fn default_urgent_keyword() -> String {
    "hacked".into()
}

/// Where clients connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Node base URLs (`ws://127.0.0.1:8080`), used in turn; `--target`
    /// overrides them. Loopback only.
    #[serde(default = "default_urls")]
    pub urls: Vec<String>,
    /// Source addresses to spread connections over: 127.0.0.1 up to
    /// 127.0.0.N (about 28k ports each).
    #[serde(default = "default_sources")]
    pub source_addresses: u32,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            urls: default_urls(),
            source_addresses: default_sources(),
        }
    }
}

fn default_urls() -> Vec<String> {
    vec!["ws://127.0.0.1:8080".into()]
}

fn default_sources() -> u32 {
    4
}

/// A command run at a set time of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Seconds into the run (× `--scale`).
    pub at_secs: f64,
    /// Shell command (`sh -c`); `$SERVER_PID_0`, `$SERVER_PID_1` … name the
    /// `--server-pid` processes.
    pub run: String,
}

/// `idle-capacity`: open connections past `hello` and hold them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Idle {
    /// Connections to open.
    pub connections: u32,
    /// Opened per second.
    pub open_rate: f64,
    /// Seconds to hold them all (× `--scale`).
    pub hold_secs: f64,
}

/// `reconnect-storm`: at `at_secs`, every customer connected to the target
/// `target` (index into the URLs) reconnects at once, to the other targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storm {
    /// Seconds into the run (× `--scale`).
    pub at_secs: f64,
    /// Which target's customers.
    pub target: usize,
}
