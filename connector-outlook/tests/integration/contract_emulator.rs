//! Every answer of the Graph emulator against Microsoft's descriptions: each request used here
//! matches an operation of `graph-mail-requests-metadata.json`, and each answer's fields exist
//! with the types `graph-mail-types.json` gives (unknown fields rejected). The checker itself
//! must catch mutated answers.

use crate::common::contract::{check_response, Operations, SentRequest, Types};
use sandbox_outlook::{NewMessage, OutlookSandbox, SandboxConfig, Seed};
use serde_json::{json, Value};

const ADA: &str = "ada@example.com";

async fn fetch(sb: &OutlookSandbox, url: &str, prefer: Option<&str>) -> (u16, Value) {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", sb.base_url())
    };
    let mut req = reqwest::Client::new().get(url).bearer_auth("t");
    if let Some(p) = prefer {
        req = req.header("Prefer", p);
    }
    let r = req.send().await.expect("request");
    (r.status().as_u16(), r.json().await.expect("json body"))
}

fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Checks every logged request and answer; returns how many answers were type-checked.
fn check_log(sb: &OutlookSandbox, ops: &Operations, types: &Types) -> usize {
    let mut checked = 0;
    for entry in sb.requests() {
        let query: Vec<&str> = entry.query.iter().map(|(k, _)| k.as_str()).collect();
        let sent = SentRequest {
            method: &entry.method,
            path: &entry.path,
            query,
        };
        let op = ops
            .matching(&sent)
            .unwrap_or_else(|e| panic!("{} {}: {e}", entry.method, entry.path));
        match check_response(types, op, entry.status, &entry.response) {
            Ok(errors) => {
                assert!(
                    errors.is_empty(),
                    "{} {} ({}) answered fields the contract does not allow: {errors:#?}",
                    entry.method,
                    entry.path,
                    entry.status
                );
                checked += 1;
            }
            Err(reason) => assert!(
                entry.path == "/v1.0/me"
                    || entry.path.starts_with("/v1.0/users/") && !entry.path[12..].contains('/'),
                "unchecked answer for {} {}: {reason}",
                entry.method,
                entry.path
            ),
        }
    }
    checked
}

#[tokio::test]
async fn every_emulator_answer_matches_the_graph_contract() {
    let sb = OutlookSandbox::start(SandboxConfig {
        seed: Seed::Count(30),
        ..Default::default()
    })
    .unwrap();
    sb.set_recording(true);
    let ops = Operations::load();
    let types = Types::load();

    let demo = OutlookSandbox::start(SandboxConfig::default()).unwrap();
    demo.set_recording(true);
    let lisbon = {
        let (_, v) = fetch(
            &demo,
            "/me/messages?$filter=subject%20eq%20'Trip%20to%20Lisbon'",
            None,
        )
        .await;
        v["value"][0]["id"].as_str().unwrap().to_string()
    };
    let atts = fetch(
        &demo,
        &format!("/me/messages/{}/attachments", enc(&lisbon)),
        None,
    )
    .await
    .1;
    let att = atts["value"][0]["id"].as_str().unwrap().to_string();
    for url in [
        "/me".to_string(),
        "/me?$select=id,displayName,mail,userPrincipalName,proxyAddresses".into(),
        "/me/mailboxSettings".into(),
        "/me/outlook/masterCategories".into(),
        "/me/mailFolders?$top=100".into(),
        "/me/mailFolders?$top=2&includeHiddenFolders=true".into(),
        "/me/mailFolders/inbox".into(),
        "/me/mailFolders/inbox/childFolders?$top=100".into(),
        "/me/messages".into(),
        "/me/messages?$top=3&$count=true".into(),
        "/me/mailFolders/inbox/messages?$filter=isRead%20eq%20false&$orderby=receivedDateTime%20desc".into(),
        "/me/messages?$search=%22lisbon%22".into(),
        format!("/me/messages/{}", enc(&lisbon)),
        format!("/me/messages/{}?$expand=attachments", enc(&lisbon)),
        format!("/me/messages/{}?$select=subject,body&$expand=attachments($select%3Did,name,contentType,size,isInline)", enc(&lisbon)),
        format!("/me/messages/{}/attachments", enc(&lisbon)),
        format!("/me/messages/{}/attachments?$select=id,name,contentType,size,isInline", enc(&lisbon)),
        format!("/me/messages/{}/attachments/{}", enc(&lisbon), enc(&att)),
        "/me/messages/AAMkAnosuchmessage0000000000=".into(),
        "/me/messages/bad".into(),
        "/me/mailFolders/nosuch".into(),
        "/me/messages?$filter=nosuch%20eq%201".into(),
    ] {
        fetch(&demo, &url, None).await;
    }
    fetch(
        &demo,
        &format!("/me/messages/{}", enc(&lisbon)),
        Some("outlook.body-content-type=\"text\""),
    )
    .await;

    // paging and a delta round with changes and a removal
    let mut link = "/me/mailFolders/inbox/messages?$top=7".to_string();
    loop {
        let (_, v) = fetch(&sb, &link, None).await;
        match v["@odata.nextLink"].as_str() {
            Some(n) => link = n.to_string(),
            None => break,
        }
    }
    let mut link = "/me/mailFolders/inbox/messages/delta".to_string();
    let delta_link = loop {
        let (_, v) = fetch(&sb, &link, Some("odata.maxpagesize=8")).await;
        if let Some(d) = v["@odata.deltaLink"].as_str() {
            break d.to_string();
        }
        link = v["@odata.nextLink"].as_str().unwrap().to_string();
    };
    let ids = sb.message_ids(ADA, "inbox");
    sb.delete_message(ADA, &ids[0]);
    sb.deliver(ADA, "inbox", NewMessage::default());
    let (_, v) = fetch(&sb, &delta_link, None).await;
    assert_eq!(v["value"].as_array().unwrap().len(), 2);
    sb.expire_delta_tokens(ADA);
    assert_eq!(
        fetch(&sb, v["@odata.deltaLink"].as_str().unwrap(), None)
            .await
            .0,
        410
    );

    let checked = check_log(&demo, &ops, &types) + check_log(&sb, &ops, &types);
    assert!(checked >= 30, "only {checked} answers checked");
}

