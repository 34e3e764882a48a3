//! The real binary: configuration errors stop start-up naming the key; it logs
//! the bound address; SIGTERM closes sessions and exits 0.

#![allow(clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn switchboard() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.env_remove("SWITCHBOARD_LISTEN");
    command
}

/// Run `serve` with this config text (and extra env); it must fail naming `key`.
fn refused(config: &str, env: &[(&str, &str)], key: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, config).unwrap();
    let output = switchboard()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "accepted:\n{config}\n{stderr}");
    assert!(
        stderr.contains(key),
        "error does not name `{key}`:\n{stderr}"
    );
}

#[test]
fn bad_configuration_stops_start_up_naming_the_key() {
    refused("listen = 5", &[], "listen");
    refused("[timeouts]\nhello_secs = -1", &[], "hello_secs");
    refused("[timeouts]\nhello_secs = 0", &[], "timeouts.hello_secs");
    refused("[timeouts]\nhelo_secs = 3", &[], "helo_secs");
    refused("identity_secret = \"short\"", &[], "identity_secret");
    refused(
        "[routing]\nfallback_language = \"English\"",
        &[],
        "routing.fallback_language",
    );
    refused(
        "[[agents]]\nid = \"a\"\nname = \"A\"\ntoken = \"tok-12345\"\nskills = [\"astrology\"]\nlanguages = [\"en\"]",
        &[],
        "agents[0].skills",
    );
    refused(
        "[[agents]]\nid = \"a\"\nname = \"A\"\ntoken = \"tok-12345\"\nskills = [\"api\"]\nlanguages = [\"en\"]\ncapacity = 0",
        &[],
        "agents[0].capacity",
    );
    refused(
        "[limits]\ncustomer_frames_per_sec = 0",
        &[],
        "limits.customer_frames_per_sec",
    );
    refused("[limits]\nagent_frame_burst = -5", &[], "agent_frame_burst");
    refused(
        "",
        &[("SWITCHBOARD_LIMITS__AGENT_FRAMES_PER_SEC", "0")],
        "limits.agent_frames_per_sec",
    );
    refused(
        "redis_url = \"rediss://127.0.0.1:1/\"\n[redis]\ntls_ca_file = \"/nonexistent/ca.pem\"",
        &[],
        "redis.tls_ca_file",
    );
    refused(
        "[redis]\ntls_ca_file = \"/etc/hostname\"",
        &[("SWITCHBOARD_REDIS_URL", "redis://127.0.0.1:1/")],
        "redis.tls_ca_file",
    );
    refused("not toml at all = = =", &[], "switchboard.toml");
    refused(
        "",
        &[("SWITCHBOARD_TIMEOUTS__AGENT_GRACE_SECS", "soon")],
        "agent_grace_secs",
    );
    refused(
        "",
        &[("SWITCHBOARD_ROUTING__POSITION_UPDATE_MS", "1")],
        "routing.position_update_ms",
    );
}

#[test]
fn bad_dashboard_settings_stop_start_up_naming_the_key() {
    refused(
        "[dashboard]\nsla_wait_secs = 0",
        &[],
        "dashboard.sla_wait_secs",
    );
    refused(
        "[dashboard]\nsla_urgent_secs = 0",
        &[],
        "dashboard.sla_urgent_secs",
    );
    refused("[dashboard]\npush_ms = 50", &[], "dashboard.push_ms");
    refused("[dashboard]\npush_ms = 10001", &[], "dashboard.push_ms");
    refused("[dashboard]\nsla_secs = 5", &[], "sla_secs");
}

