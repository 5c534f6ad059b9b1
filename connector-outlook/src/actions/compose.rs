//! Writing mail: send (exactly once with an idempotency key), reply, reply all, forward,
//! drafts, update, move, copy, delete.

use connector_core::mail::{
    idempotency_marker, idempotent_message_id, look_before_sending, parse_mailbox, ComposeParams,
    Found, MARKER_DOMAIN,
};
use connector_core::{CallContext, ConnectorError, ErrorCode, Output, ProviderRequest, Result};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{invalid, MessageId};
use crate::shape;
use crate::wire::{self, seg};

/// Attachments sent inline with a message: Graph takes at most 3 MB per request body.
const INLINE_ATTACHMENTS_LIMIT: usize = 3 * 1024 * 1024;

/// messages.send
#[derive(Deserialize, Serialize)]
pub struct SendParams {
    #[serde(flatten)]
    message: ComposeParams,
    importance: Option<String>,
    #[serde(default = "yes")]
    save_to_sent_items: bool,
}

fn yes() -> bool {
    true
}

/// messages.create_draft
#[derive(Deserialize, Serialize)]
pub struct DraftParams {
    #[serde(flatten)]
    message: ComposeParams,
    importance: Option<String>,
}

/// messages.reply / reply_all / forward (forward takes `to`) and create_reply /
/// create_forward (create_reply takes `reply_all`).
#[derive(Deserialize, Serialize)]
pub struct RespondParams {
    message_id: String,
    comment: Option<String>,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    reply_all: bool,
}

impl RespondParams {
    pub fn message_id(&self) -> &str {
        &self.message_id
    }
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }
    pub fn forward_to(&self) -> &[String] {
        &self.to
    }
}

/// messages.update
#[derive(Deserialize, Serialize)]
pub struct UpdateParams {
    message_id: String,
    is_read: Option<bool>,
    /// Given as `[]`, it clears the categories.
    categories: Option<Vec<String>>,
    importance: Option<String>,
    flag: Option<String>,
}

/// messages.move / copy
#[derive(Deserialize, Serialize)]
pub struct RelocateParams {
    message_id: String,
    destination_folder: String,
}

/// messages.delete
#[derive(Deserialize, Serialize)]
pub struct DeleteParams {
    message_id: String,
    #[serde(default)]
    permanent: bool,
}

/// `"Ada <ada@example.com>"` or `"ada@example.com"` -> a Graph recipient.
pub fn recipient(s: &str) -> Option<Value> {
    let m = parse_mailbox(s)?;
    let mut e = json!({"address": m.email});
    if let Some(name) = m.name {
        e["name"] = json!(name);
    }
    Some(json!({ "emailAddress": e }))
}

fn recipients(list: &[String], field: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for (i, s) in list.iter().enumerate() {
        out.push(recipient(s).ok_or_else(|| {
            invalid(
                &format!("/{field}/{i}"),
                "not an email address (use `name@example.com` or `Name <name@example.com>`)",
            )
        })?);
    }
    Ok(out)
}

fn attachments(p: &ComposeParams) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut total = 0;
    for (i, a) in p.attachments().iter().enumerate() {
        let content = a.content_base64.as_str();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|_| {
                invalid(
                    &format!("/attachments/{i}/content_base64"),
                    "not standard base64",
                )
            })?;
        total += bytes.len();
        out.push(json!({
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": a.filename,
            "contentType": a.mime_type,
            "contentBytes": content,
        }));
    }
    if total > INLINE_ATTACHMENTS_LIMIT {
        return Err(ConnectorError::new(
            ErrorCode::PayloadTooLarge,
            "attachments sent with a message may total at most 3 MB: create a draft (messages.create_draft), add large files with attachments.add (up to 150 MB each), then messages.send_draft",
        ));
    }
    Ok(out)
}

