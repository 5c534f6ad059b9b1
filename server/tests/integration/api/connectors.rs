//! Connector CRUD, validation, tenancy and limits.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use crate::common::harness::*;

const GMAIL_DEF: &str = "f7833dac-fc18-4feb-a2a9-94b22001edc6";

fn refresh_creds() -> serde_json::Value {
    json!({"refresh_token": "1//rt-abc", "client_id": "cid.apps.googleusercontent.com", "client_secret": "GOCSPX-xyz"})
}

#[actix_web::test]
async fn create_get_list_patch_delete() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let (status, created) = h
        .post(
            CONNECTORS,
            &t,
            json!({"customer_name": "alice", "connector_type": "gmail", "name": "Alice mail",
                   "credentials": refresh_creds(), "replication_config": {"include_spam_and_trash": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["definition_id"], GMAIL_DEF);
    assert_eq!(created["status"], "active");
    assert_eq!(
        created["replication_config"]["include_spam_and_trash"],
        true
    );
    assert!(created.get("credentials").is_none());

    // By definition id instead of type.
    let (status, second) = h
        .post(CONNECTORS, &t, json!({"customer_name": "bob", "definition_id": GMAIL_DEF, "credentials": {"access_token": "ya29.tok"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["connector_type"], "gmail");
    assert_eq!(
        second["replication_config"]["include_spam_and_trash"],
        false
    );

    let (_, got) = h.get(&format!("{CONNECTORS}/{id}"), &t).await;
    assert_eq!(got, created);

    let (_, all) = h.get(CONNECTORS, &t).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let (_, alice) = h
        .get(&format!("{CONNECTORS}?customer_name=alice"), &t)
        .await;
    assert_eq!(alice["data"].as_array().unwrap().len(), 1);
    assert_eq!(alice["data"][0]["id"], id.as_str());
    let (_, by_def) = h
        .get(
            &format!("{CONNECTORS}?definition_id={GMAIL_DEF}&connector_type=gmail"),
            &t,
        )
        .await;
    assert_eq!(by_def["data"].as_array().unwrap().len(), 2);
    let (_, none) = h
        .get(&format!("{CONNECTORS}?connector_type=outlook"), &t)
        .await;
    assert_eq!(none["data"], json!([]));
    let (_, page1) = h.get(&format!("{CONNECTORS}?limit=1"), &t).await;
    let (_, page2) = h.get(&format!("{CONNECTORS}?limit=1&offset=1"), &t).await;
    assert_eq!(page1["data"].as_array().unwrap().len(), 1);
    assert_ne!(page1["data"][0]["id"], page2["data"][0]["id"]);
    assert_error(
        &h.get(&format!("{CONNECTORS}?limit=0"), &t).await,
        400,
        "invalid_params",
    );
    assert_error(
        &h.get(&format!("{CONNECTORS}?custmer_name=a"), &t).await,
        400,
        "invalid_params",
    );

    let (status, patched) = h
        .send(
            Req::new(Method::PATCH, format!("{CONNECTORS}/{id}"))
                .by(&t)
                .json(json!({
                    "name": "Renamed", "replication_config": {"include_spam_and_trash": false},
                    "credentials": {"access_token": "ya29.new"}
                })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(
        patched["replication_config"]["include_spam_and_trash"],
        false
    );

    let (status, _) = h
        .send(Req::new(Method::DELETE, format!("{CONNECTORS}/{id}")).by(&t))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &h.get(&format!("{CONNECTORS}/{id}"), &t).await,
        404,
        "not_found",
    );
    assert_error(
        &h.send(Req::new(Method::DELETE, format!("{CONNECTORS}/{id}")).by(&t))
            .await,
        404,
        "not_found",
    );
}

#[actix_web::test]
async fn another_organization_gets_404_on_every_route() {
    let h = harness().await;
    let a = h.tenant("acme").await;
    let b = h.tenant("globex").await;
    let id = h
        .connector(&a, "alice", json!({"access_token": "ya29.a"}))
        .await;
    let base = format!("{CONNECTORS}/{id}");
    let cases = [
        (Method::GET, base.clone(), None),
        (Method::PATCH, base.clone(), Some(json!({"name": "stolen"}))),
        (Method::DELETE, base.clone(), None),
        (Method::GET, format!("{base}/status"), None),
        (Method::GET, format!("{base}/tools?format=mcp"), None),
        (
            Method::POST,
            format!("{base}/execute"),
            Some(json!({"entity": "messages", "action": "list", "params": {}})),
        ),
    ];
    for (method, path, body) in cases {
        let mut r = Req::new(method, path).by(&b);
        if let Some(body) = body {
            r = r.json(body);
        }
        assert_error(&h.send(r).await, 404, "not_found");
    }
    let (_, listed) = h.get(CONNECTORS, &b).await;
    assert_eq!(listed["data"], json!([]));
    // Still intact for its owner.
    let (status, got) = h.get(&base, &a).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["name"], "gmail (alice)");
}

#[actix_web::test]
async fn bodies_with_unknown_fields_or_bad_types_are_400_naming_the_field() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let got = h
        .post(CONNECTORS, &t, json!({"customer_name": "a", "connector_type": "gmail", "credentials": {"access_token": "x"}, "colour": 1}))
        .await;
    assert_error(&got, 400, "invalid_params");
    assert_eq!(got.1["error"]["details"]["field"], "colour");
    let got = h
        .post(CONNECTORS, &t, json!({"customer_name": "a", "connector_type": "gmail", "credentials": {"access_token": "x"},
                                      "replication_config": {"include_spam_and_trash": "yes"}}))
        .await;
    assert_error(&got, 400, "invalid_params");
    assert_eq!(
        got.1["error"]["details"]["path"],
        "replication_config.include_spam_and_trash"
    );
    let got = h.post(CONNECTORS, &t, json!({"customer_name": 5})).await;
    assert_eq!(got.1["error"]["details"]["path"], "customer_name");
    let got = h
        .send(Req::new(Method::POST, CONNECTORS).by(&t).raw("{not json"))
        .await;
    assert_error(&got, 400, "invalid_params");
    let id = h
        .connector(&t, "alice", json!({"access_token": "ya29.a"}))
        .await;
    let got = h
        .send(
            Req::new(Method::PATCH, format!("{CONNECTORS}/{id}"))
                .by(&t)
                .json(json!({"customer_name": "x"})),
        )
        .await;
    assert_error(&got, 400, "invalid_params");
    assert_eq!(got.1["error"]["details"]["field"], "customer_name");
    let got = h
        .post(
            &format!("{CONNECTORS}/{id}/execute"),
            &t,
            json!({"entity": "messages", "action": "list", "parms": {}}),
        )
        .await;
    assert_error(&got, 400, "invalid_params");
    assert_eq!(got.1["error"]["details"]["field"], "parms");
    let got = h
        .post(
            &format!("{CONNECTORS}/{id}/execute"),
            &t,
            json!({"action": "list"}),
        )
        .await;
    assert_eq!(got.1["error"]["details"]["field"], "entity");
}

#[actix_web::test]
async fn credentials_are_checked_against_the_auth_schema() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let create = |creds: serde_json::Value| json!({"customer_name": "a", "connector_type": "gmail", "credentials": creds});
    // A refresh token without client credentials, and no platform app configured.
    let got = h
        .post(CONNECTORS, &t, create(json!({"refresh_token": "1//only"})))
        .await;
    assert_error(&got, 400, "invalid_params");
    assert_eq!(got.1["error"]["details"]["path"], "credentials.client_id");
    // Unknown field.
    let got = h
        .post(
            CONNECTORS,
            &t,
            create(json!({"access_token": "x", "password": "p"})),
        )
        .await;
    assert_eq!(got.1["error"]["details"]["path"], "credentials.password");
    // Nothing usable.
    let got = h
        .post(CONNECTORS, &t, create(json!({"client_id": "c"})))
        .await;
    assert_error(&got, 400, "invalid_params");
    // Unknown type.
    let got = h
        .post(CONNECTORS, &t, json!({"customer_name": "a", "connector_type": "fax", "credentials": {"access_token": "x"}}))
        .await;
    assert_error(&got, 400, "invalid_params");
    assert_eq!(got.1["error"]["details"]["path"], "connector_type");
    // No error message echoes a credential value.
    assert!(!h.all_bodies().contains("1//only"));
}

#[actix_web::test]
async fn a_platform_oauth_app_makes_a_bare_refresh_token_enough() {
    let h = harness_with(|c| {
        c.providers.entry("gmail").client_id = Some("platform-cid".into());
        c.providers.entry("gmail").client_secret =
            Some(connector_core::Secret::new("platform-secret"));
    })
    .await;
    let t = h.tenant("acme").await;
    h.connector(&t, "alice", json!({"refresh_token": "1//only"}))
        .await;
}

#[actix_web::test]
async fn execute_bodies_over_the_limit_are_413() {
    let h = harness_with(|c| c.max_execute_body = 1024).await;
    let t = h.tenant("acme").await;
    let id = h
        .connector(&t, "alice", json!({"access_token": "ya29.a"}))
        .await;
    let big = json!({"entity": "messages", "action": "list", "params": {"q": "x".repeat(2048)}});
    let got = h.post(&format!("{CONNECTORS}/{id}/execute"), &t, big).await;
    assert_error(&got, 413, "payload_too_large");
    // Other routes keep the 1 MiB default; the execute limit defaults to 50 MiB.
    assert_eq!(server::config::DEFAULT_MAX_EXECUTE_BODY, 50 * 1024 * 1024);
}

#[actix_web::test]
async fn execute_limit_default_is_50_mib() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let id = h
        .connector(&t, "alice", json!({"access_token": "ya29.a"}))
        .await;
    let mut body = br#"{"entity":"messages","action":"send","params":{"text":""#.to_vec();
    body.extend(std::iter::repeat_n(b'a', 50 * 1024 * 1024));
    body.extend_from_slice(br#""}}"#);
    let got = h
        .send(
            Req::new(Method::POST, format!("{CONNECTORS}/{id}/execute"))
                .by(&t)
                .raw(body),
        )
        .await;
    assert_error(&got, 413, "payload_too_large");
}

#[actix_web::test]
async fn status_reports_active_for_a_new_connector() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let id = h
        .connector(&t, "alice", json!({"access_token": "ya29.a"}))
        .await;
    let (status, body) = h.get(&format!("{CONNECTORS}/{id}/status"), &t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "active");
    assert_eq!(body["connector_id"], id.as_str());
    assert_eq!(body["reason"], serde_json::Value::Null);
}
