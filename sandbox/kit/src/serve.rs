//! The accept loop every emulator runs: plain hyper over Tokio around the emulator's axum
//! router, so that a fault can close a connection without answering. Each HTTP request is
//! counted, its bearer token looked up at a trusted issuer when one is configured, delayed by
//! the latency, and matched against the injected faults before the router sees it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tower::ServiceExt;

use crate::faults::FaultKind;
use crate::Kit;

/// A running server; dropping it stops serving.
pub struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (port 0: a free port). Must be called inside a Tokio runtime.
    pub fn bind(addr: SocketAddr) -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok((tokio::net::TcpListener::from_std(listener)?, addr))
    }

    /// Serves `app` on `listener` on a Tokio task, through the kit's request pipeline.
    pub fn spawn(listener: tokio::net::TcpListener, kit: Arc<Kit>, app: Router) -> Server {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let task = tokio::spawn(accept(listener, kit, app));
        Server { addr, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: tokio::net::TcpListener, kit: Arc<Kit>, app: Router) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (kit, app) = (kit.clone(), app.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(kit.clone(), app.clone(), req));
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

fn bearer(req: &Request<Incoming>) -> Option<String> {
    let h = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

async fn handle(
    kit: Arc<Kit>,
    app: Router,
    req: Request<Incoming>,
) -> Result<axum::response::Response, Dropped> {
    kit.count_http_request();
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    if let Some(token) = bearer(&req) {
        crate::introspect::ensure_known(&kit, &token).await;
    }
    if kit.profile.latency_per_request {
        if let Some(d) = kit.latency() {
            tokio::time::sleep(d).await;
        }
    }
    let req = req.map(Body::new);
    let run = |req| async move {
        match app.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    };
    let resp = match kit.take_fault(&method, &path) {
        None => run(req).await,
        Some(FaultKind::Delay(d)) => {
            tokio::time::sleep(d).await;
            run(req).await
        }
        Some(FaultKind::Status(s)) => (kit.profile.fault_response)(s),
        Some(FaultKind::DropConnection) => return Err(Dropped),
        Some(FaultKind::LoseResponse) => {
            let _ = run(req).await;
            return Err(Dropped);
        }
    };
    tracing::debug!(target: "sandbox", emulator = kit.profile.name, method = %method, path = %path.split('?').next().unwrap_or(""), status = resp.status().as_u16(), "request");
    Ok(resp)
}
