//! messages.send, messages.import/insert and drafts.create/update/send: composed messages,
//! the upload path for large ones, and exactly-once sends with an idempotency key.

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use connector_core::guard::Preview;
use connector_core::mail::{idempotency_marker, look_before_sending, MARKER_HEADER};
use connector_core::wire::path_segment as seg;
use connector_core::{
    CallContext, ConnectorError, ErrorCode, Output, ProviderRequest, TypedHandler,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::compose_params::{outgoing, ComposeParams, Outgoing, INSERT_LIMIT, SEND_LIMIT};
use super::USER;

/// Messages larger than this (bytes) go through `/upload/gmail/v1/...?uploadType=multipart`.
/// Gmail refuses plain request bodies over 1 MiB ("Request payload size exceeds the limit:
/// 1048576 bytes", docs/provider-behaviour.md); base64 makes a message a third larger, so
/// anything over 512 KiB takes the upload path.
pub const DEFAULT_UPLOAD_THRESHOLD: usize = 512 * 1024;
/// Messages larger than this (bytes) use a resumable upload session.
pub const DEFAULT_RESUMABLE_THRESHOLD: usize = 16 * 1024 * 1024;

/// Where a composed message goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Send,
    Import,
    Insert,
    DraftCreate,
    DraftUpdate,
}

pub struct Compose {
    pub target: Target,
    pub uploads: UploadLimits,
}

fn sent_record(v: &Value, message_id: Option<&str>) -> Value {
    json!({
        "id": v["id"], "thread_id": v["threadId"], "label_ids": v.get("labelIds").cloned().unwrap_or(json!([])),
        "message_id": message_id,
    })
}

/// How far back a retry looks for the earlier attempt of a keyed send, and how many recent
/// sent messages it reads at most: the look-up stays cheap (a list and a few metadata reads)
/// whatever the mailbox's size.
const LOOKUP_WINDOW: &str = "2d";
const LOOKUP_CANDIDATES: usize = 10;

/// The first message in the mailbox (sent mail included) with this Message-ID. Only for
/// `insert` / `import`, which keep the client's Message-ID; Gmail replaces it on sends.
async fn find_by_message_id(
    cx: &CallContext<'_>,
    message_id: &str,
) -> Result<Option<Value>, ConnectorError> {
    let q = format!("rfc822msgid:{}", message_id.trim_matches(['<', '>']));
    let list: Value = cx
        .send(
            ProviderRequest::get(format!("{USER}/messages"))
                .query("q", q)
                .query("includeSpamTrash", "true")
                .query("maxResults", "1")
                .idempotent(true),
        )
        .await?
        .json()?;
    Ok(list["messages"].as_array().and_then(|a| a.first()).cloned())
}

