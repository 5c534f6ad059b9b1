//! `agent_connectors._native`: the private native module behind the `agent_connectors` package.
//!
//! A thin shell over connector-core and the Gmail/Outlook crates: no connector logic lives here.
//! Params and results cross the boundary as JSON text (the Python side does `json.loads`), so
//! the Rust side never needs the GIL to build or read them. All I/O runs on one shared tokio
//! runtime with the GIL released.

// Core's `ConnectorError` is the error type of every call; its size is core's decision.
#![allow(clippy::result_large_err)]

use pyo3::prelude::*;

mod connector;
mod errors;
mod hosted;
mod local;
mod sandbox;
mod spec;

/// mimalloc for the Rust side of the module, as in the `connectors` binary: glibc's malloc and
/// free were 27% of the in-process `messages.get` bench's instructions (callgrind,
/// docs/benchmarks.md). A `#[global_allocator]` applies to the artifact that declares it, so
/// this one covers the module's own allocations only; CPython's allocator and other extensions
/// are untouched.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The one tokio runtime every connector, sandbox and awaitable of this process shares.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(errors::error_table, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_raise_error, m)?)?;
    m.add_function(wrap_pyfunction!(spec::spec_json, m)?)?;
    m.add_function(wrap_pyfunction!(spec::tools_json, m)?)?;
    m.add_function(wrap_pyfunction!(spec::execute_tool_json, m)?)?;
    m.add_function(wrap_pyfunction!(spec::catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(spec::tool_index_json, m)?)?;
    m.add_class::<connector::NativeConnector>()?;
    m.add_class::<sandbox::NativeSandbox>()?;
    Ok(())
}