/// The Graph message body of send / create_draft params.
fn message_json(
    p: &ComposeParams,
    importance: Option<&str>,
    require_recipients: bool,
) -> Result<Map<String, Value>> {
    let mut m = Map::new();
    let to = recipients(p.to(), "to")?;
    let cc = recipients(p.cc(), "cc")?;
    let bcc = recipients(p.bcc(), "bcc")?;
    if require_recipients && to.is_empty() && cc.is_empty() && bcc.is_empty() {
        return Err(invalid(
            "/to",
            "give at least one recipient in to, cc or bcc",
        ));
    }
    if let Some(s) = &p.subject {
        m.insert("subject".into(), json!(s));
    }
    match (&p.html, &p.text) {
        (Some(_), Some(_)) => {
            return Err(invalid("/html", "give either text or html, not both"));
        }
        (Some(h), None) => {
            m.insert("body".into(), json!({"contentType": "html", "content": h}));
        }
        (None, Some(t)) => {
            m.insert("body".into(), json!({"contentType": "text", "content": t}));
        }
        (None, None) => {}
    }
    for (key, list) in [
        ("toRecipients", to),
        ("ccRecipients", cc),
        ("bccRecipients", bcc),
    ] {
        if !list.is_empty() {
            m.insert(key.into(), Value::Array(list));
        }
    }
    if let Some(f) = &p.from {
        m.insert(
            "from".into(),
            recipient(f).ok_or_else(|| invalid("/from", "not an email address"))?,
        );
    }
    if let Some(i) = importance {
        m.insert("importance".into(), json!(i));
    }
    let atts = attachments(p)?;
    if !atts.is_empty() {
        m.insert("attachments".into(), Value::Array(atts));
    }
    Ok(m)
}

/// The Internet Message-ID a send with this idempotency key carries.
pub fn message_id_for_key(key: &str) -> String {
    idempotent_message_id(key, MARKER_DOMAIN)
}

/// The single-value extended property that carries a keyed send's marker: a named string
/// property in the public-strings property set. Graph keeps it through sending (Microsoft's
/// advice for finding a sent copy again, microsoft-graph-docs#3766), unlike a client-set
/// `internetMessageId`, whose survival is undocumented.
pub const MARKER_PROPERTY: &str =
    "String {00020329-0000-0000-C000-000000000046} Name X-Agent-Connectors-Send-Key";

fn marker_filter(marker: &str) -> String {
    format!(
        "singleValueExtendedProperties/Any(ep: ep/id eq '{MARKER_PROPERTY}' and ep/value eq '{}')",
        marker.replace('\'', "''")
    )
}

async fn marked_in(cx: &CallContext<'_>, path: &str, marker: &str) -> Result<Option<Value>> {
    let req = ProviderRequest::get(path)
        .query("$filter", marker_filter(marker))
        .query(
            "$select",
            "id,conversationId,internetMessageId,subject,sentDateTime,isDraft",
        )
        .query("$top", "1")
        .idempotent(true);
    let v = wire::body(&cx.send(req).await?)?;
    Ok(wire::values(&v).into_iter().next())
}

/// The earlier attempt of a keyed send, wherever it is: in Sent Items it went out; anywhere
/// else (Drafts and the Outbox while the transport has it, which takes seconds after the 202)
/// it is on its way and must not be sent again. One request when there is none.
async fn find_marked(cx: &CallContext<'_>, marker: &str) -> Result<Option<(Value, Found)>> {
    let Some(anywhere) = marked_in(cx, "/me/messages", marker).await? else {
        return Ok(None);
    };
    Ok(Some(
        match marked_in(cx, "/me/mailFolders/sentitems/messages", marker).await? {
            Some(sent) => (sent, Found::Sent),
            None => (anywhere, Found::InFlight),
        },
    ))
}

pub async fn send(cx: &CallContext<'_>, p: SendParams) -> Result<Output> {
    let save = p.save_to_sent_items;
    let mut message = message_json(&p.message, p.importance.as_deref(), true)?;
    let key = cx.options.idempotency_key.as_deref();
    if key.is_some() && !save {
        return Err(invalid(
            "/save_to_sent_items",
            "must stay true with an idempotency key: the copy in Sent Items is how a retry knows the message already went out",
        ));
    }
    let marker = key.map(idempotency_marker);
    if let Some(done) = look_before_sending(cx.lookup_marker(marker.as_deref()), |m| async move {
        Ok(find_marked(cx, &m).await?.map(|(found, state)| {
            let mut out = shape::message(&found);
            out["status"] = json!(state.status());
            out
        }))
    })
    .await?
    {
        return Ok(done);
    }
    if let (Some(key), Some(marker)) = (key, &marker) {
        message.insert("internetMessageId".into(), json!(message_id_for_key(key)));
        message.insert(
            "singleValueExtendedProperties".into(),
            json!([{"id": MARKER_PROPERTY, "value": marker}]),
        );
    }
    let req = ProviderRequest::post("/me/sendMail")
        .json(json!({"message": message, "saveToSentItems": save}));
    cx.send(req).await?;
    let mut out = json!({"status": "sent", "message_id": null});
    // Graph answers 202 before the transport has the message: read back where it is now
    // (its id changes once it reaches Sent Items). A failed read-back leaves the send standing.
    if let Some(marker) = &marker {
        if let Ok(Some((found, _))) = find_marked(cx, marker).await {
            out = shape::message(&found);
            out["status"] = json!("sent");
        }
    }
    Ok(Output::new(out).with_meta("deduplicated", false))
}

