//! messages.search on Gmail's own search: the shared query ([`connector_core::search`]) becomes
//! a `q` for `messages.list` (plus `labelIds`), the hits come through one paced batch of
//! metadata reads. Gmail's `q` has no thread operator, so `thread_id` filters the returned page.

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::search::{self, Hit, SearchParams};
use connector_core::{
    CallContext, ConnectorError, ErrorCode, Output, ProviderRequest, TypedHandler,
};
use serde_json::Value;

use super::batch_get::Throttle;
use super::messages::format_query;
use super::{batch_get_messages, USER};
use crate::batch::DEFAULT_PARTS;
use crate::message::summary;

/// messages.search
pub struct Search {
    pub throttle: Arc<Throttle>,
}

/// A Gmail `q` value: quoted unless it is one plain token.
fn quoted(v: &str) -> String {
    let v = v.trim().replace('"', " ");
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_alphanumeric() || "@.-_+".contains(c))
    {
        v
    } else {
        format!("\"{v}\"")
    }
}

/// The Gmail `q` of a search (without label and thread, which go elsewhere).
pub fn gmail_query(p: &SearchParams) -> Result<String, ConnectorError> {
    let mut q: Vec<String> = p.words().iter().map(|w| quoted(w)).collect();
    for (op, v) in [
        ("from", &p.from),
        ("to", &p.to),
        ("cc", &p.cc),
        ("subject", &p.subject),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
            q.push(format!("{op}:{}", quoted(v)));
        }
    }
    match p.is_read {
        Some(true) => q.push("is:read".into()),
        Some(false) => q.push("is:unread".into()),
        None => {}
    }
    match p.has_attachment {
        Some(true) => q.push("has:attachment".into()),
        Some(false) => q.push("-has:attachment".into()),
        None => {}
    }
    // Epoch seconds: Gmail reads `after:YYYY/MM/DD` in the Pacific time zone, seconds exactly.
    if let Some(a) = p.after_ms()? {
        q.push(format!("after:{}", a / 1000));
    }
    if let Some(b) = p.before_ms()? {
        q.push(format!("before:{}", b / 1000));
    }
    Ok(q.join(" "))
}

/// A hit from a Gmail message resource (metadata format).
pub fn hit(msg: &Value) -> (Hit, Option<i64>) {
    let s = summary(msg);
    let labels: Vec<String> = s["label_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let received = msg["internalDate"]
        .as_str()
        .and_then(|d| d.parse::<i64>().ok());
    let hit = Hit {
        id: s["id"].as_str().unwrap_or_default().to_string(),
        thread_id: s["thread_id"].as_str().map(str::to_string),
        subject: s["subject"].as_str().map(str::to_string),
        from: s.get("from").filter(|f| !f.is_null()).cloned(),
        date: received.and_then(search::rfc3339_ms),
        snippet: s["snippet"].as_str().map(str::to_string),
        is_read: !labels.iter().any(|l| l == "UNREAD"),
        has_attachments: s["has_attachments"].as_bool().unwrap_or(false),
        labels,
    };
    (hit, received)
}

#[async_trait]
impl TypedHandler for Search {
    type Params = SearchParams;
    async fn run(&self, cx: &CallContext<'_>, p: SearchParams) -> Result<Output, ConnectorError> {
        let q = gmail_query(&p)?;
        let mut req = ProviderRequest::get(format!("{USER}/messages"))
            .query("maxResults", p.max_results.to_string());
        if !q.is_empty() {
            req = req.query("q", q.clone());
        }
        if let Some(l) = &p.label {
            req = req.query("labelIds", l.clone());
            if l == "SPAM" || l == "TRASH" {
                req = req.query("includeSpamTrash", "true");
            }
        }
        if let Some(t) = &p.page_token {
            req = req.query("pageToken", t.clone());
        }
        let page: Value = cx.send(req).await?.json()?;
        let ids: Vec<String> = page["messages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let fetched = batch_get_messages(
            cx,
            &self.throttle,
            &ids,
            &format_query(crate::message::Format::Metadata, true),
            DEFAULT_PARTS,
        )
        .await?;
        let mut hits = Vec::new();
        let mut found = Vec::with_capacity(fetched.len());
        for (r, id) in fetched.into_iter().zip(&ids) {
            match r {
                Ok(msg) => found.push(msg),
                // Gone between the list and the read: not a hit.
                Err(e) if e["code"] == ErrorCode::NotFound.as_str() => {}
                // A hit left out silently would be a wrong answer: fail the page instead.
                Err(e) => {
                    let code = if e["code"] == ErrorCode::RateLimited.as_str() {
                        ErrorCode::RateLimited
                    } else {
                        ErrorCode::ProviderUnavailable
                    };
                    return Err(ConnectorError::new(
                        code,
                        format!(
                            "reading search hit {id} failed ({}); try again later",
                            e["message"].as_str().unwrap_or("unknown error")
                        ),
                    ));
                }
            }
        }
        for msg in found {
            let (h, _) = hit(&msg);
            // Everything else is in `q`; Gmail has no thread operator.
            if p.thread_id.is_none() || h.thread_id == p.thread_id {
                hits.push(h.to_value());
            }
        }
        let mut out = Output::new(Value::Array(hits))
            .with_meta("source", "provider")
            .with_meta("provider_query", q);
        if let Some(t) = page["nextPageToken"].as_str() {
            out = out.with_meta("next_page_token", t);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_becomes_one_gmail_query() {
        let p = SearchParams {
            text: Some("budget, Q3".into()),
            from: Some("ada@example.com".into()),
            subject: Some("board meeting".into()),
            is_read: Some(false),
            has_attachment: Some(false),
            after: Some("2026-01-02".into()),
            ..Default::default()
        };
        assert_eq!(
            gmail_query(&p).unwrap(),
            "budget q3 from:ada@example.com subject:\"board meeting\" is:unread \
             -has:attachment after:1767312000"
        );
    }
}
