//! messages.list (summaries through one batch), messages.get, messages.get_many.

use async_trait::async_trait;
use connector_core::wire::path_segment as seg;
use connector_core::{CallContext, ConnectorError, Output, ProviderRequest, TypedHandler};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use std::sync::Arc;

use super::batch_get::Throttle;
use super::{batch_get_messages, USER};
use crate::batch::DEFAULT_PARTS;
use crate::message::{
    decode_message, fetch_held_body, summary, Format, HoldsBody, SUMMARY_HEADERS,
};
use crate::mime::view::{parse_message, ParsedMessage};

/// messages.list; its summaries come through paced batches.
pub struct List {
    pub throttle: Arc<Throttle>,
}
pub struct Get;
/// messages.get_many, paced for the user's concurrency limit and quota.
pub struct GetMany {
    pub throttle: Arc<Throttle>,
}

/// messages.list
#[derive(Deserialize, Serialize)]
pub struct ListParams {
    #[serde(default = "fifty")]
    max_results: u64,
    q: Option<String>,
    #[serde(default)]
    label_ids: Vec<String>,
    page_token: Option<String>,
    #[serde(default)]
    include_spam_trash: bool,
    #[serde(default)]
    ids_only: bool,
}

fn fifty() -> u64 {
    50
}

/// messages.get
#[derive(Deserialize, Serialize)]
pub struct GetParams {
    message_id: String,
    #[serde(default)]
    format: Format,
}

/// messages.get_many
#[derive(Deserialize, Serialize)]
pub struct GetManyParams {
    message_ids: Vec<String>,
    #[serde(default)]
    format: Format,
    #[serde(default = "default_parts")]
    batch_size: usize,
}

fn default_parts() -> usize {
    DEFAULT_PARTS
}

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
impl TypedHandler for List {
    type Params = ListParams;
    async fn run(
        &self,
        cx: &CallContext<'_>,
        params: ListParams,
    ) -> Result<Output, ConnectorError> {
        list(cx, &self.throttle, params).await
    }
}

async fn list(
    cx: &CallContext<'_>,
    throttle: &Throttle,
    params: ListParams,
) -> Result<Output, ConnectorError> {
    let mut req = ProviderRequest::get(format!("{USER}/messages"))
        .query("maxResults", params.max_results.to_string());
    if let Some(q) = params.q {
        req = req.query("q", q);
    }
    for l in params.label_ids {
        req = req.query("labelIds", l);
    }
    if let Some(t) = params.page_token {
        req = req.query("pageToken", t);
    }
    if params.include_spam_trash {
        req = req.query("includeSpamTrash", "true");
    }
    let page: Value = cx.send(req).await?.json()?;
    let refs = page["messages"].as_array().cloned().unwrap_or_default();
    let ids: Vec<String> = refs
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();

    let result = if params.ids_only {
        Value::from(ids)
    } else {
        let query = format_query(Format::Metadata, true);
        let fetched = batch_get_messages(cx, throttle, &ids, &query, DEFAULT_PARTS).await?;
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
        Value::Array(summaries)
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
impl TypedHandler for Get {
    type Params = GetParams;
    async fn run(&self, cx: &CallContext<'_>, params: GetParams) -> Result<Output, ConnectorError> {
        let format = params.format;
        let req = ProviderRequest::get(format!("{USER}/messages/{}", seg(&params.message_id)))
            .query("format", format.as_str());
        let resp = cx.send(req).await?;
        // Read typed, borrowed from the body (the `Value` reading is the fallback for a message
        // whose fields have unexpected types): see `crate::mime::view`.
        let parsed = parse_message(&resp.body).map_err(|e| {
            ConnectorError::new(
                connector_core::ErrorCode::ProviderError,
                "the provider answered with a body that is not the expected JSON",
            )
            .with_source(e)
        })?;
        let record = match parsed {
            ParsedMessage::Wire(msg) => record(cx, &params.message_id, format, msg).await,
            ParsedMessage::Json(msg) => record(cx, &params.message_id, format, msg).await,
        };
        Ok(Output::new(record))
    }
}

/// The record of message `id` fetched in `format`, its held text body fetched first.
async fn record<M: HoldsBody>(cx: &CallContext<'_>, id: &str, format: Format, mut msg: M) -> Value {
    if format == Format::Full {
        fetch_held_body(cx, id, &mut msg).await;
    }
    decode_message(&msg, format)
}

#[async_trait]
impl TypedHandler for GetMany {
    type Params = GetManyParams;
    async fn run(
        &self,
        cx: &CallContext<'_>,
        params: GetManyParams,
    ) -> Result<Output, ConnectorError> {
        let GetManyParams {
            message_ids: ids,
            format,
            batch_size,
        } = params;
        let fetched = batch_get_messages(
            cx,
            &self.throttle,
            &ids,
            &format_query(format, false),
            batch_size,
        )
        .await?;
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
        Ok(Output::new(Value::Array(result))
            .with_meta("requested", ids.len())
            .with_meta("failed", failed))
    }
}
