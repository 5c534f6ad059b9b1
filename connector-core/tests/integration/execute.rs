//! `execute`: lookup, validation before any provider call, the declarative executor, handler
//! dispatch and provider error mapping, against wiremock on loopback.

use std::sync::Arc;

use crate::common::{builder, compiled, demo_spec, http};
use async_trait::async_trait;
use connector_core::{
    ActionHandler, CallContext, Connector, ErrorCode, ExecuteOptions, Output, ProviderRequest,
    Result, Secret, StaticToken,
};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Send;

#[async_trait]
impl ActionHandler for Send {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output> {
        let resp = cx
            .send(ProviderRequest::post("/v1/send").json(json!({"to": params["to"]})))
            .await?;
        let body: Value = resp.json()?;
        Ok(Output::new(body).with_meta(
            "key",
            cx.options.idempotency_key.clone().unwrap_or_default(),
        ))
    }
}

fn connector(server: &MockServer) -> Connector {
    builder(&server.uri(), "tok-1")
        .handler("send", Arc::new(Send))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_declarative_list_action_runs_from_the_spec_alone() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/messages"))
        .and(header("authorization", "Bearer tok-1"))
        .and(query_param("q", "from:ada is:unread"))
        .and(query_param("maxResults", "2"))
        .and(query_param("format", "minimal"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messages": [{"id": "m1", "threadId": "t1"}, {"id": "m2", "threadId": "t2"}],
            "nextPageToken": "NEXT",
            "resultSizeEstimate": 42
        })))
        .expect(1)
        .mount(&server)
        .await;
    let out = connector(&server)
        .execute(
            "messages",
            "list",
            json!({"q": "from:ada is:unread", "label_ids": ["INBOX", "UNREAD"], "max_results": 2}),
        )
        .await
        .unwrap();
    assert_eq!(
        out.result,
        json!([{"id": "m1", "thread_id": "t1"}, {"id": "m2", "thread_id": "t2"}])
    );
    assert_eq!(out.metadata["next_page_token"], "NEXT");
    assert_eq!(out.metadata["result_size_estimate"], 42);
    // Arrays go out as repeated keys.
    let reqs = server.received_requests().await.unwrap();
    let labels: Vec<String> = reqs[0]
        .url
        .query_pairs()
        .filter(|(k, _)| k == "labelIds")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(labels, ["INBOX", "UNREAD"]);
}

/// Airbyte's clients send the provider's camelCase names (issue 26): they are aliases of ours.
#[tokio::test]
async fn provider_camel_case_params_are_accepted_as_aliases() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/messages"))
        .and(query_param("maxResults", "3"))
        .and(query_param("labelIds", "INBOX"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"resultSizeEstimate": 0})))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server);
    c.execute(
        "messages",
        "list",
        json!({"maxResults": 3, "labelIds": ["INBOX"]}),
    )
    .await
    .unwrap();
    // Both spellings of one param at once: refused before any request, naming both.
    let e = c
        .execute(
            "messages",
            "list",
            json!({"maxResults": 3, "max_results": 4}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
    assert!(
        e.message.contains("`maxResults`") && e.message.contains("`max_results`"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn an_empty_list_is_an_empty_array_without_a_page_token() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"resultSizeEstimate": 0})))
        .mount(&server)
        .await;
    let out = connector(&server)
        .execute("messages", "list", json!({}))
        .await
        .unwrap();
    assert_eq!(out.result, json!([]));
    assert!(!out.metadata.contains_key("next_page_token"));
}

#[tokio::test]
async fn path_params_are_percent_encoded_and_bodies_mapped() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/labels/Label_1%2Fx%20y"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "Label_1/x y", "messagesTotal": 3})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/labels"))
        .and(body_json(
            json!({"name": "Work", "color": {"backgroundColor": "#fff"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "L9"})))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server);
    let got = c
        .execute("labels", "get", json!({"label_id": "Label_1/x y"}))
        .await
        .unwrap();
    assert_eq!(
        got.result,
        json!({"id": "Label_1/x y", "messages_total": 3})
    );
    let made = c
        .execute(
            "labels",
            "create",
            json!({"name": "Work", "background_color": "#fff"}),
        )
        .await
        .unwrap();
    assert_eq!(made.result["id"], "L9");
}

