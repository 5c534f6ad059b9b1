//! `calendarView` (every instance in a time window, series expanded into occurrences),
//! `events/{id}/instances`, and `calendarView/delta` (rounds of changes in a window, with
//! `@odata.nextLink` pages and an `@odata.deltaLink` whose token expires like mail's).

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::model::{Event, Instance};
use super::Cx;
use crate::reply::{self, Reply};

/// Graph's answer when a view has no window.
fn window_required() -> Reply {
    reply::error(
        400,
        "ErrorInvalidParameter",
        "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
    )
}

/// `startDateTime` / `endDateTime` (ISO 8601; without an offset, UTC).
fn window(cx: &Cx<'_, '_>) -> Result<(DateTime<Utc>, DateTime<Utc>), Reply> {
    let q = cx.req.query;
    let read = |name: &str| -> Result<DateTime<Utc>, Reply> {
        let raw = q.get(name).ok_or_else(window_required)?;
        super::time::parse_local(raw)
            .map(|t| t.and_utc())
            .ok_or_else(|| {
                reply::error(
                    400,
                    "ErrorInvalidParameter",
                    format!("The value '{raw}' of parameter '{name}' is invalid."),
                )
            })
    };
    let (from, to) = (read("startDateTime")?, read("endDateTime")?);
    if to < from {
        return Err(reply::error(
            400,
            "ErrorInvalidParameter",
            "The parameter 'EndDateTime' must be after 'StartDateTime'.",
        ));
    }
    Ok((from, to))
}

/// Every instance of the calendar's events in [from, to), by start.
fn instances_in<'e>(
    events: impl Iterator<Item = &'e Event>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(&'e Event, Instance)> {
    let mut out: Vec<(&Event, Instance)> = events
        .flat_map(|e| e.instances(from, to).into_iter().map(move |i| (e, i)))
        .collect();
    out.sort_by(|a, b| a.1.start.cmp(&b.1.start).then(a.1.id.cmp(&b.1.id)));
    out
}

fn calendar_id(cx: &Cx<'_, '_>, cal: Option<&str>) -> String {
    cal.map(String::from)
        .unwrap_or_else(|| cx.mb_ref().calendar.default_calendar().id.clone())
}

pub fn calendar_view(cx: &mut Cx<'_, '_>, cal: Option<&str>) -> Reply {
    if let Err(e) = cx.req.query.check_allowed(&[
        "select", "top", "skip", "count", "filter", "orderby", "expand",
    ]) {
        return e;
    }
    let (from, to) = match window(cx) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let cal = calendar_id(cx, cal);
    let store = &cx.mb_ref().calendar;
    let items: Vec<Value> = instances_in(
        store.events.values().filter(|e| e.calendar_id == cal),
        from,
        to,
    )
    .into_iter()
    .map(|(e, i)| Value::Object(e.to_json(Some(&i), &cx.pref)))
    .collect();
    crate::folders::page(items, cx.req, cx.req.page_size.unwrap_or(10))
}

pub fn instances(cx: &mut Cx<'_, '_>, id: &str) -> Reply {
    if let Err(e) = cx
        .req
        .query
        .check_allowed(&["select", "top", "skip", "count", "filter", "orderby"])
    {
        return e;
    }
    let (from, to) = match window(cx) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let Some(ev) = cx.mb_ref().calendar.events.get(id) else {
        return reply::not_found("event");
    };
    let items: Vec<Value> = instances_in(std::iter::once(ev), from, to)
        .into_iter()
        .map(|(e, i)| Value::Object(e.to_json(Some(&i), &cx.pref)))
        .collect();
    crate::folders::page(items, cx.req, cx.req.page_size.unwrap_or(10))
}

/// One round of calendar delta: changes in (since, upto] within [from, to).
struct Round {
    cal: String,
    from: i64,
    to: i64,
    since: u64,
    upto: u64,
    offset: usize,
    epoch: u64,
    page: usize,
}

impl Round {
    fn token(&self, kind: &str) -> String {
        let raw = format!(
            "{kind}|{}|{}|{}|{}|{}|{}|{}|{}",
            self.cal, self.from, self.to, self.since, self.upto, self.offset, self.epoch, self.page
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    fn parse(tok: &str, kind: &str) -> Option<Round> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tok)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let p: Vec<&str> = text.split('|').collect();
        if p.len() != 9 || p[0] != kind {
            return None;
        }
        Some(Round {
            cal: p[1].into(),
            from: p[2].parse().ok()?,
            to: p[3].parse().ok()?,
            since: p[4].parse().ok()?,
            upto: p[5].parse().ok()?,
            offset: p[6].parse().ok()?,
            epoch: p[7].parse().ok()?,
            page: p[8].parse().ok()?,
        })
    }
}

