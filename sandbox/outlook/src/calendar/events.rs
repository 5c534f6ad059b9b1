//! Events: list (series masters and single events), get, create (with `transactionId`
//! de-duplication), update, delete (a cancellation for the attendees), and the attendee's
//! responses, reflected on the organizer's copy.

use std::collections::HashMap;

use chrono::{NaiveDateTime, NaiveTime, Utc};
use serde_json::{json, Value};

use super::model::{occurrence_id, parse_occurrence_id, Attendee, Event, Instance};
use super::recur::Recurrence;
use super::time;
use super::Cx;

use crate::model::{make_id, Addr, Mailbox};
use crate::reply::{self, Reply};
use crate::state::resolve_user;

/// A property of a request body, matched without regard to case (Graph's SDKs write some
/// bodies in PascalCase).
pub fn field<'v>(body: &'v Value, name: &str) -> Option<&'v Value> {
    body.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn bad(message: impl Into<String>) -> Reply {
    reply::error(400, "ErrorInvalidRequest", message)
}

pub fn is_response(action: &str) -> bool {
    ["accept", "tentativelyAccept", "decline"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action))
}

/// The event an id names (a series for an occurrence id), checked against the calendar of
/// the path. Returns (series or event id, occurrence start).
fn locate(
    cx: &Cx<'_, '_>,
    cal: Option<&str>,
    id: &str,
) -> Result<(String, Option<NaiveDateTime>), Reply> {
    let store = &cx.mb_ref().calendar;
    let (key, occ) = match parse_occurrence_id(id) {
        Some((master, start)) => (master, Some(start)),
        None => (id.to_string(), None),
    };
    let ev = store
        .events
        .get(&key)
        .ok_or_else(|| reply::not_found("event"))?;
    if cal.is_some_and(|c| c != ev.calendar_id) {
        return Err(reply::not_found("event"));
    }
    if let Some(start) = occ {
        let exists = ev.recurrence.is_some()
            && !ev.cancelled.contains(&start)
            && ev.recurrence.as_ref().is_some_and(|r| {
                r.starts(
                    ev.start.time(),
                    Utc::now() + chrono::Duration::days(365 * 30),
                    5000,
                )
                .contains(&start)
            });
        if !exists {
            return Err(reply::not_found("event occurrence"));
        }
    }
    Ok((key, occ))
}

/// The wire JSON of an event or of one occurrence.
fn render(cx: &Cx<'_, '_>, key: &str, occ: Option<NaiveDateTime>) -> Value {
    let ev = &cx.mb_ref().calendar.events[key];
    let inst = occ.map(|local| {
        let tz = ev
            .recurrence
            .as_ref()
            .and_then(Recurrence::zone)
            .unwrap_or(chrono_tz::Tz::UTC);
        Instance {
            id: occurrence_id(key, local),
            start: time::to_utc(local, tz),
            end: time::to_utc(local + (ev.end - ev.start), tz),
            occurrence: Some(local),
        }
    });
    Value::Object(ev.to_json(inst.as_ref(), &cx.pref))
}

pub fn list(cx: &mut Cx<'_, '_>, cal: Option<&str>) -> Reply {
    if let Err(e) = cx.req.query.check_allowed(&[
        "select", "top", "skip", "count", "filter", "orderby", "expand",
    ]) {
        return e;
    }
    let store = &cx.mb_ref().calendar;
    let cal = cal.unwrap_or(&store.default_calendar().id).to_string();
    let mut events: Vec<&Event> = store
        .events
        .values()
        .filter(|e| e.calendar_id == cal)
        .collect();
    events.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    let items: Vec<Value> = events
        .into_iter()
        .map(|e| Value::Object(e.to_json(None, &cx.pref)))
        .collect();
    crate::folders::page(items, cx.req, cx.req.page_size.unwrap_or(10))
}

pub fn get(cx: &mut Cx<'_, '_>, cal: Option<&str>, id: &str) -> Reply {
    if let Err(e) = cx.req.query.check_allowed(&["select", "expand"]) {
        return e;
    }
    match locate(cx, cal, id) {
        Ok((key, occ)) => Reply::ok(super::select(render(cx, &key, occ), cx.req)),
        Err(r) => r,
    }
}

