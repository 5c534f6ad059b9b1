//! The built `connectors` binary, configured from a TOML file with the authorization server's
//! endpoints, and a browser that follows every redirect over real HTTP: from the consent URL
//! through the authorization server's interactions to the server's callback and back to the
//! application.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sandbox_gmail::{GmailSandbox, SandboxConfig as GmailConfig};
use serde_json::{json, Value};

use super::{active, ALLOWED, GMAIL_API, GMAIL_CLIENT, GRAPH_API};
use crate::common::auth_server::{grant_tokens, query, AuthServer, Browser};

const BIN: &str = env!("CARGO_BIN_EXE_connectors");

struct Served {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(args: &[&str], dir: &str) -> Value {
    let out = Command::new(BIN)
        .args(args)
        .args(["--data-dir", dir])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_built_server_completes_the_flow_through_real_redirects() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let callback = format!("{base}/api/v1/integrations/connectors/oauth/callback");
    let config = json!({"google": {
        "clients": [{"client_id": GMAIL_CLIENT.0, "client_secret": GMAIL_CLIENT.1, "redirect_uris": [callback]}],
        "introspectors": [{"client_id": GMAIL_API.0, "client_secret": GMAIL_API.1}],
    }});
    let Some(auth) = AuthServer::start(&config) else {
        return;
    };
    let at = &auth.google;
    let gmail = GmailSandbox::start(GmailConfig {
        quotas: false,
        introspection_url: Some(at.introspection_url.clone()),
        introspection_client_id: Some(GMAIL_API.0.into()),
        introspection_client_secret: Some(GMAIL_API.1.into()),
        introspection_audience: Some("https://gmail.googleapis.com/".into()),
        ..Default::default()
    })
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let toml = format!(
        "[providers.gmail]\nclient_id = {:?}\nclient_secret = {:?}\nbase_url = {:?}\nauthorize_url = {:?}\ntoken_url = {:?}\nrevoke_url = {:?}\nredirect_uri = {:?}\n",
        GMAIL_CLIENT.0,
        GMAIL_CLIENT.1,
        gmail.base_url(),
        at.authorize_url,
        at.token_url,
        at.revocation_url,
        callback
    );
    let config_file = dir.path().join("connectors.toml");
    std::fs::write(&config_file, toml).unwrap();
    cli(&["orgs", "create", "acme"], d);
    cli(
        &[
            "orgs",
            "settings",
            "--org",
            "acme",
            "--allow-redirect",
            ALLOWED,
        ],
        d,
    );
    let app = cli(&["apps", "create", "--org", "acme"], d);

