//! A plain `tools/call` answered without rmcp's per-request service (issue 27).
//!
//! rmcp serves each stateless POST by reading the message through its untagged, flattened
//! serde model, running the handler in a one-shot service task of its own, and serializing
//! the answer, whose tool result holds the result's JSON twice: as `structuredContent` and as
//! an escaped string in the text block. For a `messages.get` that was about 120,000
//! instructions of a call's 550,000, on top of the execute (docs/benchmarks.md).
//!
//! A [`PlainCall`] is a `tools/call` that rmcp would take down its plainest path: a single
//! request with only `name` and `arguments`, no `_meta`, JSON in and both media types
//! accepted, a protocol version before 2026-07-28 (or none), no other `Mcp-*` header. It is
//! read into a typed struct, runs the handler's own function ([`handler::call_tool`]), gets
//! the result rmcp's handler gives a peer on such a version, and is answered with the bytes
//! rmcp would send for it. Anything else, or anything the reading here does not accept,
//! goes to rmcp unchanged, and is decided before anything runs.

use bytes::Bytes;
use rmcp::model::{
    ContentBlock, NumberOrString, ProtocolVersion, ServerJsonRpcMessage, ServerResult,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Answer;
use crate::{handler, Session};

/// A body larger than this goes to rmcp (its own limit, 4 MiB, answers it).
const MAX_BODY: usize = 1 << 20;

/// `tools/call` as [`PlainCall`] reads it: these fields and no others.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    jsonrpc: String,
    id: NumberOrString,
    method: String,
    params: Params,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    name: String,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
}

/// A `tools/call` that can be answered here (see the module's documentation).
pub(crate) struct PlainCall {
    id: NumberOrString,
    name: String,
    arguments: Option<Map<String, Value>>,
}

impl PlainCall {
    /// The call, when the request is one; `None` sends it to rmcp.
    pub(crate) fn read(headers: &[(String, Vec<u8>)], body: &[u8]) -> Option<PlainCall> {
        if body.len() > MAX_BODY || !plain_headers(headers) {
            return None;
        }
        let m: Message = serde_json::from_slice(body).ok()?;
        if m.jsonrpc != "2.0" || m.method != "tools/call" {
            return None;
        }
        Some(PlainCall {
            id: m.id,
            name: m.params.name,
            arguments: m.params.arguments,
        })
    }

    /// Runs the call and answers it as rmcp would.
    pub(crate) async fn answer(self, session: &dyn Session) -> Answer {
        let message = match handler::call_tool(session, &self.name, self.arguments, None).await {
            Ok(result) => {
                let mut result = ServerResult::CallToolResult(result);
                // What rmcp's handler does to a result for a peer before 2026-07-28.
                result.strip_result_type_for_legacy_peer();
                result.strip_non_object_output_for_legacy_peer();
                if let Some(body) = text_result(&self.id, &result) {
                    return json_answer(body);
                }
                ServerJsonRpcMessage::response(result, self.id)
            }
            Err(e) => ServerJsonRpcMessage::error(e, Some(self.id)),
        };
        match serde_json::to_vec(&message) {
            Ok(body) => json_answer(body),
            Err(e) => Answer {
                status: 500,
                headers: Vec::new(),
                body: once(Bytes::from(format!("serialize json response: {e}"))),
            },
        }
    }
}

/// Whether the headers are those of rmcp's plainest stateless POST: `Accept` names both
/// media types (each without parameters), `Content-Type` is JSON, the protocol version (if
/// given) is one before 2026-07-28, and no other `Mcp-*` header is present.
fn plain_headers(headers: &[(String, Vec<u8>)]) -> bool {
    let (mut json, mut sse, mut content_types, mut versions) = (false, false, 0, 0);
    for (name, value) in headers {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("accept") {
            let Ok(value) = std::str::from_utf8(value) else {
                return false;
            };
            for item in value.split(',').map(str::trim) {
                if item.contains([';', '"']) {
                    return false;
                }
                json |= item.eq_ignore_ascii_case("application/json");
                sse |= item.eq_ignore_ascii_case("text/event-stream");
            }
        } else if is("content-type") {
            let Ok(value) = std::str::from_utf8(value) else {
                return false;
            };
            let essence = value.split_once(';').map_or(value, |(e, _)| e);
            if !essence.trim().eq_ignore_ascii_case("application/json") {
                return false;
            }
            content_types += 1;
        } else if is("mcp-protocol-version") {
            let legacy = [
                ProtocolVersion::V_2024_11_05,
                ProtocolVersion::V_2025_03_26,
                ProtocolVersion::V_2025_06_18,
                ProtocolVersion::V_2025_11_25,
            ];
            if !legacy
                .iter()
                .any(|v| v.as_str().as_bytes() == value.as_slice())
            {
                return false;
            }
            versions += 1;
        } else if name.len() >= 4 && name[..4].eq_ignore_ascii_case("mcp-") {
            return false;
        }
    }
    json && sse && content_types == 1 && versions <= 1
}

