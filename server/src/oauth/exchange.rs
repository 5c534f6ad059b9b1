//! The authorization-code exchange (with the PKCE verifier) through the `oauth2` crate over our
//! reqwest client (no redirects followed), and best-effort token revocation.

use std::future::Future;
use std::pin::Pin;

use connector_core::Secret;
use oauth2::basic::BasicClient;
use oauth2::{
    AsyncHttpClient, AuthType, AuthorizationCode, ClientId, ClientSecret, HttpRequest,
    HttpResponse, PkceCodeVerifier, RedirectUrl, RequestTokenError, TokenResponse, TokenUrl,
};

/// The tokens of a completed exchange. No `Debug`: it holds raw tokens.
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
}

/// The client credentials used for one flow. No `Debug`.
#[derive(Clone)]
pub struct ClientCreds {
    pub client_id: String,
    pub client_secret: Option<Secret>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

struct Http<'a>(&'a reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http<'_> {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|_| HttpError("could not build the token request".into()))?;
            let resp = self
                .0
                .execute(request)
                .await
                .map_err(|_| HttpError("the token endpoint could not be reached".into()))?;
            let mut builder = oauth2::http::Response::builder().status(resp.status().as_u16());
            for (k, v) in resp.headers() {
                builder = builder.header(k.as_str(), v.as_bytes());
            }
            let body = resp
                .bytes()
                .await
                .map_err(|_| HttpError("the token endpoint's answer broke off".into()))?;
            builder
                .body(body.to_vec())
                .map_err(|_| HttpError("the token endpoint's answer is not valid HTTP".into()))
        })
    }
}

/// The HTTP client of the flow: no redirects, bounded time.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("the HTTP client builds")
}

/// Exchanges the code; the error is a safe description (the provider's error code), never a
/// token or the code.
pub async fn exchange_code(
    http: &reqwest::Client,
    token_url: &str,
    redirect_uri: &str,
    client: &ClientCreds,
    code: &str,
    verifier: &str,
) -> Result<Tokens, String> {
    let mut c = BasicClient::new(ClientId::new(client.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(token_url.to_string()).map_err(|_| "bad token URL")?)
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_string()).map_err(|_| "bad redirect URI")?,
        );
    if let Some(s) = &client.client_secret {
        c = c.set_client_secret(ClientSecret::new(s.expose().to_string()));
    }
    let resp = c
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
        .request_async(&Http(http))
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => format!(
                "the provider refused the code exchange ({})",
                r.error().as_ref()
            ),
            RequestTokenError::Request(e) => e.to_string(),
            _ => "the token endpoint answered something unexpected".to_string(),
        })?;
    Ok(Tokens {
        access_token: Secret::new(resp.access_token().secret().clone()),
        refresh_token: resp
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone())),
        expires_in: resp.expires_in().map(|d| d.as_secs()),
        scope: resp
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
    })
}

/// RFC 7009 revocation, best effort: returns whether the provider accepted it.
pub async fn revoke(
    http: &reqwest::Client,
    revoke_url: &str,
    token: &Secret,
    client: Option<&ClientCreds>,
) -> bool {
    let mut form = vec![("token", token.expose().to_string())];
    if let Some(c) = client {
        form.push(("client_id", c.client_id.clone()));
        if let Some(s) = &c.client_secret {
            form.push(("client_secret", s.expose().to_string()));
        }
    }
    match http.post(revoke_url).form(&form).send().await {
        Ok(r) if r.status().is_success() => true,
        Ok(r) => {
            tracing::warn!(status = r.status().as_u16(), "token revocation refused");
            false
        }
        Err(_) => {
            tracing::warn!("token revocation endpoint unreachable");
            false
        }
    }
}
