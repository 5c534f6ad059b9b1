//! The params of the calendar actions, typed once for every connector type: the Rust side of
//! `specs/schema/calendar.json` (defaults included), which each connector's actions read after
//! the spec has validated the call.

use serde::{Deserialize, Serialize};

fn primary() -> String {
    "primary".into()
}

fn yes() -> bool {
    true
}

fn all() -> String {
    "all".into()
}

fn hundred() -> u32 {
    100
}

fn fifty() -> u32 {
    50
}

/// calendars.list
#[derive(Debug, Deserialize, Serialize)]
pub struct CalendarsListParams {
    #[serde(default = "hundred")]
    pub max_results: u32,
    pub page_token: Option<String>,
}

/// calendars.get
#[derive(Debug, Deserialize, Serialize)]
pub struct CalendarsGetParams {
    #[serde(default = "primary")]
    pub calendar_id: String,
}

/// events.list
#[derive(Debug, Deserialize, Serialize)]
pub struct EventsListParams {
    #[serde(default = "primary")]
    pub calendar_id: String,
    pub time_min: Option<String>,
    pub time_max: Option<String>,
    #[serde(default = "yes")]
    pub expand_recurring: bool,
    pub time_zone: Option<String>,
    #[serde(default = "fifty")]
    pub max_results: u32,
    pub page_token: Option<String>,
}

/// events.get
#[derive(Debug, Deserialize, Serialize)]
pub struct EventsGetParams {
    #[serde(default = "primary")]
    pub calendar_id: String,
    pub event_id: String,
    pub time_zone: Option<String>,
}

/// A start or end as given: `{date_time, time_zone}` or `{date}`.
#[derive(Debug, Deserialize, Serialize, Clone, Default)]
pub struct TimeIn {
    pub date_time: Option<String>,
    pub time_zone: Option<String>,
    pub date: Option<String>,
}

/// events.create and events.update (update adds `event_id`).
#[derive(Debug, Deserialize, Serialize)]
pub struct EventWriteParams {
    #[serde(default = "primary")]
    pub calendar_id: String,
    /// update only
    pub event_id: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: Option<TimeIn>,
    pub end: Option<TimeIn>,
    pub attendees: Option<Vec<String>>,
    pub optional_attendees: Option<Vec<String>>,
    pub recurrence: Option<Vec<String>>,
    pub online_meeting: Option<bool>,
    pub show_as: Option<String>,
    pub visibility: Option<String>,
    #[serde(default = "all")]
    pub send_updates: String,
}

/// events.delete
#[derive(Debug, Deserialize, Serialize)]
pub struct EventsDeleteParams {
    #[serde(default = "primary")]
    pub calendar_id: String,
    pub event_id: String,
    #[serde(default = "all")]
    pub send_updates: String,
}

/// events.respond
#[derive(Debug, Deserialize, Serialize)]
pub struct EventsRespondParams {
    #[serde(default = "primary")]
    pub calendar_id: String,
    pub event_id: String,
    pub response: String,
    pub comment: Option<String>,
    #[serde(default = "yes")]
    pub send_response: bool,
}

/// events.sync
#[derive(Debug, Deserialize, Serialize)]
pub struct EventsSyncParams {
    #[serde(default = "primary")]
    pub calendar_id: String,
    pub sync_token: Option<String>,
    pub time_min: Option<String>,
    pub time_max: Option<String>,
    #[serde(default = "hundred")]
    pub max_results: u32,
    pub page_token: Option<String>,
}

/// freebusy.query
#[derive(Debug, Deserialize, Serialize)]
pub struct FreebusyParams {
    pub people: Vec<String>,
    pub time_min: String,
    pub time_max: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Every default the shared schema declares is the default these types apply, so an
    /// action reads the same value whether the caller left the field out or wrote the default.
    #[test]
    fn defaults_follow_the_shared_schema() {
        let schema: Value = serde_json::from_str(super::super::SHARED_SCHEMA_JSON).unwrap();
        let defaults = |action: &str| -> Vec<(String, Value)> {
            let params = &schema["actions"][action]["params"];
            let props = params["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            props
                .into_iter()
                .filter_map(|(k, v)| v.get("default").cloned().map(|d| (k, d)))
                .collect()
        };
        fn check<T: serde::de::DeserializeOwned + Serialize>(
            action: &str,
            required: Value,
            defaults: Vec<(String, Value)>,
        ) {
            let read: T = serde_json::from_value(required).unwrap();
            let back = serde_json::to_value(&read).unwrap();
            for (k, d) in defaults {
                assert_eq!(back[&k], d, "{action}: default of `{k}`");
            }
        }
        check::<CalendarsListParams>("calendars.list", json!({}), defaults("calendars.list"));
        check::<CalendarsGetParams>("calendars.get", json!({}), defaults("calendars.get"));
        check::<EventsListParams>("events.list", json!({}), defaults("events.list"));
        check::<EventsGetParams>(
            "events.get",
            json!({"event_id": "e"}),
            defaults("events.get"),
        );
        check::<EventWriteParams>("events.create", json!({}), defaults("events.create"));
        check::<EventWriteParams>(
            "events.update",
            json!({"event_id": "e"}),
            defaults("events.update"),
        );
        check::<EventsDeleteParams>(
            "events.delete",
            json!({"event_id": "e"}),
            defaults("events.delete"),
        );
        check::<EventsRespondParams>(
            "events.respond",
            json!({"event_id": "e", "response": "accepted"}),
            defaults("events.respond"),
        );
        check::<EventsSyncParams>("events.sync", json!({}), defaults("events.sync"));
    }
}