pub async fn reply(cx: &CallContext<'_>, p: RespondParams) -> Result<Output> {
    respond(cx, p, "reply").await
}

pub async fn reply_all(cx: &CallContext<'_>, p: RespondParams) -> Result<Output> {
    respond(cx, p, "replyAll").await
}

pub async fn forward(cx: &CallContext<'_>, p: RespondParams) -> Result<Output> {
    respond(cx, p, "forward").await
}

/// reply / reply_all / forward: sent right away, answered 202 by Graph.
async fn respond(cx: &CallContext<'_>, p: RespondParams, action: &str) -> Result<Output> {
    let id = p.message_id.as_str();
    let mut body = Map::new();
    if let Some(c) = &p.comment {
        body.insert("comment".into(), json!(c));
    }
    if action == "forward" {
        let to = recipients(&p.to, "to")?;
        if to.is_empty() {
            return Err(invalid("/to", "a forward needs at least one recipient"));
        }
        body.insert("toRecipients".into(), Value::Array(to));
    }
    let req = ProviderRequest::post(format!("/me/messages/{}/{action}", seg(id)))
        .json(Value::Object(body));
    cx.send(req).await?;
    Ok(Output::new(json!({"status": "sent", "in_reply_to": id})))
}

pub async fn create_reply(cx: &CallContext<'_>, p: RespondParams) -> Result<Output> {
    create_response(cx, p, false).await
}

pub async fn create_forward(cx: &CallContext<'_>, p: RespondParams) -> Result<Output> {
    create_response(cx, p, true).await
}

/// createReply / createReplyAll / createForward: a draft to edit and send later.
async fn create_response(cx: &CallContext<'_>, p: RespondParams, forward: bool) -> Result<Output> {
    let id = p.message_id.as_str();
    let action = if forward {
        "createForward"
    } else if p.reply_all {
        "createReplyAll"
    } else {
        "createReply"
    };
    let mut body = Map::new();
    if let Some(c) = &p.comment {
        body.insert("comment".into(), json!(c));
    }
    if forward {
        let to = recipients(&p.to, "to")?;
        if !to.is_empty() {
            body.insert("toRecipients".into(), Value::Array(to));
        }
    }
    let req = ProviderRequest::post(format!("/me/messages/{}/{action}", seg(id)))
        .json(Value::Object(body));
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(shape::message(&v)))
}

pub async fn create_draft(cx: &CallContext<'_>, p: DraftParams) -> Result<Output> {
    let message = message_json(&p.message, p.importance.as_deref(), false)?;
    let req = ProviderRequest::post("/me/messages").json(Value::Object(message));
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(shape::message(&v)))
}

/// `messages.send_draft`. With an idempotency key it sends exactly once: the draft is marked
/// (the same single-value extended property as keyed sends) before it is sent; a retry that
/// finds the marked message in Sent Items answers `already_sent`; a draft the transport already
/// has is refused by Graph ("submitted and is being sent") and answers `in_flight`; a draft
/// that never went out is sent. A draft is never taken for a sent message.
pub async fn send_draft(cx: &CallContext<'_>, p: MessageId) -> Result<Output> {
    let id = p.message_id.as_str();
    let send = || ProviderRequest::post(format!("/me/messages/{}/send", seg(id)));
    let Some(key) = cx.options.idempotency_key.as_deref() else {
        cx.send(send()).await?;
        return Ok(Output::new(json!({"status": "sent", "draft_id": id})));
    };
    let marker = idempotency_marker(key);
    let deduplicated = |found: &Value, state: Found| {
        let mut out = shape::message(found);
        out["status"] = json!(state.status());
        out["draft_id"] = json!(id);
        Output::new(out).with_meta("deduplicated", true)
    };
    if let Some((found, Found::Sent)) = find_marked(cx, &marker).await? {
        return Ok(deduplicated(&found, Found::Sent));
    }
    let mark = ProviderRequest::new(Method::PATCH, format!("/me/messages/{}", seg(id)))
        .json(json!({"singleValueExtendedProperties": [{"id": MARKER_PROPERTY, "value": marker}]}))
        .idempotent(true);
    if let Err(e) = cx.send(mark).await {
        // Gone from Drafts: it reached Sent Items since the look-up, or never existed.
        if let Some((found, Found::Sent)) = find_marked(cx, &marker).await? {
            return Ok(deduplicated(&found, Found::Sent));
        }
        return Err(e);
    }
    match cx.send(send()).await {
        Ok(_) => {
            Ok(Output::new(json!({"status": "sent", "draft_id": id}))
                .with_meta("deduplicated", false))
        }
        Err(e) if being_sent(&e) => {
            let found = find_marked(cx, &marker)
                .await?
                .map(|(found, _)| found)
                .unwrap_or_else(|| json!({"id": id}));
            Ok(deduplicated(&found, Found::InFlight))
        }
        Err(e) => Err(e),
    }
}

