//! Google Calendar as entities of the Gmail connector type (`calendars`, `events`,
//! `freebusy`): one consent and one connector id for a Google account's mail and calendar
//! (docs/architecture.md, section Calendars). Results take the shared calendar shape of
//! `specs/schema/calendar.json`, the same as Outlook's.
//!
//! Google Calendar lives on another host than Gmail (`https://www.googleapis.com/calendar/v3`):
//! its requests go to the connector's named API root [`ROOT`]. A connector pointed at another
//! root than Google's (an emulator, a proxy) sends calendar requests there too, unless a
//! `calendar` root is configured ([`connector_core::HttpConfig::with_root`]).

mod handlers;
pub mod shape;

use std::sync::Arc;

use connector_core::{typed, ActionHandler, HttpConfig};

pub use handlers::event_id_for_key;

/// The name of the calendar API root in [`HttpConfig::roots`].
pub const ROOT: &str = "calendar";
/// Google Calendar's API root; paths start with `/calendar/v3/...`.
pub const DEFAULT_CALENDAR_BASE_URL: &str = "https://www.googleapis.com";

/// Read and write access to every calendar of the account (events, calendars, free/busy).
pub const SCOPE_FULL: &str = "https://www.googleapis.com/auth/calendar";
/// Read access to every calendar of the account.
pub const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/calendar.readonly";

/// `http` with the `calendar` root set: Google's when `http` points at Google, else the same
/// root as the mail API (an emulator serves both).
pub fn with_calendar_root(mut http: HttpConfig) -> HttpConfig {
    if !http.roots.contains_key(ROOT) {
        let root = if http.base_url.trim_end_matches('/') == crate::DEFAULT_BASE_URL {
            DEFAULT_CALENDAR_BASE_URL.to_string()
        } else {
            http.base_url.clone()
        };
        http.roots.insert(ROOT.into(), root);
    }
    http
}

/// Every calendar handler by the name the spec uses.
pub fn handlers() -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    use handlers::*;
    vec![
        ("calendars_list", typed(CalendarsList)),
        ("calendars_get", typed(CalendarsGet)),
        ("events_list", typed(EventsList)),
        ("events_get", typed(EventsGet)),
        ("events_create", typed(EventsCreate)),
        ("events_update", typed(EventsUpdate)),
        ("events_delete", typed(EventsDelete)),
        ("events_respond", typed(EventsRespond)),
        ("events_sync", typed(EventsSync)),
        ("freebusy_query", typed(FreebusyQuery)),
    ]
}
