//! What the OpenAPI document says about the connector types a server runs, written into the
//! request schemas that name one: `connector_type` / `definition_id` (one of them, and they
//! must agree), the OAuth app's `provider`, and `credentials` (the type's credential fields,
//! strings, and the field sets [`crate::credentials::validate`] requires). Built from the
//! provider descriptors, so a new connector type is described without touching this file.
//!
//! Also the URL patterns of the organization settings ([`crate::urls`]).
//!
//! The credential rules are those of a server without a platform OAuth app (a refresh token
//! then needs the client credentials); with one, the server also takes a refresh token alone.

use connector_core::ProviderDescriptor;
use serde_json::{json, Map, Value};

/// Writes the connector types into the component schemas of `doc`.
pub fn describe(doc: &mut Value, types: &[&ProviderDescriptor]) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let names: Vec<Value> = types.iter().map(|t| json!(t.name)).collect();
    if let Some(create) = schemas.get_mut("CreateConnectorRequest") {
        create["anyOf"] = Value::Array(
            types
                .iter()
                .flat_map(|t| choose_type(t, Some(credentials(t))))
                .collect(),
        );
    }
    if let Some(initiate) = schemas.get_mut("InitiateRequest") {
        initiate["anyOf"] = Value::Array(types.iter().flat_map(|t| choose_type(t, None)).collect());
    }
    if let Some(update) = schemas.get_mut("UpdateConnectorRequest") {
        if let Some(creds) = update.pointer_mut("/properties/credentials") {
            let mut any: Vec<Value> = types.iter().map(|t| credentials(t)).collect();
            any.push(json!({"type": "null"}));
            *creds = json!({
                "description": "New credentials (validated like on create, against the connector's own type)",
                "anyOf": any,
            });
        }
    }
    if let Some(settings) = schemas.get_mut("SettingsChange") {
        if let Some(items) = settings.pointer_mut("/properties/redirect_allowlist/items") {
            items["pattern"] = json!(*crate::urls::HTTP_URL);
        }
        if let Some(webhook) = settings.pointer_mut("/properties/webhook_url") {
            webhook["pattern"] = json!(format!("^$|{}", *crate::urls::HTTP_URL));
        }
    }
    if let Some(provider) = schemas
        .get_mut("CreateOAuthAppRequest")
        .and_then(|s| s.pointer_mut("/properties/provider"))
    {
        provider["enum"] = Value::Array(names);
    }
}

/// The two ways to name type `t` (by `connector_type` or by `definition_id`), each with the
/// other field absent, null or agreeing; with the type's `credentials` schema when given.
fn choose_type(t: &ProviderDescriptor, credentials: Option<Value>) -> Vec<Value> {
    let branch = |by: &str, value: &str, other: &str, other_value: &str| {
        let mut properties = Map::new();
        properties.insert(by.into(), json!({"type": "string", "enum": [value]}));
        properties.insert(other.into(), json!({"enum": [other_value, null]}));
        if let Some(c) = &credentials {
            properties.insert("credentials".into(), c.clone());
        }
        json!({"required": [by], "properties": properties})
    };
    vec![
        branch("connector_type", t.name, "definition_id", t.definition_id),
        branch("definition_id", t.definition_id, "connector_type", t.name),
    ]
}

/// The credential object of type `t`: its fields (strings; an empty string counts as absent),
/// one complete field set of the spec's `one_of`, and with a refresh token the client
/// credentials the refresh needs.
fn credentials(t: &ProviderDescriptor) -> Value {
    let spec = (t.spec)();
    let auth = &spec.spec().auth;
    let mut properties = Map::new();
    for (name, field) in &auth.fields {
        let mut p = json!({"type": "string", "description": field.description});
        if name == "token_url" {
            p["pattern"] = json!(format!("^$|{}", *crate::urls::HTTPS_URL));
        }
        properties.insert(name.clone(), p);
    }
    let present = |names: &[&str]| {
        let props: Map<String, Value> = names
            .iter()
            .map(|n| (n.to_string(), json!({"type": "string", "minLength": 1})))
            .collect();
        json!({"required": names, "properties": props})
    };
    let groups: Vec<Vec<String>> = if auth.one_of.is_empty() {
        vec![vec!["access_token".into()], vec!["refresh_token".into()]]
    } else {
        auth.one_of.clone()
    };
    let one_group: Vec<Value> = groups
        .iter()
        .map(|g| present(&g.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect();
    let refresh_needs: &[&str] = if t.refresh.client_secret_required {
        &["client_id", "client_secret"]
    } else {
        &["client_id"]
    };
    let mut all_of = vec![json!({"anyOf": one_group})];
    if auth.fields.contains_key("refresh_token") {
        all_of.push(json!({"anyOf": [
            {"properties": {"refresh_token": {"maxLength": 0}}},
            present(refresh_needs),
        ]}));
    }
    let always: Vec<&str> = auth
        .fields
        .iter()
        .filter(|(_, f)| f.required && f.default.is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    if !always.is_empty() {
        all_of.push(present(&always));
    }
    json!({
        "type": "object",
        "description": format!("Credentials of a `{}` connector", t.name),
        "properties": properties,
        "additionalProperties": false,
        "allOf": all_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_type_is_a_choice_of_the_create_body() {
        let doc: Value = serde_json::from_str(crate::openapi::json()).unwrap();
        let create = &doc["components"]["schemas"]["CreateConnectorRequest"];
        let choices = create["anyOf"].as_array().unwrap();
        for t in providers::all() {
            assert!(
                choices
                    .iter()
                    .any(|c| c["properties"]["connector_type"]["enum"] == json!([t.name])),
                "{} is not a connector_type choice",
                t.name
            );
        }
        let provider =
            &doc["components"]["schemas"]["CreateOAuthAppRequest"]["properties"]["provider"];
        assert_eq!(
            provider["enum"].as_array().unwrap().len(),
            providers::all().len()
        );
    }
}
