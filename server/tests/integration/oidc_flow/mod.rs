//! Issues 7 and 10: the OAuth flow proven against a real authorization server, the npm package
//! `oidc-provider` (server/tests/oidc): PKCE required, refresh tokens rotated on every refresh
//! with reuse detection, opaque access tokens that the Gmail and Graph emulators accept only
//! after introspecting them at that server (authenticated as resource servers, audience
//! checked). The consent is driven as a browser would, hop by hop.
//!
//! Needs `npm ci` in server/tests/oidc (scripts/ci/oidc.sh); without it the tests fail when
//! `CI` is set and otherwise install it themselves (or skip loudly when npm is unavailable).

mod binary;
mod gmail;
mod outlook;

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use actix_web::web;
use auth_server::{AuthServer, Browser, Endpoints};
use sandbox_gmail::{GmailSandbox, SandboxConfig as GmailConfig};
use sandbox_outlook::{OutlookSandbox, SandboxConfig as OutlookConfig};
use serde_json::{json, Value};
use server::config::ProviderConfig;
use server::registry::Registry;
use server::{create_app, AppState, Config};

use crate::common::{auth_server, conformance};

/// Our callback as registered at the authorization server (the browser stops there and hands
/// the redirect to the in-process server).
pub const CALLBACK: &str = "http://127.0.0.1:9/api/v1/integrations/connectors/oauth/callback";
pub const ALLOWED: &str = "https://app.example/oauth";

pub const GMAIL_CLIENT: (&str, &str) = ("platform-gmail", "platform-gmail-secret");
pub const OUTLOOK_CLIENT: (&str, &str) = ("platform-outlook", "platform-outlook-secret");
/// The emulators' own clients at the authorization server (resource servers).
pub const GMAIL_API: (&str, &str) = ("gmail-api", "gmail-api-secret");
pub const GRAPH_API: (&str, &str) = ("graph-api", "graph-api-secret");

pub struct Env {
    pub state: web::Data<AppState>,
    pub auth: AuthServer,
    pub gmail: GmailSandbox,
    pub outlook: OutlookSandbox,
    _dir: tempfile::TempDir,
}

pub use crate::common::tenant_api::Org;

/// The authorization server's config for our two platform clients and the two emulators.
pub fn as_config(access_token_ttl: u64) -> Value {
    let client = |(id, secret): (&str, &str)| json!({"client_id": id, "client_secret": secret, "redirect_uris": [CALLBACK]});
    let rs = |(id, secret): (&str, &str)| json!({"client_id": id, "client_secret": secret});
    json!({
        "google": {"clients": [client(GMAIL_CLIENT)], "introspectors": [rs(GMAIL_API)], "access_token_ttl": access_token_ttl},
        "microsoft": {"clients": [client(OUTLOOK_CLIENT)], "introspectors": [rs(GRAPH_API)], "access_token_ttl": access_token_ttl},
    })
}

