//! What `replication_config` turns on and off: bodies only when asked, a narrower config or a
//! retention removes what it leaves out, turning replication off or deleting the connector
//! removes everything; bad configs are refused naming the field; search says who answered.

use std::time::{Duration, Instant};

use actix_web::http::Method;
use sandbox_outlook::NewMessage;
use serde_json::json;

use super::{env, Db, Env, CONNECTORS, USER};
use crate::common::harness::Req;

async fn bodies(e: &Env, id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM context_messages WHERE connector_id = $1 AND body_text IS NOT NULL",
    )
    .bind(id)
    .fetch_one(e.h.state.store.pool())
    .await
    .unwrap()
}

/// Waits for `f` (the worker's loop, not a timing claim: as long as `wait_live` allows); on a
/// timeout, says what the replica held, so a failure on a loaded machine can be read.
async fn until(e: &Env, id: &str, what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f().await {
        if Instant::now() >= deadline {
            let store = &e.h.state.store;
            panic!(
                "timed out waiting for {what}: {} messages stored {:?}; replication row {:?}",
                e.count(id).await,
                store.context_scope_rows(id).await.unwrap(),
                store.context_sync(id).await.unwrap(),
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn mail(subject: &str, days_ago: i64) -> NewMessage {
    NewMessage {
        subject: subject.into(),
        body: format!("The body says {subject}."),
        received: Some(chrono::Utc::now() - chrono::Duration::days(days_ago)),
        ..Default::default()
    }
}

async fn lifecycle(db: Db) {
    let Some(e) = env(db).await else { return };
    for (s, d) in [("alpha", 1), ("bravo", 2), ("charlie", 30)] {
        e.outlook.deliver(USER, "inbox", mail(s, d)).unwrap();
    }
    e.outlook
        .deliver(USER, "sentitems", mail("delta", 3))
        .unwrap();
    let id = e
        .connector("outlook", json!({"enabled": true, "bodies": "text"}))
        .await;
    let status = e.wait_live(&id).await;
    assert_eq!(status["replication"]["messages"], 4);
    assert_eq!(bodies(&e, &id).await, 4, "bodies kept when asked");

    // Searching the body text needs the body in the store.
    let v = e
        .execute(&id, "messages", "search", json!({"text": "says charlie"}))
        .await;
    assert_eq!(v["connector_metadata"]["source"], "store");
    assert_eq!(v["result"][0]["subject"], "charlie");
    assert!(v["result"][0]["highlight"].as_str().unwrap().contains("**"));

    // The same over MCP, fenced for the model.
    let got = crate::mcp::call(
        &e.h,
        &format!("/mcp/connectors/{id}"),
        &e.t,
        "outlook_messages_search",
        json!({"text": "charlie"}),
    )
    .await;
    let s = &got["structuredContent"];
    assert_eq!(s["metadata"]["source"], "store", "{got}");
    let nonce = s["metadata"]["fence_nonce"].as_str().unwrap();
    let subject = s["result"][0]["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("<untrusted_email_content field=\"subject\"")
            && subject.contains(nonce),
        "{subject}"
    );

    // Narrower: the inbox only, no bodies, 10 days.
    e.patch(
        &id,
        json!({"replication_config": {"enabled": true, "labels": ["inbox"], "retention_days": 10}}),
    )
    .await;
    until(&e, &id, "the narrower replica", async || {
        e.count(&id).await == 2
    })
    .await;
    e.wait_live(&id).await;
    assert_eq!(
        bodies(&e, &id).await,
        0,
        "bodies dropped when no longer asked"
    );
    let (ids, source) = e.search_ids(&id, &json!({})).await;
    assert_eq!((ids.len(), source.as_str()), (2, "store"));

    // Off: everything goes, and the provider answers again.
    e.patch(&id, json!({"replication_config": {"enabled": false}}))
        .await;
    until(&e, &id, "the replica to go", async || {
        e.count(&id).await == 0 && e.h.state.store.context_sync(&id).await.unwrap().is_none()
    })
    .await;
    let v = e
        .execute(&id, "messages", "search", json!({"label": "inbox"}))
        .await;
    assert_eq!(v["connector_metadata"]["source"], "provider");
    assert!(e.status(&id).await.get("replication").is_none());

    // On again, then the connector is deleted: its rows go with it.
    e.patch(&id, json!({"replication_config": {"enabled": true}}))
        .await;
    e.wait_live(&id).await;
    assert_eq!(e.count(&id).await, 4);
    let (s, _) =
        e.h.send(Req::new(Method::DELETE, format!("{CONNECTORS}/{id}")).by(&e.t))
            .await;
    assert_eq!(s.as_u16(), 204);
    assert_eq!(e.count(&id).await, 0);
}

#[actix_web::test]
async fn replication_follows_its_config_and_the_connector_on_sqlite() {
    lifecycle(Db::Sqlite).await;
}

#[actix_web::test]
async fn replication_follows_its_config_and_the_connector_on_postgres() {
    lifecycle(Db::Postgres).await;
}

#[actix_web::test]
async fn a_bad_replication_config_is_refused_naming_the_field() {
    let Some(e) = env(Db::Sqlite).await else {
        return;
    };
    let rt = e
        .outlook
        .issue_refresh_token(USER, connector_outlook::SCOPES);
    for (config, field) in [
        (
            json!({"enabled": true, "since": "last week"}),
            "replication_config.since",
        ),
        (json!({"enabled": true, "bodies": "html"}), "bodies"),
        (
            json!({"enabled": true, "retention_days": 0}),
            "retention_days",
        ),
    ] {
        let (s, v) =
            e.h.post(
                CONNECTORS,
                &e.t,
                json!({"customer_name": "c", "connector_type": "outlook",
                    "credentials": {"refresh_token": rt}, "replication_config": config}),
            )
            .await;
        assert_eq!(s.as_u16(), 400, "{config}: {v}");
        assert!(v.to_string().contains(field), "{config}: {v}");
    }
}
