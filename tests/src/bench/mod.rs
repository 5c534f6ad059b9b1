//! The benchmark suite: cases against the sandbox emulators over loopback, each figure
//! reported with its median, p99, the baseline measured in the same run, the ratio and the
//! target. The smoke test (`tests/tests/bench_smoke.rs`) runs the same cases in tiny sizes and
//! asserts counts only.

pub mod agent;
pub mod context;
pub mod events;
pub mod inproc;
pub mod mime;
pub mod python;
pub mod report;
pub mod server;
pub mod stampede;
pub mod wrk;

use std::time::Duration;

use serde_json::{json, Value};

/// Latency samples of one series.
#[derive(Debug, Clone, Default)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }
    fn sorted_us(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.0.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v
    }
    /// Nearest-rank percentile in µs (`p` in 0..=100).
    pub fn percentile_us(&self, p: f64) -> f64 {
        percentile(&self.sorted_us(), p)
    }
    pub fn median_us(&self) -> f64 {
        self.percentile_us(50.0)
    }
    pub fn p99_us(&self) -> f64 {
        self.percentile_us(99.0)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One reported figure.
#[derive(Debug, Clone)]
pub struct Figure {
    pub case: String,
    pub name: String,
    pub unit: String,
    pub median: Option<f64>,
    pub p99: Option<f64>,
    /// The baseline's value in the same run (same unit), if the figure has one.
    pub baseline: Option<f64>,
    /// value / baseline (or the figure itself when it is already a ratio).
    pub ratio: Option<f64>,
    /// The target, as text (e.g. `<= 50 µs`).
    pub target: String,
    /// `None`: no target or not measured.
    pub pass: Option<bool>,
    pub note: String,
}

impl Figure {
    pub fn new(case: &str, name: &str, unit: &str) -> Figure {
        Figure {
            case: case.into(),
            name: name.into(),
            unit: unit.into(),
            median: None,
            p99: None,
            baseline: None,
            ratio: None,
            target: String::new(),
            pass: None,
            note: String::new(),
        }
    }
    pub fn median(mut self, v: f64) -> Self {
        self.median = Some(v);
        self
    }
    pub fn p99(mut self, v: f64) -> Self {
        self.p99 = Some(v);
        self
    }
    pub fn baseline(mut self, v: f64) -> Self {
        self.baseline = Some(v);
        self
    }
    pub fn ratio(mut self, v: f64) -> Self {
        self.ratio = Some(v);
        self
    }
    /// Sets the target text and whether it held.
    pub fn target(mut self, text: &str, pass: bool) -> Self {
        self.target = text.into();
        self.pass = Some(pass);
        self
    }
    pub fn target_text(mut self, text: &str) -> Self {
        self.target = text.into();
        self
    }
    pub fn note(mut self, n: impl Into<String>) -> Self {
        self.note = n.into();
        self
    }
    pub fn to_json(&self) -> Value {
        json!({
            "case": self.case, "name": self.name, "unit": self.unit,
            "median": self.median, "p99": self.p99, "baseline": self.baseline,
            "ratio": self.ratio, "target": self.target,
            "pass": self.pass, "note": self.note,
        })
    }
}

/// Sizes of one run (`--smoke` shrinks them).
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Iterations of the single-call latency case (after warm-up).
    pub latency_iters: usize,
    /// Messages fetched by the bulk case (zero latency: request counts).
    pub bulk_messages: usize,
    /// Messages fetched again with `bulk_latency` set on the emulators (wall-time ratio).
    pub bulk_latency_messages: usize,
    pub bulk_latency: Duration,
    /// Concurrent executes per stampede, and stampede rounds.
    pub stampede_calls: usize,
    pub stampede_rounds: usize,
    /// Length of the server's c=256 RSS run in seconds (0: skip the RSS part).
    pub rss_secs: u64,
    /// Scale of the MIME corpus (1 = full: attachments up to 10 MB).
    pub mime_full: bool,
}

impl Sizes {
    pub fn full() -> Sizes {
        Sizes {
            latency_iters: 5_000,
            bulk_messages: 10_000,
            bulk_latency_messages: 1_000,
            bulk_latency: Duration::from_millis(10),
            rss_secs: 120,
            stampede_calls: 1_000,
            stampede_rounds: 5,
            mime_full: true,
        }
    }
    pub fn smoke() -> Sizes {
        Sizes {
            latency_iters: 200,
            bulk_messages: 500,
            bulk_latency_messages: 100,
            bulk_latency: Duration::from_millis(2),
            rss_secs: 5,
            stampede_calls: 200,
            stampede_rounds: 2,
            mime_full: false,
        }
    }
}
