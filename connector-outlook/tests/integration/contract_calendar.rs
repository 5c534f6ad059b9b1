//! Calendar contracts: every calendar action's requests (run by
//! `contract_connector::every_request_and_answer_matches_microsofts_description` through
//! [`run_calendar_actions`]) match an operation of `msgraph_calendar_operations.tsv` with its
//! required `startDateTime`/`endDateTime`, and every calendar answer of the emulator has the
//! fields and types of `graph-calendar-types.json`; a mutated event or schedule must fail.

use crate::common::contract::{check_response, Operations, SentRequest, Types};
use crate::common::harness::{connector_with, ok};
use sandbox_outlook::{OutlookSandbox, SandboxConfig, Seed};
use serde_json::{json, Value};

const ADA: &str = "ada@example.com";
const GRACE: &str = "grace@example.com";

/// Calendar operations of the file no action uses, on purpose (`None`: not a calendar one).
pub fn left_out(t: &str, m: &str) -> Option<&'static str> {
    let cal = [
        "/calendar",
        "/calendars",
        "/events",
        "/calendarView",
        "/findMeetingTimes",
        "/reminderView",
    ];
    if !cal
        .iter()
        .any(|c| t.starts_with(&format!("/users/{{user%2Did}}{c}")))
    {
        return None;
    }
    Some(if t.contains("/attachments") {
        "event attachments are not offered"
    } else if t.contains("/instances") {
        "events.list expands series through calendarView, which gives the same instances for a window"
    } else if t.contains("/events/delta()") {
        "events.sync follows instances through calendarView/delta (series expanded, as events.list)"
    } else if t.ends_with("/cancel") || t.ends_with("/forward") {
        "cancelling is events.delete by the organizer (attendees get the cancellation); forwarding invitations is not offered"
    } else if t.contains("Reminder") || t.contains("reminderView") {
        "reminders are not offered"
    } else if t.contains("findMeetingTimes") {
        "freebusy.query gives busy intervals; the agent picks the slot"
    } else if (t.starts_with("/users/{user%2Did}/calendar{") && m == "PATCH")
        || (t.starts_with("/users/{user%2Did}/calendars{") && m == "POST")
        || (t.starts_with("/users/{user%2Did}/calendars/{calendar%2Did}{") && m != "GET")
    {
        "creating, renaming or deleting calendars is not offered"
    } else {
        return None;
    })
}

