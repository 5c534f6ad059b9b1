//! Reading through the Gmail emulator over real HTTP: lists and paging, search, formats,
//! charsets, threads, labels, drafts, settings, batch, history, partial responses, big corpora.

use std::time::{Duration, Instant};

use crate::support::{demo, id_of, start, subjects_of, Client, API};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use sandbox_gmail::{SandboxConfig, Seed};
use serde_json::json;

#[tokio::test]
async fn list_pages_and_hides_spam_and_trash_by_default() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let all = c.ids("").await;
    let with_st = c.ids("includeSpamTrash=true").await;
    assert_eq!(
        with_st.len(),
        all.len() + 2,
        "one spam and one trash message"
    );
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let (s, v) = c
            .get(&format!("{API}/messages?maxResults=4&pageToken={token}"))
            .await;
        assert_eq!(s, 200);
        paged.extend(
            v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string()),
        );
        match v["nextPageToken"].as_str() {
            Some(t) => token = t.to_string(),
            None => break,
        }
    }
    assert_eq!(
        paged, all,
        "pages cover the list exactly once, newest first"
    );
    assert_eq!(c.ids("labelIds=SPAM").await.len(), 1);
    let (s, v) = c.get(&format!("{API}/messages?pageToken=garbage")).await;
    assert_eq!(
        (s, v["error"]["errors"][0]["reason"].as_str()),
        (400, Some("invalidArgument"))
    );
}

#[tokio::test]
async fn label_ids_filter_is_an_and() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let inbox_unread = c.ids("labelIds=INBOX&labelIds=UNREAD").await;
    let mb = sb.mailbox("ada@example.com").unwrap();
    let expected: Vec<String> = mb
        .messages
        .iter()
        .filter(|m| m.label_ids.contains(&"INBOX".into()) && m.label_ids.contains(&"UNREAD".into()))
        .map(|m| m.id.clone())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(inbox_unread, expected);
}

#[tokio::test]
async fn search_operators() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let subj = |ids: Vec<String>| subjects_of(&sb, &ids);
    assert_eq!(
        subj(c.ids("q=from:bob@example.org").await),
        ["Quarterly report"]
    );
    assert_eq!(
        subj(c.ids("q=subject:quarterly").await),
        ["Quarterly report"]
    );
    assert_eq!(c.ids("q=has:attachment").await.len(), 2, "report and plan");
    assert_eq!(c.ids("q=label:work").await.len(), 3);
    assert_eq!(c.ids("q=label:travel-japan").await.len(), 2);
    assert_eq!(c.ids("q=is:starred").await.len(), 2);
    assert_eq!(
        subj(c.ids("q=rfc822msgid:<cafe-42@example.fr>").await).len(),
        1
    );
    assert_eq!(
        subj(c.ids("q=rfc822msgid:cafe-42@example.fr").await).len(),
        1
    );
    let unread = c.ids("q=is:unread").await;
    let not_unread = c.ids("q=-is:unread").await;
    assert_eq!(unread.len() + not_unread.len(), c.ids("").await.len());
    assert_eq!(
        subj(c.ids("q=\"punched cards\"").await),
        ["Weekly digest: engines and looms"]
    );
    assert_eq!(subj(c.ids("q=in:spam").await), ["You won a prize!!!"]);
    // Dates: the kickoff thread starts 2026-11-02; after: is inclusive, before: exclusive.
    let early = c.ids("q=after:2026/11/02 before:2026/11/03").await;
    assert_eq!(early.len(), 2, "{:?}", subj(early.clone()));
    let epoch = c.ids("q=after:1793610000 before:1793620000").await;
    assert_eq!(epoch, early);
    assert!(
        c.ids("q=newer_than:1d").await.is_empty(),
        "the demo mail is older than a day"
    );
    assert_eq!(c.ids("q=older_than:1d").await.len(), c.ids("").await.len());
    assert_eq!(
        subj(c.ids("q=to:grace@example.com subject:kickoff").await).len(),
        2,
        "ada's reply and draft"
    );
    // A free-text word over bodies in decoded charsets.
    assert_eq!(c.ids("q=r%C3%A9servation").await.len(), 1);
    assert_eq!(
        subj(c.ids("q=filename:plan.pdf").await),
        ["Re: Project kickoff"]
    );
    let either = subj(
        c.ids("q=from:bob@example.org OR from:orders@shop.example")
            .await,
    );
    assert_eq!(either.len(), 2, "{either:?}");
    assert_eq!(
        subj(
            c.ids("q={from:bob@example.org from:orders@shop.example}")
                .await
        ),
        either
    );
    assert_eq!(
        c.ids("q={from:bob@example.org from:orders@shop.example} subject:quarterly")
            .await
            .len(),
        1
    );
    assert_eq!(
        subj(c.ids("q=list:digest.news.example.com").await),
        ["Weekly digest: engines and looms"]
    );
    let (s, v) = c.get(&format!("{API}/messages?q=after:notadate")).await;
    assert_eq!(s, 400, "{v}");
}

