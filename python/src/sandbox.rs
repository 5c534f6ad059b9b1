//! `NativeSandbox`: an in-process Gmail or Graph emulator on the shared runtime, for agent
//! developers' own tests. It serves real HTTP on 127.0.0.1 until closed or dropped.

use std::sync::Mutex;
use std::time::Duration;

use connector_core::ErrorCode;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use sandbox_gmail as gmail;
use sandbox_outlook as outlook;
use serde_json::{json, Value};

use crate::errors::new_error;
use crate::spec::Kind;

/// The built-in emulators, by connector type.
#[derive(Clone, Copy)]
enum Emulator {
    Gmail,
    Outlook,
}

impl Emulator {
    fn of(py: Python<'_>, kind: Kind) -> PyResult<Emulator> {
        match kind.as_str() {
            "gmail" => Ok(Emulator::Gmail),
            "outlook" => Ok(Emulator::Outlook),
            other => Err(new_error(
                py,
                ErrorCode::InvalidParams,
                format!("no sandbox emulator for connector kind `{other}`"),
            )),
        }
    }
}

enum Running {
    Gmail(gmail::GmailSandbox),
    Outlook(outlook::OutlookSandbox),
}

#[pyclass(frozen, module = "agent_connectors._native")]
pub struct NativeSandbox {
    kind: Kind,
    base_url: String,
    token_url: String,
    running: Mutex<Option<Running>>,
}

