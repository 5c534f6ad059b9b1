//! Property tests: no input makes the decoders fail or panic (they report warnings instead).

use connector_gmail::message::{decode_message, summary, Format};
use connector_gmail::mime::{decode_mime, payload_to_mime};
use proptest::prelude::*;
use serde_json::{json, Value};

/// MIME-looking text: header lines, boundaries, encodings and garbage mixed.
fn mimeish() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::collection::vec(
        prop_oneof![
            Just(b"Content-Type: multipart/mixed; boundary=\"b\"\r\n".to_vec()),
            Just(b"Content-Type: text/plain; charset=iso-2022-jp\r\n".to_vec()),
            Just(b"Content-Type: text/html; charset=x-unknown\r\n".to_vec()),
            Just(b"Content-Type: message/rfc822\r\n".to_vec()),
            Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
            Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
            Just(b"Subject: =?utf-8?B?w6k=?= =?iso-8859-1?Q?=E9?=\r\n".to_vec()),
            Just(b"From: \"A, B\" <a@b.c>, broken <\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"--b\r\n".to_vec()),
            Just(b"--b--\r\n".to_vec()),
            prop::collection::vec(any::<u8>(), 0..40),
        ],
        0..30,
    );
    pieces.prop_map(|p| p.concat())
}

pub(crate) fn json_tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9_=/+:;. -]{0,20}".prop_map(Value::from),
        Just(json!("multipart/mixed")),
        Just(json!("message/rfc822")),
        Just(json!({"name": "Content-Type", "value": "text/plain; charset=utf-8"})),
        Just(json!({"size": 3, "data": "aGk"})),
        Just(json!({"size": 9, "attachmentId": "A1"})),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("mimeType".to_string()),
                    Just("headers".to_string()),
                    Just("parts".to_string()),
                    Just("body".to_string()),
                    Just("partId".to_string()),
                    Just("filename".to_string()),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_bytes_decode_without_panicking(raw in mimeish()) {
        let d = decode_mime(&raw);
        // Whatever was decoded is valid text.
        if let Some(t) = &d.text {
            prop_assert!(std::str::from_utf8(t.as_bytes()).is_ok());
        }
    }

    #[test]
    fn any_payload_tree_decodes_without_panicking(payload in json_tree()) {
        let mut warnings = Vec::new();
        let raw = payload_to_mime(&payload, &mut warnings);
        let _ = decode_mime(&raw);
        let msg = json!({"id": "m", "threadId": "t", "payload": payload});
        let _ = decode_message(&msg, Format::Full);
        let _ = decode_message(&msg, Format::Metadata);
        let _ = summary(&msg);
    }

    #[test]
    fn any_batch_answer_parses_without_panicking(body in mimeish(), n in 0usize..5) {
        let parts = connector_gmail::batch::parse("multipart/mixed; boundary=b", &body, n);
        prop_assert_eq!(parts.len(), n);
    }
}
