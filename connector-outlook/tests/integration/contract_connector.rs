//! Every request the connector sends (batch parts included) matches an operation of Microsoft's
//! request metadata, by URI template, method and query options, and every answer it got from
//! the emulator has the fields and types of Microsoft's models. Operations no action uses are
//! listed below with the reason.

use std::collections::BTreeSet;

use crate::common::contract::{check_response, Operation, Operations, SentRequest, Types};
use crate::common::harness::{connector, ok};
use sandbox_outlook::{NewMessage, OutlookSandbox, SandboxConfig, Seed};
use serde_json::{json, Value};

const ADA: &str = "ada@example.com";

/// Operations of the metadata file no action uses, on purpose.
fn left_out(op: &Operation) -> Option<&'static str> {
    let t = op.uri_template.as_str();
    let m = op.method.as_str();
    if let Some(reason) = crate::contract_calendar::left_out(t, m) {
        return Some(reason);
    }
    Some(
        if t.starts_with("/subscriptions") && (m == "GET" || t.contains("reauthorize")) {
            "subscriptions are created, renewed and deleted; listing, reading and reauthorizing them are not offered"
        } else if t == "/users/{user%2Did}{?%24expand,%24select}" && m != "GET" {
            "changing or deleting the user is not a mail operation"
        } else if t.contains("/$count") {
            "counts come with mail folders (totalItemCount, unreadItemCount); no $count endpoint is needed"
        } else if t.contains("/$value") {
            "raw MIME: messages.get gives decoded text and html bodies, messages.send builds JSON messages"
        } else if t.contains("/childFolders/{mailFolder%2Did1}") {
            "a child folder is addressed by its own id at /mailFolders/{id}, not through its parent"
        } else if t.contains("/mailFolders/delta()") || t.contains("/childFolders/delta()") {
            "folder delta: messages.delta syncs messages only"
        } else if t.starts_with("/users/{user%2Did}/messages/delta()") {
            "Outlook's message delta works per folder (/mailFolders/{id}/messages/delta)"
        } else if t
            .starts_with("/users/{user%2Did}/mailFolders/{mailFolder%2Did}/messages/{message%2Did}")
        {
            "a message is addressed by id at /messages/{id}; the folder form is the same resource"
        } else if t.starts_with("/users/{user%2Did}/mailFolders/{mailFolder%2Did}/messages{")
            && m == "POST"
        {
            "drafts are created in Drafts (POST /messages) and moved if needed"
        } else if t.starts_with("/users/{user%2Did}/mailFolders/{mailFolder%2Did}/")
            && ["copy", "move", "permanentDelete"]
                .iter()
                .any(|a| t.ends_with(a))
        {
            "copying, moving or purging whole folders is not offered (mail_folders.delete removes one)"
        } else if t.starts_with("/users/{user%2Did}/outlook{") {
            "the outlook user resource itself holds nothing the actions need beyond masterCategories"
        } else if t.contains("/outlook/masterCategories/{outlookCategory%2Did}") && m != "DELETE" {
            "categories.list returns every category; reading one or recoloring it is not offered"
        } else if t.contains("supportedLanguages") || t.contains("supportedTimeZones") {
            "time zones and languages are not part of the mail actions"
        } else {
            return None;
        },
    )
}

