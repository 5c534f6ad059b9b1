//! history.list: changes since a history id; an expired id is `sync_required`.

use async_trait::async_trait;
use connector_core::{
    ActionHandler, CallContext, ConnectorError, ErrorCode, Output, ProviderRequest,
};
use serde_json::{json, Value};

use super::{name_scopes, required, snake_keys, str_param, USER};

pub struct List;

#[async_trait]
impl ActionHandler for List {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output, ConnectorError> {
        let start = required(&params, "start_history_id");
        let max = params["max_results"].as_u64().unwrap_or(100);
        let mut req = ProviderRequest::get(format!("{USER}/history"))
            .query("startHistoryId", start)
            .query("maxResults", max.to_string());
        for t in params["history_types"].as_array().into_iter().flatten() {
            if let Some(t) = t.as_str() {
                req = req.query("historyTypes", t);
            }
        }
        if let Some(l) = str_param(&params, "label_id") {
            req = req.query("labelId", l);
        }
        if let Some(t) = str_param(&params, "page_token") {
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
            Err(e) => return Err(name_scopes(cx, e)),
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
