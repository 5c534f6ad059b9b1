//! A plain `tools/call` answered without rmcp's per-request service (issue 27).
//!
//! rmcp serves each stateless POST by reading the message through its untagged, flattened
//! serde model, running the handler in a one-shot service task of its own, and serializing
//! the answer, whose tool result holds the result's JSON twice: as `structuredContent` and as
//! an escaped string in the text block. For a `messages.get` that was about 120,000
//! instructions of a call's 550,000, on top of the execute (docs/benchmarks.md).
//!
//! A [`PlainCall`] is a `tools/call` that rmcp would take down one of its plainest paths: a
//! single request with only `name`, `arguments` and (2026-07-28) `_meta`, JSON in and both
//! media types accepted, and either
//!
//! - a protocol version before 2026-07-28 (or none), no `_meta` and no `Mcp-*` header besides
//!   the version, or
//! - 2026-07-28 with the client context in `_meta` (protocol version and capabilities, client
//!   info and the idempotency key allowed, nothing else) and the SEP-2243 headers that agree
//!   with the body (`Mcp-Method: tools/call`, `Mcp-Name` the tool's name as is), each once.
//!
//! It is read into a typed struct, runs the handler's own function ([`handler::call_tool`]),
//! gets what rmcp's handler does to a result (or error) for a peer on that version, and is
//! answered with the bytes and the HTTP status rmcp would send. Anything else, or anything the
//! reading here does not accept, goes to rmcp unchanged, and is decided before anything runs.

use bytes::Bytes;
use rmcp::model::{
    ContentBlock, ErrorCode, MetaObject, NumberOrString, ProtocolVersion, RequestMetaObject,
    ServerJsonRpcMessage, ServerResult,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Answer;
use crate::handler::{self, IDEMPOTENCY_META};
use crate::Session;

/// A body larger than this goes to rmcp (its own limit, 4 MiB, answers it).
const MAX_BODY: usize = 1 << 20;

/// The `_meta` keys a 2026-07-28 `tools/call` may carry here: the client context that version
/// asks for (`RequestMetaObject::with_client_context`) and the idempotency key. Any other
/// (a progress token, a log level, trace context) sends the call to rmcp.
const META_KEYS: [&str; 4] = [
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientInfo",
    "io.modelcontextprotocol/clientCapabilities",
    IDEMPOTENCY_META,
];

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
    #[serde(default, rename = "_meta")]
    meta: Option<Map<String, Value>>,
}

/// Which generation of the protocol the call is on: what rmcp checks before the call and does
/// to its answer differ.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Generation {
    /// A version before 2026-07-28 (or none): no per-request metadata, a result without
    /// `resultType`, every JSON-RPC error with HTTP 200.
    Legacy,
    /// 2026-07-28: the client context in `_meta`, the SEP-2243 `Mcp-Method` / `Mcp-Name`
    /// headers, `resultType` kept, some errors with HTTP 400 / 404.
    Inline,
}

/// A `tools/call` that can be answered here (see the module's documentation).
pub(crate) struct PlainCall {
    id: NumberOrString,
    name: String,
    arguments: Option<Map<String, Value>>,
    meta_key: Option<String>,
    generation: Generation,
}

impl PlainCall {
    /// The call, when the request is one; `None` sends it to rmcp.
    pub(crate) fn read(headers: &[(String, Vec<u8>)], body: &[u8]) -> Option<PlainCall> {
        if body.len() > MAX_BODY {
            return None;
        }
        let h = plain_headers(headers)?;
        let m: Message = serde_json::from_slice(body).ok()?;
        if m.jsonrpc != "2.0" || m.method != "tools/call" {
            return None;
        }
        let meta_key = match h.generation {
            Generation::Legacy => {
                if m.params.meta.is_some() {
                    return None;
                }
                None
            }
            Generation::Inline => {
                // The header names the tool as is (no Base64 form: tool names are tokens).
                if h.mcp_name.as_deref() != Some(m.params.name.as_str()) {
                    return None;
                }
                let meta = m.params.meta?;
                if !meta.keys().all(|k| META_KEYS.contains(&k.as_str())) {
                    return None;
                }
                let key = meta.get(IDEMPOTENCY_META).and_then(Value::as_str);
                let key = key.map(str::to_string);
                let meta = RequestMetaObject(MetaObject(meta));
                let v2026 = ProtocolVersion::V_2026_07_28;
                if !meta.missing_required_keys(&v2026).is_empty()
                    || meta.protocol_version().as_ref() != Some(&v2026)
                {
                    return None;
                }
                key
            }
        };
        Some(PlainCall {
            id: m.id,
            name: m.params.name,
            arguments: m.params.arguments,
            meta_key,
            generation: h.generation,
        })
    }

