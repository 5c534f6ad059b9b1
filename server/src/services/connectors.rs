//! Connectors: the one place that creates, reads, changes and deletes them.
//!
//! The API, the OAuth callback and the sandbox bootstrap all create a connector through
//! [`Connectors::create`]. The execute path's row cache lives here: every change this process
//! makes to a connector (PATCH, DELETE, re-authorization, new client credentials, a call that
//! ends in `needs_reauth`) forgets the cached row and the cached connector instance in the
//! same call, so a change applies at once; a change made by another replica is seen within
//! the cache lifetime (`connector_cache_ms`, one second by default, 0 turns it off). The
//! runtime re-reads the row itself before it marks a connector `needs_reauth`, so a stale
//! cached row never causes that.

use std::sync::Arc;
use std::time::Duration;

use connector_core::{ConnectorError, ErrorCode, Output};
use serde_json::{json, Value};

use super::cache::HotCache;
use crate::credentials::{validate, StoredCredentials};
use crate::error::db;
use crate::registry::{ConnectorType, Registry};
use crate::runtime::{ExecuteCall, Runtime};
use crate::store::{ConnectorFilter, ConnectorRow, ConnectorUpdate, NewConnector, Store};
use crate::vault::Vault;

/// Who creates a connector (it names the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `POST /api/v1/integrations/connectors` with credentials.
    Api,
    /// The OAuth callback.
    OAuth,
    /// The sandbox bootstrap (connectors bound to the built-in emulators).
    Sandbox,
}

/// A connector to create, its credentials already checked.
pub struct NewConnectorInput {
    pub customer_name: String,
    /// Default: `<type> (<customer_name>)`.
    pub name: Option<String>,
    /// Default: `{"include_spam_and_trash": false}`.
    pub replication_config: Option<Value>,
    pub credentials: StoredCredentials,
    /// Provider endpoint overrides (the sandbox's emulators).
    pub base_url: Option<String>,
    pub token_url: Option<String>,
}

/// `POST /api/v1/integrations/connectors`: credentials as the caller sent them.
pub struct CreateFromCredentials {
    pub customer_name: String,
    pub connector_type: Option<String>,
    pub definition_id: Option<String>,
    pub name: Option<String>,
    pub credentials: Value,
    pub replication_config: Option<Value>,
}

/// PATCH: fields left `None` keep their value.
#[derive(Default)]
pub struct ConnectorPatch {
    pub name: Option<String>,
    pub replication_config: Option<Value>,
    /// New credentials as the caller sent them (validated like on create).
    pub credentials: Option<Value>,
}

/// What `GET .../status` shows.
pub struct ConnectorStatus {
    pub row: ConnectorRow,
    pub scopes: Vec<String>,
    /// The context store's replication, when the connector replicates.
    pub replication: Option<api_types::ReplicationStatus>,
}

pub struct Connectors {
    pub(super) store: Store,
    vault: Vault,
    registry: Arc<Registry>,
    pub(super) runtime: Arc<Runtime>,
    /// Connector rows by connector id, for the execute path (the organization is checked on
    /// every hit).
    rows: HotCache<ConnectorRow>,
}

pub fn not_found() -> ConnectorError {
    ConnectorError::not_found("no connector with this id in your organization")
}

impl Connectors {
    pub fn new(
        store: Store,
        vault: Vault,
        registry: Arc<Registry>,
        runtime: Arc<Runtime>,
        connector_cache: Duration,
    ) -> Connectors {
        Connectors {
            store,
            vault,
            registry,
            runtime,
            rows: HotCache::new(connector_cache),
        }
    }

    /// The connector type named by `connector_type` or `definition_id` (both: they must agree).
    pub fn kind(
        &self,
        connector_type: Option<&str>,
        definition_id: Option<&str>,
    ) -> Result<&ConnectorType, ConnectorError> {
        let kind = match (connector_type, definition_id) {
            (Some(t), _) => self.registry.get(t),
            (None, Some(d)) => self.registry.by_definition(d),
            (None, None) => {
                return Err(ConnectorError::invalid_params(
                    "give `connector_type` (e.g. \"gmail\") or `definition_id`",
                )
                .with_details(json!({"path": "connector_type"})))
            }
        };
        let kind = kind.ok_or_else(|| {
            let names: Vec<&str> = self
                .registry
                .all()
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            ConnectorError::invalid_params(format!(
                "unknown connector type; this server has {names:?}"
            ))
            .with_details(json!({"path": "connector_type"}))
        })?;
        if let (Some(d), Some(_)) = (definition_id, connector_type) {
            if d != kind.definition_id {
                return Err(ConnectorError::invalid_params(
                    "`definition_id` does not belong to `connector_type`",
                ));
            }
        }
        Ok(kind)
    }

