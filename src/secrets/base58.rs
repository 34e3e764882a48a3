//! Base58Check private keys: WIF (Wallet Import Format) and BIP-32 extended
//! private keys. Both carry a 4-byte checksum, so a token that decodes and
//! checks out with the right version and length is a key, never a look-alike;
//! only tokens of the exact length and prefix are decoded at all.

use super::{Finding, SecretKind};

/// WIF version bytes: mainnet, testnet.
const WIF_VERSIONS: [u8; 2] = [0x80, 0xef];

/// Extended private key version bytes (SLIP-132): xprv, tprv, yprv, uprv,
/// zprv, vprv, Yprv, Zprv. The public counterparts (xpub, ...) are not here:
/// sharing them is harmless and common in support chats.
const XPRV_VERSIONS: [[u8; 4]; 8] = [
    [0x04, 0x88, 0xad, 0xe4],
    [0x04, 0x35, 0x83, 0x94],
    [0x04, 0x9d, 0x78, 0x78],
    [0x04, 0x4a, 0x4e, 0x28],
    [0x04, 0xb2, 0x43, 0x0c],
    [0x04, 0x5f, 0x18, 0xbc],
    [0x02, 0x95, 0xb0, 0x05],
    [0x02, 0xaa, 0x7a, 0x99],
];

const XPRV_PREFIXES: [&[u8]; 8] = [
    b"xprv", b"tprv", b"yprv", b"uprv", b"zprv", b"vprv", b"Yprv", b"Zprv",
];

pub(super) fn find(text: &str, out: &mut Vec<Finding>) {
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
        let token = &text[start..i];
        if let Some(kind) = classify(token) {
            out.push(Finding {
                start,
                end: i,
                kind,
            });
        }
    }
}

/// The kind of key `token` is, if it is one. Cheap rejections first: length
/// and leading characters decide before any decoding.
fn classify(token: &str) -> Option<SecretKind> {
    let b = token.as_bytes();
    let wif_shape = matches!(
        (b.len(), b.first()),
        (51, Some(b'5' | b'9')) | (52, Some(b'K' | b'L' | b'c'))
    );
    if wif_shape {
        // 1 version + 32 key + 1 flag + 4 checksum.
        let mut buf = [0u8; 38];
        let n = bs58::decode(token)
            .with_check(None)
            .onto(&mut buf[..])
            .ok()?;
        let payload = buf.get(..n)?;
        let ok = match payload {
            [v, _key @ ..] if payload.len() == 33 => WIF_VERSIONS.contains(v),
            [v, .., 0x01] if payload.len() == 34 => WIF_VERSIONS.contains(v),
            _ => false,
        };
        return ok.then_some(SecretKind::WifPrivateKey);
    }
    if b.len() == 111 && XPRV_PREFIXES.iter().any(|p| b.starts_with(p)) {
        // 78 payload + 4 checksum.
        let mut buf = [0u8; 82];
        let n = bs58::decode(token)
            .with_check(None)
            .onto(&mut buf[..])
            .ok()?;
        let payload = buf.get(..n)?;
        // Byte 45 is the 0x00 that pads a private key to 33 bytes.
        let ok = payload.len() == 78
            && XPRV_VERSIONS.iter().any(|v| payload.starts_with(v))
            && payload.get(45) == Some(&0);
        return ok.then_some(SecretKind::ExtendedPrivateKey);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The well-known WIF example (Bitcoin wiki "Wallet import format").
    const WIF: &str = "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ";
    /// The same key, compressed.
    const WIF_COMPRESSED: &str = "KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617";
    /// BIP-32 test vector 1, chain m.
    const XPRV: &str = "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi";
    const XPUB: &str = "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8";
    const TPRV: &str = "tprv8ZgxMBicQKsPeDgjzdC36fs6bMjGApWDNLR9erAXMs5skhMv36j9MV5ecvfavji5khqjWaWSFhN3YcCUUdiKH6isR4Pwy3U5y5egddBr16m";

    #[test]
    fn wif_keys_are_found() {
        assert_eq!(classify(WIF), Some(SecretKind::WifPrivateKey));
        assert_eq!(classify(WIF_COMPRESSED), Some(SecretKind::WifPrivateKey));
    }

    #[test]
    fn extended_private_keys_are_found() {
        assert_eq!(classify(XPRV), Some(SecretKind::ExtendedPrivateKey));
        assert_eq!(classify(TPRV), Some(SecretKind::ExtendedPrivateKey));
    }

    #[test]
    fn public_keys_and_addresses_pass() {
        assert_eq!(classify(XPUB), None);
        assert_eq!(classify("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"), None);
        assert_eq!(classify("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"), None);
    }

    #[test]
    fn checksum_failures_pass() {
        let bad_wif = WIF.replace('H', "J");
        assert_eq!(classify(&bad_wif), None);
        let bad_xprv = XPRV.replacen('Q', "R", 1);
        assert_eq!(classify(&bad_xprv), None);
    }

    #[test]
    fn found_inside_text() {
        let text = format!("here: {WIF}, and {XPRV}.");
        let mut out = Vec::new();
        find(&text, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(&text[out[0].start..out[0].end], WIF);
        assert_eq!(&text[out[1].start..out[1].end], XPRV);
    }
}
