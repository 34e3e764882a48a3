//! Scenario files: the built-in ones load and fit CI at their `ci_scale`;
//! rates over time; `--scale`; the roster; and bad files get a message naming
//! the key and the problem.

#![allow(clippy::unwrap_used)]

use switchboard_loadtest::scenario::{Scenario, ScenarioError, Shape, Targets};

/// A small valid scenario the bad-file cases edit.
const GOOD: &str = r#"
name = "t"
seed = 7

[[phases]]
name = "base"
duration_secs = 10
rate = 1.0

[[phases]]
name = "ramp"
duration_secs = 20
shape = "ramp"
rate = 1.0
to_rate = 5.0

[[phases]]
name = "step"
duration_secs = 10
shape = "step"
rate = 5.0
to_rate = 50.0
step_at_secs = 4

[agents]
count = 3
capacity = 2
skills = ["trading", "general"]
languages = ["en", "es"]
think_ms = { min = 100, max = 500 }
resolve_after = 2

[customers]
topics = { trading = 3, general = 1 }
languages = { en = 1 }
messages = { min = 1, max = 4 }
think_ms = { min = 200, max = 800 }
patience_secs = { min = 5, max = 60 }

[targets]
urls = ["ws://127.0.0.1:8080", "ws://localhost:8081"]
"#;

