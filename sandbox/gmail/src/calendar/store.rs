//! The calendar state: every event once, as its organizer wrote it, seen by the organizer and by
//! each attendee who is a user of this emulator (their copies share the event: an attendee's
//! answer is on the organizer's copy at once); a change clock for sync tokens.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::time::{instance_suffix, instant, occurrences, render_time};
use crate::error::{ApiError, ApiResult};

/// How many instances one listing expands a series into at most.
pub const MAX_INSTANCES: u16 = 2_000;

pub(crate) struct Ev {
    /// The organizer (an emulated user's address).
    pub owner: String,
    /// The event in Google's wire form, without the per-viewer `self` flags.
    pub body: Value,
    /// The clock value of the last change.
    pub changed: u64,
    /// Attendees for whom the event is gone (removed from the list, or deleted their copy):
    /// a sync shows it to them as cancelled.
    pub gone_for: BTreeSet<String>,
}

#[derive(Default)]
pub(crate) struct CalStore {
    pub events: BTreeMap<String, Ev>,
    /// Grows with every change; sync tokens carry it.
    pub clock: u64,
    /// Sync tokens older than this answer 410 (see `expire_sync_tokens`).
    pub valid_from: u64,
    next_id: u64,
    /// Each user's calendar time zone (default UTC).
    pub zones: BTreeMap<String, String>,
}

impl CalStore {
    pub fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// A new event id: base32hex (`0-9a-v`), as Google's.
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        let mut n = self.next_id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995;
        let digits = b"0123456789abcdefghijklmnopqrstuv";
        let mut id = String::new();
        for _ in 0..26 {
            id.push(digits[(n % 32) as usize] as char);
            n /= 32;
            if n == 0 {
                n = self.next_id.wrapping_add(0x2545_f491) * 31;
            }
        }
        id
    }

    pub fn zone_of(&self, user: &str) -> String {
        self.zones
            .get(user)
            .cloned()
            .unwrap_or_else(|| "UTC".into())
    }

    /// Whether `user` sees `ev` in their calendar (as organizer or invited attendee).
    pub fn sees(ev: &Ev, user: &str) -> bool {
        ev.owner == user || ev.gone_for.contains(user) || is_attendee(&ev.body, user)
    }
}

pub fn is_attendee(body: &Value, user: &str) -> bool {
    body["attendees"].as_array().into_iter().flatten().any(|a| {
        a["email"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case(user))
    })
}

/// `ev` as `viewer` sees it: `self` flags, `creator`, its status for them, times in `zone`.
pub fn render(ev: &Ev, body: &Value, viewer: &str, zone: Option<&str>) -> Value {
    let mut out = body.clone();
    out["kind"] = "calendar#event".into();
    out["etag"] = format!("\"{}\"", 3_000_000_000_000u64 + ev.changed).into();
    let id = out["id"].as_str().unwrap_or_default().to_string();
    out["htmlLink"] = format!("https://www.google.com/calendar/event?eid={id}").into();
    let me = |email: &str| email.eq_ignore_ascii_case(viewer);
    out["creator"] = json!({"email": ev.owner});
    out["organizer"] = json!({"email": ev.owner});
    if me(&ev.owner) {
        out["creator"]["self"] = true.into();
        out["organizer"]["self"] = true.into();
    }
    if let Some(list) = out["attendees"].as_array_mut() {
        for a in list {
            if a["email"].as_str().is_some_and(me) {
                a["self"] = true.into();
            }
        }
    }
    if ev.gone_for.contains(viewer) {
        out["status"] = "cancelled".into();
    }
    for key in ["start", "end", "originalStartTime"] {
        if out[key].is_object() {
            out[key] = render_time(&out[key], zone);
        }
    }
    out
}

