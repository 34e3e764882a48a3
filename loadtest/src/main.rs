//! `switchboard-loadtest`: the command line. `anyhow` lives here only.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchboard_loadtest::{
    runner::{self, Options},
    scenario::Scenario,
};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard-loadtest",
    version,
    about = "Prove a market-rally surge before it comes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario (a built-in name or a TOML file) against switchboard nodes.
    Run {
        /// `steady`, `rally`, `spike`, `reconnect-storm`, `idle-capacity`, `soak`, or a file.
        scenario: String,
        /// Multiply every duration of the scenario (0.01 turns an hour into 36 s).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Node URL (`ws://127.0.0.1:8080`); repeat for several; overrides the scenario's.
        #[arg(long = "target")]
        targets: Vec<String>,
        /// A server process to sample (RSS, CPU); `$SERVER_PID_<n>` in faults.
        #[arg(long = "server-pid")]
        server_pids: Vec<u32>,
        /// Where report.json and report.html go.
        #[arg(long, default_value = "loadtest-report")]
        out: PathBuf,
        /// Seconds after the last arrival for chats under way to finish.
        #[arg(long, default_value_t = 60)]
        drain_secs: u64,
        /// No progress line.
        #[arg(long)]
        quiet: bool,
        /// Keep the event log (`events.jsonl`) even when the run passes.
        #[arg(long)]
        keep_events: bool,
    },
    /// Print the `[[agents]]` roster the server needs for a scenario's agent pool.
    Roster {
        /// A built-in name or a file.
        scenario: String,
    },
}

fn load(scenario: &str, scale: f64, targets: Vec<String>) -> anyhow::Result<Scenario> {
    let mut loaded = Scenario::load(scenario)?;
    if !targets.is_empty() {
        loaded.targets.urls = targets;
    }
    loaded.validate()?;
    Ok(loaded.scaled(scale))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            scale,
            targets,
            server_pids,
            out,
            drain_secs,
            quiet,
            keep_events,
        } => {
            Scenario::check_scale(scale)?;
            let scenario = load(&scenario, scale, targets)?;
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let outcome = runner::execute(Options {
                scenario,
                scale,
                server_pids,
                out: out.clone(),
                command,
                drain_secs,
                progress: !quiet,
                keep_events,
            })
            .await
            .context("the run failed")?;
            eprintln!(
                "report: {} and {}",
                out.join("report.json").display(),
                out.join("report.html").display()
            );
            if !outcome.clean {
                eprintln!(
                    "FAIL: {} correctness violations",
                    outcome.report.violations.len()
                );
                std::process::exit(1);
            }
            eprintln!("PASS: 0 correctness violations");
        }
        Command::Roster { scenario } => {
            print!("{}", Scenario::load(&scenario)?.roster_toml());
        }
    }
    Ok(())
}
