//! 2FA backup codes and live 2FA codes. A 6-10 digit number is most often an
//! order number, a user id or an amount, so a code-shaped token is masked only
//! where a cue says it is a code ("backup codes", "2FA code", "验证码", ...)
//! and that cue is nearer than one that says otherwise ("order", "UID", "USDT").

use super::context::{self, Lowered};
use super::{Finding, SecretKind};

/// Backup codes come as a list, often one per line after the phrase.
const BACKUP_REACH: (usize, usize) = (400, 40);
/// A live code sits next to its phrase: "my 2fa code is 123456".
const LIVE_REACH: (usize, usize) = (60, 30);
/// Gaps between codes of one list (", ", "\n2. ") that join them into one mask.
const MAX_LIST_GAP: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Digits, or groups of letters and digits: backup or live codes.
    Code,
    /// A base32 authenticator secret ("setup key"), 16 or 32 characters.
    Base32Secret,
}

pub(super) fn find(text: &str, lowered: &mut Lowered<'_>, out: &mut Vec<Finding>) {
    let bytes = text.as_bytes();
    let mut found: Option<Finding> = None;
    let mut i = 0;
    while i < bytes.len() {
        let Some((start, end, next)) = next_token(bytes, i) else {
            break;
        };
        i = next;
        let (end, shape) = match shape(bytes, start, end) {
            Some(s) => (end, s),
            None => match joined_digit_groups(bytes, start, end) {
                Some(joined_end) => {
                    i = joined_end;
                    (joined_end, Shape::Code)
                }
                None => continue,
            },
        };
        if !is_code(lowered.get(), start, end, shape) {
            continue;
        }
        // One mask for a list of codes: extend the previous one over a short
        // gap that holds only separators and list numbers.
        match found.as_mut() {
            Some(prev) if joins(&text[prev.end..start]) => prev.end = end,
            _ => {
                if let Some(prev) = found.take() {
                    out.push(prev);
                }
                found = Some(Finding {
                    start,
                    end,
                    kind: SecretKind::TwoFactorBackupCodes,
                });
            }
        }
    }
    if let Some(prev) = found {
        out.push(prev);
    }
}

/// The next maximal run of ASCII letters, digits and hyphens at or after `i`:
/// `(start, end, where to continue)`, hyphens trimmed from both ends.
fn next_token(bytes: &[u8], mut i: usize) -> Option<(usize, usize, usize)> {
    let code_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    while i < bytes.len() && !code_byte(bytes[i]) {
        i += 1;
    }
    if i >= bytes.len() {
        return None;
    }
    let mut start = i;
    while i < bytes.len() && code_byte(bytes[i]) {
        i += 1;
    }
    let mut end = i;
    while start < end && bytes[start] == b'-' {
        start += 1;
    }
    while end > start && bytes[end - 1] == b'-' {
        end -= 1;
    }
    Some((start, end, i.max(start + 1)))
}

