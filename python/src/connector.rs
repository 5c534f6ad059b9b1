//! `NativeConnector`: one connector (in process or hosted), shared safely by threads and asyncio
//! tasks. `execute` returns an awaitable run on the shared tokio runtime; `execute_sync` blocks
//! the calling thread with the GIL released.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use connector_core::guard::{LocalGuard, Policy};
use connector_core::{Connector, ErrorCode, ExecuteOptions, Output, Result, Secret};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use serde_json::Value;

use crate::errors::{new_error, to_pyerr};
use crate::hosted::{HostedClient, HostedConfig};
use crate::local::{self, LocalAuth};
use crate::spec::Kind;

enum Engine {
    Local(Connector),
    Hosted(Box<HostedClient>),
}

impl Engine {
    async fn execute(
        &self,
        entity: &str,
        action: &str,
        params: Value,
        key: Option<String>,
    ) -> Result<Output> {
        match self {
            Engine::Local(c) => {
                let options = ExecuteOptions {
                    idempotency_key: key,
                };
                c.execute_with(entity, action, params, options).await
            }
            Engine::Hosted(h) => h.execute(entity, action, params, key).await,
        }
    }
}

#[pyclass(frozen, module = "agent_connectors._native")]
pub struct NativeConnector {
    kind: Kind,
    hosted: bool,
    engine: RwLock<Option<Arc<Engine>>>,
    /// In process: the send policy and approvals, once `set_policy` was called (until then the
    /// connector runs unguarded, as with no policy).
    guard: Mutex<Option<Arc<LocalGuard>>>,
}

fn output_json(out: &Output) -> String {
    serde_json::to_string(out).unwrap_or_else(|_| String::from("{\"result\":null,\"metadata\":{}}"))
}

impl NativeConnector {
    fn engine(&self) -> PyResult<Arc<Engine>> {
        self.engine
            .read()
            .map_err(|_| PyRuntimeError::new_err("connector state is poisoned"))?
            .clone()
            .ok_or_else(|| PyRuntimeError::new_err("this connector is closed"))
    }

    /// The in-process guard, made (and the engine held to it) on first use.
    fn local_guard(&self, py: Python<'_>) -> PyResult<Arc<LocalGuard>> {
        if self.hosted {
            return Err(new_error(
                py,
                ErrorCode::InvalidParams,
                "a hosted connector's policy lives on the server: PUT /api/v1/integrations/connectors/{id}/policy (or `connectors orgs policy`), and approvals at /api/v1/approvals".to_string(),
            ));
        }
        let mut slot = self
            .guard
            .lock()
            .map_err(|_| PyRuntimeError::new_err("connector state is poisoned"))?;
        if let Some(g) = slot.as_ref() {
            return Ok(g.clone());
        }
        let guard = Arc::new(LocalGuard::new(None));
        let mut engine = self
            .engine
            .write()
            .map_err(|_| PyRuntimeError::new_err("connector state is poisoned"))?;
        let Some(current) = engine.as_ref() else {
            return Err(PyRuntimeError::new_err("this connector is closed"));
        };
        if let Engine::Local(c) = &**current {
            *engine = Some(Arc::new(Engine::Local(c.with_guard(guard.clone()))));
        }
        *slot = Some(guard.clone());
        Ok(guard)
    }

    fn params(py: Python<'_>, params_json: &str) -> PyResult<Value> {
        serde_json::from_str(params_json).map_err(|e| {
            new_error(
                py,
                ErrorCode::InvalidParams,
                format!("params are not JSON: {e}"),
            )
        })
    }
}