#[tokio::test]
async fn invalid_params_never_reach_the_provider() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let c = connector(&server);
    let e = c
        .execute("messages", "list", json!({"maxresults": 5}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
    assert_eq!(e.details["errors"][0]["pointer"], "/maxresults");
    assert_eq!(e.details["errors"][0]["suggestion"], "max_results");
    assert!(
        e.message.contains("did you mean `max_results`"),
        "{}",
        e.message
    );

    let e = c
        .execute("messages", "list", json!({"max_results": "ten"}))
        .await
        .unwrap_err();
    assert_eq!(e.details["errors"][0]["pointer"], "/max_results");
    assert_eq!(e.details["errors"][0]["given"], "\"ten\"");
    assert_eq!(e.details["errors"][0]["expected"], "type: \"integer\"");

    // `null` params are no params: the required label_id is reported missing.
    let e = c.execute("labels", "get", json!(null)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
    assert_eq!(e.details["errors"][0]["pointer"], "/label_id");
    let e = c.execute("labels", "get", json!([1])).await.unwrap_err();
    assert_eq!(e.details["errors"][0]["pointer"], "");
}

#[tokio::test]
async fn unknown_entities_and_actions_list_the_valid_ones() {
    let server = MockServer::start().await;
    let c = connector(&server);
    let e = c.execute("mesages", "list", json!({})).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownEntity);
    assert_eq!(e.details["valid_entities"], json!(["labels", "messages"]));
    assert!(
        e.message.contains("Did you mean `messages`?"),
        "{}",
        e.message
    );
    let e = c
        .execute("messages", "delete", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownAction);
    assert_eq!(e.details["valid_actions"], json!(["list", "send"]));
    assert!(e.message.contains("list, send"), "{}", e.message);
}

#[tokio::test]
async fn handlers_get_validated_params_options_and_an_authorized_send() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/send"))
        .and(header("authorization", "Bearer tok-1"))
        .and(body_json(json!({"to": ["ada@example.com"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "sent-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let out = connector(&server)
        .execute_with(
            "messages",
            "send",
            json!({"to": ["ada@example.com"]}),
            ExecuteOptions {
                idempotency_key: Some("k-1".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(out.result["id"], "sent-1");
    assert_eq!(out.metadata["key"], "k-1");
}

#[tokio::test]
async fn build_fails_when_a_named_handler_is_missing() {
    let e = builder("http://127.0.0.1:9", "t").build().err().unwrap();
    assert!(e.message.contains("send"), "{}", e.message);
    let e = Connector::builder(compiled(demo_spec()))
        .handler("send", Arc::new(Send))
        .token_provider(Arc::new(StaticToken(Secret::new("t"))))
        .build()
        .err()
        .unwrap();
    assert!(e.message.contains("HttpConfig"), "{}", e.message);
    let ok = Connector::builder(compiled(demo_spec()))
        .handler("send", Arc::new(Send))
        .http(http("http://127.0.0.1:9"))
        .reqwest_client(reqwest::Client::new())
        .token_provider(Arc::new(StaticToken(Secret::new("t"))))
        .build()
        .unwrap();
    assert_eq!(ok.spec().name, "demo");
}

async fn error_for(status: u16, body: Value) -> connector_core::ConnectorError {
    let server = MockServer::start().await;
    Mock::given(path("/v1/labels/x"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    connector(&server)
        .execute("labels", "get", json!({"label_id": "x"}))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn provider_errors_map_to_the_table_and_keep_the_providers_words() {
    let e = error_for(
        404,
        json!({"error": {"code": 404, "message": "Requested entity was not found.",
            "errors": [{"reason": "notFound"}], "status": "NOT_FOUND"}}),
    )
    .await;
    assert_eq!(e.code, ErrorCode::NotFound);
    assert_eq!(e.details["provider_status"], 404);
    assert_eq!(e.details["provider_reason"], "notFound");
    assert_eq!(e.details["provider_code"], "NOT_FOUND");
    assert_eq!(
        e.details["provider_message"],
        "Requested entity was not found."
    );

    let e = error_for(
        403,
        json!({"error": {"code": "ErrorAccessDenied", "message": "Access is denied. Requires Mail.Read.",
            "innerError": {"request-id": "r"}}}),
    )
    .await;
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    assert_eq!(e.details["provider_code"], "ErrorAccessDenied");
    assert_eq!(e.details["missing_scopes"], json!(["Mail.Read"]));
    assert_eq!(
        e.details["required_scopes"],
        json!([
            "https://www.googleapis.com/auth/gmail.labels",
            "https://mail.google.com/"
        ])
    );
    assert!(
        e.message.contains("labels.get needs one of these OAuth scopes: https://www.googleapis.com/auth/gmail.labels"),
        "{}",
        e.message
    );

    let e = error_for(
        410,
        json!({"error": {"code": "SyncStateNotFound", "message": "gone"}}),
    )
    .await;
    assert_eq!(e.code, ErrorCode::SyncRequired);
    let e = error_for(409, json!({})).await;
    assert_eq!(e.code, ErrorCode::Conflict);
    let e = error_for(413, json!({})).await;
    assert_eq!(e.code, ErrorCode::PayloadTooLarge);
    let e = error_for(
        400,
        json!({"error": {"code": 400, "message": "Invalid id", "status": "INVALID_ARGUMENT"}}),
    )
    .await;
    // The caller's mistake: a 4xx, with the provider's words kept.
    assert_eq!(e.code, ErrorCode::InvalidParams);
    assert_eq!(e.http_status(), 400);
    assert!(e.message.contains("Invalid id"), "{}", e.message);
}

#[tokio::test]
async fn a_401_with_a_static_token_is_unauthenticated_after_one_try() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/labels/x"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {"code": 401, "message": "Invalid Credentials", "status": "UNAUTHENTICATED"}})))
        .expect(1)
        .mount(&server)
        .await;
    let e = connector(&server)
        .execute("labels", "get", json!({"label_id": "x"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);
    assert!(!format!("{e:?} {e}").contains("tok-1"));
}

/// Stands in for the Gmail crate's Rust handlers, which this test does not call.
struct NotCalled;

#[async_trait]
impl ActionHandler for NotCalled {
    async fn call(&self, _cx: &CallContext<'_>, _params: Value) -> Result<Output> {
        panic!("the new action must run without Rust code")
    }
}

#[tokio::test]
async fn an_action_added_to_the_gmail_spec_file_runs_without_rust() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/gmail.json"))
        .unwrap();
    let mut spec: Value = serde_json::from_str(&text).unwrap();
    spec["entities"]["labels"]["actions"]["rename"] = json!({
        "description": "Renames a label.",
        "params": {"type": "object", "additionalProperties": false,
            "required": ["label_id", "name"],
            "properties": {"label_id": {"type": "string"}, "name": {"type": "string"}}},
        "result": {"type": "object"},
        "request": {"method": "PATCH", "path": "/gmail/v1/users/me/labels/{label_id}",
            "body": {"name": "name"}, "response": {"snake_case_keys": true}},
        "scopes": ["https://www.googleapis.com/auth/gmail.labels"],
        "idempotent": true
    });
    let compiled = compiled(spec);
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/gmail/v1/users/me/labels/Label_7"))
        .and(body_json(json!({"name": "Receipts"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "Label_7", "name": "Receipts", "labelListVisibility": "labelShow"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut b = Connector::builder(compiled.clone())
        .http(http(&server.uri()))
        .token_provider(Arc::new(StaticToken(Secret::new("t"))));
    for name in compiled.handler_names() {
        b = b.handler(name, Arc::new(NotCalled));
    }
    let out = b
        .build()
        .unwrap()
        .execute(
            "labels",
            "rename",
            json!({"label_id": "Label_7", "name": "Receipts"}),
        )
        .await
        .unwrap();
    assert_eq!(
        out.result,
        json!({"id": "Label_7", "name": "Receipts", "label_list_visibility": "labelShow"})
    );
}

/// A compat name can make a call a health check (Airbyte's `*.check`, issue 26): the action
/// runs against the provider, and a failure is reported in the answer, not raised.
#[tokio::test]
async fn a_health_check_compat_name_reports_healthy_and_unhealthy() {
    let mut spec = demo_spec();
    spec["compat"] = json!({"client": {"source": "test", "actions": {
        "*.check": {"action": "labels.get", "result": "health_check"}}}});
    let server = MockServer::start().await;
    let c = Connector::builder(compiled(spec))
        .http(http(&server.uri()))
        .token_provider(Arc::new(StaticToken(Secret::new("tok-1"))))
        .handler("send", Arc::new(Send))
        .build()
        .unwrap();
    Mock::given(path("/v1/labels/INBOX"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "INBOX"})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let ok = c
        .execute("*", "check", json!({"label_id": "INBOX"}))
        .await
        .unwrap();
    assert_eq!(
        ok.result,
        json!({"status": "healthy", "checked_entity": "labels", "checked_action": "get"})
    );
    Mock::given(path("/v1/labels/INBOX"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"code": 401, "message": "Invalid Credentials", "status": "UNAUTHENTICATED"}}),
        ))
        .mount(&server)
        .await;
    let bad = c
        .execute("*", "check", json!({"label_id": "INBOX"}))
        .await
        .unwrap();
    assert_eq!(bad.result["status"], "unhealthy");
    assert_eq!(bad.result["code"], "unauthenticated");
    assert!(!bad.result["error"].as_str().unwrap().is_empty(), "{bad:?}");
}
