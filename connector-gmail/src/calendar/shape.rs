//! Google Calendar's wire records <-> the shared calendar shape (`specs/schema/calendar.json`).

use connector_core::calendar::params::TimeIn;
use connector_core::mail::parse_address;
use connector_core::ConnectorError;
use serde_json::{json, Map, Value};

fn s(v: &Value) -> Value {
    match v.as_str() {
        Some(t) => Value::from(t),
        None => Value::Null,
    }
}

/// `needsAction` -> `needs_action`; the other three keep their names.
pub fn response_status(wire: &str) -> &'static str {
    match wire {
        "accepted" => "accepted",
        "tentative" => "tentative",
        "declined" => "declined",
        _ => "needs_action",
    }
}

/// A Google `EventDateTime` as `{date_time, time_zone}` or `{date}`.
pub fn time(v: &Value) -> Value {
    if let Some(d) = v["date"].as_str() {
        return json!({ "date": d });
    }
    json!({ "date_time": s(&v["dateTime"]), "time_zone": s(&v["timeZone"]) })
}

fn person(v: &Value) -> Value {
    if !v.is_object() {
        return Value::Null;
    }
    let mut p =
        json!({ "email": v["email"].as_str().unwrap_or_default(), "name": s(&v["displayName"]) });
    if v["self"].as_bool() == Some(true) {
        p["self"] = Value::Bool(true);
    }
    p
}

fn attendee(v: &Value) -> Value {
    let flag = |k: &str| v[k].as_bool().unwrap_or(false);
    json!({
        "email": v["email"].as_str().unwrap_or_default(),
        "name": s(&v["displayName"]),
        "response_status": response_status(v["responseStatus"].as_str().unwrap_or("")),
        "comment": s(&v["comment"]),
        "optional": flag("optional"),
        "organizer": flag("organizer"),
        "resource": flag("resource"),
        "self": flag("self"),
    })
}

fn online_meeting(v: &Value) -> Value {
    let video = v["conferenceData"]["entryPoints"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["entryPointType"] == "video")
        .and_then(|e| e["uri"].as_str());
    let url = video.or_else(|| v["hangoutLink"].as_str());
    let Some(url) = url else {
        return Value::Null;
    };
    let provider = match v["conferenceData"]["conferenceSolution"]["key"]["type"].as_str() {
        Some("hangoutsMeet") => "google_meet",
        None if url.contains("meet.google.com") => "google_meet",
        _ => "other",
    };
    json!({ "url": url, "provider": provider })
}

/// A Google `Event` in the shared shape, its sender-controlled text marked
/// (`untrusted_fields`). `calendar_id` is the calendar it was read from.
pub fn event(v: &Value, calendar_id: &str) -> Value {
    let mut out = event_record(v, calendar_id);
    connector_core::calendar::mark_untrusted(&mut out);
    out
}

