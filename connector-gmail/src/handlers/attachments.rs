//! attachments.get: the bytes (standard base64) with the attachment's name, type and size.

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connector_core::wire::path_segment as seg;
use connector_core::{
    CallContext, ConnectorError, ErrorCode, Output, ProviderRequest, TypedHandler,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::USER;
use crate::message::{decode_message, Format};
use crate::mime::decode_base64url;

pub struct Get;

/// attachments.get
#[derive(Deserialize, Serialize)]
pub struct GetParams {
    message_id: String,
    attachment_id: String,
}

#[async_trait]
impl TypedHandler for Get {
    type Params = GetParams;
    async fn run(&self, cx: &CallContext<'_>, params: GetParams) -> Result<Output, ConnectorError> {
        let message_id = params.message_id.as_str();
        let attachment_id = params.attachment_id.as_str();
        let body_req = ProviderRequest::get(format!(
            "{USER}/messages/{}/attachments/{}",
            seg(message_id),
            seg(attachment_id)
        ));
        // The attachment resource has only bytes and size; name and type come from the message.
        let message_req = ProviderRequest::get(format!("{USER}/messages/{}", seg(message_id)))
            .query("format", "full");
        let (body, message) = futures::join!(cx.send(body_req), cx.send(message_req));
        let body: Value = body?.json()?;
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
                match_attachment(m["attachments"].as_array()?, attachment_id, bytes.len())
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

/// The listed attachment for `attachment_id`. Gmail may hand out a different attachment id on
/// each fetch of the message, so when no id matches, the only attachment of the same size is
/// taken (none when that is ambiguous).
fn match_attachment(list: &[Value], attachment_id: &str, size: usize) -> Option<Value> {
    if let Some(a) = list.iter().find(|a| a["attachment_id"] == attachment_id) {
        return Some(a.clone());
    }
    let mut same_size = list.iter().filter(|a| a["size"] == size as u64);
    match (same_size.next(), same_size.next()) {
        (Some(a), None) => Some(a.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_id_then_by_unique_size() {
        let list = vec![
            json!({"attachment_id": "A", "size": 10, "filename": "a.pdf"}),
            json!({"attachment_id": "B", "size": 20, "filename": "b.png"}),
            json!({"attachment_id": "C", "size": 20, "filename": "c.png"}),
        ];
        assert_eq!(
            match_attachment(&list, "B", 999).unwrap()["filename"],
            "b.png"
        );
        assert_eq!(
            match_attachment(&list, "rotated", 10).unwrap()["filename"],
            "a.pdf"
        );
        assert!(match_attachment(&list, "rotated", 20).is_none());
        assert!(match_attachment(&list, "rotated", 5).is_none());
    }
}