fn shape(bytes: &[u8], start: usize, end: usize) -> Option<Shape> {
    let t = &bytes[start..end];
    if t.iter().all(u8::is_ascii_digit) {
        return ((6..=10).contains(&t.len()) && !is_decimal(bytes, start, end))
            .then_some(Shape::Code);
    }
    if t.contains(&b'-') {
        let groups_ok = t.split(|&b| b == b'-').all(|g| (4..=5).contains(&g.len()));
        let has_digit = t.iter().any(u8::is_ascii_digit);
        let groups = t.iter().filter(|&&b| b == b'-').count() + 1;
        return (groups_ok && has_digit && (2..=4).contains(&groups)).then_some(Shape::Code);
    }
    let base32 = t
        .iter()
        .all(|&b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    let mixed = t.iter().any(u8::is_ascii_digit) && t.iter().any(u8::is_ascii_uppercase);
    (matches!(t.len(), 16 | 32) && base32 && mixed).then_some(Shape::Base32Secret)
}

/// "1234 5678" (how Google prints backup codes): two groups of 4-5 digits
/// split by one space. Returns the end of the second group.
fn joined_digit_groups(bytes: &[u8], start: usize, end: usize) -> Option<usize> {
    let digits = |s: usize, e: usize| {
        (4..=5).contains(&(e - s)) && bytes[s..e].iter().all(u8::is_ascii_digit)
    };
    if !digits(start, end) || bytes.get(end) != Some(&b' ') {
        return None;
    }
    let s2 = end + 1;
    let mut e2 = s2;
    while e2 < bytes.len() && bytes[e2].is_ascii_digit() {
        e2 += 1;
    }
    let bounded = bytes.get(e2).is_none_or(|b| !b.is_ascii_alphanumeric());
    (digits(s2, e2) && bounded && !is_decimal(bytes, start, e2)).then_some(e2)
}

/// Part of a decimal number ("123456.78", "1,234567"): an amount, not a code.
fn is_decimal(bytes: &[u8], start: usize, end: usize) -> bool {
    let sep = |b: Option<&u8>| matches!(b, Some(b'.' | b','));
    let digit = |b: Option<&u8>| b.is_some_and(u8::is_ascii_digit);
    let before = start >= 2 && sep(bytes.get(start - 1)) && digit(bytes.get(start - 2));
    let after = sep(bytes.get(end)) && digit(bytes.get(end + 1));
    before || after
}

fn is_code(lower: &str, start: usize, end: usize, shape: Shape) -> bool {
    let backup = context::cue_wins(
        lower,
        (start, end),
        BACKUP_REACH,
        &context::BACKUP_CODES_CUES,
        &context::NOT_A_CODE_CUES,
    );
    match shape {
        Shape::Base32Secret => {
            backup
                || context::cue_wins(
                    lower,
                    (start, end),
                    LIVE_REACH,
                    &context::SETUP_KEY_CUES,
                    &context::NO_CUES,
                )
        }
        Shape::Code => {
            backup
                || context::cue_wins(
                    lower,
                    (start, end),
                    LIVE_REACH,
                    &context::LIVE_CODE_CUES,
                    &context::NOT_A_CODE_CUES,
                )
        }
    }
}

/// Whether the gap between two codes is just list punctuation.
fn joins(gap: &str) -> bool {
    gap.len() <= MAX_LIST_GAP
        && gap.chars().all(|c| !c.is_alphabetic())
        && gap
            .split(|c: char| !c.is_ascii_digit())
            .all(|d| d.len() <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find(text, &mut Lowered::new(text), &mut out);
        out.iter().map(|f| &text[f.start..f.end]).collect()
    }

    #[test]
    fn backup_codes_are_found_as_one_list() {
        let text = "My 2FA backup codes:\n1. 48213377\n2. 90125566\n3. 11873402\nthanks";
        assert_eq!(masked(text), vec!["48213377\n2. 90125566\n3. 11873402"]);
        let google = "google backup codes 4821 3377, 9012 5566";
        assert_eq!(masked(google), vec!["4821 3377, 9012 5566"]);
        let dashed = "Recovery codes: a7k2-p9q3 m4x8-z2w6";
        assert_eq!(masked(dashed), vec!["a7k2-p9q3 m4x8-z2w6"]);
    }

    #[test]
    fn live_codes_are_found() {
        assert_eq!(masked("my 2fa code is 123456"), vec!["123456"]);
        assert_eq!(masked("验证码 482913"), vec!["482913"]);
        assert_eq!(masked("код подтверждения: 482913"), vec!["482913"]);
        assert_eq!(
            masked("Google Authenticator setup key JBSWY3DPEHPK3PXP"),
            vec!["JBSWY3DPEHPK3PXP"]
        );
    }

    #[test]
    fn numbers_without_cues_pass() {
        assert!(masked("order 123456 is late").is_empty());
        assert!(masked("I sent 250000 USDT").is_empty());
        assert!(masked("my 2fa is enabled, uid 12345678").is_empty());
        assert!(masked("2fa reset for order 123456 please").is_empty());
        assert!(masked("withdrew 123456.78 from 2fa account").is_empty());
        assert!(masked("call me at 5551234567").is_empty());
    }
}
