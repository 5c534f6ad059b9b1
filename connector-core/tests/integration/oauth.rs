//! The OAuth token source: refresh when missing, near expiry or after a 401; single flight;
//! rotated refresh tokens persisted before the new access token is used; invalid_grant.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::common::{compiled, demo_spec, http};
use connector_core::auth::OnRefresh;
use connector_core::{
    ActionHandler, CallContext, Connector, ConnectorError, ErrorCode, OAuthCredentials,
    OAuthTokenSource, Output, RefreshedTokens, Result, Secret, TokenProvider,
};
use futures::FutureExt;
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn creds(server: &MockServer) -> OAuthCredentials {
    OAuthCredentials {
        access_token: None,
        expires_at: None,
        refresh_token: Some(Secret::new("refresh-OLD")),
        client_id: Some("client-1".into()),
        client_secret: Some(Secret::new("client-SECRET")),
        token_url: Some(format!("{}/token", server.uri())),
        scope: None,
    }
}

fn source(creds: OAuthCredentials) -> OAuthTokenSource {
    OAuthTokenSource::new(creds, reqwest::Client::new()).unwrap()
}

async fn token_endpoint(server: &MockServer, body: Value, delay: Duration) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(body)
                .set_delay(delay),
        )
        .mount(server)
        .await;
}

async fn token_requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/token")
        .collect()
}

#[tokio::test]
async fn a_missing_token_is_fetched_with_the_refresh_grant() {
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        json!({"access_token": "access-NEW", "token_type": "Bearer", "expires_in": 3600, "scope": "a b"}),
        Duration::ZERO,
    )
    .await;
    let src = source(creds(&server));
    assert_eq!(src.access_token().await.unwrap().expose(), "access-NEW");
    // Fresh now: no second request.
    assert_eq!(src.access_token().await.unwrap().expose(), "access-NEW");
    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let form = String::from_utf8(reqs[0].body.clone()).unwrap();
    assert!(form.contains("grant_type=refresh_token"), "{form}");
    assert!(form.contains("refresh_token=refresh-OLD"), "{form}");
    assert!(form.contains("client_id=client-1"), "{form}");
}

#[tokio::test]
async fn a_token_within_five_minutes_of_expiry_is_refreshed() {
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        json!({"access_token": "access-NEW", "token_type": "Bearer", "expires_in": 3600}),
        Duration::ZERO,
    )
    .await;
    let mut c = creds(&server);
    c.access_token = Some(Secret::new("access-OLD"));
    c.expires_at = Some(SystemTime::now() + Duration::from_secs(240));
    assert_eq!(
        source(c.clone()).access_token().await.unwrap().expose(),
        "access-NEW"
    );
    c.expires_at = Some(SystemTime::now() + Duration::from_secs(600));
    assert_eq!(
        source(c).access_token().await.unwrap().expose(),
        "access-OLD"
    );
    assert_eq!(token_requests(&server).await.len(), 1);
}

#[tokio::test]
async fn microsoft_scope_is_sent_with_the_refresh() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .and(body_string_contains("scope=offline_access+Mail.Read"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "a", "token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600})))
        .expect(1)
        .mount(&server)
        .await;
    let mut c = creds(&server);
    c.scope = Some("offline_access Mail.Read".into());
    source(c).access_token().await.unwrap();
}

#[tokio::test]
async fn a_hundred_concurrent_calls_on_an_expired_token_make_one_token_request() {
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        json!({"access_token": "access-NEW", "token_type": "Bearer", "expires_in": 3600}),
        Duration::from_millis(100),
    )
    .await;
    Mock::given(path("/v1/labels/x"))
        .and(header("authorization", "Bearer access-NEW"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "x"})))
        .mount(&server)
        .await;
    let mut c = creds(&server);
    c.access_token = Some(Secret::new("access-EXPIRED"));
    c.expires_at = Some(SystemTime::now() - Duration::from_secs(10));
    let connector = Connector::builder(compiled(demo_spec()))
        .handler("send", Arc::new(Unused))
        .http(http(&server.uri()))
        .token_provider(Arc::new(source(c)))
        .build()
        .unwrap();
    let calls = (0..100).map(|_| {
        let connector = connector.clone();
        async move {
            connector
                .execute("labels", "get", json!({"label_id": "x"}))
                .await
        }
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap().result["id"], "x");
    }
    assert_eq!(token_requests(&server).await.len(), 1);
}

struct Unused;

#[async_trait::async_trait]
impl ActionHandler for Unused {
    async fn call(&self, _cx: &CallContext<'_>, _params: Value) -> Result<Output> {
        Err(ConnectorError::internal("not used"))
    }
}

/// Records, in order, each API call's bearer token into a shared log.
struct LogCalls(Arc<Mutex<Vec<String>>>);

