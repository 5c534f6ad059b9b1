//! Gmail by polling (history.list from the stored history id).

use serde_json::json;

use super::{env, kinds, USER};

fn raw(subject: &str) -> Vec<u8> {
    format!(
        "From: Grace Hopper <grace@example.com>\r\nTo: {USER}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.com>\r\n\r\nHello about {subject}.\r\n"
    )
    .into_bytes()
}

#[actix_web::test]
async fn new_changed_and_deleted_gmail_mail_each_become_exactly_one_event() {
    let e = env().await;
    let id = e.connector("gmail").await;
    // Mail that was there before the first poll is not news.
    assert_eq!(e.feed(&id, "0", 0).await["data"], json!([]));

    let m = e
        .gmail
        .insert_message(USER, &raw("invoice"), &["INBOX", "UNREAD"]);
    let got = e.exactly(&id, 1).await;
    let ev = &got[0];
    assert_eq!(ev["type"], "message.received");
    assert_eq!(ev["connector_type"], "gmail");
    assert_eq!(ev["customer_name"], "cust");
    assert_eq!(ev["message"]["id"], json!(m));
    assert_eq!(ev["message"]["from"], "Grace Hopper <grace@example.com>");
    assert_eq!(ev["message"]["subject"], "invoice");
    assert!(ev["message"]["snippet"].as_str().unwrap().contains("Hello"));
    assert!(ev["message"]["thread_id"].is_string());
    assert!(
        ev["message"].get("body_text").is_none(),
        "no bodies unless asked"
    );
    assert!(ev["id"].as_str().unwrap().starts_with("evt_"));

    // Read it (a label change), then delete it.
    e.execute(
        &id,
        "messages",
        "modify",
        json!({"message_id": m, "remove_label_ids": ["UNREAD"]}),
    )
    .await;
    let got = e.exactly(&id, 2).await;
    assert_eq!(got[1]["type"], "message.updated");
    assert_eq!(got[1]["message"]["labels"], json!(["INBOX"]));
    e.execute(&id, "messages", "delete", json!({"message_id": m}))
        .await;
    let got = e.exactly(&id, 3).await;
    assert_eq!(
        kinds(&got),
        ["message.received", "message.updated", "message.deleted"]
    );
    assert_eq!(got[2]["message"]["id"], json!(m));
}

#[actix_web::test]
async fn sent_mail_is_message_sent_and_drafts_make_no_event() {
    let e = env().await;
    let id = e.connector("gmail").await;
    e.execute(
        &id,
        "drafts",
        "create",
        json!({"to": ["grace@example.com"], "subject": "draft only", "text": "not yet"}),
    )
    .await;
    e.execute(
        &id,
        "messages",
        "send",
        json!({"to": ["grace@example.com"], "subject": "sent now", "text": "hi"}),
    )
    .await;
    let got = e.exactly(&id, 1).await;
    assert_eq!(got[0]["type"], "message.sent");
    assert_eq!(got[0]["message"]["subject"], "sent now");
}

#[actix_web::test]
async fn an_expired_history_id_is_a_resync_that_loses_and_doubles_nothing() {
    let mut e = env().await;
    let id = e.connector("gmail").await;
    let a = e.gmail.insert_message(USER, &raw("first"), &["INBOX"]);
    e.exactly(&id, 1).await;
    // Stop polling, change the mailbox, and let Google forget the history.
    e.workers = None;
    let b = e.gmail.insert_message(USER, &raw("second"), &["INBOX"]);
    e.gmail
        .expire_history_before(USER, e.gmail.history_id(USER));
    e.execute(&id, "messages", "delete", json!({"message_id": a}))
        .await;
    e.gmail
        .expire_history_before(USER, e.gmail.history_id(USER));
    e.workers = Some(e.h.state.services.events.spawn());
    let got = e.exactly(&id, 3).await;
    assert_eq!(got[1]["type"], "message.received");
    assert_eq!(got[1]["message"]["id"], json!(b));
    assert_eq!(got[2]["type"], "message.deleted");
    assert_eq!(got[2]["message"]["id"], json!(a));
}

#[actix_web::test]
async fn bodies_come_only_when_the_organization_asks() {
    let e = env().await;
    e.settings(json!({"event_bodies": true})).await;
    let id = e.connector("gmail").await;
    e.gmail.insert_message(USER, &raw("with body"), &["INBOX"]);
    let got = e.exactly(&id, 1).await;
    assert!(got[0]["message"]["body_text"]
        .as_str()
        .unwrap()
        .contains("Hello about with body"));
}
