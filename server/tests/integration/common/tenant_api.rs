//! An organization with an application token, and API calls made as it through the real app in
//! process. Every answer (and every accepted request body) is checked against /openapi.json
//! (`common::conformance`).

use actix_web::http::{Method, StatusCode};
use actix_web::{test, web};
use serde_json::{json, Value};
use server::{create_app, AppState};

pub struct Org {
    pub id: String,
    pub token: String,
}

/// A new organization with an application, a bearer token, and `allowed` as its redirect
/// allow-list.
pub async fn org(state: &web::Data<AppState>, name: &str, allowed: &str) -> Org {
    let store = &state.store;
    let org = store.create_org(name).await.unwrap();
    let app = server::auth::create_application(store, &org.id)
        .await
        .unwrap();
    let token = server::auth::issue_token(store, &app.client_id, app.client_secret.expose(), 3600)
        .await
        .unwrap_or_else(|_| panic!("token"));
    let org = Org {
        id: org.id,
        token: token.access_token.expose().to_string(),
    };
    let (s, _) = call(
        state,
        &org,
        Method::PUT,
        "/api/v1/organization/settings",
        Some(json!({"redirect_allowlist": [allowed]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    org
}

/// `GET /api/v1/integrations/connectors/{id}{rest}` (`rest`: `""`, `"/status"`, `"/account"`, ...)
/// as the organization's application: the body of its 200.
pub async fn connector_get(state: &web::Data<AppState>, org: &Org, id: &str, rest: &str) -> Value {
    let (s, v) = call(
        state,
        org,
        Method::GET,
        &format!("/api/v1/integrations/connectors/{id}{rest}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// Deletes a connector as the organization's application (204).
pub async fn delete_connector(state: &web::Data<AppState>, org: &Org, id: &str) {
    let path = format!("/api/v1/integrations/connectors/{id}");
    let (s, v) = call(state, org, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
}

/// An API call as the organization's application.
pub async fn call(
    state: &web::Data<AppState>,
    org: &Org,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, bytes) = send(state, method, path, Some((&org.token, &org.id)), body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A request to the app, with `auth` = (bearer token, organization id; an empty id sends no
/// `X-Organization-Id`), and a JSON body when given; returns the status and the body's bytes.
pub async fn send(
    state: &web::Data<AppState>,
    method: Method,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<Value>,
) -> (StatusCode, Vec<u8>) {
    let app = test::init_service(create_app(state.clone())).await;
    let mut req = test::TestRequest::default().method(method).uri(path);
    if let Some((token, org)) = auth {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
        if !org.is_empty() {
            req = req.insert_header(("X-Organization-Id", org.to_string()));
        }
    }
    let sent = body
        .as_ref()
        .map(|b| b.to_string().into_bytes())
        .unwrap_or_default();
    if let Some(b) = body {
        req = req.set_json(b);
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let status = resp.status();
    let seen = crate::common::conformance::Seen::of(&resp);
    let bytes = test::read_body(resp).await;
    seen.check(&bytes);
    crate::common::conformance::check_accepted_request(&seen, &sent);
    (status, bytes.to_vec())
}
