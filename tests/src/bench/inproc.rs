//! In-process cases: one `messages.get` against a raw reqwest GET, and bulk fetches
//! (`get_many` against one-by-one `get`) on both emulators.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::{Connector, HttpConfig, ProviderClient, StaticToken};
use sandbox_gmail::{GmailSandbox, SandboxConfig as GmailConfig, Seed as GmailSeed};
use sandbox_outlook::{OutlookSandbox, SandboxConfig as OutlookConfig, Seed as OutlookSeed};
use serde_json::{json, Value};

use super::Samples;

pub const ADA: &str = "ada@example.com";
const TOKEN: &str = "bench-token";

/// A Gmail emulator with quotas off and `n` generated messages (newest first ids).
pub fn gmail_sandbox(n: usize) -> (GmailSandbox, Vec<String>) {
    let sb = GmailSandbox::start(GmailConfig {
        seed: GmailSeed::Count(n),
        quotas: false,
        ..GmailConfig::default()
    })
    .expect("Gmail emulator starts");
    let ids = sb
        .mailbox(ADA)
        .expect("ada's mailbox")
        .messages
        .into_iter()
        .map(|m| m.id)
        .collect();
    (sb, ids)
}

/// An Outlook emulator with throttling off and `n` generated messages in ada's inbox.
pub fn outlook_sandbox(n: usize) -> (OutlookSandbox, Vec<String>) {
    let sb = OutlookSandbox::start(OutlookConfig {
        seed: OutlookSeed::Count(n),
        quotas: false,
        ..OutlookConfig::default()
    })
    .expect("Outlook emulator starts");
    let ids = sb.message_ids(ADA, "inbox");
    (sb, ids)
}

fn gmail_connector(base: &str, client: Option<reqwest::Client>) -> Connector {
    let mut http = HttpConfig::new(base);
    http.shared_client = client;
    connector_gmail::connector(Arc::new(StaticToken::new(TOKEN)), http).expect("Gmail connector")
}

/// Result of the single-call latency case.
#[derive(Debug)]
pub struct Overhead {
    pub execute: Samples,
    pub raw: Samples,
}

/// `execute("messages","get")` against a raw GET of the same URL with the same reqwest client
/// (built by core's `ProviderClient::build_reqwest`, shared by both) and a JSON parse.
/// Calls alternate so that drift on a shared machine hits both series alike.
pub async fn overhead(iters: usize) -> Overhead {
    let (sb, ids) = gmail_sandbox(50);
    let base = sb.base_url();
    let id = ids[0].clone();
    let url = format!("{base}/gmail/v1/users/me/messages/{id}?format=full");
    let out = paired(
        &base,
        iters,
        "messages",
        "get",
        json!({"message_id": id}),
        &url,
    )
    .await;
    drop(sb);
    out
}

/// `execute(entity, action, params)` of a Gmail connector on the emulator at `base`, call by
/// call against a raw GET of `url` with the same reqwest client and a JSON parse.
pub async fn paired(
    base: &str,
    iters: usize,
    entity: &str,
    action: &str,
    params: Value,
    url: &str,
) -> Overhead {
    let http = HttpConfig::new(base.to_string());
    let client = ProviderClient::build_reqwest(&http).expect("reqwest client");
    let gmail = gmail_connector(base, Some(client.clone()));
    let mut out = Overhead {
        execute: Samples::default(),
        raw: Samples::default(),
    };
    let warmup = (iters / 10).max(20);
    for i in 0..warmup + iters {
        let t = Instant::now();
        let r = gmail
            .execute(entity, action, params.clone())
            .await
            .unwrap_or_else(|e| panic!("{entity}.{action}: {e}"));
        let d_exec = t.elapsed();
        assert!(!r.result.is_null(), "{entity}.{action} answered nothing");
        let t = Instant::now();
        let resp = client
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("raw GET");
        assert!(
            resp.status().is_success(),
            "raw GET {url}: {}",
            resp.status()
        );
        let body = resp.bytes().await.expect("raw body");
        let v: Value = serde_json::from_slice(&body).expect("raw JSON");
        let d_raw = t.elapsed();
        assert!(v.is_object(), "raw GET {url}: {v}");
        if i >= warmup {
            out.execute.push(d_exec);
            out.raw.push(d_raw);
        }
    }
    out
}

/// A Gmail connector of the emulator at `base` (for setting up a case's data).
pub fn gmail_at(base: &str) -> Connector {
    gmail_connector(base, None)
}

