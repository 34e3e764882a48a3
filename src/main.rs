//! The `switchboard` binary: parse arguments, set up logs, bind, serve.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchboard::config::Config;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Live-chat hub for a crypto exchange's support desk"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Run a hub node.
    Serve {
        /// TOML configuration file (see switchboard.example.toml); defaults without.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen address, overriding the file and SWITCHBOARD_LISTEN; port 0 picks one.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Redis URL, turning on the Redis store; overrides the file and
        /// SWITCHBOARD_REDIS_URL.
        #[arg(long)]
        redis_url: Option<String>,
        /// Log as JSON lines instead of text.
        #[arg(long)]
        log_json: bool,
    },
    /// Check a configuration file and print the effective configuration.
    CheckConfig {
        /// TOML configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Make a new agent token and print it with its `token_sha256`: the token
    /// goes to the agent, the hash into the roster.
    HashToken {
        /// Hash this token (read from standard input, one line) instead of
        /// making a new one; a token on the command line would stay in the
        /// shell's history.
        #[arg(long)]
        stdin: bool,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Commands::Serve {
            config,
            listen,
            redis_url,
            log_json,
        } => {
            init_logs(log_json);
            match serve(config, listen, redis_url) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("switchboard: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Commands::CheckConfig { config } => match Config::load(config.as_deref()) {
            Ok(config) => match toml::to_string_pretty(&config.redacted()) {
                Ok(text) => {
                    use std::io::Write as _;
                    // A closed pipe (`| head`) is the reader's choice, not an error.
                    let _ = writeln!(std::io::stdout().lock(), "{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("switchboard: {e}");
                ExitCode::FAILURE
            }
        },
        Commands::HashToken { stdin } => match hash_token(stdin) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("switchboard: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn hash_token(from_stdin: bool) -> anyhow::Result<()> {
    use std::io::{BufRead as _, Write as _};
    let token = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the token from standard input")?;
        let token = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(
            token.len() >= 8,
            "the token on standard input must be at least 8 bytes (it has {})",
            token.len()
        );
        token
    } else {
        switchboard::roster::new_token().context("asking the system for random bytes")?
    };
    let hash = switchboard::roster::hex_digest(&token);
    let mut out = std::io::stdout().lock();
    if from_stdin {
        writeln!(out, "token_sha256 = \"{hash}\"")?;
    } else {
        writeln!(
            out,
            "# give the agent this token (shown once; it is not stored):"
        )?;
        writeln!(out, "# {token}")?;
        writeln!(out, "# and put this line in its [[agents]] entry:")?;
        writeln!(out, "token_sha256 = \"{hash}\"")?;
    }
    Ok(())
}

fn init_logs(json: bool) {
    let mut filter =
        EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // tungstenite logs every message's payload at trace: what customers
    // type, before a secret in it was masked. Never that, whatever the filter.
    for cap in ["tungstenite=debug", "tokio_tungstenite=debug"] {
        if let Ok(directive) = cap.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
}

fn serve(
    config_path: Option<PathBuf>,
    listen: Option<SocketAddr>,
    redis_url: Option<String>,
) -> anyhow::Result<()> {
    let config = Config::load_with(config_path.as_deref(), |config| {
        if let Some(listen) = listen {
            config.listen = listen;
        }
        if redis_url.is_some() {
            config.redis_url = redis_url;
        }
    })?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        tracing::info!(
            agents = config.agents.len(),
            topics = config.routing.topics.len(),
            "1/4 configuration loaded"
        );
        let backend = switchboard::server::Backend::open(&config)
            .await
            .context("opening the store")?;
        tracing::info!(store = backend.name(), "2/4 store ready");
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        tracing::info!("3/4 listening on {bound}");
        tracing::info!("4/4 serving");
        switchboard::server::run(listener, config, backend, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
