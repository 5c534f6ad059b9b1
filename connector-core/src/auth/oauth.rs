//! [`OAuthTokenSource`]: the refresh-token grant through the `oauth2` crate, over our reqwest
//! client (no redirects), with single-flight refresh and the persistence callback.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AsyncHttpClient, AuthType, ClientId, ClientSecret, HttpRequest, HttpResponse, RefreshToken,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde_json::json;
use tokio::sync::Mutex;

use super::{OAuthCredentials, OnRefresh, RefreshedTokens, TokenProvider};
use crate::http::parse_retry_after;
use crate::{ConnectorError, ErrorCode, Result, Secret};

/// Refresh when the token expires within this margin.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Longest wait for the token endpoint.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// OAuth refresh-token grant with single-flight refresh: concurrent callers that find the token
/// missing or stale wait for one token request and share its result.
///
/// Cheap to clone (clones share the token state).
#[derive(Clone)]
pub struct OAuthTokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    /// Held for the whole refresh (callback included): this is the single flight.
    state: Mutex<State>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    token_url: Option<String>,
    scope: Option<String>,
    http: reqwest::Client,
    on_refresh: std::sync::Mutex<Option<OnRefresh>>,
}

struct State {
    access: Option<Secret>,
    expires_at: Option<SystemTime>,
    refresh: Option<Secret>,
}

impl std::fmt::Debug for OAuthTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthTokenSource")
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &self.inner.client_secret)
            .field("token_url", &self.inner.token_url)
            .field("on_refresh", &self.callback().is_some())
            .finish_non_exhaustive()
    }
}

