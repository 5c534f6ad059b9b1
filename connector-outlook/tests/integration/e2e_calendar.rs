//! Calendars end to end against the Graph emulator: a meeting whose attendees answer from their
//! own mailboxes, a weekly series across a DST change, incremental sync with an expiring token,
//! free/busy, exactly-once creates, and the scope a mail-only grant lacks.

use connector_core::ErrorCode;
use sandbox_outlook::{OutlookSandbox, SandboxConfig, Seed};
use serde_json::{json, Value};

use crate::common::harness::{connector_with, exec, ok, sandbox};

const ADA: &str = "ada@example.com";
const GRACE: &str = "grace@example.com";
const ALAN: &str = "alan@example.com";
const CAL: &[&str] = &["Calendars.ReadWrite"];

fn three_people() -> OutlookSandbox {
    let sb = sandbox(SandboxConfig {
        seed: Seed::Empty,
        ..Default::default()
    });
    sb.add_user(ALAN, "Alan", "Turing");
    sb
}

fn as_user(sb: &OutlookSandbox, user: &str) -> connector_core::Connector {
    connector_with(sb, &sb.issue_access_token(user, CAL))
}

fn meeting() -> Value {
    json!({
        "summary": "Planning",
        "description": "Agenda: next quarter",
        "location": "Room 1",
        "start": {"date_time": "2026-10-20T10:00:00", "time_zone": "Europe/Lisbon"},
        "end": {"date_time": "2026-10-20T10:30:00", "time_zone": "Europe/Lisbon"},
        "attendees": ["Grace Hopper <grace@example.com>", ALAN],
        "online_meeting": true,
    })
}

/// The one event of a user's primary calendar whose summary contains `what`.
async fn find(c: &connector_core::Connector, what: &str) -> Value {
    let list = ok(c, "events", "list", json!({"expand_recurring": false}))
        .await
        .result;
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["summary"].as_str().unwrap_or("").contains(what))
        .cloned()
        .unwrap_or_else(|| panic!("no event {what} in {list:#}"))
}