#[tokio::test]
async fn formats_agree_with_the_stored_bytes() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let id = id_of(&sb, "Quarterly report");
    let (s, full) = c.get(&format!("{API}/messages/{id}?format=full")).await;
    assert_eq!(s, 200);
    assert_eq!(full["payload"]["mimeType"], "multipart/mixed");
    let parts = full["payload"]["parts"].as_array().unwrap();
    assert_eq!(parts[0]["partId"], "0");
    assert_eq!(parts[0]["parts"][1]["partId"], "0.1");
    let text = URL_SAFE
        .decode(parts[0]["parts"][0]["body"]["data"].as_str().unwrap())
        .unwrap();
    assert!(
        String::from_utf8(text)
            .unwrap()
            .contains("Revenue grew 12% quarter"),
        "quoted-printable decoded"
    );
    assert_eq!(parts[1]["filename"], "q3-report.pdf");
    let att = parts[1]["body"]["attachmentId"].as_str().unwrap();
    let (s, a) = c
        .get(&format!("{API}/messages/{id}/attachments/{att}"))
        .await;
    assert_eq!(s, 200);
    let pdf = URL_SAFE.decode(a["data"].as_str().unwrap()).unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4"));
    assert_eq!(a["size"], json!(pdf.len()));
    assert_eq!(parts[1]["body"]["size"], json!(pdf.len()));

    let (_, raw) = c.get(&format!("{API}/messages/{id}?format=raw")).await;
    let bytes = URL_SAFE.decode(raw["raw"].as_str().unwrap()).unwrap();
    let mb = sb.mailbox("ada@example.com").unwrap();
    assert_eq!(bytes, mb.message(&id).unwrap().raw.to_vec());
    assert_eq!(raw["sizeEstimate"], json!(bytes.len()));

    let (_, meta) = c
        .get(&format!(
            "{API}/messages/{id}?format=metadata&metadataHeaders=Subject&metadataHeaders=from"
        ))
        .await;
    let names: Vec<&str> = meta["payload"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["From", "Subject"]);
    assert!(meta["payload"].get("parts").is_none());

    let (_, min) = c.get(&format!("{API}/messages/{id}?format=minimal")).await;
    assert!(min.get("payload").is_none());
    assert_eq!(
        min["internalDate"],
        json!(mb.message(&id).unwrap().internal_date.to_string())
    );

    let (s, v) = c.get(&format!("{API}/messages/not-an-id")).await;
    assert_eq!(
        (s, v["error"]["errors"][0]["reason"].as_str()),
        (400, Some("invalidArgument"))
    );
    let (s, v) = c.get(&format!("{API}/messages/0000000000000001")).await;
    assert_eq!(
        (s, v["error"]["errors"][0]["reason"].as_str()),
        (404, Some("notFound"))
    );
}

#[tokio::test]
async fn charsets_keep_their_bytes_and_headers_are_decoded() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let id = id_of(&sb, "cafe-42@example.fr");
    let (_, v) = c.get(&format!("{API}/messages/{id}")).await;
    let data = URL_SAFE
        .decode(v["payload"]["body"]["data"].as_str().unwrap())
        .unwrap();
    assert!(
        data.windows(4).any(|w| w == b"caf\xe9"),
        "ISO-8859-1 bytes after quoted-printable decoding"
    );
    let subject = v["payload"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "Subject")
        .unwrap();
    assert_eq!(subject["value"], "Réservation au café");
    let from = v["payload"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "From")
        .unwrap();
    assert_eq!(from["value"], "François Dubois <francois@example.fr>");
    assert!(v["snippet"]
        .as_str()
        .unwrap()
        .contains("réservation au café"));
}

#[tokio::test]
async fn threads_group_replies_by_references() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let root = id_of(&sb, "Message-ID: <kickoff-1@example.com>");
    let (s, t) = c.get(&format!("{API}/threads/{root}?format=minimal")).await;
    assert_eq!(s, 200);
    let msgs = t["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4, "three messages and the draft reply");
    assert!(msgs.iter().all(|m| m["threadId"] == root.as_str()));
    let (_, list) = c.get(&format!("{API}/threads?q=subject:kickoff")).await;
    assert_eq!(list["threads"].as_array().unwrap().len(), 1);
    assert_eq!(list["threads"][0]["id"], root.as_str());
}

