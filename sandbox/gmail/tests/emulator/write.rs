//! Writing through the Gmail emulator: send and delivery between emulated users, threads,
//! aliases, batch modify/delete limits, labels, drafts, watch, filters, vacation, insert, import.

use crate::support::{b64, call, grace_token, raw_of, start_unmetered, API};
use serde_json::json;

#[tokio::test]
async fn send_lands_in_sent_and_in_the_recipients_inbox_and_replies_join_the_thread() {
    let sb = start_unmetered();
    // The message is found again by its own Message-ID: keep it (behaviour.rs shows Gmail's
    // replacement).
    sb.set_behaviour(sandbox_gmail::Behaviour::kind());
    let grace_before = sb.history_id("grace@example.com");
    let msg = "From: Ada Lovelace <ada@example.com>\nTo: Grace Hopper <grace@example.com>\nBcc: secret@example.com\nSubject: Engines\nMessage-ID: <engines-1@example.com>\n\nShall we talk about engines?\n";
    let (s, sent) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/send"),
        Some(json!({"raw": b64(msg)})),
    )
    .await;
    assert_eq!(s, 200, "{sent}");
    assert_eq!(sent["labelIds"], json!(["SENT"]));
    let ada = sb.mailbox("ada@example.com").unwrap();
    assert!(ada.message(sent["id"].as_str().unwrap()).is_some());

    let grace = sb.mailbox("grace@example.com").unwrap();
    let got = grace
        .messages
        .iter()
        .find(|m| String::from_utf8_lossy(&m.raw).contains("<engines-1@example.com>"))
        .expect("delivered");
    assert!(got.label_ids.contains(&"INBOX".into()) && got.label_ids.contains(&"UNREAD".into()));
    assert!(
        !String::from_utf8_lossy(&got.raw).contains("secret@example.com"),
        "Bcc is not delivered"
    );
    assert!(raw_of(&sb, "ada@example.com", sent["id"].as_str().unwrap())
        .contains("Bcc: secret@example.com"));
    assert!(sb.history_id("grace@example.com") > grace_before);

    // Grace replies with References: it joins the thread in both mailboxes.
    let gt = grace_token(&sb).await;
    let reply = "To: ada@example.com\nSubject: Re: Engines\nIn-Reply-To: <engines-1@example.com>\nReferences: <engines-1@example.com>\n\nYes, Tuesday.\n";
    let (s, r) = call(
        &sb,
        &gt,
        "POST",
        &format!("{API}/messages/send"),
        Some(json!({"raw": b64(reply), "threadId": got.thread_id})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["threadId"], got.thread_id.as_str());
    let (_, thread) = call(
        &sb,
        "t",
        "GET",
        &format!(
            "{API}/threads/{}?format=minimal",
            sent["threadId"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(thread["messages"].as_array().unwrap().len(), 2, "{thread}");
    let reply_in_ada = &thread["messages"][1];
    assert!(reply_in_ada["labelIds"]
        .as_array()
        .unwrap()
        .contains(&json!("INBOX")));
    let reply_raw = raw_of(&sb, "ada@example.com", reply_in_ada["id"].as_str().unwrap());
    assert!(
        reply_raw.contains("From: Grace Hopper <grace@example.com>"),
        "From added by the service"
    );
    assert!(
        reply_raw.contains("Message-ID: <"),
        "Message-ID added by the service"
    );
}

#[tokio::test]
async fn from_must_be_a_verified_alias_else_the_primary_address_is_used() {
    let sb = start_unmetered();
    let alias =
        "From: Ada <ada.lovelace@analytical.example>\nTo: someone@example.net\nSubject: a\n\nx\n";
    let (_, v) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/send"),
        Some(json!({"raw": b64(alias)})),
    )
    .await;
    assert!(raw_of(&sb, "ada@example.com", v["id"].as_str().unwrap())
        .contains("From: Ada <ada.lovelace@analytical.example>"));
    let spoof = "From: Mallory <mallory@example.net>\nTo: someone@example.net\nSubject: a\n\nx\n";
    let (_, v) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/send"),
        Some(json!({"raw": b64(spoof)})),
    )
    .await;
    let raw = raw_of(&sb, "ada@example.com", v["id"].as_str().unwrap());
    assert!(raw.contains("From: Ada Lovelace <ada@example.com>") && !raw.contains("mallory"));
    let (s, e) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/send"),
        Some(json!({"raw": b64("Subject: nobody\n\nx\n")})),
    )
    .await;
    assert_eq!(
        (s, e["error"]["errors"][0]["reason"].as_str()),
        (400, Some("invalidArgument"))
    );
}

