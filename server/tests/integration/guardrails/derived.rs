//! Sends whose message is not all in the params: a draft that is sent, a reply, a reply to
//! all, a forward. Their recipients (and attachments) are read from the provider before the
//! rules judge them, on both providers.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use super::{assert_refused, env, Env, KINDS, USER};

/// A message from `from` (cc'ing `cc`) in the inbox; its id.
fn received(env: &Env, kind: &str, subject: &str, from: &str, cc: &str) -> String {
    match kind {
        "gmail" => {
            let raw = format!(
                "From: Sender <{from}>\r\nTo: {USER}\r\nCc: {cc}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@x.example>\r\n\r\nhello\r\n"
            );
            env.gmail.insert_message(USER, raw.as_bytes(), &["INBOX"])
        }
        _ => env
            .outlook
            .deliver(
                USER,
                "inbox",
                sandbox_outlook::NewMessage {
                    subject: subject.into(),
                    from: ("Sender".into(), from.into()),
                    to: vec![("Ada".into(), USER.into())],
                    cc: vec![("Cc".into(), cc.into())],
                    body: "hello".into(),
                    attachments: vec![(
                        "q3.csv".into(),
                        "text/csv".into(),
                        b"a,b\n".to_vec(),
                        false,
                    )],
                    ..Default::default()
                },
            )
            .unwrap(),
    }
}

async fn draft(env: &Env, kind: &str, id: &str, params: Value) -> Value {
    let (s, v) = match kind {
        "gmail" => env.run(id, "drafts", "create", params).await,
        _ => env.run(id, "messages", "create_draft", params).await,
    };
    assert_eq!(s, StatusCode::OK, "{v}");
    v["result"].clone()
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

/// A reply to a message: Gmail's send with `reply_to_message_id`, Graph's reply.
async fn reply(env: &Env, kind: &str, id: &str, original: &str, all: bool) -> (StatusCode, Value) {
    match (kind, all) {
        ("gmail", _) => {
            env.send(
                id,
                json!({"reply_to_message_id": original, "text": "thanks"}),
            )
            .await
        }
        (_, false) => {
            env.run(
                id,
                "messages",
                "reply",
                json!({"message_id": original, "comment": "thanks"}),
            )
            .await
        }
        (_, true) => {
            env.run(
                id,
                "messages",
                "reply_all",
                json!({"message_id": original, "comment": "thanks"}),
            )
            .await
        }
    }
}

#[actix_web::test]
async fn a_draft_is_judged_by_its_stored_recipients_when_it_is_sent() {
    let env = env().await;
    for kind in KINDS {
        let id = env.connector(kind).await;
        env.set_policy(&id, json!({"deny_recipients": ["rival.example"]}))
            .await;
        // Drafting is not sending: the draft is made.
        let bad = draft(
            &env,
            kind,
            &id,
            json!({"to": ["grace@example.com"], "bcc": ["spy@rival.example"],
            "subject": "draft-deny", "text": "x"}),
        )
        .await;
        assert_refused(
            &send_draft(&env, kind, &id, &bad).await,
            403,
            "deny_recipients",
        );
        assert_eq!(env.sent(kind, "draft-deny"), 0, "{kind}");
        let good = draft(
            &env,
            kind,
            &id,
            json!({"to": ["grace@example.com"], "subject": "draft-ok", "text": "x"}),
        )
        .await;
        let (s, v) = send_draft(&env, kind, &id, &good).await;
        assert_eq!(s, StatusCode::OK, "{kind}: {v}");
        assert_eq!(env.sent(kind, "draft-ok"), 1, "{kind}");
    }
}

#[actix_web::test]
async fn an_approved_draft_goes_out_once_and_an_edited_one_asks_again() {
    let env = env().await;
    for kind in KINDS {
        let id = env.connector(kind).await;
        env.set_policy(&id, json!({"require_approval": "all"}))
            .await;
        let subject = format!("draft-approve-{kind}");
        let d = draft(
            &env,
            kind,
            &id,
            json!({"to": ["grace@partner.example"], "subject": subject, "text": "exact words"}),
        )
        .await;
        let (s, v) = send_draft(&env, kind, &id, &d).await;
        assert_eq!(
            (s.as_u16(), v["error"]["code"].as_str()),
            (403, Some("approval_required")),
            "{v}"
        );
        let apr = v["error"]["details"]["approval_id"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, a) = env.h.get(&format!("/api/v1/approvals/{apr}"), &env.t).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(a["preview"]["to"], json!(["grace@partner.example"]), "{a}");
        assert_eq!(a["preview"]["subject"], subject.as_str());
        assert!(
            a["preview"]["text"]
                .as_str()
                .unwrap()
                .contains("exact words"),
            "{a}"
        );
        let (s, _) = env
            .h
            .send(
                crate::common::harness::Req::new(
                    actix_web::http::Method::POST,
                    format!("/api/v1/approvals/{apr}/approve"),
                )
                .by(&env.t),
            )
            .await;
        assert_eq!(s, StatusCode::OK);

        // Editing the draft after the approval (Gmail's drafts.update can change its
        // recipients) makes another message: a new approval.
        if kind == "gmail" {
            let edited = env.run(&id, "drafts", "update", json!({"draft_id": d["id"],
                "to": ["grace@partner.example"], "cc": ["eve@elsewhere.example"], "subject": subject, "text": "exact words"})).await;
            assert_eq!(edited.0, StatusCode::OK, "{}", edited.1);
            let (s, v) = send_draft(&env, kind, &id, &d).await;
            assert_eq!(v["error"]["code"], "approval_required", "{v}");
            assert_eq!(s.as_u16(), 403);
            assert_ne!(v["error"]["details"]["approval_id"], apr.as_str());
            // Back to the approved content: it goes out.
            let back = env
                .run(
                    &id,
                    "drafts",
                    "update",
                    json!({"draft_id": d["id"],
                "to": ["grace@partner.example"], "subject": subject, "text": "exact words"}),
                )
                .await;
            assert_eq!(back.0, StatusCode::OK, "{}", back.1);
        }
        let (s, v) = send_draft(&env, kind, &id, &d).await;
        assert_eq!(s, StatusCode::OK, "{kind}: {v}");
        assert_eq!(env.sent(kind, &subject), 1, "{kind}");
    }
}

#[actix_web::test]
async fn replies_and_forwards_are_judged_by_who_they_go_to() {
    let env = env().await;
    for kind in KINDS {
        let id = env.connector(kind).await;
        env.set_policy(&id, json!({"deny_recipients": ["rival.example"]}))
            .await;
        let from_rival = received(
            &env,
            kind,
            "from-rival",
            "boss@rival.example",
            "c@example.com",
        );
        assert_refused(
            &reply(&env, kind, &id, &from_rival, false).await,
            403,
            "deny_recipients",
        );
        let friendly = received(
            &env,
            kind,
            "friendly",
            "grace@example.com",
            "spy@rival.example",
        );
        let (s, v) = reply(&env, kind, &id, &friendly, false).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "{kind}: a reply goes to the sender only: {v}"
        );
        if kind == "outlook" {
            // A reply to all also goes to the Cc: refused.
            assert_refused(
                &reply(&env, kind, &id, &friendly, true).await,
                403,
                "deny_recipients",
            );
            let fwd = env
                .run(
                    &id,
                    "messages",
                    "forward",
                    json!({"message_id": friendly, "to": ["x@RIVAL.example"]}),
                )
                .await;
            assert_refused(&fwd, 403, "deny_recipients");
        }
    }
}

