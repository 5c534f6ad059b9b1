//! attachments.get: the bytes (standard base64) with the attachment's name, type and size.

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connector_core::{
    ActionHandler, CallContext, ConnectorError, ErrorCode, Output, ProviderRequest,
};
use serde_json::{json, Value};

use super::{name_scopes, required, seg, USER};
use crate::message::{decode_message, Format};
use crate::mime::decode_base64url;

pub struct Get;

#[async_trait]
impl ActionHandler for Get {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output, ConnectorError> {
        let message_id = required(&params, "message_id");
        let attachment_id = required(&params, "attachment_id");
        let body_req = ProviderRequest::get(format!(
            "{USER}/messages/{}/attachments/{}",
            seg(message_id),
            seg(attachment_id)
        ));
        // The attachment resource has only bytes and size; name and type come from the message.
        let message_req = ProviderRequest::get(format!("{USER}/messages/{}", seg(message_id)))
            .query("format", "full");
        let (body, message) = futures::join!(cx.send(body_req), cx.send(message_req));
        let body: Value = body.map_err(|e| name_scopes(cx, e))?.json()?;
        let data = body["data"].as_str().unwrap_or_default();
        let bytes = decode_base64url(data).ok_or_else(|| {
            ConnectorError::new(
                ErrorCode::ProviderError,
                "Gmail returned attachment data that is not valid base64url",
            )
        })?;
        let info = message
            .ok()
            .and_then(|m| m.json::<Value>().ok())
            .map(|m| decode_message(&m, Format::Full))
            .and_then(|m| {
                m["attachments"]
                    .as_array()?
                    .iter()
                    .find(|a| a["attachment_id"] == attachment_id)
                    .cloned()
            })
            .unwrap_or(Value::Null);
        Ok(Output::new(json!({
            "attachment_id": attachment_id,
            "message_id": message_id,
            "filename": info["filename"],
            "mime_type": info["mime_type"],
            "size": bytes.len(),
            "content_base64": STANDARD.encode(&bytes),
        })))
    }
}
