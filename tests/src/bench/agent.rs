//! What an agent meets besides `execute` (issue 27): MCP `tools/call` against the execute
//! route for the same action, the size of `tools/list` in both modes, the send policy and the
//! approval round on a send, and the calendar's `events.list`.
//!
//! The server parts run `connectors serve` as its own process (the server case's [`Server`],
//! one HTTP worker) over a Gmail emulator in this process (quotas off); calls are sequential
//! (c=1) and alternate with their baseline call by call. The calendar part is in process, as
//! the `overhead` case is.

use std::time::Instant;

use reqwest::Method;
use serde_json::{json, Value};

use super::inproc::{gmail_at, gmail_sandbox, paired};
use super::server::{connectors_bin, free_port, Server};
use super::{Figure, Samples};

/// Sizes of the agent case.
#[derive(Debug, Clone, Copy)]
pub struct AgentSizes {
    /// Calls per series (after a tenth as warm-up).
    pub calls: usize,
    /// Sends per series (each puts a message in the emulator's Sent mail).
    pub sends: usize,
    /// Approval rounds (send, approve, send again).
    pub approvals: usize,
    /// Sends already in the day's window of the busy connector (its counted sends).
    pub busy_window: usize,
    /// Calendar events in the listed range.
    pub events: usize,
}

impl AgentSizes {
    pub fn full() -> AgentSizes {
        AgentSizes {
            calls: 2_000,
            sends: 500,
            approvals: 200,
            busy_window: 3_000,
            events: 50,
        }
    }
    pub fn smoke() -> AgentSizes {
        AgentSizes {
            calls: 30,
            sends: 20,
            approvals: 5,
            busy_window: 40,
            events: 10,
        }
    }
}

/// Tokens of a text by the MCP crate's own rule of thumb (its output budget: 40,000
/// characters, "about 10,000 tokens"): four bytes a token. No tokenizer of a model is used.
fn tokens(bytes: usize) -> f64 {
    bytes as f64 / 4.0
}

fn ms(s: &Samples) -> (f64, f64) {
    (s.median_us() / 1e3, s.p99_us() / 1e3)
}

/// The MCP protocol version a request is sent on. 2025-11-25 (after `initialize`) sends the
/// version header only; 2026-07-28 (no handshake) sends the client context in each request's
/// `_meta` and the SEP-2243 `Mcp-Method` / `Mcp-Name` headers, as the SDKs do.
#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    V2025,
    V2026,
}

impl Protocol {
    fn version(self) -> &'static str {
        match self {
            Protocol::V2025 => "2025-11-25",
            Protocol::V2026 => "2026-07-28",
        }
    }
}

/// One JSON-RPC request to the connector's MCP endpoint (streamable HTTP, stateless).
async fn mcp(server: &Server, path: &str, method: &str, params: Value) -> Result<Value, String> {
    mcp_on(server, path, method, params, Protocol::V2025).await
}

