//! Every writing action through `connector.execute`, with the emulator's state checked.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::harness::{connector, exec, ok, sandbox};
use base64::Engine;
use connector_core::{ErrorCode, ExecuteOptions, HttpConfig, RetryConfig, Secret, StaticToken};
use sandbox_outlook::{Behaviour, OutlookSandbox, SandboxConfig};
use serde_json::{json, Value};

const ADA: &str = "ada@example.com";
const GRACE: &str = "grace@example.com";

fn find<'a>(msgs: &'a [Value], subject: &str) -> Vec<&'a Value> {
    msgs.iter().filter(|m| m["subject"] == subject).collect()
}

/// Sent mail filed at once (no transport delay), for tests that look at Sent Items and the
/// recipients right after a send; `internetMessageId` survival stays at its default.
fn filed_at_once() -> OutlookSandbox {
    let sb = sandbox(SandboxConfig::default());
    sb.set_behaviour(Behaviour {
        transport_delay: Duration::ZERO,
        ..Behaviour::default()
    });
    sb
}

async fn id_of(c: &connector_core::Connector, search: &str) -> String {
    let r = ok(c, "messages", "list", json!({"search": search}))
        .await
        .result;
    r[0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn send_reaches_the_recipient_and_sent_items() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let out = ok(&c, "messages", "send", json!({"to": ["Grace Hopper <grace@example.com>"], "subject": "Design review", "html": "<p>Tuesday?</p>", "importance": "high"})).await;
    assert_eq!(out.result["status"], "sent");
    // Graph's 202 comes before the transport: the message is on its way, not yet delivered.
    assert_eq!(sb.in_transit(), 1);
    assert!(find(&sb.messages_in(GRACE, "inbox"), "Design review").is_empty());
    sb.finish_transport();
    let inbox = sb.messages_in(GRACE, "inbox");
    let got = find(&inbox, "Design review");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["importance"], "high");
    assert_eq!(got[0]["from"]["emailAddress"]["address"], ADA);
    assert_eq!(
        find(&sb.messages_in(ADA, "sentitems"), "Design review").len(),
        1
    );
    let e = exec(
        &c,
        "messages",
        "send",
        json!({"subject": "nobody", "text": "x"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
    let e = exec(
        &c,
        "messages",
        "send",
        json!({"to": ["grace@example.com"], "text": "x", "from": "boss@elsewhere.example"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.code,
        ErrorCode::PermissionDenied,
        "sending as a foreign address is refused"
    );
}

#[tokio::test]
async fn a_send_whose_answer_is_lost_goes_out_exactly_once() {
    let sb = filed_at_once();
    let mut http = HttpConfig::new(sb.base_url());
    http.total_timeout = Duration::from_secs(1);
    http.read_timeout = Duration::from_secs(1);
    http.retry = RetryConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        ..Default::default()
    };
    let c = connector_outlook::connector(Arc::new(StaticToken(Secret::new("t"))), http).unwrap();
    let params = json!({"to": [GRACE], "subject": "Exactly once", "text": "one copy only"});
    let key = ExecuteOptions {
        idempotency_key: Some("order-42".into()),
    };

    sb.lose_next_responses(1);
    let e = c
        .execute_with("messages", "send", params.clone(), key.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OutcomeUnknown, "{e}");
    assert_eq!(
        find(&sb.messages_in(GRACE, "inbox"), "Exactly once").len(),
        1,
        "the send did happen"
    );

    let again = c
        .execute_with("messages", "send", params.clone(), key.clone())
        .await
        .unwrap();
    assert_eq!(again.result["status"], "already_sent");
    assert_eq!(again.metadata["deduplicated"], true);
    let again = c
        .execute_with("messages", "send", params.clone(), key)
        .await
        .unwrap();
    assert_eq!(again.result["status"], "already_sent");
    assert_eq!(
        find(&sb.messages_in(GRACE, "inbox"), "Exactly once").len(),
        1,
        "and only once"
    );

    let other = ExecuteOptions {
        idempotency_key: Some("order-43".into()),
    };
    let out = c
        .execute_with("messages", "send", params, other)
        .await
        .unwrap();
    assert_eq!(out.result["status"], "sent");
    assert_eq!(
        find(&sb.messages_in(GRACE, "inbox"), "Exactly once").len(),
        2,
        "a new key is a new message"
    );
}

#[tokio::test]
async fn replies_thread_and_forwards_carry_comment_and_attachments() {
    let sb = filed_at_once();
    let c = connector(&sb);
    let lunch = id_of(&c, "lunch").await;
    let thread = ok(&c, "messages", "get", json!({"message_id": lunch}))
        .await
        .result["thread_id"]
        .clone();
    ok(
        &c,
        "messages",
        "reply",
        json!({"message_id": lunch, "comment": "Yes, noon works."}),
    )
    .await;
    let sent = sb.messages_in(ADA, "sentitems");
    let reply = find(&sent, "RE: Lunch tomorrow?");
    assert_eq!(reply.len(), 1);
    assert_eq!(
        reply[0]["conversationId"], thread,
        "the reply joins the conversation"
    );
    assert_eq!(
        reply[0]["toRecipients"][0]["emailAddress"]["address"],
        GRACE
    );
    let original = ok(&c, "messages", "get", json!({"message_id": lunch}))
        .await
        .result;
    let sent_reply = ok(&c, "messages", "get", json!({"message_id": reply[0]["id"]}))
        .await
        .result;
    assert_eq!(
        sent_reply["in_reply_to"], original["message_id"],
        "In-Reply-To names the original"
    );
    assert_eq!(sent_reply["references"], json!([original["message_id"]]));
    let at_grace = sb.messages_in(GRACE, "inbox");
    assert!(find(&at_grace, "RE: Lunch tomorrow?")[0]["body"]["content"]
        .as_str()
        .unwrap()
        .starts_with("Yes, noon works."));

    let apollo = id_of(&c, "from:linus").await;
    ok(
        &c,
        "messages",
        "reply_all",
        json!({"message_id": apollo, "comment": "Count me in."}),
    )
    .await;
    let ra = sb.messages_in(ADA, "sentitems");
    let ra = find(&ra, "RE: Apollo kickoff");
    assert_eq!(
        ra[0]["ccRecipients"][0]["emailAddress"]["address"], GRACE,
        "reply all keeps cc"
    );

    let lisbon = id_of(&c, "lisbon").await;
    ok(
        &c,
        "messages",
        "forward",
        json!({"message_id": lisbon, "to": [GRACE], "comment": "FYI, my trip"}),
    )
    .await;
    let fw = sb.messages_in(GRACE, "inbox");
    let fw = find(&fw, "FW: Trip to Lisbon");
    assert_eq!(fw.len(), 1);
    assert!(fw[0]["body"]["content"]
        .as_str()
        .unwrap()
        .starts_with("FYI, my trip"));
    assert_eq!(fw[0]["hasAttachments"], true);
    let e = exec(
        &c,
        "messages",
        "forward",
        json!({"message_id": lisbon, "to": []}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
}

#[tokio::test]
async fn a_draft_with_a_10_mb_attachment_goes_through_an_upload_session() {
    let sb = filed_at_once();
    let c = connector(&sb);
    let draft = ok(
        &c,
        "messages",
        "create_draft",
        json!({"to": [GRACE], "subject": "Big file", "text": "see attached"}),
    )
    .await
    .result;
    assert_eq!(draft["is_draft"], true);
    let id = draft["id"].as_str().unwrap().to_string();
    let data: Vec<u8> = (0..10 * 1024 * 1024)
        .map(|i: usize| (i % 253) as u8)
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    sb.reset_stats();
    let att = ok(&c, "attachments", "add", json!({"message_id": id, "filename": "big.bin", "mime_type": "application/octet-stream", "content_base64": b64})).await;
    assert_eq!(att.metadata["upload_session"], true);
    assert_eq!(att.metadata["ranges"], 3, "10 MB in ranges under 4 MB");
    assert!(att.result["attachment_id"].is_string());
    let small = ok(&c, "attachments", "add", json!({"message_id": id, "filename": "note.txt", "mime_type": "text/plain", "content_base64": "aGVsbG8="})).await;
    assert_eq!(small.metadata["upload_session"], false);
    ok(
        &c,
        "attachments",
        "delete",
        json!({"message_id": id, "attachment_id": small.result["attachment_id"]}),
    )
    .await;
    ok(&c, "messages", "send_draft", json!({"message_id": id})).await;
    let inbox = sb.messages_in(GRACE, "inbox");
    let got = find(&inbox, "Big file");
    assert_eq!(got.len(), 1);
    assert!(
        sb.messages_in(ADA, "drafts")
            .iter()
            .all(|m| m["subject"] != "Big file"),
        "the draft left Drafts"
    );
    let atts = ok(
        &c,
        "attachments",
        "list",
        json!({"message_id": find(&sb.messages_in(ADA, "sentitems"), "Big file")[0]["id"]}),
    )
    .await
    .result;
    assert_eq!(atts.as_array().unwrap().len(), 1);
    assert!(atts[0]["size"].as_u64().unwrap() >= data.len() as u64);
    assert_eq!(got[0]["hasAttachments"], true, "grace's copy has the file");
}

#[tokio::test]
async fn drafts_of_replies_and_forwards() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let lunch = id_of(&c, "lunch").await;
    let r = ok(
        &c,
        "messages",
        "create_reply",
        json!({"message_id": lunch, "comment": "Maybe"}),
    )
    .await
    .result;
    assert_eq!(
        (r["is_draft"].as_bool(), r["subject"].as_str()),
        (Some(true), Some("RE: Lunch tomorrow?"))
    );
    let f = ok(
        &c,
        "messages",
        "create_forward",
        json!({"message_id": lunch, "to": ["linus@example.org"]}),
    )
    .await
    .result;
    assert_eq!(f["to"][0]["email"], "linus@example.org");
    assert_eq!(
        sb.messages_in(ADA, "drafts").len(),
        3,
        "the seeded draft and these two"
    );
}

#[tokio::test]
async fn update_move_copy_and_delete() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let id = id_of(&c, "lunch").await;
    let u = ok(&c, "messages", "update", json!({"message_id": id, "is_read": true, "categories": ["Finance"], "flag": "flagged", "importance": "low"})).await.result;
    assert_eq!(
        (
            u["is_read"].as_bool(),
            u["flag"].as_str(),
            u["importance"].as_str()
        ),
        (Some(true), Some("flagged"), Some("low"))
    );
    assert_eq!(
        sb.message_json(ADA, &id).unwrap()["categories"],
        json!(["Finance"])
    );
    let e = exec(&c, "messages", "update", json!({"message_id": id}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);

    let moved = ok(
        &c,
        "messages",
        "move",
        json!({"message_id": id, "destination_folder": "archive"}),
    )
    .await
    .result;
    let new_id = moved["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    assert!(sb.message_ids(ADA, "archive").contains(&new_id));
    assert!(!sb.message_ids(ADA, "inbox").contains(&id));
    let copied = ok(
        &c,
        "messages",
        "copy",
        json!({"message_id": new_id, "destination_folder": "inbox"}),
    )
    .await
    .result;
    assert!(sb
        .message_ids(ADA, "inbox")
        .contains(&copied["id"].as_str().unwrap().to_string()));
    assert!(
        sb.message_ids(ADA, "archive").contains(&new_id),
        "a copy leaves the original"
    );

    ok(
        &c,
        "messages",
        "delete",
        json!({"message_id": copied["id"]}),
    )
    .await;
    assert!(sb
        .messages_in(ADA, "deleteditems")
        .iter()
        .any(|m| m["subject"] == "Lunch tomorrow?"));
    ok(
        &c,
        "messages",
        "delete",
        json!({"message_id": new_id, "permanent": true}),
    )
    .await;
    assert!(!sb.message_ids(ADA, "archive").contains(&new_id));
    let e = exec(&c, "messages", "get", json!({"message_id": new_id}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn folders_categories_and_automatic_replies() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let f = ok(
        &c,
        "mail_folders",
        "create",
        json!({"display_name": "Customers", "parent_folder": "inbox"}),
    )
    .await
    .result;
    assert_eq!(
        sb.folder_id(ADA, "Inbox/Customers").as_deref(),
        f["id"].as_str()
    );
    let e = exec(
        &c,
        "mail_folders",
        "create",
        json!({"display_name": "Customers", "parent_folder": "inbox"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    let r = ok(
        &c,
        "mail_folders",
        "update",
        json!({"folder": f["id"], "display_name": "Clients"}),
    )
    .await
    .result;
    assert_eq!(r["display_name"], "Clients");
    ok(&c, "mail_folders", "delete", json!({"folder": f["id"]})).await;
    assert!(sb.folder_id(ADA, "Inbox/Clients").is_none());
    let e = exec(&c, "mail_folders", "delete", json!({"folder": "inbox"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);

    let cat = ok(
        &c,
        "categories",
        "create",
        json!({"display_name": "Customers", "color": "preset4"}),
    )
    .await
    .result;
    let names = |c: Value| {
        c.as_array()
            .unwrap()
            .iter()
            .map(|x| x["display_name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(names(ok(&c, "categories", "list", json!({})).await.result)
        .contains(&"Customers".to_string()));
    ok(
        &c,
        "categories",
        "delete",
        json!({"category_id": cat["id"]}),
    )
    .await;
    assert!(!names(ok(&c, "categories", "list", json!({})).await.result)
        .contains(&"Customers".to_string()));

    let s = ok(&c, "mailbox_settings", "update", json!({"automatic_replies": {"status": "scheduled", "internal_reply_message": "Back Monday.", "scheduled_start": "2026-04-01T00:00:00Z", "scheduled_end": "2026-04-08T00:00:00Z"}})).await.result;
    assert_eq!(s["automatic_replies_setting"]["status"], "scheduled");
    assert_eq!(
        s["automatic_replies_setting"]["internal_reply_message"],
        "Back Monday."
    );
    assert_eq!(
        s["automatic_replies_setting"]["scheduled_end_date_time"]["date_time"],
        "2026-04-08T00:00:00"
    );
    let e = exec(
        &c,
        "mailbox_settings",
        "update",
        json!({"automatic_replies": {"status": "scheduled"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
}

/// Echoes Graph's validation token and records notifications.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    use axum::extract::{Query, State};
    use std::collections::HashMap;
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    async fn hook(
        State(got): State<Arc<Mutex<Vec<Value>>>>,
        Query(q): Query<HashMap<String, String>>,
        body: axum::body::Bytes,
    ) -> String {
        if let Some(t) = q.get("validationToken") {
            return t.clone();
        }
        got.lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
        String::new()
    }
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

#[tokio::test]
async fn a_subscription_is_validated_notified_renewed_and_deleted() {
    let sb: OutlookSandbox = filed_at_once();
    let c = connector(&sb);
    let (url, got) = receiver().await;
    let sub = ok(
        &c,
        "subscriptions",
        "create",
        json!({"notification_url": url, "client_state": "s3cret", "expiration_minutes": 60}),
    )
    .await
    .result;
    let sid = sub["subscription_id"].as_str().unwrap().to_string();
    ok(
        &c,
        "messages",
        "send",
        json!({"to": [ADA], "subject": "to myself", "text": "ping"}),
    )
    .await;
    for _ in 0..100 {
        if !got.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let notes = got.lock().unwrap().clone();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["value"][0]["clientState"], "s3cret");
    assert_eq!(notes[0]["value"][0]["subscriptionId"], sid.as_str());
    let renewed = ok(
        &c,
        "subscriptions",
        "renew",
        json!({"subscription_id": sid, "expiration_minutes": 600}),
    )
    .await
    .result;
    assert_ne!(renewed["expiration"], sub["expiration"]);
    ok(
        &c,
        "subscriptions",
        "delete",
        json!({"subscription_id": sid}),
    )
    .await;
    let e = exec(
        &c,
        "subscriptions",
        "renew",
        json!({"subscription_id": sid}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = exec(
        &c,
        "subscriptions",
        "create",
        json!({"notification_url": "http://127.0.0.1:9/nothing-listens"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.code,
        ErrorCode::InvalidParams,
        "validation fails when the URL does not echo"
    );
}
