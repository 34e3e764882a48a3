//! `switchboard-loadtest`: the command line. `anyhow` lives here only.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use switchboard_loadtest::{
    floor::{self, Ceiling, FloorConfig},
    relay::{self, SideBySide, SwitchboardRelay},
    runner::{self, Options},
    scenario::Scenario,
    workers::{self, Spread, Worker},
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
        /// Spread the run over this many load-tester processes (for more
        /// connections than one process's descriptor limit allows); their
        /// records are merged and checked as one run.
        #[arg(long, default_value_t = 1)]
        workers: u32,
        /// (Internal) this process is worker N of `--workers`.
        #[arg(long, hide = true)]
        worker: Option<u32>,
    },
    /// Print the `[[agents]]` roster the server needs for a scenario's agent pool.
    Roster {
        /// A built-in name or a file.
        scenario: String,
    },
    /// Measure the transport floor: the same frames through a bare WebSocket
    /// relay with no hub logic.
    Floor {
        #[command(flatten)]
        load: Load,
        /// A floor relay already running (`floor-relay`), loopback only;
        /// default: one in this process.
        #[arg(long)]
        url: Option<String>,
    },
    /// Measure switchboard's relay (customer -> agent), optionally beside the
    /// transport floor measured in the same run.
    Relay {
        /// Node the customers connect to (`ws://127.0.0.1:8080`, loopback
        /// only); repeat to spread them over several.
        #[arg(long = "target", required = true)]
        targets: Vec<String>,
        /// Node the agents connect to (default: the customers'); another node
        /// puts customer and agent on different nodes. Repeatable.
        #[arg(long = "agent-target")]
        agent_targets: Vec<String>,
        /// Agents to connect, tokens `relay-token-0` … (see `relay-roster`).
        #[arg(long, default_value_t = 100)]
        agents: usize,
        /// The topic the chats start on.
        #[arg(long, default_value = relay::DEFAULT_TOPIC)]
        topic: String,
        #[command(flatten)]
        load: Load,
        /// Also measure the floor, with the same pairs, rate and ceiling.
        #[arg(long)]
        with_floor: bool,
        /// With `--with-floor`: a floor relay already running (`floor-relay`),
        /// e.g. pinned to the server's core; default: one in this process.
        #[arg(long)]
        floor_url: Option<String>,
    },
    /// Print the `[[agents]]` roster `relay` needs: N agents of capacity C.
    RelayRoster {
        /// Agents.
        #[arg(long, default_value_t = 100)]
        agents: usize,
        /// Chats each (1-100, the server's limit).
        #[arg(long, default_value_t = 100)]
        capacity: u32,
    },
    /// Serve the floor's bare relay until Ctrl-C (to run it as its own process).
    FloorRelay {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: SocketAddr,
    },
}

/// The load of `floor` and `relay`.
#[derive(Debug, Args)]
struct Load {
    /// Customer/agent pairs (one chat each through switchboard).
    #[arg(long, default_value_t = 1000)]
    pairs: usize,
    /// Offered messages per second, all pairs together, customer -> agent.
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// Seconds to send at `--rate`.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Characters of each message's text.
    #[arg(long, default_value_t = 80)]
    text_bytes: usize,
    /// Then step the rate up (x`--factor` a step, from `--rate`) until delivery p99
    /// passes `--p99-limit-ms` or less than 90% of the offered rate gets through.
    #[arg(long)]
    ceiling: bool,
    /// Seconds of each ceiling step.
    #[arg(long, default_value_t = 3.0)]
    step_secs: f64,
    /// Each ceiling step's rate is the last one's times this (above 1).
    #[arg(long, default_value_t = 1.5)]
    factor: f64,
    /// The ceiling's delivery p99 limit, ms.
    #[arg(long, default_value_t = 10.0)]
    p99_limit_ms: f64,
    /// Write the result as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl Load {
    fn duration(&self) -> anyhow::Result<Duration> {
        Duration::try_from_secs_f64(self.secs)
            .with_context(|| format!("--secs must be a number of seconds, not {}", self.secs))
    }

    fn ceiling(&self) -> anyhow::Result<Option<Ceiling>> {
        if !self.ceiling {
            return Ok(None);
        }
        let step = Duration::try_from_secs_f64(self.step_secs).with_context(|| {
            format!(
                "--step-secs must be a number of seconds, not {}",
                self.step_secs
            )
        })?;
        if !(self.p99_limit_ms > 0.0 && self.p99_limit_ms.is_finite()) {
            anyhow::bail!("--p99-limit-ms must be above 0, not {}", self.p99_limit_ms);
        }
        Ok(Some(Ceiling {
            step,
            factor: self.factor,
            p99_limit_ms: self.p99_limit_ms,
            ..Ceiling::default()
        }))
    }

