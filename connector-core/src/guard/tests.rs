//! Each rule of the send policy, and each path of an approval, against [`LocalGuard`].

use serde_json::{json, Value};

use super::*;
use crate::spec::Effect;

fn spec(effect: Option<Effect>) -> ActionSpec {
    serde_json::from_value(json!({
        "description": "x", "params": {"type": "object"}, "result": {},
        "handler": "h", "idempotent": false,
    }))
    .map(|mut a: ActionSpec| {
        a.effect = effect;
        a
    })
    .unwrap()
}

fn mail(params: Value) -> Option<Preview> {
    Preview::from_params(&params)
}

fn policy(v: Value) -> Policy {
    let p: Policy = serde_json::from_value(v).unwrap();
    p.validate().unwrap();
    p
}

async fn send(guard: &LocalGuard, params: Value) -> Result<Admission> {
    admit(
        guard,
        "messages",
        "send",
        &spec(Some(Effect::Send)),
        mail(params),
    )
    .await
}

fn rule(e: &ConnectorError) -> &str {
    e.details["rule"].as_str().unwrap_or("")
}

#[tokio::test]
async fn read_only_refuses_writes_and_sends_but_not_reads() {
    let g = LocalGuard::new(Some(policy(json!({"mode": "read_only"}))));
    assert!(
        admit(&g, "messages", "list", &spec(Some(Effect::Read)), None)
            .await
            .is_ok()
    );
    for effect in [
        Some(Effect::Create),
        Some(Effect::Update),
        Some(Effect::Delete),
        None,
    ] {
        let e = admit(&g, "labels", "create", &spec(effect), None)
            .await
            .unwrap_err();
        assert_eq!((e.code, rule(&e)), (ErrorCode::PermissionDenied, "mode"));
        assert!(e.details["allowed_by"]
            .as_str()
            .unwrap()
            .contains("draft_only"));
    }
    let e = send(&g, json!({"to": ["a@example.com"]}))
        .await
        .unwrap_err();
    assert_eq!(rule(&e), "mode");
}

#[tokio::test]
async fn draft_only_allows_drafts_and_refuses_sends() {
    let g = LocalGuard::new(Some(policy(json!({"mode": "draft_only"}))));
    assert!(
        admit(&g, "drafts", "create", &spec(Some(Effect::Create)), None)
            .await
            .is_ok()
    );
    let e = send(&g, json!({"to": ["a@example.com"]}))
        .await
        .unwrap_err();
    assert_eq!((e.code, rule(&e)), (ErrorCode::PermissionDenied, "mode"));
    assert!(e.message.contains("draft"), "{}", e.message);
}

#[tokio::test]
async fn no_policy_and_the_empty_policy_allow_everything() {
    for g in [
        LocalGuard::new(None),
        LocalGuard::new(Some(Policy::default())),
    ] {
        assert!(send(&g, json!({"to": ["x@anywhere.test"]})).await.is_ok());
        assert!(admit(&g, "x", "y", &spec(None), None).await.is_ok());
    }
}

#[tokio::test]
async fn the_deny_list_matches_addresses_and_domains_in_any_case_and_any_field() {
    let g = LocalGuard::new(Some(policy(
        json!({"deny_recipients": ["Evil.example", "mallory@corp.example"]}),
    )));
    for params in [
        json!({"to": ["eve@EVIL.example"]}),
        json!({"to": ["ok@corp.example"], "cc": ["Mallory <MALLORY@corp.example>"]}),
        json!({"to": ["ok@corp.example"], "bcc": ["x@evil.example"]}),
    ] {
        let e = send(&g, params.clone()).await.unwrap_err();
        assert_eq!(
            (e.code, rule(&e)),
            (ErrorCode::PermissionDenied, "deny_recipients"),
            "{params}"
        );
    }
    assert!(send(&g, json!({"to": ["ok@corp.example"]})).await.is_ok());
    // A domain entry is that domain, not a longer one.
    assert!(send(&g, json!({"to": ["x@notevil.example"]})).await.is_ok());
}

