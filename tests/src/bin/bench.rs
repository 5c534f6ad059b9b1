//! `cargo run --release -p tests --bin bench [-- --smoke] [--cases overhead,bulk,...]`
//!
//! Runs the benchmark cases of issue 12 against the sandbox emulators over loopback, prints a
//! table and writes `docs/benchmarks.md` (results block) and `docs/benchmarks.json`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use tests::bench::inproc::OutlookDelay;
use tests::bench::{self, inproc, mime, report, stampede, Figure, Sizes};

/// mimalloc, as in the programs that run the connectors (the `connectors` binary and the
/// Python module): the in-process cases measure the code as they run it, and both sides of
/// each pair (execute and the raw request) run on it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ALL: &[&str] = &[
    "overhead", "bulk", "stampede", "mime", "server", "python", "context", "events", "agent",
];

#[derive(Parser, Debug)]
#[command(about = "Connector benchmark suite (issue 12)")]
struct Args {
    /// Tiny sizes and short runs (seconds), for checking the command itself.
    #[arg(long)]
    smoke: bool,
    /// Comma-separated cases to run: overhead, bulk, stampede, mime, server, python, context,
    /// events, agent (default all).
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// Where benchmarks.md and benchmarks.json go [default: the workspace's docs/].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Length of the server's c=256 RSS run in seconds [default: 120; --smoke: 5]; 0 skips
    /// the 10,000-connector and load RSS figures.
    #[arg(long)]
    rss_secs: Option<u64>,
    /// Print the table only; write no files.
    #[arg(long)]
    no_write: bool,
}

fn ratio_fig(f: Figure, value: f64, base: f64) -> Figure {
    f.baseline(base).ratio(value / base)
}

async fn overhead(sizes: Sizes, figs: &mut Vec<Figure>) {
    let o = inproc::overhead(sizes.latency_iters).await;
    let (e, r) = (o.execute.median_us(), o.raw.median_us());
    let added = e - r;
    let ratio = e / r;
    let case = "in-process messages.get (Gmail)";
    let n = o.execute.len();
    figs.push(
        ratio_fig(Figure::new(case, "execute latency", "µs"), e, r)
            .median(e)
            .p99(o.execute.p99_us())
            .target("ratio <= 1.3", ratio <= 1.3)
            .note(format!("{n} calls, alternating with the raw GET")),
    );
    figs.push(
        Figure::new(case, "raw reqwest GET + JSON parse (baseline)", "µs")
            .median(r)
            .p99(o.raw.p99_us()),
    );
    figs.push(
        Figure::new(case, "added median latency", "µs")
            .median(added)
            .target("<= 20 µs (issue 27)", added <= 20.0)
            .note("includes validation, token, MIME decode of the payload, result shaping"),
    );
}

/// Request counts (and the CPU-bound wall ratio) of the zero-latency run.
fn bulk_counts(provider: &str, b: &inproc::Bulk, per: usize, figs: &mut Vec<Figure>) {
    let case = format!("fetch {} messages ({provider})", b.messages);
    let limit = b.messages.div_ceil(per) as u64;
    let mut f = Figure::new(&case, "get_many HTTP requests", "requests")
        .median(b.requests_many as f64)
        .target(
            &format!("<= {}/{per} = {limit}", b.messages),
            b.requests_many <= limit,
        );
    if let Some(one) = b.requests_one {
        f = ratio_fig(f, b.requests_many as f64, one as f64);
    }
    figs.push(f.note("counted by the emulator"));
    let wm = b.wall_many.as_secs_f64() * 1e3;
    let mut f = Figure::new(&case, "get_many wall time, zero latency (CPU-bound)", "ms").median(wm);
    if let Some(one) = b.wall_one {
        f = ratio_fig(f, wm, one.as_secs_f64() * 1e3);
    }
    figs.push(f.note(
        "loopback, no emulator latency: both sides are CPU-bound (the emulator renders and the connector decodes every message either way); no target, see the latency run",
    ));
}

