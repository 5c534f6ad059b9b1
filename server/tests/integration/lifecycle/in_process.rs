//! Two servers (two `AppState`s: separate pools, caches and single flights) on ONE SQLite
//! database, in this process: the row lock, the version check, health checks, webhooks and the
//! credential endpoint.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::{test, web};
use sandbox_gmail::GmailSandbox;
use serde_json::{json, Value};
use server::config::ProviderConfig;
use server::lifecycle::health::{run_once, HealthConfig};
use server::registry::Registry;
use server::{create_app, AppState, Config};

use super::support::{self, assert_signed, Receiver, SCOPE, USER};

const CONNECTORS: &str = "/api/v1/integrations/connectors";
const SECRET: &str = "whsec_test_secret";
const CALLBACK: &str = "http://127.0.0.1:9/api/v1/integrations/connectors/oauth/callback";
const ALLOWED: &str = "https://app.example/oauth";

struct Env {
    a: web::Data<AppState>,
    b: web::Data<AppState>,
    /// Both servers' event delivery loops (no polling: refresh counts stay exact).
    _workers: [server::services::events::Workers; 2],
    gmail: GmailSandbox,
    org: String,
    token: String,
    client_id: String,
    _dir: tempfile::TempDir,
}

async fn state(dir: &std::path::Path, gmail: &GmailSandbox) -> web::Data<AppState> {
    let mut config = Config::for_data_dir(dir);
    *config.providers.entry("gmail") = ProviderConfig {
        client_id: Some("platform-client".into()),
        client_secret: Some(connector_core::Secret::new("platform-secret")),
        base_url: Some(gmail.base_url()),
        token_url: Some(gmail.token_url()),
        authorize_url: Some(gmail.authorize_url()),
        redirect_uri: Some(CALLBACK.into()),
        ..Default::default()
    };
    config.events.poll_interval = Duration::ZERO;
    config.events.backoff = vec![Duration::from_millis(300)];
    let registry = Registry::builtin(&config.providers);
    web::Data::new(AppState::with_registry(config, registry).await.unwrap())
}

async fn env() -> Env {
    let gmail = support::gmail();
    let dir = tempfile::tempdir().unwrap();
    let a = state(dir.path(), &gmail).await;
    let b = state(dir.path(), &gmail).await;
    let _workers = [a.services.events.spawn(), b.services.events.spawn()];
    let org = a.store.create_org("acme").await.unwrap();
    let app = server::auth::create_application(&a.store, &org.id)
        .await
        .unwrap();
    let token =
        server::auth::issue_token(&a.store, &app.client_id, app.client_secret.expose(), 3600)
            .await
            .unwrap_or_else(|_| panic!("token"));
    Env {
        a,
        b,
        _workers,
        gmail,
        org: org.id,
        token: token.access_token.expose().to_string(),
        client_id: app.client_id,
        _dir: dir,
    }
}

