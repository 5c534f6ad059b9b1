//! What a send that Graph composes itself would deliver, for the send policies (core's
//! `guard`): a draft as stored (send_draft), a reply (to the original's Reply-To or sender),
//! a reply to all (plus its To and Cc, without the mailbox itself) and a forward (to the
//! given recipients, with the original's attachments). Graph adds the quoted original below a
//! comment; the preview says so in `note` and binds to the original's id and change key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connector_core::guard::{body_text, Preview, PreviewAttachment};
use connector_core::wire::path_segment as seg;
use connector_core::{CallContext, ProviderRequest, Result};
use serde_json::Value;

use super::compose::RespondParams;
use super::MessageId;
use crate::wire;

const FIELDS: &str = "subject,from,toRecipients,ccRecipients,bccRecipients,replyTo,body,changeKey";

fn shown(r: &Value) -> Option<String> {
    let a = r.get("emailAddress")?;
    let email = a.get("address")?.as_str()?;
    Some(match a.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() && n != email => format!("{n} <{email}>"),
        _ => email.to_string(),
    })
}

fn list(m: &Value, field: &str) -> Vec<String> {
    m.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(shown)
        .collect()
}

async fn message(cx: &CallContext<'_>, id: &str) -> Result<Value> {
    let req = ProviderRequest::get(format!("/me/messages/{}", seg(id)))
        .query("$select", FIELDS)
        .idempotent(true);
    wire::body(&cx.send(req).await?)
}

/// The file attachments of a message with their bytes' size and hash.
async fn attachments(cx: &CallContext<'_>, id: &str) -> Result<Vec<PreviewAttachment>> {
    let req =
        ProviderRequest::get(format!("/me/messages/{}/attachments", seg(id))).idempotent(true);
    let all = wire::all_pages(cx, req, 20).await?;
    Ok(all
        .iter()
        .map(|a| {
            let name = a.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
            let mime = a
                .get("contentType")
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream");
            match a
                .get("contentBytes")
                .and_then(Value::as_str)
                .and_then(|b| STANDARD.decode(b).ok())
            {
                Some(bytes) => PreviewAttachment::of(name, mime, &bytes),
                None => PreviewAttachment {
                    filename: name.to_string(),
                    mime_type: mime.to_string(),
                    size: a.get("size").and_then(Value::as_u64).unwrap_or(0),
                    sha256: None,
                },
            }
        })
        .collect())
}

fn text_of(m: &Value) -> String {
    let body = m.get("body");
    let content = body.and_then(|b| b.get("content")).and_then(Value::as_str);
    let html = body
        .and_then(|b| b.get("contentType"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("html"));
    if html {
        body_text(None, content)
    } else {
        body_text(content, None)
    }
}

/// messages.send_draft.
pub async fn draft(cx: &CallContext<'_>, p: MessageId) -> Result<Preview> {
    let m = message(cx, &p.message_id).await?;
    Ok(Preview {
        from: m.get("from").and_then(shown),
        to: list(&m, "toRecipients"),
        cc: list(&m, "ccRecipients"),
        bcc: list(&m, "bccRecipients"),
        subject: m.get("subject").and_then(Value::as_str).map(str::to_string),
        text: text_of(&m),
        attachments: attachments(cx, &p.message_id).await?,
        note: None,
    })
}

/// The mailbox's own addresses (a reply to all leaves them out).
async fn own_addresses(cx: &CallContext<'_>) -> Result<Vec<String>> {
    let req = ProviderRequest::get("/me")
        .query("$select", "mail,userPrincipalName")
        .idempotent(true);
    let v = wire::body(&cx.send(req).await?)?;
    Ok(["mail", "userPrincipalName"]
        .iter()
        .filter_map(|k| v.get(*k).and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect())
}

fn email_of(shown: &str) -> String {
    connector_core::mail::parse_mailbox(shown)
        .map(|m| m.email)
        .unwrap_or_else(|| shown.to_string())
        .to_ascii_lowercase()
}

pub async fn reply(cx: &CallContext<'_>, p: RespondParams) -> Result<Preview> {
    respond(cx, &p, "reply").await
}

pub async fn reply_all(cx: &CallContext<'_>, p: RespondParams) -> Result<Preview> {
    respond(cx, &p, "reply_all").await
}

pub async fn forward(cx: &CallContext<'_>, p: RespondParams) -> Result<Preview> {
    respond(cx, &p, "forward").await
}

/// messages.reply, reply_all and forward (`kind`: `reply`, `reply_all`, `forward`).
async fn respond(cx: &CallContext<'_>, p: &RespondParams, kind: &str) -> Result<Preview> {
    let m = message(cx, p.message_id()).await?;
    let subject = m.get("subject").and_then(Value::as_str).unwrap_or_default();
    let (to, cc, attachments, prefix) = match kind {
        "forward" => (
            p.forward_to().to_vec(),
            Vec::new(),
            attachments(cx, p.message_id()).await?,
            "FW: ",
        ),
        _ => {
            let mut to = list(&m, "replyTo");
            if to.is_empty() {
                to = m.get("from").and_then(shown).into_iter().collect();
            }
            let mut cc = Vec::new();
            if kind == "reply_all" {
                let own = own_addresses(cx).await?;
                let mut seen: Vec<String> = to.iter().map(|a| email_of(a)).collect();
                for a in list(&m, "toRecipients")
                    .into_iter()
                    .chain(list(&m, "ccRecipients"))
                {
                    let e = email_of(&a);
                    if !own.contains(&e) && !seen.contains(&e) {
                        seen.push(e);
                        cc.push(a);
                    }
                }
            }
            (to, cc, Vec::new(), "RE: ")
        }
    };
    let change = m.get("changeKey").and_then(Value::as_str).unwrap_or("");
    Ok(Preview {
        from: None,
        to,
        cc,
        bcc: Vec::new(),
        subject: Some(format!("{prefix}{subject}")),
        text: p.comment().unwrap_or_default().to_string(),
        attachments,
        note: Some(format!(
            "Graph quotes the original message ({}, version {change}) below the text",
            p.message_id()
        )),
    })
}
