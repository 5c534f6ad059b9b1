//! Mail folders (with counts and child folders), master categories, mailbox settings and the
//! user profile.

use serde_json::{json, Map, Value};

use super::graph::Req;
use super::model::Mailbox;
use super::odata;
use super::reply::{self, Reply};

fn select_value(v: Value, req: &Req<'_>) -> Value {
    match (v, req.query.select()) {
        (Value::Object(m), Some(fields)) => Value::Object(odata::select(m, &fields)),
        (v, _) => v,
    }
}

pub fn profile(mb: &Mailbox, req: &Req<'_>) -> Reply {
    if let Err(e) = req.query.check_allowed(&["select", "expand"]) {
        return e;
    }
    Reply::ok(select_value(mb.profile_json(), req))
}

pub fn settings(mb: &Mailbox, req: &Req<'_>) -> Reply {
    if let Err(e) = req.query.check_allowed(&["select", "expand"]) {
        return e;
    }
    Reply::ok(select_value(mb.settings.clone(), req))
}

pub fn categories(mb: &Mailbox, req: &Req<'_>) -> Reply {
    if let Err(e) = req
        .query
        .check_allowed(&["select", "top", "skip", "count", "filter", "orderby"])
    {
        return e;
    }
    let items = mb.categories.iter().map(|c| c.to_json()).collect();
    page(items, req, 1000)
}

pub fn category(mb: &Mailbox, req: &Req<'_>, id: &str) -> Reply {
    match mb.categories.iter().find(|c| c.id == id) {
        Some(c) => Reply::ok(select_value(c.to_json(), req)),
        None => reply::not_found("category"),
    }
}

/// Top-level folders (`parent` None) or the child folders of `parent`.
pub fn list(mb: &Mailbox, req: &Req<'_>, parent: Option<&str>) -> Reply {
    if let Err(e) = req.query.check_allowed(&[
        "select", "top", "skip", "count", "filter", "orderby", "expand",
    ]) {
        return e;
    }
    let parent_id = match parent {
        None => mb.root_id.clone(),
        Some(p) if mb.is_root(p) => mb.root_id.clone(),
        Some(p) => match mb.folder(p) {
            Some(f) => f.id.clone(),
            None => return reply::not_found("folder"),
        },
    };
    let include_hidden = req
        .query
        .get("includeHiddenFolders")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let items: Vec<Value> = mb
        .folders
        .iter()
        .filter(|f| f.parent_id == parent_id && (include_hidden || !f.hidden))
        .map(|f| mb.folder_json(f))
        .collect();
    page(items, req, 10)
}

pub fn get(mb: &Mailbox, req: &Req<'_>, id: &str) -> Reply {
    if let Err(e) = req.query.check_allowed(&["select", "expand"]) {
        return e;
    }
    if mb.is_root(id) {
        let children = mb
            .folders
            .iter()
            .filter(|f| f.parent_id == mb.root_id)
            .count();
        return Reply::ok(select_value(
            json!({
                "id": mb.root_id, "displayName": "Top of Information Store", "parentFolderId": "",
                "childFolderCount": children, "unreadItemCount": 0, "totalItemCount": 0, "isHidden": false,
            }),
            req,
        ));
    }
    match mb.folder(id) {
        Some(f) => Reply::ok(select_value(mb.folder_json(f), req)),
        None => reply::not_found("folder"),
    }
}

/// A collection page with `$filter`, `$orderby`, `$top`, `$skip`, `$select` and `$count`.
pub(crate) fn page(mut items: Vec<Value>, req: &Req<'_>, default_top: usize) -> Reply {
    let q = req.query;
    if let Some(f) = q.get("filter") {
        match odata::parse_filter(f) {
            Ok(e) => items.retain(|v| odata::eval(&e, v)),
            Err(e) => {
                return reply::error(
                    400,
                    "ErrorInvalidUrlQuery",
                    format!("Invalid filter clause: {e}"),
                )
            }
        }
    }
    if let Some(o) = q.get("orderby") {
        match odata::parse_orderby(o) {
            Ok(keys) => items.sort_by(|a, b| odata::order_cmp(a, b, &keys)),
            Err(e) => return reply::error(400, "ErrorInvalidUrlQuery", e),
        }
    }
    let (top, skip) = match (q.usize("top"), q.usize("skip")) {
        (Ok(t), Ok(s)) => (t.unwrap_or(default_top).max(1), s.unwrap_or(0)),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let total = items.len();
    let value: Vec<Value> = items
        .into_iter()
        .skip(skip)
        .take(top)
        .map(|v| select_value(v, req))
        .collect();
    let mut body = Map::new();
    if q.get("count")
        .is_some_and(|c| c.eq_ignore_ascii_case("true"))
    {
        body.insert("@odata.count".into(), json!(total));
    }
    body.insert("value".into(), Value::Array(value));
    if skip + top < total {
        let mut q2 = q.clone();
        if q2.get("top").is_none() {
            q2.pairs.push(("$top".into(), top.to_string()));
        }
        body.insert(
            "@odata.nextLink".into(),
            json!(req.link(&q2.with("skip", &(skip + top).to_string()))),
        );
    }
    Reply::ok(Value::Object(body))
}
