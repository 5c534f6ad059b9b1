//! Checks responses against the served OpenAPI document (`server::openapi`): the status is
//! listed for the route and method, the content type is the documented one, and a JSON body is
//! valid (JSON Schema 2020-12, the `jsonschema` crate) against the documented schema, with
//! `#/components/schemas/...` refs resolved inside the document.
//!
//! Test harnesses call [`Seen::of`] on every response before reading its body, then
//! [`Seen::check`]; a response that does not match panics in the test that made it. Shared by
//! every suite.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::dev::ServiceResponse;
use jsonschema::Validator;
use serde_json::Value;

/// The document the server serves.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::from_str(server::openapi::json()).expect("valid JSON"))
}

/// What the checker needs of a response, taken before its body is read.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The route pattern actix matched (`/api/v1/integrations/connectors/{id}`), if any.
    pub pattern: Option<String>,
    pub path: String,
    pub status: u16,
    pub content_type: Option<String>,
}

impl Seen {
    pub fn of<B>(resp: &ServiceResponse<B>) -> Seen {
        Seen {
            method: resp.request().method().as_str().to_ascii_lowercase(),
            pattern: resp.request().match_pattern(),
            path: resp.request().path().to_string(),
            status: resp.status().as_u16(),
            content_type: resp
                .headers()
                .get(actix_web::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }
    }

    /// Panics when the response does not match the served document.
    #[track_caller]
    pub fn check(&self, body: &[u8]) {
        if let Err(e) = check_against(document(), self, body) {
            panic!(
                "response does not match /openapi.json: {e}\n  {} {} (route {:?}) -> {} {:?}\n  body: {}",
                self.method.to_uppercase(),
                self.path,
                self.pattern,
                self.status,
                self.content_type,
                String::from_utf8_lossy(body)
            );
        }
    }
}

/// A request body the server accepted (2xx) must be valid against the documented request
/// body schema: the document does not ask for less (or other) than the server takes.
pub fn check_accepted_request(seen: &Seen, body: &[u8]) {
    if !(200..300).contains(&seen.status) || body.is_empty() {
        return;
    }
    let Some(pattern) = &seen.pattern else { return };
    let doc = document();
    let Some(op) = doc["paths"]
        .get(pattern.as_str())
        .and_then(|item| item.get(seen.method.as_str()))
    else {
        return;
    };
    let form = op
        .pointer("/requestBody/content/application~1x-www-form-urlencoded")
        .is_some();
    if form {
        // A form (the approval link's page): not JSON, nothing to validate here.
        return;
    }
    if op
        .pointer("/requestBody/content/application~1octet-stream")
        .is_some()
    {
        // Raw bytes (an attachment upload): no schema to validate against.
        return;
    }
    if op
        .pointer("/requestBody/content/application~1json/schema")
        .is_none()
    {
        panic!(
            "{} {pattern} accepted a JSON body but documents none",
            seen.method.to_uppercase()
        );
    }
    let pointer = format!(
        "/paths/{}/{}/requestBody/content/application~1json/schema",
        escape(pattern),
        seen.method
    );
    let v: Value = serde_json::from_slice(body).expect("the test sent JSON");
    if let Err(e) = validate_at(doc, &pointer, &v) {
        panic!(
            "an accepted request does not match /openapi.json: {e}\n  {} {}\n  body: {v}",
            seen.method.to_uppercase(),
            seen.path
        );
    }
}

/// JSON pointer escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Compiled validators by (document fingerprint, pointer).
type Validators = HashMap<(u64, String), Arc<Validator>>;

/// Validates `body` against the schema at `pointer` inside `doc` (cached per document and
/// pointer).
pub fn validate_at(doc: &Value, pointer: &str, body: &Value) -> Result<(), String> {
    static CACHE: OnceLock<Mutex<Validators>> = OnceLock::new();
    let key = (fingerprint(doc), pointer.to_string());
    let cached = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .get(&key)
        .cloned();
    let validator = match cached {
        Some(v) => v,
        None => {
            // The whole document is the root resource, so `#/components/...` refs resolve;
            // the root `$ref` selects the schema to apply.
            let mut root = doc.clone();
            root["$ref"] = Value::String(format!("#{}", uri_fragment(pointer)));
            let v = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .map_err(|e| format!("the schema at {pointer} does not compile: {e}"))?;
            let v = Arc::new(v);
            CACHE
                .get_or_init(Default::default)
                .lock()
                .unwrap()
                .insert(key, v.clone());
            v
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at `{}`", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "body invalid against {pointer}: {}",
            errors.join("; ")
        ))
    }
}

