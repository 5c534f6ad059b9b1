//! Python binding case: `execute_sync` / `await execute` from `agent_connectors` against raw
//! `httpx` (sync and async clients, keep-alive) to the same emulator URL.
//!
//! Runs `python/bench/bench_python.py` with the interpreter named by `BENCH_PYTHON` (default
//! `python3`), which needs the package and httpx installed, e.g.:
//!
//! ```sh
//! python3 -m venv /tmp/bench-venv
//! MATURIN_PEP517_ARGS="--profile release" /tmp/bench-venv/bin/pip install ./python httpx
//! BENCH_PYTHON=/tmp/bench-venv/bin/python cargo run --release -p tests --bin bench -- --cases python
//! ```
//!
//! Without them the figure says "not measured" and why, instead of a number.

use std::process::Command;

use serde_json::Value;

use super::Figure;

const CASE: &str = "Python messages.get (agent_connectors)";

fn script() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../python/bench/bench_python.py"
    )
    .to_string()
}

fn not_measured(figs: &mut Vec<Figure>, why: String) {
    figs.push(
        Figure::new(CASE, "not measured", "—")
            .target_text("<= 1.2x raw httpx")
            .note(why),
    );
}

pub fn run(smoke: bool, figs: &mut Vec<Figure>) {
    let python = std::env::var("BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let (iters, warmup) = if smoke { ("50", "10") } else { ("3000", "300") };
    let out = Command::new(&python)
        .args([&script(), "--iters", iters, "--warmup", warmup])
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return not_measured(figs, format!("could not run {python}: {e}")),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default().to_string();
        return not_measured(
            figs,
            format!(
                "{python} python/bench/bench_python.py failed ({last}); install the package and httpx, set BENCH_PYTHON (see docs/benchmarks.md)"
            ),
        );
    }
    let v: Value = match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => return not_measured(figs, format!("unreadable output of the script: {e}")),
    };
    let env = format!(
        "{} {}, httpx {}",
        v["implementation"].as_str().unwrap_or("?"),
        v["python"].as_str().unwrap_or("?"),
        v["httpx"].as_str().unwrap_or("?")
    );
    for (mode, name, base) in [
        ("sync", "execute_sync", "httpx.Client"),
        ("async", "await execute", "httpx.AsyncClient"),
    ] {
        let m = &v[mode];
        let (Some(e), Some(r)) = (
            m["execute"]["median_us"].as_f64(),
            m["raw"]["median_us"].as_f64(),
        ) else {
            not_measured(figs, format!("no {mode} figures in the script's output"));
            continue;
        };
        let ratio = e / r;
        figs.push(
            Figure::new(CASE, &format!("{name} latency"), "µs")
                .median(e)
                .p99(m["execute"]["p99_us"].as_f64().unwrap_or(f64::NAN))
                .baseline(r)
                .ratio(ratio)
                .target("<= 1.2x raw httpx", ratio <= 1.2)
                .note(format!(
                    "{} calls alternating with a raw {base} GET + .json() of the same URL (baseline p99 {:.0} µs); {env}",
                    m["execute"]["n"].as_u64().unwrap_or(0),
                    m["raw"]["p99_us"].as_f64().unwrap_or(f64::NAN)
                )),
        );
    }
}