fn good() -> Scenario {
    Scenario::parse(GOOD, "good.toml").unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn every_builtin_parses_validates_and_fits_ci_at_its_ci_scale() {
    assert_eq!(Scenario::BUILTIN.len(), 6);
    for name in Scenario::BUILTIN {
        let text = Scenario::builtin(name).unwrap();
        let scenario = Scenario::parse(text, name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            scenario.name, *name,
            "the file's name matches the built-in's"
        );
        assert!(!scenario.description.is_empty(), "{name}: description");
        scenario.validate().unwrap();
        assert_eq!(Scenario::load(name).unwrap(), scenario);

        let ci = scenario
            .ci_scale
            .unwrap_or_else(|| panic!("{name}: no ci_scale"));
        let short = scenario.scaled(ci);
        short.validate().unwrap();
        let secs = short.duration_secs();
        assert!(
            (20.0..=40.0).contains(&secs),
            "{name} at --scale {ci} lasts {secs} s"
        );
        assert!(close(short.ci_scale.unwrap(), 1.0));
        // By hand, at --scale 1, each runs for minutes to hours.
        assert!(scenario.duration_secs() >= 600.0, "{name}");
    }
}

#[test]
fn builtin_shapes() {
    let rally = Scenario::load("rally").unwrap();
    assert!(close(rally.duration_secs(), 3600.0));
    let base = rally.rate_at(0.0);
    // Ramp to 5× over ten minutes, hold, decay.
    assert!(
        close(rally.rate_at(900.0), 3.0 * base),
        "half way up the ramp"
    );
    assert!(rally.rate_at(1199.0) > 4.9 * base);
    assert!(close(rally.rate_at(1800.0), 5.0 * base));
    assert!(close(rally.rate_at(3599.0), base));
    let ramp = &rally.phases[1];
    assert_eq!(ramp.shape, Shape::Ramp);
    assert!(close(ramp.duration_secs, 600.0));

    let spike = Scenario::load("spike").unwrap();
    let before = spike.rate_at(299.9);
    assert!(close(spike.rate_at(300.0), 10.0 * before), "instant 10×");

    let storm = Scenario::load("reconnect-storm").unwrap();
    assert_eq!(storm.targets.urls.len(), 2);
    assert_eq!(storm.storm.as_ref().unwrap().target, 0);

    let idle = Scenario::load("idle-capacity").unwrap();
    let idle_part = idle.idle.as_ref().unwrap();
    assert_eq!(idle_part.connections, 15_000);
    assert!(close(idle.duration_secs(), 15.0 + 600.0));
    assert!(close(idle.rate_at(10.0), 0.0));

    let soak = Scenario::load("soak").unwrap();
    assert!(soak.duration_secs() >= 3600.0);
}

#[test]
fn load_reads_a_file_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, GOOD).unwrap();
    let loaded = Scenario::load(path.to_str().unwrap()).unwrap();
    assert_eq!(loaded, good());

    let err = Scenario::load("no-such-scenario").unwrap_err();
    assert!(matches!(err, ScenarioError::NotFound { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("no-such-scenario") && msg.contains("rally"),
        "{msg}"
    );

    std::fs::write(&path, GOOD.replace("count = 3", "count = 30000")).unwrap();
    let msg = Scenario::load(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("mine.toml") && msg.contains("agents.count"),
        "{msg}"
    );
}

#[test]
fn rate_at_steady_ramp_step_and_after_the_end() {
    let s = good();
    assert!(close(s.duration_secs(), 40.0));
    // steady 0..10
    assert!(close(s.rate_at(0.0), 1.0));
    assert!(close(s.rate_at(9.99), 1.0));
    // ramp 10..30 from 1 to 5
    assert!(close(s.rate_at(10.0), 1.0));
    assert!(close(s.rate_at(20.0), 3.0));
    assert!(close(s.rate_at(25.0), 4.0));
    // step 30..40: 5, then 50 from 34
    assert!(close(s.rate_at(33.9), 5.0));
    assert!(close(s.rate_at(34.0), 50.0));
    assert!(close(s.rate_at(39.9), 50.0));
    // outside
    assert!(close(s.rate_at(40.0), 0.0));
    assert!(close(s.rate_at(1e6), 0.0));
    assert!(close(s.rate_at(-1.0), 0.0));
    assert!(close(s.rate_at(f64::NAN), 0.0));

    assert_eq!(s.phase_at(0.0).unwrap().name, "base");
    assert_eq!(s.phase_at(10.0).unwrap().name, "ramp");
    assert_eq!(s.phase_at(39.0).unwrap().name, "step");
    assert!(s.phase_at(40.0).is_none());
    assert!(s.phase_at(-0.5).is_none());
}

#[test]
fn scaled_multiplies_durations_not_rates_or_counts() {
    let mut s = good();
    s.faults.push(switchboard_loadtest::scenario::Fault {
        at_secs: 20.0,
        run: "true".into(),
    });
    s.storm = Some(switchboard_loadtest::scenario::Storm {
        at_secs: 30.0,
        target: 1,
    });
    s.idle = Some(switchboard_loadtest::scenario::Idle {
        connections: 100,
        open_rate: 50.0,
        hold_secs: 10.0,
    });
    s.ci_scale = Some(0.5);
    s.validate().unwrap();

    let h = s.scaled(0.5);
    h.validate().unwrap();
    assert!(close(h.duration_secs(), 20.0));
    assert!(close(h.phases[1].duration_secs, 10.0));
    assert!(close(h.phases[2].step_at_secs.unwrap(), 2.0));
    assert!(close(h.phases[1].rate, 1.0) && close(h.phases[1].to_rate.unwrap(), 5.0));
    assert!(
        close(h.rate_at(10.0), 3.0),
        "the ramp's middle moved to 10 s"
    );
    assert!(close(h.rate_at(17.0), 50.0), "the step moved to 17 s");
    assert!(close(h.agents.think_ms.min, 50.0) && close(h.agents.think_ms.max, 250.0));
    assert!(close(h.customers.think_ms.max, 400.0));
    assert!(close(h.customers.patience_secs.min, 2.5));
    assert!(close(h.faults[0].at_secs, 10.0));
    let storm = h.storm.as_ref().unwrap();
    assert!(close(storm.at_secs, 15.0));
    let idle = h.idle.as_ref().unwrap();
    assert!(close(idle.hold_secs, 5.0));
    assert_eq!(idle.connections, 100);
    assert!(close(idle.open_rate, 50.0));
    assert_eq!(h.agents.count, s.agents.count);
    assert_eq!(h.customers.messages, s.customers.messages);
    assert!(close(h.ci_scale.unwrap(), 1.0));

    // A bad factor is refused by check_scale and changes nothing.
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(Scenario::check_scale(bad).is_err());
        assert_eq!(s.scaled(bad).phases, s.phases);
    }
    assert!(Scenario::check_scale(0.0083).is_ok());
}

