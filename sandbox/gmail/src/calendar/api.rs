//! The Google Calendar v3 methods: calendarList list/get, events list/get/insert/patch/update/
//! delete/instances (with `syncToken`), freebusy.query.

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::store::{default_window, find_instance, is_attendee, listing, render, CalStore, Ev};
use super::time::{instant, parse_rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::router::Req;
use crate::store::Store;

/// What one call works on.
pub(crate) struct CalCx<'a> {
    pub store: &'a mut Store,
    pub user: String,
    pub req: &'a Req,
    pub body: Value,
    pub params: Vec<String>,
}

pub(crate) enum Out {
    Json(Value),
    Empty,
}

pub(crate) type Handler = fn(&mut CalCx<'_>) -> ApiResult<Out>;

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn gone() -> ApiError {
    ApiError::with_status(StatusCode::GONE, "deleted", "Resource has been deleted")
}

impl CalCx<'_> {
    fn cal(&mut self) -> &mut CalStore {
        &mut self.store.calendar
    }

    /// The calendar a path names must be the caller's own (`primary` or their address).
    fn own_calendar(&self) -> ApiResult<()> {
        let id = self.params.first().map(String::as_str).unwrap_or("");
        if id == "primary" || id.eq_ignore_ascii_case(&self.user) {
            Ok(())
        } else {
            Err(ApiError::not_found())
        }
    }

    fn zone(&self) -> Option<String> {
        self.req.q("timeZone").map(str::to_string)
    }

    fn event_id(&self) -> &str {
        self.params.get(1).map(String::as_str).unwrap_or("")
    }
}

fn list_entry(user: &str, zone: &str) -> Value {
    json!({
        "kind": "calendar#calendarListEntry", "etag": "\"1700000000000000\"",
        "id": user, "summary": user, "timeZone": zone,
        "colorId": "14", "backgroundColor": "#9fe1e7", "foregroundColor": "#000000",
        "selected": true, "accessRole": "owner", "defaultReminders": [],
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        "primary": true
    })
}

pub(crate) fn calendar_list(cx: &mut CalCx<'_>) -> ApiResult<Out> {
    let zone = cx.store.calendar.zone_of(&cx.user);
    Ok(Out::Json(json!({
        "kind": "calendar#calendarList", "etag": "\"p33c9t0v8hjf8s0g\"",
        "items": [list_entry(&cx.user, &zone)]
    })))
}

pub(crate) fn calendar_get(cx: &mut CalCx<'_>) -> ApiResult<Out> {
    cx.own_calendar()?;
    let zone = cx.store.calendar.zone_of(&cx.user);
    Ok(Out::Json(list_entry(&cx.user, &zone)))
}

/// `{offset}.{clock}` of a listing's next page, as an opaque token.
fn page_token(offset: usize, clock: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("p{offset}.{clock}"))
}

fn read_page_token(t: &str) -> ApiResult<(usize, u64)> {
    let bad = || ApiError::bad_request("Invalid page token value.");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(t).map_err(|_| bad())?).map_err(|_| bad())?;
    let (o, c) = text
        .strip_prefix('p')
        .and_then(|r| r.split_once('.'))
        .ok_or_else(bad)?;
    Ok((o.parse().map_err(|_| bad())?, c.parse().map_err(|_| bad())?))
}

/// A sync token: the clock it was issued at and the window of the first sync.
fn sync_token(clock: u64, lo: DateTime<Utc>, hi: DateTime<Utc>, single: bool) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "s{clock}.{}.{}.{}",
        lo.timestamp(),
        hi.timestamp(),
        u8::from(single)
    ))
}

fn read_sync_token(t: &str) -> Option<(u64, DateTime<Utc>, DateTime<Utc>, bool)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(t).ok()?).ok()?;
    let mut it = text.strip_prefix('s')?.split('.');
    let clock = it.next()?.parse().ok()?;
    let lo = DateTime::from_timestamp(it.next()?.parse().ok()?, 0)?;
    let hi = DateTime::from_timestamp(it.next()?.parse().ok()?, 0)?;
    let single = it.next()? == "1";
    Some((clock, lo, hi, single))
}

