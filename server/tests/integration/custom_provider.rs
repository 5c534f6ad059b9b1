//! A connector type defined only in this test (its own descriptor, spec and a small provider API
//! with OAuth endpoints on wiremock) served end to end by the real server app: created from
//! credentials, executed (with a refresh at its tenant's token endpoint), and connected through
//! OAuth initiate + callback. The server's source names no such type: adding a connector type
//! is a descriptor in a list.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use actix_web::http::{Method, StatusCode};
use actix_web::{test, web};
use connector_core::provider::{OAuthEndpoints, RefreshRules, ScopeSets};
use connector_core::{
    CompiledSpec, Connector, ConnectorSpec, HttpConfig, ProviderDescriptor, TokenProvider,
};
use serde_json::{json, Value};
use server::config::ProviderConfig;
use server::registry::Registry;
use server::{create_app, AppState, Config};

use crate::common::tenant_api::{call, org, Org};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Where the test's provider runs (its endpoints are functions of this root and the tenant).
static ROOT: OnceLock<String> = OnceLock::new();

fn root() -> &'static str {
    ROOT.get().expect("the provider is running")
}

fn authorize_url(tenant: &str) -> String {
    format!("{}/{tenant}/oauth/authorize", root())
}

fn token_url(tenant: &str) -> String {
    format!("{}/{tenant}/oauth/token", root())
}

const SPEC: &str = r#"{
  "name": "notes",
  "version": "0.1.0",
  "description": "Notes of a small test provider.",
  "auth": {
    "fields": {
      "access_token": {"description": "An access token.", "secret": true},
      "refresh_token": {"description": "A refresh token.", "secret": true},
      "client_id": {"description": "OAuth client id."},
      "client_secret": {"description": "OAuth client secret.", "secret": true},
      "tenant": {"description": "Workspace of the account.", "default": "home"}
    },
    "one_of": [["access_token"], ["refresh_token", "client_id"]]
  },
  "entities": {
    "profile": {
      "description": "The account.",
      "actions": {
        "get": {
          "description": "The account's address.",
          "params": {"type": "object", "properties": {}, "additionalProperties": false},
          "result": {"type": "object"},
          "request": {"method": "GET", "path": "/v1/me", "response": {"snake_case_keys": true}},
          "scopes": ["notes.read"],
          "idempotent": true
        }
      }
    },
    "notes": {
      "description": "Notes.",
      "actions": {
        "list": {
          "description": "Lists notes.",
          "params": {
            "type": "object",
            "properties": {"folder": {"type": "string"}},
            "additionalProperties": false
          },
          "result": {"type": "array"},
          "request": {
            "method": "GET",
            "path": "/v1/notes",
            "query": {"folder": "folder"},
            "response": {"result": "/items", "snake_case_keys": true}
          },
          "scopes": ["notes.read"],
          "idempotent": true
        }
      }
    }
  }
}"#;

fn spec() -> Arc<CompiledSpec> {
    static SPEC_ONCE: OnceLock<Arc<CompiledSpec>> = OnceLock::new();
    SPEC_ONCE
        .get_or_init(|| CompiledSpec::new(ConnectorSpec::from_json(SPEC).unwrap()).unwrap())
        .clone()
}

#[allow(clippy::result_large_err)]
fn connector(token: Arc<dyn TokenProvider>, http: HttpConfig) -> connector_core::Result<Connector> {
    Connector::builder(spec())
        .http(http)
        .token_provider(token)
        .build()
}

static NOTES: ProviderDescriptor = ProviderDescriptor {
    name: "notes",
    definition_id: "7d3c2b1a-0000-4000-8000-00000000cafe",
    spec,
    connector,
    api_base_url: "https://api.notes.invalid",
    oauth: OAuthEndpoints {
        authorize_url,
        token_url,
        revoke_url: None,
        default_tenant: Some("home"),
    },
    scopes: ScopeSets {
        full: &["notes.read", "notes.write"],
        read: &["notes.read"],
        send: &[],
        modify: &["notes.write"],
        labels: &[],
        calendar: &[],
        calendar_read: &[],
        granted_prefix: None,
    },
    consent_params: &[("offline", "yes")],
    refresh: RefreshRules {
        scopes_on_refresh: false,
        rotates_refresh_tokens: false,
        client_secret_required: true,
    },
    changes: None,
};

const CALLBACK: &str = "http://127.0.0.1:9/api/v1/integrations/connectors/oauth/callback";
const ALLOWED: &str = "https://app.example/oauth";

