//! A server on `create_app` with its Gmail and Outlook provider endpoints pointed at the
//! emulators' own OAuth routes, an organization with a bearer token, and a browser that
//! follows the consent redirect.

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use actix_web::web;
use sandbox_gmail::{GmailSandbox, SandboxConfig as GmailConfig};
use sandbox_outlook::{OutlookSandbox, SandboxConfig as OutlookConfig};
use serde_json::Value;
use server::config::ProviderConfig;
use server::registry::Registry;
use server::{create_app, AppState, Config};

pub const CALLBACK: &str = "http://127.0.0.1:9/api/v1/integrations/connectors/oauth/callback";
pub const ALLOWED: &str = "https://app.example/oauth";

pub struct Env {
    pub state: web::Data<AppState>,
    pub gmail: GmailSandbox,
    _outlook: OutlookSandbox,
    _dir: tempfile::TempDir,
}

pub use crate::common::tenant_api::{connector_get, delete_connector, Org};

pub async fn env_with(tweak: impl FnOnce(&mut Config)) -> Env {
    let gmail = GmailSandbox::start(GmailConfig {
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    let outlook = OutlookSandbox::start(OutlookConfig {
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    *config.providers.entry("gmail") = provider(
        &gmail.base_url(),
        &gmail.token_url(),
        &gmail.authorize_url(),
    );
    *config.providers.entry("outlook") = provider(
        &outlook.base_url(),
        &outlook.token_url(),
        &outlook.authorize_url(),
    );
    tweak(&mut config);
    let registry = Registry::builtin(&config.providers);
    let state = AppState::with_registry(config, registry).await.unwrap();
    Env {
        state: web::Data::new(state),
        gmail,
        _outlook: outlook,
        _dir: dir,
    }
}

fn provider(base: &str, token: &str, authorize: &str) -> ProviderConfig {
    ProviderConfig {
        client_id: Some("platform-client".into()),
        client_secret: Some(connector_core::Secret::new("platform-secret")),
        base_url: Some(base.into()),
        token_url: Some(token.into()),
        authorize_url: Some(authorize.into()),
        redirect_uri: Some(CALLBACK.into()),
        ..Default::default()
    }
}

impl Env {
    pub async fn org(&self, name: &str) -> Org {
        crate::common::tenant_api::org(&self.state, name, ALLOWED).await
    }

    /// An API call as the organization's application.
    pub async fn call(
        &self,
        org: &Org,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        crate::common::tenant_api::call(&self.state, org, method, path, body).await
    }

    /// The provider's redirect to our callback, requested as the browser would (no API token).
    /// Returns (status, Location, body).
    pub async fn callback(&self, path_and_query: &str) -> (StatusCode, String, String) {
        let app = test::init_service(create_app(self.state.clone())).await;
        let req = test::TestRequest::get().uri(path_and_query).to_request();
        let resp = test::call_service(&app, req).await;
        let status = resp.status();
        let seen = crate::common::conformance::Seen::of(&resp);
        let loc = resp
            .headers()
            .get("Location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = test::read_body(resp).await;
        seen.check(&bytes);
        let body = String::from_utf8_lossy(&bytes).into_owned();
        (status, loc, body)
    }

    pub async fn initiate(&self, org: &Org, body: Value) -> (StatusCode, Value) {
        self.call(
            org,
            Method::POST,
            "/api/v1/integrations/connectors/oauth/initiate",
            Some(body),
        )
        .await
    }

    pub async fn connector_count(&self, org: &Org) -> usize {
        let (s, v) = self
            .call(org, Method::GET, "/api/v1/integrations/connectors", None)
            .await;
        assert_eq!(s, StatusCode::OK);
        v["data"].as_array().unwrap().len()
    }
}

/// Follows a consent URL at the provider (the emulator approves at once) and returns the path
/// and query of its redirect to our callback.
pub async fn consent(consent_url: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(consent_url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302, "{:?}", resp.text().await);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let rest = loc
        .strip_prefix("http://127.0.0.1:9")
        .unwrap_or_else(|| panic!("redirected to our callback: {loc}"));
    rest.to_string()
}

pub fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Replaces one query parameter of a URL (or a path and query).
pub fn set_param(url: &str, key: &str, value: &str) -> String {
    let (abs, prefix) = if url.starts_with('/') {
        (format!("http://x{url}"), true)
    } else {
        (url.to_string(), false)
    };
    let mut u = url::Url::parse(&abs).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == key {
                (k, value.to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    let s = u.to_string();
    if prefix {
        s.strip_prefix("http://x").unwrap().to_string()
    } else {
        s
    }
}
