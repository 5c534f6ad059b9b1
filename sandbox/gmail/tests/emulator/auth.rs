//! The Gmail emulator's gatekeeping over real HTTP: bearer tokens, mailbox ownership, scopes,
//! the per-user quota, the token endpoint, the consent screen and token introspection.

use std::time::Duration;

use crate::support::{demo, id_of, start, Client, API};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use sandbox_gmail::{Behaviour, QuotaProfile, SandboxConfig, Seed, TokenRule};
use sandbox_kit::conformance::consent::{ClientAuth, Consent};
use serde_json::{json, Value};

#[tokio::test]
async fn any_bearer_is_ada_and_a_missing_one_is_401_auth_error() {
    let sb = demo();
    let (s, v) = Client::new(&sb, "whatever")
        .get(&format!("{API}/profile"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["emailAddress"], "ada@example.com");
    assert_eq!(
        v["historyId"],
        json!(sb.history_id("ada@example.com").to_string())
    );
    let r = reqwest::get(format!("{}{API}/profile", sb.base_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 401);
    assert_eq!(v["error"]["errors"][0]["reason"], "authError");
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn another_users_mailbox_is_denied() {
    let sb = demo();
    let (s, v) = Client::new(&sb, "t")
        .get("/gmail/v1/users/grace@example.com/profile")
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, _) = Client::new(&sb, "t")
        .get("/gmail/v1/users/ada@example.com/profile")
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn quota_answers_429_then_recovers_and_can_answer_403() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    sb.set_quota_limit(10, Duration::from_millis(400));
    assert_eq!(c.get(&format!("{API}/messages?maxResults=1")).await.0, 200); // 5 units
    assert_eq!(c.get(&format!("{API}/messages?maxResults=1")).await.0, 200); // 10 units
    let r = reqwest::Client::new()
        .get(format!("{}{API}/profile", sb.base_url()))
        .bearer_auth("t")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(
        !r.headers().contains_key("retry-after"),
        "Google usually sends no Retry-After"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["errors"][0]["reason"], "rateLimitExceeded");
    assert_eq!(v["error"]["errors"][0]["domain"], "usageLimits");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("User-rate limit exceeded.  Retry after 20"),
        "the message says when: {v}"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(c.get(&format!("{API}/profile")).await.0, 200);
    sb.set_quota_forbidden(true);
    sb.set_quota_limit(1, Duration::from_secs(60));
    assert_eq!(c.get(&format!("{API}/profile")).await.0, 200);
    let (s, v) = c.get(&format!("{API}/profile")).await;
    assert_eq!(
        (s, v["error"]["errors"][0]["reason"].as_str()),
        (403, Some("userRateLimitExceeded"))
    );
    sb.set_quotas(false);
    assert_eq!(c.get(&format!("{API}/profile")).await.0, 200);
    assert_eq!(sb.stats().rate_limited, 2);
}

#[tokio::test]
async fn the_2026_quota_is_the_default_and_the_15000_unit_quota_is_selectable() {
    let sb = start(SandboxConfig {
        seed: Seed::Empty,
        ..Default::default()
    });
    assert_eq!(sb.behaviour().quota, QuotaProfile::Since2026);
    let c = Client::new(&sb, "t");
    // messages.send costs 100 units: 60 sends fit in 6,000 units, the 61st does not.
    let raw = URL_SAFE.encode(b"To: someone@example.net\r\nSubject: q\r\n\r\nx\r\n");
    let path = format!("{API}/messages/send");
    let send = || c.post(&path, json!({"raw": raw}));
    for i in 0..60 {
        let (s, v) = send().await;
        assert_eq!(s, 200, "send {i}: {v}");
    }
    assert_eq!(send().await.0, 429);

    // The older quota: 15,000 units, so 150 sends.
    sb.set_behaviour(Behaviour {
        quota: QuotaProfile::Classic,
        ..Behaviour::default()
    });
    for i in 0..150 {
        let (s, v) = send().await;
        assert_eq!(s, 200, "send {i}: {v}");
    }
    assert_eq!(send().await.0, 429);
}

#[tokio::test]
async fn reads_cost_more_under_the_2026_quota() {
    let sb = demo();
    let c = Client::new(&sb, "t");
    let id = c.ids("maxResults=1").await.remove(0);
    let get = format!("{API}/messages/{id}?format=minimal");
    // messages.get: 20 units under the 2026 quota, 5 under the older one.
    sb.set_quota_limit(40, Duration::from_secs(60));
    assert_eq!(c.get(&get).await.0, 200);
    assert_eq!(c.get(&get).await.0, 200);
    assert_eq!(c.get(&get).await.0, 429);
    sb.set_behaviour(Behaviour {
        quota: QuotaProfile::Classic,
        ..Behaviour::default()
    });
    sb.set_quota_limit(40, Duration::from_secs(60));
    for _ in 0..8 {
        assert_eq!(c.get(&get).await.0, 200);
    }
    assert_eq!(c.get(&get).await.0, 429);
}

#[tokio::test]
async fn scopes_are_enforced_and_the_403_names_them() {
    let sb = start(SandboxConfig {
        tokens: vec![
            "ro=ada@example.com:gmail.readonly"
                .parse::<TokenRule>()
                .unwrap(),
            TokenRule::new("grace", "grace@example.com", &["https://mail.google.com/"]),
        ],
        ..Default::default()
    });
    let ro = Client::new(&sb, "ro");
    assert_eq!(ro.get(&format!("{API}/messages")).await.0, 200);
    let id = id_of(&sb, "cafe-42@example.fr");
    let (s, v) = ro
        .post(
            &format!("{API}/messages/{id}/modify"),
            json!({"addLabelIds": ["STARRED"]}),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(v["error"]["errors"][0]["reason"], "insufficientPermissions");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("https://www.googleapis.com/auth/gmail.modify"),
        "{v}"
    );
    let (s, v) = ro
        .call(
            reqwest::Method::DELETE,
            &format!("{API}/messages/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 403);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("https://mail.google.com/"),
        "{v}"
    );
    let (s, v) = Client::new(&sb, "grace")
        .get(&format!("{API}/profile"))
        .await;
    assert_eq!(
        (s, v["emailAddress"].as_str()),
        (200, Some("grace@example.com"))
    );
    assert_eq!(
        Client::new(&sb, "unknown")
            .get(&format!("{API}/profile"))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn token_endpoint_issues_rotates_and_revokes() {
    let sb = start(SandboxConfig {
        rotate_refresh_tokens: Some(true),
        tokens: vec![TokenRule::new("x", "ada@example.com", &[])],
        ..Default::default()
    });
    let rt = sb.issue_refresh_token("grace@example.com", &["gmail.readonly"]);
    let http = reqwest::Client::new();
    let refresh = |rt: String| {
        let http = http.clone();
        let url = sb.token_url();
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                    ("client_id", "cid"),
                    ("client_secret", "cs"),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = refresh(rt.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "https://www.googleapis.com/auth/gmail.readonly");
    assert!(v["expires_in"].as_u64().unwrap() > 3000);
    let new_rt = v["refresh_token"].as_str().expect("rotated").to_string();
    let access = v["access_token"].as_str().unwrap();
    let (s, p) = Client::new(&sb, access)
        .get(&format!("{API}/profile"))
        .await;
    assert_eq!(
        (s, p["emailAddress"].as_str()),
        (200, Some("grace@example.com"))
    );
    let (s, v) = refresh(rt).await;
    assert_eq!(s, 400);
    assert_eq!(
        v,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
    assert_eq!(refresh(new_rt.clone()).await.0, 200);
    sb.expire_access_tokens();
    assert_eq!(
        Client::new(&sb, access)
            .get(&format!("{API}/profile"))
            .await
            .0,
        401
    );
    assert_eq!(sb.stats().token_requests, 3);
}

#[tokio::test]
async fn consent_screen_and_code_exchange_with_pkce_and_basic_auth() {
    use sha2::Digest;
    let sb = start(SandboxConfig {
        tokens: vec![TokenRule::new("x", "ada@example.com", &[])],
        ..Default::default()
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let verifier = "a-long-enough-code-verifier-0123456789-abcdefghijklmnop";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let r = http
        .get(sb.authorize_url())
        .query(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://localhost:9/cb"),
            ("response_type", "code"),
            ("scope", "https://www.googleapis.com/auth/gmail.readonly"),
            ("state", "st-1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("login_hint", "grace@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(loc.path(), "/cb");
    let q: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st-1");
    let exchange = |code: String, verifier: &'static str| {
        http.post(sb.token_url())
            .basic_auth("cid", Some("secret"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://localhost:9/cb"),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let bad = exchange(q["code"].clone(), "wrong-verifier").await.unwrap();
    assert_eq!(
        bad.status(),
        400,
        "a wrong verifier fails and burns the code"
    );
    let again = exchange(
        q["code"].clone(),
        "a-long-enough-code-verifier-0123456789-abcdefghijklmnop",
    )
    .await
    .unwrap();
    assert_eq!(again.status(), 400, "codes are single-use");

    let r = http
        .get(sb.authorize_url())
        .query(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://localhost:9/cb"),
            ("response_type", "code"),
            ("scope", "https://www.googleapis.com/auth/gmail.readonly"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("login_hint", "grace@example.com"),
        ])
        .send()
        .await
        .unwrap();
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let ok = exchange(
        code,
        "a-long-enough-code-verifier-0123456789-abcdefghijklmnop",
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    let v: Value = ok.json().await.unwrap();
    assert!(
        v["refresh_token"].is_string(),
        "offline access returns a refresh token"
    );
    let (s, p) = Client::new(&sb, v["access_token"].as_str().unwrap())
        .get(&format!("{API}/profile"))
        .await;
    assert_eq!(
        (s, p["emailAddress"].as_str()),
        (200, Some("grace@example.com"))
    );

    sb.set_consent_denied(true);
    let r = http
        .get(sb.authorize_url())
        .query(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://localhost:9/cb"),
            ("response_type", "code"),
            ("scope", "gmail.readonly"),
            ("state", "s2"),
        ])
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        loc.contains("error=access_denied") && loc.contains("state=s2"),
        "{loc}"
    );
}

#[tokio::test]
async fn issued_access_tokens_expire_after_their_ttl() {
    let sb = demo();
    sb.set_access_token_ttl(Duration::from_secs(2));
    let rt = sb.issue_refresh_token("ada@example.com", &["gmail.readonly"]);
    let v: Value = reqwest::Client::new()
        .post(sb.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", "c"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["expires_in"], 2);
    let c = Client::new(&sb, v["access_token"].as_str().unwrap());
    assert_eq!(c.get(&format!("{API}/profile")).await.0, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, e) = c.get(&format!("{API}/profile")).await;
    assert_eq!(
        (s, e["error"]["errors"][0]["reason"].as_str()),
        (401, Some("authError"))
    );
}

#[tokio::test]
async fn an_outside_issuer_is_trusted_through_introspection() {
    use wiremock::matchers::{body_string_contains, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let issuer = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("token=good"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "active": true, "username": "grace@example.com", "scope": "gmail.readonly", "expires_in": 600
        })))
        .expect(1)
        .mount(&issuer)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("token=bad"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"active": false})))
        .mount(&issuer)
        .await;
    let sb = start(SandboxConfig {
        introspection_url: Some(format!("{}/introspect", issuer.uri())),
        ..Default::default()
    });
    let good = Client::new(&sb, "good");
    for _ in 0..2 {
        let (s, p) = good.get(&format!("{API}/profile")).await;
        assert_eq!(
            (s, p["emailAddress"].as_str()),
            (200, Some("grace@example.com"))
        );
    }
    let (s, e) = good
        .post(&format!("{API}/labels"), json!({"name": "x"}))
        .await;
    assert_eq!(s, 403, "the issuer granted read-only: {e}");
    assert_eq!(
        Client::new(&sb, "bad")
            .get(&format!("{API}/profile"))
            .await
            .0,
        401
    );
    assert_eq!(
        Client::new(&sb, "other")
            .get(&format!("{API}/profile"))
            .await
            .0,
        401,
        "no default user"
    );
}

#[tokio::test]
async fn batched_calls_each_cost_their_units() {
    let sb = demo();
    // messages.get costs 20 units (the 2026 quota): two fit in 40.
    sb.set_quota_limit(40, Duration::from_secs(60));
    let ids: Vec<String> = sb
        .mailbox("ada@example.com")
        .unwrap()
        .messages
        .iter()
        .take(3)
        .map(|m| m.id.clone())
        .collect();
    let mut body = String::new();
    for (i, id) in ids.iter().enumerate() {
        body.push_str(&format!("--q\r\nContent-Type: application/http\r\nContent-ID: {i}\r\n\r\nGET {API}/messages/{id}?format=minimal HTTP/1.1\r\n\r\n"));
    }
    body.push_str("--q--\r\n");
    let text = reqwest::Client::new()
        .post(format!("{}/batch/gmail/v1", sb.base_url()))
        .bearer_auth("t")
        .header("content-type", "multipart/mixed; boundary=q")
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        text.matches("HTTP/1.1 200 OK").count(),
        2,
        "20 + 20 units fit in 40"
    );
    assert_eq!(
        text.matches("HTTP/1.1 429 Too Many Requests").count(),
        1,
        "{text}"
    );
    assert!(text.contains("rateLimitExceeded"));
    assert_eq!(sb.stats().rate_limited, 1);
}

#[tokio::test]
async fn an_interactive_consent_page_lets_a_person_untick_a_scope_or_cancel() {
    let sb = start(SandboxConfig {
        interactive_consent: true,
        ..Default::default()
    });
    let ask = [
        ("client_id", "cid"),
        ("redirect_uri", "http://localhost:9/cb"),
        ("response_type", "code"),
        (
            "scope",
            "https://mail.google.com/ https://www.googleapis.com/auth/calendar",
        ),
        ("state", "st-9"),
        ("access_type", "offline"),
    ];
    let flow = Consent::new(&sb, &ask);
    let page = flow.page().await;
    for scope in [
        "https://mail.google.com/",
        "https://www.googleapis.com/auth/calendar",
    ] {
        assert!(
            page.contains(&format!(
                "type=\"checkbox\" id=\"scope-{}\" name=\"granted\" value=\"{scope}\" checked",
                if scope.contains("calendar") { 1 } else { 0 }
            )),
            "{page}"
        );
    }
    assert!(page.contains(">Continue</button>") && page.contains(">Cancel</button>"));
    assert!(page.contains("name=\"state\" value=\"st-9\""), "{page}");

    // The person unticks the calendar and continues: the grant has the mail scope only.
    let code = flow
        .accept(&[("granted", "https://mail.google.com/")])
        .await;
    let v = flow
        .exchange(&code, ClientAuth::Basic("cid", "secret"))
        .await;
    assert_eq!(v["scope"], "https://mail.google.com/", "{v}");
    assert!(v["refresh_token"].is_string(), "{v}");

    // Cancel: back with access_denied and no code.
    let loc = flow.cancel().await;
    assert!(
        loc.starts_with("http://localhost:9/cb?error=access_denied") && loc.contains("state=st-9"),
        "{loc}"
    );
}
