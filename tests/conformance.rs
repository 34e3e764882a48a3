//! WebSocket conformance: the Autobahn test suite's cases (run by kosoku, a
//! runner of those case files from PyPI; `scripts/test.sh` installs it)
//! against the sessions' own transport, echoing (`switchboard::session::echo`)
//! behind the node's own accept loop, with the default limits.
//!
//! Twice: with the node's limits, leaving out the performance cases (9.*:
//! messages up to 16 MiB, past the 64 KiB `limits.max_transport_bytes` a
//! node allows) and the compression ones; then the whole suite with room
//! for 16 MiB messages. The compression cases (12.*, 13.*) come out
//! UNIMPLEMENTED: switchboard does not negotiate permessage-deflate (its
//! frames are small, and a compressor would cost each of tens of thousands
//! of connections tens of kilobytes of state).
//!
//! Every verdict is compared with `tests/conformance/<run>.json`, which
//! holds no failure: a case that fails, or whose verdict or close code
//! changes, fails the test. After a deliberate change, record again with
//! `SWITCHBOARD_CONFORMANCE_RECORD=1 cargo test --test conformance` and
//! review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::BTreeMap, path::PathBuf, process::Stdio, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use switchboard::{
    accept::{self, AcceptSettings},
    config::{Limits, SecuritySettings},
    gate::Gate,
    metrics::Metrics,
    session::echo,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What a case came to: the Autobahn verdicts for its messages and its
/// closing handshake, and the close code switchboard sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Verdict {
    behavior: String,
    close: String,
    remote_close_code: Option<u16>,
}

#[derive(Debug, Deserialize)]
struct CaseLine {
    case: String,
    #[serde(flatten)]
    verdict: Verdict,
}

/// A verdict the suite counts as conformant.
fn passes(v: &Verdict) -> bool {
    let fine = |s: &str| matches!(s, "OK" | "NON-STRICT" | "INFORMATIONAL" | "UNIMPLEMENTED");
    fine(&v.behavior) && fine(&v.close)
}

/// Serves the echo with `limits` behind the accept loop, runs the cases
/// (all but `excluded`) against it, and returns each case's verdict.
async fn run_cases(
    limits: &Limits,
    excluded: &[&str],
    timeout_secs: u32,
) -> BTreeMap<String, Verdict> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    let settings = AcceptSettings {
        gate: Arc::new(Gate::new(&SecuritySettings::default())),
        metrics: Arc::new(Metrics::new()),
        header_read: Duration::from_secs(10),
    };
    let server = tokio::spawn(accept::serve(
        listener,
        echo::router(limits),
        settings,
        shutdown.clone(),
    ));

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/run_cases.py");
    let mut command = std::process::Command::new("python3");
    command
        .arg(&script)
        .arg(format!("ws://127.0.0.1:{port}"))
        .args(["--timeout-secs", &timeout_secs.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for case in excluded {
        command.arg("--exclude").arg(case);
    }
    // The runner bounds itself (--timeout-secs); blocking, so off the runtime.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("python3 runs");
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(
        output.status.success(),
        "kosoku did not run ({}): {}\n(scripts/test.sh installs it: `pip install kosoku`)",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let case: CaseLine = serde_json::from_str(line).unwrap();
            (case.case, case.verdict)
        })
        .collect()
}

/// Compares with (or, with `SWITCHBOARD_CONFORMANCE_RECORD` set, records)
/// `tests/conformance/{name}.json`, and fails on a failed or changed case.
fn check(name: &str, actual: &BTreeMap<String, Verdict>) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/conformance/{name}.json"));
    if std::env::var_os("SWITCHBOARD_CONFORMANCE_RECORD").is_some() {
        let text = serde_json::to_string_pretty(actual).unwrap();
        std::fs::write(&path, text + "\n").unwrap();
    }
    let expected: BTreeMap<String, Verdict> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let failed: Vec<String> = actual
        .iter()
        .filter(|(_, v)| !passes(v))
        .map(|(case, v)| format!("{case}: {v:?}"))
        .collect();
    let changed: Vec<String> = expected
        .iter()
        .filter(|(case, v)| actual.get(*case) != Some(v))
        .map(|(case, v)| format!("{case}: expected {v:?}, got {:?}", actual.get(case)))
        .chain(
            actual
                .keys()
                .filter(|case| !expected.contains_key(*case))
                .map(|case| format!("{case}: not in {name}.json")),
        )
        .collect();
    let counts = actual.values().fold(BTreeMap::new(), |mut counts, v| {
        *counts.entry(v.behavior.as_str()).or_insert(0) += 1;
        counts
    });
    println!(
        "conformance, {name}: {} cases, behaviors {counts:?}",
        actual.len()
    );
    assert!(failed.is_empty(), "cases failed:\n{}", failed.join("\n"));
    assert!(
        changed.is_empty(),
        "verdicts changed:\n{}",
        changed.join("\n")
    );
}

/// The node's own limits: every case but the performance ones (messages
/// up to 16 MiB, past the 64 KiB a node allows) and compression.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autobahn_cases_with_the_node_limits() {
    let actual = run_cases(&Limits::default(), &["9.*", "12.*", "13.*"], 300).await;
    assert!(actual.len() > 200, "only {} cases ran", actual.len());
    check("expected", &actual);
}

/// The whole suite, performance and compression cases included, with room
/// for 16 MiB messages: the transport itself, past the node's size limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autobahn_whole_suite_with_room_for_large_messages() {
    let limits = Limits {
        max_transport_bytes: 16 * 1024 * 1024 + 1024,
        ..Limits::default()
    };
    let actual = run_cases(&limits, &[], 600).await;
    assert!(actual.len() > 500, "only {} cases ran", actual.len());
    check("expected-whole-suite", &actual);
}
