//! messages.list / get / get_many / delta and attachments.list / get.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use connector_core::search::{Hit, SearchParams};
use connector_core::{CallContext, ConnectorError, ErrorCode, Output, ProviderRequest, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{invalid, MessageId};
use crate::batch::{read_answer, PartOutcome};
use crate::shape::{self, EXPAND_ATTACHMENTS, FULL_SELECT, SUMMARY_SELECT};
use crate::wire::{self, folder_seg, seg};

/// Graph runs at most 20 requests per `$batch`.
pub const BATCH_LIMIT: usize = 20;
/// Rounds of re-sending parts that were throttled inside a batch.
const BATCH_RETRY_ROUNDS: u32 = 4;

/// messages.list
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ListParams {
    folder: Option<String>,
    is_read: Option<bool>,
    from: Option<String>,
    received_after: Option<String>,
    received_before: Option<String>,
    has_attachments: Option<bool>,
    importance: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    search: Option<String>,
    select: Option<Vec<String>>,
    #[serde(default)]
    order_by: Order,
    #[serde(default = "twenty_five")]
    top: u64,
    page_token: Option<String>,
}

fn twenty_five() -> u64 {
    25
}

/// messages.list's `order_by`: newest first unless asked.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    ReceivedDesc,
    ReceivedAsc,
}

/// messages.get_many
#[derive(Deserialize, Serialize)]
pub struct GetManyParams {
    message_ids: Vec<String>,
}

/// messages.delta
#[derive(Deserialize, Serialize)]
pub struct DeltaParams {
    #[serde(default = "inbox")]
    folder: String,
    delta_token: Option<String>,
    page_token: Option<String>,
    #[serde(default = "fifty")]
    top: u64,
}

pub(super) fn inbox() -> String {
    "inbox".to_string()
}

fn fifty() -> u64 {
    50
}

/// attachments.get
#[derive(Deserialize, Serialize)]
pub struct AttachmentParams {
    pub message_id: String,
    pub attachment_id: String,
}