/// The answer's bytes when the result is one text block holding `structuredContent`'s JSON
/// (every successful action result, see `handler::tool_result`): the JSON is in hand as that
/// text, so `structuredContent` is copied from it instead of serialized from the `Value`, and
/// the text is escaped once. The bytes are those of `serde_json::to_vec` of rmcp's message.
fn text_result(id: &NumberOrString, result: &ServerResult) -> Option<Vec<u8>> {
    let ServerResult::CallToolResult(r) = result else {
        return None;
    };
    if r.result_type.is_some() || r.meta.is_some() || r.is_error != Some(false) {
        return None;
    }
    let Some(structured @ Value::Object(_)) = &r.structured_content else {
        return None;
    };
    let [ContentBlock::Text(t)] = r.content.as_slice() else {
        return None;
    };
    if t.meta.is_some() || t.annotations.is_some() {
        return None;
    }
    let text = t.text.as_str();
    debug_assert_eq!(
        serde_json::to_string(structured).ok().as_deref(),
        Some(text),
        "a text block next to structuredContent is that content's JSON"
    );
    let mut out = Vec::with_capacity(2 * text.len() + 128);
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    serde_json::to_writer(&mut out, id).ok()?;
    out.extend_from_slice(br#","result":{"content":[{"type":"text","text":"#);
    write_json_string(&mut out, text);
    out.extend_from_slice(br#"}],"structuredContent":"#);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(br#","isError":false}}"#);
    Some(out)
}

/// `s` as a JSON string, as `serde_json` writes it. Text without control characters (all JSON
/// that `serde_json` writes compactly) needs only `"` and `\` escaped: those are found with
/// `memchr` instead of a table look-up per byte.
fn write_json_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let control = bytes
        .chunks(64)
        .any(|c| c.iter().fold(false, |acc, &b| acc | (b < 0x20)));
    if control {
        serde_json::to_writer(out, s).expect("a string serializes into a Vec");
        return;
    }
    out.push(b'"');
    let mut start = 0;
    for at in memchr::memchr2_iter(b'"', b'\\', bytes) {
        out.extend_from_slice(&bytes[start..at]);
        out.push(b'\\');
        out.push(bytes[at]);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn json_answer(body: Vec<u8>) -> Answer {
    Answer {
        status: 200,
        headers: vec![("content-type".into(), b"application/json".to_vec())],
        body: once(Bytes::from(body)),
    }
}

fn once(b: Bytes) -> std::pin::Pin<Box<dyn futures::Stream<Item = Bytes> + Send>> {
    Box::pin(futures::stream::once(std::future::ready(b)))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use async_trait::async_trait;
    use connector_core::{ConnectorError, ConnectorSpec, Output};
    use futures::StreamExt;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::{Call, Mode, Options, OutputSchemas, Target};

    /// A session over the Gmail spec whose `messages.get` answers a record full of what JSON
    /// escapes, and whose other actions fail.
    struct Fake {
        targets: Vec<Target>,
        options: Options,
        runs: AtomicUsize,
    }

    impl Fake {
        fn new(mode: Mode) -> Arc<Fake> {
            let spec = ConnectorSpec::from_json(include_str!("../../../specs/gmail.json")).unwrap();
            Arc::new(Fake {
                targets: vec![Target {
                    id: "c1".into(),
                    connector_type: "gmail".into(),
                    customer_name: "ada".into(),
                    spec: Arc::new(spec),
                }],
                options: Options {
                    mode,
                    output_schemas: OutputSchemas::Brief,
                    max_output_chars: 40_000,
                    select_by_argument: false,
                    fence_untrusted: false,
                },
                runs: AtomicUsize::new(0),
            })
        }
    }

    #[async_trait]
    impl Session for Fake {
        fn targets(&self) -> &[Target] {
            &self.targets
        }
        fn options(&self) -> &Options {
            &self.options
        }
        async fn execute(&self, _: &Target, call: Call) -> Result<Output, ConnectorError> {
            self.runs.fetch_add(1, Ordering::SeqCst);
            if (call.entity.as_str(), call.action.as_str()) != ("messages", "get") {
                return Err(ConnectorError::not_found("no such message, \"m9\""));
            }
            let mut out = Output::new(json!({
                "id": call.params["id"], "params": call.params,
                "subject": "a \"quoted\" \\ back\\slash, tab\t, bell\u{7}, é, 🙂, </script>",
                "text": "line 1\r\nline 2\n\u{0}\u{1f}\u{7f}\u{2028}",
                "label_ids": ["INBOX", "UNREAD"], "size_estimate": 1234, "draft": null,
                "nested": {"deep": [1, 2.5, -3, true, {"k\"ey": "v"}]},
            }));
            out.metadata.insert("next_page_token".into(), json!("p\"2"));
            Ok(out)
        }
    }

    fn headers(extra: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        let mut h = vec![
            (
                "accept".to_string(),
                b"application/json, text/event-stream".to_vec(),
            ),
            ("content-type".to_string(), b"application/json".to_vec()),
            ("mcp-protocol-version".to_string(), b"2025-11-25".to_vec()),
            ("host".to_string(), b"localhost".to_vec()),
        ];
        for (n, v) in extra {
            h.retain(|(name, _)| !name.eq_ignore_ascii_case(n));
            if !v.is_empty() {
                h.push((n.to_string(), v.as_bytes().to_vec()));
            }
        }
        h
    }

    async fn collect(a: Answer) -> (u16, Vec<(String, Vec<u8>)>, Vec<u8>) {
        let chunks: Vec<Bytes> = a.body.collect().await;
        (a.status, a.headers, chunks.concat())
    }

    /// Both answers to one request: the direct path's (through [`super::super::handle`]) and
    /// rmcp's; and whether the direct path took it.
    async fn both(
        session: &Arc<Fake>,
        h: &[(String, Vec<u8>)],
        body: &Value,
    ) -> (
        bool,
        (u16, Vec<(String, Vec<u8>)>, Vec<u8>),
        (u16, Vec<(String, Vec<u8>)>, Vec<u8>),
    ) {
        let bytes = Bytes::from(serde_json::to_vec(body).unwrap());
        let direct = PlainCall::read(h, &bytes).is_some();
        let s: Arc<dyn Session> = session.clone();
        let before = session.runs.load(Ordering::SeqCst);
        let mine = collect(
            super::super::handle("POST", "/mcp", h.to_vec(), bytes.clone(), s.clone()).await,
        )
        .await;
        let once = session.runs.load(Ordering::SeqCst) - before;
        let theirs =
            collect(super::super::through_rmcp("POST", "/mcp", h.to_vec(), bytes, s).await).await;
        assert!(once <= 1, "one request ran its action {once} times");
        (direct, mine, theirs)
    }

    fn call(id: Value, name: &str, arguments: Option<Value>) -> Value {
        let mut params = json!({"name": name});
        if let Some(a) = arguments {
            params["arguments"] = a;
        }
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
    }

    #[tokio::test]
    async fn a_plain_tools_call_is_answered_directly_with_the_bytes_rmcp_sends() {
        let full = Fake::new(Mode::Full);
        let compact = Fake::new(Mode::Compact);
        let get = "gmail_messages_get";
        let cases = [
            (
                &full,
                headers(&[]),
                call(json!(1), get, Some(json!({"id": "m1", "format": "full"}))),
            ),
            (
                &full,
                headers(&[]),
                call(json!("r\"1\\é"), get, Some(json!({"id": "m\"2"}))),
            ),
            (
                &full,
                headers(&[]),
                call(json!(-7), get, Some(json!({"id": "m1", "n": 1e300}))),
            ),
            (
                &full,
                headers(&[]),
                call(json!(9_007_199_254_740_993_i64), get, None),
            ),
            (&full, headers(&[]), call(json!(2), get, Some(Value::Null))),
            // A tool error (the action fails) and a protocol error (no such tool).
            (
                &full,
                headers(&[]),
                call(json!(3), "gmail_messages_list", Some(json!({}))),
            ),
            (
                &full,
                headers(&[]),
                call(json!(4), "gmail_nothing_here", Some(json!({}))),
            ),
            (
                &full,
                headers(&[("mcp-protocol-version", "")]),
                call(json!(5), get, Some(json!({"id": "m1"}))),
            ),
            (
                &full,
                headers(&[("mcp-protocol-version", "2025-06-18")]),
                call(json!(6), get, Some(json!({"id": "m1"}))),
            ),
            (
                &full,
                headers(&[("accept", "text/event-stream,application/json")]),
                call(json!(7), get, Some(json!({"id": "m1"}))),
            ),
            (
                &full,
                headers(&[("content-type", "application/json; charset=utf-8")]),
                call(json!(8), get, Some(json!({"id": "m1"}))),
            ),
            (
                &compact,
                headers(&[]),
                call(
                    json!(9),
                    "execute",
                    Some(
                        json!({"connector_type": "gmail", "entity": "messages", "action": "get", "params": {"id": "m1"}}),
                    ),
                ),
            ),
            (
                &compact,
                headers(&[]),
                call(json!(10), "list_actions", Some(json!({}))),
            ),
        ];
        for (session, h, body) in &cases {
            let (direct, mine, theirs) = both(session, h, body).await;
            assert!(direct, "taken directly: {body}");
            assert_eq!(mine.0, 200, "{body}");
            assert_eq!(
                (mine.0, &mine.1, String::from_utf8_lossy(&mine.2)),
                (theirs.0, &theirs.1, String::from_utf8_lossy(&theirs.2)),
                "{body}"
            );
        }
        // The direct path ran: the plain cases (all but the protocol error) executed.
        assert!(full.runs.load(Ordering::SeqCst) >= 2 * 9);
    }

    #[tokio::test]
    async fn anything_but_a_plain_tools_call_goes_to_rmcp() {
        let full = Fake::new(Mode::Full);
        let get = "gmail_messages_get";
        let plain = call(json!(1), get, Some(json!({"id": "m1"})));
        let mut with_meta = plain.clone();
        with_meta["params"]["_meta"] = json!({"idempotency_key": "k1"});
        let mut extra = plain.clone();
        extra["extra"] = json!(true);
        let mut old = plain.clone();
        old["jsonrpc"] = json!("1.0");
        let cases = [
            (headers(&[]), with_meta),
            (headers(&[]), extra),
            (headers(&[]), old),
            (headers(&[]), json!([plain.clone()])),
            (
                headers(&[]),
                json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": get}}),
            ),
            (
                headers(&[]),
                json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            ),
            (
                headers(&[("mcp-protocol-version", "2026-07-28")]),
                plain.clone(),
            ),
            (
                headers(&[("mcp-protocol-version", "1999-01-01")]),
                plain.clone(),
            ),
            (headers(&[("mcp-method", "tools/call")]), plain.clone()),
            (headers(&[("mcp-session-id", "s1")]), plain.clone()),
            (headers(&[("accept", "application/json")]), plain.clone()),
            (
                headers(&[("accept", "application/json;q=1, text/event-stream")]),
                plain.clone(),
            ),
            (headers(&[("content-type", "text/plain")]), plain.clone()),
            (headers(&[("content-type", "")]), plain.clone()),
        ];
        for (h, body) in &cases {
            let (direct, mine, theirs) = both(&full, h, body).await;
            assert!(!direct, "not taken directly: {h:?} {body}");
            assert_eq!((mine.0, &mine.2), (theirs.0, &theirs.2), "{body}");
        }
        let bytes = serde_json::to_vec(&plain).unwrap();
        let mut twice = headers(&[]);
        twice.push(("content-type".into(), b"application/json".to_vec()));
        assert!(PlainCall::read(&twice, &bytes).is_none());
        assert!(PlainCall::read(&headers(&[]), b"{not json").is_none());
        assert!(PlainCall::read(&headers(&[]), &vec![b' '; MAX_BODY + 1]).is_none());
        assert!(PlainCall::read(&headers(&[]), &bytes).is_some());
    }

    proptest! {
        #[test]
        fn json_strings_are_written_as_serde_json_writes_them(s in any::<String>(), q in "[\"\\\\a\u{e9}\t]{0,40}") {
            for s in [s, q] {
                let mut mine = Vec::new();
                write_json_string(&mut mine, &s);
                prop_assert_eq!(String::from_utf8(mine).unwrap(), serde_json::to_string(&s).unwrap());
            }
        }
    }
}
