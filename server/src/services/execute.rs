//! `execute`: one action of a connector, at most once per `idempotency_key`.

use std::sync::Arc;

use api_types::{ExecuteRequest, ExecuteResponse};
use connector_core::ConnectorError;
use serde_json::Value;

use super::connectors::Connectors;
use super::idempotency::{Answer, Fingerprint, Idempotency};
use crate::runtime::ExecuteCall;
use crate::store::ConnectorRow;

pub struct Executions {
    connectors: Arc<Connectors>,
    idempotency: Idempotency,
}

impl Executions {
    pub fn new(connectors: Arc<Connectors>, idempotency: Idempotency) -> Executions {
        Executions {
            connectors,
            idempotency,
        }
    }

    /// Runs the request against the organization's connector `id` (its row from the execute
    /// path's cache); with an `idempotency_key`, a repeat gets the first answer.
    pub async fn execute(
        &self,
        org: &str,
        id: &str,
        req: ExecuteRequest,
    ) -> Result<Answer, ConnectorError> {
        let row = self.connectors.get_cached(org, id).await?;
        let Some(key) = req.idempotency_key.clone() else {
            return run(&self.connectors, row, req).await.map(Answer::Fresh);
        };
        let (entity, action, params) = (req.entity.clone(), req.action.clone(), req.params.clone());
        let fingerprint = Fingerprint {
            entity: &entity,
            action: &action,
            params: &params,
        };
        let connector_id = row.id.clone();
        let connectors = self.connectors.clone();
        self.idempotency
            .execute(org, &connector_id, &key, fingerprint, async move {
                run(&connectors, row, req).await
            })
            .await
    }
}

/// Runs the call and shapes the 200 body.
async fn run(
    connectors: &Connectors,
    row: ConnectorRow,
    req: ExecuteRequest,
) -> Result<ExecuteResponse, ConnectorError> {
    let (entity, action) = (req.entity.clone(), req.action.clone());
    let output = connectors
        .execute(
            &row,
            ExecuteCall {
                entity: req.entity,
                action: req.action,
                params: req.params,
                idempotency_key: req.idempotency_key,
            },
        )
        .await?;
    let mut meta = output.metadata;
    meta.insert("connector_id".into(), Value::from(row.id));
    meta.insert("connector_type".into(), Value::from(row.connector_type));
    meta.insert("entity".into(), Value::from(entity));
    meta.insert("action".into(), Value::from(action));
    Ok(ExecuteResponse {
        result: output.result,
        connector_metadata: Value::Object(meta),
    })
}
