//! `POST /calendar/getSchedule {schedules, startTime, endTime, availabilityViewInterval}`:
//! free/busy of several people computed from their events. `availabilityView` has one digit
//! per interval (0 free, 1 tentative, 2 busy, 3 out of office, 4 working elsewhere), as
//! Graph's "Get free/busy schedule" documents.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::events::field;
use super::time;
use super::Cx;
use crate::reply::{self, Reply};
use crate::state::resolve_user;

fn bad(message: impl Into<String>) -> Reply {
    reply::error(400, "ErrorInvalidRequest", message)
}

fn instant(body: &Value, name: &str) -> Result<DateTime<Utc>, Reply> {
    let v = field(body, name).ok_or_else(|| bad(format!("{name} is required.")))?;
    let (local, _, tz) = time::parse_dttz(v).map_err(bad)?;
    Ok(time::to_utc(local, tz))
}

/// Which status wins when instances overlap: out of office, busy, tentative, elsewhere, free.
fn rank(d: char) -> u8 {
    match d {
        '3' => 4,
        '2' => 3,
        '1' => 2,
        '4' => 1,
        _ => 0,
    }
}

pub fn get_schedule(cx: &mut Cx<'_, '_>) -> Reply {
    let body = cx.req.body;
    let Some(schedules) = field(body, "schedules").and_then(Value::as_array) else {
        return bad("schedules is required: the SMTP addresses to get free/busy for.");
    };
    if schedules.is_empty() || schedules.len() > 100 {
        return bad("schedules must name between 1 and 100 addresses.");
    }
    let (from, to) = match (instant(body, "startTime"), instant(body, "endTime")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    if to <= from || to - from > Duration::days(62) {
        return bad("endTime must be after startTime, at most 62 days later.");
    }
    let interval = field(body, "availabilityViewInterval")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    if !(5..=1440).contains(&interval) {
        return bad("availabilityViewInterval must be between 5 and 1440 minutes.");
    }
    let step = Duration::minutes(interval);
    let slots = ((to - from).num_minutes() + interval - 1) / interval;
    let mut value = Vec::new();
    for s in schedules {
        let Some(address) = s.as_str() else {
            return bad("schedules must be strings");
        };
        let Some(mb) = resolve_user(cx.all, address).and_then(|k| cx.all.get(&k)) else {
            value.push(json!({
                "scheduleId": address,
                "availabilityView": "",
                "scheduleItems": [],
                "error": {"message": format!("The specified recipient '{address}' was not found."), "responseCode": "ErrorMailRecipientNotFound"},
            }));
            continue;
        };
        let mut items = Vec::new();
        let mut view: Vec<char> = vec!['0'; slots.max(0) as usize];
        for ev in mb.calendar.events.values() {
            if ev.is_cancelled || ev.show_as == "free" {
                continue;
            }
            let digit = ev.busy_digit();
            for inst in ev.instances(from, to) {
                for (n, slot) in view.iter_mut().enumerate() {
                    let s0 = from + step * n as i32;
                    let s1 = s0 + step;
                    if inst.start < s1 && inst.end > s0 && rank(digit) > rank(*slot) {
                        *slot = digit;
                    }
                }
                let private = ev.sensitivity == "private";
                items.push((
                    inst.start,
                    json!({
                        "isPrivate": private,
                        "status": ev.show_as,
                        "subject": if private { String::new() } else { ev.subject.clone() },
                        "location": ev.location.as_ref().and_then(|l| l["displayName"].as_str()).unwrap_or(""),
                        "start": time::render(inst.start, &cx.pref),
                        "end": time::render(inst.end, &cx.pref),
                    }),
                ));
            }
        }
        items.sort_by_key(|(start, _)| *start);
        let hours = &mb.settings["workingHours"];
        value.push(json!({
            "scheduleId": address,
            "availabilityView": view.into_iter().collect::<String>(),
            "scheduleItems": items.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            "workingHours": {
                "daysOfWeek": hours["daysOfWeek"],
                "startTime": hours["startTime"],
                "endTime": hours["endTime"],
                "timeZone": {"name": hours["timeZone"]["name"]},
            },
        }));
    }
    Reply::ok(json!({ "value": value }))
}
