//! Calendar actions on Graph: calendars.list/get, events.list/get/create/update/delete/respond,
//! events.sync (calendarView delta) and freebusy.query (getSchedule), in the shared calendar
//! shape. `calendar_id` "primary" is the mailbox's default calendar (`/me/calendar`,
//! `/me/events`, `/me/calendarView`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use connector_core::calendar::params::{
    CalendarsGetParams, CalendarsListParams, EventWriteParams, EventsDeleteParams, EventsGetParams,
    EventsListParams, EventsRespondParams, EventsSyncParams, FreebusyParams, TimeIn,
};
use connector_core::{CallContext, ConnectorError, ErrorCode, Output, ProviderRequest, Result};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::compose::recipient;
use super::invalid;
use crate::calendar::{self as shape, recurrence};
use crate::wire::{self, seg};

fn is_primary(calendar_id: &str) -> bool {
    calendar_id.eq_ignore_ascii_case("primary")
}

/// `/me` for the default calendar's collections, `/me/calendars/{id}` for another.
fn base(calendar_id: &str) -> String {
    if is_primary(calendar_id) {
        "/me".into()
    } else {
        format!("/me/calendars/{}", seg(calendar_id))
    }
}

fn shown_id(calendar_id: &str) -> Option<&str> {
    Some(calendar_id)
}

fn view_zone(name: Option<&str>, pointer: &str) -> Result<Option<Tz>> {
    match name {
        None => Ok(None),
        Some(n) => shape::zone(n).map(Some).ok_or_else(|| {
            invalid(
                pointer,
                "not a time zone: use an IANA name such as Europe/Berlin",
            )
        }),
    }
}

/// An RFC 3339 param as a UTC instant (the schema has checked its form).
fn utc(s: &str, pointer: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(pointer, "not an RFC 3339 date-time with offset"))
}

/// The query form Graph's `startDateTime` / `endDateTime` take.
fn graph_instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A `calendarView` window: both ends given (Graph expands series only within one).
fn window(
    min: Option<&str>,
    max: Option<&str>,
    why: &str,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    match (min, max) {
        (Some(a), Some(b)) => {
            let (a, b) = (utc(a, "/time_min")?, utc(b, "/time_max")?);
            if b <= a {
                return Err(invalid("/time_max", "must be after time_min"));
            }
            Ok((a, b))
        }
        (None, _) => Err(invalid("/time_min", why)),
        (_, None) => Err(invalid("/time_max", why)),
    }
}

fn page_meta(out: Output, v: &Value) -> Output {
    match v
        .get("@odata.nextLink")
        .and_then(Value::as_str)
        .and_then(wire::token_from_link)
    {
        Some(t) => out.with_meta("next_page_token", t),
        None => out,
    }
}

pub async fn calendars_list(cx: &CallContext<'_>, p: CalendarsListParams) -> Result<Output> {
    let req = match &p.page_token {
        Some(t) => wire::request_from_token(t, "page_token")?,
        None => ProviderRequest::get("/me/calendars").query("$top", p.max_results.to_string()),
    };
    let v = wire::body(&cx.send(req.idempotent(true)).await?)?;
    let items: Vec<Value> = wire::values(&v).iter().map(shape::calendar).collect();
    Ok(page_meta(Output::new(Value::Array(items)), &v))
}

pub async fn calendars_get(cx: &CallContext<'_>, p: CalendarsGetParams) -> Result<Output> {
    let path = if is_primary(&p.calendar_id) {
        "/me/calendar".to_string()
    } else {
        format!("/me/calendars/{}", seg(&p.calendar_id))
    };
    let v = wire::body(&cx.send(ProviderRequest::get(path).idempotent(true)).await?)?;
    Ok(Output::new(shape::calendar(&v)))
}

