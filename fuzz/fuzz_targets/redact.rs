//! The secret scanner: `SecretScanner::global().redact` on any text (bytes
//! made text by `from_utf8_lossy`, so every input is used).
//!
//! Beyond "no panic":
//! - a redaction names at least one kind, and each kind's documented mask
//!   (`[redacted: ...]`, `SecretKind::mask`) is in the text;
//! - the redacted text is the original with spans replaced by masks: the
//!   pieces between masks appear in the original, in order, and nothing
//!   else was added;
//! - it holds no secret the scanner finds: redacting it again finds
//!   nothing (idempotent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::secrets::{SecretKind, SecretScanner};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let scanner = SecretScanner::global();
    let Some(redaction) = scanner.redact(&text) else {
        return;
    };
    let out = &redaction.text;
    assert!(std::str::from_utf8(out.as_bytes()).is_ok());
    assert!(!redaction.kinds.is_empty(), "a redaction without a kind");
    for kind in &redaction.kinds {
        assert!(out.contains(kind.mask()), "{kind:?}: no mask in {out:?}");
    }
    assert!(
        masks(out) > masks(&text),
        "no mask added: {text:?} -> {out:?}"
    );
    // What is left of the message stands in the original, in order.
    let mut rest: &str = &text;
    for piece in pieces(out) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => panic!("{piece:?} of {out:?} is not in what is left of {text:?}"),
        }
    }
    if let Some(again) = scanner.redact(out) {
        panic!(
            "not idempotent: {text:?} -> {out:?} ({:?}) -> {:?} ({:?})",
            redaction.kinds, again.text, again.kinds
        );
    }
});

/// The text between the documented masks.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some((at, mask)) = next_mask(rest) {
        out.push(&rest[..at]);
        rest = &rest[at + mask.len()..];
    }
    out.push(rest);
    out
}

fn next_mask(text: &str) -> Option<(usize, &'static str)> {
    SecretKind::ALL
        .iter()
        .filter_map(|k| text.find(k.mask()).map(|at| (at, k.mask())))
        .min()
}

fn masks(text: &str) -> usize {
    pieces(text).len() - 1
}
