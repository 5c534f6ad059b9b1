//! Events (issue 20): what the organization's webhook receives and what
//! `GET /api/v1/integrations/connectors/{id}/events` returns. One body for both.

use serde::{Deserialize, Serialize};

/// `message.received`, `message.sent`, `message.updated`, `message.deleted`.
pub const MESSAGE_EVENT_TYPES: &[&str] = &[
    "message.received",
    "message.sent",
    "message.updated",
    "message.deleted",
];
pub use crate::webhook::{EventStatus, StatusChangedEvent, STATUS_CHANGED};

/// One event: a mailbox change or a connector's status change.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Event {
    Status(StatusChangedEvent),
    Message(MessageEvent),
    Approval(crate::guardrails::ApprovalEvent),
}

impl Event {
    pub fn id(&self) -> &str {
        match self {
            Event::Status(e) => &e.id,
            Event::Message(e) => &e.id,
            Event::Approval(e) => &e.id,
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Event::Status(e) => &e.kind,
            Event::Message(e) => &e.kind,
            Event::Approval(e) => &e.kind,
        }
    }

    pub fn sequence(&self) -> Option<i64> {
        match self {
            Event::Status(e) => e.sequence,
            Event::Message(e) => Some(e.sequence),
            Event::Approval(e) => Some(e.sequence),
        }
    }
}

/// A change in the connector's mailbox.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageEvent {
    /// `evt_...`, stable: the same change seen again (a provider duplicate, a replay after a
    /// restart) has the same id. Also in `X-Connectors-Event-Id`.
    pub id: String,
    /// `message.received`, `message.sent`, `message.updated` (labels or categories, read
    /// state, folder) or `message.deleted` (deleted, or moved out of the folders followed).
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created_at: i64,
    pub organization_id: String,
    pub connector_id: String,
    #[schema(required)]
    pub customer_name: Option<String>,
    pub connector_type: String,
    /// Position in the connector's events (1, 2, 3, ... without gaps).
    pub sequence: i64,
    pub message: MessageRef,
}

/// The message an event is about.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRef {
    /// The provider's message id (`message_id` of the connector's actions).
    pub id: String,
    /// The provider's thread (Gmail thread, Outlook conversation).
    #[schema(required)]
    pub thread_id: Option<String>,
    /// Gmail label ids; Outlook: the folder, then the categories.
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// The text body, only when the organization asked for bodies (`event_bodies`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
}

/// `GET /api/v1/integrations/connectors/{id}/events`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventFeed {
    /// Oldest first.
    pub data: Vec<Event>,
    /// Pass as `after` to read on (the sequence of the last event, or `after` when none came).
    pub next_cursor: String,
}

/// An event's webhook delivery.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryView {
    pub event_id: String,
    pub sequence: i64,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered`, `dead` (gave up: redeliver on request) or `none` (no webhook
    /// was set).
    pub state: String,
    pub attempts: i64,
    /// Why the last attempt failed (status code or connection error; never a body).
    #[schema(required)]
    pub last_error: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// `GET /api/v1/integrations/connectors/{id}/events/deliveries`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryList {
    pub data: Vec<DeliveryView>,
}

/// `POST /api/v1/integrations/connectors/{id}/events/redeliver`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeliverRequest {
    /// Dead events to send again; all of the connector's dead events when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ids: Option<Vec<String>>,
}

/// How many events went back in the queue.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redelivered {
    pub requeued: u64,
}

/// Microsoft Graph change notifications (`POST /push/outlook`) or lifecycle notifications
/// (`POST /push/outlook/lifecycle`), as Graph sends them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GraphNotifications {
    /// At most 1,000 notifications.
    #[schema(max_items = 1000)]
    pub value: Vec<GraphNotification>,
}

/// One Graph notification (fields the server reads; Graph sends more).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GraphNotification {
    #[serde(rename = "subscriptionId")]
    pub subscription_id: String,
    /// The subscription's secret, checked on every notification.
    #[serde(
        rename = "clientState",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_state: Option<String>,
    /// `created`, `updated`, `deleted` (change notifications).
    #[serde(
        rename = "changeType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub change_type: Option<String>,
    /// `reauthorizationRequired`, `subscriptionRemoved`, `missed` (lifecycle notifications).
    #[serde(
        rename = "lifecycleEvent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub lifecycle_event: Option<String>,
}

/// A Google Cloud Pub/Sub push request (`POST /push/gmail`), as Pub/Sub sends it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PubSubPush {
    pub message: PubSubMessage,
    /// `projects/P/subscriptions/S`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
}

/// The message of a Pub/Sub push.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PubSubMessage {
    /// Base64 of the payload; for Gmail `{"emailAddress", "historyId"}`.
    pub data: String,
    #[serde(rename = "messageId", default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(
        rename = "publishTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub publish_time: Option<String>,
}
