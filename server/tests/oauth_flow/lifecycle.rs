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
    let env = env_with(|c| c.providers.gmail.revoke_url = Some(url)).await;
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
    let env =
        env_with(|c| c.providers.gmail.revoke_url = Some("http://127.0.0.1:9/revoke".into())).await;
    let org = env.org("acme").await;
    let loc = flow(
        &env,
        &org,
        json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": ALLOWED}),
    )
    .await;
    let id = query(&loc)["connector_id"].clone();
    let (s, _) = env
        .call(
            &org,
            Method::DELETE,
            &format!("/api/v1/integrations/connectors/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
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
