//! Attachments by reference (docs/attachments.md): bytes that go from mailbox to mailbox, or
//! from an upload to a mailbox, without passing through the agent.
//!
//! - **Handles** (`att_...`): bytes the server holds for a short time, in the database, sealed
//!   with the organization's data key, scoped to the organization and expiring. Made by an
//!   upload (`POST /api/v1/attachments`) or by `attachments.get` run with
//!   `"attachments": "reference"`; read back by `GET /api/v1/attachments/{handle}` with the
//!   application's bearer token.
//! - **References in params** (`content_ref`), resolved here before the connector runs, so
//!   core's validation, the send policies (largest attachment, approval preview with size and
//!   hash) and the provider see the real bytes: anywhere an action takes `content_base64` (the
//!   params themselves, as Outlook's `attachments.add`, or an item of `attachments`), a
//!   `content_ref` of `{"handle": "att_..."}` or `{"message_id", "attachment_id"}` (an
//!   attachment of the same connector's mailbox) stands in its place.

use std::time::Duration;

use api_types::AttachmentHandle;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connector_core::{ConnectorError, ErrorCode, Output};
use rand::rngs::OsRng;
use rand::RngCore;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::connectors::Connectors;
use crate::error::db;
use crate::runtime::ExecuteCall;
use crate::store::attachments::HandleRow;
use crate::store::events::now_ms;
use crate::store::{ConnectorRow, Store};
use crate::vault::Vault;

/// Where handles are uploaded to and downloaded from.
pub const PATH: &str = "/api/v1/attachments";
/// Every handle starts so (a reference can be told from other ids at a glance).
pub const HANDLE_PREFIX: &str = "att_";

/// The bounds of the handle store (fields of [`crate::limits::Limits`]).
#[derive(Debug, Clone)]
pub struct AttachmentLimits {
    /// Largest upload, and largest attachment `attachments.get` may turn into a handle.
    pub max_bytes: usize,
    /// Bytes the live handles of one organization may hold together.
    pub max_org_bytes: u64,
    /// Lifetime of a handle unless the upload asks for another.
    pub ttl: Duration,
    /// Longest lifetime an upload may ask for.
    pub max_ttl: Duration,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits {
            // Gmail's largest message (35 MB); Graph takes up to 150 MB per attachment.
            max_bytes: 35 * 1024 * 1024,
            max_org_bytes: 1024 * 1024 * 1024,
            ttl: Duration::from_secs(3600),
            max_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// How an `attachments.get` answers: bytes in the result (default) or a handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Inline,
    Reference,
}

pub struct Attachments {
    store: Store,
    vault: Vault,
    limits: AttachmentLimits,
}

fn new_handle() -> String {
    let mut buf = [0u8; 24];
    OsRng.fill_bytes(&mut buf);
    format!(
        "{HANDLE_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
    )
}

fn handle_not_found() -> ConnectorError {
    ConnectorError::not_found(
        "no attachment handle with this id in your organization (handles expire: upload the file \
         again, or run attachments.get with \"attachments\": \"reference\" again)",
    )
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A MIME type as the specs take it (`type/subtype`, parameters dropped).
fn bare_mime(m: &str) -> String {
    let t = m
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
    };
    match t.split_once('/') {
        Some((a, b)) if ok(a) && ok(b) => t,
        _ => "application/octet-stream".into(),
    }
}

impl Attachments {
    pub fn new(store: Store, vault: Vault, limits: AttachmentLimits) -> Attachments {
        Attachments {
            store,
            vault,
            limits,
        }
    }

    pub fn limits(&self) -> &AttachmentLimits {
        &self.limits
    }

