//! Mailbox events (issue 20): how long a change in the emulator's mailbox takes to reach the
//! organization's webhook, with push (Gmail: the emulator's Pub/Sub push to `POST /push/gmail`;
//! Outlook: Graph change notifications to `POST /push/outlook`) and with polling; and the
//! server's CPU for polling idle connectors against the same server with none.
//!
//! Each run is `connectors serve` as its own process (the server case's [`Server`]) over fresh
//! emulators in this process (quotas off), with a webhook receiver here that notes when the
//! first event about each message arrived (and checks its signature). A change is a new message
//! delivered into the mailbox; its latency runs from just before the emulator stores it to the
//! webhook's receipt of its `message.received`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use sandbox_gmail::{Emulator, GmailSandbox, SandboxConfig, Seed};
use sandbox_outlook::{NewMessage, OutlookSandbox};
use serde_json::{json, Value};

use super::server::{connectors_bin, free_port, Server};
use super::wrk::Cpu;
use super::{Figure, Samples};

const USER: &str = sandbox_gmail::DEFAULT_USER;
const SECRET: &str = "whsec_bench_events";

/// Sizes of the events case.
#[derive(Debug, Clone, Copy)]
pub struct EventsSizes {
    /// Changes per provider with push, and with polling.
    pub push_changes: usize,
    pub poll_changes: usize,
    /// Mean pause between two changes (each pause is drawn from half to one and a half of it).
    pub gap: Duration,
    /// `--poll-interval-ms` of the push run (connectors with push are polled ten times less
    /// often: the safety net) and of the polling run.
    pub push_poll_interval: Duration,
    pub poll_interval: Duration,
    /// Idle connectors of the CPU figure (half Gmail, half Outlook), their poll interval and
    /// the length of each CPU window (idle server, then the same server with the connectors).
    pub idle_connectors: usize,
    pub idle_interval: Duration,
    pub cpu_window: Duration,
}

impl EventsSizes {
    pub fn full() -> EventsSizes {
        EventsSizes {
            push_changes: 200,
            poll_changes: 100,
            gap: Duration::from_millis(150),
            push_poll_interval: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            idle_connectors: 1_000,
            // The server's default.
            idle_interval: Duration::from_secs(60),
            cpu_window: Duration::from_secs(60),
        }
    }
    pub fn smoke() -> EventsSizes {
        EventsSizes {
            push_changes: 5,
            poll_changes: 5,
            gap: Duration::from_millis(50),
            push_poll_interval: Duration::from_secs(2),
            poll_interval: Duration::from_millis(500),
            idle_connectors: 20,
            idle_interval: Duration::from_secs(2),
            cpu_window: Duration::from_secs(3),
        }
    }
}

/// What the webhook received.
#[derive(Debug, Default)]
struct Received {
    /// When the first `message.received` about each message arrived.
    first: HashMap<String, Instant>,
    event_ids: HashSet<String>,
    events: usize,
    /// The same event id again (at least once delivery allows it; counted, not expected).
    repeats: usize,
    bad_signatures: usize,
}

/// The organization's webhook: a receiver on a free port of this process.
struct Hook {
    url: String,
    got: Arc<Mutex<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(got): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let signed = headers
        .get("x-connectors-signature")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sig| {
            server::lifecycle::webhook::verify(
                SECRET.as_bytes(),
                sig,
                &body,
                chrono::Utc::now().timestamp(),
                300,
            )
        });
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut g = got.lock().expect("hook state");
    g.events += 1;
    if !signed {
        g.bad_signatures += 1;
    }
    if let Some(id) = v["id"].as_str() {
        if !g.event_ids.insert(id.to_string()) {
            g.repeats += 1;
        }
    }
    if v["type"] == "message.received" {
        if let Some(m) = v["message"]["id"].as_str() {
            g.first.entry(m.to_string()).or_insert(at);
        }
    }
    StatusCode::OK
}