#[test]
fn bad_ticket_settings_stop_start_up_naming_the_key() {
    const SECRET: &str = "webhook_secret = \"0123456789abcdef\"\n";
    refused(
        &format!("[tickets]\nwebhook_url = \"ftp://helpdesk\"\n{SECRET}"),
        &[],
        "tickets.webhook_url",
    );
    refused(
        &format!("[tickets]\nwebhook_url = \"https://\"\n{SECRET}"),
        &[],
        "tickets.webhook_url",
    );
    refused(
        "[tickets]\nwebhook_url = \"https://helpdesk.example/hook\"",
        &[],
        "tickets.webhook_secret",
    );
    refused(
        "[tickets]\nwebhook_url = \"https://helpdesk.example/hook\"\nwebhook_secret = \"short\"",
        &[],
        "tickets.webhook_secret",
    );
    for (key, value) in [
        ("webhook_max_attempts", "0"),
        ("webhook_max_attempts", "101"),
        ("webhook_backoff_ms", "0"),
        ("webhook_backoff_max_secs", "0"),
        ("webhook_timeout_secs", "0"),
        ("customer_notice", "\"  \""),
    ] {
        refused(
            &format!("[tickets]\n{key} = {value}"),
            &[],
            &format!("tickets.{key}"),
        );
    }
    // The longest retry delay cannot be shorter than the first.
    refused(
        "[tickets]\nwebhook_backoff_ms = 5000\nwebhook_backoff_max_secs = 1",
        &[],
        "tickets.webhook_backoff_max_secs",
    );
    refused(
        "[tickets]\noverflow_eta_secs = -1",
        &[],
        "overflow_eta_secs",
    );
    refused(
        "[tickets]\nticket_when_unserved = \"yes\"",
        &[],
        "ticket_when_unserved",
    );
    refused("[tickets]\nwebhook = \"https://x\"", &[], "webhook");
    refused(
        "[[agents]]\nid = \"a\"\nname = \"A\"\ntoken = \"tok-12345\"\nskills = [\"api\"]\nlanguages = [\"en\"]\nrole = \"boss\"",
        &[],
        "role",
    );
    refused(
        "",
        &[("SWITCHBOARD_TICKETS__WEBHOOK_MAX_ATTEMPTS", "1000")],
        "tickets.webhook_max_attempts",
    );
}

#[test]
fn bad_widget_settings_stop_start_up_naming_the_key() {
    refused("[widget]\ntitle = \"\"", &[], "widget.title");
    refused("[widget]\ntitle = \"   \"", &[], "widget.title");
    refused(
        &format!("[widget]\ntitle = \"{}\"", "x".repeat(81)),
        &[],
        "widget.title",
    );
    refused("[widget]\ntitle = 5", &[], "title");
    refused(
        "[widget]\naccent_color = \"red\"",
        &[],
        "widget.accent_color",
    );
    refused(
        "[widget]\naccent_color = \"#fff\"",
        &[],
        "widget.accent_color",
    );
    refused(
        "[widget]\naccent_color = \"0b57d0\"",
        &[],
        "widget.accent_color",
    );
    // Well formed, but white text on it cannot be read.
    refused(
        "[widget]\naccent_color = \"#ffff00\"",
        &[],
        "widget.accent_color",
    );
    refused(
        "",
        &[("SWITCHBOARD_WIDGET__ACCENT_COLOR", "#8ab4f8")],
        "widget.accent_color",
    );
    refused(
        "[widget.topic_labels.astrology]\nen = \"Stars\"",
        &[],
        "widget.topic_labels.astrology",
    );
    refused(
        "[widget.topic_labels.trading]\nEnglish = \"Trading\"",
        &[],
        "widget.topic_labels.trading.English",
    );
    refused(
        "[widget.topic_labels.trading]\nen = \"  \"",
        &[],
        "widget.topic_labels.trading.en",
    );
    refused(
        &format!("[widget.topic_labels.trading]\nen = \"{}\"", "x".repeat(65)),
        &[],
        "widget.topic_labels.trading.en",
    );
    refused("[widget]\ncolour = \"#0b57d0\"", &[], "colour");
}

