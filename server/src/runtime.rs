//! Runs `execute` for stored connectors: builds connector instances from decrypted credentials
//! (cached per connector and credentials version; the cache is safe to lose). Connectors with a
//! refresh token get a [`LockedTokenSource`]: refreshes run under the database lock of
//! [`crate::lifecycle`], which stores rotated tokens before they are used and turns
//! `invalid_grant` into the `needs_reauth` status.

use std::collections::HashMap;
use std::sync::Arc;

use connector_core::{
    Connector, ConnectorError, ErrorCode, ExecuteOptions, HttpConfig, OAuthTokenSource, Output,
    TokenProvider,
};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::credentials::StoredCredentials;
use crate::lifecycle::{needs_reauth_error as needs_reauth, Lifecycle, LockedTokenSource};
use crate::registry::{ConnectorType, Registry};
use crate::store::{ConnectorRow, Store};
use crate::vault::Vault;

pub use crate::lifecycle::{STATUS_ACTIVE, STATUS_NEEDS_REAUTH};

struct Cached {
    version: i64,
    connector: Connector,
}

/// The execute engine (one per server; cheap to share behind an `Arc`).
pub struct Runtime {
    store: Store,
    vault: Vault,
    registry: Arc<Registry>,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
    lifecycle: Arc<Lifecycle>,
}

/// One execute call.
pub struct ExecuteCall {
    pub entity: String,
    pub action: String,
    pub params: Value,
    pub idempotency_key: Option<String>,
}

impl Runtime {
    /// `public_url`: the origin end users reach the server at (links in status events).
    pub fn new(store: Store, vault: Vault, registry: Arc<Registry>, public_url: String) -> Runtime {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client builds");
        let lifecycle = Arc::new(Lifecycle::new(
            store.clone(),
            vault.clone(),
            registry.clone(),
            public_url,
        ));
        Runtime {
            store,
            vault,
            registry,
            http,
            cache: Mutex::new(HashMap::new()),
            lifecycle,
        }
    }

    /// Refreshes under the row lock, health checks, status events.
    pub fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.lifecycle
    }

    /// Drops a cached instance (after PATCH/DELETE).
    pub async fn forget(&self, connector_id: &str) {
        self.cache.lock().await.remove(connector_id);
    }

    pub async fn execute(
        &self,
        row: &ConnectorRow,
        call: ExecuteCall,
    ) -> Result<Output, ConnectorError> {
        let kind = self.registry.get(&row.connector_type).ok_or_else(|| {
            ConnectorError::internal("this connector's type is not available on this server")
        })?;
        let params = apply_replication_defaults(kind, &call, &row.replication_config);
        // The cached row as it is; a copy only when another replica's credential is re-read.
        let mut row = std::borrow::Cow::Borrowed(row);
        for attempt in 0..2 {
            if row.status == STATUS_NEEDS_REAUTH {
                return Err(needs_reauth(row.status_reason.as_deref()));
            }
            let connector = self.instance(&row, kind).await?;
            let options = ExecuteOptions {
                idempotency_key: call.idempotency_key.clone(),
            };
            match connector
                .execute_with(&call.entity, &call.action, params.clone(), options)
                .await
            {
                Err(e) if matches!(e.code, ErrorCode::NeedsReauth | ErrorCode::Unauthenticated) => {
                    // Another replica may have rotated the credential: re-read before giving up.
                    self.forget(&row.id).await;
                    let fresh = self
                        .store
                        .get_connector(&row.organization_id, &row.id)
                        .await
                        .map_err(db)?
                        .ok_or_else(|| ConnectorError::not_found("the connector was deleted"))?;
                    if attempt == 0 && fresh.credentials != row.credentials {
                        row = std::borrow::Cow::Owned(fresh);
                        continue;
                    }
                    if e.code == ErrorCode::NeedsReauth {
                        crate::metrics::global().token_refresh("invalid_grant");
                    }
                    let reason = if e.code == ErrorCode::NeedsReauth {
                        format!("refreshing the access token failed: {}", e.message)
                    } else {
                        "the provider rejected the access token and it cannot be refreshed"
                            .to_string()
                    };
                    // Conditional: the status event is sent once, by whoever changed it.
                    self.lifecycle
                        .mark_needs_reauth(&row.organization_id, &row.id, &reason)
                        .await?;
                    tracing::warn!(connector_id = %row.id, "connector needs re-authorization");
                    return Err(needs_reauth(Some(&reason)));
                }
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }

    async fn instance(
        &self,
        row: &ConnectorRow,
        kind: &ConnectorType,
    ) -> Result<Connector, ConnectorError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&row.id) {
            if c.version == row.credentials_version {
                return Ok(c.connector.clone());
            }
        }
        let connector = self.build(row, kind).await?;
        cache.insert(
            row.id.clone(),
            Cached {
                version: row.credentials_version,
                connector: connector.clone(),
            },
        );
        Ok(connector)
    }

    async fn build(
        &self,
        row: &ConnectorRow,
        kind: &ConnectorType,
    ) -> Result<Connector, ConnectorError> {
        let plain = self
            .vault
            .decrypt(&row.organization_id, &row.credentials)
            .await?;
        let creds = StoredCredentials::from_json(&plain)?;
        let base_url = row
            .base_url
            .clone()
            .unwrap_or_else(|| kind.base_url().to_string());
        let tokens: Arc<dyn TokenProvider> = if creds.get("refresh_token").is_some() {
            // Refreshes go through the row lock (one per stampede, across replicas).
            Arc::new(LockedTokenSource::new(
                self.lifecycle.clone(),
                &row.organization_id,
                &row.id,
                &creds,
            ))
        } else {
            let token_url = row
                .token_url
                .clone()
                .unwrap_or_else(|| kind.token_url_for(&creds));
            let oauth = creds.to_oauth(
                kind.provider.client_id.as_deref(),
                kind.provider.client_secret.as_ref(),
                &token_url,
                kind.refresh_scope(row.scopes.as_deref()),
            );
            Arc::new(OAuthTokenSource::new(oauth, self.http.clone())?)
        };
        let guard = crate::services::guardrails::ServerGuard::new(
            self.store.clone(),
            self.vault.clone(),
            &row.organization_id,
            &row.id,
        );
        Ok(kind
            .connector(tokens, HttpConfig::new(base_url))?
            .with_guard(Arc::new(guard)))
    }
}

fn db(e: sqlx::Error) -> ConnectorError {
    ConnectorError::internal("the database failed; try again").with_source(e)
}

/// `replication_config.include_spam_and_trash` becomes the list actions' `include_spam_trash`
/// unless the params set it.
fn apply_replication_defaults(kind: &ConnectorType, call: &ExecuteCall, rc: &Value) -> Value {
    let mut params = call.params.clone();
    let Some(flag) = rc.get("include_spam_and_trash").and_then(Value::as_bool) else {
        return params;
    };
    let accepts = kind
        .spec
        .action(&call.entity, &call.action)
        .and_then(|a| a.params.get("properties"))
        .and_then(|p| p.get("include_spam_trash"))
        .is_some();
    if call.action == "list" && accepts {
        if let Some(obj) = params.as_object_mut() {
            obj.entry("include_spam_trash").or_insert(json!(flag));
        }
    }
    params
}
