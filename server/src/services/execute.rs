//! `execute`: one action of a connector, at most once per `idempotency_key`.

use std::sync::Arc;

use api_types::{ExecuteRequest, ExecuteResponse};
use connector_core::ConnectorError;
use serde_json::Value;

use super::attachments::Attachments;
use super::connectors::Connectors;
use super::idempotency::{Answer, Fingerprint, Idempotency};
use crate::runtime::ExecuteCall;
use crate::store::ConnectorRow;

pub struct Executions {
    connectors: Arc<Connectors>,
    idempotency: Idempotency,
    attachments: Arc<Attachments>,
}

impl Executions {
    pub fn new(
        connectors: Arc<Connectors>,
        idempotency: Idempotency,
        attachments: Arc<Attachments>,
    ) -> Executions {
        Executions {
            connectors,
            idempotency,
            attachments,
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
            return run(&self.connectors, &self.attachments, org, row, req)
                .await
                .map(Answer::Fresh);
        };
        let (entity, action, params) = (req.entity.clone(), req.action.clone(), req.params.clone());
        let fingerprint = Fingerprint {
            entity: &entity,
            action: &action,
            params: &params,
        };
        let connector_id = row.id.clone();
        let connectors = self.connectors.clone();
        let attachments = self.attachments.clone();
        let owner = org.to_string();
        // Boxed: the keyed path (its store work and the call inside) is several times the size
        // of the plain one, and every execute's future would otherwise carry room for it
        // (15.7 KB against 4 KB, copied whole when the route boxes the future).
        Box::pin(
            self.idempotency
                .execute(org, &connector_id, &key, fingerprint, async move {
                    run(&connectors, &attachments, &owner, row, req).await
                }),
        )
        .await
    }
}

/// Runs the call and shapes the 200 body. Attachment references in the params are resolved
/// first (the policies and the provider see the real bytes), and an `attachments.get` asked
/// for by reference gives its bytes up for a handle after.
async fn run(
    connectors: &Connectors,
    attachments: &Attachments,
    org: &str,
    row: ConnectorRow,
    req: ExecuteRequest,
) -> Result<ExecuteResponse, ConnectorError> {
    let (entity, action) = (req.entity.clone(), req.action.clone());
    let mut call = ExecuteCall {
        entity: req.entity,
        action: req.action,
        params: req.params,
        idempotency_key: req.idempotency_key,
    };
    let delivery = attachments
        .resolve(org, connectors, &row, &mut call)
        .await?;
    let mut output = connectors.execute(&row, call).await?;
    attachments
        .deliver(org, &row, delivery, &mut output)
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