fn event_record(v: &Value, calendar_id: &str) -> Value {
    let status = match v["status"].as_str() {
        Some("tentative") => "tentative",
        Some("cancelled") => "cancelled",
        _ => "confirmed",
    };
    let mut out = Map::new();
    out.insert("id".into(), s(&v["id"]));
    out.insert("status".into(), status.into());
    if status == "cancelled" && v.get("start").is_none() {
        // A removal in an incremental sync: Google sends little more than the id.
        out.insert("calendar_id".into(), calendar_id.into());
        return Value::Object(out);
    }
    let attendees: Vec<Value> = v["attendees"]
        .as_array()
        .into_iter()
        .flatten()
        .map(attendee)
        .collect();
    let mine = attendees
        .iter()
        .find(|a| a["self"] == true)
        .map(|a| a["response_status"].clone())
        .unwrap_or(Value::Null);
    let all_day = v["start"]["date"].is_string();
    let show_as = match v["transparency"].as_str() {
        Some("transparent") => "free",
        _ => "busy",
    };
    let visibility = v["visibility"]
        .as_str()
        .filter(|x| matches!(*x, "public" | "private" | "confidential"))
        .unwrap_or("default");
    let fields = [
        ("calendar_id", Value::from(calendar_id)),
        ("ical_uid", s(&v["iCalUID"])),
        ("series_id", s(&v["recurringEventId"])),
        ("summary", s(&v["summary"])),
        ("description", s(&v["description"])),
        ("location", s(&v["location"])),
        ("start", time(&v["start"])),
        ("end", time(&v["end"])),
        ("all_day", Value::Bool(all_day)),
        (
            "original_start",
            if v["originalStartTime"].is_object() {
                time(&v["originalStartTime"])
            } else {
                Value::Null
            },
        ),
        (
            "recurrence",
            v["recurrence"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into(),
        ),
        ("organizer", person(&v["organizer"])),
        ("attendees", attendees.into()),
        ("response_status", mine),
        ("online_meeting", online_meeting(v)),
        ("show_as", show_as.into()),
        ("visibility", visibility.into()),
        ("web_link", s(&v["htmlLink"])),
        ("created", s(&v["created"])),
        ("updated", s(&v["updated"])),
    ];
    for (k, val) in fields {
        out.insert(k.into(), val);
    }
    Value::Object(out)
}

/// A Google `CalendarListEntry` in the shared shape.
pub fn calendar(v: &Value) -> Value {
    let role = v["accessRole"].as_str().unwrap_or("");
    let primary = v["primary"].as_bool().unwrap_or(false);
    let id = v["id"].as_str().unwrap_or_default();
    json!({
        "id": id,
        "name": v["summaryOverride"].as_str().or(v["summary"].as_str()).unwrap_or(id),
        "description": s(&v["description"]),
        "time_zone": s(&v["timeZone"]),
        "primary": primary,
        "can_edit": matches!(role, "owner" | "writer"),
        "color": s(&v["backgroundColor"]),
        "owner": if role == "owner" && id.contains('@') { json!({"email": id, "name": null}) } else { Value::Null },
    })
}

/// Whether an RFC 3339 date-time carries its offset (`Z` or `±hh:mm`).
fn has_offset(t: &str) -> bool {
    let Some((_, clock)) = t.split_once('T') else {
        return false;
    };
    clock.ends_with('Z') || clock.ends_with('z') || clock.contains('+') || clock.contains('-')
}

/// A shared `{date_time, time_zone}` / `{date}` param as Google's `EventDateTime`.
/// `recurring`: the event repeats, so Google needs the zone the rule expands in.
pub fn wire_time(t: &TimeIn, field: &str, recurring: bool) -> Result<Value, ConnectorError> {
    if let Some(d) = &t.date {
        return Ok(json!({ "date": d }));
    }
    let dt = t.date_time.as_deref().unwrap_or_default();
    let tz = t.time_zone.as_deref();
    if tz.is_none() && !has_offset(dt) {
        return Err(ConnectorError::invalid_params(format!(
            "`{field}.date_time` {dt:?} has no UTC offset: add `{field}.time_zone` (e.g. \"Europe/Berlin\") or write the offset (+02:00)"
        )));
    }
    if tz.is_none() && recurring {
        return Err(ConnectorError::invalid_params(format!(
            "a recurring event needs `{field}.time_zone` (the zone its rule repeats in, e.g. \"Europe/Berlin\")"
        )));
    }
    let mut out = json!({ "dateTime": dt });
    if let Some(tz) = tz {
        out["timeZone"] = tz.into();
    }
    Ok(out)
}

/// Attendees as Google wants them, from the address params.
pub fn wire_attendees(
    required: &[String],
    optional: &[String],
) -> Result<Vec<Value>, ConnectorError> {
    let mut out = Vec::new();
    for (list, field, opt) in [
        (required, "attendees", false),
        (optional, "optional_attendees", true),
    ] {
        for a in list {
            let m = parse_address(a, field).map_err(|e| *e)?;
            let mut w = json!({ "email": m.email });
            if let Some(n) = m.name {
                w["displayName"] = n.into();
            }
            if opt {
                w["optional"] = true.into();
            }
            out.push(w);
        }
    }
    Ok(out)
}

/// `external_only` -> `externalOnly`.
pub fn send_updates(v: &str) -> &'static str {
    match v {
        "none" => "none",
        "external_only" => "externalOnly",
        _ => "all",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_events_take_the_shared_shape() {
        let wire = json!({
            "id": "e1", "status": "confirmed", "summary": "Sync", "iCalUID": "e1@google.com",
            "start": {"dateTime": "2026-03-30T10:00:00+02:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-03-30T10:30:00+02:00", "timeZone": "Europe/Berlin"},
            "organizer": {"email": "ada@example.com", "self": true},
            "attendees": [
                {"email": "ada@example.com", "organizer": true, "self": true, "responseStatus": "accepted"},
                {"email": "bob@example.com", "responseStatus": "needsAction"}],
            "hangoutLink": "https://meet.google.com/abc-defg-hij",
            "transparency": "transparent", "recurringEventId": "e0",
            "originalStartTime": {"dateTime": "2026-03-30T10:00:00+02:00"}
        });
        let e = event(&wire, "primary");
        assert_eq!(e["attendees"][1]["response_status"], "needs_action");
        assert_eq!(e["response_status"], "accepted");
        assert_eq!(e["online_meeting"]["provider"], "google_meet");
        assert_eq!(e["show_as"], "free");
        assert_eq!(e["series_id"], "e0");
        assert_eq!(e["start"]["time_zone"], "Europe/Berlin");
        assert_eq!(e["original_start"]["time_zone"], Value::Null);
        let all_day = event(
            &json!({"id": "d", "start": {"date": "2026-05-01"}, "end": {"date": "2026-05-02"}}),
            "c",
        );
        assert_eq!(all_day["all_day"], true);
        assert_eq!(all_day["end"], json!({"date": "2026-05-02"}));
    }

    #[test]
    fn times_without_offset_need_a_zone_and_recurrences_always_do() {
        let time = |v: Value| -> TimeIn { serde_json::from_value(v).unwrap() };
        let local = time(json!({"date_time": "2026-03-30T10:00:00"}));
        let err = wire_time(&local, "start", false).unwrap_err();
        assert!(err.message.contains("start.time_zone"), "{}", err.message);
        let offset = time(json!({"date_time": "2026-03-30T10:00:00+02:00"}));
        assert!(wire_time(&offset, "start", false).is_ok());
        assert!(wire_time(&offset, "start", true).is_err());
        let zoned = time(json!({"date_time": "2026-03-30T10:00:00", "time_zone": "Europe/Berlin"}));
        assert_eq!(
            wire_time(&zoned, "start", true).unwrap(),
            json!({"dateTime": "2026-03-30T10:00:00", "timeZone": "Europe/Berlin"})
        );
    }
}
