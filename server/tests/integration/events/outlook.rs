//! Outlook by polling (message delta of the inbox and Sent Items).

use sandbox_outlook::NewMessage;
use serde_json::json;

use super::{env, kinds, USER};

fn mail(subject: &str) -> NewMessage {
    NewMessage {
        subject: subject.into(),
        body: format!("Hello about {subject}."),
        ..Default::default()
    }
}

#[actix_web::test]
async fn new_changed_and_deleted_outlook_mail_each_become_exactly_one_event() {
    let e = env().await;
    let id = e.connector("outlook").await;
    assert_eq!(e.feed(&id, "0", 0).await["data"], json!([]));

    let m = e.outlook.deliver(USER, "inbox", mail("invoice")).unwrap();
    let got = e.exactly(&id, 1).await;
    let ev = &got[0];
    assert_eq!(ev["type"], "message.received");
    assert_eq!(ev["connector_type"], "outlook");
    assert_eq!(ev["message"]["id"], json!(m));
    assert_eq!(ev["message"]["subject"], "invoice");
    assert_eq!(ev["message"]["from"], "Grace Hopper <grace@example.com>");
    assert!(ev["message"]["thread_id"].is_string());
    assert_eq!(ev["message"]["labels"][0], "inbox");

    assert!(e.outlook.set_read(USER, &m, true));
    let got = e.exactly(&id, 2).await;
    assert_eq!(got[1]["type"], "message.updated");
    assert!(e.outlook.delete_message(USER, &m));
    let got = e.exactly(&id, 3).await;
    assert_eq!(
        kinds(&got),
        ["message.received", "message.updated", "message.deleted"]
    );
}

#[actix_web::test]
async fn outlook_sent_mail_is_message_sent() {
    let e = env().await;
    let id = e.connector("outlook").await;
    e.execute(
        &id,
        "messages",
        "send",
        json!({"to": ["grace@example.com"], "subject": "sent now", "text": "hi"}),
    )
    .await;
    e.outlook.finish_transport();
    let got = e.exactly(&id, 1).await;
    assert_eq!(got[0]["type"], "message.sent");
    assert_eq!(got[0]["message"]["subject"], "sent now");
}

#[actix_web::test]
async fn an_expired_delta_token_is_a_resync_that_loses_and_doubles_nothing() {
    let mut e = env().await;
    let id = e.connector("outlook").await;
    let a = e.outlook.deliver(USER, "inbox", mail("first")).unwrap();
    e.exactly(&id, 1).await;
    e.workers = None;
    let b = e.outlook.deliver(USER, "inbox", mail("second")).unwrap();
    assert!(e.outlook.delete_message(USER, &a));
    e.outlook.expire_delta_tokens(USER);
    e.workers = Some(e.h.state.services.events.spawn());
    let got = e.exactly(&id, 3).await;
    let mut rest: Vec<(String, String)> = got[1..]
        .iter()
        .map(|v| {
            (
                v["type"].as_str().unwrap().to_string(),
                v["message"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rest.sort();
    assert_eq!(
        rest,
        [
            ("message.deleted".to_string(), a),
            ("message.received".to_string(), b)
        ]
    );
}