#[tokio::test]
async fn batch_modify_and_delete_limits_and_effects() {
    let sb = start_unmetered();
    let ids: Vec<String> = sb
        .mailbox("ada@example.com")
        .unwrap()
        .messages
        .iter()
        .map(|m| m.id.clone())
        .take(3)
        .collect();
    let (s, _) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/batchModify"),
        Some(json!({"ids": ids, "addLabelIds": ["Label_2"], "removeLabelIds": ["UNREAD"]})),
    )
    .await;
    assert_eq!(s, 204);
    let mb = sb.mailbox("ada@example.com").unwrap();
    for id in &ids {
        let m = mb.message(id).unwrap();
        assert!(m.label_ids.contains(&"Label_2".into()) && !m.label_ids.contains(&"UNREAD".into()));
    }
    let too_many: Vec<String> = (0..1001).map(|i| format!("{i:016x}")).collect();
    let (s, _) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/batchModify"),
        Some(json!({"ids": too_many, "addLabelIds": ["STARRED"]})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/batchDelete"),
        Some(json!({"ids": too_many})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/batchModify"),
        Some(json!({"ids": ids, "addLabelIds": ["Label_404"]})),
    )
    .await;
    assert_eq!(s, 400, "unknown labels are refused");
    let (s, _) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/batchDelete"),
        Some(json!({"ids": ids})),
    )
    .await;
    assert_eq!(s, 204);
    let mb = sb.mailbox("ada@example.com").unwrap();
    assert!(ids.iter().all(|id| mb.message(id).is_none()));
}

