//! The requests the connector really sends match the discovery document: every example of every
//! action runs through `connector.execute` against a recording mock server, and each request
//! (and each request inside a batch) must be a discovery method with the same HTTP method, a
//! matching path, known query parameters with values of the right type, and must be the method
//! the contract table names for that action.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use connector_core::{HttpConfig, RetryConfig, Secret, StaticToken};
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::common::contract::ACTIONS;

/// Answers anything with a body that has every field some handler reads; batches get one
/// message per part.
struct Everything;

const MESSAGE: &str = r#"{"id":"m1","threadId":"t1","labelIds":["INBOX"],"snippet":"s","historyId":"5","internalDate":"1700000000000","payload":{"partId":"","mimeType":"text/plain","headers":[{"name":"Subject","value":"x"}],"body":{"size":2,"data":"aGk"}},"raw":"U3ViamVjdDogeA0KDQpoaQ"}"#;

impl Respond for Everything {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.url.path().starts_with("/batch") {
            let body = String::from_utf8_lossy(&req.body);
            let n = body.matches("Content-ID: <item-").count();
            let mut out = String::new();
            for i in 0..n {
                out.push_str(&format!(
                    "--b\r\nContent-Type: application/http\r\nContent-ID: <response-item-{i}>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{MESSAGE}\r\n"
                ));
            }
            out.push_str("--b--\r\n");
            return ResponseTemplate::new(200).set_body_raw(out, "multipart/mixed; boundary=b");
        }
        let message: Value = serde_json::from_str(MESSAGE).unwrap();
        let mut body = message.clone();
        let extra = json!({
            "messages": [{"id": "m1", "threadId": "t1"}], "threads": [{"id": "t1"}],
            "drafts": [{"id": "d1", "message": {"id": "m1", "threadId": "t1"}}],
            "labels": [{"id": "INBOX", "name": "INBOX"}], "name": "INBOX",
            "history": [], "sendAs": [{"sendAsEmail": "a@b.c"}], "sendAsEmail": "a@b.c",
            "filter": [{"id": "f1"}], "emailAddress": "a@b.c", "enableAutoReply": false,
            "message": message, "data": "AAEC", "size": 3, "attachmentId": "att1",
            "items": [], "calendars": {},
            "attendees": [{"email": "a@b.c", "self": true, "responseStatus": "needsAction"}],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

fn methods() -> Vec<Value> {
    crate::common::contract::all_methods()
}

/// Every key of a JSON request body must be a field of the method's request schema (nested
/// objects checked against their own schemas).
fn check_body(schemas: &Value, schema: &str, body: &Value, at: &str) -> Result<(), String> {
    let props = &schemas[schema]["properties"];
    let Some(obj) = body.as_object() else {
        return Ok(());
    };
    for (k, v) in obj {
        let field = props
            .get(k)
            .ok_or_else(|| format!("{at}: {schema} has no field {k}"))?;
        let sub = field["$ref"]
            .as_str()
            .or_else(|| field["items"]["$ref"].as_str());
        if let Some(sub) = sub {
            for item in v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]) {
                check_body(schemas, sub, &item, &format!("{at}.{k}"))?;
            }
        }
    }
    Ok(())
}

/// The discovery method a request is, or why it is none.
fn identify(
    methods: &[Value],
    method: &str,
    path: &str,
    query: &[(String, String)],
) -> Result<String, String> {
    let path = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .to_string();
    let (path, upload) = match path.strip_prefix("/upload") {
        Some(rest) => (rest.to_string(), true),
        None => (path, false),
    };
    let query: Vec<(String, String)> = query
        .iter()
        .filter(|(k, v)| !(upload && k == "uploadType" && (v == "multipart" || v == "resumable")))
        .cloned()
        .collect();
    let candidates: Vec<&Value> = methods
        .iter()
        .filter(|m| m["httpMethod"] == method && path_matches(m["path"].as_str().unwrap(), &path))
        .collect();
    // A literal segment beats a placeholder (`/messages/send` vs `/messages/{id}`).
    let m = candidates
        .iter()
        .min_by_key(|m| m["path"].as_str().unwrap().matches('{').count())
        .ok_or_else(|| format!("no discovery method for {method} {path}"))?;
    if upload && m["mediaUpload"].is_null() {
        return Err(format!("{} takes no uploads", m["id"]));
    }
    let params = m["parameters"].as_object().unwrap();
    let mut seen = BTreeMap::new();
    for (k, v) in &query {
        let p = params
            .get(k)
            .ok_or_else(|| format!("{}: unknown query parameter {k}", m["id"]))?;
        if p["location"] != "query" {
            return Err(format!("{}: {k} is not a query parameter", m["id"]));
        }
        *seen.entry(k.clone()).or_insert(0) += 1;
        if seen[k] > 1 && p["repeated"] != true {
            return Err(format!("{}: {k} repeated but not repeatable", m["id"]));
        }
        let ok = match p["type"].as_str().unwrap() {
            "integer" => v.parse::<u64>().is_ok(),
            "boolean" => v == "true" || v == "false",
            _ => true,
        } && p["enum"]
            .as_array()
            .is_none_or(|e| e.iter().any(|x| x == v.as_str()))
            && (p["format"] != "uint64" || v.parse::<u64>().is_ok());
        if !ok {
            return Err(format!("{}: {k}={v} does not fit {p}", m["id"]));
        }
    }
    Ok(m["id"].as_str().unwrap().to_string())
}

fn path_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            if *t == "{userId}" {
                *p == "me"
            } else if t.starts_with('{') {
                !p.is_empty()
            } else {
                t == p
            }
        })
}

