//! The calendar actions of the Gmail connector type, on Google Calendar v3: each reads its typed
//! params, sends Google's request on the `calendar` API root and answers in the shared shape.

use async_trait::async_trait;
use connector_core::calendar::params::{
    CalendarsGetParams, CalendarsListParams, EventWriteParams, EventsDeleteParams, EventsGetParams,
    EventsListParams, EventsRespondParams, EventsSyncParams, FreebusyParams,
};
use connector_core::mail::idempotency_marker;
use connector_core::wire::path_segment as seg;
use connector_core::{
    CallContext, ConnectorError, ErrorCode, Output, ProviderRequest, TypedHandler,
};
use serde_json::{json, Value};

use super::shape::{self, send_updates, wire_attendees, wire_time};
use super::ROOT;

/// Google Calendar v3 below its API root.
const V3: &str = "/calendar/v3";

fn get(path: String) -> ProviderRequest {
    ProviderRequest::get(path).on_root(ROOT)
}

fn patch(path: String) -> ProviderRequest {
    ProviderRequest::new(reqwest::Method::PATCH, path)
}

fn events_path(calendar_id: &str) -> String {
    format!("{V3}/calendars/{}/events", seg(calendar_id))
}

fn event_path(calendar_id: &str, event_id: &str) -> String {
    format!("{}/{}", events_path(calendar_id), seg(event_id))
}

/// A page of Google records as shared records, with `next_page_token` / `next_sync_token`.
fn page(body: &Value, key: &str, each: impl Fn(&Value) -> Value) -> Output {
    let records: Vec<Value> = body[key]
        .as_array()
        .into_iter()
        .flatten()
        .map(each)
        .collect();
    let mut out = Output::new(records.into());
    for (wire, meta) in [
        ("nextPageToken", "next_page_token"),
        ("nextSyncToken", "next_sync_token"),
    ] {
        if let Some(t) = body[wire].as_str() {
            out = out.with_meta(meta, t);
        }
    }
    out
}

pub struct CalendarsList;

#[async_trait]
impl TypedHandler for CalendarsList {
    type Params = CalendarsListParams;
    async fn run(&self, cx: &CallContext<'_>, p: Self::Params) -> Result<Output, ConnectorError> {
        let mut req = get(format!("{V3}/users/me/calendarList"))
            .query("maxResults", p.max_results.to_string());
        if let Some(t) = &p.page_token {
            req = req.query("pageToken", t);
        }
        let body: Value = cx.send(req).await?.json()?;
        Ok(page(&body, "items", shape::calendar))
    }
}

pub struct CalendarsGet;

#[async_trait]
impl TypedHandler for CalendarsGet {
    type Params = CalendarsGetParams;
    async fn run(&self, cx: &CallContext<'_>, p: Self::Params) -> Result<Output, ConnectorError> {
        let req = get(format!(
            "{V3}/users/me/calendarList/{}",
            seg(&p.calendar_id)
        ));
        let body: Value = cx.send(req).await?.json()?;
        Ok(Output::new(shape::calendar(&body)))
    }
}

pub struct EventsList;

#[async_trait]
impl TypedHandler for EventsList {
    type Params = EventsListParams;
    async fn run(&self, cx: &CallContext<'_>, p: Self::Params) -> Result<Output, ConnectorError> {
        let mut req = get(events_path(&p.calendar_id))
            .query("maxResults", p.max_results.to_string())
            .query("singleEvents", p.expand_recurring.to_string());
        if p.expand_recurring {
            req = req.query("orderBy", "startTime");
        }
        for (key, v) in [
            ("timeMin", &p.time_min),
            ("timeMax", &p.time_max),
            ("timeZone", &p.time_zone),
            ("pageToken", &p.page_token),
        ] {
            if let Some(v) = v {
                req = req.query(key, v);
            }
        }
        let body: Value = cx.send(req).await?.json()?;
        Ok(page(&body, "items", |e| shape::event(e, &p.calendar_id)))
    }
}

