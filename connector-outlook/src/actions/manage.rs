//! Writes beside mail: attachments (direct under 3 MB, upload sessions up to 150 MB), folders,
//! categories, mailbox settings (automatic replies) and change-notification subscriptions.

use base64::Engine;
use chrono::{Duration, SecondsFormat, Utc};
use connector_core::{CallContext, ConnectorError, ErrorCode, Output, ProviderRequest, Result};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::messages::{inbox, AttachmentParams};
use super::{invalid, Folder};
use crate::shape;
use crate::wire::{self, folder_seg, seg};

/// Attachments below this go in one request; from it on, through an upload session.
pub const DIRECT_LIMIT: usize = 3 * 1024 * 1024;
/// Largest attachment Graph takes (upload session).
pub const MAX_ATTACHMENT: usize = 150 * 1024 * 1024;
/// Bytes per PUT to an upload session: under Graph's 4 MB per request, a multiple of 320 KiB.
pub const RANGE_SIZE: usize = 12 * 320 * 1024;

/// attachments.add
#[derive(Deserialize, Serialize)]
pub struct AttachmentAddParams {
    message_id: String,
    #[serde(flatten)]
    file: connector_core::mail::AttachmentParams,
}

/// mail_folders.create
#[derive(Deserialize, Serialize)]
pub struct FolderCreateParams {
    display_name: String,
    parent_folder: Option<String>,
    #[serde(default)]
    is_hidden: bool,
}

/// mail_folders.update
#[derive(Deserialize, Serialize)]
pub struct FolderUpdateParams {
    folder: String,
    display_name: String,
}

/// categories.create
#[derive(Deserialize, Serialize)]
pub struct CategoryCreateParams {
    display_name: String,
    #[serde(default = "no_color")]
    color: String,
}

fn no_color() -> String {
    "none".to_string()
}

/// categories.delete
#[derive(Deserialize, Serialize)]
pub struct CategoryParams {
    category_id: String,
}

/// mailbox_settings.update
#[derive(Deserialize, Serialize)]
pub struct SettingsParams {
    automatic_replies: Option<AutomaticReplies>,
    time_zone: Option<String>,
}

/// mailbox_settings.update's `automatic_replies`.
#[derive(Deserialize, Serialize)]
pub struct AutomaticReplies {
    status: Option<String>,
    external_audience: Option<String>,
    internal_reply_message: Option<String>,
    external_reply_message: Option<String>,
    scheduled_start: Option<String>,
    scheduled_end: Option<String>,
}

/// subscriptions.create
#[derive(Deserialize, Serialize)]
pub struct SubscriptionCreateParams {
    #[serde(default = "inbox")]
    folder: String,
    notification_url: String,
    lifecycle_notification_url: Option<String>,
    #[serde(default = "created")]
    change_types: Vec<String>,
    #[serde(default = "three_days")]
    expiration_minutes: i64,
    client_state: Option<String>,
}

fn created() -> Vec<String> {
    vec!["created".to_string()]
}

fn three_days() -> i64 {
    4320
}

/// subscriptions.renew and subscriptions.delete (which has no expiration).
#[derive(Deserialize, Serialize)]
pub struct SubscriptionParams {
    subscription_id: String,
    #[serde(default = "three_days")]
    expiration_minutes: i64,
}

