//! Calendar events (issue 24): creating, changing and deleting an event in the primary
//! calendar of either emulator makes exactly one `event.*` each in the connector's feed, in the
//! same sequence as its mail; a grant without the calendar makes none and no error loop.

use std::time::Duration;

use serde_json::{json, Value};

use super::{kinds, Env, CONNECTORS, USER};

const GMAIL_WITH_CALENDAR: &[&str] = &[
    "https://mail.google.com/",
    "https://www.googleapis.com/auth/calendar",
];

/// A connector of `kind` whose grant includes the calendar, once mail and calendar are both
/// followed (from then on changes are news).
async fn calendar_connector(e: &Env, kind: &str) -> String {
    let rt = match kind {
        "gmail" => e.gmail.issue_refresh_token(USER, GMAIL_WITH_CALENDAR),
        _ => e
            .outlook
            .issue_refresh_token(USER, connector_outlook::SCOPES),
    };
    let (s, v) =
        e.h.post(
            CONNECTORS,
            &e.t,
            json!({"customer_name": "cust", "connector_type": kind,
                "credentials": {"refresh_token": rt}}),
        )
        .await;
    assert_eq!(s.as_u16(), 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while e
        .h
        .state
        .store
        .calendar_cursor(&id)
        .await
        .unwrap()
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the calendar of {id} was never followed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    id
}

/// `{date_time, time_zone}` `days` from now at `hour` (inside Outlook's followed window).
fn at(days: i64, hour: u32) -> Value {
    let d = (chrono::Utc::now() + chrono::Duration::days(days)).date_naive();
    json!({"date_time": format!("{d}T{hour:02}:00:00"), "time_zone": "Europe/Berlin"})
}

async fn create_update_delete_each_make_exactly_one_event(kind: &str) {
    let e = super::env().await;
    // An event that was there before the first poll is not news.
    let before = e
        .execute(
            &calendar_connector(&e, kind).await,
            "events",
            "create",
            json!({"summary": "old", "start": at(1, 9), "end": at(1, 10)}),
        )
        .await;
    assert!(before["result"]["id"].is_string());
    let id = calendar_connector(&e, kind).await;
    assert_eq!(e.feed(&id, "0", 0).await["data"], json!([]));

    let made = e
        .execute(
            &id,
            "events",
            "create",
            json!({"summary": "Planning", "location": "Room 4", "start": at(3, 14),
                   "end": at(3, 15)}),
        )
        .await;
    let event_id = made["result"]["id"].as_str().unwrap().to_string();
    let got = e.exactly(&id, 1).await;
    let ev = &got[0];
    assert_eq!(ev["type"], "event.created", "{ev:#}");
    assert_eq!(ev["connector_type"], kind);
    assert_eq!(ev["customer_name"], "cust");
    assert!(ev["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(ev["event"]["id"], json!(event_id));
    assert_eq!(ev["event"]["calendar_id"], "primary");
    assert_eq!(ev["event"]["summary"], "Planning");
    assert_eq!(ev["event"]["location"], "Room 4");
    assert_eq!(
        ev["event"]["untrusted_fields"],
        json!(["/summary", "/location"])
    );
    assert!(ev["event"]["start"]["date_time"].is_string(), "{ev:#}");
    // The body is the API type, field for field, and /openapi.json describes it.
    let doc = crate::common::conformance::document();
    for schema in ["CalendarEvent", "Event"] {
        crate::common::conformance::validate_at(doc, &format!("/components/schemas/{schema}"), ev)
            .unwrap();
    }
    let mut wrong = ev.clone();
    wrong["event"]["untrusted_fields"] = json!("summary");
    assert!(crate::common::conformance::validate_at(
        doc,
        "/components/schemas/CalendarEvent",
        &wrong
    )
    .is_err());
    let typed: api_types::events::Event = serde_json::from_value(ev.clone()).unwrap();
    assert!(matches!(typed, api_types::events::Event::Calendar(_)));

    e.execute(
        &id,
        "events",
        "update",
        json!({"event_id": event_id, "summary": "Planning (moved)", "start": at(4, 14),
               "end": at(4, 15)}),
    )
    .await;
    let got = e.exactly(&id, 2).await;
    assert_eq!(got[1]["type"], "event.updated");
    assert_eq!(got[1]["event"]["summary"], "Planning (moved)");

    e.execute(&id, "events", "delete", json!({"event_id": event_id}))
        .await;
    let got = e.exactly(&id, 3).await;
    assert_eq!(
        kinds(&got),
        ["event.created", "event.updated", "event.deleted"]
    );
    assert_eq!(got[2]["event"]["id"], json!(event_id));
    let ids: std::collections::HashSet<&str> =
        got.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "one id per change");
}

#[actix_web::test]
async fn gmail_calendar_create_update_delete_each_make_exactly_one_event() {
    create_update_delete_each_make_exactly_one_event("gmail").await;
}

#[actix_web::test]
async fn outlook_calendar_create_update_delete_each_make_exactly_one_event() {
    create_update_delete_each_make_exactly_one_event("outlook").await;
}

/// Mail and calendar share one sequence: a message and a meeting come in the order they were
/// recorded, numbered without gaps.
#[actix_web::test]
async fn mail_and_calendar_events_share_the_connectors_sequence() {
    let e = super::env().await;
    let id = calendar_connector(&e, "gmail").await;
    e.execute(
        &id,
        "messages",
        "send",
        json!({"to": ["grace@example.com"], "subject": "agenda", "text": "see invite"}),
    )
    .await;
    e.exactly(&id, 1).await;
    e.execute(
        &id,
        "events",
        "create",
        json!({"summary": "Sync", "start": at(2, 11), "end": at(2, 12)}),
    )
    .await;
    let got = e.exactly(&id, 2).await;
    assert_eq!(kinds(&got), ["message.sent", "event.created"]);
}

/// A mail-only grant: mail events as before, no calendar events, and the calendar is not asked
/// again and again (no error loop).
#[actix_web::test]
async fn a_mail_only_grant_makes_mail_events_and_never_loops_on_the_calendar() {
    let e = super::env().await;
    let id = e.connector("gmail").await;
    let asked = || {
        e.gmail
            .stats()
            .by_method
            .get("calendar.events.list")
            .copied()
            .unwrap_or(0)
    };
    let m = e.gmail.insert_message(
        USER,
        b"From: grace@example.com\r\nTo: ada@example.com\r\nSubject: hi\r\n\r\nhello\r\n",
        &["INBOX"],
    );
    let got = e.exactly(&id, 1).await;
    assert_eq!(got[0]["type"], "message.received");
    assert_eq!(got[0]["message"]["id"], json!(m));
    // Ten more poll intervals.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(asked() <= 1, "the calendar was asked {} times", asked());
    let stream = e.h.state.store.calendar_cursor(&id).await.unwrap();
    assert_eq!(stream, None, "a mail-only grant is not followed");
    let (s, v) = e.h.get(&format!("{CONNECTORS}/{id}/status"), &e.t).await;
    assert_eq!(s.as_u16(), 200);
    assert_eq!(v["status"], "active", "{v}");
}