/// An OData string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `2026-03-01` or any RFC 3339 time -> `2026-03-01T00:00:00Z` (UTC, as Graph compares).
fn utc_time(value: Option<&str>, name: &str) -> Result<Option<String>> {
    let Some(s) = value else {
        return Ok(None);
    };
    let t = if s.len() == 10 {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
    } else {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    t.map(|t| Some(t.to_rfc3339_opts(SecondsFormat::Secs, true)))
        .ok_or_else(|| invalid(&format!("/{name}"), "not a valid date or RFC 3339 time"))
}

/// The `$filter` clauses of the structured filters, received time first (Graph wants the
/// `$orderby` property to lead the filter).
fn filter_clauses(p: &ListParams) -> Result<Vec<String>> {
    let mut clauses = Vec::new();
    let after = utc_time(p.received_after.as_deref(), "received_after")?;
    let before = utc_time(p.received_before.as_deref(), "received_before")?;
    if let (Some(a), Some(b)) = (&after, &before) {
        if a >= b {
            return Err(invalid(
                "/received_before",
                "must be later than received_after",
            ));
        }
    }
    if let Some(a) = after {
        clauses.push(format!("receivedDateTime ge {a}"));
    }
    if let Some(b) = before {
        clauses.push(format!("receivedDateTime lt {b}"));
    }
    if let Some(r) = p.is_read {
        clauses.push(format!("isRead eq {r}"));
    }
    if let Some(f) = &p.from {
        clauses.push(format!("from/emailAddress/address eq {}", lit(f)));
    }
    if let Some(h) = p.has_attachments {
        clauses.push(format!("hasAttachments eq {h}"));
    }
    if let Some(i) = &p.importance {
        clauses.push(format!("importance eq {}", lit(i)));
    }
    for c in &p.categories {
        clauses.push(format!("categories/any(c:c eq {})", lit(c)));
    }
    let needs_lead = !clauses.is_empty() && !clauses[0].starts_with("receivedDateTime");
    if needs_lead {
        clauses.insert(0, "receivedDateTime ge 1900-01-01T00:00:00Z".into());
    }
    Ok(clauses)
}

fn select_list(p: &ListParams, default: &[&str]) -> String {
    let mut fields: Vec<&str> = match &p.select {
        Some(sel) => {
            let mut f = vec!["conversationId"];
            for name in sel {
                f.extend(shape::select_field(name));
            }
            f
        }
        None => default.to_vec(),
    };
    fields.dedup();
    fields.join(",")
}

fn list_request(p: &ListParams) -> Result<ProviderRequest> {
    let path = match &p.folder {
        Some(f) => format!("/me/mailFolders/{}/messages", folder_seg(f)),
        None => "/me/messages".to_string(),
    };
    let mut req = ProviderRequest::get(path)
        .query("$top", p.top.to_string())
        .query("$select", select_list(p, SUMMARY_SELECT));
    let clauses = filter_clauses(p)?;
    if let Some(search) = &p.search {
        if !clauses.is_empty() {
            return Err(invalid(
                "/search",
                "cannot be combined with is_read, from, received_after, received_before, has_attachments, importance or categories; put them in the search text (e.g. `from:ada@example.com`) or drop `search`",
            ));
        }
        if p.order_by != Order::ReceivedDesc {
            return Err(invalid(
                "/order_by",
                "cannot be combined with search (search results come newest first)",
            ));
        }
        return Ok(req.query("$search", format!("\"{}\"", search.replace('"', ""))));
    }
    let order = match p.order_by {
        Order::ReceivedAsc => "receivedDateTime asc",
        Order::ReceivedDesc => "receivedDateTime desc",
    };
    req = req.query("$orderby", order);
    if !clauses.is_empty() {
        req = req.query("$filter", clauses.join(" and "));
    }
    Ok(req)
}

fn page_output(v: &Value, records: Vec<Value>) -> Output {
    let mut out = Output::new(Value::Array(records));
    if let Some(t) = v
        .get("@odata.nextLink")
        .and_then(Value::as_str)
        .and_then(wire::token_from_link)
    {
        out = out.with_meta("next_page_token", t);
    }
    out
}

pub async fn list(cx: &CallContext<'_>, p: ListParams) -> Result<Output> {
    list_inner(cx, p).await
}

async fn list_inner(cx: &CallContext<'_>, p: ListParams) -> Result<Output> {
    let req = match &p.page_token {
        Some(t) => wire::request_from_token(t, "page_token")?,
        None => list_request(&p)?,
    };
    let v = wire::body(&cx.send(req).await?)?;
    let records = wire::values(&v).iter().map(shape::message).collect();
    Ok(page_output(&v, records))
}

/// A KQL term `field:value` per word of `value` (Graph's `$search` matches words).
fn kql_terms(field: &str, value: Option<&str>) -> Vec<String> {
    value
        .map(connector_core::search::words)
        .unwrap_or_default()
        .into_iter()
        .map(|w| format!("{field}:{w}"))
        .collect()
}

/// messages.search on Graph: text fields become one `$search` (KQL); without them the
/// structured fields become `$filter` with `$orderby`. Graph refuses `$search` together with
/// `$filter` or `$orderby`, so with text the remaining conditions (read state, attachments,
/// received time, thread) filter the returned page.
pub async fn search(cx: &CallContext<'_>, p: SearchParams) -> Result<Output> {
    let mut terms: Vec<String> = p.words();
    terms.extend(kql_terms("from", p.from.as_deref()));
    terms.extend(kql_terms("to", p.to.as_deref()));
    terms.extend(kql_terms("cc", p.cc.as_deref()));
    terms.extend(kql_terms("subject", p.subject.as_deref()));
    let with_search = !terms.is_empty();
    let list = ListParams {
        folder: p.label.clone(),
        top: u64::from(p.max_results),
        page_token: p.page_token.clone(),
        search: with_search.then(|| terms.join(" ")),
        is_read: p.is_read.filter(|_| !with_search),
        has_attachments: p.has_attachment.filter(|_| !with_search),
        received_after: p.after.clone().filter(|_| !with_search),
        received_before: p.before.clone().filter(|_| !with_search),
        ..Default::default()
    };
    let query = list.search.clone();
    let page = list_inner(cx, list).await?;
    let mut hits = Vec::new();
    for r in page.result.as_array().into_iter().flatten() {
        let received = r["internal_date"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis());
        let mut labels: Vec<String> = r["folder_id"]
            .as_str()
            .map(str::to_string)
            .into_iter()
            .collect();
        labels.extend(
            r["categories"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string)),
        );
        let hit = Hit {
            id: r["id"].as_str().unwrap_or_default().to_string(),
            thread_id: r["thread_id"].as_str().map(str::to_string),
            subject: r["subject"].as_str().map(str::to_string),
            from: r.get("from").filter(|f| !f.is_null()).cloned(),
            date: received.and_then(connector_core::search::rfc3339_ms),
            snippet: r["snippet"].as_str().map(str::to_string),
            labels,
            is_read: r["is_read"].as_bool().unwrap_or(false),
            has_attachments: r["has_attachments"].as_bool().unwrap_or(false),
        };
        if connector_core::search::passes_locally(&p, &hit, received)? {
            hits.push(hit.to_value());
        }
    }
    let mut out = Output::new(Value::Array(hits)).with_meta("source", "provider");
    if let Some(q) = query {
        out = out.with_meta("provider_query", q);
    }
    if let Some(t) = page.metadata.get("next_page_token") {
        out = out.with_meta("next_page_token", t.clone());
    }
    Ok(out)
}