    /// Creates a connector from credentials sent by the caller (checked against the type's
    /// credential schema).
    pub async fn create_from_credentials(
        &self,
        org: &str,
        req: CreateFromCredentials,
    ) -> Result<ConnectorRow, ConnectorError> {
        if req.customer_name.trim().is_empty() {
            return Err(ConnectorError::invalid_params(
                "`customer_name` must not be empty",
            ));
        }
        let kind = self.kind(req.connector_type.as_deref(), req.definition_id.as_deref())?;
        let credentials = validate(&kind.spec.auth, &req.credentials, kind.refresh_rule())?;
        self.create(
            org,
            kind,
            NewConnectorInput {
                customer_name: req.customer_name,
                name: req.name,
                replication_config: req.replication_config,
                credentials,
                base_url: None,
                token_url: None,
            },
            Origin::Api,
        )
        .await
    }

    /// The one creation path: encrypts the credentials and stores the connector.
    pub async fn create(
        &self,
        org: &str,
        kind: &ConnectorType,
        input: NewConnectorInput,
        origin: Origin,
    ) -> Result<ConnectorRow, ConnectorError> {
        if let Some(rc) = &input.replication_config {
            super::context::Plan::parse(rc)?;
        }
        let (blob, key_id) = self
            .vault
            .encrypt(org, &input.credentials.to_json())
            .await?;
        let row = self
            .store
            .insert_connector(NewConnector {
                organization_id: org.to_string(),
                name: input
                    .name
                    .unwrap_or_else(|| format!("{} ({})", kind.name, input.customer_name)),
                customer_name: input.customer_name,
                connector_type: kind.name.clone(),
                definition_id: kind.definition_id.clone(),
                replication_config: input
                    .replication_config
                    .unwrap_or_else(|| json!({"include_spam_and_trash": false})),
                credentials: blob,
                credentials_key_id: key_id,
                base_url: input.base_url,
                token_url: input.token_url,
            })
            .await
            .map_err(db)?;
        match origin {
            Origin::Api => {
                tracing::info!(connector_id = %row.id, connector_type = %row.connector_type, "connector created")
            }
            Origin::OAuth => tracing::info!(connector_id = %row.id, "connector created by OAuth"),
            Origin::Sandbox => {
                tracing::info!(connector_id = %row.id, "sandbox connector created")
            }
        }
        Ok(row)
    }

    /// The organization's connector, or `not_found`.
    pub async fn get(&self, org: &str, id: &str) -> Result<ConnectorRow, ConnectorError> {
        self.find(org, id).await?.ok_or_else(not_found)
    }

    /// The organization's connector, if it exists.
    pub async fn find(&self, org: &str, id: &str) -> Result<Option<ConnectorRow>, ConnectorError> {
        self.store.get_connector(org, id).await.map_err(db)
    }

    /// The organization's connector for the execute path: from the cache when read less than
    /// the cache lifetime ago.
    pub async fn get_cached(&self, org: &str, id: &str) -> Result<ConnectorRow, ConnectorError> {
        if !self.rows.enabled() {
            return self.get(org, id).await;
        }
        if let Some(row) = self.rows.get(id) {
            if row.organization_id == org {
                return Ok(row);
            }
        }
        let generation = self.rows.generation();
        let row = self.get(org, id).await?;
        self.rows.put(id.to_string(), row.clone(), generation);
        Ok(row)
    }

    /// The organization's connectors matching `filter`.
    pub async fn list(
        &self,
        org: &str,
        filter: &ConnectorFilter,
    ) -> Result<Vec<ConnectorRow>, ConnectorError> {
        if !(1..=1000).contains(&filter.limit) {
            return Err(ConnectorError::invalid_params(
                "`limit` must be between 1 and 1000",
            ));
        }
        if filter.offset < 0 {
            return Err(ConnectorError::invalid_params(
                "`offset` must not be negative",
            ));
        }
        self.store.list_connectors(org, filter).await.map_err(db)
    }

    /// Renames a connector, or replaces its replication config or credentials.
    pub async fn update(
        &self,
        org: &str,
        id: &str,
        patch: ConnectorPatch,
    ) -> Result<ConnectorRow, ConnectorError> {
        let row = self.get(org, id).await?;
        if let Some(rc) = &patch.replication_config {
            super::context::Plan::parse(rc)?;
        }
        let mut update = ConnectorUpdate {
            name: patch.name,
            replication_config: patch.replication_config,
            ..Default::default()
        };
        if let Some(credentials) = patch.credentials {
            let kind = self.kind(Some(&row.connector_type), None)?;
            let creds = validate(&kind.spec.auth, &credentials, kind.refresh_rule())?;
            update.credentials = Some(self.vault.encrypt(org, &creds.to_json()).await?);
        }
        self.apply(org, row, update).await?.ok_or_else(not_found)
    }

    /// Stores new credentials for an existing connector (re-authorization; the sandbox also
    /// re-binds its endpoints). `None` when the connector no longer exists.
    pub async fn reauthorize(
        &self,
        org: &str,
        id: &str,
        credentials: &StoredCredentials,
        endpoints: Option<(Option<String>, Option<String>)>,
    ) -> Result<Option<ConnectorRow>, ConnectorError> {
        let Some(before) = self.find(org, id).await? else {
            return Ok(None);
        };
        let update = ConnectorUpdate {
            credentials: Some(self.vault.encrypt(org, &credentials.to_json()).await?),
            endpoints,
            ..Default::default()
        };
        self.apply(org, before, update).await
    }

