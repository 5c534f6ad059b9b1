//! Connector CRUD, status and tools under `/api/v1/integrations/connectors`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `replication_config`: connector-level defaults for actions, and the context store's
/// replication of the mailbox (docs/context-store.md).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationConfig {
    /// Default of `include_spam_trash` for list actions (an explicit param wins); with
    /// replication, whether spam and trash are replicated too.
    #[serde(default)]
    pub include_spam_and_trash: bool,
    /// Replicate the mailbox into the server's context store (`messages.search` then answers
    /// from it). Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enabled: bool,
    /// Which mail to replicate: Gmail label ids (none: all mail), Outlook folders (well-known
    /// names or ids; none: inbox and sentitems).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Only mail received at or after this date (`2026-01-01`) or RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// `none` (default): metadata only; `text`: the plain-text body too (stored unencrypted
    /// for full-text search; see docs/context-store.md).
    #[serde(default, skip_serializing_if = "Bodies::is_none")]
    pub bodies: Bodies,
    /// Replicated mail older than this many days is removed (none: kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub retention_days: Option<u32>,
}

/// Whether the context store keeps message bodies.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bodies {
    #[default]
    None,
    Text,
}

impl Bodies {
    pub fn is_none(&self) -> bool {
        *self == Bodies::None
    }
}

/// The context store's replication of one connector, in its status.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationStatus {
    /// `backfilling` (first copy under way), `live` (kept fresh by the mailbox events) or
    /// `failed` (see `last_error`; retried).
    pub state: String,
    /// Messages in the store now.
    pub messages: i64,
    /// Messages written by the backfill so far.
    pub backfilled: i64,
    /// The last error of the backfill or of applying changes; null when the last try worked.
    #[schema(required)]
    pub last_error: Option<String>,
    #[schema(required, format = DateTime)]
    pub backfill_finished_at: Option<String>,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// A connector from credentials: give `connector_type` or `definition_id`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectorRequest {
    /// The end user this connector belongs to (not blank).
    #[schema(min_length = 1, pattern = r"\S")]
    pub customer_name: String,
    #[serde(default)]
    pub connector_type: Option<String>,
    #[serde(default)]
    pub definition_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// The fields of the type's credential schema (see `GET /api/v1/connector-types`).
    #[serde(deserialize_with = "crate::object")]
    #[schema(value_type = Object)]
    pub credentials: Value,
    #[serde(default)]
    pub replication_config: Option<ReplicationConfig>,
}

/// Changes only the fields it names.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnectorRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub replication_config: Option<ReplicationConfig>,
    /// New credentials (validated like on create).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Value>,
}

/// A connector as responses show it: never a credential.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorView {
    pub id: String,
    pub organization_id: String,
    pub customer_name: String,
    pub connector_type: String,
    pub definition_id: String,
    pub name: String,
    pub replication_config: ReplicationConfig,
    pub status: ConnectorStatus,
    /// Why the connector needs re-authorization; null while active.
    #[schema(required)]
    pub status_reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// `active`, or `needs_reauth` (the end user must authorize again).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorStatus {
    Active,
    NeedsReauth,
}

/// `{"data": [...]}`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorList {
    pub data: Vec<ConnectorView>,
}

/// `GET .../connectors/{id}/status`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorStatusView {
    pub connector_id: String,
    pub status: ConnectorStatus,
    /// Why re-authorization is needed; null while active.
    #[schema(required)]
    pub reason: Option<String>,
    /// The scopes the end user granted (OAuth connectors).
    pub scopes: Vec<String>,
    /// The last access-token refresh; null before the first one.
    #[schema(required, format = DateTime)]
    pub last_refresh_at: Option<String>,
    /// The send policy in force (docs/guardrails.md).
    pub policy: crate::guardrails::PolicyView,
    /// The context store's replication, when `replication_config.enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationStatus>,
}

/// `GET .../connectors/{id}/tools`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorTools {
    pub connector_id: String,
    /// `openai`, `anthropic` or `mcp`.
    pub format: String,
    /// One tool definition per action, in `format`.
    #[schema(value_type = Vec<Object>)]
    pub data: Value,
}