impl OAuthTokenSource {
    /// Checks the credentials: an access token, or a refresh token with a client id and a token
    /// URL, must be given. `http` should not follow redirects.
    pub fn new(creds: OAuthCredentials, http: reqwest::Client) -> Result<OAuthTokenSource> {
        let can_refresh = creds.refresh_token.is_some();
        if can_refresh {
            let mut missing = Vec::new();
            if creds.client_id.as_deref().is_none_or(str::is_empty) {
                missing.push("client_id");
            }
            if creds.token_url.as_deref().is_none_or(str::is_empty) {
                missing.push("token_url");
            }
            if !missing.is_empty() {
                return Err(ConnectorError::invalid_params(format!(
                    "a refresh_token needs {} to be refreshed",
                    missing.join(" and ")
                ))
                .with_details(json!({"missing": missing})));
            }
            let url = creds.token_url.as_deref().unwrap_or_default();
            TokenUrl::new(url.to_string()).map_err(|e| {
                ConnectorError::invalid_params(format!("token_url `{url}` is not a URL: {e}"))
            })?;
        } else if creds.access_token.is_none() {
            return Err(ConnectorError::invalid_params(
                "OAuth credentials need an access_token, or a refresh_token with client_id and token_url",
            ));
        }
        Ok(OAuthTokenSource {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    access: creds.access_token,
                    expires_at: creds.expires_at,
                    refresh: creds.refresh_token,
                }),
                client_id: creds.client_id,
                client_secret: creds.client_secret,
                token_url: creds.token_url,
                scope: creds.scope,
                http,
                on_refresh: std::sync::Mutex::new(None),
            }),
        })
    }

    /// Sets the persistence callback (replacing any earlier one; clones share it).
    pub fn on_refresh(self, callback: OnRefresh) -> Self {
        *self
            .inner
            .on_refresh
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(callback);
        self
    }

    fn callback(&self) -> Option<OnRefresh> {
        self.inner
            .on_refresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Refreshes now, whatever the token's age (also used after a 401).
    pub async fn force_refresh(&self) -> Result<Secret> {
        let mut state = self.inner.state.lock().await;
        self.refresh_locked(&mut state, false).await
    }

    /// Refreshes while holding the state lock. With `early` (the token is still valid, only
    /// near expiry), an unreachable or throttling token endpoint falls back to the current token.
    async fn refresh_locked(&self, state: &mut State, early: bool) -> Result<Secret> {
        let Some(refresh) = state.refresh.clone() else {
            return Err(ConnectorError::new(
                ErrorCode::Unauthenticated,
                "the access token is expired or was rejected and no refresh token was given: \
                 provide a fresh access token, or a refresh token with client credentials",
            ));
        };
        let tokens = match self.request_tokens(&refresh).await {
            Ok(t) => t,
            Err(e) if early && is_transient(&e) => match still_valid(state) {
                Some(current) => {
                    tracing::warn!(code = %e.code, "early token refresh failed; using the current token");
                    return Ok(current);
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        if let Some(rotated) = &tokens.refresh_token {
            // Keep the rotated token even if persisting fails: the old one may be dead now.
            state.refresh = Some(rotated.clone());
        }
        if let Some(cb) = self.callback() {
            cb(tokens.clone()).await.map_err(|e| {
                ConnectorError::new(
                    e.code,
                    format!(
                        "the refreshed tokens could not be stored ({}); the call was not made",
                        e.message
                    ),
                )
                .with_details(e.details)
            })?;
        }
        state.access = Some(tokens.access_token.clone());
        state.expires_at = tokens.expires_at;
        Ok(tokens.access_token)
    }

    async fn request_tokens(&self, refresh: &Secret) -> Result<RefreshedTokens> {
        let inner = &self.inner;
        let mut client =
            BasicClient::new(ClientId::new(inner.client_id.clone().unwrap_or_default()))
                .set_auth_type(AuthType::RequestBody)
                .set_token_uri(
                    TokenUrl::new(inner.token_url.clone().unwrap_or_default())
                        .map_err(|_| ConnectorError::internal("token_url is not a URL"))?,
                );
        if let Some(s) = &inner.client_secret {
            client = client.set_client_secret(ClientSecret::new(s.expose().to_string()));
        }
        let rt = RefreshToken::new(refresh.expose().to_string());
        let mut req = client.exchange_refresh_token(&rt);
        if let Some(scope) = &inner.scope {
            for s in scope.split_whitespace() {
                req = req.add_scope(Scope::new(s.to_string()));
            }
        }
        let http = TokenHttp(&inner.http);
        let started = SystemTime::now();
        let resp = req.request_async(&http).await.map_err(token_error)?;
        let rotated = resp
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone()))
            .filter(|t| t != refresh);
        tracing::info!(rotated = rotated.is_some(), "refreshed OAuth access token");
        Ok(RefreshedTokens {
            access_token: Secret::new(resp.access_token().secret().clone()),
            expires_at: resp.expires_in().map(|d| started + d),
            refresh_token: rotated,
            scope: resp
                .scopes()
                .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        })
    }
}

/// One refresh-token grant, with no state, single flight or callback: for token providers that
/// coordinate refreshes themselves (the server refreshes under a database lock and stores the
/// result in the same transaction). `creds` needs a refresh token, a client id and a token URL;
/// `http` should not follow redirects. A rotated refresh token is returned in
/// [`RefreshedTokens::refresh_token`]; `invalid_grant` is [`ErrorCode::NeedsReauth`].
pub async fn refresh_grant(
    creds: &OAuthCredentials,
    http: &reqwest::Client,
) -> Result<RefreshedTokens> {
    let Some(refresh) = creds.refresh_token.clone() else {
        return Err(ConnectorError::new(
            ErrorCode::Unauthenticated,
            "the access token is expired or was rejected and no refresh token was given: \
             provide a fresh access token, or a refresh token with client credentials",
        ));
    };
    let source = OAuthTokenSource::new(creds.clone(), http.clone())?;
    source.request_tokens(&refresh).await
}

fn is_transient(e: &ConnectorError) -> bool {
    matches!(
        e.code,
        ErrorCode::ProviderUnavailable | ErrorCode::RateLimited
    )
}

/// The current token when it has at least a minute left.
fn still_valid(state: &State) -> Option<Secret> {
    let at = state.expires_at?;
    (SystemTime::now() + Duration::from_secs(60) < at)
        .then(|| state.access.clone())
        .flatten()
}

fn fresh(state: &State) -> Option<Secret> {
    let token = state.access.as_ref()?;
    match state.expires_at {
        Some(at) if SystemTime::now() + REFRESH_MARGIN >= at => None,
        _ => Some(token.clone()),
    }
}

#[async_trait]
impl TokenProvider for OAuthTokenSource {
    async fn access_token(&self) -> Result<Secret> {
        let mut state = self.inner.state.lock().await;
        if let Some(t) = fresh(&state) {
            return Ok(t);
        }
        if state.refresh.is_none() {
            // Nothing to refresh with: let the provider judge the token we have.
            if let Some(t) = state.access.clone() {
                return Ok(t);
            }
        }
        self.refresh_locked(&mut state, true).await
    }

    async fn refresh_after_unauthorized(&self, rejected: &Secret) -> Result<Secret> {
        let mut state = self.inner.state.lock().await;
        if let Some(current) = &state.access {
            if current != rejected {
                // Someone refreshed while we waited: use theirs.
                return Ok(current.clone());
            }
        }
        self.refresh_locked(&mut state, false).await
    }
}

/// Why the token endpoint call failed, before `oauth2` wraps it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct TokenHttpError {
    code: ErrorCode,
    message: String,
    retry_after: Option<Duration>,
}

