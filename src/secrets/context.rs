//! Cue phrases and finding them near a token.
//!
//! A 64-hex string or a 6-digit number is a secret only when the words around
//! it say so; these tables are those words, per language of the widget (en,
//! zh, ru, es, tr, vi, ar). Cues are matched on a lower-cased copy of the text
//! that keeps every byte offset of the original, so a cue's position can be
//! compared with a token's directly.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

/// Words that call a 64-hex string a private key.
pub(super) const PRIVATE_KEY: &[&str] = &[
    "private key",
    "private-key",
    "private_key",
    "privatekey",
    "priv key",
    "privkey",
    "secret key",
    "secret_key",
    "私钥",
    "私鑰",
    "密钥",
    "clave privada",
    "llave privada",
    "приватный ключ",
    "приватного ключа",
    "приватник",
    "закрытый ключ",
    "секретный ключ",
    "özel anahtar",
    "gizli anahtar",
    "khóa riêng",
    "khoá riêng",
    "khoa rieng",
    "khóa bí mật",
    "المفتاح الخاص",
    "المفتاح السري",
    "مفتاح خاص",
];

/// Words that say a 64-hex string is public: a transaction id, a block or a
/// public key. Closer than a private-key cue, they win.
pub(super) const NOT_A_KEY: &[&str] = &[
    "txid",
    "tx id",
    "tx hash",
    "txhash",
    "tx:",
    "transaction",
    "hash",
    "block",
    "public key",
    "pubkey",
    "交易",
    "哈希",
    "公钥",
    "транзакц",
    "хеш",
    "хэш",
    "публичный ключ",
    "transacción",
    "transaccion",
    "işlem",
    "islem",
    "giao dịch",
    "المعاملة",
    "معاملة",
    "التجزئة",
];

/// Words that introduce a list of 2FA backup (recovery) codes. Codes may
/// follow on many lines, so these reach further than [`LIVE_CODE`].
pub(super) const BACKUP_CODES: &[&str] = &[
    "backup code",
    "back-up code",
    "backup key",
    "recovery code",
    "2fa backup",
    "authenticator backup",
    "emergency code",
    "备用码",
    "备份码",
    "恢复码",
    "备用代码",
    "恢复代码",
    "备份密钥",
    "резервные коды",
    "резервный код",
    "резервных кодов",
    "коды восстановления",
    "код восстановления",
    "резервный ключ",
    "códigos de respaldo",
    "codigos de respaldo",
    "código de respaldo",
    "codigo de respaldo",
    "códigos de recuperación",
    "codigos de recuperacion",
    "código de recuperación",
    "clave de respaldo",
    "yedek kod",
    "kurtarma kod",
    "yedekleme kod",
    "yedek anahtar",
    "mã dự phòng",
    "mã khôi phục",
    "khóa dự phòng",
    "رموز النسخ الاحتياطي",
    "رمز النسخ الاحتياطي",
    "رموز الاسترداد",
    "رمز الاسترداد",
    "الرموز الاحتياطية",
];

/// Words that introduce a live one-time code (2FA, authenticator, SMS or
/// e-mail verification): masked too, with the same kind (see docs/secrets.md).
pub(super) const LIVE_CODE: &[&str] = &[
    "2fa",
    "2-fa",
    "two-factor",
    "two factor",
    "authenticator",
    "google auth",
    "google code",
    "ga code",
    "otp",
    "sms code",
    "verification code",
    "auth code",
    "security code",
    "one-time code",
    "one time code",
    "setup key",
    "验证码",
    "驗證碼",
    "谷歌验证",
    "动态码",
    "код подтверждения",
    "код из смс",
    "код 2fa",
    "код google",
    "код аутентификатора",
    "одноразовый код",
    "código de verificación",
    "codigo de verificacion",
    "código 2fa",
    "codigo 2fa",
    "código de google",
    "código de autenticación",
    "doğrulama kodu",
    "dogrulama kodu",
    "2fa kodu",
    "google kodu",
    "sms kodu",
    "mã xác thực",
    "mã xác minh",
    "mã otp",
    "mã 2fa",
    "mã google",
    "رمز التحقق",
    "رمز المصادقة",
    "كود التحقق",
];

/// Words that make a number something else: an order, a user id, an amount.
/// Closer than a code cue, they win.
pub(super) const NOT_A_CODE: &[&str] = &[
    "order",
    "uid",
    "user id",
    "id:",
    " id ",
    "id#",
    "ticket",
    "account",
    "phone",
    "amount",
    "usdt",
    "usdc",
    "btc",
    "eth",
    "trx",
    "bnb",
    "usd",
    "eur",
    "$",
    "订单",
    "账号",
    "用户",
    "金额",
    "заказ",
    "аккаунт",
    "сумм",
    "pedido",
    "orden",
    "cuenta",
    "sipariş",
    "hesap",
    "đơn hàng",
    "tài khoản",
    "طلب",
    "حساب",
];

/// A lower-cased copy of the text, made on first use: only messages with a
/// candidate token (a 64-hex string, a 6-digit number) pay for it.
#[derive(Debug)]
pub(super) struct Lowered<'a> {
    text: &'a str,
    lower: Option<String>,
}

