//! Secrets in chat text: what a customer must not paste into a support chat
//! (seed phrases, private keys, 2FA codes) and what an agent must not ask for.
//!
//! Customer messages go through [`SecretScanner::redact`] before they are
//! stored or forwarded: each secret is replaced by its kind's
//! [`mask`](SecretKind::mask). Agent messages go through [`asks_for_secret`],
//! which flags a request for a secret (the scam pattern) and lets warnings pass.
//! What is detected, how, and what deliberately passes: `docs/secrets.md`.
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | the public types, and merging the detectors' findings into one masked text |
//! | [`mnemonic`] | BIP-39 word lists and checksummed mnemonics in running text |
//! | [`base58`] | Base58Check keys: WIF private keys and extended private keys |
//! | [`hex`] | 64-hex private keys, only where the words around say so |
//! | [`codes`] | 2FA backup codes and live 2FA codes, only where the words around say so |
//! | [`context`] | cue phrases per language, and finding them near a token |
//! | [`request`] | agent messages that ask for a secret |

mod base58;
mod codes;
mod context;
mod hex;
mod mnemonic;
mod request;

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

pub use request::{SecretRequest, asks_for_secret};

/// A kind of secret found in a customer message. Travels over the cluster bus
/// and labels metrics, so its wire names ([`SecretKind::as_str`]) are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// A BIP-39 mnemonic (12–24 words), in any of the official word lists.
    SeedPhrase,
    /// A Base58Check WIF private key (mainnet or testnet).
    WifPrivateKey,
    /// A BIP-32 extended private key (`xprv`, `tprv`, `yprv`, `zprv`, ...).
    ExtendedPrivateKey,
    /// 64 hex digits that the words around call a private key.
    HexPrivateKey,
    /// 2FA backup codes, or a live 2FA / verification code.
    #[serde(rename = "2fa_backup_codes")]
    TwoFactorBackupCodes,
}

impl SecretKind {
    /// Every kind, in declaration order (for metrics pre-registration).
    pub const ALL: [SecretKind; 5] = [
        SecretKind::SeedPhrase,
        SecretKind::WifPrivateKey,
        SecretKind::ExtendedPrivateKey,
        SecretKind::HexPrivateKey,
        SecretKind::TwoFactorBackupCodes,
    ];

    /// The stable name: metrics label and wire value (same as serde).
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::SeedPhrase => "seed_phrase",
            SecretKind::WifPrivateKey => "wif_private_key",
            SecretKind::ExtendedPrivateKey => "extended_private_key",
            SecretKind::HexPrivateKey => "hex_private_key",
            SecretKind::TwoFactorBackupCodes => "2fa_backup_codes",
        }
    }

    /// What replaces the secret in the stored and forwarded text. WIF and hex
    /// keys share one mask: to the reader they are the same thing.
    pub fn mask(self) -> &'static str {
        match self {
            SecretKind::SeedPhrase => "[redacted: seed phrase]",
            SecretKind::WifPrivateKey | SecretKind::HexPrivateKey => "[redacted: private key]",
            SecretKind::ExtendedPrivateKey => "[redacted: extended private key]",
            SecretKind::TwoFactorBackupCodes => "[redacted: 2FA backup codes]",
        }
    }
}

/// A message with its secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// The text with every secret replaced by its kind's mask.
    pub text: String,
    /// The distinct kinds found, in order of first appearance in the text.
    pub kinds: Vec<SecretKind>,
}

/// One secret's byte range in the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Finding {
    start: usize,
    end: usize,
    kind: SecretKind,
}

/// The scanner: the word lists folded into one hash map, built once (about
/// 20k words) and shared read-only, so it is `Send + Sync` without a lock.
#[derive(Debug)]
pub struct SecretScanner {
    /// BIP-39 words of every language, folded (lower case, no accents).
    words: mnemonic::WordIndex,
}

static GLOBAL: LazyLock<SecretScanner> = LazyLock::new(SecretScanner::new);

/// Looks at a text before its masking is final (see
/// [`SecretScanner::redact`]): two are the rule, more only where masks moved
/// cues; this bounds the cost of a hostile message.
const MAX_PASSES: usize = 4;

impl Default for SecretScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl SecretScanner {
    /// Builds the word index. Costs a few milliseconds: build once, or use
    /// [`SecretScanner::global`].
    pub fn new() -> Self {
        SecretScanner {
            words: mnemonic::WordIndex::new(),
        }
    }

    /// The process-wide scanner, built on first use.
    pub fn global() -> &'static SecretScanner {
        &GLOBAL
    }

    /// Masks every secret in `text`. `None` when there is none: the common
    /// path, which allocates nothing (each detector bails out on cheap
    /// pre-checks before it looks closer).
    ///
    /// The masked text is final: redacting it again finds nothing (a
    /// property fuzzing checks, `fuzz/`). The scanner ignores its own masks,
    /// whose words would be cues ("2FA backup codes", "private key") and list
    /// words ("seed phrase"); but a mask is not as long as what it replaced,
    /// so cues move nearer or farther and a second look can still find what
    /// the first let pass. So the text is looked at again until a look finds
    /// nothing.
    pub fn redact(&self, text: &str) -> Option<Redaction> {
        let mut redaction = self.redact_once(text)?;
        for _ in 1..MAX_PASSES {
            let Some(again) = self.redact_once(&redaction.text) else {
                break;
            };
            redaction.text = again.text;
            for kind in again.kinds {
                if !redaction.kinds.contains(&kind) {
                    redaction.kinds.push(kind);
                }
            }
        }
        Some(redaction)
    }

    fn redact_once(&self, text: &str) -> Option<Redaction> {
        let mut findings = Vec::new();
        self.words.find(text, &mut findings);
        base58::find(text, &mut findings);
        let mut lowered = context::Lowered::new(text);
        hex::find(text, &mut lowered, &mut findings);
        codes::find(text, &mut lowered, &mut findings);
        if findings.is_empty() {
            return None;
        }
        Some(apply(text, findings))
    }
}

