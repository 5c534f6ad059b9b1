//! Google Calendar through the gmail connector type, end to end against the emulator: meetings
//! with attendees who answer, recurring series across a DST change, incremental sync, free/busy,
//! exactly-once creates and the scope a mail-only grant lacks.

use connector_core::{Connector, ErrorCode, ExecuteOptions};
use sandbox_gmail::{Fault, FaultKind, GmailSandbox, Seed, TokenRule};
use serde_json::{json, Value};

use crate::common::env::{connector_for, run, with_tokens, ADA};

const GRACE: &str = "grace@example.com";
const BOB: &str = "bob@example.com";

struct Three {
    sb: GmailSandbox,
    ada: Connector,
    grace: Connector,
    bob: Connector,
}

fn three() -> Three {
    let sb = with_tokens(
        Seed::Demo,
        vec![
            TokenRule::new("ada", ADA, &["*"]),
            TokenRule::new("grace", GRACE, &["*"]),
            TokenRule::new("bob", BOB, &["calendar.events", "calendar.readonly"]),
            TokenRule::new("mail-only", ADA, &["gmail.readonly", "gmail.send"]),
        ],
    );
    let (ada, grace, bob) = (
        connector_for(&sb, "ada"),
        connector_for(&sb, "grace"),
        connector_for(&sb, "bob"),
    );
    Three {
        sb,
        ada,
        grace,
        bob,
    }
}

fn at(date_time: &str) -> Value {
    json!({"date_time": date_time, "time_zone": "Europe/Berlin"})
}

