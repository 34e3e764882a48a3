//! Canned replies: ready answers the agent console offers by shortcut, in the
//! customer's language. The server only keeps them (the `[[canned]]` list of
//! the configuration, checked here) and serves them (`GET /api/canned`); the
//! console fills the placeholders and sends the text as an ordinary message,
//! so a canned reply needs nothing new on the wire.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, is_language_tag};

/// The placeholders a text may hold, as `{name}`: filled by the console from
/// the conversation it is sent in.
pub const PLACEHOLDERS: [&str; 3] = ["customer_name", "agent_name", "topic"];

/// One canned reply of the `[[canned]]` list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedReply {
    /// What the agent types to pick it (after `/` in the console): 1-32
    /// characters of a-z, 0-9, `-` and `_`, unique in the list.
    pub shortcut: String,
    /// What the console's picker shows: 1-80 characters, not blank.
    pub title: String,
    /// Language → text, at least one; each text 1 to `limits.max_text_chars`
    /// characters, not blank, with placeholders `{customer_name}`,
    /// `{agent_name}` and `{topic}` left for the console to fill.
    pub text: BTreeMap<String, String>,
    /// The topics it is offered for, each one of `routing.topics`; absent (or
    /// `null`) for every topic.
    #[serde(default)]
    pub topics: Option<Vec<String>>,
}

fn invalid(key: String, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: problem.into(),
    }
}

/// Check the list: the error names the dotted key at fault
/// (`canned[2].shortcut`, `canned[0].text.es`).
pub fn validate(
    canned: &[CannedReply],
    topics: &[String],
    max_text_chars: usize,
) -> Result<(), ConfigError> {
    let known: HashSet<&str> = topics.iter().map(String::as_str).collect();
    let mut shortcuts: HashMap<&str, usize> = HashMap::new();
    for (i, reply) in canned.iter().enumerate() {
        let at = |field: &str| format!("canned[{i}].{field}");
        let shortcut = &reply.shortcut;
        if !(1..=32).contains(&shortcut.len())
            || !shortcut
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
        {
            return Err(invalid(
                at("shortcut"),
                format!("`{shortcut}` must be 1-32 characters of a-z, 0-9, - and _"),
            ));
        }
        if let Some(first) = shortcuts.insert(shortcut, i) {
            return Err(invalid(
                at("shortcut"),
                format!("`{shortcut}` is the shortcut of canned[{first}] too"),
            ));
        }
        let title = reply.title.chars().count();
        if reply.title.trim().is_empty() || title > 80 {
            return Err(invalid(
                at("title"),
                format!("must be 1-80 characters, not blank (it has {title})"),
            ));
        }
        if reply.text.is_empty() {
            return Err(invalid(
                at("text"),
                "must give the text in at least one language, e.g. text.en = \"…\"",
            ));
        }
        for (language, text) in &reply.text {
            let key = format!("canned[{i}].text.{language}");
            if !is_language_tag(language) {
                return Err(invalid(
                    key,
                    format!(
                        "`{language}` is not a language code (2-8 lowercase letters, e.g. `en`)"
                    ),
                ));
            }
            let length = text.chars().count();
            if text.trim().is_empty() || length > max_text_chars {
                return Err(invalid(
                    key,
                    format!(
                        "must be 1-{max_text_chars} characters (limits.max_text_chars), not blank (it has {length})"
                    ),
                ));
            }
            if let Some(unknown) = placeholders(text).find(|name| !PLACEHOLDERS.contains(name)) {
                return Err(invalid(
                    key,
                    format!(
                        "`{{{unknown}}}` is not a placeholder; they are {}",
                        PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                    ),
                ));
            }
        }
        if let Some(list) = &reply.topics {
            if list.is_empty() {
                return Err(invalid(
                    at("topics"),
                    "must name at least one topic (leave it out for every topic)",
                ));
            }
            let mut seen = HashSet::new();
            for topic in list {
                if !known.contains(topic.as_str()) {
                    return Err(invalid(
                        at("topics"),
                        format!(
                            "`{topic}` is not a topic (routing.topics: {})",
                            topics.join(", ")
                        ),
                    ));
                }
                if !seen.insert(topic.as_str()) {
                    return Err(invalid(at("topics"), format!("`{topic}` is listed twice")));
                }
            }
        }
    }
    Ok(())
}

/// The names of the `{name}` placeholders in a text, in order: a `{`, one or
/// more of a-z, A-Z, 0-9 and `_`, then `}`. Any other brace is plain text
/// (`{ }`, `{"a": 1}`), so a text may still show braces.
pub fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{').skip(1).filter_map(|after| {
        let (name, _) = after.split_once('}')?;
        let word = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        word.then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(shortcut: &str, text: &[(&str, &str)]) -> CannedReply {
        CannedReply {
            shortcut: shortcut.into(),
            title: "A title".into(),
            text: text
                .iter()
                .map(|(l, t)| (l.to_string(), t.to_string()))
                .collect(),
            topics: None,
        }
    }

    fn problem(canned: &[CannedReply]) -> String {
        let topics = ["trading".to_string(), "api".to_string()];
        match validate(canned, &topics, 20) {
            Ok(()) => "accepted".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn placeholders_are_brace_words_only() {
        let names: Vec<&str> =
            placeholders("Hi {customer_name}, {agent_name} here: {} { x } {\"a\":1} {topic")
                .collect();
        assert_eq!(names, ["customer_name", "agent_name"]);
        assert_eq!(placeholders("{{topic}}").collect::<Vec<_>>(), ["topic"]);
    }

    #[test]
    fn each_rule_names_its_key() {
        assert_eq!(
            problem(&[reply("txid", &[("en", "Your TxID?")])]),
            "accepted"
        );
        assert!(problem(&[reply("TxID", &[("en", "x")])]).contains("canned[0].shortcut"));
        assert!(problem(&[reply("", &[("en", "x")])]).contains("canned[0].shortcut"));
        let twice = problem(&[reply("a", &[("en", "x")]), reply("a", &[("en", "y")])]);
        assert!(twice.contains("canned[1].shortcut"), "{twice}");
        assert!(twice.contains("canned[0] too"), "{twice}");
        assert!(problem(&[reply("a", &[])]).contains("canned[0].text"));
        assert!(problem(&[reply("a", &[("EN", "x")])]).contains("canned[0].text.EN"));
        assert!(problem(&[reply("a", &[("en", " ")])]).contains("canned[0].text.en"));
        let long = problem(&[reply("a", &[("en", &"x".repeat(21))])]);
        assert!(
            long.contains("canned[0].text.en") && long.contains("21"),
            "{long}"
        );
        let unknown = problem(&[reply("a", &[("es", "Hola {nombre}")])]);
        assert!(unknown.contains("canned[0].text.es"), "{unknown}");
        assert!(unknown.contains("`{nombre}`"), "{unknown}");
        let mut titled = reply("a", &[("en", "x")]);
        titled.title = "é".repeat(81);
        assert!(problem(&[titled]).contains("canned[0].title"));
        let mut topical = reply("a", &[("en", "x")]);
        topical.topics = Some(vec!["astrology".into()]);
        assert!(problem(&[topical.clone()]).contains("canned[0].topics"));
        topical.topics = Some(vec![]);
        assert!(problem(&[topical.clone()]).contains("canned[0].topics"));
        topical.topics = Some(vec!["api".into(), "api".into()]);
        assert!(problem(&[topical]).contains("listed twice"));
    }
}
