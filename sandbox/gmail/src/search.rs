//! The subset of Gmail's search language the emulator understands: `from:`, `to:`, `cc:`, `bcc:`,
//! `subject:`, `label:`, `in:`, `is:`, `has:attachment`, `filename:`, `after:`, `before:`,
//! `newer_than:`, `older_than:`, `rfc822msgid:`, `list:`, quoted phrases, `-` negation, `OR`
//! and `{a b}` alternatives, and free text. Parentheses are ignored (terms are ANDed).

use chrono::{NaiveDate, TimeZone, Utc};

use super::error::{ApiError, ApiResult};
use super::store::{Msg, User};

#[derive(Debug, Clone)]
enum Term {
    Field(String, String),
    Text(String),
}

#[derive(Debug, Clone)]
struct Cond {
    negated: bool,
    term: Term,
}

/// A parsed `q`: every group must match; a group matches when any of its conditions does.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    groups: Vec<Vec<Cond>>,
}

fn tokenize(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    for c in q.chars() {
        match c {
            '"' => {
                in_quote = !in_quote;
                cur.push(c);
            }
            c if c.is_whitespace() && !in_quote => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            '{' | '}' if !in_quote => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            '(' | ')' if !in_quote => {}
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(s: &str) -> String {
    s.trim_matches('"').to_lowercase()
}

const FIELDS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "label",
    "in",
    "is",
    "has",
    "filename",
    "after",
    "before",
    "newer_than",
    "older_than",
    "rfc822msgid",
    "category",
    "newer",
    "older",
    "deliveredto",
    "list",
];

impl Query {
    pub fn parse(q: &str) -> ApiResult<Self> {
        let mut groups: Vec<Vec<Cond>> = Vec::new();
        let mut brace: Option<Vec<Cond>> = None;
        let mut or_next = false;
        for tok in tokenize(q) {
            match tok.as_str() {
                "AND" => continue,
                "OR" => {
                    or_next = true;
                    continue;
                }
                "{" => {
                    brace = Some(Vec::new());
                    continue;
                }
                "}" => {
                    if let Some(g) = brace.take().filter(|g| !g.is_empty()) {
                        groups.push(g);
                    }
                    continue;
                }
                _ => {}
            }
            let (negated, body) = match tok.strip_prefix('-') {
                Some(rest) if !rest.is_empty() => (true, rest.to_string()),
                _ => (false, tok.clone()),
            };
            let term = match body.split_once(':') {
                Some((k, v))
                    if !body.starts_with('"')
                        && FIELDS.contains(&k.to_ascii_lowercase().as_str()) =>
                {
                    let k = k.to_ascii_lowercase();
                    let v = unquote(v);
                    if matches!(k.as_str(), "after" | "before" | "newer" | "older")
                        && parse_date(&v).is_none()
                    {
                        return Err(ApiError::invalid_argument(format!(
                            "Invalid query: bad date in {k}:{v}"
                        )));
                    }
                    if matches!(k.as_str(), "newer_than" | "older_than") && parse_age(&v).is_none()
                    {
                        return Err(ApiError::invalid_argument(format!(
                            "Invalid query: bad period in {k}:{v}"
                        )));
                    }
                    Term::Field(k, v)
                }
                _ => Term::Text(unquote(&body)),
            };
            let cond = Cond { negated, term };
            match (&mut brace, groups.last_mut()) {
                (Some(b), _) => b.push(cond),
                (None, Some(last)) if or_next => last.push(cond),
                _ => groups.push(vec![cond]),
            }
            or_next = false;
        }
        if let Some(g) = brace.filter(|g| !g.is_empty()) {
            groups.push(g);
        }
        Ok(Self { groups })
    }

    /// Whether the query names the spam or trash folders, which lifts their default exclusion.
    pub fn mentions_spam_trash(&self) -> bool {
        self.groups.iter().flatten().any(|c| match &c.term {
            Term::Field(k, v) if k == "in" || k == "label" => {
                matches!(v.as_str(), "spam" | "trash" | "anywhere")
            }
            _ => false,
        })
    }

    pub fn matches(&self, user: &User, msg: &Msg) -> bool {
        self.groups.iter().all(|g| {
            g.iter()
                .any(|c| cond_matches(user, msg, &c.term) != c.negated)
        })
    }
}

/// `YYYY/MM/DD`, `YYYY-MM-DD` or epoch seconds -> epoch ms.
fn parse_date(v: &str) -> Option<i64> {
    if let Ok(secs) = v.parse::<i64>() {
        return Some(secs * 1000);
    }
    let norm = v.replace('-', "/");
    let d = NaiveDate::parse_from_str(&norm, "%Y/%m/%d").ok()?;
    Some(
        Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?)
            .timestamp_millis(),
    )
}

/// `3d`, `2m`, `1y` -> milliseconds.
fn parse_age(v: &str) -> Option<i64> {
    let (num, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: i64 = num.parse().ok()?;
    let day = 86_400_000;
    Some(match unit {
        "d" => n * day,
        "m" => n * 30 * day,
        "y" => n * 365 * day,
        _ => return None,
    })
}

fn label_matches(user: &User, msg: &Msg, name: &str) -> bool {
    let sys = name.to_ascii_uppercase().replace('-', "_");
    if msg.has(&sys) {
        return true;
    }
    let wanted = name.replace(['-', '_'], " ");
    msg.labels.iter().any(|l| {
        user.labels.get(l).is_some_and(|ul| {
            let n = ul.name.to_lowercase();
            n == name || n.replace(['-', '_', '/'], " ") == wanted
        })
    })
}

fn cond_matches(user: &User, msg: &Msg, term: &Term) -> bool {
    let now = Utc::now().timestamp_millis();
    match term {
        Term::Text(t) => {
            let p = msg.index();
            p.subject.contains(t.as_str())
                || p.body.contains(t.as_str())
                || p.from.contains(t.as_str())
                || p.to.contains(t.as_str())
        }
        Term::Field(k, v) => match k.as_str() {
            "from" => {
                let p = msg.index();
                if v == "me" {
                    p.from.contains(&user.email)
                } else {
                    p.from.contains(v.as_str())
                }
            }
            "to" | "cc" | "bcc" | "deliveredto" => {
                let p = msg.index();
                if v == "me" {
                    p.to.contains(&user.email)
                } else {
                    p.to.contains(v.as_str())
                }
            }
            "subject" => msg.index().subject.contains(v.as_str()),
            "rfc822msgid" => msg.index().message_id == v.trim_matches(|c| c == '<' || c == '>'),
            "filename" => msg.index().filenames.iter().any(|f| f.contains(v.as_str())),
            "label" => label_matches(user, msg, v),
            "category" => msg.has(&format!("CATEGORY_{}", v.to_ascii_uppercase())),
            "in" => match v.as_str() {
                "anywhere" => true,
                "drafts" | "draft" => msg.has("DRAFT"),
                "chats" => msg.has("CHAT"),
                other => label_matches(user, msg, other),
            },
            "is" => match v.as_str() {
                "unread" => msg.has("UNREAD"),
                "read" => !msg.has("UNREAD"),
                "starred" => msg.has("STARRED"),
                "important" => msg.has("IMPORTANT"),
                other => label_matches(user, msg, other),
            },
            "has" => match v.as_str() {
                "attachment" => msg.index().has_attachment,
                "userlabels" => msg.labels.iter().any(|l| user.labels.contains_key(l)),
                "nouserlabels" => !msg.labels.iter().any(|l| user.labels.contains_key(l)),
                _ => false,
            },
            "after" | "newer" => parse_date(v).is_some_and(|t| msg.internal_date >= t),
            "before" | "older" => parse_date(v).is_some_and(|t| msg.internal_date < t),
            "newer_than" => parse_age(v).is_some_and(|a| msg.internal_date >= now - a),
            "older_than" => parse_age(v).is_some_and(|a| msg.internal_date < now - a),
            "list" => msg.index().list_id.contains(v.as_str()),
            _ => false,
        },
    }
}
