//! BIP-39 mnemonics in running text.
//!
//! The word lists are the official ones, from the `bip39` crate (every
//! language it ships), folded (lower case, accents stripped) into one hash
//! map so "ABANDON", "Abandon" and "abaco" for "ábaco" all match. A message is
//! cut into tokens; list numbers ("1.", "2)", "#3") and punctuation between
//! words are skipped; every window of 12, 15, 18, 21 or 24 consecutive words
//! of one list is checksum-verified by `bip39`, longest first. A run that
//! fails the checksum is still masked when it cannot be prose: 15 or more
//! list words in a row, or 12 or more that are numbered (a mistyped seed).
//!
//! Chinese words are single characters, and ordinary Chinese is made of the
//! same common characters, so characters typed without separators count only
//! where a cue says "mnemonic" (助记词, 种子, ...) or the phrase is the
//! whole message, and then only with a valid checksum.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use bip39::{Language, Mnemonic};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::{Finding, SecretKind};

/// Languages of the index, in `Language::ALL` order.
const LANGS: usize = Language::ALL.len();
/// Marks "not in this language's list".
const ABSENT: u16 = u16::MAX;
/// Mnemonic lengths, longest first: a 24-word phrase also holds valid-looking
/// shorter windows, and the whole phrase is what must be masked.
const SIZES: [usize; 5] = [24, 21, 18, 15, 12];
const MIN_WORDS: usize = 12;
/// A failed-checksum run this long is masked anyway: prose never has it.
const UNCHECKED_RUN: usize = 15;
/// List words outside valid windows that make such a run a mistyped seed
/// rather than a good one with prose words beside it.
const LEFT_OVER: usize = 4;
/// Longest folded word of any list, in bytes (Japanese: 7 kana × 3 bytes,
/// some with a decomposed voicing mark).
const MAX_WORD_BYTES: usize = 48;
/// Words that mark a Chinese mnemonic typed without separators.
const ZH_CUES: &[&str] = &[
    "助记词",
    "助記詞",
    "种子",
    "種子",
    "恢复词",
    "恢復詞",
    "钱包",
    "錢包",
    "私钥",
    "私鑰",
    "备份",
    "備份",
    "seed",
    "mnemonic",
    "phrase",
];

/// The list index of a folded word in each language, [`ABSENT`] where it is
/// not a word of that list. Words shared by lists (English and French share
/// about a hundred; the two Chinese lists most characters) hit several.
type Indices = [u16; LANGS];

/// FNV-1a: keys are short words, and SipHash's DoS resistance buys nothing
/// for a fixed, read-only key set.
#[derive(Debug, Default, Clone, Copy)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Every word of every list, folded.
#[derive(Debug)]
pub(super) struct WordIndex {
    map: HashMap<Box<str>, Indices, BuildHasherDefault<Fnv>>,
}

/// A word of the text: where it is and what it is in each list.
#[derive(Debug, Clone, Copy)]
struct Word {
    start: usize,
    end: usize,
    /// [`None`]: not a list word (breaks every run).
    indices: Option<Indices>,
    /// Touches the previous word with no separator (unspaced Chinese).
    glued: bool,
    /// A list number ("3.", "#3", "3)") stands right before it.
    numbered: bool,
}

impl WordIndex {
    pub(super) fn new() -> Self {
        let mut map: HashMap<Box<str>, Indices, BuildHasherDefault<Fnv>> = HashMap::default();
        let mut buf = [0u8; MAX_WORD_BYTES];
        for (l, lang) in Language::ALL.iter().enumerate() {
            for (i, word) in lang.word_list().iter().enumerate() {
                let Some(folded) = fold(word, &mut buf) else {
                    continue;
                };
                let entry = map.entry(folded.into()).or_insert([ABSENT; LANGS]);
                // A list has no two words that fold alike; keep the first if
                // one ever did.
                if entry[l] == ABSENT {
                    entry[l] = i as u16;
                }
            }
        }
        WordIndex { map }
    }

    fn lookup(&self, token: &str) -> Option<Indices> {
        let mut buf = [0u8; MAX_WORD_BYTES];
        fold(token, &mut buf).and_then(|w| self.map.get(w).copied())
    }

    pub(super) fn find(&self, text: &str, out: &mut Vec<Finding>) {
        if !enough_words(text) {
            return;
        }
        // "seed phrase" and "private key" of a mask already in the text (a
        // second look, or a quoted message) are list words: blanked, they
        // join no run.
        let blanked = super::blank_masks(text);
        let text = blanked.as_deref().unwrap_or(text);
        if !self.has_long_run(text) {
            return;
        }
        let words = self.words(text);
        for (l, &lang) in Language::ALL.iter().enumerate() {
            let mut a = 0;
            while a < words.len() {
                if words[a].indices.is_none_or(|ix| ix[l] == ABSENT) {
                    a += 1;
                    continue;
                }
                let mut b = a;
                while b < words.len() && words[b].indices.is_some_and(|ix| ix[l] != ABSENT) {
                    b += 1;
                }
                if b - a >= MIN_WORDS {
                    scan_run(text, lang, l, &words[a..b], out);
                }
                a = b;
            }
        }
    }

