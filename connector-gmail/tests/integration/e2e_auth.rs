//! The refresh path against the sandbox's token endpoint: a connector built from a refresh
//! token gets an access token, and refreshes once when the emulator expires it.

use std::sync::Arc;

use connector_core::{ErrorCode, HttpConfig, OAuthCredentials, OAuthTokenSource, Secret};
use sandbox_gmail::{GmailSandbox, Seed, TokenRule};
use serde_json::json;

use crate::common::env::{run, with_tokens, ADA};

/// A sandbox that accepts only tokens it issued (any token rule turns off "any bearer is ada").
fn strict_sandbox() -> GmailSandbox {
    with_tokens(
        Seed::Demo,
        vec![TokenRule::new("static-unused", ADA, &["gmail.readonly"])],
    )
}

fn connector(sb: &sandbox_gmail::GmailSandbox, refresh: &str) -> connector_core::Connector {
    let creds = OAuthCredentials {
        refresh_token: Some(Secret::new(refresh)),
        client_id: Some("client-1".into()),
        client_secret: Some(Secret::new("secret-1")),
        token_url: Some(sb.token_url()),
        ..OAuthCredentials::default()
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let tokens = OAuthTokenSource::new(creds, http).unwrap();
    connector_gmail::connector(Arc::new(tokens), HttpConfig::new(sb.base_url())).unwrap()
}

#[tokio::test]
async fn a_refresh_token_is_exchanged_and_refreshed_after_expiry() {
    let sb = strict_sandbox();
    let refresh = sb.issue_refresh_token(ADA, &["gmail.readonly"]);
    let gmail = connector(&sb, &refresh);

    sb.reset_stats();
    let p = run(&gmail, "profile", "get", json!({})).await.result;
    assert_eq!(p["email_address"], ADA);
    assert_eq!(sb.stats().token_requests, 1);
    run(&gmail, "labels", "list", json!({})).await;
    assert_eq!(sb.stats().token_requests, 1, "the access token is reused");

    sb.expire_access_tokens();
    run(&gmail, "labels", "list", json!({})).await;
    assert_eq!(sb.stats().token_requests, 2, "one refresh after the 401");

    // The refresh token only grants gmail.readonly: sending is refused, naming scopes.
    let err = gmail
        .execute(
            "messages",
            "send",
            json!({"to": ["grace@example.com"], "text": "x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err}");
    assert!(err.message.contains("gmail.send"), "{}", err.message);
}

#[tokio::test]
async fn a_revoked_refresh_token_needs_reauth() {
    let sb = strict_sandbox();
    let refresh = sb.issue_refresh_token(ADA, &["gmail.readonly"]);
    assert!(sb.revoke_refresh_token(&refresh));
    let gmail = connector(&sb, &refresh);
    let err = gmail
        .execute("profile", "get", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NeedsReauth, "{err}");
    assert!(!err.message.contains(&refresh), "no secret in the message");
}
