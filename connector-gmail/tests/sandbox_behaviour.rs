//! Behaviour of the Gmail emulator over real HTTP: auth, reading, search, batch, history,
//! quota, scopes and the token endpoint.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use connector_gmail::sandbox::{GmailSandbox, SandboxConfig, Seed, TokenRule};
use serde_json::{json, Value};

const API: &str = "/gmail/v1/users/me";

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(sb: &GmailSandbox, token: &str) -> Self {
        Client {
            http: reqwest::Client::new(),
            base: sb.base_url(),
            token: token.to_string(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Ids of messages.list for a query string.
    async fn ids(&self, query: &str) -> Vec<String> {
        let (s, v) = self.get(&format!("{API}/messages?{query}")).await;
        assert_eq!(s, 200, "{query}: {v}");
        v["messages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| m["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn start(cfg: SandboxConfig) -> GmailSandbox {
    GmailSandbox::start(cfg).expect("sandbox starts")
}

fn demo() -> GmailSandbox {
    start(SandboxConfig::default())
}

/// The id of ada's message whose raw bytes contain `needle`.
fn id_of(sb: &GmailSandbox, needle: &str) -> String {
    let mb = sb.mailbox("ada@example.com").unwrap();
    mb.messages
        .iter()
        .find(|m| String::from_utf8_lossy(&m.raw).contains(needle))
        .unwrap_or_else(|| panic!("no message contains {needle}"))
        .id
        .clone()
}

fn subjects_of(sb: &GmailSandbox, ids: &[String]) -> Vec<String> {
    let mb = sb.mailbox("ada@example.com").unwrap();
    ids.iter()
        .map(|id| {
            let raw = String::from_utf8_lossy(&mb.message(id).unwrap().raw).into_owned();
            raw.lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn any_bearer_is_ada_and_a_missing_one_is_401_auth_error() {
    let sb = demo();
    let (s, v) = Client::new(&sb, "whatever")
        .get(&format!("{API}/profile"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["emailAddress"], "ada@example.com");
    assert_eq!(
        v["historyId"],
        json!(sb.history_id("ada@example.com").to_string())
    );
    let r = reqwest::get(format!("{}{API}/profile", sb.base_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 401);
    assert_eq!(v["error"]["errors"][0]["reason"], "authError");
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn another_users_mailbox_is_denied() {
    let sb = demo();
    let (s, v) = Client::new(&sb, "t")
        .get("/gmail/v1/users/grace@example.com/profile")
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, _) = Client::new(&sb, "t")
        .get("/gmail/v1/users/ada@example.com/profile")
        .await;
    assert_eq!(s, 200);
}

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
async fn quota_answers_429_then_recovers_and_can_answer_403() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    sb.set_quota_limit(10, Duration::from_millis(400));
    assert_eq!(c.get(&format!("{API}/messages?maxResults=1")).await.0, 200); // 5 units
    assert_eq!(c.get(&format!("{API}/messages?maxResults=1")).await.0, 200); // 10 units
    let r = reqwest::Client::new()
        .get(format!("{}{API}/profile", sb.base_url()))
        .bearer_auth("t")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["errors"][0]["reason"], "rateLimitExceeded");
    assert_eq!(v["error"]["errors"][0]["domain"], "usageLimits");
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(c.get(&format!("{API}/profile")).await.0, 200);
    sb.set_quota_forbidden(true);
    sb.set_quota_limit(1, Duration::from_secs(60));
    assert_eq!(c.get(&format!("{API}/profile")).await.0, 200);
    let (s, v) = c.get(&format!("{API}/profile")).await;
    assert_eq!(
        (s, v["error"]["errors"][0]["reason"].as_str()),
        (403, Some("userRateLimitExceeded"))
    );
    sb.set_quotas(false);
    assert_eq!(c.get(&format!("{API}/profile")).await.0, 200);
    assert_eq!(sb.stats().rate_limited, 2);
}

#[tokio::test]
async fn default_quota_is_15000_units_per_minute() {
    let sb = start(SandboxConfig {
        seed: Seed::Empty,
        ..Default::default()
    });
    let c = Client::new(&sb, "t");
    // messages.send costs 100 units: 150 calls fit, the 151st does not. Use labels.get-free
    // history.list (2 units) in a batch of 100 to get there quickly: 75 batches is too many, so
    // spend with sends instead.
    let raw = URL_SAFE.encode(b"To: someone@example.net\r\nSubject: q\r\n\r\nx\r\n");
    for i in 0..150 {
        let (s, v) = c
            .post(&format!("{API}/messages/send"), json!({"raw": raw}))
            .await;
        assert_eq!(s, 200, "send {i}: {v}");
    }
    let (s, _) = c
        .post(&format!("{API}/messages/send"), json!({"raw": raw}))
        .await;
    assert_eq!(s, 429);
}

#[tokio::test]
async fn scopes_are_enforced_and_the_403_names_them() {
    let sb = start(SandboxConfig {
        tokens: vec![
            "ro=ada@example.com:gmail.readonly"
                .parse::<TokenRule>()
                .unwrap(),
            TokenRule::new("grace", "grace@example.com", &["https://mail.google.com/"]),
        ],
        ..Default::default()
    });
    let ro = Client::new(&sb, "ro");
    assert_eq!(ro.get(&format!("{API}/messages")).await.0, 200);
    let id = id_of(&sb, "cafe-42@example.fr");
    let (s, v) = ro
        .post(
            &format!("{API}/messages/{id}/modify"),
            json!({"addLabelIds": ["STARRED"]}),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(v["error"]["errors"][0]["reason"], "insufficientPermissions");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("https://www.googleapis.com/auth/gmail.modify"),
        "{v}"
    );
    let (s, v) = ro
        .call(
            reqwest::Method::DELETE,
            &format!("{API}/messages/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 403);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("https://mail.google.com/"),
        "{v}"
    );
    let (s, v) = Client::new(&sb, "grace")
        .get(&format!("{API}/profile"))
        .await;
    assert_eq!(
        (s, v["emailAddress"].as_str()),
        (200, Some("grace@example.com"))
    );
    assert_eq!(
        Client::new(&sb, "unknown")
            .get(&format!("{API}/profile"))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn token_endpoint_issues_rotates_and_revokes() {
    let sb = start(SandboxConfig {
        rotate_refresh_tokens: true,
        tokens: vec![TokenRule::new("x", "ada@example.com", &[])],
        ..Default::default()
    });
    let rt = sb.issue_refresh_token("grace@example.com", &["gmail.readonly"]);
    let http = reqwest::Client::new();
    let refresh = |rt: String| {
        let http = http.clone();
        let url = sb.token_url();
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                    ("client_id", "cid"),
                    ("client_secret", "cs"),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = refresh(rt.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "https://www.googleapis.com/auth/gmail.readonly");
    assert!(v["expires_in"].as_u64().unwrap() > 3000);
    let new_rt = v["refresh_token"].as_str().expect("rotated").to_string();
    let access = v["access_token"].as_str().unwrap();
    let (s, p) = Client::new(&sb, access)
        .get(&format!("{API}/profile"))
        .await;
    assert_eq!(
        (s, p["emailAddress"].as_str()),
        (200, Some("grace@example.com"))
    );
    let (s, v) = refresh(rt).await;
    assert_eq!(s, 400);
    assert_eq!(
        v,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
    assert_eq!(refresh(new_rt.clone()).await.0, 200);
    sb.expire_access_tokens();
    assert_eq!(
        Client::new(&sb, access)
            .get(&format!("{API}/profile"))
            .await
            .0,
        401
    );
    assert_eq!(sb.stats().token_requests, 3);
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
async fn consent_screen_and_code_exchange_with_pkce_and_basic_auth() {
    use sha2::Digest;
    let sb = start(SandboxConfig {
        tokens: vec![TokenRule::new("x", "ada@example.com", &[])],
        ..Default::default()
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let verifier = "a-long-enough-code-verifier-0123456789-abcdefghijklmnop";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let r = http
        .get(sb.authorize_url())
        .query(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://localhost:9/cb"),
            ("response_type", "code"),
            ("scope", "https://www.googleapis.com/auth/gmail.readonly"),
            ("state", "st-1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("login_hint", "grace@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(loc.path(), "/cb");
    let q: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st-1");
    let exchange = |code: String, verifier: &'static str| {
        http.post(sb.token_url())
            .basic_auth("cid", Some("secret"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://localhost:9/cb"),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let bad = exchange(q["code"].clone(), "wrong-verifier").await.unwrap();
    assert_eq!(
        bad.status(),
        400,
        "a wrong verifier fails and burns the code"
    );
    let again = exchange(
        q["code"].clone(),
        "a-long-enough-code-verifier-0123456789-abcdefghijklmnop",
    )
    .await
    .unwrap();
    assert_eq!(again.status(), 400, "codes are single-use");

    let r = http
        .get(sb.authorize_url())
        .query(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://localhost:9/cb"),
            ("response_type", "code"),
            ("scope", "https://www.googleapis.com/auth/gmail.readonly"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("login_hint", "grace@example.com"),
        ])
        .send()
        .await
        .unwrap();
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let ok = exchange(
        code,
        "a-long-enough-code-verifier-0123456789-abcdefghijklmnop",
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    let v: Value = ok.json().await.unwrap();
    assert!(
        v["refresh_token"].is_string(),
        "offline access returns a refresh token"
    );
    let (s, p) = Client::new(&sb, v["access_token"].as_str().unwrap())
        .get(&format!("{API}/profile"))
        .await;
    assert_eq!(
        (s, p["emailAddress"].as_str()),
        (200, Some("grace@example.com"))
    );

    sb.set_consent_denied(true);
    let r = http
        .get(sb.authorize_url())
        .query(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://localhost:9/cb"),
            ("response_type", "code"),
            ("scope", "gmail.readonly"),
            ("state", "s2"),
        ])
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        loc.contains("error=access_denied") && loc.contains("state=s2"),
        "{loc}"
    );
}

#[tokio::test]
async fn issued_access_tokens_expire_after_their_ttl() {
    let sb = demo();
    sb.set_access_token_ttl(Duration::from_secs(2));
    let rt = sb.issue_refresh_token("ada@example.com", &["gmail.readonly"]);
    let v: Value = reqwest::Client::new()
        .post(sb.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", "c"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["expires_in"], 2);
    let c = Client::new(&sb, v["access_token"].as_str().unwrap());
    assert_eq!(c.get(&format!("{API}/profile")).await.0, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, e) = c.get(&format!("{API}/profile")).await;
    assert_eq!(
        (s, e["error"]["errors"][0]["reason"].as_str()),
        (401, Some("authError"))
    );
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
async fn an_outside_issuer_is_trusted_through_introspection() {
    use wiremock::matchers::{body_string_contains, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let issuer = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("token=good"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "active": true, "username": "grace@example.com", "scope": "gmail.readonly", "expires_in": 600
        })))
        .expect(1)
        .mount(&issuer)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("token=bad"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"active": false})))
        .mount(&issuer)
        .await;
    let sb = start(SandboxConfig {
        introspection_url: Some(format!("{}/introspect", issuer.uri())),
        ..Default::default()
    });
    let good = Client::new(&sb, "good");
    for _ in 0..2 {
        let (s, p) = good.get(&format!("{API}/profile")).await;
        assert_eq!(
            (s, p["emailAddress"].as_str()),
            (200, Some("grace@example.com"))
        );
    }
    let (s, e) = good
        .post(&format!("{API}/labels"), json!({"name": "x"}))
        .await;
    assert_eq!(s, 403, "the issuer granted read-only: {e}");
    assert_eq!(
        Client::new(&sb, "bad")
            .get(&format!("{API}/profile"))
            .await
            .0,
        401
    );
    assert_eq!(
        Client::new(&sb, "other")
            .get(&format!("{API}/profile"))
            .await
            .0,
        401,
        "no default user"
    );
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
