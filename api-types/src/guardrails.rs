//! Guardrails: send policies (`.../connectors/{id}/policy`, `/api/v1/organization/policy`) and
//! approvals (`/api/v1/approvals`). The policy itself is core's [`connector_core::guard::Policy`].

use connector_core::guard::{Policy, Preview};
use serde::{Deserialize, Serialize};

/// `PUT` body of a policy: the whole policy (fields left out take their defaults), or
/// `null` to remove it (a connector then falls back to the organization's default).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPolicyRequest {
    /// `mode` (`read_only`, `draft_only`, `send`), `allow_recipients`, `deny_recipients`,
    /// `internal_domains` (addresses or domains), `max_sends_per_hour`, `max_sends_per_day`,
    /// `max_attachment_bytes`, `require_approval` (`none`, `all`, `external`,
    /// `more_recipients_than`), `approval_above_recipients`, `approval_ttl_seconds`.
    /// See docs/guardrails.md.
    #[schema(value_type = Option<Object>)]
    pub policy: Option<Policy>,
}

/// A policy as stored: which one is in force and its version.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyView {
    /// The connector's id; null for the organization's default.
    #[schema(required)]
    pub connector_id: Option<String>,
    /// `connector` (its own), `organization` (the default applies) or `none` (no policy: every
    /// call runs).
    pub source: String,
    /// Version of the policy in force (each change of a scope adds one); 0 without one.
    pub version: i64,
    /// The policy in force; null when there is none.
    #[schema(value_type = Option<Object>, required)]
    pub policy: Option<Policy>,
    /// When the policy in force was set (RFC 3339); null without one.
    #[schema(required, format = DateTime)]
    pub updated_at: Option<String>,
    /// The application (client id) that set it.
    #[schema(required)]
    pub updated_by: Option<String>,
}

/// One approval request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalView {
    /// `apr_...`.
    pub id: String,
    pub connector_id: String,
    pub entity: String,
    pub action: String,
    /// `pending`, `approved`, `rejected`, `expired` or `used` (approved and sent).
    pub status: String,
    /// Why the policy asks for approval.
    pub reason: String,
    /// Hex SHA-256 of the exact message: the approval covers this content only.
    pub content_hash: String,
    /// The exact message: `from`, `to`, `cc`, `bcc`, `subject`, `text` (a text rendering of the
    /// body), `attachments` (`filename`, `mime_type`, `size`, `sha256`).
    #[schema(value_type = Object)]
    pub preview: Preview,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(required, format = DateTime)]
    pub decided_at: Option<String>,
    /// Who decided: `app:<application id>` (API) or `link:<reviewer>` (signed link).
    #[schema(required)]
    pub decided_by: Option<String>,
}

/// `GET /api/v1/approvals`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalList {
    pub data: Vec<ApprovalView>,
}

/// `POST /api/v1/approvals/{id}/links`: links for a person who has no API token.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// Who the link is for (recorded as `link:<reviewer>` when it is used): at most 200
    /// characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub reviewer: Option<String>,
    /// How long the link works, in seconds (at most until the approval expires and at most 7
    /// days; default 1 hour).
    #[serde(default, deserialize_with = "connector_core::params::integral::option")]
    #[schema(maximum = 9007199254740992.0)]
    pub ttl_seconds: Option<u64>,
}

/// A single-use signed link that shows the message and lets a person approve or reject it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalLink {
    pub url: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// `approval.requested` (a send waits for a person) and `approval.decided` (a person approved
/// or rejected it), in the event feed and at the webhook.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalEvent {
    pub id: String,
    /// `approval.requested` or `approval.decided`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created_at: i64,
    pub organization_id: String,
    pub connector_id: String,
    pub approval_id: String,
    /// `approved` or `rejected`; null on `approval.requested`.
    #[schema(required)]
    pub decision: Option<String>,
    /// `app:<application id>` or `link:<reviewer>`; null on `approval.requested`.
    #[schema(required)]
    pub decided_by: Option<String>,
    pub content_hash: String,
    /// Per-connector sequence number.
    pub sequence: i64,
}

/// The `type`s of [`ApprovalEvent`].
pub const APPROVAL_REQUESTED: &str = "approval.requested";
pub const APPROVAL_DECIDED: &str = "approval.decided";
