//! `NativeSandbox`: an in-process Gmail or Graph emulator on the shared runtime, for agent
//! developers' own tests. It serves real HTTP on 127.0.0.1 until closed or dropped. Every
//! emulator is held through the kit's one control surface (`sandbox_kit::Emulator`), so each
//! control works for each provider.

use std::sync::Mutex;
use std::time::Duration;

use connector_core::ErrorCode;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use sandbox_kit::{Emulator, Fault, FaultKind, SandboxConfig, Seed, TokenRule};

use crate::errors::new_error;
use crate::spec::Kind;

/// Starts the emulator of `kind` (the built-in emulators, by connector type).
fn start(
    py: Python<'_>,
    kind: Kind,
    cfg: SandboxConfig,
) -> PyResult<std::io::Result<Box<dyn Emulator>>> {
    let Some(starter) = providers::emulator(kind.as_str()) else {
        return Err(new_error(
            py,
            ErrorCode::InvalidParams,
            format!("no sandbox emulator for connector kind `{}`", kind.as_str()),
        ));
    };
    let rt = crate::runtime();
    Ok(py.detach(|| {
        let _rt = rt.enter();
        starter(cfg)
    }))
}

#[pyclass(frozen, module = "agent_connectors._native")]
pub struct NativeSandbox {
    kind: Kind,
    base_url: String,
    token_url: String,
    running: Mutex<Option<Box<dyn Emulator>>>,
}

impl NativeSandbox {
    fn with<T>(&self, f: impl FnOnce(&dyn Emulator) -> T) -> PyResult<T> {
        let guard = self
            .running
            .lock()
            .map_err(|_| PyRuntimeError::new_err("sandbox state is poisoned"))?;
        let running = guard
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("this sandbox is closed"))?;
        let _rt = crate::runtime().enter();
        Ok(f(running.as_ref()))
    }
}