    /// Stores `bytes` under a new handle of the organization. `ttl` (at most
    /// [`AttachmentLimits::max_ttl`]) defaults to [`AttachmentLimits::ttl`].
    pub async fn put(
        &self,
        org: &str,
        filename: &str,
        mime_type: &str,
        bytes: &[u8],
        source: &str,
        ttl: Option<Duration>,
    ) -> Result<AttachmentHandle, ConnectorError> {
        if bytes.len() > self.limits.max_bytes {
            return Err(ConnectorError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the file has {} bytes; a handle holds at most {} bytes",
                    bytes.len(),
                    self.limits.max_bytes
                ),
            )
            .with_details(json!({"max_bytes": self.limits.max_bytes})));
        }
        let ttl = ttl.unwrap_or(self.limits.ttl).min(self.limits.max_ttl);
        let now = now_ms();
        self.store.sweep_attachment_handles(now).await.map_err(db)?;
        let held = self.store.attachment_bytes(org, now).await.map_err(db)?;
        if held as u64 + bytes.len() as u64 > self.limits.max_org_bytes {
            return Err(ConnectorError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the organization's live attachment handles hold {held} bytes; with this file \
                     they would exceed {} bytes: delete handles you no longer need \
                     (DELETE {PATH}/{{handle}}) or wait for them to expire",
                    self.limits.max_org_bytes
                ),
            )
            .with_details(
                json!({"max_org_bytes": self.limits.max_org_bytes, "held_bytes": held}),
            ));
        }
        let (sealed, _) = self.vault.encrypt(org, bytes).await?;
        let row = HandleRow {
            id: new_handle(),
            organization_id: org.to_string(),
            filename: filename.to_string(),
            mime_type: bare_mime(mime_type),
            size: bytes.len() as i64,
            sha256: hex::encode(Sha256::digest(bytes)),
            source: source.to_string(),
            created_at_ms: now,
            expires_at_ms: now + ttl.as_millis() as i64,
        };
        self.store
            .insert_attachment_handle(&row, &sealed)
            .await
            .map_err(db)?;
        Ok(view(&row))
    }

    /// The organization's live handle and its bytes; `not_found` for another organization's
    /// or an expired one.
    pub async fn get(
        &self,
        org: &str,
        id: &str,
    ) -> Result<(AttachmentHandle, Vec<u8>), ConnectorError> {
        if !id.starts_with(HANDLE_PREFIX) || id.len() > 100 {
            return Err(handle_not_found());
        }
        let (row, sealed) = self
            .store
            .attachment_handle(org, id, now_ms())
            .await
            .map_err(db)?
            .ok_or_else(handle_not_found)?;
        let bytes = self.vault.decrypt(org, &sealed).await?;
        Ok((view(&row), bytes))
    }

    /// Deletes the organization's handle (`not_found` when there is none).
    pub async fn delete(&self, org: &str, id: &str) -> Result<(), ConnectorError> {
        if self
            .store
            .delete_attachment_handle(org, id)
            .await
            .map_err(db)?
        {
            Ok(())
        } else {
            Err(handle_not_found())
        }
    }

    /// Before a call: takes the delivery option (`"attachments": "reference"` or `"inline"`,
    /// a string where a send's `attachments` is an array) out of the params and replaces every
    /// `content_ref` by the bytes it names.
    pub async fn resolve(
        &self,
        org: &str,
        connectors: &Connectors,
        row: &ConnectorRow,
        call: &mut ExecuteCall,
    ) -> Result<Delivery, ConnectorError> {
        let attachment_get = is_attachment_get(call);
        let Some(params) = call.params.as_object_mut() else {
            return Ok(Delivery::Inline);
        };
        let delivery = match params.get("attachments") {
            Some(Value::String(s)) => {
                let d =
                    match s.as_str() {
                        "reference" => Delivery::Reference,
                        "inline" => Delivery::Inline,
                        _ => return Err(ConnectorError::invalid_field(
                            "/attachments",
                            "give \"reference\" (a handle and download URL instead of the bytes) \
                             or \"inline\" (the bytes as base64, the default)",
                        )),
                    };
                if d == Delivery::Reference && !attachment_get {
                    return Err(ConnectorError::invalid_field(
                        "/attachments",
                        "\"attachments\": \"reference\" applies to attachments.get (the only \
                         action whose result carries an attachment's bytes); other results name \
                         attachments by message_id and attachment_id, which a send takes as \
                         {\"content_ref\": {\"message_id\", \"attachment_id\"}}",
                    ));
                }
                params.remove("attachments");
                d
            }
            _ => Delivery::Inline,
        };
        // A reference is rare: its resolution (database, provider) is boxed, so that every
        // execute's future does not carry room for it.
        if params.contains_key("content_ref") {
            Box::pin(self.resolve_one(org, connectors, row, params, "")).await?;
        }
        if let Some(Value::Array(items)) = params.get_mut("attachments") {
            for (i, item) in items.iter_mut().enumerate() {
                if let Some(obj) = item.as_object_mut() {
                    if obj.contains_key("content_ref") {
                        let at = format!("/attachments/{i}");
                        Box::pin(self.resolve_one(org, connectors, row, obj, &at)).await?;
                    }
                }
            }
        }
        Ok(delivery)
    }

    /// Replaces `content_ref` of one object (at JSON pointer `at`) by `content_base64`, and
    /// fills in `filename` and `mime_type` when the caller left them out.
    async fn resolve_one(
        &self,
        org: &str,
        connectors: &Connectors,
        row: &ConnectorRow,
        obj: &mut Map<String, Value>,
        at: &str,
    ) -> Result<(), ConnectorError> {
        let ptr = format!("{at}/content_ref");
        if obj.contains_key("content_base64") {
            return Err(ConnectorError::invalid_field(
                &ptr,
                "give either content_base64 or content_ref, not both",
            ));
        }
        let r = obj.remove("content_ref").unwrap_or(Value::Null);
        let shape = "content_ref is {\"handle\": \"att_...\"} (an upload, or attachments.get with \
                     \"attachments\": \"reference\") or {\"message_id\": \"...\", \
                     \"attachment_id\": \"...\"} (an attachment of this connector's mailbox)";
        let r = r
            .as_object()
            .ok_or_else(|| ConnectorError::invalid_field(&ptr, shape))?;
        let text = |k: &str| r.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let (filename, mime_type, base64) = match (
            r.len(),
            text("handle"),
            text("message_id"),
            text("attachment_id"),
        ) {
            (1, Some(handle), None, None) => {
                let (h, bytes) = self.get(org, handle).await?;
                (Some(h.filename), Some(h.mime_type), STANDARD.encode(bytes))
            }
            (2, None, Some(message_id), Some(attachment_id)) => {
                let out = connectors
                    .execute(
                        row,
                        ExecuteCall {
                            entity: "attachments".into(),
                            action: "get".into(),
                            params: json!({"message_id": message_id, "attachment_id": attachment_id}),
                            idempotency_key: None,
                        },
                    )
                    .await
                    .map_err(|e| {
                        let mut e = e;
                        e.message = format!("{ptr}: fetching the referenced attachment: {}", e.message);
                        e
                    })?;
                let mut res = out.result;
                let text = |k: &str| res.get(k).and_then(Value::as_str).map(str::to_string);
                let (f, m) = (text("filename"), text("mime_type"));
                let b = match res.get_mut("content_base64").map(Value::take) {
                    Some(Value::String(b)) if !b.is_empty() => b,
                    _ => {
                        return Err(ConnectorError::invalid_field(
                            &ptr,
                            "the referenced attachment has no bytes (an attached item or a \
                             cloud link): it cannot be forwarded by reference",
                        ))
                    }
                };
                (f, m, b)
            }
            _ => return Err(ConnectorError::invalid_field(&ptr, shape)),
        };
        obj.insert("content_base64".into(), Value::String(base64));
        if !obj.contains_key("filename") {
            obj.insert(
                "filename".into(),
                Value::String(
                    filename
                        .filter(|f| !f.is_empty())
                        .unwrap_or_else(|| "attachment".into()),
                ),
            );
        }
        if let Some(m) = mime_type.filter(|_| !obj.contains_key("mime_type")) {
            obj.insert("mime_type".into(), Value::String(bare_mime(&m)));
        }
        Ok(())
    }

    /// After a call: with [`Delivery::Reference`], an `attachments.get` result gives its bytes
    /// up for a handle (`handle`, `sha256`, `expires_at`, `download_url` in place of
    /// `content_base64`).
    pub async fn deliver(
        &self,
        org: &str,
        row: &ConnectorRow,
        delivery: Delivery,
        output: &mut Output,
    ) -> Result<(), ConnectorError> {
        if delivery != Delivery::Reference {
            return Ok(());
        }
        let Some(res) = output.result.as_object_mut() else {
            return Ok(());
        };
        let b64 = match res.remove("content_base64") {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        let bytes = STANDARD.decode(b64.as_bytes()).map_err(|_| {
            ConnectorError::internal("the connector returned an attachment that is not base64")
        })?;
        let text = |k: &str| res.get(k).and_then(Value::as_str).unwrap_or_default();
        let filename = match text("filename") {
            "" => "attachment".to_string(),
            f => f.to_string(),
        };
        let mime = text("mime_type").to_string();
        // Boxed: only an `attachments.get` by reference stores bytes; every other execute's
        // future would otherwise carry room for the store's future.
        let h = Box::pin(self.put(
            org,
            &filename,
            &mime,
            &bytes,
            &format!("connector:{}", row.id),
            None,
        ))
        .await?;
        res.insert("handle".into(), Value::String(h.handle));
        res.insert("sha256".into(), Value::String(h.sha256));
        res.insert("expires_at".into(), Value::String(h.expires_at));
        res.insert("download_url".into(), Value::String(h.download_url));
        Ok(())
    }
}

fn is_attachment_get(call: &ExecuteCall) -> bool {
    call.entity == "attachments" && call.action == "get"
}

fn view(row: &HandleRow) -> AttachmentHandle {
    AttachmentHandle {
        handle: row.id.clone(),
        filename: row.filename.clone(),
        mime_type: row.mime_type.clone(),
        size: row.size as u64,
        sha256: row.sha256.clone(),
        expires_at: rfc3339(row.expires_at_ms),
        download_url: format!("{PATH}/{}", row.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_are_cut_to_what_the_specs_take() {
        assert_eq!(bare_mime("Application/PDF; name=x.pdf"), "application/pdf");
        assert_eq!(bare_mime("text/plain"), "text/plain");
        assert_eq!(bare_mime(""), "application/octet-stream");
        assert_eq!(bare_mime("no slash"), "application/octet-stream");
    }

    #[test]
    fn handles_are_prefixed_and_unguessable() {
        let (a, b) = (new_handle(), new_handle());
        assert!(a.starts_with(HANDLE_PREFIX) && a.len() == HANDLE_PREFIX.len() + 32);
        assert_ne!(a, b);
    }
}