/// Reads the meeting fields of a create or update body into `ev`.
fn apply_body(ev: &mut Event, body: &Value, creating: bool) -> Result<(), Reply> {
    if let Some(s) = field(body, "subject") {
        ev.subject = s.as_str().unwrap_or_default().to_string();
    }
    if let Some(b) = field(body, "body") {
        ev.body_html = field(b, "contentType")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("html"));
        ev.body = field(b, "content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
    }
    if let Some(v) = field(body, "isAllDay") {
        ev.is_all_day = v.as_bool().unwrap_or(false);
    }
    for (name, is_start) in [("start", true), ("end", false)] {
        match field(body, name) {
            Some(v) => {
                let (local, zone, _) = time::parse_dttz(v).map_err(bad)?;
                if is_start {
                    (ev.start, ev.start_zone) = (local, zone);
                } else {
                    (ev.end, ev.end_zone) = (local, zone);
                }
            }
            None if creating => {
                return Err(bad(format!("The event's {name} time is required.")));
            }
            None => {}
        }
    }
    if ev.end_utc() < ev.start_utc() {
        return Err(bad(
            "The end time of the event must be after its start time.",
        ));
    }
    if ev.is_all_day
        && (ev.start.time() != NaiveTime::MIN
            || ev.end.time() != NaiveTime::MIN
            || ev.end <= ev.start)
    {
        return Err(bad(
            "An all-day event's start and end must be at midnight, and its end at least a day after its start.",
        ));
    }
    if let Some(l) = field(body, "location") {
        let name = field(l, "displayName")
            .and_then(Value::as_str)
            .unwrap_or("");
        ev.location = Some(json!({
            "displayName": name,
            "locationType": field(l, "locationType").cloned().unwrap_or(json!("default")),
            "uniqueId": name,
            "uniqueIdType": "private",
            "address": field(l, "address").cloned().unwrap_or(json!({})),
            "coordinates": {},
        }));
    }
    if let Some(a) = field(body, "attendees") {
        let list = a
            .as_array()
            .ok_or_else(|| bad("attendees must be an array"))?;
        let mut out: Vec<Attendee> = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let email = field(item, "emailAddress")
                .ok_or_else(|| bad(format!("attendees[{i}].emailAddress is required")))?;
            let address = field(email, "address")
                .and_then(Value::as_str)
                .filter(|s| s.contains('@'))
                .ok_or_else(|| {
                    bad(format!(
                        "attendees[{i}].emailAddress.address is not an address"
                    ))
                })?;
            let name = field(email, "name")
                .and_then(Value::as_str)
                .unwrap_or(address);
            // an attendee kept from before keeps their response
            let old = ev
                .attendees
                .iter()
                .find(|o| o.addr.address.eq_ignore_ascii_case(address));
            out.push(Attendee {
                addr: Addr::new(name, address),
                kind: field(item, "type")
                    .and_then(Value::as_str)
                    .unwrap_or("required")
                    .to_string(),
                response: old.map_or("none".into(), |o| o.response.clone()),
                time: old.and_then(|o| o.time),
            });
        }
        ev.attendees = out;
    }
    if let Some(r) = field(body, "recurrence") {
        let zone = ev.start_zone.clone();
        let rec = Recurrence::parse(r, &zone).map_err(bad)?;
        ev.recurrence = Some(rec);
    } else if body.as_object().is_some_and(|o| {
        o.iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("recurrence") && v.is_null())
    }) {
        ev.recurrence = None;
    }
    if let Some(v) = field(body, "isOnlineMeeting") {
        ev.online_meeting = v.as_bool().unwrap_or(false);
    }
    for (name, slot) in [
        ("showAs", &mut ev.show_as),
        ("importance", &mut ev.importance),
        ("sensitivity", &mut ev.sensitivity),
    ] {
        if let Some(v) = field(body, name).and_then(Value::as_str) {
            *slot = v.to_string();
        }
    }
    if let Some(c) = field(body, "categories").and_then(Value::as_array) {
        ev.categories = c
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
    }
    if let Some(n) = field(body, "reminderMinutesBeforeStart").and_then(Value::as_i64) {
        ev.reminder_minutes = n;
    }
    for (name, slot) in [
        ("isReminderOn", &mut ev.is_reminder_on),
        ("responseRequested", &mut ev.response_requested),
        ("allowNewTimeProposals", &mut ev.allow_new_time_proposals),
    ] {
        if let Some(v) = field(body, name).and_then(Value::as_bool) {
            *slot = v;
        }
    }
    Ok(())
}

