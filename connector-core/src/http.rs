//! Provider HTTP client: reqwest + rustls, keep-alive pool, no redirects, timeouts, an optional
//! per-instance concurrency limit, and the retry policy (by action idempotency).

mod client;
pub mod errors;

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::{ConnectorError, Result};

pub use client::ProviderClient;
pub use errors::{
    error_from_response, parse_retry_after, retry_after_in_message, ProviderErrorInfo,
};

/// Retry policy knobs.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff step; each further step doubles (full jitter).
    pub base_delay: Duration,
    /// Cap on one wait.
    pub max_delay: Duration,
    /// Cap on the sum of waits (Retry-After included); past it the error is returned.
    pub max_total_wait: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_total_wait: Duration::from_secs(30),
        }
    }
}

/// Client settings of one connector instance.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Root of the provider API (`https://gmail.googleapis.com`, `https://graph.microsoft.com/v1.0`).
    /// Request paths are appended to it.
    pub base_url: String,
    /// Other roots of the same provider's API, by name, for requests that name one
    /// ([`ProviderRequest::on_root`]): Google Calendar (`calendar`) lives on another host than
    /// Gmail. The access token goes to these origins too. Empty for most connectors.
    pub roots: std::collections::BTreeMap<String, String>,
    pub connect_timeout: Duration,
    /// Per read (time between bytes).
    pub read_timeout: Duration,
    /// Whole request, body included.
    pub total_timeout: Duration,
    /// Concurrent requests this instance may have in flight; further calls wait in line.
    pub max_concurrency: Option<usize>,
    pub retry: RetryConfig,
    pub user_agent: String,
    /// A reqwest client to share (one keep-alive pool for many connector instances). Build it
    /// without redirects ([`ProviderClient::build_reqwest`]); `None` builds one per instance.
    pub shared_client: Option<reqwest::Client>,
    /// Clients shared by many instances, one per sending thread ([`PerThreadClient`]); takes
    /// precedence over `shared_client`.
    pub per_thread_client: Option<PerThreadClient>,
}

/// A reqwest client for each thread that sends through it, all built alike, shared by any
/// number of connector instances (issue 27).
///
/// A pooled HTTP/1 connection is driven by a task on the runtime that opened it. One client
/// shared by several single-threaded runtimes (actix-web runs one per worker thread, and the
/// event pollers run on another) hands most requests to a connection another thread drives:
/// two cross-thread wake-ups per request (the request over, the answer back), which on a
/// loaded machine cost more than the request. With a client per thread, a thread's requests
/// go out on connections its own runtime drives.
#[derive(Clone)]
pub struct PerThreadClient {
    inner: std::sync::Arc<PerThreadInner>,
}

struct PerThreadInner {
    clients: thread_local::ThreadLocal<reqwest::Client>,
    build: Box<dyn Fn() -> reqwest::Client + Send + Sync>,
    /// A client built ahead (by [`PerThreadClient::checked`]) for the first thread that sends.
    first: std::sync::Mutex<Option<reqwest::Client>>,
}

impl PerThreadClient {
    /// Clients made by `build`, the first time each thread sends.
    pub fn new(build: impl Fn() -> reqwest::Client + Send + Sync + 'static) -> Self {
        PerThreadClient {
            inner: std::sync::Arc::new(PerThreadInner {
                clients: thread_local::ThreadLocal::new(),
                build: Box::new(build),
                first: std::sync::Mutex::new(None),
            }),
        }
    }

    /// Like [`PerThreadClient::new`], but builds one client now, so that a client that cannot
    /// be built (a bad TLS setting) fails here, at start, and not on some thread's first call.
    /// That client goes to the first thread that sends; later threads build theirs with the
    /// same `build`, which then panics only if a build that worked once stops working.
    pub fn checked<E>(
        build: impl Fn() -> Result<reqwest::Client, E> + Send + Sync + 'static,
    ) -> Result<Self, E>
    where
        E: std::fmt::Display,
    {
        let first = build()?;
        let clients = PerThreadClient::new(move || match build() {
            Ok(c) => c,
            Err(e) => panic!("the HTTP client built at start no longer builds: {e}"),
        });
        *clients
            .inner
            .first
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(first);
        Ok(clients)
    }