impl Respond for LogCalls {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        self.0.lock().unwrap().push(format!("api {auth}"));
        if auth == "Bearer access-OLD" {
            ResponseTemplate::new(401).set_body_json(json!({"error": {"code": 401, "message": "Invalid Credentials", "status": "UNAUTHENTICATED"}}))
        } else {
            ResponseTemplate::new(200).set_body_json(json!({"id": "x"}))
        }
    }
}

fn recording_callback(log: Arc<Mutex<Vec<String>>>, fail: bool) -> OnRefresh {
    Arc::new(move |tokens: RefreshedTokens| {
        let log = log.clone();
        async move {
            // Slow persistence: the new access token must still wait for it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let rotated = tokens
                .refresh_token
                .as_ref()
                .map(|t| t.expose().to_string());
            log.lock().unwrap().push(format!(
                "stored {} {}",
                tokens.access_token.expose(),
                rotated.unwrap_or_default()
            ));
            if fail {
                Err(ConnectorError::internal("the database is down"))
            } else {
                Ok(())
            }
        }
        .boxed()
    })
}

#[tokio::test]
async fn a_401_refreshes_once_and_the_rotated_token_is_stored_before_use() {
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        json!({"access_token": "access-NEW", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "refresh-ROTATED"}),
        Duration::ZERO,
    )
    .await;
    let log = Arc::new(Mutex::new(Vec::new()));
    Mock::given(path("/v1/labels/x"))
        .respond_with(LogCalls(log.clone()))
        .mount(&server)
        .await;
    let mut c = creds(&server);
    c.access_token = Some(Secret::new("access-OLD"));
    let src = source(c).on_refresh(recording_callback(log.clone(), false));
    let connector = Connector::builder(compiled(demo_spec()))
        .handler("send", Arc::new(Unused))
        .http(http(&server.uri()))
        .token_provider(Arc::new(src.clone()))
        .build()
        .unwrap();
    let out = connector
        .execute("labels", "get", json!({"label_id": "x"}))
        .await
        .unwrap();
    assert_eq!(out.result["id"], "x");
    assert_eq!(
        *log.lock().unwrap(),
        [
            "api Bearer access-OLD",
            "stored access-NEW refresh-ROTATED",
            "api Bearer access-NEW"
        ]
    );
    // The rotated token is the one the next refresh sends.
    src.force_refresh().await.unwrap();
    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert!(String::from_utf8_lossy(&reqs[1].body).contains("refresh_token=refresh-ROTATED"));
}

#[tokio::test]
async fn a_second_401_after_the_refresh_is_unauthenticated() {
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        json!({"access_token": "access-NEW", "token_type": "Bearer"}),
        Duration::ZERO,
    )
    .await;
    Mock::given(path("/v1/labels/x"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let connector = Connector::builder(compiled(demo_spec()))
        .handler("send", Arc::new(Unused))
        .http(http(&server.uri()))
        .token_provider(Arc::new(source(creds(&server))))
        .build()
        .unwrap();
    let e = connector
        .execute("labels", "get", json!({"label_id": "x"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);
    let api_calls = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/labels/x")
        .count();
    assert_eq!(api_calls, 2);
    assert_eq!(
        token_requests(&server).await.len(),
        2,
        "initial fetch + one refresh after the 401"
    );
}

#[tokio::test]
async fn a_failing_callback_fails_the_call_and_the_token_is_not_used() {
    let server = MockServer::start().await;
    token_endpoint(&server, json!({"access_token": "access-NEW", "token_type": "Bearer", "refresh_token": "refresh-ROTATED"}), Duration::ZERO).await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let src = source(creds(&server)).on_refresh(recording_callback(log.clone(), true));
    let e = src.access_token().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Internal);
    assert!(e.message.contains("could not be stored"), "{}", e.message);
    // Next time it refreshes again (with the rotated token) instead of using the unstored one.
    let _ = src.access_token().await;
    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert!(String::from_utf8_lossy(&reqs[1].body).contains("refresh_token=refresh-ROTATED"));
}

#[tokio::test]
async fn invalid_grant_needs_reauth() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        ))
        .mount(&server)
        .await;
    let e = source(creds(&server)).access_token().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NeedsReauth);
    assert_eq!(e.details["provider_code"], "invalid_grant");
    let shown = format!("{e} {e:?} {}", e.to_body());
    assert!(
        !shown.contains("refresh-OLD") && !shown.contains("client-SECRET"),
        "{shown}"
    );
}

#[tokio::test]
async fn token_endpoint_outages_are_provider_unavailable() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let e = source(creds(&server)).access_token().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ProviderUnavailable);
}

