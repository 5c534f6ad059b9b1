//! Where the emulator is as harsh as the real Gmail (docs/provider-behaviour.md), each shown
//! with its switch on (the default) and off.

use crate::support::{b64, call, raw_of, start_unmetered, API};
use sandbox_gmail::Behaviour;
use serde_json::json;

fn header<'a>(raw: &'a str, name: &str) -> Vec<&'a str> {
    raw.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

const MSG: &str = "To: grace@example.com\r\nSubject: ids\r\nMessage-ID: <client-1@example.com>\r\nX-Agent-Connectors-Send-Key: idem-123\r\n\r\nbody\r\n";

#[tokio::test]
async fn sends_get_gmails_own_message_id_and_keep_custom_headers() {
    let sb = start_unmetered();
    assert!(sb.behaviour().own_message_ids, "on by default");
    let (s, sent) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/send"),
        Some(json!({"raw": b64(MSG)})),
    )
    .await;
    assert_eq!(s, 200, "{sent}");
    let raw = raw_of(&sb, "ada@example.com", sent["id"].as_str().unwrap());
    let ids = header(&raw, "Message-ID");
    assert_eq!(ids.len(), 1, "{raw}");
    assert!(ids[0].ends_with("@mail.gmail.com>"), "{raw}");
    assert!(!raw.contains("client-1@example.com"));
    assert_eq!(header(&raw, "X-Agent-Connectors-Send-Key"), ["idem-123"]);
    // The recipient gets the same, rewritten, message.
    let grace = sb.mailbox("grace@example.com").unwrap();
    let got = String::from_utf8_lossy(&grace.messages[0].raw).into_owned();
    assert_eq!(header(&got, "Message-ID"), ids);
    // rfc822msgid: finds the message by Gmail's id, not by the client's.
    let (_, by_client) = call(
        &sb,
        "t",
        "GET",
        &format!("{API}/messages?q=rfc822msgid:client-1@example.com"),
        None,
    )
    .await;
    assert!(by_client["messages"].is_null(), "{by_client}");

    // drafts.send too.
    let (_, d) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/drafts"),
        Some(json!({"message": {"raw": b64(&MSG.replace("client-1", "client-2"))}})),
    )
    .await;
    let (s, sent) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/drafts/send"),
        Some(json!({"id": d["id"]})),
    )
    .await;
    assert_eq!(s, 200, "{sent}");
    let raw = raw_of(&sb, "ada@example.com", sent["id"].as_str().unwrap());
    assert!(header(&raw, "Message-ID")[0].ends_with("@mail.gmail.com>"));
    assert!(!raw.contains("client-2@example.com"));
    assert_eq!(header(&raw, "X-Agent-Connectors-Send-Key"), ["idem-123"]);
}

#[tokio::test]
async fn insert_and_import_keep_the_clients_message_id() {
    let sb = start_unmetered();
    for (path, id) in [("messages", "client-3"), ("messages/import", "client-4")] {
        let (s, v) = call(
            &sb,
            "t",
            "POST",
            &format!("{API}/{path}"),
            Some(json!({"raw": b64(&MSG.replace("client-1", id))})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let raw = raw_of(&sb, "ada@example.com", v["id"].as_str().unwrap());
        assert_eq!(
            header(&raw, "Message-ID"),
            [format!("<{id}@example.com>").as_str()]
        );
    }
}

#[tokio::test]
async fn switched_off_a_send_keeps_the_clients_message_id() {
    let sb = start_unmetered();
    sb.set_behaviour(Behaviour {
        own_message_ids: false,
        ..Behaviour::default()
    });
    let (_, sent) = call(
        &sb,
        "t",
        "POST",
        &format!("{API}/messages/send"),
        Some(json!({"raw": b64(MSG)})),
    )
    .await;
    let raw = raw_of(&sb, "ada@example.com", sent["id"].as_str().unwrap());
    assert_eq!(header(&raw, "Message-ID"), ["<client-1@example.com>"]);
}

/// Inserts `raw` into ada's mailbox (messages.insert) with an optional threadId; returns the
/// threadId Gmail gave it.
async fn send_in(sb: &sandbox_gmail::GmailSandbox, raw: &str, thread: Option<&str>) -> String {
    let mut body = json!({"raw": b64(raw)});
    if let Some(t) = thread {
        body["threadId"] = json!(t);
    }
    let (s, v) = call(sb, "t", "POST", &format!("{API}/messages"), Some(body)).await;
    assert_eq!(s, 200, "{v}");
    v["threadId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_message_joins_a_thread_only_with_thread_id_references_and_subject() {
    let sb = start_unmetered();
    assert!(sb.behaviour().threading_rule, "on by default");
    let first = "From: grace@example.com\r\nTo: ada@example.com\r\nSubject: Budget\r\nMessage-ID: <budget-1@example.com>\r\n\r\nx\r\n";
    let thread = send_in(&sb, first, None).await;
    let reply = |subject: &str, refs: bool| {
        format!(
            "To: grace@example.com\r\nSubject: {subject}\r\n{}\r\ny\r\n",
            if refs {
                "In-Reply-To: <budget-1@example.com>\r\nReferences: <budget-1@example.com>\r\n"
            } else {
                ""
            }
        )
    };
    // All three: joins.
    assert_eq!(
        send_in(&sb, &reply("Re: Budget", true), Some(&thread)).await,
        thread
    );
    // threadId without the headers, the headers with another subject, or the headers without
    // the threadId: each starts a new thread.
    assert_ne!(
        send_in(&sb, &reply("Re: Budget", false), Some(&thread)).await,
        thread
    );
    assert_ne!(
        send_in(&sb, &reply("Other topic", true), Some(&thread)).await,
        thread
    );
    let other = send_in(
        &sb,
        "To: x@example.com\r\nSubject: Other\r\n\r\nz\r\n",
        None,
    )
    .await;
    assert_ne!(
        send_in(&sb, &reply("Re: Budget", true), Some(&other)).await,
        other
    );

    // Switched off, the threadId alone joins.
    sb.set_behaviour(Behaviour {
        threading_rule: false,
        ..Behaviour::default()
    });
    assert_eq!(
        send_in(&sb, &reply("Other topic", false), Some(&thread)).await,
        thread
    );
}
