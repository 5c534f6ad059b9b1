//! OpenAPI links of the document, derived from its paths so every new route gets them: what a
//! response gives (a created or listed resource's id, a path parameter) that a call under the
//! resource's path takes. Clients and stateful API testers (Schemathesis) follow them:
//! create connector -> get / patch / delete / execute it; list applications -> revoke or rotate
//! one; get an OAuth app -> patch it; and so on.
//!
//! For a path `C/{p}/...` (the operations on one resource of collection `C`):
//! - a `POST C` whose answer has a property `p` links to it with `$response.body#/p`;
//! - a `GET C` whose answer is `{"data": [..]}` of items with `p` links to it with
//!   `$response.body#/data/0/p`;
//! - an operation on `C/{p}` or below links to the other operations there with
//!   `$request.path.p`.
//!
//! Plus one the paths cannot tell: a rotated application secret opens a token request.

use serde_json::{json, Map, Value};

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// One operation: path, method, path parameters in order.
struct Op {
    path: String,
    method: String,
    id: String,
    params: Vec<(usize, String)>,
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').collect()
}

fn param_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
}

fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let params: Vec<(usize, String)> = segments(path)
            .iter()
            .enumerate()
            .filter_map(|(i, s)| param_name(s).map(|p| (i, p.to_string())))
            .collect();
        for method in METHODS {
            if let Some(id) = item[method]["operationId"].as_str() {
                ops.push(Op {
                    path: path.clone(),
                    method: method.into(),
                    id: id.into(),
                    params: params.clone(),
                });
            }
        }
    }
    ops
}

/// The schema `s` with a top-level `$ref` resolved.
fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or(&Value::Null),
        None => s,
    }
}

/// The success response of an operation with a JSON body: (status, schema).
fn success<'a>(doc: &'a Value, op: &Op) -> Option<(String, &'a Value)> {
    let responses = doc["paths"][&op.path][&op.method]["responses"].as_object()?;
    responses.iter().find_map(|(status, r)| {
        let schema = r.pointer("/content/application~1json/schema")?;
        status
            .starts_with('2')
            .then(|| (status.clone(), resolve(doc, schema)))
    })
}

fn has_property(schema: &Value, name: &str) -> bool {
    schema["properties"].get(name).is_some()
}

/// Adds the links to `doc`.
pub fn add(doc: &mut Value) {
    let ops = operations(doc);
    let mut links: Vec<(String, String, String, String, Value)> = Vec::new();
    for target in &ops {
        let Some((k, p)) = target.params.last() else {
            continue;
        };
        let target_segments = segments(&target.path);
        let collection = target_segments[..*k].join("/");
        let item = target_segments[..=*k].join("/");
        // Path parameters of the collection come from the source's own path.
        let inherited: Map<String, Value> = target.params[..target.params.len() - 1]
            .iter()
            .map(|(_, q)| (q.clone(), json!(format!("$request.path.{q}"))))
            .collect();
        for source in &ops {
            if source.id == target.id {
                continue;
            }
            let Some((status, schema)) = success(doc, source) else {
                continue;
            };
            let expression = if source.path == collection {
                let data_items = resolve(doc, &schema["properties"]["data"]["items"]);
                if source.method == "post" && has_property(schema, p) {
                    format!("$response.body#/{p}")
                } else if source.method == "get" && has_property(data_items, p) {
                    format!("$response.body#/data/0/{p}")
                } else {
                    continue;
                }
            } else if source.path == item || source.path.starts_with(&format!("{item}/")) {
                format!("$request.path.{p}")
            } else {
                continue;
            };
            let mut parameters = inherited.clone();
            parameters.insert(p.clone(), json!(expression));
            let link = json!({"operationId": target.id, "parameters": parameters});
            links.push((
                source.path.clone(),
                source.method.clone(),
                status,
                target.id.clone(),
                link,
            ));
        }
    }
    for (path, method, status, name, link) in links {
        let response = &mut doc["paths"][&path][&method]["responses"][&status];
        response["links"][name] = link;
    }
    rotated_secret_opens_a_token(doc);
}

fn rotated_secret_opens_a_token(doc: &mut Value) {
    let ops = operations(doc);
    let (Some(rotate), Some(token)) = (
        ops.iter().find(|o| o.id == "rotate_application_secret"),
        ops.iter().find(|o| o.id == "issue_token"),
    ) else {
        return;
    };
    let Some((status, _)) = success(doc, rotate) else {
        return;
    };
    doc["paths"][&rotate.path][&rotate.method]["responses"][&status]["links"]["issue_token"] = json!({
        "operationId": token.id,
        "requestBody": {
            "client_id": "$response.body#/client_id",
            "client_secret": "$response.body#/client_secret",
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links_of(doc: &Value, path: &str, method: &str, status: &str) -> Map<String, Value> {
        doc["paths"][path][method]["responses"][status]["links"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn a_created_connector_links_to_the_operations_on_it() {
        let doc: Value = serde_json::from_str(crate::openapi::json()).unwrap();
        let created = links_of(&doc, "/api/v1/integrations/connectors", "post", "201");
        for op in [
            "get_connector",
            "update_connector",
            "delete_connector",
            "execute_action",
        ] {
            assert_eq!(
                created[op]["parameters"]["id"], "$response.body#/id",
                "create -> {op}: {created:?}"
            );
        }
        let listed = links_of(&doc, "/api/v1/account/applications", "get", "200");
        assert_eq!(
            listed["revoke_application"]["parameters"]["client_id"],
            "$response.body#/data/0/client_id"
        );
        let read = links_of(&doc, "/api/v1/integrations/connectors/{id}", "get", "200");
        assert_eq!(
            read["get_connector_status"]["parameters"]["id"],
            "$request.path.id"
        );
    }
}