/// The provider: its API (bearer tokens it issued only) and its token endpoint.
async fn provider() -> MockServer {
    let server = MockServer::start().await;
    let api_token = |t: &str| header("authorization", format!("Bearer {t}"));
    for token in ["at-refreshed", "at-consented"] {
        Mock::given(method("GET"))
            .and(path("/v1/me"))
            .and(api_token(token))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({"emailAddress": "ada@notes.example", "displayName": "Ada"}),
                ),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/notes"))
            .and(api_token(token))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "items": [{"noteId": "n1", "title": "Groceries"}, {"noteId": "n2", "title": "Ideas"}]
            })))
            .mount(&server)
            .await;
    }
    // A refresh at the credentials' tenant, with the client secret (the descriptor's rule).
    Mock::given(method("POST"))
        .and(path("/acme/oauth/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=rt-given"))
        .and(body_string_contains("client_secret=cs-given"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "at-refreshed", "token_type": "Bearer", "expires_in": 3600}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    // The code exchange at the default tenant, with the platform app and a PKCE verifier.
    Mock::given(method("POST"))
        .and(path("/home/oauth/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .and(body_string_contains("code_verifier="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-consented",
            "refresh_token": "rt-consented",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "notes.read"
        })))
        .expect(1)
        .mount(&server)
        .await;
    server
}

async fn execute(
    state: &web::Data<AppState>,
    org: &Org,
    id: &str,
    entity: &str,
    action: &str,
) -> (StatusCode, Value) {
    call(
        state,
        org,
        Method::POST,
        &format!("/api/v1/integrations/connectors/{id}/execute"),
        Some(json!({"entity": entity, "action": action, "params": {}})),
    )
    .await
}

/// The provider's redirect to the callback, as the browser makes it (no API token); returns
/// the status and the Location.
async fn callback(state: &web::Data<AppState>, query: &str) -> (StatusCode, String) {
    let app = test::init_service(create_app(state.clone())).await;
    let req = test::TestRequest::get()
        .uri(&format!(
            "/api/v1/integrations/connectors/oauth/callback?{query}"
        ))
        .to_request();
    let resp = test::call_service(&app, req).await;
    let location = resp
        .headers()
        .get("Location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (resp.status(), location)
}

#[actix_web::test]
async fn a_connector_type_defined_only_in_a_test_is_served_end_to_end() {
    let mock = provider().await;
    ROOT.set(mock.uri()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    *config.providers.entry("notes") = ProviderConfig {
        client_id: Some("platform-client".into()),
        client_secret: Some(connector_core::Secret::new("platform-secret")),
        base_url: Some(mock.uri()),
        redirect_uri: Some(CALLBACK.into()),
        ..Default::default()
    };
    let registry = Registry::from_descriptors(&[&NOTES], &config.providers);
    let state = web::Data::new(AppState::with_registry(config, registry).await.unwrap());
    let org = org(&state, "acme", ALLOWED).await;

    // The type is listed with its spec.
    let (s, types) = call(&state, &org, Method::GET, "/api/v1/connector-types", None).await;
    assert_eq!(s, StatusCode::OK, "{types}");
    assert!(types.to_string().contains(NOTES.definition_id), "{types}");

    // Created from credentials; the first execute refreshes at the tenant's token endpoint.
    let (s, created) = call(
        &state,
        &org,
        Method::POST,
        "/api/v1/integrations/connectors",
        Some(json!({
            "customer_name": "ada",
            "connector_type": "notes",
            "credentials": {
                "refresh_token": "rt-given",
                "client_id": "cid-given",
                "client_secret": "cs-given",
                "tenant": "acme"
            }
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (s, out) = execute(&state, &org, &id, "notes", "list").await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["result"][1]["note_id"], "n2", "{out}");
    assert_eq!(out["connector_metadata"]["connector_type"], "notes");

    // OAuth: the consent URL is the descriptor's, with its scopes and consent parameters.
    let (s, initiated) = call(
        &state,
        &org,
        Method::POST,
        "/api/v1/integrations/connectors/oauth/initiate",
        Some(json!({
            "customer_name": "grace",
            "connector_type": "notes",
            "redirect_url": ALLOWED,
            "scopes": "readonly"
        })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{initiated}");
    let consent = url::Url::parse(initiated["consent_url"].as_str().unwrap()).unwrap();
    assert_eq!(consent.path(), "/home/oauth/authorize");
    let q: HashMap<String, String> = consent.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], "notes.read");
    assert_eq!(q["offline"], "yes");
    assert_eq!(q["client_id"], "platform-client");
    assert_eq!(q["redirect_uri"], CALLBACK);

    // The provider sends the browser back with a code: the connector is created.
    let (s, location) = callback(&state, &format!("code=the-code&state={}", q["state"])).await;
    assert_eq!(s, StatusCode::FOUND);
    let back = url::Url::parse(&location).unwrap();
    let back: HashMap<String, String> = back.query_pairs().into_owned().collect();
    let oauth_id = back
        .get("connector_id")
        .unwrap_or_else(|| panic!("{location}"))
        .clone();
    let (s, out) = execute(&state, &org, &oauth_id, "profile", "get").await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["result"]["email_address"], "ada@notes.example");
    let (s, listed) = call(
        &state,
        &org,
        Method::GET,
        "/api/v1/integrations/connectors?connector_type=notes",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
    mock.verify().await;
}