    /// Runs the call and answers it as rmcp would.
    pub(crate) async fn answer(self, session: &dyn Session) -> Answer {
        let outcome = handler::call_tool(session, &self.name, self.arguments, self.meta_key).await;
        let (message, status) = match outcome {
            Ok(result) => {
                let mut result = ServerResult::CallToolResult(result);
                // What rmcp's handler does to a result for the peer's version.
                match self.generation {
                    Generation::Legacy => {
                        result.strip_result_type_for_legacy_peer();
                        result.strip_non_object_output_for_legacy_peer();
                    }
                    Generation::Inline => result.fill_missing_cache_hints(),
                }
                if let Some(body) = text_result(&self.id, &result) {
                    return json_answer(200, body);
                }
                (ServerJsonRpcMessage::response(result, self.id), 200)
            }
            Err(mut e) => {
                let status = match self.generation {
                    // rmcp answers a legacy request's JSON-RPC error with HTTP 200.
                    Generation::Legacy => 200,
                    Generation::Inline => {
                        if e.code == ErrorCode::RESOURCE_NOT_FOUND {
                            e.code = ErrorCode::INVALID_PARAMS;
                        }
                        match e.code {
                            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
                            | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
                            | ErrorCode::HEADER_MISMATCH => 400,
                            ErrorCode::METHOD_NOT_FOUND => 404,
                            _ => 200,
                        }
                    }
                };
                (ServerJsonRpcMessage::error(e, Some(self.id)), status)
            }
        };
        match serde_json::to_vec(&message) {
            Ok(body) => json_answer(status, body),
            Err(e) => Answer::whole(
                500,
                Vec::new(),
                Bytes::from(format!("serialize json response: {e}")),
            ),
        }
    }
}

/// What [`plain_headers`] found.
struct Headers {
    generation: Generation,
    /// `Mcp-Name` (2026-07-28 only).
    mcp_name: Option<String>,
}

