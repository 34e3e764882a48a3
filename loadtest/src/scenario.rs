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
    /// The `--scale` that makes this scenario last about 30 seconds, for CI
    /// runs; unset: none documented. Refers to the durations as written in
    /// the file: [`Scenario::scaled`] divides it by its factor.
    #[serde(default)]
    pub ci_scale: Option<f64>,
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
    /// The first source address's last byte: 127.0.0.`source_first` up to
    /// 127.0.0.`source_first + source_addresses - 1`. Load-tester processes
    /// sharing a machine each take their own range, since a source address's
    /// ~28k ports are shared by every process using it. Default 1.
    #[serde(default = "default_source_first")]
    pub source_first: u32,
    /// Spread clients over the URLs in turn (default), or start every client
    /// on the first URL and keep the others for when it fails (all customers
    /// of one node, to kill it).
    #[serde(default = "default_spread")]
    pub spread: bool,
}

fn default_spread() -> bool {
    true
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            urls: default_urls(),
            source_addresses: default_sources(),
            source_first: default_source_first(),
            spread: default_spread(),
        }
    }
}

fn default_source_first() -> u32 {
    1
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

// ---------------------------------------------------------------------------
// Built-in scenarios, loading, errors
// ---------------------------------------------------------------------------

/// The built-in scenarios, by name: the files of `loadtest/scenarios/`.
const BUILTIN_FILES: &[(&str, &str)] = &[
    ("steady", include_str!("../scenarios/steady.toml")),
    ("rally", include_str!("../scenarios/rally.toml")),
    ("spike", include_str!("../scenarios/spike.toml")),
    (
        "reconnect-storm",
        include_str!("../scenarios/reconnect-storm.toml"),
    ),
    (
        "idle-capacity",
        include_str!("../scenarios/idle-capacity.toml"),
    ),
    ("soak", include_str!("../scenarios/soak.toml")),
];

/// Most agents a scenario may have.
pub const MAX_AGENTS: u32 = 20_000;

/// Connections one source address can hold to one target (the Linux
/// ephemeral port range, 32768-60999, rounded down).
pub const PORTS_PER_SOURCE: u32 = 28_000;

/// A scenario that cannot be loaded or breaks a rule. The message names where
/// (file, line), the key (`phases[0].to_rate`) and the problem.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Neither a built-in scenario nor an existing file.
    #[error(
        "no scenario `{name}`: not a built-in one ({}) and no such file",
        BUILTIN_NAMES.join(", ")
    )]
    NotFound {
        /// What was asked for.
        name: String,
    },
    /// The file exists but cannot be read.
    #[error("{origin}: cannot read the file: {source}")]
    Read {
        /// The path.
        origin: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML.
    #[error("{origin}, line {line}: TOML syntax error: {problem}")]
    Syntax {
        /// The file or built-in scenario.
        origin: String,
        /// 1-based line of the error.
        line: usize,
        /// What the parser expected, and the line's text.
        problem: String,
    },
    /// A key is unknown, missing, of the wrong type, or breaks a rule.
    #[error("{origin}{}: `{key}`: {problem}", line_suffix(*.line))]
    Invalid {
        /// The file, built-in scenario, or `scenario `<name>`` when checked
        /// after loading.
        origin: String,
        /// 1-based line of the key (or of its table), when known.
        line: Option<usize>,
        /// Dotted path of the key: `phases[2].duration_secs`, `agents.think_ms`.
        key: String,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// A `--scale` that is not a finite number > 0.
    #[error("--scale {scale}: must be a finite number > 0")]
    Scale {
        /// The factor given.
        scale: f64,
    },
}

impl ScenarioError {
    /// The key an [`Invalid`](Self::Invalid) error names.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The 1-based line the error is on, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Syntax { line, .. } => Some(*line),
            Self::Invalid { line, .. } => *line,
            _ => None,
        }
    }
}

