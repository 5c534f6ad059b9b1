//! The provider client: one reqwest pool per connector instance (or a shared one), the retry
//! loop, the concurrency limit and the 401 refresh-and-retry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::Rng;
use reqwest::header::{HeaderValue, AUTHORIZATION, USER_AGENT};
use serde_json::json;
use tokio::sync::Semaphore;
use url::Url;

use super::errors::error_from_response;
use super::{Body, HttpConfig, ProviderRequest, ProviderResponse, RetryConfig};
use crate::auth::TokenProvider;
use crate::{ConnectorError, ErrorCode, Result, Secret};

/// The HTTP client of one connector instance (cheap to clone; clones share the pool and the
/// concurrency limit).
#[derive(Clone)]
pub struct ProviderClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: Http,
    config: HttpConfig,
    base: Url,
    /// [`HttpConfig::roots`], parsed.
    roots: HashMap<String, Url>,
    limit: Option<Arc<Semaphore>>,
}

/// Where an instance's reqwest client comes from.
enum Http {
    One(reqwest::Client),
    PerThread(super::PerThreadClient),
}

impl Http {
    fn get(&self) -> &reqwest::Client {
        match self {
            Http::One(c) => c,
            Http::PerThread(p) => p.get(),
        }
    }
}

/// An API root as a URL without a trailing slash; http(s) only.
/// Whether a request path is an absolute URL (taken as is) rather than a path under a root.
fn is_absolute(path: &str) -> bool {
    path.starts_with("http://") || path.starts_with("https://")
}

fn parse_root(text: &str) -> Result<Url> {
    let mut url = Url::parse(text).map_err(|e| {
        ConnectorError::internal(format!("the base URL `{text}` is not a valid URL: {e}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConnectorError::internal(format!(
            "the base URL `{text}` must be http(s)"
        )));
    }
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    Ok(url)
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient")
            .field("base_url", &self.inner.config.base_url)
            .field("max_concurrency", &self.inner.config.max_concurrency)
            .finish_non_exhaustive()
    }
}

/// How one attempt ended, before the retry policy decides.
/// The longest request URL the HTTP stack can send (`http::Uri` holds at most `u16::MAX - 1`
/// bytes).
pub const MAX_URL_LEN: usize = u16::MAX as usize - 1;

enum Failure {
    /// A non-2xx answer.
    Status(ConnectorError, u16),
    /// The connection was never made (refused, DNS, connect timeout): the request never left.
    NotSent(String),
    /// The request may have reached the provider (reset, read timeout, broken body).
    MaybeSent(String),
    /// The request cannot be sent at all; retrying would not help.
    Fatal(ConnectorError),
}

impl ProviderClient {
    /// A client with its own keep-alive pool, built from `config`.
    /// Uses `config.shared_client` when set.
    pub fn new(config: HttpConfig) -> Result<ProviderClient> {
        let http = match (&config.per_thread_client, &config.shared_client) {
            (Some(p), _) => Http::PerThread(p.clone()),
            (None, Some(c)) => Http::One(c.clone()),
            (None, None) => Http::One(Self::build_reqwest(&config)?),
        };
        Self::with_http(config, http)
    }

    /// A client over a shared reqwest pool. Build it with
    /// `redirect(reqwest::redirect::Policy::none())` (see [`ProviderClient::build_reqwest`]);
    /// the total and read timeouts of `config` are applied per request here.
    pub fn with_client(config: HttpConfig, http: reqwest::Client) -> Result<ProviderClient> {
        Self::with_http(config, Http::One(http))
    }

    fn with_http(config: HttpConfig, http: Http) -> Result<ProviderClient> {
        let base = parse_root(&config.base_url)?;
        let roots = config
            .roots
            .iter()
            .map(|(name, url)| Ok((name.clone(), parse_root(url)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        let limit = config
            .max_concurrency
            .map(|n| Arc::new(Semaphore::new(n.max(1))));
        Ok(ProviderClient {
            inner: Arc::new(Inner {
                http,
                config,
                base,
                roots,
                limit,
            }),
        })
    }

    /// A reqwest client as this crate wants one: rustls, keep-alive pool, no redirects,
    /// connect and read timeouts. Share it between instances with [`ProviderClient::with_client`].
    pub fn build_reqwest(config: &HttpConfig) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(60))
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| ConnectorError::internal("could not build the HTTP client").with_source(e))
    }

    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// The underlying reqwest client (to share its pool).
    pub fn reqwest(&self) -> &reqwest::Client {
        self.inner.http.get()
    }

