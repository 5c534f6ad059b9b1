//! `/openapi.json`: served, OpenAPI 3.1, documents exactly the routes the app serves, and the
//! response checker of the harness (`conformance`) can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use actix_web::dev::Service;
use actix_web::http::{Method, StatusCode};
use actix_web::test;
use serde_json::json;
use server::create_app;

use crate::common::conformance::{check_against, document, Seen};
use crate::common::harness::{harness, Harness, Req, CONNECTORS};

#[actix_web::test]
async fn openapi_json_is_served_without_auth_and_declares_3_1() {
    let h = harness().await;
    let (status, doc) = h.send(Req::new(Method::GET, "/openapi.json")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let last = h.checked.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last.content_type.as_deref(),
        Some("application/json"),
        "served as JSON"
    );
    let version = doc["openapi"].as_str().expect("an `openapi` field");
    assert!(version.starts_with("3.1."), "OpenAPI 3.1.x, got {version}");
    assert_eq!(&doc, document(), "the served document is the generated one");

    // The error code enum is the core table, not a copy of it.
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is an enum")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let table: Vec<&str> = connector_core::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(codes, table);
    let error = &doc["components"]["schemas"]["ErrorObject"];
    assert_eq!(
        error["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );
    for field in ["code", "message", "details"] {
        assert!(
            error["required"]
                .as_array()
                .unwrap()
                .contains(&json!(field)),
            "{field} is required"
        );
    }

    // Security: bearer + X-Organization-Id on /api/ routes, none on the public ones.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["organization"]["in"], "header");
    assert_eq!(schemes["organization"]["name"], "X-Organization-Id");
    let both = json!([{"bearer": [], "organization": []}]);
    assert_eq!(doc["paths"][CONNECTORS]["get"]["security"], both);
    let execute = format!("{CONNECTORS}/{{id}}/execute");
    assert_eq!(doc["paths"][&execute]["post"]["security"], both);
    for public in [
        "/api/v1/account/applications/token",
        "/api/v1/integrations/connectors/oauth/callback",
        "/healthz",
        "/openapi.json",
    ] {
        let op = doc["paths"][public]
            .as_object()
            .and_then(|item| item.values().next())
            .unwrap_or_else(|| panic!("{public} is documented"));
        assert!(op.get("security").is_none(), "{public} needs no token");
    }
    // Every error status of execute is documented with the error body.
    for code in connector_core::ErrorCode::ALL {
        let r = &doc["paths"][&execute]["post"]["responses"][code.http_status().to_string()];
        assert_eq!(
            r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
            "execute documents {code}"
        );
    }
    // The status webhook is documented (the lifecycle tests check delivered bodies).
    assert_eq!(
        doc["webhooks"]["connector.status_changed"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"]["$ref"],
        "#/components/schemas/StatusChangedEvent"
    );
    // The short paths are described.
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(
        description.contains("without the `/api/v1/integrations` prefix"),
        "{description}"
    );
}

/// Every `$ref` resolves inside the document, operation ids are unique, and every schema in
/// `components` compiles as JSON Schema 2020-12.
#[::core::prelude::v1::test]
fn the_document_is_self_contained() {
    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(o) => {
                if let Some(r) = o.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r);
                }
                o.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let doc = document();
    let mut found = Vec::new();
    refs(doc, &mut found);
    assert!(found.len() > 20, "refs are used: {}", found.len());
    for r in found {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{r} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"]
                .as_str()
                .expect("every operation has an id");
            assert!(ids.insert(id), "operationId {id} is used twice");
        }
    }
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        crate::common::conformance::validate_at(
            doc,
            &format!("/components/schemas/{name}"),
            &json!(null),
        )
        .map(|_| ())
        .or_else(|e| {
            if e.contains("does not compile") {
                Err(e)
            } else {
                Ok(())
            }
        })
        .unwrap();
    }
}

/// The route patterns the app registered (from actix's resource map).
async fn served_patterns(h: &Harness) -> BTreeSet<String> {
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = seen.clone();
    let app = test::init_service(create_app(h.state.clone()).wrap_fn(move |req, srv| {
        *sink.lock().unwrap() = format!("{:?}", req.request().resource_map());
        srv.call(req)
    }))
    .await;
    let _ = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    let map = seen.lock().unwrap().clone();
    // `ResourceDef { .. patterns: Single("/healthz") .. }` per registered resource.
    let mut patterns = BTreeSet::new();
    let mut rest = map.as_str();
    while let Some(at) = rest.find("patterns: Single(\"") {
        rest = &rest[at + "patterns: Single(\"".len()..];
        let end = rest.find("\")").expect("closing quote");
        if !rest[..end].is_empty() {
            patterns.insert(rest[..end].to_string());
        }
        rest = &rest[end..];
    }
    assert!(
        !map.contains("patterns: List("),
        "a resource with several patterns: teach this test to read them"
    );
    assert!(
        patterns.contains("/healthz"),
        "read the resource map: {map}"
    );
    patterns
}

fn concrete(pattern: &str) -> String {
    let mut out = String::new();
    let mut in_var = false;
    for c in pattern.chars() {
        match c {
            '{' => in_var = true,
            '}' => {
                in_var = false;
                out.push_str("probe");
            }
            _ if !in_var => out.push(c),
            _ => {}
        }
    }
    out
}