    /// Changes the stored credentials in place, keeping the status (an OAuth app's client
    /// credentials changed under the connectors that use it).
    pub async fn edit_credentials(
        &self,
        org: &str,
        id: &str,
        edit: impl FnOnce(&mut StoredCredentials),
    ) -> Result<(), ConnectorError> {
        let Some(row) = self.find(org, id).await? else {
            return Ok(());
        };
        let plain = self.vault.decrypt(org, &row.credentials).await?;
        let mut creds = StoredCredentials::from_json(&plain)?;
        edit(&mut creds);
        let (blob, key_id) = self.vault.encrypt(org, &creds.to_json()).await?;
        self.store
            .store_refreshed_credentials(id, &blob, &key_id, None)
            .await
            .map_err(db)?;
        self.forget(id).await;
        Ok(())
    }

    async fn apply(
        &self,
        org: &str,
        before: ConnectorRow,
        update: ConnectorUpdate,
    ) -> Result<Option<ConnectorRow>, ConnectorError> {
        let after = self
            .store
            .update_connector(org, &before.id, update)
            .await
            .map_err(db)?;
        self.forget(&before.id).await;
        if let Some(after) = &after {
            self.runtime.lifecycle().note_status(&before, after);
        }
        Ok(after)
    }

    /// Deletes a connector; its OAuth tokens are revoked at the provider first (best effort).
    pub async fn delete(&self, org: &str, id: &str) -> Result<(), ConnectorError> {
        let before = self.get(org, id).await?;
        if let Some(kind) = self.registry.get(&before.connector_type) {
            crate::oauth::revoke::revoke_connector(&self.vault, kind, &before).await;
        }
        if !self.store.delete_connector(org, id).await.map_err(db)? {
            return Err(not_found());
        }
        self.forget(id).await;
        self.runtime.lifecycle().note_deleted(&before);
        Ok(())
    }

    /// The connector's status and the scopes granted.
    pub async fn status(&self, org: &str, id: &str) -> Result<ConnectorStatus, ConnectorError> {
        let row = self.get(org, id).await?;
        let scopes = row
            .scopes
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let replication = super::context::status(&self.store, &row).await?;
        Ok(ConnectorStatus {
            row,
            scopes,
            replication,
        })
    }

    /// The connector's actions as tool definitions: `format` is `openai` (default),
    /// `anthropic` or `mcp`.
    pub async fn tools(
        &self,
        org: &str,
        id: &str,
        format: Option<&str>,
    ) -> Result<api_types::ConnectorTools, ConnectorError> {
        use connector_core::tools::{action_tools, ToolFormat};
        let row = self.get(org, id).await?;
        let kind = self.kind(Some(&row.connector_type), None)?;
        let format = ToolFormat::parse(format.unwrap_or("openai")).ok_or_else(|| {
            ConnectorError::invalid_params("`format` must be openai, anthropic or mcp")
                .with_details(json!({"path": "format"}))
        })?;
        let tools = action_tools(&kind.spec, format);
        Ok(api_types::ConnectorTools {
            connector_id: row.id,
            format: format.as_str().to_string(),
            data: serde_json::to_value(tools).expect("tools serialize"),
        })
    }

    /// Runs one action of the connector.
    pub async fn execute(
        &self,
        row: &ConnectorRow,
        call: ExecuteCall,
    ) -> Result<Output, ConnectorError> {
        let started = std::time::Instant::now();
        let output = self.execute_inner(row, call).await;
        if output
            .as_ref()
            .is_err_and(|e| matches!(e.code, ErrorCode::NeedsReauth | ErrorCode::Unauthenticated))
        {
            // The runtime may have re-read or re-marked the row (needs_reauth).
            self.rows.remove(&row.id);
        }
        let outcome = output.as_ref().map_or_else(|e| e.code.as_str(), |_| "ok");
        crate::metrics::global().provider_call(&row.connector_type, outcome, started);
        output
    }

    /// `messages.search` from the context store when it can answer; the provider otherwise.
    async fn execute_inner(
        &self,
        row: &ConnectorRow,
        call: ExecuteCall,
    ) -> Result<Output, ConnectorError> {
        if !super::context::search::is_search(&call.entity, &call.action) {
            return self.runtime.execute(row, call).await;
        }
        let kind = self.kind(Some(&row.connector_type), None)?;
        // Boxed: only a search reads the store here; other executes' futures stay small.
        if let Some(out) = Box::pin(super::context::search::from_store(
            &self.store,
            kind,
            row,
            &call.params,
        ))
        .await?
        {
            return Ok(out);
        }
        self.runtime.execute(row, call).await
    }

    /// Drops what this process keeps of a connector (its cached row and instance).
    async fn forget(&self, id: &str) {
        self.runtime.forget(id).await;
        self.rows.remove(id);
    }
}
