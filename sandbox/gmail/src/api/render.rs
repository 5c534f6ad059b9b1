//! JSON shapes of messages and labels, and the shared list filter.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use serde_json::{json, Value};

use super::Cx;
use crate::error::{ApiError, ApiResult};
use crate::search::Query;
use crate::store::{Msg, User, SYSTEM_LABELS};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Format {
    Full,
    Metadata,
    Minimal,
    Raw,
}

/// `format` and `metadataHeaders` of a get.
pub(crate) struct View {
    pub format: Format,
    pub headers: Vec<String>,
}

impl View {
    pub fn from_query(cx: &Cx<'_>) -> ApiResult<Self> {
        let format = match cx.req.q("format").map(str::to_ascii_lowercase).as_deref() {
            None | Some("full") => Format::Full,
            Some("metadata") => Format::Metadata,
            Some("minimal") => Format::Minimal,
            Some("raw") => Format::Raw,
            Some(other) => {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid value at 'format' ({other})"
                )))
            }
        };
        if cx.metadata_only() && matches!(format, Format::Full | Format::Raw) {
            return Err(ApiError::forbidden(format!(
                "Metadata scope doesn't allow format {}",
                if format == Format::Full {
                    "FULL"
                } else {
                    "RAW"
                }
            )));
        }
        Ok(View {
            format,
            headers: cx.req.q_all("metadataHeaders"),
        })
    }
}

pub(crate) fn message_json(m: &Msg, view: &View) -> Value {
    let mut v = json!({
        "id": m.id,
        "threadId": m.thread_id,
        "labelIds": m.labels,
        "snippet": m.index().snippet,
        "sizeEstimate": m.raw.len(),
        "historyId": m.history_id.to_string(),
        "internalDate": m.internal_date.to_string(),
    });
    match view.format {
        Format::Minimal => {}
        Format::Full => v["payload"] = m.parsed().payload.clone(),
        Format::Raw => v["raw"] = json!(URL_SAFE.encode(&m.raw)),
        Format::Metadata => {
            let p = m.parsed();
            let headers: Vec<Value> = p
                .headers
                .iter()
                .filter(|(n, _)| {
                    view.headers.is_empty()
                        || view.headers.iter().any(|h| h.eq_ignore_ascii_case(n))
                })
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect();
            v["payload"] = json!({"partId": "", "mimeType": p.mime_type, "filename": "", "headers": headers, "body": {"size": 0}});
        }
    }
    v
}

/// `{id, threadId}` as lists and history show messages.
pub(crate) fn message_ref(m: &Msg) -> Value {
    json!({"id": m.id, "threadId": m.thread_id})
}

/// A label with its counts.
pub(crate) fn label_json(
    user: &User,
    id: &str,
    counts: Option<(usize, usize, usize, usize)>,
) -> Option<Value> {
    let (mt, mu, tt, tu) = counts.unwrap_or_default();
    let mut v = if SYSTEM_LABELS.contains(&id) {
        let mut v = json!({"id": id, "name": id, "type": "system"});
        if !id.starts_with("CATEGORY_") && id != "CHAT" {
            let hide = matches!(
                id,
                "INBOX" | "SENT" | "DRAFT" | "SPAM" | "TRASH" | "UNREAD" | "STARRED" | "IMPORTANT"
            );
            v["messageListVisibility"] = json!(if hide { "hide" } else { "show" });
            v["labelListVisibility"] = json!(if id == "UNREAD" || id == "CHAT" {
                "labelHide"
            } else {
                "labelShow"
            });
        }
        v
    } else {
        let l = user.labels.get(id)?;
        let mut v = json!({"id": l.id, "name": l.name, "type": "user"});
        if let Some(x) = &l.message_list_visibility {
            v["messageListVisibility"] = json!(x);
        }
        if let Some(x) = &l.label_list_visibility {
            v["labelListVisibility"] = json!(x);
        }
        if let Some(c) = &l.color {
            v["color"] = c.clone();
        }
        v
    };
    v["messagesTotal"] = json!(mt);
    v["messagesUnread"] = json!(mu);
    v["threadsTotal"] = json!(tt);
    v["threadsUnread"] = json!(tu);
    Some(v)
}

/// The messages a list call selects, newest first: `labelIds` (all must match), `q`, and
/// spam/trash excluded unless asked for.
pub(crate) fn select<'u>(
    cx: &Cx<'_>,
    user: &'u User,
    only_drafts: bool,
) -> ApiResult<Vec<&'u Msg>> {
    let label_ids = cx.req.q_all("labelIds");
    let q = match cx.req.q("q").filter(|q| !q.trim().is_empty()) {
        Some(q) => {
            if cx.metadata_only() {
                return Err(ApiError::forbidden(
                    "Metadata scope does not support 'q' parameter",
                ));
            }
            Some(Query::parse(q)?)
        }
        None => None,
    };
    let include_st = cx.bool_q("includeSpamTrash")?
        || label_ids.iter().any(|l| l == "SPAM" || l == "TRASH")
        || q.as_ref().is_some_and(Query::mentions_spam_trash);
    Ok(user
        .newest_first()
        .filter(|m| !only_drafts || m.has("DRAFT"))
        .filter(|m| include_st || !(m.has("SPAM") || m.has("TRASH")))
        .filter(|m| label_ids.iter().all(|l| m.has(l)))
        .filter(|m| q.as_ref().is_none_or(|q| q.matches(user, m)))
        .collect())
}
