//! `POST /api/v1/integrations/connectors/{id}/execute`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One action of the connector's spec.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    /// An entity of the spec, e.g. `messages`.
    pub entity: String,
    /// An action of the entity, e.g. `list`.
    pub action: String,
    /// The action's parameters (validated against its JSON Schema): an object. On the server an
    /// attachment may be named instead of carried: `content_ref` (`{"handle"}` of an upload, or
    /// `{"message_id", "attachment_id"}` in this connector's mailbox) in place of
    /// `content_base64`, and `"attachments": "reference"` on `attachments.get` for a handle
    /// and download URL instead of the bytes (docs/attachments.md).
    #[serde(default = "empty_object", deserialize_with = "crate::object")]
    #[schema(value_type = Object)]
    pub params: Value,
    /// Replays the first outcome for a repeated key (same entity, action and params): 1 to
    /// 255 characters, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]+$"
    )]
    pub idempotency_key: Option<String>,
}

/// The action's result and metadata.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteResponse {
    /// The action's result (shape given by the action's result schema).
    pub result: Value,
    /// `connector_id`, `connector_type`, `entity`, `action`, plus action metadata (pagination
    /// cursors and the like).
    #[schema(value_type = Object)]
    pub connector_metadata: Value,
}

fn empty_object() -> Value {
    json!({})
}