#[actix_web::test]
async fn every_served_route_is_documented_and_none_extra() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    // Served: every registered pattern, with each method that reaches a handler (a method
    // mismatch falls to the app's default service: a 404 naming the pattern; or a 405). The
    // requests go through the harness, so each answer is also checked against the document.
    let mut served: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for pattern in served_patterns(&h).await {
        let path = concrete(&pattern);
        for m in &methods {
            let mut req = Req::new(m.clone(), path.clone()).by(&t);
            if [Method::POST, Method::PUT, Method::PATCH].contains(m) {
                req = req.json(json!({}));
            }
            let (status, body) = h.send(req).await;
            let route = h.checked.lock().unwrap().last().unwrap().pattern.clone();
            assert_eq!(
                route.as_deref(),
                Some(pattern.as_str()),
                "{m} {path}: {body}"
            );
            // An unserved method on a known path is a 404 that names the path's pattern.
            let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
                || (status == StatusCode::NOT_FOUND
                    && body["error"]["message"].as_str().is_some_and(|msg| {
                        msg.starts_with(&format!("{m} is not served on {pattern}:"))
                    }));
            if !unrouted {
                served
                    .entry(pattern.clone())
                    .or_default()
                    .insert(m.as_str().to_ascii_lowercase());
            }
        }
    }
    let documented: BTreeMap<String, BTreeSet<String>> = server::openapi::operations()
        .into_iter()
        .map(|(p, ms)| (p, ms.into_iter().collect()))
        .collect();
    assert_eq!(
        served, documented,
        "served routes (left) and documented operations (right) differ"
    );

    // The short form of every connectors route reaches the same route.
    for (pattern, ms) in &documented {
        let Some(short) = pattern.strip_prefix(server::short_paths::PREFIX) else {
            continue;
        };
        let m = Method::from_bytes(ms.iter().next().unwrap().to_uppercase().as_bytes()).unwrap();
        let mut req = Req::new(m.clone(), concrete(short)).by(&t);
        if m != Method::GET && m != Method::DELETE {
            req = req.json(json!({}));
        }
        h.send(req).await;
        let route = h.checked.lock().unwrap().last().unwrap().pattern.clone();
        assert_eq!(route.as_deref(), Some(pattern.as_str()), "{m} {short}");
    }
}

/// The checker rejects a response when the document is wrong about it: a schema, a status, a
/// content type, or the error code list.
#[actix_web::test]
async fn a_wrong_document_fails_the_check() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let id = h
        .connector(&t, "alice", json!({"access_token": "ya29.x"}))
        .await;
    let last = |h: &Harness| -> (Seen, Vec<u8>) {
        let seen = h.checked.lock().unwrap().last().cloned().unwrap();
        let body = h.bodies.lock().unwrap().last().cloned().unwrap();
        (seen, body.into_bytes())
    };
    let (status, _) = h.get(&format!("{CONNECTORS}/{id}"), &t).await;
    assert_eq!(status, StatusCode::OK);
    let (ok, ok_body) = last(&h);
    let (status, _) = h.get(&format!("{CONNECTORS}/nope"), &t).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (missing, missing_body) = last(&h);

    let doc = document();
    check_against(doc, &ok, &ok_body).expect("the real document accepts the real answer");
    check_against(doc, &missing, &missing_body).expect("and the 404");

    let get = format!("/paths/{}/get", CONNECTORS.replace('/', "~1") + "~1{id}");

    // A property of the wrong type.
    let mut wrong = doc.clone();
    *wrong
        .pointer_mut("/components/schemas/ConnectorView/properties/id")
        .unwrap() = json!({"type": "integer"});
    let e = check_against(&wrong, &ok, &ok_body).unwrap_err();
    assert!(e.contains("/id"), "{e}");

    // A field the server sends but the schema does not allow.
    let mut wrong = doc.clone();
    wrong
        .pointer_mut("/components/schemas/ConnectorView/properties")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("customer_name");
    let e = check_against(&wrong, &ok, &ok_body).unwrap_err();
    assert!(e.contains("customer_name"), "{e}");

    // The status is not documented.
    let mut wrong = doc.clone();
    wrong
        .pointer_mut(&format!("{get}/responses"))
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("200");
    let e = check_against(&wrong, &ok, &ok_body).unwrap_err();
    assert!(e.contains("status 200 is not documented"), "{e}");

    // Another content type.
    let mut wrong = doc.clone();
    let content = wrong
        .pointer_mut(&format!("{get}/responses/200/content"))
        .unwrap()
        .as_object_mut()
        .unwrap();
    let schema = content.remove("application/json").unwrap();
    content.insert("application/xml".into(), schema);
    let e = check_against(&wrong, &ok, &ok_body).unwrap_err();
    assert!(e.contains("content type application/json"), "{e}");

    // An error code missing from the enum.
    let mut wrong = doc.clone();
    wrong
        .pointer_mut("/components/schemas/ErrorCode/enum")
        .unwrap()
        .as_array_mut()
        .unwrap()
        .retain(|c| c != "not_found");
    let e = check_against(&wrong, &missing, &missing_body).unwrap_err();
    assert!(e.contains("not_found"), "{e}");

    // An undocumented route.
    let mut wrong = doc.clone();
    wrong["paths"]
        .as_object_mut()
        .unwrap()
        .remove(&format!("{CONNECTORS}/{{id}}"));
    let e = check_against(&wrong, &ok, &ok_body).unwrap_err();
    assert!(e.contains("served but not documented"), "{e}");

    // The harness panics on a mismatch (it checks against the served document).
    let bad = Seen {
        status: 418,
        ..ok.clone()
    };
    let caught = std::panic::catch_unwind(|| bad.check(&ok_body));
    assert!(caught.is_err(), "an undocumented status fails the test");
}
