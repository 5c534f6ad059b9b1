//! The declarative executor: a [`RequestMapping`] and validated params -> a provider request;
//! the provider's answer -> `{result, metadata}`.

use serde_json::{Map, Value};

use super::Output;
use crate::http::{ProviderRequest, ProviderResponse};
use crate::spec::{ActionSpec, RequestMapping};
use crate::wire::{path_segment, snake_keys};
use crate::{ConnectorError, Result};

/// A scalar param as wire text (strings as is, other JSON compactly).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `params` with each top-level default the schema declares filled in where the caller left the
/// param out, so a declarative request does what the spec says (not the provider's own default).
pub fn with_declared_defaults(schema: &Value, params: Value) -> Value {
    let Value::Object(mut given) = params else {
        return params;
    };
    for (name, prop) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(default) = prop.get("default") {
            given.entry(name.clone()).or_insert_with(|| default.clone());
        }
    }
    Value::Object(given)
}

/// Builds the request a mapping describes from validated params.
pub fn build_request(m: &RequestMapping, params: &Value) -> Result<ProviderRequest> {
    let get = |name: &str| params.get(name).filter(|v| !v.is_null());
    let mut path = String::with_capacity(m.path.len());
    let mut rest = m.path.as_str();
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        let value = get(name).ok_or_else(|| {
            ConnectorError::invalid_params(format!("`{name}` is required")).with_details(
                serde_json::json!({"errors": [{
                    "pointer": format!("/{name}"), "expected": format!("required `{name}`"),
                    "given": "missing", "message": format!("`{name}` is required")}]}),
            )
        })?;
        path.push_str(&rest[..start]);
        path.push_str(&path_segment(&text(value)));
        rest = &rest[start + len + 1..];
    }
    path.push_str(rest);

    let method = reqwest::Method::from_bytes(m.method.as_str().as_bytes())
        .expect("spec methods are valid HTTP methods");
    let mut req = ProviderRequest::new(method, path);
    for (param, key) in &m.query {
        match get(param) {
            Some(Value::Array(items)) => {
                for item in items.iter().filter(|v| !v.is_null()) {
                    req = req.query(key.clone(), text(item));
                }
            }
            Some(v) => req = req.query(key.clone(), text(v)),
            None => {}
        }
    }
    for (key, value) in &m.fixed_query {
        req = req.query(key.clone(), value.clone());
    }
    if m.body_param.is_some() || !m.body.is_empty() {
        let mut body = match m.body_param.as_deref().and_then(get) {
            Some(v) => v.clone(),
            None => Value::Object(Map::new()),
        };
        for (param, field) in &m.body {
            if let Some(v) = get(param) {
                set_dotted(&mut body, field, v.clone());
            }
        }
        req = req.json(body);
    }
    Ok(req)
}

/// Sets `a.b.c` in `target`, creating objects on the way (a non-object in the way is replaced).
fn set_dotted(target: &mut Value, dotted: &str, value: Value) {
    let mut cur = target;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let obj = cur.as_object_mut().expect("made an object");
        if parts.peek().is_none() {
            obj.insert(part.to_string(), value);
            return;
        }
        cur = obj
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Whether the action's result schema is an array (a list action).
pub(crate) fn is_list(spec: &ActionSpec) -> bool {
    match spec.result.get("type") {
        Some(Value::String(t)) => t == "array",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "array"),
        _ => false,
    }
}

