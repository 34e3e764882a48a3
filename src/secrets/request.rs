//! Agent messages that ask for a secret: the scam pattern ("support" asking
//! for the seed phrase or the 2FA code). A sentence asks when it names a
//! secret and a request ("send", "what is your", "告诉我", "пришлите", ...);
//! it is a warning, and passes, when it also says "never" / "do not" / "不要"
//! ..., and an instruction, which passes, when it points somewhere other than
//! the chat ("in the app", "in Settings") or is about resetting, enabling or
//! storing the secret rather than handing it over.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};

use super::context;

/// What an agent message asks the customer for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRequest {
    /// A seed / recovery phrase, a mnemonic, "your 12 words".
    SeedPhrase,
    /// A private key.
    PrivateKey,
    /// A password.
    Password,
    /// A 2FA, authenticator, SMS or e-mail verification code.
    TwoFactorCode,
}

impl SecretRequest {
    /// Every request kind, in declaration order.
    pub const ALL: [SecretRequest; 4] = [
        SecretRequest::SeedPhrase,
        SecretRequest::PrivateKey,
        SecretRequest::Password,
        SecretRequest::TwoFactorCode,
    ];

    /// The stable name: metrics label and wire value (same as serde).
    pub fn as_str(self) -> &'static str {
        match self {
            SecretRequest::SeedPhrase => "seed_phrase",
            SecretRequest::PrivateKey => "private_key",
            SecretRequest::Password => "password",
            SecretRequest::TwoFactorCode => "two_factor_code",
        }
    }

    /// The secret in words, for a warning shown to the agent or the customer.
    pub fn describe(self) -> &'static str {
        match self {
            SecretRequest::SeedPhrase => "a seed phrase",
            SecretRequest::PrivateKey => "a private key",
            SecretRequest::Password => "a password",
            SecretRequest::TwoFactorCode => "a 2FA code",
        }
    }

    /// Words that name this secret.
    fn cues(self) -> &'static [&'static str] {
        match self {
            SecretRequest::SeedPhrase => SEED,
            SecretRequest::PrivateKey => context::PRIVATE_KEY,
            SecretRequest::Password => PASSWORD,
            SecretRequest::TwoFactorCode => CODE,
        }
    }
}

const SEED: &[&str] = &[
    "seed",
    "recovery phrase",
    "secret phrase",
    "backup phrase",
    "wallet phrase",
    "mnemonic",
    "12 words",
    "12-word",
    "12 word",
    "24 words",
    "24-word",
    "24 word",
    "twelve words",
    "recovery words",
    "secret words",
    "助记词",
    "助記詞",
    "种子",
    "恢复短语",
    "сид",
    "мнемон",
    "фразу восстановления",
    "фраза восстановления",
    "секретную фразу",
    "12 слов",
    "24 слов",
    "frase semilla",
    "frase de recuperación",
    "frase de recuperacion",
    "frase secreta",
    "12 palabras",
    "24 palabras",
    "semilla",
    "kurtarma ifade",
    "gizli ifade",
    "gizli kelime",
    "12 kelime",
    "24 kelime",
    "cụm từ khôi phục",
    "cụm từ bí mật",
    "12 từ",
    "24 từ",
    "العبارة السرية",
    "عبارة الاسترداد",
    "عبارة الاسترجاع",
    "12 كلمة",
    "الكلمات السرية",
];

const PASSWORD: &[&str] = &[
    "password",
    "passcode",
    "passwort",
    "пароль",
    "密码",
    "密碼",
    "contraseña",
    "contrasena",
    "şifre",
    "sifre",
    "parola",
    "mật khẩu",
    "mat khau",
    "كلمة المرور",
    "كلمة السر",
];

const CODE: &[&str] = &[
    "2fa",
    "two-factor",
    "two factor",
    "authenticator",
    "google code",
    "verification code",
    "sms code",
    "otp",
    "one-time code",
    "security code",
    "backup code",
    "recovery code",
    "the code",
    "6-digit code",
    "6 digit code",
    "验证码",
    "驗證碼",
    "谷歌验证",
    "短信码",
    "动态码",
    "код",
    "código",
    "codigo",
    "kod",
    "mã xác",
    "mã otp",
    "mã 2fa",
    "mã sms",
    "mã google",
    "رمز",
    "الرمز",
    "كود",
];

