//! One test per policy rule, each on Gmail and Outlook.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use super::{assert_refused, env, Env, KINDS};
use crate::common::harness::CONNECTORS;

/// A write that is not a send: a label (Gmail) or a folder (Outlook).
async fn make_container(env: &Env, kind: &str, id: &str, name: &str) -> (StatusCode, Value) {
    match kind {
        "gmail" => env.run(id, "labels", "create", json!({"name": name})).await,
        _ => {
            env.run(id, "mail_folders", "create", json!({"display_name": name}))
                .await
        }
    }
}

async fn draft(env: &Env, kind: &str, id: &str, params: Value) -> (StatusCode, Value) {
    match kind {
        "gmail" => env.run(id, "drafts", "create", params).await,
        _ => env.run(id, "messages", "create_draft", params).await,
    }
}

async fn send_draft(env: &Env, kind: &str, id: &str, draft: &Value) -> (StatusCode, Value) {
    match kind {
        "gmail" => {
            env.run(id, "drafts", "send", json!({"draft_id": draft["id"]}))
                .await
        }
        _ => {
            env.run(
                id,
                "messages",
                "send_draft",
                json!({"message_id": draft["id"]}),
            )
            .await
        }
    }
}

async fn read(env: &Env, kind: &str, id: &str) -> (StatusCode, Value) {
    match kind {
        "gmail" => {
            env.run(id, "messages", "list", json!({"max_results": 1}))
                .await
        }
        _ => env.run(id, "messages", "list", json!({"top": 1})).await,
    }
}

#[actix_web::test]
async fn read_only_refuses_every_change_and_send_but_not_reads() {
    let env = env().await;
    for kind in KINDS {
        let id = env.connector(kind).await;
        let v = env.set_policy(&id, json!({"mode": "read_only"})).await;
        assert_eq!(
            (v["source"].as_str(), v["version"].as_i64()),
            (Some("connector"), Some(1))
        );
        assert_eq!(read(&env, kind, &id).await.0, StatusCode::OK, "{kind}");
        assert_refused(&make_container(&env, kind, &id, "Kept").await, 403, "mode");
        let got = env
            .send(
                &id,
                json!({"to": ["grace@example.com"], "subject": "ro-send", "text": "x"}),
            )
            .await;
        assert_refused(&got, 403, "mode");
        assert_eq!(got.1["error"]["code"], "permission_denied");
        assert_eq!(env.sent(kind, "ro-send"), 0, "{kind}");
    }
}