/// Wall time of a run with emulator latency: the figure the <= 10% target is about.
fn bulk_wall(provider: &str, b: &inproc::Bulk, delay: &str, how: &str, figs: &mut Vec<Figure>) {
    let case = format!("fetch {} messages ({provider}), {delay}", b.messages);
    let wm = b.wall_many.as_secs_f64() * 1e3;
    let mut f = Figure::new(&case, "get_many wall time", "ms").median(wm);
    if let Some(one) = b.wall_one {
        let wo = one.as_secs_f64() * 1e3;
        f = ratio_fig(f, wm, wo).target("<= 10% of one-by-one", wm / wo <= 0.10);
    }
    figs.push(f.note(format!(
        "one run each; baseline = sequential one-by-one get; {} get_many requests; {how}",
        b.requests_many
    )));
}

async fn bulk(sizes: Sizes, figs: &mut Vec<Figure>) {
    let g = inproc::gmail_bulk(sizes.bulk_messages, true, None).await;
    bulk_counts("Gmail", &g, 50, figs);
    let o = inproc::outlook_bulk(sizes.bulk_messages, true, OutlookDelay::None).await;
    bulk_counts("Outlook", &o, 20, figs);
    let lat = sizes.bulk_latency;
    let n = sizes.bulk_latency_messages;
    let g = inproc::gmail_bulk(n, true, Some(lat)).await;
    bulk_wall(
        "Gmail",
        &g,
        &format!("{} ms round trip", lat.as_millis()),
        "the emulator's latency is added once per HTTP request (a batch of 50 is one request); up to 4 batches in flight",
        figs,
    );
    let o = inproc::outlook_bulk(n, true, OutlookDelay::RoundTrip(lat)).await;
    bulk_wall(
        "Outlook",
        &o,
        &format!("{} ms round trip", lat.as_millis()),
        "the emulator's round trip is added once per HTTP request (a $batch of 20 is one request); batches one after another",
        figs,
    );
    let o = inproc::outlook_bulk(n, true, OutlookDelay::PerRequest(lat)).await;
    bulk_wall(
        "Outlook",
        &o,
        &format!("{} ms Graph time per request", lat.as_millis()),
        "the emulator's latency is added to every Graph request including each $batch part, parts run 4 at a time (Graph's per-mailbox concurrency limit): no client can do better than 1/4 of sequential here",
        figs,
    );
}

async fn stampede(sizes: Sizes, figs: &mut Vec<Figure>) {
    let rounds = stampede::run(sizes.stampede_calls, sizes.stampede_rounds).await;
    let case = format!(
        "{} concurrent executes, expired token",
        sizes.stampede_calls
    );
    let tokens: Vec<u64> = rounds.iter().map(|r| r.token_requests_expired).collect();
    let all_one = tokens.iter().all(|&t| t == 1);
    figs.push(
        Figure::new(&case, "token requests per stampede", "requests")
            .median(tokens.iter().copied().max().unwrap_or(0) as f64)
            .target("exactly 1", all_one)
            .note(format!("per round: {tokens:?}")),
    );
    let mut p99s: Vec<(f64, f64, f64, f64)> = rounds
        .iter()
        .map(|r| {
            (
                r.expired.p99_us() / 1e3,
                r.fresh.p99_us() / 1e3,
                r.expired.median_us() / 1e3,
                r.fresh.median_us() / 1e3,
            )
        })
        .collect();
    p99s.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let mid = p99s[p99s.len() / 2];
    let ratio = mid.0 / mid.1;
    figs.push(
        Figure::new(&case, "latency, expired token", "ms")
            .median(mid.2)
            .p99(mid.0)
            .baseline(mid.1)
            .ratio(ratio)
            .target("p99 <= 3x fresh-token p99", ratio <= 3.0)
            .note(format!(
                "round with the median p99 ratio of {}; baseline = p99 of the same burst with the fresh token (median {:.1} ms)",
                rounds.len(),
                mid.3
            )),
    );
}

