//! The `connector.status_changed` webhook body, POSTed to an organization's `webhook_url`.

use serde::{Deserialize, Serialize};

/// The event type of [`StatusChangedEvent`] (its `type` and `X-Connectors-Event-Type`).
pub const STATUS_CHANGED: &str = "connector.status_changed";

/// The body of the `connector.status_changed` webhook, POSTed to the organization's
/// `webhook_url`. Documented under `webhooks` in the document.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChangedEvent {
    /// `evt_...`; also in `X-Connectors-Event-Id`. Retries of one event keep it.
    pub id: String,
    /// Always `connector.status_changed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created_at: i64,
    pub organization_id: String,
    pub connector_id: String,
    #[schema(required)]
    pub customer_name: Option<String>,
    #[schema(required)]
    pub connector_type: Option<String>,
    pub status: EventStatus,
    #[schema(required)]
    pub previous_status: Option<EventStatus>,
    /// Why (e.g. the grant was revoked), when known.
    #[schema(required)]
    pub reason: Option<String>,
    /// Position in the connector's events (1, 2, 3, ... without gaps; see `events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<i64>,
    /// With `status: needs_reauth`: a link for the end user that opens the connect page in
    /// reconnect mode (the connector keeps its id, settings and policies). It works for days
    /// (until `reconnect_expires_at`), each opening starts a fresh connect session, and it
    /// stops working once the connector is active again or deleted. Treat it as a secret of
    /// that end user: send it to them, do not log it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect_url: Option<String>,
    /// Unix seconds: when `reconnect_url` stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect_expires_at: Option<i64>,
}

/// A connector's status in a webhook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Active,
    NeedsReauth,
    Deleted,
}

impl EventStatus {
    /// The status as stored (`active`, `needs_reauth`, `deleted`); `None` for anything else.
    pub fn parse(s: &str) -> Option<EventStatus> {
        match s {
            "active" => Some(EventStatus::Active),
            "needs_reauth" => Some(EventStatus::NeedsReauth),
            "deleted" => Some(EventStatus::Deleted),
            _ => None,
        }
    }
}
