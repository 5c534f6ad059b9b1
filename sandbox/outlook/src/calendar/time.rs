//! Graph's times: `dateTimeTimeZone` values (`{"dateTime": "2026-10-20T10:00:00.0000000",
//! "timeZone": "Pacific Standard Time"}`), Windows and IANA zone names, and rendering in the
//! zone a client asks for with `Prefer: outlook.timezone="..."`.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

/// A zone by Windows or IANA name (case-insensitive), `None` when unknown.
pub fn zone(name: &str) -> Option<Tz> {
    let name = name.trim();
    // Windows names: CLDR's windowsZones.xml (connector_core::windows_zones)
    if let Some(iana) = connector_core::windows_zones::iana_for_windows(name) {
        return iana.parse().ok();
    }
    name.parse::<Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .copied()
            .find(|z| z.name().eq_ignore_ascii_case(name))
    })
}

/// `2026-10-20T10:00:00`, with or without fraction, `Z` or offset (an offset is applied).
pub fn parse_local(s: &str) -> Option<NaiveDateTime> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc());
    }
    let s = s.trim().trim_end_matches('Z');
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// A wall-clock time in a zone as a UTC instant. A time that falls in a spring-forward gap
/// moves on by the gap; an ambiguous one (fall back) takes the earlier instant.
pub fn to_utc(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        LocalResult::None => to_utc(local + chrono::Duration::hours(1), tz),
    }
}

/// The wire form of a local time: seven fraction digits, as Graph writes it.
pub fn wire(local: NaiveDateTime) -> String {
    format!("{}.0000000", local.format("%Y-%m-%dT%H:%M:%S"))
}

/// A `dateTimeTimeZone` of an instant, in the zone the client prefers (UTC by default).
pub fn render(t: DateTime<Utc>, prefer: &Pref) -> Value {
    let local = t.with_timezone(&prefer.tz).naive_local();
    json!({"dateTime": wire(local), "timeZone": prefer.name})
}

/// The zone responses are written in: `Prefer: outlook.timezone="..."`, else UTC.
#[derive(Debug, Clone)]
pub struct Pref {
    pub name: String,
    pub tz: Tz,
}

impl Default for Pref {
    fn default() -> Self {
        Pref {
            name: "UTC".into(),
            tz: Tz::UTC,
        }
    }
}

impl Pref {
    /// Reads `outlook.timezone` from the `Prefer` header(s); an unknown zone is ignored (UTC).
    pub fn from_prefer(prefer: &str) -> Pref {
        for part in prefer.split(',') {
            let part = part.trim();
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("outlook.timezone") {
                let name = v.trim().trim_matches('"');
                if let Some(tz) = zone(name) {
                    return Pref {
                        name: name.to_string(),
                        tz,
                    };
                }
            }
        }
        Pref::default()
    }
}

/// A `dateTimeTimeZone` from a request body: (local time, zone name as given, zone).
pub fn parse_dttz(v: &Value) -> Result<(NaiveDateTime, String, Tz), String> {
    let dt = v
        .get("dateTime")
        .and_then(Value::as_str)
        .ok_or("dateTime is required")?;
    let local = parse_local(dt).ok_or_else(|| format!("'{dt}' is not a valid dateTime"))?;
    let name = v
        .get("timeZone")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("UTC");
    let tz = zone(name).ok_or_else(|| {
        format!("A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.")
    })?;
    Ok((local, name.to_string(), tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_iana_names_resolve_to_the_same_zone() {
        assert_eq!(
            zone("Pacific Standard Time"),
            Some(chrono_tz::America::Los_Angeles)
        );
        assert_eq!(
            zone("america/los_angeles"),
            Some(chrono_tz::America::Los_Angeles)
        );
        assert_eq!(zone("UTC"), Some(chrono_tz::Etc::UTC));
        assert!(zone("Mars Standard Time").is_none());
    }

    #[test]
    fn a_wall_time_becomes_the_right_instant_on_both_sides_of_dst() {
        let tz = zone("Europe/Lisbon").unwrap();
        let summer = to_utc(parse_local("2026-10-20T10:00:00").unwrap(), tz);
        let winter = to_utc(parse_local("2026-10-27T10:00:00.0000000").unwrap(), tz);
        assert_eq!(summer.to_rfc3339(), "2026-10-20T09:00:00+00:00");
        assert_eq!(winter.to_rfc3339(), "2026-10-27T10:00:00+00:00");
    }

    #[test]
    fn the_prefer_header_picks_the_zone_of_responses() {
        let p =
            Pref::from_prefer("odata.maxpagesize=5, outlook.timezone=\"Eastern Standard Time\"");
        assert_eq!(p.name, "Eastern Standard Time");
        let t = to_utc(parse_local("2026-07-01T16:00:00").unwrap(), Tz::UTC);
        assert_eq!(render(t, &p)["dateTime"], "2026-07-01T12:00:00.0000000");
    }
}
