//! Graph calendar records -> the shared calendar shape (`specs/schema/calendar.json`): times as
//! `{date_time (RFC 3339 with offset), time_zone (IANA)}` or `{date}`, attendees with
//! `response_status` accepted / tentative / declined / needs_action, recurrence as RRULE lines,
//! the Teams link as `online_meeting`.

pub mod recurrence;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

/// The `transactionId` of a create with this idempotency key. Graph keeps it on the event and
/// uses it "to avoid redundant POST operations in case of client retries to create the same
/// event" (Graph's event resource, `transactionId`): a repeated create with the same id does
/// not make a second event.
pub fn transaction_id(key: &str) -> String {
    connector_core::mail::idempotency_marker(key)
}

/// A zone by IANA or Windows name (Graph answers either).
pub fn zone(name: &str) -> Option<Tz> {
    let name = name.trim();
    connector_core::windows_zones::iana_for_windows(name)
        .unwrap_or(name)
        .parse()
        .ok()
}

/// The IANA name of a zone Graph named, `None` when unknown (e.g. a custom zone).
pub fn iana(name: &str) -> Option<String> {
    zone(name).map(|z| z.name().to_string())
}

/// A Graph `dateTimeTimeZone` as an instant.
pub fn instant(v: &Value) -> Option<DateTime<Utc>> {
    let dt = v.get("dateTime")?.as_str()?;
    let local =
        NaiveDateTime::parse_from_str(dt.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let tz = zone(v.get("timeZone").and_then(Value::as_str).unwrap_or("UTC"))?;
    Some(local.and_local_timezone(tz).earliest()?.with_timezone(&Utc))
}

/// RFC 3339 of an instant in a zone, with that zone's offset then.
pub fn rfc3339_in(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Graph's response types -> the shape's.
pub fn response_status(r: &str) -> Option<&'static str> {
    Some(match r {
        "accepted" | "organizer" => "accepted",
        "tentativelyAccepted" => "tentative",
        "declined" => "declined",
        "none" | "notResponded" => "needs_action",
        _ => return None,
    })
}

fn show_as(s: &str) -> &'static str {
    match s {
        "free" => "free",
        "busy" => "busy",
        "tentative" => "tentative",
        "oof" => "oof",
        "workingElsewhere" => "working_elsewhere",
        _ => "unknown",
    }
}

fn provider(p: &str) -> &'static str {
    match p {
        "teamsForBusiness" => "teams",
        "skypeForBusiness" | "skypeForConsumer" => "skype",
        _ => "other",
    }
}

fn nonempty(v: Option<&Value>) -> Value {
    match v.and_then(Value::as_str) {
        Some(s) if !s.is_empty() => json!(s),
        _ => Value::Null,
    }
}

/// One time of an event: `{date}` when all day, else the instant in `view` (or the event's
/// own zone) with the event's IANA zone.
fn time(v: &Value, all_day: bool, own: Option<Tz>, view: Option<Tz>) -> Value {
    let dt = v.get("dateTime").and_then(Value::as_str).unwrap_or("");
    if all_day {
        return json!({"date": dt.get(..10).unwrap_or(dt)});
    }
    let Some(t) = instant(v) else {
        return json!({"date_time": dt, "time_zone": Value::Null});
    };
    let shown = view.or(own).unwrap_or(Tz::UTC);
    json!({
        "date_time": rfc3339_in(t, shown),
        "time_zone": own.map(|z| z.name().to_string()),
    })
}

/// A Graph event -> the shared event, its sender-controlled text marked
/// (`untrusted_fields`). `calendar_id` as the caller named it; `view` is the zone to give
/// date_time values in (default each event's own zone).
pub fn event(e: &Value, calendar_id: Option<&str>, view: Option<Tz>) -> Value {
    let mut out = event_record(e, calendar_id, view);
    connector_core::calendar::mark_untrusted(&mut out);
    out
}

