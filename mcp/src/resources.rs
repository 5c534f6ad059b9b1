//! Attachments as resources: results carry `resource_link`s, the bytes come through
//! `resources/read`, never as base64 in a tool result.
//!
//! An attachment is named by
//! `connectors://<connector id>/messages/<message id>/attachments/<attachment id>` (segments
//! percent-encoded). Reading it runs the connector's `attachments.get` action (both specs have
//! it, with `message_id` and `attachment_id`) through the session like any other call.
//!
//! In tool results: every record with an `id` and an `attachments` array (a message; also the
//! `messages` of a thread) gets one link per attachment that has an `attachment_id`; a result
//! with `content_base64` (the `attachments.get` action itself) has it replaced by
//! `resource_uri`, and the result schema says so.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use connector_core::ConnectorError;
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use crate::{Call, Session, Target};

pub const SCHEME: &str = "connectors://";
/// The entity and action that read an attachment's bytes.
pub const ENTITY: &str = "attachments";
pub const ACTION: &str = "get";
/// Links per tool result, at most.
pub const MAX_LINKS: usize = 50;

/// The URI template of attachments (`resources/templates/list`).
pub const TEMPLATE: &str =
    "connectors://{connector_id}/messages/{message_id}/attachments/{attachment_id}";

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

pub fn uri(connector_id: &str, message_id: &str, attachment_id: &str) -> String {
    format!(
        "{SCHEME}{}/messages/{}/attachments/{}",
        enc(connector_id),
        enc(message_id),
        enc(attachment_id)
    )
}

/// `(connector id, message id, attachment id)` of an attachment URI.
pub fn parse(uri: &str) -> Option<(String, String, String)> {
    let rest = uri.strip_prefix(SCHEME)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [c, "messages", m, "attachments", a] = parts.as_slice() else {
        return None;
    };
    let dec = |s: &str| {
        percent_decode_str(s)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
            .filter(|s| !s.is_empty())
    };
    Some((dec(c)?, dec(m)?, dec(a)?))
}

/// Whether a result schema carries an attachment's bytes (`content_base64`).
pub fn has_content(schema: &Value) -> bool {
    schema
        .get("properties")
        .is_some_and(|p| p.get("content_base64").is_some())
}

/// A result schema as tools show it: `content_base64` becomes `resource_uri`.
pub fn result_schema(schema: &Value) -> Value {
    let mut schema = schema.clone();
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return schema;
    };
    if props.remove("content_base64").is_none() {
        return schema;
    }
    props.insert(
        "resource_uri".into(),
        json!({"type": "string", "description": "The attachment's bytes: read this resource (resources/read)."}),
    );
    if let Some(req) = schema.get_mut("required").and_then(Value::as_array_mut) {
        for r in req.iter_mut() {
            if r == "content_base64" {
                *r = json!("resource_uri");
            }
        }
    }
    schema
}

/// Replaces base64 content in a result by resource URIs and returns the `resource_link`
/// content items for every attachment the result mentions.
pub fn link_attachments(target: &Target, result: &mut Value) -> Vec<Value> {
    let mut links = Vec::new();
    match result {
        Value::Array(records) => {
            for r in records {
                record_links(target, r, &mut links);
            }
        }
        other => record_links(target, other, &mut links),
    }
    links.truncate(MAX_LINKS);
    links
}

fn record_links(target: &Target, record: &mut Value, links: &mut Vec<Value>) {
    let Some(obj) = record.as_object_mut() else {
        return;
    };
    // The bytes of one attachment (`attachments.get`).
    if obj.contains_key("content_base64") {
        let ids = (
            obj.get("message_id").and_then(Value::as_str),
            obj.get("attachment_id").and_then(Value::as_str),
        );
        if let (Some(m), Some(a)) = ids {
            let u = uri(&target.id, m, a);
            links.push(link(
                &u,
                obj.get("filename"),
                obj.get("mime_type"),
                obj.get("size"),
            ));
            obj.remove("content_base64");
            obj.insert("resource_uri".into(), json!(u));
        }
        return;
    }
    if let Some(Value::Array(messages)) = obj.get_mut("messages") {
        for m in messages {
            record_links(target, m, links);
        }
    }
    let Some(message_id) = obj.get("id").and_then(Value::as_str).map(str::to_string) else {
        return;
    };
    let Some(Value::Array(atts)) = obj.get("attachments") else {
        return;
    };
    for a in atts {
        if let Some(aid) = a.get("attachment_id").and_then(Value::as_str) {
            let u = uri(&target.id, &message_id, aid);
            links.push(link(
                &u,
                a.get("filename"),
                a.get("mime_type"),
                a.get("size"),
            ));
        }
    }
}

