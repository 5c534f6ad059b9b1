//! Fixtures shared by the store tests.

use server::store::{NewConnector, Organization, Store};

pub async fn org(store: &Store, name: &str) -> Organization {
    store.create_org(name).await.unwrap()
}

/// Every byte value, so a backend that mangled binary data (text conversion, NUL) shows.
pub fn all_bytes() -> Vec<u8> {
    (0..=255u8).chain((0..=255u8).rev()).collect()
}

pub fn new_connector(org: &str, customer: &str, kind: &str, definition: &str) -> NewConnector {
    NewConnector {
        organization_id: org.to_string(),
        customer_name: customer.to_string(),
        connector_type: kind.to_string(),
        definition_id: definition.to_string(),
        name: format!("{kind} of {customer}"),
        replication_config: serde_json::json!({"labels": ["INBOX"], "n": 1}),
        credentials: all_bytes(),
        credentials_key_id: "dk-1".to_string(),
        base_url: None,
        token_url: Some("http://127.0.0.1:1/token".to_string()),
    }
}

/// Whether the error is a unique-constraint violation (the same on both backends).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}