fn max_results(req: &Req, default: usize) -> ApiResult<usize> {
    match req.q("maxResults") {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(2_500))
            .ok_or_else(|| ApiError::bad_request(format!("Invalid value for maxResults: {v}"))),
    }
}

fn truthy(req: &Req, key: &str) -> bool {
    req.q(key) == Some("true")
}

pub(crate) fn events_list(cx: &mut CalCx<'_>) -> ApiResult<Out> {
    cx.own_calendar()?;
    let req = cx.req;
    let mut single = truthy(req, "singleEvents");
    let (mut lo, mut hi) = default_window();
    let mut since = None;
    let mut deleted = truthy(req, "showDeleted");
    if let Some(token) = req.q("syncToken") {
        for k in [
            "timeMin",
            "timeMax",
            "orderBy",
            "q",
            "updatedMin",
            "iCalUID",
        ] {
            if req.q(k).is_some() {
                return Err(ApiError::bad_request(format!(
                    "Sync token cannot be used together with {k}."
                )));
            }
        }
        let (clock, tlo, thi, tsingle) = read_sync_token(token)
            .ok_or_else(|| ApiError::bad_request("Invalid sync token value."))?;
        if clock < cx.store.calendar.valid_from {
            return Err(ApiError::with_status(
                StatusCode::GONE,
                "fullSyncRequired",
                "Sync token is no longer valid, a full sync is required.",
            ));
        }
        (lo, hi, since, deleted) = (tlo, thi, Some(clock), true);
        single = single || tsingle;
    } else {
        if let Some(t) = req.q("timeMin") {
            lo = parse_rfc3339(t, "timeMin")?;
        }
        if let Some(t) = req.q("timeMax") {
            hi = parse_rfc3339(t, "timeMax")?;
        }
        if hi <= lo && req.q("timeMax").is_some() {
            return Err(ApiError::bad_request("The specified time range is empty."));
        }
    }
    if req.q("orderBy") == Some("startTime") && !single {
        return Err(ApiError::bad_request(
            "The requested ordering is not available for the particular query.",
        ));
    }
    let (offset, clock) = match req.q("pageToken") {
        Some(t) => read_page_token(t)?,
        None => (0, cx.store.calendar.clock),
    };
    let size = max_results(req, 250)?;
    let user = cx.user.clone();
    let zone = cx.zone();
    let cal = &cx.store.calendar;
    let all = listing(cal, &user, single, lo, hi, since, deleted)?;
    let items: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(size)
        .map(|(owner_id, body)| render(&cal.events[owner_id], body, &user, zone.as_deref()))
        .collect();
    let mut out = json!({
        "kind": "calendar#events", "etag": format!("\"{}\"", cal.clock), "summary": user,
        "description": "", "updated": now(), "timeZone": cal.zone_of(&user),
        "accessRole": "owner", "defaultReminders": [], "items": items,
    });
    if offset + size < all.len() {
        out["nextPageToken"] = page_token(offset + size, clock).into();
    } else {
        out["nextSyncToken"] = sync_token(clock, lo, hi, single).into();
    }
    Ok(Out::Json(out))
}

