//! Rust handlers for the actions whose spec names a `handler`.

mod attachments;
mod batch_get;
mod compose_params;
mod history;
mod messages;
mod send;
mod threads;
mod write;

use std::sync::Arc;

use connector_core::{ActionHandler, CallContext, ConnectorError, ErrorCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

pub use batch_get::batch_get_messages;
pub use send::{DEFAULT_RESUMABLE_THRESHOLD, DEFAULT_UPLOAD_THRESHOLD};

/// Knobs of the Gmail handlers.
#[derive(Debug, Clone)]
pub struct GmailOptions {
    /// Messages larger than this many bytes are sent through the upload path (default 5 MB).
    pub upload_threshold: usize,
    /// Messages larger than this go through a resumable upload session (default 16 MiB).
    pub resumable_threshold: usize,
}

impl Default for GmailOptions {
    fn default() -> Self {
        GmailOptions {
            upload_threshold: DEFAULT_UPLOAD_THRESHOLD,
            resumable_threshold: DEFAULT_RESUMABLE_THRESHOLD,
        }
    }
}

/// Root of every Gmail path for the authorized user.
pub(crate) const USER: &str = "/gmail/v1/users/me";

/// Every handler by the name the spec uses.
pub fn all(opts: &GmailOptions) -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    let mut v = reading();
    v.extend(writing(opts));
    v
}

fn reading() -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    vec![
        ("messages_list", Arc::new(messages::List)),
        ("messages_get", Arc::new(messages::Get)),
        ("messages_get_many", Arc::new(messages::GetMany)),
        ("attachments_get", Arc::new(attachments::Get)),
        ("threads_get", Arc::new(threads::Get)),
        ("drafts_get", Arc::new(threads::DraftGet)),
        ("history_list", Arc::new(history::List)),
    ]
}

fn writing(opts: &GmailOptions) -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    use reqwest::Method;
    use send::{Compose, DraftSend, Target};
    use write::{Ack, BatchIds, FilterCreate};
    let t = send::UploadLimits {
        multipart_above: opts.upload_threshold,
        resumable_above: opts.resumable_threshold.max(opts.upload_threshold),
    };
    let compose = |target| -> Arc<dyn ActionHandler> { Arc::new(Compose { target, uploads: t }) };
    let ack =
        |method: Method, path: &'static str, id: Option<&'static str>| -> Arc<dyn ActionHandler> {
            Arc::new(Ack {
                method,
                path,
                id_param: id,
            })
        };
    vec![
        ("messages_send", compose(Target::Send)),
        ("messages_import", compose(Target::Import)),
        ("messages_insert", compose(Target::Insert)),
        ("drafts_create", compose(Target::DraftCreate)),
        ("drafts_update", compose(Target::DraftUpdate)),
        ("drafts_send", Arc::new(DraftSend { uploads: t })),
        (
            "messages_delete",
            ack(Method::DELETE, "/messages/{}", Some("message_id")),
        ),
        (
            "threads_delete",
            ack(Method::DELETE, "/threads/{}", Some("thread_id")),
        ),
        (
            "labels_delete",
            ack(Method::DELETE, "/labels/{}", Some("label_id")),
        ),
        (
            "drafts_delete",
            ack(Method::DELETE, "/drafts/{}", Some("draft_id")),
        ),
        (
            "filters_delete",
            ack(Method::DELETE, "/settings/filters/{}", Some("filter_id")),
        ),
        ("watch_stop", ack(Method::POST, "/stop", None)),
        (
            "messages_batch_modify",
            Arc::new(BatchIds { delete: false }),
        ),
        ("messages_batch_delete", Arc::new(BatchIds { delete: true })),
        ("filters_create", Arc::new(FilterCreate)),
    ]
}

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment (an id from the caller).
pub(crate) fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A string param (already validated by the spec's schema).
pub(crate) fn str_param<'a>(params: &'a Value, name: &str) -> Option<&'a str> {
    params.get(name).and_then(Value::as_str)
}

/// A param the schema requires (validation ran before the handler, so it is present).
pub(crate) fn required<'a>(params: &'a Value, name: &str) -> &'a str {
    str_param(params, name).unwrap_or_default()
}

/// A permission error names the scopes this action accepts, so the caller knows what to grant.
pub(crate) fn name_scopes(cx: &CallContext<'_>, err: ConnectorError) -> ConnectorError {
    if err.code != ErrorCode::PermissionDenied || cx.spec.scopes.is_empty() {
        return err;
    }
    let scopes = cx.spec.scopes.join(", ");
    let mut details = match err.details {
        Value::Object(ref m) => m.clone(),
        _ => Map::new(),
    };
    details
        .entry("required_scopes")
        .or_insert_with(|| Value::from(cx.spec.scopes.clone()));
    let message = if err.message.contains(&cx.spec.scopes[0]) {
        err.message.clone()
    } else {
        format!(
            "{} {}.{} needs one of these OAuth scopes: {scopes}",
            err.message.trim_end_matches('.'),
            cx.entity,
            cx.action
        )
    };
    ConnectorError {
        message,
        details: Value::Object(details),
        ..err
    }
}

/// Renames keys from the wire's camelCase to snake_case, recursively.
pub(crate) fn snake_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (snake(&k), snake_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(snake_keys).collect()),
        other => other,
    }
}

fn snake(k: &str) -> String {
    let mut out = String::with_capacity(k.len() + 4);
    for (i, c) in k.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snake_keys_and_segments() {
        assert_eq!(
            snake_keys(json!({"messagesAdded": [{"message": {"threadId": "1"}}]})),
            json!({"messages_added": [{"message": {"thread_id": "1"}}]})
        );
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        assert_eq!(seg("ada@example.com"), "ada%40example.com");
    }
}
