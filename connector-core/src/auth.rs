//! Access tokens: a static token, or an OAuth refresh-token grant with single-flight refresh and
//! a persistence callback for rotated tokens.

mod oauth;

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::{ConnectorError, ErrorCode, Result, Secret};

pub use oauth::{refresh_grant, OAuthTokenSource};

/// Gives the connector an access token for each provider call.
///
/// The server plugs in its own implementation (database lock across replicas); the library
/// default is [`OAuthTokenSource`] or [`StaticToken`].
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// A token valid for at least the next request: refreshes first when the token is missing
    /// or within 5 minutes of expiry.
    async fn access_token(&self) -> Result<Secret>;

    /// The provider answered 401 to `rejected`: refresh (once, shared by every caller that saw
    /// the same token rejected) and return the new token. A provider without refresh returns
    /// `unauthenticated`.
    async fn refresh_after_unauthorized(&self, rejected: &Secret) -> Result<Secret>;
}

/// Tokens a refresh produced, handed to the persistence callback before the access token is used.
#[derive(Debug, Clone)]
pub struct RefreshedTokens {
    pub access_token: Secret,
    pub expires_at: Option<SystemTime>,
    /// Present when the provider rotated the refresh token.
    pub refresh_token: Option<Secret>,
    /// Granted scopes when the token response names them.
    pub scope: Option<String>,
}

/// Called with every refresh's tokens; the new access token is used only after it completes.
/// An error fails the refresh (the rotated token would otherwise be lost). It runs while the
/// token source holds its refresh lock: it must not ask the same source for a token.
pub type OnRefresh = Arc<dyn Fn(RefreshedTokens) -> BoxFuture<'static, Result<()>> + Send + Sync>;

/// Credentials for [`OAuthTokenSource`]: an access token, or a refresh token with client
/// credentials and a token URL (or both).
#[derive(Debug, Clone, Default)]
pub struct OAuthCredentials {
    pub access_token: Option<Secret>,
    pub expires_at: Option<SystemTime>,
    pub refresh_token: Option<Secret>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub token_url: Option<String>,
    /// Extra form fields sent with a refresh (Microsoft's `scope`).
    pub scope: Option<String>,
}

/// A fixed token that is never refreshed.
#[derive(Debug, Clone)]
pub struct StaticToken(pub Secret);

impl StaticToken {
    pub fn new(token: impl Into<String>) -> Self {
        StaticToken(Secret::new(token))
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn access_token(&self) -> Result<Secret> {
        Ok(self.0.clone())
    }

    async fn refresh_after_unauthorized(&self, _rejected: &Secret) -> Result<Secret> {
        Err(ConnectorError::new(
            ErrorCode::Unauthenticated,
            "the provider rejected the access token (401) and no refresh token was given: \
             provide a fresh access token, or a refresh token with client credentials",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_token_gives_its_token_and_cannot_refresh() {
        let t = StaticToken::new("tok-123");
        assert_eq!(t.access_token().await.unwrap().expose(), "tok-123");
        let e = t
            .refresh_after_unauthorized(&Secret::new("tok-123"))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthenticated);
        assert!(!format!("{t:?} {e:?}").contains("tok-123"));
    }
}