pub(crate) fn events_instances(cx: &mut CalCx<'_>) -> ApiResult<Out> {
    cx.own_calendar()?;
    let id = cx.event_id().to_string();
    let user = cx.user.clone();
    let zone = cx.zone();
    let (mut lo, mut hi) = default_window();
    if let Some(t) = cx.req.q("timeMin") {
        lo = parse_rfc3339(t, "timeMin")?;
    }
    if let Some(t) = cx.req.q("timeMax") {
        hi = parse_rfc3339(t, "timeMax")?;
    }
    let cal = &cx.store.calendar;
    let ev = cal
        .events
        .get(&id)
        .filter(|e| CalStore::sees(e, &user))
        .ok_or_else(ApiError::not_found)?;
    let all: Vec<(String, Value)> = listing(cal, &user, true, lo, hi, None, false)?
        .into_iter()
        .filter(|(_, b)| b["recurringEventId"] == id.as_str())
        .collect();
    let (offset, clock) = match cx.req.q("pageToken") {
        Some(t) => read_page_token(t)?,
        None => (0, cal.clock),
    };
    let size = max_results(cx.req, 250)?;
    let items: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(size)
        .map(|(owner_id, body)| render(&cal.events[owner_id], body, &user, zone.as_deref()))
        .collect();
    let mut out = json!({
        "kind": "calendar#events", "etag": format!("\"{}\"", ev.changed), "summary": user,
        "updated": now(), "timeZone": cal.zone_of(&user), "accessRole": "owner",
        "defaultReminders": [], "items": items,
    });
    if offset + size < all.len() {
        out["nextPageToken"] = page_token(offset + size, clock).into();
    }
    Ok(Out::Json(out))
}

/// The stored event `id` (or the occurrence an instance id names, not yet stored) as the caller
/// sees it: (key of the stored event that carries it, body).
fn lookup(cal: &CalStore, user: &str, id: &str) -> ApiResult<(String, Value)> {
    if let Some(ev) = cal.events.get(id) {
        if !CalStore::sees(ev, user) {
            return Err(ApiError::not_found());
        }
        return Ok((id.to_string(), ev.body.clone()));
    }
    match find_instance(cal, id)? {
        Some((master, body)) if CalStore::sees(&cal.events[&master], user) => Ok((master, body)),
        _ => Err(ApiError::not_found()),
    }
}

pub(crate) fn events_get(cx: &mut CalCx<'_>) -> ApiResult<Out> {
    cx.own_calendar()?;
    let id = cx.event_id().to_string();
    let zone = cx.zone();
    let cal = &cx.store.calendar;
    let (key, body) = lookup(cal, &cx.user, &id)?;
    Ok(Out::Json(render(
        &cal.events[&key],
        &body,
        &cx.user,
        zone.as_deref(),
    )))
}

/// Google's event ids: base32hex characters (`0-9a-v`), 5 to 1024 of them.
fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
}

