//! threads.get and drafts.get: resources that hold messages to decode.

use async_trait::async_trait;
use connector_core::wire::path_segment as seg;
use connector_core::{CallContext, ConnectorError, Output, ProviderRequest, TypedHandler};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::USER;
use crate::message::{decode_message, Format};

pub struct Get;
pub struct DraftGet;

/// threads.get
#[derive(Deserialize, Serialize)]
pub struct GetParams {
    thread_id: String,
    #[serde(default)]
    format: Format,
}

/// drafts.get
#[derive(Deserialize, Serialize)]
pub struct DraftGetParams {
    draft_id: String,
    #[serde(default)]
    format: Format,
}

#[async_trait]
impl TypedHandler for Get {
    type Params = GetParams;
    async fn run(&self, cx: &CallContext<'_>, params: GetParams) -> Result<Output, ConnectorError> {
        let (id, format) = (params.thread_id.as_str(), params.format);
        let req = ProviderRequest::get(format!("{USER}/threads/{}", seg(id)))
            .query("format", format.as_str());
        let thread: Value = cx.send(req).await?.json()?;
        let messages: Vec<Value> = thread["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| decode_message(m, format))
            .collect();
        Ok(Output::new(json!({
            "id": thread["id"].as_str().unwrap_or(id),
            "history_id": thread["historyId"],
            "snippet": messages.last().map(|m| m["snippet"].clone()).unwrap_or(Value::Null),
            "messages": messages,
        }))
        .with_meta(
            "message_count",
            thread["messages"].as_array().map_or(0, Vec::len),
        ))
    }
}

#[async_trait]
impl TypedHandler for DraftGet {
    type Params = DraftGetParams;
    async fn run(
        &self,
        cx: &CallContext<'_>,
        params: DraftGetParams,
    ) -> Result<Output, ConnectorError> {
        let (id, format) = (params.draft_id.as_str(), params.format);
        let req = ProviderRequest::get(format!("{USER}/drafts/{}", seg(id)))
            .query("format", format.as_str());
        let draft: Value = cx.send(req).await?.json()?;
        Ok(Output::new(json!({
            "id": draft["id"].as_str().unwrap_or(id),
            "message": decode_message(&draft["message"], format),
        })))
    }
}
