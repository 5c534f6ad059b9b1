//! Graph records -> the connector's records (snake_case, shaped like Gmail's where the concepts
//! match: `thread_id`, `{name, email}` addresses, `text`/`html`, attachments metadata).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// Wire properties of a message summary (messages.list and messages.delta by default).
pub const SUMMARY_SELECT: &[&str] = &[
    "conversationId",
    "subject",
    "from",
    "toRecipients",
    "ccRecipients",
    "sentDateTime",
    "receivedDateTime",
    "bodyPreview",
    "isRead",
    "isDraft",
    "importance",
    "categories",
    "parentFolderId",
    "hasAttachments",
    "flag",
];

/// Wire properties of a whole message (messages.get, get_many).
pub const FULL_SELECT: &[&str] = &[
    "conversationId",
    "subject",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "sentDateTime",
    "receivedDateTime",
    "bodyPreview",
    "isRead",
    "isDraft",
    "importance",
    "categories",
    "parentFolderId",
    "hasAttachments",
    "flag",
    "internetMessageId",
    "webLink",
    "body",
    "internetMessageHeaders",
];

/// `$expand` that brings attachment metadata without the bytes.
pub const EXPAND_ATTACHMENTS: &str = "attachments($select=id,name,contentType,size,isInline)";

/// A `select` param value -> the wire properties it needs.
pub fn select_field(name: &str) -> &'static [&'static str] {
    match name {
        "subject" => &["subject"],
        "from" => &["from"],
        "to" => &["toRecipients"],
        "cc" => &["ccRecipients"],
        "bcc" => &["bccRecipients"],
        "reply_to" => &["replyTo"],
        "date" => &["sentDateTime"],
        "internal_date" => &["receivedDateTime"],
        "snippet" => &["bodyPreview"],
        "is_read" => &["isRead"],
        "is_draft" => &["isDraft"],
        "importance" => &["importance"],
        "categories" => &["categories"],
        "folder_id" => &["parentFolderId"],
        "has_attachments" => &["hasAttachments"],
        "flag" => &["flag"],
        "message_id" => &["internetMessageId"],
        "web_link" => &["webLink"],
        "body" => &["body"],
        _ => &[],
    }
}

fn address(v: &Value) -> Option<Value> {
    let e = v.get("emailAddress")?;
    let email = e.get("address").and_then(Value::as_str)?;
    let name = e
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty() && *n != email);
    Some(json!({"name": name, "email": email}))
}

fn addresses(v: &Value) -> Value {
    Value::Array(
        v.as_array()
            .map(|a| a.iter().filter_map(address).collect())
            .unwrap_or_default(),
    )
}

/// RFC 3339 in UTC with a `Z`, as Gmail's results have it.
fn time(v: &Value) -> Value {
    match v.as_str() {
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => json!(t
                .with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true)),
            Err(_) => json!(s),
        },
        None => Value::Null,
    }
}

/// One Graph message -> the connector's record, with only the fields the message carries.
pub fn message(m: &Value) -> Value {
    let mut out = Map::new();
    let src = match m.as_object() {
        Some(o) => o,
        None => return Value::Null,
    };
    out.insert("id".into(), src.get("id").cloned().unwrap_or(Value::Null));
    out.insert(
        "thread_id".into(),
        src.get("conversationId").cloned().unwrap_or(Value::Null),
    );
    for (wire, v) in src {
        match wire.as_str() {
            "subject" => {
                out.insert("subject".into(), v.clone());
            }
            "from" => {
                out.insert("from".into(), address(v).unwrap_or(Value::Null));
            }
            "toRecipients" => {
                out.insert("to".into(), addresses(v));
            }
            "ccRecipients" => {
                out.insert("cc".into(), addresses(v));
            }
            "bccRecipients" => {
                out.insert("bcc".into(), addresses(v));
            }
            "replyTo" => {
                out.insert("reply_to".into(), addresses(v));
            }
            "sentDateTime" => {
                out.insert("date".into(), time(v));
            }
            "receivedDateTime" => {
                out.insert("internal_date".into(), time(v));
            }
            "bodyPreview" => {
                out.insert("snippet".into(), v.clone());
            }
            "isRead" => {
                out.insert("is_read".into(), v.clone());
            }
            "isDraft" => {
                out.insert("is_draft".into(), v.clone());
            }
            "importance" => {
                out.insert("importance".into(), v.clone());
            }
            "categories" => {
                out.insert("categories".into(), v.clone());
            }
            "parentFolderId" => {
                out.insert("folder_id".into(), v.clone());
            }
            "hasAttachments" => {
                out.insert("has_attachments".into(), v.clone());
            }
            "flag" => {
                out.insert(
                    "flag".into(),
                    v.get("flagStatus").cloned().unwrap_or(json!("notFlagged")),
                );
            }
            "internetMessageId" => {
                out.insert("message_id".into(), v.clone());
            }
            "webLink" => {
                out.insert("web_link".into(), v.clone());
            }
            "body" => {
                let content = v.get("content").and_then(Value::as_str).unwrap_or("");
                let is_html = v
                    .get("contentType")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("html"));
                if is_html {
                    // `annotate` (below) renders the text as a reader sees it.
                    out.insert("html".into(), json!(content));
                } else {
                    out.insert("text".into(), json!(content));
                    out.insert("html".into(), Value::Null);
                }
            }
            "internetMessageHeaders" => {
                let headers: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|h| json!({"name": h.get("name"), "value": h.get("value")}))
                    .collect();
                let find = |n: &str| {
                    headers
                        .iter()
                        .find(|h| {
                            h["name"]
                                .as_str()
                                .is_some_and(|x| x.eq_ignore_ascii_case(n))
                        })
                        .and_then(|h| h["value"].as_str())
                        .map(str::to_string)
                };
                out.insert("in_reply_to".into(), json!(find("In-Reply-To")));
                out.insert(
                    "references".into(),
                    json!(find("References")
                        .map(|r| r.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                        .unwrap_or_default()),
                );
                out.insert("headers".into(), Value::Array(headers));
            }
            "attachments" => {
                let list = v
                    .as_array()
                    .map(|a| a.iter().map(attachment_meta).collect())
                    .unwrap_or_default();
                out.insert("attachments".into(), Value::Array(list));
            }
            _ => {}
        }
    }
    // A Graph body is HTML or text; the text of HTML is its rendering as a reader sees it.
    let from_html = out.get("html").is_some_and(Value::is_string);
    connector_core::mail::trust::annotate(&mut out, from_html);
    Value::Object(out)
}

