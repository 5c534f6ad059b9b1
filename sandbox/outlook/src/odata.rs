//! The OData subset the emulator understands, evaluated on an item's wire JSON:
//! `$filter` (eq ne gt ge lt le, and or not, parentheses, `contains`/`startswith`,
//! `coll/any(x: x... op v)`), `$orderby`, `$select` and a KQL-like `$search`.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Bool(bool),
    Num(f64),
    Date(DateTime<Utc>),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Vec<String>, Op, Lit),
    /// `contains(path,'x')` / `startswith(path,'x')`.
    Func(String, Vec<String>, String),
    /// `path/any(var: inner)`; paths in `inner` are relative to each element (var stripped).
    Any(Vec<String>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Colon,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let start = i;
                while i < chars.len() && !matches!(chars[i], ' ' | '(' | ')' | ',' | '\'' | '\t') {
                    // a colon ends an identifier except inside a date-time literal
                    if chars[i] == ':' && !chars[start].is_ascii_digit() {
                        break;
                    }
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// The lambda variable while parsing an `any(...)` body.
    var: Option<String>,
}

pub fn parse_filter(s: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: tokenize(s)?,
        pos: 0,
        var: None,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected token at position {}", p.pos));
    }
    Ok(e)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            other => Err(format!("expected {t:?}, found {other:?}")),
        }
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            self.expect(Tok::RParen)?;
            return Ok(e);
        }
        let ident = match self.next() {
            Some(Tok::Ident(w)) => w,
            other => return Err(format!("expected a property, found {other:?}")),
        };
        let lower = ident.to_ascii_lowercase();
        if (lower == "contains" || lower == "startswith") && self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let path = match self.next() {
                Some(Tok::Ident(p)) => self.path(&p),
                other => return Err(format!("expected a property, found {other:?}")),
            };
            self.expect(Tok::Comma)?;
            let v = match self.next() {
                Some(Tok::Str(v)) => v,
                other => return Err(format!("expected a string, found {other:?}")),
            };
            self.expect(Tok::RParen)?;
            return Ok(Expr::Func(lower, path, v));
        }
        let lambda = ident.len() > 4 && ident[ident.len() - 4..].eq_ignore_ascii_case("/any");
        if lambda {
            let coll = self.path(&ident[..ident.len() - 4]);
            self.expect(Tok::LParen)?;
            let var = match self.next() {
                Some(Tok::Ident(v)) => v,
                other => return Err(format!("expected a lambda variable, found {other:?}")),
            };
            self.expect(Tok::Colon)?;
            let saved = self.var.replace(var);
            let inner = self.or()?;
            self.var = saved;
            self.expect(Tok::RParen)?;
            return Ok(Expr::Any(coll, Box::new(inner)));
        }
        let path = self.path(&ident);
        let op = match self.next() {
            Some(Tok::Ident(o)) => match o.to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "gt" => Op::Gt,
                "ge" => Op::Ge,
                "lt" => Op::Lt,
                "le" => Op::Le,
                _ => return Err(format!("unsupported operator '{o}'")),
            },
            other => return Err(format!("expected an operator, found {other:?}")),
        };
        let lit = match self.next() {
            Some(Tok::Str(s)) => Lit::Str(s),
            Some(Tok::Ident(w)) => literal(&w)?,
            other => return Err(format!("expected a value, found {other:?}")),
        };
        Ok(Expr::Cmp(path, op, lit))
    }
    fn path(&self, raw: &str) -> Vec<String> {
        let mut parts: Vec<String> = raw.split('/').map(str::to_string).collect();
        if let Some(var) = &self.var {
            if parts.first() == Some(var) {
                parts.remove(0);
            }
        }
        parts
    }
}

fn literal(w: &str) -> Result<Lit, String> {
    match w.to_ascii_lowercase().as_str() {
        "true" => return Ok(Lit::Bool(true)),
        "false" => return Ok(Lit::Bool(false)),
        "null" => return Ok(Lit::Null),
        _ => {}
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(w) {
        return Ok(Lit::Date(d.with_timezone(&Utc)));
    }
    if let Ok(n) = w.parse::<f64>() {
        return Ok(Lit::Num(n));
    }
    Err(format!("'{w}' is not a valid literal"))
}

/// Every property path the expression names (for "property not found" errors).
pub fn paths(e: &Expr) -> Vec<Vec<String>> {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            let mut v = paths(a);
            v.extend(paths(b));
            v
        }
        Expr::Not(a) => paths(a),
        Expr::Cmp(p, _, _) | Expr::Func(_, p, _) => vec![p.clone()],
        Expr::Any(p, _) => vec![p.clone()],
    }
}

fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path {
        cur = cur
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(seg))?
            .1;
    }
    Some(cur)
}

fn compare(v: &Value, lit: &Lit) -> Option<Ordering> {
    match (v, lit) {
        (Value::Null, Lit::Null) => Some(Ordering::Equal),
        (_, Lit::Null) | (Value::Null, _) => None,
        (Value::Bool(a), Lit::Bool(b)) => Some(a.cmp(b)),
        (Value::Number(a), Lit::Num(b)) => a.as_f64()?.partial_cmp(b),
        (Value::String(a), Lit::Date(b)) => {
            let a = DateTime::parse_from_rfc3339(a).ok()?.with_timezone(&Utc);
            Some(a.cmp(b))
        }
        (Value::String(a), Lit::Str(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
        _ => None,
    }
}

pub fn eval(e: &Expr, item: &Value) -> bool {
    match e {
        Expr::And(a, b) => eval(a, item) && eval(b, item),
        Expr::Or(a, b) => eval(a, item) || eval(b, item),
        Expr::Not(a) => !eval(a, item),
        Expr::Cmp(path, op, lit) => {
            let v = lookup(item, path).unwrap_or(&Value::Null);
            let ord = compare(v, lit);
            match op {
                Op::Eq => ord == Some(Ordering::Equal),
                Op::Ne => ord != Some(Ordering::Equal),
                Op::Gt => ord == Some(Ordering::Greater),
                Op::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                Op::Lt => ord == Some(Ordering::Less),
                Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
            }
        }
        Expr::Func(name, path, needle) => {
            let hay = lookup(item, path)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase();
            let needle = needle.to_lowercase();
            if name == "contains" {
                hay.contains(&needle)
            } else {
                hay.starts_with(&needle)
            }
        }
        Expr::Any(path, inner) => lookup(item, path)
            .and_then(Value::as_array)
            .is_some_and(|arr| arr.iter().any(|el| eval(inner, el))),
    }
}

/// Graph's rule for `$filter` with `$orderby`: the sorted properties must come first in the
/// filter, in the same order.
pub fn orderby_leads_filter(keys: &[(Vec<String>, bool)], filter: &Expr) -> bool {
    fn flatten<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
        match e {
            Expr::And(a, b) => {
                flatten(a, out);
                flatten(b, out);
            }
            other => out.push(other),
        }
    }
    let mut terms = Vec::new();
    flatten(filter, &mut terms);
    keys.iter().enumerate().all(|(i, (path, _))| {
        matches!(terms.get(i), Some(Expr::Cmp(p, _, _)) | Some(Expr::Func(_, p, _))
            if p.len() == path.len() && p.iter().zip(path).all(|(a, b)| a.eq_ignore_ascii_case(b)))
    })
}

/// `$orderby`: `field [asc|desc], ...` as (path, descending).
pub fn parse_orderby(s: &str) -> Result<Vec<(Vec<String>, bool)>, String> {
    s.split(',')
        .map(|part| {
            let mut words = part.split_whitespace();
            let field = words.next().ok_or("empty $orderby term")?;
            let desc = match words.next().map(|w| w.to_ascii_lowercase()) {
                None => false,
                Some(w) if w == "asc" => false,
                Some(w) if w == "desc" => true,
                Some(w) => return Err(format!("'{w}' is not asc or desc")),
            };
            Ok((field.split('/').map(str::to_string).collect(), desc))
        })
        .collect()
}

pub fn order_cmp(a: &Value, b: &Value, keys: &[(Vec<String>, bool)]) -> Ordering {
    for (path, desc) in keys {
        let x = lookup(a, path).unwrap_or(&Value::Null);
        let y = lookup(b, path).unwrap_or(&Value::Null);
        let ord = match (x, y) {
            (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal),
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            _ => Ordering::Equal,
        };
        let ord = if *desc { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Keeps the selected top-level properties (matched without regard to case), plus `id` and
/// `@odata.type`.
pub fn select(item: Map<String, Value>, fields: &[String]) -> Map<String, Value> {
    item.into_iter()
        .filter(|(k, _)| {
            k == "id" || k == "@odata.type" || fields.iter().any(|f| f.eq_ignore_ascii_case(k))
        })
        .collect()
}

/// `$search`: every term must match; `field:value` terms look in one field (from, to, cc,
/// subject, body, participants, attachment), bare terms in from, subject and body.
pub fn search_matches(query: &str, msg: &Value, attachment_names: &[String]) -> bool {
    let q = query.trim().trim_matches('"');
    let text = |path: &[&str]| -> String {
        let p: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        lookup(msg, &p)
            .map(|v| match v {
                Value::String(s) => s.to_lowercase(),
                other => other.to_string().to_lowercase(),
            })
            .unwrap_or_default()
    };
    let addrs = |field: &str| -> String {
        lookup(msg, &[field.to_string()])
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|r| r.to_string().to_lowercase()).collect())
            .unwrap_or_default()
    };
    let from = text(&["from"]);
    let to = addrs("toRecipients");
    let cc = addrs("ccRecipients");
    let subject = text(&["subject"]);
    let body = text(&["body", "content"]);
    let atts = attachment_names.join(" ").to_lowercase();
    q.split_whitespace().all(|term| {
        let term = term.to_lowercase();
        if let Some((field, value)) = term.split_once(':') {
            let value = value.trim_matches('"');
            match field {
                "from" => return from.contains(value),
                "to" => return to.contains(value),
                "cc" => return cc.contains(value),
                "subject" => return subject.contains(value),
                "body" => return body.contains(value),
                "attachment" => return atts.contains(value),
                "participants" => {
                    return from.contains(value) || to.contains(value) || cc.contains(value)
                }
                _ => {}
            }
        }
        // Graph's default search properties: from, subject and body.
        subject.contains(&term) || body.contains(&term) || from.contains(&term)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg() -> Value {
        json!({
            "isRead": false, "importance": "high", "hasAttachments": true,
            "receivedDateTime": "2026-03-01T10:00:00Z",
            "from": {"emailAddress": {"address": "Grace@Example.com", "name": "Grace"}},
            "categories": ["Red category", "Travel"], "subject": "Quarterly report",
        })
    }

    #[test]
    fn filters_evaluate_like_graph() {
        let m = msg();
        let t = |f: &str| eval(&parse_filter(f).unwrap(), &m);
        assert!(t("isRead eq false"));
        assert!(!t("isRead eq true"));
        assert!(t("from/emailAddress/address eq 'grace@example.com'"));
        assert!(t(
            "receivedDateTime ge 2026-03-01T00:00:00Z and receivedDateTime lt 2026-03-02T00:00:00Z"
        ));
        assert!(!t("receivedDateTime le 2026-02-01T00:00:00Z"));
        assert!(t("categories/any(c:c eq 'Travel')"));
        assert!(!t("categories/any(c: c eq 'Blue')"));
        assert!(t(
            "importance eq 'low' or (hasAttachments eq true and not (isRead eq true))"
        ));
        assert!(t("contains(subject,'report') and importance ne 'normal'"));
        assert!(t("subject eq 'it''s'") == (m["subject"] == "it's"));
    }

    #[test]
    fn orderby_must_lead_the_filter() {
        let keys = parse_orderby("receivedDateTime desc").unwrap();
        let f = |s: &str| parse_filter(s).unwrap();
        assert!(orderby_leads_filter(
            &keys,
            &f("receivedDateTime ge 2026-01-01T00:00:00Z and isRead eq false")
        ));
        assert!(!orderby_leads_filter(
            &keys,
            &f("isRead eq false and receivedDateTime ge 2026-01-01T00:00:00Z")
        ));
        assert!(!orderby_leads_filter(&keys, &f("isRead eq false")));
    }

    #[test]
    fn bad_filters_are_errors() {
        assert!(parse_filter("isRead eq").is_err());
        assert!(parse_filter("isRead like true").is_err());
        assert!(parse_filter("subject eq 'x").is_err());
        assert!(parse_filter("(isRead eq true").is_err());
    }

    #[test]
    fn search_terms_all_match() {
        let mut m = msg();
        m["body"] = json!({"content": "The numbers for Q1"});
        assert!(search_matches("\"quarterly numbers\"", &m, &[]));
        assert!(search_matches("from:grace", &m, &[]));
        assert!(!search_matches("quarterly bananas", &m, &[]));
        assert!(search_matches("attachment:pdf", &m, &["report.pdf".into()]));
        assert!(
            !search_matches("pdf", &m, &["report.pdf".into()]),
            "bare terms: from, subject, body"
        );
    }
}
