//! Graph calendars: `/calendars`, `/calendar`, `/events` (and under a calendar), `/calendarView`
//! with recurring series expanded, `/events/{id}/instances`, `accept` / `tentativelyAccept` /
//! `decline`, `/calendarView/delta`, and `/calendar/getSchedule`. A meeting lives once per
//! mailbox (same `iCalUId`): the organizer's copy and one per attendee who is an emulated user;
//! responses reach the organizer's copy, changes and cancellations the attendees'. Calendar
//! requests see every mailbox (free/busy, attendees), so they run here, outside the one-mailbox
//! routing of [`crate::graph`].

mod events;
pub mod model;
mod recur;
mod schedule;
pub mod time;
mod view;

use std::collections::{BTreeMap, HashMap};

use axum::http::Method;
use serde_json::{json, Value};

use crate::graph::Req;
use crate::model::{make_id, Addr, Mailbox};
use crate::reply::{self, Reply};
use crate::state::Inner;
use model::{Calendar, Event};
use time::Pref;

/// One mailbox's calendars and events.
#[derive(Debug, Clone)]
pub struct Store {
    pub calendars: Vec<Calendar>,
    pub events: BTreeMap<String, Event>,
    /// Deleted events with the change sequence of their removal (for delta).
    pub removed: Vec<(u64, Event)>,
}

impl Store {
    /// A mailbox's store with its default calendar, "Calendar".
    pub fn new(email: &str, name: &str) -> Store {
        Store {
            calendars: vec![Calendar {
                id: make_id("AAMkA", email, "calendar", 0),
                name: "Calendar".into(),
                color: "auto".into(),
                is_default: true,
                owner: Addr::new(name, email),
            }],
            events: BTreeMap::new(),
            removed: Vec::new(),
        }
    }

    pub fn default_calendar(&self) -> &Calendar {
        &self.calendars[0]
    }

    pub fn calendar(&self, id: &str) -> Option<&Calendar> {
        self.calendars.iter().find(|c| c.id == id)
    }
}

const ROOTS: &[&str] = &["calendar", "calendars", "events", "calendarView"];

fn is_calendar_path(rest: &[String]) -> bool {
    rest.first()
        .is_some_and(|f| ROOTS.iter().any(|r| r.eq_ignore_ascii_case(f)))
}

/// The delegated scopes a calendar request needs (any one of them), `None` for other paths.
pub fn scopes(rest: &[String], method: &Method, own: bool) -> Option<&'static [&'static str]> {
    if !is_calendar_path(rest) {
        return None;
    }
    let schedule = rest
        .last()
        .is_some_and(|l| l.eq_ignore_ascii_case("getSchedule"));
    // getSchedule is a POST that only reads
    Some(match (method == Method::GET || schedule, own) {
        (true, true) => &[
            "Calendars.ReadBasic",
            "Calendars.Read",
            "Calendars.ReadWrite",
        ],
        (true, false) => &["Calendars.Read.Shared", "Calendars.ReadWrite.Shared"],
        (false, true) => &["Calendars.ReadWrite"],
        (false, false) => &["Calendars.ReadWrite.Shared"],
    })
}

/// What a calendar handler works with: every mailbox (meetings span them), the target user,
/// the request and the zone to answer in.
pub struct Cx<'a, 'r> {
    pub all: &'a mut HashMap<String, Mailbox>,
    pub user: String,
    pub req: &'a Req<'r>,
    pub pref: Pref,
}

impl Cx<'_, '_> {
    pub fn mb(&mut self) -> &mut Mailbox {
        self.all
            .get_mut(&self.user)
            .expect("the target mailbox exists")
    }

    pub fn mb_ref(&self) -> &Mailbox {
        self.all.get(&self.user).expect("the target mailbox exists")
    }
}

impl Inner {
    /// Answers a calendar request, or `None` when the path is not a calendar one.
    pub fn calendar(&self, req: &Req<'_>, prefer: &str) -> Option<Reply> {
        if !is_calendar_path(req.segs) {
            return None;
        }
        let mut all = self.mailboxes.lock().expect("mailboxes");
        if !all.contains_key(&req.user) {
            return Some(reply::error(
                404,
                "ErrorInvalidUser",
                "The mailbox is gone.",
            ));
        }
        let mut cx = Cx {
            all: &mut all,
            user: req.user.clone(),
            req,
            pref: Pref::from_prefer(prefer),
        };
        Some(route(&mut cx))
    }
}

fn route(cx: &mut Cx<'_, '_>) -> Reply {
    let req = cx.req;
    let m = req.method;
    let get = *m == Method::GET;
    let post = *m == Method::POST;
    let patch = *m == Method::PATCH;
    let delete = *m == Method::DELETE;
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    // `/calendar/...` is the default calendar.
    let default_id = cx.mb_ref().calendar.default_calendar().id.clone();
    let (cal, rest): (Option<String>, Vec<&str>) = match segs.as_slice() {
        ["calendar", "getSchedule"] if post => return schedule::get_schedule(cx),
        ["calendar"] if get => return calendar_get(cx, &default_id),
        ["calendars"] if get => return calendars_list(cx),
        ["calendars", id] if get => return calendar_get(cx, id),
        ["calendar", tail @ ..] => (Some(default_id), tail.to_vec()),
        ["calendars", id, tail @ ..] => {
            if cx.mb_ref().calendar.calendar(id).is_none() {
                return reply::not_found("calendar");
            }
            (Some(id.to_string()), tail.to_vec())
        }
        other => (None, other.to_vec()),
    };
    let cal_ref = cal.as_deref();
    match rest.as_slice() {
        ["events"] if get => events::list(cx, cal_ref),
        ["events"] if post => events::create(cx, cal_ref),
        ["events", id] if get => events::get(cx, cal_ref, id),
        ["events", id] if patch => events::update(cx, cal_ref, id),
        ["events", id] if delete => events::delete(cx, cal_ref, id),
        ["events", id, "instances"] if get => view::instances(cx, id),
        ["events", id, action] if post && events::is_response(action) => {
            events::respond(cx, id, action)
        }
        ["calendarView"] if get => view::calendar_view(cx, cal_ref),
        ["calendarView", "delta" | "delta()"] if get => view::delta(cx, cal_ref),
        _ => reply::error(
            405,
            "Request_BadRequest",
            format!(
                "The {} method is not supported on this calendar resource by the emulator.",
                req.method
            ),
        ),
    }
}

