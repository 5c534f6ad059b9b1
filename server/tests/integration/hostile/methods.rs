//! Wrong methods and the last admin application.

use actix_web::http::{Method, StatusCode};

use crate::common::harness::*;

#[actix_web::test]
async fn a_known_path_with_a_wrong_method_is_405_with_allow() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let app = actix_web::test::init_service(server::create_app(h.state.clone())).await;
    let cases = [
        (
            Method::TRACE,
            "/api/v1/integrations/connectors",
            "GET, POST",
        ),
        (
            Method::PUT,
            "/api/v1/integrations/connectors/abc/execute",
            "POST",
        ),
        (
            Method::TRACE,
            "/api/v1/integrations/connectors/abc",
            "DELETE, GET, PATCH",
        ),
        (Method::DELETE, "/healthz", "GET"),
        (
            Method::POST,
            "/api/v1/integrations/connectors/oauth/callback",
            "GET",
        ),
        (Method::TRACE, "/api/v1/account/applications/token", "POST"),
    ];
    for (method, path, allow) in cases {
        let req = actix_web::test::TestRequest::default()
            .method(method.clone())
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {}", t.token)))
            .insert_header(("X-Organization-Id", t.org.clone()))
            .to_request();
        let resp = actix_web::test::call_service(&app, req).await;
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let mut got: Vec<String> = resp
            .headers()
            .get("Allow")
            .unwrap()
            .to_str()
            .unwrap()
            .split(", ")
            .map(str::to_string)
            .collect();
        got.sort();
        assert_eq!(got.join(", "), allow, "{method} {path}");
        let body: serde_json::Value = actix_web::test::read_body_json(resp).await;
        assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    }
    let got = h
        .send(Req::new(Method::TRACE, "/api/v1/no/such/thing").by(&t))
        .await;
    assert_error(&got, 404, "not_found");
}

#[actix_web::test]
async fn the_last_application_of_an_organization_cannot_revoke_itself() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let path = format!("/api/v1/account/applications/{}/revoke", t.client_id);
    let got = h.send(Req::new(Method::POST, &path).by(&t)).await;
    assert_error(&got, 409, "conflict");
    let (status, _) = h.get(CONNECTORS, &t).await;
    assert_eq!(status, StatusCode::OK, "the admin still works");
    // With a second application, the admin may go (the other one becomes the admin). Made in
    // the same second as the first, it is still the younger one.
    let second = server::auth::create_application(&h.state.store, &t.org)
        .await
        .unwrap();
    let (status, body) = h.send(Req::new(Method::POST, &path).by(&t)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked"], true);
    let apps = h.state.services.applications.list(&t.org).await.unwrap();
    assert!(apps
        .iter()
        .any(|a| a.client_id == second.client_id && a.admin));
}