fn sync_state_gone() -> Reply {
    reply::error(
        410,
        "SyncStateNotFound",
        "The sync state generation is not found or has expired. Start a full synchronization without a delta token.",
    )
}

pub fn delta(cx: &mut Cx<'_, '_>, cal: Option<&str>) -> Reply {
    match delta_inner(cx, cal) {
        Ok(r) | Err(r) => r,
    }
}

fn delta_inner(cx: &mut Cx<'_, '_>, cal: Option<&str>) -> Result<Reply, Reply> {
    let q = cx.req.query;
    q.check_allowed(&["skiptoken", "deltatoken", "top"])?;
    let bad = || {
        reply::error(
            400,
            "ErrorInvalidSyncStateData",
            "The sync state data is invalid.",
        )
    };
    let mb = cx.mb_ref();
    let asked = q
        .usize("top")?
        .or(cx.req.page_size)
        .map(|n| n.clamp(1, 1000));
    let cal_id = calendar_id(cx, cal);
    let page_link = q.get("skiptoken").is_some();
    let round = if let Some(tok) = q.get("skiptoken") {
        let mut r = Round::parse(tok, "s").ok_or_else(bad)?;
        r.page = asked.unwrap_or(r.page);
        r
    } else if let Some(tok) = q.get("deltatoken") {
        let r = Round::parse(tok, "d").ok_or_else(bad)?;
        Round {
            since: r.upto,
            upto: mb.seq,
            offset: 0,
            page: asked.unwrap_or(r.page),
            ..r
        }
    } else {
        let (from, to) = window(cx)?;
        Round {
            cal: cal_id.clone(),
            from: from.timestamp(),
            to: to.timestamp(),
            since: 0,
            upto: mb.seq,
            offset: 0,
            epoch: mb.delta_epoch,
            page: asked.unwrap_or(10),
        }
    };
    if round.epoch != mb.delta_epoch {
        return Err(sync_state_gone());
    }
    if round.cal != cal_id {
        return Err(reply::error(
            400,
            "ErrorInvalidSyncStateData",
            "The sync state belongs to another calendar.",
        ));
    }
    let store = &mb.calendar;
    // A page link is a snapshot of one round; once the calendar moves on it expires.
    let moved_on = store.events.values().any(|e| e.seq > round.upto)
        || store.removed.iter().any(|(s, _)| *s > round.upto);
    if page_link && cx.req.behaviour.delta_page_links_expire && moved_on {
        return Err(sync_state_gone());
    }
    let from = DateTime::from_timestamp(round.from, 0).ok_or_else(bad)?;
    let to = DateTime::from_timestamp(round.to, 0).ok_or_else(bad)?;
    let changed = store
        .events
        .values()
        .filter(|e| e.calendar_id == round.cal && e.seq > round.since && e.seq <= round.upto);
    let mut entries: Vec<(u64, DateTime<Utc>, Value)> = instances_in(changed, from, to)
        .into_iter()
        .map(|(e, i)| (e.seq, i.start, Value::Object(e.to_json(Some(&i), &cx.pref))))
        .collect();
    if round.since > 0 {
        // deleted occurrences of a changed series
        for e in store
            .events
            .values()
            .filter(|e| e.calendar_id == round.cal && e.seq > round.since && e.seq <= round.upto)
        {
            let mut whole = e.clone();
            whole.cancelled.clear();
            for i in whole.instances(from, to) {
                if i.occurrence.is_some_and(|o| e.cancelled.contains(&o)) {
                    entries.push((
                        e.seq,
                        i.start,
                        json!({"@odata.type": "#microsoft.graph.event", "id": i.id, "@removed": {"reason": "deleted"}}),
                    ));
                }
            }
        }
        for (seq, gone) in &store.removed {
            if gone.calendar_id == round.cal && *seq > round.since && *seq <= round.upto {
                for i in gone.instances(from, to) {
                    entries.push((
                        *seq,
                        i.start,
                        json!({"@odata.type": "#microsoft.graph.event", "id": i.id, "@removed": {"reason": "deleted"}}),
                    ));
                }
            }
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let end = (round.offset + round.page).min(entries.len());
    let value: Vec<Value> = entries[round.offset.min(end)..end]
        .iter()
        .map(|(_, _, v)| v.clone())
        .collect();
    let base = cx.req.link("");
    let base = base.trim_end_matches('?');
    let mut body = Map::new();
    body.insert("value".into(), Value::Array(value));
    if end < entries.len() {
        let next = Round {
            offset: end,
            ..round
        };
        body.insert(
            "@odata.nextLink".into(),
            json!(format!("{base}?$skiptoken={}", next.token("s"))),
        );
    } else {
        body.insert(
            "@odata.deltaLink".into(),
            json!(format!("{base}?$deltatoken={}", round.token("d"))),
        );
    }
    Ok(Reply::ok(Value::Object(body)))
}