    /// The first pass, allocation-free: is there a run of 12 list words of
    /// one language anywhere? Most long messages stop here.
    fn has_long_run(&self, text: &str) -> bool {
        let mut run = [0usize; LANGS];
        for tok in tokens(text) {
            match tok.class {
                Class::Number => {}
                Class::Other => run = [0; LANGS],
                Class::Word => {
                    let ix = self.lookup(&text[tok.start..tok.end]);
                    for (l, r) in run.iter_mut().enumerate() {
                        *r = match ix {
                            Some(ix) if ix[l] != ABSENT => *r + 1,
                            _ => 0,
                        };
                        if *r >= MIN_WORDS {
                            return true;
                        }
                    }
                }
            }
        }
        false
    }

    fn words(&self, text: &str) -> Vec<Word> {
        let mut words = Vec::new();
        let mut numbered = false;
        let mut prev_end = usize::MAX;
        for tok in tokens(text) {
            match tok.class {
                Class::Number => {
                    numbered = true;
                    prev_end = usize::MAX;
                }
                Class::Other | Class::Word => {
                    let indices = match tok.class {
                        Class::Word => self.lookup(&text[tok.start..tok.end]),
                        _ => None,
                    };
                    words.push(Word {
                        start: tok.start,
                        end: tok.end,
                        indices,
                        glued: tok.start == prev_end,
                        numbered,
                    });
                    numbered = false;
                    prev_end = tok.end;
                }
            }
        }
        words
    }
}

/// Masks the mnemonics in one maximal run of list words of language `l`.
fn scan_run(text: &str, lang: Language, l: usize, run: &[Word], out: &mut Vec<Finding>) {
    let chinese = matches!(
        lang,
        Language::SimplifiedChinese | Language::TraditionalChinese
    );
    let cue = chinese && has_zh_cue(text);
    let mut windows = Vec::new();
    let mut i = 0;
    'start: while i + MIN_WORDS <= run.len() {
        for size in SIZES {
            let Some(window) = run.get(i..i + size) else {
                continue;
            };
            if chinese && !chinese_window_ok(text, run, i, size, cue) {
                continue;
            }
            if checksum_ok(lang, l, window) {
                windows.push(span(window));
                i += size;
                continue 'start;
            }
        }
        i += 1;
    }
    // A run that cannot be prose is a seed even when no window checks out
    // (a typo). It is masked whole unless valid windows already cover all
    // but a few words: those are likely prose next to a good phrase ("...
    // what do I do now"), and a 12-word window in a mistyped 24-word run
    // (1 in 16 passes by chance) must not leave the other half exposed.
    let spaced = !run.iter().skip(1).any(|w| w.glued);
    let numbered = run.iter().skip(1).filter(|w| w.numbered).count() * 2 >= run.len();
    let covered: usize = windows
        .iter()
        .map(|f| {
            run.iter()
                .filter(|w| w.start >= f.start && w.end <= f.end)
                .count()
        })
        .sum();
    // Prose sits on one side of a phrase; list words left over on both
    // sides of the valid windows are the rest of a mistyped run.
    let covers = |w: &Word| windows.iter().any(|f| w.start >= f.start && w.end <= f.end);
    let both_sides =
        run.first().is_some_and(|w| !covers(w)) && run.last().is_some_and(|w| !covers(w));
    let left_over = run.len() - covered;
    if spaced && (run.len() >= UNCHECKED_RUN || numbered) && (left_over >= LEFT_OVER || both_sides)
    {
        out.push(span(run));
    } else {
        out.extend(windows);
    }
}

/// Chinese windows: characters each set apart (by spaces, commas, numbers,
/// new lines) count like words of other lists; characters glued together
/// count only as one whole group, flagged by a cue or all the message holds.
/// Either way a window never starts or ends inside a glued group.
fn chinese_window_ok(text: &str, run: &[Word], i: usize, size: usize, cue: bool) -> bool {
    let window = &run[i..i + size];
    let starts_group = !window[0].glued;
    let ends_group = run.get(i + size).is_none_or(|w| !w.glued);
    if !(starts_group && ends_group) {
        return false;
    }
    if !window.iter().skip(1).any(|w| w.glued) {
        return true;
    }
    // Glued: the window must be one group, all of it glued, so a cue like
    // 助记词 typed right before the phrase never joins a window.
    if !window.iter().skip(1).all(|w| w.glued) {
        return false;
    }
    let whole = span(window);
    let rest_empty = |s: &str| s.chars().all(|c| !c.is_alphanumeric());
    cue || (rest_empty(&text[..whole.start]) && rest_empty(&text[whole.end..]))
}

