//! users.messages.*: list, get, attachments.get, send, insert, import, modify, trash, untrash,
//! delete, batchModify, batchDelete.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

use super::render::{message_json, message_ref, select, View};
use super::{decode_raw, ok, page, str_list, Cx, Reply};
use crate::error::{ApiError, ApiResult};
use crate::mime;
use crate::store::{is_valid_id, User};

/// 35 MiB: messages.send, drafts.*.
pub(crate) const SEND_LIMIT: usize = 35 * 1024 * 1024;
/// 150 MiB: messages.insert and import.
pub(crate) const INSERT_LIMIT: usize = 150 * 1024 * 1024;
const BATCH_IDS_MAX: usize = 1000;

pub(crate) fn check_id(id: &str) -> ApiResult<()> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::invalid_argument("Invalid id value"))
    }
}

pub(crate) fn list(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let user = cx.user();
    let all = select(cx, user, false)?;
    let (start, end, next) = page(cx, all.len(), 100)?;
    let mut v = json!({});
    if end > start {
        v["messages"] = Value::Array(all[start..end].iter().map(|m| message_ref(m)).collect());
    }
    if let Some(n) = next {
        v["nextPageToken"] = json!(n);
    }
    v["resultSizeEstimate"] = json!(all.len());
    ok(v)
}

pub(crate) fn get(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let id = cx.param(0).to_string();
    check_id(&id)?;
    let view = View::from_query(cx)?;
    let m = cx
        .user()
        .messages
        .get(&id)
        .ok_or_else(ApiError::not_found)?;
    ok(message_json(m, &view))
}

pub(crate) fn attachment(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let mid = cx.param(0).to_string();
    check_id(&mid)?;
    let m = cx
        .user()
        .messages
        .get(&mid)
        .ok_or_else(ApiError::not_found)?;
    let (owner, part) = mime::parse_attachment_id(cx.param(1))
        .ok_or_else(|| ApiError::invalid_argument("Invalid attachment token"))?;
    if owner != mid {
        return Err(ApiError::invalid_argument("Invalid attachment token"));
    }
    let bytes = m
        .parsed()
        .attachments
        .get(&part)
        .ok_or_else(ApiError::not_found)?;
    ok(json!({"size": bytes.len(), "data": URL_SAFE.encode(bytes)}))
}

/// The message bytes of a send/insert/import/draft: the upload's media, else JSON `raw`.
/// Returns (raw, metadata object).
pub(crate) fn raw_and_meta(
    cx: &mut Cx<'_>,
    limit: usize,
    message_key: Option<&str>,
) -> ApiResult<(Bytes, Value)> {
    if let Some(up) = cx.upload.take() {
        if up.raw.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        let meta = match message_key {
            Some(k) => up.metadata.get(k).cloned().unwrap_or(json!({})),
            None => up.metadata,
        };
        return Ok((up.raw, meta));
    }
    if cx.req.body.len() > limit * 4 / 3 + 1024 {
        return Err(ApiError::payload_too_large(limit));
    }
    let body = cx.body_json()?;
    let meta = match message_key {
        Some(k) => body
            .get(k)
            .cloned()
            .ok_or_else(|| ApiError::invalid_argument("Missing draft message"))?,
        None => body,
    };
    let raw = meta.get("raw").and_then(Value::as_str).ok_or_else(|| {
        ApiError::invalid_argument(
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        )
    })?;
    let raw = decode_raw(raw)?;
    if raw.len() > limit {
        return Err(ApiError::payload_too_large(limit));
    }
    Ok((Bytes::from(raw), meta))
}

fn header_end(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 1))
        .unwrap_or(raw.len())
}

