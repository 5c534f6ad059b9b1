//! users.labels.*: list, get, create, update, patch, delete.

use serde_json::{json, Value};

use super::render::label_json;
use super::{ok, Cx, Reply};
use crate::error::{ApiError, ApiResult};
use crate::store::SYSTEM_LABELS;

pub(crate) fn list(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let user = cx.user();
    let counts = user.label_counts();
    let ids = SYSTEM_LABELS
        .iter()
        .map(|s| s.to_string())
        .chain(user.labels.keys().cloned());
    let labels: Vec<Value> = ids
        .filter_map(|id| label_json(user, &id, counts.get(&id).copied()))
        .collect();
    ok(json!({ "labels": labels }))
}

pub(crate) fn get(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let user = cx.user();
    let id = cx.param(0);
    let counts = user.label_counts();
    ok(label_json(user, id, counts.get(id).copied()).ok_or_else(ApiError::not_found)?)
}

fn render(cx: &Cx<'_>, id: &str) -> ApiResult<Reply> {
    let user = cx.user();
    let counts = user.label_counts();
    ok(label_json(user, id, counts.get(id).copied()).ok_or_else(ApiError::not_found)?)
}

const MLV: &[&str] = &["show", "hide"];
const LLV: &[&str] = &["labelShow", "labelShowIfUnread", "labelHide"];

fn apply_fields(cx: &mut Cx<'_>, id: &str, body: &Value, replace: bool) -> ApiResult<()> {
    if let Some(n) = body.get("name").and_then(Value::as_str) {
        let clash = cx.user().label_by_name(n).is_some_and(|l| l.id != id)
            || SYSTEM_LABELS.iter().any(|s| s.eq_ignore_ascii_case(n));
        if clash {
            return Err(ApiError::invalid_argument("Label name exists or conflicts"));
        }
    } else if replace {
        return Err(ApiError::invalid_argument("No label name specified."));
    }
    for (key, allowed) in [("messageListVisibility", MLV), ("labelListVisibility", LLV)] {
        if let Some(v) = body.get(key).and_then(Value::as_str) {
            if !allowed.contains(&v) {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid value for {key}: {v}"
                )));
            }
        }
    }
    let label = cx
        .user_mut()
        .labels
        .get_mut(id)
        .ok_or_else(ApiError::not_found)?;
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(n) = s("name") {
        label.name = n;
    }
    if replace || body.get("messageListVisibility").is_some() {
        label.message_list_visibility = s("messageListVisibility");
    }
    if replace || body.get("labelListVisibility").is_some() {
        label.label_list_visibility = s("labelListVisibility");
    }
    if replace || body.get("color").is_some() {
        label.color = body.get("color").filter(|c| c.is_object()).cloned();
    }
    Ok(())
}

pub(crate) fn create(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let body = cx.body_json()?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let id = cx.user_mut().create_label(&name)?;
    if let Err(e) = apply_fields(cx, &id, &body, false) {
        cx.user_mut().labels.remove(&id);
        return Err(e);
    }
    render(cx, &id)
}

fn user_label_id(cx: &Cx<'_>) -> ApiResult<String> {
    let id = cx.param(0).to_string();
    if SYSTEM_LABELS.contains(&id.as_str()) {
        return Err(ApiError::invalid_argument(format!(
            "Invalid label: {id}: system labels cannot be changed"
        )));
    }
    if !cx.user().labels.contains_key(&id) {
        return Err(ApiError::not_found());
    }
    Ok(id)
}

pub(crate) fn update(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let id = user_label_id(cx)?;
    let body = cx.body_json()?;
    apply_fields(cx, &id, &body, true)?;
    render(cx, &id)
}

pub(crate) fn patch(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let id = user_label_id(cx)?;
    let body = cx.body_json()?;
    apply_fields(cx, &id, &body, false)?;
    render(cx, &id)
}

pub(crate) fn delete(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let id = user_label_id(cx)?;
    let user = cx.user_mut();
    let tagged: Vec<String> = user
        .messages
        .values()
        .filter(|m| m.has(&id))
        .map(|m| m.id.clone())
        .collect();
    for m in tagged {
        user.modify_unchecked(&m, &[], std::slice::from_ref(&id))?;
    }
    user.labels.remove(&id);
    Ok(Reply::Empty)
}