#[test]
fn bad_canned_replies_stop_start_up_naming_the_key() {
    /// A `[[canned]]` table with these lines after a valid first entry, so
    /// the key named is `canned[1]`'s.
    fn second(lines: &str) -> String {
        format!(
            "[[canned]]\nshortcut = \"txid\"\ntitle = \"TxID\"\ntext.en = \"Your TxID?\"\n\n[[canned]]\n{lines}\n"
        )
    }
    let ok = "title = \"Hi\"\ntext.en = \"Hello\"";
    refused(
        &second(&format!("shortcut = \"TxID2\"\n{ok}")),
        &[],
        "canned[1].shortcut",
    );
    refused(
        &second(&format!("shortcut = \"two words\"\n{ok}")),
        &[],
        "canned[1].shortcut",
    );
    refused(
        &second(&format!("shortcut = \"\"\n{ok}")),
        &[],
        "canned[1].shortcut",
    );
    refused(
        &second(&format!("shortcut = \"{}\"\n{ok}", "a".repeat(33))),
        &[],
        "canned[1].shortcut",
    );
    // Unique: the second `txid` is refused, naming the first.
    refused(
        &second(&format!("shortcut = \"txid\"\n{ok}")),
        &[],
        "canned[0] too",
    );
    refused(
        &second("shortcut = \"hi\"\ntitle = \"  \"\ntext.en = \"Hello\""),
        &[],
        "canned[1].title",
    );
    refused(
        &second(&format!(
            "shortcut = \"hi\"\ntitle = \"{}\"\ntext.en = \"Hello\"",
            "t".repeat(81)
        )),
        &[],
        "canned[1].title",
    );
    refused(
        &second("shortcut = \"hi\"\ntitle = \"Hi\"\ntext = {}"),
        &[],
        "canned[1].text",
    );
    refused(&second("shortcut = \"hi\"\ntitle = \"Hi\""), &[], "text");
    refused(
        &second("shortcut = \"hi\"\ntitle = \"Hi\"\ntext.English = \"Hello\""),
        &[],
        "canned[1].text.English",
    );
    refused(
        &second("shortcut = \"hi\"\ntitle = \"Hi\"\ntext.es = \" \""),
        &[],
        "canned[1].text.es",
    );
    refused(
        &second("shortcut = \"hi\"\ntitle = \"Hi\"\ntext.en = \"Hello there\""),
        &[("SWITCHBOARD_LIMITS__MAX_TEXT_CHARS", "10")],
        "canned[1].text.en",
    );
    refused(
        &second("shortcut = \"hi\"\ntitle = \"Hi\"\ntext.en = \"Hello {customer}\""),
        &[],
        "canned[1].text.en",
    );
    refused(
        &second(&format!(
            "shortcut = \"hi\"\n{ok}\ntopics = [\"astrology\"]"
        )),
        &[],
        "canned[1].topics",
    );
    refused(
        &second(&format!("shortcut = \"hi\"\n{ok}\ntopics = []")),
        &[],
        "canned[1].topics",
    );
    refused(
        &second(&format!(
            "shortcut = \"hi\"\n{ok}\ntopics = [\"api\", \"api\"]"
        )),
        &[],
        "canned[1].topics",
    );
    refused(
        &second(&format!("shortcut = \"hi\"\n{ok}\ntopic = [\"api\"]")),
        &[],
        "topic",
    );
    refused(
        &second(&format!("shortcut = \"hi\"\n{ok}\ntopics = \"api\"")),
        &[],
        "topics",
    );
}

#[test]
fn an_unknown_placeholder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(
        &path,
        "[[canned]]\nshortcut = \"greet\"\ntitle = \"Hi\"\ntext.es = \"Hola {nombre}\"\n",
    )
    .unwrap();
    let output = switchboard()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("canned[0].text.es"), "{stderr}");
    assert!(
        stderr.contains("`{nombre}` is not a placeholder"),
        "{stderr}"
    );
    assert!(
        stderr.contains("{customer_name}, {agent_name}, {topic}"),
        "{stderr}"
    );
}

#[test]
fn the_contrast_refusal_gives_the_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, "[widget]\naccent_color = \"#ffff00\"").unwrap();
    let output = switchboard()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1.07:1"), "{stderr}");
    assert!(stderr.contains("4.5:1"), "{stderr}");
}

#[test]
fn check_config_shows_the_widget_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(
        &path,
        "[widget]\naccent_color = \"#1A4D2E\"\n\
         [widget.topic_labels.deposit_withdrawal]\nen = \"Deposits & withdrawals\"\nes = \"Depósitos y retiros\"\n",
    )
    .unwrap();
    let output = switchboard()
        .args(["check-config", "--config"])
        .arg(&path)
        .env("SWITCHBOARD_WIDGET__TITLE", "Nimbus help")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("[widget]"), "{stdout}");
    assert!(stdout.contains("title = \"Nimbus help\""), "{stdout}");
    assert!(stdout.contains("accent_color = \"#1A4D2E\""), "{stdout}");
    assert!(
        stdout.contains("[widget.topic_labels.deposit_withdrawal]"),
        "{stdout}"
    );
    assert!(stdout.contains("es = \"Depósitos y retiros\""), "{stdout}");
}

