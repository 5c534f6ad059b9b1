//! The property of keyed sends (issue 18): many sends, each with a random fault, each retried
//! by the client up to three times with its key, against the emulator's realistic defaults
//! (202 before the transport, a few seconds in Drafts and the Outbox, throttling on), once
//! with each `internetMessageId` setting. The recipient's mailbox holds exactly one copy of
//! every send reported sent, in flight or deduplicated, and none of any send reported failed.

use std::collections::BTreeMap;

use crate::common::harness::{connector, sandbox};
use connector_core::{ErrorCode, ExecuteOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sandbox_outlook::{Behaviour, Fault, FaultKind, OutlookSandbox, SandboxConfig, Seed};
use serde_json::json;

const ADA: &str = "ada@example.com";
const GRACE: &str = "grace@example.com";
const SENDS: usize = 30;
const CLIENT_RETRIES: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    None,
    /// The connection drops before Graph acts (`times` attempts).
    LostBefore(u32),
    /// Graph accepts the send (202), and the answer is lost.
    LostAfter,
    /// 429 `times` attempts in a row (4: every attempt, so the send fails).
    Throttled(u32),
    /// 503 `times` attempts in a row.
    ServerError(u32),
    /// The answer is lost and the transport finishes before the retry: the retry finds the
    /// message in Sent Items instead of in transit.
    LostAfterTransport,
    /// The send succeeds and the client calls again while the message is in transit.
    RetryInTransit,
}

/// Send `i`'s trouble: every kind once first (a send that fails on every attempt included),
/// then at random.
fn trouble(i: usize, rng: &mut StdRng) -> Trouble {
    const EVERY_KIND: [Trouble; 7] = [
        Trouble::LostAfter,
        Trouble::LostAfterTransport,
        Trouble::RetryInTransit,
        Trouble::Throttled(4),
        Trouble::ServerError(4),
        Trouble::LostBefore(1),
        Trouble::None,
    ];
    if let Some(t) = EVERY_KIND.get(i) {
        return *t;
    }
    match rng.gen_range(0..7) {
        0 => Trouble::None,
        1 => Trouble::LostBefore(rng.gen_range(1..=2)),
        2 => Trouble::LostAfter,
        3 => Trouble::Throttled(rng.gen_range(1..=4)),
        4 => Trouble::ServerError(rng.gen_range(1..=4)),
        5 => Trouble::LostAfterTransport,
        _ => Trouble::RetryInTransit,
    }
}

fn inject(sb: &OutlookSandbox, t: Trouble) {
    let path = "/sendMail";
    let fault = match t {
        Trouble::None | Trouble::RetryInTransit => return,
        Trouble::LostBefore(n) => Fault::new("POST", path, FaultKind::DropConnection).times(n),
        Trouble::LostAfter | Trouble::LostAfterTransport => {
            Fault::new("POST", path, FaultKind::LoseResponse)
        }
        Trouble::Throttled(n) => Fault::new("POST", path, FaultKind::Status(429)).times(n),
        Trouble::ServerError(n) => Fault::new("POST", path, FaultKind::Status(503)).times(n),
    };
    sb.inject_fault(fault);
}

/// What the client was told in the end: `Ok(status)` or the last error.
type Reported = Result<String, ErrorCode>;

