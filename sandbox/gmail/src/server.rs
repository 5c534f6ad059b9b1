//! The accept loop: plain hyper over Tokio, so a fault can close a connection without answering.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderValue, Request, Response, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::error::ApiError;
use super::faults::{self, FaultKind};
use super::introspect;
use super::router::{self, Req, Resp};
use super::{lock, Inner};

/// A resumable upload session started with `uploadType=resumable`.
#[derive(Clone)]
pub(crate) struct PendingUpload {
    pub method: axum::http::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: axum::http::HeaderMap,
    pub metadata: Bytes,
    pub received: Vec<u8>,
}

pub(crate) async fn serve(listener: tokio::net::TcpListener, inner: Arc<Inner>, _addr: SocketAddr) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(inner.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}
impl std::error::Error for Dropped {}

async fn handle(
    inner: Arc<Inner>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let (method, path) = (parts.method.clone(), parts.uri.path().to_string());
    let req = Req::new(
        parts.method,
        parts.uri.path(),
        parts.uri.query(),
        parts.headers,
        body,
    );
    lock(&inner.stats).http_requests += 1;
    if let Some(token) = req.bearer() {
        introspect::ensure_known(&inner, token).await;
    }

    let latency = *lock(&inner.latency);
    if let Some(d) = latency {
        tokio::time::sleep(d).await;
    }
    let resp = match faults::take(&inner, req.method.as_str(), &path_and_query) {
        Some(FaultKind::Delay(d)) => {
            tokio::time::sleep(d).await;
            run(&inner, req).await
        }
        Some(FaultKind::Status(s)) => {
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Resp::error(&ApiError::server_error(status))
        }
        Some(FaultKind::DropConnection) => return Err(Dropped),
        Some(FaultKind::LoseResponse) => {
            let _ = run(&inner, req).await;
            return Err(Dropped);
        }
        None => run(&inner, req).await,
    };
    tracing::debug!(target: "gmail_sandbox", method = %method, path = %path, status = resp.status.as_u16(), "request");
    let mut out = Response::new(Full::new(resp.body));
    *out.status_mut() = resp.status;
    for (k, v) in resp.headers {
        if let (Ok(name), Ok(val)) = (
            axum::http::HeaderName::try_from(k),
            HeaderValue::try_from(v),
        ) {
            out.headers_mut().append(name, val);
        }
    }
    Ok(out)
}

/// Handles the request on a blocking-friendly path (the store is behind a std mutex).
async fn run(inner: &Arc<Inner>, req: Req) -> Resp {
    let inner = inner.clone();
    tokio::task::spawn_blocking(move || router::dispatch(&inner, &req))
        .await
        .unwrap_or_else(|_| Resp::error(&ApiError::server_error(StatusCode::INTERNAL_SERVER_ERROR)))
}