/// Every calendar action, with a primary and a named calendar, organizer and attendee.
pub async fn run_calendar_actions(sb: &OutlookSandbox) {
    let ada = connector_with(sb, "any-token");
    let grace = connector_with(sb, &sb.issue_access_token(GRACE, &["Calendars.ReadWrite"]));
    let cals = ok(&ada, "calendars", "list", json!({})).await.result;
    let cal = cals[0]["id"].as_str().unwrap().to_string();
    ok(&ada, "calendars", "get", json!({"calendar_id": "primary"})).await;
    ok(&ada, "calendars", "get", json!({"calendar_id": cal})).await;
    let window = json!({"time_min": "2026-10-01T00:00:00Z", "time_max": "2026-12-01T00:00:00Z"});
    let mut made = Vec::new();
    for calendar_id in ["primary", cal.as_str()] {
        let e = ok(
            &ada,
            "events",
            "create",
            json!({
                "calendar_id": calendar_id,
                "summary": "Weekly", "description": "<p>Agenda</p>", "location": "Room 1",
                "start": {"date_time": "2026-10-20T10:00:00", "time_zone": "Europe/Lisbon"},
                "end": {"date_time": "2026-10-20T10:30:00", "time_zone": "Europe/Lisbon"},
                "attendees": [GRACE], "optional_attendees": ["Alan <alan@example.com>"],
                "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=3"], "online_meeting": true,
            }),
        )
        .await
        .result;
        let mut list = window.clone();
        list["calendar_id"] = json!(calendar_id);
        ok(&ada, "events", "list", list.clone()).await;
        list["expand_recurring"] = json!(false);
        ok(&ada, "events", "list", list).await;
        let id = e["id"].as_str().unwrap().to_string();
        ok(
            &ada,
            "events",
            "get",
            json!({"calendar_id": calendar_id, "event_id": id, "time_zone": "America/New_York"}),
        )
        .await;
        ok(&ada, "events", "update", json!({"calendar_id": calendar_id, "event_id": id, "summary": "Weekly 2", "show_as": "busy"})).await;
        let mut sync = window.clone();
        sync["calendar_id"] = json!(calendar_id);
        let first = ok(&ada, "events", "sync", sync).await;
        ok(
            &ada,
            "events",
            "sync",
            json!({"calendar_id": calendar_id, "sync_token": first.metadata["next_sync_token"]}),
        )
        .await;
        made.push((calendar_id.to_string(), id));
    }
    let theirs = ok(&grace, "events", "list", json!({"expand_recurring": false}))
        .await
        .result;
    for (i, response) in ["accept", "tentative", "decline"].iter().enumerate() {
        let id = &theirs[i % theirs.as_array().unwrap().len()]["id"];
        ok(
            &grace,
            "events",
            "respond",
            json!({"event_id": id, "response": response, "comment": "c"}),
        )
        .await;
    }
    ok(
        &ada,
        "freebusy",
        "query",
        json!({"people": [GRACE, ADA], "time_min": "2026-10-20T00:00:00Z", "time_max": "2026-10-21T00:00:00Z"}),
    )
    .await;
    for (calendar_id, id) in made {
        ok(
            &ada,
            "events",
            "delete",
            json!({"calendar_id": calendar_id, "event_id": id}),
        )
        .await;
    }
}

async fn fetch(
    sb: &OutlookSandbox,
    method: &str,
    url: &str,
    body: Option<Value>,
    prefer: Option<&str>,
) -> (u16, Value) {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", sb.base_url())
    };
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .bearer_auth("t");
    if let Some(p) = prefer {
        req = req.header("Prefer", p);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn event_body() -> Value {
    json!({
        "subject": "Series", "body": {"contentType": "html", "content": "<b>hi</b>"},
        "start": {"dateTime": "2026-10-20T10:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2026-10-20T11:00:00", "timeZone": "Pacific Standard Time"},
        "location": {"displayName": "Room 2"},
        "attendees": [{"emailAddress": {"address": GRACE, "name": "Grace"}, "type": "required"}],
        "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"]},
                       "range": {"type": "numbered", "startDate": "2026-10-20", "numberOfOccurrences": 5}},
        "isOnlineMeeting": true, "onlineMeetingProvider": "teamsForBusiness",
        "transactionId": "t-1",
    })
}

