//! The emulator's message writes over raw HTTP: what Graph does to both mailboxes.

use sandbox_outlook::{OutlookSandbox, SandboxConfig, TokenRule};
use serde_json::{json, Value};

pub(crate) const ADA: &str = "ada@example.com";
pub(crate) const GRACE: &str = "grace@example.com";

pub(crate) struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub(crate) fn new(sb: &OutlookSandbox) -> Client {
        Client {
            base: sb.base_url(),
            http: reqwest::Client::new(),
        }
    }
    pub(crate) async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
    pub(crate) async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(token, reqwest::Method::POST, path, Some(body))
            .await
    }
    async fn get(&self, token: &str, path: &str) -> Value {
        self.call(token, reqwest::Method::GET, path, None).await.1
    }
}

fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn users() -> SandboxConfig {
    SandboxConfig {
        tokens: vec![
            TokenRule::new("ada", ADA, &[]),
            TokenRule::new("grace", GRACE, &[]),
            TokenRule::new("reader", ADA, &["Mail.ReadWrite"]),
        ],
        ..Default::default()
    }
}

/// These tests look at sent mail right after the 202, by the client's internetMessageId:
/// instant filing, id kept (behaviour.rs shows Graph's transport).
pub(crate) fn start_users() -> OutlookSandbox {
    let sb = OutlookSandbox::start(users()).unwrap();
    sb.set_behaviour(sandbox_outlook::Behaviour::kind());
    sb
}

#[tokio::test]
async fn send_reply_and_forward_reach_both_mailboxes_in_one_conversation() {
    let sb = start_users();
    let c = Client::new(&sb);
    let (s, _) = c
        .post("ada", "/me/sendMail", json!({"Message": {"Subject": "Design review", "Body": {"ContentType": "Text", "Content": "Tuesday?"}, "ToRecipients": [{"EmailAddress": {"Address": GRACE}}], "internetMessageId": "<idem-1@example.com>"}, "SaveToSentItems": true}))
        .await;
    assert_eq!(s, 202);
    let sent = c.get("ada", "/me/mailFolders/sentitems/messages?$filter=internetMessageId%20eq%20'%3Cidem-1@example.com%3E'").await;
    assert_eq!(
        sent["value"].as_array().unwrap().len(),
        1,
        "found by internetMessageId"
    );
    let inbox = c
        .get(
            "grace",
            "/me/mailFolders/inbox/messages?$filter=subject%20eq%20'Design%20review'",
        )
        .await;
    let received = &inbox["value"][0];
    assert_eq!(received["isRead"], false);
    assert_eq!(received["from"]["emailAddress"]["address"], ADA);
    let conv = received["conversationId"].as_str().unwrap().to_string();
    assert_eq!(sent["value"][0]["conversationId"], conv.as_str());

    let rid = enc(received["id"].as_str().unwrap());
    let (s, _) = c
        .post(
            "grace",
            &format!("/me/messages/{rid}/reply"),
            json!({"comment": "Tuesday works."}),
        )
        .await;
    assert_eq!(s, 202);
    let ada_inbox = c
        .get(
            "ada",
            "/me/mailFolders/inbox/messages?$filter=subject%20eq%20'RE:%20Design%20review'",
        )
        .await;
    let reply = &ada_inbox["value"][0];
    assert_eq!(
        reply["conversationId"],
        conv.as_str(),
        "the reply joins the conversation"
    );
    assert!(reply["body"]["content"]
        .as_str()
        .unwrap()
        .starts_with("Tuesday works."));

    let (s, _) = c.post("ada", &format!("/me/messages/{}/forward", enc(reply["id"].as_str().unwrap())), json!({"comment": "FYI", "toRecipients": [{"emailAddress": {"address": "linus@example.org"}}]})).await;
    assert_eq!(s, 202);
    let fw = c
        .get(
            "ada",
            "/me/mailFolders/sentitems/messages?$filter=subject%20eq%20'FW:%20Design%20review'",
        )
        .await;
    assert_eq!(
        fw["value"][0]["toRecipients"][0]["emailAddress"]["address"],
        "linus@example.org"
    );

    let (s, e) = c.post("ada", "/me/sendMail", json!({"message": {"subject": "x", "toRecipients": [{"emailAddress": {"address": "not-an-address"}}]}})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("ErrorInvalidRecipients"))
    );
    let (s, e) = c.post("reader", "/me/sendMail", json!({"message": {"subject": "x", "toRecipients": [{"emailAddress": {"address": GRACE}}]}})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("ErrorAccessDenied")),
        "sending needs Mail.Send"
    );
}