#[test]
fn roster_toml_is_the_servers_agents_table() {
    let s = Scenario::load("rally").unwrap();
    let text = s.roster_toml();
    let value: toml::Table = toml::from_str(&text).unwrap();
    let agents = value["agents"].as_array().unwrap();
    assert_eq!(agents.len(), s.agents.count as usize);
    let first = agents[0].as_table().unwrap();
    assert_eq!(first["id"].as_str(), Some("lt-agent-0"));
    assert_eq!(first["token"].as_str(), Some("lt-token-0"));
    assert_eq!(first["name"].as_str(), Some("Load agent 0"));
    assert_eq!(first["capacity"].as_integer(), Some(3));
    let skills: Vec<&str> = first["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(skills, s.agents.skills);
    assert_eq!(
        first["languages"].as_array().unwrap().len(),
        s.agents.languages.len()
    );
    let last = agents.last().unwrap().as_table().unwrap();
    assert_eq!(
        last["id"].as_str().unwrap(),
        format!("lt-agent-{}", s.agents.count - 1)
    );
    // Nothing but [[agents]] and the [security] the load needs: it pastes
    // into the server's file as is.
    assert_eq!(value.len(), 2);
    assert_eq!(
        value["security"]["max_connections_per_address"].as_integer(),
        Some(1_000_000)
    );

    let mut odd = good();
    odd.agents.id_prefix = "a\"b-".into();
    let value: toml::Table = toml::from_str(&odd.roster_toml()).unwrap();
    assert_eq!(value["agents"][0]["id"].as_str(), Some("a\"b-0"));
}

#[test]
fn target_urls_must_be_loopback() {
    for ok in [
        "ws://127.0.0.1:8080",
        "ws://127.3.4.5",
        "wss://localhost:443/",
        "ws://LOCALHOST:1",
        "ws://[::1]:8080",
    ] {
        assert!(Targets::check_url(ok).is_ok(), "{ok}");
    }
    for bad in [
        "ws://10.0.0.5:8080",
        "ws://example.com",
        "http://127.0.0.1:8080",
        "ws://[::2]:80",
        "ws://0.0.0.0:8080",
        "ws://127.0.0.1:99999",
        "ws://user@127.0.0.1",
        "ws://:8080",
    ] {
        assert!(Targets::check_url(bad).is_err(), "{bad}");
    }
}

/// A bad file, and words its error message must hold.
struct Bad {
    what: &'static str,
    text: String,
    expect: &'static [&'static str],
}

