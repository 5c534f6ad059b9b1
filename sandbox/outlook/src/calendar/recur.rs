//! Graph's `patternedRecurrence` (pattern + range), checked, normalized the way Graph echoes
//! it, and expanded into occurrences by the `rrule` crate (RFC 5545) after conversion: Graph's
//! pattern types map onto RRULE as Microsoft's own "schedule repeating appointments" guide
//! describes them (daily, weekly with days, absolute/relative monthly and yearly with an
//! index of first..fourth or last).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use rrule::RRuleSet;
use serde_json::{json, Value};

const DAYS: &[(&str, &str)] = &[
    ("sunday", "SU"),
    ("monday", "MO"),
    ("tuesday", "TU"),
    ("wednesday", "WE"),
    ("thursday", "TH"),
    ("friday", "FR"),
    ("saturday", "SA"),
];

/// A series' rule, as stored.
#[derive(Debug, Clone)]
pub struct Recurrence {
    /// The normalized `patternedRecurrence` Graph answers with.
    pub json: Value,
    rrule: String,
    start_date: NaiveDate,
    tz_name: String,
}

fn day_code(d: &str) -> Option<&'static str> {
    DAYS.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(d))
        .map(|(_, c)| *c)
}

fn index_pos(i: &str) -> Option<i8> {
    Some(match i.to_ascii_lowercase().as_str() {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "last" => -1,
        _ => return None,
    })
}

impl Recurrence {
    /// Reads a request's `recurrence`; `zone` is the event's start zone (the default
    /// `recurrenceTimeZone`). Errors are Graph's 400 messages.
    pub fn parse(v: &Value, zone: &str) -> Result<Recurrence, String> {
        let pattern = v.get("pattern").ok_or("recurrence.pattern is required")?;
        let range = v.get("range").ok_or("recurrence.range is required")?;
        let ptype = pattern
            .get("type")
            .and_then(Value::as_str)
            .ok_or("recurrence.pattern.type is required")?;
        let interval = pattern.get("interval").and_then(Value::as_u64).unwrap_or(1);
        if interval == 0 || interval > 99 {
            return Err("recurrence.pattern.interval must be between 1 and 99".into());
        }
        let days: Vec<String> = pattern
            .get("daysOfWeek")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        let mut codes = Vec::new();
        for d in &days {
            codes.push(day_code(d).ok_or_else(|| format!("'{d}' is not a day of the week"))?);
        }
        let first_day = pattern
            .get("firstDayOfWeek")
            .and_then(Value::as_str)
            .unwrap_or("sunday")
            .to_ascii_lowercase();
        let day_of_month = pattern
            .get("dayOfMonth")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let month = pattern.get("month").and_then(Value::as_u64).unwrap_or(0);
        let index = pattern
            .get("index")
            .and_then(Value::as_str)
            .unwrap_or("first")
            .to_ascii_lowercase();
        let need_days = || {
            if codes.is_empty() {
                Err(format!(
                    "recurrence.pattern.daysOfWeek is required for {ptype}"
                ))
            } else {
                Ok(codes.join(","))
            }
        };
        let pos = index_pos(&index).ok_or_else(|| format!("'{index}' is not a week index"))?;
        let mut rule = match ptype {
            "daily" => format!("FREQ=DAILY;INTERVAL={interval}"),
            "weekly" => format!(
                "FREQ=WEEKLY;INTERVAL={interval};BYDAY={};WKST={}",
                need_days()?,
                day_code(&first_day).unwrap_or("SU")
            ),
            "absoluteMonthly" if (1..=31).contains(&day_of_month) => {
                format!("FREQ=MONTHLY;INTERVAL={interval};BYMONTHDAY={day_of_month}")
            }
            "relativeMonthly" => format!(
                "FREQ=MONTHLY;INTERVAL={interval};BYDAY={};BYSETPOS={pos}",
                need_days()?
            ),
            "absoluteYearly" if (1..=31).contains(&day_of_month) && (1..=12).contains(&month) => {
                format!("FREQ=YEARLY;INTERVAL={interval};BYMONTH={month};BYMONTHDAY={day_of_month}")
            }
            "relativeYearly" if (1..=12).contains(&month) => format!(
                "FREQ=YEARLY;INTERVAL={interval};BYMONTH={month};BYDAY={};BYSETPOS={pos}",
                need_days()?
            ),
            "absoluteMonthly" | "absoluteYearly" | "relativeYearly" => {
                return Err(format!(
                    "recurrence.pattern of type {ptype} needs dayOfMonth (1-31) and, yearly, month (1-12)"
                ))
            }
            other => return Err(format!("'{other}' is not a recurrence pattern type")),
        };
        let rtype = range
            .get("type")
            .and_then(Value::as_str)
            .ok_or("recurrence.range.type is required")?;
        let date = |k: &str| {
            range
                .get(k)
                .and_then(Value::as_str)
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        };
        let start_date = date("startDate").ok_or("recurrence.range.startDate is required")?;
        let tz_name = range
            .get("recurrenceTimeZone")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(zone)
            .to_string();
        let tz = super::time::zone(&tz_name)
            .ok_or_else(|| format!("'{tz_name}' is not a supported time zone"))?;
        let mut end_date = "0001-01-01".to_string();
        let mut count = 0;
        match rtype {
            "noEnd" => {}
            "endDate" => {
                let end = date("endDate").ok_or("recurrence.range.endDate is required")?;
                if end < start_date {
                    return Err("recurrence.range.endDate is before startDate".into());
                }
                // inclusive: every occurrence that starts on the end date still counts
                let last = super::time::to_utc(
                    end.and_time(NaiveTime::MIN) + chrono::Duration::days(1),
                    tz,
                ) - chrono::Duration::seconds(1);
                rule.push_str(&format!(";UNTIL={}", last.format("%Y%m%dT%H%M%SZ")));
                end_date = end.to_string();
            }
            "numbered" => {
                count = range
                    .get("numberOfOccurrences")
                    .and_then(Value::as_u64)
                    .filter(|n| *n > 0)
                    .ok_or("recurrence.range.numberOfOccurrences must be at least 1")?;
                rule.push_str(&format!(";COUNT={count}"));
            }
            other => return Err(format!("'{other}' is not a recurrence range type")),
        }
        let json = json!({
            "pattern": {
                "type": ptype,
                "interval": interval,
                "month": month,
                "dayOfMonth": day_of_month,
                "daysOfWeek": days,
                "firstDayOfWeek": first_day,
                "index": index,
            },
            "range": {
                "type": rtype,
                "startDate": start_date.to_string(),
                "endDate": end_date,
                "recurrenceTimeZone": tz_name,
                "numberOfOccurrences": count,
            }
        });
        Ok(Recurrence {
            json,
            rrule: rule,
            start_date,
            tz_name,
        })
    }

