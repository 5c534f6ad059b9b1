//! Times of Google Calendar events: `EventDateTime` values as instants, rendered in a zone, and
//! the instances of a recurring event (RFC 5545 rules expanded by the `rrule` crate in the
//! event's IANA zone, so a weekly 09:00 stays 09:00 local across a DST change).

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// An IANA zone by name.
pub fn zone(name: &str) -> ApiResult<Tz> {
    name.parse::<Tz>()
        .map_err(|_| ApiError::bad_request(format!("Invalid time zone definition: {name}")))
}

/// An RFC 3339 instant (`timeMin`, `timeMax`, `dateTime` with offset).
pub fn parse_rfc3339(text: &str, what: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::bad_request(format!("Bad Request: invalid {what} {text:?}")))
}

/// The instant an `EventDateTime` names: `dateTime` with its offset, or wall time in
/// `timeZone`; a `date` is midnight UTC of that day.
pub fn instant(t: &Value) -> ApiResult<DateTime<Utc>> {
    if let Some(d) = t["date"].as_str() {
        let day = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::bad_request(format!("Invalid date {d:?}")))?;
        return Ok(Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight")));
    }
    let text = t["dateTime"]
        .as_str()
        .ok_or_else(|| ApiError::bad_request("Missing time value: dateTime or date"))?;
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| ApiError::bad_request(format!("Invalid dateTime {text:?}")))?;
    let tz_name = t["timeZone"]
        .as_str()
        .ok_or_else(|| ApiError::bad_request("Missing time zone definition for start time."))?;
    let tz = zone(tz_name)?;
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ApiError::bad_request(format!("Invalid dateTime {text:?} in {tz_name}")))
}

/// `t` in `tz` as RFC 3339 with its offset (`Z` for UTC).
pub fn render(t: DateTime<Utc>, tz: &str) -> String {
    match tz.parse::<Tz>() {
        Ok(z) => t
            .with_timezone(&z)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        Err(_) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// An `EventDateTime` shown in `zone` (`date` values stay dates; `timeZone` is kept).
pub fn render_time(t: &Value, zone: Option<&str>) -> Value {
    let mut out = t.clone();
    if t["dateTime"].is_string() {
        if let Ok(at) = instant(t) {
            let z = zone.or(t["timeZone"].as_str()).unwrap_or("UTC");
            out["dateTime"] = render(at, z).into();
        }
    }
    out
}

/// The instance-id suffix Google gives an occurrence: `20260316T080000Z` (UTC) for timed
/// events, `20260316` for all-day ones.
pub fn instance_suffix(start: DateTime<Utc>, all_day: bool) -> String {
    if all_day {
        start.format("%Y%m%d").to_string()
    } else {
        start.format("%Y%m%dT%H%M%SZ").to_string()
    }
}

/// Starts of the occurrences of the recurring event `master` that begin before `hi` and end
/// after `lo` (at most `limit`).
pub fn occurrences(
    master: &Value,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    limit: u16,
) -> ApiResult<Vec<DateTime<Utc>>> {
    let start = instant(&master["start"])?;
    let end = instant(&master["end"])?;
    let all_day = master["start"]["date"].is_string();
    let zone_name = if all_day {
        "UTC".to_string()
    } else {
        master["start"]["timeZone"]
            .as_str()
            .ok_or_else(|| ApiError::bad_request("Missing time zone definition for start time."))?
            .to_string()
    };
    let tz = zone(&zone_name)?;
    let lines: Vec<&str> = master["recurrence"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let local = start.with_timezone(&tz).naive_local();
    let text = format!(
        "DTSTART;TZID={zone_name}:{}\n{}",
        local.format("%Y%m%dT%H%M%S"),
        lines.join("\n")
    );
    let set: rrule::RRuleSet = text
        .parse()
        .map_err(|e| ApiError::bad_request(format!("Invalid recurrence rule: {e}")))?;
    let rtz = rrule::Tz::Tz(tz);
    let duration = end - start;
    let from = (lo - duration - chrono::Duration::seconds(1)).with_timezone(&rtz);
    let dates = set
        .after(from.max(start.with_timezone(&rtz) - chrono::Duration::seconds(1)))
        .before(hi.with_timezone(&rtz))
        .all(limit)
        .dates;
    Ok(dates
        .into_iter()
        .map(|d| d.with_timezone(&Utc))
        .filter(|s| *s < hi && *s + duration > lo)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_weekly_meeting_keeps_its_local_time_across_the_dst_change() {
        let master = json!({
            "start": {"dateTime": "2026-03-16T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-03-16T09:30:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"]
        });
        let lo = parse_rfc3339("2026-03-01T00:00:00Z", "t").unwrap();
        let hi = parse_rfc3339("2026-05-01T00:00:00Z", "t").unwrap();
        let got: Vec<String> = occurrences(&master, lo, hi, 100)
            .unwrap()
            .into_iter()
            .map(|t| render(t, "Europe/Berlin"))
            .collect();
        // Berlin moves to summer time on 2026-03-29.
        assert_eq!(
            got,
            [
                "2026-03-16T09:00:00+01:00",
                "2026-03-23T09:00:00+01:00",
                "2026-03-30T09:00:00+02:00",
                "2026-04-06T09:00:00+02:00"
            ]
        );
        let later = parse_rfc3339("2026-03-25T00:00:00Z", "t").unwrap();
        assert_eq!(occurrences(&master, later, hi, 100).unwrap().len(), 2);
    }
}