impl Env {
    async fn call(
        &self,
        on: &web::Data<AppState>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let app = test::init_service(create_app(on.clone())).await;
        let mut req = test::TestRequest::default()
            .method(method)
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {}", self.token)))
            .insert_header(("X-Organization-Id", self.org.clone()));
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
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// A Gmail connector with a stale access token and a live refresh token; returns its id
    /// and the refresh token.
    async fn connector(&self) -> (String, String) {
        let rt = self.gmail.issue_refresh_token(USER, &[SCOPE]);
        let (s, v) = self
            .call(
                &self.a,
                Method::POST,
                CONNECTORS,
                Some(json!({"customer_name": "cust", "connector_type": "gmail",
                    "credentials": {"access_token": "stale-access-token", "refresh_token": rt}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let id = v["id"].as_str().unwrap().to_string();
        self.expire(&id).await;
        (id, rt)
    }

    async fn expire(&self, id: &str) {
        support::expire_stored(&self.a.store, &self.a.vault, &self.org, id).await;
    }

    async fn stored(&self, id: &str) -> server::credentials::StoredCredentials {
        support::stored(&self.a.store, &self.a.vault, &self.org, id).await
    }

    async fn execute(&self, on: &web::Data<AppState>, id: &str) -> (StatusCode, Value) {
        self.call(
            on,
            Method::POST,
            &format!("{CONNECTORS}/{id}/execute"),
            Some(json!({"entity": "messages", "action": "list", "params": {"max_results": 1}})),
        )
        .await
    }

    async fn status(&self, id: &str) -> String {
        let row = self
            .a
            .store
            .get_connector(&self.org, id)
            .await
            .unwrap()
            .unwrap();
        row.status
    }

    async fn webhook(&self, url: &str) {
        let (s, v) = self
            .call(
                &self.a,
                Method::PUT,
                "/api/v1/organization/settings",
                Some(json!({"webhook_url": url, "webhook_secret": SECRET})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

#[actix_web::test]
async fn two_servers_on_one_database_make_one_refresh_for_a_stampede() {
    let e = env().await;
    let (id, original_rt) = e.connector().await;
    let before = e.gmail.stats().token_requests;
    let calls = (0..120).map(|i| {
        let on = if i % 2 == 0 { &e.a } else { &e.b };
        e.execute(on, &id)
    });
    let results = futures::future::join_all(calls).await;
    for (s, v) in &results {
        assert_eq!(*s, StatusCode::OK, "{v}");
    }
    assert_eq!(
        e.gmail.stats().token_requests - before,
        1,
        "one refresh for 120 calls on two servers"
    );
    let c = e.stored(&id).await;
    let newest = c.get("refresh_token").unwrap().expose().to_string();
    assert_ne!(newest, original_rt, "the rotated refresh token is stored");
    assert!(c.expires_at.unwrap() > chrono::Utc::now().timestamp() + 3000);
    assert_eq!(e.status(&id).await, "active");
    // The old token is dead (rotation), the stored one is the live one.
    assert!(!support::refresh_token_works(&e.gmail.token_url(), &original_rt).await);
    assert!(support::refresh_token_works(&e.gmail.token_url(), &newest).await);
}

#[actix_web::test]
async fn a_server_with_an_old_instance_uses_the_token_another_server_rotated() {
    let e = env().await;
    let (id, _) = e.connector().await;
    // A builds (and caches) its instance and refreshes: token #1.
    assert_eq!(e.execute(&e.a, &id).await.0, StatusCode::OK);
    // B builds its instance from the row A wrote.
    assert_eq!(e.execute(&e.b, &id).await.0, StatusCode::OK);
    assert_eq!(e.gmail.stats().token_requests, 1);
    // The provider forgets every access token: B's call gets 401 and B refreshes (rotating
    // the refresh token A's cached instance was built with).
    e.gmail.expire_access_tokens();
    assert_eq!(e.execute(&e.b, &id).await.0, StatusCode::OK);
    assert_eq!(e.gmail.stats().token_requests, 2);
    // A still holds the old access token in memory: 401, then it finds B's token in the row
    // (no third refresh, no reuse of the dead refresh token, no needs_reauth).
    let (s, v) = e.execute(&e.a, &id).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(e.gmail.stats().token_requests, 2);
    assert_eq!(e.status(&id).await, "active");
}

#[actix_web::test]
async fn the_health_check_finds_a_revoked_grant_and_signed_webhooks_report_it() {
    let e = env().await;
    let hooks = Receiver::start();
    e.webhook(&hooks.url).await;
    let (id, rt) = e.connector().await;
    let cfg = HealthConfig {
        interval: Duration::from_secs(60),
        idle: Duration::from_secs(3600),
    };
    // The stored token is expired: the check refreshes it (and the other server, checking
    // right after, finds nothing to do).
    let r = run_once(e.a.runtime.lifecycle(), cfg).await.unwrap();
    assert_eq!((r.examined, r.refreshed), (1, 1), "{r:?}");
    let r = run_once(e.b.runtime.lifecycle(), cfg).await.unwrap();
    assert_eq!((r.examined, r.refreshed), (1, 0), "{r:?}");
    assert_eq!(e.gmail.stats().token_requests, 1);

    // The user revokes the grant at the provider; the token then nears expiry.
    let current = e.stored(&id).await;
    assert!(e
        .gmail
        .revoke_refresh_token(current.get("refresh_token").unwrap().expose()));
    assert_ne!(current.get("refresh_token").unwrap().expose(), rt);
    e.expire(&id).await;
    let r = run_once(e.b.runtime.lifecycle(), cfg).await.unwrap();
    assert_eq!(r.needs_reauth, 1, "{r:?}");
    assert_eq!(e.status(&id).await, "needs_reauth");

    let got = hooks
        .wait_for("needs_reauth", Duration::from_secs(10))
        .await;
    assert_signed(&got, SECRET);
    let body = got.json();
    assert_eq!(body["type"], "connector.status_changed");
    assert_eq!(body["connector_id"], id.as_str());
    assert_eq!(body["organization_id"], e.org.as_str());
    assert_eq!(body["previous_status"], "active");
    assert_eq!(body["customer_name"], "cust");
    assert!(body["reason"].as_str().unwrap().contains("invalid_grant"));
    assert!(!String::from_utf8_lossy(&got.body).contains("1//sandbox-"));
    // ...with a link the end user can reconnect through, for days.
    let link = body["reconnect_url"]
        .as_str()
        .expect("a needs_reauth event carries a reconnect link");
    assert!(link.contains("/connect/r/"), "{link}");
    assert!(
        body["reconnect_expires_at"].as_i64().unwrap()
            > body["created_at"].as_i64().unwrap() + 86_400
    );
    // A user's call now fails fast without asking the provider.
    let (s, v) = e.execute(&e.a, &id).await;
    assert_eq!(s.as_u16(), 424, "{v}");
    assert_eq!(e.gmail.stats().token_requests, 2);

    // Re-authorization (new credentials): `active`, signed.
    let fresh_rt = e.gmail.issue_refresh_token(USER, &[SCOPE]);
    let (s, v) = e
        .call(
            &e.b,
            Method::PATCH,
            &format!("{CONNECTORS}/{id}"),
            Some(json!({"credentials": {"refresh_token": fresh_rt}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = hooks.wait_for("active", Duration::from_secs(10)).await;
    assert_signed(&got, SECRET);
    assert_eq!(got.json()["previous_status"], "needs_reauth");
    assert!(
        got.json().get("reconnect_url").is_none(),
        "only needs_reauth has a link"
    );
    assert_eq!(e.execute(&e.a, &id).await.0, StatusCode::OK);

    // Deletion is an event too.
    let (s, _) = e
        .call(&e.a, Method::DELETE, &format!("{CONNECTORS}/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let got = hooks.wait_for("deleted", Duration::from_secs(10)).await;
    assert_signed(&got, SECRET);
    // One event per change, even though both servers saw it.
    let needs: Vec<_> = hooks
        .received()
        .into_iter()
        .filter(|r| r.json()["status"] == "needs_reauth")
        .collect();
    assert_eq!(needs.len(), 1);
}

#[actix_web::test]
async fn a_failing_webhook_endpoint_is_retried_from_the_outbox_and_blocks_nothing() {
    let e = env().await;
    // Nothing listens on this port yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    e.webhook(&format!("http://127.0.0.1:{port}/hook")).await;
    let hooks = e.a.runtime.lifecycle().webhooks().clone();
    let event = server::lifecycle::webhook::StatusEvent {
        organization_id: e.org.clone(),
        connector_id: "c1".into(),
        customer_name: None,
        connector_type: None,
        status: "needs_reauth".into(),
        previous_status: Some("active".into()),
        reason: None,
    };
    assert!(hooks.record(event).await, "written to the outbox at once");
    tokio::time::sleep(Duration::from_millis(900)).await;
    let pending =
        e.a.services
            .events
            .deliveries(&e.org, "c1", Some("pending"))
            .await
            .unwrap();
    assert_eq!(pending.data.len(), 1, "still retrying");
    assert!(pending.data[0].attempts >= 2, "{:?}", pending.data);
    assert_eq!(pending.data[0].last_error.as_deref(), Some("connect error"));
    // The endpoint comes up: the next attempt lands.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let got = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 65536];
        let n = s.read(&mut buf).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let request = tokio::task::spawn_blocking(move || got.join().unwrap())
        .await
        .unwrap();
    assert!(request.contains("x-connectors-signature: t="), "{request}");
    for _ in 0..50 {
        let done =
            e.a.services
                .events
                .deliveries(&e.org, "c1", Some("delivered"))
                .await
                .unwrap();
        if done.data.len() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the delivery was not recorded");
}

#[actix_web::test]
async fn the_credential_endpoint_is_off_by_default_and_fresh_for_allowed_apps() {
    let e = env().await;
    let (id, _) = e.connector().await;
    for path in [
        format!("{CONNECTORS}/{id}/credential"),
        format!("/connectors/{id}/credential"),
    ] {
        let (s, v) = e.call(&e.a, Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(v["error"]["code"], "permission_denied", "{v}");
        assert!(v.to_string().contains("raw_credential_apps"), "{v}");
    }
    assert_eq!(
        e.gmail.stats().token_requests,
        0,
        "a refused read refreshes nothing"
    );

    let (s, _) = e
        .call(
            &e.a,
            Method::PUT,
            "/api/v1/organization/settings",
            Some(json!({"raw_credential_apps": [e.client_id]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // The stored token is expired: the read refreshes it through the locked path.
    let (s, v) = e
        .call(
            &e.b,
            Method::GET,
            &format!("/connectors/{id}/credential"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["access_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ya29.sandbox-"), "{v}");
    let expires = chrono::DateTime::parse_from_rfc3339(v["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires.timestamp() > chrono::Utc::now().timestamp() + 3000);
    assert_eq!(e.gmail.stats().token_requests, 1);
    assert_eq!(
        e.stored(&id).await.get("access_token").unwrap().expose(),
        token
    );
    // Fresh now: a second read (other server) is the same token, no refresh.
    let (s, v) = e
        .call(
            &e.a,
            Method::GET,
            &format!("{CONNECTORS}/{id}/credential"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["access_token"], token.as_str());
    assert_eq!(e.gmail.stats().token_requests, 1);
    // The token works at the provider.
    let r = reqwest::Client::new()
        .get(format!("{}/gmail/v1/users/me/profile", e.gmail.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

/// Follows the emulator's consent (approved at once) and hands its redirect to our callback;
/// returns the connector id the flow ends with.
async fn consent_and_callback(e: &Env, consent_url: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(consent_url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let back = loc.strip_prefix("http://127.0.0.1:9").unwrap().to_string();
    let app = test::init_service(create_app(e.a.clone())).await;
    let resp = test::call_service(&app, test::TestRequest::get().uri(&back).to_request()).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let to = resp
        .headers()
        .get("Location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "connector_id")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{to}"))
}

#[actix_web::test]
async fn reauthorization_through_the_oauth_flow_sends_active() {
    let e = env().await;
    let hooks = Receiver::start();
    let (s, v) = e
        .call(
            &e.a,
            Method::PUT,
            "/api/v1/organization/settings",
            Some(json!({"webhook_url": hooks.url, "webhook_secret": SECRET,
                "redirect_allowlist": [ALLOWED]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = e
        .call(
            &e.a,
            Method::POST,
            &format!("{CONNECTORS}/oauth/initiate"),
            Some(
                json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": ALLOWED}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = consent_and_callback(&e, v["consent_url"].as_str().unwrap()).await;
    assert_eq!(e.execute(&e.b, &id).await.0, StatusCode::OK);

    // The grant is revoked at the provider; the next refresh finds it.
    let rt = e.stored(&id).await;
    assert!(e
        .gmail
        .revoke_refresh_token(rt.get("refresh_token").unwrap().expose()));
    // Its access token runs out (B's instance still holds it in memory: the provider's 401
    // sends B to refresh).
    e.gmail.expire_access_tokens();
    let (s, v) = e.execute(&e.b, &id).await;
    assert_eq!(s.as_u16(), 424, "{v}");
    let got = hooks
        .wait_for("needs_reauth", Duration::from_secs(10))
        .await;
    assert_signed(&got, SECRET);

    // The end user authorizes again through the flow: same connector, `active` again.
    let (s, v) = e
        .call(
            &e.a,
            Method::POST,
            &format!("{CONNECTORS}/{id}/reauthorize"),
            Some(json!({"redirect_url": ALLOWED})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        consent_and_callback(&e, v["consent_url"].as_str().unwrap()).await,
        id
    );
    let got = hooks.wait_for("active", Duration::from_secs(10)).await;
    assert_signed(&got, SECRET);
    assert_eq!(got.json()["previous_status"], "needs_reauth");
    assert_eq!(got.json()["connector_id"], id.as_str());
    assert_eq!(e.execute(&e.b, &id).await.0, StatusCode::OK);
}
