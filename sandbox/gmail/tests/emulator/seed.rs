//! The seed mailboxes are well-formed mail: every message has a Message-ID in angle brackets,
//! and its In-Reply-To / References name message ids the same way.

use sandbox_gmail::{GmailSandbox, SandboxConfig, Seed};
use sandbox_kit::conformance::is_message_id;

/// The unfolded value of each header named `name` in `raw`'s header block.
fn headers(raw: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .replace("\r\n ", " ");
    head.split("\r\n")
        .filter_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .collect()
}

#[tokio::test]
async fn every_seeded_message_has_a_message_id_in_angle_brackets() {
    for seed in [Seed::Demo, Seed::Count(12)] {
        let sb = GmailSandbox::start(SandboxConfig {
            seed: seed.clone(),
            ..Default::default()
        })
        .unwrap();
        let mut seen = 0;
        for user in sb.users() {
            for m in sb.mailbox(&user).unwrap().messages {
                let ids = headers(&m.raw, "Message-ID");
                assert_eq!(ids.len(), 1, "{seed:?} {}: one Message-ID: {ids:?}", m.id);
                assert!(is_message_id(&ids[0]), "{seed:?} {}: {:?}", m.id, ids[0]);
                for name in ["In-Reply-To", "References"] {
                    for value in headers(&m.raw, name) {
                        assert!(
                            value.split_whitespace().all(is_message_id),
                            "{seed:?} {}: {name}: {value:?}",
                            m.id
                        );
                    }
                }
                seen += 1;
            }
        }
        assert!(seen >= 12, "{seed:?}: the seed has messages");
    }
    assert!(
        !is_message_id("kickoff-1@example.com"),
        "the check itself rejects a bare id"
    );
}
