//! Threads and history sync through the connector against the Gmail sandbox.

use connector_core::ErrorCode;
use sandbox_gmail::Seed;
use serde_json::json;

use crate::common::env::{config, run, start, ADA};

const FIRST: &[u8] = b"From: Grace <grace@example.com>\r\nTo: ada@example.com\r\nSubject: Lunch?\r\nDate: Mon, 2 Sep 2024 10:00:00 +0000\r\nMessage-ID: <lunch-1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNoon at the usual place?\r\n";
const REPLY: &[u8] = b"From: Ada <ada@example.com>\r\nTo: grace@example.com\r\nSubject: Re: Lunch?\r\nDate: Mon, 2 Sep 2024 10:05:00 +0000\r\nMessage-ID: <lunch-2@example.com>\r\nIn-Reply-To: <lunch-1@example.com>\r\nReferences: <lunch-1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYes, see you there.\r\n";

#[tokio::test]
async fn a_thread_is_listed_and_every_message_decoded() {
    let env = start(config(Seed::Empty));
    let first = env.sb.insert_message(ADA, FIRST, &["INBOX"]);
    let reply = env.sb.insert_message(ADA, REPLY, &["SENT"]);

    let threads = run(&env.gmail, "threads", "list", json!({"q": "subject:lunch"})).await;
    let list = threads.result.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let thread_id = list[0]["id"].as_str().unwrap().to_string();

    let t = run(
        &env.gmail,
        "threads",
        "get",
        json!({"thread_id": thread_id}),
    )
    .await
    .result;
    let msgs = t["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["id"], first.as_str());
    assert_eq!(msgs[1]["id"], reply.as_str());
    assert_eq!(
        msgs[0]["text"].as_str().unwrap().trim_end(),
        "Noon at the usual place?"
    );
    assert_eq!(
        msgs[1]["text"].as_str().unwrap().trim_end(),
        "Yes, see you there."
    );
    assert_eq!(msgs[1]["in_reply_to"], "<lunch-1@example.com>");
    assert_eq!(msgs[1]["references"], json!(["<lunch-1@example.com>"]));
    assert!(msgs.iter().all(|m| m["thread_id"] == thread_id.as_str()));

    let err = env
        .gmail
        .execute("threads", "get", json!({"thread_id": "0000000000000bad"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn history_lists_changes_and_an_expired_start_id_is_sync_required() {
    let env = start(config(Seed::Demo));
    let profile = run(&env.gmail, "profile", "get", json!({})).await.result;
    assert_eq!(profile["email_address"], ADA);
    let start_id = profile["history_id"].as_str().unwrap().to_string();

    let nothing = run(
        &env.gmail,
        "history",
        "list",
        json!({"start_history_id": start_id}),
    )
    .await;
    assert_eq!(nothing.result, json!([]));

    let added = env.sb.insert_message(ADA, FIRST, &["INBOX", "UNREAD"]);
    let changes = run(
        &env.gmail,
        "history",
        "list",
        json!({"start_history_id": start_id, "history_types": ["messageAdded"]}),
    )
    .await;
    let records = changes.result.as_array().unwrap();
    let added_ids: Vec<&str> = records
        .iter()
        .flat_map(|r| r["messages_added"].as_array().into_iter().flatten())
        .map(|a| a["message"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(added_ids, vec![added.as_str()]);
    let next = changes.metadata["history_id"].as_str().unwrap();
    assert!(next.parse::<u64>().unwrap() > start_id.parse::<u64>().unwrap());

    env.sb.expire_history_before(ADA, env.sb.history_id(ADA));
    let err = env
        .gmail
        .execute("history", "list", json!({"start_history_id": start_id}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::SyncRequired, "{err}");
    assert!(err.message.contains("full sync"), "{}", err.message);
}
