//! Server cases: `POST .../execute` over HTTP driven by wrk at c=1 and c=64 against the same
//! load sent straight to the emulator, CPU time per request from /proc, and the server's RSS
//! idle, with 10,000 connectors stored and under c=256 load.
//!
//! The server runs as its own process (`target/release/connectors serve`, built first if
//! missing) with `CONNECTORS_GMAIL_BASE_URL` pointing at a Gmail emulator in this process
//! (quotas off); the connector holds an access token, so every execute does token auth, the
//! store lookup, decryption and the provider call.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::inproc::gmail_sandbox;
use super::wrk::{self, Cpu, WrkRun};
use super::{Figure, Sizes};

const CASE: &str = "server execute over HTTP";
const TOKEN: &str = "bench-token";

/// The server binary beside the running executable (the bench: `target/release`; a test
/// binary: one level down, in `deps`), built with the same profile first if it is missing.
pub(crate) fn connectors_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let find = || {
        [exe.parent(), exe.parent().and_then(std::path::Path::parent)]
            .into_iter()
            .flatten()
            .map(|d| d.join("connectors"))
            .find(|b| b.exists())
    };
    if let Some(bin) = find() {
        return Some(bin);
    }
    let release = !cfg!(debug_assertions);
    eprintln!("building the server: cargo build -p server --bin connectors (release: {release})");
    let ok = Command::new(env!("CARGO"))
        .args(["build", "-p", "server", "--bin", "connectors"])
        .args(if release { &["--release"][..] } else { &[][..] })
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    find()
}

