//! The benchmark cases in tiny sizes, so that `.ci/run` (debug build, seconds) keeps them
//! working. Asserts counts only, never timings.

use tests::bench::{inproc, mime, stampede};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_stampede_makes_exactly_one_token_request() {
    let rounds = stampede::run(100, 2).await;
    assert_eq!(rounds.len(), 2);
    for r in &rounds {
        assert_eq!(r.token_requests_expired, 1, "one refresh per stampede");
        assert_eq!(r.token_requests_fresh, 0, "the refreshed token is reused");
        assert_eq!(r.expired.len(), 100);
        assert_eq!(r.fresh.len(), 100);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_get_many_batches_50_per_request() {
    let n = 120;
    let b = inproc::gmail_bulk(n, true, None).await;
    assert!(
        b.requests_many <= (n / 50 + 1) as u64,
        "{} requests for {n} messages",
        b.requests_many
    );
    assert_eq!(b.requests_one, Some(n as u64), "one request per get");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_get_many_batches_20_per_request() {
    let n = 60;
    let b = inproc::outlook_bulk(n, true, inproc::OutlookDelay::None).await;
    assert!(
        b.requests_many <= (n / 20 + 1) as u64,
        "{} requests for {n} messages",
        b.requests_many
    );
    assert_eq!(b.requests_one, Some(n as u64), "one request per get");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overhead_case_runs_both_series() {
    let o = inproc::overhead(10).await;
    assert_eq!(o.execute.len(), 10);
    assert_eq!(o.raw.len(), 10);
}

#[test]
fn the_mime_corpus_decodes_and_composes() {
    let corpus = mime::corpus(false);
    assert!(corpus.len() >= 7, "plain in 4 charsets, html, 2 multipart");
    let d = mime::decode(false, std::time::Duration::ZERO);
    assert_eq!(d.passes.len(), 5);
    let c = mime::compose(false, std::time::Duration::ZERO);
    assert!(c.bytes_per_pass > 1024 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_store_case_measures_both_search_paths_and_the_backfill() {
    use tests::bench::context::{run, ContextSizes};
    let mut figs = Vec::new();
    run(ContextSizes::smoke(), &mut figs).await;
    let measured = |name: &str| {
        figs.iter()
            .any(|f| f.name.contains(name) && f.median.is_some_and(|m| m > 0.0))
    };
    assert!(measured("messages.search from the store"), "{figs:#?}");
    assert!(measured("through the provider"), "{figs:#?}");
    assert!(measured("backfill throughput"), "{figs:#?}");
}

/// Runs `connectors serve` (the debug binary `cargo test --workspace` builds; built here when
/// missing) three times: push, polling, idle connectors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_case_measures_push_polling_and_idle_cpu() {
    use tests::bench::events::{run, EventsSizes};
    let sizes = EventsSizes::smoke();
    let mut figs = Vec::new();
    run(sizes, &mut figs).await;
    for (name, n) in [
        ("Gmail (Pub/Sub push", sizes.push_changes),
        ("Outlook (Graph change notifications", sizes.push_changes),
        ("Gmail (history.list)", sizes.poll_changes),
        ("Outlook (delta)", sizes.poll_changes),
    ] {
        let f = figs
            .iter()
            .find(|f| f.name.starts_with(name))
            .unwrap_or_else(|| panic!("no figure {name}: {figs:#?}"));
        assert!(f.median.is_some() && f.p99.is_some(), "{f:#?}");
        assert!(
            f.note.starts_with(&format!("{n} changes; ")),
            "every change reached the webhook: {f:#?}"
        );
        assert!(
            f.note.contains("0 repeated ids, 0 bad signatures"),
            "{f:#?}"
        );
    }
    let cpu = figs
        .iter()
        .find(|f| f.name == "server CPU")
        .unwrap_or_else(|| panic!("{figs:#?}"));
    assert!(cpu.median.is_some_and(|m| m > 0.0), "{cpu:#?}");
    assert!(cpu.baseline.is_some(), "{cpu:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_case_measures_mcp_policy_approval_and_calendar() {
    use tests::bench::agent::{run, AgentSizes};
    let mut figs = Vec::new();
    run(AgentSizes::smoke(), &mut figs).await;
    for name in [
        "full mode: one tool per action",
        "compact mode: list_actions, describe_action, execute",
        "latency via /mcp",
        "latency via /mcp, protocol 2026-07-28",
        "send under a policy",
        "send under a policy, busy day",
        "approval round: held send, approve, send again",
        "one durable commit's write on the data directory's disk",
        "execute latency",
    ] {
        let f = figs
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no figure {name}: {figs:#?}"));
        assert!(f.median.is_some_and(|m| m > 0.0), "{f:#?}");
    }
    let compact = figs.iter().find(|f| f.name.starts_with("compact")).unwrap();
    assert!(compact.note.starts_with("3 tools"), "{compact:#?}");
}