pub struct EventsGet;

#[async_trait]
impl TypedHandler for EventsGet {
    type Params = EventsGetParams;
    async fn run(&self, cx: &CallContext<'_>, p: Self::Params) -> Result<Output, ConnectorError> {
        let mut req = get(event_path(&p.calendar_id, &p.event_id));
        if let Some(tz) = &p.time_zone {
            req = req.query("timeZone", tz);
        }
        let body: Value = cx.send(req).await?.json()?;
        Ok(Output::new(shape::event(&body, &p.calendar_id)))
    }
}

/// How the shared write params become Google's `Event` and request.
trait ToGoogle {
    fn wire(&self, earlier: Option<&Value>) -> Result<Value, ConnectorError>;
    fn request(&self, req: ProviderRequest) -> ProviderRequest;
}

impl ToGoogle for EventWriteParams {
    /// The Google `Event` fields these params set. `earlier`: the event as it is (update), whose
    /// attendees keep their answers when they stay invited.
    fn wire(&self, earlier: Option<&Value>) -> Result<Value, ConnectorError> {
        let recurring = self.recurrence.as_ref().is_some_and(|r| !r.is_empty())
            || earlier.is_some_and(|e| e["recurrence"].is_array());
        let mut body = json!({});
        for (key, v) in [
            ("summary", &self.summary),
            ("description", &self.description),
            ("location", &self.location),
            ("visibility", &self.visibility),
        ] {
            if let Some(v) = v {
                body[key] = v.clone().into();
            }
        }
        for (key, v) in [("start", &self.start), ("end", &self.end)] {
            if let Some(v) = v {
                body[key] = wire_time(v, key, recurring)?;
            }
        }
        if let Some(r) = &self.recurrence {
            body["recurrence"] = r.clone().into();
        }
        if let Some(show_as) = &self.show_as {
            body["transparency"] = if show_as == "free" {
                "transparent"
            } else {
                "opaque"
            }
            .into();
        }
        if self.attendees.is_some() || self.optional_attendees.is_some() {
            let mut list = wire_attendees(
                self.attendees.as_deref().unwrap_or_default(),
                self.optional_attendees.as_deref().unwrap_or_default(),
            )?;
            let before = earlier
                .and_then(|e| e["attendees"].as_array())
                .cloned()
                .unwrap_or_default();
            for a in &mut list {
                let same = |b: &&Value| {
                    b["email"]
                        .as_str()
                        .zip(a["email"].as_str())
                        .is_some_and(|(x, y)| x.eq_ignore_ascii_case(y))
                };
                if let Some(b) = before.iter().find(same) {
                    for k in ["responseStatus", "comment"] {
                        if b.get(k).is_some() {
                            a[k] = b[k].clone();
                        }
                    }
                }
            }
            body["attendees"] = list.into();
        }
        Ok(body)
    }

    fn request(&self, req: ProviderRequest) -> ProviderRequest {
        let req = req.query("sendUpdates", send_updates(&self.send_updates));
        if self.online_meeting == Some(true) {
            req.query("conferenceDataVersion", "1")
        } else {
            req
        }
    }
}

