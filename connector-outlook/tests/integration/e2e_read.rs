//! Every reading action through `connector.execute` against the Graph emulator.

use crate::common::harness::{connector, connector_with, exec, ok, sandbox};
use base64::Engine;
use connector_core::ErrorCode;
use sandbox_outlook::{NewMessage, SandboxConfig, Seed, TokenRule};
use serde_json::{json, Value};

const ADA: &str = "ada@example.com";

fn subjects(out: &Value) -> Vec<String> {
    out.as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn profile_names_the_mailbox_owner() {
    let sb = sandbox(SandboxConfig::default());
    let out = ok(&connector(&sb), "profile", "get", json!({})).await;
    assert_eq!(out.result["email_address"], ADA);
    assert_eq!(out.result["display_name"], "Ada Lovelace");
    assert_eq!(out.result["aliases"], json!(["ada@example.org"]));
}

#[tokio::test]
async fn list_filters_turn_into_odata() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let list = |p: Value| {
        let c = c.clone();
        async move { ok(&c, "messages", "list", p).await.result }
    };
    assert_eq!(
        subjects(&list(json!({"folder": "inbox", "is_read": false})).await),
        ["Lunch tomorrow?", "Quarterly report"]
    );
    assert_eq!(
        subjects(
            &list(json!({"folder": "inbox", "from": "grace@example.com", "is_read": true})).await
        ),
        ["RE: Quarterly report"]
    );
    assert_eq!(
        subjects(&list(json!({"has_attachments": true})).await),
        ["Trip to Lisbon", "Quarterly report"]
    );
    assert_eq!(
        subjects(&list(json!({"importance": "low"})).await),
        ["Weekly digest"]
    );
    assert_eq!(
        subjects(&list(json!({"categories": ["Travel"]})).await),
        ["Trip to Lisbon"]
    );
    assert!(subjects(&list(json!({"categories": ["Travel", "Finance"]})).await).is_empty());
    assert_eq!(
        subjects(&list(json!({"folder": "inbox", "received_after": "2026-03-02", "received_before": "2026-03-02T09:00:00Z"})).await),
        ["Trip to Lisbon", "Weekly digest"]
    );
    let oldest = list(json!({"folder": "inbox", "order_by": "received_asc", "top": 1})).await;
    assert_eq!(subjects(&oldest), ["Quarterly report"]);
    let sel = list(json!({"folder": "inbox", "select": ["subject"], "top": 1})).await;
    let keys: Vec<&String> = sel[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "thread_id", "subject"]);
    let junk = list(json!({"folder": "junkemail"})).await;
    assert_eq!(subjects(&junk), ["You won a prize"]);
    let summary = &list(json!({"folder": "inbox", "top": 1})).await[0];
    assert_eq!(
        summary["from"],
        json!({"name": "Grace Hopper", "email": "grace@example.com"})
    );
    assert_eq!(summary["internal_date"], "2026-03-02T10:00:00Z");
    assert_eq!(summary["is_read"], false);
}

#[tokio::test]
async fn search_finds_by_words_and_fields() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let s = |q: &str| {
        let c = c.clone();
        let q = q.to_string();
        async move {
            subjects(
                &ok(&c, "messages", "list", json!({"search": q}))
                    .await
                    .result,
            )
        }
    };
    assert_eq!(s("lisbon").await, ["Trip to Lisbon"]);
    assert_eq!(s("from:linus").await, ["Apollo kickoff"]);
    assert_eq!(s("q1 numbers").await, ["Quarterly report"]);
    assert!(s("bananas").await.is_empty());
}

#[tokio::test]
async fn list_pages_through_next_page_token() {
    let sb = sandbox(SandboxConfig {
        seed: Seed::Count(60),
        ..Default::default()
    });
    let c = connector(&sb);
    let mut params = json!({"folder": "inbox", "top": 25});
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let out = ok(&c, "messages", "list", params.clone()).await;
        pages += 1;
        ids.extend(
            out.result
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string()),
        );
        match out.metadata.get("next_page_token").and_then(Value::as_str) {
            Some(t) => params = json!({"page_token": t}),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (60, 60));
    assert_eq!(
        ids,
        sb.message_ids(ADA, "inbox"),
        "newest first, nothing skipped"
    );
}

