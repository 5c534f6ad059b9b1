//! Every request the connector sends (batch parts included) matches an operation of Microsoft's
//! request metadata, by URI template, method and query options, and every answer it got from
//! the emulator has the fields and types of Microsoft's models. Operations no action uses are
//! listed below with the reason.

mod common;

use std::collections::BTreeSet;

use common::contract::{check_response, Operation, Operations, SentRequest, Types};
use common::harness::{connector, ok};
use connector_outlook::sandbox::{NewMessage, OutlookSandbox, SandboxConfig, Seed};
use serde_json::{json, Value};

const ADA: &str = "ada@example.com";

/// Operations of the metadata file no reading action uses, on purpose.
fn left_out(op: &Operation) -> Option<&'static str> {
    let t = op.uri_template.as_str();
    let m = op.method.as_str();
    Some(if t.starts_with("/subscriptions") {
        "change notifications: subscriptions.* of issue 10"
    } else if t == "/users/{user%2Did}{?%24expand,%24select}" && m != "GET" {
        "changing or deleting the user is not a mail operation"
    } else if m != "GET" {
        "writes (send, reply, forward, drafts, moves, updates, uploads, folders, categories, settings): issue 10"
    } else if t.contains("/$count") {
        "counts come with mail folders (totalItemCount, unreadItemCount); no $count endpoint is needed"
    } else if t.contains("/$value") {
        "raw MIME: messages.get gives decoded text and html bodies instead"
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
    } else if t.starts_with("/users/{user%2Did}/outlook{") {
        "the outlook user resource itself holds nothing the actions need beyond masterCategories"
    } else if t.contains("/outlook/masterCategories/{outlookCategory%2Did}") {
        "categories.list returns every category; there is no categories.get"
    } else if t.contains("supportedLanguages") || t.contains("supportedTimeZones") {
        "time zones and languages are not part of the mail actions"
    } else {
        return None;
    })
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
    let expected_used = [
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
    let used: Vec<&str> = used.iter().map(String::as_str).collect();
    assert_eq!(used, {
        let mut e = expected_used.to_vec();
        e.sort();
        e
    });
}
