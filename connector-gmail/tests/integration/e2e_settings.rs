//! Profile, labels, drafts, send-as aliases, filters and the vacation responder through the
//! connector against the Gmail sandbox's demo mailbox.

use connector_core::ErrorCode;
use sandbox_gmail::Seed;
use serde_json::json;

use crate::common::env::{config, run, start, ADA};

#[tokio::test]
async fn profile_and_labels() {
    let env = start(config(Seed::Demo));
    let p = run(&env.gmail, "profile", "get", json!({})).await.result;
    assert_eq!(p["email_address"], ADA);
    assert!(p["messages_total"].as_u64().unwrap() > 0);

    let labels = run(&env.gmail, "labels", "list", json!({})).await.result;
    let labels = labels.as_array().unwrap();
    for system in ["INBOX", "SENT", "UNREAD", "TRASH"] {
        assert!(
            labels
                .iter()
                .any(|l| l["id"] == system && l["type"] == "system"),
            "{system}"
        );
    }
    let inbox = run(&env.gmail, "labels", "get", json!({"label_id": "INBOX"}))
        .await
        .result;
    assert_eq!(inbox["name"], "INBOX");
    assert!(
        inbox["messages_total"].as_u64().unwrap() >= inbox["messages_unread"].as_u64().unwrap()
    );
    let err = env
        .gmail
        .execute("labels", "get", json!({"label_id": "Label_nope"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn drafts_list_and_get_decoded() {
    let env = start(config(Seed::Demo));
    let drafts = run(&env.gmail, "drafts", "list", json!({})).await.result;
    let first = &drafts
        .as_array()
        .unwrap()
        .first()
        .expect("the demo mailbox has a draft")
        .clone();
    let id = first["id"].as_str().unwrap();
    let d = run(&env.gmail, "drafts", "get", json!({"draft_id": id}))
        .await
        .result;
    assert_eq!(d["id"], id);
    assert_eq!(d["message"]["id"], first["message"]["id"]);
    assert!(d["message"]["subject"].is_string());
    assert!(d["message"]["label_ids"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "DRAFT"));
}

#[tokio::test]
async fn send_as_filters_and_vacation() {
    let env = start(config(Seed::Demo));
    let aliases = run(&env.gmail, "send_as", "list", json!({})).await.result;
    let primary = aliases
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["is_primary"] == true)
        .expect("a primary address");
    assert_eq!(primary["send_as_email"], ADA);
    let one = run(&env.gmail, "send_as", "get", json!({"send_as_email": ADA}))
        .await
        .result;
    assert_eq!(one["send_as_email"], ADA);

    let filters = run(&env.gmail, "filters", "list", json!({})).await.result;
    let f = filters
        .as_array()
        .unwrap()
        .first()
        .expect("the demo mailbox has a filter");
    assert!(f["criteria"].is_object() && f["action"].is_object(), "{f}");
    let got = run(&env.gmail, "filters", "get", json!({"filter_id": f["id"]}))
        .await
        .result;
    assert_eq!(&got, f);
    let err = env
        .gmail
        .execute("filters", "get", json!({"filter_id": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);

    let v = run(&env.gmail, "vacation", "get", json!({})).await.result;
    assert!(v["enable_auto_reply"].is_boolean());
}