#[tokio::test]
async fn get_decodes_bodies_addresses_and_attachments() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let list = ok(
        &c,
        "messages",
        "list",
        json!({"search": "subject:quarterly"}),
    )
    .await
    .result;
    let original = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["subject"] == "Quarterly report")
        .unwrap();
    let m = ok(&c, "messages", "get", json!({"message_id": original["id"]}))
        .await
        .result;
    assert_eq!(m["subject"], "Quarterly report");
    assert!(m["html"].as_str().unwrap().contains("<b>Q1 numbers</b>"));
    assert!(m["text"]
        .as_str()
        .unwrap()
        .contains("The Q1 numbers are attached & look good."));
    assert_eq!(m["to"], json!([{"name": "Ada Lovelace", "email": ADA}]));
    assert_eq!(m["importance"], "high");
    assert_eq!(m["categories"], json!(["Finance"]));
    assert_eq!(m["attachments"][0]["filename"], "report.pdf");
    assert_eq!(m["attachments"][0]["mime_type"], "application/pdf");
    assert!(m["message_id"].as_str().unwrap().starts_with('<'));
    // the whole conversation shares the thread id, across folders
    let thread: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["thread_id"] == m["thread_id"])
        .collect();
    assert_eq!(thread.len(), 3, "original, reply in Sent Items, answer");
    let text_only = ok(&c, "messages", "list", json!({"search": "lunch"}))
        .await
        .result;
    let lunch = ok(
        &c,
        "messages",
        "get",
        json!({"message_id": text_only[0]["id"]}),
    )
    .await
    .result;
    assert_eq!(lunch["text"], "Are you free for lunch tomorrow at noon?");
    assert_eq!(lunch["html"], Value::Null);
}

#[tokio::test]
async fn get_many_fetches_100_messages_in_5_batches() {
    let sb = sandbox(SandboxConfig {
        seed: Seed::Count(120),
        ..Default::default()
    });
    let c = connector(&sb);
    let ids: Vec<String> = sb.message_ids(ADA, "inbox").into_iter().take(100).collect();
    sb.reset_stats();
    let out = ok(&c, "messages", "get_many", json!({"message_ids": ids})).await;
    let got: Vec<&str> = out
        .result
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "input order kept"
    );
    assert!(out.result[0]["text"].is_string());
    let st = sb.stats();
    assert!(st.requests <= 5, "{st:?}");
    assert_eq!((st.batch_requests, st.batch_parts), (5, 100));
    assert_eq!(out.metadata["failed"], 0);

    let mixed = vec![ids[0].clone(), "AAMkAnosuchmessage0000000000=".to_string()];
    let out = ok(&c, "messages", "get_many", json!({"message_ids": mixed})).await;
    assert_eq!(out.result[1]["error"]["code"], "not_found");
    assert_eq!(out.metadata["failed"], 1);
}

#[tokio::test]
async fn get_many_sends_throttled_parts_again() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let ids = sb.message_ids(ADA, "inbox");
    // the first two parts of the batch draw 429 with Retry-After: 1
    sb.throttle_next(2, 1);
    let started = std::time::Instant::now();
    let out = ok(&c, "messages", "get_many", json!({"message_ids": ids})).await;
    assert_eq!(out.metadata["failed"], 0);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(sb.stats().batch_requests, 2);
}