/// One occurrence of `master` starting at `at` (Google's instance form: the series' fields, its
/// own id `{master}_{suffix}`, `recurringEventId`, `originalStartTime`).
pub fn instance(master: &Value, at: DateTime<Utc>) -> ApiResult<Value> {
    let start = instant(&master["start"])?;
    let end = instant(&master["end"])?;
    let all_day = master["start"]["date"].is_string();
    let mut out = master.clone();
    let master_id = master["id"].as_str().unwrap_or_default();
    out.as_object_mut().expect("event").remove("recurrence");
    out["id"] = format!("{master_id}_{}", instance_suffix(at, all_day)).into();
    out["recurringEventId"] = master_id.into();
    let zone = master["start"]["timeZone"].clone();
    let time = |t: DateTime<Utc>| {
        if all_day {
            json!({"date": t.format("%Y-%m-%d").to_string()})
        } else {
            let mut v = json!({"dateTime": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)});
            if zone.is_string() {
                v["timeZone"] = zone.clone();
            }
            v
        }
    };
    out["start"] = time(at);
    out["end"] = time(at + (end - start));
    out["originalStartTime"] = time(at);
    Ok(out)
}

/// The window an expansion without bounds covers: from a year back to two years ahead.
pub fn default_window() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = Utc::now();
    (now - Duration::days(365), now + Duration::days(730))
}

/// Whether `body` (a single event, an exception or an instance) overlaps `[lo, hi)`.
pub fn overlaps(body: &Value, lo: DateTime<Utc>, hi: DateTime<Utc>) -> bool {
    match (instant(&body["start"]), instant(&body["end"])) {
        (Ok(s), Ok(e)) => s < hi && (e > lo || (s == e && s >= lo)),
        _ => false,
    }
}

/// The event bodies `user` sees, expanded into instances when `single`, in `[lo, hi)`;
/// `changed_after`: only events changed after that clock value (a sync). Cancelled events only
/// when `deleted`.
pub fn listing(
    cal: &CalStore,
    user: &str,
    single: bool,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    changed_after: Option<u64>,
    deleted: bool,
) -> ApiResult<Vec<(String, Value)>> {
    let mut out: Vec<(DateTime<Utc>, String, Value)> = Vec::new();
    for (id, ev) in &cal.events {
        if !CalStore::sees(ev, user) || changed_after.is_some_and(|c| ev.changed <= c) {
            continue;
        }
        let cancelled = ev.body["status"] == "cancelled" || ev.gone_for.contains(user);
        if cancelled && !deleted {
            continue;
        }
        let recurring = ev.body["recurrence"].is_array();
        if single && recurring && !cancelled {
            for at in occurrences(&ev.body, lo, hi, MAX_INSTANCES)? {
                let inst = instance(&ev.body, at)?;
                let inst_id = inst["id"].as_str().unwrap_or_default().to_string();
                // An exception (a moved or cancelled occurrence) replaces the instance.
                if cal.events.contains_key(&inst_id) {
                    continue;
                }
                out.push((at, id.clone(), inst));
            }
            continue;
        }
        if !cancelled && !recurring && !overlaps(&ev.body, lo, hi) {
            continue;
        }
        let at = instant(&ev.body["start"]).unwrap_or(lo);
        out.push((at, id.clone(), ev.body.clone()));
    }
    out.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.2["id"].as_str().cmp(&b.2["id"].as_str()))
    });
    Ok(out
        .into_iter()
        .map(|(_, owner_id, b)| (owner_id, b))
        .collect())
}

/// Splits an instance id `{master}_{suffix}` and finds the occurrence it names.
pub fn find_instance(cal: &CalStore, id: &str) -> ApiResult<Option<(String, Value)>> {
    let Some((master_id, suffix)) = id.rsplit_once('_') else {
        return Ok(None);
    };
    let Some(master) = cal.events.get(master_id) else {
        return Ok(None);
    };
    if !master.body["recurrence"].is_array() || master.body["status"] == "cancelled" {
        return Ok(None);
    }
    let all_day = master.body["start"]["date"].is_string();
    let at = if all_day {
        chrono::NaiveDate::parse_from_str(suffix, "%Y%m%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
    } else {
        chrono::NaiveDateTime::parse_from_str(suffix, "%Y%m%dT%H%M%SZ")
            .ok()
            .map(|d| d.and_utc())
    };
    let Some(at) = at else {
        return Ok(None);
    };
    let found = occurrences(
        &master.body,
        at - Duration::seconds(1),
        at + Duration::seconds(1),
        4,
    )?
    .into_iter()
    .find(|t| *t == at);
    match found {
        Some(t) => Ok(Some((master_id.to_string(), instance(&master.body, t)?))),
        None => Err(ApiError::not_found()),
    }
}
