//! Strict request bodies and bounded error answers.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use crate::common::harness::*;

const TOKEN: &str = "/api/v1/account/applications/token";

#[actix_web::test]
async fn a_body_must_be_one_json_object_sent_as_json() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let id = h.connector(&t, "ada", json!({"access_token": "at"})).await;
    let path = format!("{CONNECTORS}/{id}");
    // An array where an object is documented (serde would read it as the struct's fields).
    let got = h
        .send(Req::new(Method::PATCH, &path).by(&t).raw(r#"["renamed"]"#))
        .await;
    assert_error(&got, 400, "invalid_params");
    assert!(got.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("JSON object"));
    // Text after the JSON.
    let got = h
        .send(
            Req::new(Method::PATCH, &path)
                .by(&t)
                .raw(r#"{"name": "renamed"} {"name": "again"}"#),
        )
        .await;
    assert_error(&got, 400, "invalid_params");
    assert!(got.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nothing after it"));
    // Not sent as JSON.
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let got = h
            .send(
                Req::new(Method::PATCH, &path)
                    .by(&t)
                    .raw(r#"{"name": "renamed"}"#)
                    .content_type(content_type),
            )
            .await;
        assert_error(&got, 400, "invalid_params");
        assert_eq!(got.1["error"]["details"]["header"], "Content-Type");
    }
    let (_, row) = h.get(&path, &t).await;
    assert_eq!(row["name"], "gmail (ada)", "nothing was renamed");
    // `application/json; charset=utf-8` is JSON.
    let (status, row) = h
        .send(
            Req::new(Method::PATCH, &path)
                .by(&t)
                .raw(r#"{"name": "renamed"}"#)
                .content_type("application/json; charset=utf-8"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["name"], "renamed");
}

#[actix_web::test]
async fn params_and_credentials_must_be_objects() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let id = h.connector(&t, "ada", json!({"access_token": "at"})).await;
    let execute = format!("{CONNECTORS}/{id}/execute");
    for params in [json!(null), json!([]), json!("x")] {
        let got = h
            .post(
                &execute,
                &t,
                json!({"entity": "labels", "action": "list", "params": params}),
            )
            .await;
        assert_error(&got, 400, "invalid_params");
        assert_eq!(got.1["error"]["details"]["path"], "params", "{}", got.1);
    }
    let got = h
        .post(
            CONNECTORS,
            &t,
            json!({"customer_name": "bob", "connector_type": "gmail", "credentials": ["at"]}),
        )
        .await;
    assert_error(&got, 400, "invalid_params");
    assert_eq!(got.1["error"]["details"]["path"], "credentials");
}

#[actix_web::test]
async fn errors_quote_at_most_a_short_excerpt_of_the_input() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let id = h.connector(&t, "ada", json!({"access_token": "at"})).await;
    let huge = "A".repeat(1_000_000);
    // Without authentication: an unknown field named by a megabyte.
    let (status, body) = h
        .send(Req::new(Method::POST, TOKEN).raw(format!(
            r#"{{"client_id": "a", "client_secret": "b", "{huge}": 1}}"#
        )))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.to_string().len() < 2_000,
        "{} bytes",
        body.to_string().len()
    );
    // Authenticated: a megabyte entity, and a wrongly typed megabyte string.
    let execute = format!("{CONNECTORS}/{id}/execute");
    let (status, body) = h
        .post(&execute, &t, json!({"entity": huge, "action": "list"}))
        .await;
    assert!(status.is_client_error(), "{status}");
    assert!(
        body.to_string().len() < 2_000,
        "{} bytes",
        body.to_string().len()
    );
    let (status, body) = h
        .post(
            &execute,
            &t,
            json!({"entity": "labels", "action": "list", "params": {"max_results": huge}}),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    assert!(
        body.to_string().len() < 4_000,
        "{} bytes",
        body.to_string().len()
    );
    let logs = h.logs.text();
    let long_lines: Vec<String> = logs
        .lines()
        .filter(|l| l.contains(&"A".repeat(200)))
        .map(|l| {
            let at = l.find("AAAA").unwrap();
            l[at.saturating_sub(300)..at + 10].to_string()
        })
        .collect();
    assert!(
        long_lines.is_empty(),
        "the log quotes the input at length: {long_lines:#?}"
    );
}
