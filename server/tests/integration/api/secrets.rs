//! No secret in any response body, captured log line, or database file.

use std::path::Path;

use actix_web::http::Method;
use base64::Engine;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;

use crate::common::harness::*;

/// The forms a leaked secret could take: plain, base64 (standard, url-safe, unpadded) and
/// percent-encoded.
pub fn forms(secret: &str) -> Vec<Vec<u8>> {
    let b = secret.as_bytes();
    let e = &base64::engine::general_purpose::STANDARD;
    let u = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let s = &base64::engine::general_purpose::STANDARD_NO_PAD;
    vec![
        b.to_vec(),
        e.encode(b).into_bytes(),
        u.encode(b).into_bytes(),
        s.encode(b).into_bytes(),
        utf8_percent_encode(secret, NON_ALPHANUMERIC)
            .to_string()
            .into_bytes(),
    ]
}

/// Every (file, secret) pair where a form of the secret occurs in the database files.
pub fn scan(dir: &Path, secrets: &[&str]) -> Vec<(String, String)> {
    let mut hits = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("connectors.db") {
            continue;
        }
        files += 1;
        let data = std::fs::read(&path).unwrap();
        for secret in secrets {
            if forms(secret)
                .iter()
                .any(|f| data.windows(f.len()).any(|w| w == f.as_slice()))
            {
                hits.push((name.clone(), secret.to_string()));
            }
        }
    }
    assert!(files >= 1, "no database file found in {}", dir.display());
    hits
}

#[actix_web::test]
async fn secrets_never_reach_responses_logs_or_database_files() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let access = "ya29.SECRET-access-9f8e7d";
    let refresh = "1//SECRET-refresh-0a1b2c";
    let client_secret = "GOCSPX-SECRET-client-3d4e5f";
    let id = h
        .connector(
            &t,
            "alice",
            json!({"access_token": access, "refresh_token": refresh,
                                       "client_id": "cid", "client_secret": client_secret}),
        )
        .await;
    // Replace the credentials too (PATCH), and read everything back in every way.
    let refresh2 = "1//SECRET-refresh-second-77";
    let (status, _) = h
        .send(Req::new(Method::PATCH, format!("{CONNECTORS}/{id}")).by(&t).json(json!({
            "credentials": {"refresh_token": refresh2, "client_id": "cid", "client_secret": client_secret}
        })))
        .await;
    assert_eq!(status, 200);
    h.get(&format!("{CONNECTORS}/{id}"), &t).await;
    h.get(CONNECTORS, &t).await;
    h.get(&format!("{CONNECTORS}/{id}/status"), &t).await;
    // Error paths with secrets in the request.
    h.post(CONNECTORS, &t, json!({"customer_name": "x", "connector_type": "gmail", "credentials": {"refresh_token": refresh}})).await;
    h.post(CONNECTORS, &t, json!({"customer_name": "x", "connector_type": "gmail", "credentials": {"access_token": access, "bogus": client_secret}})).await;
    h.send(
        Req::new(Method::POST, "/api/v1/account/applications/token")
            .json(json!({"client_id": t.client_id, "client_secret": "wrong-SECRET-guess"})),
    )
    .await;
    // A planted plaintext proves the scan can see stored text.
    let planted = "PLANTED-PLAINTEXT-4711";
    h.connector(&t, planted, json!({"access_token": "ya29.other"}))
        .await;

    let secrets = [
        access,
        refresh,
        refresh2,
        client_secret,
        t.client_secret.as_str(),
        t.token.as_str(),
        "wrong-SECRET-guess",
    ];
    let bodies = h.all_bodies();
    let logs = h.logs.text();
    assert!(
        logs.contains("request finished"),
        "logs were not captured: {logs}"
    );
    for s in &secrets {
        // The only response that may carry the bearer token is the token endpoint's own.
        if *s != t.token.as_str() {
            assert!(!bodies.contains(s), "a response body contains {s}");
        }
        for f in forms(s) {
            assert!(
                !logs.contains(std::str::from_utf8(&f).unwrap()),
                "the log contains a form of {s}"
            );
        }
    }
    // The files as they are (WAL and shared memory included), then after a checkpoint.
    let dir = h.dir.path();
    assert_eq!(scan(dir, &secrets), vec![]);
    assert!(
        !scan(dir, &[planted]).is_empty(),
        "the scan did not find the planted plaintext"
    );
    h.state.store.checkpoint().await.unwrap();
    assert_eq!(scan(dir, &secrets), vec![]);
    assert!(!scan(dir, &[planted]).is_empty());
}

#[actix_web::test]
async fn tokens_from_refreshes_stay_out_of_logs_responses_and_database_files() {
    use sandbox_gmail::{GmailSandbox, SandboxConfig};
    let sb = GmailSandbox::start(SandboxConfig {
        rotate_refresh_tokens: true,
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    let (base, token_url) = (sb.base_url(), sb.token_url());
    let h = harness_with(move |c| {
        c.providers.entry("gmail").base_url = Some(base);
        c.providers.entry("gmail").token_url = Some(token_url);
    })
    .await;
    let t = h.tenant("acme").await;
    let refresh = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
    let client_secret = "GOCSPX-SECRET-for-refresh-99";
    let id = h
        .connector(
            &t,
            "alice",
            json!({"refresh_token": refresh, "client_id": "cid", "client_secret": client_secret}),
        )
        .await;
    let (status, body) = h
        .post(
            &format!("{CONNECTORS}/{id}/execute"),
            &t,
            json!({"entity": "messages", "action": "list", "params": {"max_results": 2}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // What the refresh produced, read back through the vault.
    let row = h
        .state
        .store
        .get_connector(&t.org, &id)
        .await
        .unwrap()
        .unwrap();
    let creds: server::credentials::StoredCredentials = serde_json::from_slice(
        &h.state
            .vault
            .decrypt(&t.org, &row.credentials)
            .await
            .unwrap(),
    )
    .unwrap();
    let access = creds.get("access_token").unwrap().expose().to_string();
    let rotated = creds.get("refresh_token").unwrap().expose().to_string();
    assert_ne!(rotated, refresh);
    let secrets = [
        access.as_str(),
        rotated.as_str(),
        refresh.as_str(),
        client_secret,
        t.client_secret.as_str(),
    ];
    let (bodies, logs) = (h.all_bodies(), h.logs.text());
    assert!(logs.contains("stored refreshed credentials"), "{logs}");
    for s in &secrets {
        assert!(!bodies.contains(s), "a response body contains a token");
        for f in forms(s) {
            assert!(
                !logs.contains(std::str::from_utf8(&f).unwrap()),
                "the log contains a form of a token"
            );
        }
    }
    assert_eq!(scan(h.dir.path(), &secrets), vec![]);
    h.state.store.checkpoint().await.unwrap();
    assert_eq!(scan(h.dir.path(), &secrets), vec![]);
}