/// Asking: a verb that hands something over, or a question for it.
const ASK: &[&str] = &[
    "send",
    "give",
    "share",
    "tell me",
    "tell us",
    "provide",
    "type your",
    "type the",
    "type in",
    "type it",
    "enter your",
    "enter the",
    "paste",
    "confirm your",
    "confirm the",
    "read me",
    "read it",
    "read out",
    "what is your",
    "what's your",
    "what is the",
    "what's the",
    "whats your",
    "what are your",
    "what are the",
    "need your",
    "need the",
    "require your",
    "submit",
    "write me",
    "write us",
    "write it here",
    "write them here",
    "dictate",
    "let me know",
    "forward",
    "can i have",
    "may i have",
    "drop your",
    "post your",
    "发给我",
    "发送",
    "发一下",
    "发我",
    "告诉我",
    "提供",
    "给我",
    "输入",
    "是什么",
    "是多少",
    "报一下",
    "念一下",
    "需要你的",
    "需要您的",
    "把你的",
    "把您的",
    "отправьте",
    "отправь",
    "пришлите",
    "пришли",
    "скажите",
    "скажи",
    "сообщите",
    "назовите",
    "продиктуйте",
    "предоставьте",
    "введите",
    "напишите",
    "скиньте",
    "какой у вас",
    "какой ваш",
    "нужен ваш",
    "нужна ваша",
    "нужно ваше",
    "подтвердите",
    "envíe",
    "envie",
    "envíame",
    "enviame",
    "envíenos",
    "envíeme",
    "mande",
    "mándame",
    "comparta",
    "compártame",
    "dígame",
    "digame",
    "díganos",
    "proporcione",
    "escriba",
    "ingrese",
    "introduzca",
    "necesito su",
    "necesito tu",
    "necesitamos su",
    "cuál es su",
    "cual es su",
    "cuál es tu",
    "facilite",
    "confirme",
    "gönderin",
    "gönder",
    "paylaşın",
    "paylaşır mısınız",
    "söyleyin",
    "söyler misiniz",
    "yazın",
    "yazar mısınız",
    "iletin",
    "verin",
    "verir misiniz",
    "girin",
    "nedir",
    "lazım",
    "gerekiyor",
    "ihtiyacımız var",
    "gửi",
    "cung cấp",
    "cho tôi",
    "cho chúng tôi",
    "nhập",
    "đọc cho",
    "là gì",
    "chia sẻ",
    "xác nhận",
    "أرسل",
    "ارسل",
    "شارك",
    "أعطني",
    "اعطني",
    "زودني",
    "زودنا",
    "اكتب",
    "أدخل",
    "ادخل",
    "ما هي",
    "ما هو",
    "نحتاج",
    "أحتاج",
    "قدم",
];

/// Warnings: the sentence tells the customer not to hand the secret over.
const WARNING: &[&str] = &[
    "never",
    "don't",
    "do not",
    "dont",
    "no one",
    "nobody",
    "anyone",
    "won't",
    "will not",
    "not ask",
    "doesn't",
    "does not",
    "beware",
    "scam",
    "careful",
    "must not",
    "should not",
    "shouldn't",
    "no need",
    "not need",
    "不要",
    "切勿",
    "请勿",
    "绝不",
    "永远不会",
    "不会",
    "别",
    "никогда",
    "никому",
    "не сообщайте",
    "не отправляйте",
    "не передавайте",
    "не делитесь",
    "не пересылайте",
    "не вводите",
    "не говорите",
    "мошенник",
    "nunca",
    "jamás",
    "jamas",
    "no comparta",
    "no compartas",
    "no envíe",
    "no envie",
    "no proporcione",
    "no le pediremos",
    "no pedimos",
    "nadie",
    "estafa",
    "asla",
    "kimseyle",
    "kimseye",
    "paylaşmayın",
    "göndermeyin",
    "vermeyin",
    "istemeyiz",
    "istemez",
    "girmeyin",
    "söylemeyin",
    "dolandırıcı",
    "không bao giờ",
    "đừng",
    "không chia sẻ",
    "không gửi",
    "không cung cấp",
    "tuyệt đối không",
    "không được",
    "lừa đảo",
    "لا تشارك",
    "لا ترسل",
    "لا تعط",
    "أبدا",
    "أبدًا",
    "لن نطلب",
    "لا نطلب",
    "لا تقم",
    "لا تكشف",
    "لا تفصح",
    "احتيال",
];

