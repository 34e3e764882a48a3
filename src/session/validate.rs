//! Field rules a frame must meet before it reaches the hub: sizes, known topics,
//! well-formed ids. Structure (types, required fields) is serde's job.

use crate::{
    config::{Config, is_language_tag},
    error::{ErrorCode, FrameError},
    protocol::{AgentFrame, CustomerFrame},
};

type Refusal = (FrameError, Option<smol_str::SmolStr>);

fn refuse(code: ErrorCode, message: String, reference: Option<&str>) -> Refusal {
    (FrameError::new(code, message), reference.map(Into::into))
}

fn text(
    kind: &str,
    field: &str,
    value: &str,
    config: &Config,
    reference: Option<&str>,
) -> Result<(), Refusal> {
    if value.trim().is_empty() {
        return Err(refuse(
            ErrorCode::BadRequest,
            format!("`{kind}` frame: `{field}` must not be empty"),
            reference,
        ));
    }
    if let Some((at, c)) = control_character(value) {
        return Err(refuse(
            ErrorCode::BadRequest,
            format!(
                "`{kind}` frame: `{field}` holds a control character (U+{:04X}) at character {at}: only newline and tab are allowed",
                u32::from(c)
            ),
            reference,
        ));
    }
    let chars = value.chars().count();
    if chars > config.limits.max_text_chars {
        return Err(refuse(
            ErrorCode::TooLarge,
            format!(
                "`{kind}` frame: `{field}` is {chars} characters; the limit is {}",
                config.limits.max_text_chars
            ),
            reference,
        ));
    }
    Ok(())
}

/// The first control character of `value` that text may not hold (any but
/// newline and tab; a carriage return only as part of CR LF), with its
/// position in characters from 1. They make no sense in a chat and can hide
/// or rewrite what an agent's console or a ticket shows (escape sequences,
/// NUL truncation).
pub(super) fn control_character(value: &str) -> Option<(usize, char)> {
    let mut chars = value.chars().peekable();
    let mut at = 0;
    while let Some(c) = chars.next() {
        at += 1;
        let allowed = match c {
            '\n' | '\t' => true,
            '\r' => chars.peek() == Some(&'\n'),
            c => !c.is_control(),
        };
        if !allowed {
            return Some((at, c));
        }
    }
    None
}