#[tokio::test]
async fn drafts_updates_moves_copies_and_deletes() {
    let sb = start_users();
    let c = Client::new(&sb);
    let (s, draft) = c
        .post(
            "ada",
            "/me/messages",
            json!({"subject": "Plan", "body": {"contentType": "html", "content": "<p>v1</p>"}}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(draft["isDraft"], true);
    let id = enc(draft["id"].as_str().unwrap());
    let (s, patched) = c.call("ada", reqwest::Method::PATCH, &format!("/me/messages/{id}"), Some(json!({"toRecipients": [{"emailAddress": {"address": GRACE}}], "categories": ["Finance"]}))).await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(patched["categories"], json!(["Finance"]));
    assert_eq!(
        c.post("ada", &format!("/me/messages/{id}/send"), json!({}))
            .await
            .0,
        202
    );
    assert_eq!(
        c.get(
            "grace",
            "/me/mailFolders/inbox/messages?$filter=subject%20eq%20'Plan'"
        )
        .await["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let inbox_id = sb.message_ids(ADA, "inbox")[0].clone();
    let (s, moved) = c
        .post(
            "ada",
            &format!("/me/messages/{}/move", enc(&inbox_id)),
            json!({"DestinationId": "archive"}),
        )
        .await;
    assert_eq!(s, 201);
    assert_ne!(moved["id"], inbox_id.as_str(), "a move gives a new id");
    assert!(!sb.message_ids(ADA, "inbox").contains(&inbox_id));
    let (s, copied) = c
        .post(
            "ada",
            &format!("/me/messages/{}/copy", enc(moved["id"].as_str().unwrap())),
            json!({"destinationId": "inbox"}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(copied["subject"], moved["subject"]);
    let (s, _) = c
        .call(
            "ada",
            reqwest::Method::PATCH,
            &format!("/me/messages/{}", enc(copied["id"].as_str().unwrap())),
            Some(json!({"isRead": false, "flag": {"flagStatus": "flagged"}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = c
        .call(
            "ada",
            reqwest::Method::PATCH,
            &format!("/me/messages/{}", enc(copied["id"].as_str().unwrap())),
            Some(json!({"subject": "rewritten"})),
        )
        .await;
    assert_eq!(s, 400, "a received message's subject cannot change");
    let (s, _) = c
        .call(
            "ada",
            reqwest::Method::DELETE,
            &format!("/me/messages/{}", enc(copied["id"].as_str().unwrap())),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let deleted = c
        .get("ada", "/me/mailFolders/deleteditems/messages?$top=50")
        .await;
    assert!(deleted["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["subject"] == copied["subject"]));

    let (s, reply_draft) = c
        .post(
            "ada",
            &format!(
                "/me/messages/{}/createReplyAll",
                enc(moved["id"].as_str().unwrap())
            ),
            json!({}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(reply_draft["isDraft"], true);
    assert_eq!(reply_draft["conversationId"], moved["conversationId"]);
}

/// A notification receiver: echoes `validationToken`, records notifications.
pub(crate) async fn receiver(echo: bool) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::extract::{Query, State};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    async fn hook(
        State((got, echo)): State<(Arc<Mutex<Vec<Value>>>, bool)>,
        Query(q): Query<HashMap<String, String>>,
        body: axum::body::Bytes,
    ) -> (
        axum::http::StatusCode,
        [(&'static str, &'static str); 1],
        String,
    ) {
        if let Some(t) = q.get("validationToken") {
            let answer = if echo { t.clone() } else { "nope".into() };
            return (
                axum::http::StatusCode::OK,
                [("content-type", "text/plain")],
                answer,
            );
        }
        got.lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
        (
            axum::http::StatusCode::ACCEPTED,
            [("content-type", "text/plain")],
            String::new(),
        )
    }
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state((got.clone(), echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

#[tokio::test]
async fn subscriptions_are_validated_and_notified_of_new_mail() {
    let sb = start_users();
    let c = Client::new(&sb);
    let (url, got) = receiver(true).await;
    let expires = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (s, sub) = c.post("grace", "/subscriptions", json!({"changeType": "created", "notificationUrl": url, "resource": "me/mailFolders('inbox')/messages", "expirationDateTime": expires, "clientState": "s3cret"})).await;
    assert_eq!(s, 201, "{sub}");
    c.post("ada", "/me/sendMail", json!({"message": {"subject": "ping", "toRecipients": [{"emailAddress": {"address": GRACE}}]}})).await;
    for _ in 0..50 {
        if !got.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let notes = got.lock().unwrap().clone();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let n = &notes[0]["value"][0];
    assert_eq!(
        (n["changeType"].as_str(), n["clientState"].as_str()),
        (Some("created"), Some("s3cret"))
    );
    assert_eq!(n["subscriptionId"], sub["id"]);
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let sid = sub["id"].as_str().unwrap();
    let (s, renewed) = c
        .call(
            "grace",
            reqwest::Method::PATCH,
            &format!("/subscriptions/{sid}"),
            Some(json!({"expirationDateTime": later})),
        )
        .await;
    assert_eq!(s, 200);
    assert_ne!(renewed["expirationDateTime"], sub["expirationDateTime"]);
    assert_eq!(
        c.call(
            "grace",
            reqwest::Method::DELETE,
            &format!("/subscriptions/{sid}"),
            None
        )
        .await
        .0,
        204
    );

    let (bad_url, _) = receiver(false).await;
    let (s, e) = c.post("grace", "/subscriptions", json!({"changeType": "created", "notificationUrl": bad_url, "resource": "me/messages", "expirationDateTime": expires})).await;
    assert_eq!(s, 400, "{e}");
}

#[tokio::test]
async fn upload_sessions_take_ranges_in_order() {
    let sb = start_users();
    let c = Client::new(&sb);
    let (_, draft) = c
        .post("ada", "/me/messages", json!({"subject": "big"}))
        .await;
    let id = enc(draft["id"].as_str().unwrap());
    let size: usize = 10 * 1024 * 1024;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let (s, session) = c
        .post(
            "ada",
            &format!("/me/messages/{id}/attachments/createUploadSession"),
            json!({"AttachmentItem": {"attachmentType": "file", "name": "big.bin", "size": size}}),
        )
        .await;
    assert_eq!(s, 201, "{session}");
    let upload = session["uploadUrl"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let put = |start: usize, end: usize| {
        let body = data[start..=end].to_vec();
        http.put(&upload)
            .header("Content-Range", format!("bytes {start}-{end}/{size}"))
            .body(body)
            .send()
    };
    let chunk = 4 * 1024 * 1024;
    assert_eq!(
        put(chunk, 2 * chunk - 1).await.unwrap().status(),
        400,
        "out of order"
    );
    let r = put(0, chunk - 1).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["nextExpectedRanges"],
        json!([format!("{chunk}-")])
    );
    assert_eq!(put(chunk, 2 * chunk - 1).await.unwrap().status(), 200);
    assert_eq!(put(2 * chunk, size - 1).await.unwrap().status(), 201);
    let atts = c
        .get(
            "ada",
            &format!("/me/messages/{id}/attachments?$select=name,size"),
        )
        .await;
    assert_eq!(atts["value"][0]["name"], "big.bin");
    assert!(atts["value"][0]["size"].as_u64().unwrap() >= size as u64);
}