pub async fn events_list(cx: &CallContext<'_>, p: EventsListParams) -> Result<Output> {
    let view = view_zone(p.time_zone.as_deref(), "/time_zone")?;
    let req = match &p.page_token {
        Some(t) => wire::request_from_token(t, "page_token")?,
        None if p.expand_recurring => {
            let (from, to) = window(
                p.time_min.as_deref(),
                p.time_max.as_deref(),
                "Outlook expands recurring events only within a window: give time_min and time_max (or expand_recurring: false)",
            )?;
            ProviderRequest::get(format!("{}/calendarView", base(&p.calendar_id)))
                .query("startDateTime", graph_instant(from))
                .query("endDateTime", graph_instant(to))
                .query("$orderby", "start/dateTime")
                .query("$top", p.max_results.to_string())
        }
        None => {
            let mut req = ProviderRequest::get(format!("{}/events", base(&p.calendar_id)))
                .query("$orderby", "start/dateTime")
                .query("$top", p.max_results.to_string());
            let mut filter = Vec::new();
            if let Some(t) = &p.time_min {
                let t = utc(t, "/time_min")?;
                filter.push(format!(
                    "end/dateTime ge '{}'",
                    t.format("%Y-%m-%dT%H:%M:%S")
                ));
            }
            if let Some(t) = &p.time_max {
                let t = utc(t, "/time_max")?;
                filter.push(format!(
                    "start/dateTime lt '{}'",
                    t.format("%Y-%m-%dT%H:%M:%S")
                ));
            }
            if !filter.is_empty() {
                req = req.query("$filter", filter.join(" and "));
            }
            req
        }
    };
    let v = wire::body(&cx.send(req.idempotent(true)).await?)?;
    let items: Vec<Value> = wire::values(&v)
        .iter()
        .map(|e| shape::event(e, shown_id(&p.calendar_id), view))
        .collect();
    Ok(page_meta(Output::new(Value::Array(items)), &v))
}

fn event_path(calendar_id: &str, event_id: &str) -> String {
    format!("{}/events/{}", base(calendar_id), seg(event_id))
}

async fn read_event(
    cx: &CallContext<'_>,
    calendar_id: &str,
    event_id: &str,
    view: Option<Tz>,
) -> Result<Value> {
    let req = ProviderRequest::get(event_path(calendar_id, event_id)).idempotent(true);
    let v = wire::body(&cx.send(req).await?)?;
    Ok(shape::event(&v, shown_id(calendar_id), view))
}

pub async fn events_get(cx: &CallContext<'_>, p: EventsGetParams) -> Result<Output> {
    let view = view_zone(p.time_zone.as_deref(), "/time_zone")?;
    Ok(Output::new(
        read_event(cx, &p.calendar_id, &p.event_id, view).await?,
    ))
}

/// A shape time -> Graph's `dateTimeTimeZone`, and whether it is all day.
fn graph_time(t: &TimeIn, pointer: &str) -> Result<(Value, bool, NaiveDate, String)> {
    if let Some(d) = &t.date {
        let date = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| invalid(&format!("{pointer}/date"), "not a yyyy-mm-dd date"))?;
        let zone = t.time_zone.clone().unwrap_or_else(|| "UTC".into());
        return Ok((
            json!({"dateTime": format!("{date}T00:00:00"), "timeZone": zone}),
            true,
            date,
            zone,
        ));
    }
    let dt = t
        .date_time
        .as_deref()
        .ok_or_else(|| invalid(pointer, "give date_time (with time_zone) or date"))?;
    let zone_name = t.time_zone.as_deref();
    let tz = view_zone(zone_name, &format!("{pointer}/time_zone"))?;
    let (local, zone) = match DateTime::parse_from_rfc3339(dt) {
        // an offset: the instant, shown in time_zone (or UTC)
        Ok(instant) => {
            let tz = tz.unwrap_or(Tz::UTC);
            (
                instant.with_timezone(&tz).naive_local(),
                tz.name().to_string(),
            )
        }
        // wall time in time_zone
        Err(_) => {
            let tz = tz.ok_or_else(|| {
                invalid(
                    &format!("{pointer}/time_zone"),
                    "a date_time without offset needs a time_zone (IANA, e.g. Europe/Berlin)",
                )
            })?;
            let local = NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M"))
                .map_err(|_| invalid(&format!("{pointer}/date_time"), "not a date-time"))?;
            (local, tz.name().to_string())
        }
    };
    Ok((
        json!({"dateTime": local.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": zone}),
        false,
        local.date(),
        zone,
    ))
}

fn attendee_list(list: &[String], field: &str, kind: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let mut r = recipient(s).ok_or_else(|| {
            invalid(
                &format!("/{field}/{i}"),
                "not an email address (use `name@example.com` or `Name <name@example.com>`)",
            )
        })?;
        r["type"] = json!(kind);
        out.push(r);
    }
    Ok(out)
}