/// A header of a `format=metadata` message.
fn header<'a>(msg: &'a Value, name: &str) -> Option<&'a str> {
    msg["payload"]["headers"].as_array()?.iter().find(|h| {
        h["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })?["value"]
        .as_str()
}

fn has_label(msg: &Value, label: &str) -> bool {
    msg["labelIds"]
        .as_array()
        .is_some_and(|l| l.iter().any(|x| x == label))
}

/// A message's labels and its marker and Message-ID headers.
async fn marker_headers(cx: &CallContext<'_>, id: &str) -> Result<Value, ConnectorError> {
    cx.send(
        ProviderRequest::get(format!("{USER}/messages/{}", seg(id)))
            .query("format", "metadata")
            .query("metadataHeaders", MARKER_HEADER)
            .query("metadataHeaders", "Message-ID")
            .idempotent(true),
    )
    .await?
    .json()
}

/// Sent mail carrying `marker` in its marker header: the earlier attempt of a keyed send. Gmail
/// replaces the Message-ID of API sends, so the look-up cannot search by it; it reads the
/// newest [`LOOKUP_CANDIDATES`] sent messages of the last [`LOOKUP_WINDOW`] (to `recipient`
/// when one is known, e.g. `to:grace@example.com`). A draft is never taken for a sent message.
async fn find_sent_by_marker(
    cx: &CallContext<'_>,
    marker: &str,
    recipient: Option<&str>,
) -> Result<Option<Value>, ConnectorError> {
    let mut q = format!("in:sent -in:drafts newer_than:{LOOKUP_WINDOW}");
    if let Some(r) = recipient {
        q.push(' ');
        q.push_str(r);
    }
    let list: Value = cx
        .send(
            ProviderRequest::get(format!("{USER}/messages"))
                .query("q", q)
                .query("includeSpamTrash", "true")
                .query("maxResults", LOOKUP_CANDIDATES.to_string())
                .idempotent(true),
        )
        .await?
        .json()?;
    for m in list["messages"].as_array().into_iter().flatten() {
        let id = m["id"].as_str().unwrap_or_default();
        let msg = marker_headers(cx, id).await?;
        if has_label(&msg, "SENT")
            && !has_label(&msg, "DRAFT")
            && header(&msg, MARKER_HEADER) == Some(marker)
        {
            return Ok(Some(sent_record(&msg, header(&msg, "Message-ID"))));
        }
    }
    Ok(None)
}

/// The search term that narrows the look-up to one recipient of `raw` (`to:`, `cc:` or `bcc:`).
fn recipient_term(raw: &[u8]) -> Option<String> {
    let d = crate::mime::decode_mime(raw);
    let term = [("to", &d.to), ("cc", &d.cc), ("bcc", &d.bcc)]
        .into_iter()
        .find_map(|(field, list)| {
            let email = &list.first()?.email;
            let plain = !email.is_empty()
                && email
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "@.-_+".contains(c));
            plain.then(|| format!("{field}:{email}"))
        });
    term
}

/// The record of a message just sent, with the Message-ID Gmail gave it (read back: Gmail
/// replaces the client's). A failed read-back leaves `message_id` null: the send stands.
async fn read_back(cx: &CallContext<'_>, sent: &Value) -> Value {
    let id = sent["id"].as_str().unwrap_or_default();
    let mid = marker_headers(cx, id)
        .await
        .ok()
        .and_then(|m| header(&m, "Message-ID").map(str::to_string));
    sent_record(sent, mid.as_deref())
}

/// When messages go through the upload endpoints instead of a JSON body.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Larger messages use `uploadType=multipart`.
    pub multipart_above: usize,
    /// Larger messages use `uploadType=resumable` (a session, then the bytes in one PUT).
    pub resumable_above: usize,
}

/// Sends `message` (the JSON Message resource, raw included) to `path`, or through the upload
/// paths when the raw message is large.
async fn post_message(
    cx: &CallContext<'_>,
    method: reqwest::Method,
    path: &str,
    query: &[(&str, String)],
    out: &Outgoing,
    wrap: impl Fn(Value) -> Value,
    limits: UploadLimits,
) -> Result<Value, ConnectorError> {
    let mut message = json!({});
    if let Some(t) = &out.thread_id {
        message["threadId"] = json!(t);
    }
    let req = if out.raw.len() > limits.resumable_above {
        let session = ProviderRequest::new(method.clone(), format!("/upload{path}"))
            .query("uploadType", "resumable")
            .header("x-upload-content-type", "message/rfc822")
            .header("x-upload-content-length", &out.raw.len().to_string())
            .json(wrap(message))
            // Opening a session sends nothing yet: safe to retry.
            .idempotent(true);
        let session = query
            .iter()
            .fold(session, |r, (k, v)| r.query(*k, v.clone()));
        let started = cx.send(session).await?;
        let location = started
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ConnectorError::new(
                    connector_core::ErrorCode::ProviderError,
                    "Gmail opened an upload session without a Location to upload to",
                )
            })?
            .to_string();
        let put = ProviderRequest::new(reqwest::Method::PUT, location)
            .bytes("message/rfc822", out.raw.clone());
        return cx.send(put).await?.json();
    } else if out.raw.len() > limits.multipart_above {
        let boundary = format!("upload_{}", uuid::Uuid::new_v4().simple());
        let meta = wrap(message);
        let mut body = format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&out.raw);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        ProviderRequest::new(method, format!("/upload{path}"))
            .query("uploadType", "multipart")
            .bytes(format!("multipart/related; boundary={boundary}"), body)
    } else {
        message["raw"] = json!(URL_SAFE_NO_PAD.encode(&out.raw));
        ProviderRequest::new(method, path).json(wrap(message))
    };
    let req = query.iter().fold(req, |r, (k, v)| r.query(*k, v.clone()));
    cx.send(req).await?.json()
}

#[async_trait]
impl TypedHandler for Compose {
    type Params = ComposeParams;