/// Removes a header field (with continuation lines) from the header block.
fn strip_header(raw: &[u8], name: &str) -> Vec<u8> {
    let end = header_end(raw);
    let (head, body) = raw.split_at(end);
    let mut out = Vec::with_capacity(raw.len());
    let mut skipping = false;
    for line in head.split_inclusive(|b| *b == b'\n') {
        let cont = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if cont && skipping {
            continue;
        }
        skipping = line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && line[name.len()] == b':';
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(body);
    out
}

fn prepend_header(raw: &[u8], name: &str, value: &str) -> Vec<u8> {
    let mut out = format!("{name}: {value}\r\n").into_bytes();
    out.extend_from_slice(raw);
    out
}

/// What Gmail's outgoing pipeline does to a message: From set to a verified alias (else the
/// primary address), Message-ID and Date added when missing. With
/// [`Behaviour::own_message_ids`](crate::Behaviour) the client's Message-ID is replaced by one of
/// Gmail's own, as the real API does; other headers (custom `X-` ones included) are kept.
fn prepare_outgoing(user: &User, raw: &[u8], own_message_ids: bool) -> Vec<u8> {
    let env = mime::envelope(raw);
    let mut raw = raw.to_vec();
    let from_ok = env.from.as_ref().is_some_and(|f| {
        user.send_as.iter().any(|s| {
            s["sendAsEmail"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(f))
        })
    });
    if !from_ok {
        raw = strip_header(&raw, "From");
        raw = prepend_header(&raw, "From", &format!("{} <{}>", user.name, user.email));
    }
    if own_message_ids && env.message_id.is_some() {
        raw = strip_header(&raw, "Message-ID");
    }
    if env.message_id.is_none() || own_message_ids {
        let id = crate::auth::random_token("CAsandbox");
        raw = prepend_header(&raw, "Message-ID", &format!("<{id}@mail.gmail.com>"));
    }
    if env.date_ms.is_none() {
        raw = prepend_header(&raw, "Date", &chrono::Utc::now().to_rfc2822());
    }
    raw
}

/// Sends `raw` as the caller: stores it in SENT and delivers to emulated recipients' INBOX.
pub(crate) fn deliver(cx: &mut Cx<'_>, raw: &[u8], thread_hint: Option<&str>) -> ApiResult<String> {
    let raw = prepare_outgoing(cx.user(), raw, cx.store.behaviour.own_message_ids);
    let env = mime::envelope(&raw);
    let mut rcpts: Vec<String> = env
        .to
        .iter()
        .chain(&env.cc)
        .chain(&env.bcc)
        .cloned()
        .collect();
    if rcpts.is_empty() {
        return Err(ApiError::invalid_argument("Invalid To header"));
    }
    rcpts.sort();
    rcpts.dedup();
    let now = chrono::Utc::now().timestamp_millis();
    let me = cx.user.clone();
    let to_self = rcpts.contains(&me);
    let mut labels = vec!["SENT".to_string()];
    if to_self {
        labels.extend(["INBOX".to_string(), "UNREAD".to_string()]);
    }
    let id = cx.store.add_raw(
        &me,
        Bytes::from(raw.clone()),
        &labels,
        Some(now),
        thread_hint,
        true,
    );
    let delivered = Bytes::from(strip_header(&raw, "Bcc"));
    for r in rcpts.iter().filter(|r| **r != me) {
        if cx.store.users.contains_key(r.as_str()) {
            let labels = [
                "INBOX".to_string(),
                "UNREAD".to_string(),
                "CATEGORY_PERSONAL".to_string(),
            ];
            let got = cx
                .store
                .add_raw(r, delivered.clone(), &labels, Some(now), None, true);
            if let Ok(user) = cx.store.user_mut(r) {
                super::settings::apply_filters(user, &got);
            }
            super::settings::vacation_reply(cx.store, r, &me, &raw);
        }
    }
    Ok(id)
}

fn brief(user: &User, id: &str) -> Value {
    user.messages
        .get(id)
        .map(|m| json!({"id": m.id, "threadId": m.thread_id, "labelIds": m.labels}))
        .unwrap_or_else(|| json!({"id": id}))
}

pub(crate) fn send(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let (raw, meta) = raw_and_meta(cx, SEND_LIMIT, None)?;
    let thread = meta
        .get("threadId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let id = deliver(cx, &raw, thread.as_deref())?;
    ok(brief(cx.user(), &id))
}

fn store_message(
    cx: &mut Cx<'_>,
    default_labels: &[&str],
    default_date_header: bool,
    filters: bool,
) -> ApiResult<Reply> {
    let (raw, meta) = raw_and_meta(cx, INSERT_LIMIT, None)?;
    let mut labels = str_list(&meta, "labelIds");
    if labels.is_empty() {
        labels = default_labels.iter().map(|s| s.to_string()).collect();
    }
    for l in &labels {
        if !cx.user().label_exists(l) {
            return Err(ApiError::invalid_argument(format!("Invalid label: {l}")));
        }
    }
    let use_header = match cx.req.q("internalDateSource") {
        Some("dateHeader") => true,
        Some("receivedTime") => false,
        _ => default_date_header,
    };
    let date = if use_header {
        None
    } else {
        Some(chrono::Utc::now().timestamp_millis())
    };
    let thread = meta
        .get("threadId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let me = cx.user.clone();
    let id = cx
        .store
        .add_raw(&me, raw, &labels, date, thread.as_deref(), true);
    if filters {
        super::settings::apply_filters(cx.user_mut(), &id);
    }
    ok(brief(cx.user(), &id))
}

pub(crate) fn insert(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    store_message(cx, &[], false, false)
}

pub(crate) fn import(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    store_message(cx, &["INBOX", "UNREAD"], true, true)
}

pub(crate) fn modify(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let id = cx.param(0).to_string();
    check_id(&id)?;
    let body = cx.body_json()?;
    let (add, remove) = (
        str_list(&body, "addLabelIds"),
        str_list(&body, "removeLabelIds"),
    );
    cx.user_mut().modify(&id, &add, &remove)?;
    ok(brief(cx.user(), &id))
}

pub(crate) fn trash(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let id = cx.param(0).to_string();
    check_id(&id)?;
    cx.user_mut()
        .modify_unchecked(&id, &["TRASH".into()], &["SPAM".into()])?;
    ok(brief(cx.user(), &id))
}

pub(crate) fn untrash(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let id = cx.param(0).to_string();
    check_id(&id)?;
    cx.user_mut()
        .modify_unchecked(&id, &[], &["TRASH".into()])?;
    ok(brief(cx.user(), &id))
}

pub(crate) fn delete(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let id = cx.param(0).to_string();
    check_id(&id)?;
    cx.user_mut().delete(&id)?;
    Ok(Reply::Empty)
}

fn batch_ids(body: &Value) -> ApiResult<Vec<String>> {
    let ids = str_list(body, "ids");
    if ids.is_empty() {
        return Err(ApiError::invalid_argument("No message ids specified."));
    }
    if ids.len() > BATCH_IDS_MAX {
        return Err(ApiError::invalid_argument(format!(
            "Too many ids: at most {BATCH_IDS_MAX} per request."
        )));
    }
    for id in &ids {
        check_id(id)?;
    }
    Ok(ids)
}

pub(crate) fn batch_modify(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let body = cx.body_json()?;
    let ids = batch_ids(&body)?;
    let (add, remove) = (
        str_list(&body, "addLabelIds"),
        str_list(&body, "removeLabelIds"),
    );
    let user = cx.user_mut();
    user.check_labels(&add)?;
    user.check_labels(&remove)?;
    for id in ids {
        if user.messages.contains_key(&id) {
            user.modify_unchecked(&id, &add, &remove)?;
        }
    }
    Ok(Reply::Empty)
}

pub(crate) fn batch_delete(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let body = cx.body_json()?;
    let ids = batch_ids(&body)?;
    let user = cx.user_mut();
    for id in ids {
        if user.messages.contains_key(&id) {
            user.delete(&id)?;
        }
    }
    Ok(Reply::Empty)
}
