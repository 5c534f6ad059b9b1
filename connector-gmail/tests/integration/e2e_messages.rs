//! messages.list / get / get_many and attachments.get through the connector against the Gmail
//! sandbox over loopback HTTP.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connector_core::ErrorCode;
use connector_gmail::mime::decode_mime;
use sandbox_gmail::Seed;
use serde_json::{json, Value};

use crate::common::env::{config, run, start, ADA};

const LATIN1_QP: &[u8] = b"From: =?ISO-8859-1?Q?Ren=E9e_Dupr=E9?= <renee@example.fr>\r\nTo: Ada Lovelace <ada@example.com>\r\nCc: grace@example.com\r\nSubject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=\r\nDate: Mon, 2 Sep 2024 10:00:00 +0200\r\nMessage-ID: <latin1@example.fr>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nVoil=E0 le caf=E9, tr=E8s bon.\r\n";

const ISO2022JP_B64: &[u8] = b"From: taro@example.jp\r\nTo: ada@example.com\r\nSubject: =?ISO-2022-JP?B?GyRCN29MPiVGJTklSBsoQg==?=\r\nDate: Tue, 3 Sep 2024 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: base64\r\n\r\nGyRCJDMkcyRLJEEkTyEiQCQzJhsoQg==\r\n";

const CP1251_8BIT: &[u8] = b"From: ivan@example.ru\r\nTo: ada@example.com\r\nSubject: hello\r\nDate: Wed, 4 Sep 2024 09:00:00 +0300\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=windows-1251\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xcf\xf0\xe8\xe2\xe5\xf2\x2c\x20\xec\xe8\xf0\r\n";

const HTML_ONLY: &[u8] = b"From: news@example.com\r\nTo: ada@example.com\r\nSubject: Newsletter\r\nDate: Thu, 5 Sep 2024 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<html><body><p>Hello <b>Ada</b> &amp; friends</p><p>Gr=C3=BC=C3=9Fe</p></body></html>\r\n";

const WITH_ATTACHMENT: &[u8] = b"From: Grace Hopper <grace@example.com>\r\nTo: ada@example.com\r\nSubject: Report\r\nDate: Fri, 6 Sep 2024 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZSDwn46JIGZyb20gVVRGLTg=\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Gr\xc3\xbc\xc3\x9fe</p>\r\n--alt--\r\n--outer\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''rapport%20%C3%A9t%C3%A9.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==\r\n--outer--\r\n";

async fn get(gmail: &connector_core::Connector, id: &str) -> Value {
    run(gmail, "messages", "get", json!({"message_id": id}))
        .await
        .result
}

