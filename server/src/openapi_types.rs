//! What the OpenAPI document says about request fields that name a connector type, beyond what
//! the derives say: `connector_type` or `definition_id` must be given (as a string), and the URL
//! patterns of the organization settings ([`crate::urls`]).
//!
//! Which types exist, and what their credentials are, is the server's registry (a server can
//! run connector types defined elsewhere, and a platform OAuth app changes which credential
//! fields a refresh token needs): `GET /api/v1/connector-types` lists them with their credential
//! schemas, so the document does not repeat them.

use serde_json::{json, Value};

/// Writes these rules into the component schemas of `doc`.
pub fn describe(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for name in ["CreateConnectorRequest", "InitiateRequest"] {
        if let Some(schema) = schemas.get_mut(name) {
            schema["anyOf"] = json!([
                {"required": ["connector_type"], "properties": {"connector_type": {"type": "string"}}},
                {"required": ["definition_id"], "properties": {"definition_id": {"type": "string"}}},
            ]);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connector_body_must_name_its_type_one_way_or_the_other() {
        let doc: Value = serde_json::from_str(crate::openapi::json()).unwrap();
        let create = &doc["components"]["schemas"]["CreateConnectorRequest"];
        assert_eq!(create["anyOf"].as_array().unwrap().len(), 2);
        let webhook = &doc["components"]["schemas"]["SettingsChange"]["properties"]["webhook_url"];
        assert!(webhook["pattern"]
            .as_str()
            .unwrap()
            .starts_with("^$|^https?://"));
    }
}
