//! 64-hex private keys. A bare 64-hex string is far more often a TxID or a
//! block hash than a key, so one is masked only where the words around it
//! call it a private key, and a nearer "txid" / "transaction" / "hash" wins.

use super::context::{self, Lowered};
use super::{Finding, SecretKind};

/// How far a cue may stand before the key (about one sentence) and after it
/// ("... is my private key").
const REACH: (usize, usize) = (100, 40);

pub(super) fn find(text: &str, lowered: &mut Lowered<'_>, out: &mut Vec<Finding>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let token = &bytes[start..i];
        let digits = match token {
            [b'0', b'x' | b'X', rest @ ..] if rest.len() == 64 => rest,
            _ if token.len() == 64 => token,
            _ => continue,
        };
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            continue;
        }
        let lower = lowered.get();
        if context::cue_wins(
            lower,
            (start, i),
            REACH,
            &context::PRIVATE_KEY_CUES,
            &context::NOT_A_KEY_CUES,
        ) {
            out.push(Finding {
                start,
                end: i,
                kind: SecretKind::HexPrivateKey,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35";

    fn scan(text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        find(text, &mut Lowered::new(text), &mut out);
        out
    }

    #[test]
    fn key_with_context_is_found() {
        for text in [
            format!("my private key is {KEY} please help"),
            format!("Private Key: 0x{KEY}"),
            format!("{KEY} <- this is my privkey"),
            format!("我的私钥是{KEY}"),
            format!("mi clave privada: {KEY}"),
            format!("Мой приватный ключ {KEY}"),
            format!("özel anahtarım {KEY}"),
            format!("khóa riêng của tôi {KEY}"),
            format!("المفتاح الخاص {KEY}"),
        ] {
            let found = scan(&text);
            assert_eq!(found.len(), 1, "{text}");
            assert_eq!(
                &text[found[0].start..found[0].end].trim_start_matches("0x"),
                &KEY
            );
        }
    }

    #[test]
    fn txid_passes() {
        for text in [
            KEY.to_string(),
            format!("deposit not arrived, txid {KEY}"),
            format!("tx hash: 0x{KEY}"),
            format!("I never shared my private key, but this transaction {KEY} drained me"),
            format!("my private key was never shared. TxID: {KEY}"),
        ] {
            assert!(scan(&text).is_empty(), "{text}");
        }
    }

    #[test]
    fn wrong_lengths_and_non_hex_pass() {
        assert!(scan(&format!("private key {}", &KEY[..63])).is_empty());
        assert!(scan(&format!("private key {KEY}a")).is_empty());
        assert!(scan(&format!("private key {}", KEY.replace('e', "g"))).is_empty());
    }
}