/// [`mcp`] on the given protocol version.
async fn mcp_on(
    server: &Server,
    path: &str,
    method: &str,
    mut params: Value,
    protocol: Protocol,
) -> Result<Value, String> {
    let mut req = server
        .http
        .post(format!("{}{path}", server.base))
        .bearer_auth(&server.token)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", protocol.version());
    if protocol == Protocol::V2026 {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": protocol.version(),
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        req = req.header("Mcp-Method", method);
        if let Some(name) = params["name"].as_str() {
            req = req.header("Mcp-Name", name);
        }
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let r = req.json(&body).send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let v: Value = r.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() || v.get("error").is_some() {
        return Err(format!("{method}: {status} {v}"));
    }
    Ok(v["result"].clone())
}

fn send_params(i: usize) -> Value {
    json!({"to": ["Bob <bob@example.com>"], "subject": format!("bench {i}"),
           "text": "A short note from the benchmark."})
}

async fn server_parts(sizes: AgentSizes, figs: &mut Vec<Figure>) -> Result<(), String> {
    let bin = connectors_bin().ok_or("the connectors binary could not be built")?;
    let (sb, ids) = gmail_sandbox(50);
    let dir = std::env::temp_dir().join(format!("bench-agent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let args: Vec<String> = ["--workers", "1", "--poll-interval-ms", "0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let env = [("CONNECTORS_GMAIL_BASE_URL", sb.base_url())];
    let server = Server::spawn(&bin, &dir, free_port(), &args, &env).await?;
    let result = measure(&server, &ids[0], sizes, figs).await;
    drop(server);
    let disk = durable_writes(&dir, sizes.sends);
    let _ = std::fs::remove_dir_all(&dir);
    if result.is_ok() {
        figs.push(disk?);
    }
    result
}

async fn measure(
    server: &Server,
    message_id: &str,
    sizes: AgentSizes,
    figs: &mut Vec<Figure>,
) -> Result<(), String> {
    let plain = server.create_connector_of("gmail", "plain").await?;
    let path = format!("/mcp/connectors/{plain}");

    // tools/list in both modes.
    let full = mcp(server, &path, "tools/list", json!({})).await?;
    let compact = mcp(
        server,
        &format!("{path}?mode=compact"),
        "tools/list",
        json!({}),
    )
    .await?;
    let size = |v: &Value| v["tools"].to_string().len();
    let count = |v: &Value| v["tools"].as_array().map_or(0, Vec::len);
    let (fb, cb) = (size(&full), size(&compact));
    let case = "MCP tools/list (one Gmail connector)";
    figs.push(
        Figure::new(case, "full mode: one tool per action", "tokens (≈ bytes/4)")
            .median(tokens(fb))
            .target("<= 20,000 (a tenth of a 200k context)", tokens(fb) <= 20_000.0)
            .note(format!(
                "{} tools, {fb} bytes of JSON (names, descriptions, input schemas, brief output schemas: each result's top-level shape; annotations)",
                count(&full)
            )),
    );
    figs.push(
        Figure::new(
            case,
            "compact mode: list_actions, describe_action, execute",
            "tokens (≈ bytes/4)",
        )
        .median(tokens(cb))
        .baseline(tokens(fb))
        .ratio(cb as f64 / fb as f64)
        .target("<= 1,000", tokens(cb) <= 1_000.0)
        .note(format!(
            "{} tools, {cb} bytes; baseline: full mode",
            count(&compact)
        )),
    );

    // tools/call against execute, same action and message.
    let tool = full["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .find(|n| n.ends_with("messages_get"))
        .ok_or("no messages.get tool")?
        .to_string();
    let exec_path = format!("/api/v1/integrations/connectors/{plain}/execute");
    let exec_body =
        json!({"entity": "messages", "action": "get", "params": {"message_id": message_id}});
    let call = json!({"name": tool, "arguments": {"message_id": message_id}});
    for protocol in [Protocol::V2025, Protocol::V2026] {
        let (mut via_mcp, mut via_exec) = (Samples::default(), Samples::default());
        let warmup = (sizes.calls / 10).max(10);
        for i in 0..warmup + sizes.calls {
            let t = Instant::now();
            let r = mcp_on(server, &path, "tools/call", call.clone(), protocol).await?;
            let d_mcp = t.elapsed();
            if r["isError"] == json!(true) {
                return Err(format!("tools/call ({}): {r}", protocol.version()));
            }
            let t = Instant::now();
            server.call(Method::POST, &exec_path, &exec_body).await?;
            let d_exec = t.elapsed();
            if i >= warmup {
                via_mcp.push(d_mcp);
                via_exec.push(d_exec);
            }
        }
        let (m, mp) = (via_mcp.median_us(), via_mcp.p99_us());
        let e = via_exec.median_us();
        let (figure, how) = match protocol {
            Protocol::V2025 => ("latency via /mcp", ""),
            Protocol::V2026 => (
                "latency via /mcp, protocol 2026-07-28",
                "; each call carries the client context in `_meta` and the Mcp-Method / Mcp-Name headers",
            ),
        };
        figs.push(
            Figure::new("MCP tools/call over HTTP (messages.get, c=1)", figure, "µs")
                .median(m)
                .p99(mp)
                .baseline(e)
                .ratio(m / e)
                .target("<= 1.25x execute", m / e <= 1.25)
                .note(format!(
                    "{} calls alternating with POST .../execute of the same message (baseline, p99 {:.0} µs); added median {:.0} µs: JSON-RPC, the output budget, fencing of untrusted text, the result as text and structuredContent{how}",
                    via_mcp.len(),
                    via_exec.p99_us(),
                    m - e
                )),
        );
    }

    // A send with a policy (allow-list, send limits) against one without.
    let send_policy = json!({"policy": {"mode": "send", "allow_recipients": ["example.com"],
        "deny_recipients": ["rival.example"], "max_sends_per_hour": 1_000_000,
        "max_sends_per_day": 10_000_000}});
    let guarded = server.create_connector_of("gmail", "guarded").await?;
    server
        .call(
            Method::PUT,
            &format!("/api/v1/integrations/connectors/{guarded}/policy"),
            &send_policy,
        )
        .await?;
    let send = |id: &str, i: usize| {
        (
            format!("/api/v1/integrations/connectors/{id}/execute"),
            json!({"entity": "messages", "action": "send", "params": send_params(i)}),
        )
    };
    let (mut free, mut held) = (Samples::default(), Samples::default());
    let warmup = (sizes.sends / 10).max(5);
    for i in 0..warmup + sizes.sends {
        let (p, b) = send(&plain, i);
        let t = Instant::now();
        server.call(Method::POST, &p, &b).await?;
        let d_free = t.elapsed();
        let (p, b) = send(&guarded, i);
        let t = Instant::now();
        server.call(Method::POST, &p, &b).await?;
        let d_held = t.elapsed();
        if i >= warmup {
            free.push(d_free);
            held.push(d_held);
        }
    }
    let (f, _) = ms(&free);
    let (h, hp) = ms(&held);
    let case = "send policy and approval (Gmail messages.send via the server, c=1)";
    figs.push(
        Figure::new(case, "send under a policy", "ms")
            .median(h)
            .p99(hp)
            .baseline(f)
            .ratio(h / f)
            .target("added median <= 0.5 ms", h - f <= 0.5)
            .note(format!(
                "{} sends alternating with sends of a connector without a policy (baseline); policy: allow-list, deny-list, hourly and daily limits (the policy held in memory; each send checked and counted by one durable conditional INSERT); added median {:.0} µs",
                held.len(),
                (h - f) * 1e3
            )),
    );

    // The same policy on a connector whose day already holds `busy_window` counted sends,
    // against the connector above (its window: the sends of the figure above). The limits are
    // checked by counting the window: what that costs must not grow with the sends in it.
    let busy = server.create_connector_of("gmail", "busy").await?;
    server
        .call(
            Method::PUT,
            &format!("/api/v1/integrations/connectors/{busy}/policy"),
            &send_policy,
        )
        .await?;
    for i in 0..sizes.busy_window {
        let (p, b) = send(&busy, 200_000 + i);
        server.call(Method::POST, &p, &b).await?;
    }
    let (mut small, mut full) = (Samples::default(), Samples::default());
    let warmup = (sizes.sends / 10).max(5);
    for i in 0..warmup + sizes.sends {
        let (p, b) = send(&guarded, 300_000 + i);
        let t = Instant::now();
        server.call(Method::POST, &p, &b).await?;
        let d_small = t.elapsed();
        let (p, b) = send(&busy, 300_000 + i);
        let t = Instant::now();
        server.call(Method::POST, &p, &b).await?;
        let d_full = t.elapsed();
        if i >= warmup {
            small.push(d_small);
            full.push(d_full);
        }
    }
    let (sm, _) = ms(&small);
    let (fm, fp) = ms(&full);
    figs.push(
        Figure::new(case, "send under a policy, busy day", "ms")
            .median(fm)
            .p99(fp)
            .baseline(sm)
            .ratio(fm / sm)
            .target("<= 1.15x the same send with a short window", fm / sm <= 1.15)
            .note(format!(
                "{} sends under the policy above on a connector with {} more counted sends in its day's window, alternating with sends of the connector above (baseline: {} to {} counted sends in its window); the limits' count is index seeks, whatever the window holds; median {:.1} µs against {:.1} µs",
                full.len(),
                sizes.busy_window,
                warmup + sizes.sends,
                2 * (warmup + sizes.sends),
                fm * 1e3,
                sm * 1e3
            )),
    );

    // The approval round: the send is held, approved over the API, then sent.
    let approved = server.create_connector_of("gmail", "approved").await?;
    server
        .call(
            Method::PUT,
            &format!("/api/v1/integrations/connectors/{approved}/policy"),
            &json!({"policy": {"require_approval": "all"}}),
        )
        .await?;
    let (mut round, mut direct) = (Samples::default(), Samples::default());
    for i in 0..sizes.approvals + 2 {
        let (p, b) = send(&plain, 100_000 + i);
        let t = Instant::now();
        server.call(Method::POST, &p, &b).await?;
        let d_direct = t.elapsed();
        let (p, b) = send(&approved, 100_000 + i);
        let t = Instant::now();
        let (status, v) = server.request(Method::POST, &p, &b).await?;
        let id = v["error"]["details"]["approval_id"]
            .as_str()
            .ok_or_else(|| format!("the send was not held for approval: {status} {v}"))?
            .to_string();
        server
            .call(
                Method::POST,
                &format!("/api/v1/approvals/{id}/approve"),
                &json!({}),
            )
            .await?;
        server.call(Method::POST, &p, &b).await?;
        let d_round = t.elapsed();
        if i >= 2 {
            round.push(d_round);
            direct.push(d_direct);
        }
    }
    let (r, rp) = ms(&round);
    let (d, _) = ms(&direct);
    figs.push(
        Figure::new(case, "approval round: held send, approve, send again", "ms")
            .median(r)
            .p99(rp)
            .baseline(d)
            .ratio(r / d)
            .target("<= 4x a plain send (3 calls)", r / d <= 4.0)
            .note(format!(
                "{} rounds alternating with a plain send (baseline); the person's decision is an API call at once here; the approved send is bound to the exact message and uses the approval atomically",
                round.len()
            )),
    );
    Ok(())
}

/// What the disk under the server's data directory takes to make one commit durable: three
/// WAL frames (4,120 bytes each) appended to a file and `fsync`ed, as SQLite commits a counted
/// send. No target: it is the disk's share of the send figures above (a send under a policy
/// commits once; an approval round three times, the plain send never), and the part of them
/// that a faster disk, not the server, lowers.
fn durable_writes(dir: &std::path::Path, n: usize) -> Result<Figure, String> {
    use std::io::Write;
    let path = dir.join("bench-durable-writes");
    let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    let frames = vec![0x5a_u8; 3 * 4_120];
    let mut synced = Samples::default();
    for _ in 0..n.max(20) {
        file.write_all(&frames).map_err(|e| e.to_string())?;
        let t = Instant::now();
        file.sync_all().map_err(|e| e.to_string())?;
        synced.push(t.elapsed());
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    let (m, p) = ms(&synced);
    Ok(Figure::new(
        "send policy and approval (Gmail messages.send via the server, c=1)",
        "one durable commit's write on the data directory's disk",
        "ms",
    )
    .median(m)
    .p99(p)
    .target_text("none (context)")
    .note(format!(
        "{} appends of 12,360 bytes to a file beside the server's database, each followed by fsync: the disk's share of each SQLite commit (a send under a policy commits once, an approval round three times)",
        synced.len()
    )))
}

/// `events.list` of the calendar in process against a raw GET of the same events.
async fn calendar(sizes: AgentSizes, figs: &mut Vec<Figure>) -> Result<(), String> {
    let (sb, _) = gmail_sandbox(1);
    let base = sb.base_url();
    let gmail = gmail_at(&base);
    for i in 0..sizes.events {
        let day = 1 + i % 28;
        let hour = 8 + (i / 28) % 10;
        let start = format!("2026-02-{day:02}T{hour:02}:00:00Z");
        let end = format!("2026-02-{day:02}T{hour:02}:30:00Z");
        gmail
            .execute(
                "events",
                "create",
                json!({"summary": format!("Meeting {i}"), "start": {"date_time": start},
                       "end": {"date_time": end}, "attendees": ["bob@example.com"]}),
            )
            .await
            .map_err(|e| format!("events.create: {e}"))?;
    }
    let (min, max) = ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z");
    let url = format!(
        "{base}/calendar/v3/calendars/primary/events?timeMin={min}&timeMax={max}&singleEvents=true&orderBy=startTime&maxResults=250"
    );
    let o = paired(
        &base,
        sizes.calls,
        "events",
        "list",
        json!({"time_min": min, "time_max": max}),
        &url,
    )
    .await;
    let (e, r) = (o.execute.median_us(), o.raw.median_us());
    figs.push(
        Figure::new(
            &format!("calendar events.list (Gmail connector, {} events)", sizes.events),
            "execute latency",
            "µs",
        )
        .median(e)
        .p99(o.execute.p99_us())
        .baseline(r)
        .ratio(e / r)
        .target("ratio <= 1.3 (as messages.get)", e / r <= 1.3)
        .note(format!(
            "{} calls in process, alternating with a raw GET of Calendar v3 events (same range, single events) + JSON parse (baseline); added median {:.0} µs: validation, the shared calendar shape",
            o.execute.len(),
            e - r
        )),
    );
    drop(sb);
    Ok(())
}

pub async fn run(sizes: AgentSizes, figs: &mut Vec<Figure>) {
    if let Err(e) = server_parts(sizes, figs).await {
        figs.push(
            Figure::new(
                "MCP, policy and approval via the server",
                "not measured",
                "—",
            )
            .note(e),
        );
    }
    if let Err(e) = calendar(sizes, figs).await {
        figs.push(Figure::new("calendar events.list", "not measured", "—").note(e));
    }
}