pub fn create(cx: &mut Cx<'_, '_>, cal: Option<&str>) -> Reply {
    let body = cx.req.body;
    if !body.is_object() {
        return bad("The request body must be an event.");
    }
    let transaction = field(body, "transactionId")
        .and_then(Value::as_str)
        .map(String::from);
    // Graph's transactionId: "a custom identifier specified by a client app for the server to
    // avoid redundant POST operations in case of client retries to create the same event"
    // (event resource, v1.0). A second create with the same id gives the first event back.
    if let Some(t) = &transaction {
        let found = cx
            .mb_ref()
            .calendar
            .events
            .values()
            .find(|e| e.transaction_id.as_deref() == Some(t.as_str()))
            .map(|e| e.id.clone());
        if let Some(id) = found {
            return Reply::json(201, render(cx, &id, None));
        }
    }
    let cal = cal
        .map(String::from)
        .unwrap_or_else(|| cx.mb_ref().calendar.default_calendar().id.clone());
    let mb = cx.mb();
    let mut ev = blank(mb, cal);
    ev.transaction_id = transaction;
    let id = ev.id.clone();
    if let Err(r) = apply_body(&mut ev, body, true) {
        return r;
    }
    if ev.online_meeting {
        ev.join_url = Some(join_url(&ev.ical_uid));
    }
    ev.seq = mb.next_seq();
    mb.calendar.events.insert(id.clone(), ev.clone());
    let organizer = cx.user.clone();
    invite(cx.all, &organizer, &ev);
    Reply::json(201, render(cx, &id, None))
}

/// A new event of `mb`'s in calendar `cal`, organized by the mailbox's user, before the
/// request's fields.
pub fn blank(mb: &mut Mailbox, cal: String) -> Event {
    let user = mb.user.clone();
    let id = mb.next_id("AAMkA", "event");
    let now = Utc::now();
    Event {
        ical_uid: make_id("040000008200E00074C5B7101A82E008", &user.email, &id, 0),
        id,
        calendar_id: cal,
        subject: String::new(),
        body_html: false,
        body: String::new(),
        start: now.naive_utc(),
        start_zone: "UTC".into(),
        end: now.naive_utc(),
        end_zone: "UTC".into(),
        is_all_day: false,
        location: None,
        attendees: Vec::new(),
        organizer: Addr::new(&user.display_name, &user.email),
        is_organizer: true,
        response: "organizer".into(),
        response_time: None,
        recurrence: None,
        cancelled: Vec::new(),
        online_meeting: false,
        join_url: None,
        show_as: "busy".into(),
        importance: "normal".into(),
        sensitivity: "normal".into(),
        categories: Vec::new(),
        reminder_minutes: 15,
        is_reminder_on: true,
        response_requested: true,
        allow_new_time_proposals: true,
        is_cancelled: false,
        transaction_id: None,
        created: now,
        last_modified: now,
        change_key: 1,
        seq: 0,
    }
}

/// Fills an event from a Graph body (as a create would) and stores it with its invitations:
/// the demo seed's way in.
pub fn seed(all: &mut HashMap<String, Mailbox>, organizer: &str, body: &Value) -> Option<String> {
    let mb = all.get_mut(organizer)?;
    let cal = mb.calendar.default_calendar().id.clone();
    let mut ev = blank(mb, cal);
    apply_body(&mut ev, body, true).ok()?;
    if ev.online_meeting {
        ev.join_url = Some(join_url(&ev.ical_uid));
    }
    ev.seq = mb.next_seq();
    mb.calendar.events.insert(ev.id.clone(), ev.clone());
    invite(all, organizer, &ev);
    Some(ev.ical_uid)
}