    /// The root a request's path is relative to: its named root, else the base URL.
    fn root_of(&self, req: &ProviderRequest) -> Result<&Url> {
        match req.root {
            None => Ok(&self.inner.base),
            Some(name) => self.inner.roots.get(name).ok_or_else(|| {
                ConnectorError::internal(format!(
                    "no API root named `{name}` is configured (HttpConfig::with_root)"
                ))
            }),
        }
    }

    /// The absolute URL of a request: `path` appended to the base URL (or taken as is when it
    /// is an absolute URL), with the query pairs percent-encoded.
    pub fn url_for(&self, req: &ProviderRequest) -> Result<Url> {
        let mut url = if is_absolute(&req.path) {
            Url::parse(&req.path)
                .map_err(|e| ConnectorError::internal(format!("bad absolute request URL: {e}")))?
        } else {
            let base = self.root_of(req)?;
            let mut u = base.clone();
            let sep = if req.path.starts_with('/') || req.path.is_empty() {
                ""
            } else {
                "/"
            };
            let (path, query) = match req.path.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (req.path.as_str(), None),
            };
            u.set_path(&format!("{}{sep}{path}", base.path().trim_end_matches('/')));
            u.set_query(query);
            u
        };
        if !req.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends `req` under the retry policy for `idempotent` (the request's own override wins),
    /// with a bearer token from `auth` (one refresh and resend after a 401). The token is sent
    /// only to the base URL's origin and never when `req.no_auth` is set.
    pub async fn send(
        &self,
        req: &ProviderRequest,
        auth: Option<&dyn TokenProvider>,
        idempotent: bool,
    ) -> Result<ProviderResponse> {
        let idempotent = req.idempotent.unwrap_or(idempotent);
        let url = self.url_for(req)?;
        if url.as_str().len() > MAX_URL_LEN {
            // The HTTP client cannot carry it; no retry or later attempt could (issue 19: a
            // 70 KB Gmail `q` came back as a retryable 503).
            return Err(ConnectorError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the request is too large to send: its URL would be {} bytes, over the {MAX_URL_LEN} an HTTP request line carries; shorten the params that go into the URL (a search query such as `q`, a filter, a list of ids)",
                    url.as_str().len()
                ),
            )
            .with_details(json!({"url_bytes": url.as_str().len(), "max_url_bytes": MAX_URL_LEN})));
        }
        // The token goes only to the provider's own origin: an absolute URL elsewhere (a
        // pre-signed upload URL, a link in a response) never sees it. A relative path is
        // joined to its root, so only an absolute one needs the comparison (`Url::origin`
        // allocates: it was 1.8% of the server's CPU when asked on every request).
        let same_origin = !is_absolute(&req.path) || url.origin() == self.root_of(req)?.origin();
        let auth = if req.no_auth || !same_origin {
            None
        } else {
            auth
        };
        let retry = &self.inner.config.retry;
        let mut attempt: u32 = 0;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        let mut fresh_token: Option<Secret> = None;
        loop {
            attempt += 1;
            let token = match (auth, fresh_token.take()) {
                (None, _) => None,
                (Some(_), Some(t)) => Some(t),
                (Some(a), None) => Some(a.access_token().await?),
            };
            let failure = match self.attempt(req, &url, token.as_ref()).await {
                Ok(resp) => return Ok(resp),
                Err(f) => f,
            };
            let (err, retryable, retry_after) = match failure {
                Failure::Status(_, 401) if !refreshed && auth.is_some() => {
                    // Rejected before it was acted on: safe to resend once with a new token.
                    refreshed = true;
                    let rejected = token.expect("auth present");
                    fresh_token = Some(
                        auth.expect("auth")
                            .refresh_after_unauthorized(&rejected)
                            .await?,
                    );
                    attempt -= 1;
                    continue;
                }
                Failure::Status(err, status) => {
                    let throttled = err.code == ErrorCode::RateLimited;
                    let transient = matches!(status, 500 | 502 | 503 | 504);
                    if !idempotent && transient {
                        let why = match err.details["provider_message"].as_str() {
                            Some(m) => format!("HTTP {status}: {m}"),
                            None => format!("HTTP {status}"),
                        };
                        return Err(outcome_unknown(req, &why).with_details(err.details));
                    }
                    let ra = err.retry_after;
                    (err, idempotent && (throttled || transient), ra)
                }
                Failure::Fatal(err) => return Err(err),
                Failure::NotSent(why) => {
                    let err = ConnectorError::new(
                        ErrorCode::ProviderUnavailable,
                        format!("could not connect to the provider ({why}); try again later"),
                    )
                    .with_details(json!({"cause": why}));
                    (err, true, None)
                }
                Failure::MaybeSent(why) => {
                    if !idempotent {
                        return Err(outcome_unknown(req, &why).with_details(json!({"cause": why})));
                    }
                    let err = ConnectorError::new(
                        ErrorCode::ProviderUnavailable,
                        format!("the provider did not answer ({why}); try again later"),
                    )
                    .with_details(json!({"cause": why}));
                    (err, true, None)
                }
            };
            if !retryable || attempt >= retry.max_attempts.max(1) {
                return Err(err);
            }
            let delay = retry_after.unwrap_or_else(|| backoff(retry, attempt));
            if waited + delay > retry.max_total_wait {
                return Err(err);
            }
            tracing::debug!(
                method = %req.method, path = %url.path(), attempt, delay_ms = delay.as_millis() as u64,
                code = %err.code, "retrying provider request"
            );
            waited += delay;
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        req: &ProviderRequest,
        url: &Url,
        token: Option<&Secret>,
    ) -> std::result::Result<ProviderResponse, Failure> {
        let _permit = match &self.inner.limit {
            Some(sem) => Some(
                sem.clone()
                    .acquire_owned()
                    .await
                    .expect("semaphore never closed"),
            ),
            None => None,
        };
        let cfg = &self.inner.config;
        let mut rb = self
            .inner
            .http
            .get()
            .request(req.method.clone(), url.clone())
            .timeout(cfg.total_timeout)
            .headers(req.headers.clone());
        if !req.headers.contains_key(USER_AGENT) {
            if let Ok(ua) = HeaderValue::from_str(&cfg.user_agent) {
                rb = rb.header(USER_AGENT, ua);
            }
        }
        if let Some(t) = token {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", t.expose())).map_err(|_| {
                Failure::Fatal(ConnectorError::new(
                    ErrorCode::Unauthenticated,
                    "the access token contains characters not allowed in an HTTP header",
                ))
            })?;
            v.set_sensitive(true);
            rb = rb.header(AUTHORIZATION, v);
        }
        rb = match &req.body {
            Body::Empty => rb,
            Body::Json(v) => rb.json(v),
            Body::Bytes { content_type, data } => rb
                .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                .body(data.clone()),
        };
        let resp = rb.send().await.map_err(|e| classify(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = read_body(resp, cfg.read_timeout).await?;
        tracing::debug!(method = %req.method, path = %url.path(), status, "provider response");
        if (200..300).contains(&status) {
            Ok(ProviderResponse {
                status,
                headers,
                body,
            })
        } else {
            Err(Failure::Status(
                error_from_response(status, &headers, &body),
                status,
            ))
        }
    }
}