/// Asks Google for a Meet link (`conferenceData.createRequest`); `request_id` makes a repeat
/// of the same request ask for the same conference.
fn meet_request(request_id: &str) -> Value {
    json!({"createRequest": {"requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}})
}

/// The event id a keyed events.create uses: Google lets a client choose ids (base32hex
/// characters a-v and 0-9, 5 to 1024 of them), and a hex digest is one. The same key gives the
/// same id, so a retry finds the earlier attempt by it, and Google refuses a second insert.
pub fn event_id_for_key(key: &str) -> String {
    format!("ac{}", &idempotency_marker(key)["idem-".len()..])
}

pub struct EventsCreate;

#[async_trait]
impl TypedHandler for EventsCreate {
    type Params = EventWriteParams;
    async fn run(&self, cx: &CallContext<'_>, p: Self::Params) -> Result<Output, ConnectorError> {
        let mut body = p.wire(None)?;
        let id = cx.options.idempotency_key.as_deref().map(event_id_for_key);
        if let Some(id) = &id {
            if let Some(earlier) = find(cx, &p.calendar_id, id).await? {
                return Ok(Output::new(shape::event(&earlier, &p.calendar_id))
                    .with_meta("deduplicated", true));
            }
            body["id"] = id.clone().into();
        }
        if p.online_meeting == Some(true) {
            let request_id = id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            body["conferenceData"] = meet_request(&request_id);
        }
        let req = p.request(ProviderRequest::post(events_path(&p.calendar_id)).on_root(ROOT));
        match cx.send(req.json(body)).await {
            Ok(r) => Ok(Output::new(shape::event(&r.json()?, &p.calendar_id))),
            // Another attempt with the same key got there first (its answer was lost).
            Err(e) if e.code == ErrorCode::Conflict && id.is_some() => {
                let id = id.expect("checked");
                let earlier = find(cx, &p.calendar_id, &id).await?.ok_or(e)?;
                Ok(Output::new(shape::event(&earlier, &p.calendar_id))
                    .with_meta("deduplicated", true))
            }
            Err(e) => Err(e),
        }
    }
}

/// The event `id` in the calendar, a deleted one included (Google keeps deleted events' ids:
/// re-inserting one is a 409); `None` when it never existed.
async fn find(
    cx: &CallContext<'_>,
    calendar_id: &str,
    id: &str,
) -> Result<Option<Value>, ConnectorError> {
    match cx
        .send(get(event_path(calendar_id, id)).idempotent(true))
        .await
    {
        Ok(r) => Ok(Some(r.json()?)),
        Err(e) if e.code == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub struct EventsUpdate;

#[async_trait]
impl TypedHandler for EventsUpdate {
    type Params = EventWriteParams;
    async fn run(&self, cx: &CallContext<'_>, p: Self::Params) -> Result<Output, ConnectorError> {
        let event_id = p.event_id.clone().unwrap_or_default();
        let path = event_path(&p.calendar_id, &event_id);
        let earlier: Value = cx.send(get(path.clone())).await?.json()?;
        let mut body = p.wire(Some(&earlier))?;
        if p.online_meeting == Some(true) && !earlier["conferenceData"].is_object() {
            body["conferenceData"] = meet_request(&format!("{event_id}-meet"));
        }
        let req = p.request(patch(path).on_root(ROOT));
        let updated: Value = cx.send(req.json(body)).await?.json()?;
        Ok(Output::new(shape::event(&updated, &p.calendar_id)))
    }
}

pub struct EventsDelete;

#[async_trait]
impl TypedHandler for EventsDelete {
    type Params = EventsDeleteParams;
    async fn run(&self, cx: &CallContext<'_>, p: Self::Params) -> Result<Output, ConnectorError> {
        let req = ProviderRequest::new(
            reqwest::Method::DELETE,
            event_path(&p.calendar_id, &p.event_id),
        )
        .on_root(ROOT)
        .query("sendUpdates", send_updates(&p.send_updates));
        match cx.send(req).await {
            Ok(_) => Ok(Output::new(json!({"ok": true}))),
            // Google answers 410 "Resource has been deleted" to a repeat: the event is gone,
            // which is what was asked.
            Err(e) if e.code == ErrorCode::SyncRequired => {
                Ok(Output::new(json!({"ok": true})).with_meta("already_deleted", true))
            }
            Err(e) => Err(e),
        }
    }
}

pub struct EventsRespond;

#[async_trait]
impl TypedHandler for EventsRespond {
    type Params = EventsRespondParams;
    async fn run(&self, cx: &CallContext<'_>, p: Self::Params) -> Result<Output, ConnectorError> {
        // Google has no respond call: an attendee answers by changing their own
        // `responseStatus` on their copy of the event, and Google carries it to the organizer.
        let path = event_path(&p.calendar_id, &p.event_id);
        let event: Value = cx.send(get(path.clone())).await?.json()?;
        let mut attendees = event["attendees"].as_array().cloned().unwrap_or_default();
        let Some(me) = attendees.iter_mut().find(|a| a["self"] == true) else {
            return Err(ConnectorError::invalid_params(format!(
                "this account is not an attendee of event {}: only invitees can respond (the organizer changes the event with events.update)",
                p.event_id
            )));
        };
        me["responseStatus"] = match p.response.as_str() {
            "accept" => "accepted",
            "tentative" => "tentative",
            _ => "declined",
        }
        .into();
        if let Some(c) = &p.comment {
            me["comment"] = c.clone().into();
        }
        let req = patch(path)
            .on_root(ROOT)
            .query("sendUpdates", if p.send_response { "all" } else { "none" })
            .json(json!({ "attendees": attendees }));
        let updated: Value = cx.send(req).await?.json()?;
        Ok(Output::new(shape::event(&updated, &p.calendar_id)))
    }
}

pub struct EventsSync;

#[async_trait]
impl TypedHandler for EventsSync {
    type Params = EventsSyncParams;
    async fn run(&self, cx: &CallContext<'_>, p: Self::Params) -> Result<Output, ConnectorError> {
        let mut req = get(events_path(&p.calendar_id))
            .query("singleEvents", "true")
            .query("maxResults", p.max_results.to_string());
        match &p.sync_token {
            Some(t) => {
                if p.time_min.is_some() || p.time_max.is_some() {
                    return Err(ConnectorError::invalid_params(
                        "`time_min` / `time_max` belong to the first sync only: the sync token already holds the window",
                    ));
                }
                req = req.query("syncToken", t);
            }
            None => {
                for (key, v) in [("timeMin", &p.time_min), ("timeMax", &p.time_max)] {
                    if let Some(v) = v {
                        req = req.query(key, v);
                    }
                }
            }
        }
        if let Some(t) = &p.page_token {
            req = req.query("pageToken", t);
        }
        let body: Value = match cx.send(req).await {
            Ok(r) => r.json()?,
            Err(e) if e.code == ErrorCode::SyncRequired => {
                return Err(ConnectorError::new(
                    ErrorCode::SyncRequired,
                    "the sync token has expired: call events.sync without sync_token for a full sync and keep its next_sync_token",
                )
                .with_details(e.details))
            }
            Err(e) => return Err(e),
        };
        Ok(page(&body, "items", |e| shape::event(e, &p.calendar_id)))
    }
}

pub struct FreebusyQuery;

#[async_trait]
impl TypedHandler for FreebusyQuery {
    type Params = FreebusyParams;
    async fn run(&self, cx: &CallContext<'_>, p: Self::Params) -> Result<Output, ConnectorError> {
        let mut ids = Vec::new();
        for who in &p.people {
            let m = connector_core::mail::parse_address(who, "people").map_err(|e| *e)?;
            ids.push(m.email);
        }
        let items: Vec<Value> = ids.iter().map(|id| json!({ "id": id })).collect();
        let req = ProviderRequest::post(format!("{V3}/freeBusy"))
            .on_root(ROOT)
            .idempotent(true)
            .json(json!({"timeMin": p.time_min, "timeMax": p.time_max, "items": items}));
        let body: Value = cx.send(req).await?.json()?;
        let out: Vec<Value> = ids
            .iter()
            .map(|id| {
                let c = &body["calendars"][id.as_str()];
                let busy: Vec<Value> = c["busy"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|b| json!({"start": b["start"], "end": b["end"]}))
                    .collect();
                let error = c["errors"]
                    .as_array()
                    .and_then(|e| e.first())
                    .and_then(|e| e["reason"].as_str())
                    .map(str::to_string);
                let mut one = json!({"email": id, "busy": busy});
                if let Some(e) = error {
                    one["error"] = e.into();
                }
                one
            })
            .collect();
        Ok(Output::new(out.into()))
    }
}