fn has_zh_cue(text: &str) -> bool {
    let lower = text.to_lowercase();
    ZH_CUES.iter().any(|c| lower.contains(c))
}

/// The checksum, verified by `bip39` on the canonical list words.
fn checksum_ok(lang: Language, l: usize, window: &[Word]) -> bool {
    let list = lang.word_list();
    let mut phrase = String::with_capacity(window.len() * 9);
    for w in window {
        let Some(word) = w.indices.and_then(|ix| list.get(usize::from(ix[l]))) else {
            return false;
        };
        if !phrase.is_empty() {
            phrase.push(' ');
        }
        phrase.push_str(word);
    }
    Mnemonic::parse_in_normalized(lang, &phrase).is_ok()
}

fn span(words: &[Word]) -> Finding {
    let start = words.first().map_or(0, |w| w.start);
    let end = words.last().map_or(start, |w| w.end);
    Finding {
        start,
        end,
        kind: SecretKind::SeedPhrase,
    }
}

/// Cheap pre-check: at least 12 space-separated chunks, or 12 CJK
/// characters (3-byte UTF-8 sequences led by 0xE3..=0xE9).
fn enough_words(text: &str) -> bool {
    let mut chunks = 0;
    let mut cjk = 0;
    let mut in_chunk = false;
    for &b in text.as_bytes() {
        let space = b.is_ascii_whitespace() || b == b',';
        if !space && !in_chunk {
            chunks += 1;
        }
        in_chunk = !space;
        if (0xe3..=0xe9).contains(&b) {
            cjk += 1;
        }
        if chunks >= MIN_WORDS || cjk >= MIN_WORDS {
            return true;
        }
    }
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Letters only: may be a list word.
    Word,
    /// Digits only: a list number, skipped between words.
    Number,
    /// Letters and digits mixed: never a list word, breaks a run.
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    class: Class,
}

/// Letters (with their combining marks) and digits, grouped; each CJK
/// ideograph a token of its own; everything else separates.
fn tokens(text: &str) -> impl Iterator<Item = Token> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        loop {
            let (start, c) = chars.next()?;
            if is_han(c) {
                return Some(Token {
                    start,
                    end: start + c.len_utf8(),
                    class: Class::Word,
                });
            }
            if !c.is_alphanumeric() {
                continue;
            }
            let (mut letters, mut digits) = (false, false);
            let mut end = start;
            let mut note = |c: char| {
                if c.is_ascii_digit() {
                    digits = true;
                } else {
                    letters = true;
                }
            };
            note(c);
            end += c.len_utf8();
            while let Some(&(i, c)) = chars.peek() {
                if is_han(c) || !(c.is_alphanumeric() || is_combining_mark(c)) {
                    break;
                }
                note(c);
                end = i + c.len_utf8();
                chars.next();
            }
            let class = match (letters, digits) {
                (true, false) => Class::Word,
                (false, true) => Class::Number,
                _ => Class::Other,
            };
            return Some(Token { start, end, class });
        }
    })
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

