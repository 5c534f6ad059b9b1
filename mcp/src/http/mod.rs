//! The streamable HTTP transport, as rmcp implements it, for a server that is not tower-based.
//!
//! rmcp's [`StreamableHttpService`] is a tower service over `http` 1.x types. The server is
//! actix-web, so its `/mcp` route authenticates the caller, resolves the [`Session`] (which
//! connectors the caller may reach), and hands the request to [`handle`] as plain parts:
//! method, URI, headers and the body bytes. [`handle`] rebuilds an `http::Request`, puts the
//! session into its extensions ([`SessionHandle`]; rmcp passes the request parts on to the
//! handler) and returns rmcp's response as status, headers and a body stream, which the route
//! streams back. Everything MCP-specific on the wire (JSON-RPC framing, protocol version
//! negotiation and headers, `server/discover`, JSON or SSE answers) stays rmcp's, with one
//! exception: a plain `tools/call` (one request, nothing in it but the tool, its arguments
//! and the per-request context its protocol version asks for) is read, run and answered in
//! `direct` with the bytes rmcp would send, without rmcp's per-request service task and
//! second serialization of the result.
//!
//! The service runs **stateless** (`legacy_session_mode: false`): no `Mcp-Session-Id`, no
//! session kept in memory, so any replica serves any request, like the rest of the API.
//! Answers are JSON when a call needs no stream (`json_response: true`). Host-header
//! validation (rmcp's DNS-rebinding guard, meant for unauthenticated local servers) is off:
//! every request carries a bearer token that the route checks first.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::Stream;
use http_body_util::{BodyExt, Full};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use crate::{McpHandler, Session, SessionHandle};

mod direct;

type Service = StreamableHttpService<McpHandler, NeverSessionManager>;

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .disable_allowed_hosts();
        StreamableHttpService::new(
            || Ok(McpHandler::per_request()),
            Arc::new(NeverSessionManager::default()),
            config,
        )
    })
}

/// rmcp's answer: status, headers, and the body as a stream of chunks.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: std::pin::Pin<Box<dyn Stream<Item = Bytes> + Send>>,
}

impl Answer {
    /// An answer whose body is `body`, whole.
    fn whole(status: u16, headers: Vec<(String, Vec<u8>)>, body: Bytes) -> Answer {
        Answer {
            status,
            headers,
            body: Box::pin(futures::stream::once(std::future::ready(body))),
        }
    }
}

/// Serves one HTTP request of the MCP endpoint for `session`.
///
/// A plain `tools/call` (see the `direct` module) is answered without rmcp's per-request
/// service; every other request goes to rmcp.
pub async fn handle(
    method: &str,
    uri: &str,
    headers: impl IntoIterator<Item = (String, Vec<u8>)>,
    body: Bytes,
    session: Arc<dyn Session>,
) -> Answer {
    let headers: Vec<(String, Vec<u8>)> = headers.into_iter().collect();
    if method == "POST" {
        if let Some(call) = direct::PlainCall::read(&headers, &body) {
            return call.answer(session.as_ref()).await;
        }
    }
    through_rmcp(method, uri, headers, body, session).await
}

/// [`handle`] through rmcp's streamable HTTP service, whatever the request.
async fn through_rmcp(
    method: &str,
    uri: &str,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
    session: Arc<dyn Session>,
) -> Answer {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let mut request = match builder.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return bad_request(&e.to_string()),
    };
    request.extensions_mut().insert(SessionHandle(session));
    let response = service().handle(request).await;
    let (parts, body) = response.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    use futures::StreamExt;
    let body = body
        .into_data_stream()
        .filter_map(|chunk| std::future::ready(chunk.ok()));
    Answer {
        status: parts.status.as_u16(),
        headers,
        body: Box::pin(body),
    }
}

fn bad_request(message: &str) -> Answer {
    Answer::whole(
        400,
        vec![("content-type".into(), b"text/plain".to_vec())],
        Bytes::from(format!("bad request: {message}")),
    )
}
