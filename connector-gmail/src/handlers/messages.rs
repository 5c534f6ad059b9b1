//! messages.list (summaries through one batch), messages.get, messages.get_many.

use async_trait::async_trait;
use connector_core::{ActionHandler, CallContext, ConnectorError, Output, ProviderRequest};
use serde_json::{json, Value};

use super::{batch_get_messages, name_scopes, required, seg, str_param, USER};
use crate::batch::DEFAULT_PARTS;
use crate::message::{decode_message, fetch_held_body, summary, Format, SUMMARY_HEADERS};

pub struct List;
pub struct Get;
pub struct GetMany;

/// Query string that asks for `format` (and the summary headers for metadata).
pub(crate) fn format_query(format: Format, summary_headers: bool) -> String {
    let mut q = format!("format={}", format.as_str());
    if summary_headers {
        for h in SUMMARY_HEADERS {
            q.push_str("&metadataHeaders=");
            q.push_str(h);
        }
    }
    q
}

#[async_trait]
impl ActionHandler for List {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output, ConnectorError> {
        list(cx, &params).await.map_err(|e| name_scopes(cx, e))
    }
}

async fn list(cx: &CallContext<'_>, params: &Value) -> Result<Output, ConnectorError> {
    let max = params["max_results"].as_u64().unwrap_or(50);
    let mut req =
        ProviderRequest::get(format!("{USER}/messages")).query("maxResults", max.to_string());
    if let Some(q) = str_param(params, "q") {
        req = req.query("q", q);
    }
    for label in params["label_ids"].as_array().into_iter().flatten() {
        if let Some(l) = label.as_str() {
            req = req.query("labelIds", l);
        }
    }
    if let Some(t) = str_param(params, "page_token") {
        req = req.query("pageToken", t);
    }
    if params["include_spam_trash"].as_bool() == Some(true) {
        req = req.query("includeSpamTrash", "true");
    }
    let page: Value = cx.send(req).await?.json()?;
    let refs = page["messages"].as_array().cloned().unwrap_or_default();
    let ids: Vec<String> = refs
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();

    let result = if params["ids_only"].as_bool() == Some(true) {
        json!(ids)
    } else {
        let query = format_query(Format::Metadata, true);
        let fetched =
            batch_get_messages(cx, &ids, &query, DEFAULT_PARTS.max(ids.len().min(100))).await?;
        let summaries: Vec<Value> = fetched
            .into_iter()
            .zip(&refs)
            .map(|(r, reference)| match r {
                Ok(msg) => summary(&msg),
                Err(error) => json!({
                    "id": reference["id"], "thread_id": reference["threadId"],
                    "subject": null, "from": null, "date": null, "snippet": null,
                    "label_ids": [], "has_attachments": false, "error": error,
                }),
            })
            .collect();
        json!(summaries)
    };
    let mut out = Output::new(result);
    if let Some(t) = page["nextPageToken"].as_str() {
        out = out.with_meta("next_page_token", t);
    }
    if let Some(n) = page["resultSizeEstimate"].as_u64() {
        out = out.with_meta("result_size_estimate", n);
    }
    Ok(out)
}

#[async_trait]
impl ActionHandler for Get {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output, ConnectorError> {
        let id = required(&params, "message_id");
        let format = Format::parse(str_param(&params, "format"));
        let req = ProviderRequest::get(format!("{USER}/messages/{}", seg(id)))
            .query("format", format.as_str());
        let mut msg: Value = cx.send(req).await.map_err(|e| name_scopes(cx, e))?.json()?;
        if format == Format::Full {
            fetch_held_body(cx, id, &mut msg).await;
        }
        Ok(Output::new(decode_message(&msg, format)))
    }
}

#[async_trait]
impl ActionHandler for GetMany {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output, ConnectorError> {
        let ids: Vec<String> = params["message_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let format = Format::parse(str_param(&params, "format"));
        let batch_size = params["batch_size"]
            .as_u64()
            .unwrap_or(DEFAULT_PARTS as u64) as usize;
        let fetched = batch_get_messages(cx, &ids, &format_query(format, false), batch_size)
            .await
            .map_err(|e| name_scopes(cx, e))?;
        let mut failed = 0;
        let result: Vec<Value> = fetched
            .into_iter()
            .zip(&ids)
            .map(|(r, id)| match r {
                Ok(msg) => decode_message(&msg, format),
                Err(error) => {
                    failed += 1;
                    json!({"id": id, "error": error})
                }
            })
            .collect();
        Ok(Output::new(json!(result))
            .with_meta("requested", ids.len())
            .with_meta("failed", failed))
    }
}