fn link(uri: &str, filename: Option<&Value>, mime: Option<&Value>, size: Option<&Value>) -> Value {
    let name = filename
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("attachment");
    let mut l = json!({"type": "resource_link", "uri": uri, "name": name});
    if let Some(m) = mime.and_then(Value::as_str) {
        l["mimeType"] = json!(m);
    }
    if let Some(s) = size.and_then(Value::as_u64) {
        l["size"] = json!(s);
    }
    l
}

/// `resources/read` of an attachment: its bytes as a blob (standard base64, as MCP wants).
pub async fn read(session: &dyn Session, uri_text: &str) -> Result<Value, ConnectorError> {
    let (connector_id, message_id, attachment_id) = parse(uri_text).ok_or_else(|| {
        ConnectorError::not_found(format!(
            "not an attachment URI of this server; expected {TEMPLATE}"
        ))
    })?;
    let target = session
        .targets()
        .iter()
        .find(|t| t.id == connector_id)
        .ok_or_else(|| ConnectorError::not_found("no such connector in this session"))?;
    if target.spec.action(ENTITY, ACTION).is_none() {
        return Err(ConnectorError::not_found(
            "this connector has no attachments.get action",
        ));
    }
    let out = session
        .execute(
            target,
            Call {
                entity: ENTITY.into(),
                action: ACTION.into(),
                params: json!({"message_id": message_id, "attachment_id": attachment_id}),
                idempotency_key: None,
            },
        )
        .await?;
    let data = out
        .result
        .get("content_base64")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bytes = STANDARD
        .decode(data)
        .or_else(|_| URL_SAFE.decode(data))
        .or_else(|_| URL_SAFE_NO_PAD.decode(data))
        .map_err(|_| ConnectorError::internal("the attachment's content is not base64"))?;
    let mime = out
        .result
        .get("mime_type")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream");
    Ok(json!({"contents": [{"uri": uri_text, "mimeType": mime, "blob": STANDARD.encode(bytes)}]}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_with_any_id() {
        let u = uri("c 1", "AAMk+/=", "att#1");
        assert!(!u[SCHEME.len()..].contains(['+', '=', '#', ' ']), "{u}");
        assert_eq!(
            parse(&u),
            Some(("c 1".into(), "AAMk+/=".into(), "att#1".into()))
        );
        assert_eq!(parse("connectors://c/messages/m/attachments/"), None);
        assert_eq!(parse("https://x/messages/m/attachments/a"), None);
    }

    #[test]
    fn attachment_bytes_become_a_uri_in_result_and_schema() {
        let schema = json!({"type": "object", "required": ["attachment_id", "content_base64"],
            "properties": {"attachment_id": {"type": "string"}, "content_base64": {"type": "string"}}});
        let s = result_schema(&schema);
        assert_eq!(s["required"], json!(["attachment_id", "resource_uri"]));
        assert!(s["properties"].get("content_base64").is_none());
        let target = Target {
            id: "c1".into(),
            connector_type: "demo".into(),
            customer_name: "x".into(),
            spec: std::sync::Arc::new(
                serde_json::from_value(json!({"name": "demo", "version": "1", "description": "d",
                    "auth": {"fields": {}}, "entities": {}}))
                .unwrap(),
            ),
        };
        let mut result = json!({"message_id": "m1", "attachment_id": "a1", "filename": "f.pdf",
            "mime_type": "application/pdf", "size": 3, "content_base64": "AAAA"});
        let links = link_attachments(&target, &mut result);
        assert_eq!(result["resource_uri"], uri("c1", "m1", "a1"));
        assert!(result.get("content_base64").is_none());
        assert_eq!(links[0]["type"], "resource_link");
        assert_eq!(links[0]["name"], "f.pdf");
        let mut thread = json!({"id": "t1", "messages": [{"id": "m2", "attachments": [
            {"attachment_id": "a2", "filename": "x.txt", "mime_type": "text/plain", "size": 1},
            {"attachment_id": null, "filename": "inline.png", "mime_type": "image/png", "size": 1}]}]});
        let links = link_attachments(&target, &mut thread);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0]["uri"], uri("c1", "m2", "a2"));
    }
}
