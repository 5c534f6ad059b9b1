//! Where the emulator is as harsh as the real Graph (docs/provider-behaviour.md), each shown
//! with its switch on (the default) and off.

use std::time::Duration;

use sandbox_outlook::{Behaviour, OutlookSandbox, SandboxConfig, DEFAULT_TRANSPORT_DELAY};
use serde_json::{json, Value};

const GRACE: &str = "grace@example.com";
const PROP: &str = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name X-Send-Key";

async fn call(
    sb: &OutlookSandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.base_url()))
        .bearer_auth("t");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn start(behaviour: Behaviour) -> OutlookSandbox {
    OutlookSandbox::start(SandboxConfig {
        seed: sandbox_outlook::Seed::Empty,
        quotas: false,
        behaviour,
        ..Default::default()
    })
    .unwrap()
}

fn mail(subject: &str, imid: &str, marker: &str) -> Value {
    json!({"message": {
        "subject": subject,
        "toRecipients": [{"emailAddress": {"address": GRACE}}],
        "internetMessageId": imid,
        "singleValueExtendedProperties": [{"id": PROP, "value": marker}],
    }})
}

fn subjects(sb: &OutlookSandbox, user: &str, folder: &str) -> Vec<String> {
    sb.messages_in(user, folder)
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn send_mail_answers_202_and_the_message_goes_drafts_outbox_sent_items() {
    assert!(
        DEFAULT_TRANSPORT_DELAY >= Duration::from_secs(2),
        "a few seconds by default"
    );
    let delay = Duration::from_millis(600);
    let sb = start(Behaviour {
        transport_delay: delay,
        ..Behaviour::default()
    });
    let (s, _) = call(
        &sb,
        reqwest::Method::POST,
        "/me/sendMail",
        Some(mail("async", "<c-1@example.com>", "m1")),
    )
    .await;
    assert_eq!(s, 202);
    let ada = "ada@example.com";
    assert_eq!(
        subjects(&sb, ada, "drafts"),
        ["async"],
        "in Drafts right after the 202"
    );
    let draft = &sb.messages_in(ada, "drafts")[0];
    assert_eq!(draft["isDraft"], true);
    assert!(subjects(&sb, ada, "sentitems").is_empty());
    assert!(
        subjects(&sb, GRACE, "inbox").is_empty(),
        "not delivered yet"
    );
    assert_eq!(sb.in_transit(), 1);

    tokio::time::sleep(delay / 2 + Duration::from_millis(50)).await;
    assert_eq!(
        subjects(&sb, ada, "outbox"),
        ["async"],
        "then in the Outbox"
    );
    assert!(subjects(&sb, ada, "drafts").is_empty());
    assert_eq!(sb.messages_in(ada, "outbox")[0]["isDraft"], false);

    tokio::time::sleep(delay / 2 + Duration::from_millis(50)).await;
    assert_eq!(
        subjects(&sb, ada, "sentitems"),
        ["async"],
        "then in Sent Items"
    );
    assert!(subjects(&sb, ada, "outbox").is_empty());
    assert_eq!(subjects(&sb, GRACE, "inbox"), ["async"], "and delivered");
    assert_eq!(sb.in_transit(), 0);

    // A draft's /send takes the same way, keeping its id until Sent Items; a second /send
    // while it is on its way is refused.
    let (_, d) = call(
        &sb,
        reqwest::Method::POST,
        "/me/messages",
        Some(mail("draft", "<c-2@example.com>", "m2")["message"].clone()),
    )
    .await;
    let id = d["id"].as_str().unwrap();
    let enc =
        percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string();
    assert_eq!(
        call(
            &sb,
            reqwest::Method::POST,
            &format!("/me/messages/{enc}/send"),
            None
        )
        .await
        .0,
        202
    );
    assert_eq!(sb.message_ids(ada, "drafts"), [id]);
    assert_eq!(
        call(
            &sb,
            reqwest::Method::POST,
            &format!("/me/messages/{enc}/send"),
            None
        )
        .await
        .0,
        400
    );
    sb.finish_transport();
    assert_eq!(subjects(&sb, GRACE, "inbox").len(), 2);
    assert!(
        sb.message_ids(ada, "sentitems").iter().all(|s| s != id),
        "a new id in Sent Items"
    );
}

#[tokio::test]
async fn switched_off_sent_mail_is_filed_at_once() {
    let sb = start(Behaviour::kind());
    let (s, _) = call(
        &sb,
        reqwest::Method::POST,
        "/me/sendMail",
        Some(mail("now", "<c-3@example.com>", "m3")),
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(subjects(&sb, "ada@example.com", "sentitems"), ["now"]);
    assert_eq!(subjects(&sb, GRACE, "inbox"), ["now"]);
}

#[tokio::test]
async fn internet_message_id_survives_only_when_switched_on_and_extended_properties_always() {
    for keep in [false, true] {
        let sb = start(Behaviour {
            keep_internet_message_id: keep,
            ..Behaviour::kind()
        });
        call(
            &sb,
            reqwest::Method::POST,
            "/me/sendMail",
            Some(mail("ids", "<c-4@example.com>", "m4")),
        )
        .await;
        let sent = &sb.messages_in("ada@example.com", "sentitems")[0];
        let got = &sb.messages_in(GRACE, "inbox")[0];
        let imid = sent["internetMessageId"].as_str().unwrap();
        assert_eq!(imid == "<c-4@example.com>", keep, "{imid}");
        assert_eq!(
            got["internetMessageId"], imid,
            "the recipient sees the same id"
        );
        if !keep {
            assert!(imid.ends_with(".prod.outlook.com>"), "{imid}");
        }
        // The extended property is kept, found by $filter and read by $expand, but not
        // rendered unasked.
        assert!(sent.get("singleValueExtendedProperties").is_none());
        let filter = format!(
            "singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq 'm4')"
        );
        let expand = format!("singleValueExtendedProperties($filter=id eq '{PROP}')");
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("$filter", &filter)
            .append_pair("$expand", &expand)
            .finish();
        let (s, found) = call(
            &sb,
            reqwest::Method::GET,
            &format!("/me/mailFolders/sentitems/messages?{q}"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{found}");
        let found = found["value"].as_array().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0]["singleValueExtendedProperties"],
            json!([{"id": PROP, "value": "m4"}])
        );
        let other = filter.replace("'m4'", "'m5'");
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("$filter", &other)
            .finish();
        let (_, none) = call(
            &sb,
            reqwest::Method::GET,
            &format!("/me/messages?{q}"),
            None,
        )
        .await;
        assert_eq!(none["value"], json!([]));
    }
}

#[tokio::test]
async fn send_mail_refuses_inline_attachments_over_4_mb_unless_switched_off() {
    use base64::Engine;
    let big = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 4 * 1024 * 1024 + 10]);
    let body = json!({"message": {
        "subject": "big",
        "toRecipients": [{"emailAddress": {"address": GRACE}}],
        "attachments": [{"@odata.type": "#microsoft.graph.fileAttachment", "name": "a.bin", "contentBytes": big}],
    }});
    let sb = start(Behaviour::default());
    let (s, e) = call(
        &sb,
        reqwest::Method::POST,
        "/me/sendMail",
        Some(body.clone()),
    )
    .await;
    assert_eq!(s, 413, "{e}");
    assert_eq!(sb.in_transit(), 0, "nothing sent");
    let sb = start(Behaviour::kind());
    assert_eq!(
        call(&sb, reqwest::Method::POST, "/me/sendMail", Some(body))
            .await
            .0,
        202
    );
}

#[tokio::test]
async fn an_outside_reply_gets_a_new_conversation_id_unless_switched_off() {
    for changes in [true, false] {
        let sb = start(Behaviour {
            conversation_id_changes: changes,
            ..Behaviour::kind()
        });
        // Ada writes to Grace; Grace replies from her own mailbox.
        call(
            &sb,
            reqwest::Method::POST,
            "/me/sendMail",
            Some(mail("Plan", "<p-1@example.com>", "m6")),
        )
        .await;
        let started = sb.messages_in("ada@example.com", "sentitems")[0]["conversationId"].clone();
        let got = &sb.messages_in(GRACE, "inbox")[0];
        let id = percent_encoding::utf8_percent_encode(
            got["id"].as_str().unwrap(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        let grace = sb.issue_access_token(GRACE, &["Mail.Send", "Mail.ReadWrite"]);
        let r = reqwest::Client::new()
            .post(format!("{}/me/messages/{id}/reply", sb.base_url()))
            .bearer_auth(grace)
            .json(&json!({"comment": "Yes"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let reply = &sb.messages_in("ada@example.com", "inbox")[0];
        assert_eq!(reply["subject"], "RE: Plan");
        assert_eq!(reply["conversationId"] != started, changes, "{reply}");
    }
}
