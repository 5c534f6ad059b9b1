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

static NULL: Value = Value::Null;

/// The members of a JSON object named in `names`, read in one pass over its entries: `out[i]`
/// is the member named `names[i]`, or `Null` (as `v[name]` would give, without hashing the
/// name once per field). For the small records below (an attendee, a time).
fn members<'a, const N: usize>(v: &'a Value, names: [&str; N]) -> [&'a Value; N] {
    let mut out = [&NULL; N];
    if let Value::Object(m) = v {
        for (k, x) in m {
            if let Some(i) = names.iter().position(|n| *n == k.as_str()) {
                out[i] = x;
            }
        }
    }
    out
}

/// A Google `EventDateTime` as `{date_time, time_zone}` or `{date}`.
pub fn time(v: &Value) -> Value {
    let [date, date_time, zone] = members(v, ["date", "dateTime", "timeZone"]);
    let mut out = Map::with_capacity(2);
    if let Some(d) = date.as_str() {
        out.insert("date".into(), d.into());
    } else {
        out.insert("date_time".into(), s(date_time));
        out.insert("time_zone".into(), s(zone));
    }
    Value::Object(out)
}

fn person(v: &Value) -> Value {
    if !v.is_object() {
        return Value::Null;
    }
    let [email, name, me] = members(v, ["email", "displayName", "self"]);
    let mut p = Map::with_capacity(3);
    p.insert("email".into(), email.as_str().unwrap_or_default().into());
    p.insert("name".into(), s(name));
    if me.as_bool() == Some(true) {
        p.insert("self".into(), Value::Bool(true));
    }
    Value::Object(p)
}

fn attendee(v: &Value) -> Value {
    let [email, name, status, comment, optional, organizer, resource, me] = members(
        v,
        [
            "email",
            "displayName",
            "responseStatus",
            "comment",
            "optional",
            "organizer",
            "resource",
            "self",
        ],
    );
    let flag = |x: &Value| Value::Bool(x.as_bool().unwrap_or(false));
    let mut a = Map::with_capacity(8);
    a.insert("email".into(), email.as_str().unwrap_or_default().into());
    a.insert("name".into(), s(name));
    a.insert(
        "response_status".into(),
        response_status(status.as_str().unwrap_or("")).into(),
    );
    a.insert("comment".into(), s(comment));
    a.insert("optional".into(), flag(optional));
    a.insert("organizer".into(), flag(organizer));
    a.insert("resource".into(), flag(resource));
    a.insert("self".into(), flag(me));
    Value::Object(a)
}