/// The relative URL of one message with everything messages.get returns.
fn message_url(id: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("$select", &FULL_SELECT.join(","))
        .append_pair("$expand", EXPAND_ATTACHMENTS)
        .finish();
    format!("/me/messages/{}?{query}", seg(id))
}

fn message_request(id: &str) -> ProviderRequest {
    ProviderRequest::get(format!("/me/messages/{}", seg(id)))
        .query("$select", FULL_SELECT.join(","))
        .query("$expand", EXPAND_ATTACHMENTS)
}

pub async fn get(cx: &CallContext<'_>, p: MessageId) -> Result<Output> {
    let v = wire::body(&cx.send(message_request(&p.message_id)).await?)?;
    Ok(Output::new(shape::message(&v)))
}

/// Fetches up to 20 messages in one `$batch`; throttled parts are sent again after their
/// Retry-After. Returns one record (or `{id, error}`) per id, in order.
async fn batch(cx: &CallContext<'_>, ids: &[&str]) -> Result<Vec<Value>> {
    let mut results: Vec<Option<Value>> = vec![None; ids.len()];
    let mut pending: Vec<usize> = (0..ids.len()).collect();
    for round in 0..=BATCH_RETRY_ROUNDS {
        let requests: Vec<Value> = pending
            .iter()
            .map(|&i| json!({"id": i.to_string(), "method": "GET", "url": message_url(ids[i])}))
            .collect();
        let req = ProviderRequest::post("/$batch").json(json!({ "requests": requests }));
        let v = wire::body(&cx.send(req).await?)?;
        let mut throttled = Vec::new();
        let mut wait = Duration::ZERO;
        for (i, outcome) in read_answer(&v, ids, round < BATCH_RETRY_ROUNDS) {
            match outcome {
                PartOutcome::Done(record) => results[i] = Some(record),
                PartOutcome::Throttled(after) => {
                    throttled.push(i);
                    wait = wait.max(after);
                }
            }
        }
        if throttled.is_empty() {
            break;
        }
        tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
        pending = throttled;
    }
    Ok(results
        .into_iter()
        .zip(ids)
        .map(|(r, id)| {
            r.unwrap_or_else(|| {
                json!({"id": id, "error": {"code": "provider_error", "message": "Graph's $batch answer left this request out"}})
            })
        })
        .collect())
}

pub async fn get_many(cx: &CallContext<'_>, p: GetManyParams) -> Result<Output> {
    let ids: Vec<&str> = p.message_ids.iter().map(String::as_str).collect();
    let mut records = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH_LIMIT) {
        records.extend(batch(cx, chunk).await?);
    }
    let failed = records.iter().filter(|r| r.get("error").is_some()).count();
    Ok(Output::new(Value::Array(records))
        .with_meta("failed", failed)
        .with_meta("batches", ids.len().div_ceil(BATCH_LIMIT)))
}

