//! Malformed mail that mature decoders read without losing text (issue 26). Each expected
//! reading is CPython 3.11's `email` (`policy.default`, `get_body(('plain', 'html'))`) unless a
//! comment says why ours differs; every repair is reported in the warnings.

use connector_gmail::mime::{decode_mime, payload_to_mime, EmailAddress, MimeDecoded};
use serde_json::json;

fn warned(d: &MimeDecoded, words: &str) -> bool {
    d.warnings.iter().any(|w| w.contains(words))
}

fn addr(name: Option<&str>, email: &str) -> EmailAddress {
    EmailAddress {
        name: name.map(str::to_string),
        email: email.to_string(),
    }
}

#[test]
fn a_part_whose_body_follows_its_headers_without_a_blank_line_keeps_its_text() {
    let raw = b"Subject: p\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\nbar\n--b--\n";
    let d = decode_mime(raw);
    assert_eq!(d.text.as_deref(), Some("bar"), "{d:?}");
    assert!(
        warned(&d, "no blank line between its headers and its body"),
        "{:?}",
        d.warnings
    );
}

#[test]
fn each_part_without_a_blank_line_keeps_its_own_body() {
    let raw = b"Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\nbar\r\nbaz\r\n--b\r\nContent-Type: text/html\r\n<p>x</p>\r\n--b--\r\n";
    let d = decode_mime(raw);
    assert_eq!(d.text.as_deref(), Some("bar\r\nbaz"));
    assert_eq!(d.html.as_deref(), Some("<p>x</p>"));
    assert_eq!(d.warnings.len(), 2, "{:?}", d.warnings);
}

#[test]
fn a_part_with_no_headers_keeps_its_text() {
    let raw = b"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nbar\nbaz\n--b--\n";
    let d = decode_mime(raw);
    assert_eq!(d.text.as_deref(), Some("bar\nbaz"));
    assert!(warned(&d, "has no headers"), "{:?}", d.warnings);
}

#[test]
fn a_message_without_a_blank_line_after_its_headers_keeps_its_body() {
    let raw = b"Subject: s\nFrom: a@example.com\nthis is the body\nsecond line\n";
    let d = decode_mime(raw);
    assert_eq!(d.subject.as_deref(), Some("s"));
    assert_eq!(d.from_all, vec![addr(None, "a@example.com")]);
    assert_eq!(d.text.as_deref(), Some("this is the body\nsecond line\n"));
    assert!(
        warned(
            &d,
            "no blank line between its headers and its body; the body was read from line 3"
        ),
        "{:?}",
        d.warnings
    );
}

#[test]
fn a_multipart_whose_headers_run_into_the_first_boundary_is_read() {
    let raw = b"Subject: p\nContent-Type: multipart/mixed; boundary=\"b\"\n--b\nContent-Type: text/plain\n\nbar\n--b--\n";
    let d = decode_mime(raw);
    assert_eq!(d.text.as_deref(), Some("bar"));
    assert!(warned(&d, "no blank line"), "{:?}", d.warnings);
}

/// With no blank line, an indented first body line looks like a folded continuation of the
/// last header. CPython folds it into `From` and so loses it; we keep it as body text (the
/// header stays a clean address).
#[test]
fn a_first_body_line_that_looks_like_a_folded_header_stays_in_the_body() {
    let raw = b"Subject: s\r\nFrom: a@example.com\r\n  indented first line\r\nsecond line\r\n";
    let d = decode_mime(raw);
    assert_eq!(d.from_all, vec![addr(None, "a@example.com")]);
    assert_eq!(
        d.text.as_deref(),
        Some("  indented first line\r\nsecond line\r\n")
    );
    assert!(
        warned(&d, "(\"  indented first line\")"),
        "{:?}",
        d.warnings
    );
    // With the blank line present the indented line is plain body text, no repair.
    let ok =
        decode_mime(b"Subject: s\nFrom: a@example.com\n\n  indented first line\nsecond line\n");
    assert_eq!(
        ok.text.as_deref(),
        Some("  indented first line\nsecond line\n")
    );
    assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
}

