//! The hosted API's request and response types, shared by the server (whose handlers return
//! them and whose OpenAPI document is derived from them), the `connectors` CLI and the Python
//! hosted client: a renamed field fails to compile in all three, and a client that meets a
//! body that does not match names the field ([`decode`]).

pub mod applications;
pub mod attachments;
pub mod connect;
pub mod connector_types;
pub mod connectors;
pub mod credential;
pub mod error;
pub mod events;
pub mod execute;
pub mod guardrails;
pub mod health;
pub mod oauth;
pub mod oauth_apps;
pub mod settings;
pub mod tokens;
pub mod webhook;

pub use applications::{ApplicationList, ApplicationView, RotatedSecret};
pub use attachments::AttachmentHandle;
pub use connect::{ConnectCapability, ConnectSession, ConnectSessionRequest, ReconnectLink};
pub use connector_types::{ConnectorTypeList, ConnectorTypeView, ToolSets};
pub use connectors::{
    Bodies, ConnectorList, ConnectorStatus, ConnectorStatusView, ConnectorTools, ConnectorView,
    CreateConnectorRequest, ReplicationConfig, ReplicationStatus, UpdateConnectorRequest,
};
pub use credential::CredentialView;
pub use error::{ErrorBody, ErrorCodeName, ErrorObject};
pub use events::{
    CalendarEvent, CalendarEventRef, DeliveryList, DeliveryView, Event, EventFeed, MessageEvent,
    MessageRef, RedeliverRequest, Redelivered,
};
pub use execute::{ExecuteRequest, ExecuteResponse};
pub use guardrails::{
    ApprovalEvent, ApprovalLink, ApprovalList, ApprovalView, LinkRequest, PolicyView,
    SetPolicyRequest,
};
pub use health::HealthStatus;
pub use oauth::{AccountView, ConsentUrl, InitiateRequest, ReauthorizeRequest};
pub use oauth_apps::{CreateOAuthAppRequest, OAuthAppList, OAuthAppView, UpdateOAuthAppRequest};
pub use settings::{SettingsChange, SettingsView};
pub use tokens::{
    AuthorizationServerMetadata, OAuthErrorBody, ProtectedResourceMetadata, TokenRequest,
    TokenResponse,
};
pub use webhook::{EventStatus, StatusChangedEvent};

/// Request bodies carry secrets (client secrets, webhook secrets) to the server: their fields
/// serialize the value, where a [`connector_core::Secret`] on its own shows `[redacted]`.
mod expose {
    use connector_core::Secret;
    use serde::Serializer;

    pub fn secret<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
        connector_core::secret::expose_for_vault::secret(secret, s)
    }

    pub fn optional_secret<S: Serializer>(
        secret: &Option<Secret>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match secret {
            Some(v) => secret_some(v, s),
            None => s.serialize_none(),
        }
    }

    fn secret_some<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_some(secret.expose())
    }
}

/// A JSON object, kept as a `Value` (`null`, arrays and scalars are refused).
pub(crate) fn object<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<serde_json::Value, D::Error> {
    use serde::Deserialize;
    serde_json::Map::deserialize(d).map(serde_json::Value::Object)
}

/// A body that does not match its type: `path` is the JSON path of the offending field
/// (`data[0].connector_type`), `message` what was wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at `{path}`")]
pub struct DecodeError {
    pub path: String,
    pub message: String,
}

/// Decodes `bytes` as `T`, naming the JSON path of the first field that does not match.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| DecodeError {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector() -> serde_json::Value {
        serde_json::json!({
            "id": "c1", "organization_id": "o1", "customer_name": "ada",
            "connector_type": "gmail", "definition_id": "d1", "name": "gmail (ada)",
            "replication_config": {"include_spam_and_trash": false},
            "status": "active", "status_reason": null,
            "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:00:00+00:00"
        })
    }

    #[test]
    fn a_listed_connector_decodes() {
        let body = serde_json::json!({"data": [connector()]});
        let list: ConnectorList = decode(body.to_string().as_bytes()).unwrap();
        assert_eq!(list.data[0].connector_type, "gmail");
        assert!(matches!(list.data[0].status, ConnectorStatus::Active));
    }

    #[test]
    fn request_secrets_reach_the_server_and_responses_stay_plain() {
        let req = TokenRequest {
            client_id: "app".into(),
            client_secret: connector_core::Secret::new("cs_123"),
        };
        let wire = serde_json::to_value(&req).unwrap();
        assert_eq!(
            wire,
            serde_json::json!({"client_id": "app", "client_secret": "cs_123"})
        );
        assert!(!format!("{req:?}").contains("cs_123"));
        let none = serde_json::to_value(SettingsChange::default()).unwrap();
        assert_eq!(none["webhook_secret"], serde_json::Value::Null);
    }

    #[test]
    fn a_renamed_field_is_named_with_its_path() {
        let mut c = connector();
        let obj = c.as_object_mut().unwrap();
        let v = obj.remove("connector_type").unwrap();
        obj.insert("type".into(), v);
        let body = serde_json::json!({"data": [c]});
        let err = decode::<ConnectorList>(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.path, "data[0].type");
        assert!(err.message.contains("unknown field `type`"), "{err}");
    }

    #[test]
    fn an_error_body_round_trips_through_the_core_error() {
        let e = connector_core::ConnectorError::new(
            connector_core::ErrorCode::RateLimited,
            "slow down",
        )
        .with_details(serde_json::json!({"provider": "gmail"}))
        .with_retry_after(Some(std::time::Duration::from_secs(7)));
        let wire = serde_json::to_value(ErrorBody::of(&e)).unwrap();
        assert_eq!(wire, e.to_body());
        let back = decode::<ErrorBody>(wire.to_string().as_bytes())
            .unwrap()
            .into_error();
        assert_eq!(back.code, connector_core::ErrorCode::RateLimited);
        assert_eq!(back.retry_after, Some(std::time::Duration::from_secs(7)));
        assert_eq!(back.details["provider"], "gmail");
    }

    #[test]
    fn an_error_body_with_a_renamed_field_or_unknown_code_names_it() {
        let body = br#"{"error": {"kind": "not_found", "message": "m", "details": {}}}"#;
        let err = decode::<ErrorBody>(body).unwrap_err();
        assert_eq!(err.path, "error.kind");
        let body = br#"{"error": {"code": "no_such_code", "message": "m", "details": {}}}"#;
        let err = decode::<ErrorBody>(body).unwrap_err();
        assert_eq!(err.path, "error.code");
        assert!(err.message.contains("no_such_code"), "{err}");
    }
}
