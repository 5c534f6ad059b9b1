//! Fault injection and the accept loop: plain hyper over Tokio around the axum router, so a
//! fault can close a connection without answering (as Gmail's emulator does).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::response::IntoResponse;
use axum::Router;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tower::ServiceExt;

use super::reply;
use super::state::Inner;

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Answer with this status (a Graph-shaped error) without handling the request.
    Status(u16),
    /// Close the connection without handling the request or answering.
    DropConnection,
    /// Handle the request (e.g. perform the send), then close the connection without answering.
    LoseResponse,
}

/// A fault for requests whose method matches (`"*"` or empty: any) and whose path (with
/// query) contains `path_contains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub method: String,
    pub path_contains: String,
    pub kind: FaultKind,
    /// How many matching requests it affects (default 1).
    pub times: u32,
}

impl Fault {
    pub fn new(method: &str, path_contains: &str, kind: FaultKind) -> Fault {
        Fault {
            method: method.to_string(),
            path_contains: path_contains.to_string(),
            kind,
            times: 1,
        }
    }

    /// Affects the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }
}

/// Takes one use of the first matching fault.
fn take(inner: &Inner, method: &str, path_and_query: &str) -> Option<FaultKind> {
    let mut faults = inner.faults.lock().expect("faults");
    let idx = faults.iter().position(|f| {
        f.times > 0
            && (f.method.is_empty() || f.method == "*" || f.method.eq_ignore_ascii_case(method))
            && path_and_query.contains(&f.path_contains)
    })?;
    let kind = faults[idx].kind.clone();
    faults[idx].times -= 1;
    if faults[idx].times == 0 {
        faults.remove(idx);
    }
    inner.faults_triggered.fetch_add(1, Ordering::SeqCst);
    Some(kind)
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
    app: Router,
    req: Request<Incoming>,
) -> Result<axum::response::Response, Dropped> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let req = req.map(Body::new);
    let run = |req| async move {
        match app.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    };
    match take(&inner, &method, &path) {
        None => Ok(run(req).await),
        Some(FaultKind::Delay(d)) => {
            tokio::time::sleep(d).await;
            Ok(run(req).await)
        }
        Some(FaultKind::Status(s)) => Ok(reply::error(
            s,
            if s == 503 {
                "ServiceUnavailable"
            } else {
                "InternalServerError"
            },
            "The service is temporarily unavailable (fault injection).",
        )
        .into_response()),
        Some(FaultKind::DropConnection) => Err(Dropped),
        Some(FaultKind::LoseResponse) => {
            let _ = run(req).await;
            Err(Dropped)
        }
    }
}

pub async fn serve(listener: tokio::net::TcpListener, inner: Arc<Inner>, app: Router) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let inner = inner.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(inner.clone(), app.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