fn mime_case(sizes: Sizes, figs: &mut Vec<Figure>) {
    let budget = if sizes.mime_full {
        Duration::from_secs(8)
    } else {
        Duration::from_millis(300)
    };
    let d = mime::decode(sizes.mime_full, budget);
    let c = mime::compose(sizes.mime_full, budget);
    let case = "MIME (connector-gmail)";
    for (name, t, what) in [
        ("decode corpus", &d, "raw message bytes"),
        (
            "compose with attachments",
            &c,
            "input bytes (bodies + attachments)",
        ),
    ] {
        let med = t.median_mb_s();
        figs.push(
            Figure::new(case, name, "MB/s")
                .median(med)
                .p99(t.p99_mb_s())
                .target(">= 200 MB/s", med >= 200.0)
                .note(format!(
                    "{} passes of {:.1} MB ({what}); p99 = MB/s of the p99 pass",
                    t.passes.len(),
                    t.bytes_per_pass as f64 / 1e6
                )),
        );
    }
}

fn main() {
    let args = Args::parse();
    let mut sizes = if args.smoke {
        Sizes::smoke()
    } else {
        Sizes::full()
    };
    if let Some(secs) = args.rss_secs {
        sizes.rss_secs = secs;
    }
    let cases: Vec<String> = if args.cases.is_empty() {
        ALL.iter().map(|s| s.to_string()).collect()
    } else {
        args.cases.clone()
    };
    for c in &cases {
        assert!(
            ALL.contains(&c.as_str()),
            "unknown case {c:?}; cases: {ALL:?}"
        );
    }
    let machine = report::machine();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let mut figs = Vec::new();
    // The context store's, the events' and the agent case's figures have their own blocks (and run on their
    // own without replacing the other results).
    let mut context_figs = Vec::new();
    let mut events_figs = Vec::new();
    let mut agent_figs = Vec::new();
    let started = Instant::now();
    for c in &cases {
        let t = Instant::now();
        eprintln!("== {c} ...");
        match c.as_str() {
            "overhead" => rt.block_on(overhead(sizes, &mut figs)),
            "bulk" => rt.block_on(bulk(sizes, &mut figs)),
            "stampede" => rt.block_on(stampede(sizes, &mut figs)),
            "mime" => mime_case(sizes, &mut figs),
            "server" => bench::server::run(sizes, args.smoke, &mut figs),
            "python" => bench::python::run(args.smoke, &mut figs),
            "context" => {
                let s = if args.smoke {
                    bench::context::ContextSizes::smoke()
                } else {
                    bench::context::ContextSizes::full()
                };
                rt.block_on(bench::context::run(s, &mut context_figs));
            }
            "events" => {
                let s = if args.smoke {
                    bench::events::EventsSizes::smoke()
                } else {
                    bench::events::EventsSizes::full()
                };
                rt.block_on(bench::events::run(s, &mut events_figs));
            }
            "agent" => {
                let s = if args.smoke {
                    bench::agent::AgentSizes::smoke()
                } else {
                    bench::agent::AgentSizes::full()
                };
                rt.block_on(bench::agent::run(s, &mut agent_figs));
            }
            _ => unreachable!(),
        }
        eprintln!("== {c} done in {:.1} s", t.elapsed().as_secs_f64());
    }
    let mode = if args.smoke { "--smoke" } else { "full" };
    if !figs.is_empty() {
        println!("{}", report::table(&figs));
    }
    let blocks = [
        ("context", "Context store", &context_figs),
        ("events", "Events", &events_figs),
        ("agent", "MCP, guardrails, calendar", &agent_figs),
    ];
    for (_, _, f) in &blocks {
        if !f.is_empty() {
            println!("{}", report::table(f));
        }
    }
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
    if !args.no_write {
        let dir = args
            .out
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs"));
        if !figs.is_empty() {
            report::write(&dir, &machine, mode, &figs).expect("writing the report");
            eprintln!("wrote {}/benchmarks.md and benchmarks.json", dir.display());
        }
        for (name, title, f) in blocks {
            if !f.is_empty() {
                report::write_block(&dir, name, title, &machine, mode, f)
                    .expect("writing the report");
                eprintln!("wrote the {name} block of {}/benchmarks.md", dir.display());
            }
        }
    }
}
