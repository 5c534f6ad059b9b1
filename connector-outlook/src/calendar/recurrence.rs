//! RFC 5545 `RRULE` lines (the shared calendar shape) <-> Graph's `patternedRecurrence`.
//! Graph's pattern types cover what Outlook can schedule: daily, weekly on days, monthly and
//! yearly on a day of the month or on the first..fourth or last weekday (Microsoft's
//! "patternedRecurrence" and "recurrencePattern" resources). Rules outside that (EXDATE, RDATE,
//! BYHOUR, several BYSETPOS, ...) are refused with the reason, never approximated.

use chrono::NaiveDate;
use serde_json::{json, Value};

const DAYS: &[(&str, &str)] = &[
    ("SU", "sunday"),
    ("MO", "monday"),
    ("TU", "tuesday"),
    ("WE", "wednesday"),
    ("TH", "thursday"),
    ("FR", "friday"),
    ("SA", "saturday"),
];

const INDEX: &[(i64, &str)] = &[
    (1, "first"),
    (2, "second"),
    (3, "third"),
    (4, "fourth"),
    (-1, "last"),
];

fn day_name(code: &str) -> Option<&'static str> {
    DAYS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

fn day_code(name: &str) -> Option<&'static str> {
    DAYS.iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(c, _)| *c)
}

