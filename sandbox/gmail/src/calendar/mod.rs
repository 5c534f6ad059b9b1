//! Google Calendar v3 on the Gmail emulator's server, under `/calendar/v3/...`: the same users,
//! bearer tokens, scopes per method (from the discovery document), quota, faults and latency as
//! the Gmail API, so one consent covers mail and calendar as it does at Google.
//!
//! Served: `users/me/calendarList` (list, get: each user has one calendar, the primary, whose
//! id is their address), `calendars/{id}/events` (list with `timeMin`/`timeMax`,
//! `singleEvents` expansion of RFC 5545 rules in the event's IANA zone, `orderBy=startTime`,
//! `timeZone`, paging, `syncToken` with 410 `fullSyncRequired` once expired; insert with a
//! client-chosen base32hex `id` (409 on a repeat) and Meet links with `conferenceDataVersion=1`;
//! get, patch, update, delete (410 on a repeat), instances; a change to one occurrence
//! becomes an exception of its series), and `freeBusy` (busy intervals computed from events,
//! merged; transparent and declined events are free). An event lives once, seen by its
//! organizer and by every attendee who is a user here: an attendee answers by patching their
//! own `responseStatus` on their copy, and the organizer's copy shows it; attendees may change
//! nothing else (403 `forbiddenForNonOrganizer`). Sources: docs/provider-behaviour.md.

mod api;
pub(crate) mod store;
mod time;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use axum::http::{Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use self::api::{CalCx, Handler, Out};
use crate::auth::allows;
use crate::error::ApiError;
use crate::router::{Req, Resp};
use crate::{lock, Inner};
use sandbox_kit::Refusal;

pub(crate) use store::CalStore;

/// Google's discovery document of Calendar v3 (a copy of `tests/contracts/calendar.v3.json`).
static DISCOVERY: &str = include_str!("../../data/calendar.v3.json");

/// Method id -> the scopes it accepts (any one suffices).
fn method_scopes(method_id: &str) -> &'static [String] {
    static TABLE: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let doc: Value = serde_json::from_str(DISCOVERY).expect("calendar.v3.json parses");
        let mut out = HashMap::new();
        let mut stack = vec![doc["resources"].clone()];
        while let Some(resources) = stack.pop() {
            for res in resources.as_object().into_iter().flatten().map(|(_, r)| r) {
                for m in res["methods"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(_, m)| m)
                {
                    let scopes = m["scopes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect();
                    out.insert(m["id"].as_str().unwrap_or_default().to_string(), scopes);
                }
                stack.push(res["resources"].clone());
            }
        }
        out
    });
    table.get(method_id).map(Vec::as_slice).unwrap_or(&[])
}

fn route(method: &Method, segs: &[&str]) -> Option<(&'static str, Handler, Vec<String>)> {
    let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let r: (&'static str, Handler, Vec<String>) = match (method.as_str(), segs) {
        ("GET", ["users", "me", "calendarList"]) => {
            ("calendar.calendarList.list", api::calendar_list, vec![])
        }
        ("GET", ["users", "me", "calendarList", c]) => {
            ("calendar.calendarList.get", api::calendar_get, p(&[c]))
        }
        ("GET", ["calendars", c, "events"]) => ("calendar.events.list", api::events_list, p(&[c])),
        ("POST", ["calendars", c, "events"]) => {
            ("calendar.events.insert", api::events_insert, p(&[c]))
        }
        ("GET", ["calendars", c, "events", e]) => {
            ("calendar.events.get", api::events_get, p(&[c, e]))
        }
        ("PATCH", ["calendars", c, "events", e]) => {
            ("calendar.events.patch", api::events_patch, p(&[c, e]))
        }
        ("PUT", ["calendars", c, "events", e]) => {
            ("calendar.events.update", api::events_update, p(&[c, e]))
        }
        ("DELETE", ["calendars", c, "events", e]) => {
            ("calendar.events.delete", api::events_delete, p(&[c, e]))
        }
        ("GET", ["calendars", c, "events", e, "instances"]) => (
            "calendar.events.instances",
            api::events_instances,
            p(&[c, e]),
        ),
        ("POST", ["freeBusy"]) => ("calendar.freebusy.query", api::freebusy, vec![]),
        _ => return None,
    };
    Some(r)
}

/// Handles a request below `/calendar/v3/` (`rest` is the path after it).
pub(crate) fn handle(inner: &Inner, req: &Req, rest: &str) -> Resp {
    match call(inner, req, rest) {
        Ok(Out::Json(v)) => Resp::json(StatusCode::OK, &v),
        Ok(Out::Empty) => Resp::empty(StatusCode::NO_CONTENT),
        Err(e) => Resp::error(&e),
    }
}

fn call(inner: &Inner, req: &Req, rest: &str) -> Result<Out, ApiError> {
    let grant = req
        .bearer()
        .and_then(|t| inner.kit.authenticate(t).ok())
        .ok_or_else(ApiError::unauthenticated)?;
    let segs: Vec<String> = rest
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (method_id, handler, params) = route(&req.method, &segs).ok_or_else(ApiError::not_found)?;
    {
        let mut s = lock(&inner.stats);
        s.api_calls += 1;
        *s.by_method.entry(method_id.to_string()).or_default() += 1;
    }
    let accepted = method_scopes(method_id);
    if !allows(&grant, accepted) {
        let mut e = ApiError::insufficient_scope(method_id, accepted);
        e.details = Some(json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": "calendar-json.googleapis.com", "method": method_id}
        }]));
        return Err(e);
    }
    // One unit of the user's quota per call (Calendar's quota is counted in queries).
    if let Err(refused) = inner.kit.admit(&grant.user, 1, false) {
        lock(&inner.stats).rate_limited += 1;
        let behaviour = lock(&inner.store).behaviour;
        let forbidden = inner.quota_forbidden.load(Ordering::SeqCst);
        let header = behaviour.retry_after || matches!(refused, Refusal::Forced(_));
        return Err(ApiError::rate_limited(
            forbidden,
            refused.retry_after(),
            header,
        ));
    }
    let body = if req.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        let v: Value = serde_json::from_slice(&req.body).map_err(|e| {
            ApiError::invalid_argument(format!("Invalid JSON payload received. {e}"))
        })?;
        check_fields(method_id, &v)?;
        v
    };
    let mut store = lock(&inner.store);
    store.ensure_user(&grant.user);
    let mut cx = CalCx {
        store: &mut store,
        user: grant.user.to_ascii_lowercase(),
        req,
        body,
        params,
    };
    handler(&mut cx)
}

/// Unknown top-level names in an event or free/busy body are refused, as Google does.
fn check_fields(method_id: &str, body: &Value) -> Result<(), ApiError> {
    let schema = match method_id {
        "calendar.events.insert" | "calendar.events.patch" | "calendar.events.update" => "Event",
        "calendar.freebusy.query" => "FreeBusyRequest",
        _ => return Ok(()),
    };
    static DOC: OnceLock<Value> = OnceLock::new();
    let doc = DOC.get_or_init(|| serde_json::from_str(DISCOVERY).expect("calendar.v3.json"));
    let known = &doc["schemas"][schema]["properties"];
    for key in body.as_object().into_iter().flatten().map(|(k, _)| k) {
        if known.get(key).is_none() {
            return Err(ApiError::invalid_argument(format!(
                "Invalid JSON payload received. Unknown name \"{key}\" at 'resource': Cannot find field."
            )));
        }
    }
    Ok(())
}
