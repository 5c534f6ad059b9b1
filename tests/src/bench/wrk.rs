//! Driving wrk (Debian package `wrk`) and reading CPU times from /proc.

use std::process::Command;

/// What one wrk run reported.
#[derive(Debug, Clone, Default)]
pub struct WrkRun {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Socket errors plus non-2xx/3xx responses.
    pub errors: u64,
}

pub fn available() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// A Lua script that makes every request a POST with `body` and `headers`.
pub fn post_script(body: &str, headers: &[(&str, &str)]) -> String {
    let mut s = format!("wrk.method = \"POST\"\nwrk.body = [[{body}]]\n");
    for (k, v) in headers {
        s.push_str(&format!("wrk.headers[\"{k}\"] = \"{v}\"\n"));
    }
    s
}

fn duration_us(s: &str) -> Option<f64> {
    let (num, mult) = if let Some(n) = s.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e6)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|x| x * mult)
}

/// Parses wrk's `--latency` output.
pub fn parse(out: &str) -> Option<WrkRun> {
    let mut r = WrkRun::default();
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => r.p50_us = duration_us(v)?,
            ["99%", v] => r.p99_us = duration_us(v)?,
            ["Requests/sec:", v] => r.rps = v.parse().ok()?,
            [n, "requests", "in", ..] => r.requests = n.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => r.errors += n.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                r.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    (r.requests > 0).then_some(r)
}

pub fn run(args: &[String]) -> Result<WrkRun, String> {
    let out = Command::new("wrk")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse(&text).ok_or_else(|| format!("could not read wrk's output: {text}"))
}

/// CPU times in µs: a process (the server), this process (emulator + bench) and this
/// process's waited-for children (wrk).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub server_us: f64,
    pub self_us: f64,
    pub children_us: f64,
}

/// (utime + stime, cutime + cstime) of a process in µs, from /proc/PID/stat.
fn stat_us(pid: &str) -> (f64, f64) {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return (0.0, 0.0);
    };
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(0.0))
        .collect();
    // utime=14 stime=15 cutime=16 cstime=17 (1-based), i.e. rest index 11..=14.
    let tick = 1e6 / clock_ticks();
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0);
    ((get(11) + get(12)) * tick, (get(13) + get(14)) * tick)
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

impl Cpu {
    pub fn sample(server_pid: u32) -> Cpu {
        let (server_us, _) = stat_us(&server_pid.to_string());
        let (self_us, children_us) = stat_us("self");
        Cpu {
            server_us,
            self_us,
            children_us,
        }
    }
    pub fn since(&self, before: &Cpu) -> Cpu {
        Cpu {
            server_us: self.server_us - before.server_us,
            self_us: self.self_us - before.self_us,
            children_us: self.children_us - before.children_us,
        }
    }
}