async fn read_body(
    mut resp: reqwest::Response,
    read_timeout: Duration,
) -> std::result::Result<Bytes, Failure> {
    let mut buf = BytesMut::new();
    loop {
        match tokio::time::timeout(read_timeout, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.extend_from_slice(&chunk),
            Ok(Ok(None)) => return Ok(buf.freeze()),
            Ok(Err(e)) => return Err(Failure::MaybeSent(describe(&e))),
            Err(_) => return Err(Failure::MaybeSent("read timeout".into())),
        }
    }
}

fn classify(e: &reqwest::Error) -> Failure {
    if e.is_connect() {
        Failure::NotSent(describe(e))
    } else {
        Failure::MaybeSent(describe(e))
    }
}

/// An error's chain of causes, without the URL (its query may carry user data).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect error"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "connection error"
    };
    let mut causes = Vec::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        causes.push(s.to_string());
        src = s.source();
    }
    if causes.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {}", causes.join(": "))
    }
}

fn outcome_unknown(req: &ProviderRequest, why: &str) -> ConnectorError {
    ConnectorError::new(
        ErrorCode::OutcomeUnknown,
        format!(
            "the {} request may have reached the provider but no usable answer came back ({why}). \
             It was not retried because it is not safe to repeat: check whether it took effect \
             (look for the record it creates or changes) before calling again",
            req.method
        ),
    )
}

