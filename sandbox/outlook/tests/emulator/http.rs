//! The Graph emulator over raw HTTP, the way any Graph client sees it.

use std::time::Duration;

use sandbox_outlook::{NewMessage, OutlookSandbox, SandboxConfig, Seed};
use serde_json::{json, Value};

const ADA: &str = "ada@example.com";

fn start(cfg: SandboxConfig) -> OutlookSandbox {
    OutlookSandbox::start(cfg).expect("sandbox starts")
}

async fn get(sb: &OutlookSandbox, token: &str, path_and_query: &str) -> (u16, Value) {
    let url = if path_and_query.starts_with("http") {
        path_and_query.to_string()
    } else {
        format!("{}{}", sb.base_url(), path_and_query)
    };
    let r = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn should_filter_messages_with_odata() {
    let sb = start(SandboxConfig::default());
    let (s, v) = get(
        &sb,
        "t",
        "/me/mailFolders/inbox/messages?$filter=isRead%20eq%20false&$select=subject,isRead",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let subjects: Vec<&str> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Lunch tomorrow?", "Quarterly report"]);
    assert!(v["value"][0].get("body").is_none(), "$select drops body");

    let (_, v) = get(
        &sb,
        "t",
        "/me/messages?$filter=categories/any(c:c%20eq%20'Travel')%20and%20hasAttachments%20eq%20true",
    )
    .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    assert_eq!(v["value"][0]["subject"], "Trip to Lisbon");

    let (_, v) = get(
        &sb,
        "t",
        "/me/messages?$filter=from/emailAddress/address%20eq%20'GRACE@example.com'%20and%20receivedDateTime%20ge%202026-03-01T12:00:00Z",
    )
    .await;
    let subjects: Vec<&str> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Lunch tomorrow?", "RE: Quarterly report"]);

    let (s, v) = get(&sb, "t", "/me/messages?$filter=nope%20eq%201").await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["code"], "RequestBroker--ParseUri");
    assert!(v["error"]["innerError"]["request-id"].is_string());
}
#[tokio::test]
async fn should_page_with_next_links_and_search() {
    let sb = start(SandboxConfig {
        seed: Seed::Count(25),
        ..Default::default()
    });
    let mut link = "/me/mailFolders/inbox/messages?$top=10&$select=subject".to_string();
    let mut seen = Vec::new();
    loop {
        let (s, v) = get(&sb, "t", &link).await;
        assert_eq!(s, 200);
        for m in v["value"].as_array().unwrap() {
            seen.push(m["subject"].as_str().unwrap().to_string());
        }
        match v["@odata.nextLink"].as_str() {
            Some(next) => link = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0], "Generated message 0");
    assert_eq!(seen[24], "Generated message 24");

    let (_, v) = get(&sb, "t", "/me/messages?$search=%22message%2017%22").await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    let (s, _) = get(&sb, "t", "/me/messages?$search=%22x%22&$orderby=subject").await;
    assert_eq!(s, 400);
}
#[tokio::test]
async fn should_serve_folders_with_counts_and_children() {
    let sb = start(SandboxConfig::default());
    let (_, v) = get(&sb, "t", "/me/mailFolders?$top=50").await;
    let inbox = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["displayName"] == "Inbox")
        .unwrap()
        .clone();
    assert_eq!(inbox["unreadItemCount"], 2);
    assert_eq!(inbox["totalItemCount"], 5);
    assert_eq!(inbox["childFolderCount"], 1);
    let (_, kids) = get(&sb, "t", "/me/mailFolders/inbox/childFolders").await;
    assert_eq!(kids["value"][0]["displayName"], "Projects");
    let (_, by_id) = get(
        &sb,
        "t",
        &format!("/me/mailFolders/{}", inbox["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(by_id["displayName"], "Inbox");
    let (s, v) = get(&sb, "t", "/me/mailFolders/nosuchfolder").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("ErrorItemNotFound"))
    );
    let (_, page) = get(&sb, "t", "/me/mailFolders?$top=3").await;
    assert!(
        page["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("%24skip=3")
            || page["@odata.nextLink"]
                .as_str()
                .unwrap()
                .contains("$skip=3")
    );
}
#[tokio::test]
async fn should_answer_batches_with_depends_on() {
    let sb = start(SandboxConfig::default());
    let ids = sb.message_ids(ADA, "inbox");
    let body = json!({"requests": [
        {"id": "1", "method": "GET", "url": format!("/me/messages/{}?$select=subject", ids[0])},
        {"id": "2", "method": "GET", "url": "/me/messages/AAMkAnosuchmessage0000000000=", "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": "/me/mailboxSettings", "dependsOn": ["2"]},
    ]});
    let r = reqwest::Client::new()
        .post(format!("{}/$batch", sb.base_url()))
        .bearer_auth("t")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let status = |id: &str| {
        v["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()["status"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((status("1"), status("2"), status("3")), (200, 404, 424));
    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    let r = reqwest::Client::new()
        .post(format!("{}/$batch", sb.base_url()))
        .bearer_auth("t")
        .json(&json!({"requests": too_many}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(sb.stats().batch_parts, 3);
}
#[tokio::test]
async fn should_track_changes_with_delta_and_expire_tokens() {
    let sb = start(SandboxConfig::default());
    let mut link = "/me/mailFolders/inbox/messages/delta?$select=subject,isRead".to_string();
    let mut n = 0;
    let delta_link = loop {
        let (s, v) = get(&sb, "t", &link).await;
        assert_eq!(s, 200, "{v}");
        n += v["value"].as_array().unwrap().len();
        if let Some(d) = v["@odata.deltaLink"].as_str() {
            break d.to_string();
        }
        link = v["@odata.nextLink"].as_str().unwrap().to_string();
    };
    assert_eq!(n, 5);
    let ids = sb.message_ids(ADA, "inbox");
    assert!(sb.set_read(ADA, &ids[0], true));
    assert!(sb.move_message(ADA, &ids[1], "archive"));
    let new_id = sb
        .deliver(
            ADA,
            "inbox",
            NewMessage {
                subject: "Fresh".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let (_, v) = get(&sb, "t", &delta_link).await;
    let vals = v["value"].as_array().unwrap();
    assert_eq!(vals.len(), 3, "{v}");
    assert!(vals
        .iter()
        .any(|m| m["id"] == ids[1].as_str() && m["@removed"]["reason"] == "deleted"));
    assert!(vals
        .iter()
        .any(|m| m["id"] == new_id.as_str() && m["subject"] == "Fresh"));
    assert!(vals
        .iter()
        .any(|m| m["id"] == ids[0].as_str() && m["isRead"] == true));
    sb.expire_delta_tokens(ADA);
    let next = v["@odata.deltaLink"].as_str().unwrap();
    let (s, v) = get(&sb, "t", next).await;
    assert_eq!(s, 410, "{v}");
}
#[tokio::test]
async fn old_delta_page_links_expire_once_the_folder_moves_on_unless_switched_off() {
    for expire in [true, false] {
        let sb = start(SandboxConfig::default());
        assert!(sb.behaviour().delta_page_links_expire, "on by default");
        sb.set_behaviour(sandbox_outlook::Behaviour {
            delta_page_links_expire: expire,
            ..Default::default()
        });
        let (s, v) = get(&sb, "t", "/me/mailFolders/inbox/messages/delta?$top=2").await;
        assert_eq!(s, 200, "{v}");
        let next = v["@odata.nextLink"].as_str().unwrap().to_string();
        // The page link works while nothing changes.
        let (s, _) = get(&sb, "t", &next).await;
        assert_eq!(s, 200);
        let ids = sb.message_ids(ADA, "inbox");
        assert!(sb.set_read(ADA, &ids[0], true));
        let (s, v) = get(&sb, "t", &next).await;
        if expire {
            assert_eq!(s, 410, "{v}");
            assert_eq!(v["error"]["code"], "SyncStateNotFound");
            // A fresh round still runs to its deltaLink.
            let (s, v) = get(&sb, "t", "/me/mailFolders/inbox/messages/delta").await;
            assert_eq!(s, 200);
            assert!(v["@odata.deltaLink"].is_string(), "{v}");
        } else {
            assert_eq!(s, 200, "{v}");
        }
    }
}

#[tokio::test]
async fn batch_parts_share_the_mailbox_concurrency_with_other_requests() {
    let sb = start(SandboxConfig {
        latency: Some(Duration::from_millis(400)),
        ..Default::default()
    });
    let client = reqwest::Client::new();
    // Three slow requests hold three of the mailbox's four slots.
    let busy: Vec<_> = (0..3)
        .map(|_| {
            let c = client.clone();
            let url = format!("{}/me", sb.base_url());
            tokio::spawn(async move { c.get(url).bearer_auth("t").send().await.unwrap().status() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let requests: Vec<Value> = (0..4)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me/mailFolders"}))
        .collect();
    let r = client
        .post(format!("{}/$batch", sb.base_url()))
        .bearer_auth("t")
        .json(&json!({"requests": requests}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let throttled: Vec<&Value> = v["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == 429)
        .collect();
    assert!(!throttled.is_empty(), "parts over the fourth slot: {v}");
    assert!(
        throttled[0]["headers"]["Retry-After"].is_string()
            || throttled[0]["headers"]["retry-after"].is_string(),
        "{v}"
    );
    assert!(throttled[0]["body"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("MailboxConcurrency"));
    for b in busy {
        assert_eq!(b.await.unwrap(), 200);
    }
}

#[tokio::test]
async fn should_throttle_over_mailbox_concurrency() {
    let sb = start(SandboxConfig {
        latency: Some(Duration::from_millis(50)),
        ..Default::default()
    });
    let client = reqwest::Client::new();
    let calls = (0..12).map(|_| {
        let c = client.clone();
        let url = format!("{}/me", sb.base_url());
        async move { c.get(url).bearer_auth("t").send().await.unwrap() }
    });
    let answers = futures::future::join_all(calls).await;
    let throttled: Vec<_> = answers.iter().filter(|r| r.status() == 429).collect();
    assert!(
        !throttled.is_empty(),
        "12 concurrent calls exceed 4 per mailbox"
    );
    assert_eq!(throttled[0].headers()["retry-after"], "1");
    assert_eq!(sb.stats().max_in_flight, 4);
    assert_eq!(sb.stats().throttled as usize, throttled.len());

    sb.set_quotas(false);
    sb.reset_stats();
    let calls = (0..12).map(|_| {
        let c = client.clone();
        let url = format!("{}/me", sb.base_url());
        async move {
            c.get(url)
                .bearer_auth("t")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    assert!(futures::future::join_all(calls)
        .await
        .iter()
        .all(|s| *s == 200));

    sb.set_quotas(true);
    sb.set_rate_limit(3, Duration::from_secs(600));
    for _ in 0..3 {
        assert_eq!(get(&sb, "t", "/me").await.0, 200);
    }
    let r = client
        .get(format!("{}/me", sb.base_url()))
        .bearer_auth("t")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 500
    );
}
#[tokio::test]
async fn should_return_attachments_and_bodies() {
    let sb = start(SandboxConfig::default());
    let (_, v) = get(
        &sb,
        "t",
        "/me/messages?$filter=subject%20eq%20'Quarterly%20report'",
    )
    .await;
    let m = &v["value"][0];
    assert_eq!(m["body"]["contentType"], "html");
    let id = m["id"].as_str().unwrap();
    let enc =
        percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string();
    let (_, atts) = get(
        &sb,
        "t",
        &format!("/me/messages/{enc}/attachments?$select=name,size"),
    )
    .await;
    assert_eq!(atts["value"][0]["name"], "report.pdf");
    assert!(atts["value"][0].get("contentBytes").is_none());
    let att_id = atts["value"][0]["id"].as_str().unwrap();
    let (_, att) = get(
        &sb,
        "t",
        &format!("/me/messages/{enc}/attachments/{att_id}"),
    )
    .await;
    assert!(att["contentBytes"].as_str().unwrap().starts_with("JVBERi0"));
    let r = reqwest::Client::new()
        .get(format!("{}/me/messages/{enc}", sb.base_url()))
        .bearer_auth("t")
        .header("Prefer", "outlook.body-content-type=\"text\"")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["body"]["contentType"], "text");
    assert!(v["body"]["content"]
        .as_str()
        .unwrap()
        .contains("The Q1 numbers are attached & look good."));
    let (s, v) = get(&sb, "t", "/me/messages/AAMkAnosuchmessage0000000000=").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("ErrorItemNotFound"))
    );
}
#[tokio::test]
async fn should_inject_faults() {
    use sandbox_outlook::{Fault, FaultKind};
    let sb = start(SandboxConfig::default());
    sb.inject_fault(Fault::new("GET", "/me/messages", FaultKind::Status(503)));
    let (s, v) = get(&sb, "t", "/me/messages").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    assert_eq!(get(&sb, "t", "/me/messages").await.0, 200, "one use only");
    sb.inject_fault(Fault::new("*", "/me/mailFolders", FaultKind::DropConnection).times(2));
    for _ in 0..2 {
        let r = reqwest::Client::new()
            .get(format!("{}/me/mailFolders", sb.base_url()))
            .bearer_auth("t")
            .send()
            .await;
        assert!(r.is_err(), "the connection closes without an answer");
    }
    sb.lose_next_responses(1);
    let before = sb.message_ids(ADA, "drafts").len();
    let r = reqwest::Client::new()
        .post(format!("{}/me/messages", sb.base_url()))
        .bearer_auth("t")
        .json(&json!({"subject": "lost"}))
        .send()
        .await;
    assert!(r.is_err());
    assert_eq!(
        sb.message_ids(ADA, "drafts").len(),
        before + 1,
        "the draft was created all the same"
    );
    assert_eq!(sb.stats().faults_triggered, 4);
}