/// A Teams join link for a meeting (`onlineMeeting.joinUrl`).
fn join_url(uid: &str) -> String {
    format!(
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_{}%40thread.v2/0",
        &uid[uid.len().saturating_sub(24)..]
    )
}

/// Brings every attendee's copy in line with the organizer's event: new attendees who are
/// emulated users get the meeting (not yet answered, shown as tentative, as Exchange puts an
/// unanswered request on the calendar), existing copies take the meeting's fields, removed
/// attendees' copies are cancelled.
pub fn invite(all: &mut HashMap<String, Mailbox>, organizer: &str, ev: &Event) {
    let mut targets: Vec<String> = Vec::new();
    for a in &ev.attendees {
        if let Some(key) = resolve_user(all, &a.addr.address) {
            if key != organizer && !targets.contains(&key) {
                targets.push(key);
            }
        }
    }
    let holders: Vec<String> = all
        .iter()
        .filter(|(k, mb)| {
            k.as_str() != organizer
                && mb
                    .calendar
                    .events
                    .values()
                    .any(|e| e.ical_uid == ev.ical_uid)
        })
        .map(|(k, _)| k.clone())
        .collect();
    for key in holders.iter().chain(targets.iter()) {
        let invited = targets.contains(key);
        let Some(mb) = all.get_mut(key) else {
            continue;
        };
        let seq = mb.next_seq();
        let existing = mb
            .calendar
            .events
            .values()
            .find(|e| e.ical_uid == ev.ical_uid)
            .map(|e| e.id.clone());
        match existing {
            Some(id) => {
                let copy = mb.calendar.events.get_mut(&id).expect("found above");
                copy.subject = ev.subject.clone();
                copy.body = ev.body.clone();
                copy.body_html = ev.body_html;
                (copy.start, copy.start_zone) = (ev.start, ev.start_zone.clone());
                (copy.end, copy.end_zone) = (ev.end, ev.end_zone.clone());
                copy.is_all_day = ev.is_all_day;
                copy.location = ev.location.clone();
                copy.attendees = ev.attendees.clone();
                copy.recurrence = ev.recurrence.clone();
                copy.cancelled = ev.cancelled.clone();
                copy.online_meeting = ev.online_meeting;
                copy.join_url = ev.join_url.clone();
                copy.importance = ev.importance.clone();
                copy.sensitivity = ev.sensitivity.clone();
                if !invited && !copy.is_cancelled {
                    cancel(copy);
                }
                copy.seq = seq;
                copy.change_key += 1;
                copy.last_modified = Utc::now();
            }
            None if invited => {
                let id = mb.next_id("AAMkA", "event");
                let cal = mb.calendar.default_calendar().id.clone();
                let mut copy = ev.clone();
                copy.id = id.clone();
                copy.calendar_id = cal;
                copy.is_organizer = false;
                copy.response = "notResponded".into();
                copy.response_time = None;
                copy.show_as = "tentative".into();
                copy.transaction_id = None;
                copy.seq = seq;
                copy.created = Utc::now();
                mb.calendar.events.insert(id, copy);
            }
            None => {}
        }
    }
}

/// An attendee's copy of a cancelled meeting: kept, marked cancelled, its subject prefixed as
/// Outlook does, and no longer busy.
fn cancel(copy: &mut Event) {
    copy.is_cancelled = true;
    if !copy.subject.starts_with("Canceled: ") {
        copy.subject = format!("Canceled: {}", copy.subject);
    }
    copy.show_as = "free".into();
}

