// Core's `ConnectorError` is the error type of every call; its size is core's decision.
#![allow(clippy::result_large_err)]
use pyo3::prelude::*;
mod errors;
#[allow(dead_code)] // wired into NativeConnector once connector-core lands
mod hosted;
#[allow(dead_code)]
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(errors::error_table, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_raise_error, m)?)?;
    Ok(())
}