/// Whether the headers are those of rmcp's plainest stateless POST, and of which generation:
/// `Accept` names both media types (each without parameters) and `Content-Type` is JSON; then
/// either a protocol version before 2026-07-28 (or none) and no other `Mcp-*` header, or
/// 2026-07-28 with `Mcp-Method: tools/call`, an `Mcp-Name` made of token characters, and no
/// other `Mcp-*` header (each of them once).
fn plain_headers(headers: &[(String, Vec<u8>)]) -> Option<Headers> {
    let (mut json, mut sse, mut content_types) = (false, false, 0);
    let (mut version, mut method, mut name) = (Vec::new(), Vec::new(), Vec::new());
    for (header, value) in headers {
        let is = |n: &str| header.eq_ignore_ascii_case(n);
        if is("accept") {
            let value = std::str::from_utf8(value).ok()?;
            for item in value.split(',').map(str::trim) {
                if item.contains([';', '"']) {
                    return None;
                }
                json |= item.eq_ignore_ascii_case("application/json");
                sse |= item.eq_ignore_ascii_case("text/event-stream");
            }
        } else if is("content-type") {
            let value = std::str::from_utf8(value).ok()?;
            let essence = value.split_once(';').map_or(value, |(e, _)| e);
            if !essence.trim().eq_ignore_ascii_case("application/json") {
                return None;
            }
            content_types += 1;
        } else if is("mcp-protocol-version") {
            version.push(value.as_slice());
        } else if is("mcp-method") {
            method.push(value.as_slice());
        } else if is("mcp-name") {
            name.push(value.as_slice());
        } else if header.len() >= 4 && header[..4].eq_ignore_ascii_case("mcp-") {
            return None;
        }
    }
    if !(json && sse && content_types == 1) || version.len() > 1 {
        return None;
    }
    let legacy = [
        ProtocolVersion::V_2024_11_05,
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
    ];
    let is_version = |v: &ProtocolVersion| version.first() == Some(&v.as_str().as_bytes());
    if version.is_empty() || legacy.iter().any(is_version) {
        // rmcp does not look at SEP-2243 headers below 2026-07-28; here they send it there.
        return (method.is_empty() && name.is_empty()).then_some(Headers {
            generation: Generation::Legacy,
            mcp_name: None,
        });
    }
    let token = |v: &[u8]| {
        !v.is_empty()
            && v.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    match (method.as_slice(), name.as_slice()) {
        ([m], [n])
            if is_version(&ProtocolVersion::V_2026_07_28) && *m == b"tools/call" && token(n) =>
        {
            Some(Headers {
                generation: Generation::Inline,
                mcp_name: Some(String::from_utf8_lossy(n).into_owned()),
            })
        }
        _ => None,
    }
}

/// The answer's bytes when the result is one text block holding `structuredContent`'s JSON
/// (every successful action result, see `handler::tool_result`): the JSON is in hand as that
/// text, so `structuredContent` is copied from it instead of serialized from the `Value`, and
/// the text is escaped once. The bytes are those of `serde_json::to_vec` of rmcp's message.
fn text_result(id: &NumberOrString, result: &ServerResult) -> Option<Vec<u8>> {
    let ServerResult::CallToolResult(r) = result else {
        return None;
    };
    if r.meta.is_some() || r.is_error != Some(false) {
        return None;
    }
    if r.result_type.as_ref().is_some_and(|t| !t.is_complete()) {
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
    out.extend_from_slice(br#","result":{"#);
    if let Some(t) = &r.result_type {
        out.extend_from_slice(br#""resultType":"#);
        serde_json::to_writer(&mut out, t).ok()?;
        out.push(b',');
    }
    out.extend_from_slice(br#""content":[{"type":"text","text":"#);
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

fn json_answer(status: u16, body: Vec<u8>) -> Answer {
    Answer::whole(
        status,
        vec![("content-type".into(), b"application/json".to_vec())],
        Bytes::from(body),
    )
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

    /// The headers of a 2026-07-28 call of `tool` (with `extra` set or, empty, removed).
    fn inline(tool: &str, extra: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        let mut h = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", tool),
        ]);
        for (n, v) in extra {
            h.retain(|(name, _)| !name.eq_ignore_ascii_case(n));
            if !v.is_empty() {
                h.push((n.to_string(), v.as_bytes().to_vec()));
            }
        }
        h
    }

    /// The `_meta` of a 2026-07-28 request, as rmcp's own client builds the context.
    fn client_context() -> Value {
        serde_json::to_value(rmcp::model::RequestMetaObject::with_client_context(
            ProtocolVersion::V_2026_07_28,
            rmcp::model::Implementation::default(),
            rmcp::model::ClientCapabilities::default(),
        ))
        .unwrap()
    }

    fn with_meta(mut call: Value, meta: Value) -> Value {
        call["params"]["_meta"] = meta;
        call
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
            // 2026-07-28.
            (
                &full,
                inline(get, &[]),
                with_meta(
                    call(json!(11), get, Some(json!({"id": "m1"}))),
                    client_context(),
                ),
            ),
            (
                &full,
                inline(get, &[]),
                with_meta(call(json!("r12"), get, Some(json!({"id": "m\"2"}))), {
                    let mut m = client_context();
                    m[IDEMPOTENCY_META] = json!("k-12");
                    m
                }),
            ),
            (
                &full,
                inline("gmail_messages_list", &[]),
                with_meta(
                    call(json!(13), "gmail_messages_list", Some(json!({}))),
                    client_context(),
                ),
            ),
            (
                &full,
                inline("gmail_nothing_here", &[]),
                with_meta(
                    call(json!(14), "gmail_nothing_here", None),
                    client_context(),
                ),
            ),
            (
                &compact,
                inline("execute", &[]),
                with_meta(
                    call(
                        json!(15),
                        "execute",
                        Some(
                            json!({"connector_type": "gmail", "entity": "messages", "action": "get", "params": {"id": "m1"}}),
                        ),
                    ),
                    client_context(),
                ),
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
        // The direct path ran: the plain cases (all but the protocol errors) executed.
        assert!(full.runs.load(Ordering::SeqCst) >= 2 * 12);
    }

    #[tokio::test]
    async fn anything_but_a_plain_tools_call_goes_to_rmcp() {
        let full = Fake::new(Mode::Full);
        let get = "gmail_messages_get";
        let plain = call(json!(1), get, Some(json!({"id": "m1"})));
        let legacy_meta = with_meta(plain.clone(), json!({"idempotency_key": "k1"}));
        let mut extra = plain.clone();
        extra["extra"] = json!(true);
        let mut old = plain.clone();
        old["jsonrpc"] = json!("1.0");
        let cases = [
            (headers(&[]), legacy_meta),
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
            // Below 2026-07-28, `_meta` or SEP-2243 headers go to rmcp (which ignores the headers).
            (headers(&[("mcp-name", get)]), plain.clone()),
            // 2026-07-28 without what it asks for, or with more than is read here.
            (inline(get, &[]), plain.clone()),
            (
                inline(get, &[("mcp-method", "")]),
                with_meta(plain.clone(), client_context()),
            ),
            (
                inline(get, &[("mcp-method", "tools/list")]),
                with_meta(plain.clone(), client_context()),
            ),
            (
                inline("gmail_messages_list", &[]),
                with_meta(plain.clone(), client_context()),
            ),
            (
                inline("=?base64?Z21haWxfbWVzc2FnZXNfZ2V0?=", &[]),
                with_meta(plain.clone(), client_context()),
            ),
            (
                inline(get, &[("mcp-param-id", "m1")]),
                with_meta(plain.clone(), client_context()),
            ),
            (
                inline(get, &[]),
                with_meta(plain.clone(), {
                    let mut m = client_context();
                    m.as_object_mut()
                        .unwrap()
                        .retain(|k, _| !k.ends_with("clientCapabilities"));
                    m
                }),
            ),
            (
                inline(get, &[]),
                with_meta(plain.clone(), {
                    let mut m = client_context();
                    m["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
                    m
                }),
            ),
            (
                inline(get, &[]),
                with_meta(plain.clone(), {
                    let mut m = client_context();
                    m["progressToken"] = json!(7);
                    m
                }),
            ),
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
        let mut dup = inline(get, &[]);
        dup.push(("mcp-name".into(), get.as_bytes().to_vec()));
        let inline_bytes = serde_json::to_vec(&with_meta(plain.clone(), client_context())).unwrap();
        assert!(PlainCall::read(&dup, &inline_bytes).is_none());
        assert!(PlainCall::read(&inline(get, &[]), &inline_bytes).is_some());
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