fn event_record(e: &Value, calendar_id: Option<&str>, view: Option<Tz>) -> Value {
    if e.get("@removed").is_some() {
        return json!({"id": e["id"], "status": "cancelled"});
    }
    let all_day = e["isAllDay"].as_bool().unwrap_or(false);
    let own_start = e["originalStartTimeZone"].as_str().and_then(zone);
    let own_end = e["originalEndTimeZone"]
        .as_str()
        .and_then(zone)
        .or(own_start);
    let organizer_email = e["organizer"]["emailAddress"]["address"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let is_organizer = e["isOrganizer"].as_bool().unwrap_or(false);
    let attendees: Vec<Value> = e["attendees"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let email = a["emailAddress"]["address"].as_str().unwrap_or("");
            let kind = a["type"].as_str().unwrap_or("required");
            json!({
                "email": email,
                "name": nonempty(a["emailAddress"].get("name")),
                "response_status": response_status(a["status"]["response"].as_str().unwrap_or("none")).unwrap_or("needs_action"),
                "optional": kind == "optional",
                "resource": kind == "resource",
                "organizer": !organizer_email.is_empty() && email.eq_ignore_ascii_case(&organizer_email),
            })
        })
        .collect();
    let own_response = if is_organizer {
        Value::Null
    } else {
        e["responseStatus"]["response"]
            .as_str()
            .and_then(response_status)
            .map_or(Value::Null, Value::from)
    };
    let online = match e["onlineMeeting"]["joinUrl"].as_str() {
        Some(url) if !url.is_empty() => json!({
            "url": url,
            "provider": provider(e["onlineMeetingProvider"].as_str().unwrap_or("")),
        }),
        _ => Value::Null,
    };
    let mut out = json!({
        "id": e["id"],
        "calendar_id": calendar_id,
        "ical_uid": nonempty(e.get("iCalUId")),
        "series_id": nonempty(e.get("seriesMasterId")),
        "status": if e["isCancelled"].as_bool().unwrap_or(false) { "cancelled" } else { "confirmed" },
        "summary": e["subject"],
        "description": nonempty(e["body"].get("content")),
        "location": nonempty(e["location"].get("displayName")),
        "start": time(&e["start"], all_day, own_start, view),
        "end": time(&e["end"], all_day, own_end, view),
        "all_day": all_day,
        "original_start": Value::Null,
        "organizer": if organizer_email.is_empty() { Value::Null } else { json!({
            "email": organizer_email,
            "name": nonempty(e["organizer"]["emailAddress"].get("name")),
            "self": is_organizer,
        })},
        "attendees": attendees,
        "response_status": own_response,
        "online_meeting": online,
        "show_as": show_as(e["showAs"].as_str().unwrap_or("")),
        "visibility": match e["sensitivity"].as_str() {
            Some("private") | Some("personal") => "private",
            Some("confidential") => "confidential",
            _ => "default",
        },
        "web_link": nonempty(e.get("webLink")),
        "created": nonempty(e.get("createdDateTime")),
        "updated": nonempty(e.get("lastModifiedDateTime")),
    });
    if let Some(rule) = e
        .get("recurrence")
        .filter(|r| r.is_object())
        .and_then(recurrence::from_graph)
    {
        out["recurrence"] = json!([rule]);
    }
    out
}

/// A Graph calendar -> the shared calendar.
pub fn calendar(c: &Value) -> Value {
    let color = match c["hexColor"].as_str() {
        Some(h) if !h.is_empty() => json!(h),
        _ => nonempty(c.get("color")),
    };
    json!({
        "id": c["id"],
        "name": c["name"].as_str().unwrap_or(""),
        "description": Value::Null,
        "time_zone": Value::Null,
        "primary": c["isDefaultCalendar"].as_bool().unwrap_or(false),
        "can_edit": c["canEdit"].as_bool().unwrap_or(false),
        "color": color,
        "owner": match c["owner"]["address"].as_str() {
            Some(a) => json!({"email": a, "name": nonempty(c["owner"].get("name"))}),
            None => Value::Null,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_carry_the_offset_of_the_events_zone_at_that_instant() {
        let e = json!({
            "id": "e", "isAllDay": false, "originalStartTimeZone": "W. Europe Standard Time",
            "originalEndTimeZone": "W. Europe Standard Time",
            "start": {"dateTime": "2026-10-20T08:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-10-27T09:00:00.0000000", "timeZone": "UTC"},
            "responseStatus": {"response": "notResponded"}, "isOrganizer": false,
            "attendees": [{"type": "optional", "status": {"response": "tentativelyAccepted"},
                           "emailAddress": {"name": "Ada", "address": "ada@example.com"}}],
        });
        let v = event(&e, Some("primary"), None);
        assert_eq!(v["start"]["date_time"], "2026-10-20T10:00:00+02:00");
        assert_eq!(v["end"]["date_time"], "2026-10-27T10:00:00+01:00");
        assert_eq!(v["start"]["time_zone"], "Europe/Berlin");
        assert_eq!(v["response_status"], "needs_action");
        assert_eq!(v["attendees"][0]["response_status"], "tentative");
        assert_eq!(v["attendees"][0]["optional"], true);
        let utc = event(&e, None, Some(Tz::UTC));
        assert_eq!(utc["start"]["date_time"], "2026-10-20T08:00:00Z");
    }

    #[test]
    fn removed_items_are_cancelled() {
        let v = event(
            &json!({"id": "x", "@removed": {"reason": "deleted"}}),
            None,
            None,
        );
        assert_eq!(v["id"], "x");
        assert_eq!(v["status"], "cancelled");
        // Marked like every event record (the shared shape requires `untrusted_fields`).
        assert!(v["untrusted_fields"].is_array(), "{v}");
        assert_eq!(v.as_object().unwrap().len(), 3, "{v}");
    }
}
