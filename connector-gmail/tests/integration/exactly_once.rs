//! The property of keyed sends (issue 18): many sends, each with a random fault, each retried
//! by the client up to three times with its key, against the emulator's realistic defaults
//! (Gmail replaces the Message-ID of API sends; the per-user quota is on). The recipient's
//! mailbox holds exactly one copy of every send reported sent or deduplicated, and none of any
//! send reported failed.

use std::collections::BTreeMap;

use crate::common::env::{connector_for, ADA};
use connector_core::{ErrorCode, ExecuteOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sandbox_gmail::{Fault, FaultKind, GmailSandbox, SandboxConfig, Seed};
use serde_json::json;

const GRACE: &str = "grace@example.com";
const SENDS: usize = 30;
const CLIENT_RETRIES: usize = 3;

/// What goes wrong with a send's first attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Trouble {
    None,
    /// The connection drops before Gmail acts (`times` attempts).
    LostBefore(u32),
    /// Gmail sends, and the answer is lost.
    LostAfter,
    /// 429 `times` attempts in a row (4: every attempt, so the send fails).
    Throttled(u32),
    /// 503 `times` attempts in a row.
    ServerError(u32),
}

/// Send `i`'s trouble: every kind once first (a send that fails on every attempt included),
/// then at random.
fn trouble(i: usize, rng: &mut StdRng) -> Trouble {
    const EVERY_KIND: [Trouble; 5] = [
        Trouble::LostAfter,
        Trouble::Throttled(4),
        Trouble::ServerError(4),
        Trouble::LostBefore(1),
        Trouble::None,
    ];
    if let Some(t) = EVERY_KIND.get(i) {
        return *t;
    }
    match rng.gen_range(0..5) {
        0 => Trouble::None,
        1 => Trouble::LostBefore(rng.gen_range(1..=2)),
        2 => Trouble::LostAfter,
        3 => Trouble::Throttled(rng.gen_range(1..=4)),
        _ => Trouble::ServerError(rng.gen_range(1..=4)),
    }
}

fn inject(sb: &GmailSandbox, t: Trouble) {
    let path = "/messages/send";
    let fault = match t {
        Trouble::None => return,
        Trouble::LostBefore(n) => Fault::new("POST", path, FaultKind::DropConnection).times(n),
        Trouble::LostAfter => Fault::new("POST", path, FaultKind::LoseResponse),
        Trouble::Throttled(n) => Fault::new("POST", path, FaultKind::Status(429)).times(n),
        Trouble::ServerError(n) => Fault::new("POST", path, FaultKind::Status(503)).times(n),
    };
    sb.inject_fault(fault);
}

#[tokio::test]
async fn keyed_sends_arrive_exactly_once_whatever_goes_wrong() {
    let sb = GmailSandbox::start(SandboxConfig {
        seed: Seed::Empty,
        ..SandboxConfig::default()
    })
    .unwrap();
    assert!(sb.behaviour().own_message_ids, "the realistic default");
    let gmail = connector_for(&sb, "t");
    let mut rng = StdRng::seed_from_u64(18);
    let mut reported: BTreeMap<String, (Trouble, Result<bool, ErrorCode>)> = BTreeMap::new();
    for i in 0..SENDS {
        let subject = format!("exactly-once-{i:02}");
        let t = trouble(i, &mut rng);
        inject(&sb, t);
        let opts = ExecuteOptions {
            idempotency_key: Some(format!("key-{i}")),
        };
        let params = json!({"to": [GRACE], "subject": subject, "text": "one copy"});
        let mut outcome = Err(ErrorCode::Internal);
        for _ in 0..=CLIENT_RETRIES {
            match gmail
                .execute_with("messages", "send", params.clone(), opts.clone())
                .await
            {
                Ok(out) => {
                    outcome = Ok(out.metadata.get("deduplicated") == Some(&json!(true)));
                    break;
                }
                Err(e) => outcome = Err(e.code),
            }
        }
        sb.clear_faults();
        reported.insert(subject, (t, outcome));
    }

    let copies = |user: &str, subject: &str| {
        sb.mailbox(user)
            .unwrap()
            .messages
            .iter()
            .filter(|m| String::from_utf8_lossy(&m.raw).contains(&format!("Subject: {subject}\r")))
            .count()
    };
    let mut deduplicated = 0;
    let mut failed = 0;
    for (subject, (t, outcome)) in &reported {
        let want = match outcome {
            Ok(dedup) => {
                deduplicated += usize::from(*dedup);
                1
            }
            Err(_) => {
                failed += 1;
                0
            }
        };
        assert_eq!(copies(GRACE, subject), want, "{subject} {t:?} {outcome:?}");
        assert_eq!(copies(ADA, subject), want, "sent copy of {subject} {t:?}");
    }
    // The faults did their work: some retries found the earlier send, some sends failed.
    assert!(deduplicated > 0, "{reported:?}");
    assert!(failed > 0, "{reported:?}");
}