/// One request: (method, path, query pairs).
type WireRequest = (String, String, Vec<(String, String)>);

/// The requests inside a batch body.
fn batch_parts(body: &[u8]) -> Vec<WireRequest> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| {
            let (method, target) = l.trim().split_once(' ')?;
            let target = target.trim().trim_end_matches("HTTP/1.1").trim();
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) {
                return None;
            }
            let url = url::Url::parse(&format!("http://x{}", target.trim())).ok()?;
            let q = url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            Some((method.to_string(), url.path().to_string(), q))
        })
        .collect()
}

#[tokio::test]
async fn every_example_sends_only_the_discovery_methods_of_its_action() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(Everything)
        .mount(&server)
        .await;
    let mut http = HttpConfig::new(server.uri());
    http.retry = RetryConfig {
        max_attempts: 1,
        ..RetryConfig::default()
    };
    let gmail = connector_gmail::connector(Arc::new(StaticToken(Secret::new("t"))), http).unwrap();
    let spec: Value = serde_json::from_str(connector_gmail::SPEC_JSON).unwrap();
    let methods = methods();
    let contracts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/contracts");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(contracts.join("gmail.v1.json")).unwrap())
            .unwrap();
    let schemas = doc["schemas"].clone();
    let calendar_doc: Value =
        serde_json::from_str(&std::fs::read_to_string(contracts.join("calendar.v3.json")).unwrap())
            .unwrap();
    let calendar_schemas = calendar_doc["schemas"].clone();
    let expected: BTreeMap<&str, &str> = ACTIONS.iter().map(|(a, m, _)| (*a, *m)).collect();

    let mut checked = 0;
    for (entity, e) in spec["entities"].as_object().unwrap() {
        for (action, a) in e["actions"].as_object().unwrap() {
            let key = format!("{entity}.{action}");
            let examples = a["examples"].as_array().unwrap();
            assert!(!examples.is_empty(), "{key} has no example");
            for ex in examples {
                server.reset().await;
                Mock::given(any())
                    .respond_with(Everything)
                    .mount(&server)
                    .await;
                let out = gmail.execute(entity, action, ex["params"].clone()).await;
                assert!(
                    out.is_ok(),
                    "{key} example {}: {:?}",
                    ex["description"],
                    out.err()
                );
                // Batch parts must have been understood, not reported as failures.
                let out = out.unwrap();
                assert!(
                    out.metadata.get("failed").is_none_or(|f| f == 0),
                    "{key}: {:?}",
                    out.result
                );
                let items = out.result.as_array().cloned().unwrap_or_default();
                assert!(
                    items.iter().all(|r| r.get("error").is_none()),
                    "{key}: {items:?}"
                );
                let mut hit = BTreeSet::new();
                for req in server.received_requests().await.unwrap() {
                    let q: Vec<(String, String)> = req
                        .url
                        .query_pairs()
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    if req.url.path() == "/batch/gmail/v1" || req.url.path() == "/batch" {
                        assert_eq!(req.method.as_str(), "POST");
                        let parts = batch_parts(&req.body);
                        assert!(
                            !parts.is_empty() && parts.len() <= 100,
                            "{key}: batch of {}",
                            parts.len()
                        );
                        for (m, p, q) in parts {
                            hit.insert(
                                identify(&methods, &m, &p, &q)
                                    .unwrap_or_else(|e| panic!("{key}: {e}")),
                            );
                        }
                    } else {
                        let id = identify(&methods, req.method.as_str(), req.url.path(), &q)
                            .unwrap_or_else(|e| panic!("{key}: {e}"));
                        let is_json = req.headers.get("content-type").is_some_and(|v| {
                            v.to_str().unwrap_or("").starts_with("application/json")
                        });
                        if is_json {
                            let body: Value = serde_json::from_slice(&req.body).unwrap();
                            let m = methods.iter().find(|m| m["id"] == id.as_str()).unwrap();
                            let schema = m["request"]
                                .as_str()
                                .unwrap_or_else(|| panic!("{key}: {id} takes no body"));
                            let (schemas, schema) = match schema.strip_prefix("calendar:") {
                                Some(s) => (&calendar_schemas, s),
                                None => (&schemas, schema),
                            };
                            check_body(schemas, schema, &body, &key)
                                .unwrap_or_else(|e| panic!("{e}"));
                        }
                        hit.insert(id);
                    }
                }
                let want = expected[key.as_str()];
                assert!(
                    hit.contains(want),
                    "{key}: never called {want} (called {hit:?})"
                );
                // Besides its own method a handler may only read what it needs: the messages
                // it decodes or replies to, the draft it sends, a search for an earlier send,
                // the sent message read back for the Message-ID Gmail gave it.
                let allowed_extra: &[&str] = match key.as_str() {
                    "drafts.send" => &[
                        "gmail.users.drafts.get",
                        "gmail.users.drafts.update",
                        "gmail.users.messages.list",
                        "gmail.users.messages.get",
                    ],
                    "messages.send" | "messages.import" | "messages.insert" => {
                        &["gmail.users.messages.get", "gmail.users.messages.list"]
                    }
                    // Updates and answers read the event first (attendees keep their answers).
                    "events.update" | "events.respond" | "events.create" => {
                        &["calendar.events.get"]
                    }
                    _ => &["gmail.users.messages.get"],
                };
                for h in &hit {
                    assert!(
                        h == want || allowed_extra.contains(&h.as_str()),
                        "{key}: unexpected call to {h}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 43, "only {checked} examples ran");
}
