//! The emulator's tokens over raw HTTP: token rules, scopes, the Microsoft token endpoint
//! with rotation, the authorization-code flow with PKCE, and introspection.

use sandbox_kit::conformance::consent::{ClientAuth, Consent};
use sandbox_outlook::{OutlookSandbox, SandboxConfig, TokenRule};
use serde_json::{json, Value};

const ADA: &str = "ada@example.com";

fn start(cfg: SandboxConfig) -> OutlookSandbox {
    OutlookSandbox::start(cfg).expect("sandbox starts")
}

async fn get(sb: &OutlookSandbox, token: &str, path_and_query: &str) -> (u16, Value) {
    let url = if path_and_query.starts_with("http") {
        path_and_query.to_string()
    } else {
        format!("{}{}", sb.base_url(), path_and_query)
    };
    let r = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn should_check_tokens_and_scopes() {
    let sb = start(SandboxConfig {
        tokens: vec![
            TokenRule::new("reader", ADA, &["Mail.Read"]),
            "full=grace@example.com".parse().unwrap(),
        ],
        ..Default::default()
    });
    assert_eq!(get(&sb, "reader", "/me/messages").await.0, 200);
    let (s, v) = get(&sb, "reader", "/me/mailboxSettings").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("ErrorAccessDenied"))
    );
    assert_eq!(get(&sb, "unknown", "/me/messages").await.0, 401);
    assert_eq!(get(&sb, "", "/me/messages").await.0, 401);
    let (_, me) = get(&sb, "full", "/me").await;
    assert_eq!(me["mail"], "grace@example.com");
    assert_eq!(
        get(&sb, "reader", "/users/grace@example.com/messages")
            .await
            .0,
        403
    );
    assert_eq!(sb.stats().unauthorized, 2);
}
#[tokio::test]
async fn should_rotate_refresh_tokens_and_reject_reuse() {
    let sb = start(SandboxConfig::default());
    let rt = sb.issue_refresh_token(ADA, &["Mail.Read", "offline_access"]);
    let client = reqwest::Client::new();
    let refresh = |rt: String| {
        let client = client.clone();
        let url = sb.token_url();
        async move {
            let r = client
                .post(url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                    ("client_id", "app"),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = refresh(rt.clone()).await;
    assert_eq!(s, 200);
    let rt2 = v["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt2, rt);
    let access = v["access_token"].as_str().unwrap();
    assert_eq!(get(&sb, access, "/me/messages").await.0, 200);
    assert_eq!(
        get(&sb, access, "/me/mailboxSettings").await.0,
        403,
        "only Mail.Read was granted"
    );
    let (s, v) = refresh(rt).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"], "invalid_grant");
    assert_eq!(v["error_codes"], json!([70008]));
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS70008:"));
    assert_eq!(refresh(rt2).await.0, 200);
    assert_eq!(sb.stats().token_requests, 3);
    // tenant-specific path too
    let r = client
        .post(format!("{}/organizations/oauth2/v2.0/token", sb.root_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "app"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
#[tokio::test]
async fn should_run_the_microsoft_authorization_code_flow_with_pkce() {
    use base64::Engine;
    use sha2::Digest;
    let sb = start(SandboxConfig::default());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let verifier = "a-verifier-of-sufficient-length-0123456789abcdef";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let authorize = |login: &'static str| {
        http.get(sb.authorize_url().replace("/common/", "/organizations/"))
            .query(&[
                ("client_id", "app"),
                ("response_type", "code"),
                ("redirect_uri", "http://localhost/cb"),
                ("scope", "offline_access User.Read Mail.ReadWrite"),
                ("state", "xyz"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("login_hint", login),
            ])
            .send()
    };
    let r = authorize("grace@example.com").await.unwrap();
    assert_eq!(r.status(), 302);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz");
    let code = q["code"].clone();
    let redeem = |code: String, verifier: &'static str| {
        http.post(sb.token_url())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://localhost/cb"),
                ("client_id", "app"),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let r = redeem(code.clone(), verifier).await.unwrap();
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert!(
        tokens["refresh_token"].is_string(),
        "offline_access gives a refresh token"
    );
    let (_, me) = get(&sb, access, "/me").await;
    assert_eq!(me["mail"], "grace@example.com", "login_hint picks the user");
    let again: Value = redeem(code, verifier).await.unwrap().json().await.unwrap();
    assert_eq!(
        again["error_codes"],
        json!([54005]),
        "a code is redeemed once"
    );

    let r = authorize("ada@example.com").await.unwrap();
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let bad: Value = redeem(code, "the-wrong-verifier-0123456789abcdef-0123456789")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bad["error"], "invalid_grant");

    sb.set_consent_denied(true);
    let r = authorize("ada@example.com").await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        loc.contains("error=access_denied") && loc.contains("state=xyz"),
        "{loc}"
    );
    assert!(sb.revoke_refresh_token(tokens["refresh_token"].as_str().unwrap()));
    sb.expire_access_tokens();
    assert_eq!(get(&sb, access, "/me").await.0, 401);
}
#[tokio::test]
async fn should_trust_an_issuer_through_introspection() {
    use axum::{routing::post, Form, Json, Router};
    use std::collections::HashMap;
    async fn introspect(Form(f): Form<HashMap<String, String>>) -> Json<Value> {
        Json(if f.get("token").map(String::as_str) == Some("good") {
            json!({"active": true, "upn": "grace@example.com", "scp": "Mail.Read", "expires_in": 600})
        } else {
            json!({"active": false})
        })
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            Router::new().route("/introspect", post(introspect)),
        )
        .await
        .unwrap()
    });
    let sb = start(SandboxConfig {
        introspection_url: Some(format!("http://{addr}/introspect")),
        ..Default::default()
    });
    let (s, v) = get(
        &sb,
        "good",
        "/me/mailFolders/inbox/messages?$select=toRecipients",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["value"][0]["toRecipients"][0]["emailAddress"]["address"],
        "grace@example.com"
    );
    assert_eq!(
        get(&sb, "good", "/me/mailboxSettings").await.0,
        403,
        "only the introspected scopes"
    );
    assert_eq!(
        get(&sb, "bad", "/me").await.0,
        401,
        "an unknown token is no longer the default user"
    );
}

#[tokio::test]
async fn should_show_an_interactive_consent_that_accepts_or_cancels_the_whole_set() {
    let sb = start(SandboxConfig {
        interactive_consent: true,
        ..Default::default()
    });
    let ask = [
        ("client_id", "app"),
        ("response_type", "code"),
        ("redirect_uri", "http://localhost/cb"),
        ("scope", "offline_access User.Read Mail.ReadWrite"),
        ("state", "xyz"),
    ];
    let flow = Consent::new(&sb, &ask);
    let page = flow.page().await;
    assert!(page.contains("<li>Mail.ReadWrite</li>"), "{page}");
    assert!(!page.contains("checkbox"), "no per-scope choice: {page}");
    assert!(page.contains(">Accept</button>") && page.contains(">Cancel</button>"));

    // Accept grants the whole set, whatever a crafted form says.
    let code = flow.accept(&[("granted", "User.Read")]).await;
    let v = flow.exchange(&code, ClientAuth::Form("app")).await;
    let scope = v["scope"].as_str().unwrap_or_default();
    assert!(scope.contains("Mail.ReadWrite"), "{v}");
    assert!(v["refresh_token"].is_string(), "{v}");

    let loc = flow.cancel().await;
    assert!(
        loc.contains("error=access_denied")
            && loc.contains("AADSTS65004")
            && loc.contains("state=xyz"),
        "{loc}"
    );
}