fn answer_of(event: &Value, email: &str) -> (String, Value) {
    let a = event["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == email)
        .unwrap_or_else(|| panic!("{email} is not an attendee: {event:#}"));
    (
        a["response_status"].as_str().unwrap().to_string(),
        a["comment"].clone(),
    )
}

#[tokio::test]
async fn a_meeting_with_two_attendees_shows_each_answer_on_the_organizers_copy() {
    let t = three();
    let created = run(
        &t.ada,
        "events",
        "create",
        json!({
            "summary": "Intro call", "location": "Room 1",
            "start": at("2026-03-31T10:00:00"), "end": at("2026-03-31T10:30:00"),
            "attendees": ["Grace Hopper <grace@example.com>", BOB], "online_meeting": true,
        }),
    )
    .await
    .result;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["organizer"]["email"], ADA);
    assert_eq!(created["start"]["date_time"], "2026-03-31T10:00:00+02:00");
    assert_eq!(created["online_meeting"]["provider"], "google_meet");
    assert!(created["online_meeting"]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://meet.google.com/"));
    assert_eq!(answer_of(&created, GRACE).0, "needs_action");

    // Each attendee finds the invitation in their own calendar and answers it there.
    let invited = run(
        &t.grace,
        "events",
        "list",
        json!({"time_min": "2026-03-31T00:00:00Z", "time_max": "2026-04-01T00:00:00Z"}),
    )
    .await
    .result;
    assert_eq!(invited[0]["id"], id.as_str());
    assert_eq!(invited[0]["response_status"], "needs_action");
    let grace_answer = run(
        &t.grace,
        "events",
        "respond",
        json!({"event_id": id, "response": "accept", "comment": "See you there"}),
    )
    .await
    .result;
    assert_eq!(grace_answer["response_status"], "accepted");
    run(
        &t.bob,
        "events",
        "respond",
        json!({"event_id": id, "response": "decline", "comment": "On leave"}),
    )
    .await;

    let organizers = run(&t.ada, "events", "get", json!({"event_id": id}))
        .await
        .result;
    assert_eq!(
        answer_of(&organizers, GRACE),
        ("accepted".into(), json!("See you there"))
    );
    assert_eq!(
        answer_of(&organizers, BOB),
        ("declined".into(), json!("On leave"))
    );
    assert_eq!(answer_of(&organizers, GRACE).0, "accepted");

    // An attendee may answer but not change the meeting.
    let err = t
        .grace
        .execute(
            "events",
            "update",
            json!({"event_id": id, "summary": "Mine now"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err}");

    // Free/busy comes from the events: Bob declined, so he is free.
    let busy = run(
        &t.ada,
        "freebusy",
        "query",
        json!({"people": [ADA, GRACE, BOB, "nobody@example.com"],
               "time_min": "2026-03-31T00:00:00+02:00", "time_max": "2026-04-01T00:00:00+02:00"}),
    )
    .await
    .result;
    assert_eq!(
        busy[0]["busy"],
        json!([{"start": "2026-03-31T08:00:00Z", "end": "2026-03-31T08:30:00Z"}])
    );
    assert_eq!(busy[1]["busy"], busy[0]["busy"]);
    assert_eq!(busy[2]["busy"], json!([]));
    assert_eq!(busy[3]["error"], "notFound");

    // The organizer moves and then cancels it; the answers stay with the attendees who stay.
    let moved = run(
        &t.ada,
        "events",
        "update",
        json!({"event_id": id, "start": at("2026-03-31T11:00:00"), "end": at("2026-03-31T11:30:00"),
               "attendees": [GRACE]}),
    )
    .await
    .result;
    assert_eq!(moved["start"]["date_time"], "2026-03-31T11:00:00+02:00");
    assert_eq!(answer_of(&moved, GRACE).0, "accepted");
    assert_eq!(moved["attendees"].as_array().unwrap().len(), 1);
    run(&t.ada, "events", "delete", json!({"event_id": id})).await;
    let again = run(&t.ada, "events", "delete", json!({"event_id": id})).await;
    assert_eq!(again.metadata["already_deleted"], true);
    let gone = run(&t.ada, "events", "get", json!({"event_id": id}))
        .await
        .result;
    assert_eq!(gone["status"], "cancelled");
}

#[tokio::test]
async fn a_weekly_meeting_expands_to_the_right_instances_across_the_dst_change() {
    let t = three();
    let series = run(
        &t.ada,
        "events",
        "create",
        json!({
            "summary": "Weekly", "attendees": [GRACE],
            "start": at("2026-03-16T09:00:00"), "end": at("2026-03-16T09:30:00"),
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        }),
    )
    .await
    .result;
    assert_eq!(series["recurrence"], json!(["RRULE:FREQ=WEEKLY;COUNT=4"]));
    let window = json!({"time_min": "2026-03-01T00:00:00Z", "time_max": "2026-05-01T00:00:00Z"});
    let instances = run(&t.ada, "events", "list", window.clone()).await.result;
    let starts: Vec<&str> = instances
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["start"]["date_time"].as_str().unwrap())
        .collect();
    // Berlin changes to summer time on 2026-03-29: 09:00 local stays 09:00 local.
    assert_eq!(
        starts,
        [
            "2026-03-16T09:00:00+01:00",
            "2026-03-23T09:00:00+01:00",
            "2026-03-30T09:00:00+02:00",
            "2026-04-06T09:00:00+02:00"
        ]
    );
    assert!(instances
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["series_id"] == series["id"] && e["start"]["time_zone"] == "Europe/Berlin"));
    // In UTC the two halves are an hour apart.
    let in_utc = run(
        &t.ada,
        "events",
        "list",
        json!({"time_min": "2026-03-20T00:00:00Z", "time_max": "2026-04-01T00:00:00Z", "time_zone": "UTC"}),
    )
    .await
    .result;
    assert_eq!(in_utc[0]["start"]["date_time"], "2026-03-23T08:00:00Z");
    assert_eq!(in_utc[1]["start"]["date_time"], "2026-03-30T07:00:00Z");

    let masters = run(
        &t.ada,
        "events",
        "list",
        json!({"time_min": "2026-03-01T00:00:00Z", "time_max": "2026-05-01T00:00:00Z", "expand_recurring": false}),
    )
    .await
    .result;
    assert_eq!(masters.as_array().unwrap().len(), 1);
    assert_eq!(masters[0]["recurrence"], series["recurrence"]);

    // Grace declines one occurrence only: the others still wait for her answer.
    let third = instances[2]["id"].as_str().unwrap();
    run(
        &t.grace,
        "events",
        "respond",
        json!({"event_id": third, "response": "decline"}),
    )
    .await;
    let after = run(&t.ada, "events", "list", window).await.result;
    let grace: Vec<String> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|e| answer_of(e, GRACE).0)
        .collect();
    assert_eq!(
        grace,
        ["needs_action", "needs_action", "declined", "needs_action"]
    );

    // A recurrence needs the zone its rule repeats in.
    let err = t
        .ada
        .execute(
            "events",
            "create",
            json!({"summary": "x", "start": {"date_time": "2026-03-16T09:00:00+01:00"},
                   "end": {"date_time": "2026-03-16T10:00:00+01:00"}, "recurrence": ["RRULE:FREQ=DAILY"]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParams);
    assert!(err.message.contains("time_zone"), "{}", err.message);
}

#[tokio::test]
async fn sync_returns_what_changed_since_its_token_and_an_expired_token_is_sync_required() {
    let t = three();
    let mut ids = Vec::new();
    for (i, day) in ["2026-04-01", "2026-04-02", "2026-04-03"]
        .iter()
        .enumerate()
    {
        let e = run(
            &t.ada,
            "events",
            "create",
            json!({"summary": format!("Day {i}"), "start": {"date": day}, "end": {"date": "2026-04-04"}}),
        )
        .await
        .result;
        assert_eq!(e["all_day"], true);
        ids.push(e["id"].as_str().unwrap().to_string());
    }
    // A full sync, two records a page.
    let mut seen = Vec::new();
    let mut page_token: Option<String> = None;
    let token = loop {
        let mut params = json!({"max_results": 2});
        if let Some(p) = &page_token {
            params["page_token"] = p.clone().into();
        }
        let out = run(&t.ada, "events", "sync", params).await;
        seen.extend(
            out.result
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].clone()),
        );
        match out.metadata.get("next_page_token") {
            Some(p) => page_token = Some(p.as_str().unwrap().to_string()),
            None => {
                break out.metadata["next_sync_token"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
        }
    };
    assert_eq!(seen.len(), 3);

    let nothing = run(&t.ada, "events", "sync", json!({"sync_token": token})).await;
    assert_eq!(nothing.result, json!([]));
    run(
        &t.ada,
        "events",
        "update",
        json!({"event_id": ids[0], "summary": "Renamed"}),
    )
    .await;
    run(&t.ada, "events", "delete", json!({"event_id": ids[1]})).await;
    let changes = run(&t.ada, "events", "sync", json!({"sync_token": token})).await;
    let by_id: Vec<(String, String)> = changes
        .result
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        by_id,
        [
            (ids[0].clone(), "confirmed".to_string()),
            (ids[1].clone(), "cancelled".to_string())
        ]
    );
    assert_eq!(changes.result[0]["summary"], "Renamed");

    t.sb.expire_calendar_sync_tokens();
    let err = t
        .ada
        .execute("events", "sync", json!({"sync_token": token}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::SyncRequired, "{err}");
}

#[tokio::test]
async fn a_keyed_create_whose_answer_was_lost_creates_the_event_once() {
    let t = three();
    let params = json!({"summary": "Once", "start": at("2026-05-05T10:00:00"), "end": at("2026-05-05T11:00:00")});
    let keyed = || ExecuteOptions {
        idempotency_key: Some("create-once-1".into()),
    };
    t.sb.inject_fault(Fault::new(
        "POST",
        "/calendar/v3/calendars/primary/events",
        FaultKind::LoseResponse,
    ));
    let lost = t
        .ada
        .execute_with("events", "create", params.clone(), keyed())
        .await
        .unwrap_err();
    assert_eq!(lost.code, ErrorCode::OutcomeUnknown, "{lost}");
    let retried = t
        .ada
        .execute_with("events", "create", params.clone(), keyed())
        .await
        .unwrap();
    assert_eq!(retried.metadata["deduplicated"], true);
    let again = t
        .ada
        .execute_with("events", "create", params, keyed())
        .await
        .unwrap();
    assert_eq!(again.result["id"], retried.result["id"]);
    let all = run(
        &t.ada,
        "events",
        "list",
        json!({"time_min": "2026-05-05T00:00:00Z", "time_max": "2026-05-06T00:00:00Z"}),
    )
    .await
    .result;
    assert_eq!(all.as_array().unwrap().len(), 1, "{all:#}");
}

#[tokio::test]
async fn calendars_list_and_get_and_a_mail_only_grant_is_told_which_scope_to_add() {
    let t = three();
    t.sb.set_calendar_time_zone(ADA, "Europe/Berlin");
    let cals = run(&t.ada, "calendars", "list", json!({})).await.result;
    assert_eq!(cals[0]["id"], ADA);
    assert_eq!(cals[0]["primary"], true);
    assert_eq!(cals[0]["can_edit"], true);
    assert_eq!(cals[0]["time_zone"], "Europe/Berlin");
    let primary = run(
        &t.ada,
        "calendars",
        "get",
        json!({"calendar_id": "primary"}),
    )
    .await
    .result;
    assert_eq!(primary["id"], ADA);

    let mail_only = connector_for(&t.sb, "mail-only");
    let err = mail_only
        .execute("events", "list", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    assert!(
        err.message
            .contains("https://www.googleapis.com/auth/calendar.events.readonly"),
        "{}",
        err.message
    );
    assert!(err.message.contains("authorize again"), "{}", err.message);
}
