//! Delete revokes at the provider; the settings CLI.

use std::sync::{Arc, Mutex};

use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::flow;
use super::harness::*;

type Seen = Arc<Mutex<Vec<std::collections::HashMap<String, String>>>>;

/// A stand-in RFC 7009 revocation endpoint that records what it is sent.
fn revocation_endpoint() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/revoke", listener.local_addr().unwrap());
    let server = actix_web::HttpServer::new(move || {
        let s = s.clone();
        actix_web::App::new().route(
            "/revoke",
            web::post().to(
                move |form: web::Form<std::collections::HashMap<String, String>>| {
                    let s = s.clone();
                    async move {
                        s.lock().unwrap().push(form.into_inner());
                        HttpResponse::Ok().finish()
                    }
                },
            ),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (url, seen)
}

#[actix_web::test]
async fn deleting_a_connector_revokes_its_token_and_erases_its_secrets() {
    let (url, seen) = revocation_endpoint();
    let env = env_with(|c| c.providers.entry("gmail").revoke_url = Some(url)).await;
    let org = env.org("acme").await;
    let loc = flow(
        &env,
        &org,
        json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": ALLOWED}),
    )
    .await;
    let id = query(&loc)["connector_id"].clone();
    let row = env
        .state
        .store
        .get_connector(&org.id, &id)
        .await
        .unwrap()
        .unwrap();
    let plain = env
        .state
        .vault
        .decrypt(&org.id, &row.credentials)
        .await
        .unwrap();
    let creds: Value = serde_json::from_slice(&plain).unwrap();
    let refresh = creds["fields"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();

    let path = format!("/api/v1/integrations/connectors/{id}");
    let (s, _) = env.call(&org, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let got = seen.lock().unwrap().clone();
    assert!(
        got.iter().any(|f| f.get("token") == Some(&refresh)),
        "{got:?}"
    );
    assert!(env
        .state
        .store
        .get_connector(&org.id, &id)
        .await
        .unwrap()
        .is_none());
    let (s, _) = env.call(&org, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn delete_succeeds_when_the_provider_cannot_be_reached() {
    let env = env_with(|c| {
        c.providers.entry("gmail").revoke_url = Some("http://127.0.0.1:9/revoke".into())
    })
    .await;
    let org = env.org("acme").await;
    let loc = flow(
        &env,
        &org,
        json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": ALLOWED}),
    )
    .await;
    let id = query(&loc)["connector_id"].clone();
    delete_connector(&env.state, &org, &id).await;
}

#[test]
fn settings_cli_sets_the_allow_list_and_hides_the_webhook_secret() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_connectors");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    run(&["orgs", "create", "acme"]);
    let secret = dir.path().join("wh.secret");
    std::fs::write(&secret, "whsec-cli-1\n").unwrap();
    let v = run(&[
        "orgs",
        "settings",
        "--org",
        "acme",
        "--allow-redirect",
        "https://app.example/oauth",
        "--webhook-url",
        "https://hooks.example/in",
        "--webhook-secret-file",
        secret.to_str().unwrap(),
        "--raw-credentials-app",
        "app_x",
    ]);
    assert_eq!(
        v["redirect_allowlist"],
        json!(["https://app.example/oauth"])
    );
    assert_eq!(v["webhook_secret_set"], true);
    assert_eq!(v["raw_credential_apps"], json!(["app_x"]));
    assert!(!v.to_string().contains("whsec-cli-1"));
    let out = std::process::Command::new(bin)
        .args([
            "orgs",
            "settings",
            "--org",
            "acme",
            "--allow-redirect",
            "https://a@b.example/",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[derive(Clone, Default)]
pub(super) struct Logs(pub(super) Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// One process-wide capture: a thread-local `set_default` subscriber missed events when other
/// tests ran in parallel (callsite interest is cached globally), so the capture is global and
/// every test of this binary logs into it; the check below only gets stricter for that.
pub(super) fn captured_logs() -> &'static Logs {
    static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
        logs
    })
}

#[actix_web::test]
async fn no_code_state_or_token_reaches_the_logs() {
    let logs = captured_logs();
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let (_, v) = env
        .initiate(
            &org,
            json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": ALLOWED}),
        )
        .await;
    let back = consent(v["consent_url"].as_str().unwrap()).await;
    let q = query(&format!("http://x{back}"));
    let (s, loc, _) = env.callback(&back).await;
    assert_eq!(s, StatusCode::FOUND);
    let id = query(&loc)["connector_id"].clone();
    let row = env
        .state
        .store
        .get_connector(&org.id, &id)
        .await
        .unwrap()
        .unwrap();
    let plain = env
        .state
        .vault
        .decrypt(&org.id, &row.credentials)
        .await
        .unwrap();
    let creds: Value = serde_json::from_slice(&plain).unwrap();
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("connector created by OAuth"),
        "logs are captured"
    );
    let random = q["state"].split_once('.').unwrap().1.to_string();
    for secret in [
        q["code"].as_str(),
        random.as_str(),
        creds["fields"]["access_token"].as_str().unwrap(),
        creds["fields"]["refresh_token"].as_str().unwrap(),
        "platform-secret",
    ] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
}