/// Attendees as stored: addresses required, `responseStatus` `needsAction` unless given (and
/// kept from `before` for attendees already invited), the organizer's own entry accepted.
fn attendees(list: &Value, organizer: &str, before: &Value) -> ApiResult<Value> {
    let Some(items) = list.as_array() else {
        return Ok(Value::Null);
    };
    let mut out = Vec::new();
    for a in items {
        let email = a["email"]
            .as_str()
            .filter(|e| e.contains('@'))
            .ok_or_else(|| ApiError::bad_request("Invalid attendee email."))?;
        let mut entry = Map::new();
        for (k, v) in a.as_object().into_iter().flatten() {
            if !matches!(k.as_str(), "self" | "id") {
                entry.insert(k.clone(), v.clone());
            }
        }
        let earlier = before.as_array().into_iter().flatten().find(|b| {
            b["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        });
        if !entry.contains_key("responseStatus") {
            let status = match earlier {
                Some(b) => b["responseStatus"].clone(),
                None if email.eq_ignore_ascii_case(organizer) => "accepted".into(),
                None => "needsAction".into(),
            };
            entry.insert("responseStatus".into(), status);
        }
        if email.eq_ignore_ascii_case(organizer) {
            entry.insert("organizer".into(), true.into());
        }
        out.push(Value::Object(entry));
    }
    Ok(out.into())
}

/// A Meet conference for `createRequest`, as Google answers it.
fn conference(create: &Value, seed: &str) -> Value {
    let h: String = seed
        .bytes()
        .cycle()
        .take(10)
        .enumerate()
        .map(|(i, b)| (b'a' + (b.wrapping_add(i as u8 * 7) % 26)) as char)
        .collect();
    let code = format!("{}-{}-{}", &h[0..3], &h[3..7], &h[7..10]);
    let url = format!("https://meet.google.com/{code}");
    json!({
        "createRequest": {"requestId": create["requestId"], "conferenceSolutionKey": {"type": "hangoutsMeet"}, "status": {"statusCode": "success"}},
        "entryPoints": [{"entryPointType": "video", "uri": url, "label": url.trim_start_matches("https://")}],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet", "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png"},
        "conferenceId": code
    })
}

/// Checks and completes the times of an event body.
fn check_times(body: &Value) -> ApiResult<()> {
    if !body["start"].is_object() {
        return Err(ApiError::bad_request("Missing start time."));
    }
    if !body["end"].is_object() {
        return Err(ApiError::bad_request("Missing end time."));
    }
    let (s, e) = (instant(&body["start"])?, instant(&body["end"])?);
    if e < s {
        return Err(ApiError::bad_request("The specified time range is empty."));
    }
    let timed = body["start"]["dateTime"].is_string();
    if body["recurrence"].is_array() && timed && !body["start"]["timeZone"].is_string() {
        return Err(ApiError::bad_request(
            "Missing time zone definition for start time.",
        ));
    }
    Ok(())
}

fn apply_conference(cx: &CalCx<'_>, body: &mut Value, seed: &str) {
    let create = body["conferenceData"]["createRequest"].clone();
    let obj = body.as_object_mut().expect("event");
    // Without conferenceDataVersion=1 Google ignores conference data in the body.
    if cx.req.q("conferenceDataVersion") != Some("1") {
        obj.remove("conferenceData");
        return;
    }
    if create.is_object() && !obj.get("hangoutLink").is_some_and(Value::is_string) {
        let conf = conference(&create, seed);
        obj.insert("hangoutLink".into(), conf["entryPoints"][0]["uri"].clone());
        obj.insert("conferenceData".into(), conf);
    }
}

pub(crate) fn events_insert(cx: &mut CalCx<'_>) -> ApiResult<Out> {
    cx.own_calendar()?;
    let mut body = cx.body.clone();
    if !body.is_object() {
        return Err(ApiError::bad_request("Missing event body."));
    }
    check_times(&body)?;
    let id = match body["id"].as_str() {
        Some(id) if !valid_event_id(id) => {
            return Err(ApiError::bad_request("Invalid resource id value."))
        }
        Some(id) if cx.store.calendar.events.contains_key(id) => {
            return Err(ApiError::conflict(
                "The requested identifier already exists.",
            ))
        }
        Some(id) => id.to_string(),
        None => cx.cal().new_id(),
    };
    let user = cx.user.clone();
    let stamp = now();
    body["id"] = id.clone().into();
    body["status"] = body["status"].as_str().unwrap_or("confirmed").into();
    body["iCalUID"] = body["iCalUID"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{id}@google.com"))
        .into();
    body["sequence"] = 0.into();
    body["created"] = stamp.clone().into();
    body["updated"] = stamp.into();
    body["eventType"] = "default".into();
    if !body["reminders"].is_object() {
        body["reminders"] = json!({"useDefault": true});
    }
    let list = attendees(&body["attendees"], &user, &Value::Null)?;
    if list.is_null() {
        body.as_object_mut().expect("event").remove("attendees");
    } else {
        body["attendees"] = list;
    }
    apply_conference(cx, &mut body, &id);
    let changed = cx.cal().tick();
    let ev = Ev {
        owner: user.clone(),
        body: body.clone(),
        changed,
        gone_for: Default::default(),
    };
    let out = render(&ev, &body, &user, None);
    cx.cal().events.insert(id, ev);
    Ok(Out::Json(out))
}

/// Fields an attendee may not change on their copy.
fn organizer_only(body: &Value) -> Option<String> {
    body.as_object()?
        .keys()
        .find(|k| !matches!(k.as_str(), "attendees" | "id" | "kind" | "etag"))
        .cloned()
}

/// PATCH (`replace` false) and PUT (`replace` true).
fn write(cx: &mut CalCx<'_>, replace: bool) -> ApiResult<Out> {
    cx.own_calendar()?;
    let id = cx.event_id().to_string();
    let user = cx.user.clone();
    let patch = cx.body.clone();
    if !patch.is_object() {
        return Err(ApiError::bad_request("Missing event body."));
    }
    let (key, current) = lookup(&cx.store.calendar, &user, &id)?;
    let owner = cx.store.calendar.events[&key].owner.clone();
    if current["status"] == "cancelled" || cx.store.calendar.events[&key].gone_for.contains(&user) {
        return Err(gone());
    }
    let mut next = current.clone();
    if owner == user {
        if replace {
            let keep: Vec<&str> = vec![
                "id",
                "iCalUID",
                "created",
                "recurringEventId",
                "originalStartTime",
                "eventType",
                "sequence",
                "status",
            ];
            let mut fresh = patch.clone();
            for k in keep {
                if current.get(k).is_some() && fresh.get(k).is_none() {
                    fresh[k] = current[k].clone();
                }
            }
            next = fresh;
        } else {
            for (k, v) in patch.as_object().expect("object") {
                next[k.as_str()] = v.clone();
            }
        }
        next["id"] = id.clone().into();
        let list = attendees(&next["attendees"], &owner, &current["attendees"])?;
        if list.is_null() {
            next.as_object_mut().expect("event").remove("attendees");
        } else {
            next["attendees"] = list;
        }
        check_times(&next)?;
        if patch.get("start").is_some() || patch.get("end").is_some() {
            next["sequence"] = (current["sequence"].as_i64().unwrap_or(0) + 1).into();
        }
        let seed = format!("{id}{}", cx.store.calendar.clock);
        apply_conference(cx, &mut next, &seed);
        if !next["conferenceData"].is_object() && current["conferenceData"].is_object() {
            next["conferenceData"] = current["conferenceData"].clone();
            next["hangoutLink"] = current["hangoutLink"].clone();
        }
    } else {
        // An attendee answers on their copy: only their own response and comment count.
        if let Some(field) = organizer_only(&patch) {
            return Err(ApiError::with_status(
                StatusCode::FORBIDDEN,
                "forbiddenForNonOrganizer",
                format!("Shared properties can only be changed by the organizer of the event. ({field})"),
            ));
        }
        let mine = patch["attendees"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| {
                a["email"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case(&user))
            })
            .cloned()
            .ok_or_else(|| ApiError::bad_request("The attendee list must include the caller."))?;
        let status = mine["responseStatus"].as_str().unwrap_or("needsAction");
        if !matches!(
            status,
            "needsAction" | "declined" | "tentative" | "accepted"
        ) {
            return Err(ApiError::bad_request(format!(
                "Invalid responseStatus: {status}"
            )));
        }
        for a in next["attendees"].as_array_mut().into_iter().flatten() {
            if a["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(&user))
            {
                a["responseStatus"] = status.into();
                match mine.get("comment") {
                    Some(c) => a["comment"] = c.clone(),
                    None => {
                        a.as_object_mut().expect("attendee").remove("comment");
                    }
                }
            }
        }
    }
    next["updated"] = now().into();
    let zone = cx.req.q("timeZone").map(str::to_string);
    let changed = cx.cal().tick();
    let cal = cx.cal();
    let removed: Vec<String> = current["attendees"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["email"].as_str())
        .filter(|e| !is_attendee(&next, e))
        .map(str::to_ascii_lowercase)
        .collect();
    let ev = if key == id {
        let ev = cal.events.get_mut(&id).expect("looked up");
        ev.body = next.clone();
        ev.changed = changed;
        ev.gone_for.extend(removed);
        &*ev
    } else {
        // The first change to one occurrence stores it as an exception of its series.
        cal.events.insert(
            id.clone(),
            Ev {
                owner,
                body: next.clone(),
                changed,
                gone_for: removed.into_iter().collect(),
            },
        );
        &cal.events[&id]
    };
    Ok(Out::Json(render(ev, &next, &user, zone.as_deref())))
}

pub(crate) fn events_patch(cx: &mut CalCx<'_>) -> ApiResult<Out> {
    write(cx, false)
}

pub(crate) fn events_update(cx: &mut CalCx<'_>) -> ApiResult<Out> {
    write(cx, true)
}

pub(crate) fn events_delete(cx: &mut CalCx<'_>) -> ApiResult<Out> {
    cx.own_calendar()?;
    let id = cx.event_id().to_string();
    let user = cx.user.clone();
    let (key, current) = lookup(&cx.store.calendar, &user, &id)?;
    let owner = cx.store.calendar.events[&key].owner.clone();
    if current["status"] == "cancelled" || cx.store.calendar.events[&key].gone_for.contains(&user) {
        return Err(gone());
    }
    let changed = cx.cal().tick();
    let cal = cx.cal();
    if key != id {
        let mut body = current.clone();
        body["status"] = "cancelled".into();
        cal.events.insert(
            id.clone(),
            Ev {
                owner: owner.clone(),
                body,
                changed,
                gone_for: Default::default(),
            },
        );
    }
    let ev = cal.events.get_mut(&id).expect("stored");
    ev.changed = changed;
    if owner == user {
        ev.body["status"] = "cancelled".into();
        ev.body["updated"] = now().into();
    } else {
        // An attendee removes the event from their own calendar only.
        ev.gone_for.insert(user);
    }
    Ok(Out::Empty)
}

pub(crate) fn freebusy(cx: &mut CalCx<'_>) -> ApiResult<Out> {
    let body = cx.body.clone();
    let lo = parse_rfc3339(body["timeMin"].as_str().unwrap_or(""), "timeMin")?;
    let hi = parse_rfc3339(body["timeMax"].as_str().unwrap_or(""), "timeMax")?;
    if hi <= lo {
        return Err(ApiError::bad_request("The specified time range is empty."));
    }
    let zone = body["timeZone"].as_str().unwrap_or("UTC").to_string();
    let mut calendars = Map::new();
    for item in body["items"].as_array().into_iter().flatten() {
        let Some(id) = item["id"].as_str() else {
            continue;
        };
        let who = if id == "primary" {
            cx.user.clone()
        } else {
            id.to_ascii_lowercase()
        };
        if !cx.store.users.contains_key(&who) {
            calendars.insert(
                id.into(),
                json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}),
            );
            continue;
        }
        let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for (_, ev) in listing(&cx.store.calendar, &who, true, lo, hi, None, false)? {
            let declined = ev["attendees"].as_array().into_iter().flatten().any(|a| {
                a["email"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case(&who))
                    && a["responseStatus"] == "declined"
            });
            if ev["transparency"] == "transparent" || declined {
                continue;
            }
            let (s, e) = (instant(&ev["start"])?, instant(&ev["end"])?);
            spans.push((s.max(lo), e.min(hi)));
        }
        spans.sort();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for (s, e) in spans {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let busy: Vec<Value> = merged
            .into_iter()
            .map(|(s, e)| {
                json!({"start": super::time::render(s, &zone), "end": super::time::render(e, &zone)})
            })
            .collect();
        calendars.insert(id.into(), json!({ "busy": busy }));
    }
    Ok(Out::Json(json!({
        "kind": "calendar#freeBusy",
        "timeMin": super::time::render(lo, "UTC"),
        "timeMax": super::time::render(hi, "UTC"),
        "calendars": calendars,
    })))
}