#[tokio::test]
async fn credentials_need_an_access_token_or_a_complete_refresh_setup() {
    let none = OAuthCredentials::default();
    let e = OAuthTokenSource::new(none, reqwest::Client::new()).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
    let partial = OAuthCredentials {
        refresh_token: Some(Secret::new("r")),
        ..Default::default()
    };
    let e = OAuthTokenSource::new(partial, reqwest::Client::new()).unwrap_err();
    assert!(
        e.message.contains("client_id") && e.message.contains("token_url"),
        "{}",
        e.message
    );
    let access_only = OAuthCredentials {
        access_token: Some(Secret::new("a")),
        ..Default::default()
    };
    let src = OAuthTokenSource::new(access_only, reqwest::Client::new()).unwrap();
    assert_eq!(src.access_token().await.unwrap().expose(), "a");
    let e = src
        .refresh_after_unauthorized(&Secret::new("a"))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn debug_output_never_holds_a_secret() {
    let server = MockServer::start().await;
    // A token endpoint whose garbage answer quotes the refresh token back.
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("oops refresh-OLD client-SECRET"))
        .mount(&server)
        .await;
    let mut c = creds(&server);
    c.access_token = Some(Secret::new("access-OLD"));
    let tokens = RefreshedTokens {
        access_token: Secret::new("access-NEW"),
        expires_at: None,
        refresh_token: Some(Secret::new("refresh-ROTATED")),
        scope: Some("a".into()),
    };
    let src = source(c.clone());
    let err = src.force_refresh().await.unwrap_err();
    let shown = [
        format!("{c:?}"),
        format!("{c:#?}"),
        format!("{tokens:?}"),
        format!("{src:?}"),
        format!("{err:?}"),
        format!("{err}"),
        err.to_body().to_string(),
    ]
    .join("\n");
    for secret in [
        "access-OLD",
        "access-NEW",
        "refresh-OLD",
        "refresh-ROTATED",
        "client-SECRET",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
    }
    assert!(shown.contains("[redacted]"));
}

#[tokio::test]
async fn a_redirecting_token_endpoint_is_an_error_not_followed() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/elsewhere"))
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "a", "token_type": "Bearer"})),
        )
        .expect(0)
        .mount(&server)
        .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let e = OAuthTokenSource::new(creds(&server), http)
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ProviderError);
    assert!(e.message.contains("redirect"), "{}", e.message);
}

#[tokio::test]
async fn an_early_refresh_that_fails_transiently_keeps_the_still_valid_token() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let mut c = creds(&server);
    c.access_token = Some(Secret::new("access-OLD"));
    c.expires_at = Some(SystemTime::now() + Duration::from_secs(200));
    assert_eq!(
        source(c.clone()).access_token().await.unwrap().expose(),
        "access-OLD"
    );
    // An expired token has no such fallback.
    c.expires_at = Some(SystemTime::now() - Duration::from_secs(1));
    let e = source(c).access_token().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ProviderUnavailable);
}

#[tokio::test]
async fn concurrent_401s_on_the_same_token_share_one_refresh() {
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        json!({"access_token": "access-NEW", "token_type": "Bearer", "expires_in": 3600}),
        Duration::from_millis(50),
    )
    .await;
    let log = Arc::new(Mutex::new(Vec::new()));
    Mock::given(path("/v1/labels/x"))
        .respond_with(LogCalls(log.clone()))
        .mount(&server)
        .await;
    let mut c = creds(&server);
    c.access_token = Some(Secret::new("access-OLD"));
    let connector = Connector::builder(compiled(demo_spec()))
        .handler("send", Arc::new(Unused))
        .http(http(&server.uri()))
        .token_provider(Arc::new(source(c)))
        .build()
        .unwrap();
    let calls = (0..20).map(|_| {
        let connector = connector.clone();
        async move {
            connector
                .execute("labels", "get", json!({"label_id": "x"}))
                .await
        }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(token_requests(&server).await.len(), 1);
    let log = log.lock().unwrap();
    assert_eq!(log.iter().filter(|l| l.ends_with("access-NEW")).count(), 20);
}

#[tokio::test]
async fn refresh_grant_makes_one_request_and_returns_the_rotated_token() {
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        json!({"access_token": "access-NEW", "token_type": "Bearer", "expires_in": 3600,
               "refresh_token": "refresh-ROTATED"}),
        Duration::ZERO,
    )
    .await;
    let before = SystemTime::now();
    let t = connector_core::auth::refresh_grant(&creds(&server), &reqwest::Client::new())
        .await
        .unwrap();
    assert_eq!(t.access_token.expose(), "access-NEW");
    assert_eq!(t.refresh_token.unwrap().expose(), "refresh-ROTATED");
    assert!(t.expires_at.unwrap() >= before + Duration::from_secs(3599));
    assert_eq!(token_requests(&server).await.len(), 1);

    let no_refresh = OAuthCredentials {
        refresh_token: None,
        ..creds(&server)
    };
    let e = connector_core::auth::refresh_grant(&no_refresh, &reqwest::Client::new())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);
    assert_eq!(token_requests(&server).await.len(), 1);
}

#[tokio::test]
async fn refresh_grant_maps_invalid_grant_to_needs_reauth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&server)
        .await;
    let e = connector_core::auth::refresh_grant(&creds(&server), &reqwest::Client::new())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NeedsReauth);
}
