//! Reading Graph's `$batch` answer (<https://learn.microsoft.com/graph/json-batching>): each
//! entry of `responses` names the request it answers by `id` (ours are the indexes of the
//! message ids asked for), with its own `status`, `headers` and `body`.
//!
//! Kept apart from the action so that it can be fuzzed (tests/integration/fuzz.rs): whatever JSON Graph
//! (or a proxy) sends, reading it never panics and each answer lands on its own request.

use std::time::Duration;

use connector_core::ErrorCode;
use serde_json::{json, Value};

use crate::{shape, wire};

/// What one answered request came to.
#[derive(Debug, Clone, PartialEq)]
pub enum PartOutcome {
    /// The message record, or `{id, error}` for a failed request.
    Done(Value),
    /// Throttled (429 / 503): send it again after this wait.
    Throttled(Duration),
}

/// The outcomes in a `$batch` answer `v` for the requests of `ids` (entry `id` = index into
/// `ids`). Entries that name no request of ours are skipped. Throttled requests are reported as
/// such when `retry_throttled`, else as errors.
pub fn read_answer(v: &Value, ids: &[&str], retry_throttled: bool) -> Vec<(usize, PartOutcome)> {
    let mut out = Vec::new();
    for part in v
        .get("responses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(i) = part
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|i| *i < ids.len())
        else {
            continue;
        };
        let status = part.get("status").and_then(Value::as_u64).unwrap_or(0);
        let outcome = if (status == 429 || status == 503) && retry_throttled {
            PartOutcome::Throttled(retry_after(part).unwrap_or(Duration::from_secs(1)))
        } else if (200..300).contains(&status) {
            match part.get("body").filter(|b| b.is_object()) {
                Some(body) => PartOutcome::Done(shape::message(body)),
                // Found by fuzzing: a success without a message body shaped to `null`, which
                // lost the id the caller asked for.
                None => PartOutcome::Done(no_message(ids[i], status)),
            }
        } else {
            PartOutcome::Done(part_error(ids[i], part))
        };
        out.push((i, outcome));
    }
    out
}

/// The entry's `Retry-After` header in seconds (header names are case-insensitive).
fn retry_after(part: &Value) -> Option<Duration> {
    part.get("headers")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))?
        .1
        .as_str()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn no_message(id: &str, status: u64) -> Value {
    json!({"id": id, "error": {
        "code": ErrorCode::ProviderError.as_str(),
        "message": "Graph's $batch answered this request without the message; get it again",
        "provider_status": status,
        "provider_code": "",
    }})
}

fn part_error(id: &str, part: &Value) -> Value {
    let status = part.get("status").and_then(Value::as_u64).unwrap_or(0);
    let message = part
        .pointer("/body/error/message")
        .and_then(Value::as_str)
        .unwrap_or("the request failed");
    let provider = part
        .pointer("/body/error/code")
        .and_then(Value::as_str)
        .unwrap_or("");
    json!({"id": id, "error": {
        "code": wire::code_for_status(status).as_str(),
        "message": message,
        "provider_status": status,
        "provider_code": provider,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_land_on_their_requests_and_throttling_is_reported() {
        let v = json!({"responses": [
            {"id": "1", "status": 404, "body": {"error": {"code": "ErrorItemNotFound", "message": "gone"}}},
            {"id": "0", "status": 200, "body": {"id": "AAMk0", "subject": "hi"}},
            {"id": "2", "status": 429, "headers": {"retry-after": "7"}},
            {"id": "9", "status": 200, "body": {"id": "other"}},
        ]});
        let out = read_answer(&v, &["a", "b", "c"], true);
        assert_eq!(out.len(), 3);
        assert!(
            matches!(&out[0], (1, PartOutcome::Done(r)) if r["error"]["code"] == "not_found" && r["id"] == "b")
        );
        assert!(matches!(&out[1], (0, PartOutcome::Done(r)) if r["subject"] == "hi"));
        assert_eq!(out[2], (2, PartOutcome::Throttled(Duration::from_secs(7))));
        // Out of retries, a throttled request is an error for its id.
        let out = read_answer(&v, &["a", "b", "c"], false);
        assert!(
            matches!(&out[2], (2, PartOutcome::Done(r)) if r["error"]["code"] == "rate_limited")
        );
    }

    /// Fuzzing regression (tests/integration/fuzz.rs): a 2xx entry with no body (or a body that is not a
    /// message object) gave the record `null`, losing which id it was.
    #[test]
    fn a_success_without_a_message_is_an_error_for_its_id() {
        for body in [Value::Null, json!("text"), json!([1])] {
            let v = json!({"responses": [{"id": "0", "status": 200, "body": body}]});
            let out = read_answer(&v, &["AAMk0"], false);
            let [(0, PartOutcome::Done(r))] = out.as_slice() else {
                panic!("{out:?}")
            };
            assert_eq!(r["id"], "AAMk0");
            assert_eq!(r["error"]["code"], "provider_error");
        }
        let v = json!({"responses": [{"id": "0", "status": 200}]});
        assert!(
            matches!(&read_answer(&v, &["x"], true)[0], (0, PartOutcome::Done(r)) if r["id"] == "x")
        );
    }
}