#[tokio::test]
async fn labels_lifecycle_and_counts() {
    let sb = start_unmetered();
    let (s, l) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/labels"),
        Some(json!({"name": "Receipts"})),
    )
    .await;
    assert_eq!(s, 200);
    let lid = l["id"].as_str().unwrap().to_string();
    let (s, _) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/labels"),
        Some(json!({"name": "receipts"})),
    )
    .await;
    assert_eq!(s, 409, "names are unique regardless of case");
    let id = sb.mailbox("ada@example.com").unwrap().messages[0]
        .id
        .clone();
    call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/{id}/modify"),
        Some(json!({"addLabelIds": [lid]})),
    )
    .await;
    let (_, got) = call(&sb, "t", "GET", &format!("{API}/labels/{lid}"), None).await;
    assert_eq!(got["messagesTotal"], 1);
    let (_, p) = call(
        &sb,
        "t",
        "PATCH",
        &format!("{API}/labels/{lid}"),
        Some(json!({"name": "Receipts/2026"})),
    )
    .await;
    assert_eq!(
        (p["name"].as_str(), p["labelListVisibility"].as_str()),
        (Some("Receipts/2026"), Some("labelShow"))
    );
    let (_, u) = call(
        &sb,
        "t",
        "PUT",
        &format!("{API}/labels/{lid}"),
        Some(json!({"name": "Bills"})),
    )
    .await;
    assert_eq!(
        (u["name"].as_str(), u.get("labelListVisibility")),
        (Some("Bills"), None),
        "update replaces"
    );
    let (s, _) = call(
        &sb,
        "t",
        "PUT",
        &format!("{API}/labels/INBOX"),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(&sb, "t", "DELETE", &format!("{API}/labels/{lid}"), None).await;
    assert_eq!(s, 204);
    assert!(!sb
        .mailbox("ada@example.com")
        .unwrap()
        .message(&id)
        .unwrap()
        .label_ids
        .contains(&lid));
    let (s, _) = call(&sb, "t", "GET", &format!("{API}/labels/{lid}"), None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn drafts_create_update_send() {
    let sb = start_unmetered();
    let (_, d) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/drafts"),
        Some(json!({"message": {"raw": b64("To: grace@example.com\nSubject: plan\n\nv1\n")}})),
    )
    .await;
    let did = d["id"].as_str().unwrap().to_string();
    assert_eq!(d["message"]["labelIds"], json!(["DRAFT"]));
    let (_, u) = call(
        &sb,
        "t",
        "PUT",
        &format!("{API}/drafts/{did}"),
        Some(json!({"message": {"raw": b64("To: grace@example.com\nSubject: plan\n\nv2\n")}})),
    )
    .await;
    assert_eq!(u["id"], did.as_str());
    assert_ne!(
        u["message"]["id"], d["message"]["id"],
        "a new message replaces the old one"
    );
    assert!(sb
        .mailbox("ada@example.com")
        .unwrap()
        .message(d["message"]["id"].as_str().unwrap())
        .is_none());
    let (s, sent) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/drafts/send"),
        Some(json!({"id": did})),
    )
    .await;
    assert_eq!(s, 200, "{sent}");
    assert_eq!(sent["labelIds"], json!(["SENT"]));
    assert!(raw_of(&sb, "ada@example.com", sent["id"].as_str().unwrap()).contains("v2"));
    let mb = sb.mailbox("ada@example.com").unwrap();
    assert!(!mb.drafts.contains_key(&did));
    let (s, _) = call(&sb, "t", "GET", &format!("{API}/drafts/{did}"), None).await;
    assert_eq!(s, 404);
    let grace = sb.mailbox("grace@example.com").unwrap();
    assert!(grace
        .messages
        .iter()
        .any(|m| String::from_utf8_lossy(&m.raw).contains("v2")));
}