#[actix_web::test]
async fn a_forward_carries_the_originals_attachments_into_the_approval() {
    let env = env().await;
    let id = env.connector("outlook").await;
    env.set_policy(&id, json!({"max_attachment_bytes": 2}))
        .await;
    let original = received(
        &env,
        "outlook",
        "with-file",
        "grace@example.com",
        "c@example.com",
    );
    let fwd = env
        .run(
            &id,
            "messages",
            "forward",
            json!({"message_id": original, "to": ["bob@example.com"]}),
        )
        .await;
    assert_refused(&fwd, 403, "max_attachment_bytes");
    env.set_policy(&id, json!({"require_approval": "all"}))
        .await;
    let fwd = env
        .run(
            &id,
            "messages",
            "forward",
            json!({"message_id": original, "to": ["bob@example.com"], "comment": "fyi"}),
        )
        .await;
    assert_eq!(fwd.1["error"]["code"], "approval_required", "{}", fwd.1);
    let apr = fwd.1["error"]["details"]["approval_id"].as_str().unwrap();
    let (_, a) = env.h.get(&format!("/api/v1/approvals/{apr}"), &env.t).await;
    let p = &a["preview"];
    assert_eq!(p["to"], json!(["bob@example.com"]));
    assert_eq!(p["subject"], "FW: with-file");
    assert_eq!(p["text"], "fyi");
    assert_eq!(p["attachments"][0]["filename"], "q3.csv");
    assert_eq!(p["attachments"][0]["size"], 4);
    assert!(p["attachments"][0]["sha256"].is_string(), "{a}");
    assert!(p["note"].as_str().unwrap().contains("quotes the original"));
}

/// A Gmail reply under a policy builds its message twice (the preview the rules judge, then the
/// message that goes out), but reads its original once: it makes as many provider requests as
/// the same reply without a policy.
#[actix_web::test]
async fn a_reply_under_a_policy_reads_its_original_once() {
    use sandbox_kit::Emulator;
    let env = env().await;
    let free = env.connector("gmail").await;
    let guarded = env.connector("gmail").await;
    env.set_policy(&guarded, json!({"deny_recipients": ["rival.example"]}))
        .await;
    let mut requests = Vec::new();
    for (n, id) in [&free, &guarded].into_iter().enumerate() {
        let original = received(
            &env,
            "gmail",
            &format!("ask-{n}"),
            "grace@example.com",
            "bob@example.com",
        );
        let before = env.gmail.kit().counts().http_requests;
        let (s, v) = reply(&env, "gmail", id, &original, false).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        requests.push(env.gmail.kit().counts().http_requests - before);
    }
    assert_eq!(
        requests[1], requests[0],
        "provider requests of the reply without a policy, then under one: {requests:?}"
    );
}