#[pymethods]
impl NativeSandbox {
    /// Starts an emulator. `seed`: `"demo"` (the demo mailbox), `"empty"`, or a number of
    /// generated messages. `latency_ms` delays every API answer (benchmarks, concurrency tests).
    #[new]
    /// `tokens`: accept only these bearer tokens (`TOKEN=user@example.com:scope,scope`) and the
    /// ones the token endpoint issues; without any, every non-empty token is the default user.
    #[pyo3(signature = (kind, *, seed=None, latency_ms=None, quotas=true, rotate_refresh_tokens=None, tokens=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        kind: &str,
        seed: Option<Bound<'_, PyAny>>,
        latency_ms: Option<u64>,
        quotas: bool,
        rotate_refresh_tokens: Option<bool>,
        tokens: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let kind = Kind::parse(py, kind)?;
        let seed = match seed {
            None => Seed::Demo,
            Some(s) => match s.extract::<usize>() {
                Ok(n) => Seed::Count(n),
                Err(_) => match s.extract::<String>().as_deref() {
                    Ok("demo") => Seed::Demo,
                    Ok("empty") => Seed::Empty,
                    _ => {
                        return Err(new_error(
                            py,
                            ErrorCode::InvalidParams,
                            "seed must be \"demo\", \"empty\" or a number of messages",
                        ))
                    }
                },
            },
        };
        let tokens = tokens
            .unwrap_or_default()
            .iter()
            .map(|t| t.parse::<TokenRule>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| new_error(py, ErrorCode::InvalidParams, format!("tokens: {e}")))?;
        let cfg = SandboxConfig {
            seed,
            latency: latency_ms.map(Duration::from_millis),
            quotas,
            rotate_refresh_tokens,
            tokens,
            ..Default::default()
        };
        let running = start(py, kind, cfg)?.map_err(|e| {
            new_error(
                py,
                ErrorCode::Internal,
                format!("the sandbox could not start: {e}"),
            )
        })?;
        Ok(NativeSandbox {
            kind,
            base_url: running.base_url(),
            token_url: running.token_url(),
            running: Mutex::new(Some(running)),
        })
    }

    #[getter]
    fn kind(&self) -> &'static str {
        self.kind.as_str()
    }

    /// Root URL of the emulated API (pass it as `base_url`).
    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The emulator's OAuth token endpoint.
    #[getter]
    fn token_url(&self) -> &str {
        &self.token_url
    }

    /// A refresh token the emulator's token endpoint accepts, for `user` with `scopes` (every
    /// scope of the connector when omitted).
    #[pyo3(signature = (user, scopes=None))]
    fn issue_refresh_token(&self, user: &str, scopes: Option<Vec<String>>) -> PyResult<String> {
        let given: Vec<&str> = scopes.iter().flatten().map(String::as_str).collect();
        let scopes = if scopes.is_some() {
            &given[..]
        } else {
            self.kind.descriptor().scopes.full
        };
        self.with(|e| e.kit().issue_refresh_token(user, scopes))
    }

    /// Request counters as JSON text (field names are each emulator's own).
    fn stats_json(&self) -> PyResult<String> {
        self.with(|e| e.stats_json().to_string())
    }

    /// Switches quotas and throttling on or off.
    fn set_quotas(&self, on: bool) -> PyResult<()> {
        self.with(|e| e.kit().set_quotas(on))
    }

    /// Delay added before every answer (`None`: none).
    #[pyo3(signature = (latency_ms=None))]
    fn set_latency(&self, latency_ms: Option<u64>) -> PyResult<()> {
        let latency = latency_ms.map(Duration::from_millis);
        self.with(|e| e.kit().set_latency(latency))
    }

    /// Gmail: the mailbox of `user` as JSON text (`messages` newest first with `id`,
    /// `thread_id`, `label_ids`, `raw`; `drafts`; `labels`; `history_id`), or `None`.
    /// Outlook: the messages of `folder` (default `inbox`) as Graph JSON.
    #[pyo3(signature = (user, folder=None))]
    fn mailbox_json(&self, user: &str, folder: Option<&str>) -> PyResult<Option<String>> {
        self.with(|e| e.mailbox_json(user, folder).map(|v| v.to_string()))
    }

    /// Makes the current access tokens invalid (the next call gets a 401 and refreshes).
    fn expire_access_tokens(&self) -> PyResult<()> {
        self.with(|e| e.kit().expire_access_tokens())
    }

    /// Revokes a refresh token (the next refresh fails with `invalid_grant`).
    fn revoke_refresh_token(&self, token: &str) -> PyResult<bool> {
        self.with(|e| e.kit().revoke_refresh_token(token))
    }

    /// The next `times` requests whose method matches (`*`: any) and whose path contains
    /// `path_contains` fail: with HTTP `status`, by dropping the connection, or (`lose_response`)
    /// after being handled.
    #[pyo3(signature = (method, path_contains, *, status=None, drop_connection=false, lose_response=false, times=1))]
    #[allow(clippy::too_many_arguments)]
    fn inject_fault(
        &self,
        py: Python<'_>,
        method: &str,
        path_contains: &str,
        status: Option<u16>,
        drop_connection: bool,
        lose_response: bool,
        times: u32,
    ) -> PyResult<()> {
        let kind = match (status, drop_connection, lose_response) {
            (Some(code), false, false) => FaultKind::Status(code),
            (None, true, false) => FaultKind::DropConnection,
            (None, false, true) => FaultKind::LoseResponse,
            _ => {
                return Err(new_error(
                    py,
                    ErrorCode::InvalidParams,
                    "give exactly one of status, drop_connection, lose_response",
                ))
            }
        };
        let fault = Fault::new(method, path_contains, kind).times(times);
        self.with(|e| e.kit().inject_fault(fault))
    }

    /// The next `n` API requests answer 429 with `Retry-After: retry_after_secs`.
    fn throttle_next(&self, n: u32, retry_after_secs: u64) -> PyResult<()> {
        self.with(|e| e.kit().throttle_next(n, retry_after_secs))
    }

    /// Gmail: history records older than the current history id are dropped, so a sync from an
    /// older id answers 404 (`sync_required`). Outlook: every delta token of `user` expires.
    fn expire_sync_tokens(&self, user: &str) -> PyResult<()> {
        self.with(|e| e.expire_sync_tokens(user))
    }

    /// Stops serving.
    fn close(&self, py: Python<'_>) {
        let taken = self.running.lock().ok().and_then(|mut g| g.take());
        py.detach(|| {
            let _rt = crate::runtime().enter();
            drop(taken);
        });
    }

    #[getter]
    fn closed(&self) -> bool {
        self.running.lock().map(|g| g.is_none()).unwrap_or(true)
    }
}