pub async fn delta(cx: &CallContext<'_>, p: DeltaParams) -> Result<Output> {
    let top = p.top;
    let req = if let Some(t) = &p.page_token {
        wire::request_from_token(t, "page_token")?
    } else if let Some(t) = &p.delta_token {
        let req = wire::request_from_token(t, "delta_token")?;
        if !req.path.ends_with("/messages/delta") {
            return Err(invalid(
                "/delta_token",
                "not a delta token of messages.delta",
            ));
        }
        req
    } else {
        ProviderRequest::get(format!(
            "/me/mailFolders/{}/messages/delta",
            folder_seg(&p.folder)
        ))
        .query("$select", SUMMARY_SELECT.join(","))
    };
    let req = req.header("Prefer", &format!("odata.maxpagesize={top}"));
    let v = wire::body(&cx.send(req).await.map_err(wire::delta_error)?)?;
    let records = wire::values(&v)
        .iter()
        .map(|m| {
            if m.get("@removed").is_some() {
                json!({"id": m.get("id").cloned().unwrap_or(Value::Null), "removed": true})
            } else {
                shape::message(m)
            }
        })
        .collect();
    let mut out = page_output(&v, records);
    if let Some(t) = v
        .get("@odata.deltaLink")
        .and_then(Value::as_str)
        .and_then(wire::token_from_link)
    {
        out = out.with_meta("delta_token", t);
    }
    Ok(out)
}

pub async fn attachments_list(cx: &CallContext<'_>, p: MessageId) -> Result<Output> {
    let id = &p.message_id;
    let req = ProviderRequest::get(format!("/me/messages/{}/attachments", seg(id)))
        .query("$select", "id,name,contentType,size,isInline");
    let all = wire::all_pages(cx, req, 20).await?;
    Ok(Output::new(Value::Array(
        all.iter().map(shape::attachment_meta).collect(),
    )))
}

pub async fn attachments_get(cx: &CallContext<'_>, p: AttachmentParams) -> Result<Output> {
    let (id, att) = (p.message_id.as_str(), p.attachment_id.as_str());
    let req = ProviderRequest::get(format!("/me/messages/{}/attachments/{}", seg(id), seg(att)));
    let v = wire::body(&cx.send(req).await?)?;
    if v.get("id").is_none() {
        return Err(ConnectorError::new(
            ErrorCode::ProviderError,
            "Graph answered without an attachment",
        ));
    }
    Ok(Output::new(shape::attachment_with_content(&v, id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_clauses(p: &Value) -> Result<Vec<String>> {
        super::filter_clauses(&params(p))
    }

    fn list_request(p: &Value) -> Result<ProviderRequest> {
        super::list_request(&params(p))
    }

    fn params(p: &Value) -> ListParams {
        connector_core::params::params("messages.list", p.clone()).unwrap()
    }

    #[test]
    fn filters_become_odata_with_received_time_first() {
        let p = json!({"is_read": false, "from": "o'brien@example.com", "categories": ["Red", "Blue"], "importance": "high", "has_attachments": true});
        let c = filter_clauses(&p).unwrap();
        assert_eq!(c[0], "receivedDateTime ge 1900-01-01T00:00:00Z");
        assert!(c.contains(&"isRead eq false".to_string()));
        assert!(c.contains(&"from/emailAddress/address eq 'o''brien@example.com'".to_string()));
        assert!(c.contains(&"categories/any(c:c eq 'Blue')".to_string()));
        let c = filter_clauses(&json!({"received_after": "2026-03-01", "received_before": "2026-03-02T01:00:00+01:00"})).unwrap();
        assert_eq!(
            c,
            [
                "receivedDateTime ge 2026-03-01T00:00:00Z",
                "receivedDateTime lt 2026-03-02T00:00:00Z"
            ]
        );
        assert!(filter_clauses(&json!({"received_after": "2026-02-30"})).is_err());
        assert!(filter_clauses(
            &json!({"received_after": "2026-03-02", "received_before": "2026-03-01"})
        )
        .is_err());
    }

    #[test]
    fn search_with_filters_is_refused() {
        assert!(list_request(&json!({"search": "x", "is_read": true})).is_err());
        assert!(list_request(&json!({"search": "x", "order_by": "received_asc"})).is_err());
        let r = list_request(&json!({"search": "say \"hi\""})).unwrap();
        assert!(r.query.contains(&("$search".into(), "\"say hi\"".into())));
    }
}