#[tokio::test]
async fn watch_settings_and_filters() {
    let sb = start_unmetered();
    let (s, w) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/watch"),
        Some(json!({"topicName": "projects/p/topics/mail", "labelIds": ["INBOX"]})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        w["historyId"],
        json!(sb.history_id("ada@example.com").to_string())
    );
    let exp: i64 = w["expiration"].as_str().unwrap().parse().unwrap();
    assert!(exp > chrono::Utc::now().timestamp_millis());
    let (s, _) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/watch"),
        Some(json!({"topicName": "mail"})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(&sb, "t", "POST", &format!("{API}/stop"), None).await;
    assert_eq!(s, 204);
    let (_, f) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/settings/filters"),
        Some(
            json!({"criteria": {"from": "x@example.net"}, "action": {"addLabelIds": ["Label_1"]}}),
        ),
    )
    .await;
    let (_, list) = call(&sb, "t", "GET", &format!("{API}/settings/filters"), None).await;
    assert_eq!(list["filter"].as_array().unwrap().len(), 2);
    let (s, _) = call(
        &sb,
        "t",
        "DELETE",
        &format!("{API}/settings/filters/{}", f["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, e) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/settings/filters"),
        Some(json!({"criteria": {"from": "x"}, "action": {"forward": "elsewhere@example.net"}})),
    )
    .await;
    assert_eq!(
        (s, e["error"]["status"].as_str()),
        (400, Some("FAILED_PRECONDITION"))
    );
    let (_, v) = call(
        &sb,
        "t",
        "PUT",
        &format!("{API}/settings/vacation"),
        Some(json!({"enableAutoReply": true, "responseSubject": "Away"})),
    )
    .await;
    assert_eq!(v["enableAutoReply"], true);
    let (_, v) = call(&sb, "t", "GET", &format!("{API}/settings/vacation"), None).await;
    assert_eq!(v["responseSubject"], "Away");
}

#[tokio::test]
async fn insert_and_import_keep_labels_and_dates() {
    let sb = start_unmetered();
    let raw = "From: old@example.net\nTo: ada@example.com\nSubject: archive\nDate: Mon, 01 Jan 2024 10:00:00 +0000\n\nold\n";
    let (_, v) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages?internalDateSource=dateHeader"),
        Some(json!({"raw": b64(raw), "labelIds": ["Label_1"]})),
    )
    .await;
    assert_eq!(v["labelIds"], json!(["Label_1"]));
    let m = sb
        .mailbox("ada@example.com")
        .unwrap()
        .message(v["id"].as_str().unwrap())
        .unwrap()
        .clone();
    assert_eq!(m.internal_date, 1_704_103_200_000);
    let (_, v) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/import"),
        Some(json!({"raw": b64(raw)})),
    )
    .await;
    assert_eq!(v["labelIds"], json!(["INBOX", "UNREAD"]));
    let (s, _) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages"),
        Some(json!({"raw": b64(raw), "labelIds": ["NOPE"]})),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn filters_run_on_delivered_and_imported_mail() {
    let sb = start_unmetered();
    let gt = grace_token(&sb).await;
    let (s, _) = call(
        &sb,
        &gt,
        "POST",
        &format!("{API}/settings/filters"),
        Some(json!({
            "criteria": {"from": "ada@example.com", "subject": "navy"},
            "action": {"addLabelIds": ["Label_1", "STARRED"], "removeLabelIds": ["INBOX"]}
        })),
    )
    .await;
    assert_eq!(s, 200);
    let before = sb.history_id("grace@example.com");
    for subject in ["Navy news", "Lunch"] {
        let raw = b64(&format!("To: grace@example.com\nSubject: {subject}\n\nx\n"));
        let (s, _) = call(
            &sb,
            "t",
            "POST",
            &format!("{API}/messages/send"),
            Some(json!({"raw": raw})),
        )
        .await;
        assert_eq!(s, 200);
    }
    let grace = sb.mailbox("grace@example.com").unwrap();
    let labels_of = |subject: &str| {
        grace
            .messages
            .iter()
            .find(|m| String::from_utf8_lossy(&m.raw).contains(&format!("Subject: {subject}")))
            .unwrap()
            .label_ids
            .clone()
    };
    let navy = labels_of("Navy news");
    assert!(
        navy.contains(&"Label_1".into())
            && navy.contains(&"STARRED".into())
            && !navy.contains(&"INBOX".into()),
        "{navy:?}"
    );
    assert!(labels_of("Lunch").contains(&"INBOX".into()));
    let (_, h) = call(
        &sb,
        &gt,
        "GET",
        &format!("{API}/history?startHistoryId={before}"),
        None,
    )
    .await;
    let recs = h["history"].as_array().unwrap();
    assert_eq!(
        recs.len(),
        2,
        "one messagesAdded each, no separate label records: {h}"
    );
    assert_eq!(
        recs[0]["messagesAdded"][0]["message"]["labelIds"],
        json!(navy)
    );

    // Ada's demo filter moves news@example.com to promotions on import, not on insert.
    let news = b64("From: news@example.com\nTo: ada@example.com\nSubject: digest 46\n\nx\n");
    let (_, imported) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/import"),
        Some(json!({"raw": news})),
    )
    .await;
    assert_eq!(
        imported["labelIds"],
        json!(["UNREAD", "CATEGORY_PROMOTIONS"])
    );
    let (_, inserted) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages"),
        Some(json!({"raw": news, "labelIds": ["INBOX"]})),
    )
    .await;
    assert_eq!(inserted["labelIds"], json!(["INBOX"]));
}

