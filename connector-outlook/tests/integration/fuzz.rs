//! Structure-aware fuzzing of the Graph `$batch` answer reader with proptest (cargo-fuzz needs
//! a nightly compiler; this runs on stable, in CI, as an ordinary test). See docs/fuzzing.md.
//!
//! Answers are generated the way Graph writes them (entries in any order, ids as strings,
//! statuses, case-varying `Retry-After` headers, message or error bodies) and damaged (ids that
//! name no request, non-string ids, missing fields, arbitrary JSON). Reading never panics, and
//! each entry that names one of our requests lands on that request with its own outcome.
//!
//! `PROPTEST_CASES=20000 cargo test -p connector-outlook --test integration fuzz:: --release` runs longer.

use std::time::Duration;

use connector_outlook::batch::{read_answer, PartOutcome};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Map, Value};

/// `PROPTEST_CASES` when set, else `default` (the CI run).
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        // Properties that only apply to some inputs skip the others (`prop_assume!`).
        max_global_rejects: cases.saturating_mul(2).max(1024),
        // A failing input is saved next to this file (`*.proptest-regressions`, committed) and
        // replayed first on every run.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-zA-Z]{1,12}",
                    Just("from".to_string()),
                    Just("body".to_string()),
                    Just("toRecipients".to_string()),
                    Just("emailAddress".to_string()),
                    Just("receivedDateTime".to_string()),
                    Just("attachments".to_string()),
                    Just("internetMessageHeaders".to_string()),
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A Graph message body as `$batch` returns it, partly random.
fn message_body() -> impl Strategy<Value = Value> {
    (
        "[A-Za-z0-9=_-]{1,20}",
        "\\PC{0,20}",
        prop_oneof![
            Just(json!({"emailAddress": {"name": "Ada", "address": "ada@example.com"}})),
            Just(json!({"emailAddress": {}})),
            Just(Value::Null),
            arb_json(),
        ],
        prop_oneof![
            Just(json!({"contentType": "html", "content": "<p>Hi &amp; bye</p>"})),
            Just(json!({"contentType": "text", "content": "plain"})),
            arb_json(),
        ],
        prop_oneof![
            Just(json!("2024-09-01T10:00:00Z")),
            Just(json!("not a date")),
            arb_json()
        ],
        arb_json(),
    )
        .prop_map(|(id, subject, from, body, date, extra)| {
            json!({"id": id, "subject": subject, "from": from, "body": body,
                   "receivedDateTime": date, "toRecipients": [from.clone(), extra]})
        })
}

#[derive(Debug, Clone)]
struct Entry {
    /// The request index this entry answers, when its id names one.
    target: Option<usize>,
    id: Value,
    status: u64,
    retry_after: Option<(String, String)>,
    body: Value,
}

fn entry(n: usize) -> impl Strategy<Value = Entry> {
    let id = prop_oneof![
        6 => (0..n.max(1)).prop_map(|i| (Some(i), json!(i.to_string()))),
        1 => (n..n + 5).prop_map(|i| (None, json!(i.to_string()))),
        1 => (0..n.max(1)).prop_map(|i| (None, json!(i))),
        1 => "[a-z-]{0,6}".prop_map(|s| (None, json!(s))),
        1 => Just((None, Value::Null)),
    ];
    (
        id,
        prop_oneof![
            Just(200u64),
            Just(201),
            Just(404),
            Just(429),
            Just(503),
            Just(500),
            0u64..700
        ],
        prop::option::of((
            prop_oneof![
                Just("Retry-After"),
                Just("retry-after"),
                Just("RETRY-AFTER")
            ],
            prop_oneof!["[0-9]{1,3}", "\\PC{0,5}"],
        )),
        prop_oneof![
            3 => message_body(),
            1 => Just(json!({"error": {"code": "ErrorItemNotFound", "message": "gone"}})),
            1 => arb_json(),
        ],
    )
        .prop_map(move |((target, id), status, retry_after, body)| Entry {
            target: target.filter(|i| *i < n),
            id,
            status,
            retry_after: retry_after.map(|(k, v)| (k.to_string(), v)),
            body,
        })
}

fn answer_json(entries: &[Entry]) -> Value {
    let responses: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut headers = json!({"Content-Type": "application/json"});
            if let Some((k, v)) = &e.retry_after {
                headers[k] = json!(v);
            }
            json!({"id": e.id, "status": e.status, "headers": headers, "body": e.body})
        })
        .collect();
    json!({ "responses": responses })
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn each_entry_lands_on_its_own_request(
        (n, entries) in (1usize..21).prop_flat_map(|n| (Just(n), prop::collection::vec(entry(n), 0..25))),
        retry in any::<bool>(),
    ) {
        let ids: Vec<String> = (0..n).map(|i| format!("AAMk{i}")).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let outcomes = read_answer(&answer_json(&entries), &id_refs, retry);
        let ours: Vec<&Entry> = entries.iter().filter(|e| e.target.is_some()).collect();
        prop_assert_eq!(outcomes.len(), ours.len());
        for ((index, outcome), e) in outcomes.iter().zip(ours) {
            prop_assert_eq!(Some(*index), e.target);
            let throttled = e.status == 429 || e.status == 503;
            match outcome {
                PartOutcome::Throttled(wait) => {
                    prop_assert!(retry && throttled);
                    let header = e.retry_after.as_ref().and_then(|(_, v)| v.trim().parse::<u64>().ok());
                    prop_assert_eq!(*wait, Duration::from_secs(header.unwrap_or(1)));
                }
                PartOutcome::Done(record) if (200..300).contains(&e.status) && e.body.is_object() => {
                    prop_assert!(record.is_object());
                    prop_assert!(record.get("error").is_none());
                    prop_assert_eq!(&record["id"], e.body.get("id").unwrap_or(&Value::Null));
                }
                // An error (or a success without a message): always for its own id.
                PartOutcome::Done(record) => {
                    prop_assert!(!(retry && throttled));
                    prop_assert_eq!(&record["id"], &json!(ids[*index]));
                    prop_assert_eq!(&record["error"]["provider_status"], &json!(e.status));
                    prop_assert!(record["error"]["message"].is_string());
                    prop_assert!(record["error"]["code"].is_string());
                }
            }
        }
    }

    #[test]
    fn any_json_answer_reads_without_panicking(v in arb_json(), responses in prop::collection::vec(arb_json(), 0..6)) {
        let ids = ["a", "b", "c"];
        let _ = read_answer(&v, &ids, true);
        let outcomes = read_answer(&json!({"responses": responses}), &ids, false);
        prop_assert!(outcomes.iter().all(|(i, _)| *i < ids.len()));
    }
}