/// Exponential backoff with full jitter: uniform in `[0, min(max_delay, base * 2^(n-1))]`.
pub(crate) fn backoff(cfg: &RetryConfig, attempt: u32) -> Duration {
    let exp = cfg
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let cap = exp.min(cfg.max_delay);
    if cap.is_zero() {
        return Duration::ZERO;
    }
    let nanos = rand::thread_rng().gen_range(0..=cap.as_nanos().min(u64::MAX as u128) as u64);
    Duration::from_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_the_exponential_cap() {
        let cfg = RetryConfig {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            max_total_wait: Duration::from_secs(5),
        };
        for _ in 0..200 {
            assert!(backoff(&cfg, 1) <= Duration::from_millis(100));
            assert!(backoff(&cfg, 2) <= Duration::from_millis(200));
            assert!(backoff(&cfg, 3) <= Duration::from_millis(350));
            assert!(backoff(&cfg, 30) <= Duration::from_millis(350));
        }
    }

    #[test]
    fn urls_join_base_path_and_encode_query() {
        let c = ProviderClient::new(HttpConfig::new("http://127.0.0.1:9/v1.0/")).unwrap();
        let req = ProviderRequest::get("/me/messages")
            .query("$top", "5")
            .query("q", "a b&c");
        assert_eq!(
            c.url_for(&req).unwrap().as_str(),
            "http://127.0.0.1:9/v1.0/me/messages?%24top=5&q=a+b%26c"
        );
        let abs = ProviderRequest::get("http://other:1/next?$skiptoken=x");
        assert_eq!(
            c.url_for(&abs).unwrap().as_str(),
            "http://other:1/next?$skiptoken=x"
        );
        let rel = ProviderRequest::get("me");
        assert_eq!(c.url_for(&rel).unwrap().path(), "/v1.0/me");
        assert!(ProviderClient::new(HttpConfig::new("not a url")).is_err());
        let root = ProviderClient::new(HttpConfig::new("http://127.0.0.1:9")).unwrap();
        let req = ProviderRequest::get("/gmail/v1/users/me/labels");
        assert_eq!(
            root.url_for(&req).unwrap().as_str(),
            "http://127.0.0.1:9/gmail/v1/users/me/labels"
        );
    }

    #[test]
    fn a_request_on_a_named_root_goes_there_and_an_unknown_root_is_an_error() {
        let c = ProviderClient::new(
            HttpConfig::new("https://gmail.example")
                .with_root("calendar", "https://cal.example/api/"),
        )
        .unwrap();
        let req = ProviderRequest::get("/calendar/v3/users/me/calendarList").on_root("calendar");
        assert_eq!(
            c.url_for(&req).unwrap().as_str(),
            "https://cal.example/api/calendar/v3/users/me/calendarList"
        );
        assert_eq!(
            c.root_of(&req).unwrap().origin(),
            c.url_for(&req).unwrap().origin()
        );
        let unknown = ProviderRequest::get("/x").on_root("nowhere");
        let err = c.url_for(&unknown).unwrap_err();
        assert!(err.message.contains("nowhere"), "{}", err.message);
        assert!(
            ProviderClient::new(HttpConfig::new("https://a").with_root("b", "ftp://b")).is_err()
        );
    }
}
