//! users.getProfile, watch, stop, settings.sendAs, settings.filters, settings vacation.

use serde_json::{json, Map, Value};

use super::{ok, Cx, Reply};
use crate::error::{ApiError, ApiResult};
use crate::search::Query;
use crate::store::{Msg, Store, User};

pub(crate) fn profile(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let u = cx.user();
    ok(json!({
        "emailAddress": u.email,
        "messagesTotal": u.messages.len(),
        "threadsTotal": u.threads.len(),
        "historyId": u.history_id.to_string(),
    }))
}

pub(crate) fn watch(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let body = cx.body_json()?;
    let topic = body.get("topicName").and_then(Value::as_str).unwrap_or("");
    if !topic.starts_with("projects/") || !topic.contains("/topics/") {
        return Err(ApiError::invalid_argument(
            "Invalid topicName: expected projects/{project}/topics/{topic}",
        ));
    }
    if let Some(b) = body.get("labelFilterBehavior").and_then(Value::as_str) {
        if !["include", "exclude", "INCLUDE", "EXCLUDE"].contains(&b) {
            return Err(ApiError::invalid_argument(format!(
                "Invalid labelFilterBehavior: {b}"
            )));
        }
    }
    let expiration = chrono::Utc::now().timestamp_millis() + 7 * 86_400_000;
    let u = cx.user_mut();
    u.watch_expiration = Some(expiration);
    u.watch_topic = Some(topic.to_string());
    u.watch_history_id = u.history_id;
    ok(json!({"historyId": u.history_id.to_string(), "expiration": expiration.to_string()}))
}

pub(crate) fn stop(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    cx.user_mut().watch_expiration = None;
    cx.user_mut().watch_topic = None;
    Ok(Reply::Empty)
}

pub(crate) fn send_as_list(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    ok(json!({"sendAs": cx.user().send_as}))
}

pub(crate) fn send_as_get(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let e = cx.param(0);
    let found = cx.user().send_as.iter().find(|s| {
        s["sendAsEmail"]
            .as_str()
            .is_some_and(|x| x.eq_ignore_ascii_case(e))
    });
    ok(found.cloned().ok_or_else(ApiError::not_found)?)
}

pub(crate) fn filters_list(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let f = &cx.user().filters;
    ok(if f.is_empty() {
        json!({})
    } else {
        json!({"filter": f})
    })
}

pub(crate) fn filters_get(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let id = cx.param(0);
    ok(cx
        .user()
        .filters
        .iter()
        .find(|f| f["id"] == id)
        .cloned()
        .ok_or_else(ApiError::not_found)?)
}

const CRITERIA: &[&str] = &[
    "from",
    "to",
    "subject",
    "query",
    "negatedQuery",
    "hasAttachment",
    "excludeChats",
    "size",
    "sizeComparison",
];
const ACTION: &[&str] = &["addLabelIds", "removeLabelIds", "forward"];

fn pick(v: Option<&Value>, keys: &[&str], what: &str) -> ApiResult<Map<String, Value>> {
    let mut out = Map::new();
    if let Some(obj) = v {
        let obj = obj
            .as_object()
            .ok_or_else(|| ApiError::invalid_argument(format!("Invalid filter {what}")))?;
        for (k, val) in obj {
            if !keys.contains(&k.as_str()) {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid JSON payload received. Unknown name \"{k}\" at 'filter.{what}'"
                )));
            }
            out.insert(k.clone(), val.clone());
        }
    }
    Ok(out)
}

pub(crate) fn filters_create(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let body = cx.body_json()?;
    let criteria = pick(body.get("criteria"), CRITERIA, "criteria")?;
    let action = pick(body.get("action"), ACTION, "action")?;
    if criteria.is_empty() {
        return Err(ApiError::invalid_argument(
            "Filter doesn't have any criteria",
        ));
    }
    if action.is_empty() {
        return Err(ApiError::invalid_argument(
            "Filter doesn't have any actions",
        ));
    }
    if action
        .get("forward")
        .is_some_and(|f| f.as_str().is_some_and(|s| !s.is_empty()))
    {
        return Err(ApiError::failed_precondition(
            "Forwarding address is not verified: add and verify it first",
        ));
    }
    for key in ["addLabelIds", "removeLabelIds"] {
        for l in super::str_list(&Value::Object(action.clone()), key) {
            if !cx.user().label_exists(&l) {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid label {l} in AddLabelIds"
                )));
            }
        }
    }
    let u = cx.user_mut();
    let id = format!("ANe1Bm{:010}", u.next_filter);
    u.next_filter += 1;
    let f = json!({"id": id, "criteria": criteria, "action": action});
    u.filters.push(f.clone());
    ok(f)
}

pub(crate) fn filters_delete(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let id = cx.param(0).to_string();
    let u = cx.user_mut();
    let before = u.filters.len();
    u.filters.retain(|f| f["id"] != id.as_str());
    if u.filters.len() == before {
        return Err(ApiError::not_found());
    }
    Ok(Reply::Empty)
}

pub(crate) fn vacation_get(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    ok(cx.user().vacation.clone())
}

const VACATION: &[&str] = &[
    "enableAutoReply",
    "responseSubject",
    "responseBodyPlainText",
    "responseBodyHtml",
    "restrictToContacts",
    "restrictToDomain",
    "startTime",
    "endTime",
];