async fn run_every_action(sb: &OutlookSandbox) {
    let c = connector(sb);
    let ids = sb.message_ids(ADA, "inbox");
    let mut calls: Vec<(&str, &str, Value)> = vec![
        ("profile", "get", json!({})),
        ("messages", "list", json!({})),
        (
            "messages",
            "list",
            json!({"folder": "inbox", "is_read": false, "from": "grace@example.com", "received_after": "2026-01-01", "received_before": "2027-01-01", "has_attachments": false, "importance": "normal", "categories": ["Finance"], "select": ["subject", "body"], "top": 5}),
        ),
        ("messages", "list", json!({"search": "generated", "top": 5})),
        (
            "messages",
            "search",
            json!({"text": "generated", "from": "grace", "is_read": false, "max_results": 5}),
        ),
        (
            "messages",
            "search",
            json!({"label": "inbox", "has_attachment": false, "after": "2026-01-01", "before": "2027-01-01"}),
        ),
        ("messages", "get", json!({"message_id": ids[0]})),
        (
            "messages",
            "get_many",
            json!({"message_ids": ids.iter().take(25).collect::<Vec<_>>()}),
        ),
        ("attachments", "list", json!({"message_id": ids[0]})),
        ("mail_folders", "list", json!({"include_hidden": true})),
        ("mail_folders", "list", json!({"parent_folder": "inbox"})),
        ("mail_folders", "get", json!({"folder": "inbox"})),
        ("categories", "list", json!({})),
        ("mailbox_settings", "get", json!({})),
    ];
    calls.push(("messages", "delta", json!({"folder": "inbox", "top": 20})));
    for (entity, action, params) in calls {
        let before = sb.requests().len();
        let out = ok(&c, entity, action, params).await;
        assert!(
            sb.requests().len() > before,
            "{entity}.{action} sent no request"
        );
        if action == "list" && entity == "messages" {
            if let Some(t) = out.metadata.get("next_page_token") {
                ok(&c, "messages", "list", json!({"page_token": t})).await;
            }
        }
    }
    let att = ok(&c, "attachments", "list", json!({"message_id": ids[0]}))
        .await
        .result;
    ok(
        &c,
        "attachments",
        "get",
        json!({"message_id": ids[0], "attachment_id": att[0]["attachment_id"]}),
    )
    .await;
    // a delta round with paging, a change and a removal
    let mut p = json!({"folder": "inbox", "top": 20});
    let token = loop {
        let out = ok(&c, "messages", "delta", p).await;
        if let Some(t) = out.metadata.get("delta_token") {
            break t.clone();
        }
        p = json!({"page_token": out.metadata["next_page_token"]});
    };
    sb.delete_message(ADA, &ids[1]);
    sb.deliver(ADA, "inbox", NewMessage::default());
    ok(&c, "messages", "delta", json!({"delta_token": token})).await;

    // writing
    ok(
        &c,
        "messages",
        "send",
        json!({"to": ["grace@example.com"], "subject": "s", "text": "t"}),
    )
    .await;
    let first = ids[2].as_str();
    for action in ["reply", "reply_all"] {
        ok(
            &c,
            "messages",
            action,
            json!({"message_id": first, "comment": "c"}),
        )
        .await;
    }
    ok(
        &c,
        "messages",
        "forward",
        json!({"message_id": first, "to": ["grace@example.com"]}),
    )
    .await;
    ok(&c, "messages", "create_reply", json!({"message_id": first})).await;
    ok(
        &c,
        "messages",
        "create_reply",
        json!({"message_id": first, "reply_all": true}),
    )
    .await;
    ok(
        &c,
        "messages",
        "create_forward",
        json!({"message_id": first}),
    )
    .await;
    let draft = ok(
        &c,
        "messages",
        "create_draft",
        json!({"to": ["grace@example.com"], "subject": "d"}),
    )
    .await
    .result;
    let small = ok(
        &c,
        "attachments",
        "add",
        json!({"message_id": draft["id"], "filename": "a.txt", "content_base64": "aGk="}),
    )
    .await
    .result;
    ok(
        &c,
        "attachments",
        "delete",
        json!({"message_id": draft["id"], "attachment_id": small["attachment_id"]}),
    )
    .await;
    let big = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        vec![7u8; 3 * 1024 * 1024 + 10],
    );
    ok(
        &c,
        "attachments",
        "add",
        json!({"message_id": draft["id"], "filename": "b.bin", "content_base64": big}),
    )
    .await;
    ok(
        &c,
        "messages",
        "send_draft",
        json!({"message_id": draft["id"]}),
    )
    .await;
    ok(
        &c,
        "messages",
        "update",
        json!({"message_id": first, "is_read": true}),
    )
    .await;
    let moved = ok(
        &c,
        "messages",
        "move",
        json!({"message_id": first, "destination_folder": "archive"}),
    )
    .await
    .result;
    let copy = ok(
        &c,
        "messages",
        "copy",
        json!({"message_id": moved["id"], "destination_folder": "inbox"}),
    )
    .await
    .result;
    ok(&c, "messages", "delete", json!({"message_id": copy["id"]})).await;
    ok(
        &c,
        "messages",
        "delete",
        json!({"message_id": moved["id"], "permanent": true}),
    )
    .await;
    let f = ok(&c, "mail_folders", "create", json!({"display_name": "F"}))
        .await
        .result;
    ok(
        &c,
        "mail_folders",
        "create",
        json!({"display_name": "G", "parent_folder": f["id"]}),
    )
    .await;
    ok(
        &c,
        "mail_folders",
        "update",
        json!({"folder": f["id"], "display_name": "F2"}),
    )
    .await;
    ok(&c, "mail_folders", "delete", json!({"folder": f["id"]})).await;
    let cat = ok(&c, "categories", "create", json!({"display_name": "New"}))
        .await
        .result;
    ok(
        &c,
        "categories",
        "delete",
        json!({"category_id": cat["id"]}),
    )
    .await;
    ok(
        &c,
        "mailbox_settings",
        "update",
        json!({"time_zone": "Europe/Lisbon"}),
    )
    .await;
    let (url, _guard) = echo_server().await;
    let sub = ok(
        &c,
        "subscriptions",
        "create",
        json!({"notification_url": url}),
    )
    .await
    .result;
    ok(
        &c,
        "subscriptions",
        "renew",
        json!({"subscription_id": sub["subscription_id"]}),
    )
    .await;
    ok(
        &c,
        "subscriptions",
        "delete",
        json!({"subscription_id": sub["subscription_id"]}),
    )
    .await;
    crate::contract_calendar::run_calendar_actions(sb).await;
}

