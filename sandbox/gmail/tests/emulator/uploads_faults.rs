//! The Gmail emulator's upload paths (multipart, resumable, the 35 MiB limit) and fault
//! injection (5xx, delay, dropped connection, response lost after the send, latency).

use std::time::{Duration, Instant};

use crate::support::{b64, call, raw_of, start_unmetered, API};
use sandbox_gmail::{Fault, FaultKind};
use serde_json::{json, Value};

fn related(meta: &Value, message: &[u8]) -> (String, Vec<u8>) {
    let mut body = format!("--bnd\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n--bnd\r\nContent-Type: message/rfc822\r\n\r\n").into_bytes();
    body.extend_from_slice(message);
    body.extend_from_slice(b"\r\n--bnd--\r\n");
    ("multipart/related; boundary=bnd".into(), body)
}

fn big_message(size: usize) -> Vec<u8> {
    let mut m =
        b"To: grace@example.com\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    while m.len() < size {
        m.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n",
        );
    }
    m
}

#[tokio::test]
async fn multipart_upload_sends_ten_megabytes_and_refuses_over_35_mib() {
    let sb = start_unmetered();
    let http = reqwest::Client::new();
    let msg = big_message(10 * 1024 * 1024);
    let (ct, body) = related(&json!({}), &msg);
    let r = http
        .post(format!(
            "{}/upload/gmail/v1/users/me/messages/send?uploadType=multipart",
            sb.base_url()
        ))
        .bearer_auth("t")
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let stored = sb
        .mailbox("ada@example.com")
        .unwrap()
        .message(v["id"].as_str().unwrap())
        .unwrap()
        .raw
        .len();
    assert!(
        stored >= msg.len(),
        "the whole message was stored ({stored} bytes)"
    );
    assert_eq!(sb.stats().upload_requests, 1);

    let too_big = big_message(35 * 1024 * 1024 + 1);
    let (ct, body) = related(&json!({}), &too_big);
    let r = http
        .post(format!(
            "{}/upload/gmail/v1/users/me/messages/send?uploadType=multipart",
            sb.base_url()
        ))
        .bearer_auth("t")
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let big_ones = sb
        .mailbox("grace@example.com")
        .unwrap()
        .messages
        .iter()
        .filter(|m| m.raw.len() > 1024 * 1024)
        .count();
    assert_eq!(big_ones, 1, "only the 10 MB message was delivered");
}

#[tokio::test]
async fn resumable_upload_in_one_piece_and_in_chunks() {
    let sb = start_unmetered();
    let http = reqwest::Client::new();
    let msg = b"To: grace@example.com\r\nSubject: resumable\r\n\r\nhello in pieces\r\n".to_vec();
    for chunked in [false, true] {
        let r = http
            .post(format!(
                "{}/upload/gmail/v1/users/me/messages/send?uploadType=resumable",
                sb.base_url()
            ))
            .bearer_auth("t")
            .header("x-upload-content-type", "message/rfc822")
            .header("x-upload-content-length", msg.len().to_string())
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let location = r.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(&sb.base_url()));
        let resp = if chunked {
            let (a, b) = msg.split_at(10);
            let r1 = http
                .put(&location)
                .header("content-range", format!("bytes 0-9/{}", msg.len()))
                .body(a.to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(r1.status(), 308);
            assert_eq!(r1.headers()["range"], "bytes=0-9");
            http.put(&location)
                .header(
                    "content-range",
                    format!("bytes 10-{}/{}", msg.len() - 1, msg.len()),
                )
                .body(b.to_vec())
                .send()
                .await
                .unwrap()
        } else {
            http.put(&location)
                .bearer_auth("t")
                .body(msg.clone())
                .send()
                .await
                .unwrap()
        };
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert!(
            raw_of(&sb, "ada@example.com", v["id"].as_str().unwrap()).contains("hello in pieces")
        );
    }
    let r = http
        .post(format!(
            "{}/upload/gmail/v1/users/me/messages/send?uploadType=resumable",
            sb.base_url()
        ))
        .bearer_auth("t")
        .header("x-upload-content-length", (36 * 1024 * 1024).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn faults_delay_fail_drop_and_lose_responses() {
    let sb = start_unmetered();
    let http = reqwest::Client::new();
    let url = format!("{}{API}/profile", sb.base_url());

    sb.inject_fault(Fault::new("GET", "/profile", FaultKind::Status(503)).times(2));
    for _ in 0..2 {
        let r = http.get(&url).bearer_auth("t").send().await.unwrap();
        assert_eq!(r.status(), 503);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], 503);
    }
    assert_eq!(
        http.get(&url)
            .bearer_auth("t")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    sb.inject_fault(Fault::new(
        "*",
        "/profile",
        FaultKind::Delay(Duration::from_millis(300)),
    ));
    let t = Instant::now();
    assert_eq!(
        http.get(&url)
            .bearer_auth("t")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(300));

    sb.inject_fault(Fault::new("GET", "/profile", FaultKind::DropConnection));
    assert!(
        http.get(&url).bearer_auth("t").send().await.is_err(),
        "no answer"
    );

    // The send is performed, but the client never hears about it. (The message is counted by
    // its own Message-ID, so the client's is kept: behaviour.rs shows Gmail replacing it.)
    sb.set_behaviour(sandbox_gmail::Behaviour::kind());
    let msg = "To: grace@example.com\nSubject: once\nMessage-ID: <once-1@example.com>\n\nx\n";
    sb.inject_fault(Fault::new(
        "POST",
        "/messages/send",
        FaultKind::LoseResponse,
    ));
    let r = http
        .post(format!("{}{API}/messages/send", sb.base_url()))
        .bearer_auth("t")
        .json(&json!({"raw": b64(msg)}))
        .send()
        .await;
    assert!(r.is_err());
    let copies = |user: &str| {
        sb.mailbox(user)
            .unwrap()
            .messages
            .iter()
            .filter(|m| String::from_utf8_lossy(&m.raw).contains("<once-1@example.com>"))
            .count()
    };
    assert_eq!(
        (copies("ada@example.com"), copies("grace@example.com")),
        (1, 1)
    );
    let (_, found) = call(
        &sb,
        "t",
        "GET",
        &format!("{API}/messages?q=rfc822msgid:once-1@example.com in:sent"),
        None,
    )
    .await;
    assert_eq!(found["messages"].as_array().unwrap().len(), 1);
    assert_eq!(sb.stats().faults_triggered, 5);
}

#[tokio::test]
async fn latency_applies_to_every_answer() {
    let sb = start_unmetered();
    sb.set_latency(Some(Duration::from_millis(150)));
    let t = Instant::now();
    assert_eq!(
        call(&sb, "t", "GET", &format!("{API}/profile"), None)
            .await
            .0,
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(150));
}