/// Lower case, compatibility-decomposed, combining accents dropped, into
/// `buf`. `None` when it does not fit: no list word is that long.
fn fold<'b>(word: &str, buf: &'b mut [u8; MAX_WORD_BYTES]) -> Option<&'b str> {
    let mut n = 0;
    let mut push = |c: char, buf: &mut [u8; MAX_WORD_BYTES]| -> Option<()> {
        let len = c.len_utf8();
        let slot = buf.get_mut(n..n + len)?;
        c.encode_utf8(slot);
        n += len;
        Some(())
    };
    if word.is_ascii() {
        for c in word.chars() {
            push(c.to_ascii_lowercase(), buf)?;
        }
    } else {
        for c in word.nfkd() {
            // Latin accents go (typed or not, "ábaco" is "abaco"); the kana
            // voicing marks (U+3099, U+309A) stay: they make another word.
            if is_combining_mark(c) && !matches!(c, '\u{3099}' | '\u{309a}') {
                continue;
            }
            for l in c.to_lowercase() {
                push(l, buf)?;
            }
        }
    }
    std::str::from_utf8(buf.get(..n)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BIP-39 test vectors (trezor/python-mnemonic vectors.json).
    const ABANDON_12: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
    const LEGAL_12: &str =
        "legal winner thank year wave sausage worth useful legal winner thank yellow";
    const VECTOR_24: &str = "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve unfold";

    fn index() -> &'static WordIndex {
        &super::super::SecretScanner::global().words
    }

    fn masked(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        index().find(text, &mut out);
        out.iter().map(|f| &text[f.start..f.end]).collect()
    }

    #[test]
    fn folded_lists_keep_every_word() {
        for (l, lang) in Language::ALL.iter().enumerate() {
            for (i, word) in lang.word_list().iter().enumerate() {
                let ix = index().lookup(word).map(|ix| ix[l]);
                assert_eq!(ix, Some(i as u16), "{lang:?} {word}");
            }
        }
    }

    #[test]
    fn plain_mnemonics_are_found() {
        assert_eq!(masked(ABANDON_12), vec![ABANDON_12]);
        assert_eq!(masked(VECTOR_24), vec![VECTOR_24]);
        let text = format!("hi my wallet words are: {LEGAL_12} please help");
        assert_eq!(masked(&text), vec![LEGAL_12]);
    }

    #[test]
    fn odd_spacing_case_and_numbering() {
        let upper = LEGAL_12.to_uppercase();
        assert_eq!(masked(&upper).len(), 1);
        let commas = LEGAL_12.replace(' ', ", ");
        assert_eq!(masked(&commas), vec![commas.as_str()]);
        let lines = LEGAL_12.replace(' ', "\n");
        assert_eq!(masked(&lines).len(), 1);
        let spaced = LEGAL_12.replace(' ', "   ");
        assert_eq!(masked(&spaced).len(), 1);
        let numbered: String = LEGAL_12
            .split(' ')
            .enumerate()
            .map(|(i, w)| format!("{}. {w}\n", i + 1))
            .collect();
        let found = masked(&numbered);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("legal") && found[0].ends_with("yellow"));
        let hashes: String = LEGAL_12
            .split(' ')
            .enumerate()
            .map(|(i, w)| format!("#{} {w} ", i + 1))
            .collect();
        assert_eq!(masked(&hashes).len(), 1);
        let parens: String = LEGAL_12
            .split(' ')
            .enumerate()
            .map(|(i, w)| format!("{}) {w} ", i + 1))
            .collect();
        assert_eq!(masked(&parens).len(), 1);
    }

    #[test]
    fn spanish_and_chinese_mnemonics() {
        let es = Mnemonic::from_entropy_in(Language::Spanish, &[7u8; 16])
            .map(|m| m.to_string())
            .unwrap_or_default();
        assert_eq!(masked(&es).len(), 1, "{es}");
        let stripped: String = es.nfkd().filter(|c| !is_combining_mark(*c)).collect();
        assert_eq!(masked(&stripped).len(), 1, "{stripped}");
        let zh = Mnemonic::from_entropy_in(Language::SimplifiedChinese, &[9u8; 16])
            .map(|m| m.to_string())
            .unwrap_or_default();
        assert_eq!(masked(&zh).len(), 1, "{zh}");
        let glued = zh.replace(' ', "");
        assert_eq!(masked(&glued).len(), 1, "alone: {glued}");
        let cued = format!("我的助记词是：{glued}，请帮忙");
        assert_eq!(masked(&cued), vec![glued.as_str()]);
    }

    #[test]
    fn ordinary_chinese_passes() {
        assert!(
            masked("我的账户无法登录，请帮我看看是什么问题，我已经等了很久了，谢谢你们的帮助")
                .is_empty()
        );
        assert!(
            masked("你好我想问一下为什么我的提现一直没有到账已经过去三个小时了能不能帮我查一下")
                .is_empty()
        );
    }

    #[test]
    fn checksum_failure_in_short_run_passes() {
        // 12 list words, checksum wrong, neither numbered nor 15 long.
        let bad = "legal winner thank year wave sausage worth useful legal winner thank thank";
        assert!(masked(bad).is_empty());
    }

    #[test]
    fn mistyped_seed_is_masked_when_numbered_or_long() {
        let bad: String =
            "legal winner thank year wave sausage worth useful legal winner thank thank"
                .split(' ')
                .enumerate()
                .map(|(i, w)| format!("{}. {w} ", i + 1))
                .collect();
        assert_eq!(masked(&bad).len(), 1);
        let long = "legal winner thank year wave sausage worth useful legal winner thank thank wave worth legal";
        assert_eq!(masked(long), vec![long]);
    }

    #[test]
    fn prose_with_list_words_passes() {
        assert!(masked("abandon all hope, ye who enter here").is_empty());
        assert!(masked("I lost access to my account after I changed my phone and now I cannot log in at all, please help me").is_empty());
        assert!(masked("Please check my deposit, the bank said the transfer was sent on Monday morning and it still has not arrived").is_empty());
    }

    #[test]
    fn twenty_four_words_mask_as_one() {
        let text = format!("words: {VECTOR_24}. thanks");
        assert_eq!(masked(&text), vec![VECTOR_24]);
    }
}
