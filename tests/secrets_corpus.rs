//! The secret scanner over its corpus (tests/corpus/secrets/, written by
//! generate.py there) and over a holdout written after it (holdout.py):
//! counts false positives and false negatives per file and fails above the
//! thresholds below, which are what was measured (the figures the README
//! quotes). Also checks that a masked message keeps
//! no fragment of its secret and keeps the text around it.

// The thresholds are measured figures, some of them 0: `x <= 0` is the
// point, not a slip.
#![allow(clippy::absurd_extreme_comparisons)]

use std::collections::HashSet;

use serde::Deserialize;
use switchboard::secrets::{SecretKind, SecretRequest, SecretScanner, asks_for_secret};

/// Benign customer messages that get masked.
const MAX_CUSTOMER_FALSE_POSITIVES: usize = 0;
/// Customer messages with a secret that is not (fully) found: missing kind,
/// or a fragment of the secret left in the text.
const MAX_CUSTOMER_FALSE_NEGATIVES: usize = 0;
/// The same two counts over the customer holdout (`customer-holdout.jsonl`,
/// written by `holdout.py`).
const MAX_HOLDOUT_FALSE_POSITIVES: usize = 0;
/// One: a mistyped phrase, unnumbered (docs/secrets.md, known limits).
const MAX_HOLDOUT_FALSE_NEGATIVES: usize = 1;
/// The same over the agent holdout (`agent-holdout.jsonl`).
const MAX_AGENT_HOLDOUT_FALSE_POSITIVES: usize = 0;
/// One: "reply with the SMS code we just sent you" is not taken for a request.
const MAX_AGENT_HOLDOUT_FALSE_NEGATIVES: usize = 1;
/// Benign agent messages flagged as asking for a secret.
const MAX_AGENT_FALSE_POSITIVES: usize = 0;
/// Agent messages that ask for a secret but are not flagged (or flagged as
/// another kind).
const MAX_AGENT_FALSE_NEGATIVES: usize = 0;

#[derive(Debug, Deserialize)]
struct CustomerCase {
    text: String,
    kinds: Vec<SecretKind>,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    keep: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct AgentCase {
    text: String,
    asks: Option<SecretRequest>,
}

fn lines<T: for<'de> Deserialize<'de>>(name: &str) -> Vec<T> {
    let path = format!("{}/tests/corpus/secrets/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}:{}: {e}", i + 1)))
        .collect()
}

/// What of the secret survives in the masked text, if anything: 4
/// consecutive words of a phrase, or 8 consecutive characters of a key (the
/// whole code, for codes shorter than that).
fn leaked(secret: &str, masked: &str) -> Option<String> {
    let masked = masked.to_lowercase();
    let words: Vec<String> = secret
        .split(|c: char| c.is_whitespace() || c == ',' || c == '，')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.len() >= 4 {
        let masked_words: Vec<&str> = masked
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
            .collect();
        return words
            .windows(4)
            .find_map(|w| masked_words.windows(4).any(|m| m == w).then(|| w.join(" ")));
    }
    let chars: Vec<char> = secret
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if chars.len() >= 12 && !secret.contains(' ') {
        return chars
            .windows(8)
            .map(|w| w.iter().collect::<String>())
            .find(|w| masked.contains(w.as_str()));
    }
    // Short secrets (codes, glued Chinese phrases): the whole of it, or for
    // glued CJK any 4 characters in a row.
    let compact: String = chars.iter().collect();
    if compact.chars().all(|c| !c.is_ascii()) && compact.chars().count() >= 12 {
        let masked_compact: String = masked.chars().filter(|c| !c.is_whitespace()).collect();
        return chars
            .windows(4)
            .map(|w| w.iter().collect::<String>())
            .find(|w| masked_compact.contains(w.as_str()));
    }
    masked
        .contains(&secret.to_lowercase())
        .then(|| secret.to_owned())
}