#[test]
fn a_folded_line_before_any_header_is_reported() {
    // CPython: FirstHeaderLineIsContinuationDefect, the line is dropped, headers and body read.
    let d = decode_mime(b" Line 1\nSubject: test\n\nbody\n");
    assert_eq!(d.subject.as_deref(), Some("test"));
    assert_eq!(d.text.as_deref(), Some("body\n"));
    assert!(
        warned(&d, "belongs to no header (\" Line 1\")"),
        "{:?}",
        d.warnings
    );
}

#[test]
fn a_message_with_no_headers_is_all_body() {
    // CPython keeps the payload but get_body() finds nothing; the text is the message.
    let d = decode_mime(b"hello there\nsecond line\n");
    assert_eq!(d.text.as_deref(), Some("hello there\nsecond line\n"));
    assert!(warned(&d, "has no headers"), "{:?}", d.warnings);
}

#[test]
fn a_stray_line_inside_the_headers_is_skipped_not_taken_as_the_body() {
    // Real headers continue after the bad line up to the blank line.
    let raw = b"Received: by x\r\nquite Delivered-To: a@example.com\r\nSubject: real\r\nFrom: b@example.com\r\n\r\nbody\r\n";
    let d = decode_mime(raw);
    assert_eq!(d.subject.as_deref(), Some("real"));
    assert_eq!(d.text.as_deref(), Some("body\r\n"));
    assert!(
        warned(&d, "line 2 is inside the headers but is not a header"),
        "{:?}",
        d.warnings
    );
}

#[test]
fn two_inline_text_parts_with_file_names_give_the_first_as_text() {
    let raw = b"Subject: t\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\nContent-Disposition: inline; filename=\"a.txt\"\n\nfirst text\n--b\nContent-Type: text/plain\nContent-Disposition: inline; filename=\"b.txt\"\n\nsecond text\n--b--\n";
    let d = decode_mime(raw);
    assert_eq!(d.text.as_deref(), Some("first text"));
    let names: Vec<_> = d
        .attachments
        .iter()
        .map(|a| a.filename.as_deref())
        .collect();
    assert_eq!(names, vec![Some("b.txt")]);
}

/// Gmail's `format=full` holds every part with a file name behind an attachment id, text parts
/// included: the payload has no bytes for the body. The decoder must not return `""` as the
/// text; it names the attachment that holds the body (messages.get then fetches it).
#[test]
fn a_text_body_gmail_holds_as_an_attachment_is_not_returned_as_empty_text() {
    let payload = json!({
        "partId": "", "mimeType": "multipart/mixed", "filename": "",
        "headers": [{"name": "Subject", "value": "t"}],
        "body": {"size": 0},
        "parts": [
            {"partId": "0", "mimeType": "text/plain", "filename": "a.txt",
             "headers": [{"name": "Content-Type", "value": "text/plain"},
                         {"name": "Content-Disposition", "value": "inline; filename=\"a.txt\""}],
             "body": {"size": 10, "attachmentId": "ATT_A"}},
            {"partId": "1", "mimeType": "text/plain", "filename": "b.txt",
             "headers": [{"name": "Content-Type", "value": "text/plain"},
                         {"name": "Content-Disposition", "value": "inline; filename=\"b.txt\""}],
             "body": {"size": 11, "attachmentId": "ATT_B"}}
        ]
    });
    let mut warnings = Vec::new();
    let d = decode_mime(&payload_to_mime(&payload, &mut warnings));
    assert_eq!(d.text, None);
    assert_eq!(d.held_body.as_deref(), Some("ATT_A"));
    assert!(warned(&d, "ATT_A"), "{:?}", d.warnings);
    let ids: Vec<_> = d
        .attachments
        .iter()
        .map(|a| a.attachment_id.as_deref())
        .collect();
    assert_eq!(ids, vec![Some("ATT_A"), Some("ATT_B")]);

    // Once the bytes are put back, the first part is the text.
    let mut msg = json!({"id": "m", "payload": payload});
    assert_eq!(
        connector_gmail::message::held_body_attachment(&msg).as_deref(),
        Some("ATT_A")
    );
    assert!(connector_gmail::message::fill_held_body(
        &mut msg,
        "ATT_A",
        "Zmlyc3QgdGV4dA"
    ));
    let out =
        connector_gmail::message::decode_message(&msg, connector_gmail::message::Format::Full);
    assert_eq!(out["text"], "first text");
    assert_eq!(connector_gmail::message::held_body_attachment(&msg), None);
}