#[actix_web::test]
async fn draft_only_creates_drafts_and_refuses_to_send_them_or_anything() {
    let env = env().await;
    for kind in KINDS {
        let id = env.connector(kind).await;
        env.set_policy(&id, json!({"mode": "draft_only"})).await;
        let (s, d) = draft(
            &env,
            kind,
            &id,
            json!({"to": ["grace@example.com"], "subject": "do-draft", "text": "x"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{kind}: {d}");
        assert_eq!(
            make_container(&env, kind, &id, "Drafty").await.0,
            StatusCode::OK
        );
        assert_refused(
            &send_draft(&env, kind, &id, &d["result"]).await,
            403,
            "mode",
        );
        let got = env
            .send(
                &id,
                json!({"to": ["grace@example.com"], "subject": "do-draft", "text": "x"}),
            )
            .await;
        assert_refused(&got, 403, "mode");
        assert_eq!(env.sent(kind, "do-draft"), 0, "{kind}");
    }
}

#[actix_web::test]
async fn the_deny_list_holds_for_to_cc_and_bcc_in_any_case() {
    let env = env().await;
    for kind in KINDS {
        let id = env.connector(kind).await;
        env.set_policy(
            &id,
            json!({"deny_recipients": ["rival.example", "Mallory@Example.com"]}),
        )
        .await;
        for (field, addr) in [
            ("to", "ceo@RIVAL.example"),
            ("cc", "Mallory <mallory@example.COM>"),
            ("bcc", "x@rival.example"),
        ] {
            let mut p = json!({"to": ["grace@example.com"], "subject": "deny-list", "text": "x"});
            p[field] = json!([addr]);
            let got = env.send(&id, p).await;
            assert_refused(&got, 403, "deny_recipients");
        }
        assert_eq!(env.sent(kind, "deny-list"), 0, "{kind}");
        let ok = env
            .send(
                &id,
                json!({"to": ["grace@example.com"], "subject": "deny-list", "text": "x"}),
            )
            .await;
        assert_eq!(ok.0, StatusCode::OK, "{kind}: {}", ok.1);
        assert_eq!(env.sent(kind, "deny-list"), 1, "{kind}");
    }
}

#[actix_web::test]
async fn the_allow_list_admits_only_its_addresses_and_domains() {
    let env = env().await;
    for kind in KINDS {
        let id = env.connector(kind).await;
        env.set_policy(
            &id,
            json!({"allow_recipients": ["example.com", "partner@other.example"]}),
        )
        .await;
        let got = env
            .send(
                &id,
                json!({"to": ["grace@example.com"], "bcc": ["someone@other.example"],
                "subject": "allow-list", "text": "x"}),
            )
            .await;
        assert_refused(&got, 403, "allow_recipients");
        assert_eq!(
            got.1["error"]["details"]["recipient"],
            "someone@other.example"
        );
        let ok = env
            .send(
                &id,
                json!({"to": ["Grace <GRACE@EXAMPLE.COM>"], "cc": ["partner@other.example"],
                "subject": "allow-list", "text": "x"}),
            )
            .await;
        assert_eq!(ok.0, StatusCode::OK, "{kind}: {}", ok.1);
        assert_eq!(env.sent(kind, "allow-list"), 1, "{kind}");
    }
}

#[actix_web::test]
async fn sends_per_hour_and_per_day_are_limited() {
    let env = env().await;
    for kind in KINDS {
        for (rule, policy) in [
            ("max_sends_per_hour", json!({"max_sends_per_hour": 2})),
            (
                "max_sends_per_day",
                json!({"max_sends_per_day": 2, "max_sends_per_hour": 100}),
            ),
        ] {
            let id = env.connector(kind).await;
            env.set_policy(&id, policy).await;
            let subject = format!("limit-{rule}");
            for _ in 0..2 {
                let ok = env
                    .send(
                        &id,
                        json!({"to": ["grace@example.com"], "subject": subject, "text": "x"}),
                    )
                    .await;
                assert_eq!(ok.0, StatusCode::OK, "{kind}: {}", ok.1);
            }
            // Reads and drafts do not count.
            assert_eq!(read(&env, kind, &id).await.0, StatusCode::OK);
            let got = env
                .send(
                    &id,
                    json!({"to": ["grace@example.com"], "subject": subject, "text": "x"}),
                )
                .await;
            assert_refused(&got, 429, rule);
            assert_eq!(got.1["error"]["code"], "rate_limited");
            assert_eq!(env.sent(kind, &subject), 2, "{kind}");
        }
    }
}

#[actix_web::test]
async fn the_largest_attachment_is_enforced() {
    let env = env().await;
    for kind in KINDS {
        let id = env.connector(kind).await;
        env.set_policy(&id, json!({"max_attachment_bytes": 8}))
            .await;
        let att = |bytes: &str| {
            json!([{"filename": "f.bin", "mime_type": "application/octet-stream",
                "content_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)}])
        };
        let got = env
            .send(
                &id,
                json!({"to": ["grace@example.com"], "subject": "att-size", "text": "x",
                "attachments": att("0123456789")}),
            )
            .await;
        assert_refused(&got, 403, "max_attachment_bytes");
        let ok = env
            .send(
                &id,
                json!({"to": ["grace@example.com"], "subject": "att-size", "text": "x",
                "attachments": att("01234567")}),
            )
            .await;
        assert_eq!(ok.0, StatusCode::OK, "{kind}: {}", ok.1);
        assert_eq!(env.sent(kind, "att-size"), 1);
    }
}

#[actix_web::test]
async fn the_organization_default_applies_where_a_connector_has_none_and_status_shows_it() {
    let env = env().await;
    let (s, v) = env
        .put(
            "/api/v1/organization/policy",
            json!({"policy": {"mode": "read_only"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["source"], "organization");
    for kind in KINDS {
        let id = env.connector(kind).await;
        let status = env
            .h
            .get(&format!("{CONNECTORS}/{id}/status"), &env.t)
            .await;
        assert_eq!(status.1["policy"]["source"], "organization", "{}", status.1);
        assert_eq!(status.1["policy"]["policy"]["mode"], "read_only");
        let p = json!({"to": ["grace@example.com"], "subject": "org-default", "text": "x"});
        assert_refused(&env.send(&id, p.clone()).await, 403, "mode");

        // Its own policy wins; removing it brings the default back. Each change is a version.
        let own = env.set_policy(&id, json!({"mode": "send"})).await;
        assert_eq!(
            (own["source"].as_str(), own["version"].as_i64()),
            (Some("connector"), Some(1))
        );
        assert_eq!(env.send(&id, p.clone()).await.0, StatusCode::OK);
        let back = env.set_policy(&id, Value::Null).await;
        assert_eq!(back["source"], "organization");
        assert_refused(&env.send(&id, p).await, 403, "mode");
        let again = env.set_policy(&id, json!({"mode": "draft_only"})).await;
        assert_eq!(again["version"], 3);
        let status = env
            .h
            .get(&format!("{CONNECTORS}/{id}/status"), &env.t)
            .await;
        assert_eq!(status.1["policy"]["policy"]["mode"], "draft_only");
        assert_eq!(status.1["policy"]["version"], 3);
        assert!(status.1["policy"]["updated_by"]
            .as_str()
            .unwrap()
            .starts_with("app:"));
        assert_eq!(env.sent(kind, "org-default"), 1);
    }
}

#[actix_web::test]
async fn a_bad_policy_is_refused_naming_the_field_and_another_organization_cannot_touch_it() {
    let env = env().await;
    let id = env.connector("gmail").await;
    let (s, v) = env
        .put(
            &format!("{CONNECTORS}/{id}/policy"),
            json!({"policy": {"deny_recipients": ["not a domain"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["error"]["details"]["errors"][0]["pointer"],
        "/deny_recipients/0"
    );
    let (s, v) = env
        .put(
            &format!("{CONNECTORS}/{id}/policy"),
            json!({"policy": {"mode": "yolo"}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    let other = env.h.tenant("other").await;
    let got = env
        .h
        .get(&format!("{CONNECTORS}/{id}/policy"), &other)
        .await;
    assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
    let got = env
        .h
        .send(
            crate::common::harness::Req::new(
                actix_web::http::Method::PUT,
                format!("{CONNECTORS}/{id}/policy"),
            )
            .by(&other)
            .json(json!({"policy": {"mode": "send"}})),
        )
        .await;
    assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
}