/// A JSON pointer as a URI fragment (`{id}` -> `%7Bid%7D`).
fn uri_fragment(pointer: &str) -> String {
    let mut out = String::new();
    for b in pointer.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn fingerprint(doc: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    if std::ptr::eq(doc, document()) {
        return 0;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    doc.to_string().hash(&mut h);
    h.finish()
}

fn media_type(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// An error body (any route, including unmatched ones).
fn check_error_body(doc: &Value, body: &[u8]) -> Result<(), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    validate_at(doc, "/components/schemas/ErrorBody", &v)
}

/// The check, against any document (the mutation test passes a broken one).
pub fn check_against(doc: &Value, seen: &Seen, body: &[u8]) -> Result<(), String> {
    let Some(pattern) = &seen.pattern else {
        // No route matched: the default service's JSON 404.
        if seen.status != 404 {
            return Err(format!("an unmatched path answered {}", seen.status));
        }
        return check_error_body(doc, body);
    };
    let Some(item) = doc["paths"].get(pattern.as_str()) else {
        return Err(format!("route {pattern} is served but not documented"));
    };
    let Some(op) = item.get(seen.method.as_str()) else {
        // A known path, another method: the JSON 404 of the default service (actix hands
        // method mismatches to the app's default service), or a 405.
        if seen.status != 404 && seen.status != 405 {
            return Err(format!(
                "{} is not documented on {pattern} but answered {}",
                seen.method, seen.status
            ));
        }
        return check_error_body(doc, body);
    };
    let status = seen.status.to_string();
    let Some(response) = op["responses"].get(&status) else {
        let listed: Vec<&String> = op["responses"]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        return Err(format!(
            "status {status} is not documented for {} {pattern} (documented: {listed:?})",
            seen.method
        ));
    };
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        if body.is_empty() {
            return Ok(());
        }
        return Err(format!(
            "status {status} is documented without a body but the response has {} bytes",
            body.len()
        ));
    };
    let ct = seen
        .content_type
        .as_deref()
        .map(media_type)
        .ok_or("the response has no Content-Type")?;
    if !content.contains_key(&ct) {
        return Err(format!(
            "content type {ct} is not documented (documented: {:?})",
            content.keys().collect::<Vec<_>>()
        ));
    }
    let pointer = format!(
        "/paths/{}/{}/responses/{}/content/{}/schema",
        escape(pattern),
        seen.method,
        status,
        escape(&ct)
    );
    if ct == "application/json" {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        validate_at(doc, &pointer, &v)?;
        // Each error code has one status (the core table).
        if let Some(code) = v["error"]["code"].as_str() {
            let table = connector_core::ErrorCode::parse(code)
                .map(|c| c.http_status())
                .ok_or_else(|| format!("unknown error code {code}"))?;
            if table != seen.status {
                return Err(format!(
                    "error code {code} has status {table} in the table, the response has {}",
                    seen.status
                ));
            }
        }
        Ok(())
    } else if ct == "application/octet-stream" {
        // Bytes (an attachment's download): any bytes match.
        Ok(())
    } else {
        let text = std::str::from_utf8(body).map_err(|_| "a text body is not UTF-8")?;
        validate_at(doc, &pointer, &Value::String(text.to_string()))
    }
}
