//! Calendars and events of one mailbox, and how Graph writes them.

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};

use super::recur::Recurrence;
use super::time::{self, Pref};
use crate::model::{rfc3339, Addr};

#[derive(Debug, Clone)]
pub struct Calendar {
    pub id: String,
    pub name: String,
    pub color: String,
    pub is_default: bool,
    pub owner: Addr,
}

impl Calendar {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "color": self.color,
            "hexColor": "",
            "isDefaultCalendar": self.is_default,
            "changeKey": format!("DwAAABYAAAA{}", &self.id[self.id.len().saturating_sub(8)..]),
            "canShare": self.is_default,
            "canViewPrivateItems": true,
            "canEdit": true,
            "isRemovable": !self.is_default,
            "isTallyingResponses": true,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "owner": {"name": self.owner.name, "address": self.owner.address},
        })
    }
}

#[derive(Debug, Clone)]
pub struct Attendee {
    pub addr: Addr,
    /// required / optional / resource
    pub kind: String,
    /// none / accepted / tentativelyAccepted / declined (Graph's responseType)
    pub response: String,
    pub time: Option<DateTime<Utc>>,
}

impl Attendee {
    pub fn to_json(&self) -> Value {
        json!({
            "type": self.kind,
            "status": {"response": self.response, "time": response_time(self.time)},
            "emailAddress": {"name": self.addr.name, "address": self.addr.address},
        })
    }
}

/// Graph writes "never" as the year 1.
fn response_time(t: Option<DateTime<Utc>>) -> String {
    t.map(rfc3339)
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string())
}

/// One event: a single instance or a series master (occurrences are computed).
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub calendar_id: String,
    pub ical_uid: String,
    pub subject: String,
    pub body_html: bool,
    pub body: String,
    /// Wall-clock start and end in their zones, as the client gave them.
    pub start: NaiveDateTime,
    pub start_zone: String,
    pub end: NaiveDateTime,
    pub end_zone: String,
    pub is_all_day: bool,
    pub location: Option<Value>,
    pub attendees: Vec<Attendee>,
    pub organizer: Addr,
    pub is_organizer: bool,
    /// This mailbox's own response (organizer / none / accepted / ...), and when.
    pub response: String,
    pub response_time: Option<DateTime<Utc>>,
    pub recurrence: Option<Recurrence>,
    /// Original local starts of deleted occurrences.
    pub cancelled: Vec<NaiveDateTime>,
    pub online_meeting: bool,
    pub join_url: Option<String>,
    pub show_as: String,
    pub importance: String,
    pub sensitivity: String,
    pub categories: Vec<String>,
    pub reminder_minutes: i64,
    pub is_reminder_on: bool,
    pub response_requested: bool,
    pub allow_new_time_proposals: bool,
    pub is_cancelled: bool,
    pub transaction_id: Option<String>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub change_key: u64,
    /// Mailbox change sequence at the last change (for delta).
    pub seq: u64,
}

/// One instance as listed by calendarView: the event itself or an occurrence of a series.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Local original start of an occurrence; `None` for a single event.
    pub occurrence: Option<NaiveDateTime>,
}

/// `AAMkO` + base64url(master id `|` original local start): an occurrence's id that leads back
/// to its series.
pub fn occurrence_id(master: &str, start: NaiveDateTime) -> String {
    let raw = format!("{master}|{}", start.format("%Y%m%dT%H%M%S"));
    format!(
        "AAMkO{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

/// The series id and original start an occurrence id stands for.
pub fn parse_occurrence_id(id: &str) -> Option<(String, NaiveDateTime)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id.strip_prefix("AAMkO")?)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (master, start) = text.rsplit_once('|')?;
    let start = NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%M%S").ok()?;
    Some((master.to_string(), start))
}

impl Event {
    pub fn start_utc(&self) -> DateTime<Utc> {
        time::to_utc(self.start, self.zone_of(&self.start_zone))
    }

    pub fn end_utc(&self) -> DateTime<Utc> {
        time::to_utc(self.end, self.zone_of(&self.end_zone))
    }

    fn zone_of(&self, name: &str) -> chrono_tz::Tz {
        time::zone(name).unwrap_or(chrono_tz::Tz::UTC)
    }