/// Instructions about the secret that do not hand it to the agent: where to
/// type it (not here), or resetting, enabling, storing it.
const ELSEWHERE: &[&str] = &[
    "in the app",
    "in our app",
    "in your app",
    "on the website",
    "on our website",
    "in settings",
    "in the settings",
    "in your settings",
    "account settings",
    "security settings",
    "login page",
    "when prompted",
    "withdrawal page",
    "in the field",
    "into your wallet",
    "in your wallet",
    "click",
    "reset",
    "change your",
    "enable",
    "set up",
    "activate",
    "turn on",
    "forgot",
    "write down",
    "write it down",
    "keep",
    "store",
    "safe place",
    "offline",
    "在app",
    "在应用",
    "在设置",
    "在页面",
    "网站上",
    "重置",
    "开启",
    "启用",
    "修改",
    "保管",
    "в приложении",
    "на сайте",
    "в настройках",
    "сброс",
    "сбросить",
    "включите",
    "смените",
    "храните",
    "en la app",
    "en la aplicación",
    "en la aplicacion",
    "en el sitio",
    "en la configuración",
    "en ajustes",
    "restablecer",
    "active",
    "cambie",
    "guarde",
    "uygulamada",
    "uygulamaya",
    "ayarlar",
    "web sitesi",
    "sıfırla",
    "etkinleştir",
    "değiştir",
    "saklayın",
    "trong ứng dụng",
    "trên trang",
    "trong cài đặt",
    "trên app",
    "đặt lại",
    "bật",
    "kích hoạt",
    "đổi",
    "cất giữ",
    "في التطبيق",
    "في الإعدادات",
    "على الموقع",
    "إعادة تعيين",
    "تفعيل",
    "غيّر",
    "احتفظ",
];

/// Pointing at the chat overrides [`ELSEWHERE`]: "reset it, then type the new
/// code here".
const HERE: &[&str] = &[
    "here",
    "in this chat",
    "in the chat",
    "to me",
    "with me",
    "to us",
    "with us",
    "me your",
    "us your",
    "这里",
    "发给我",
    "告诉我",
    "сюда",
    "в чат",
    "мне",
    "aquí",
    "aqui",
    "buraya",
    "bana",
    "ở đây",
    "cho tôi",
    "هنا",
    "لي",
];

/// Whether an agent's message asks the customer for a secret, and which.
/// Judged sentence by sentence, so a warning in one sentence does not excuse
/// a request in the next.
pub fn asks_for_secret(text: &str) -> Option<SecretRequest> {
    let lower = text.to_lowercase();
    let sentences = sentence_cues(&lower);
    sentences.into_iter().find_map(|cues| cues.verdict())
}

/// Ends a sentence.
const SENTENCE_ENDS: [char; 10] = ['.', '!', '?', '\n', ';', '。', '！', '？', '؟', '；'];

/// What kind of cue a phrase is.
#[derive(Debug, Clone, Copy)]
enum Cue {
    /// Names the secret at this position of [`SecretRequest::ALL`].
    Secret(usize),
    Ask,
    Warning,
    Elsewhere,
    Here,
}

/// Every cue phrase in one automaton, so a message is read once, however
/// many phrases there are (hundreds, in seven languages): looking for each
/// phrase in turn cost a 4,000-character message about a hundred passes.
struct CueIndex {
    automaton: AhoCorasick,
    cues: Vec<Cue>,
}

static CUE_INDEX: LazyLock<CueIndex> = LazyLock::new(|| {
    let mut phrases: Vec<&str> = Vec::new();
    let mut cues = Vec::new();
    let mut add = |list: &[&'static str], cue: Cue| {
        for phrase in list {
            phrases.push(phrase);
            cues.push(cue);
        }
    };
    for (i, kind) in SecretRequest::ALL.into_iter().enumerate() {
        add(kind.cues(), Cue::Secret(i));
    }
    add(ASK, Cue::Ask);
    add(WARNING, Cue::Warning);
    add(ELSEWHERE, Cue::Elsewhere);
    add(HERE, Cue::Here);
    CueIndex {
        // Built from constants: it cannot fail but by a bug here.
        automaton: AhoCorasick::new(&phrases).expect("cue phrases build an automaton"),
        cues,
    }
});