#[test]
fn a_null_sender_keeps_its_name_and_has_the_empty_address() {
    // CPython: display name 'MAILER DAEMON', addr_spec '<>' (username and domain empty).
    let d = decode_mime(b"From: MAILER DAEMON <>\nSubject: x\n\nbody\n");
    assert_eq!(d.from, Some(addr(Some("MAILER DAEMON"), "")));
    let d = decode_mime(b"From: \"Mail Delivery System\" <>\nSubject: x\n\nbody\n");
    assert_eq!(d.from, Some(addr(Some("Mail Delivery System"), "")));
    let d = decode_mime(b"From: <>\nSubject: x\n\nbody\n");
    assert_eq!(d.from, Some(addr(None, "")));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    // A bare word is still kept as what the sender wrote.
    let d = decode_mime(b"From: foo\n\nbody\n");
    assert_eq!(d.from, Some(addr(None, "foo")));
}

/// CPython reads `a@x b@x` as the one address `a@x` (InvalidHeaderDefect) and drops `b@x`; we
/// keep both as separate addresses and say so.
#[test]
fn addresses_separated_by_spaces_are_separate_addresses() {
    let d = decode_mime(b"From: a@x b@x\nTo: c@x.org d@x.org, e@x.org\n\nbody\n");
    assert_eq!(d.from_all, vec![addr(None, "a@x"), addr(None, "b@x")]);
    assert_eq!(
        d.to,
        vec![
            addr(None, "c@x.org"),
            addr(None, "d@x.org"),
            addr(None, "e@x.org")
        ]
    );
    assert!(
        warned(&d, "the From header has addresses separated by spaces"),
        "{:?}",
        d.warnings
    );
    assert!(d
        .from_all
        .iter()
        .chain(&d.to)
        .all(|a| !a.email.contains(' ')));
    // An unquoted name before a bare address.
    let d = decode_mime(b"From: Ann a@x.org\n\nbody\n");
    assert_eq!(d.from, Some(addr(Some("Ann"), "a@x.org")));
}

#[test]
fn folded_subjects_keep_the_whitespace_after_the_line_break() {
    // CPython: 'foo\tbar baz  qux' (RFC 5322 2.2.3: unfolding removes only the CRLF).
    let d =
        decode_mime(b"Subject: foo\r\n\tbar baz\r\n  qux\r\nX-Note: one\r\n\ttwo\r\n\r\nbody\r\n");
    assert_eq!(d.subject.as_deref(), Some("foo\tbar baz  qux"));
    let note = d.headers.iter().find(|h| h.name == "X-Note").unwrap();
    assert_eq!(note.value, "one\ttwo");
    // Encoded words split over lines still join (the space between them is not text).
    let d = decode_mime(b"Subject: =?utf-8?q?caf?=\r\n =?utf-8?q?=C3=A9?=\r\n\r\nb\r\n");
    assert_eq!(d.subject.as_deref(), Some("caf\u{e9}"));
}

/// Found by fuzzing (tests/integration/fuzz.rs): a folded `Content-Type` whose `boundary` parameter is on
/// the continuation line, with the headers running into the first delimiter. The folded line
/// is the header's parameter, not body text.
#[test]
fn a_folded_content_type_running_into_its_first_boundary_keeps_its_boundary() {
    let raw = b"From: Ada Lovelace\n\t<ada@example.com>\nSubject: a\nMIME-Version: 1.0\nContent-Type: multipart/mixed;\n\tboundary=\"b1z0\"\n--b1z0\nContent-Type: text/plain\n\na\n--b1z0--\n";
    let d = decode_mime(raw);
    assert_eq!(d.text.as_deref(), Some("a"));
    assert_eq!(d.from, Some(addr(Some("Ada Lovelace"), "ada@example.com")));
    assert!(
        warned(&d, "the body was read from line 7 (\"--b1z0\")"),
        "{:?}",
        d.warnings
    );
}