    fn exactly_once(&self) -> bool {
        self.target == Target::Send
    }

    /// A send's message as it will go out (a reply's recipients filled in, a raw message read).
    async fn preview(
        &self,
        cx: &CallContext<'_>,
        params: ComposeParams,
    ) -> Result<Option<Preview>, ConnectorError> {
        if self.target != Target::Send {
            return Ok(None);
        }
        let out = outgoing(cx, &params, None, SEND_LIMIT, true).await?;
        Ok(Some(super::preview::of_raw(&out.raw)))
    }
    async fn run(
        &self,
        cx: &CallContext<'_>,
        params: ComposeParams,
    ) -> Result<Output, ConnectorError> {
        let params = &params;
        let key = cx.options.idempotency_key.as_deref();
        let (limit, needs_to) = match self.target {
            Target::Send => (SEND_LIMIT, true),
            Target::DraftCreate | Target::DraftUpdate => (SEND_LIMIT, false),
            Target::Import | Target::Insert => (INSERT_LIMIT, false),
        };
        let mut out = outgoing(cx, params, key, limit, needs_to).await?;

        // Exactly once. A send carries the key's marker header and a retry looks for it in
        // recent sent mail; insert and import keep the client's Message-ID, so a retry looks
        // for that.
        let marker = key
            .filter(|_| self.target == Target::Send)
            .map(idempotency_marker);
        if let Some(m) = &marker {
            out.raw = with_header(&out.raw, MARKER_HEADER, m);
        }
        let recipient = marker.as_ref().and_then(|_| recipient_term(&out.raw));
        if let Some(done) =
            look_before_sending(cx.lookup_marker(marker.as_deref()), |m| async move {
                let found = find_sent_by_marker(cx, &m, recipient.as_deref()).await?;
                Ok(found)
            })
            .await?
        {
            return Ok(done);
        }
        let stored = matches!(self.target, Target::Import | Target::Insert);
        let mid_marker = out
            .message_id
            .as_deref()
            .filter(|_| key.is_some() && stored);
        if let Some(done) = look_before_sending(cx.lookup_marker(mid_marker), |mid| async move {
            let found = find_by_message_id(cx, &mid).await?;
            Ok(found.map(|f| sent_record(&f, Some(&mid))))
        })
        .await?
        {
            return Ok(done);
        }
        let t = self.uploads;
        let label_ids = &params.label_ids;
        let with_labels = |mut m: Value| {
            if !label_ids.is_empty() {
                m["labelIds"] = json!(label_ids);
            }
            m
        };
        let mut query: Vec<(&str, String)> =
            vec![("internalDateSource", params.internal_date_source.clone())];
        let mid = out.message_id.as_deref();
        let result = match self.target {
            Target::Send => {
                let v = post_message(
                    cx,
                    reqwest::Method::POST,
                    &format!("{USER}/messages/send"),
                    &[],
                    &out,
                    |m| m,
                    t,
                )
                .await?;
                read_back(cx, &v).await
            }
            Target::Import => {
                if params.never_mark_spam {
                    query.push(("neverMarkSpam", "true".into()));
                }
                let v = post_message(
                    cx,
                    reqwest::Method::POST,
                    &format!("{USER}/messages/import"),
                    &query,
                    &out,
                    with_labels,
                    t,
                )
                .await?;
                sent_record(&v, mid)
            }
            Target::Insert => {
                let v = post_message(
                    cx,
                    reqwest::Method::POST,
                    &format!("{USER}/messages"),
                    &query,
                    &out,
                    with_labels,
                    t,
                )
                .await?;
                sent_record(&v, mid)
            }
            Target::DraftCreate => {
                let v = post_message(
                    cx,
                    reqwest::Method::POST,
                    &format!("{USER}/drafts"),
                    &[],
                    &out,
                    |m| json!({"message": m}),
                    t,
                )
                .await?;
                json!({"id": v["id"], "message": sent_record(&v["message"], mid)})
            }
            Target::DraftUpdate => {
                let id = params.draft_id.clone().unwrap_or_default();
                let path = format!("{USER}/drafts/{}", seg(&id));
                let v = post_message(
                    cx,
                    reqwest::Method::PUT,
                    &path,
                    &[],
                    &out,
                    |m| json!({"id": id, "message": m}),
                    t,
                )
                .await?;
                json!({"id": v["id"], "message": sent_record(&v["message"], mid)})
            }
        };
        Ok(Output::new(result))
    }
}