impl NativeSandbox {
    fn with<T>(&self, f: impl FnOnce(&Running) -> T) -> PyResult<T> {
        let guard = self
            .running
            .lock()
            .map_err(|_| PyRuntimeError::new_err("sandbox state is poisoned"))?;
        let running = guard
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("this sandbox is closed"))?;
        let _rt = crate::runtime().enter();
        Ok(f(running))
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
        let tokens = tokens.unwrap_or_default();
        let bad_rule = |e: String| new_error(py, ErrorCode::InvalidParams, format!("tokens: {e}"));
        let kind = Kind::parse(py, kind)?;
        let emulator = Emulator::of(py, kind)?;
        enum SeedArg {
            Demo,
            Empty,
            Count(usize),
        }
        let seed = match seed {
            None => SeedArg::Demo,
            Some(s) => {
                if let Ok(n) = s.extract::<usize>() {
                    SeedArg::Count(n)
                } else {
                    match s.extract::<String>().as_deref() {
                        Ok("demo") => SeedArg::Demo,
                        Ok("empty") => SeedArg::Empty,
                        _ => {
                            return Err(new_error(
                                py,
                                ErrorCode::InvalidParams,
                                "seed must be \"demo\", \"empty\" or a number of messages",
                            ))
                        }
                    }
                }
            }
        };
        let latency = latency_ms.map(Duration::from_millis);
        let (gmail_rules, outlook_rules) = match emulator {
            Emulator::Gmail => (
                tokens
                    .iter()
                    .map(|t| t.parse::<gmail::TokenRule>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(bad_rule)?,
                Vec::new(),
            ),
            Emulator::Outlook => (
                Vec::new(),
                tokens
                    .iter()
                    .map(|t| t.parse::<outlook::TokenRule>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(bad_rule)?,
            ),
        };
        let rt = crate::runtime();
        let started = py.detach(|| {
            let _rt = rt.enter();
            match emulator {
                Emulator::Gmail => {
                    let mut cfg = gmail::SandboxConfig {
                        seed: match seed {
                            SeedArg::Demo => gmail::Seed::Demo,
                            SeedArg::Empty => gmail::Seed::Empty,
                            SeedArg::Count(n) => gmail::Seed::Count(n),
                        },
                        latency,
                        quotas,
                        tokens: gmail_rules,
                        ..Default::default()
                    };
                    if let Some(r) = rotate_refresh_tokens {
                        cfg.rotate_refresh_tokens = r;
                    }
                    gmail::GmailSandbox::start(cfg).map(Running::Gmail)
                }
                Emulator::Outlook => {
                    let mut cfg = outlook::SandboxConfig {
                        seed: match seed {
                            SeedArg::Demo => outlook::Seed::Demo,
                            SeedArg::Empty => outlook::Seed::Empty,
                            SeedArg::Count(n) => outlook::Seed::Count(n),
                        },
                        latency,
                        quotas,
                        tokens: outlook_rules,
                        ..Default::default()
                    };
                    if let Some(r) = rotate_refresh_tokens {
                        cfg.rotate_refresh_tokens = r;
                    }
                    outlook::OutlookSandbox::start(cfg).map(Running::Outlook)
                }
            }
        });
        let running = started.map_err(|e| {
            new_error(
                py,
                ErrorCode::Internal,
                format!("the sandbox could not start: {e}"),
            )
        })?;
        let (base_url, token_url) = match &running {
            Running::Gmail(s) => (s.base_url(), s.token_url()),
            Running::Outlook(s) => (s.base_url(), s.token_url()),
        };
        Ok(NativeSandbox {
            kind,
            base_url: base_url.to_string(),
            token_url: token_url.to_string(),
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
        self.with(|r| match r {
            Running::Gmail(s) => {
                let all = if scopes.is_some() {
                    &given[..]
                } else {
                    connector_gmail::SCOPES_FULL
                };
                s.issue_refresh_token(user, all)
            }
            Running::Outlook(s) => {
                let all = if scopes.is_some() {
                    &given[..]
                } else {
                    connector_outlook::SCOPES
                };
                s.issue_refresh_token(user, all)
            }
        })
    }

    /// Request counters as JSON text (field names are each emulator's own).
    fn stats_json(&self) -> PyResult<String> {
        self.with(|r| match r {
            Running::Gmail(s) => {
                let st = s.stats();
                json!({
                    "http_requests": st.http_requests,
                    "api_calls": st.api_calls,
                    "by_method": st.by_method,
                    "batch_requests": st.batch_requests,
                    "batch_parts": st.batch_parts,
                    "token_requests": st.token_requests,
                    "upload_requests": st.upload_requests,
                    "rate_limited": st.rate_limited,
                    "faults_triggered": st.faults_triggered,
                })
            }
            Running::Outlook(s) => {
                let st = s.stats();
                json!({
                    "requests": st.requests,
                    "batch_requests": st.batch_requests,
                    "batch_parts": st.batch_parts,
                    "token_requests": st.token_requests,
                    "throttled": st.throttled,
                    "unauthorized": st.unauthorized,
                    "max_in_flight": st.max_in_flight,
                })
            }
        })
        .map(|v| v.to_string())
    }

    /// Switches quotas and throttling on or off.
    fn set_quotas(&self, on: bool) -> PyResult<()> {
        self.with(|r| match r {
            Running::Gmail(s) => s.set_quotas(on),
            Running::Outlook(s) => s.set_quotas(on),
        })
    }

    /// Delay added before every answer (`None`: none).
    #[pyo3(signature = (latency_ms=None))]
    fn set_latency(&self, latency_ms: Option<u64>) -> PyResult<()> {
        let latency = latency_ms.map(Duration::from_millis);
        self.with(|r| match r {
            Running::Gmail(s) => s.set_latency(latency),
            Running::Outlook(s) => s.set_latency(latency),
        })
    }

    /// Gmail: the mailbox of `user` as JSON text (`messages` newest first with `id`,
    /// `thread_id`, `label_ids`, `raw`; `drafts`; `labels`; `history_id`), or `None`.
    /// Outlook: the messages of `folder` (default `inbox`) as Graph JSON.
    #[pyo3(signature = (user, folder=None))]
    fn mailbox_json(&self, user: &str, folder: Option<&str>) -> PyResult<Option<String>> {
        self.with(|r| match r {
            Running::Gmail(s) => s.mailbox(user).map(|m| {
                let messages: Vec<Value> = m
                    .messages
                    .iter()
                    .map(|msg| {
                        json!({
                            "id": msg.id,
                            "thread_id": msg.thread_id,
                            "label_ids": msg.label_ids,
                            "internal_date": msg.internal_date,
                            "history_id": msg.history_id,
                            "raw": String::from_utf8_lossy(&msg.raw),
                        })
                    })
                    .collect();
                json!({
                    "email": m.email,
                    "messages": messages,
                    "drafts": m.drafts,
                    "labels": m.labels,
                    "history_id": m.history_id,
                })
                .to_string()
            }),
            Running::Outlook(s) => {
                let folder = folder.unwrap_or("inbox");
                let messages: Vec<Value> = s
                    .message_ids(user, folder)
                    .iter()
                    .filter_map(|id| s.message_json(user, id))
                    .collect();
                Some(json!({"email": user, "folder": folder, "messages": messages}).to_string())
            }
        })
    }

    /// Makes the current access tokens invalid (the next call gets a 401 and refreshes).
    fn expire_access_tokens(&self, py: Python<'_>) -> PyResult<()> {
        match self.with(|r| match r {
            Running::Gmail(s) => {
                s.expire_access_tokens();
                true
            }
            Running::Outlook(_) => false,
        })? {
            true => Ok(()),
            false => Err(gmail_only(py)),
        }
    }

    /// Revokes a refresh token (the next refresh fails with `invalid_grant`).
    fn revoke_refresh_token(&self, py: Python<'_>, token: &str) -> PyResult<bool> {
        self.with(|r| match r {
            Running::Gmail(s) => Ok(s.revoke_refresh_token(token)),
            Running::Outlook(_) => Err(gmail_only(py)),
        })?
    }

    /// Gmail: the next `times` requests whose method matches (`*`: any) and whose path contains
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
        use sandbox_gmail::{Fault, FaultKind};
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
        self.with(|r| match r {
            Running::Gmail(s) => {
                s.inject_fault(Fault::new(method, path_contains, kind).times(times));
                Ok(())
            }
            Running::Outlook(_) => Err(gmail_only(py)),
        })?
    }

    /// Outlook: the next `n` API requests answer 429 with `Retry-After: retry_after_secs`.
    fn throttle_next(&self, py: Python<'_>, n: u32, retry_after_secs: u64) -> PyResult<()> {
        self.with(|r| match r {
            Running::Outlook(s) => {
                s.throttle_next(n, retry_after_secs);
                Ok(())
            }
            Running::Gmail(_) => Err(new_error(
                py,
                ErrorCode::InvalidParams,
                "only the Outlook sandbox has this control (Gmail: inject_fault with status=429)",
            )),
        })?
    }

    /// Gmail: history records older than the current history id are dropped, so a sync from an
    /// older id answers 404 (`sync_required`). Outlook: every delta token of `user` expires.
    fn expire_sync_tokens(&self, user: &str) -> PyResult<()> {
        self.with(|r| match r {
            Running::Gmail(s) => s.expire_history_before(user, s.history_id(user)),
            Running::Outlook(s) => s.expire_delta_tokens(user),
        })
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

fn gmail_only(py: Python<'_>) -> PyErr {
    new_error(
        py,
        ErrorCode::InvalidParams,
        "only the Gmail sandbox has this control",
    )
}