fn bad(what: &'static str, from: &str, to: &str, expect: &'static [&'static str]) -> Bad {
    assert!(GOOD.contains(from), "{what}: `{from}` is not in GOOD");
    Bad {
        what,
        text: GOOD.replacen(from, to, 1),
        expect,
    }
}

fn append(what: &'static str, extra: &str, expect: &'static [&'static str]) -> Bad {
    Bad {
        what,
        text: format!("{GOOD}\n{extra}\n"),
        expect,
    }
}

#[test]
fn bad_files_name_the_key_and_the_problem() {
    let cases = [
        // TOML syntax and types
        bad(
            "syntax error",
            "count = 3",
            "count = = 3",
            &["syntax", "line 26", "count = = 3"],
        ),
        bad(
            "wrong type",
            "duration_secs = 20",
            "duration_secs = \"long\"",
            &[
                "phases[1].duration_secs",
                "line 12",
                "wrong type",
                "string",
                "number",
            ],
        ),
        bad(
            "negative count",
            "count = 3",
            "count = -3",
            &["agents.count", "-3", "whole number"],
        ),
        bad(
            "unknown key",
            "patience_secs = { min = 5, max = 60 }",
            "patience_secs = { min = 5, max = 60 }\ncolour = \"red\"",
            &[
                "customers.colour",
                "unknown key `colour`",
                "[customers]",
                "line 39",
            ],
        ),
        bad(
            "unknown key in a range",
            "think_ms = { min = 100, max = 500 }",
            "think_ms = { min = 100, max = 500, avg = 300 }",
            &[
                "agents.think_ms.avg",
                "unknown key `avg`",
                "expected `min` or `max`",
            ],
        ),
        bad(
            "unknown top-level key",
            "seed = 7",
            "seed = 7\nsped = 3",
            &["sped", "unknown key", "top level"],
        ),
        bad(
            "missing key in an array of tables",
            "duration_secs = 10\n",
            "",
            &["phases[0].duration_secs", "required", "line 5"],
        ),
        bad(
            "missing key in a range",
            "think_ms = { min = 200, max = 800 }",
            "think_ms = { min = 200 }",
            &["customers.think_ms.max", "required"],
        ),
        bad(
            "unknown shape",
            "shape = \"ramp\"",
            "shape = \"curve\"",
            &["phases[1].shape", "curve", "steady"],
        ),
        // Rules
        bad(
            "ramp without to_rate",
            "to_rate = 5.0",
            "",
            &["phases[1].to_rate", "required", "ramp", "line 10"],
        ),
        bad(
            "step without step_at_secs",
            "step_at_secs = 4",
            "",
            &["phases[2].step_at_secs", "required", "step"],
        ),
        bad(
            "step outside the phase",
            "step_at_secs = 4",
            "step_at_secs = 12",
            &["phases[2].step_at_secs", "must be within the phase"],
        ),
        bad(
            "zero duration",
            "duration_secs = 10\nrate = 1.0",
            "duration_secs = 0\nrate = 1.0",
            &["phases[0].duration_secs", "must be > 0"],
        ),
        bad(
            "negative rate",
            "rate = 5.0\nto_rate = 50.0",
            "rate = -5.0\nto_rate = 50.0",
            &["phases[2].rate", "≥ 0"],
        ),
        bad(
            "infinite rate",
            "to_rate = 50.0",
            "to_rate = inf",
            &["phases[2].to_rate", "finite"],
        ),
        bad(
            "to_rate on a steady phase",
            "rate = 1.0\n\n[[phases]]\nname = \"ramp\"",
            "rate = 1.0\nto_rate = 3.0\n\n[[phases]]\nname = \"ramp\"",
            &["phases[0].to_rate", "shape"],
        ),
        bad(
            "too many agents",
            "count = 3",
            "count = 20001",
            &["agents.count", "20000"],
        ),
        bad(
            "capacity 0",
            "capacity = 2",
            "capacity = 0",
            &["agents.capacity", "between 1 and 100"],
        ),
        bad(
            "no skills",
            "skills = [\"trading\", \"general\"]",
            "skills = []",
            &["agents.skills", "at least one topic"],
        ),
        bad(
            "bad language",
            "languages = [\"en\", \"es\"]",
            "languages = [\"en\", \"Spanish\"]",
            &["agents.languages[1]", "Spanish", "language"],
        ),
        bad(
            "min > max",
            "think_ms = { min = 100, max = 500 }",
            "think_ms = { min = 900, max = 500 }",
            &["agents.think_ms", "min must be ≤ max", "line 30"],
        ),
        bad(
            "negative min",
            "patience_secs = { min = 5, max = 60 }",
            "patience_secs = { min = -5, max = 60 }",
            &["customers.patience_secs.min", "≥ 0"],
        ),
        bad(
            "resolve_after 0",
            "resolve_after = 2",
            "resolve_after = 0",
            &["agents.resolve_after", "≥ 1"],
        ),
        bad(
            "empty weights",
            "topics = { trading = 3, general = 1 }",
            "topics = {}",
            &["customers.topics", "at least one"],
        ),
        bad(
            "all weights zero",
            "languages = { en = 1 }",
            "languages = { en = 0 }",
            &["customers.languages", "weight must be > 0"],
        ),
        bad(
            "share above 1",
            "messages = { min = 1, max = 4 }",
            "messages = { min = 1, max = 4 }\nreconnect_share = 1.5",
            &["customers.reconnect_share", "between 0 and 1"],
        ),
        bad(
            "vip without a secret",
            "messages = { min = 1, max = 4 }",
            "messages = { min = 1, max = 4 }\nvip_share = 0.2",
            &["customers.vip_share", "identity_secret"],
        ),
        bad(
            "short secret",
            "messages = { min = 1, max = 4 }",
            "messages = { min = 1, max = 4 }\nvip_share = 0.2\nidentity_secret = \"short\"",
            &["customers.identity_secret", "16 bytes"],
        ),
        bad(
            "zero messages",
            "messages = { min = 1, max = 4 }",
            "messages = { min = 0, max = 4 }",
            &["customers.messages.min", "≥ 1"],
        ),
        bad(
            "non-loopback target",
            "\"ws://localhost:8081\"",
            "\"ws://10.0.0.5:8080\"",
            &["targets.urls[1]", "10.0.0.5", "not loopback", "line 41"],
        ),
        bad(
            "not a WebSocket URL",
            "\"ws://127.0.0.1:8080\",",
            "\"http://127.0.0.1:8080\",",
            &["targets.urls[0]", "ws://"],
        ),
        bad(
            "no targets",
            "urls = [\"ws://127.0.0.1:8080\", \"ws://localhost:8081\"]",
            "urls = []",
            &["targets.urls", "at least one"],
        ),
        bad(
            "source addresses",
            "urls = [",
            "source_addresses = 255\nurls = [",
            &["targets.source_addresses", "254"],
        ),
        bad(
            "source range past .254",
            "urls = [",
            "source_first = 252\nsource_addresses = 4\nurls = [",
            &["targets.source_first", "254"],
        ),
        append(
            "fault with no command",
            "[[faults]]\nat_secs = 5\nrun = \"  \"",
            &["faults[0].run", "not empty"],
        ),
        append(
            "fault at a negative time",
            "[[faults]]\nat_secs = -1\nrun = \"true\"",
            &["faults[0].at_secs", "≥ 0"],
        ),
        append(
            "fault after the end",
            "[[faults]]\nat_secs = 41\nrun = \"true\"",
            &["faults[0].at_secs", "after the end"],
        ),
        append(
            "idle with no connections",
            "[idle]\nconnections = 0\nopen_rate = 10.0\nhold_secs = 5",
            &["idle.connections", "at least 1"],
        ),
        append(
            "idle open rate 0",
            "[idle]\nconnections = 10\nopen_rate = 0.0\nhold_secs = 5",
            &["idle.open_rate", "> 0"],
        ),
        append(
            "storm target out of range",
            "[storm]\nat_secs = 5\ntarget = 2",
            &["storm.target", "below 2"],
        ),
        bad(
            "no phases",
            "[[phases]]\nname = \"base\"\nduration_secs = 10\nrate = 1.0\n\n\
             [[phases]]\nname = \"ramp\"\nduration_secs = 20\nshape = \"ramp\"\nrate = 1.0\nto_rate = 5.0\n\n\
             [[phases]]\nname = \"step\"\nduration_secs = 10\nshape = \"step\"\nrate = 5.0\nto_rate = 50.0\nstep_at_secs = 4\n",
            "phases = []\n",
            &["phases", "at least one phase"],
        ),
        bad(
            "missing [agents]",
            "[agents]\ncount = 3\ncapacity = 2\nskills = [\"trading\", \"general\"]\n\
             languages = [\"en\", \"es\"]\nthink_ms = { min = 100, max = 500 }\nresolve_after = 2\n",
            "",
            &["`agents`", "required key is missing"],
        ),
        bad(
            "ci_scale 0",
            "seed = 7",
            "seed = 7\nci_scale = 0.0",
            &["ci_scale", "> 0"],
        ),
    ];
    assert!(cases.len() >= 15);
    for case in cases {
        let err = match Scenario::parse(&case.text, "bad.toml") {
            Ok(_) => panic!("{}: parsed, but should not have", case.what),
            Err(err) => err,
        };
        let msg = err.to_string();
        assert!(msg.starts_with("bad.toml"), "{}: {msg}", case.what);
        for want in case.expect {
            assert!(
                msg.contains(want),
                "{}: `{want}` is not in the message: {msg}",
                case.what
            );
        }
    }
}

#[test]
fn validate_names_the_scenario_after_loading() {
    let mut s = good();
    s.agents.think_ms.min = 10_000.0;
    let err = s.validate().unwrap_err();
    assert_eq!(err.key(), Some("agents.think_ms"));
    let msg = err.to_string();
    assert!(
        msg.starts_with("scenario `t`: `agents.think_ms`: min must be ≤ max"),
        "{msg}"
    );
}
