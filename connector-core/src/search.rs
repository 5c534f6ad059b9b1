//! `messages.search`: one query language for every mail provider (issue 23).
//!
//! The params are the same for Gmail and Outlook; each provider crate translates them to its
//! own search (Gmail `q`, Graph `$search` / `$filter`), and the server's context store answers
//! the same params from its replica. A search hit has one shape whatever answered it
//! ([`Hit`]), and `metadata.source` says who did (`provider` or `store`).
//!
//! Matching, as both the providers and the store do it:
//! - `text`: every word must appear (whole words in the store's full-text index; the providers
//!   match words in subject, body and sender);
//! - `from`, `to`, `cc`, `subject`: the value appears in that field, case-insensitively;
//! - `label`: Gmail label id (`INBOX`, `SENT`, `Label_12`); Outlook folder (well-known name
//!   such as `inbox`, `sentitems`, or a folder id);
//! - `after` (inclusive) / `before` (exclusive): received time, a date (midnight UTC) or an
//!   RFC 3339 time, at one-second precision.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{ConnectorError, Result};

/// Default page size.
pub const DEFAULT_PAGE: u32 = 20;

/// The params of `messages.search` (the spec's JSON Schema validates them first).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub cc: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub is_read: Option<bool>,
    #[serde(default)]
    pub has_attachment: Option<bool>,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default = "default_page")]
    pub max_results: u32,
    #[serde(default)]
    pub page_token: Option<String>,
}

fn default_page() -> u32 {
    DEFAULT_PAGE
}

impl SearchParams {
    /// The free-text words, lowercased (letters and digits; everything else separates).
    pub fn words(&self) -> Vec<String> {
        self.text.as_deref().map(words).unwrap_or_default()
    }

    /// `after` as unix milliseconds (whole seconds).
    pub fn after_ms(&self) -> Result<Option<i64>> {
        self.after
            .as_deref()
            .map(|v| time_ms(v, "after"))
            .transpose()
    }

    /// `before` as unix milliseconds (whole seconds).
    pub fn before_ms(&self) -> Result<Option<i64>> {
        self.before
            .as_deref()
            .map(|v| time_ms(v, "before"))
            .transpose()
    }

    /// Whether any field the providers only reach through their text search is set.
    pub fn has_text_fields(&self) -> bool {
        !self.words().is_empty()
            || [&self.from, &self.to, &self.cc, &self.subject]
                .iter()
                .any(|f| f.as_deref().is_some_and(|v| !v.trim().is_empty()))
    }
}

/// Splits free text into lowercased words (what both full-text indexes call tokens).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A date (`2026-03-01`, midnight UTC) or an RFC 3339 time -> unix ms, whole seconds.
pub fn time_ms(v: &str, field: &str) -> Result<i64> {
    let secs = if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp())
    } else {
        DateTime::parse_from_rfc3339(v).ok().map(|t| t.timestamp())
    };
    secs.map(|s| s * 1000).ok_or_else(|| {
        ConnectorError::invalid_params(format!(
            "`{field}` must be a date (2026-03-01) or an RFC 3339 time (2026-03-01T09:30:00Z); got `{v}`"
        ))
    })
}

/// One search result, whoever answered.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Hit {
    pub id: String,
    pub thread_id: Option<String>,
    pub subject: Option<String>,
    /// `{name, email}`.
    pub from: Option<Value>,
    /// RFC 3339, received time.
    pub date: Option<String>,
    pub snippet: Option<String>,
    /// Gmail label ids; Outlook: the folder id, then the categories.
    pub labels: Vec<String>,
    pub is_read: bool,
    pub has_attachments: bool,
}

/// The fields of a hit its sender wrote (fenced for models like a message's).
pub const HIT_UNTRUSTED_FIELDS: &[&str] = &["/subject", "/snippet", "/from/name", "/highlight"];

impl Hit {
    /// The hit as a result record, with its `untrusted_fields`.
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("a hit serializes");
        v["untrusted_fields"] = json!(HIT_UNTRUSTED_FIELDS);
        v
    }
}

/// RFC 3339 of unix ms.
pub fn rfc3339_ms(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Whether a hit passes the conditions a provider could not put in its request (applied to
/// the page it returned).
pub fn passes_locally(p: &SearchParams, hit: &Hit, received_ms: Option<i64>) -> Result<bool> {
    if let Some(r) = p.is_read {
        if hit.is_read != r {
            return Ok(false);
        }
    }
    if let Some(a) = p.has_attachment {
        if hit.has_attachments != a {
            return Ok(false);
        }
    }
    if let Some(t) = &p.thread_id {
        if hit.thread_id.as_deref() != Some(t.as_str()) {
            return Ok(false);
        }
    }
    let after = p.after_ms()?;
    let before = p.before_ms()?;
    if after.is_some() || before.is_some() {
        let Some(ms) = received_ms else {
            return Ok(false);
        };
        if after.is_some_and(|a| ms < a) || before.is_some_and(|b| ms >= b) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The metadata every answer carries.
pub fn metadata(source: &str) -> Value {
    json!({ "source": source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_and_split_on_punctuation() {
        assert_eq!(
            words("Quarterly-Report, Q3!"),
            ["quarterly", "report", "q3"]
        );
        assert!(words("  ...").is_empty());
    }

    #[test]
    fn dates_and_times_become_whole_seconds_and_bad_ones_name_the_field() {
        assert_eq!(time_ms("1970-01-02", "after").unwrap(), 86_400_000);
        assert_eq!(time_ms("1970-01-01T00:00:01.900Z", "after").unwrap(), 1_000);
        let e = time_ms("yesterday", "before").unwrap_err();
        assert!(e.message.contains("`before`"), "{}", e.message);
    }

    #[test]
    fn local_conditions_filter_a_page() {
        let p = SearchParams {
            is_read: Some(false),
            thread_id: Some("t1".into()),
            after: Some("1970-01-02".into()),
            ..Default::default()
        };
        let hit = Hit {
            id: "m".into(),
            thread_id: Some("t1".into()),
            ..Default::default()
        };
        assert!(passes_locally(&p, &hit, Some(86_400_000)).unwrap());
        assert!(!passes_locally(&p, &hit, Some(86_399_999)).unwrap());
        let read = Hit {
            is_read: true,
            ..hit.clone()
        };
        assert!(!passes_locally(&p, &read, Some(86_400_000)).unwrap());
    }
}