#[tokio::test]
async fn labels_carry_counts() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let (_, l) = c.get(&format!("{API}/labels/Label_1")).await;
    assert_eq!(l["name"], "Work");
    assert_eq!(
        (
            l["messagesTotal"].as_u64(),
            l["threadsTotal"].as_u64(),
            l["messagesUnread"].as_u64()
        ),
        (Some(3), Some(1), Some(1))
    );
    let (_, list) = c.get(&format!("{API}/labels")).await;
    let ids: Vec<&str> = list["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    for sys in [
        "INBOX",
        "SENT",
        "DRAFT",
        "SPAM",
        "TRASH",
        "UNREAD",
        "STARRED",
        "IMPORTANT",
        "CATEGORY_PERSONAL",
    ] {
        assert!(ids.contains(&sys), "{sys}");
    }
    let (s, _) = c.get(&format!("{API}/labels/Label_99")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn drafts_settings_and_vacation_read() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let (_, d) = c.get(&format!("{API}/drafts")).await;
    let did = d["drafts"][0]["id"].as_str().unwrap().to_string();
    let (_, draft) = c.get(&format!("{API}/drafts/{did}")).await;
    assert_eq!(draft["message"]["labelIds"], json!(["DRAFT"]));
    let (_, sa) = c.get(&format!("{API}/settings/sendAs")).await;
    assert_eq!(sa["sendAs"].as_array().unwrap().len(), 2);
    let (s, alias) = c
        .get(&format!(
            "{API}/settings/sendAs/ada.lovelace@analytical.example"
        ))
        .await;
    assert_eq!(
        (s, alias["verificationStatus"].as_str()),
        (200, Some("accepted"))
    );
    let (_, f) = c.get(&format!("{API}/settings/filters")).await;
    let fid = f["filter"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = c.get(&format!("{API}/settings/filters/{fid}")).await;
    assert_eq!(s, 200);
    let (_, v) = c.get(&format!("{API}/settings/vacation")).await;
    assert_eq!(v["enableAutoReply"], false);
}

fn batch_body(boundary: &str, paths: &[String]) -> String {
    let mut b = String::new();
    for (i, p) in paths.iter().enumerate() {
        b.push_str(&format!(
            "--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{i}>\r\n\r\nGET {p} HTTP/1.1\r\n\r\n"
        ));
    }
    b.push_str(&format!("--{boundary}--\r\n"));
    b
}

#[tokio::test]
async fn batch_answers_each_part_and_refuses_more_than_100() {
    let sb = demo();
    let http = reqwest::Client::new();
    let ids = sb
        .mailbox("ada@example.com")
        .unwrap()
        .messages
        .iter()
        .map(|m| m.id.clone())
        .collect::<Vec<_>>();
    let mut paths: Vec<String> = ids
        .iter()
        .map(|id| format!("{API}/messages/{id}?format=metadata"))
        .collect();
    paths.push(format!("{API}/messages/0000000000000001"));
    for url in ["/batch/gmail/v1", "/batch"] {
        sb.reset_stats();
        let r = http
            .post(format!("{}{url}", sb.base_url()))
            .bearer_auth("t")
            .header("content-type", "multipart/mixed; boundary=xyz")
            .body(batch_body("xyz", &paths))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("multipart/mixed; boundary="));
        let text = r.text().await.unwrap();
        for i in 0..paths.len() {
            assert!(
                text.contains(&format!("Content-ID: <response-item{i}>")),
                "part {i}"
            );
        }
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), ids.len());
        assert_eq!(text.matches("HTTP/1.1 404 Not Found").count(), 1);
        let st = sb.stats();
        assert_eq!(
            (st.http_requests, st.batch_requests, st.batch_parts),
            (1, 1, paths.len() as u64)
        );
        assert_eq!(st.by_method["messages.get"], paths.len() as u64);
    }
    let many: Vec<String> = (0..101).map(|_| format!("{API}/profile")).collect();
    let r = http
        .post(format!("{}/batch/gmail/v1", sb.base_url()))
        .bearer_auth("t")
        .header("content-type", "multipart/mixed; boundary=b")
        .body(batch_body("b", &many))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn history_records_changes_and_expired_ids_are_404() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let start = sb.history_id("ada@example.com");
    let id = id_of(&sb, "cafe-42@example.fr");
    let (s, _) = c
        .post(
            &format!("{API}/messages/{id}/modify"),
            json!({"removeLabelIds": ["UNREAD"], "addLabelIds": ["STARRED"]}),
        )
        .await;
    assert_eq!(s, 200);
    let new = sb.insert_message(
        "ada@example.com",
        b"From: x@example.net\r\nSubject: hi\r\n\r\nbody\r\n",
        &["INBOX"],
    );
    let (s, h) = c
        .get(&format!("{API}/history?startHistoryId={start}"))
        .await;
    assert_eq!(s, 200);
    let recs = h["history"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0]["labelsAdded"][0]["labelIds"], json!(["STARRED"]));
    assert_eq!(recs[1]["labelsRemoved"][0]["labelIds"], json!(["UNREAD"]));
    assert_eq!(recs[2]["messagesAdded"][0]["message"]["id"], new.as_str());
    assert_eq!(
        h["historyId"],
        json!(sb.history_id("ada@example.com").to_string())
    );
    let (_, only_added) = c
        .get(&format!(
            "{API}/history?startHistoryId={start}&historyTypes=messageAdded"
        ))
        .await;
    assert_eq!(only_added["history"].as_array().unwrap().len(), 1);
    let (_, l) = c.get(&format!("{API}/labels/STARRED")).await;
    assert_eq!(l["messagesTotal"], 3, "counts follow the change");

    sb.expire_history_before("ada@example.com", start + 2);
    let (s, v) = c
        .get(&format!("{API}/history?startHistoryId={start}"))
        .await;
    assert_eq!(
        (s, v["error"]["errors"][0]["reason"].as_str()),
        (404, Some("notFound"))
    );
    let (s, _) = c
        .get(&format!("{API}/history?startHistoryId={}", start + 2))
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn count_seed_of_10000_is_quick_and_searchable() {
    let t = Instant::now();
    let sb = start(SandboxConfig {
        seed: Seed::Count(10_000),
        ..Default::default()
    });
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "seeding took {:?}",
        t.elapsed()
    );
    let c = Client::new(&sb, "t");
    let (_, p) = c.get(&format!("{API}/profile")).await;
    assert_eq!(p["messagesTotal"], 10_000);
    assert_eq!(p["threadsTotal"], 2_000);
    let (_, v) = c.get(&format!("{API}/messages?maxResults=500")).await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 500);
    let (_, v) = c
        .get(&format!(
            "{API}/threads/{}",
            v["messages"][0]["threadId"].as_str().unwrap()
        ))
        .await;
    assert!(!v["messages"].as_array().unwrap().is_empty());
    // Search parses every message once; it must stay usable on a corpus this size.
    let t = Instant::now();
    let (s, v) = c.get(&format!("{API}/messages?q=word13 from:carol")).await;
    assert_eq!(s, 200);
    eprintln!("first search over 10,000 took {:?}", t.elapsed());
    // word13 is message i with i % 97 == 13; carol sends i % 10 == 2.
    let expected = (0..10_000).filter(|i| i % 97 == 13 && i % 10 == 2).count();
    assert_eq!(v["resultSizeEstimate"], expected);
}

