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
    let sb = OutlookSandbox::start(SandboxConfig {
        seed: sandbox_outlook::Seed::Empty,
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    sb.set_behaviour(behaviour);
    sb
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

#[tokio::test]
async fn custom_headers_are_x_names_only_and_a_forward_drops_the_originals_unless_switched_off() {
    let sb = start(Behaviour::kind());
    let with_headers = |headers: Value| {
        json!({"message": {
            "subject": "Tagged",
            "toRecipients": [{"emailAddress": {"address": GRACE}}],
            "internetMessageHeaders": headers,
        }})
    };
    // Only custom (x-) headers may be set, and a wrong one refuses the whole send.
    let (s, e) = call(
        &sb,
        reqwest::Method::POST,
        "/me/sendMail",
        Some(with_headers(
            json!([{"name": "X-Ok", "value": "1"}, {"name": "List-Id", "value": "l"}]),
        )),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["code"], "InvalidInternetMessageHeader");
    assert!(sb.messages_in(GRACE, "inbox").is_empty(), "nothing sent");

    for drops in [true, false] {
        let sb = start(Behaviour {
            forward_drops_headers: drops,
            ..Behaviour::kind()
        });
        let (s, e) = call(
            &sb,
            reqwest::Method::POST,
            "/me/sendMail",
            Some(with_headers(json!([{"name": "X-Ticket", "value": "T-42"}]))),
        )
        .await;
        assert_eq!(s, 202, "{e}");
        let header = |m: &Value, name: &str| -> Option<String> {
            m["internetMessageHeaders"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
                .map(|h| h["value"].as_str().unwrap().to_string())
        };
        let sent_id = sb.messages_in("ada@example.com", "sentitems")[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let path = |id: &str| {
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        };
        let select = "?$select=subject,internetMessageHeaders";
        let (_, sent) = call(
            &sb,
            reqwest::Method::GET,
            &format!("/me/messages/{}{select}", path(&sent_id)),
            None,
        )
        .await;
        assert_eq!(header(&sent, "x-ticket").as_deref(), Some("T-42"), "{sent}");

        // Ada forwards her sent copy to Grace.
        let (s, e) = call(
            &sb,
            reqwest::Method::POST,
            &format!("/me/messages/{}/forward", path(&sent_id)),
            Some(json!({"comment": "fyi", "toRecipients": [{"emailAddress": {"address": GRACE}}]})),
        )
        .await;
        assert_eq!(s, 202, "{e}");
        let inbox = sb.messages_in(GRACE, "inbox");
        // `/me` is Ada; read Grace's copy through her own token.
        let grace = sb.issue_access_token(GRACE, &["Mail.ReadWrite"]);
        let fwd_id = inbox
            .iter()
            .find(|m| m["subject"] == "FW: Tagged")
            .expect("the forward arrived")["id"]
            .as_str()
            .unwrap()
            .to_string();
        let got: Value = reqwest::Client::new()
            .get(format!(
                "{}/me/messages/{}{select}",
                sb.base_url(),
                path(&fwd_id)
            ))
            .bearer_auth(grace)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            header(&got, "X-Ticket").is_none(),
            drops,
            "drops={drops}: {got}"
        );
    }
}