/// The `patternedRecurrence` of `lines` for a series starting on `start_date` in `zone`.
/// `Err` says what Outlook cannot express.
pub fn to_graph(lines: &[String], start_date: NaiveDate, zone: &str) -> Result<Value, String> {
    let mut rule = None;
    for l in lines {
        let upper = l.to_ascii_uppercase();
        if let Some(r) = upper.strip_prefix("RRULE:") {
            if rule.is_some() {
                return Err("Outlook series have one RRULE; give a single RRULE line".into());
            }
            rule = Some(r.to_string());
        } else {
            let kind = upper.split([':', ';']).next().unwrap_or("");
            return Err(format!(
                "Outlook cannot express {kind} in a series; create the series with an RRULE and delete single instances with events.delete"
            ));
        }
    }
    let rule = rule.ok_or("give an RRULE line, e.g. RRULE:FREQ=WEEKLY;BYDAY=MO")?;
    let mut freq = None;
    let mut interval = 1u64;
    let mut days: Vec<(i64, &str)> = Vec::new();
    let mut month_day = None;
    let mut month = None;
    let mut set_pos = None;
    let mut count = None;
    let mut until = None;
    let mut wkst = "sunday";
    for part in rule.split(';').filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not NAME=VALUE"))?;
        let num = |v: &str| {
            v.parse::<i64>()
                .map_err(|_| format!("{k}={v} is not a number"))
        };
        match k {
            "FREQ" => freq = Some(v.to_string()),
            "INTERVAL" => interval = num(v)?.clamp(1, 99) as u64,
            "BYDAY" => {
                for d in v.split(',') {
                    let split = d.len().saturating_sub(2);
                    let (n, code) = d.split_at(split);
                    let name = day_name(code).ok_or_else(|| format!("BYDAY {d} is not a day"))?;
                    let n = if n.is_empty() { 0 } else { num(n)? };
                    days.push((n, name));
                }
            }
            "BYMONTHDAY" => month_day = Some(num(v)?),
            "BYMONTH" => month = Some(num(v)?),
            "BYSETPOS" => set_pos = Some(num(v)?),
            "COUNT" => count = Some(num(v)?),
            "UNTIL" => {
                let date = v.get(..8).unwrap_or("");
                until = Some(
                    NaiveDate::parse_from_str(date, "%Y%m%d")
                        .map_err(|_| format!("UNTIL={v} is not a date"))?,
                );
            }
            "WKST" => wkst = day_name(v).ok_or_else(|| format!("WKST={v} is not a day"))?,
            other => return Err(format!("Outlook series cannot use {other}")),
        }
    }
    // an ordinal on BYDAY (1MO, -1FR) is the same as BYSETPOS with plain days
    let ordinals: Vec<i64> = days.iter().map(|(n, _)| *n).filter(|n| *n != 0).collect();
    if let Some(first) = ordinals.first() {
        if set_pos.is_some() || ordinals.iter().any(|n| n != first) {
            return Err("Outlook takes one ordinal for all days of a relative pattern".into());
        }
        set_pos = Some(*first);
    }
    let names: Vec<&str> = days.iter().map(|(_, n)| *n).collect();
    let index = match set_pos {
        None => "first",
        Some(p) => INDEX
            .iter()
            .find(|(n, _)| *n == p)
            .map(|(_, s)| *s)
            .ok_or("Outlook's ordinals are 1-4 and -1 (last)")?,
    };
    let freq = freq.ok_or("the RRULE needs FREQ")?;
    let pattern = match (freq.as_str(), names.is_empty(), month_day, month) {
        ("DAILY", true, None, None) => json!({"type": "daily", "interval": interval}),
        ("WEEKLY", _, None, None) => {
            let days = if names.is_empty() {
                // RFC 5545: the weekday of the start
                vec![
                    day_name(&start_date.format("%a").to_string().to_ascii_uppercase()[..2])
                        .unwrap_or("monday"),
                ]
            } else {
                names
            };
            json!({"type": "weekly", "interval": interval, "daysOfWeek": days, "firstDayOfWeek": wkst})
        }
        ("MONTHLY", true, Some(d), None) if d > 0 => {
            json!({"type": "absoluteMonthly", "interval": interval, "dayOfMonth": d})
        }
        ("MONTHLY", false, None, None) => {
            json!({"type": "relativeMonthly", "interval": interval, "daysOfWeek": names, "index": index})
        }
        ("MONTHLY", true, None, None) => {
            json!({"type": "absoluteMonthly", "interval": interval, "dayOfMonth": chrono::Datelike::day(&start_date)})
        }
        ("YEARLY", true, Some(d), Some(m)) if d > 0 => {
            json!({"type": "absoluteYearly", "interval": interval, "dayOfMonth": d, "month": m})
        }
        ("YEARLY", false, None, Some(m)) => {
            json!({"type": "relativeYearly", "interval": interval, "daysOfWeek": names, "index": index, "month": m})
        }
        ("YEARLY", true, None, None) => json!({"type": "absoluteYearly", "interval": interval,
            "dayOfMonth": chrono::Datelike::day(&start_date), "month": chrono::Datelike::month(&start_date)}),
        (f, ..) => {
            return Err(format!(
                "Outlook cannot express FREQ={f} with these BY parts"
            ))
        }
    };
    let range = match (count, until) {
        (Some(_), Some(_)) => return Err("give COUNT or UNTIL, not both".into()),
        (Some(n), None) => json!({"type": "numbered", "numberOfOccurrences": n.max(1),
            "startDate": start_date.to_string(), "recurrenceTimeZone": zone}),
        (None, Some(d)) => json!({"type": "endDate", "endDate": d.to_string(),
            "startDate": start_date.to_string(), "recurrenceTimeZone": zone}),
        (None, None) => {
            json!({"type": "noEnd", "startDate": start_date.to_string(), "recurrenceTimeZone": zone})
        }
    };
    Ok(json!({"pattern": pattern, "range": range}))
}