#[tokio::test]
async fn batch_parts_may_write_and_threads_refuse_raw() {
    let sb = demo();
    let id = id_of(&sb, "cafe-42@example.fr");
    let body = format!(
        "--b\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n\
         POST {API}/messages/{id}/modify HTTP/1.1\r\nContent-Type: application/json\r\n\r\n\
         {{\"addLabelIds\": [\"STARRED\"]}}\r\n\
         --b\r\nContent-Type: application/http\r\nContent-ID: 2\r\n\r\n\
         GET https://gmail.googleapis.com{API}/threads/{id}?format=raw HTTP/1.1\r\n\r\n\
         --b--\r\n"
    );
    let r = reqwest::Client::new()
        .post(format!("{}/batch", sb.base_url()))
        .bearer_auth("t")
        .header("content-type", "multipart/mixed; boundary=b")
        .body(body)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("Content-ID: response-1"), "{text}");
    assert!(
        text.contains("HTTP/1.1 200 OK") && text.contains("HTTP/1.1 400 Bad Request"),
        "{text}"
    );
    let mb = sb.mailbox("ada@example.com").unwrap();
    assert!(mb
        .message(&id)
        .unwrap()
        .label_ids
        .contains(&"STARRED".to_string()));
}

#[tokio::test]
async fn partial_responses_with_fields() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let (_, v) = c
        .get(&format!(
            "{API}/messages?maxResults=2&fields=messages(id),nextPageToken"
        ))
        .await;
    let obj = v.as_object().unwrap();
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        ["messages", "nextPageToken"]
    );
    assert_eq!(v["messages"][0].as_object().unwrap().len(), 1);
    let (s, _) = c.get(&format!("{API}/profile?fields=emailAddress(")).await;
    assert_eq!(s, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_requests_are_all_answered() {
    let sb = start(SandboxConfig {
        seed: Seed::Count(500),
        quotas: false,
        ..Default::default()
    });
    let c = Client::new(&sb, "t");
    let ids = c.ids("maxResults=200").await;
    let calls = ids
        .iter()
        .map(|id| c.get_owned(format!("{API}/messages/{id}?format=full")));
    let answers = futures::future::join_all(calls).await;
    assert!(answers
        .iter()
        .all(|(s, v)| *s == 200 && v["payload"]["mimeType"] == "text/plain"));
    assert_eq!(sb.stats().by_method["messages.get"], 200);
}