#[tokio::test]
async fn every_real_world_message_of_the_corpus_round_trips() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/mime/messages");
    let sb = sandbox_gmail::GmailSandbox::start(sandbox_gmail::SandboxConfig {
        seed: sandbox_gmail::Seed::Empty,
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let (s, v) = call(&sb, "t", "POST", &format!("{API}/messages"), Some(json!({"raw": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, &bytes), "labelIds": ["INBOX"]}))).await;
        assert_eq!(s, 200, "{}: {v}", path.display());
        let id = v["id"].as_str().unwrap().to_string();
        for format in ["full", "metadata", "minimal"] {
            let (s, m) = call(
                &sb,
                "t",
                "GET",
                &format!("{API}/messages/{id}?format={format}"),
                None,
            )
            .await;
            assert_eq!(s, 200, "{} {format}: {m}", path.display());
        }
        let (_, raw) = call(
            &sb,
            "t",
            "GET",
            &format!("{API}/messages/{id}?format=raw"),
            None,
        )
        .await;
        let back = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE,
            raw["raw"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(back, bytes, "{}", path.display());
        n += 1;
    }
    assert_eq!(n, 88);
    let (s, v) = call(
        &sb,
        "t",
        "GET",
        &format!("{API}/messages?q=the&maxResults=500"),
        None,
    )
    .await;
    assert_eq!(s, 200, "search over the corpus: {v}");
    let (s, _) = call(
        &sb,
        "t",
        "GET",
        &format!("{API}/threads?maxResults=500"),
        None,
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn request_bodies_are_read_like_google_reads_them() {
    let sb = start_unmetered();
    let id = sb.mailbox("ada@example.com").unwrap().messages[0]
        .id
        .clone();
    let (s, e) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/{id}/modify"),
        Some(json!({"label_ids": ["STARRED"]})),
    )
    .await;
    assert_eq!(
        s, 400,
        "label_ids is neither a JSON nor a proto name of ModifyMessageRequest"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown name \"label_ids\""),
        "{e}"
    );
    let (s, v) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/{id}/modify"),
        Some(json!({"add_label_ids": ["STARRED"]})),
    )
    .await;
    assert_eq!(s, 200, "proto names are accepted: {v}");
    assert!(v["labelIds"]
        .as_array()
        .unwrap()
        .contains(&json!("STARRED")));
    let (s, _) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/send"),
        Some(json!({"raw": 7})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/labels"),
        Some(json!({"name": "X", "colour": {}})),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn the_vacation_responder_answers_once_per_sender_in_thread() {
    let sb = start_unmetered();
    // The auto-reply's own subject differs from the question's: it joins the thread by its
    // references only without Google's subject rule (behaviour.rs shows the rule).
    sb.set_behaviour(sandbox_gmail::Behaviour {
        threading_rule: false,
        ..sandbox_gmail::Behaviour::default()
    });
    let gt = grace_token(&sb).await;
    let (s, _) = call(&sb, &gt, "PUT", &format!("{API}/settings/vacation"), Some(json!({
        "enableAutoReply": true, "responseSubject": "Away until Monday", "responseBodyPlainText": "I am at sea."
    }))).await;
    assert_eq!(s, 200);
    let mut first_thread = String::new();
    for i in 0..2 {
        let raw = b64(&format!(
            "To: grace@example.com\nSubject: Question {i}\nMessage-ID: <q{i}@example.com>\n\nx\n"
        ));
        let (_, v) = call(
            &sb,
            "t",
            "POST",
            &format!("{API}/messages/send"),
            Some(json!({"raw": raw})),
        )
        .await;
        if i == 0 {
            first_thread = v["threadId"].as_str().unwrap().to_string();
        }
    }
    let ada = sb.mailbox("ada@example.com").unwrap();
    let replies: Vec<_> = ada
        .messages
        .iter()
        .filter(|m| String::from_utf8_lossy(&m.raw).contains("Away until Monday"))
        .collect();
    assert_eq!(replies.len(), 1, "one auto-reply per sender");
    assert_eq!(replies[0].thread_id, first_thread);
    assert!(replies[0].label_ids.contains(&"INBOX".into()));
    assert!(String::from_utf8_lossy(&replies[0].raw).contains("Auto-Submitted: auto-replied"));
    let grace = sb.mailbox("grace@example.com").unwrap();
    assert!(grace
        .messages
        .iter()
        .any(|m| m.label_ids.contains(&"SENT".into())
            && String::from_utf8_lossy(&m.raw).contains("I am at sea.")));
}