pub async fn attachment_add(cx: &CallContext<'_>, p: AttachmentAddParams) -> Result<Output> {
    let id = p.message_id.as_str();
    let name = p.file.filename.as_str();
    let mime = p.file.mime_type.as_str();
    let content = p.file.content_base64.as_str();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content)
        .map_err(|_| invalid("/content_base64", "not standard base64"))?;
    if bytes.len() > MAX_ATTACHMENT {
        return Err(ConnectorError::new(
            ErrorCode::PayloadTooLarge,
            "an attachment may be at most 150 MB",
        ));
    }
    let base = format!("/me/messages/{}/attachments", seg(id));
    if bytes.len() < DIRECT_LIMIT {
        let req = ProviderRequest::post(base).json(json!({
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": name,
            "contentType": mime,
            "contentBytes": content,
        }));
        let v = wire::body(&cx.send(req).await?)?;
        return Ok(Output::new(shape::attachment_meta(&v)).with_meta("upload_session", false));
    }
    let req = ProviderRequest::post(format!("{base}/createUploadSession")).json(json!({
        "AttachmentItem": {"attachmentType": "file", "name": name, "size": bytes.len(), "contentType": mime}
    }));
    let session = wire::body(&cx.send(req).await?)?;
    let url = session
        .get("uploadUrl")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ConnectorError::new(
                ErrorCode::ProviderError,
                "Graph opened an upload session without an uploadUrl",
            )
        })?
        .to_string();
    let total = bytes.len();
    let mut last = Value::Null;
    let mut ranges = 0;
    for (i, chunk) in bytes.chunks(RANGE_SIZE).enumerate() {
        let start = i * RANGE_SIZE;
        let end = start + chunk.len() - 1;
        let mut req = ProviderRequest::new(Method::PUT, url.clone())
            .bytes("application/octet-stream", chunk.to_vec())
            .header("Content-Range", &format!("bytes {start}-{end}/{total}"));
        // The upload URL carries its own credential; Graph refuses a bearer token there.
        req.no_auth = true;
        let resp = cx.send(req).await?;
        last = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if let Some(loc) = resp.headers.get("location").and_then(|l| l.to_str().ok()) {
            // Graph answers the last range with 201 and the attachment's URL in Location.
            let id = loc.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
            let id = id
                .trim_start_matches("attachments('")
                .trim_end_matches("')");
            last["id"] = json!(id);
        }
        ranges += 1;
    }
    let attachment_id = last.get("id").cloned().unwrap_or(Value::Null);
    Ok(Output::new(json!({
        "attachment_id": attachment_id,
        "filename": name,
        "mime_type": mime,
        "size": total,
        "inline": false,
        "attachment_type": "file",
    }))
    .with_meta("upload_session", true)
    .with_meta("ranges", ranges))
}

pub async fn attachment_delete(cx: &CallContext<'_>, p: AttachmentParams) -> Result<Output> {
    let (id, att) = (p.message_id.as_str(), p.attachment_id.as_str());
    let req = ProviderRequest::new(
        Method::DELETE,
        format!("/me/messages/{}/attachments/{}", seg(id), seg(att)),
    );
    cx.send(req).await?;
    Ok(Output::new(json!({"deleted": true, "attachment_id": att})))
}

pub async fn folder_create(cx: &CallContext<'_>, p: FolderCreateParams) -> Result<Output> {
    let name = p.display_name.as_str();
    let path = match &p.parent_folder {
        Some(parent) => format!("/me/mailFolders/{}/childFolders", folder_seg(parent)),
        None => "/me/mailFolders".to_string(),
    };
    let mut body = json!({"displayName": name});
    if p.is_hidden {
        body["isHidden"] = json!(true);
    }
    let v = wire::body(&cx.send(ProviderRequest::post(path).json(body)).await?)?;
    Ok(Output::new(shape::folder(&v, None)))
}

pub async fn folder_update(cx: &CallContext<'_>, p: FolderUpdateParams) -> Result<Output> {
    let req = ProviderRequest::new(
        Method::PATCH,
        format!("/me/mailFolders/{}", folder_seg(&p.folder)),
    )
    .json(json!({"displayName": p.display_name}));
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(shape::folder(&v, None)))
}

pub async fn folder_delete(cx: &CallContext<'_>, p: Folder) -> Result<Output> {
    let f = p.folder.as_str();
    if wire::is_well_known(f) {
        return Err(invalid(
            "/folder",
            "well-known folders (inbox, sentitems, ...) cannot be deleted",
        ));
    }
    let req = ProviderRequest::new(Method::DELETE, format!("/me/mailFolders/{}", folder_seg(f)));
    cx.send(req).await?;
    Ok(Output::new(json!({"deleted": true, "folder": f})))
}

pub async fn category_create(cx: &CallContext<'_>, p: CategoryCreateParams) -> Result<Output> {
    let body = json!({
        "displayName": p.display_name,
        "color": p.color,
    });
    let req = ProviderRequest::post("/me/outlook/masterCategories").json(body);
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(json!({
        "id": v.get("id").cloned().unwrap_or(Value::Null),
        "display_name": v.get("displayName").cloned().unwrap_or(Value::Null),
        "color": v.get("color").cloned().unwrap_or(json!("none")),
    })))
}

pub async fn category_delete(cx: &CallContext<'_>, p: CategoryParams) -> Result<Output> {
    let id = p.category_id.as_str();
    let req = ProviderRequest::new(
        Method::DELETE,
        format!("/me/outlook/masterCategories/{}", seg(id)),
    );
    cx.send(req).await?;
    Ok(Output::new(json!({"deleted": true, "category_id": id})))
}