#[tokio::test]
async fn the_allow_list_admits_only_its_addresses_and_domains() {
    let g = LocalGuard::new(Some(policy(
        json!({"allow_recipients": ["@corp.example", "partner@other.example"]}),
    )));
    assert!(send(
        &g,
        json!({"to": ["a@Corp.Example"], "cc": ["partner@other.example"]})
    )
    .await
    .is_ok());
    let e = send(
        &g,
        json!({"to": ["a@corp.example"], "bcc": ["b@other.example"]}),
    )
    .await
    .unwrap_err();
    assert_eq!(rule(&e), "allow_recipients");
    assert_eq!(e.details["recipient"], "b@other.example");
    // The deny-list wins over the allow-list.
    let g = LocalGuard::new(Some(policy(
        json!({"allow_recipients": ["corp.example"], "deny_recipients": ["boss@corp.example"]}),
    )));
    let e = send(&g, json!({"to": ["boss@corp.example"]}))
        .await
        .unwrap_err();
    assert_eq!(rule(&e), "deny_recipients");
}

#[tokio::test]
async fn a_send_whose_recipients_are_unknown_is_refused_when_rules_need_them() {
    let g = LocalGuard::new(Some(policy(json!({"deny_recipients": ["evil.example"]}))));
    let e = admit(&g, "drafts", "send", &spec(Some(Effect::Send)), None)
        .await
        .unwrap_err();
    assert_eq!(rule(&e), "recipients");
    let g = LocalGuard::new(Some(policy(json!({"max_sends_per_day": 5}))));
    assert!(admit(&g, "drafts", "send", &spec(Some(Effect::Send)), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn the_largest_attachment_is_enforced() {
    let g = LocalGuard::new(Some(policy(json!({"max_attachment_bytes": 4}))));
    let small = json!({"to": ["a@x.example"], "attachments": [{"filename": "a", "content_base64": "AAAA"}]});
    let big = json!({"to": ["a@x.example"], "attachments": [{"filename": "b.bin", "content_base64": "AAAAAAAA"}]});
    assert!(send(&g, small).await.is_ok());
    let e = send(&g, big).await.unwrap_err();
    assert_eq!(rule(&e), "max_attachment_bytes");
    assert!(
        e.message.contains("b.bin") && e.message.contains("6 bytes"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn sends_per_hour_and_day_are_counted_and_failed_sends_given_back() {
    let g = LocalGuard::new(Some(policy(json!({"max_sends_per_hour": 2}))));
    let to = json!({"to": ["a@x.example"]});
    let first = send(&g, to.clone()).await.unwrap();
    // A send that certainly failed does not count.
    first
        .settle(
            &g,
            &Err(ConnectorError::new(ErrorCode::ProviderError, "no")),
        )
        .await
        .unwrap();
    send(&g, to.clone()).await.unwrap();
    let maybe = send(&g, to.clone()).await.unwrap();
    // One whose outcome is unknown does.
    maybe
        .settle(
            &g,
            &Err(ConnectorError::new(ErrorCode::OutcomeUnknown, "?")),
        )
        .await
        .unwrap();
    let e = send(&g, to.clone()).await.unwrap_err();
    assert_eq!(
        (e.code, rule(&e)),
        (ErrorCode::RateLimited, "max_sends_per_hour")
    );
    // Drafts are not sends.
    assert!(
        admit(&g, "drafts", "create", &spec(Some(Effect::Create)), None)
            .await
            .is_ok()
    );

    let g = LocalGuard::new(Some(policy(json!({"max_sends_per_day": 1}))));
    send(&g, to.clone()).await.unwrap();
    let e = send(&g, to).await.unwrap_err();
    assert_eq!(rule(&e), "max_sends_per_day");
}

fn approval_id(e: &ConnectorError) -> String {
    assert_eq!(e.code, ErrorCode::ApprovalRequired, "{e}");
    e.details["approval_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_approved_message_goes_out_once_and_a_changed_one_needs_a_new_approval() {
    let g = LocalGuard::new(Some(policy(json!({"require_approval": "all"}))));
    let m = json!({"to": ["a@x.example"], "subject": "Q3", "text": "numbers",
        "attachments": [{"filename": "q3.csv", "mime_type": "text/csv", "content_base64": "YSxiCg=="}]});
    let e = send(&g, m.clone()).await.unwrap_err();
    let id = approval_id(&e);
    let preview = &e.details["preview"];
    assert_eq!(preview["to"], json!(["a@x.example"]));
    assert_eq!(preview["subject"], "Q3");
    assert_eq!(preview["text"], "numbers");
    assert_eq!(preview["attachments"][0]["size"], 4);
    assert_eq!(
        preview["attachments"][0]["sha256"],
        "5be08c9684a1d25efcee09318204824278b08bbfb4aef973ffefd0b9d7478313"
    );
    // Pending: asking again names the same approval.
    assert_eq!(approval_id(&send(&g, m.clone()).await.unwrap_err()), id);
    g.decide(&id, true).unwrap();
    // Deciding twice is refused.
    assert_eq!(g.decide(&id, false).unwrap_err().code, ErrorCode::Conflict);
    // A changed message is not covered.
    let mut changed = m.clone();
    changed["text"] = json!("other numbers");
    let other = approval_id(&send(&g, changed).await.unwrap_err());
    assert_ne!(other, id);
    // The approved one goes out, with a key derived from the approval.
    let a = send(&g, m.clone()).await.unwrap();
    assert_eq!(a.idempotency_key(), Some(format!("approval-{id}")));
    a.settle(&g, &Ok(Output::default())).await.unwrap();
    let e = send(&g, m).await.unwrap_err();
    assert_eq!(
        (e.code, e.details["reason"].as_str()),
        (ErrorCode::Conflict, Some("approval_used"))
    );
}

#[tokio::test]
async fn a_rejected_message_is_refused_and_a_failed_approved_send_can_be_retried() {
    let g = LocalGuard::new(Some(policy(json!({"require_approval": "all"}))));
    let m = json!({"to": ["a@x.example"], "subject": "s"});
    let id = approval_id(&send(&g, m.clone()).await.unwrap_err());
    g.decide(&id, false).unwrap();
    let e = send(&g, m).await.unwrap_err();
    assert_eq!(
        (e.code, rule(&e)),
        (ErrorCode::PermissionDenied, "approval")
    );

    let m = json!({"to": ["a@x.example"], "subject": "t"});
    let id = approval_id(&send(&g, m.clone()).await.unwrap_err());
    g.decide(&id, true).unwrap();
    let a = send(&g, m.clone()).await.unwrap();
    a.settle(
        &g,
        &Err(ConnectorError::new(ErrorCode::ProviderUnavailable, "down")),
    )
    .await
    .unwrap();
    assert!(
        send(&g, m).await.is_ok(),
        "given back after a certain failure"
    );
}

#[tokio::test]
async fn an_expired_approval_cannot_be_decided_and_a_new_one_is_asked() {
    let g = LocalGuard::new(Some(policy(
        json!({"require_approval": "all", "approval_ttl_seconds": 1}),
    )));
    let m = json!({"to": ["a@x.example"]});
    let id = approval_id(&send(&g, m.clone()).await.unwrap_err());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(g.decide(&id, true).unwrap_err().code, ErrorCode::Conflict);
    assert_eq!(g.approval(&id).unwrap().0, ApprovalStatus::Expired);
    let again = approval_id(&send(&g, m).await.unwrap_err());
    assert_ne!(again, id);
}

#[tokio::test]
async fn external_and_recipient_count_rules_ask_only_when_they_apply() {
    let g = LocalGuard::new(Some(policy(
        json!({"require_approval": "external", "internal_domains": ["corp.example"]}),
    )));
    assert!(send(
        &g,
        json!({"to": ["a@corp.example"], "cc": ["B@CORP.example"]})
    )
    .await
    .is_ok());
    // The sender's own domain is internal too.
    assert!(send(
        &g,
        json!({"from": "me@home.example", "to": ["x@home.example"]})
    )
    .await
    .is_ok());
    let e = send(
        &g,
        json!({"to": ["a@corp.example"], "bcc": ["x@outside.example"]}),
    )
    .await
    .unwrap_err();
    approval_id(&e);
    assert!(e.details["reason"]
        .as_str()
        .unwrap()
        .contains("x@outside.example"));

    let g = LocalGuard::new(Some(policy(
        json!({"require_approval": "more_recipients_than", "approval_above_recipients": 2}),
    )));
    assert!(send(&g, json!({"to": ["a@x.example", "b@x.example"]}))
        .await
        .is_ok());
    approval_id(
        &send(
            &g,
            json!({"to": ["a@x.example", "b@x.example"], "cc": ["c@x.example"]}),
        )
        .await
        .unwrap_err(),
    );
}

#[test]
fn policies_name_the_field_that_is_wrong() {
    let bad: Policy =
        serde_json::from_value(json!({"deny_recipients": ["ok.example", "not a domain"]})).unwrap();
    let e = bad.validate().unwrap_err();
    assert_eq!(e.details["errors"][0]["pointer"], "/deny_recipients/1");
    let bad: Policy =
        serde_json::from_value(json!({"require_approval": "more_recipients_than"})).unwrap();
    assert_eq!(
        bad.validate().unwrap_err().details["errors"][0]["pointer"],
        "/approval_above_recipients"
    );
    assert!(serde_json::from_value::<Policy>(json!({"mode": "yolo"})).is_err());
    assert!(serde_json::from_value::<Policy>(json!({"typo": 1})).is_err());
}

#[test]
fn the_published_entry_patterns_are_the_rules_the_server_applies() {
    let entry = regex::Regex::new(ENTRY_PATTERN).unwrap();
    let domain = regex::Regex::new(DOMAIN_PATTERN).unwrap();
    let samples = [
        "ada@example.com",
        "example.com",
        "@example.com",
        "@ada@example.com",
        "a@.",
        ".",
        "",
        "@",
        "@@example.com",
        "ada@",
        "ada@localhost",
        "a b@example.com",
        "a@b@c.d",
        "example.com\n",
        " example.com",
        "ex\u{7f}.com",
        "ex\u{85}ample.com",
        "bücher.de",
    ];
    for s in samples {
        assert_eq!(entry.is_match(s), entry_is_valid(s, false), "entry {s:?}");
        assert_eq!(domain.is_match(s), entry_is_valid(s, true), "domain {s:?}");
    }
    proptest::proptest!(|(s in "@?[a-z@. \t\u{7f}\u{85}é]{0,12}")| {
        proptest::prop_assert_eq!(entry.is_match(&s), entry_is_valid(&s, false));
        proptest::prop_assert_eq!(domain.is_match(&s), entry_is_valid(&s, true));
    });
    assert!(entry_is_valid("ada@example.com", false) && !entry_is_valid("ada@example.com", true));
    assert!(!entry_is_valid("not a domain", false));
}

#[test]
fn policy_integers_written_as_floats_are_integers() {
    let p: Policy = serde_json::from_value(json!({"max_sends_per_hour": 5.0})).unwrap();
    assert_eq!(p.max_sends_per_hour, Some(5));
    assert!(serde_json::from_value::<Policy>(json!({"max_sends_per_day": 2.5})).is_err());
}

#[tokio::test]
async fn after_a_lost_answer_only_an_exactly_once_send_gets_its_approval_back() {
    let g = LocalGuard::new(Some(policy(json!({"require_approval": "all"}))));
    let lost = Err(ConnectorError::new(ErrorCode::OutcomeUnknown, "lost"));
    for (exactly_once, retried) in [(true, true), (false, false)] {
        let m = json!({"to": ["a@x.example"], "subject": format!("lost-{exactly_once}")});
        let id = approval_id(&send(&g, m.clone()).await.unwrap_err());
        g.decide(&id, true).unwrap();
        let mut a = send(&g, m.clone()).await.unwrap();
        assert!(
            a.fresh_key(),
            "the approval's first use: nothing to look for"
        );
        a.set_exactly_once(exactly_once);
        a.settle(&g, &lost).await.unwrap();
        match send(&g, m).await {
            Ok(again) => {
                assert!(retried);
                assert_eq!(again.idempotency_key(), a.idempotency_key(), "the same key");
                assert!(
                    !again.fresh_key(),
                    "the first send may have gone out: the retry looks for it"
                );
            }
            Err(e) => {
                assert!(!retried);
                assert_eq!(e.details["reason"], "approval_used");
            }
        }
    }
}

#[tokio::test]
async fn a_send_without_an_approval_needs_no_fresh_key_and_limits_alone_need_no_preview() {
    let g = LocalGuard::new(Some(policy(json!({"max_sends_per_hour": 1}))));
    // No preview (the connector skips it when no rule reads the message): counted all the same.
    let a = admit(&g, "messages", "send", &spec(Some(Effect::Send)), None)
        .await
        .unwrap();
    assert!(!a.fresh_key(), "no approval, no key of the guard's");
    assert_eq!(a.idempotency_key(), None);
    let e = admit(&g, "messages", "send", &spec(Some(Effect::Send)), None)
        .await
        .unwrap_err();
    assert_eq!(rule(&e), "max_sends_per_hour");
    assert!(
        e.message.contains("1 sends in the last hour"),
        "{}",
        e.message
    );
    assert!(!policy(json!({"max_sends_per_hour": 1})).reads_message());
    for p in [
        json!({"allow_recipients": ["x.example"]}),
        json!({"deny_recipients": ["x.example"]}),
        json!({"require_approval": "all"}),
        json!({"max_attachment_bytes": 10}),
    ] {
        assert!(policy(p.clone()).reads_message(), "{p}");
    }
}

/// Approved sends racing at a limit take exactly the places left (the limit is checked again
/// as each is counted); the ones refused keep their approval for later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approved_sends_racing_at_a_limit_take_exactly_its_places_and_keep_their_approvals() {
    let g = std::sync::Arc::new(LocalGuard::new(Some(policy(
        json!({"require_approval": "all", "max_sends_per_hour": 3}),
    ))));
    let message = |i: usize| json!({"to": ["a@x.example"], "subject": format!("m{i}")});
    let mut ids = Vec::new();
    for i in 0..12 {
        let id = approval_id(&send(&g, message(i)).await.unwrap_err());
        g.decide(&id, true).unwrap();
        ids.push(id);
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(12));
    let tries = (0..12).map(|i| {
        let (g, start) = (g.clone(), start.clone());
        tokio::spawn(async move {
            start.wait().await;
            send(&g, message(i)).await.map(|_| ())
        })
    });
    let outcomes: Vec<Result<()>> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(|t| t.unwrap())
        .collect();
    let sent = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(sent, 3, "{outcomes:?}");
    for (o, id) in outcomes.iter().zip(&ids) {
        let status = g.approval(id).unwrap().0;
        match o {
            Ok(()) => assert_eq!(status, ApprovalStatus::Used),
            Err(e) => {
                assert_eq!(
                    (e.code, rule(e)),
                    (ErrorCode::RateLimited, "max_sends_per_hour")
                );
                assert_eq!(status, ApprovalStatus::Approved, "{id} was given back");
            }
        }
    }
}

/// A [`LocalGuard`] whose first `stale` refusals answer counts with a place free: the window
/// lost a send between the refusing count and the counts read after it (as the server's two
/// statements can see it).
struct AgedOut {
    inner: LocalGuard,
    stale: std::sync::atomic::AtomicU32,
    /// A racer that takes the freed place right after each stale answer.
    racer: bool,
}

#[async_trait]
impl Guard for AgedOut {
    async fn policy(&self) -> Result<Option<Policy>> {
        self.inner.policy().await
    }
    async fn send_counts(&self) -> Result<SendCounts> {
        self.inner.send_counts().await
    }
    async fn record_send(&self, id: &str) -> Result<()> {
        self.inner.record_send(id).await
    }
    async fn reserve_send(&self, id: &str, policy: &Policy) -> Result<Option<SendCounts>> {
        use std::sync::atomic::Ordering;
        let refused = self.inner.reserve_send(id, policy).await?;
        let Some(counts) = refused else {
            return Ok(None);
        };
        if self.stale.load(Ordering::SeqCst) == 0 {
            return Ok(Some(counts));
        }
        self.stale.fetch_sub(1, Ordering::SeqCst);
        if !self.racer {
            // The place really did free: the oldest send, "a", left the window.
            self.inner.forget_send("a").await?;
        }
        Ok(Some(SendCounts {
            last_hour: counts.last_hour - 1,
            last_day: counts.last_day - 1,
        }))
    }
    async fn forget_send(&self, id: &str) -> Result<()> {
        self.inner.forget_send(id).await
    }
    async fn find_approval(&self, content_hash: &str) -> Result<Option<ApprovalState>> {
        self.inner.find_approval(content_hash).await
    }
    async fn request_approval(&self, request: ApprovalRequest) -> Result<ApprovalTicket> {
        self.inner.request_approval(request).await
    }
    async fn consume_approval(&self, id: &str) -> Result<Consumed> {
        self.inner.consume_approval(id).await
    }
    async fn release_approval(&self, id: &str) -> Result<()> {
        self.inner.release_approval(id).await
    }
}

async fn send_via(g: &AgedOut, params: Value) -> Result<Admission> {
    admit(
        g,
        "messages",
        "send",
        &spec(Some(Effect::Send)),
        mail(params),
    )
    .await
}

/// A refusal whose counts show a free place is not taken as leave to count the send: the send
/// is reserved again, so a racer that took the freed place keeps the limit exact, and a place
/// that really freed is taken.
#[tokio::test]
async fn a_refusal_whose_counts_show_a_free_place_reserves_again_instead_of_counting() {
    let to = json!({"to": ["a@x.example"]});
    let full = |stale, racer| async move {
        let inner = LocalGuard::new(Some(policy(json!({"max_sends_per_hour": 2}))));
        for id in ["a", "b"] {
            inner.record_send(id).await.unwrap();
        }
        AgedOut {
            inner,
            stale: std::sync::atomic::AtomicU32::new(stale),
            racer,
        }
    };

    // The freed place went to a racer: refused, and the window holds the limit, not one more.
    let g = full(1, true).await;
    let e = send_via(&g, to.clone()).await.unwrap_err();
    assert_eq!(
        (e.code, rule(&e)),
        (ErrorCode::RateLimited, "max_sends_per_hour")
    );
    assert_eq!(g.send_counts().await.unwrap().last_hour, 2);

    // The place really freed: the send takes it.
    let g = full(1, false).await;
    assert!(send_via(&g, to.clone()).await.unwrap().send_id.is_some());
    assert_eq!(g.send_counts().await.unwrap().last_hour, 2);

    // Places that keep freeing and going to racers: refused after a bounded number of tries.
    let g = full(u32::MAX, true).await;
    let e = send_via(&g, to).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert_eq!(g.send_counts().await.unwrap().last_hour, 2);
    assert_eq!(
        g.stale.load(std::sync::atomic::Ordering::SeqCst),
        u32::MAX - RESERVE_TRIES
    );
}
