//! In-process mode: a core `Connector` with the caller's own OAuth credentials.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use connector_core::auth::OnRefresh;
use connector_core::{
    Connector, ConnectorError, HttpConfig, OAuthCredentials, OAuthTokenSource, RefreshedTokens,
    Result, Secret, StaticToken, TokenProvider,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::spec::Kind;

/// What `NativeConnector(kind, ...)` takes, checked by the Python auth config classes first.
pub struct LocalAuth {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub token_url: Option<String>,
    pub tenant: Option<String>,
    pub base_url: Option<String>,
    pub timeout: Option<f64>,
    pub on_token_refresh: Option<Py<PyAny>>,
}

pub fn build(kind: Kind, mut auth: LocalAuth) -> Result<Connector> {
    let callback = auth.on_token_refresh.take();
    let token = token_provider(kind, &auth, callback)?;
    let provider = kind.descriptor();
    let base_url = auth
        .base_url
        .clone()
        .unwrap_or_else(|| provider.api_base_url.to_string());
    let mut http = HttpConfig::new(base_url);
    if let Some(secs) = auth.timeout {
        let t = Duration::try_from_secs_f64(secs).map_err(|_| {
            ConnectorError::invalid_params("timeout must be a positive number of seconds")
        })?;
        http.total_timeout = t;
        http.read_timeout = http.read_timeout.min(t);
        http.connect_timeout = http.connect_timeout.min(t);
    }
    // The runtime context lets the crates spawn or build clients that need one.
    let _guard = crate::runtime().enter();
    (provider.connector)(token, http)
}

fn token_provider(
    kind: Kind,
    auth: &LocalAuth,
    callback: Option<Py<PyAny>>,
) -> Result<Arc<dyn TokenProvider>> {
    let Some(refresh_token) = auth.refresh_token.clone() else {
        let access = auth
            .access_token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ConnectorError::invalid_params("an access_token or a refresh_token is required")
            })?;
        return Ok(Arc::new(StaticToken(Secret::new(access))));
    };
    let provider = kind.descriptor();
    let token_url = auth
        .token_url
        .clone()
        .unwrap_or_else(|| provider.oauth.token_url_for(auth.tenant.as_deref()));
    // The caller's grant is not known here: the provider's refresh rule decides (no scopes
    // beyond the grant's are ever asked for).
    let scope = provider.refresh_scope(None);
    let creds = OAuthCredentials {
        access_token: auth.access_token.clone().map(Secret::new),
        expires_at: None,
        refresh_token: Some(Secret::new(refresh_token)),
        client_id: auth.client_id.clone(),
        client_secret: auth.client_secret.clone().map(Secret::new),
        token_url: Some(token_url),
        scope,
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ConnectorError::internal("could not build the HTTP client").with_source(e))?;
    let mut source = OAuthTokenSource::new(creds, client)?;
    if let Some(cb) = callback {
        source = source.on_refresh(python_callback(cb));
    }
    Ok(Arc::new(source))
}

/// Runs the Python `on_token_refresh(tokens)` on a blocking thread (it takes the GIL) before the
/// new access token is used; an exception in it fails the refresh, as core requires.
fn python_callback(cb: Py<PyAny>) -> OnRefresh {
    let cb = Arc::new(cb);
    Arc::new(move |tokens: RefreshedTokens| {
        let cb = Arc::clone(&cb);
        Box::pin(async move {
            let joined =
                tokio::task::spawn_blocking(move || Python::attach(|py| call(py, &cb, tokens)))
                    .await;
            match joined {
                Ok(Ok(())) => Ok(()),
                Ok(Err(exc)) => Err(ConnectorError::internal(format!(
                    "on_token_refresh raised {exc}: the refreshed tokens were not accepted"
                ))),
                Err(_) => Err(ConnectorError::internal(
                    "on_token_refresh did not complete",
                )),
            }
        })
    })
}

/// Calls `cb({"access_token", "refresh_token", "expires_at", "scope"})`. On failure, returns
/// only the exception's type name: its message could quote a token.
fn call(
    py: Python<'_>,
    cb: &Py<PyAny>,
    tokens: RefreshedTokens,
) -> std::result::Result<(), String> {
    let type_name = |e: PyErr| {
        e.get_type(py)
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "an exception".into())
    };
    let expires_at = tokens
        .expires_at
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    let d = PyDict::new(py);
    d.set_item("access_token", tokens.access_token.expose())
        .and_then(|()| {
            d.set_item(
                "refresh_token",
                tokens.refresh_token.as_ref().map(Secret::expose),
            )
        })
        .and_then(|()| d.set_item("expires_at", expires_at))
        .and_then(|()| d.set_item("scope", tokens.scope))
        .map_err(type_name)?;
    let out = cb.call1(py, (d,)).map_err(type_name)?;
    if out.bind(py).hasattr("__await__").unwrap_or(false) {
        // An awaitable nobody will await: the tokens would silently not be saved.
        let _ = out.call_method0(py, "close");
        return Err("an awaitable (it must be a plain function)".into());
    }
    Ok(())
}