async fn run(keep_internet_message_id: bool) {
    let sb = sandbox(SandboxConfig {
        seed: Seed::Empty,
        ..SandboxConfig::default()
    });
    sb.set_behaviour(Behaviour {
        keep_internet_message_id,
        ..Behaviour::default()
    });
    assert_eq!(
        sb.behaviour().transport_delay,
        Behaviour::default().transport_delay
    );
    let c = connector(&sb);
    let mut rng = StdRng::seed_from_u64(18 + u64::from(keep_internet_message_id));
    let mut reported: BTreeMap<String, (Trouble, Reported)> = BTreeMap::new();
    for i in 0..SENDS {
        let subject = format!("exactly-once-{i:02}");
        let t = trouble(i, &mut rng);
        inject(&sb, t);
        let opts = ExecuteOptions {
            idempotency_key: Some(format!("key-{i}")),
        };
        let params = json!({"to": [GRACE], "subject": subject, "text": "one copy"});
        let mut outcome: Reported = Err(ErrorCode::Internal);
        for attempt in 0..=CLIENT_RETRIES {
            if attempt == 1 && t == Trouble::LostAfterTransport {
                sb.finish_transport();
            }
            match c
                .execute_with("messages", "send", params.clone(), opts.clone())
                .await
            {
                Ok(out) => {
                    let status = out.result["status"].as_str().unwrap_or("").to_string();
                    let dedup = out.metadata.get("deduplicated") == Some(&json!(true));
                    assert_eq!(dedup, status != "sent", "{subject} {t:?} {out:?}");
                    outcome = Ok(status);
                    if t == Trouble::RetryInTransit && attempt == 0 {
                        continue;
                    }
                    break;
                }
                Err(e) => outcome = Err(e.code),
            }
        }
        sb.clear_faults();
        reported.insert(subject, (t, outcome));
    }
    sb.finish_transport();

    let copies = |user: &str, folder: &str, subject: &str| {
        sb.messages_in(user, folder)
            .iter()
            .filter(|m| m["subject"] == subject)
            .count()
    };
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for (subject, (t, outcome)) in &reported {
        let want = usize::from(outcome.is_ok());
        *by_status
            .entry(match outcome {
                Ok(s) => s.clone(),
                Err(_) => "failed".into(),
            })
            .or_default() += 1;
        assert_eq!(
            copies(GRACE, "inbox", subject),
            want,
            "{subject} {t:?} {outcome:?}"
        );
        assert_eq!(copies(ADA, "sentitems", subject), want, "{subject} {t:?}");
    }
    // The faults did their work: retries found sends in transit and in Sent Items, and some
    // sends failed.
    for status in ["in_flight", "already_sent", "failed"] {
        assert!(
            by_status.get(status).is_some_and(|n| *n > 0),
            "{status}: {by_status:?}"
        );
    }
}

#[tokio::test]
async fn keyed_sends_arrive_exactly_once_when_graph_replaces_the_internet_message_id() {
    run(false).await;
}

#[tokio::test]
async fn keyed_sends_arrive_exactly_once_when_graph_keeps_the_internet_message_id() {
    run(true).await;
}

/// Keyed `send_draft` (issue 18): the answer of the first send is lost; a retry while the
/// transport has the draft answers `in_flight` without sending again, one after the transport
/// answers `already_sent`; a first attempt that failed before Graph acted is sent by the retry;
/// the recipient gets exactly one copy of each.
#[tokio::test]
async fn keyed_draft_sends_go_out_exactly_once_and_a_draft_is_never_taken_for_sent() {
    let sb = sandbox(SandboxConfig {
        seed: Seed::Empty,
        quotas: false,
        ..SandboxConfig::default()
    });
    let c = connector(&sb);
    let draft = |subject: &'static str| {
        let c = &c;
        async move {
            c.execute(
                "messages",
                "create_draft",
                json!({"to": [GRACE], "subject": subject, "text": "one copy"}),
            )
            .await
            .unwrap()
            .result["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let keyed = |key: &str| ExecuteOptions {
        idempotency_key: Some(key.to_string()),
    };
    let send = |id: &str, key: &str| {
        c.execute_with(
            "messages",
            "send_draft",
            json!({"message_id": id}),
            keyed(key),
        )
    };

    // The answer is lost after Graph accepted the send.
    let a = draft("draft-lost-answer").await;
    sb.inject_fault(Fault::new("POST", "/send", FaultKind::LoseResponse));
    let err = send(&a, "draft-a").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::OutcomeUnknown);
    let again = send(&a, "draft-a").await.unwrap();
    assert_eq!(again.result["status"], "in_flight", "{again:?}");
    assert_eq!(again.metadata["deduplicated"], true);
    sb.finish_transport();
    let late = send(&a, "draft-a").await.unwrap();
    assert_eq!(late.result["status"], "already_sent", "{late:?}");

    // The first attempt fails before Graph acts: the draft is still a draft, and the retry
    // sends it.
    let b = draft("draft-failed-first").await;
    sb.inject_fault(Fault::new("POST", "/send", FaultKind::DropConnection));
    assert!(send(&b, "draft-b").await.is_err());
    let sent = send(&b, "draft-b").await.unwrap();
    assert_eq!(sent.result["status"], "sent", "{sent:?}");
    assert_eq!(sent.metadata["deduplicated"], false);
    sb.finish_transport();

    let inbox: Vec<String> = sb
        .messages_in(GRACE, "inbox")
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or("").to_string())
        .collect();
    for subject in ["draft-lost-answer", "draft-failed-first"] {
        assert_eq!(
            inbox.iter().filter(|s| *s == subject).count(),
            1,
            "{subject}: {inbox:?}"
        );
    }
}
