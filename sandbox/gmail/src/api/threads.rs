//! users.threads.*: list, get, modify, trash, untrash, delete.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::messages::check_id;
use super::render::{message_json, select, Format, View};
use super::{ok, page, str_list, Cx, Reply};
use crate::error::{ApiError, ApiResult};
use crate::store::User;

pub(crate) fn list(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let user = cx.user();
    let msgs = select(cx, user, false)?;
    let mut seen = HashSet::new();
    let threads: Vec<&str> = msgs
        .iter()
        .map(|m| m.thread_id.as_str())
        .filter(|t| seen.insert(*t))
        .collect();
    let (start, end, next) = page(cx, threads.len(), 100)?;
    let mut v = json!({});
    if end > start {
        v["threads"] = Value::Array(
            threads[start..end]
                .iter()
                .map(|t| {
                    let ids = &user.threads[*t];
                    let last = ids.iter().rev().find_map(|i| user.messages.get(i));
                    json!({
                        "id": t,
                        "snippet": last.map(|m| m.index().snippet.clone()).unwrap_or_default(),
                        "historyId": thread_history(user, t).to_string(),
                    })
                })
                .collect(),
        );
    }
    if let Some(n) = next {
        v["nextPageToken"] = json!(n);
    }
    v["resultSizeEstimate"] = json!(threads.len());
    ok(v)
}

fn thread_history(user: &User, t: &str) -> u64 {
    user.threads
        .get(t)
        .into_iter()
        .flatten()
        .filter_map(|i| user.messages.get(i))
        .map(|m| m.history_id)
        .max()
        .unwrap_or(0)
}

fn thread_json(user: &User, t: &str, view: &View) -> ApiResult<Value> {
    let ids = user.threads.get(t).ok_or_else(ApiError::not_found)?;
    let messages: Vec<Value> = ids
        .iter()
        .filter_map(|i| user.messages.get(i))
        .map(|m| message_json(m, view))
        .collect();
    Ok(json!({"id": t, "historyId": thread_history(user, t).to_string(), "messages": messages}))
}

pub(crate) fn get(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let t = cx.param(0).to_string();
    check_id(&t)?;
    let view = View::from_query(cx)?;
    if view.format == Format::Raw {
        return Err(ApiError::invalid_argument(
            "Invalid value at 'format' (raw is not allowed for threads)",
        ));
    }
    ok(thread_json(cx.user(), &t, &view)?)
}

fn thread_ids(cx: &Cx<'_>) -> ApiResult<(String, Vec<String>)> {
    let t = cx.param(0).to_string();
    check_id(&t)?;
    let ids = cx
        .user()
        .threads
        .get(&t)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    Ok((t, ids))
}

fn apply(cx: &mut Cx<'_>, add: &[String], remove: &[String], checked: bool) -> ApiResult<Reply> {
    let (t, ids) = thread_ids(cx)?;
    let user = cx.user_mut();
    if checked {
        user.check_labels(add)?;
        user.check_labels(remove)?;
    }
    for id in &ids {
        user.modify_unchecked(id, add, remove)?;
    }
    let view = View {
        format: Format::Minimal,
        headers: Vec::new(),
    };
    ok(thread_json(cx.user(), &t, &view)?)
}

pub(crate) fn modify(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let body = cx.body_json()?;
    apply(
        cx,
        &str_list(&body, "addLabelIds"),
        &str_list(&body, "removeLabelIds"),
        true,
    )
}

pub(crate) fn trash(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    apply(cx, &["TRASH".into()], &["SPAM".into()], false)
}

pub(crate) fn untrash(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    apply(cx, &[], &["TRASH".into()], false)
}

pub(crate) fn delete(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let (_, ids) = thread_ids(cx)?;
    let user = cx.user_mut();
    for id in &ids {
        user.delete(id)?;
    }
    Ok(Reply::Empty)
}