impl Hook {
    async fn start() -> Result<Hook, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let url = format!(
            "http://{}/hook",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let got = Arc::new(Mutex::new(Received::default()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(got.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Hook { url, got, task })
    }

    fn arrived(&self, message_id: &str) -> Option<Instant> {
        self.got
            .lock()
            .expect("hook state")
            .first
            .get(message_id)
            .copied()
    }

    /// (events, repeated event ids, bad signatures).
    fn counts(&self) -> (usize, usize, usize) {
        let g = self.got.lock().expect("hook state");
        (g.events, g.repeats, g.bad_signatures)
    }
}

/// Fresh emulators for one run (quotas off, a small mailbox).
struct Mailboxes {
    gmail: GmailSandbox,
    outlook: OutlookSandbox,
}

impl Mailboxes {
    fn start() -> Result<Mailboxes, String> {
        let cfg = || SandboxConfig {
            quotas: false,
            seed: Seed::Count(20),
            ..Default::default()
        };
        Ok(Mailboxes {
            gmail: GmailSandbox::start(cfg()).map_err(|e| e.to_string())?,
            outlook: OutlookSandbox::start(cfg()).map_err(|e| e.to_string())?,
        })
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CONNECTORS_GMAIL_BASE_URL", self.gmail.base_url()),
            ("CONNECTORS_OUTLOOK_BASE_URL", self.outlook.base_url()),
        ]
    }

    /// Delivers a new message into the inbox; its id.
    fn change(&self, kind: &str, subject: &str) -> Option<String> {
        match kind {
            "gmail" => {
                let raw = format!(
                    "From: grace@example.com\r\nTo: {USER}\r\nSubject: {subject}\r\n\r\nAbout {subject}.\r\n"
                );
                Some(self.gmail.insert_message(USER, raw.as_bytes(), &["INBOX"]))
            }
            _ => self.outlook.deliver(
                USER,
                "inbox",
                NewMessage {
                    subject: subject.into(),
                    body: format!("About {subject}."),
                    ..Default::default()
                },
            ),
        }
    }

    /// Provider requests so far: Gmail `history.list` calls, Graph API requests.
    fn poll_requests(&self) -> (u64, u64) {
        let g = self.gmail.stats();
        (
            g.by_method.get("history.list").copied().unwrap_or(0),
            self.outlook.stats().requests,
        )
    }

    /// Whether the connector's push subscription is on (Gmail: a `users.watch` answered;
    /// Graph: a subscription made).
    fn pushing(&self, kind: &str) -> bool {
        match kind {
            "gmail" => self.gmail.stats().by_method.get("watch").copied() >= Some(1),
            _ => !self.outlook.subscription_ids(USER).is_empty(),
        }
    }
}

/// A data directory for one server run, removed when dropped.
struct DataDir(std::path::PathBuf);

impl DataDir {
    fn new(name: &str) -> DataDir {
        let d = std::env::temp_dir().join(format!("bench-events-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::create_dir_all(&d);
        DataDir(d)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the server with the webhook (signed with [`SECRET`]) set for its organization.
async fn server(
    dir: &DataDir,
    port: u16,
    args: &[String],
    mb: &Mailboxes,
    hook: Option<&Hook>,
) -> Result<Server, String> {
    let bin = connectors_bin().ok_or("the connectors binary could not be built")?;
    let s = Server::spawn(&bin, &dir.0, port, args, &mb.env()).await?;
    if let Some(hook) = hook {
        s.call(
            Method::PUT,
            "/api/v1/organization/settings",
            &json!({"webhook_url": hook.url, "webhook_secret": SECRET}),
        )
        .await?;
    }
    Ok(s)
}

/// Waits until a connector of `kind` tells changes: its push is on (when `push`), and a probe
/// change reached the webhook (its first poll, the baseline, is done).
async fn ready(mb: &Mailboxes, hook: &Hook, kind: &str, push: bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    while push && !mb.pushing(kind) {
        if Instant::now() > deadline {
            return Err(format!("{kind}: no push subscription in 90 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0.. {
        let id = mb
            .change(kind, &format!("probe {i}"))
            .ok_or("the emulator took no message")?;
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if hook.arrived(&id).is_some() {
                // Let the subscription settle (Graph: the server stores it once created).
                tokio::time::sleep(Duration::from_millis(500)).await;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if Instant::now() > deadline {
            return Err(format!("{kind}: no event for a probe change in 90 s"));
        }
    }
    Ok(())
}

/// Latencies of `n` changes made `gap` apart on average, and how many never arrived within
/// `within` after the last change.
async fn measure(
    mb: &Mailboxes,
    hook: &Hook,
    kind: &str,
    n: usize,
    gap: Duration,
    within: Duration,
) -> (Samples, usize) {
    let mut rng = StdRng::seed_from_u64(20);
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        let at = Instant::now();
        if let Some(id) = mb.change(kind, &format!("change {i}")) {
            sent.push((id, at));
        }
        tokio::time::sleep(gap.mul_f64(rng.gen_range(0.5..1.5))).await;
    }
    let deadline = Instant::now() + within;
    while Instant::now() < deadline && sent.iter().any(|(id, _)| hook.arrived(id).is_none()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut samples = Samples::default();
    let mut missing = n - sent.len();
    for (id, at) in &sent {
        match hook.arrived(id) {
            Some(t) => samples.push(t.saturating_duration_since(*at)),
            None => missing += 1,
        }
    }
    (samples, missing)
}

/// Latency figures of one run (push or polling), both providers.
struct Run {
    /// Per provider: (samples, missing).
    gmail: (Samples, usize),
    outlook: (Samples, usize),
    /// Webhook counts: events, repeated ids, bad signatures.
    counts: (usize, usize, usize),
}

async fn latency_run(sizes: EventsSizes, push: bool) -> Result<Run, String> {
    let mb = Mailboxes::start()?;
    let hook = Hook::start().await?;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let interval = if push {
        sizes.push_poll_interval
    } else {
        sizes.poll_interval
    };
    let mut args: Vec<String> = vec![
        "--poll-interval-ms".into(),
        interval.as_millis().to_string(),
        "--health-check-interval-secs".into(),
        "0".into(),
    ];
    if push {
        // The emulators' own push setups (as `serve --sandbox` wires them), given to the server
        // as a deployment would: Pub/Sub push subscription and Graph notification URL.
        let g = mb
            .gmail
            .enable_push(&format!("{base}/push/gmail"))
            .ok_or("the Gmail emulator has no push")?;
        let o = mb
            .outlook
            .enable_push(&format!("{base}/push/outlook"))
            .ok_or("the Graph emulator has no push")?;
        for (flag, v) in [
            ("--gmail-push-topic", g.topic),
            ("--gmail-push-audience", g.audience),
            ("--gmail-push-service-account", g.service_account),
            ("--gmail-push-jwks-url", g.jwks_url),
            ("--outlook-push-url", o.notification_url),
        ] {
            args.push(flag.into());
            args.push(v.ok_or_else(|| format!("no value for {flag}"))?);
        }
    }
    let dir = DataDir::new(if push { "push" } else { "poll" });
    let server = server(&dir, port, &args, &mb, Some(&hook)).await?;
    let n = if push {
        sizes.push_changes
    } else {
        sizes.poll_changes
    };
    // Wait after the last change: push arrives at once; a poll within an interval.
    let within = Duration::from_secs(10) + interval * 3;
    let mut per = Vec::new();
    for kind in ["gmail", "outlook"] {
        server.create_connector_of(kind, "bench").await?;
        ready(&mb, &hook, kind, push).await?;
        per.push(measure(&mb, &hook, kind, n, sizes.gap, within).await);
    }
    let counts = hook.counts();
    drop(server);
    let outlook = per.pop().unwrap_or_default();
    let gmail = per.pop().unwrap_or_default();
    Ok(Run {
        gmail,
        outlook,
        counts,
    })
}

/// Server CPU over `window`, in CPU seconds per minute.
async fn cpu_per_minute(pid: u32, window: Duration) -> f64 {
    let before = Cpu::sample(pid);
    tokio::time::sleep(window).await;
    let used = Cpu::sample(pid).since(&before).server_us / 1e6;
    used / window.as_secs_f64() * 60.0
}

/// The CPU figure: the idle server, then the same server polling `idle_connectors`.
async fn idle_cpu(sizes: EventsSizes, figs: &mut Vec<Figure>) -> Result<(), String> {
    let mb = Mailboxes::start()?;
    let dir = DataDir::new("idle");
    let args: Vec<String> = vec![
        "--poll-interval-ms".into(),
        sizes.idle_interval.as_millis().to_string(),
        "--health-check-interval-secs".into(),
        "0".into(),
    ];
    let server = server(&dir, free_port(), &args, &mb, None).await?;
    let pid = server.pid();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = cpu_per_minute(pid, sizes.cpu_window).await;
    let n = sizes.idle_connectors;
    let created = futures::stream::iter(0..n)
        .map(|i| {
            let kind = if i % 2 == 0 { "gmail" } else { "outlook" };
            let server = &server;
            async move {
                server
                    .create_connector_of(kind, &format!("customer-{i}"))
                    .await
            }
        })
        .buffer_unordered(16)
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    // Every connector's first poll (its baseline) falls within one interval after the server
    // finds it (it looks every 5 s); the window starts after that.
    tokio::time::sleep(sizes.idle_interval + Duration::from_secs(10)).await;
    let (g0, o0) = mb.poll_requests();
    let rss0 = super::server::rss_mb(pid);
    let polling = cpu_per_minute(pid, sizes.cpu_window).await;
    let (g1, o1) = mb.poll_requests();
    let expected =
        created as f64 * sizes.cpu_window.as_secs_f64() / sizes.idle_interval.as_secs_f64();
    let added_ms_per_poll =
        (polling - idle) / 60.0 * sizes.cpu_window.as_secs_f64() * 1e3 / expected;
    let interval = sizes.idle_interval.as_secs_f64();
    figs.push(
        Figure::new(
            &format!("polling {created} idle connectors ({interval:.0} s interval)"),
            "server CPU",
            "CPU s/min",
        )
        .median(polling)
        .baseline(idle)
        .ratio(polling / idle.max(1e-9))
        .target_text("none set (issue 20 asks for the figure)")
        .note(format!(
            "utime+stime of the server process from /proc over {:.0} s windows; baseline: the same server with no connector, just before; half Gmail (history.list from the cursor), half Outlook (delta of inbox and Sent Items); in the window the emulators answered {} history.list and {} Graph requests (one poll per connector and interval: {expected:.0} expected); {added_ms_per_poll:.2} ms of CPU per poll over the baseline; RSS {:.1} MB; health checks off",
            sizes.cpu_window.as_secs_f64(),
            g1 - g0,
            o1 - o0,
            rss0.unwrap_or(f64::NAN),
        )),
    );
    drop(server);
    Ok(())
}

fn latency_fig(
    case: &str,
    name: &str,
    (s, missing): &(Samples, usize),
    n: usize,
    how: &str,
) -> Figure {
    let f = Figure::new(case, name, "ms");
    if s.is_empty() {
        return f.note(format!("not measured: none of {n} changes arrived"));
    }
    let miss = if *missing > 0 {
        format!("; {missing} of {n} NEVER ARRIVED")
    } else {
        String::new()
    };
    f.median(s.median_us() / 1e3)
        .p99(s.p99_us() / 1e3)
        .note(format!("{} changes{miss}; {how}", s.len()))
}

fn not_measured(figs: &mut Vec<Figure>, what: &str, e: &str) {
    figs.push(Figure::new("events", what, "—").note(format!("not measured: {e}")));
}

pub async fn run(sizes: EventsSizes, figs: &mut Vec<Figure>) {
    let gap = sizes.gap.as_millis();
    let poll = match latency_run(sizes, false).await {
        Ok(r) => Some(r),
        Err(e) => {
            not_measured(figs, "change to webhook, polling", &e);
            None
        }
    };
    match latency_run(sizes, true).await {
        Ok(r) => {
            let case = "mailbox change to webhook, push";
            let (events, repeats, bad) = r.counts;
            let how = format!(
                "new message in the emulator -> signed POST at the webhook; a change every {gap} ms on average; the emulator adds no push delay; webhook: {events} events, {repeats} repeated ids, {bad} bad signatures; baseline: polling median"
            );
            for (name, got, base) in [
                (
                    "Gmail (Pub/Sub push to /push/gmail)",
                    &r.gmail,
                    poll.as_ref().map(|p| &p.gmail.0),
                ),
                (
                    "Outlook (Graph change notifications to /push/outlook)",
                    &r.outlook,
                    poll.as_ref().map(|p| &p.outlook.0),
                ),
            ] {
                let mut f = latency_fig(case, name, got, sizes.push_changes, &how);
                if let (Some(p99), Some(b)) = (f.p99, base.filter(|b| !b.is_empty())) {
                    let bm = b.median_us() / 1e3;
                    let median = f.median.unwrap_or(f64::NAN);
                    f = f
                        .baseline(bm)
                        .ratio(median / bm)
                        .target("p99 <= 1000 ms", p99 <= 1000.0 && got.1 == 0);
                } else if let Some(p99) = f.p99 {
                    f = f.target("p99 <= 1000 ms", p99 <= 1000.0 && got.1 == 0);
                } else {
                    f = f.target("p99 <= 1000 ms", false);
                }
                figs.push(f);
            }
        }
        Err(e) => not_measured(figs, "change to webhook, push", &e),
    }
    if let Some(r) = &poll {
        let case = format!(
            "mailbox change to webhook, polling every {} ms",
            sizes.poll_interval.as_millis()
        );
        let (events, repeats, bad) = r.counts;
        let how = format!(
            "no push; a change every {gap} ms on average; expect about half the interval plus the poll; webhook: {events} events, {repeats} repeated ids, {bad} bad signatures"
        );
        for (name, got) in [
            ("Gmail (history.list)", &r.gmail),
            ("Outlook (delta)", &r.outlook),
        ] {
            figs.push(latency_fig(&case, name, got, sizes.poll_changes, &how));
        }
    }
    if let Err(e) = idle_cpu(sizes, figs).await {
        not_measured(figs, "server CPU, idle connectors", &e);
    }
}