#[tokio::test]
async fn the_checker_rejects_mutated_answers() {
    let types = Types::load();
    let sb = OutlookSandbox::start(SandboxConfig::default()).unwrap();
    let id = sb.message_ids(ADA, "inbox")[0].clone();
    let (_, msg) = fetch(
        &sb,
        &format!("/me/messages/{}?$expand=attachments", enc(&id)),
        None,
    )
    .await;
    assert!(types.check("Message", &msg, &[]).is_empty());

    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut m = msg.clone();
        f(&mut m);
        types.check("Message", &m, &[])
    };
    assert!(
        !mutate(&|m| m["isUnread"] = json!(true)).is_empty(),
        "unknown field"
    );
    assert!(
        !mutate(&|m| m["isRead"] = json!("yes")).is_empty(),
        "wrong type"
    );
    assert!(
        !mutate(&|m| m["importance"] = json!("urgent")).is_empty(),
        "enum value"
    );
    assert!(
        !mutate(&|m| m["receivedDateTime"] = json!("yesterday")).is_empty(),
        "datetime"
    );
    assert!(
        !mutate(&|m| m["from"]["emailAddress"]["mail"] = json!("x")).is_empty(),
        "nested field"
    );
    assert!(
        !mutate(&|m| m["toRecipients"] = json!({"emailAddress": {}})).is_empty(),
        "collection"
    );
    assert!(
        !mutate(&|m| m["categories"] = json!([1])).is_empty(),
        "primitive collection"
    );

    let (_, folder) = fetch(&sb, "/me/mailFolders/inbox", None).await;
    assert!(types.check("MailFolder", &folder, &[]).is_empty());
    let mut f = folder.clone();
    f["unreadItemCount"] = json!("2");
    assert!(!types.check("MailFolder", &f, &[]).is_empty());

    let (_, err) = fetch(&sb, "/me/messages/AAMkAnosuchmessage0000000000=", None).await;
    assert!(types.check("ODataError", &err, &[]).is_empty());
    let mut e = err.clone();
    e["error"]["innerError"]["requestId"] = json!("x");
    assert!(!types.check("ODataError", &e, &[]).is_empty());
}

#[test]
fn requests_outside_the_contract_do_not_match() {
    let ops = Operations::load();
    let ok = |m: &str, p: &str, q: Vec<&str>| {
        ops.matching(&SentRequest {
            method: m,
            path: p,
            query: q,
        })
        .is_ok()
    };
    assert!(ok(
        "GET",
        "/v1.0/me/mailFolders/inbox/messages",
        vec!["$filter", "$top"]
    ));
    assert!(ok(
        "GET",
        "/v1.0/me/mailFolders/inbox/messages/delta",
        vec!["$deltatoken"]
    ));
    assert!(ok(
        "GET",
        "/v1.0/users/grace%40example.com/messages/AAMk%2Fx=",
        vec!["$select"]
    ));
    assert!(
        !ok("GET", "/v1.0/me/messages", vec!["$deltatoken"]),
        "token only on delta"
    );
    assert!(
        !ok("GET", "/v1.0/me/messages", vec!["$format"]),
        "unknown option"
    );
    assert!(!ok("PUT", "/v1.0/me/messages/x", vec![]), "wrong method");
    assert!(!ok("GET", "/v1.0/me/folders", vec![]), "unknown path");
    assert!(
        !ok("GET", "/v1.0/me/messages/x/attachments/y/extra", vec![]),
        "too deep"
    );
}
