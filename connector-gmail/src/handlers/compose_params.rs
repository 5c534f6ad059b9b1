//! Turning send/draft params into RFC 822 bytes: structured fields through mail-builder, or
//! `raw`; replies get their thread and headers from the original message.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use connector_core::mail::{
    self, idempotent_message_id, parse_mailbox, OutgoingAttachment, OutgoingMessage, Replying,
    MARKER_DOMAIN,
};
use connector_core::wire::path_segment as seg;
use connector_core::{CallContext, ConnectorError, ErrorCode, ProviderRequest};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::USER;
use crate::compose::build;

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

/// The params of messages.send / import / insert and drafts.create / update (each action's
/// schema allows its own subset).
#[derive(Deserialize, Serialize)]
pub struct ComposeParams {
    #[serde(flatten)]
    pub message: mail::ComposeParams,
    pub reply_to: Option<Vec<String>>,
    pub reply_to_message_id: Option<String>,
    /// The whole RFC 822 message, base64, instead of the structured fields.
    pub raw: Option<String>,
    #[serde(default)]
    pub label_ids: Vec<String>,
    /// import and insert.
    #[serde(default = "date_header")]
    pub internal_date_source: String,
    /// import.
    #[serde(default)]
    pub never_mark_spam: bool,
    /// drafts.update.
    pub draft_id: Option<String>,
    /// messages.send, drafts.create and drafts.update: the thread to file the message in
    /// (`reply_to_message_id` finds it otherwise).
    pub thread_id: Option<String>,
}

fn date_header() -> String {
    "dateHeader".to_string()
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
    params: &ComposeParams,
    key: Option<&str>,
    limit: usize,
    require_recipient: bool,
) -> Result<Outgoing, ConnectorError> {
    let fields = &params.message;
    let domain = fields
        .from
        .as_deref()
        .and_then(parse_mailbox)
        .and_then(|m| m.email.rsplit_once('@').map(|(_, d)| d.to_string()))
        .unwrap_or_else(|| MARKER_DOMAIN.into());
    let derived_id = key.map(|k| idempotent_message_id(k, &domain));

    if let Some(raw) = params.raw.as_deref() {
        if let Some(f) = fields.first_given() {
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
        let thread_id = match params.reply_to_message_id.as_deref() {
            Some(id) => Some(original(cx, id).await?.0),
            None => None,
        };
        let thread_id = given_thread(params, thread_id)?;
        return Ok(Outgoing {
            raw: bytes,
            thread_id,
            message_id,
        });
    }

    let mut attachments = Vec::new();
    for (i, a) in fields.attachments().iter().enumerate() {
        let content = decode_any_base64(&a.content_base64).ok_or_else(|| {
            ConnectorError::invalid_params(format!("attachment {i}: content_base64 is not base64"))
                .with_details(
                    json!({"errors": [{"pointer": format!("/attachments/{i}/content_base64")}]}),
                )
        })?;
        attachments.push(OutgoingAttachment {
            filename: a.filename.clone(),
            mime_type: a.mime_type.clone(),
            content,
        });
    }
    let mut c = OutgoingMessage::new(fields, attachments);
    c.reply_to = params.reply_to.clone().unwrap_or_default();
    c.message_id = derived_id;
    let mut thread_id = None;
    if let Some(id) = params.reply_to_message_id.as_deref() {
        let (thread, replying) = original(cx, id).await?;
        thread_id = Some(thread);
        c.answer(replying);
    }
    let thread_id = given_thread(params, thread_id)?;
    if require_recipient && !c.has_recipients() {
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

/// The thread: `thread_id` as given, else the one `reply_to_message_id` found. Both, naming
/// different threads, is the caller's mistake.
fn given_thread(
    params: &ComposeParams,
    found: Option<String>,
) -> Result<Option<String>, ConnectorError> {
    match (params.thread_id.clone(), found) {
        (Some(given), Some(found)) if given != found => {
            Err(ConnectorError::invalid_params(format!(
                "`thread_id` {given} is not the thread of `reply_to_message_id` (that is {found}); \
                 leave `thread_id` out when replying"
            ))
            .with_details(json!({"errors": [{"pointer": "/thread_id"}]})))
        }
        (given, found) => Ok(given.or(found)),
    }
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

/// The thread of the message a reply answers, and what the reply takes from it. Read once per
/// call: a send under a policy builds its message twice (the preview the rules judge, then the
/// message that goes out), and the second build reuses the first's read. The thread and these
/// headers of a message never change.
async fn original(cx: &CallContext<'_>, id: &str) -> Result<(String, Replying), ConnectorError> {
    let key = format!("gmail.original:{id}");
    if let Some(found) = cx.recall::<(String, Replying)>(&key) {
        return Ok(found);
    }
    let found = read_original(cx, id).await?;
    cx.keep(&key, found.clone());
    Ok(found)
}

async fn read_original(
    cx: &CallContext<'_>,
    id: &str,
) -> Result<(String, Replying), ConnectorError> {
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
    let thread_id = msg["threadId"].as_str().unwrap_or_default().to_string();
    Ok((
        thread_id,
        Replying {
            message_id: d["message_id"].as_str().map(str::to_string),
            references: d["references"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            subject: d["subject"].as_str().map(str::to_string),
            reply_address,
        },
    ))
}
