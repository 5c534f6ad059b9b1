//! threads.get and drafts.get: resources that hold messages to decode.

use async_trait::async_trait;
use connector_core::{ActionHandler, CallContext, ConnectorError, Output, ProviderRequest};
use serde_json::{json, Value};

use super::{name_scopes, required, seg, str_param, USER};
use crate::message::{decode_message, Format};

pub struct Get;
pub struct DraftGet;

#[async_trait]
impl ActionHandler for Get {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output, ConnectorError> {
        let id = required(&params, "thread_id");
        let format = Format::parse(str_param(&params, "format"));
        let req = ProviderRequest::get(format!("{USER}/threads/{}", seg(id)))
            .query("format", format.as_str());
        let thread: Value = cx.send(req).await.map_err(|e| name_scopes(cx, e))?.json()?;
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
impl ActionHandler for DraftGet {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output, ConnectorError> {
        let id = required(&params, "draft_id");
        let format = Format::parse(str_param(&params, "format"));
        let req = ProviderRequest::get(format!("{USER}/drafts/{}", seg(id)))
            .query("format", format.as_str());
        let draft: Value = cx.send(req).await.map_err(|e| name_scopes(cx, e))?.json()?;
        Ok(Output::new(json!({
            "id": draft["id"].as_str().unwrap_or(id),
            "message": decode_message(&draft["message"], format),
        })))
    }
}