#[pymethods]
impl NativeConnector {
    /// In-process connector with the caller's OAuth credentials.
    #[new]
    #[pyo3(signature = (kind, *, access_token=None, refresh_token=None, client_id=None,
        client_secret=None, token_url=None, tenant=None, base_url=None, timeout=None,
        on_token_refresh=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        kind: &str,
        access_token: Option<String>,
        refresh_token: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
        token_url: Option<String>,
        tenant: Option<String>,
        base_url: Option<String>,
        timeout: Option<f64>,
        on_token_refresh: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let kind = Kind::parse(py, kind)?;
        let auth = LocalAuth {
            access_token,
            refresh_token,
            client_id,
            client_secret,
            token_url,
            tenant,
            base_url,
            timeout,
            on_token_refresh,
        };
        let connector = py
            .detach(|| local::build(kind, auth))
            .map_err(|e| to_pyerr(py, &e))?;
        Ok(NativeConnector {
            kind,
            hosted: false,
            engine: RwLock::new(Some(Arc::new(Engine::Local(connector)))),
            guard: Mutex::new(None),
        })
    }

    /// The same connector run by a `connectors serve` instance.
    #[staticmethod]
    #[pyo3(signature = (kind, *, server_url, client_id, client_secret, organization_id,
        customer_name, connector_id=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn hosted(
        py: Python<'_>,
        kind: &str,
        server_url: String,
        client_id: String,
        client_secret: String,
        organization_id: String,
        customer_name: String,
        connector_id: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Self> {
        let kind = Kind::parse(py, kind)?;
        let timeout = match timeout {
            None => Duration::from_secs(120),
            Some(s) => Duration::try_from_secs_f64(s).map_err(|_| {
                new_error(
                    py,
                    ErrorCode::InvalidParams,
                    "timeout must be a positive number of seconds",
                )
            })?,
        };
        let client = HostedClient::new(HostedConfig {
            server_url,
            client_id,
            client_secret: Secret::new(client_secret),
            organization_id,
            customer_name,
            connector_id,
            connector_type: kind.as_str(),
            timeout,
        })
        .map_err(|e| to_pyerr(py, &e))?;
        Ok(NativeConnector {
            kind,
            hosted: true,
            engine: RwLock::new(Some(Arc::new(Engine::Hosted(Box::new(client))))),
            guard: Mutex::new(None),
        })
    }

    /// `await execute(entity, action, params_json, idempotency_key)` -> JSON text of
    /// `{"result": ..., "metadata": {...}}`.
    #[pyo3(signature = (entity, action, params_json, idempotency_key=None))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        entity: String,
        action: String,
        params_json: &str,
        idempotency_key: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.engine()?;
        let params = Self::params(py, params_json)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match engine
                .execute(&entity, &action, params, idempotency_key)
                .await
            {
                Ok(out) => Ok(output_json(&out)),
                Err(e) => Err(Python::attach(|py| to_pyerr(py, &e))),
            }
        })
    }

    /// Blocking `execute`; the GIL is released while the call runs.
    #[pyo3(signature = (entity, action, params_json, idempotency_key=None))]
    fn execute_sync(
        &self,
        py: Python<'_>,
        entity: &str,
        action: &str,
        params_json: &str,
        idempotency_key: Option<String>,
    ) -> PyResult<String> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(PyRuntimeError::new_err(
                "execute_sync cannot run on the connector runtime (inside on_token_refresh): use `await execute(...)`",
            ));
        }
        let engine = self.engine()?;
        let params = Self::params(py, params_json)?;
        let rt = crate::runtime();
        py.detach(|| rt.block_on(engine.execute(entity, action, params, idempotency_key)))
            .map(|out| output_json(&out))
            .map_err(|e| to_pyerr(py, &e))
    }

    /// In process: the send policy (JSON text of docs/guardrails.md's policy, or None to remove
    /// it). Refused with InvalidParamsError naming the field; hosted connectors refuse (the
    /// server keeps their policy).
    #[pyo3(signature = (policy_json))]
    fn set_policy(&self, py: Python<'_>, policy_json: Option<&str>) -> PyResult<()> {
        let policy = match policy_json {
            None => None,
            Some(text) => {
                let p: Policy = connector_core::params::params(
                    "the policy",
                    serde_json::from_str(text).map_err(|e| {
                        new_error(
                            py,
                            ErrorCode::InvalidParams,
                            format!("policy is not JSON: {e}"),
                        )
                    })?,
                )
                .map_err(|e| to_pyerr(py, &e))?;
                p.validate().map_err(|e| to_pyerr(py, &e))?;
                Some(p)
            }
        };
        self.local_guard(py)?.set_policy(policy);
        Ok(())
    }

    /// In process: a person's decision on a pending approval (`approval_required` names its
    /// id). ConflictError when it is not pending any more, NotFoundError for an unknown id.
    fn decide(&self, py: Python<'_>, approval_id: &str, approve: bool) -> PyResult<()> {
        self.local_guard(py)?
            .decide(approval_id, approve)
            .map_err(|e| to_pyerr(py, &e))
    }

    /// In process: `{"id", "status", "preview"}` of an approval as JSON text, None when unknown.
    fn approval_json(&self, py: Python<'_>, approval_id: &str) -> PyResult<Option<String>> {
        let guard = self.local_guard(py)?;
        Ok(guard.approval(approval_id).map(|(status, preview)| {
            serde_json::json!({"id": approval_id, "status": status.as_str(), "preview": preview})
                .to_string()
        }))
    }

    /// Drops the engine; calls already running finish, later calls raise.
    fn close(&self) {
        if let Ok(mut slot) = self.engine.write() {
            slot.take();
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.engine.read().map(|e| e.is_none()).unwrap_or(true)
    }

    #[getter]
    fn kind(&self) -> &'static str {
        self.kind.as_str()
    }

    #[getter]
    fn mode(&self) -> &'static str {
        if self.hosted {
            "hosted"
        } else {
            "local"
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "NativeConnector(kind={:?}, mode={:?})",
            self.kind.as_str(),
            self.mode()
        )
    }
}