pub fn update(cx: &mut Cx<'_, '_>, cal: Option<&str>, id: &str) -> Reply {
    let (key, occ) = match locate(cx, cal, id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if occ.is_some() {
        return bad("The emulator does not change single occurrences; change the series (its seriesMasterId).");
    }
    let body = cx.req.body;
    if field(body, "transactionId").is_some() {
        return bad("transactionId cannot be changed after the event is created.");
    }
    let mb = cx.mb();
    let mut ev = mb.calendar.events[&key].clone();
    if let Err(r) = apply_body(&mut ev, body, false) {
        return r;
    }
    if ev.online_meeting && ev.join_url.is_none() {
        ev.join_url = Some(join_url(&ev.ical_uid));
    }
    ev.seq = mb.next_seq();
    ev.change_key += 1;
    ev.last_modified = Utc::now();
    mb.calendar.events.insert(key.clone(), ev.clone());
    if ev.is_organizer {
        let organizer = cx.user.clone();
        invite(cx.all, &organizer, &ev);
    }
    Reply::ok(render(cx, &key, None))
}

pub fn delete(cx: &mut Cx<'_, '_>, cal: Option<&str>, id: &str) -> Reply {
    let (key, occ) = match locate(cx, cal, id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mb = cx.mb();
    let seq = mb.next_seq();
    let ev = match occ {
        Some(start) => {
            let ev = mb.calendar.events.get_mut(&key).expect("located");
            ev.cancelled.push(start);
            ev.seq = seq;
            ev.change_key += 1;
            ev.clone()
        }
        None => {
            let ev = mb.calendar.events.remove(&key).expect("located");
            mb.calendar.removed.push((seq, ev.clone()));
            let mut gone = ev.clone();
            gone.attendees.clear();
            // "Deleting the event on the organizer's calendar sends a cancellation message to
            // the meeting attendees" (Graph, Delete event): their copies are cancelled.
            if ev.is_organizer {
                let organizer = cx.user.clone();
                invite(cx.all, &organizer, &gone);
            }
            return Reply::no_content();
        }
    };
    if ev.is_organizer {
        let organizer = cx.user.clone();
        invite(cx.all, &organizer, &ev);
    }
    Reply::no_content()
}

/// accept / tentativelyAccept / decline `{comment, sendResponse}`: the attendee's own copy
/// takes the response; with `sendResponse` (default true) the organizer's copy shows it on
/// the attendee. An occurrence's response applies to its series in the emulator.
pub fn respond(cx: &mut Cx<'_, '_>, id: &str, action: &str) -> Reply {
    let (key, _) = match locate(cx, None, id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let body = cx.req.body;
    if let Some(c) = field(body, "comment") {
        if !c.is_string() {
            return bad("comment must be a string");
        }
    }
    let send = field(body, "sendResponse")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let (response, show_as) = match action.to_ascii_lowercase().as_str() {
        "accept" => ("accepted", "busy"),
        "tentativelyaccept" => ("tentativelyAccepted", "tentative"),
        _ => ("declined", "free"),
    };
    let me = cx.mb_ref().user.email.clone();
    let mb = cx.mb();
    let seq = mb.next_seq();
    let ev = mb.calendar.events.get_mut(&key).expect("located");
    if ev.is_organizer {
        return bad(
            "Your request can't be completed. You can't respond to a meeting you organized.",
        );
    }
    let now = Utc::now();
    ev.response = response.into();
    ev.response_time = Some(now);
    ev.show_as = show_as.into();
    ev.seq = seq;
    ev.change_key += 1;
    let (uid, organizer) = (ev.ical_uid.clone(), ev.organizer.address.clone());
    if send {
        if let Some(okey) = resolve_user(cx.all, &organizer) {
            if let Some(omb) = cx.all.get_mut(&okey) {
                let seq = omb.next_seq();
                if let Some(oev) = omb
                    .calendar
                    .events
                    .values_mut()
                    .find(|e| e.ical_uid == uid && e.is_organizer)
                {
                    for a in oev
                        .attendees
                        .iter_mut()
                        .filter(|a| a.addr.address.eq_ignore_ascii_case(&me))
                    {
                        a.response = response.into();
                        a.time = Some(now);
                    }
                    oev.seq = seq;
                    oev.change_key += 1;
                }
            }
        }
    }
    Reply::accepted()
}
