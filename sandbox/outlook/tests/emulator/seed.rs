//! The seed mailboxes are well-formed mail: every message's `internetMessageId` is in angle
//! brackets, as Graph gives it.

use sandbox_kit::conformance::is_message_id;
use sandbox_outlook::{OutlookSandbox, SandboxConfig, Seed};
use serde_json::Value;

#[tokio::test]
async fn every_seeded_message_has_a_message_id_in_angle_brackets() {
    for seed in [Seed::Demo, Seed::Count(12)] {
        let sb = OutlookSandbox::start(SandboxConfig {
            seed: seed.clone(),
            quotas: false,
            ..Default::default()
        })
        .unwrap();
        let http = reqwest::Client::new();
        let mut seen = 0;
        for user in ["ada@example.com", "grace@example.com"] {
            let mut next = Some(format!(
                "{}/users/{user}/messages?$top=50&$select=internetMessageId",
                sb.base_url()
            ));
            while let Some(url) = next.take() {
                let page: Value = http
                    .get(&url)
                    .bearer_auth("t")
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for m in page["value"].as_array().unwrap() {
                    let id = m["internetMessageId"].as_str().unwrap_or("");
                    assert!(is_message_id(id), "{seed:?} {user}: {id:?}");
                    seen += 1;
                }
                next = page["@odata.nextLink"].as_str().map(str::to_string);
            }
        }
        assert!(seen >= 12, "{seed:?}: the seed has messages");
    }
    assert!(
        !is_message_id("AAMkA@example.com"),
        "the check itself rejects a bare id"
    );
}
