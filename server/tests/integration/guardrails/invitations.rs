//! Calendar invitations are sends for the policy (docs/guardrails.md, "Calendar
//! invitations"): an event write that makes the provider email attendees meets the mode, the
//! recipient lists and the approval rules on both providers; one that emails nobody is a write.

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{assert_refused, env, Env, KINDS, USER};
use crate::common::harness::{Req, CONNECTORS};

/// A connector whose grant includes the calendar.
async fn calendar_connector(env: &Env, kind: &str, policy: Value) -> String {
    let rt = match kind {
        "gmail" => env.gmail.issue_refresh_token(
            USER,
            &[
                "https://mail.google.com/",
                "https://www.googleapis.com/auth/calendar",
            ],
        ),
        _ => env
            .outlook
            .issue_refresh_token(USER, connector_outlook::SCOPES),
    };
    let (s, v) = env
        .h
        .post(
            CONNECTORS,
            &env.t,
            json!({"customer_name": "cust", "connector_type": kind,
                "credentials": {"refresh_token": rt, "client_id": "cid", "client_secret": "cs"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    env.set_policy(&id, policy).await;
    id
}

fn meeting(summary: &str, attendees: &[&str]) -> Value {
    json!({"summary": summary, "attendees": attendees,
        "start": {"date_time": "2026-06-01T14:00:00", "time_zone": "Europe/Berlin"},
        "end": {"date_time": "2026-06-01T15:00:00", "time_zone": "Europe/Berlin"}})
}

/// Events with this summary in the calendar.
async fn count(env: &Env, id: &str, summary: &str) -> usize {
    let (s, v) = env
        .run(
            id,
            "events",
            "list",
            json!({"time_min": "2026-06-01T00:00:00Z", "time_max": "2026-06-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["summary"] == summary)
        .count()
}

#[actix_web::test]
async fn draft_only_refuses_invitations_but_not_events_without_attendees() {
    let env = env().await;
    for kind in KINDS {
        let id = calendar_connector(&env, kind, json!({"mode": "draft_only"})).await;
        let got = env
            .run(
                &id,
                "events",
                "create",
                meeting("invite", &["grace@example.com"]),
            )
            .await;
        assert_refused(&got, 403, "mode");
        assert_eq!(count(&env, &id, "invite").await, 0, "{kind}: nothing made");
        let (s, v) = env
            .run(&id, "events", "create", meeting("focus time", &[]))
            .await;
        assert_eq!(s, StatusCode::OK, "{kind}: a private event is a write: {v}");
        let event_id = v["result"]["id"].clone();
        // Adding attendees to it would email them: a send.
        let got = env
            .run(
                &id,
                "events",
                "update",
                json!({"event_id": event_id, "attendees": ["grace@example.com"]}),
            )
            .await;
        assert_refused(&got, 403, "mode");
        let (s, v) = env
            .run(
                &id,
                "events",
                "update",
                json!({"event_id": event_id, "summary": "deep work"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{kind}: still nobody to tell: {v}");
    }
}

#[actix_web::test]
async fn recipient_lists_apply_to_attendees_of_new_and_existing_events() {
    let env = env().await;
    for kind in KINDS {
        let id = calendar_connector(&env, kind, json!({})).await;
        // Made before the policy: an outside attendee.
        let (s, v) = env
            .run(
                &id,
                "events",
                "create",
                meeting("with partner", &["grace@partner.example"]),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let outside = v["result"]["id"].clone();
        env.set_policy(&id, json!({"allow_recipients": ["example.com"]}))
            .await;
        let got = env
            .run(
                &id,
                "events",
                "create",
                meeting("deal", &["bob@example.com", "eve@rival.example"]),
            )
            .await;
        assert_refused(&got, 403, "allow_recipients");
        assert_eq!(got.1["error"]["details"]["recipient"], "eve@rival.example");
        let (s, v) = env
            .run(
                &id,
                "events",
                "create",
                meeting("team", &["bob@example.com"]),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{kind}: {v}");
        // Moving the old meeting would email its outside attendee; so would cancelling it.
        let got = env
            .run(
                &id,
                "events",
                "update",
                json!({"event_id": outside, "summary": "with partner (moved)"}),
            )
            .await;
        assert_refused(&got, 403, "allow_recipients");
        let got = env
            .run(&id, "events", "delete", json!({"event_id": outside}))
            .await;
        assert_refused(&got, 403, "allow_recipients");
        assert_eq!(
            count(&env, &id, "with partner").await,
            1,
            "{kind}: untouched"
        );
    }
}

#[actix_web::test]
async fn an_approved_invitation_is_made_exactly_once() {
    let env = env().await;
    for kind in KINDS {
        let id = calendar_connector(&env, kind, json!({"require_approval": "all"})).await;
        let summary = format!("board-{kind}");
        let params = meeting(&summary, &["grace@partner.example"]);
        let (s, v) = env.run(&id, "events", "create", params.clone()).await;
        assert_eq!(s.as_u16(), 403, "{v}");
        assert_eq!(v["error"]["code"], "approval_required", "{v}");
        let apr = v["error"]["details"]["approval_id"]
            .as_str()
            .unwrap()
            .to_string();
        let preview = &v["error"]["details"]["preview"];
        assert_eq!(preview["to"], json!(["grace@partner.example"]));
        assert_eq!(preview["subject"], summary);
        assert_eq!(
            count(&env, &id, &summary).await,
            0,
            "{kind}: not before approval"
        );

        let (s, v) = env
            .h
            .send(Req::new(Method::POST, format!("/api/v1/approvals/{apr}/approve")).by(&env.t))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = env.run(&id, "events", "create", params.clone()).await;
        assert_eq!(s, StatusCode::OK, "{kind}: {v}");
        let (s, v) = env.run(&id, "events", "create", params.clone()).await;
        assert_eq!(
            s,
            StatusCode::CONFLICT,
            "{kind}: one approval, one invitation: {v}"
        );
        assert_eq!(v["error"]["details"]["reason"], "approval_used");
        assert_eq!(count(&env, &id, &summary).await, 1, "{kind}");
    }
}