    /// Local start times of the occurrences that begin before `until`, at the series' time of
    /// day `at` (at most `limit`).
    pub fn starts(&self, at: NaiveTime, until: DateTime<Utc>, limit: u16) -> Vec<NaiveDateTime> {
        let Some(tz) = super::time::zone(&self.tz_name) else {
            return Vec::new();
        };
        let first = self.start_date.and_time(at);
        let text = format!(
            "DTSTART;TZID={}:{}\nRRULE:{}",
            tz.name(),
            first.format("%Y%m%dT%H%M%S"),
            self.rrule
        );
        let Ok(set) = text.parse::<RRuleSet>() else {
            return Vec::new();
        };
        let rtz = rrule::Tz::Tz(tz);
        let until = until.with_timezone(&rtz);
        let result = set.before(until).all(limit);
        result.dates.into_iter().map(|d| d.naive_local()).collect()
    }

    pub fn zone(&self) -> Option<Tz> {
        super::time::zone(&self.tz_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(days: &[&str], range: Value) -> Recurrence {
        Recurrence::parse(
            &json!({"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": days}, "range": range}),
            "Europe/Lisbon",
        )
        .unwrap()
    }

    #[test]
    fn a_weekly_series_keeps_its_wall_time_across_dst() {
        let r = weekly(
            &["tuesday"],
            json!({"type": "numbered", "startDate": "2026-10-13", "numberOfOccurrences": 4}),
        );
        let until = Utc::now() + chrono::Duration::days(3650);
        let starts = r.starts(NaiveTime::from_hms_opt(10, 0, 0).unwrap(), until, 100);
        let got: Vec<String> = starts.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            got,
            [
                "2026-10-13 10:00:00",
                "2026-10-20 10:00:00",
                "2026-10-27 10:00:00",
                "2026-11-03 10:00:00"
            ]
        );
    }

    #[test]
    fn the_first_occurrence_is_the_first_matching_day_on_or_after_the_start_date() {
        let r = weekly(
            &["monday", "thursday"],
            json!({"type": "endDate", "startDate": "2026-10-14", "endDate": "2026-10-22"}),
        );
        let until = Utc::now() + chrono::Duration::days(3650);
        let starts = r.starts(NaiveTime::from_hms_opt(9, 0, 0).unwrap(), until, 100);
        let days: Vec<String> = starts.iter().map(|s| s.date().to_string()).collect();
        assert_eq!(days, ["2026-10-15", "2026-10-19", "2026-10-22"]);
    }

    #[test]
    fn relative_monthly_last_friday() {
        let r = Recurrence::parse(
            &json!({"pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
                    "range": {"type": "numbered", "startDate": "2026-01-01", "numberOfOccurrences": 3}}),
            "UTC",
        )
        .unwrap();
        let until = Utc::now() + chrono::Duration::days(3650);
        let days: Vec<String> = r
            .starts(NaiveTime::MIN, until, 10)
            .iter()
            .map(|s| s.date().to_string())
            .collect();
        assert_eq!(days, ["2026-01-30", "2026-02-27", "2026-03-27"]);
    }

    #[test]
    fn bad_patterns_are_refused_with_the_field() {
        let e = Recurrence::parse(
            &json!({"pattern": {"type": "weekly"}, "range": {"type": "noEnd", "startDate": "2026-01-01"}}),
            "UTC",
        )
        .unwrap_err();
        assert!(e.contains("daysOfWeek"), "{e}");
    }
}