fn line_suffix(line: Option<usize>) -> String {
    match line {
        Some(line) => format!(", line {line}"),
        None => String::new(),
    }
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        origin: String::new(),
        line: None,
        key: key.into(),
        problem: problem.into(),
    }
}

/// The names of the built-in scenarios, in [`BUILTIN_FILES`] order.
const BUILTIN_NAMES: &[&str] = &[
    "steady",
    "rally",
    "spike",
    "reconnect-storm",
    "idle-capacity",
    "soak",
];

impl Scenario {
    /// Names of the built-in scenarios, for [`Scenario::builtin`] and
    /// [`Scenario::load`].
    pub const BUILTIN: &'static [&'static str] = BUILTIN_NAMES;

    /// The TOML text of a built-in scenario.
    pub fn builtin(name: &str) -> Option<&'static str> {
        BUILTIN_FILES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| *text)
    }

    /// A built-in scenario by name (`rally`), else the file at that path;
    /// parsed and validated.
    pub fn load(path_or_builtin_name: &str) -> Result<Self, ScenarioError> {
        if let Some(text) = Self::builtin(path_or_builtin_name) {
            return Self::parse(text, &format!("built-in scenario `{path_or_builtin_name}`"));
        }
        let path = std::path::Path::new(path_or_builtin_name);
        if !path.is_file() {
            return Err(ScenarioError::NotFound {
                name: path_or_builtin_name.to_owned(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            origin: path_or_builtin_name.to_owned(),
            source,
        })?;
        Self::parse(&text, path_or_builtin_name)
    }

    /// Parse and [validate](Self::validate) a scenario; `origin` (a path, or
    /// `built-in scenario `rally``) starts every error message.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let scenario: Self = match toml::from_str(text) {
            Ok(scenario) => scenario,
            Err(err) => return Err(describe_toml_error(text, origin, &err)),
        };
        match scenario.validate() {
            Ok(()) => Ok(scenario),
            Err(ScenarioError::Invalid {
                key, problem, line, ..
            }) => Err(ScenarioError::Invalid {
                origin: origin.to_owned(),
                line: line.or_else(|| line_of_key(text, &key)),
                key,
                problem,
            }),
            Err(other) => Err(other),
        }
    }

    /// Check every rule the types do not express; the error names the key.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.validate_inner().map_err(|err| match err {
            ScenarioError::Invalid {
                line, key, problem, ..
            } => ScenarioError::Invalid {
                origin: format!("scenario `{}`", self.name),
                line,
                key,
                problem,
            },
            other => other,
        })
    }

    fn validate_inner(&self) -> Result<(), ScenarioError> {
        if self.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if let Some(scale) = self.ci_scale
            && !(scale.is_finite() && scale > 0.0)
        {
            return Err(invalid("ci_scale", "must be a finite number > 0"));
        }
        if self.phases.is_empty() && self.idle.is_none() {
            return Err(invalid(
                "phases",
                "must have at least one phase (only an [idle] scenario may have none)",
            ));
        }
        for (i, phase) in self.phases.iter().enumerate() {
            phase.validate(&format!("phases[{i}]"))?;
        }
        self.agents.validate()?;
        self.customers.validate()?;
        self.targets.validate()?;
        let end = self.duration_secs();
        for (i, fault) in self.faults.iter().enumerate() {
            check_time(&format!("faults[{i}].at_secs"), fault.at_secs, end)?;
            if fault.run.trim().is_empty() {
                return Err(invalid(
                    format!("faults[{i}].run"),
                    "must be a shell command, not empty",
                ));
            }
        }
        if let Some(idle) = &self.idle {
            if idle.connections == 0 {
                return Err(invalid("idle.connections", "must be at least 1"));
            }
            if !(idle.open_rate.is_finite() && idle.open_rate > 0.0) {
                return Err(invalid(
                    "idle.open_rate",
                    "must be a finite number > 0 (connections opened per second)",
                ));
            }
            check_non_negative("idle.hold_secs", idle.hold_secs)?;
            let room = u64::from(self.targets.source_addresses) * u64::from(PORTS_PER_SOURCE);
            if u64::from(idle.connections) > room {
                return Err(invalid(
                    "idle.connections",
                    format!(
                        "{} connections need more than targets.source_addresses = {} \
                         (about {PORTS_PER_SOURCE} ports each): raise it",
                        idle.connections, self.targets.source_addresses
                    ),
                ));
            }
        }
        if let Some(storm) = &self.storm {
            check_time("storm.at_secs", storm.at_secs, end)?;
            if storm.target >= self.targets.urls.len() {
                return Err(invalid(
                    "storm.target",
                    format!(
                        "must be an index into targets.urls, below {} (it is {})",
                        self.targets.urls.len(),
                        storm.target
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Check a `--scale` factor: a finite number > 0.
    pub fn check_scale(scale: f64) -> Result<(), ScenarioError> {
        if scale.is_finite() && scale > 0.0 {
            Ok(())
        } else {
            Err(ScenarioError::Scale { scale })
        }
    }

    /// The same scenario with every duration multiplied by `scale`: phase
    /// durations and step times, think times, patience, fault and storm
    /// times, the idle hold. Rates and counts stay. A `scale` that
    /// [`check_scale`](Self::check_scale) refuses leaves the scenario as it is.
    pub fn scaled(&self, scale: f64) -> Self {
        let mut out = self.clone();
        if Self::check_scale(scale).is_err() {
            return out;
        }
        for phase in &mut out.phases {
            phase.duration_secs *= scale;
            if let Some(at) = &mut phase.step_at_secs {
                *at *= scale;
            }
        }
        out.agents.think_ms = out.agents.think_ms.scaled(scale);
        out.customers.think_ms = out.customers.think_ms.scaled(scale);
        out.customers.patience_secs = out.customers.patience_secs.scaled(scale);
        for fault in &mut out.faults {
            fault.at_secs *= scale;
        }
        if let Some(idle) = &mut out.idle {
            idle.hold_secs *= scale;
        }
        if let Some(storm) = &mut out.storm {
            storm.at_secs *= scale;
        }
        out.ci_scale = self.ci_scale.map(|ci| ci / scale);
        out
    }

    /// Length of the run, seconds: the phases one after another, or, with
    /// `[idle]`, the time to open the connections plus the hold if longer.
    pub fn duration_secs(&self) -> f64 {
        let phases: f64 = self.phases.iter().map(|p| p.duration_secs).sum();
        match &self.idle {
            Some(idle) => phases.max(idle.open_secs() + idle.hold_secs),
            None => phases,
        }
    }

    /// The phase running `t_secs` into the run, with its start (seconds).
    pub fn phase_span_at(&self, t_secs: f64) -> Option<(usize, f64, &Phase)> {
        if t_secs.is_nan() || t_secs < 0.0 {
            return None;
        }
        let mut start = 0.0;
        for (i, phase) in self.phases.iter().enumerate() {
            let end = start + phase.duration_secs;
            if t_secs < end {
                return Some((i, start, phase));
            }
            start = end;
        }
        None
    }

    /// The phase running `t_secs` into the run; `None` before 0 and after the
    /// last phase.
    pub fn phase_at(&self, t_secs: f64) -> Option<&Phase> {
        self.phase_span_at(t_secs).map(|(_, _, phase)| phase)
    }

    /// Customer arrivals per second `t_secs` into the run; 0 outside the
    /// phases.
    pub fn rate_at(&self, t_secs: f64) -> f64 {
        match self.phase_span_at(t_secs) {
            Some((_, start, phase)) => phase.rate_at(t_secs - start),
            None => 0.0,
        }
    }

    /// The `[[agents]]` entries the server's configuration needs for this
    /// scenario's agent pool, to paste into it.
    pub fn roster_toml(&self) -> String {
        use std::fmt::Write as _;
        let a = &self.agents;
        let skills = toml_strings(&a.skills);
        let languages = toml_strings(&a.languages);
        let mut out = format!(
            "# switchboard roster for the load-test scenario `{}`: {} agents.\n\
             # Paste into the server configuration; every skill must be one of\n\
             # routing.topics.\n",
            self.name.replace('\n', " "),
            a.count
        );
        for n in 0..a.count {
            // Writing to a String cannot fail.
            let _ = write!(
                out,
                "\n[[agents]]\nid = {}\nname = {}\ntoken = {}\nskills = {skills}\n\
                 languages = {languages}\ncapacity = {}\n",
                toml_string(&format!("{}{n}", a.id_prefix)),
                toml_string(&format!("Load agent {n}")),
                toml_string(&format!("{}{n}", a.token_prefix)),
                a.capacity,
            );
        }
        out.push_str(LOAD_SECURITY);
        out
    }
}

/// What a server under load from one machine needs of `[security]`: the load
/// tester opens thousands of connections from each 127.0.0.x address, far
/// past the per-address cap that protects a node on the internet.
pub const LOAD_SECURITY: &str = "\n# The load tester opens thousands of connections from each 127.0.0.x\n\
     # address: lift the per-address cap (merge into an existing [security] table).\n\
     [security]\nmax_connections_per_address = 1000000\n";

impl Phase {
    /// Arrivals per second `offset_secs` into this phase.
    pub fn rate_at(&self, offset_secs: f64) -> f64 {
        match self.shape {
            Shape::Steady => self.rate,
            Shape::Ramp => {
                let to = self.to_rate.unwrap_or(self.rate);
                if self.duration_secs > 0.0 {
                    let f = (offset_secs / self.duration_secs).clamp(0.0, 1.0);
                    self.rate + (to - self.rate) * f
                } else {
                    to
                }
            }
            Shape::Step => match (self.step_at_secs, self.to_rate) {
                (Some(at), Some(to)) if offset_secs >= at => to,
                _ => self.rate,
            },
        }
    }

    fn validate(&self, at: &str) -> Result<(), ScenarioError> {
        let key = |field: &str| format!("{at}.{field}");
        if self.name.trim().is_empty() {
            return Err(invalid(key("name"), "must not be empty"));
        }
        if !(self.duration_secs.is_finite() && self.duration_secs > 0.0) {
            return Err(invalid(
                key("duration_secs"),
                "must be > 0 (a finite number of seconds)",
            ));
        }
        check_rate(&key("rate"), self.rate)?;
        let shape = match self.shape {
            Shape::Steady => "steady",
            Shape::Ramp => "ramp",
            Shape::Step => "step",
        };
        match (self.shape, self.to_rate) {
            (Shape::Ramp | Shape::Step, None) => {
                return Err(invalid(
                    key("to_rate"),
                    format!("required with shape = \"{shape}\""),
                ));
            }
            (Shape::Steady, Some(_)) => {
                return Err(invalid(
                    key("to_rate"),
                    "only used with shape = \"ramp\" or \"step\" (this phase is steady: \
                     set shape, or remove to_rate)",
                ));
            }
            (_, Some(to)) => check_rate(&key("to_rate"), to)?,
            (Shape::Steady, None) => {}
        }
        match (self.shape, self.step_at_secs) {
            (Shape::Step, None) => {
                return Err(invalid(
                    key("step_at_secs"),
                    "required with shape = \"step\"",
                ));
            }
            (Shape::Step, Some(step)) => {
                if !(step.is_finite() && step >= 0.0 && step < self.duration_secs) {
                    return Err(invalid(
                        key("step_at_secs"),
                        format!(
                            "must be within the phase: from 0 to below duration_secs ({})",
                            self.duration_secs
                        ),
                    ));
                }
            }
            (_, Some(_)) => {
                return Err(invalid(
                    key("step_at_secs"),
                    format!("only used with shape = \"step\" (this phase is {shape})"),
                ));
            }
            (_, None) => {}
        }
        Ok(())
    }
}

impl Range {
    fn scaled(self, scale: f64) -> Self {
        Self {
            min: self.min * scale,
            max: self.max * scale,
        }
    }

    fn validate(&self, at: &str) -> Result<(), ScenarioError> {
        for (field, value) in [("min", self.min), ("max", self.max)] {
            if !value.is_finite() {
                return Err(invalid(format!("{at}.{field}"), "must be a finite number"));
            }
        }
        if self.min < 0.0 {
            return Err(invalid(format!("{at}.min"), "must be ≥ 0"));
        }
        if self.max < self.min {
            return Err(invalid(
                at,
                format!("min must be ≤ max (min = {}, max = {})", self.min, self.max),
            ));
        }
        Ok(())
    }
}

impl Agents {
    fn validate(&self) -> Result<(), ScenarioError> {
        if self.count > MAX_AGENTS {
            return Err(invalid(
                "agents.count",
                format!("must be between 0 and {MAX_AGENTS} (it is {})", self.count),
            ));
        }
        if !(1..=100).contains(&self.capacity) {
            return Err(invalid(
                "agents.capacity",
                format!(
                    "must be between 1 and 100, as the server requires (it is {})",
                    self.capacity
                ),
            ));
        }
        check_names(
            "agents.skills",
            &self.skills,
            "topic",
            is_topic,
            "1-64 characters of a-z, 0-9 and _",
        )?;
        check_names(
            "agents.languages",
            &self.languages,
            "language",
            is_language,
            "2-8 lowercase letters, e.g. `en`",
        )?;
        self.think_ms.validate("agents.think_ms")?;
        if self.resolve_after == 0 {
            return Err(invalid("agents.resolve_after", "must be ≥ 1"));
        }
        // Ids of the server's roster are 1-64 characters: room for 5 digits.
        if self.id_prefix.is_empty() || self.id_prefix.len() > 59 {
            return Err(invalid(
                "agents.id_prefix",
                "must be 1-59 bytes (agent ids are at most 64, with the number)",
            ));
        }
        if self.token_prefix.len() < 8 {
            return Err(invalid(
                "agents.token_prefix",
                "must be at least 8 bytes (the server requires tokens of 8 bytes or more)",
            ));
        }
        Ok(())
    }
}

impl Customers {
    fn validate(&self) -> Result<(), ScenarioError> {
        check_weights(
            "customers.topics",
            &self.topics,
            is_topic,
            "a topic (1-64 characters of a-z, 0-9 and _)",
        )?;
        check_weights(
            "customers.languages",
            &self.languages,
            is_language,
            "a language code (2-8 lowercase letters)",
        )?;
        for (key, share) in [
            ("customers.vip_share", self.vip_share),
            ("customers.urgent_share", self.urgent_share),
            ("customers.second_tab_share", self.second_tab_share),
            ("customers.reconnect_share", self.reconnect_share),
            ("customers.repeat_start_share", self.repeat_start_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(invalid(
                    key,
                    format!("must be a share between 0 and 1 (it is {share})"),
                ));
            }
        }
        if let Some(secret) = &self.identity_secret
            && secret.len() < 16
        {
            return Err(invalid(
                "customers.identity_secret",
                "must be at least 16 bytes (the server's identity_secret)",
            ));
        }
        if self.vip_share > 0.0 && self.identity_secret.is_none() {
            return Err(invalid(
                "customers.vip_share",
                "> 0 requires customers.identity_secret (the server's identity_secret, \
                 at least 16 bytes) to sign the vip identity tokens",
            ));
        }
        if self.urgent_share > 0.0 && self.urgent_keyword.trim().is_empty() {
            return Err(invalid(
                "customers.urgent_keyword",
                "must not be empty when customers.urgent_share > 0 \
                 (one of the server's routing.urgent_keywords)",
            ));
        }
        self.messages.validate("customers.messages")?;
        if self.messages.min < 1.0 {
            return Err(invalid(
                "customers.messages.min",
                "must be ≥ 1 (the first message goes in `start`)",
            ));
        }
        for (field, value) in [("min", self.messages.min), ("max", self.messages.max)] {
            if value.fract() != 0.0 {
                return Err(invalid(
                    format!("customers.messages.{field}"),
                    format!("must be a whole number of messages (it is {value})"),
                ));
            }
        }
        self.think_ms.validate("customers.think_ms")?;
        self.patience_secs.validate("customers.patience_secs")?;
        Ok(())
    }
}

impl Targets {
    fn validate(&self) -> Result<(), ScenarioError> {
        if self.urls.is_empty() {
            return Err(invalid("targets.urls", "must name at least one node URL"));
        }
        for (i, url) in self.urls.iter().enumerate() {
            Self::check_url(url)
                .map_err(|problem| invalid(format!("targets.urls[{i}]"), problem))?;
        }
        if !(1..=254).contains(&self.source_addresses) {
            return Err(invalid(
                "targets.source_addresses",
                format!(
                    "must be between 1 and 254 (127.0.0.1 to 127.0.0.254; it is {})",
                    self.source_addresses
                ),
            ));
        }
        let last = self.source_first.saturating_add(self.source_addresses - 1);
        if self.source_first == 0 || last > 254 {
            return Err(invalid(
                "targets.source_first",
                format!(
                    "must be 1 or more, with source_first + source_addresses - 1 at most 254 \
                     (127.0.0.{}..127.0.0.{last} is not a loopback host range)",
                    self.source_first
                ),
            ));
        }
        Ok(())
    }

    /// Check one target URL (also for `--target`): `ws://` or `wss://` with a
    /// loopback host (127.0.0.0/8, `::1`, `localhost`). Load only ever goes
    /// to the local machine. The error says what is wrong.
    pub fn check_url(url: &str) -> Result<(), String> {
        let rest = url
            .strip_prefix("ws://")
            .or_else(|| url.strip_prefix("wss://"))
            .ok_or_else(|| format!("`{url}` must start with ws:// or wss://"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(format!("`{url}`: user information is not allowed"));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("`{url}`: `[` without `]` in the host"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("`{url}`: expected `:port` after `]`"))?,
                ),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("`{url}` has no host"));
        }
        if let Some(port) = port
            && port.parse::<u16>().is_err()
        {
            return Err(format!(
                "`{url}`: port `{port}` is not a number from 0 to 65535"
            ));
        }
        let loopback = host.eq_ignore_ascii_case("localhost")
            || match host.parse::<std::net::IpAddr>() {
                Ok(ip) => ip.is_loopback(),
                Err(_) => false,
            };
        if loopback {
            Ok(())
        } else {
            Err(format!(
                "host `{host}` is not loopback: load must only ever target this machine \
                 (127.0.0.0/8, ::1 or localhost)"
            ))
        }
    }
}

impl Idle {
    /// Seconds to open every connection at `open_rate` (not scaled).
    pub fn open_secs(&self) -> f64 {
        if self.open_rate > 0.0 {
            f64::from(self.connections) / self.open_rate
        } else {
            0.0
        }
    }
}

fn check_rate(key: &str, rate: f64) -> Result<(), ScenarioError> {
    if rate.is_finite() && rate >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("must be a finite number ≥ 0 (arrivals per second; it is {rate})"),
        ))
    }
}

fn check_non_negative(key: &str, value: f64) -> Result<(), ScenarioError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("must be a finite number ≥ 0 (it is {value})"),
        ))
    }
}