/// `oauth2`'s async HTTP client over our reqwest client.
struct TokenHttp<'a>(&'a reqwest::Client);

impl<'c> AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = TokenHttpError;
    type Future = Pin<
        Box<dyn Future<Output = std::result::Result<HttpResponse, TokenHttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let mut request = reqwest::Request::try_from(request).map_err(|_| TokenHttpError {
                code: ErrorCode::Internal,
                message: "could not build the token request".into(),
                retry_after: None,
            })?;
            // The shared client may have no timeout: never let a refresh hang every caller.
            request.timeout_mut().get_or_insert(TOKEN_TIMEOUT);
            let resp = self.0.execute(request).await.map_err(|e| TokenHttpError {
                code: ErrorCode::ProviderUnavailable,
                message: format!(
                    "the token endpoint could not be reached ({})",
                    if e.is_timeout() {
                        "timeout"
                    } else if e.is_connect() {
                        "connect error"
                    } else {
                        "connection error"
                    }
                ),
                retry_after: None,
            })?;
            let status = resp.status();
            let retry_after = parse_retry_after(resp.headers());
            if status.is_redirection() {
                return Err(TokenHttpError {
                    code: ErrorCode::ProviderError,
                    message: format!(
                        "the token endpoint answered with a redirect (HTTP {}), which is not followed; check token_url",
                        status.as_u16()
                    ),
                    retry_after: None,
                });
            }
            if status.is_server_error() || status.as_u16() == 429 {
                let code = if status.as_u16() == 429 {
                    ErrorCode::RateLimited
                } else {
                    ErrorCode::ProviderUnavailable
                };
                return Err(TokenHttpError {
                    code,
                    message: format!("the token endpoint answered HTTP {}", status.as_u16()),
                    retry_after,
                });
            }
            let mut builder = oauth2::http::Response::builder().status(status.as_u16());
            for (k, v) in resp.headers() {
                builder = builder.header(k.as_str(), v.as_bytes());
            }
            let body = resp.bytes().await.map_err(|_| TokenHttpError {
                code: ErrorCode::ProviderUnavailable,
                message: "the token endpoint's answer broke off".into(),
                retry_after: None,
            })?;
            builder.body(body.to_vec()).map_err(|_| TokenHttpError {
                code: ErrorCode::ProviderError,
                message: "the token endpoint's answer is not valid HTTP".into(),
                retry_after: None,
            })
        })
    }
}

type TokenErr = RequestTokenError<TokenHttpError, oauth2::basic::BasicErrorResponse>;

fn token_error(e: TokenErr) -> ConnectorError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let code = r.error().as_ref().to_string();
            let description = r.error_description().cloned();
            let details = json!({"provider_code": code, "provider_message": description});
            match r.error() {
                BasicErrorResponseType::InvalidGrant => ConnectorError::new(
                    ErrorCode::NeedsReauth,
                    "the refresh token was revoked or expired (invalid_grant): the end user must authorize again",
                ),
                BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => {
                    ConnectorError::new(
                        ErrorCode::Unauthenticated,
                        format!("the token endpoint rejected the OAuth client ({code}): check client_id and client_secret"),
                    )
                }
                _ => ConnectorError::new(
                    ErrorCode::ProviderError,
                    format!("the token endpoint refused the refresh ({code})"),
                ),
            }
            .with_details(details)
        }
        RequestTokenError::Request(e) => ConnectorError::new(
            e.code,
            format!(
                "could not refresh the access token: {}; try again later",
                e.message
            ),
        )
        .with_retry_after(e.retry_after),
        RequestTokenError::Parse(_, _) => ConnectorError::new(
            ErrorCode::ProviderError,
            "the token endpoint answered with a body that is not an OAuth token response",
        ),
        RequestTokenError::Other(_) => ConnectorError::new(
            ErrorCode::ProviderError,
            "the token endpoint answered with an unexpected response",
        ),
    }
}
