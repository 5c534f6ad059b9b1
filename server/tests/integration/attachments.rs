//! Attachments by reference (issue 22, docs/attachments.md) through `create_app` on both
//! emulators: uploads and handles (scoped to the organization, expiring, capped), references in
//! sends that the policies judge by the real bytes, and a 20 MB attachment forwarded from
//! mailbox to mailbox while everything the agent sends and reads stays under 10 KB.

use actix_web::http::{Method, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sandbox_outlook::NewMessage;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::harness::{assert_error, harness_with, Req, Tenant, CONNECTORS};
use crate::guardrails::{assert_refused, env, Env, USER};

const KB10: usize = 10 * 1024;

/// `n` bytes that do not compress (xorshift), different per seed.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn size(v: &Value) -> usize {
    serde_json::to_vec(v).unwrap().len()
}

/// Uploads `bytes` for a handle; the answer's body.
async fn upload(
    env: &Env,
    t: &Tenant,
    name: &str,
    bytes: &[u8],
    query: &str,
) -> (StatusCode, Value) {
    env.h
        .send(
            Req::new(
                Method::POST,
                format!("/api/v1/attachments?filename={name}{query}"),
            )
            .by(t)
            .raw(bytes.to_vec())
            .content_type("application/pdf"),
        )
        .await
}