    fn floor(&self, url: Option<String>) -> anyhow::Result<FloorConfig> {
        Ok(FloorConfig {
            url,
            pairs: self.pairs,
            rate: self.rate,
            duration: self.duration()?,
            text_bytes: self.text_bytes,
            ceiling: self.ceiling()?,
            ..FloorConfig::default()
        })
    }
}

fn write_json(out: Option<&PathBuf>, value: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(out) = out {
        let json = serde_json::to_string_pretty(value).context("serializing the result")?;
        std::fs::write(out, json + "\n").with_context(|| format!("writing {}", out.display()))?;
        eprintln!("written: {}", out.display());
    }
    Ok(())
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
            workers,
            worker,
        } => {
            Scenario::check_scale(scale)?;
            anyhow::ensure!(
                (1..=64).contains(&workers),
                "--workers must be between 1 and 64, not {workers}"
            );
            if let Some(index) = worker {
                anyhow::ensure!(
                    index < workers,
                    "--worker {index} is not below --workers {workers}"
                );
            }
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let outcome = if workers > 1 && worker.is_none() {
                load(&scenario, scale, targets.clone())?;
                let mut args = vec![scenario, "--scale".into(), scale.to_string()];
                args.extend(["--drain-secs".into(), drain_secs.to_string()]);
                for target in targets {
                    args.extend(["--target".into(), target]);
                }
                eprintln!("spreading the run over {workers} processes");
                workers::run(Spread {
                    exe: std::env::current_exe()?,
                    args,
                    server_pids,
                    out: out.clone(),
                    workers,
                    command,
                })
                .await
                .context("the spread run failed")?
            } else {
                let scenario = load(&scenario, scale, targets)?;
                runner::execute(Options {
                    scenario,
                    scale,
                    server_pids,
                    out: out.clone(),
                    command,
                    drain_secs,
                    progress: !quiet,
                    keep_events,
                    worker: worker.map(|index| Worker { index, of: workers }),
                })
                .await
                .context("the run failed")?
            };
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
        Command::Floor { load, url } => {
            let config = load.floor(url)?;
            let result = floor::measure(config)
                .await
                .context("measuring the transport floor")?;
            print!("{}", relay::table(&[("floor", &result)]));
            write_json(load.out.as_ref(), &result)?;
        }
        Command::Relay {
            targets,
            agent_targets,
            agents,
            topic,
            load,
            with_floor,
            floor_url,
        } => {
            let agent_urls = if agent_targets.is_empty() {
                targets.clone()
            } else {
                agent_targets
            };
            let config = SwitchboardRelay {
                customer_urls: targets,
                agent_urls,
                agents: relay::roster_tokens(agents),
                pairs: load.pairs,
                rate: load.rate,
                duration: load.duration()?,
                text_bytes: load.text_bytes,
                ceiling: load.ceiling()?,
                topic,
            };
            let floor_config = with_floor.then(|| load.floor(floor_url)).transpose()?;
            let switchboard = relay::measure_switchboard(config)
                .await
                .context("measuring switchboard's relay")?;
            let floor = match floor_config {
                Some(config) => Some(
                    floor::measure(config)
                        .await
                        .context("measuring the transport floor")?,
                ),
                None => None,
            };
            let report = SideBySide::new(switchboard, floor);
            print!("{}", report.table());
            write_json(load.out.as_ref(), &report)?;
        }
        Command::RelayRoster { agents, capacity } => {
            if agents == 0 || agents > relay::MAX_AGENTS {
                anyhow::bail!("--agents must be 1 to {}, not {agents}", relay::MAX_AGENTS);
            }
            if capacity == 0 || capacity > relay::MAX_CAPACITY {
                anyhow::bail!(
                    "--capacity must be 1 to {} (the server's limit), not {capacity}",
                    relay::MAX_CAPACITY
                );
            }
            print!("{}", relay::roster_toml(agents, capacity));
        }
        Command::FloorRelay { listen } => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            let addr = listener.local_addr().context("the relay's address")?;
            eprintln!("floor relay on ws://{addr} (Ctrl-C stops it)");
            floor::serve_relay(listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving the floor relay")?;
        }
    }
    Ok(())
}