fn attachment_type(a: &Value) -> &'static str {
    match a.get("@odata.type").and_then(Value::as_str) {
        Some(t) if t.ends_with("itemAttachment") => "item",
        Some(t) if t.ends_with("referenceAttachment") => "reference",
        _ => "file",
    }
}

/// A Graph attachment -> `{attachment_id, filename, mime_type, size, inline, attachment_type}`.
pub fn attachment_meta(a: &Value) -> Value {
    json!({
        "attachment_id": a.get("id").cloned().unwrap_or(Value::Null),
        "filename": a.get("name").cloned().unwrap_or(Value::Null),
        "mime_type": a.get("contentType").and_then(Value::as_str).unwrap_or("application/octet-stream"),
        "size": a.get("size").and_then(Value::as_u64).unwrap_or(0),
        "inline": a.get("isInline").and_then(Value::as_bool).unwrap_or(false),
        "attachment_type": attachment_type(a),
    })
}

/// A Graph attachment with bytes -> attachments.get's record.
pub fn attachment_with_content(a: &Value, message_id: &str) -> Value {
    json!({
        "attachment_id": a.get("id").cloned().unwrap_or(Value::Null),
        "message_id": message_id,
        "filename": a.get("name").cloned().unwrap_or(Value::Null),
        "mime_type": a.get("contentType").cloned().unwrap_or(Value::Null),
        "size": a.get("size").and_then(Value::as_u64).unwrap_or(0),
        "inline": a.get("isInline").and_then(Value::as_bool).unwrap_or(false),
        "content_base64": a.get("contentBytes").and_then(Value::as_str).unwrap_or(""),
    })
}

/// A Graph mail folder -> `{id, display_name, parent_folder_id, path?, counts, is_hidden}`.
pub fn folder(f: &Value, path: Option<&str>) -> Value {
    let mut out = json!({
        "id": f.get("id").cloned().unwrap_or(Value::Null),
        "display_name": f.get("displayName").cloned().unwrap_or(Value::Null),
        "parent_folder_id": f.get("parentFolderId").cloned().unwrap_or(Value::Null),
        "child_folder_count": f.get("childFolderCount").cloned().unwrap_or(json!(0)),
        "unread_item_count": f.get("unreadItemCount").cloned().unwrap_or(json!(0)),
        "total_item_count": f.get("totalItemCount").cloned().unwrap_or(json!(0)),
        "is_hidden": f.get("isHidden").cloned().unwrap_or(json!(false)),
    });
    if let Some(p) = path {
        out["path"] = json!(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_shaped_like_gmail() {
        let m = json!({
            "id": "AAMk1", "conversationId": "AAQk1", "subject": "Hi",
            "from": {"emailAddress": {"name": "Grace Hopper", "address": "grace@example.com"}},
            "toRecipients": [{"emailAddress": {"name": "ada@example.com", "address": "ada@example.com"}}],
            "receivedDateTime": "2026-03-01T10:00:00+01:00",
            "body": {"contentType": "html", "content": "<p>Hello &amp; bye</p>"},
            "flag": {"flagStatus": "flagged"},
            "attachments": [{"@odata.type": "#microsoft.graph.fileAttachment", "id": "A1", "name": "a.pdf", "contentType": "application/pdf", "size": 10, "isInline": false}],
        });
        let r = message(&m);
        assert_eq!(r["thread_id"], "AAQk1");
        assert_eq!(
            r["from"],
            json!({"name": "Grace Hopper", "email": "grace@example.com"})
        );
        assert_eq!(r["to"], json!([{"name": null, "email": "ada@example.com"}]));
        assert_eq!(r["internal_date"], "2026-03-01T09:00:00Z");
        assert_eq!(r["text"], "Hello & bye");
        assert_eq!(r["flag"], "flagged");
        assert_eq!(r["attachments"][0]["attachment_id"], "A1");
        assert!(r.get("date").is_none(), "only fields the message carries");
    }
}