fn online_meeting(conference: &Value, hangout_link: &Value) -> Value {
    let video = conference["entryPoints"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["entryPointType"] == "video")
        .and_then(|e| e["uri"].as_str());
    let url = video.or_else(|| hangout_link.as_str());
    let Some(url) = url else {
        return Value::Null;
    };
    let provider = match conference["conferenceSolution"]["key"]["type"].as_str() {
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

/// The members of a Google `Event` the shared shape reads, found in one pass over the event's
/// entries (a `match` on each name) instead of one hashed lookup per field: a listed event
/// costs its entries once. A member that is absent stays `None` (`v[name]` would be `Null`).
#[derive(Default)]
struct Wire<'a> {
    id: Option<&'a Value>,
    status: Option<&'a Value>,
    start: Option<&'a Value>,
    end: Option<&'a Value>,
    attendees: Option<&'a Value>,
    transparency: Option<&'a Value>,
    visibility: Option<&'a Value>,
    ical_uid: Option<&'a Value>,
    recurring_event_id: Option<&'a Value>,
    summary: Option<&'a Value>,
    description: Option<&'a Value>,
    location: Option<&'a Value>,
    original_start_time: Option<&'a Value>,
    recurrence: Option<&'a Value>,
    organizer: Option<&'a Value>,
    html_link: Option<&'a Value>,
    created: Option<&'a Value>,
    updated: Option<&'a Value>,
    conference_data: Option<&'a Value>,
    hangout_link: Option<&'a Value>,
}

impl<'a> Wire<'a> {
    fn read(v: &'a Value) -> Wire<'a> {
        let mut w = Wire::default();
        let Value::Object(m) = v else {
            return w;
        };
        for (k, x) in m {
            let slot = match k.as_str() {
                "id" => &mut w.id,
                "status" => &mut w.status,
                "start" => &mut w.start,
                "end" => &mut w.end,
                "attendees" => &mut w.attendees,
                "transparency" => &mut w.transparency,
                "visibility" => &mut w.visibility,
                "iCalUID" => &mut w.ical_uid,
                "recurringEventId" => &mut w.recurring_event_id,
                "summary" => &mut w.summary,
                "description" => &mut w.description,
                "location" => &mut w.location,
                "originalStartTime" => &mut w.original_start_time,
                "recurrence" => &mut w.recurrence,
                "organizer" => &mut w.organizer,
                "htmlLink" => &mut w.html_link,
                "created" => &mut w.created,
                "updated" => &mut w.updated,
                "conferenceData" => &mut w.conference_data,
                "hangoutLink" => &mut w.hangout_link,
                _ => continue,
            };
            *slot = Some(x);
        }
        w
    }
}

/// `v[name]` of a member [`Wire::read`] found.
fn at(x: Option<&Value>) -> &Value {
    x.unwrap_or(&NULL)
}

/// How many members a full event record has with its `untrusted_fields` (the map is made this
/// large at once, not grown four times).
const EVENT_MEMBERS: usize = 23;

fn event_record(v: &Value, calendar_id: &str) -> Value {
    let w = Wire::read(v);
    let status = match at(w.status).as_str() {
        Some("tentative") => "tentative",
        Some("cancelled") => "cancelled",
        _ => "confirmed",
    };
    let mut out = Map::with_capacity(EVENT_MEMBERS);
    out.insert("id".into(), s(at(w.id)));
    out.insert("status".into(), status.into());
    if status == "cancelled" && w.start.is_none() {
        // A removal in an incremental sync: Google sends little more than the id.
        out.insert("calendar_id".into(), calendar_id.into());
        return Value::Object(out);
    }
    let attendees: Vec<Value> = at(w.attendees)
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
    let start = at(w.start);
    let all_day = start["date"].is_string();
    let show_as = match at(w.transparency).as_str() {
        Some("transparent") => "free",
        _ => "busy",
    };
    let visibility = at(w.visibility)
        .as_str()
        .filter(|x| matches!(*x, "public" | "private" | "confidential"))
        .unwrap_or("default");
    let original = at(w.original_start_time);
    let fields = [
        ("calendar_id", Value::from(calendar_id)),
        ("ical_uid", s(at(w.ical_uid))),
        ("series_id", s(at(w.recurring_event_id))),
        ("summary", s(at(w.summary))),
        ("description", s(at(w.description))),
        ("location", s(at(w.location))),
        ("start", time(start)),
        ("end", time(at(w.end))),
        ("all_day", Value::Bool(all_day)),
        (
            "original_start",
            if original.is_object() {
                time(original)
            } else {
                Value::Null
            },
        ),
        (
            "recurrence",
            at(w.recurrence)
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into(),
        ),
        ("organizer", person(at(w.organizer))),
        ("attendees", attendees.into()),
        ("response_status", mine),
        (
            "online_meeting",
            online_meeting(at(w.conference_data), at(w.hangout_link)),
        ),
        ("show_as", show_as.into()),
        ("visibility", visibility.into()),
        ("web_link", s(at(w.html_link))),
        ("created", s(at(w.created))),
        ("updated", s(at(w.updated))),
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

/// The shaping as it was before [`Wire`] (one hashed lookup per field), kept to check that
/// the one-pass reading gives the same records.
#[cfg(test)]
mod reference {
    use super::{response_status, s};
    use serde_json::{json, Map, Value};

    /// A Google `EventDateTime` as `{date_time, time_zone}` or `{date}`.
    pub(super) fn time(v: &Value) -> Value {
        if let Some(d) = v["date"].as_str() {
            return json!({ "date": d });
        }
        json!({ "date_time": s(&v["dateTime"]), "time_zone": s(&v["timeZone"]) })
    }

    fn person(v: &Value) -> Value {
        if !v.is_object() {
            return Value::Null;
        }
        let mut p = json!({ "email": v["email"].as_str().unwrap_or_default(), "name": s(&v["displayName"]) });
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
    pub(super) fn event(v: &Value, calendar_id: &str) -> Value {
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

    /// The members of an attendee (a person's are among them).
    const ATTENDEE: &[&str] = &[
        "email",
        "displayName",
        "responseStatus",
        "comment",
        "optional",
        "organizer",
        "resource",
        "self",
    ];
    /// The members of a time.
    const TIME: &[&str] = &["date", "dateTime", "timeZone"];
    /// The members of an event the shaping reads, and one it does not.
    const EVENT: &[&str] = &[
        "id",
        "status",
        "start",
        "end",
        "attendees",
        "transparency",
        "visibility",
        "iCalUID",
        "recurringEventId",
        "summary",
        "description",
        "location",
        "originalStartTime",
        "recurrence",
        "organizer",
        "htmlLink",
        "created",
        "updated",
        "conferenceData",
        "hangoutLink",
        "unknownMember",
    ];
    /// The members of conference data, at any depth.
    const CONFERENCE: &[&str] = &[
        "entryPoints",
        "entryPointType",
        "uri",
        "conferenceSolution",
        "key",
        "type",
    ];

    /// Every name the shaping reads, at any depth, and one it does not.
    fn names() -> Vec<&'static str> {
        [EVENT, TIME, ATTENDEE, CONFERENCE].concat()
    }

    fn wire_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            "[a-z@. :+-]{0,8}".prop_map(Value::from),
            prop::sample::select(vec![
                "accepted",
                "tentative",
                "declined",
                "needsAction",
                "cancelled",
                "confirmed",
                "transparent",
                "public",
                "private",
                "confidential",
                "video",
                "hangoutsMeet",
                "https://meet.google.com/abc",
                "https://example.com/v",
                "2026-03-30",
                "2026-03-30T10:00:00Z",
                "Europe/Berlin",
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 96, 10, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(names()), inner), 0..12).prop_map(
                    |kv| {
                        Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                    }
                ),
            ]
        })
    }

    /// An object with some of `names`, each member drawn from `member`.
    fn object_of(
        names: &'static [&'static str],
        member: impl proptest::strategy::Strategy<Value = Value> + Clone,
    ) -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop::collection::vec((prop::sample::select(names), member), 0..names.len() + 1)
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
    }

    /// Events shaped like Google's (attendees, times, organizer, conference data as objects
    /// of their own members) with any member's value replaced now and then by anything.
    fn google_like() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let anything = wire_value().boxed();
        let attendee = object_of(
            ATTENDEE,
            prop_oneof![any::<bool>().prop_map(Value::from), anything.clone()],
        );
        let time = object_of(TIME, anything.clone());
        let member = prop_oneof![
            2 => anything,
            2 => prop::collection::vec(attendee, 0..4).prop_map(Value::Array),
            1 => time,
        ];
        object_of(EVENT, member)
    }

    proptest::proptest! {
        #[test]
        fn one_pass_shaping_equals_the_lookups_on_google_like_events(v in google_like()) {
            proptest::prop_assert_eq!(
                serde_json::to_string(&event(&v, "cal")).unwrap(),
                serde_json::to_string(&reference::event(&v, "cal")).unwrap()
            );
        }

        /// The one-pass reading gives what one lookup per field gave, byte for byte (member
        /// order included), for events of any shape: members absent, of the wrong type,
        /// nested anywhere, unknown.
        #[test]
        fn one_pass_shaping_equals_the_lookups(v in wire_value()) {
            let new = serde_json::to_string(&event(&v, "cal")).unwrap();
            let old = serde_json::to_string(&reference::event(&v, "cal")).unwrap();
            proptest::prop_assert_eq!(new, old);
            let (new, old) = (time(&v), reference::time(&v));
            proptest::prop_assert_eq!(
                serde_json::to_string(&new).unwrap(),
                serde_json::to_string(&old).unwrap()
            );
        }
    }

    #[test]
    fn one_pass_shaping_equals_the_lookups_on_full_events() {
        let full = json!({
            "id": "e1", "status": "tentative", "summary": "Sync", "description": "d",
            "location": "Room 1", "iCalUID": "e1@google.com", "recurringEventId": "e0",
            "htmlLink": "https://calendar.google.com/e1", "created": "2026-01-01T00:00:00Z",
            "updated": "2026-01-02T00:00:00Z", "visibility": "private",
            "recurrence": ["RRULE:FREQ=WEEKLY"],
            "start": {"dateTime": "2026-03-30T10:00:00+02:00", "timeZone": "Europe/Berlin"},
            "end": {"date": "2026-03-31"},
            "originalStartTime": {"dateTime": "2026-03-30T10:00:00+02:00"},
            "organizer": {"email": "ada@example.com", "displayName": "Ada", "self": true},
            "attendees": [
                {"email": "ada@example.com", "organizer": true, "self": true,
                 "responseStatus": "tentative", "comment": "maybe"},
                {"email": "room@example.com", "resource": true, "optional": true}],
            "conferenceData": {"entryPoints": [{"entryPointType": "phone", "uri": "tel:1"},
                {"entryPointType": "video", "uri": "https://meet.google.com/x"}],
                "conferenceSolution": {"key": {"type": "hangoutsMeet"}}},
            "extra": {"ignored": true}
        });
        for v in [
            full,
            json!({"id": "gone", "status": "cancelled"}),
            json!({"id": "gone", "status": "cancelled", "start": null}),
            json!("not an event"),
        ] {
            assert_eq!(
                serde_json::to_string(&event(&v, "primary")).unwrap(),
                serde_json::to_string(&reference::event(&v, "primary")).unwrap(),
                "{v}"
            );
        }
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