/// drafts.send. With an idempotency key the draft first gets the key's marker header. Gmail
/// deletes a draft when it sends it, so a draft that still exists has not been sent (a retry
/// after a failed first attempt sends it); a draft that is gone was sent if recent sent mail
/// carries the marker, and is `not_found` otherwise.
pub struct DraftSend {
    pub uploads: UploadLimits,
}

/// drafts.send
#[derive(Deserialize, Serialize)]
pub struct DraftSendParams {
    draft_id: String,
}

#[async_trait]
impl TypedHandler for DraftSend {
    type Params = DraftSendParams;

    fn exactly_once(&self) -> bool {
        true
    }

    /// The draft as stored: what drafts.send would deliver.
    async fn preview(
        &self,
        cx: &CallContext<'_>,
        params: DraftSendParams,
    ) -> Result<Option<Preview>, ConnectorError> {
        let draft: Value = cx
            .send(
                ProviderRequest::get(format!("{USER}/drafts/{}", seg(&params.draft_id)))
                    .query("format", "raw")
                    .idempotent(true),
            )
            .await?
            .json()?;
        let raw =
            crate::mime::decode_base64url(draft["message"]["raw"].as_str().unwrap_or_default())
                .unwrap_or_default();
        Ok(Some(super::preview::of_raw(&raw)))
    }
    async fn run(
        &self,
        cx: &CallContext<'_>,
        params: DraftSendParams,
    ) -> Result<Output, ConnectorError> {
        let id = params.draft_id.as_str();
        if let Some(key) = cx.options.idempotency_key.as_deref() {
            let marker = idempotency_marker(key);
            let draft = cx
                .send(
                    ProviderRequest::get(format!("{USER}/drafts/{}", seg(id)))
                        .query("format", "raw")
                        .idempotent(true),
                )
                .await;
            let draft: Value = match draft {
                Ok(d) => d.json()?,
                Err(e) if e.code == ErrorCode::NotFound => {
                    return match find_sent_by_marker(cx, &marker, None).await? {
                        Some(found) => Ok(Output::new(found).with_meta("deduplicated", true)),
                        None => Err(e),
                    };
                }
                Err(e) => return Err(e),
            };
            let raw =
                crate::mime::decode_base64url(draft["message"]["raw"].as_str().unwrap_or_default())
                    .unwrap_or_default();
            let marked = with_header(&raw, MARKER_HEADER, &marker);
            if marked != raw {
                let out = Outgoing {
                    raw: marked,
                    thread_id: draft["message"]["threadId"].as_str().map(str::to_string),
                    message_id: None,
                };
                let path = format!("{USER}/drafts/{}", seg(id));
                post_message(
                    cx,
                    reqwest::Method::PUT,
                    &path,
                    &[],
                    &out,
                    |m| json!({"id": id, "message": m}),
                    self.uploads,
                )
                .await?;
            }
        }
        let v: Value = cx
            .send(ProviderRequest::post(format!("{USER}/drafts/send")).json(json!({"id": id})))
            .await?
            .json()?;
        Ok(Output::new(read_back(cx, &v).await))
    }
}

/// The message with its `name` header replaced by `name: value` (first in the header block).
fn with_header(raw: &[u8], name: &str, value: &str) -> Vec<u8> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 1))
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut out = format!("{name}: {value}\r\n").into_bytes();
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let mut skipping = false;
    for line in head.split_inclusive('\n') {
        let folded = line.starts_with([' ', '\t']);
        if !folded {
            skipping = line.to_ascii_lowercase().starts_with(&prefix);
        }
        if !skipping {
            out.extend_from_slice(line.as_bytes());
        }
    }
    out.extend_from_slice(&raw[head_end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_replaced_including_folded_lines() {
        let raw = b"Subject: a\r\nMessage-ID:\r\n <old@x>\r\nTo: b@c.d\r\n\r\nbody\r\n";
        let out = with_header(raw, "Message-ID", "<new@y>");
        let d = crate::mime::decode_mime(&out);
        assert_eq!(d.message_id.as_deref(), Some("<new@y>"));
        assert_eq!(d.subject.as_deref(), Some("a"));
        assert_eq!(d.to[0].email, "b@c.d");
        assert!(!String::from_utf8_lossy(&out).contains("old@x"));
    }
}