fn date_time_tz(s: &str) -> Value {
    json!({"dateTime": s.trim_end_matches('Z'), "timeZone": "UTC"})
}

pub async fn settings_update(cx: &CallContext<'_>, p: SettingsParams) -> Result<Output> {
    let mut patch = Map::new();
    if let Some(a) = &p.automatic_replies {
        let mut s = Map::new();
        for (to, v) in [
            ("status", &a.status),
            ("externalAudience", &a.external_audience),
            ("internalReplyMessage", &a.internal_reply_message),
            ("externalReplyMessage", &a.external_reply_message),
        ] {
            if let Some(v) = v {
                s.insert(to.into(), json!(v));
            }
        }
        if let Some(t) = &a.scheduled_start {
            s.insert("scheduledStartDateTime".into(), date_time_tz(t));
        }
        if let Some(t) = &a.scheduled_end {
            s.insert("scheduledEndDateTime".into(), date_time_tz(t));
        }
        if s.get("status").and_then(Value::as_str) == Some("scheduled")
            && !(s.contains_key("scheduledStartDateTime") && s.contains_key("scheduledEndDateTime"))
        {
            return Err(invalid(
                "/automatic_replies",
                "status scheduled needs scheduled_start and scheduled_end",
            ));
        }
        patch.insert("automaticRepliesSetting".into(), Value::Object(s));
    }
    if let Some(tz) = &p.time_zone {
        patch.insert("timeZone".into(), json!(tz));
    }
    if patch.is_empty() {
        return Err(invalid("", "give automatic_replies or time_zone"));
    }
    let req = ProviderRequest::new(Method::PATCH, "/me/mailboxSettings").json(Value::Object(patch));
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(connector_core::wire::snake_keys(v)))
}

fn expiry(minutes: i64) -> String {
    (Utc::now() + Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn subscription(v: &Value) -> Value {
    json!({
        "subscription_id": v.get("id").cloned().unwrap_or(Value::Null),
        "resource": v.get("resource").cloned().unwrap_or(Value::Null),
        "change_types": v.get("changeType").and_then(Value::as_str).map(|c| c.split(',').map(str::trim).collect::<Vec<_>>()),
        "notification_url": v.get("notificationUrl").cloned().unwrap_or(Value::Null),
        "lifecycle_notification_url": v.get("lifecycleNotificationUrl").cloned().unwrap_or(Value::Null),
        "expiration": v.get("expirationDateTime").cloned().unwrap_or(Value::Null),
    })
}

pub async fn subscription_create(
    cx: &CallContext<'_>,
    p: SubscriptionCreateParams,
) -> Result<Output> {
    let f = p.folder.as_str();
    let resource = if f.eq_ignore_ascii_case("all") {
        "me/messages".to_string()
    } else if wire::is_well_known(f) {
        format!("me/mailFolders('{}')/messages", f.to_ascii_lowercase())
    } else {
        format!("me/mailFolders('{f}')/messages")
    };
    let mut body = json!({
        "changeType": p.change_types.join(","),
        "notificationUrl": p.notification_url,
        "resource": resource,
        "expirationDateTime": expiry(p.expiration_minutes),
    });
    if let Some(s) = &p.client_state {
        body["clientState"] = json!(s);
    }
    if let Some(u) = &p.lifecycle_notification_url {
        body["lifecycleNotificationUrl"] = json!(u);
    }
    let v = wire::body(
        &cx.send(ProviderRequest::post("/subscriptions").json(body))
            .await?,
    )?;
    Ok(Output::new(subscription(&v)))
}

pub async fn subscription_renew(cx: &CallContext<'_>, p: SubscriptionParams) -> Result<Output> {
    let id = p.subscription_id.as_str();
    let req = ProviderRequest::new(Method::PATCH, format!("/subscriptions/{}", seg(id)))
        .json(json!({"expirationDateTime": expiry(p.expiration_minutes)}));
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(subscription(&v)))
}

pub async fn subscription_delete(cx: &CallContext<'_>, p: SubscriptionParams) -> Result<Output> {
    let id = p.subscription_id.as_str();
    let req = ProviderRequest::new(Method::DELETE, format!("/subscriptions/{}", seg(id)));
    cx.send(req).await?;
    Ok(Output::new(json!({"deleted": true, "subscription_id": id})))
}