fn cli_json(bin: &PathBuf, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(bin)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Resident set size of a process in MB (VmRSS).
pub fn rss_mb(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Anonymous and file-backed resident MB (`RssAnon`, `RssFile`): the file part is the binary's
/// own code and embedded data paged in, shared and reclaimable; the anonymous part is the heap.
pub fn rss_parts(pid: u32) -> Option<(f64, f64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let kb: f64 = s
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    };
    Some((field("RssAnon:")?, field("RssFile:")?))
}

fn idle_note(parts: Option<(f64, f64)>) -> String {
    parts.map_or_else(String::new, |(anon, file)| {
        format!("anonymous (heap) {anon:.1} MB, file-backed (the binary's code and data paged in) {file:.1} MB")
    })
}

/// A `connectors serve` process with an organization and an application's bearer token.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    pub(crate) org: String,
    pub(crate) token: String,
    pub(crate) http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(
        bin: &PathBuf,
        dir: &std::path::Path,
        gmail_base: &str,
    ) -> Result<Server, String> {
        // Extra `serve` options for comparisons (e.g. `--token-cache-ms 0`), space-separated.
        let extra = std::env::var("BENCH_SERVER_ARGS").unwrap_or_default();
        let mut args: Vec<String> = extra.split_whitespace().map(str::to_string).collect();
        // wrk, the emulator and the server share 2 cores: one HTTP worker (see
        // docs/benchmarks.md); BENCH_SERVER_ARGS="--workers N" overrides it.
        if !extra.contains("--workers") {
            args.extend(["--workers".into(), "1".into()]);
        }
        let env = [("CONNECTORS_GMAIL_BASE_URL", gmail_base.to_string())];
        Server::spawn(bin, dir, free_port(), &args, &env).await
    }

    /// Creates an organization and an application in a fresh data directory, starts
    /// `connectors serve` on `port` with `args` and `env` (`RUST_LOG=warn`), waits until it
    /// answers and takes the application's bearer token.
    pub(crate) async fn spawn(
        bin: &PathBuf,
        dir: &std::path::Path,
        port: u16,
        args: &[String],
        env: &[(&str, String)],
    ) -> Result<Server, String> {
        let d = dir.to_str().ok_or("data dir")?;
        let org = cli_json(bin, &["orgs", "create", "bench", "--data-dir", d])?;
        let org = org["organization_id"].as_str().ok_or("org id")?.to_string();
        let app = cli_json(bin, &["apps", "create", "--org", &org, "--data-dir", d])?;
        let child = Command::new(bin)
            .args([
                "serve",
                "--data-dir",
                d,
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut server = Server {
            child,
            base,
            org,
            token: String::new(),
            http,
        };
        let start = Instant::now();
        while server
            .http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_err()
        {
            if start.elapsed() > Duration::from_secs(20) {
                return Err("the server did not come up in 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let tok: Value = server
            .http
            .post(format!("{}/api/v1/account/applications/token", server.base))
            .json(&json!({"client_id": app["client_id"], "client_secret": app["client_secret"]}))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        server.token = tok["access_token"]
            .as_str()
            .ok_or_else(|| format!("no access token: {tok}"))?
            .to_string();
        Ok(server)
    }

    async fn create_connector(&self, customer: &str) -> Result<String, String> {
        self.create_connector_of("gmail", customer).await
    }

    /// A connector of `kind` holding the bench's access token (the emulators take any token
    /// as their default user).
    pub(crate) async fn create_connector_of(
        &self,
        kind: &str,
        customer: &str,
    ) -> Result<String, String> {
        let body = json!({"customer_name": customer, "connector_type": kind,
                          "credentials": {"access_token": TOKEN}});
        let v = self
            .call(
                reqwest::Method::POST,
                "/api/v1/integrations/connectors",
                &body,
            )
            .await?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("create connector: {v}"))
    }

    /// An authenticated API call with a JSON body; the answer's JSON, or the status and
    /// body when it is not a success.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, String> {
        let (status, v) = self.request(method, path, body).await?;
        if !status.is_success() {
            return Err(format!("{path}: {status} {v}"));
        }
        Ok(v)
    }

    /// An authenticated API call with a JSON body: the status and the answer's JSON.
    pub(crate) async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<(reqwest::StatusCode, Value), String> {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("X-Organization-Id", &self.org)
            .json(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let v: Value = r.json().await.map_err(|e| e.to_string())?;
        Ok((status, v))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn not_measured(figs: &mut Vec<Figure>, why: &str) {
    figs.push(
        Figure::new(CASE, "not measured", "—")
            .target_text("c=1 added <= 150 µs; c=64 >= 40% of direct")
            .note(why),
    );
}

pub fn run(sizes: Sizes, smoke: bool, figs: &mut Vec<Figure>) {
    if !wrk::available() {
        return not_measured(figs, "wrk not installed (apt-get install -y wrk)");
    }
    let Some(bin) = connectors_bin() else {
        return not_measured(figs, "the connectors binary could not be built");
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (sb, ids) = rt.block_on(async { gmail_sandbox(50) });
    let dir = std::env::temp_dir().join(format!("bench-server-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data dir");
    let result = rt.block_on(Server::start(&bin, &dir, &sb.base_url()));
    let server = match result {
        Ok(s) => s,
        Err(e) => return not_measured(figs, &format!("server did not start: {e}")),
    };
    let secs = if smoke { 2 } else { 10 };
    let id = &ids[0];
    let cid = match rt.block_on(server.create_connector("bench")) {
        Ok(c) => c,
        Err(e) => return not_measured(figs, &e),
    };
    std::thread::sleep(Duration::from_secs(1));
    let rss_idle = rss_mb(server.pid());
    let rss_idle_parts = rss_parts(server.pid());

    let direct_url = format!(
        "{}/gmail/v1/users/me/messages/{id}?format=full",
        sb.base_url()
    );
    let exec_url = format!(
        "{}/api/v1/integrations/connectors/{cid}/execute",
        server.base
    );
    let body =
        json!({"entity": "messages", "action": "get", "params": {"message_id": id}}).to_string();
    let script = dir.join("execute.lua");
    std::fs::write(
        &script,
        wrk::post_script(
            &body,
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &format!("Bearer {}", server.token)),
                ("X-Organization-Id", &server.org),
            ],
        ),
    )
    .expect("lua script");
    let direct_auth = format!("Authorization: Bearer {TOKEN}");
    let pid = server.pid();
    let run_wrk = |url: &str, c: usize, lua: bool, d: u64| -> Result<(WrkRun, Cpu), String> {
        let before = Cpu::sample(pid);
        let mut args: Vec<String> = vec![
            format!("-t{}", c.min(2)),
            format!("-c{c}"),
            format!("-d{d}s"),
            "--latency".into(),
        ];
        if lua {
            args.push("-s".into());
            args.push(script.display().to_string());
        } else {
            args.push("-H".into());
            args.push(direct_auth.clone());
        }
        args.push(url.into());
        let w = wrk::run(&args)?;
        let cpu = Cpu::sample(pid).since(&before);
        Ok((w, cpu))
    };
    // Warm-up both paths.
    let _ = run_wrk(&direct_url, 4, false, 1);
    let _ = run_wrk(&exec_url, 4, true, 1);
    // Each pair (direct, then through the server) runs `reps` times; the pair with the median
    // figure (c=1: added median latency; c=64: throughput ratio) is reported, with all of them
    // in the note: one 10 s run on a shared machine can land on someone else's compile.
    let reps = if smoke { 1 } else { 3 };
    for c in [1usize, 64] {
        let mut pairs = Vec::new();
        let mut failed = None;
        for rep in 0..reps {
            let direct = run_wrk(&direct_url, c, false, secs);
            let perf = if rep == 0 {
                perf_record(pid, c, secs)
            } else {
                None
            };
            let via = run_wrk(&exec_url, c, true, secs);
            if let Some(mut p) = perf {
                let _ = p.wait();
            }
            match (direct, via) {
                (Ok(d), Ok(s)) => pairs.push((d, s)),
                (Err(e), _) | (_, Err(e)) => failed = Some(e),
            }
        }
        if pairs.is_empty() {
            let e = failed.unwrap_or_default();
            not_measured(figs, &format!("wrk at c={c}: {e}"));
            continue;
        }
        let key = |p: &((WrkRun, Cpu), (WrkRun, Cpu))| {
            if c == 1 {
                p.1 .0.p50_us - p.0 .0.p50_us
            } else {
                p.1 .0.rps / p.0 .0.rps
            }
        };
        let mut keys: Vec<f64> = pairs.iter().map(key).collect();
        pairs.sort_by(|a, b| key(a).total_cmp(&key(b)));
        keys.sort_by(|a, b| a.total_cmp(b));
        let ((d, dcpu), (s, scpu)) = &pairs[pairs.len() / 2];
        let all = if c == 1 {
            format!(
                "median of {} runs; added median of each: {} µs",
                keys.len(),
                keys.iter()
                    .map(|k| format!("{k:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "median of {} runs; ratio of each: {}",
                keys.len(),
                keys.iter()
                    .map(|k| format!("{k:.3}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        push_pair(figs, c, d, dcpu, s, scpu, &all);
    }

    if sizes.rss_secs == 0 {
        if let Some(r) = rss_idle {
            figs.push(
                Figure::new("server RSS", "idle (1 connector)", "MB")
                    .median(r)
                    .target("<= 30 MB", r <= 30.0)
                    .note(idle_note(rss_idle_parts)),
            );
        }
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    // 10,000 connectors stored (c=64 creates).
    let stored = if smoke { 500 } else { 10_000 };
    let created = rt.block_on(create_many(&server, stored));
    std::thread::sleep(Duration::from_secs(1));
    let rss_stored = rss_mb(pid);

    // c=256 load over a run, RSS sampled every second.
    let load_secs = sizes.rss_secs;
    let sampler = {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let h = std::thread::spawn(move || {
            let mut v = Vec::new();
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(r) = rss_mb(pid) {
                    v.push(r);
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            v
        });
        (stop, h)
    };
    let load = run_wrk(&exec_url, 256, true, load_secs);
    sampler.0.store(true, std::sync::atomic::Ordering::Relaxed);
    let samples = sampler.1.join().unwrap_or_default();

    let rss = "server RSS";
    if let Some(r) = rss_idle {
        figs.push(
            Figure::new(rss, "idle (1 connector)", "MB")
                .median(r)
                .target("<= 30 MB", r <= 30.0)
                .note(idle_note(rss_idle_parts)),
        );
    }
    if let Some(r) = rss_stored {
        let full = created == 10_000;
        let f = Figure::new(rss, &format!("{created} connectors stored"), "MB").median(r);
        figs.push(if full {
            f.target("<= 60 MB", r <= 60.0)
        } else {
            f.target_text("<= 60 MB at 10,000")
                .note("--smoke: fewer connectors")
        });
    }
    if !samples.is_empty() {
        let mut sorted = samples.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let max = *sorted.last().unwrap_or(&0.0);
        let k = (samples.len() / 10).max(1);
        let first: f64 = samples[..k].iter().sum::<f64>() / k as f64;
        let last: f64 = samples[samples.len() - k..].iter().sum::<f64>() / k as f64;
        let flat = last <= first * 1.10 + 2.0;
        let deciles: Vec<String> = samples
            .chunks(samples.len().div_ceil(10))
            .map(|c| format!("{:.1}", c.iter().sum::<f64>() / c.len() as f64))
            .collect();
        if let Some(path) = std::env::var_os("BENCH_RSS_SERIES") {
            let text: String = samples.iter().map(|r| format!("{r:.2}\n")).collect();
            let _ = std::fs::write(path, text);
        }
        let note = match &load {
            Ok((w, _)) => format!(
                "{} samples over {load_secs} s at c=256, {:.0} req/s, {} errors; first 10% avg {first:.1} MB, last 10% avg {last:.1} MB; avg per tenth of the run: {}",
                samples.len(), w.rps, w.errors, deciles.join(", ")
            ),
            Err(e) => format!("wrk failed: {e}"),
        };
        figs.push(
            Figure::new(
                rss,
                "under c=256 load (max; median in p99 column = median)",
                "MB",
            )
            .median(max)
            .p99(super::percentile(&sorted, 50.0))
            .target(
                "<= 120 MB and flat (last 10% <= first 10% + 10%)",
                max <= 120.0 && flat,
            )
            .note(note),
        );
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    drop(sb);
}

/// With `BENCH_PERF_DIR` set: `perf record -e cpu-clock --call-graph fp` (or
/// `BENCH_PERF_CALLGRAPH`, e.g. `dwarf`) of the server process during the
/// run through the server at concurrency `c` (`server-c{c}.perf.data` in that directory), for
/// `perf report -i ... --no-children`. Software sampling: hardware counters are not available
/// on every (virtual) machine.
fn perf_record(pid: u32, c: usize, secs: u64) -> Option<Child> {
    let dir = std::env::var_os("BENCH_PERF_DIR")?;
    let out = PathBuf::from(dir).join(format!("server-c{c}.perf.data"));
    Command::new("perf")
        .args([
            "record",
            "-q",
            "-e",
            "cpu-clock",
            "-F",
            "1999",
            "--call-graph",
        ])
        // `fp` (default) is cheap but stops at async frames; `dwarf` unwinds them (big files).
        .arg(std::env::var("BENCH_PERF_CALLGRAPH").unwrap_or_else(|_| "fp".into()))
        .arg("-p")
        .arg(pid.to_string())
        .arg("-o")
        .arg(&out)
        .args(["--", "sleep", &secs.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| eprintln!("perf record: {e}"))
        .ok()
}

async fn create_many(server: &Server, n: usize) -> usize {
    use futures::StreamExt;
    let done = futures::stream::iter(0..n.saturating_sub(1))
        .map(|i| async move {
            server
                .create_connector(&format!("customer-{i}"))
                .await
                .is_ok()
        })
        .buffer_unordered(32)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    done + 1
}

fn push_pair(
    figs: &mut Vec<Figure>,
    c: usize,
    d: &WrkRun,
    dcpu: &Cpu,
    s: &WrkRun,
    scpu: &Cpu,
    reps: &str,
) {
    let errs = if d.errors + s.errors > 0 {
        format!("; ERRORS: direct {} server {}", d.errors, s.errors)
    } else {
        String::new()
    };
    let cpu_note = format!(
        "CPU µs/request: server {:.0}, emulator+bench {:.0}, wrk {:.0} (direct run: emulator {:.0}, wrk {:.0}){errs}",
        scpu.server_us / s.requests as f64,
        scpu.self_us / s.requests as f64,
        scpu.children_us / s.requests as f64,
        dcpu.self_us / d.requests as f64,
        dcpu.children_us / d.requests as f64,
    );
    // Issue 27: the server's CPU per execute against the emulator's per request for the same
    // call (the direct run, where the bench process is the emulator alone).
    let server_cpu = scpu.server_us / s.requests as f64;
    let emulator_cpu = dcpu.self_us / d.requests as f64;
    figs.push(
        Figure::new(CASE, &format!("c={c} server CPU per execute"), "µs")
            .median(server_cpu)
            .baseline(emulator_cpu)
            .ratio(server_cpu / emulator_cpu)
            .target(
                "<= 1.5x the emulator's CPU per request",
                server_cpu <= 1.5 * emulator_cpu,
            )
            .note(
                "utime + stime of the server process / requests, in the run the next row reports; baseline: the emulator's per request in the same pair's direct run (the bench process holds only the emulator there)"
            ),
    );
    if c == 1 {
        let added = s.p50_us - d.p50_us;
        figs.push(
            Figure::new(CASE, "c=1 latency via server", "µs")
                .median(s.p50_us)
                .p99(s.p99_us)
                .baseline(d.p50_us)
                .ratio(s.p50_us / d.p50_us)
                .target("added median <= 150 µs", added <= 150.0 && errs.is_empty())
                .note(format!(
                    "added median {added:.0} µs; direct p99 {:.0} µs; {cpu_note}; {reps}",
                    d.p99_us
                )),
        );
    } else {
        let ratio = s.rps / d.rps;
        figs.push(
            Figure::new(CASE, &format!("c={c} throughput via server"), "req/s")
                .median(s.rps)
                .baseline(d.rps)
                .ratio(ratio)
                .target(">= 40% of direct", ratio >= 0.4 && errs.is_empty())
                .note(format!(
                    "latency median {:.0} µs p99 {:.0} µs (direct {:.0} / {:.0}); {cpu_note}; {reps}",
                    s.p50_us, s.p99_us, d.p50_us, d.p99_us
                )),
        );
    }
}
