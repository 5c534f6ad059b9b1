//! users.drafts.*: list, get, create, update, send, delete.

use serde_json::{json, Value};

use super::messages::{deliver, raw_and_meta, SEND_LIMIT};
use super::render::{message_json, message_ref, select, View};
use super::{ok, page, Cx, Reply};
use crate::error::{ApiError, ApiResult};

fn draft_of<'a>(
    drafts: &'a std::collections::BTreeMap<String, String>,
    msg_id: &str,
) -> Option<&'a String> {
    drafts.iter().find(|(_, m)| *m == msg_id).map(|(d, _)| d)
}

pub(crate) fn list(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let user = cx.user();
    let msgs: Vec<_> = select(cx, user, true)?
        .into_iter()
        .filter(|m| draft_of(&user.drafts, &m.id).is_some())
        .collect();
    let (start, end, next) = page(cx, msgs.len(), 100)?;
    let mut v = json!({});
    if end > start {
        v["drafts"] = Value::Array(
            msgs[start..end]
                .iter()
                .map(|m| json!({"id": draft_of(&user.drafts, &m.id), "message": message_ref(m)}))
                .collect(),
        );
    }
    if let Some(n) = next {
        v["nextPageToken"] = json!(n);
    }
    v["resultSizeEstimate"] = json!(msgs.len());
    ok(v)
}

fn draft_json(cx: &Cx<'_>, draft_id: &str, view: Option<&View>) -> ApiResult<Value> {
    let user = cx.user();
    let mid = user.drafts.get(draft_id).ok_or_else(ApiError::not_found)?;
    let m = user.messages.get(mid).ok_or_else(ApiError::not_found)?;
    let message = match view {
        Some(v) => message_json(m, v),
        None => json!({"id": m.id, "threadId": m.thread_id, "labelIds": m.labels}),
    };
    Ok(json!({"id": draft_id, "message": message}))
}

pub(crate) fn get(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let view = View::from_query(cx)?;
    let id = cx.param(0).to_string();
    ok(draft_json(cx, &id, Some(&view))?)
}

/// Stores the request's message as the draft's message; returns its message id.
fn store_draft_message(cx: &mut Cx<'_>, fallback_thread: Option<String>) -> ApiResult<String> {
    let (raw, meta) = raw_and_meta(cx, SEND_LIMIT, Some("message"))?;
    let thread = meta
        .get("threadId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(fallback_thread);
    let me = cx.user.clone();
    let now = chrono::Utc::now().timestamp_millis();
    Ok(cx.store.add_raw(
        &me,
        raw,
        &["DRAFT".to_string()],
        Some(now),
        thread.as_deref(),
        true,
    ))
}

pub(crate) fn create(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let mid = store_draft_message(cx, None)?;
    let did = cx.store.new_draft_id();
    cx.user_mut().drafts.insert(did.clone(), mid);
    ok(draft_json(cx, &did, None)?)
}

pub(crate) fn update(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let did = cx.param(0).to_string();
    let old = cx
        .user()
        .drafts
        .get(&did)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let old_thread = cx.user().messages.get(&old).map(|m| m.thread_id.clone());
    let mid = store_draft_message(cx, old_thread)?;
    let user = cx.user_mut();
    user.delete(&old)?;
    user.drafts.insert(did.clone(), mid);
    ok(draft_json(cx, &did, None)?)
}

pub(crate) fn send(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let body = if cx.upload.is_some() {
        cx.upload
            .as_ref()
            .map(|u| u.metadata.clone())
            .unwrap_or_default()
    } else {
        cx.body_json()?
    };
    let did = body
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid_argument("Invalid draft: missing id"))?
        .to_string();
    let mut mid = cx
        .user()
        .drafts
        .get(&did)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let has_new_message =
        cx.upload.is_some() || body.get("message").and_then(|m| m.get("raw")).is_some();
    if has_new_message {
        let old_thread = cx.user().messages.get(&mid).map(|m| m.thread_id.clone());
        let new_mid = store_draft_message(cx, old_thread)?;
        cx.user_mut().delete(&mid)?;
        cx.user_mut().drafts.insert(did.clone(), new_mid.clone());
        mid = new_mid;
    }
    let (raw, thread) = {
        let m = cx
            .user()
            .messages
            .get(&mid)
            .ok_or_else(ApiError::not_found)?;
        (m.raw.clone(), m.thread_id.clone())
    };
    let sent = deliver(cx, &raw, Some(&thread))?;
    let user = cx.user_mut();
    user.delete(&mid)?;
    user.drafts.remove(&did);
    let m = &user.messages[&sent];
    ok(json!({"id": m.id, "threadId": m.thread_id, "labelIds": m.labels}))
}

pub(crate) fn delete(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let did = cx.param(0).to_string();
    let user = cx.user_mut();
    let mid = user.drafts.remove(&did).ok_or_else(ApiError::not_found)?;
    if user.messages.contains_key(&mid) {
        user.delete(&mid)?;
    }
    Ok(Reply::Empty)
}