/// The cues one sentence holds.
#[derive(Debug, Default, Clone, Copy)]
struct SentenceCues {
    /// Which secrets it names, by position in [`SecretRequest::ALL`].
    secrets: [bool; SecretRequest::ALL.len()],
    ask: bool,
    warning: bool,
    elsewhere: bool,
    here: bool,
}

impl SentenceCues {
    /// It asks when it names a secret and a request, and is neither a warning
    /// nor an instruction pointing elsewhere (unless it also says "here").
    fn verdict(self) -> Option<SecretRequest> {
        let kind = SecretRequest::ALL
            .into_iter()
            .zip(self.secrets)
            .find_map(|(kind, named)| named.then_some(kind))?;
        if !self.ask || self.warning || (self.elsewhere && !self.here) {
            return None;
        }
        Some(kind)
    }
}

/// Each sentence's cues, in order; a cue counts where it lies wholly inside
/// one sentence, as it would in that sentence alone.
fn sentence_cues(lower: &str) -> Vec<SentenceCues> {
    // Byte offsets where each sentence starts after the first.
    let starts: Vec<usize> = lower
        .char_indices()
        .filter(|(_, c)| SENTENCE_ENDS.contains(c))
        .map(|(i, c)| i + c.len_utf8())
        .collect();
    let sentence_of = |at: usize| starts.partition_point(|&start| start <= at);
    let mut sentences = vec![SentenceCues::default(); starts.len() + 1];
    let index = &*CUE_INDEX;
    for found in index.automaton.find_overlapping_iter(lower) {
        let sentence = sentence_of(found.start());
        if found.end() > found.start() && sentence_of(found.end() - 1) != sentence {
            continue;
        }
        let cues = &mut sentences[sentence];
        match index.cues[found.pattern().as_usize()] {
            Cue::Secret(i) => cues.secrets[i] = true,
            Cue::Ask => cues.ask = true,
            Cue::Warning => cues.warning = true,
            Cue::Elsewhere => cues.elsewhere = true,
            Cue::Here => cues.here = true,
        }
    }
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_flagged() {
        let cases = [
            (
                "Please send me your seed phrase so I can verify the wallet",
                SecretRequest::SeedPhrase,
            ),
            (
                "What is your 12 words recovery phrase?",
                SecretRequest::SeedPhrase,
            ),
            (
                "I need your private key to recover the funds",
                SecretRequest::PrivateKey,
            ),
            ("Can you tell me your password?", SecretRequest::Password),
            (
                "Please provide the 2FA code you just received",
                SecretRequest::TwoFactorCode,
            ),
            ("请把您的助记词发给我", SecretRequest::SeedPhrase),
            ("Пришлите код из SMS", SecretRequest::TwoFactorCode),
            (
                "Por favor envíeme su frase semilla",
                SecretRequest::SeedPhrase,
            ),
            ("Lütfen şifrenizi buraya yazın", SecretRequest::Password),
            ("Vui lòng gửi mã 2FA cho tôi", SecretRequest::TwoFactorCode),
            ("أرسل لي المفتاح الخاص", SecretRequest::PrivateKey),
        ];
        for (text, kind) in cases {
            assert_eq!(asks_for_secret(text), Some(kind), "{text}");
        }
    }

    #[test]
    fn warnings_and_instructions_pass() {
        for text in [
            "Never share your seed phrase with anyone.",
            "We will never ask for your password.",
            "Do not send your 2FA code to anyone, including us.",
            "Please reset your password in Settings.",
            "Enable 2FA in your account for better security.",
            "Enter the 2FA code in the app to confirm the withdrawal.",
            "Write down your 12 words and keep them in a safe place.",
            "请不要向任何人透露您的助记词",
            "Никогда не сообщайте никому свой пароль",
            "Nunca comparta su frase semilla",
            "Şifrenizi asla kimseyle paylaşmayın",
            "Đừng bao giờ chia sẻ mật khẩu",
            "لا تشارك كلمة المرور مع أي شخص",
            "Your withdrawal has been processed.",
        ] {
            assert_eq!(asks_for_secret(text), None, "{text}");
        }
    }

    #[test]
    fn a_warning_does_not_excuse_the_next_sentence() {
        let text = "Never share your password with strangers. But I am support, so send me your seed phrase.";
        assert_eq!(asks_for_secret(text), Some(SecretRequest::SeedPhrase));
    }

    #[test]
    fn names_match_serde() {
        for kind in SecretRequest::ALL {
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
