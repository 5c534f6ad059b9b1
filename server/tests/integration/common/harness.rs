//! The test harness: a fresh data directory, the real `create_app`, captured logs, and a record
//! of every response body (for the no-secret checks). Every response is checked against the
//! served OpenAPI document (`conformance`): one that does not match fails the test that made it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use actix_web::web;
use serde_json::{json, Value};
use server::registry::Registry;
use server::{create_app, AppState, Config};

/// Captured log output (shared with the subscriber).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

pub struct Harness {
    pub state: web::Data<AppState>,
    pub dir: tempfile::TempDir,
    pub logs: Logs,
    pub bodies: Mutex<Vec<String>>,
    /// Every response checked against the OpenAPI document.
    pub checked: Mutex<Vec<crate::common::conformance::Seen>>,
    _guard: tracing::subscriber::DefaultGuard,
}

/// An organization with an application and a bearer token.
#[derive(Clone)]
pub struct Tenant {
    pub org: String,
    pub client_id: String,
    pub client_secret: String,
    pub token: String,
}

pub async fn harness() -> Harness {
    harness_with(|_| {}).await
}

pub async fn harness_with(tweak: impl FnOnce(&mut Config)) -> Harness {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    tweak(&mut config);
    let registry = Registry::builtin(&config.providers);
    let state = AppState::with_registry(config, registry).await.unwrap();
    Harness {
        state: web::Data::new(state),
        dir,
        logs,
        bodies: Mutex::new(Vec::new()),
        checked: Mutex::new(Vec::new()),
        _guard: guard,
    }
}

/// A request to send through the app.
pub struct Req<'a> {
    pub method: Method,
    pub path: String,
    pub token: Option<&'a str>,
    pub org: Option<&'a str>,
    pub body: Option<Vec<u8>>,
    /// The client's address (`None`: the test request has none).
    pub peer: Option<std::net::SocketAddr>,
    /// `Content-Type` of the body [default: application/json].
    pub content_type: Option<&'static str>,
}

impl<'a> Req<'a> {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Req {
            method,
            path: path.into(),
            token: None,
            org: None,
            body: None,
            peer: None,
            content_type: None,
        }
    }
    pub fn by(mut self, t: &'a Tenant) -> Self {
        self.token = Some(&t.token);
        self.org = Some(&t.org);
        self
    }
    pub fn json(mut self, v: Value) -> Self {
        self.body = Some(serde_json::to_vec(&v).unwrap());
        self
    }
    pub fn raw(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = Some(b.into());
        self
    }
    pub fn from(mut self, peer: &str) -> Self {
        self.peer = Some(peer.parse().unwrap());
        self
    }
    pub fn content_type(mut self, t: &'static str) -> Self {
        self.content_type = Some(t);
        self
    }
}

impl Harness {
    pub async fn send(&self, r: Req<'_>) -> (StatusCode, Value) {
        let app = test::init_service(create_app(self.state.clone())).await;
        let mut req = test::TestRequest::default().method(r.method).uri(&r.path);
        if let Some(t) = r.token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        if let Some(o) = r.org {
            req = req.insert_header(("X-Organization-Id", o.to_string()));
        }
        let sent = r.body.clone().unwrap_or_default();
        if let Some(p) = r.peer {
            req = req.peer_addr(p);
        }
        if let Some(b) = r.body {
            req = req
                .insert_header(("Content-Type", r.content_type.unwrap_or("application/json")))
                .set_payload(b);
        }
        let resp = test::call_service(&app, req.to_request()).await;
        let status = resp.status();
        assert!(
            resp.headers().get("x-request-id").is_some(),
            "every response carries X-Request-Id"
        );
        let seen = crate::common::conformance::Seen::of(&resp);
        let bytes = test::read_body(resp).await;
        seen.check(&bytes);
        crate::common::conformance::check_accepted_request(&seen, &sent);
        self.checked.lock().unwrap().push(seen);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.bodies.lock().unwrap().push(text.clone());
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(json!({"raw": text}))
        };
        (status, value)
    }

    /// Like [`Harness::send`], for a response that is bytes (checked against the document, not
    /// recorded in `bodies`): the status, the headers and the body.
    pub async fn send_bytes(
        &self,
        r: Req<'_>,
    ) -> (StatusCode, actix_web::http::header::HeaderMap, Vec<u8>) {
        let app = test::init_service(create_app(self.state.clone())).await;
        let mut req = test::TestRequest::default().method(r.method).uri(&r.path);
        if let Some(t) = r.token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        if let Some(o) = r.org {
            req = req.insert_header(("X-Organization-Id", o.to_string()));
        }
        if let Some(b) = r.body {
            req = req
                .insert_header(("Content-Type", r.content_type.unwrap_or("application/json")))
                .set_payload(b);
        }
        let resp = test::call_service(&app, req.to_request()).await;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let seen = crate::common::conformance::Seen::of(&resp);
        let bytes = test::read_body(resp).await;
        seen.check(&bytes);
        self.checked.lock().unwrap().push(seen);
        (status, headers, bytes.to_vec())
    }

    pub async fn get(&self, path: &str, t: &Tenant) -> (StatusCode, Value) {
        self.send(Req::new(Method::GET, path).by(t)).await
    }

    pub async fn post(&self, path: &str, t: &Tenant, body: Value) -> (StatusCode, Value) {
        self.send(Req::new(Method::POST, path).by(t).json(body))
            .await
    }

    /// A new organization and application, and a token for it.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let org = self.state.store.create_org(name).await.unwrap();
        let app = server::auth::create_application(&self.state.store, &org.id)
            .await
            .unwrap();
        let client_secret = app.client_secret.expose().to_string();
        let (status, body) = self
            .send(
                Req::new(Method::POST, "/api/v1/account/applications/token").json(json!({
                    "client_id": app.client_id, "client_secret": client_secret,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Tenant {
            org: org.id,
            client_id: app.client_id,
            client_secret,
            token: body["access_token"].as_str().unwrap().to_string(),
        }
    }

    /// Creates a Gmail connector with the given credentials.
    pub async fn connector(&self, t: &Tenant, customer: &str, credentials: Value) -> String {
        let (status, body) = self
            .post(
                "/api/v1/integrations/connectors",
                t,
                json!({"customer_name": customer, "connector_type": "gmail", "credentials": credentials}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Every response body so far.
    pub fn all_bodies(&self) -> String {
        self.bodies.lock().unwrap().join("\n")
    }
}

/// Asserts an error envelope with this status and code.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    assert!(got.1["error"]["message"].is_string(), "{}", got.1);
}

pub const CONNECTORS: &str = "/api/v1/integrations/connectors";