fn calendars_list(cx: &mut Cx<'_, '_>) -> Reply {
    if let Err(e) = cx
        .req
        .query
        .check_allowed(&["select", "top", "skip", "count", "filter", "orderby"])
    {
        return e;
    }
    let items: Vec<Value> = cx
        .mb_ref()
        .calendar
        .calendars
        .iter()
        .map(Calendar::to_json)
        .collect();
    crate::folders::page(items, cx.req, cx.req.page_size.unwrap_or(10))
}

fn calendar_get(cx: &mut Cx<'_, '_>, id: &str) -> Reply {
    if let Err(e) = cx.req.query.check_allowed(&["select", "expand"]) {
        return e;
    }
    match cx.mb_ref().calendar.calendar(id) {
        Some(c) => Reply::ok(select(c.to_json(), cx.req)),
        None => reply::not_found("calendar"),
    }
}

/// `$select` on one item.
pub fn select(v: Value, req: &Req<'_>) -> Value {
    match (v, req.query.select()) {
        (Value::Object(m), Some(fields)) => Value::Object(crate::odata::select(m, &fields)),
        (v, _) => v,
    }
}

/// Test and demo hooks for calendars.
impl crate::OutlookSandbox {
    /// Adds a user with an empty mailbox and calendar (no-op when the address exists), so a
    /// meeting can have several emulated attendees.
    pub fn add_user(&self, email: &str, given_name: &str, surname: &str) {
        let mut all = self.inner.mailboxes.lock().expect("mailboxes");
        let key = email.to_ascii_lowercase();
        if all.contains_key(&key) {
            return;
        }
        let n = all.len() as u64 + 1;
        all.insert(
            key.clone(),
            Mailbox::new(crate::seed::user(&key, given_name, surname, n)),
        );
    }

    /// The events of a user's calendars as Graph renders them (series unexpanded, times in UTC).
    pub fn events_json(&self, user: &str) -> Vec<Value> {
        let all = self.inner.mailboxes.lock().expect("mailboxes");
        let Some(key) = crate::state::resolve_user(&all, user) else {
            return Vec::new();
        };
        all[&key]
            .calendar
            .events
            .values()
            .map(|e| Value::Object(e.to_json(None, &Pref::default())))
            .collect()
    }
}

/// The demo calendars: Ada's weekly sync with Grace (a Teams meeting Grace accepted), a review
/// Grace has not answered yet, and a private appointment of Grace's.
pub fn seed_demo(all: &mut HashMap<String, Mailbox>) {
    let ada = crate::seed::ADA;
    let grace = crate::seed::GRACE;
    let attendee =
        json!([{"emailAddress": {"address": grace, "name": "Grace Hopper"}, "type": "required"}]);
    let weekly = events::seed(
        all,
        ada,
        &json!({
            "subject": "Weekly sync",
            "body": {"contentType": "text", "content": "Status, blockers, next steps."},
            "start": {"dateTime": "2026-01-05T09:30:00", "timeZone": "GMT Standard Time"},
            "end": {"dateTime": "2026-01-05T10:00:00", "timeZone": "GMT Standard Time"},
            "attendees": attendee,
            "isOnlineMeeting": true,
            "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                           "range": {"type": "noEnd", "startDate": "2026-01-05"}},
        }),
    );
    events::seed(
        all,
        ada,
        &json!({
            "subject": "Quarterly review",
            "start": {"dateTime": "2026-12-08T14:00:00", "timeZone": "GMT Standard Time"},
            "end": {"dateTime": "2026-12-08T15:00:00", "timeZone": "GMT Standard Time"},
            "location": {"displayName": "Room 4"},
            "attendees": attendee,
        }),
    );
    events::seed(
        all,
        grace,
        &json!({
            "subject": "Dentist",
            "start": {"dateTime": "2026-12-09T08:00:00", "timeZone": "Eastern Standard Time"},
            "end": {"dateTime": "2026-12-09T09:00:00", "timeZone": "Eastern Standard Time"},
            "sensitivity": "private",
        }),
    );
    // Grace accepted the weekly sync.
    if let Some(uid) = weekly {
        let now = chrono::Utc::now();
        for (user, organizer) in [(grace, false), (ada, true)] {
            let Some(mb) = all.get_mut(user) else {
                continue;
            };
            let seq = mb.next_seq();
            if let Some(ev) = mb.calendar.events.values_mut().find(|e| e.ical_uid == uid) {
                if organizer {
                    for a in &mut ev.attendees {
                        a.response = "accepted".into();
                        a.time = Some(now);
                    }
                } else {
                    ev.response = "accepted".into();
                    ev.response_time = Some(now);
                    ev.show_as = "busy".into();
                }
                ev.seq = seq;
            }
        }
    }
}
