//! Turning send/draft params into RFC 822 bytes: structured fields through mail-builder, or
//! `raw`; replies get their thread and headers from the original message.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use connector_core::{CallContext, ConnectorError, ErrorCode, ProviderRequest};
use serde_json::{json, Value};

use super::{seg, str_param, USER};
use crate::compose::{build, message_id_for_key, parse_address, Compose, OutgoingAttachment};

/// Gmail's limit for send and drafts.
pub const SEND_LIMIT: usize = 35 * 1024 * 1024;
/// Gmail's limit for insert and import.
pub const INSERT_LIMIT: usize = 150 * 1024 * 1024;

/// A message ready to upload.
pub struct Outgoing {
    pub raw: Vec<u8>,
    pub thread_id: Option<String>,
    /// The Message-ID header value, with angle brackets.
    pub message_id: Option<String>,
}

fn strings(params: &Value, name: &str) -> Vec<String> {
    params[name]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn decode_any_base64(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(&s)
        .or_else(|_| URL_SAFE.decode(&s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')))
        .ok()
}

/// Builds the message from params. `key` (an idempotency key) fixes the Message-ID.
pub async fn outgoing(
    cx: &CallContext<'_>,
    params: &Value,
    key: Option<&str>,
    limit: usize,
    require_recipient: bool,
) -> Result<Outgoing, ConnectorError> {
    let domain = str_param(params, "from")
        .and_then(|f| parse_address(f, "from").ok())
        .and_then(|(_, e)| e.rsplit_once('@').map(|(_, d)| d.to_string()))
        .unwrap_or_else(|| "agent-connectors.invalid".into());
    let derived_id = key.map(|k| message_id_for_key(k, &domain));

    if let Some(raw) = str_param(params, "raw") {
        let structured = [
            "to",
            "cc",
            "bcc",
            "subject",
            "text",
            "html",
            "attachments",
            "from",
        ];
        if let Some(f) = structured.iter().find(|f| params.get(**f).is_some()) {
            return Err(ConnectorError::invalid_params(format!(
                "give either `raw` or structured fields, not both (found `{f}`)"
            ))
            .with_details(json!({"errors": [{"pointer": format!("/{f}")}]})));
        }
        let mut bytes = decode_any_base64(raw).ok_or_else(|| {
            ConnectorError::invalid_params("`raw` is not base64")
                .with_details(json!({"errors": [{"pointer": "/raw"}]}))
        })?;
        let parsed = crate::mime::decode_mime(&bytes);
        let mut message_id = parsed.message_id.clone();
        if message_id.is_none() {
            if let Some(id) = &derived_id {
                let mut with_id = format!("Message-ID: {id}\r\n").into_bytes();
                with_id.extend_from_slice(&bytes);
                bytes = with_id;
                message_id = Some(id.clone());
            }
        }
        check_size(bytes.len(), limit)?;
        let thread_id = match str_param(params, "reply_to_message_id") {
            Some(id) => Some(original(cx, id).await?.thread_id),
            None => None,
        };
        return Ok(Outgoing {
            raw: bytes,
            thread_id,
            message_id,
        });
    }

    let mut attachments = Vec::new();
    for (i, a) in params["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let content = decode_any_base64(a["content_base64"].as_str().unwrap_or_default())
            .ok_or_else(|| {
                ConnectorError::invalid_params(format!(
                    "attachment {i}: content_base64 is not base64"
                ))
                .with_details(
                    json!({"errors": [{"pointer": format!("/attachments/{i}/content_base64")}]}),
                )
            })?;
        attachments.push(OutgoingAttachment {
            filename: a["filename"].as_str().unwrap_or("attachment").to_string(),
            mime_type: a["mime_type"]
                .as_str()
                .unwrap_or("application/octet-stream")
                .to_string(),
            content,
        });
    }
    let mut c = Compose {
        from: str_param(params, "from").map(str::to_string),
        to: strings(params, "to"),
        cc: strings(params, "cc"),
        bcc: strings(params, "bcc"),
        reply_to: strings(params, "reply_to"),
        subject: str_param(params, "subject").map(str::to_string),
        text: str_param(params, "text").map(str::to_string),
        html: str_param(params, "html").map(str::to_string),
        attachments,
        message_id: derived_id,
        ..Compose::default()
    };
    let mut thread_id = None;
    if let Some(id) = str_param(params, "reply_to_message_id") {
        let orig = original(cx, id).await?;
        thread_id = Some(orig.thread_id);
        if let Some(mid) = &orig.message_id {
            c.in_reply_to = Some(mid.clone());
            c.references = orig.references.clone();
            c.references.push(mid.clone());
        }
        if c.subject.is_none() {
            c.subject = orig.subject.map(|s| {
                if s.to_ascii_lowercase().starts_with("re:") {
                    s
                } else {
                    format!("Re: {s}")
                }
            });
        }
        if c.to.is_empty() && c.cc.is_empty() && c.bcc.is_empty() {
            c.to = orig.reply_address.into_iter().collect();
        }
    }
    if require_recipient && c.to.is_empty() && c.cc.is_empty() && c.bcc.is_empty() {
        return Err(ConnectorError::invalid_params(
            "a message needs at least one recipient in `to`, `cc` or `bcc` (or `reply_to_message_id`)",
        )
        .with_details(json!({"errors": [{"pointer": "/to"}]})));
    }
    if c.message_id.is_none() {
        c.message_id = Some(format!("<{}@{domain}>", uuid::Uuid::new_v4().simple()));
    }
    let raw = build(&c).map_err(|e| *e)?;
    check_size(raw.len(), limit)?;
    Ok(Outgoing {
        raw,
        thread_id,
        message_id: c.message_id,
    })
}

fn check_size(len: usize, limit: usize) -> Result<(), ConnectorError> {
    if len > limit {
        return Err(ConnectorError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the message is {:.1} MB; Gmail accepts at most {} MB here. Send large files as links instead",
                len as f64 / 1_048_576.0,
                limit / 1_048_576
            ),
        )
        .with_details(json!({"size": len, "limit": limit})));
    }
    Ok(())
}

/// What a reply needs from the message it answers.
struct Original {
    thread_id: String,
    message_id: Option<String>,
    references: Vec<String>,
    subject: Option<String>,
    reply_address: Option<String>,
}

async fn original(cx: &CallContext<'_>, id: &str) -> Result<Original, ConnectorError> {
    let mut req = ProviderRequest::get(format!("{USER}/messages/{}", seg(id)))
        .query("format", "metadata")
        .idempotent(true);
    for h in ["Message-ID", "References", "Subject", "From", "Reply-To"] {
        req = req.query("metadataHeaders", h);
    }
    let msg: Value = cx.send(req).await?.json()?;
    let d = crate::message::decode_message(&msg, crate::message::Format::Metadata);
    let first = |key: &str| d[key].as_array().and_then(|a| a.first()).cloned();
    let reply_address = first("reply_to")
        .or_else(|| Some(d["from"].clone()))
        .and_then(|a| {
            let email = a["email"].as_str()?;
            Some(match a["name"].as_str() {
                Some(n) => format!("\"{}\" <{email}>", n.replace('"', "")),
                None => email.to_string(),
            })
        });
    Ok(Original {
        thread_id: msg["threadId"].as_str().unwrap_or_default().to_string(),
        message_id: d["message_id"].as_str().map(str::to_string),
        references: d["references"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        subject: d["subject"].as_str().map(str::to_string),
        reply_address,
    })
}