#[tokio::test]
async fn every_calendar_answer_of_the_emulator_matches_the_graph_contract() {
    let sb = OutlookSandbox::start(SandboxConfig {
        seed: Seed::Empty,
        ..Default::default()
    })
    .unwrap();
    sb.set_recording(true);
    let (_, made) = fetch(&sb, "POST", "/me/events", Some(event_body()), None).await;
    let id = made["id"].as_str().unwrap().to_string();
    let (status, again) = fetch(&sb, "POST", "/me/events", Some(event_body()), None).await;
    assert_eq!(
        (status, &again["id"]),
        (201, &made["id"]),
        "same transactionId, same event"
    );
    let (_, cals) = fetch(&sb, "GET", "/me/calendars", None, None).await;
    let cal = cals["value"][0]["id"].as_str().unwrap().to_string();
    let w = "startDateTime=2026-10-01T00:00:00Z&endDateTime=2026-12-01T00:00:00Z";
    let (_, view) = fetch(
        &sb,
        "GET",
        &format!("/me/calendarView?{w}&$top=2"),
        None,
        Some("outlook.timezone=\"Eastern Standard Time\""),
    )
    .await;
    let occurrence = view["value"][0]["id"].as_str().unwrap().to_string();
    for url in [
        "/me/calendar".to_string(),
        "/me/calendars?$top=5".into(),
        format!("/me/calendars/{}", enc(&cal)),
        "/me/events?$select=subject,start,end".into(),
        format!("/me/calendars/{}/events", enc(&cal)),
        format!("/me/events/{}", enc(&id)),
        format!("/me/events/{}", enc(&occurrence)),
        format!("/me/calendars/{}/events/{}", enc(&cal), enc(&id)),
        format!("/me/calendars/{}/calendarView?{w}", enc(&cal)),
        format!("/me/events/{}/instances?{w}", enc(&id)),
        view["@odata.nextLink"].as_str().unwrap().to_string(),
        "/me/calendarView?startDateTime=2026-10-01T00:00:00Z".into(),
        "/me/events/AAMkAnosuchevent=".into(),
    ] {
        fetch(&sb, "GET", &url, None, None).await;
    }
    fetch(
        &sb,
        "PATCH",
        &format!("/me/events/{}", enc(&id)),
        Some(json!({"subject": "Renamed", "showAs": "oof"})),
        None,
    )
    .await;
    fetch(
        &sb,
        "DELETE",
        &format!("/me/events/{}", enc(&occurrence)),
        None,
        None,
    )
    .await;
    // attendee answers on her copy
    let (_, theirs) = fetch(&sb, "GET", "/users/grace%40example.com/events", None, None).await;
    let copy = theirs["value"][0]["id"].as_str().unwrap().to_string();
    fetch(
        &sb,
        "POST",
        &format!(
            "/users/grace%40example.com/events/{}/tentativelyAccept",
            enc(&copy)
        ),
        Some(json!({"comment": "maybe", "sendResponse": true})),
        None,
    )
    .await;
    fetch(
        &sb,
        "POST",
        "/me/calendar/getSchedule",
        Some(json!({
        "schedules": [GRACE, "nobody@example.com"],
        "startTime": {"dateTime": "2026-10-20T00:00:00", "timeZone": "Pacific Standard Time"},
        "endTime": {"dateTime": "2026-10-21T00:00:00", "timeZone": "Pacific Standard Time"},
        "availabilityViewInterval": 60})),
        None,
    )
    .await;
    // a delta round with a change and a removal, then an expired token
    let mut link = format!("/me/calendarView/delta?{w}");
    let delta = loop {
        let (_, v) = fetch(&sb, "GET", &link, None, Some("odata.maxpagesize=2")).await;
        if let Some(d) = v["@odata.deltaLink"].as_str() {
            break d.to_string();
        }
        link = v["@odata.nextLink"].as_str().unwrap().to_string();
    };
    fetch(
        &sb,
        "DELETE",
        &format!("/me/events/{}", enc(&id)),
        None,
        None,
    )
    .await;
    // the delta page size (2) stays with the token: follow pages to the next deltaLink
    let mut link = delta;
    let mut removed = 0;
    let next_delta = loop {
        let (_, v) = fetch(&sb, "GET", &link, None, None).await;
        removed += v["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e.get("@removed").is_some())
            .count();
        match v["@odata.deltaLink"].as_str() {
            Some(d) => break d.to_string(),
            None => link = v["@odata.nextLink"].as_str().unwrap().to_string(),
        }
    };
    assert_eq!(
        removed, 4,
        "the series' four remaining occurrences are removed"
    );
    sb.expire_delta_tokens(ADA);
    assert_eq!(fetch(&sb, "GET", &next_delta, None, None).await.0, 410);

    let (ops, types) = (Operations::load(), Types::load());
    let mut checked = 0;
    for r in sb.requests() {
        if r.status >= 400 {
            // refusals (a view without its window, an unknown id, an expired token) are errors
            let errors = types.check("ODataError", &r.response, &[]);
            assert!(errors.is_empty(), "{} {}: {errors:#?}", r.method, r.path);
            checked += 1;
            continue;
        }
        let query: Vec<&str> = r.query.iter().map(|(k, _)| k.as_str()).collect();
        let op = ops
            .matching(&SentRequest {
                method: &r.method,
                path: &r.path,
                query,
            })
            .unwrap_or_else(|e| panic!("{} {}: {e}", r.method, r.path));
        match check_response(&types, op, r.status, &r.response) {
            Ok(errors) => assert!(
                errors.is_empty(),
                "{} {} ({}): {errors:#?}",
                r.method,
                r.path,
                r.status
            ),
            Err(reason) => assert!(r.response.is_null(), "{} {}: {reason}", r.method, r.path),
        }
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} answers checked");
}

#[tokio::test]
async fn the_checker_rejects_mutated_calendar_answers() {
    let types = Types::load();
    let sb = OutlookSandbox::start(SandboxConfig {
        seed: Seed::Empty,
        ..Default::default()
    })
    .unwrap();
    let (_, ev) = fetch(&sb, "POST", "/me/events", Some(event_body()), None).await;
    assert!(
        types.check("Event", &ev, &[]).is_empty(),
        "{:#?}",
        types.check("Event", &ev, &[])
    );
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut m = ev.clone();
        f(&mut m);
        types.check("Event", &m, &[])
    };
    assert!(
        !mutate(&|m| m["isAllday"] = json!(false)).is_empty(),
        "unknown field"
    );
    assert!(
        !mutate(&|m| m["showAs"] = json!("away")).is_empty(),
        "enum value"
    );
    assert!(
        !mutate(&|m| m["start"]["timezone"] = json!("UTC")).is_empty(),
        "nested field"
    );
    assert!(
        !mutate(&|m| m["attendees"][0]["status"]["response"] = json!("yes")).is_empty(),
        "attendee response"
    );
    assert!(
        !mutate(&|m| m["recurrence"]["pattern"]["daysOfWeek"] = json!(["tue"])).is_empty(),
        "enum collection"
    );
    assert!(
        !mutate(&|m| m["recurrence"]["range"]["startDate"] = json!("20 Oct")).is_empty(),
        "date"
    );
    assert!(
        !mutate(&|m| m["reminderMinutesBeforeStart"] = json!("15")).is_empty(),
        "int"
    );

    let (_, sched) = fetch(
        &sb,
        "POST",
        "/me/calendar/getSchedule",
        Some(json!({
        "schedules": [ADA],
        "startTime": {"dateTime": "2026-10-20T00:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2026-10-21T00:00:00", "timeZone": "UTC"}})),
        None,
    )
    .await;
    let item = &sched["value"][0];
    assert!(types.check("ScheduleInformation", item, &[]).is_empty());
    assert!(
        item["availabilityView"].as_str().unwrap().contains('2'),
        "{item:#}"
    );
    let mut bad = item.clone();
    bad["workingHours"]["startTime"] = json!("nine");
    assert!(
        !types.check("ScheduleInformation", &bad, &[]).is_empty(),
        "time"
    );
}

#[test]
fn calendar_requests_outside_the_contract_do_not_match() {
    let ops = Operations::load();
    let ok = |m: &str, p: &str, q: Vec<&str>| {
        ops.matching(&SentRequest {
            method: m,
            path: p,
            query: q,
        })
        .is_ok()
    };
    assert!(ok(
        "GET",
        "/v1.0/me/calendarView",
        vec!["startDateTime", "endDateTime", "$top"]
    ));
    assert!(
        !ok("GET", "/v1.0/me/calendarView", vec!["startDateTime"]),
        "endDateTime is required"
    );
    assert!(ok(
        "GET",
        "/v1.0/me/calendarView/delta",
        vec!["$deltatoken"]
    ));
    assert!(ok("POST", "/v1.0/me/events/x/tentativelyAccept", vec![]));
    assert!(
        !ok("POST", "/v1.0/me/events/x/maybe", vec![]),
        "unknown action"
    );
    assert!(!ok(
        "GET",
        "/v1.0/me/calendarView",
        vec!["startDateTime", "endDateTime", "$format"]
    ));
}