/// Benign count, false positives, count with secrets, false negatives.
fn customer_counts(name: &str) -> (usize, usize, usize, usize) {
    let scanner = SecretScanner::global();
    let cases: Vec<CustomerCase> = lines(name);
    let (mut benign, mut secret, mut fp, mut fn_) = (0, 0, 0, 0);
    for case in &cases {
        let found = scanner.redact(&case.text);
        if case.kinds.is_empty() {
            benign += 1;
            if let Some(r) = found {
                fp += 1;
                println!("FALSE POSITIVE {:?}\n  -> {:?}", case.text, r.text);
            }
            continue;
        }
        secret += 1;
        let Some(r) = found else {
            fn_ += 1;
            println!("FALSE NEGATIVE (nothing found) {:?}", case.text);
            continue;
        };
        let want: HashSet<_> = case.kinds.iter().collect();
        let got: HashSet<_> = r.kinds.iter().collect();
        let problem = if want != got {
            Some(format!("kinds {:?}, want {:?}", r.kinds, case.kinds))
        } else if let Some(leak) = leaked(&case.secret, &r.text) {
            Some(format!("leaks {leak:?}"))
        } else {
            case.keep
                .iter()
                .find(|k| !r.text.contains(k.as_str()))
                .map(|k| format!("lost {k:?}"))
        };
        if let Some(p) = problem {
            fn_ += 1;
            println!("FALSE NEGATIVE ({p}) {:?}\n  -> {:?}", case.text, r.text);
        }
    }
    println!(
        "{name}: {benign} benign, {fp} false positives; {secret} with secrets, {fn_} false negatives"
    );
    (benign, fp, secret, fn_)
}

#[test]
fn customer_corpus() {
    let (benign, fp, secret, fn_) = customer_counts("customer.jsonl");
    assert!(benign >= 250 && secret >= 90, "corpus too small");
    assert!(fp <= MAX_CUSTOMER_FALSE_POSITIVES, "{fp} false positives");
    assert!(fn_ <= MAX_CUSTOMER_FALSE_NEGATIVES, "{fn_} false negatives");
}

/// Messages written after the scanner was, and never tuned against: its
/// figures say how it does on text it has not seen.
#[test]
fn customer_holdout() {
    let (benign, fp, secret, fn_) = customer_counts("customer-holdout.jsonl");
    assert!(benign >= 20 && secret >= 10, "holdout too small");
    assert!(fp <= MAX_HOLDOUT_FALSE_POSITIVES, "{fp} false positives");
    assert!(fn_ <= MAX_HOLDOUT_FALSE_NEGATIVES, "{fn_} false negatives");
}

/// Benign count, false positives, count asking, false negatives.
fn agent_counts(name: &str) -> (usize, usize, usize, usize) {
    let cases: Vec<AgentCase> = lines(name);
    let (mut benign, mut asks, mut fp, mut fn_) = (0, 0, 0, 0);
    for case in &cases {
        let got = asks_for_secret(&case.text);
        match case.asks {
            None => {
                benign += 1;
                if got.is_some() {
                    fp += 1;
                    println!("FALSE POSITIVE ({got:?}) {:?}", case.text);
                }
            }
            Some(want) => {
                asks += 1;
                if got != Some(want) {
                    fn_ += 1;
                    println!("FALSE NEGATIVE ({got:?}, want {want:?}) {:?}", case.text);
                }
            }
        }
    }
    println!("{name}: {benign} benign, {fp} false positives; {asks} asking, {fn_} false negatives");
    (benign, fp, asks, fn_)
}

#[test]
fn agent_corpus() {
    let (_, fp, _, fn_) = agent_counts("agent.jsonl");
    assert!(fp <= MAX_AGENT_FALSE_POSITIVES, "{fp} false positives");
    assert!(fn_ <= MAX_AGENT_FALSE_NEGATIVES, "{fn_} false negatives");
}

#[test]
fn agent_holdout() {
    let (benign, fp, asks, fn_) = agent_counts("agent-holdout.jsonl");
    assert!(benign >= 8 && asks >= 8, "holdout too small");
    assert!(
        fp <= MAX_AGENT_HOLDOUT_FALSE_POSITIVES,
        "{fp} false positives"
    );
    assert!(
        fn_ <= MAX_AGENT_HOLDOUT_FALSE_NEGATIVES,
        "{fn_} false negatives"
    );
}