async fn download(env: &Env, t: &Tenant, url: &str) -> (StatusCode, Vec<u8>, Option<String>) {
    let (s, headers, body) = env.h.send_bytes(Req::new(Method::GET, url).by(t)).await;
    let digest = headers
        .get("x-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (s, body, digest)
}

/// An execute call as the agent makes it: the request and the answer must both stay small.
async fn agent_call(env: &Env, id: &str, entity: &str, action: &str, params: Value) -> Value {
    let request = json!({"entity": entity, "action": action, "params": params});
    assert!(
        size(&request) < KB10,
        "the agent's {entity}.{action} request has {} bytes",
        size(&request)
    );
    let (s, v) = env
        .h
        .post(&format!("{CONNECTORS}/{id}/execute"), &env.t, request)
        .await;
    assert_eq!(s, StatusCode::OK, "{entity}.{action}: {v}");
    assert!(
        size(&v) < KB10,
        "the agent's {entity}.{action} answer has {} bytes",
        size(&v)
    );
    v
}

/// The bytes of attachment `attachment_id` of a message, read back by reference (a handle and
/// its download), with the handle's hash.
async fn read_back(
    env: &Env,
    id: &str,
    message_id: &str,
    attachment_id: &str,
) -> (Vec<u8>, String) {
    let v = agent_call(
        env,
        id,
        "attachments",
        "get",
        json!({"message_id": message_id, "attachment_id": attachment_id, "attachments": "reference"}),
    )
    .await;
    let r = &v["result"];
    assert!(r.get("content_base64").is_none(), "{v}");
    assert!(r["handle"].as_str().unwrap().starts_with("att_"), "{v}");
    let (s, bytes, digest) = download(env, &env.t, r["download_url"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(digest.as_deref(), r["sha256"].as_str());
    // `size` stays the provider's (Graph's counts some overhead); the bytes are all there.
    assert!(r["size"].as_u64().unwrap() >= bytes.len() as u64, "{v}");
    (bytes, r["sha256"].as_str().unwrap().to_string())
}

/// A Gmail message with one attachment, as delivered mail.
fn gmail_mime(subject: &str, filename: &str, bytes: &[u8]) -> Vec<u8> {
    let b64 = STANDARD.encode(bytes);
    let mut body = String::with_capacity(b64.len() + b64.len() / 38 + 1024);
    body.push_str(&format!(
        "From: Grace Hopper <grace@example.com>\r\nTo: {USER}\r\nSubject: {subject}\r\n\
         Date: Sat, 05 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe file.\r\n\
         --b1\r\nContent-Type: application/octet-stream; name=\"{filename}\"\r\n\
         Content-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    ));
    for line in b64.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(line).unwrap());
        body.push_str("\r\n");
    }
    body.push_str("--b1--\r\n");
    body.into_bytes()
}

#[actix_web::test]
async fn a_20_mb_attachment_goes_from_mailbox_to_mailbox_by_reference_on_both_providers() {
    let env = env().await;
    let bytes = noise(20 * 1024 * 1024, 20);
    let hash = sha(&bytes);

    // Gmail: a received message with the file; the agent forwards it by reference.
    let id = env.connector("gmail").await;
    let source =
        env.gmail
            .insert_message(USER, &gmail_mime("big-in", "big.bin", &bytes), &["INBOX"]);
    let got = agent_call(&env, &id, "messages", "get", json!({"message_id": source})).await;
    let att = got["result"]["attachments"][0]["attachment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = agent_call(
        &env,
        &id,
        "messages",
        "send",
        json!({"to": ["grace@example.com"], "subject": "big-out", "text": "Forwarded.",
            "attachments": [{"content_ref": {"message_id": source, "attachment_id": att}}]}),
    )
    .await;
    assert_eq!(env.sent("gmail", "big-out"), 1);
    // What Gmail stored: the file's bytes, base64 in the MIME message, exactly.
    let mailbox = env.gmail.mailbox(USER).unwrap();
    let out = mailbox
        .messages
        .iter()
        .find(|m| m.label_ids.iter().any(|l| l == "SENT"))
        .unwrap();
    let flat: Vec<u8> = out
        .raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let needle = STANDARD.encode(&bytes);
    assert!(
        flat.windows(64)
            .position(|w| w == &needle.as_bytes()[..64])
            .is_some_and(|at| flat[at..].starts_with(needle.as_bytes())),
        "the sent message carries the file's bytes"
    );
    assert!(
        out.raw.windows(7).any(|w| w == b"big.bin"),
        "the file name went along"
    );
    // And read back through the connector: same hash.
    let sent_id = sent["result"]["id"].as_str().unwrap();
    let got = agent_call(&env, &id, "messages", "get", json!({"message_id": sent_id})).await;
    let sent_att = got["result"]["attachments"][0]["attachment_id"]
        .as_str()
        .unwrap();
    let (back, back_hash) = read_back(&env, &id, sent_id, sent_att).await;
    assert_eq!(back_hash, hash);
    assert_eq!(sha(&back), hash);

    // Outlook: a received message with the file; the agent drafts, attaches by reference
    // (over 3 MB: the connector opens an upload session) and sends the draft.
    let id = env.connector("outlook").await;
    let source = env
        .outlook
        .deliver(
            USER,
            "inbox",
            NewMessage {
                subject: "big-in".into(),
                attachments: vec![(
                    "big.bin".into(),
                    "application/octet-stream".into(),
                    bytes.clone(),
                    false,
                )],
                ..Default::default()
            },
        )
        .unwrap();
    let list = agent_call(
        &env,
        &id,
        "attachments",
        "list",
        json!({"message_id": source}),
    )
    .await;
    let att = list["result"][0]["attachment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let draft = agent_call(
        &env,
        &id,
        "messages",
        "create_draft",
        json!({"to": ["grace@example.com"], "subject": "big-out", "text": "Forwarded."}),
    )
    .await;
    let draft_id = draft["result"]["id"].as_str().unwrap().to_string();
    env.outlook.set_recording(true);
    let added = agent_call(
        &env,
        &id,
        "attachments",
        "add",
        json!({"message_id": draft_id,
            "content_ref": {"message_id": source, "attachment_id": att}}),
    )
    .await;
    assert!(
        added["result"]["size"].as_u64().unwrap() >= bytes.len() as u64,
        "{added}"
    );
    assert_eq!(added["result"]["filename"], "big.bin", "{added}");
    assert_eq!(
        added["connector_metadata"]["upload_session"], true,
        "{added}"
    );
    assert!(
        env.outlook
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/createUploadSession")),
        "the 20 MB file went through an upload session"
    );
    env.outlook.set_recording(false);
    agent_call(
        &env,
        &id,
        "messages",
        "send_draft",
        json!({"message_id": draft_id}),
    )
    .await;
    assert_eq!(env.sent("outlook", "big-out"), 1);
    let sent_id = env.outlook.messages_in(USER, "sentitems")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let list = agent_call(
        &env,
        &id,
        "attachments",
        "list",
        json!({"message_id": sent_id}),
    )
    .await;
    let sent_att = list["result"][0]["attachment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (back, back_hash) = read_back(&env, &id, &sent_id, &sent_att).await;
    assert_eq!(back_hash, hash);
    assert_eq!(sha(&back), hash);
}

#[actix_web::test]
async fn an_uploaded_handle_is_sent_on_both_providers_and_the_policies_see_its_bytes() {
    let env = env().await;
    let bytes = noise(2 * 1024 * 1024, 2);
    let (s, h) = upload(&env, &env.t, "report.pdf", &bytes, "").await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    assert_eq!(h["size"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(h["sha256"], sha(&bytes));
    assert_eq!(h["mime_type"], "application/pdf");
    let handle = h["handle"].as_str().unwrap().to_string();
    let refd = || json!([{"content_ref": {"handle": handle}}]);
    for kind in crate::guardrails::KINDS {
        let id = env.connector(kind).await;
        // The largest-attachment rule judges the real size behind the handle.
        env.set_policy(&id, json!({"max_attachment_bytes": 1024 * 1024}))
            .await;
        let got = env
            .send(
                &id,
                json!({"to": ["grace@example.com"], "subject": "by-handle", "text": "x",
                    "attachments": refd()}),
            )
            .await;
        assert_refused(&got, 403, "max_attachment_bytes");
        // The approval preview shows the real size and hash.
        env.set_policy(&id, json!({"require_approval": "all"}))
            .await;
        let params = json!({"to": ["grace@example.com"], "subject": "by-handle", "text": "x",
            "attachments": refd()});
        let got = env.send(&id, params.clone()).await;
        assert_error(&got, 403, "approval_required");
        let approval = got.1["error"]["details"]["approval_id"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, a) = env
            .h
            .get(&format!("/api/v1/approvals/{approval}"), &env.t)
            .await;
        assert_eq!(s, StatusCode::OK, "{a}");
        let shown = &a["preview"]["attachments"][0];
        assert_eq!(shown["filename"], "report.pdf", "{a}");
        assert_eq!(shown["size"].as_u64(), Some(bytes.len() as u64), "{a}");
        assert_eq!(shown["sha256"], sha(&bytes), "{a}");
        let (s, v) = env
            .h
            .send(
                Req::new(
                    Method::POST,
                    format!("/api/v1/approvals/{approval}/approve"),
                )
                .by(&env.t),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        // The same params (the same handle) are the approved message.
        let got = env.send(&id, params).await;
        assert_eq!(got.0, StatusCode::OK, "{kind}: {}", got.1);
        assert_eq!(env.sent(kind, "by-handle"), 1, "{kind}");
    }
}

#[actix_web::test]
async fn handles_belong_to_one_organization_and_expire() {
    let env = env().await;
    let other = env.h.tenant("rival").await;
    let bytes = b"%PDF-1.4 quarterly numbers".to_vec();
    let (s, h) = upload(&env, &env.t, "q.pdf", &bytes, "").await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    let url = h["download_url"].as_str().unwrap().to_string();
    let handle = h["handle"].as_str().unwrap().to_string();
    let (s, got, digest) = download(&env, &env.t, &url).await;
    assert_eq!((s, got.as_slice()), (StatusCode::OK, bytes.as_slice()));
    assert_eq!(digest.as_deref(), Some(sha(&bytes).as_str()));

    // Another organization: 404 to download, to delete and to send.
    let (s, _, _) = download(&env, &other, &url).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let got = env.h.send(Req::new(Method::DELETE, &url).by(&other)).await;
    assert_error(&got, 404, "not_found");
    let (s, v) = env
        .h
        .post(
            CONNECTORS,
            &other,
            json!({"customer_name": "c", "connector_type": "gmail",
                "credentials": {"refresh_token": env.gmail.issue_refresh_token(USER, &["https://mail.google.com/"]),
                    "client_id": "cid", "client_secret": "cs"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let theirs = v["id"].as_str().unwrap().to_string();
    let got = env
        .run_by(
            &other,
            &theirs,
            "messages",
            "send",
            json!({"to": ["grace@example.com"], "subject": "stolen", "text": "x",
                "attachments": [{"content_ref": {"handle": handle}}]}),
        )
        .await;
    assert_error(&got, 404, "not_found");
    assert_eq!(env.sent("gmail", "stolen"), 0);

    // A malformed reference names the field.
    let id = env.connector("gmail").await;
    let got = env
        .send(
            &id,
            json!({"to": ["grace@example.com"], "subject": "bad", "text": "x",
                "attachments": [{"content_ref": {"handle": handle, "message_id": "m"}}]}),
        )
        .await;
    assert_error(&got, 400, "invalid_params");
    assert_eq!(
        got.1["error"]["details"]["errors"][0]["pointer"],
        "/attachments/0/content_ref"
    );

    // Deleted: gone.
    let got = env.h.send(Req::new(Method::DELETE, &url).by(&env.t)).await;
    assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    let (s, _, _) = download(&env, &env.t, &url).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Expired: gone, and the expired row is swept by the next upload.
    let (s, h) = upload(&env, &env.t, "short.pdf", &bytes, "&ttl_seconds=1").await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, _, _) = download(&env, &env.t, h["download_url"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let swept = env
        .h
        .state
        .store
        .sweep_attachment_handles(chrono::Utc::now().timestamp_millis())
        .await
        .unwrap();
    assert_eq!(swept, 1, "the expired handle was still stored until swept");

    // The upload's own checks.
    let (s, v) = upload(&env, &env.t, "x.pdf", &bytes, "&ttl_seconds=0").await;
    assert_error(&(s, v), 400, "invalid_params");
    let (s, v) = upload(&env, &env.t, "x%01.pdf", &bytes, "").await;
    assert_error(&(s, v), 400, "invalid_params");
    // No Content-Type: no file.
    let got = env
        .h
        .send(Req::new(Method::POST, "/api/v1/attachments?filename=x.pdf").by(&env.t))
        .await;
    assert_error(&got, 400, "invalid_params");
    // An empty file is a file.
    let (s, v) = upload(&env, &env.t, "empty.txt", b"", "").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["size"], 0);
}

#[actix_web::test]
async fn uploads_and_the_organizations_store_are_capped() {
    let h = harness_with(|c| {
        c.limits.attachments.max_bytes = 1000;
        c.limits.attachments.max_org_bytes = 1500;
    })
    .await;
    let t = h.tenant("acme").await;
    let post = |n: usize| {
        Req::new(Method::POST, "/api/v1/attachments?filename=f.bin")
            .by(&t)
            .raw(vec![7u8; n])
            .content_type("application/octet-stream")
    };
    let got = h.send(post(1001)).await;
    assert_error(&got, 413, "payload_too_large");
    let got = h.send(post(1000)).await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    let got = h.send(post(600)).await;
    assert_error(&got, 413, "payload_too_large");
    assert_eq!(got.1["error"]["details"]["held_bytes"], 1000, "{}", got.1);
    let got = h.send(post(500)).await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
}