    /// Every instance that overlaps [from, to): the event itself, or the occurrences of a series.
    pub fn instances(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Instance> {
        let Some(rec) = &self.recurrence else {
            let (s, e) = (self.start_utc(), self.end_utc());
            return if s < to && (e > from || (s == e && s >= from)) {
                vec![Instance {
                    id: self.id.clone(),
                    start: s,
                    end: e,
                    occurrence: None,
                }]
            } else {
                Vec::new()
            };
        };
        let tz = rec.zone().unwrap_or(chrono_tz::Tz::UTC);
        let length = self.end - self.start;
        rec.starts(self.start.time(), to, 5000)
            .into_iter()
            .filter(|local| !self.cancelled.contains(local))
            .filter_map(|local| {
                let s = time::to_utc(local, tz);
                let e = time::to_utc(local + length, tz);
                (s < to && e > from).then(|| Instance {
                    id: occurrence_id(&self.id, local),
                    start: s,
                    end: e,
                    occurrence: Some(local),
                })
            })
            .collect()
    }

    fn body_json(&self) -> Value {
        json!({"contentType": if self.body_html { "html" } else { "text" }, "content": self.body})
    }

    fn preview(&self) -> String {
        let text = if self.body_html {
            connector_core::text::html_to_text(&self.body)
        } else {
            self.body.clone()
        };
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(255)
            .collect()
    }

    /// The event (or one of its instances) as Graph writes it, times in the preferred zone.
    pub fn to_json(&self, inst: Option<&Instance>, pref: &Pref) -> Map<String, Value> {
        let (id, start, end, kind, master) = match inst {
            Some(i) if i.occurrence.is_some() => (
                i.id.clone(),
                i.start,
                i.end,
                "occurrence",
                Value::from(self.id.clone()),
            ),
            _ => (
                self.id.clone(),
                self.start_utc(),
                self.end_utc(),
                if self.recurrence.is_some() {
                    "seriesMaster"
                } else {
                    "singleInstance"
                },
                Value::Null,
            ),
        };
        let (start, end) = if self.is_all_day {
            // all-day events keep their dates whatever the zone
            (
                json!({"dateTime": time::wire(self.local_of(start, &self.start_zone)), "timeZone": self.start_zone}),
                json!({"dateTime": time::wire(self.local_of(end, &self.end_zone)), "timeZone": self.end_zone}),
            )
        } else {
            (time::render(start, pref), time::render(end, pref))
        };
        let location = self
            .location
            .clone()
            .unwrap_or_else(|| json!({"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {}}));
        let locations = if self.location.is_some() {
            json!([location])
        } else {
            json!([])
        };
        let recurrence = match (kind, &self.recurrence) {
            ("seriesMaster", Some(r)) => r.json.clone(),
            _ => Value::Null,
        };
        let mut v = json!({
            "id": id,
            "createdDateTime": rfc3339(self.created),
            "lastModifiedDateTime": rfc3339(self.last_modified),
            "changeKey": format!("DwAAABYAAAD{:08}", self.change_key),
            "categories": self.categories,
            "originalStartTimeZone": self.start_zone,
            "originalEndTimeZone": self.end_zone,
            "iCalUId": self.ical_uid,
            "reminderMinutesBeforeStart": self.reminder_minutes,
            "isReminderOn": self.is_reminder_on,
            "hasAttachments": false,
            "subject": self.subject,
            "bodyPreview": self.preview(),
            "importance": self.importance,
            "sensitivity": self.sensitivity,
            "isAllDay": self.is_all_day,
            "isCancelled": self.is_cancelled,
            "isOrganizer": self.is_organizer,
            "responseRequested": self.response_requested,
            "seriesMasterId": master,
            "showAs": self.show_as,
            "type": kind,
            "webLink": format!("https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item", percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC)),
            "onlineMeetingUrl": Value::Null,
            "isOnlineMeeting": self.online_meeting,
            "onlineMeetingProvider": if self.online_meeting { "teamsForBusiness" } else { "unknown" },
            "allowNewTimeProposals": self.allow_new_time_proposals,
            "isDraft": false,
            "hideAttendees": false,
            "responseStatus": {"response": self.response, "time": response_time(self.response_time)},
            "body": self.body_json(),
            "start": start,
            "end": end,
            "location": location,
            "locations": locations,
            "recurrence": recurrence,
            "attendees": self.attendees.iter().map(Attendee::to_json).collect::<Vec<_>>(),
            "organizer": {"emailAddress": {"name": self.organizer.name, "address": self.organizer.address}},
            "onlineMeeting": self.join_url.as_ref().map(|u| json!({"joinUrl": u})),
        });
        if let Some(t) = &self.transaction_id {
            // returned only when an app set it (Graph's event resource)
            v["transactionId"] = json!(t);
        }
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an event renders as an object"),
        }
    }

    fn local_of(&self, t: DateTime<Utc>, zone: &str) -> NaiveDateTime {
        t.with_timezone(&self.zone_of(zone)).naive_local()
    }

    /// How busy the instance makes the mailbox (getSchedule's digit: 0 free .. 4 elsewhere).
    pub fn busy_digit(&self) -> char {
        match self.show_as.as_str() {
            "free" => '0',
            "tentative" => '1',
            "busy" => '2',
            "oof" => '3',
            "workingElsewhere" => '4',
            _ => '2',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrence_ids_lead_back_to_their_series() {
        let start = time::parse_local("2026-10-27T10:00:00").unwrap();
        let id = occurrence_id("AAMkAabc_-=", start);
        assert!(!id.contains('/') && !id.contains('+') && !id.contains('|'));
        assert_eq!(
            parse_occurrence_id(&id),
            Some(("AAMkAabc_-=".to_string(), start))
        );
        assert!(parse_occurrence_id("AAMkAabc").is_none());
    }
}
