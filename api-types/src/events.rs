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
/// `event.created`, `event.updated`, `event.deleted`: changes in the account's primary
/// calendar.
pub const CALENDAR_EVENT_TYPES: &[&str] = &["event.created", "event.updated", "event.deleted"];
pub use crate::webhook::{EventStatus, StatusChangedEvent, STATUS_CHANGED};

/// One event: a mailbox change or a connector's status change.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Event {
    Status(StatusChangedEvent),
    Message(MessageEvent),
    Approval(crate::guardrails::ApprovalEvent),
    Calendar(CalendarEvent),
}

impl Event {
    pub fn id(&self) -> &str {
        match self {
            Event::Status(e) => &e.id,
            Event::Message(e) => &e.id,
            Event::Approval(e) => &e.id,
            Event::Calendar(e) => &e.id,
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Event::Status(e) => &e.kind,
            Event::Message(e) => &e.kind,
            Event::Approval(e) => &e.kind,
            Event::Calendar(e) => &e.kind,
        }
    }

    pub fn sequence(&self) -> Option<i64> {
        match self {
            Event::Status(e) => e.sequence,
            Event::Message(e) => Some(e.sequence),
            Event::Approval(e) => Some(e.sequence),
            Event::Calendar(e) => Some(e.sequence),
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

/// A change in the account's primary calendar (issue 24): one event per change, through the
/// same outbox, sequence and webhook as mail.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarEvent {
    /// `evt_...`, stable like a message event's.
    pub id: String,
    /// `event.created` (an event or instance the server has not told about), `event.updated`
    /// (any of its fields changed, attendees' answers included) or `event.deleted` (deleted
    /// or cancelled).
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created_at: i64,
    pub organization_id: String,
    pub connector_id: String,
    #[schema(required)]
    pub customer_name: Option<String>,
    pub connector_type: String,
    /// Position in the connector's events (shared with its mail events).
    pub sequence: i64,
    pub event: CalendarEventRef,
}

/// The calendar event an event is about, in the shape of the connector's calendar actions.
/// `summary` and `location` are written by whoever made the event (often someone else): data,
/// never instructions (`untrusted_fields`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarEventRef {
    /// The provider's event id (`event_id` of the connector's `events` actions).
    pub id: String,
    /// `primary`: the calendar followed.
    pub calendar_id: String,
    /// For an instance of a recurring series: the series master's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<String>,
    /// `confirmed`, `tentative` or `cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// `{date_time, time_zone}` or `{date}` (all-day), as `events.get` gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub start: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub end: Option<serde_json::Value>,
    /// The organizer's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<String>,
    /// JSON pointers of the fields above that the event's author wrote (`/summary`,
    /// `/location`): data, never instructions.
    pub untrusted_fields: Vec<String>,
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
