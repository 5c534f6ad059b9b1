//! batch_modify/batch_delete in groups of 1,000, and filters.create (nested snake_case params
//! to Gmail's camelCase). Deletes and watch.stop are declarative (`fixed_result` in the spec).

use async_trait::async_trait;
use connector_core::wire::{camel_keys, snake_keys};
use connector_core::{CallContext, ConnectorError, Output, ProviderRequest, TypedHandler};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::USER;

/// Gmail's limit of ids per batchModify / batchDelete call.
pub const BATCH_IDS: usize = 1000;

/// messages.batch_modify (`delete: false`) and messages.batch_delete (`delete: true`).
pub struct BatchIds {
    pub delete: bool,
}

/// messages.batch_modify and messages.batch_delete (which has no label params).
#[derive(Deserialize, Serialize)]
pub struct BatchIdsParams {
    message_ids: Vec<String>,
    add_label_ids: Option<Vec<String>>,
    remove_label_ids: Option<Vec<String>>,
}

#[async_trait]
impl TypedHandler for BatchIds {
    type Params = BatchIdsParams;
    async fn run(
        &self,
        cx: &CallContext<'_>,
        params: BatchIdsParams,
    ) -> Result<Output, ConnectorError> {
        let ids = &params.message_ids;
        let path = if self.delete {
            "batchDelete"
        } else {
            "batchModify"
        };
        let mut calls = 0;
        for chunk in ids.chunks(BATCH_IDS) {
            let mut body = json!({"ids": chunk});
            if !self.delete {
                if let Some(a) = &params.add_label_ids {
                    body["addLabelIds"] = json!(a);
                }
                if let Some(r) = &params.remove_label_ids {
                    body["removeLabelIds"] = json!(r);
                }
            }
            cx.send(ProviderRequest::post(format!("{USER}/messages/{path}")).json(body))
                .await
                .map_err(|e| {
                    if calls > 0 {
                        let msg = format!(
                            "{} ({} of {} ids were already done)",
                            e.message,
                            calls * BATCH_IDS,
                            ids.len()
                        );
                        ConnectorError { message: msg, ..e }
                    } else {
                        e
                    }
                })?;
            calls += 1;
        }
        Ok(Output::new(json!({"ok": true}))
            .with_meta("count", ids.len())
            .with_meta("requests", calls))
    }
}

/// filters.create.
pub struct FilterCreate;

/// filters.create: the filter's criteria and action objects, in snake_case.
#[derive(Deserialize, Serialize)]
pub struct FilterCreateParams {
    criteria: Value,
    action: Value,
}

#[async_trait]
impl TypedHandler for FilterCreate {
    type Params = FilterCreateParams;
    async fn run(
        &self,
        cx: &CallContext<'_>,
        params: FilterCreateParams,
    ) -> Result<Output, ConnectorError> {
        let body =
            json!({"criteria": camel_keys(&params.criteria), "action": camel_keys(&params.action)});
        let v: Value = cx
            .send(ProviderRequest::post(format!("{USER}/settings/filters")).json(body))
            .await?
            .json()?;
        Ok(Output::new(snake_keys(v)))
    }
}