#[test]
fn unreachable_redis_stops_start_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = switchboard()
        .args(["serve", "--listen", "127.0.0.1:0", "--redis-url"])
        .arg(format!("redis://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("opening the store"), "{stderr}");
    assert!(stderr.contains("unavailable"), "{stderr}");
    assert!(
        !stderr.contains("listening on"),
        "it must not listen without its store"
    );
}

#[test]
fn a_missing_config_file_is_an_error() {
    let output = switchboard()
        .args(["serve", "--config", "/nonexistent/switchboard.toml"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not exist"));
}

#[test]
fn the_example_config_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/switchboard.example.toml");
    let output = switchboard()
        .args(["check-config", "--config", example])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn check_config_masks_secrets_and_ignores_the_log_filter() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/switchboard.example.toml");
    let output = switchboard()
        .args(["check-config", "--config", example])
        .env("SWITCHBOARD_LOG", "debug")
        .env("SWITCHBOARD_TIMEOUTS__HELLO_SECS", "3")
        .env(
            "SWITCHBOARD_TICKETS__WEBHOOK_URL",
            "https://desk:hunter2hunter2@helpdesk.example/hook",
        )
        .env(
            "SWITCHBOARD_TICKETS__WEBHOOK_SECRET",
            "whsec-0123456789abcdef",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("hello_secs = 3"), "{stdout}");
    assert!(!stdout.contains("whsec-0123456789abcdef"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(stdout.contains("helpdesk.example/hook"), "{stdout}");
    let example_text = std::fs::read_to_string(example).unwrap();
    let secrets: Vec<&str> = example_text
        .lines()
        .filter(|l| l.trim_start().starts_with("token_sha256"))
        .map(|line| line.split('"').nth(1).unwrap())
        .collect();
    assert_eq!(secrets.len(), 4, "the example's agents store hashed tokens");
    for secret in secrets {
        assert!(!stdout.contains(secret), "token hash {secret} printed");
    }
    assert!(stdout.contains("<redacted>"));
    // A plain token is masked too.
    let output = switchboard()
        .args(["check-config", "--config", example])
        .env(
            "SWITCHBOARD_AGENTS",
            r#"[{id="x",name="X",token="plain-token-123",skills=["general"],languages=["en"]}]"#,
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("token = \"<redacted>\""), "{stdout}");
    assert!(!stdout.contains("plain-token-123"), "{stdout}");
}

#[test]
fn hash_token_makes_a_token_whose_hash_signs_in() {
    let output = switchboard().arg("hash-token").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("# sbt_"))
        .map(|rest| format!("sbt_{rest}"))
        .unwrap_or_else(|| panic!("no token printed:\n{stdout}"));
    let hash = stdout
        .lines()
        .find_map(|l| l.strip_prefix("token_sha256 = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no hash printed:\n{stdout}"));
    assert_eq!(token.len(), 68);
    assert_eq!(hash, switchboard::roster::hex_digest(&token));
    let again = switchboard().arg("hash-token").output().unwrap();
    assert_ne!(again.stdout, output.stdout, "a new token every time");

    // --stdin hashes the given token and prints only the hash.
    let mut child = switchboard()
        .args(["hash-token", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"example-token-ana\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "token_sha256 = \"{}\"\n",
            switchboard::roster::hex_digest("example-token-ana")
        )
    );
    let mut child = switchboard()
        .args(["hash-token", "--stdin"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 8 bytes"));
}

#[test]
fn bad_security_settings_stop_start_up_naming_the_key() {
    refused(
        "[security]\nallowed_origins = [\"www.exchange.com\"]",
        &[],
        "security.allowed_origins[0]",
    );
    refused(
        "[security]\ntrusted_proxies = [\"10.0.0.0/40\"]",
        &[],
        "security.trusted_proxies[0]",
    );
    refused(
        "[security]\nheader_read_secs = 0",
        &[],
        "security.header_read_secs",
    );
    refused(
        "[security]\nmax_connections_per_address = 0",
        &[],
        "security.max_connections_per_address",
    );
    refused(
        "[security]\nrequire_identity = \"yes\"",
        &[],
        "require_identity",
    );
    refused(
        "[[agents]]\nid = \"a\"\nname = \"A\"\ntoken_sha256 = \"not-hex\"\nskills = [\"general\"]\nlanguages = [\"en\"]",
        &[],
        "agents[0].token_sha256",
    );
}

#[test]
fn serves_on_the_logged_address_and_exits_0_on_sigterm() {
    let mut child = switchboard()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SWITCHBOARD_TIMEOUTS__HELLO_SECS", "30")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        assert!(Instant::now() < deadline, "no `listening on` line");
        let line = lines.next().expect("server exited early").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert!(!addr.ends_with(":0"));
    // Keep draining logs so the child never blocks on a full pipe.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let close_code = runtime.block_on(async {
        use futures_util::StreamExt;
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/customer"))
            .await
            .unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame))))) => {
                    break u16::from(frame.code);
                }
                Ok(Some(Ok(_))) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    });
    assert_eq!(close_code, 1012);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let logs = drain.join().unwrap();
    assert!(logs.iter().any(|l| l.contains("shutting down")), "{logs:?}");
}