/// Graph's refusal to send a message the transport already has.
fn being_sent(e: &ConnectorError) -> bool {
    e.details["provider_status"] == 400
        && e.details["provider_message"]
            .as_str()
            .is_some_and(|m| m.to_ascii_lowercase().contains("being sent"))
}

pub async fn update(cx: &CallContext<'_>, p: UpdateParams) -> Result<Output> {
    let id = p.message_id.as_str();
    let mut patch = Map::new();
    if let Some(r) = p.is_read {
        patch.insert("isRead".into(), json!(r));
    }
    if let Some(c) = &p.categories {
        patch.insert("categories".into(), json!(c));
    }
    if let Some(i) = &p.importance {
        patch.insert("importance".into(), json!(i));
    }
    if let Some(f) = &p.flag {
        patch.insert("flag".into(), json!({"flagStatus": f}));
    }
    if patch.is_empty() {
        return Err(invalid(
            "",
            "give at least one of is_read, categories, importance, flag",
        ));
    }
    let req = ProviderRequest::new(Method::PATCH, format!("/me/messages/{}", seg(id)))
        .json(Value::Object(patch));
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(shape::message(&v)))
}

pub async fn move_to(cx: &CallContext<'_>, p: RelocateParams) -> Result<Output> {
    relocate(cx, p, "move").await
}

pub async fn copy_to(cx: &CallContext<'_>, p: RelocateParams) -> Result<Output> {
    relocate(cx, p, "copy").await
}

/// move / copy: Graph answers with the message under its new id.
async fn relocate(cx: &CallContext<'_>, p: RelocateParams, action: &str) -> Result<Output> {
    let id = p.message_id.as_str();
    let dest = p.destination_folder.as_str();
    let dest = if wire::is_well_known(dest) {
        dest.to_ascii_lowercase()
    } else {
        dest.to_string()
    };
    let req = ProviderRequest::post(format!("/me/messages/{}/{action}", seg(id)))
        .json(json!({"destinationId": dest}));
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(shape::message(&v)))
}

pub async fn delete(cx: &CallContext<'_>, p: DeleteParams) -> Result<Output> {
    let id = p.message_id.as_str();
    let permanent = p.permanent;
    let req = if permanent {
        ProviderRequest::post(format!("/me/messages/{}/permanentDelete", seg(id)))
    } else {
        ProviderRequest::new(Method::DELETE, format!("/me/messages/{}", seg(id)))
    };
    cx.send(req).await?;
    Ok(Output::new(
        json!({"deleted": true, "message_id": id, "permanent": permanent}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_or_without_names() {
        assert_eq!(
            recipient("Ada Lovelace <ada@example.com>").unwrap(),
            json!({"emailAddress": {"address": "ada@example.com", "name": "Ada Lovelace"}})
        );
        assert_eq!(
            recipient("grace@example.com").unwrap()["emailAddress"]["address"],
            "grace@example.com"
        );
        assert!(recipient("not an address").is_none());
        assert!(recipient("a@b").is_none());
    }

    #[test]
    fn the_message_id_is_stable_per_key() {
        assert_eq!(message_id_for_key("k1"), message_id_for_key("k1"));
        assert_ne!(message_id_for_key("k1"), message_id_for_key("k2"));
        assert!(message_id_for_key("k1").starts_with('<'));
    }
}