#[tokio::test]
async fn delta_syncs_changes_and_asks_for_a_full_sync_when_expired() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let mut params = json!({"folder": "inbox", "top": 2});
    let mut seen = 0;
    let mut pages = 0;
    let token = loop {
        let out = ok(&c, "messages", "delta", params).await;
        pages += 1;
        seen += out.result.as_array().unwrap().len();
        if let Some(t) = out.metadata.get("delta_token") {
            assert!(out.metadata.get("next_page_token").is_none());
            break t.as_str().unwrap().to_string();
        }
        params = json!({"page_token": out.metadata["next_page_token"], "top": 2});
    };
    assert_eq!((seen, pages), (5, 3));

    let out = ok(&c, "messages", "delta", json!({"delta_token": token})).await;
    assert!(out.result.as_array().unwrap().is_empty(), "nothing changed");
    let token = out.metadata["delta_token"].as_str().unwrap().to_string();

    let ids = sb.message_ids(ADA, "inbox");
    sb.set_read(ADA, &ids[0], true);
    sb.move_message(ADA, &ids[1], "archive");
    let new_id = sb
        .deliver(
            ADA,
            "inbox",
            NewMessage {
                subject: "Just in".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let out = ok(&c, "messages", "delta", json!({"delta_token": token})).await;
    let r = out.result.as_array().unwrap();
    assert_eq!(r.len(), 3, "{r:#?}");
    assert!(r
        .iter()
        .any(|m| m["id"] == ids[0].as_str() && m["is_read"] == true));
    assert!(r
        .iter()
        .any(|m| m["id"] == ids[1].as_str() && m["removed"] == true));
    assert!(r
        .iter()
        .any(|m| m["id"] == new_id.as_str() && m["subject"] == "Just in"));

    sb.expire_delta_tokens(ADA);
    let err = exec(
        &c,
        "messages",
        "delta",
        json!({"delta_token": out.metadata["delta_token"]}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::SyncRequired);
    let full = ok(
        &c,
        "messages",
        "delta",
        json!({"folder": "inbox", "top": 50}),
    )
    .await;
    assert_eq!(
        full.result.as_array().unwrap().len(),
        5,
        "a full sync starts over"
    );
}

#[tokio::test]
async fn attachments_list_and_bytes() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let m = &ok(&c, "messages", "list", json!({"search": "lisbon"}))
        .await
        .result[0];
    let atts = ok(&c, "attachments", "list", json!({"message_id": m["id"]}))
        .await
        .result;
    let names: Vec<&str> = atts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["itinerary.pdf", "logo.png"]);
    assert_eq!(atts[1]["inline"], true);
    let a = ok(
        &c,
        "attachments",
        "get",
        json!({"message_id": m["id"], "attachment_id": atts[0]["attachment_id"]}),
    )
    .await
    .result;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(a["content_base64"].as_str().unwrap())
        .unwrap();
    assert!(bytes.starts_with(b"%PDF-1.4"));
    assert_eq!(a["message_id"], m["id"]);
    let err = exec(
        &c,
        "attachments",
        "get",
        json!({"message_id": m["id"], "attachment_id": "AAMkAnope"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn folders_come_with_paths_counts_and_children() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let all = ok(&c, "mail_folders", "list", json!({})).await.result;
    let paths: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "Archive",
            "Deleted Items",
            "Drafts",
            "Inbox",
            "Inbox/Projects",
            "Inbox/Projects/Apollo",
            "Junk Email",
            "Outbox",
            "Receipts",
            "Sent Items"
        ]
    );
    let apollo = all
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "Inbox/Projects/Apollo")
        .unwrap();
    assert_eq!(
        (
            apollo["total_item_count"].as_u64(),
            apollo["unread_item_count"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let top = ok(
        &c,
        "mail_folders",
        "list",
        json!({"include_children": false}),
    )
    .await
    .result;
    assert_eq!(top.as_array().unwrap().len(), 8);
    let under = ok(
        &c,
        "mail_folders",
        "list",
        json!({"parent_folder": "inbox"}),
    )
    .await
    .result;
    assert_eq!(under.as_array().unwrap().len(), 2);
    let inbox = ok(&c, "mail_folders", "get", json!({"folder": "inbox"}))
        .await
        .result;
    assert_eq!(
        (
            inbox["display_name"].as_str(),
            inbox["unread_item_count"].as_u64()
        ),
        (Some("Inbox"), Some(2))
    );
    let by_id = ok(&c, "mail_folders", "get", json!({"folder": apollo["id"]}))
        .await
        .result;
    assert_eq!(by_id["display_name"], "Apollo");
    let in_apollo = ok(&c, "messages", "list", json!({"folder": apollo["id"]}))
        .await
        .result;
    assert_eq!(subjects(&in_apollo), ["Apollo kickoff"]);
}

#[tokio::test]
async fn categories_and_mailbox_settings() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    let cats = ok(&c, "categories", "list", json!({})).await.result;
    assert!(cats
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["display_name"] == "Travel" && c["color"] == "preset2"));
    let s = ok(&c, "mailbox_settings", "get", json!({})).await.result;
    assert_eq!(s["time_zone"], "UTC");
    assert_eq!(s["automatic_replies_setting"]["status"], "disabled");
}

#[tokio::test]
async fn provider_errors_keep_their_meaning() {
    let sb = sandbox(SandboxConfig {
        tokens: vec![TokenRule::new("reader", ADA, &["Mail.Read"])],
        ..Default::default()
    });
    let c = connector_with(&sb, "reader");
    let e = exec(
        &c,
        "messages",
        "get",
        json!({"message_id": "AAMkAnosuchmessage0000000000="}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = exec(&c, "mailbox_settings", "get", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    let e = exec(&connector_with(&sb, "wrong"), "profile", "get", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);
}
