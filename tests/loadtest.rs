//! The load tester against real nodes: a short `rally` on one node (memory
//! store), and on two nodes sharing a `redis-server` with the matcher killed
//! mid-run. Both must end with 0 correctness violations, as the checker reads
//! them from what every simulated client saw.

#![allow(clippy::unwrap_used)]

#[path = "support/node.rs"]
mod node;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use node::Node;
use switchboard_loadtest::{
    runner::{self, Options, Outcome},
    scenario::{Fault, Scenario},
};

/// `rally` at a scale that runs it in about 12 s.
fn rally() -> (Scenario, f64) {
    let scenario = Scenario::load("rally").unwrap();
    let scale = scenario.ci_scale.unwrap() * 0.4;
    (scenario, scale)
}

/// A server config for the scenario: its roster, its identity secret, and
/// grace periods that ride out a node's death.
fn config_file(dir: &Path, scenario: &Scenario) -> PathBuf {
    let secret = scenario
        .customers
        .identity_secret
        .as_ref()
        .map(|s| format!("identity_secret = \"{s}\"\n"))
        .unwrap_or_default();
    let text = format!(
        "{secret}\n[timeouts]\ncustomer_grace_secs = 30\nagent_grace_secs = 30\n\n{}",
        scenario.roster_toml()
    );
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, text).unwrap();
    path
}

impl Node {
    fn start(config: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .args(extra)
            .envs(env.iter().copied());
        Self::spawn(command)
    }

    fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}

/// Reports go to the test's temporary directory, or to
/// `$LOADTEST_OUT/<test>` to keep them (with the event log).
async fn run(scenario: Scenario, scale: f64, nodes: &[&Node], out: &Path) -> Outcome {
    let kept = std::env::var_os("LOADTEST_OUT")
        .map(|dir| PathBuf::from(dir).join(std::thread::current().name().unwrap_or("run")));
    let out = kept.as_deref().unwrap_or(out);
    let mut scenario = scenario;
    scenario.targets.urls = nodes.iter().map(|n| n.url()).collect();
    scenario.validate().unwrap();
    let outcome = runner::execute(Options {
        scenario: scenario.scaled(scale),
        scale,
        server_pids: nodes.iter().map(|n| n.child.id()).collect(),
        out: out.to_path_buf(),
        command: "cargo test --test loadtest".into(),
        drain_secs: 40,
        progress: false,
        keep_events: kept.is_some(),
        worker: None,
    })
    .await
    .unwrap();
    let counters = &outcome.report.counters;
    eprintln!("counters: {counters:?}");
    for violation in &outcome.report.violations {
        eprintln!("violation: {violation}");
    }
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_rally_on_one_node_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (scenario, scale) = rally();
    let node = Node::start(&config_file(dir.path(), &scenario), &[], &[]);
    let outcome = run(scenario, scale, &[&node], dir.path()).await;
    assert!(outcome.clean, "{:?}", outcome.report.violations);
    let counters = &outcome.report.counters;
    let started = counters.get("chats_started").copied().unwrap_or(0);
    assert!(started > 20, "{counters:?}");
    assert_eq!(counters.get("assigned"), Some(&started), "{counters:?}");
    assert_eq!(counters.get("customers_failed"), None, "{counters:?}");
    assert!(dir.path().join("report.html").exists());
    assert!(outcome.report.series.iter().any(|s| !s.server.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_refused_for_their_rate_send_again_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (scenario, scale) = rally();
    // One frame a second: a customer answered within the second gets
    // `rate_limited`, as a widget in a hurry would.
    let node = Node::start(
        &config_file(dir.path(), &scenario),
        &[],
        &[
            ("SWITCHBOARD_LIMITS__CUSTOMER_FRAMES_PER_SEC", "1"),
            ("SWITCHBOARD_LIMITS__CUSTOMER_FRAME_BURST", "1"),
        ],
    );
    let outcome = run(scenario, scale, &[&node], dir.path()).await;
    assert!(outcome.clean, "{:?}", outcome.report.violations);
    let counters = &outcome.report.counters;
    let refused = counters.get("errors_rate_limited").copied().unwrap_or(0);
    assert!(refused > 0, "nothing was refused: {counters:?}");
    assert_eq!(
        counters.get("resent_after_rate_limit"),
        Some(&refused),
        "{counters:?}"
    );
    assert_eq!(counters.get("customers_failed"), None, "{counters:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rally_on_two_nodes_survives_the_matcher_killed_mid_run() {
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut scenario, scale) = rally();
    let config = config_file(dir.path(), &scenario);
    let cluster = ["--redis-url", redis.url.as_str()];
    let env = [
        ("SWITCHBOARD_CLUSTER__LEASE_SECS", "1"),
        ("SWITCHBOARD_REDIS__PREFIX", "rally:"),
    ];
    let matcher = Node::start(
        &config,
        &cluster,
        &[&env[..], &[("SWITCHBOARD_NODE_ID", "a")]].concat(),
    );
    let follower = Node::start(
        &config,
        &cluster,
        &[&env[..], &[("SWITCHBOARD_NODE_ID", "b")]].concat(),
    );
    // Half-way through (in unscaled seconds, as the scenario's own times are).
    scenario.faults = vec![Fault {
        at_secs: scenario.duration_secs() / 2.0,
        run: "kill -9 $SERVER_PID_0".into(),
    }];
    let outcome = run(scenario, scale, &[&matcher, &follower], dir.path()).await;
    assert!(outcome.clean, "{:?}", outcome.report.violations);
    let counters = &outcome.report.counters;
    assert!(
        counters.get("reconnects").copied().unwrap_or(0) > 0,
        "{counters:?}"
    );
    assert!(
        counters.get("chats_started").copied().unwrap_or(0) > 20,
        "{counters:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_held_and_weighed() {
    let dir = tempfile::tempdir().unwrap();
    let mut scenario = Scenario::load("idle-capacity").unwrap();
    let idle = scenario.idle.as_mut().unwrap();
    idle.connections = 300;
    idle.open_rate = 300.0;
    idle.hold_secs = 2.0;
    let node = Node::start(&config_file(dir.path(), &scenario), &[], &[]);
    let outcome = run(scenario, 1.0, &[&node], dir.path()).await;
    assert!(outcome.clean, "{:?}", outcome.report.violations);
    let counters = &outcome.report.counters;
    assert_eq!(counters.get("idle_opened"), Some(&300), "{counters:?}");
    assert_eq!(counters.get("idle_dropped"), None, "{counters:?}");
    assert!(
        counters.get("idle_rss_bytes_per_connection").is_some(),
        "{counters:?}"
    );
}