/// The Graph event body of create / update params (only the fields given).
fn event_body(p: &EventWriteParams) -> Result<Map<String, Value>> {
    let mut m = Map::new();
    if let Some(s) = &p.summary {
        m.insert("subject".into(), json!(s));
    }
    if let Some(d) = &p.description {
        let html = d.trim_start().starts_with('<');
        m.insert(
            "body".into(),
            json!({"contentType": if html { "html" } else { "text" }, "content": d}),
        );
    }
    if let Some(l) = &p.location {
        m.insert("location".into(), json!({"displayName": l}));
    }
    let start = p
        .start
        .as_ref()
        .map(|t| graph_time(t, "/start"))
        .transpose()?;
    let end = p.end.as_ref().map(|t| graph_time(t, "/end")).transpose()?;
    if let (Some(s), Some(e)) = (&start, &end) {
        if s.1 != e.1 {
            return Err(invalid(
                "/end",
                "start and end must both be {date} (all day) or both {date_time}",
            ));
        }
    }
    if let Some((v, all_day, ..)) = &start {
        m.insert("start".into(), v.clone());
        m.insert("isAllDay".into(), json!(all_day));
    }
    if let Some((v, ..)) = &end {
        m.insert("end".into(), v.clone());
    }
    if p.attendees.is_some() || p.optional_attendees.is_some() {
        let mut list = attendee_list(
            p.attendees.as_deref().unwrap_or(&[]),
            "attendees",
            "required",
        )?;
        list.extend(attendee_list(
            p.optional_attendees.as_deref().unwrap_or(&[]),
            "optional_attendees",
            "optional",
        )?);
        m.insert("attendees".into(), Value::Array(list));
    }
    if let Some(lines) = &p.recurrence {
        let Some((_, _, date, zone)) = &start else {
            return Err(invalid(
                "/start",
                "a recurrence needs the series' start (its first date and time zone)",
            ));
        };
        let r = recurrence::to_graph(lines, *date, zone).map_err(|e| invalid("/recurrence", &e))?;
        m.insert("recurrence".into(), r);
    }
    if let Some(on) = p.online_meeting {
        m.insert("isOnlineMeeting".into(), json!(on));
        if on {
            m.insert("onlineMeetingProvider".into(), json!("teamsForBusiness"));
        }
    }
    if let Some(s) = &p.show_as {
        m.insert("showAs".into(), json!(s));
    }
    if let Some(v) = &p.visibility {
        let sensitivity = if v == "private" { "private" } else { "normal" };
        m.insert("sensitivity".into(), json!(sensitivity));
    }
    Ok(m)
}

/// `events.create`. Never retried blindly: without an idempotency key the POST is not retried
/// once it may have reached Graph (`outcome_unknown`); with one it carries a `transactionId`
/// derived from the key, so a retry (core's or the caller's, same key) gets the first event.
pub async fn events_create(cx: &CallContext<'_>, p: EventWriteParams) -> Result<Output> {
    let mut body = event_body(&p)?;
    let key = cx.options.idempotency_key.as_deref();
    if let Some(k) = key {
        body.insert("transactionId".into(), json!(shape::transaction_id(k)));
    }
    let req = ProviderRequest::post(format!("{}/events", base(&p.calendar_id)))
        .json(Value::Object(body))
        .idempotent(key.is_some());
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(shape::event(
        &v,
        shown_id(&p.calendar_id),
        None,
    )))
}

pub async fn events_update(cx: &CallContext<'_>, p: EventWriteParams) -> Result<Output> {
    let id = p
        .event_id
        .clone()
        .ok_or_else(|| invalid("/event_id", "required"))?;
    let body = event_body(&p)?;
    if body.is_empty() {
        return Err(invalid("", "give at least one field to change"));
    }
    let req = ProviderRequest::new(Method::PATCH, event_path(&p.calendar_id, &id))
        .json(Value::Object(body))
        .idempotent(true);
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(shape::event(
        &v,
        shown_id(&p.calendar_id),
        None,
    )))
}

pub async fn events_delete(cx: &CallContext<'_>, p: EventsDeleteParams) -> Result<Output> {
    let req = ProviderRequest::new(Method::DELETE, event_path(&p.calendar_id, &p.event_id))
        .idempotent(true);
    cx.send(req).await?;
    Ok(Output::new(json!({"ok": true})))
}

pub async fn events_respond(cx: &CallContext<'_>, p: EventsRespondParams) -> Result<Output> {
    let action = match p.response.as_str() {
        "accept" => "accept",
        "tentative" => "tentativelyAccept",
        "decline" => "decline",
        _ => return Err(invalid("/response", "accept, tentative or decline")),
    };
    let mut body = json!({"sendResponse": p.send_response});
    if let Some(c) = &p.comment {
        body["comment"] = json!(c);
    }
    let req = ProviderRequest::post(format!("/me/events/{}/{action}", seg(&p.event_id)))
        .json(body)
        .idempotent(true);
    cx.send(req).await?;
    Ok(Output::new(
        read_event(cx, &p.calendar_id, &p.event_id, None).await?,
    ))
}