fn check_time(key: &str, at: f64, end: f64) -> Result<(), ScenarioError> {
    check_non_negative(key, at)?;
    if at > end {
        return Err(invalid(
            key,
            format!("{at} s is after the end of the run ({end} s): it would never happen"),
        ));
    }
    Ok(())
}

fn is_topic(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_language(s: &str) -> bool {
    (2..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase())
}

fn check_names(
    key: &str,
    names: &[String],
    what: &str,
    valid: fn(&str) -> bool,
    rule: &str,
) -> Result<(), ScenarioError> {
    if names.is_empty() {
        return Err(invalid(key, format!("must name at least one {what}")));
    }
    for (i, name) in names.iter().enumerate() {
        if !valid(name) {
            return Err(invalid(
                format!("{key}[{i}]"),
                format!("`{name}` is not a {what} ({rule})"),
            ));
        }
        if names[..i].contains(name) {
            return Err(invalid(
                format!("{key}[{i}]"),
                format!("`{name}` is listed twice"),
            ));
        }
    }
    Ok(())
}

fn check_weights(
    key: &str,
    weights: &BTreeMap<String, u32>,
    valid: fn(&str) -> bool,
    rule: &str,
) -> Result<(), ScenarioError> {
    if weights.is_empty() {
        return Err(invalid(key, "must have at least one entry (name = weight)"));
    }
    if let Some(name) = weights.keys().find(|k| !valid(k)) {
        return Err(invalid(
            format!("{key}.{}", path_key(name)),
            format!("`{name}` is not {rule}"),
        ));
    }
    if weights.values().all(|w| *w == 0) {
        return Err(invalid(key, "at least one weight must be > 0"));
    }
    Ok(())
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn toml_strings(items: &[String]) -> String {
    toml::Value::Array(items.iter().cloned().map(toml::Value::String).collect()).to_string()
}

// ---------------------------------------------------------------------------
// TOML errors: from a byte span to a key path and a line
// ---------------------------------------------------------------------------

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// A key as written in a dotted path: bare when it can be, else quoted.
fn path_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        path_key(key)
    } else {
        format!("{parent}.{}", path_key(key))
    }
}

