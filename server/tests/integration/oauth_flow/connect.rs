//! Issue 25: connect sessions and the connect page, driven as a browser without JavaScript
//! would (the headless-Chromium tests in python/tests/test_connect_page.py drive the popup).

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use serde_json::{json, Value};
use server::create_app;

use super::harness::*;

pub(super) const SESSIONS: &str = "/api/v1/integrations/connectors/connect/sessions";

/// (status, headers, body) of a request to a page.
pub(super) async fn page(
    env: &Env,
    method: Method,
    uri: &str,
    form: Option<&str>,
) -> (StatusCode, actix_web::http::header::HeaderMap, String) {
    let app = test::init_service(create_app(env.state.clone())).await;
    let mut req = test::TestRequest::default().method(method).uri(uri);
    if let Some(f) = form {
        req = req
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(f.to_string());
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = String::from_utf8_lossy(&test::read_body(resp).await).into_owned();
    (status, headers, body)
}

pub(super) fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

pub(super) fn hdr(h: &actix_web::http::header::HeaderMap, name: &str) -> String {
    h.get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub(super) fn location(h: &actix_web::http::header::HeaderMap) -> String {
    h.get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub(super) async fn session(env: &Env, org: &Org, body: Value) -> String {
    let (s, v) = env.call(org, Method::POST, SESSIONS, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["expires_in"].as_i64().unwrap() > 60, "{v}");
    path_of(v["connect_url"].as_str().unwrap())
}

/// Picks `kind` on the page, consents at the emulator, and follows the callback to the result
/// page; returns the answer of the result page (a 303 in redirect mode).
pub(super) async fn complete(
    env: &Env,
    connect: &str,
    form: &str,
) -> (StatusCode, actix_web::http::header::HeaderMap, String) {
    let (s, h, body) = page(env, Method::POST, connect, Some(form)).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let back = consent(&location(&h)).await;
    let (s, loc, body) = env.callback(&back).await;
    assert_eq!(s, StatusCode::FOUND, "{body}");
    assert!(loc.ends_with("/done"), "{loc}");
    page(env, Method::GET, &path_of(&loc), None).await
}

#[actix_web::test]
async fn a_session_page_offers_the_providers_in_plain_words_under_a_strict_csp() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    env.call(
        &org,
        Method::PUT,
        "/api/v1/organization/settings",
        Some(
            json!({"display_name": "Acme <CRM>", "logo_url": "https://cdn.acme.example/logo.png"}),
        ),
    )
    .await;
    let connect = session(
        &env,
        &org,
        json!({"customer_name": "ada", "connector_types": ["gmail", "outlook"], "redirect_url": ALLOWED}),
    )
    .await;
    let (s, h, body) = page(&env, Method::GET, &connect, None).await;
    assert_eq!(s, StatusCode::OK);
    let csp = hdr(&h, "content-security-policy");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "img-src 'self' https://cdn.acme.example",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(hdr(&h, "x-frame-options"), "DENY");
    assert_eq!(hdr(&h, "cache-control"), "no-store");
    assert!(body.contains("Acme &lt;CRM&gt;"), "escaped: {body}");
    assert!(body.contains("alt=\"Acme &lt;CRM&gt; logo\""));
    assert!(body.contains("Send email as you"));
    assert!(body.contains("Read, send, organize (labels) and delete your email"));
    assert!(body.contains("value=\"gmail\"") && body.contains("value=\"outlook\""));
    assert!(!body.contains("<script>"), "no inline script");
    assert!(!body.contains("style="), "no inline style");
    // A page that holds no secret: not the client secret, not the token of any API.
    assert!(!body.contains("platform-secret"));
}

#[actix_web::test]
async fn the_redirect_flow_ends_at_redirect_url_with_the_connector_id_for_both_providers() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    for kind in ["gmail", "outlook"] {
        let connect = session(
            &env,
            &org,
            json!({"customer_name": "ada", "connector_types": ["gmail", "outlook"], "redirect_url": format!("{ALLOWED}/back")}),
        )
        .await;
        let (s, h, _) = complete(
            &env,
            &connect,
            &format!("connector_type={kind}&mode=redirect"),
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let loc = location(&h);
        assert!(
            loc.starts_with(&format!("{ALLOWED}/back?connector_id=")),
            "{loc}"
        );
        let id = query(&loc)["connector_id"].clone();
        let (s, c) = env
            .call(
                &org,
                Method::GET,
                &format!("/api/v1/integrations/connectors/{id}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["connector_type"], kind);
        assert_eq!(c["customer_name"], "ada");
    }
}

#[actix_web::test]
async fn a_session_is_single_use_and_expires() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let body =
        json!({"customer_name": "ada", "connector_types": ["gmail"], "redirect_url": ALLOWED});
    let connect = session(&env, &org, body.clone()).await;
    complete(&env, &connect, "connector_type=gmail").await;
    for (method, form) in [
        (Method::GET, None),
        (Method::POST, Some("connector_type=gmail")),
    ] {
        let (s, h, _) = page(&env, method, &connect, form).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let q = query(&location(&h));
        assert_eq!(q["error"], "session_used");
    }
    let connect = session(&env, &org, body).await;
    env.state
        .store
        .expire_connect_sessions(&org.id)
        .await
        .unwrap();
    for (method, form) in [
        (Method::GET, None),
        (Method::POST, Some("connector_type=gmail")),
    ] {
        let (s, h, _) = page(&env, method, &connect, form).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let loc = location(&h);
        assert!(loc.starts_with(ALLOWED), "{loc}");
        assert_eq!(query(&loc)["error"], "session_expired");
    }
    assert_eq!(env.connector_count(&org).await, 1);
    let (s, _, body) = page(
        &env,
        Method::GET,
        "/connect/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("not valid"));
}

#[actix_web::test]
async fn denial_and_fewer_scopes_come_back_as_clear_errors() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let body =
        json!({"customer_name": "ada", "connector_types": ["gmail"], "redirect_url": ALLOWED});
    env.gmail.set_consent_denied(true);
    let connect = session(&env, &org, body.clone()).await;
    let (_, h, _) = complete(&env, &connect, "connector_type=gmail").await;
    assert_eq!(query(&location(&h))["error"], "access_denied");
    env.gmail.set_consent_denied(false);

    let connect = session(&env, &org, body).await;
    let (s, h, _) = page(&env, Method::POST, &connect, Some("connector_type=gmail")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    // The user unticks the full-mail permission on the consent screen.
    let fewer = set_param(
        &location(&h),
        "scope",
        "https://www.googleapis.com/auth/gmail.settings.basic",
    );
    let back = consent(&fewer).await;
    let (_, loc, _) = env.callback(&back).await;
    let (_, h, _) = page(&env, Method::GET, &path_of(&loc), None).await;
    let q = query(&location(&h));
    assert_eq!(q["error"], "insufficient_scopes");
    assert!(q["error_description"].contains("https://mail.google.com/"));
    assert_eq!(env.connector_count(&org).await, 0);
}

#[actix_web::test]
async fn reconnect_keeps_the_connector_id_settings_and_policy() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let connect = session(
        &env,
        &org,
        json!({"customer_name": "ada", "connector_types": ["gmail"], "redirect_url": ALLOWED}),
    )
    .await;
    let (_, h, _) = complete(&env, &connect, "connector_type=gmail").await;
    let id = query(&location(&h))["connector_id"].clone();
    let cpath = format!("/api/v1/integrations/connectors/{id}");
    let (s, _) = env
        .call(
            &org,
            Method::PATCH,
            &cpath,
            Some(json!({"name": "Ada's mail"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = env
        .call(
            &org,
            Method::PUT,
            &format!("{cpath}/policy"),
            Some(json!({"policy": {"mode": "read_only"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    env.state
        .store
        .set_connector_status(&id, "needs_reauth", Some("revoked"))
        .await
        .unwrap();

    // Another customer's connector, or another type, is refused.
    let (s, v) = env
        .call(&org, Method::POST, SESSIONS, Some(json!({"customer_name": "bob", "redirect_url": ALLOWED, "reconnect_connector_id": id})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = env
        .call(&org, Method::POST, SESSIONS, Some(json!({"customer_name": "ada", "connector_types": ["outlook"], "redirect_url": ALLOWED, "reconnect_connector_id": id})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = env
        .call(&org, Method::POST, SESSIONS, Some(json!({"customer_name": "ada", "redirect_url": ALLOWED, "reconnect_connector_id": "nope"})))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let connect = session(
        &env,
        &org,
        json!({"customer_name": "ada", "redirect_url": ALLOWED, "reconnect_connector_id": id}),
    )
    .await;
    let (_, _, body) = page(&env, Method::GET, &connect, None).await;
    assert!(body.contains("Reconnect your account"), "{body}");
    let (_, h, _) = complete(&env, &connect, "connector_type=gmail").await;
    assert_eq!(query(&location(&h))["connector_id"], id);
    let (_, c) = env.call(&org, Method::GET, &cpath, None).await;
    assert_eq!(c["name"], "Ada's mail");
    assert_eq!(c["status"], "active");
    let (_, p) = env
        .call(&org, Method::GET, &format!("{cpath}/policy"), None)
        .await;
    assert_eq!(p["policy"]["mode"], "read_only", "{p}");
    assert_eq!(env.connector_count(&org).await, 1);
}

#[actix_web::test]
async fn the_popup_result_is_posted_only_to_an_allowed_origin() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let body =
        json!({"customer_name": "ada", "connector_types": ["gmail"], "redirect_url": ALLOWED});
    let connect = session(&env, &org, body.clone()).await;
    let (s, h, page_body) = complete(
        &env,
        &connect,
        "connector_type=gmail&mode=popup&origin=https%3A%2F%2Fapp.example",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page_body}");
    assert!(hdr(&h, "content-security-policy").contains("frame-ancestors 'none'"));
    assert!(
        page_body.contains("data-target-origin=\"https://app.example\""),
        "{page_body}"
    );
    assert!(page_body.contains("connector_id"));

    let connect = session(&env, &org, body).await;
    let (s, _, page_body) = complete(
        &env,
        &connect,
        "connector_type=gmail&mode=popup&origin=https%3A%2F%2Fevil.example",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(page_body.contains("data-target-origin=\"\""), "{page_body}");
    assert!(!page_body.contains("evil.example"));
}

#[actix_web::test]
async fn sessions_refuse_unknown_types_and_redirects_off_the_allow_list() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    for body in [
        json!({"customer_name": "ada", "connector_types": ["gmail"], "redirect_url": "https://evil.example/x"}),
        json!({"customer_name": "ada", "connector_types": ["fax"], "redirect_url": ALLOWED}),
        json!({"customer_name": "ada", "connector_types": [], "redirect_url": ALLOWED}),
        json!({"customer_name": " ", "connector_types": ["gmail"], "redirect_url": ALLOWED}),
    ] {
        let (s, v) = env
            .call(&org, Method::POST, SESSIONS, Some(body.clone()))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} -> {v}");
        assert_eq!(v["error"]["code"], "invalid_params");
    }
    // A provider the session does not offer.
    let connect = session(
        &env,
        &org,
        json!({"customer_name": "ada", "connector_types": ["gmail"], "redirect_url": ALLOWED}),
    )
    .await;
    let (s, _, _) = page(&env, Method::POST, &connect, Some("connector_type=outlook")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // ...which did not use the session up.
    let (s, _, _) = page(&env, Method::GET, &connect, None).await;
    assert_eq!(s, StatusCode::OK);
}

/// The `scope` of the consent request a session's page starts for `kind`.
async fn asked_scope(env: &Env, connect: &str, kind: &str) -> String {
    let (s, h, body) = page(
        env,
        Method::POST,
        connect,
        Some(&format!("connector_type={kind}")),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    query(&location(&h))["scope"].clone()
}

#[actix_web::test]
async fn a_session_asks_mail_without_calendar_unless_calendar_is_asked() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let both = json!(["gmail", "outlook"]);
    // Default: the full mail sets, no calendar, and no calendar words on the page.
    let connect = session(
        &env,
        &org,
        json!({"customer_name": "ada", "connector_types": both, "redirect_url": ALLOWED}),
    )
    .await;
    let (_, _, body) = page(&env, Method::GET, &connect, None).await;
    assert!(!body.contains("calendars"), "{body}");
    assert!(body.contains("Read, send, organize (labels) and delete your email"));
    assert_eq!(
        asked_scope(&env, &connect, "gmail").await,
        "https://mail.google.com/ https://www.googleapis.com/auth/gmail.settings.basic"
    );
    let connect = session(
        &env,
        &org,
        json!({"customer_name": "ada", "connector_types": both, "redirect_url": ALLOWED}),
    )
    .await;
    assert_eq!(
        asked_scope(&env, &connect, "outlook").await,
        "offline_access User.Read Mail.ReadWrite Mail.Send MailboxSettings.ReadWrite"
    );

    // Read and calendar: only those, in plain words and in the consent request.
    let ask = json!({"customer_name": "ada", "connector_types": both, "redirect_url": ALLOWED,
        "capabilities": ["read", "calendar"]});
    let connect = session(&env, &org, ask.clone()).await;
    let (_, _, body) = page(&env, Method::GET, &connect, None).await;
    assert!(
        body.contains("<li>Read your email and labels</li>"),
        "{body}"
    );
    assert!(body.contains("<li>See, create and change your calendars and events</li>"));
    assert!(!body.contains("Send email as you"), "{body}");
    assert!(!body.contains("delete your email"), "{body}");
    assert_eq!(
        asked_scope(&env, &connect, "gmail").await,
        "https://www.googleapis.com/auth/gmail.readonly https://www.googleapis.com/auth/calendar"
    );
    let connect = session(&env, &org, ask).await;
    assert_eq!(
        asked_scope(&env, &connect, "outlook").await,
        "offline_access User.Read Mail.Read MailboxSettings.Read Calendars.ReadWrite"
    );
}

#[actix_web::test]
async fn fewer_scopes_are_judged_against_what_the_session_asked() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    // A read-only session is satisfied by a read-only grant...
    let connect = session(
        &env,
        &org,
        json!({"customer_name": "ada", "connector_types": ["gmail"], "redirect_url": ALLOWED,
            "capabilities": ["read"]}),
    )
    .await;
    let (_, h, _) = complete(&env, &connect, "connector_type=gmail").await;
    let id = query(&location(&h))["connector_id"].clone();
    let st = connector_get(&env.state, &org, &id, "/status").await;
    assert_eq!(
        st["scopes"],
        json!(["https://www.googleapis.com/auth/gmail.readonly"]),
        "{st}"
    );

    // ...and one that asked for the calendar is not satisfied without it.
    let connect = session(
        &env,
        &org,
        json!({"customer_name": "bob", "connector_types": ["gmail"], "redirect_url": ALLOWED,
            "capabilities": ["read", "calendar"]}),
    )
    .await;
    let (s, h, _) = page(&env, Method::POST, &connect, Some("connector_type=gmail")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let unticked = set_param(
        &location(&h),
        "scope",
        "https://www.googleapis.com/auth/gmail.readonly",
    );
    let back = consent(&unticked).await;
    let (_, loc, _) = env.callback(&back).await;
    let (_, h, _) = page(&env, Method::GET, &path_of(&loc), None).await;
    let q = query(&location(&h));
    assert_eq!(q["error"], "insufficient_scopes");
    assert!(
        q["error_description"].contains("https://www.googleapis.com/auth/calendar"),
        "{q:?}"
    );
}

#[actix_web::test]
async fn capabilities_are_checked_with_errors_naming_the_field() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    for caps in [json!([]), json!(["calendar"]), json!(["read", "fax"])] {
        let (s, v) = env
            .call(
                &org,
                Method::POST,
                SESSIONS,
                Some(json!({"customer_name": "ada", "connector_types": ["gmail"],
                    "redirect_url": ALLOWED, "capabilities": caps})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{caps} -> {v}");
        assert_eq!(v["error"]["code"], "invalid_params");
        assert!(
            v.to_string().contains("capabilities"),
            "the error names the field: {v}"
        );
    }
}
