//! What the secret scanner costs each customer message, on the path every
//! message takes (the session scans before the hub sees the frame): over the
//! corpus's benign messages (the common case: nothing found, nothing
//! allocated), over its messages with a secret (found and masked), and on a
//! message at the protocol's 4,000-character limit. Also what an agent
//! message costs the request check.
//!
//! Run: `cargo bench --bench secrets`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use switchboard::secrets::{SecretScanner, asks_for_secret};

#[derive(Deserialize)]
struct Case {
    text: String,
    #[serde(default)]
    kinds: Vec<serde_json::Value>,
}

fn corpus(name: &str) -> Vec<Case> {
    let path = format!("{}/tests/corpus/secrets/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A long, ordinary message: many words of the BIP-39 list, a TxID and an
/// address, up to the 4,000-character message limit.
fn long_message() -> String {
    let sentence = "I sent the deposit from my wallet yesterday at noon and the exchange still shows \
                    it as pending, txid 3f2b9c0d1e4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344, \
                    address bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq; please check what happened. ";
    let mut text = String::new();
    while text.len() + sentence.len() <= 4000 {
        text.push_str(sentence);
    }
    text
}

fn scanner(c: &mut Criterion) {
    let scanner = SecretScanner::global();
    let customer = corpus("customer.jsonl");
    let (secret, benign): (Vec<&Case>, Vec<&Case>) =
        customer.iter().partition(|case| !case.kinds.is_empty());
    let mut group = c.benchmark_group("secrets");
    group.throughput(Throughput::Elements(benign.len() as u64));
    group.bench_function("customer_benign_corpus", |b| {
        b.iter(|| {
            for case in &benign {
                black_box(scanner.redact(black_box(&case.text)));
            }
        })
    });
    group.throughput(Throughput::Elements(secret.len() as u64));
    group.bench_function("customer_secret_corpus", |b| {
        b.iter(|| {
            for case in &secret {
                black_box(scanner.redact(black_box(&case.text)));
            }
        })
    });
    let long = long_message();
    group.throughput(Throughput::Elements(1));
    group.bench_function("customer_4000_chars", |b| {
        b.iter(|| black_box(scanner.redact(black_box(&long))))
    });
    let agent = corpus("agent.jsonl");
    group.throughput(Throughput::Elements(agent.len() as u64));
    group.bench_function("agent_corpus", |b| {
        b.iter(|| {
            for case in &agent {
                black_box(asks_for_secret(black_box(&case.text)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, scanner);
criterion_main!(benches);