impl<'a> Lowered<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Lowered { text, lower: None }
    }

    /// The lower-cased text, byte for byte aligned with the original: a
    /// character whose lower case has another UTF-8 length (`İ`, `ẞ`) stays
    /// as it is, so offsets never shift. A mask already in the text is
    /// blanked: its words ("2FA backup codes", "private key") are no cue.
    pub(super) fn get(&mut self) -> &str {
        let text = self.text;
        self.lower.get_or_insert_with(|| {
            let blanked = super::blank_masks(text);
            let text = blanked.as_deref().unwrap_or(text);
            let mut out = String::with_capacity(text.len());
            for c in text.chars() {
                let mut lower = c.to_lowercase();
                match (lower.next(), lower.next()) {
                    (Some(l), None) if l.len_utf8() == c.len_utf8() => out.push(l),
                    _ => out.push(c),
                }
            }
            out
        })
    }
}

/// A list of cue phrases as one automaton, so the text around a token is
/// read once for the whole list (hundreds of phrases in seven languages):
/// looking for each phrase in turn made a message with one code-shaped
/// number cost ten times a plain one.
#[derive(Debug)]
pub(super) struct Cues {
    automaton: AhoCorasick,
}

impl Cues {
    fn new(phrases: &[&str]) -> Self {
        Cues {
            // Built from constants: it cannot fail but by a bug here.
            automaton: AhoCorasick::new(phrases).expect("cue phrases build an automaton"),
        }
    }
}

/// [`PRIVATE_KEY`] as [`Cues`].
pub(super) static PRIVATE_KEY_CUES: LazyLock<Cues> = LazyLock::new(|| Cues::new(PRIVATE_KEY));
/// [`NOT_A_KEY`] as [`Cues`].
pub(super) static NOT_A_KEY_CUES: LazyLock<Cues> = LazyLock::new(|| Cues::new(NOT_A_KEY));
/// [`BACKUP_CODES`] as [`Cues`].
pub(super) static BACKUP_CODES_CUES: LazyLock<Cues> = LazyLock::new(|| Cues::new(BACKUP_CODES));
/// [`LIVE_CODE`] as [`Cues`].
pub(super) static LIVE_CODE_CUES: LazyLock<Cues> = LazyLock::new(|| Cues::new(LIVE_CODE));
/// [`NOT_A_CODE`] as [`Cues`].
pub(super) static NOT_A_CODE_CUES: LazyLock<Cues> = LazyLock::new(|| Cues::new(NOT_A_CODE));
/// What names an authenticator's setup key.
pub(super) static SETUP_KEY_CUES: LazyLock<Cues> =
    LazyLock::new(|| Cues::new(&["setup key", "2fa key", "2fa secret", "secret key"]));
/// No cue at all.
pub(super) static NO_CUES: LazyLock<Cues> = LazyLock::new(|| Cues::new(&[]));

/// How far (in bytes) the nearest of `cues` is from the token at
/// `start..end`, looking `before` bytes back and `after` bytes ahead. Zero
/// when a cue touches the token.
pub(super) fn distance(
    lower: &str,
    start: usize,
    end: usize,
    before: usize,
    after: usize,
    cues: &Cues,
) -> Option<usize> {
    let from = floor_char(lower, start.saturating_sub(before));
    let to = ceil_char(lower, (end + after).min(lower.len()));
    let behind = lower.get(from..start).into_iter().flat_map(|head| {
        cues.automaton
            .find_overlapping_iter(head)
            .map(move |found| head.len() - found.end())
    });
    let ahead = lower.get(end..to).into_iter().flat_map(|tail| {
        cues.automaton
            .find_overlapping_iter(tail)
            .map(|found| found.start())
    });
    behind.chain(ahead).min()
}

/// Whether a cue of `cues` is nearer to the token than any of `against`.
pub(super) fn cue_wins(
    lower: &str,
    span: (usize, usize),
    reach: (usize, usize),
    cues: &Cues,
    against: &Cues,
) -> bool {
    let Some(pos) = distance(lower, span.0, span.1, reach.0, reach.1, cues) else {
        return false;
    };
    match distance(lower, span.0, span.1, reach.0, reach.1, against) {
        Some(neg) => pos < neg,
        None => true,
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowered_keeps_offsets() {
        let text = "Özel ANAHTAR İstanbul Приватный КЛЮЧ";
        let mut l = Lowered::new(text);
        let lower = l.get().to_owned();
        assert_eq!(lower.len(), text.len());
        assert!(lower.contains("özel anahtar"));
        assert!(lower.contains("приватный ключ"));
    }

    #[test]
    fn distance_sees_both_sides() {
        let text = "my private key: XXXX and the txid";
        let start = text.find("XXXX").unwrap_or(0);
        let end = start + 4;
        assert_eq!(
            distance(text, start, end, 40, 40, &PRIVATE_KEY_CUES),
            Some(2)
        );
        assert_eq!(distance(text, start, end, 40, 40, &NOT_A_KEY_CUES), Some(9));
        assert!(cue_wins(
            text,
            (start, end),
            (40, 40),
            &PRIVATE_KEY_CUES,
            &NOT_A_KEY_CUES
        ));
        assert_eq!(distance(text, start, end, 1, 1, &PRIVATE_KEY_CUES), None);
    }
}
