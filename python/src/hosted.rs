//! Hosted mode: the same `execute` through a running `connectors serve`.
//!
//! The application token (`POST /api/v1/account/applications/token`) is cached until shortly
//! before it expires and fetched again after a 401; the connector id is looked up by customer
//! name once (`GET /api/v1/integrations/connectors?customer_name=...`) and cached.
//!
//! Requests and answers are the server's own types (`api-types`): a field renamed on either
//! side fails to compile, and an answer that does not match them is an error naming the field.

use std::time::{Duration, Instant};

use api_types::{ConnectorList, ExecuteRequest, ExecuteResponse, TokenRequest, TokenResponse};
use connector_core::{ConnectorError, ErrorCode, Output, Result, Secret};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use tokio::sync::{Mutex, OnceCell};

/// Tokens are fetched again this long before the server says they expire.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

pub struct HostedConfig {
    pub server_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub organization_id: String,
    pub customer_name: String,
    pub connector_id: Option<String>,
    /// `gmail` or `outlook`: filters the connector lookup.
    pub connector_type: &'static str,
    pub timeout: Duration,
}

pub struct HostedClient {
    cfg: HostedConfig,
    base: url::Url,
    http: reqwest::Client,
    token: Mutex<Option<(Secret, Instant)>>,
    connector_id: OnceCell<String>,
}

fn unavailable(what: &str, e: reqwest::Error) -> ConnectorError {
    let code = if e.is_timeout() {
        ErrorCode::OutcomeUnknown
    } else {
        ErrorCode::ProviderUnavailable
    };
    ConnectorError::new(
        code,
        format!(
            "the connectors server did not answer {what}: {}",
            e.without_url()
        ),
    )
}

impl HostedClient {
    pub fn new(cfg: HostedConfig) -> Result<Self> {
        let mut base = url::Url::parse(&cfg.server_url)
            .map_err(|e| ConnectorError::invalid_params(format!("server_url is not a URL: {e}")))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(cfg.timeout)
            .user_agent(concat!(
                "agent-connectors-python/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| {
                ConnectorError::internal("could not build the HTTP client").with_source(e)
            })?;
        let connector_id = match &cfg.connector_id {
            Some(id) => OnceCell::new_with(Some(id.clone())),
            None => OnceCell::new(),
        };
        Ok(HostedClient {
            cfg,
            base,
            http,
            token: Mutex::new(None),
            connector_id,
        })
    }

    fn url(&self, path: &str) -> Result<url::Url> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| ConnectorError::internal(format!("bad server path: {e}")))
    }

    /// The application token, from the cache or the token endpoint.
    async fn token(&self, rejected: Option<&Secret>) -> Result<Secret> {
        let mut slot = self.token.lock().await;
        if let Some((token, expires)) = slot.as_ref() {
            let was_rejected = rejected.is_some_and(|r| r == token);
            if !was_rejected && Instant::now() < *expires {
                return Ok(token.clone());
            }
        }
        let resp = self
            .http
            .post(self.url("api/v1/account/applications/token")?)
            .json(&TokenRequest {
                client_id: self.cfg.client_id.clone(),
                client_secret: self.cfg.client_secret.clone(),
            })
            .send()
            .await
            .map_err(|e| unavailable("the token request", e))?;
        let body: TokenResponse = read(resp).await?;
        let expires =
            Instant::now() + Duration::from_secs(body.expires_in).saturating_sub(TOKEN_MARGIN);
        let token = Secret::new(body.access_token);
        *slot = Some((token.clone(), expires));
        Ok(token)
    }

    /// One authorized call; after a 401 the token is fetched again and the call repeated once.
    async fn call<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> Result<reqwest::RequestBuilder>,
    ) -> Result<T> {
        let mut token = self.token(None).await?;
        for attempt in 0..2 {
            let resp = build()?
                .bearer_auth(token.expose())
                .header("X-Organization-Id", &self.cfg.organization_id)
                .send()
                .await
                .map_err(|e| unavailable("the call", e))?;
            if resp.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                token = self.token(Some(&token)).await?;
                continue;
            }
            return read(resp).await;
        }
        unreachable!("the loop returns on its second attempt")
    }

    async fn connector_id(&self) -> Result<&str> {
        self.connector_id
            .get_or_try_init(|| async {
                let mut url = self.url("api/v1/integrations/connectors")?;
                url.query_pairs_mut()
                    .append_pair("customer_name", &self.cfg.customer_name)
                    .append_pair("connector_type", self.cfg.connector_type);
                let body: ConnectorList = self.call(|| Ok(self.http.get(url.clone()))).await?;
                let found: Vec<_> = body
                    .data
                    .into_iter()
                    .filter(|c| c.connector_type == self.cfg.connector_type)
                    .collect();
                let ty = self.cfg.connector_type;
                let customer = &self.cfg.customer_name;
                match found.as_slice() {
                    [one] => Ok(one.id.clone()),
                    [] => Err(ConnectorError::not_found(format!(
                        "no {ty} connector for customer `{customer}`: create one first (OAuth flow or POST /api/v1/integrations/connectors)"
                    ))),
                    _ => Err(ConnectorError::new(
                        ErrorCode::Conflict,
                        format!("customer `{customer}` has {} {ty} connectors: pass connector_id to choose one", found.len()),
                    )),
                }
            })
            .await
            .map(String::as_str)
    }

    pub async fn execute(
        &self,
        entity: &str,
        action: &str,
        params: Value,
        idempotency_key: Option<String>,
    ) -> Result<Output> {
        let id = self.connector_id().await?;
        let url = self.url(&format!("api/v1/integrations/connectors/{id}/execute"))?;
        let body = ExecuteRequest {
            entity: entity.to_string(),
            action: action.to_string(),
            params,
            idempotency_key,
        };
        let answer: ExecuteResponse = self
            .call(|| Ok(self.http.post(url.clone()).json(&body)))
            .await?;
        let metadata = match answer.connector_metadata {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Ok(Output {
            result: answer.result,
            metadata,
        })
    }
}

/// A 2xx body decoded as `T`, or the server's error body (`api_types::ErrorBody`) as a
/// `ConnectorError`. A body that does not match its type is a `provider_error` naming the
/// field and its JSON path; an answer that is not JSON at all (a proxy's error page) becomes
/// the code of its HTTP status.
async fn read<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0);
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| unavailable("with a complete body", e))?;
    if status.is_success() {
        return api_types::decode(&bytes).map_err(mismatch);
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() {
        let code = match status.as_u16() {
            401 => ErrorCode::Unauthenticated,
            403 => ErrorCode::PermissionDenied,
            404 => ErrorCode::NotFound,
            429 => ErrorCode::RateLimited,
            500..=599 => ErrorCode::ProviderUnavailable,
            _ => ErrorCode::ProviderError,
        };
        return Err(ConnectorError::new(
            code,
            format!("the connectors server answered HTTP {status}"),
        )
        .with_retry_after(retry_after.map(Duration::from_secs_f64)));
    }
    let body: api_types::ErrorBody = api_types::decode(&bytes).map_err(mismatch)?;
    let mut err = body.into_error();
    if err.retry_after.is_none() {
        err.retry_after = retry_after.map(Duration::from_secs_f64);
    }
    Err(err)
}

/// An answer that does not match the shared types: server and client versions differ.
fn mismatch(e: api_types::DecodeError) -> ConnectorError {
    ConnectorError::new(
        ErrorCode::ProviderError,
        format!(
            "the connectors server answered a body this client cannot read ({e}): server and client versions differ"
        ),
    )
    .with_details(json!({"path": e.path}))
}
