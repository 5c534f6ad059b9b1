//! What the OpenAPI document says about request fields that name a connector type, beyond what
//! the derives say: `connector_type` or `definition_id` must be given (as a string), the URL
//! patterns of the organization settings ([`crate::urls`]), and the send policy's schema, which
//! is core's own (derived by schemars from the type the server decodes).
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
    let policy = policy_schema();
    for name in ["SetPolicyRequest", "PolicyView"] {
        if let Some(field) = schemas
            .get_mut(name)
            .and_then(|s| s.pointer_mut("/properties/policy"))
        {
            let description = field.get("description").cloned();
            *field = json!({"anyOf": [policy, {"type": "null"}]});
            if let Some(d) = description {
                field["description"] = d;
            }
        }
    }
    if let Some(settings) = schemas.get_mut("SettingsChange") {
        if let Some(items) = settings.pointer_mut("/properties/redirect_allowlist/items") {
            items["pattern"] = json!(*crate::urls::HTTP_URL);
        }
        if let Some(webhook) = settings.pointer_mut("/properties/webhook_url") {
            webhook["pattern"] = json!(format!("^$|{}", *crate::urls::HTTP_URL));
        }
        if let Some(logo) = settings.pointer_mut("/properties/logo_url") {
            logo["pattern"] = json!(format!("^$|{}", *crate::urls::HTTP_URL));
        }
        if let Some(name) = settings.pointer_mut("/properties/display_name") {
            // Control characters are refused (`char::is_control`: Unicode's Cc).
            name["pattern"] = json!("^[^\\u0000-\\u001f\\u007f-\\u009f]*$");
        }
    }
}

/// [`connector_core::guard::Policy`] as JSON Schema, its enums inlined.
fn policy_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema =
        serde_json::to_value(generator.into_root_schema_for::<connector_core::guard::Policy>())
            .expect("the policy schema serializes");
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    // `Policy::validate`'s one rule across fields: `more_recipients_than` needs its number.
    // The other rules are read off the generated enum, so a new variant lands on the right side.
    let counting = serde_json::to_value(connector_core::guard::ApprovalRule::MoreRecipientsThan)
        .expect("the rule serializes");
    let rule = &schema["properties"]["require_approval"];
    let variants: Vec<Value> = match rule.get("enum").and_then(Value::as_array) {
        Some(values) => values.clone(),
        None => rule["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.get("const").or_else(|| v["enum"].get(0)).cloned())
            .collect(),
    };
    let others: Vec<Value> = variants.into_iter().filter(|v| *v != counting).collect();
    assert!(
        !others.is_empty(),
        "the approval rules are read off the schema"
    );
    schema["anyOf"] = json!([
        {"properties": {"require_approval": {"enum": others}}},
        {
            "required": ["require_approval", "approval_above_recipients"],
            "properties": {
                "require_approval": {"const": counting},
                "approval_above_recipients": {"type": "integer"},
            },
        },
    ]);
    schema
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

    #[test]
    fn the_policy_is_documented_field_by_field_and_closed() {
        let doc: Value = serde_json::from_str(crate::openapi::json()).unwrap();
        for name in ["SetPolicyRequest", "PolicyView"] {
            let field = &doc["components"]["schemas"][name]["properties"]["policy"];
            let policy = &field["anyOf"][0];
            assert_eq!(
                field["anyOf"][1]["type"], "null",
                "{name}: null removes a policy"
            );
            assert_eq!(policy["additionalProperties"], false, "{name}");
            let props = policy["properties"].as_object().unwrap();
            // Every field a policy serializes is documented.
            let full = connector_core::guard::Policy {
                max_sends_per_hour: Some(1),
                max_sends_per_day: Some(1),
                max_attachment_bytes: Some(1),
                approval_above_recipients: Some(1),
                approval_ttl_seconds: Some(1),
                ..Default::default()
            };
            for key in serde_json::to_value(full)
                .unwrap()
                .as_object()
                .unwrap()
                .keys()
            {
                assert!(props.contains_key(key), "{name}: {key} undocumented");
            }
            assert_eq!(
                props["allow_recipients"]["items"]["pattern"],
                connector_core::guard::ENTRY_PATTERN
            );
            // The cross-field rule is stated: a schema-valid policy passes `validate`.
            let rules = serde_json::to_string(&policy["anyOf"]).unwrap();
            assert!(
                rules.contains("more_recipients_than")
                    && rules.contains("approval_above_recipients")
            );
            // Every other rule may stand without the number: each one `validate` accepts alone.
            let alone = policy["anyOf"][0]["properties"]["require_approval"]["enum"]
                .as_array()
                .unwrap();
            for rule in ["none", "all", "external"] {
                assert!(alone.contains(&json!(rule)), "{name}: rule {rule}");
                let p: connector_core::guard::Policy =
                    serde_json::from_value(json!({ "require_approval": rule })).unwrap();
                assert!(p.validate().is_ok(), "{name}: {rule} alone");
            }
            assert!(!alone.contains(&json!("more_recipients_than")), "{name}");
            let modes = serde_json::to_string(&props["mode"]).unwrap();
            for mode in ["read_only", "draft_only", "send"] {
                assert!(modes.contains(mode), "{name}: mode {mode}");
            }
        }
    }
}