/// 410 on a calendar delta link: the sync token expired.
fn sync_error(e: ConnectorError) -> ConnectorError {
    if wire::provider_status(&e) == Some(410) || e.code == ErrorCode::SyncRequired {
        let details = e.details.clone();
        ConnectorError::new(
            ErrorCode::SyncRequired,
            "the sync token has expired: call events.sync again without sync_token (with time_min and time_max, a full sync) and keep the new token",
        )
        .with_details(details)
    } else {
        e
    }
}

pub async fn events_sync(cx: &CallContext<'_>, p: EventsSyncParams) -> Result<Output> {
    let req = match (&p.page_token, &p.sync_token) {
        (Some(t), _) => wire::request_from_token(t, "page_token")?,
        (None, Some(t)) => wire::request_from_token(t, "sync_token")?,
        (None, None) => {
            let (from, to) = window(
                p.time_min.as_deref(),
                p.time_max.as_deref(),
                "the first Outlook sync follows a window: give time_min and time_max",
            )?;
            ProviderRequest::get(format!("{}/calendarView/delta", base(&p.calendar_id)))
                .query("startDateTime", graph_instant(from))
                .query("endDateTime", graph_instant(to))
        }
    };
    let req = req
        .header("Prefer", &format!("odata.maxpagesize={}", p.max_results))
        .idempotent(true);
    let v = wire::body(&cx.send(req).await.map_err(sync_error)?)?;
    let items: Vec<Value> = wire::values(&v)
        .iter()
        .map(|e| shape::event(e, shown_id(&p.calendar_id), None))
        .collect();
    let mut out = page_meta(Output::new(Value::Array(items)), &v);
    if let Some(t) = v
        .get("@odata.deltaLink")
        .and_then(Value::as_str)
        .and_then(wire::token_from_link)
    {
        out = out.with_meta("next_sync_token", t);
    }
    Ok(out)
}

/// Busy intervals merged and ordered; the stronger status wins where they overlap.
fn merge(mut items: Vec<(DateTime<Utc>, DateTime<Utc>, &'static str)>) -> Vec<Value> {
    let rank = |s: &str| match s {
        "oof" => 4,
        "busy" => 3,
        "tentative" => 2,
        "working_elsewhere" => 1,
        _ => 0,
    };
    items.sort_by_key(|i| i.0);
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>, &'static str)> = Vec::new();
    for (s, e, st) in items {
        match out.last_mut() {
            Some(last) if s <= last.1 => {
                last.1 = last.1.max(e);
                if rank(st) > rank(last.2) {
                    last.2 = st;
                }
            }
            _ => out.push((s, e, st)),
        }
    }
    out.into_iter()
        .map(|(s, e, st)| {
            json!({"start": shape::rfc3339_in(s, Tz::UTC), "end": shape::rfc3339_in(e, Tz::UTC), "show_as": st})
        })
        .collect()
}

pub async fn freebusy_query(cx: &CallContext<'_>, p: FreebusyParams) -> Result<Output> {
    let (from, to) = window(Some(&p.time_min), Some(&p.time_max), "required")?;
    if to - from > chrono::Duration::days(62) {
        return Err(invalid("/time_max", "at most 62 days after time_min"));
    }
    let mut schedules = Vec::new();
    for (i, person) in p.people.iter().enumerate() {
        let r = recipient(person)
            .ok_or_else(|| invalid(&format!("/people/{i}"), "not an email address"))?;
        schedules.push(r["emailAddress"]["address"].clone());
    }
    let req = ProviderRequest::post("/me/calendar/getSchedule")
        .header("Prefer", "outlook.timezone=\"UTC\"")
        .json(json!({
            "schedules": schedules,
            "startTime": {"dateTime": to_wall(from), "timeZone": "UTC"},
            "endTime": {"dateTime": to_wall(to), "timeZone": "UTC"},
            "availabilityViewInterval": 15,
        }))
        .idempotent(true);
    let v = wire::body(&cx.send(req).await?)?;
    let out: Vec<Value> = wire::values(&v)
        .iter()
        .map(|s| {
            let busy: Vec<_> = s["scheduleItems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| {
                    let st = match item["status"].as_str()? {
                        "busy" => "busy",
                        "tentative" => "tentative",
                        "oof" => "oof",
                        "workingElsewhere" => "working_elsewhere",
                        "free" => return None,
                        _ => "unknown",
                    };
                    let (a, b) = (shape::instant(&item["start"])?, shape::instant(&item["end"])?);
                    Some((a.max(from), b.min(to), st))
                })
                .filter(|(a, b, _)| a < b)
                .collect();
            json!({
                "email": s["scheduleId"],
                "busy": merge(busy),
                "error": s["error"]["message"].as_str().or_else(|| s["error"]["responseCode"].as_str()),
            })
        })
        .collect();
    Ok(Output::new(Value::Array(out)))
}

fn to_wall(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}