pub(crate) fn vacation_update(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let body = cx.body_json()?;
    let obj = pick(Some(&body), VACATION, "vacation")?;
    if let (Some(s), Some(e)) = (obj.get("startTime"), obj.get("endTime")) {
        let n = |v: &Value| {
            v.as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .or_else(|| v.as_i64())
        };
        if let (Some(s), Some(e)) = (n(s), n(e)) {
            if e < s {
                return Err(ApiError::invalid_argument(
                    "Invalid vacation: endTime before startTime",
                ));
            }
        }
    }
    let mut obj = obj;
    for key in ["startTime", "endTime"] {
        match obj.get(key) {
            Some(Value::Number(n)) => {
                let s = n.to_string();
                obj.insert(key.into(), json!(s));
            }
            Some(Value::String(s)) if s.parse::<i64>().is_err() => {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid value for int64: {s}"
                )));
            }
            _ => {}
        }
    }
    let mut v = Value::Object(obj);
    if v.get("enableAutoReply").is_none() {
        v["enableAutoReply"] = json!(false);
    }
    let u = cx.user_mut();
    u.vacation = v.clone();
    u.vacation_replied.clear();
    ok(v)
}

/// Gmail runs the user's filters on mail it delivers (and imports): matching criteria add and
/// remove labels, recorded with the message's arrival rather than as later changes.
pub(crate) fn apply_filters(user: &mut User, id: &str) {
    let mut add: Vec<String> = Vec::new();
    let mut remove: Vec<String> = Vec::new();
    {
        let Some(msg) = user.messages.get(id) else {
            return;
        };
        for f in &user.filters {
            if filter_matches(user, msg, &f["criteria"]) {
                add.extend(super::str_list(&f["action"], "addLabelIds"));
                remove.extend(super::str_list(&f["action"], "removeLabelIds"));
            }
        }
    }
    if !add.is_empty() || !remove.is_empty() {
        user.relabel_arrival(id, &add, &remove);
    }
}

fn filter_matches(user: &User, msg: &Msg, c: &Value) -> bool {
    let s = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
    };
    let mut q = Vec::new();
    for (key, op) in [("from", "from"), ("to", "to"), ("subject", "subject")] {
        if let Some(v) = s(key) {
            q.push(format!("{op}:\"{}\"", v.replace('"', "")));
        }
    }
    if let Some(v) = s("query") {
        q.push(v.to_string());
    }
    if c.get("hasAttachment").and_then(Value::as_bool) == Some(true) {
        q.push("has:attachment".into());
    }
    if q.is_empty() && s("negatedQuery").is_none() {
        return false;
    }
    let positive = Query::parse(&q.join(" ")).is_ok_and(|q| q.matches(user, msg));
    let negative =
        s("negatedQuery").is_some_and(|n| Query::parse(n).is_ok_and(|q| q.matches(user, msg)));
    positive && !negative
}

/// Gmail's vacation responder: when `recipient` has it on (and in its time window), the sender
/// gets one auto-reply per vacation period, threaded under the message. Auto-submitted mail is
/// never answered, so two responders cannot loop.
pub(crate) fn vacation_reply(store: &mut Store, recipient: &str, sender: &str, original: &[u8]) {
    let now = chrono::Utc::now().timestamp_millis();
    let env = crate::mime::envelope(original);
    let auto = crate::mime::header_value(original, "Auto-Submitted")
        .is_some_and(|v| !v.eq_ignore_ascii_case("no"));
    let Ok(r) = store.user_mut(recipient) else {
        return;
    };
    let v = &r.vacation;
    let on = v["enableAutoReply"].as_bool() == Some(true);
    let num = |k: &str| {
        v.get(k).and_then(|x| {
            x.as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .or_else(|| x.as_i64())
        })
    };
    let in_window =
        num("startTime").is_none_or(|s| now >= s) && num("endTime").is_none_or(|e| now < e);
    let same_domain = sender.rsplit('@').next() == recipient.rsplit('@').next();
    let restricted = v["restrictToContacts"].as_bool() == Some(true)
        || (v["restrictToDomain"].as_bool() == Some(true) && !same_domain);
    if !on || !in_window || restricted || auto || r.vacation_replied.contains(sender) {
        return;
    }
    r.vacation_replied.insert(sender.to_string());
    let subject = crate::mime::header_value(original, "Subject").unwrap_or_default();
    let reply_subject = v["responseSubject"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("Re: {subject}"));
    let body = v["responseBodyPlainText"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let mut raw = format!(
        "From: {} <{}>\r\nTo: {sender}\r\nSubject: {reply_subject}\r\nDate: {}\r\nMessage-ID: <{}@mail.gmail.com>\r\nAuto-Submitted: auto-replied\r\n",
        r.name,
        r.email,
        chrono::Utc::now().to_rfc2822(),
        crate::auth::random_token("vacation"),
    );
    if let Some(mid) = &env.message_id {
        raw.push_str(&format!("In-Reply-To: <{mid}>\r\nReferences: <{mid}>\r\n"));
    }
    raw.push_str(&format!(
        "Content-Type: text/plain; charset=UTF-8\r\n\r\n{body}\r\n"
    ));
    let raw = bytes::Bytes::from(raw);
    store.add_raw(
        recipient,
        raw.clone(),
        &["SENT".to_string()],
        Some(now),
        None,
        true,
    );
    store.add_raw(
        sender,
        raw,
        &["INBOX".to_string(), "UNREAD".to_string()],
        Some(now),
        None,
        true,
    );
}
