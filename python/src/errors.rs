//! Core `ConnectorError` -> the Python exception class of its code (`agent_connectors.errors`).

use connector_core::{ConnectorError, ErrorCode};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Builds the Python exception for a core error. Needs the GIL; the message and details never
/// hold secrets (core's rule), so they are passed through unchanged.
pub fn to_pyerr(py: Python<'_>, err: &ConnectorError) -> PyErr {
    let details = if err.details.is_null() {
        String::from("{}")
    } else {
        err.details.to_string()
    };
    let retry_after = err.retry_after.map(|d| d.as_secs_f64());
    let built = py
        .import("agent_connectors.errors")
        .and_then(|m| m.getattr("_from_native"))
        .and_then(|f| {
            f.call1((
                err.code.as_str(),
                err.message.as_str(),
                details,
                retry_after,
            ))
        });
    match built {
        Ok(exc) => PyErr::from_value(exc),
        Err(import_failed) => {
            let e = PyRuntimeError::new_err(format!("{}: {}", err.code, err.message));
            e.set_cause(py, Some(import_failed));
            e
        }
    }
}

/// Same, for the places that only have a message (bad arguments from Python).
pub fn new_error(py: Python<'_>, code: ErrorCode, message: impl Into<String>) -> PyErr {
    to_pyerr(py, &ConnectorError::new(code, message))
}

/// `error_table()`: every core code as `(code, http_status, title)`, in table order.
#[pyfunction]
pub fn error_table() -> Vec<(&'static str, u16, &'static str)> {
    ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.http_status(), c.title()))
        .collect()
}

/// `_raise_error(code, message, details_json, retry_after_secs)`: raises what core would raise
/// for that error, through the same conversion `execute` uses (for tests of the mapping).
#[pyfunction]
#[pyo3(signature = (code, message, details_json=None, retry_after=None))]
pub fn _raise_error(
    py: Python<'_>,
    code: &str,
    message: &str,
    details_json: Option<&str>,
    retry_after: Option<f64>,
) -> PyResult<()> {
    let code = ErrorCode::parse(code).ok_or_else(|| {
        new_error(
            py,
            ErrorCode::InvalidParams,
            format!("unknown error code `{code}`"),
        )
    })?;
    let details = match details_json {
        Some(text) => serde_json::from_str(text).map_err(|e| {
            new_error(
                py,
                ErrorCode::InvalidParams,
                format!("details_json is not JSON: {e}"),
            )
        })?,
        None => serde_json::Value::Null,
    };
    let err = ConnectorError::new(code, message)
        .with_details(details)
        .with_retry_after(retry_after.map(std::time::Duration::from_secs_f64));
    Err(to_pyerr(py, &err))
}