fn status_of(event: &Value, email: &str) -> String {
    event["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == email)
        .map(|a| a["response_status"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("{email} is not an attendee of {event:#}"))
}

#[tokio::test]
async fn each_attendee_answers_and_the_organizers_copy_shows_it() {
    let sb = three_people();
    let (ada, grace, alan) = (as_user(&sb, ADA), as_user(&sb, GRACE), as_user(&sb, ALAN));
    let made = ok(&ada, "events", "create", meeting()).await.result;
    assert_eq!(made["start"]["date_time"], "2026-10-20T10:00:00+01:00");
    assert_eq!(made["start"]["time_zone"], "Europe/Lisbon");
    assert_eq!(made["online_meeting"]["provider"], "teams");
    assert!(made["online_meeting"]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://teams.microsoft.com/"));
    assert_eq!(status_of(&made, GRACE), "needs_action");
    assert!(made["organizer"]["self"].as_bool().unwrap());

    // each attendee has the invitation in their own calendar, not yet answered
    let g = find(&grace, "Planning").await;
    let a = find(&alan, "Planning").await;
    assert_eq!(g["ical_uid"], made["ical_uid"]);
    assert_eq!(g["response_status"], "needs_action");
    assert_eq!(g["organizer"]["email"], ADA);

    let out = ok(
        &grace,
        "events",
        "respond",
        json!({"event_id": g["id"], "response": "accept", "comment": "See you"}),
    )
    .await
    .result;
    assert_eq!(out["response_status"], "accepted");
    ok(
        &alan,
        "events",
        "respond",
        json!({"event_id": a["id"], "response": "tentative"}),
    )
    .await;

    let seen = ok(&ada, "events", "get", json!({"event_id": made["id"]}))
        .await
        .result;
    assert_eq!(status_of(&seen, GRACE), "accepted");
    assert_eq!(status_of(&seen, ALAN), "tentative");

    // Alan changes his mind without telling the organizer: her copy keeps "tentative"
    ok(
        &alan,
        "events",
        "respond",
        json!({"event_id": a["id"], "response": "decline", "send_response": false}),
    )
    .await;
    let seen = ok(&ada, "events", "get", json!({"event_id": made["id"]}))
        .await
        .result;
    assert_eq!(status_of(&seen, ALAN), "tentative");

    // the organizer cannot answer her own meeting; cancelling reaches the attendees
    let e = exec(
        &ada,
        "events",
        "respond",
        json!({"event_id": made["id"], "response": "accept"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
    ok(&ada, "events", "delete", json!({"event_id": made["id"]})).await;
    let g = ok(&grace, "events", "get", json!({"event_id": g["id"]}))
        .await
        .result;
    assert_eq!(g["status"], "cancelled");
}

#[tokio::test]
async fn a_weekly_meeting_keeps_its_local_time_across_the_dst_change() {
    let sb = three_people();
    let ada = as_user(&sb, ADA);
    // New York leaves daylight saving time on Sunday 2026-11-01.
    let made = ok(
        &ada,
        "events",
        "create",
        json!({
            "summary": "Weekly sync",
            "start": {"date_time": "2026-10-20T10:00:00", "time_zone": "America/New_York"},
            "end": {"date_time": "2026-10-20T10:45:00", "time_zone": "America/New_York"},
            "attendees": [GRACE],
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4"],
        }),
    )
    .await
    .result;
    assert_eq!(
        made["recurrence"][0],
        "RRULE:FREQ=WEEKLY;BYDAY=TU;WKST=SU;COUNT=4"
    );

    let window = json!({"time_min": "2026-10-01T00:00:00Z", "time_max": "2026-12-01T00:00:00Z"});
    let list = ok(&ada, "events", "list", window.clone()).await.result;
    let starts: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["start"]["date_time"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-10-20T10:00:00-04:00",
            "2026-10-27T10:00:00-04:00",
            "2026-11-03T10:00:00-05:00",
            "2026-11-10T10:00:00-05:00",
        ]
    );
    for e in list.as_array().unwrap() {
        assert_eq!(e["series_id"], made["id"]);
        assert_eq!(e["end"]["time_zone"], "America/New_York");
    }
    // the same instances in UTC: the hour moves, the wall time did not
    let mut utc = window.clone();
    utc["time_zone"] = json!("UTC");
    let list = ok(&ada, "events", "list", utc).await.result;
    assert_eq!(list[1]["start"]["date_time"], "2026-10-27T14:00:00Z");
    assert_eq!(list[2]["start"]["date_time"], "2026-11-03T15:00:00Z");

    // the attendee's calendar expands the same series
    let grace = as_user(&sb, GRACE);
    let theirs = ok(&grace, "events", "list", window.clone()).await.result;
    assert_eq!(theirs.as_array().unwrap().len(), 4);

    // one instance deleted: three remain, paging two at a time
    ok(&ada, "events", "delete", json!({"event_id": list[1]["id"]})).await;
    let mut p = window.clone();
    p["max_results"] = json!(2);
    let first = ok(&ada, "events", "list", p).await;
    assert_eq!(first.result.as_array().unwrap().len(), 2);
    let next = ok(
        &ada,
        "events",
        "list",
        json!({"page_token": first.metadata["next_page_token"]}),
    )
    .await;
    assert_eq!(next.result.as_array().unwrap().len(), 1);
    assert_eq!(
        next.result[0]["start"]["date_time"],
        "2026-11-10T10:00:00-05:00"
    );
}

#[tokio::test]
async fn sync_follows_changes_and_an_expired_token_is_sync_required() {
    let sb = three_people();
    let ada = as_user(&sb, ADA);
    for i in 0..3 {
        let mut m = meeting();
        m["summary"] = json!(format!("Meeting {i}"));
        m["start"]["date_time"] = json!(format!("2026-10-2{i}T10:00:00"));
        m["end"]["date_time"] = json!(format!("2026-10-2{i}T11:00:00"));
        ok(&ada, "events", "create", m).await;
    }
    let mut p = json!({"time_min": "2026-10-01T00:00:00Z", "time_max": "2026-11-01T00:00:00Z", "max_results": 2});
    let mut seen = Vec::new();
    let token = loop {
        let out = ok(&ada, "events", "sync", p).await;
        seen.extend(out.result.as_array().unwrap().iter().cloned());
        if let Some(t) = out.metadata.get("next_sync_token") {
            break t.clone();
        }
        p = json!({"page_token": out.metadata["next_page_token"]});
    };
    assert_eq!(seen.len(), 3);
    let again = ok(&ada, "events", "sync", json!({"sync_token": token})).await;
    assert_eq!(again.result, json!([]));
    let token = again.metadata["next_sync_token"].clone();

    ok(
        &ada,
        "events",
        "update",
        json!({"event_id": seen[0]["id"], "summary": "Moved"}),
    )
    .await;
    ok(&ada, "events", "delete", json!({"event_id": seen[1]["id"]})).await;
    let changes = ok(&ada, "events", "sync", json!({"sync_token": token})).await;
    let changes = changes.result.as_array().unwrap().clone();
    assert_eq!(changes.len(), 2, "{changes:#?}");
    assert_eq!(changes[0]["summary"], "Moved");
    assert_eq!(
        changes[1],
        json!({"id": seen[1]["id"], "status": "cancelled",
            "untrusted_fields": connector_core::mail::trust::CALENDAR_UNTRUSTED_FIELDS})
    );

    sb.expire_delta_tokens(ADA);
    let e = exec(&ada, "events", "sync", json!({"sync_token": token}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::SyncRequired);
    let e = exec(&ada, "events", "sync", json!({})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
    assert!(e.message.contains("time_min"), "{}", e.message);
}

#[tokio::test]
async fn free_busy_comes_from_the_attendees_events() {
    let sb = three_people();
    let (ada, grace) = (as_user(&sb, ADA), as_user(&sb, GRACE));
    ok(&ada, "events", "create", meeting()).await;
    let g = find(&grace, "Planning").await;
    let fb = ok(
        &ada,
        "freebusy",
        "query",
        json!({"people": [GRACE, ADA, "nobody@example.com"], "time_min": "2026-10-20T00:00:00Z", "time_max": "2026-10-21T00:00:00Z"}),
    )
    .await
    .result;
    // not answered yet: tentative on Grace's side, busy on the organizer's
    assert_eq!(
        fb[0]["busy"],
        json!([{"start": "2026-10-20T09:00:00Z", "end": "2026-10-20T09:30:00Z", "show_as": "tentative"}])
    );
    assert_eq!(fb[1]["busy"][0]["show_as"], "busy");
    assert!(fb[2]["error"]
        .as_str()
        .unwrap()
        .contains("nobody@example.com"));
    ok(
        &grace,
        "events",
        "respond",
        json!({"event_id": g["id"], "response": "decline"}),
    )
    .await;
    let fb = ok(
        &ada,
        "freebusy",
        "query",
        json!({"people": [GRACE], "time_min": "2026-10-20T00:00:00Z", "time_max": "2026-10-21T00:00:00Z"}),
    )
    .await
    .result;
    assert_eq!(
        fb[0]["busy"],
        json!([]),
        "a declined meeting does not block time"
    );
}

#[tokio::test]
async fn a_keyed_create_whose_answer_is_lost_makes_one_event() {
    let sb = three_people();
    let ada = as_user(&sb, ADA);
    let opts = connector_core::ExecuteOptions {
        idempotency_key: Some("create-planning-1".into()),
    };
    sb.lose_next_responses(1);
    let out = ada
        .execute_with("events", "create", meeting(), opts.clone())
        .await
        .expect("the retry with the same transactionId gets the event");
    let again = ada
        .execute_with("events", "create", meeting(), opts)
        .await
        .unwrap();
    assert_eq!(out.result["id"], again.result["id"]);
    let mine: Vec<Value> = sb
        .events_json(ADA)
        .into_iter()
        .filter(|e| e["subject"] == "Planning")
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        mine[0]["transactionId"],
        connector_outlook::calendar::transaction_id("create-planning-1")
    );

    // without a key, a lost answer is outcome_unknown and is not retried
    sb.lose_next_responses(1);
    let e = ada
        .execute("events", "create", meeting())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OutcomeUnknown);
    let count = sb
        .events_json(ADA)
        .iter()
        .filter(|e| e["subject"] == "Planning")
        .count();
    assert_eq!(count, 2, "the unkeyed POST went out once");
}

#[tokio::test]
async fn a_mail_only_grant_is_told_which_calendar_scope_to_add() {
    let sb = three_people();
    let mail_only = connector_with(
        &sb,
        &sb.issue_access_token(ADA, &["Mail.ReadWrite", "Mail.Send"]),
    );
    let e = mail_only
        .execute("events", "create", meeting())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    assert!(e.message.contains("Calendars.ReadWrite"), "{}", e.message);
    let e = mail_only
        .execute("calendars", "list", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    assert!(e.message.contains("Calendars.Read"), "{}", e.message);
    // mail still works with the same grant
    mail_only
        .execute("messages", "list", json!({"top": 1}))
        .await
        .unwrap();
}

#[tokio::test]
async fn calendars_and_all_day_events() {
    let sb = three_people();
    let ada = as_user(&sb, ADA);
    let cals = ok(&ada, "calendars", "list", json!({})).await.result;
    assert_eq!(cals[0]["primary"], true);
    assert_eq!(cals[0]["owner"]["email"], ADA);
    let one = ok(
        &ada,
        "calendars",
        "get",
        json!({"calendar_id": cals[0]["id"]}),
    )
    .await
    .result;
    let primary = ok(&ada, "calendars", "get", json!({"calendar_id": "primary"}));
    assert_eq!(one, primary.await.result);

    let day = ok(
        &ada,
        "events",
        "create",
        json!({"summary": "Offsite", "start": {"date": "2026-11-02"}, "end": {"date": "2026-11-03"},
               "calendar_id": cals[0]["id"], "show_as": "free", "visibility": "private"}),
    )
    .await
    .result;
    assert_eq!(day["all_day"], true);
    assert_eq!(day["start"], json!({"date": "2026-11-02"}));
    assert_eq!(day["end"], json!({"date": "2026-11-03"}));
    assert_eq!(day["show_as"], "free");
    assert_eq!(day["visibility"], "private");
    let got = ok(
        &ada,
        "events",
        "list",
        json!({"calendar_id": cals[0]["id"], "time_min": "2026-11-02T12:00:00Z", "time_max": "2026-11-02T13:00:00Z"}),
    )
    .await
    .result;
    assert_eq!(got[0]["id"], day["id"]);

    let e = exec(
        &ada,
        "events",
        "create",
        json!({"summary": "x", "start": {"date_time": "2026-11-02T10:00:00", "time_zone": "UTC"},
               "end": {"date_time": "2026-11-02T11:00:00", "time_zone": "UTC"},
               "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE:20261109T100000Z"]}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
    assert!(e.message.contains("EXDATE"), "{}", e.message);
}

#[tokio::test]
async fn calendar_calls_share_the_mailboxs_throttling_and_faults() {
    let sb = three_people();
    let ada = as_user(&sb, ADA);
    let window = json!({"time_min": "2026-10-01T00:00:00Z", "time_max": "2026-11-01T00:00:00Z"});
    // a 429 with Retry-After on a read is waited out and retried
    sb.throttle_next(1, 1);
    ok(&ada, "events", "list", window.clone()).await;
    assert_eq!(sb.stats().throttled, 1);
    // an injected 503 on the calendar view reaches the caller once retries are spent
    sb.inject_fault(
        sandbox_outlook::Fault::new(
            "GET",
            "/v1.0/me/calendarView",
            sandbox_outlook::FaultKind::Status(503),
        )
        .times(10),
    );
    let e = exec(&ada, "events", "list", window).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ProviderUnavailable);
    sb.clear_faults();
}

#[tokio::test]
async fn the_demo_seed_has_a_weekly_meeting_grace_accepted() {
    let sb = sandbox(SandboxConfig::default());
    let ada = as_user(&sb, ADA);
    let week = json!({"time_min": "2026-12-07T00:00:00Z", "time_max": "2026-12-14T00:00:00Z"});
    let list = ok(&ada, "events", "list", week).await.result;
    let summaries: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["Weekly sync", "Quarterly review"]);
    assert_eq!(list[0]["start"]["date_time"], "2026-12-07T09:30:00Z");
    assert_eq!(list[0]["start"]["time_zone"], "Europe/London");
    assert_eq!(status_of(&list[0], GRACE), "accepted");
    assert_eq!(status_of(&list[1], GRACE), "needs_action");
    let fb = ok(
        &ada,
        "freebusy",
        "query",
        json!({"people": [GRACE], "time_min": "2026-12-09T00:00:00Z", "time_max": "2026-12-10T00:00:00Z"}),
    )
    .await
    .result;
    assert_eq!(
        fb[0]["busy"],
        json!([{"start": "2026-12-09T13:00:00Z", "end": "2026-12-09T14:00:00Z", "show_as": "busy"}]),
        "Grace's private appointment blocks time"
    );
}
