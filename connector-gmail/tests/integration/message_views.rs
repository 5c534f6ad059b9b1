//! Issue 27: messages.get's answer is read typed and borrowed from its bytes
//! (`mime::view::WireMessage`) instead of as a `serde_json::Value`. The record must not change:
//! for every message of the MIME corpus (rendered by the Gmail emulator in each format) and for
//! arbitrary message JSON, the record decoded from the typed reading equals the one decoded
//! from the `Value` (the rebuilt multipart boundary's random nonce aside), and JSON the typed
//! reading refuses is read as a `Value`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use connector_gmail::message::{decode_message, fill_held_body, fill_held_body_wire, Format};
use connector_gmail::mime::view::{parse_message, ParsedMessage};
use proptest::prelude::*;
use serde_json::{json, Value};

/// The record as text with each rebuilt boundary's nonce (`gcon.N.<32 hex>`) blanked.
fn normalized(record: &Value) -> String {
    let text = record.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("gcon.") {
        out.push_str(&rest[..at + 5]);
        rest = &rest[at + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..digits]);
        rest = &rest[digits..];
        if let Some(tail) = rest.strip_prefix('.') {
            let hex = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
            out.push_str(".NONCE");
            rest = &tail[hex..];
        }
    }
    out.push_str(rest);
    out
}

/// Both records of `msg` in `format`, and whether the typed reading took it.
fn both(msg: &Value, format: Format) -> (String, String, bool) {
    let bytes = serde_json::to_vec(msg).unwrap();
    let parsed = parse_message(&bytes).expect("JSON");
    let (record, typed) = match &parsed {
        ParsedMessage::Wire(m) => (decode_message(m, format), true),
        ParsedMessage::Json(v) => (decode_message(v, format), false),
    };
    (
        normalized(&record),
        normalized(&decode_message(msg, format)),
        typed,
    )
}

fn message(payload: Value) -> Value {
    json!({
        "id": "m1", "threadId": "t1", "labelIds": ["INBOX", "UNREAD"],
        "snippet": "it&#39;s &lt;here&gt;", "historyId": "4242",
        "internalDate": "1700000000000", "sizeEstimate": 1234, "payload": payload,
    })
}

#[test]
fn every_corpus_message_gives_the_same_record_read_typed() {
    let corpus = crate::payload_direct::corpus();
    assert_eq!(corpus.len(), 88);
    for (name, raw) in &corpus {
        let msg = message(sandbox_gmail::render_full_payload("m1", raw));
        for format in [Format::Full, Format::Metadata, Format::Minimal] {
            let (typed, value, took) = both(&msg, format);
            assert!(
                took,
                "{name}: the typed reading refused the emulator's JSON"
            );
            assert_eq!(typed, value, "{name} {format:?}");
        }
        let mut with_raw = message(Value::Null);
        with_raw["raw"] = json!(URL_SAFE_NO_PAD.encode(raw));
        let (typed, value, took) = both(&with_raw, Format::Raw);
        assert!(took, "{name}: raw");
        assert_eq!(typed, value, "{name} raw");
    }
}

#[test]
fn fields_of_other_types_read_as_the_value_reads_them() {
    for msg in [
        json!({"id": "m", "labelIds": null, "internalDate": 1700000000000_i64, "sizeEstimate": 3}),
        json!({"id": "m", "internalDate": 1.5, "snippet": null, "historyId": null}),
        json!({"id": "m", "internalDate": "soon", "labelIds": "INBOX"}),
        json!({"id": 7, "sizeEstimate": 1.5, "payload": {"mimeType": "text/plain"}}),
        json!({"id": "m", "payload": "not an object"}),
        // serde's derived structs take an array of their fields; the Value reading takes no
        // payload (found by the proptest below).
        json!({"id": "m", "payload": []}),
        json!([]),
        json!({"id": "m", "payload": {"mimeType": "multipart/mixed", "parts": [[], {"body": []}]}}),
        json!({"id": "m", "payload": {"parts": "none", "body": {"size": -1, "data": "aGk"}}}),
        json!({"id": "m", "payload": {"headers": [{"name": 1, "value": "x"}, 3]}}),
        json!({"id": "m", "payload": {"mimeType": "text/plain", "body": {"data": "aGk", "size": 2}, "headers": [{"name": "Subject", "value": "S"}]}}),
    ] {
        for format in [Format::Full, Format::Metadata, Format::Minimal] {
            let (typed, value, _) = both(&msg, format);
            assert_eq!(typed, value, "{msg} {format:?}");
        }
    }
    // Gmail's own types are read typed; `null` labelIds is kept as `null`, as the Value keeps it.
    let (typed, _, took) = both(
        &json!({"id": "m", "labelIds": null, "internalDate": 1700000000000_i64}),
        Format::Minimal,
    );
    assert!(took);
    assert!(typed.contains(r#""label_ids":null"#), "{typed}");
    assert!(
        typed.contains(r#""internal_date":"2023-11-14T22:13:20Z""#),
        "{typed}"
    );
    let (_, _, took) = both(&json!({"id": 7}), Format::Minimal);
    assert!(!took, "a number id is not Gmail's: read as a Value");
}

#[test]
fn a_held_text_body_is_put_back_in_the_typed_reading_as_in_the_value() {
    let msg = message(json!({
        "mimeType": "multipart/mixed",
        "headers": [{"name": "Content-Type", "value": "multipart/mixed; boundary=x"}],
        "parts": [{
            "partId": "0", "mimeType": "text/plain", "filename": "body.txt",
            "headers": [{"name": "Content-Type", "value": "text/plain; name=body.txt"},
                        {"name": "Content-Transfer-Encoding", "value": "base64"}],
            "body": {"attachmentId": "ATT1", "size": 5},
        }],
    }));
    let mut value = msg.clone();
    assert!(fill_held_body(&mut value, "ATT1", "aGVsbG8"));
    let bytes = serde_json::to_vec(&msg).unwrap();
    let ParsedMessage::Wire(mut wire) = parse_message(&bytes).unwrap() else {
        panic!("Gmail's JSON is read typed")
    };
    assert_eq!(
        connector_gmail::message::held_body_attachment(&wire).as_deref(),
        Some("ATT1")
    );
    assert!(fill_held_body_wire(&mut wire, "ATT1", "aGVsbG8"));
    assert!(!fill_held_body_wire(&mut wire, "ATT1", "aGVsbG8"));
    let typed = decode_message(&wire, Format::Full);
    assert_eq!(
        normalized(&typed),
        normalized(&decode_message(&value, Format::Full))
    );
    assert!(typed["text"].as_str().unwrap().contains("hello"), "{typed}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]
    #[test]
    fn any_message_json_gives_the_same_record_either_way(
        payload in crate::decode_never_panics::json_tree(),
        label_ids in crate::decode_never_panics::json_tree(),
        internal_date in prop_oneof![
            Just(json!("1700000000000")), Just(json!(1700000000000_i64)), Just(json!(-5)),
            Just(json!(1.5)), Just(json!("x")), Just(Value::Null), Just(json!(u64::MAX)),
        ],
    ) {
        let msg = json!({"id": "m", "threadId": "t", "labelIds": label_ids,
                         "internalDate": internal_date, "payload": payload});
        for format in [Format::Full, Format::Metadata] {
            let (typed, value, _) = both(&msg, format);
            prop_assert_eq!(typed, value);
        }
    }
}
