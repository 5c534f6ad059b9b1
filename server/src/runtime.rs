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
    /// The instances' clock at its last use.
    used: u64,
}

/// Connector instances kept at most. Every connector is polled for events, so without a bound
/// a server holds an instance (handlers, token source, guard) per stored connector for good; past
/// the bound the least recently used one is dropped (rebuilt from its row when next needed).
pub const MAX_INSTANCES: usize = 2048;

/// The instance cache: instances by connector id, and a use counter for eviction.
#[derive(Default)]
struct Instances {
    map: HashMap<String, Cached>,
    clock: u64,
}

impl Instances {
    fn get(&mut self, id: &str, version: i64) -> Option<Connector> {
        self.clock += 1;
        let c = self.map.get_mut(id).filter(|c| c.version == version)?;
        c.used = self.clock;
        Some(c.connector.clone())
    }

    fn put(&mut self, id: String, version: i64, connector: Connector, max: usize) {
        if self.map.len() >= max && !self.map.contains_key(&id) {
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, c)| c.used)
                .map(|(k, _)| k.clone())
            {
                self.map.remove(&oldest);
            }
        }
        self.clock += 1;
        let used = self.clock;
        self.map.insert(
            id,
            Cached {
                version,
                connector,
                used,
            },
        );
    }
}

/// The execute engine (one per server; cheap to share behind an `Arc`).
pub struct Runtime {
    store: Store,
    vault: Vault,
    registry: Arc<Registry>,
    http: reqwest::Client,
    /// One keep-alive pool for every connector instance's provider calls. Each instance built
    /// its own before: a reqwest client (its TLS roots, its pool and idle connections) per
    /// cached connector, hundreds of MB with 10,000 polled connectors. One pool per thread
    /// that sends (`PerThreadClient`): a connection is driven by the runtime that opened it.
    provider_http: connector_core::http::PerThreadClient,
    cache: Mutex<Instances>,
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
        // One client per thread (see `PerThreadClient`): each actix worker's provider calls go
        // out on connections its own runtime drives, not another worker's. The first is built
        // here, so a client that cannot be built stops the start.
        let settings = HttpConfig::new(String::new());
        let provider_http = connector_core::http::PerThreadClient::checked(move || {
            connector_core::http::ProviderClient::build_reqwest(&settings)
        })
        .expect("the provider HTTP client builds");
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
            provider_http,
            cache: Mutex::new(Instances::default()),
            lifecycle,
        }
    }

    /// HTTP settings for a connector on `base_url` over the provider pools every instance
    /// shares.
    pub fn provider_config(&self, base_url: String) -> HttpConfig {
        HttpConfig::new(base_url).with_per_thread_client(self.provider_http.clone())
    }

    /// Refreshes under the row lock, health checks, status events.
    pub fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.lifecycle
    }

    /// Drops a cached instance (after PATCH/DELETE).
    pub async fn forget(&self, connector_id: &str) {
        self.cache.lock().await.map.remove(connector_id);
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
                    // Boxed: the rejected-token path reads and writes the store; every other
                    // execute's future would otherwise carry room for it.
                    row = std::borrow::Cow::Owned(Box::pin(self.rejected(&row, attempt, e)).await?);
                }
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }

    /// A call the provider refused for its token: the fresh row when another replica
    /// rotated the credential (try again, once), else the connector is marked needs-reauth
    /// and the error comes back.
    async fn rejected(
        &self,
        row: &ConnectorRow,
        attempt: usize,
        e: ConnectorError,
    ) -> Result<ConnectorRow, ConnectorError> {
        // Another replica may have rotated the credential: re-read before giving up.
        self.forget(&row.id).await;
        let fresh = self
            .store
            .get_connector(&row.organization_id, &row.id)
            .await
            .map_err(db)?
            .ok_or_else(|| ConnectorError::not_found("the connector was deleted"))?;
        if attempt == 0 && fresh.credentials != row.credentials {
            return Ok(fresh);
        }
        if e.code == ErrorCode::NeedsReauth {
            crate::metrics::global().token_refresh("invalid_grant");
        }
        let reason = if e.code == ErrorCode::NeedsReauth {
            format!("refreshing the access token failed: {}", e.message)
        } else {
            "the provider rejected the access token and it cannot be refreshed".to_string()
        };
        // Conditional: the status event is sent once, by whoever changed it.
        self.lifecycle
            .mark_needs_reauth(&row.organization_id, &row.id, &reason)
            .await?;
        tracing::warn!(connector_id = %row.id, "connector needs re-authorization");
        Err(needs_reauth(Some(&reason)))
    }

    async fn instance(
        &self,
        row: &ConnectorRow,
        kind: &ConnectorType,
    ) -> Result<Connector, ConnectorError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&row.id, row.credentials_version) {
            return Ok(c);
        }
        let connector = self.build(row, kind).await?;
        cache.put(
            row.id.clone(),
            row.credentials_version,
            connector.clone(),
            MAX_INSTANCES,
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
            .connector(tokens, self.provider_config(base_url))?
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

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Connector {
        connector_gmail::connector(
            Arc::new(connector_core::StaticToken(connector_core::Secret::new(
                "t",
            ))),
            HttpConfig::new("http://127.0.0.1:9"),
        )
        .expect("a connector")
    }

    #[test]
    fn the_instance_cache_keeps_at_most_its_bound_and_drops_the_least_recently_used() {
        let mut c = Instances::default();
        for id in ["a", "b", "c"] {
            c.put(id.into(), 1, instance(), 3);
        }
        assert!(c.get("a", 1).is_some(), "a used again: b is now the oldest");
        c.put("d".into(), 1, instance(), 3);
        assert_eq!(c.map.len(), 3);
        assert!(c.get("b", 1).is_none(), "the least recently used went");
        for id in ["a", "c", "d"] {
            assert!(c.get(id, 1).is_some(), "{id} stays");
        }
        assert!(
            c.get("a", 2).is_none(),
            "another credentials version is a miss"
        );
        c.put("a".into(), 2, instance(), 3);
        assert_eq!(c.map.len(), 3, "replacing an entry evicts nothing");
        assert!(c.get("a", 2).is_some());
    }
}