    /// This thread's client.
    pub fn get(&self) -> &reqwest::Client {
        self.inner.clients.get_or(|| {
            let first = self
                .inner
                .first
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            first.unwrap_or_else(|| (self.inner.build)())
        })
    }

    /// How many threads have a client so far.
    pub fn threads(&self) -> usize {
        self.inner.clients.iter().count()
    }
}

impl std::fmt::Debug for PerThreadClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerThreadClient")
            .field("threads", &self.threads())
            .finish()
    }
}

impl HttpConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        HttpConfig {
            base_url: base_url.into(),
            roots: Default::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(120),
            max_concurrency: None,
            retry: RetryConfig::default(),
            user_agent: concat!("agent-connectors/", env!("CARGO_PKG_VERSION")).into(),
            shared_client: None,
            per_thread_client: None,
        }
    }

    /// Sets the named API root `name` (see [`HttpConfig::roots`]).
    pub fn with_root(mut self, name: impl Into<String>, url: impl Into<String>) -> Self {
        self.roots.insert(name.into(), url.into());
        self
    }

    /// Shares `client`'s keep-alive pool with other instances.
    pub fn with_shared_client(mut self, client: reqwest::Client) -> Self {
        self.shared_client = Some(client);
        self
    }

    /// Sends through `clients`: the sending thread's client ([`PerThreadClient`]).
    pub fn with_per_thread_client(mut self, clients: PerThreadClient) -> Self {
        self.per_thread_client = Some(clients);
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Limits concurrent requests of this instance; further calls wait in line.
    pub fn with_max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = Some(limit);
        self
    }

    /// Sets the connect, read (between bytes) and total timeouts.
    pub fn with_timeouts(mut self, connect: Duration, read: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self.total_timeout = total;
        self
    }
}

/// A request body.
#[derive(Debug, Clone, Default)]
pub enum Body {
    #[default]
    Empty,
    Json(serde_json::Value),
    /// Raw bytes with their content type (multipart batch, uploads).
    Bytes {
        content_type: String,
        data: Bytes,
    },
}

/// One provider request, relative to the base URL unless `path` is absolute (`http(s)://...`,
/// used for `@odata.nextLink` and upload session URLs).
#[derive(Debug, Clone)]
pub struct ProviderRequest {
    pub method: reqwest::Method,
    pub path: String,
    /// Already wire-named pairs; repeated keys allowed.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Body,
    /// Overrides the action's idempotency for this request (a GET inside a send handler is
    /// idempotent; a POST in a read handler such as a batch of GETs may be marked idempotent).
    pub idempotent: Option<bool>,
    /// Send without the Authorization header (token endpoints, pre-signed upload URLs).
    pub no_auth: bool,
    /// The named API root `path` is relative to ([`HttpConfig::roots`]); `None`: the base URL.
    pub root: Option<&'static str>,
}

impl ProviderRequest {
    pub fn new(method: reqwest::Method, path: impl Into<String>) -> Self {
        ProviderRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Body::Empty,
            idempotent: None,
            no_auth: false,
            root: None,
        }
    }

    /// Sends to the named API root `name` of [`HttpConfig::roots`] instead of the base URL.
    pub fn on_root(mut self, name: &'static str) -> Self {
        self.root = Some(name);
        self
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(reqwest::Method::GET, path)
    }
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(reqwest::Method::POST, path)
    }
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Body::Json(body);
        self
    }
    pub fn bytes(mut self, content_type: impl Into<String>, data: impl Into<Bytes>) -> Self {
        self.body = Body::Bytes {
            content_type: content_type.into(),
            data: data.into(),
        };
        self
    }
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = reqwest::header::HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }
}

/// A successful (2xx) provider response. Non-2xx answers are turned into [`ConnectorError`]s by
/// the client, with the provider's status, code/reason and message kept in `details`.
#[derive(Debug, Clone)]
pub struct ProviderResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ProviderResponse {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ConnectorError::new(
                crate::ErrorCode::ProviderError,
                "the provider answered with a body that is not the expected JSON",
            )
            .with_source(e)
        })
    }

    /// The body as JSON, `null` when it is empty (204, DELETE).
    pub fn json_or_null(&self) -> Result<serde_json::Value> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            Ok(serde_json::Value::Null)
        } else {
            self.json()
        }
    }
}
