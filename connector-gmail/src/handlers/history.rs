//! history.list: changes since a history id; an expired id is `sync_required`.

use async_trait::async_trait;
use connector_core::wire::snake_keys;
use connector_core::{
    CallContext, ConnectorError, ErrorCode, Output, ProviderRequest, TypedHandler,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::USER;

pub struct List;

/// history.list
#[derive(Deserialize, Serialize)]
pub struct ListParams {
    start_history_id: String,
    #[serde(default = "hundred")]
    max_results: u64,
    #[serde(default)]
    history_types: Vec<String>,
    label_id: Option<String>,
    page_token: Option<String>,
}

fn hundred() -> u64 {
    100
}

#[async_trait]
impl TypedHandler for List {
    type Params = ListParams;
    async fn run(
        &self,
        cx: &CallContext<'_>,
        params: ListParams,
    ) -> Result<Output, ConnectorError> {
        let start = params.start_history_id.as_str();
        let mut req = ProviderRequest::get(format!("{USER}/history"))
            .query("startHistoryId", start)
            .query("maxResults", params.max_results.to_string());
        for t in &params.history_types {
            req = req.query("historyTypes", t);
        }
        if let Some(l) = &params.label_id {
            req = req.query("labelId", l);
        }
        if let Some(t) = &params.page_token {
            req = req.query("pageToken", t);
        }
        let page: Value = match cx.send(req).await {
            Ok(r) => r.json()?,
            Err(e) if e.code == ErrorCode::NotFound => {
                return Err(ConnectorError::new(
                    ErrorCode::SyncRequired,
                    format!(
                    "history id {start} is too old or invalid: run a full sync (messages.list), \
                         then call profile.get and continue from its history_id"
                ),
                )
                .with_details(json!({"start_history_id": start})))
            }
            Err(e) => return Err(e),
        };
        let records = snake_keys(page["history"].clone());
        let mut out = Output::new(if records.is_array() {
            records
        } else {
            json!([])
        });
        if let Some(h) = page["historyId"].as_str() {
            out = out.with_meta("history_id", h);
        }
        if let Some(t) = page["nextPageToken"].as_str() {
            out = out.with_meta("next_page_token", t);
        }
        Ok(out)
    }
}