/// The first string in `value` (a JSON tree) with a control character, by
/// its path.
fn control_in_json(value: &serde_json::Value, path: &mut String) -> Option<(String, char)> {
    use serde_json::Value;
    match value {
        Value::String(text) => control_character(text).map(|(_, c)| (path.clone(), c)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = control_in_json(item, path);
            path.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if let Some((_, c)) = control_character(key) {
                return Some((format!("{path} (a key)"), c));
            }
            let len = path.len();
            path.push('.');
            path.push_str(key);
            let found = control_in_json(item, path);
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

fn client_msg_id(kind: &str, id: &str) -> Result<(), Refusal> {
    if id.is_empty() || id.len() > 64 || control_character(id).is_some() {
        return Err(refuse(
            ErrorCode::BadRequest,
            format!(
                "`{kind}` frame: `client_msg_id` must be 1-64 bytes, without control characters"
            ),
            Some(id),
        ));
    }
    Ok(())
}

fn topic(kind: &str, topic: &str, config: &Config, reference: Option<&str>) -> Result<(), Refusal> {
    if config.routing.topics.iter().any(|t| t == topic) {
        return Ok(());
    }
    Err(refuse(
        ErrorCode::BadRequest,
        format!(
            "`{kind}` frame: unknown topic `{topic}`; topics are {}",
            config.routing.topics.join(", ")
        ),
        reference,
    ))
}

/// The routing language of a tag: its primary subtag, lowercased (`pt-BR` → `pt`).
pub(super) fn language(tag: &str) -> Option<String> {
    let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
    is_language_tag(&primary).then_some(primary)
}

/// Check a customer frame's fields; normalizes `start.language` to its routing form.
pub(super) fn customer(frame: &mut CustomerFrame, config: &Config) -> Result<(), Refusal> {
    match frame {
        CustomerFrame::Start {
            topic: t,
            language: lang,
            text: first,
            client_msg_id: id,
            metadata,
        } => {
            let key = id.clone();
            let reference = key.as_deref();
            if let Some(id) = reference {
                client_msg_id("start", id)?;
            }
            topic("start", t, config, reference)?;
            if let Some(tag) = lang {
                let Some(routing) = language(tag) else {
                    return Err(refuse(
                        ErrorCode::BadRequest,
                        format!(
                            "`start` frame: `language` `{tag}` is not a language code (e.g. `en`, `pt-BR`)"
                        ),
                        None,
                    ));
                };
                *tag = routing;
            }
            if let Some(first) = first
                && !first.trim().is_empty()
            {
                text("start", "text", first, config, reference)?;
            }
            if let Some(metadata) = metadata {
                let mut path = String::from("metadata");
                let tree = serde_json::Value::Object(metadata.clone());
                if let Some((at, c)) = control_in_json(&tree, &mut path) {
                    return Err(refuse(
                        ErrorCode::BadRequest,
                        format!(
                            "`start` frame: `{at}` holds a control character (U+{:04X}): only newline and tab are allowed",
                            u32::from(c)
                        ),
                        reference,
                    ));
                }
                let size = serde_json::to_string(metadata).map_or(usize::MAX, |s| s.len());
                if size > config.limits.max_metadata_bytes {
                    return Err(refuse(
                        ErrorCode::TooLarge,
                        format!(
                            "`start` frame: `metadata` is {size} bytes; the limit is {}",
                            config.limits.max_metadata_bytes
                        ),
                        reference,
                    ));
                }
            }
            Ok(())
        }
        CustomerFrame::Message {
            client_msg_id: id,
            text: body,
        } => {
            client_msg_id("message", id)?;
            text("message", "text", body, config, Some(id))
        }
        CustomerFrame::LeaveMessage {
            client_msg_id: id,
            text: body,
        } => {
            let reference = id.clone();
            if let Some(id) = reference.as_deref() {
                client_msg_id("leave_message", id)?;
            }
            text("leave_message", "text", body, config, reference.as_deref())
        }
        CustomerFrame::Hello { .. }
        | CustomerFrame::Typing { .. }
        | CustomerFrame::Close {}
        | CustomerFrame::Rate { .. } => Ok(()),
    }
}

/// Check an agent frame's fields.
pub(super) fn agent(frame: &AgentFrame, config: &Config) -> Result<(), Refusal> {
    match frame {
        AgentFrame::Message {
            client_msg_id: id,
            text: body,
            ..
        } => {
            client_msg_id("message", id)?;
            text("message", "text", body, config, Some(id))
        }
        AgentFrame::Transfer { topic: t, .. } => topic("transfer", t, config, None),
        AgentFrame::Escalate {
            note: Some(note), ..
        } => text("escalate", "note", note, config, None),
        AgentFrame::Hello { .. }
        | AgentFrame::Status { .. }
        | AgentFrame::Typing { .. }
        | AgentFrame::Resolve { .. }
        | AgentFrame::Escalate { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_other_than_newline_and_tab_are_found() {
        assert_eq!(control_character("plain text, 中文, عربى, emoji 🚀"), None);
        assert_eq!(control_character("two\nlines\tand a tab"), None);
        assert_eq!(control_character("windows\r\nline"), None);
        assert_eq!(control_character("bell\u{7}"), Some((5, '\u{7}')));
        assert_eq!(control_character("nul\0cut"), Some((4, '\0')));
        assert_eq!(control_character("\u{1b}[2Jclear"), Some((1, '\u{1b}')));
        assert_eq!(control_character("lone\rreturn"), Some((5, '\r')));
        assert_eq!(control_character("c1 \u{9b} csi"), Some((4, '\u{9b}')));
        assert_eq!(control_character("del\u{7f}"), Some((4, '\u{7f}')));
    }

    #[test]
    fn a_control_character_in_a_message_or_metadata_is_refused_naming_it() {
        let config = Config::default();
        let mut frame = CustomerFrame::Message {
            client_msg_id: "c-1".into(),
            text: "hello\u{1b}]8;;https://evil.example\u{7}".into(),
        };
        let (error, reference) = customer(&mut frame, &config).unwrap_err();
        assert_eq!(error.code, ErrorCode::BadRequest);
        assert!(error.message.contains("U+001B"), "{}", error.message);
        assert_eq!(reference.as_deref(), Some("c-1"));
        let mut start: CustomerFrame = serde_json::from_value(serde_json::json!({
            "type": "start", "topic": "general",
            "metadata": {"page": {"title": "ok", "tags": ["x", "nul\u{0}"]}}
        }))
        .unwrap();
        let (error, _) = customer(&mut start, &config).unwrap_err();
        assert!(
            error.message.contains("metadata.page.tags[1]"),
            "{}",
            error.message
        );
    }
}