/// The RRULE line of a Graph `patternedRecurrence` (`None` when it has no pattern).
pub fn from_graph(r: &Value) -> Option<String> {
    let p = r.get("pattern")?;
    let range = r.get("range");
    let interval = p.get("interval").and_then(Value::as_u64).unwrap_or(1);
    let days: Vec<&str> = p
        .get("daysOfWeek")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(day_code)
                .collect()
        })
        .unwrap_or_default();
    let pos = p
        .get("index")
        .and_then(Value::as_str)
        .and_then(|i| INDEX.iter().find(|(_, n)| n.eq_ignore_ascii_case(i)))
        .map_or(1, |(n, _)| *n);
    let dom = p.get("dayOfMonth").and_then(Value::as_u64).unwrap_or(0);
    let month = p.get("month").and_then(Value::as_u64).unwrap_or(0);
    let mut rule = match p.get("type").and_then(Value::as_str)? {
        "daily" => "FREQ=DAILY".to_string(),
        "weekly" => {
            let wkst = p
                .get("firstDayOfWeek")
                .and_then(Value::as_str)
                .and_then(day_code)
                .unwrap_or("SU");
            format!("FREQ=WEEKLY;BYDAY={};WKST={wkst}", days.join(","))
        }
        "absoluteMonthly" => format!("FREQ=MONTHLY;BYMONTHDAY={dom}"),
        "relativeMonthly" => format!("FREQ=MONTHLY;BYDAY={};BYSETPOS={pos}", days.join(",")),
        "absoluteYearly" => format!("FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={dom}"),
        "relativeYearly" => format!(
            "FREQ=YEARLY;BYMONTH={month};BYDAY={};BYSETPOS={pos}",
            days.join(",")
        ),
        _ => return None,
    };
    if interval > 1 {
        rule.push_str(&format!(";INTERVAL={interval}"));
    }
    match range.and_then(|r| r.get("type")).and_then(Value::as_str) {
        Some("numbered") => {
            let n = range?.get("numberOfOccurrences").and_then(Value::as_u64)?;
            rule.push_str(&format!(";COUNT={n}"));
        }
        Some("endDate") => {
            let d = range?.get("endDate").and_then(Value::as_str)?;
            let d = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
            rule.push_str(&format!(";UNTIL={}", d.format("%Y%m%d")));
        }
        _ => {}
    }
    Some(format!("RRULE:{rule}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weekly_with_count_round_trips() {
        let g = to_graph(
            &["RRULE:FREQ=WEEKLY;BYDAY=TU,TH;COUNT=6".into()],
            d("2026-10-13"),
            "Europe/Lisbon",
        )
        .unwrap();
        assert_eq!(g["pattern"]["type"], "weekly");
        assert_eq!(g["pattern"]["daysOfWeek"], json!(["tuesday", "thursday"]));
        assert_eq!(g["range"]["numberOfOccurrences"], 6);
        assert_eq!(g["range"]["recurrenceTimeZone"], "Europe/Lisbon");
        assert_eq!(
            from_graph(&g).unwrap(),
            "RRULE:FREQ=WEEKLY;BYDAY=TU,TH;WKST=SU;COUNT=6"
        );
    }

    #[test]
    fn last_friday_of_the_month_is_relative_monthly() {
        for rule in [
            "RRULE:FREQ=MONTHLY;BYDAY=-1FR",
            "RRULE:FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1",
        ] {
            let g = to_graph(&[rule.into()], d("2026-01-30"), "UTC").unwrap();
            assert_eq!(g["pattern"]["type"], "relativeMonthly");
            assert_eq!(g["pattern"]["index"], "last");
            assert_eq!(g["range"]["type"], "noEnd");
        }
    }

    #[test]
    fn until_becomes_an_end_date() {
        let g = to_graph(
            &["RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20261231T235959Z".into()],
            d("2026-12-01"),
            "UTC",
        )
        .unwrap();
        assert_eq!(g["range"]["type"], "endDate");
        assert_eq!(g["range"]["endDate"], "2026-12-31");
        assert_eq!(g["pattern"]["interval"], 2);
        assert_eq!(
            from_graph(&g).unwrap(),
            "RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20261231"
        );
    }

    #[test]
    fn what_outlook_cannot_express_is_refused() {
        for lines in [
            vec!["EXDATE:20261020T100000Z".to_string()],
            vec!["RRULE:FREQ=HOURLY".to_string()],
            vec!["RRULE:FREQ=WEEKLY;BYHOUR=9".to_string()],
            vec!["RRULE:FREQ=MONTHLY;BYDAY=1MO,2TU".to_string()],
        ] {
            assert!(
                to_graph(&lines, d("2026-01-01"), "UTC").is_err(),
                "{lines:?}"
            );
        }
    }
}
