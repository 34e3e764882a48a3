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

fn client_msg_id(kind: &str, id: &str) -> Result<(), Refusal> {
    if id.is_empty() || id.len() > 64 {
        return Err(refuse(
            ErrorCode::BadRequest,
            format!("`{kind}` frame: `client_msg_id` must be 1-64 bytes"),
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