#[tokio::test]
async fn messages_decode_across_charsets_and_transfer_encodings() {
    let env = start(config(Seed::Empty));
    let latin1 = env.sb.insert_message(ADA, LATIN1_QP, &["INBOX"]);
    let jp = env.sb.insert_message(ADA, ISO2022JP_B64, &["INBOX"]);
    let ru = env
        .sb
        .insert_message(ADA, CP1251_8BIT, &["INBOX", "UNREAD"]);

    let m = get(&env.gmail, &latin1).await;
    assert_eq!(m["id"], latin1.as_str());
    assert_eq!(m["subject"], "Café crème");
    assert_eq!(
        m["from"],
        json!({"name": "Renée Dupré", "email": "renee@example.fr"})
    );
    assert_eq!(
        m["to"],
        json!([{"name": "Ada Lovelace", "email": "ada@example.com"}])
    );
    assert_eq!(
        m["cc"],
        json!([{"name": null, "email": "grace@example.com"}])
    );
    assert_eq!(
        m["text"].as_str().unwrap().trim_end(),
        "Voilà le café, très bon."
    );
    assert_eq!(m["html"], Value::Null);
    assert_eq!(m["date"], "2024-09-02T10:00:00+02:00");
    assert_eq!(m["message_id"], "<latin1@example.fr>");
    assert_eq!(m["label_ids"], json!(["INBOX"]));
    assert!(m["internal_date"].as_str().unwrap().ends_with('Z'));
    assert_eq!(m["decode_warnings"], json!([]));
    assert!(m["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["name"] == "Subject"));

    let m = get(&env.gmail, &jp).await;
    assert_eq!(m["subject"], "件名テスト");
    assert_eq!(m["text"].as_str().unwrap().trim_end(), "こんにちは、世界");

    let m = get(&env.gmail, &ru).await;
    assert_eq!(m["text"].as_str().unwrap().trim_end(), "Привет, мир");
    assert_eq!(m["label_ids"], json!(["INBOX", "UNREAD"]));
}

#[tokio::test]
async fn html_only_mail_gets_a_readable_text_and_raw_is_returned_only_when_asked() {
    let env = start(config(Seed::Empty));
    let id = env.sb.insert_message(ADA, HTML_ONLY, &["INBOX"]);
    let m = get(&env.gmail, &id).await;
    assert!(m["html"].as_str().unwrap().contains("<b>Ada</b>"));
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("Hello Ada & friends"), "{text:?}");
    assert!(text.contains("Grüße") && !text.contains('<'), "{text:?}");
    assert!(m.get("raw").is_none());

    let raw = run(
        &env.gmail,
        "messages",
        "get",
        json!({"message_id": id, "format": "raw"}),
    )
    .await
    .result;
    assert_eq!(
        STANDARD.decode(raw["raw"].as_str().unwrap()).unwrap(),
        HTML_ONLY
    );
    assert_eq!(raw["html"], m["html"]);
    assert_eq!(raw["text"], m["text"]);

    let meta = run(
        &env.gmail,
        "messages",
        "get",
        json!({"message_id": id, "format": "metadata"}),
    )
    .await
    .result;
    assert_eq!(meta["subject"], "Newsletter");
    assert!(meta.get("text").is_none() && meta.get("html").is_none());
    let minimal = run(
        &env.gmail,
        "messages",
        "get",
        json!({"message_id": id, "format": "minimal"}),
    )
    .await
    .result;
    assert!(minimal.get("subject").is_none());
    assert_eq!(minimal["thread_id"], m["thread_id"]);
}

#[tokio::test]
async fn full_format_through_the_api_decodes_like_the_raw_bytes() {
    // The emulator's payload tree, rebuilt by the connector, must agree with decoding the
    // original bytes directly.
    let env = start(config(Seed::Empty));
    for raw in [
        LATIN1_QP,
        ISO2022JP_B64,
        CP1251_8BIT,
        HTML_ONLY,
        WITH_ATTACHMENT,
    ] {
        let id = env.sb.insert_message(ADA, raw, &["INBOX"]);
        let m = get(&env.gmail, &id).await;
        let direct = decode_mime(raw);
        assert_eq!(m["subject"], json!(direct.subject));
        assert_eq!(m["from"], json!(direct.from));
        assert_eq!(m["to"], json!(direct.to));
        // An HTML-only body's text is rendered as a reader sees it (hidden content left out).
        let text = match (&direct.html, direct.text_from_html) {
            (Some(html), true) => Some(connector_core::text::html_to_text(html)),
            _ => direct.text.clone(),
        };
        assert_eq!(m["text"], json!(text), "{id}");
        assert_eq!(m["html"], json!(direct.html), "{id}");
        let names: Vec<&Value> = m["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["filename"])
            .collect();
        let direct_names: Vec<Value> = direct
            .attachments
            .iter()
            .map(|a| json!(a.filename))
            .collect();
        assert_eq!(names.len(), direct_names.len());
    }
}

const NAMED_INLINE_TEXTS: &[u8] = b"From: a@example.com\r\nTo: ada@example.com\r\nSubject: notes\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: inline; filename=\"a.txt\"\r\n\r\nfirst text\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: inline; filename=\"b.txt\"\r\n\r\nsecond text\r\n--b--\r\n";

/// Gmail holds text parts with file names behind attachment ids in `format=full` (issue 26):
/// the body's text is fetched instead of coming back as `""`.
#[tokio::test]
async fn a_text_body_with_a_file_name_is_fetched_not_returned_empty() {
    let env = start(config(Seed::Empty));
    let id = env.sb.insert_message(ADA, NAMED_INLINE_TEXTS, &["INBOX"]);
    let m = get(&env.gmail, &id).await;
    assert_eq!(
        m["text"].as_str().map(str::trim_end),
        Some("first text"),
        "{m}"
    );
    assert_eq!(m["decode_warnings"], json!([]));
    let names: Vec<&str> = m["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["filename"].as_str())
        .collect();
    assert_eq!(names, ["b.txt"]);
}

#[tokio::test]
async fn attachments_are_listed_and_downloaded_as_standard_base64() {
    let env = start(config(Seed::Empty));
    let id = env.sb.insert_message(ADA, WITH_ATTACHMENT, &["INBOX"]);
    let m = get(&env.gmail, &id).await;
    assert_eq!(
        m["text"].as_str().unwrap().trim_end(),
        "Grüße 🎉 from UTF-8"
    );
    assert_eq!(m["html"].as_str().unwrap().trim_end(), "<p>Grüße</p>");
    let atts = m["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 1, "{atts:?}");
    assert_eq!(atts[0]["filename"], "rapport été.pdf");
    assert_eq!(atts[0]["mime_type"], "application/pdf");
    assert_eq!(atts[0]["size"], 256);
    let att_id = atts[0]["attachment_id"]
        .as_str()
        .expect("Gmail gives big parts an attachment id");

    let a = run(
        &env.gmail,
        "attachments",
        "get",
        json!({"message_id": id, "attachment_id": att_id}),
    )
    .await
    .result;
    let bytes = STANDARD
        .decode(a["content_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, (0..=255u8).collect::<Vec<_>>());
    assert_eq!(a["filename"], "rapport été.pdf");
    assert_eq!(a["mime_type"], "application/pdf");
    assert_eq!(a["size"], 256);

    let summary = run(
        &env.gmail,
        "messages",
        "list",
        json!({"q": "has:attachment"}),
    )
    .await
    .result;
    assert_eq!(summary[0]["id"], id.as_str());
    assert_eq!(summary[0]["has_attachments"], true);
}

#[tokio::test]
async fn a_page_of_fifty_summaries_costs_two_requests_and_ids_only_one() {
    let env = start(config(Seed::Count(120)));
    env.sb.reset_stats();
    let page = run(&env.gmail, "messages", "list", json!({"max_results": 50})).await;
    let stats = env.sb.stats();
    assert_eq!(stats.http_requests, 2, "{stats:?}");
    assert_eq!(stats.batch_requests, 1);
    assert_eq!(stats.batch_parts, 50);
    let items = page.result.as_array().unwrap();
    assert_eq!(items.len(), 50);
    for s in items {
        assert!(
            s["subject"].is_string() && s["from"]["email"].is_string(),
            "{s}"
        );
        assert!(s["label_ids"].is_array() && s["date"].is_string());
        assert!(s.get("error").is_none());
    }
    let token = page.metadata["next_page_token"]
        .as_str()
        .expect("more pages")
        .to_string();

    env.sb.reset_stats();
    let ids = run(
        &env.gmail,
        "messages",
        "list",
        json!({"max_results": 50, "page_token": token, "ids_only": true}),
    )
    .await;
    assert_eq!(env.sb.stats().http_requests, 1);
    let ids: Vec<&str> = ids
        .result
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 50);
    assert!(
        ids.iter().all(|id| items.iter().all(|s| s["id"] != *id)),
        "page 2 repeats page 1"
    );
}

#[tokio::test]
async fn get_many_of_250_takes_at_most_five_requests_and_reports_failures_per_id() {
    let env = start(config(Seed::Count(260)));
    let ids = run(
        &env.gmail,
        "messages",
        "list",
        json!({"max_results": 250, "ids_only": true}),
    )
    .await
    .result;
    let ids: Vec<String> = ids
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 250);

    // 250 reads cost 5,000 units of the 2026 quota, more than the three quarters of 6,000 a
    // minute that bulk reads may spend: a connector told the older 15,000-unit quota.
    let gmail = connector_gmail::connector_with_options(
        std::sync::Arc::new(connector_core::StaticToken(connector_core::Secret::new(
            "t",
        ))),
        connector_core::HttpConfig::new(env.sb.base_url()),
        connector_gmail::GmailOptions {
            quota_units_per_minute: 15_000,
            message_get_units: 5,
            ..Default::default()
        },
    )
    .unwrap();
    env.sb.reset_stats();
    let out = run(&gmail, "messages", "get_many", json!({"message_ids": ids})).await;
    let stats = env.sb.stats();
    assert!(stats.http_requests <= 5, "{stats:?}");
    assert_eq!(stats.batch_parts, 250);
    let got = out.result.as_array().unwrap();
    assert_eq!(got.len(), 250);
    for (m, id) in got.iter().zip(&ids) {
        assert_eq!(m["id"], id.as_str(), "order follows message_ids");
        assert!(m["text"].is_string() || m["html"].is_string(), "{m}");
    }
    assert_eq!(out.metadata["failed"], 0);

    let mixed = run(
        &env.gmail,
        "messages",
        "get_many",
        json!({"message_ids": [ids[0], "ffffffffffff0000", ids[1]], "format": "metadata"}),
    )
    .await;
    let r = mixed.result.as_array().unwrap();
    assert_eq!(r[0]["id"], ids[0].as_str());
    assert!(r[0]["subject"].is_string());
    assert_eq!(r[1]["id"], "ffffffffffff0000");
    assert_eq!(r[1]["error"]["code"], "not_found");
    assert_eq!(r[2]["id"], ids[1].as_str());
    assert_eq!(mixed.metadata["failed"], 1);
}

#[tokio::test]
async fn bad_input_is_rejected_before_any_request() {
    let env = start(config(Seed::Demo));
    env.sb.reset_stats();
    let cases = [
        ("messages", "get", json!({}), "/message_id"),
        (
            "messages",
            "get",
            json!({"message_id": "x", "format": "html"}),
            "/format",
        ),
        (
            "messages",
            "list",
            json!({"max_results": 0}),
            "/max_results",
        ),
        ("messages", "list", json!({"query": "is:unread"}), "query"),
        (
            "messages",
            "get_many",
            json!({"message_ids": []}),
            "/message_ids",
        ),
        (
            "messages",
            "get_many",
            json!({"message_ids": ["a"], "batch_size": 101}),
            "/batch_size",
        ),
        (
            "history",
            "list",
            json!({"start_history_id": "abc"}),
            "/start_history_id",
        ),
        ("labels", "get", json!({"label_id": 7}), "/label_id"),
    ];
    for (entity, action, params, field) in cases {
        let err = env
            .gmail
            .execute(entity, action, params.clone())
            .await
            .unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::InvalidParams,
            "{entity}.{action} {params}"
        );
        let said = format!("{} {}", err.message, err.details);
        assert!(
            said.contains(field),
            "{entity}.{action} {params}: the error should name {field}: {said}"
        );
    }
    let err = env
        .gmail
        .execute("messages", "fetch", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownAction);
    assert_eq!(
        env.sb.stats().http_requests,
        0,
        "nothing may reach the emulator"
    );
}

#[tokio::test]
async fn messages_search_translates_the_shared_query_to_gmail_search() {
    let env = start(config(Seed::Empty));
    let report = env
        .sb
        .insert_message(ADA, WITH_ATTACHMENT, &["INBOX", "UNREAD"]);
    let latin1 = env.sb.insert_message(ADA, LATIN1_QP, &["INBOX"]);
    let news = env.sb.insert_message(ADA, HTML_ONLY, &["INBOX", "UNREAD"]);
    let ids = |out: &connector_core::Output| -> Vec<String> {
        let mut v: Vec<String> = out
            .result
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let search = |p: Value| run(&env.gmail, "messages", "search", p);
    let out = search(json!({"from": "grace@example.com"})).await;
    assert_eq!(ids(&out), [report.as_str()]);
    assert_eq!(out.metadata["source"], "provider");
    assert_eq!(out.metadata["provider_query"], "from:grace@example.com");
    let hit = &out.result[0];
    assert_eq!(hit["subject"], "Report");
    assert_eq!(hit["is_read"], false);
    assert_eq!(hit["has_attachments"], true);
    assert_eq!(hit["labels"], json!(["INBOX", "UNREAD"]));
    assert!(hit["date"].as_str().unwrap().ends_with('Z'));

    let out = search(json!({"is_read": false, "has_attachment": false})).await;
    assert_eq!(ids(&out), [news.as_str()]);
    let out = search(json!({"subject": "newsletter", "label": "INBOX"})).await;
    assert_eq!(ids(&out), [news.as_str()]);
    let thread = get(&env.gmail, &latin1).await["thread_id"].clone();
    let out = search(json!({"thread_id": thread})).await;
    assert_eq!(ids(&out), [latin1.as_str()]);
    let out = search(json!({"text": "friends"})).await;
    assert_eq!(ids(&out), [news.as_str()]);
    let out = search(json!({"cc": "grace"})).await;
    assert!(ids(&out).contains(&latin1), "{:?}", out.result);
    assert!(!ids(&out).contains(&report), "{:?}", out.result);
}
