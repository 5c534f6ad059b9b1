//! Writes with empty answers (deletes, watch.stop), batch_modify/batch_delete in groups of
//! 1,000, and filters.create (nested snake_case params to Gmail's camelCase).

use async_trait::async_trait;
use connector_core::{ActionHandler, CallContext, ConnectorError, Output, ProviderRequest};
use serde_json::{json, Map, Value};

use super::{name_scopes, required, seg, snake_keys, USER};

/// Gmail's limit of ids per batchModify / batchDelete call.
pub const BATCH_IDS: usize = 1000;

/// A request whose answer is empty: `{ok: true}`. `path` has one `{}` for the id param.
pub struct Ack {
    pub method: reqwest::Method,
    pub path: &'static str,
    pub id_param: Option<&'static str>,
}

#[async_trait]
impl ActionHandler for Ack {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output, ConnectorError> {
        let path = match self.id_param {
            Some(p) => self.path.replace("{}", &seg(required(&params, p))),
            None => self.path.to_string(),
        };
        cx.send(ProviderRequest::new(
            self.method.clone(),
            format!("{USER}{path}"),
        ))
        .await
        .map_err(|e| name_scopes(cx, e))?;
        Ok(Output::new(json!({"ok": true})))
    }
}

/// messages.batch_modify (`delete: false`) and messages.batch_delete (`delete: true`).
pub struct BatchIds {
    pub delete: bool,
}

#[async_trait]
impl ActionHandler for BatchIds {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output, ConnectorError> {
        let ids: Vec<Value> = params["message_ids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let path = if self.delete {
            "batchDelete"
        } else {
            "batchModify"
        };
        let mut calls = 0;
        for chunk in ids.chunks(BATCH_IDS) {
            let mut body = json!({"ids": chunk});
            if !self.delete {
                if let Some(a) = params.get("add_label_ids") {
                    body["addLabelIds"] = a.clone();
                }
                if let Some(r) = params.get("remove_label_ids") {
                    body["removeLabelIds"] = r.clone();
                }
            }
            cx.send(ProviderRequest::post(format!("{USER}/messages/{path}")).json(body))
                .await
                .map_err(|e| {
                    let e = name_scopes(cx, e);
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

/// Recursively renames snake_case keys to camelCase.
fn camel_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let mut key = String::with_capacity(k.len());
                let mut upper = false;
                for c in k.chars() {
                    if c == '_' {
                        upper = true;
                    } else if upper {
                        key.push(c.to_ascii_uppercase());
                        upper = false;
                    } else {
                        key.push(c);
                    }
                }
                out.insert(key, camel_keys(v));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(camel_keys).collect()),
        other => other.clone(),
    }
}

/// filters.create.
pub struct FilterCreate;

#[async_trait]
impl ActionHandler for FilterCreate {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output, ConnectorError> {
        let body = json!({"criteria": camel_keys(&params["criteria"]), "action": camel_keys(&params["action"])});
        let v: Value = cx
            .send(ProviderRequest::post(format!("{USER}/settings/filters")).json(body))
            .await
            .map_err(|e| name_scopes(cx, e))?
            .json()?;
        Ok(Output::new(snake_keys(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_keys_round_trip_snake_keys() {
        let v = json!({"add_label_ids": ["A"], "negated_query": "x", "size_comparison": "larger"});
        let c = camel_keys(&v);
        assert_eq!(
            c,
            json!({"addLabelIds": ["A"], "negatedQuery": "x", "sizeComparison": "larger"})
        );
        assert_eq!(snake_keys(c), v);
    }
}
