//! Writing through the connector against the Gmail sandbox, with the emulator's state checked
//! afterwards (issue 4).

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connector_core::{ErrorCode, ExecuteOptions, HttpConfig, Secret, StaticToken};
use connector_gmail::GmailOptions;
use sandbox_gmail::{Fault, FaultKind, Seed};
use serde_json::{json, Value};

use crate::common::env::{config, run, start, ADA};

const GRACE: &str = "grace@example.com";

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[tokio::test]
async fn send_round_trips_non_ascii_html_and_two_attachments() {
    let env = start(config(Seed::Empty));
    let pdf: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
    let sent = run(&env.gmail, "messages", "send", json!({
        "to": ["Grace Hopper <grace@example.com>"],
        "cc": ["Zoë Ünal <zoe@example.org>"],
        "subject": "Rapport d'été — 東京 🎉",
        "text": "Bonjour Grace,\nvoici le rapport.\n",
        "html": "<p>Bonjour <b>Grace</b>, voici le rapport.</p>",
        "attachments": [
            {"filename": "rapport été.pdf", "mime_type": "application/pdf", "content_base64": b64(&pdf)},
            {"filename": "notes.txt", "mime_type": "text/plain", "content_base64": b64("naïve café\n".as_bytes())}
        ]
    })).await.result;
    let id = sent["id"].as_str().unwrap();

    let m = run(&env.gmail, "messages", "get", json!({"message_id": id}))
        .await
        .result;
    assert_eq!(m["subject"], "Rapport d'été — 東京 🎉");
    assert_eq!(m["to"][0], json!({"name": "Grace Hopper", "email": GRACE}));
    assert_eq!(
        m["cc"][0],
        json!({"name": "Zoë Ünal", "email": "zoe@example.org"})
    );
    assert_eq!(
        m["text"].as_str().unwrap().replace("\r\n", "\n"),
        "Bonjour Grace,\nvoici le rapport.\n"
    );
    assert_eq!(m["html"], "<p>Bonjour <b>Grace</b>, voici le rapport.</p>");
    assert!(m["label_ids"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "SENT"));
    let atts = m["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 2, "{atts:?}");
    assert_eq!(atts[0]["filename"], "rapport été.pdf");
    assert_eq!(atts[1]["filename"], "notes.txt");
    for (att, want) in atts
        .iter()
        .zip([pdf.clone(), "naïve café\n".as_bytes().to_vec()])
    {
        let bytes = match att["attachment_id"].as_str() {
            Some(aid) => {
                let a = run(
                    &env.gmail,
                    "attachments",
                    "get",
                    json!({"message_id": id, "attachment_id": aid}),
                )
                .await
                .result;
                STANDARD
                    .decode(a["content_base64"].as_str().unwrap())
                    .unwrap()
            }
            None => panic!("no attachment id for {att}"),
        };
        assert_eq!(bytes, want);
    }
    // Both users are emulated: Grace received it.
    let grace = env.sb.mailbox(GRACE).unwrap();
    assert!(grace
        .messages
        .iter()
        .any(|g| g.label_ids.iter().any(|l| l == "INBOX")
            && String::from_utf8_lossy(&g.raw).contains("Message-ID")));
}

#[tokio::test]
async fn a_reply_lands_in_the_thread_with_in_reply_to_references_and_subject() {
    let env = start(config(Seed::Empty));
    let first = env.sb.insert_message(ADA, b"From: Grace <grace@example.com>\r\nTo: ada@example.com\r\nSubject: Plans\r\nMessage-ID: <plans-1@example.com>\r\nReferences: <older@example.com>\r\nDate: Mon, 2 Sep 2024 10:00:00 +0000\r\n\r\nDinner?\r\n", &["INBOX"]);
    let orig = run(&env.gmail, "messages", "get", json!({"message_id": first}))
        .await
        .result;
    let reply = run(
        &env.gmail,
        "messages",
        "send",
        json!({"reply_to_message_id": first, "text": "Yes!"}),
    )
    .await
    .result;
    assert_eq!(reply["thread_id"], orig["thread_id"]);
    let r = run(
        &env.gmail,
        "messages",
        "get",
        json!({"message_id": reply["id"]}),
    )
    .await
    .result;
    assert_eq!(r["subject"], "Re: Plans");
    assert_eq!(r["in_reply_to"], "<plans-1@example.com>");
    assert_eq!(
        r["references"],
        json!(["<older@example.com>", "<plans-1@example.com>"])
    );
    assert_eq!(
        r["to"][0]["email"], GRACE,
        "a reply goes to the sender by default"
    );
    let t = run(
        &env.gmail,
        "threads",
        "get",
        json!({"thread_id": orig["thread_id"]}),
    )
    .await
    .result;
    assert_eq!(t["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn send_from_an_alias() {
    let env = start(config(Seed::Demo));
    let aliases = run(&env.gmail, "send_as", "list", json!({})).await.result;
    let alias = aliases
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["is_primary"] != true)
        .expect("the demo mailbox has an alias")["send_as_email"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = run(
        &env.gmail,
        "messages",
        "send",
        json!({"from": format!("Ada <{alias}>"), "to": [GRACE], "subject": "alias", "text": "x"}),
    )
    .await
    .result;
    let m = run(
        &env.gmail,
        "messages",
        "get",
        json!({"message_id": sent["id"]}),
    )
    .await
    .result;
    assert_eq!(m["from"]["email"], alias.as_str());
}

#[tokio::test]
async fn a_message_too_big_for_a_plain_request_body_goes_through_the_upload_path() {
    // 900 KB: under the old 5 MB threshold, but over Gmail's 1 MiB cap once base64-encoded.
    let env = start(config(Seed::Empty));
    assert!(
        env.sb.behaviour().json_body_limit.is_some(),
        "the cap is on"
    );
    let text = "m".repeat(900_000);
    let sent = run(
        &env.gmail,
        "messages",
        "send",
        json!({"to": [GRACE], "subject": "mid-size", "text": text}),
    )
    .await
    .result;
    assert_eq!(env.sb.stats().upload_requests, 1);
    let m = run(
        &env.gmail,
        "messages",
        "get",
        json!({"message_id": sent["id"]}),
    )
    .await
    .result;
    assert_eq!(m["subject"], "mid-size");
}

#[tokio::test]
async fn ten_megabytes_go_through_the_upload_path_and_35_mib_are_refused_before_sending() {
    let env = start(config(Seed::Empty));
    let big: Vec<u8> = (0..10 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    env.sb.reset_stats();
    let sent = run(&env.gmail, "messages", "send", json!({"to": [GRACE], "subject": "big",
        "text": "see attachment", "attachments": [{"filename": "big.bin", "content_base64": b64(&big)}]})).await.result;
    let stats = env.sb.stats();
    assert_eq!(stats.upload_requests, 1, "{stats:?}");
    let m = run(
        &env.gmail,
        "messages",
        "get",
        json!({"message_id": sent["id"]}),
    )
    .await
    .result;
    assert_eq!(m["attachments"][0]["size"], big.len());

    let huge = vec![0u8; 36 * 1024 * 1024];
    env.sb.reset_stats();
    let err = env
        .gmail
        .execute(
            "messages",
            "send",
            json!({"to": [GRACE], "text": "x",
        "attachments": [{"filename": "huge.bin", "content_base64": b64(&huge)}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PayloadTooLarge);
    assert_eq!(env.sb.stats().http_requests, 0);

    // The thresholds are configurable: with 1 KB even a small message uses the multipart
    // upload, and above 4 KB a resumable session (a POST, then the bytes in a PUT).
    let mut http = HttpConfig::new(env.sb.base_url());
    http.retry.max_attempts = 1;
    let options = GmailOptions {
        upload_threshold: 1024,
        resumable_threshold: 4096,
        ..GmailOptions::default()
    };
    let small = connector_gmail::connector_with_options(
        Arc::new(StaticToken(Secret::new("t"))),
        http,
        options,
    )
    .unwrap();
    env.sb.reset_stats();
    run(
        &small,
        "messages",
        "send",
        json!({"to": [GRACE], "text": "y".repeat(2000)}),
    )
    .await;
    assert_eq!(env.sb.stats().upload_requests, 1);
    env.sb.reset_stats();
    let body = "z".repeat(9000);
    let sent = run(
        &small,
        "messages",
        "send",
        json!({"to": [GRACE], "subject": "resumable", "text": body}),
    )
    .await
    .result;
    let stats = env.sb.stats();
    assert_eq!(stats.upload_requests, 2, "session + bytes: {stats:?}");
    let m = run(&small, "messages", "get", json!({"message_id": sent["id"]}))
        .await
        .result;
    assert_eq!(m["subject"], "resumable");
    assert_eq!(m["text"].as_str().unwrap().trim_end(), body);
}

#[tokio::test]
async fn a_lost_response_is_outcome_unknown_and_the_retry_sends_nothing_twice() {
    let env = start(config(Seed::Empty));
    env.sb.inject_fault(Fault::new(
        "POST",
        "/messages/send",
        FaultKind::LoseResponse,
    ));
    let params = json!({"to": [GRACE], "subject": "exactly once", "text": "one copy only"});
    let opts = ExecuteOptions {
        idempotency_key: Some("order-42".into()),
    };
    let err = env
        .gmail
        .execute_with("messages", "send", params.clone(), opts.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::OutcomeUnknown, "{err}");

    let again = env
        .gmail
        .execute_with("messages", "send", params.clone(), opts.clone())
        .await
        .unwrap();
    assert_eq!(again.metadata["deduplicated"], true);
    let copies: Vec<_> = env
        .sb
        .mailbox(ADA)
        .unwrap()
        .messages
        .into_iter()
        .filter(|m| String::from_utf8_lossy(&m.raw).contains("exactly once"))
        .collect();
    assert_eq!(copies.len(), 1, "exactly one sent copy");
    assert_eq!(again.result["id"], copies[0].id.as_str());

    // A different key is a different send.
    let other = ExecuteOptions {
        idempotency_key: Some("order-43".into()),
    };
    let third = env
        .gmail
        .execute_with("messages", "send", params, other)
        .await
        .unwrap();
    assert_ne!(third.result["id"], again.result["id"]);
}

#[tokio::test]
async fn modify_and_batch_modify_change_labels_and_history() {
    let env = start(config(Seed::Count(1205)));
    let start_id = run(&env.gmail, "profile", "get", json!({})).await.result["history_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids: Vec<String> = run(
        &env.gmail,
        "messages",
        "list",
        json!({"ids_only": true, "max_results": 3}),
    )
    .await
    .result
    .as_array()
    .unwrap()
    .iter()
    .map(|v| v.as_str().unwrap().to_string())
    .collect();
    let label = run(
        &env.gmail,
        "labels",
        "create",
        json!({"name": "Agents/Triage", "background_color": "#16a766", "text_color": "#ffffff"}),
    )
    .await
    .result;
    let label_id = label["id"].as_str().unwrap().to_string();

    let m = run(
        &env.gmail,
        "messages",
        "modify",
        json!({"message_id": ids[0], "add_label_ids": [label_id, "STARRED"]}),
    )
    .await
    .result;
    assert!(m["label_ids"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "STARRED"));
    let changes = run(
        &env.gmail,
        "history",
        "list",
        json!({"start_history_id": start_id, "history_types": ["labelAdded"]}),
    )
    .await
    .result;
    assert!(changes
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["labels_added"][0]["message"]["id"] == ids[0].as_str()));

    // 1,205 ids go out as two batchModify calls.
    let before_batch = env.sb.history_id(ADA).to_string();
    let all: Vec<String> = env
        .sb
        .mailbox(ADA)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.id.clone())
        .collect();
    assert_eq!(all.len(), 1205);
    env.sb.reset_stats();
    let out = run(
        &env.gmail,
        "messages",
        "batch_modify",
        json!({"message_ids": all, "add_label_ids": [label_id], "remove_label_ids": ["INBOX"]}),
    )
    .await;
    assert_eq!(out.metadata["requests"], 2);
    assert_eq!(
        env.sb.stats().by_method.get("messages.batchModify"),
        Some(&2)
    );
    let mb = env.sb.mailbox(ADA).unwrap();
    assert!(mb
        .messages
        .iter()
        .all(|m| m.label_ids.contains(&label_id) && !m.label_ids.iter().any(|l| l == "INBOX")));
    let counted = run(&env.gmail, "labels", "get", json!({"label_id": label_id}))
        .await
        .result;
    assert_eq!(counted["messages_total"], 1205);
    // History records the batch change: INBOX removed, paged.
    let page = run(
        &env.gmail,
        "history",
        "list",
        json!({"start_history_id": before_batch, "history_types": ["labelRemoved"], "max_results": 100}),
    )
    .await;
    let records = page.result.as_array().unwrap();
    assert_eq!(records.len(), 100);
    assert!(
        records
            .iter()
            .all(|r| r["labels_removed"][0]["label_ids"] == json!(["INBOX"])),
        "{:?}",
        records[0]
    );
    assert!(page.metadata.contains_key("next_page_token"));

    run(
        &env.gmail,
        "messages",
        "batch_delete",
        json!({"message_ids": ids}),
    )
    .await;
    assert_eq!(env.sb.mailbox(ADA).unwrap().messages.len(), 1202);

    // The other 1,202 in two batchDelete calls.
    let rest: Vec<String> = env
        .sb
        .mailbox(ADA)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.id.clone())
        .collect();
    env.sb.reset_stats();
    let out = run(
        &env.gmail,
        "messages",
        "batch_delete",
        json!({"message_ids": rest}),
    )
    .await;
    assert_eq!(out.metadata["requests"], 2);
    assert_eq!(
        env.sb.stats().by_method.get("messages.batchDelete"),
        Some(&2)
    );
    assert!(env.sb.mailbox(ADA).unwrap().messages.is_empty());
}

#[tokio::test]
async fn trash_untrash_delete_threads_labels_drafts_filters_vacation_watch() {
    let env = start(config(Seed::Demo));
    let id = env.sb.insert_message(
        ADA,
        b"From: x@example.com\r\nTo: ada@example.com\r\nSubject: t\r\n\r\nbody\r\n",
        &["INBOX"],
    );
    let t = run(&env.gmail, "messages", "trash", json!({"message_id": id}))
        .await
        .result;
    assert!(t["label_ids"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "TRASH"));
    let u = run(&env.gmail, "messages", "untrash", json!({"message_id": id}))
        .await
        .result;
    assert!(!u["label_ids"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "TRASH"));
    let thread_id = u["thread_id"].as_str().unwrap().to_string();
    run(
        &env.gmail,
        "threads",
        "modify",
        json!({"thread_id": thread_id, "add_label_ids": ["STARRED"]}),
    )
    .await;
    assert!(env
        .sb
        .mailbox(ADA)
        .unwrap()
        .message(&id)
        .unwrap()
        .label_ids
        .iter()
        .any(|l| l == "STARRED"));
    run(
        &env.gmail,
        "threads",
        "trash",
        json!({"thread_id": thread_id}),
    )
    .await;
    run(
        &env.gmail,
        "threads",
        "untrash",
        json!({"thread_id": thread_id}),
    )
    .await;
    run(
        &env.gmail,
        "threads",
        "delete",
        json!({"thread_id": thread_id}),
    )
    .await;
    assert!(env.sb.mailbox(ADA).unwrap().message(&id).is_none());
    let id2 = env
        .sb
        .insert_message(ADA, b"Subject: d\r\n\r\nx\r\n", &["INBOX"]);
    run(&env.gmail, "messages", "delete", json!({"message_id": id2})).await;
    assert!(env.sb.mailbox(ADA).unwrap().message(&id2).is_none());

    let l = run(&env.gmail, "labels", "create", json!({"name": "Temp"}))
        .await
        .result;
    let lid = l["id"].as_str().unwrap();
    assert_eq!(
        run(
            &env.gmail,
            "labels",
            "patch",
            json!({"label_id": lid, "name": "Temp2"})
        )
        .await
        .result["name"],
        "Temp2"
    );
    assert_eq!(
        run(
            &env.gmail,
            "labels",
            "update",
            json!({"label_id": lid, "name": "Temp3"})
        )
        .await
        .result["name"],
        "Temp3"
    );
    run(&env.gmail, "labels", "delete", json!({"label_id": lid})).await;
    assert!(!env.sb.mailbox(ADA).unwrap().labels.contains_key(lid));

    let d = run(
        &env.gmail,
        "drafts",
        "create",
        json!({"to": [GRACE], "subject": "Entwurf", "text": "v1"}),
    )
    .await
    .result;
    let did = d["id"].as_str().unwrap().to_string();
    run(
        &env.gmail,
        "drafts",
        "update",
        json!({"draft_id": did, "to": [GRACE], "subject": "Entwurf", "text": "v2"}),
    )
    .await;
    let got = run(&env.gmail, "drafts", "get", json!({"draft_id": did}))
        .await
        .result;
    assert_eq!(got["message"]["text"].as_str().unwrap().trim_end(), "v2");
    let sent = run(&env.gmail, "drafts", "send", json!({"draft_id": did}))
        .await
        .result;
    assert!(env
        .sb
        .mailbox(ADA)
        .unwrap()
        .message(sent["id"].as_str().unwrap())
        .unwrap()
        .label_ids
        .iter()
        .any(|l| l == "SENT"));
    let d2 = run(&env.gmail, "drafts", "create", json!({"subject": "scrap"}))
        .await
        .result;
    run(
        &env.gmail,
        "drafts",
        "delete",
        json!({"draft_id": d2["id"]}),
    )
    .await;
    assert!(!env
        .sb
        .mailbox(ADA)
        .unwrap()
        .drafts
        .contains_key(d2["id"].as_str().unwrap()));

    let f = run(
        &env.gmail,
        "filters",
        "create",
        json!({"criteria": {"from": "boss@example.com"}, "action": {"add_label_ids": ["STARRED"]}}),
    )
    .await
    .result;
    assert_eq!(f["criteria"]["from"], "boss@example.com");
    run(
        &env.gmail,
        "filters",
        "delete",
        json!({"filter_id": f["id"]}),
    )
    .await;

    let v = run(&env.gmail, "vacation", "update", json!({"enable_auto_reply": true, "response_subject": "Away", "response_body_plain_text": "Back Monday"})).await.result;
    assert_eq!(v["enable_auto_reply"], true);
    assert_eq!(
        run(&env.gmail, "vacation", "get", json!({})).await.result["response_subject"],
        "Away"
    );

    let w = run(
        &env.gmail,
        "watch",
        "start",
        json!({"topic_name": "projects/p/topics/gmail", "label_ids": ["INBOX"]}),
    )
    .await
    .result;
    assert!(w["history_id"].is_string() && w["expiration"].is_string());
    run(&env.gmail, "watch", "stop", json!({})).await;

    let imported = run(&env.gmail, "messages", "import", json!({"from": GRACE, "to": [ADA], "subject": "imported", "text": "i", "label_ids": ["INBOX"]})).await.result;
    let inserted = run(&env.gmail, "messages", "insert", json!({"raw": b64(b"From: a@example.com\r\nSubject: inserted\r\n\r\nx\r\n"), "label_ids": ["INBOX"]})).await.result;
    let mb = env.sb.mailbox(ADA).unwrap();
    assert!(mb.message(imported["id"].as_str().unwrap()).is_some());
    assert!(mb.message(inserted["id"].as_str().unwrap()).is_some());
    let _: Value = inserted;
}

#[tokio::test]
async fn a_draft_send_with_a_lost_response_is_sent_exactly_once() {
    let env = start(config(Seed::Empty));
    let d = run(
        &env.gmail,
        "drafts",
        "create",
        json!({"to": [GRACE], "subject": "draft once", "text": "x"}),
    )
    .await
    .result;
    let params = json!({"draft_id": d["id"]});
    let opts = ExecuteOptions {
        idempotency_key: Some("draft-7".into()),
    };
    env.sb
        .inject_fault(Fault::new("POST", "/drafts/send", FaultKind::LoseResponse));
    let err = env
        .gmail
        .execute_with("drafts", "send", params.clone(), opts.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::OutcomeUnknown, "{err}");
    let again = env
        .gmail
        .execute_with("drafts", "send", params, opts)
        .await
        .unwrap();
    assert_eq!(again.metadata["deduplicated"], true);
    let sent: Vec<_> = env
        .sb
        .mailbox(ADA)
        .unwrap()
        .messages
        .into_iter()
        .filter(|m| {
            m.label_ids.iter().any(|l| l == "SENT")
                && String::from_utf8_lossy(&m.raw).contains("draft once")
        })
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(again.result["id"], sent[0].id.as_str());
}

#[tokio::test]
async fn a_raw_send_gets_the_key_message_id_and_is_not_repeated() {
    let env = start(config(Seed::Empty));
    let raw =
        b"From: ada@example.com\r\nTo: grace@example.com\r\nSubject: raw once\r\n\r\nhello\r\n";
    let params = json!({"raw": b64(raw)});
    let opts = ExecuteOptions {
        idempotency_key: Some("raw-1".into()),
    };
    let first = env
        .gmail
        .execute_with("messages", "send", params.clone(), opts.clone())
        .await
        .unwrap();
    let m = run(
        &env.gmail,
        "messages",
        "get",
        json!({"message_id": first.result["id"]}),
    )
    .await
    .result;
    assert_eq!(m["subject"], "raw once");
    assert_eq!(m["message_id"], first.result["message_id"]);
    let second = env
        .gmail
        .execute_with("messages", "send", params, opts)
        .await
        .unwrap();
    assert_eq!(second.result["id"], first.result["id"]);
    assert_eq!(second.metadata["deduplicated"], true);
    assert_eq!(env.sb.mailbox(ADA).unwrap().messages.len(), 1);

    let err = env
        .gmail
        .execute("messages", "send", json!({"raw": b64(raw), "subject": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParams);
    let err = env
        .gmail
        .execute(
            "messages",
            "send",
            json!({"to": ["not an address"], "text": "x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParams);
    assert!(err.message.contains("`to`"), "{}", err.message);
}

#[tokio::test]
async fn a_draft_send_retried_after_a_failed_first_attempt_sends_the_draft() {
    // The first drafts.send fails before Gmail acts on it (503): the marked draft is still
    // there, and the retry must send it rather than take it for the sent message.
    let env = start(config(Seed::Empty));
    assert!(env.sb.behaviour().own_message_ids);
    let d = run(
        &env.gmail,
        "drafts",
        "create",
        json!({"to": [GRACE], "subject": "draft retried", "text": "x"}),
    )
    .await
    .result;
    let params = json!({"draft_id": d["id"]});
    let opts = ExecuteOptions {
        idempotency_key: Some("draft-8".into()),
    };
    env.sb
        .inject_fault(Fault::new("POST", "/drafts/send", FaultKind::Status(503)));
    let err = env
        .gmail
        .execute_with("drafts", "send", params.clone(), opts.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::OutcomeUnknown, "{err}");
    let again = env
        .gmail
        .execute_with("drafts", "send", params.clone(), opts.clone())
        .await
        .unwrap();
    assert_ne!(
        again.metadata.get("deduplicated"),
        Some(&json!(true)),
        "{again:?}"
    );
    let sent = |env: &crate::common::env::Env| {
        env.sb
            .mailbox(GRACE)
            .unwrap()
            .messages
            .into_iter()
            .filter(|m| String::from_utf8_lossy(&m.raw).contains("draft retried"))
            .count()
    };
    assert_eq!(sent(&env), 1, "delivered once");
    // The result names the Message-ID Gmail gave the sent message, not the client's.
    let mid = again.result["message_id"].as_str().unwrap();
    assert!(mid.ends_with("@mail.gmail.com>"), "{mid}");
    // A third call with the same key finds the sent message.
    let third = env
        .gmail
        .execute_with("drafts", "send", params, opts)
        .await
        .unwrap();
    assert_eq!(third.metadata["deduplicated"], true);
    assert_eq!(third.result["id"], again.result["id"]);
    assert_eq!(sent(&env), 1);
}