/// The authorization server (access tokens valid `access_token_ttl` seconds: under the
/// server's 5-minute refresh margin, every execute refreshes first), the emulators trusting
/// it, and a server configured with its endpoints. None: skipped (see common::auth_server).
pub async fn env(access_token_ttl: u64) -> Option<Env> {
    let auth = AuthServer::start(&as_config(access_token_ttl))?;
    let gmail = GmailSandbox::start(GmailConfig {
        quotas: false,
        introspection_url: Some(auth.google.introspection_url.clone()),
        introspection_client_id: Some(GMAIL_API.0.into()),
        introspection_client_secret: Some(GMAIL_API.1.into()),
        introspection_audience: Some("https://gmail.googleapis.com/".into()),
        ..Default::default()
    })
    .unwrap();
    let outlook = OutlookSandbox::start(OutlookConfig {
        quotas: false,
        introspection_url: Some(auth.microsoft.introspection_url.clone()),
        introspection_client_id: Some(GRAPH_API.0.into()),
        introspection_client_secret: Some(GRAPH_API.1.into()),
        introspection_audience: Some("https://graph.microsoft.com/".into()),
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    *config.providers.entry("gmail") =
        provider(GMAIL_CLIENT, &gmail.base_url(), &auth.google, true);
    *config.providers.entry("outlook") =
        provider(OUTLOOK_CLIENT, &outlook.base_url(), &auth.microsoft, false);
    let registry = Registry::builtin(&config.providers);
    let state = AppState::with_registry(config, registry).await.unwrap();
    Some(Env {
        state: web::Data::new(state),
        auth,
        gmail,
        outlook,
        _dir: dir,
    })
}

fn provider((id, secret): (&str, &str), api: &str, at: &Endpoints, revoke: bool) -> ProviderConfig {
    ProviderConfig {
        client_id: Some(id.into()),
        client_secret: Some(connector_core::Secret::new(secret)),
        base_url: Some(api.into()),
        token_url: Some(at.token_url.clone()),
        authorize_url: Some(at.authorize_url.clone()),
        revoke_url: revoke.then(|| at.revocation_url.clone()),
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

    /// The authorization server's redirect to our callback, as the browser requests it.
    /// Returns (status, Location).
    pub async fn callback(&self, redirect: &str) -> (StatusCode, String) {
        let path = redirect
            .strip_prefix("http://127.0.0.1:9")
            .unwrap_or_else(|| panic!("not our callback: {redirect}"));
        let app = test::init_service(create_app(self.state.clone())).await;
        let req = test::TestRequest::get().uri(path).to_request();
        let resp = test::call_service(&app, req).await;
        let status = resp.status();
        let seen = conformance::Seen::of(&resp);
        let loc = resp
            .headers()
            .get("Location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = test::read_body(resp).await;
        seen.check(&bytes);
        let body = String::from_utf8_lossy(&bytes).into_owned();
        assert!(
            status.is_redirection(),
            "callback answered {status}: {body}"
        );
        (status, loc)
    }

    /// `POST .../oauth/initiate`; returns the consent URL.
    pub async fn initiate(&self, org: &Org, body: Value) -> String {
        let (s, v) = self
            .call(
                org,
                Method::POST,
                "/api/v1/integrations/connectors/oauth/initiate",
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["consent_url"].as_str().unwrap().to_string()
    }

    /// initiate -> consent at the authorization server (answered with `answer`) -> callback;
    /// returns the redirect back to the application.
    pub async fn flow(&self, org: &Org, body: Value, answer: &[(&str, &str)]) -> String {
        let consent = self.initiate(org, body).await;
        let back = Browser::default()
            .authorize(&consent, answer, CALLBACK)
            .await;
        self.callback(&back).await.1
    }

    pub async fn connector_count(&self, org: &Org) -> usize {
        let (s, v) = self
            .call(org, Method::GET, "/api/v1/integrations/connectors", None)
            .await;
        assert_eq!(s, StatusCode::OK);
        v["data"].as_array().unwrap().len()
    }

    /// The connector's stored (decrypted) credential fields.
    pub async fn stored(&self, org: &Org, id: &str) -> Value {
        let row = self
            .state
            .store
            .get_connector(&org.id, id)
            .await
            .unwrap()
            .expect("the connector exists");
        let plain = self
            .state
            .vault
            .decrypt(&org.id, &row.credentials)
            .await
            .unwrap();
        let creds: Value = serde_json::from_slice(&plain).unwrap();
        creds["fields"].clone()
    }

    /// The stored refresh token.
    pub async fn stored_refresh(&self, org: &Org, id: &str) -> String {
        self.stored(org, id).await["refresh_token"]
            .as_str()
            .expect("a refresh token is stored")
            .to_string()
    }

    pub async fn execute(
        &self,
        org: &Org,
        id: &str,
        entity: &str,
        action: &str,
    ) -> (StatusCode, Value) {
        self.call(
            org,
            Method::POST,
            &format!("/api/v1/integrations/connectors/{id}/execute"),
            Some(json!({"entity": entity, "action": action, "params": {}})),
        )
        .await
    }
}

/// The connector id of a redirect back to the application (panics with the redirect if none).
pub fn connector_id(redirect: &str) -> String {
    auth_server::query(redirect)
        .get("connector_id")
        .cloned()
        .unwrap_or_else(|| panic!("no connector_id in {redirect}"))
}

/// Whether the authorization server still accepts `token` (introspected as the API client).
pub async fn active(at: &Endpoints, (id, secret): (&str, &str), token: &str) -> bool {
    auth_server::introspect(at, id, secret, token).await["active"] == json!(true)
}

/// Skips the test (returns) when the authorization server cannot run outside CI.
macro_rules! env_or_skip {
    ($ttl:expr) => {
        match $crate::oidc_flow::env($ttl).await {
            Some(e) => e,
            None => return,
        }
    };
}
pub(crate) use env_or_skip;