/// A place in the parsed document: a key, or a value (tables included).
struct Place {
    path: String,
    span: std::ops::Range<usize>,
    depth: usize,
    is_table: bool,
}

fn collect_places(value: &toml::de::DeValue<'_>, path: &str, depth: usize, out: &mut Vec<Place>) {
    use toml::de::DeValue;
    match value {
        DeValue::Table(table) => {
            for (key, value) in table.iter() {
                let child = join_path(path, key.get_ref());
                out.push(Place {
                    path: child.clone(),
                    span: key.span(),
                    depth: depth + 1,
                    is_table: false,
                });
                out.push(Place {
                    path: child.clone(),
                    span: value.span(),
                    depth: depth + 1,
                    is_table: matches!(value.get_ref(), DeValue::Table(_)),
                });
                collect_places(value.get_ref(), &child, depth + 1, out);
            }
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let child = format!("{path}[{i}]");
                out.push(Place {
                    path: child.clone(),
                    span: item.span(),
                    depth: depth + 1,
                    is_table: matches!(item.get_ref(), DeValue::Table(_)),
                });
                collect_places(item.get_ref(), &child, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// The key path at a byte span of `text`: the narrowest key or value holding
/// it (tables only when `tables_only`), the deepest on a tie.
fn path_at(text: &str, span: &std::ops::Range<usize>, tables_only: bool) -> Option<String> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut places = Vec::new();
    collect_places(
        &toml::de::DeValue::Table(doc.get_ref().clone()),
        "",
        0,
        &mut places,
    );
    places
        .into_iter()
        .filter(|p| !tables_only || p.is_table)
        .filter(|p| p.span.start <= span.start && span.end <= p.span.end && !p.span.is_empty())
        .min_by(|a, b| {
            (a.span.end - a.span.start)
                .cmp(&(b.span.end - b.span.start))
                .then(b.depth.cmp(&a.depth))
        })
        .map(|p| p.path)
}

/// The line of a key path (`phases[0].to_rate`), or of the nearest table or
/// array element above it that is in the file.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    use toml::de::DeValue;
    let doc = toml::de::DeTable::parse(text).ok()?;
    let root = DeValue::Table(doc.into_inner());
    let mut value = &root;
    let mut found = None;
    'walk: for segment in key.split('.') {
        let (name, indexes) = match segment.find('[') {
            Some(at) => segment.split_at(at),
            None => (segment, ""),
        };
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or(name);
        let DeValue::Table(table) = value else {
            break;
        };
        let Some(child) = table.get(name) else {
            break;
        };
        found = Some(child.span());
        value = child.get_ref();
        for index in indexes
            .split(['[', ']'])
            .filter_map(|s| s.parse::<usize>().ok())
        {
            let DeValue::Array(items) = value else {
                break 'walk;
            };
            let Some(item) = items.get(index) else {
                break 'walk;
            };
            found = Some(item.span());
            value = item.get_ref();
        }
    }
    found.map(|span| line_of(text, span.start))
}

/// Turn toml's error into one naming the key and the problem.
fn describe_toml_error(text: &str, origin: &str, err: &toml::de::Error) -> ScenarioError {
    let message = err.message().trim().to_owned();
    let span = err.span();
    let line = span.as_ref().map(|s| line_of(text, s.start));
    if toml::de::DeTable::parse(text).is_err() {
        // Not TOML at all: say where, and show the line.
        let line = line.unwrap_or(1);
        let shown = text.lines().nth(line - 1).unwrap_or_default().trim();
        return ScenarioError::Syntax {
            origin: origin.to_owned(),
            line,
            problem: if shown.is_empty() {
                message
            } else {
                format!("{message}: `{shown}`")
            },
        };
    }
    let origin = origin.to_owned();
    if let Some(field) = between_ticks(&message, "missing field `") {
        // The span is the table missing it; an empty span is the document.
        let table = match &span {
            Some(s) if !s.is_empty() => path_at(text, s, true).unwrap_or_default(),
            _ => String::new(),
        };
        let line = if table.is_empty() { None } else { line };
        return ScenarioError::Invalid {
            origin,
            line,
            key: join_path(&table, field),
            problem: if table.is_empty() {
                "required key is missing".to_owned()
            } else {
                format!("required key is missing from {}", table_name(&table))
            },
        };
    }
    let key = span
        .as_ref()
        .and_then(|s| path_at(text, s, false))
        .unwrap_or_default();
    if let Some(field) = between_ticks(&message, "unknown field `") {
        let parent = key
            .strip_suffix(&path_key(field))
            .map(|p| p.trim_end_matches('.'))
            .unwrap_or_default();
        let expected = message
            .split_once(", expected ")
            .map(|(_, e)| format!("; expected {e}"))
            .unwrap_or_default();
        let within = if parent.is_empty() {
            "at the top level".to_owned()
        } else {
            format!("in {}", table_name(parent))
        };
        return ScenarioError::Invalid {
            origin,
            line,
            key: if key.is_empty() { path_key(field) } else { key },
            problem: format!("unknown key `{field}` {within}{expected}"),
        };
    }
    ScenarioError::Invalid {
        origin,
        line,
        key: if key.is_empty() {
            "(document)".to_owned()
        } else {
            key
        },
        problem: plain_serde_message(&message),
    }
}

/// A table as the file writes it: `[customers]`, or `phases[0]` for an
/// element of an array of tables.
fn table_name(path: &str) -> String {
    if path.ends_with(']') {
        format!("`{path}`")
    } else {
        format!("[{path}]")
    }
}

/// The text after `prefix` up to the next backtick.
fn between_ticks<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

/// serde's type names in words.
fn plain_serde_message(message: &str) -> String {
    let mut out = message.replacen("invalid type: ", "wrong type: found ", 1);
    for (from, to) in [
        ("expected f64", "expected a number"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number ≥ 0"),
        ("expected usize", "expected a whole number ≥ 0"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("expected struct ", "expected a table "),
    ] {
        out = out.replace(from, to);
    }
    out
}
