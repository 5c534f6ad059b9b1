//! `POST /v1.0/$batch`: at most 20 requests, run 4 at a time, `dependsOn` ordering (a failed
//! dependency answers 424), each part run through the same path as a top-level request (auth
//! already checked).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::http::Method;
use serde_json::{json, Value};

use super::auth::Caller;
use super::reply::{self, Reply, ReplyBody};
use super::state::Inner;

const MAX_PARTS: usize = 20;
/// Parts of one batch run at once (Outlook's per-mailbox limit).
const PARALLEL: usize = 4;

struct Part {
    id: String,
    method: Method,
    url: String,
    prefer: String,
    body: Value,
    depends_on: Vec<String>,
}

fn parse(body: &[u8]) -> Result<Vec<Part>, Reply> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| reply::error(400, "BadRequest", "Unable to read JSON request payload."))?;
    let requests = v.get("requests").and_then(Value::as_array).ok_or_else(|| {
        reply::error(
            400,
            "BadRequest",
            "The batch request must have a 'requests' array.",
        )
    })?;
    if requests.is_empty() || requests.len() > MAX_PARTS {
        return Err(reply::error(
            400,
            "BadRequest",
            format!("A batch request must contain between 1 and {MAX_PARTS} requests."),
        ));
    }
    let mut parts = Vec::new();
    for r in requests {
        let id = match r.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(reply::error(
                    400,
                    "BadRequest",
                    "Every batch request needs an 'id'.",
                ))
            }
        };
        if parts.iter().any(|p: &Part| p.id == id) {
            return Err(reply::error(
                400,
                "BadRequest",
                format!("Batch request ids must be unique: '{id}'."),
            ));
        }
        let method = r
            .get("method")
            .and_then(Value::as_str)
            .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .ok_or_else(|| {
                reply::error(
                    400,
                    "BadRequest",
                    format!("Request '{id}' has no valid 'method'."),
                )
            })?;
        let url = r
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                reply::error(400, "BadRequest", format!("Request '{id}' has no 'url'."))
            })?
            .to_string();
        let headers = r.get("headers").and_then(Value::as_object);
        let prefer = headers
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("prefer")))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("")
            .to_string();
        let depends_on = r
            .get("dependsOn")
            .or_else(|| r.get("depends_on"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        parts.push(Part {
            id,
            method,
            url,
            prefer,
            body: r.get("body").cloned().unwrap_or(Value::Null),
            depends_on,
        });
    }
    for p in &parts {
        for d in &p.depends_on {
            if !parts.iter().any(|q| &q.id == d) || d == &p.id {
                return Err(reply::error(
                    400,
                    "BadRequest",
                    format!("Request '{}' depends on unknown request '{d}'.", p.id),
                ));
            }
        }
    }
    Ok(parts)
}

/// `/me/messages?x` or `https://graph.microsoft.com/v1.0/me/messages?x` -> (path, query).
fn split_url(url: &str) -> (String, Option<String>) {
    let rel = match url.find("/v1.0/") {
        Some(i) if url.starts_with("http") => &url[i + 5..],
        _ => url,
    };
    let rel = if rel.starts_with('/') {
        rel.to_string()
    } else {
        format!("/{rel}")
    };
    match rel.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (rel, None),
    }
}

pub async fn handle(inner: &Inner, caller: &Caller, body: &[u8]) -> Reply {
    inner.batch_requests.fetch_add(1, Ordering::SeqCst);
    let parts = match parse(body) {
        Ok(p) => p,
        Err(e) => return e,
    };
    inner
        .batch_parts
        .fetch_add(parts.len() as u64, Ordering::SeqCst);
    let mut done: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::new();
    while done.len() < parts.len() {
        // Outlook runs up to 4 requests of a batch at once; a request waits for its dependsOn.
        let wave: Vec<&Part> = parts
            .iter()
            .filter(|p| {
                !done.contains_key(&p.id) && p.depends_on.iter().all(|d| done.contains_key(d))
            })
            .take(PARALLEL)
            .collect();
        if wave.is_empty() {
            // a dependency cycle: fail what is left
            for p in parts.iter().filter(|p| !done.contains_key(&p.id)) {
                responses.push(part_json(&p.id, &failed_dependency()));
            }
            break;
        }
        let answers = futures::future::join_all(wave.iter().map(|p| {
            let failed_dep = p
                .depends_on
                .iter()
                .any(|d| done.get(d).is_some_and(|s| *s >= 400));
            async move {
                if failed_dep {
                    return failed_dependency();
                }
                let (path, query) = split_url(&p.url);
                inner
                    .api(
                        caller,
                        &p.method,
                        &path,
                        query.as_deref(),
                        &p.prefer,
                        &p.body,
                        true,
                    )
                    .await
            }
        }))
        .await;
        for (p, r) in wave.iter().zip(answers) {
            done.insert(p.id.clone(), r.status);
            responses.push(part_json(&p.id, &r));
        }
    }
    Reply::ok(json!({ "responses": responses }))
}

fn failed_dependency() -> Reply {
    reply::error(
        424,
        "FailedDependency",
        "The request depends on a request that failed.",
    )
}

fn part_json(id: &str, r: &Reply) -> Value {
    let mut headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut part = json!({"id": id, "status": r.status});
    if let ReplyBody::Json(b) = &r.body {
        headers.insert("Content-Type".into(), json!("application/json"));
        part["body"] = b.clone();
    }
    part["headers"] = Value::Object(headers);
    part
}