/// Replaces each finding by its mask. Overlapping findings (a code inside a
/// masked phrase, say) become one mask, of the kind that starts first.
fn apply(text: &str, mut findings: Vec<Finding>) -> Redaction {
    findings.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut merged: Vec<Finding> = Vec::with_capacity(findings.len());
    for f in findings {
        match merged.last_mut() {
            Some(last) if f.start < last.end => last.end = last.end.max(f.end),
            _ => merged.push(f),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut kinds = Vec::new();
    let mut at = 0;
    for f in merged {
        out.push_str(&text[at..f.start]);
        out.push_str(f.kind.mask());
        at = f.end;
        if !kinds.contains(&f.kind) {
            kinds.push(f.kind);
        }
    }
    out.push_str(&text[at..]);
    Redaction { text: out, kinds }
}

/// `text` with each mask in it (one of [`SecretKind::mask`]) made one token
/// that is no word of any list, `[x0x0…]`, of the same length, so that byte
/// offsets still match. `None` when it holds no mask (the common case).
fn blank_masks(text: &str) -> Option<String> {
    if !text.contains("[redacted: ") {
        return None;
    }
    let mut out = text.to_owned();
    for kind in SecretKind::ALL {
        let mask = kind.mask();
        let blank: String = std::iter::once('[')
            .chain((1..mask.len() - 1).map(|i| if i % 2 == 1 { 'x' } else { '0' }))
            .chain(std::iter::once(']'))
            .collect();
        out = out.replace(mask, &blank);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        for kind in SecretKind::ALL {
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            let back: Option<SecretKind> = serde_json::from_str(&json).ok();
            assert_eq!(back, Some(kind));
        }
    }

    #[test]
    fn scanner_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SecretScanner>();
    }

    #[test]
    fn overlapping_findings_become_one_mask() {
        let text = "aaa bbb ccc";
        let r = apply(
            text,
            vec![
                Finding {
                    start: 4,
                    end: 11,
                    kind: SecretKind::TwoFactorBackupCodes,
                },
                Finding {
                    start: 0,
                    end: 7,
                    kind: SecretKind::SeedPhrase,
                },
            ],
        );
        assert_eq!(r.text, "[redacted: seed phrase]");
        assert_eq!(r.kinds, vec![SecretKind::SeedPhrase]);
    }

    #[test]
    fn kinds_in_order_of_appearance() {
        let text = "a b c d";
        let r = apply(
            text,
            vec![
                Finding {
                    start: 6,
                    end: 7,
                    kind: SecretKind::SeedPhrase,
                },
                Finding {
                    start: 0,
                    end: 1,
                    kind: SecretKind::HexPrivateKey,
                },
                Finding {
                    start: 2,
                    end: 3,
                    kind: SecretKind::SeedPhrase,
                },
            ],
        );
        assert_eq!(
            r.text,
            "[redacted: private key] [redacted: seed phrase] c [redacted: seed phrase]"
        );
        assert_eq!(
            r.kinds,
            vec![SecretKind::HexPrivateKey, SecretKind::SeedPhrase]
        );
    }

    #[test]
    fn masked_text_is_final() {
        let scanner = SecretScanner::global();
        // fuzz/regressions/redact/mask-is-a-cue: "$" is nearer the second
        // code than "Recovery codes", but the first mask's "backup codes"
        // would be nearer still.
        let codes = "Recovery codes: a7k2-p9q3 m4x8-z2w6 cost me $5";
        let r = scanner.redact(codes).unwrap();
        assert_eq!(
            r.text,
            "Recovery codes: [redacted: 2FA backup codes] m4x8-z2w6 cost me $5"
        );
        assert_eq!(r.kinds, vec![SecretKind::TwoFactorBackupCodes]);
        // A WIF's mask says "private key", but it is no cue for the 64-hex
        // string beside it (a TxID as often as not).
        let wif = "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ \
                   e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35";
        let r = scanner.redact(wif).unwrap();
        assert_eq!(
            r.text,
            "[redacted: private key] e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35"
        );
        // "private key" and ten list words make a valid phrase, but a
        // mask's words are not the customer's: the words stay.
        let phrase = "private key blue ocean river stone happy lemon tiger music orange abstract";
        assert_eq!(
            scanner.redact(phrase).map(|r| r.text).as_deref(),
            Some("[redacted: seed phrase]")
        );
        let words = "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ \
                     blue ocean river stone happy lemon tiger music orange abstract";
        assert_eq!(
            scanner.redact(words).map(|r| r.text).as_deref(),
            Some(
                "[redacted: private key] blue ocean river stone happy lemon tiger music orange abstract"
            )
        );
        for text in [codes, wif, words] {
            let once = scanner.redact(text).map(|r| r.text).unwrap_or_default();
            assert_eq!(scanner.redact(&once), None, "{once}");
        }
    }

    #[test]
    fn plain_message_passes() {
        assert_eq!(
            SecretScanner::global().redact("hello, my deposit is late"),
            None
        );
        assert_eq!(SecretScanner::global().redact(""), None);
    }
}
