//! The machine description, the printed table, `docs/benchmarks.json` and the figures part of
//! `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use super::Figure;

fn first_line_with(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn command(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// nproc, CPU model, memory, rustc version, date, kernel.
pub fn machine() -> Value {
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": first_line_with("/proc/cpuinfo", "model name"),
        "memory_total": first_line_with("/proc/meminfo", "MemTotal"),
        "rustc": command("rustc", &["--version"]),
        "kernel": command("uname", &["-sr"]),
        "date_utc": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        // The machine is shared: the load when the run started says how noisy it was.
        "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.trim().to_string()),
    })
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(x) if x.is_nan() => "—".into(),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}"),
    }
}

fn verdict(p: Option<bool>) -> &'static str {
    match p {
        Some(true) => "pass",
        Some(false) => "MISS",
        None => "—",
    }
}

/// A Markdown table of every figure (also printed to the terminal).
pub fn table(figures: &[Figure]) -> String {
    let mut s = String::from(
        "| case | figure | unit | median | p99 | baseline | ratio | target | result | note |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for f in figures {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.case,
            f.name,
            f.unit,
            num(f.median),
            num(f.p99),
            num(f.baseline),
            num(f.ratio),
            f.target,
            verdict(f.pass),
            f.note
        );
    }
    s
}

pub fn to_json(machine: &Value, mode: &str, figures: &[Figure]) -> Value {
    json!({
        "machine": machine,
        "mode": mode,
        "figures": figures.iter().map(Figure::to_json).collect::<Vec<_>>(),
    })
}

/// Reads `benchmarks.json` (an empty object when missing or unreadable), changes it, writes it.
fn update_json(dir: &Path, change: impl FnOnce(&mut Value)) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("benchmarks.json");
    let mut v: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    change(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v)? + "\n")
}

/// Writes the JSON file (the blocks of the cases that write their own, `blocks`, stay as
/// they are) and replaces the results block of the Markdown page (the hand-written rest of
/// the page, analysis and profiles, stays as it is).
pub fn write(dir: &Path, machine: &Value, mode: &str, figures: &[Figure]) -> std::io::Result<()> {
    update_json(dir, |v| {
        let blocks = v.get("blocks").cloned();
        *v = to_json(machine, mode, figures);
        if let Some(b) = blocks {
            v["blocks"] = b;
        }
    })?;
    write_md_block(dir, "results", "Results", machine, mode, figures)
}

/// The figures of a case that keeps its own block (so it can run alone without replacing the
/// results of the others): `blocks.{name}` of the JSON file and the Markdown block `{name}`.
pub fn write_block(
    dir: &Path,
    name: &str,
    title: &str,
    machine: &Value,
    mode: &str,
    figures: &[Figure],
) -> std::io::Result<()> {
    update_json(dir, |v| v["blocks"][name] = to_json(machine, mode, figures))?;
    write_md_block(dir, name, title, machine, mode, figures)
}

/// Replaces (or appends under `## {title}`) the block `<!-- bench:{name}:begin -->` ..
/// `<!-- bench:{name}:end -->` of benchmarks.md with the figures of one run.
fn write_md_block(
    dir: &Path,
    name: &str,
    title: &str,
    machine: &Value,
    mode: &str,
    figures: &[Figure],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (begin, end) = (
        format!("<!-- bench:{name}:begin -->"),
        format!("<!-- bench:{name}:end -->"),
    );
    let mut block = format!(
        "{begin}\nResults of the last run (`{mode}`), written by the bench command. Machine: {} CPU(s), \
         {}, memory {}, {}, {}, {}, load average at start {}.\n\n",
        machine["nproc"],
        machine["cpu_model"].as_str().unwrap_or("?"),
        machine["memory_total"].as_str().unwrap_or("?"),
        machine["rustc"].as_str().unwrap_or("?"),
        machine["kernel"].as_str().unwrap_or("?"),
        machine["date_utc"].as_str().unwrap_or("?"),
        machine["loadavg_at_start"].as_str().unwrap_or("?"),
    );
    block.push_str(&table(figures));
    block.push_str(&end);
    let md_path = dir.join("benchmarks.md");
    let old = std::fs::read_to_string(&md_path).unwrap_or_default();
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(a), Some(b)) if b > a => format!("{}{}{}", &old[..a], block, &old[b + end.len()..]),
        _ => format!("{old}\n## {title}\n\n{block}\n"),
    };
    std::fs::write(md_path, new)
}