/// Shapes a provider answer as the mapping says.
pub fn shape_response(
    spec: &ActionSpec,
    m: &RequestMapping,
    resp: &ProviderResponse,
) -> Result<Output> {
    let r = &m.response;
    let reads_body =
        r.fixed_result.is_none() || r.next_page_token.is_some() || !r.metadata.is_empty();
    let body = if reads_body {
        resp.json_or_null()?
    } else {
        Value::Null
    };
    let mut result = match (&r.fixed_result, r.result.as_deref()) {
        (Some(fixed), _) => (**fixed).clone(),
        (None, Some(ptr)) => body.pointer(ptr).cloned().unwrap_or(Value::Null),
        (None, None) => body.clone(),
    };
    if is_list(spec) && result.is_null() {
        result = Value::Array(Vec::new());
    }
    if r.snake_case_keys {
        result = snake_keys(result);
    }
    let mut out = Output::new(result);
    if let Some(ptr) = &r.next_page_token {
        match body.pointer(ptr) {
            Some(Value::Null) | None => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(v) => {
                out.metadata.insert("next_page_token".into(), v.clone());
            }
        }
    }
    for (key, ptr) in &r.metadata {
        if let Some(v) = body.pointer(ptr).filter(|v| !v.is_null()) {
            out.metadata.insert(key.clone(), v.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::HttpMethod;
    use serde_json::json;

    fn mapping(v: Value) -> RequestMapping {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn path_params_are_percent_encoded_and_arrays_repeat() {
        let m = mapping(json!({
            "method": "GET", "path": "/users/me/labels/{label_id}",
            "query": {"label_ids": "labelIds", "max_results": "maxResults", "flag": "flag", "absent": "absent"},
            "fixed_query": {"format": "full"}
        }));
        let r = build_request(
            &m,
            &json!({"label_id": "a/b c?", "label_ids": ["A", "B"], "max_results": 5, "flag": true}),
        )
        .unwrap();
        assert_eq!(r.path, "/users/me/labels/a%2Fb%20c%3F");
        assert_eq!(r.method, reqwest::Method::GET);
        let q: Vec<(&str, &str)> = r
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            q,
            vec![
                ("flag", "true"),
                ("labelIds", "A"),
                ("labelIds", "B"),
                ("maxResults", "5"),
                ("format", "full")
            ]
        );
        assert!(matches!(r.body, crate::http::Body::Empty));
    }

    #[test]
    fn body_maps_dotted_paths_over_body_param() {
        let m = mapping(json!({
            "method": "POST", "path": "/x",
            "body_param": "resource",
            "body": {"name": "name", "color": "color.backgroundColor", "text": "color.textColor"}
        }));
        assert_eq!(m.method, HttpMethod::Post);
        let r = build_request(
            &m,
            &json!({"resource": {"keep": 1}, "name": "N", "color": "#fff", "text": "#000"}),
        )
        .unwrap();
        let crate::http::Body::Json(b) = r.body else {
            panic!("json body expected")
        };
        assert_eq!(
            b,
            json!({"keep": 1, "name": "N", "color": {"backgroundColor": "#fff", "textColor": "#000"}})
        );
    }

    fn action(result_type: &str) -> ActionSpec {
        serde_json::from_value(json!({
            "description": "t", "params": {"type": "object"}, "result": {"type": result_type},
            "handler": "unused", "idempotent": true
        }))
        .unwrap()
    }

    fn answer(body: &str) -> ProviderResponse {
        ProviderResponse {
            status: 200,
            headers: reqwest::header::HeaderMap::new(),
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn declared_defaults_fill_what_the_caller_left_out() {
        let schema = json!({"type": "object", "properties": {
            "max_results": {"type": "integer", "default": 50},
            "include_spam_trash": {"type": "boolean", "default": false},
            "q": {"type": "string"}}});
        assert_eq!(
            with_declared_defaults(&schema, json!({"q": "x", "max_results": 5})),
            json!({"q": "x", "max_results": 5, "include_spam_trash": false})
        );
        let m = mapping(json!({"method": "GET", "path": "/threads",
            "query": {"max_results": "maxResults", "include_spam_trash": "includeSpamTrash", "q": "q"}}));
        let r = build_request(&m, &with_declared_defaults(&schema, json!({}))).unwrap();
        let q: Vec<(&str, &str)> = r
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(q, [("includeSpamTrash", "false"), ("maxResults", "50")]);
    }

    #[test]
    fn a_fixed_result_stands_for_a_body_the_answer_lacks() {
        let m = mapping(json!({"method": "DELETE", "path": "/x/{id}",
            "response": {"fixed_result": {"ok": true}}}));
        let out = shape_response(&action("object"), &m, &answer("")).unwrap();
        assert_eq!(out.result, json!({"ok": true}));
        // Not read, so a body that is not JSON does not fail the call either.
        let out = shape_response(&action("object"), &m, &answer("<html>")).unwrap();
        assert_eq!(out.result, json!({"ok": true}));
        let plain = mapping(json!({"method": "DELETE", "path": "/x/{id}"}));
        assert!(shape_response(&action("object"), &plain, &answer("<html>")).is_err());
    }

    #[test]
    fn snake_case_keys_drop_odata_annotations() {
        let m = mapping(json!({"method": "GET", "path": "/me/mailboxSettings",
            "response": {"snake_case_keys": true}}));
        let out = shape_response(
            &action("object"),
            &m,
            &answer(
                r#"{"@odata.context": "x", "timeZone": "UTC", "workingHours": {"daysOfWeek": []}}"#,
            ),
        )
        .unwrap();
        assert_eq!(
            out.result,
            json!({"time_zone": "UTC", "working_hours": {"days_of_week": []}})
        );
    }
}
