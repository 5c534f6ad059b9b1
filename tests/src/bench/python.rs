//! Python binding case: `execute_sync` / `await execute` against raw httpx.
//!
//! Not measured by this command yet: it needs the `agent_connectors` extension built and
//! installed into a venv (`pip install ./python`, a maturin release build of the whole stack,
//! several minutes on 2 cores), which did not fit the session that wrote this suite. The figure
//! says so instead of a number.

use super::Figure;

pub fn run(_smoke: bool, figs: &mut Vec<Figure>) {
    figs.push(
        Figure::new("Python execute_sync / await execute", "not measured", "—")
            .target_text("<= 1.2x raw httpx")
            .note(
                "the python package was not built/installed for this run; see docs/benchmarks.md",
            ),
    );
}