    let log = dir.path().join("server.log");
    let child = Command::new(BIN)
        .args([
            "serve",
            "--data-dir",
            d,
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--config")
        .arg(&config_file)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let served = Served { child, log };
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..300 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server_log = || std::fs::read_to_string(&served.log).unwrap_or_default();
    assert!(up, "the server did not start: {}", server_log());

    let tok: Value = http
        .post(format!("{base}/api/v1/account/applications/token"))
        .json(&json!({"client_id": app["client_id"], "client_secret": app["client_secret"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["access_token"].as_str().unwrap().to_string();
    let org = app["organization_id"].as_str().unwrap().to_string();
    let api = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}{path}"))
            .bearer_auth(&token)
            .header("X-Organization-Id", &org)
    };
    let init: Value = api(
        reqwest::Method::POST,
        "/api/v1/integrations/connectors/oauth/initiate",
    )
    .json(&json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": ALLOWED}))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let consent = init["consent_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{init}"));
    assert!(consent.starts_with(&at.authorize_url), "{consent}");

    // Every hop over HTTP, including the server's own callback.
    let landed = Browser::default()
        .authorize(consent, &[("login", "ada@example.com")], ALLOWED)
        .await;
    let id = query(&landed)
        .remove("connector_id")
        .unwrap_or_else(|| panic!("{landed}\n{}", server_log()));

    let r = api(
        reqwest::Method::POST,
        &format!("/api/v1/integrations/connectors/{id}/execute"),
    )
    .json(&json!({"entity": "profile", "action": "get", "params": {}}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"]["email_address"], "ada@example.com");

    // The tokens the server stored (read with the data directory's key, as an operator could).
    let state = server::AppState::new(server::Config::for_data_dir(dir.path()))
        .await
        .unwrap();
    let row = state.store.get_connector(&org, &id).await.unwrap().unwrap();
    let plain = state.vault.decrypt(&org, &row.credentials).await.unwrap();
    let creds: Value = serde_json::from_slice(&plain).unwrap();
    let refresh = creds["fields"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let access = creds["fields"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(active(at, GMAIL_API, &refresh).await && active(at, GMAIL_API, &access).await);

    // Delete revokes at the authorization server: nothing it issued for this grant works.
    let r = api(
        reqwest::Method::DELETE,
        &format!("/api/v1/integrations/connectors/{id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(!active(at, GMAIL_API, &refresh).await, "{}", server_log());
    assert!(!active(at, GMAIL_API, &access).await);
    let log = server_log();
    for secret in [GMAIL_CLIENT.1, refresh.as_str(), access.as_str()] {
        assert!(!log.contains(secret), "a secret in the server's log");
    }
}

/// `connectors sandbox PROVIDER --trust-issuer ...`: the standalone emulator accepts the
/// authorization server's tokens (and only those) for the user and scopes it vouches for.
#[tokio::test]
async fn standalone_emulators_trust_the_authorization_server() {
    let redirect = "http://127.0.0.1:9/cb";
    let client =
        json!({"client_id": "app", "client_secret": "app-secret", "redirect_uris": [redirect]});
    let config = json!({
        "google": {"clients": [client], "introspectors": [{"client_id": GMAIL_API.0, "client_secret": GMAIL_API.1}]},
        "microsoft": {"clients": [client], "introspectors": [{"client_id": GRAPH_API.0, "client_secret": GRAPH_API.1}]},
    });
    let Some(auth) = AuthServer::start(&config) else {
        return;
    };
    let cases = [
        (
            "gmail",
            &auth.google,
            GMAIL_API,
            "https://gmail.googleapis.com/",
            "/gmail/v1/users/me/profile",
            "https://www.googleapis.com/auth/gmail.readonly",
            "emailAddress",
        ),
        (
            "outlook",
            &auth.microsoft,
            GRAPH_API,
            "https://graph.microsoft.com/",
            "/me",
            "User.Read",
            "mail",
        ),
    ];
    for (provider, at, (id, secret), audience, path, scope, field) in cases {
        let mut child = Command::new(BIN)
            .args([
                "sandbox",
                provider,
                "--bind",
                "127.0.0.1:0",
                "--trust-issuer",
            ])
            .arg(&at.introspection_url)
            .args(["--issuer-client-id", id, "--issuer-audience", audience])
            .env("CONNECTORS_SANDBOX_ISSUER_CLIENT_SECRET", secret)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let _guard = Served {
            child,
            log: Default::default(),
        };
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
            line
        })
        .await
        .unwrap();
        let started: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line:?}"));
        let url = format!("{}{path}", started["base_url"].as_str().unwrap());

        let login = "grace@example.com";
        let tokens = grant_tokens(at, ("app", "app-secret"), redirect, scope, &[], login).await;
        let access = tokens["access_token"].as_str().unwrap();
        let http = reqwest::Client::new();
        let r = http.get(&url).bearer_auth(access).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{provider}");
        let me: Value = r.json().await.unwrap();
        assert_eq!(me[field], login, "{provider}: the issuer's user: {me}");
        let r = http.get(&url).bearer_auth("made-up").send().await.unwrap();
        assert_eq!(
            r.status().as_u16(),
            401,
            "{provider}: no default user any more"
        );
    }
}