/// Result of one bulk-fetch comparison.
#[derive(Debug, Clone, Default)]
pub struct Bulk {
    pub messages: usize,
    /// HTTP requests the emulator counted for get_many (token requests excluded).
    pub requests_many: u64,
    pub wall_many: Duration,
    /// `None` when one-by-one was not run.
    pub requests_one: Option<u64>,
    pub wall_one: Option<Duration>,
}

async fn fetch_many(c: &Connector, ids: &[String], chunk: usize, extra: Value) -> usize {
    let mut fetched = 0;
    for part in ids.chunks(chunk) {
        let mut params = json!({"message_ids": part});
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        let out = c
            .execute("messages", "get_many", params)
            .await
            .expect("get_many");
        let items = out.result.as_array().expect("get_many returns an array");
        assert_eq!(items.len(), part.len());
        let failed = items.iter().filter(|m| m.get("error").is_some()).count();
        assert_eq!(failed, 0, "get_many reported failures: {:?}", out.metadata);
        fetched += items.len();
    }
    fetched
}

async fn fetch_one_by_one(c: &Connector, ids: &[String]) -> usize {
    for id in ids {
        let out = c
            .execute("messages", "get", json!({"message_id": id}))
            .await
            .expect("messages.get");
        assert_eq!(out.result["id"], json!(id));
    }
    ids.len()
}

/// Gmail: details of `n` messages with `get_many` (1,000 ids per call, the action's maximum,
/// default batch size 50) against sequential one-by-one `get`. `latency` is set on the
/// emulator after the warm-up: Gmail's emulator adds it once per HTTP request (a batch is one
/// request), like a network round trip.
pub async fn gmail_bulk(n: usize, one_by_one: bool, latency: Option<Duration>) -> Bulk {
    let (sb, ids) = gmail_sandbox(n);
    assert_eq!(ids.len(), n, "the emulator seeded {n} messages");
    let gmail = gmail_connector(&sb.base_url(), None);
    // Warm the pool so both sides start with a connection.
    gmail
        .execute("profile", "get", json!({}))
        .await
        .expect("profile");
    sb.set_latency(latency);
    sb.reset_stats();
    let t = Instant::now();
    assert_eq!(fetch_many(&gmail, &ids, 1000, json!({})).await, n);
    let mut out = Bulk {
        messages: n,
        wall_many: t.elapsed(),
        requests_many: sb.stats().http_requests,
        ..Bulk::default()
    };
    if one_by_one {
        sb.reset_stats();
        let t = Instant::now();
        fetch_one_by_one(&gmail, &ids).await;
        out.wall_one = Some(t.elapsed());
        out.requests_one = Some(sb.stats().http_requests);
    }
    out
}

/// How the Outlook emulator delays answers in a bulk run.
#[derive(Debug, Clone, Copy)]
pub enum OutlookDelay {
    None,
    /// Once per HTTP request (`set_round_trip`): a network round trip; a `$batch` pays it once.
    RoundTrip(Duration),
    /// On every Graph request including each `$batch` part (`set_latency`): Graph's own time
    /// per request; the emulator runs a batch's parts 4 at a time, as Graph does per mailbox.
    PerRequest(Duration),
}

/// Outlook: details of `n` messages with `get_many` (500 ids per call, the action's maximum;
/// 20 per `$batch`) against sequential one-by-one `get`, with `delay` set on the emulator
/// after the warm-up.
pub async fn outlook_bulk(n: usize, one_by_one: bool, delay: OutlookDelay) -> Bulk {
    let (sb, ids) = outlook_sandbox(n);
    assert_eq!(ids.len(), n, "the emulator seeded {n} messages");
    let outlook = connector_outlook::connector(
        Arc::new(StaticToken::new(TOKEN)),
        HttpConfig::new(sb.base_url()),
    )
    .expect("Outlook connector");
    outlook
        .execute("profile", "get", json!({}))
        .await
        .expect("profile");
    match delay {
        OutlookDelay::None => {}
        OutlookDelay::RoundTrip(d) => sb.set_round_trip(Some(d)),
        OutlookDelay::PerRequest(d) => sb.set_latency(Some(d)),
    }
    sb.reset_stats();
    let t = Instant::now();
    assert_eq!(fetch_many(&outlook, &ids, 500, json!({})).await, n);
    let mut out = Bulk {
        messages: n,
        wall_many: t.elapsed(),
        requests_many: sb.stats().requests,
        ..Bulk::default()
    };
    if one_by_one {
        sb.reset_stats();
        let t = Instant::now();
        fetch_one_by_one(&outlook, &ids).await;
        out.wall_one = Some(t.elapsed());
        out.requests_one = Some(sb.stats().requests);
    }
    out
}