/// Answers Graph's validation handshake.
async fn echo_server() -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::Query;
    use std::collections::HashMap;
    async fn hook(Query(q): Query<HashMap<String, String>>) -> String {
        q.get("validationToken").cloned().unwrap_or_default()
    }
    let app = axum::Router::new().route("/hook", axum::routing::post(hook));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), task)
}

#[tokio::test]
async fn every_request_and_answer_matches_microsofts_description() {
    // ada's inbox: 30 generated messages (every 10th with an attachment, ids[0] among them)
    let sb = OutlookSandbox::start(SandboxConfig {
        seed: Seed::Count(30),
        ..Default::default()
    })
    .unwrap();
    sb.set_recording(true);
    run_every_action(&sb).await;

    let ops = Operations::load();
    let types = Types::load();
    let mut used = BTreeSet::new();
    let log = sb.requests();
    assert!(
        log.iter().any(|r| r.in_batch),
        "get_many goes through $batch"
    );
    for r in &log {
        let query: Vec<&str> = r.query.iter().map(|(k, _)| k.as_str()).collect();
        let op = ops
            .matching(&SentRequest {
                method: &r.method,
                path: &r.path,
                query,
            })
            .unwrap_or_else(|e| {
                panic!("the connector sent a request Graph does not describe: {e}")
            });
        assert!(
            r.status < 400,
            "{} {} failed: {}",
            r.method,
            r.path,
            r.response
        );
        used.insert(op.key());
        match check_response(&types, op, r.status, &r.response) {
            Ok(errors) => assert!(errors.is_empty(), "{} {}: {errors:#?}", r.method, r.path),
            Err("the operation returns no body") => {
                assert!(
                    r.response.is_null(),
                    "{} {} answered a body: {}",
                    r.method,
                    r.path,
                    r.response
                )
            }
            Err(reason) => assert_eq!(r.path, "/v1.0/me", "unchecked {}: {reason}", r.path),
        }
    }
    // Every operation of the file is used by an action or left out for a written reason.
    let mut unexplained = Vec::new();
    for op in &ops.0 {
        let is_used = used.contains(&op.key());
        match (is_used, left_out(op)) {
            (true, Some(reason)) => panic!("{} is used but listed as left out: {reason}", op.key()),
            (false, None) => unexplained.push(op.key()),
            _ => {}
        }
    }
    assert!(
        unexplained.is_empty(),
        "operations neither used nor left out: {unexplained:#?}"
    );
    let reading = [
        "GET /users/{user%2Did}{?%24expand,%24select}",
        "GET /users/{user%2Did}/messages{?%24count,%24expand,%24filter,%24orderby,%24search,%24select,%24skip,%24top,includeHiddenMessages*}",
        "GET /users/{user%2Did}/messages/{message%2Did}{?%24expand,%24select,includeHiddenMessages*}",
        "GET /users/{user%2Did}/messages/{message%2Did}/attachments{?%24count,%24expand,%24filter,%24orderby,%24search,%24select,%24skip,%24top}",
        "GET /users/{user%2Did}/messages/{message%2Did}/attachments/{attachment%2Did}{?%24expand,%24select}",
        "GET /users/{user%2Did}/mailFolders{?%24count,%24expand,%24filter,%24orderby,%24search,%24select,%24skip,%24top,includeHiddenFolders*}",
        "GET /users/{user%2Did}/mailFolders/{mailFolder%2Did}{?%24expand,%24select,includeHiddenFolders*}",
        "GET /users/{user%2Did}/mailFolders/{mailFolder%2Did}/childFolders{?%24count,%24expand,%24filter,%24orderby,%24search,%24select,%24skip,%24top,includeHiddenFolders*}",
        "GET /users/{user%2Did}/mailFolders/{mailFolder%2Did}/messages{?%24count,%24expand,%24filter,%24orderby,%24search,%24select,%24skip,%24top}",
        "GET /users/{user%2Did}/mailFolders/{mailFolder%2Did}/messages/delta(){?%24count,%24expand,%24filter,%24orderby,%24search,%24select,%24skip,%24top,changeType*}",
        "GET /users/{user%2Did}/outlook/masterCategories{?%24count,%24expand,%24filter,%24orderby,%24search,%24select,%24skip,%24top}",
        "GET /users/{user%2Did}/mailboxSettings{?%24expand,%24select}",
    ];
    for r in reading {
        assert!(used.contains(r), "no action used {r}");
    }
    // 27 mail writes and 21 calendar operations (11 reads, 10 writes)
    assert_eq!(
        used.len(),
        reading.len() + 27 + 21,
        "27 mail write and 21 calendar operations: {used:#?}"
    );
}
