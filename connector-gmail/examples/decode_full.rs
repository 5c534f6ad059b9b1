//! Decodes one typical `format=full` `messages.get` response N times (issue 27): the harness for
//! instruction counts. Per call = (count at N) - (count at 0), divided by N:
//!
//! `valgrind --tool=callgrind target/release/examples/decode_full 1000`

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use serde_json::{json, Value};

fn b64(s: &str) -> String {
    URL_SAFE.encode(s.as_bytes())
}

/// multipart/mixed { multipart/alternative { text/plain, text/html }, application/pdf held
/// behind an attachment id }, with the headers of an ordinary Gmail message.
fn message() -> Value {
    let text = "Hi Grace,\r\n\r\nthe analytical engine weaves algebraic patterns just as the Jacquard loom weaves flowers and leaves.\r\nNotes attached; see you Thursday.\r\n\r\nAda\r\n".repeat(3);
    let html = format!(
        "<html><head><style>p {{ margin: 0 }}</style></head><body><div dir=\"ltr\"><p>Hi Grace,</p><p>{}</p><!-- signature --><p>Ada</p><div style=\"display:none\">preheader</div></div></body></html>",
        "the analytical engine weaves <b>algebraic patterns</b> just as the Jacquard loom weaves flowers and leaves. ".repeat(3)
    );
    let h = |n: &str, v: &str| json!({"name": n, "value": v});
    json!({
        "id": "18c2f0a1b2c3d4e5", "threadId": "18c2f0a1b2c3d4e5", "labelIds": ["INBOX", "UNREAD"],
        "snippet": "Hi Grace, the analytical engine weaves algebraic patterns", "historyId": "12345",
        "internalDate": "1764000000000", "sizeEstimate": 23456,
        "payload": {
            "partId": "", "mimeType": "multipart/mixed", "filename": "",
            "headers": [
                h("Delivered-To", "grace@example.com"),
                h("Received", "by 2002:a05:6a10:1234 with SMTP id abc; Tue, 24 Nov 2026 00:00:00 -0800 (PST)"),
                h("MIME-Version", "1.0"),
                h("Date", "Tue, 24 Nov 2026 08:00:00 +0000"),
                h("Message-ID", "<CAF=abc123@mail.gmail.com>"),
                h("Subject", "Notes on the engine"),
                h("From", "Ada Lovelace <ada@example.com>"),
                h("To", "Grace Hopper <grace@example.com>"),
                h("Cc", "Charles Babbage <charles@example.com>"),
                h("Content-Type", "multipart/mixed; boundary=\"000000000000abcdef\"")
            ],
            "body": {"size": 0},
            "parts": [
                {"partId": "0", "mimeType": "multipart/alternative", "filename": "",
                 "headers": [h("Content-Type", "multipart/alternative; boundary=\"000000000000fedcba\"")],
                 "body": {"size": 0},
                 "parts": [
                    {"partId": "0.0", "mimeType": "text/plain", "filename": "",
                     "headers": [h("Content-Type", "text/plain; charset=\"UTF-8\""),
                                 h("Content-Transfer-Encoding", "quoted-printable")],
                     "body": {"size": text.len(), "data": b64(&text)}},
                    {"partId": "0.1", "mimeType": "text/html", "filename": "",
                     "headers": [h("Content-Type", "text/html; charset=\"UTF-8\""),
                                 h("Content-Transfer-Encoding", "quoted-printable")],
                     "body": {"size": html.len(), "data": b64(&html)}}
                 ]},
                {"partId": "1", "mimeType": "application/pdf", "filename": "notes.pdf",
                 "headers": [h("Content-Type", "application/pdf; name=\"notes.pdf\""),
                             h("Content-Disposition", "attachment; filename=\"notes.pdf\""),
                             h("Content-Transfer-Encoding", "base64"),
                             h("X-Attachment-Id", "f_abc123")],
                 "body": {"size": 18432, "attachmentId": "ANGjdJ_abc123"}}
            ]
        }
    })
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let msg = message();
    let mut total = 0usize;
    for _ in 0..n {
        let d = connector_gmail::message::decode_message(
            std::hint::black_box(&msg),
            connector_gmail::message::Format::Full,
        );
        total += d.as_object().map_or(0, |o| o.len());
    }
    println!("{n} decodes, {total} fields");
}
