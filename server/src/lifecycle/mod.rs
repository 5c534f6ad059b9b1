//! Token lifecycle across server replicas (issue 8; design in `docs/token-lifecycle.md`).
//!
//! - [`Lifecycle::token`]: the one way an access token is refreshed. Callers in this process
//!   first share one flight per connector; the flight then takes a database lock on the
//!   connector's row ([`lock`]), re-reads the row (another replica may have refreshed it: the
//!   `credentials_version` moved and the stored token is fresh), and only then calls the token
//!   endpoint. The rotated refresh token, the new access token and the version bump are
//!   committed in the same transaction before anyone uses the new token. `invalid_grant` read
//!   under the lock marks the connector `needs_reauth` (the row just read is the newest one).
//! - [`LockedTokenSource`]: the [`TokenProvider`] the runtime gives each connector instance.
//! - [`health`]: the background check that finds revoked grants before a user's call does.
//! - [`webhook`]: signed status-change events.

pub mod health;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::{ConnectorError, ErrorCode, OAuthCredentials, Secret, TokenProvider};
use serde_json::json;

use crate::credentials::{unix, StoredCredentials};
use crate::registry::Registry;
use crate::store::credentials::{self as lock, CredRow};
use crate::store::{now, Store};
use crate::vault::Vault;

pub use crate::store::{STATUS_ACTIVE, STATUS_NEEDS_REAUTH};

/// A token used by a call must stay valid this long (the library's margin too).
pub const REFRESH_MARGIN_SECS: i64 = 5 * 60;
/// Longest wait for the token endpoint while the row lock is held.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(20);
/// Rounds of "lock busy: re-read, wait, try again" before a caller gives up.
const LOCK_ATTEMPTS: u32 = 6;
/// Connections that may hold a refresh lock at once (the rest of the pool serves requests).
const LOCK_SLOTS: usize = 4;

/// What the caller needs from [`Lifecycle::token`].
#[derive(Debug, Clone, Copy)]
pub enum Want<'a> {
    /// A token valid for at least [`REFRESH_MARGIN_SECS`] (calls, the credential endpoint).
    Fresh,
    /// Any valid token but this one: the provider answered 401 to it.
    Not(&'a Secret),
    /// A health check: refresh unless the token is valid for `margin` seconds more and was
    /// refreshed within the last `idle` seconds. Skips a row another replica has locked.
    Check { margin: i64, idle: i64 },
}

/// An access token and what the row said about it.
#[derive(Clone)]
pub struct Token {
    pub access_token: Secret,
    /// Unix seconds, when known.
    pub expires_at: Option<i64>,
    pub version: i64,
    /// The token endpoint was called for it (by this caller).
    pub refreshed: bool,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires_at", &self.expires_at)
            .field("version", &self.version)
            .field("refreshed", &self.refreshed)
            .finish_non_exhaustive()
    }
}

/// Refreshes, health checks and status events (one per server; share it behind an `Arc`).
pub struct Lifecycle {
    store: Store,
    vault: Vault,
    registry: Arc<Registry>,
    http: reqwest::Client,
    flights: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    lock_slots: tokio::sync::Semaphore,
    webhooks: webhook::Webhooks,
}

/// Why a locked attempt did not finish.
enum Attempt {
    Done(Result<Token, ConnectorError>),
    /// The lock was not granted within the lock timeout: re-read and try again.
    Busy,
    /// Health check: another replica holds the row.
    Skipped,
}

impl Lifecycle {
    /// `public_url`: the origin end users reach the server at (reconnect links in events).
    pub fn new(
        store: Store,
        vault: Vault,
        registry: Arc<Registry>,
        public_url: String,
    ) -> Lifecycle {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client builds");
        let webhooks = webhook::Webhooks::new(store.clone(), public_url);
        Lifecycle {
            store,
            vault,
            registry,
            http,
            flights: std::sync::Mutex::new(HashMap::new()),
            lock_slots: tokio::sync::Semaphore::new(LOCK_SLOTS),
            webhooks,
        }
    }

    pub fn webhooks(&self) -> &webhook::Webhooks {
        &self.webhooks
    }

    /// An access token for the connector as `want` asks, refreshing (once across every caller
    /// and replica) when needed. `None` only for a health check that another replica is running.
    pub async fn token(
        &self,
        org: &str,
        id: &str,
        want: Want<'_>,
    ) -> Result<Option<Token>, ConnectorError> {
        let flight = self.flight(id);
        let result = {
            let _one = flight.lock().await;
            self.token_in_flight(org, id, want).await
        };
        self.release_flight(id, flight);
        result
    }

    fn flight(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        flights.entry(id.to_string()).or_default().clone()
    }

    fn release_flight(&self, id: &str, flight: Arc<tokio::sync::Mutex<()>>) {
        drop(flight);
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if flights.get(id).is_some_and(|f| Arc::strong_count(f) == 1) {
            flights.remove(id);
        }
    }

    async fn token_in_flight(
        &self,
        org: &str,
        id: &str,
        want: Want<'_>,
    ) -> Result<Option<Token>, ConnectorError> {
        // Cheap read first: a task of this process or another replica may have done the work.
        if let Some(t) = self.satisfied_now(org, id, want).await? {
            return Ok(Some(t));
        }
        for attempt in 0..LOCK_ATTEMPTS {
            let slot = self
                .lock_slots
                .acquire()
                .await
                .map_err(|_| ConnectorError::internal("the refresh slots are closed"))?;
            let outcome = self.attempt_locked(org, id, want).await;
            drop(slot);
            match outcome {
                Attempt::Done(r) => return r.map(Some),
                Attempt::Skipped => return Ok(None),
                Attempt::Busy => {
                    tracing::info!(connector_id = %id, attempt, "refresh lock busy; re-reading");
                    if let Some(t) = self.satisfied_now(org, id, want).await? {
                        return Ok(Some(t));
                    }
                    tokio::time::sleep(Duration::from_millis(100 * (u64::from(attempt) + 1))).await;
                }
            }
        }
        Err(ConnectorError::new(
            ErrorCode::ProviderUnavailable,
            "another server has been refreshing this connector's access token for too long; try again shortly",
        )
        .with_retry_after(Some(Duration::from_secs(5))))
    }

    /// Reads the row without a lock; the token when it already satisfies `want`.
    async fn satisfied_now(
        &self,
        org: &str,
        id: &str,
        want: Want<'_>,
    ) -> Result<Option<Token>, ConnectorError> {
        let row = self
            .store
            .credential_row(org, id)
            .await
            .map_err(db)?
            .ok_or_else(|| ConnectorError::not_found("the connector was deleted"))?;
        if row.status == STATUS_NEEDS_REAUTH {
            return Err(needs_reauth_error(None));
        }
        let creds = self.decrypt(&row).await?;
        Ok(satisfied(&row, &creds, want))
    }

    async fn decrypt(&self, row: &CredRow) -> Result<StoredCredentials, ConnectorError> {
        let plain = self
            .vault
            .decrypt(&row.organization_id, &row.credentials)
            .await?;
        StoredCredentials::from_json(&plain)
    }

    /// One round under the row lock: re-read, refresh when still needed, commit, or mark
    /// `needs_reauth` on `invalid_grant`.
    async fn attempt_locked(&self, org: &str, id: &str, want: Want<'_>) -> Attempt {
        let skip_locked = matches!(want, Want::Check { .. });
        let (mut tx, row) = match lock::lock_row(&self.store, org, id, skip_locked).await {
            Ok(lock::Locked::Row(tx, row)) => (tx, row),
            Ok(lock::Locked::Busy) => return Attempt::Busy,
            Ok(lock::Locked::Skipped) => return Attempt::Skipped,
            Ok(lock::Locked::Missing) => {
                return Attempt::Done(Err(ConnectorError::not_found("the connector was deleted")))
            }
            Err(e) => return Attempt::Done(Err(db(e))),
        };
        if row.status == STATUS_NEEDS_REAUTH {
            let _ = tx.rollback().await;
            return Attempt::Done(Err(needs_reauth_error(None)));
        }
        let mut creds = match self.decrypt(&row).await {
            Ok(c) => c,
            Err(e) => return Attempt::Done(Err(e)),
        };
        if let Some(t) = satisfied(&row, &creds, want) {
            // Another replica (or task) refreshed while we waited for the lock.
            let _ = tx.rollback().await;
            return Attempt::Done(Ok(t));
        }
        let oauth = match self.oauth_for(&row, &creds) {
            Ok(o) => o,
            Err(e) => {
                let _ = tx.rollback().await;
                return Attempt::Done(Err(e));
            }
        };
        let refreshed = tokio::time::timeout(
            REFRESH_TIMEOUT,
            connector_core::auth::refresh_grant(&oauth, &self.http),
        )
        .await
        .unwrap_or_else(|_| {
            Err(ConnectorError::new(
                ErrorCode::ProviderUnavailable,
                "the token endpoint did not answer in time; try again later",
            ))
        });
        match refreshed {
            Ok(tokens) => {
                creds
                    .fields
                    .insert("access_token".into(), tokens.access_token.clone());
                creds.expires_at = tokens.expires_at.map(unix);
                if let Some(rt) = &tokens.refresh_token {
                    creds.fields.insert("refresh_token".into(), rt.clone());
                }
                let (blob, key_id) = match self.vault.encrypt(org, &creds.to_json()).await {
                    Ok(x) => x,
                    Err(e) => {
                        // The rotated token (if any) is lost with this transaction: the window
                        // docs/token-lifecycle.md describes.
                        let _ = tx.rollback().await;
                        return Attempt::Done(Err(e));
                    }
                };
                let stored = lock::store_refreshed(
                    &mut tx,
                    id,
                    &blob,
                    &key_id,
                    tokens.scope.as_deref(),
                    now(),
                )
                .await;
                let committed = match stored {
                    Ok(()) => tx.commit().await,
                    Err(e) => Err(e),
                };
                if let Err(e) = committed {
                    crate::metrics::global().token_refresh("store_failed");
                    return Attempt::Done(Err(ConnectorError::internal(
                        "the refreshed tokens could not be stored; the call was not made",
                    )
                    .with_source(e)));
                }
                crate::metrics::global().token_refresh("ok");
                tracing::info!(
                    connector_id = %id,
                    rotated = tokens.refresh_token.is_some(),
                    version = row.credentials_version + 1,
                    "stored refreshed credentials (refreshed under the row lock)"
                );
                Attempt::Done(Ok(Token {
                    access_token: tokens.access_token,
                    expires_at: creds.expires_at,
                    version: row.credentials_version + 1,
                    refreshed: true,
                }))
            }
            Err(e) if e.code == ErrorCode::NeedsReauth => {
                // Read under the lock: no replica can have rotated the token since.
                crate::metrics::global().token_refresh("invalid_grant");
                let reason = format!("refreshing the access token failed: {}", e.message);
                let changed = lock::mark_needs_reauth_locked(&mut tx, id, &reason).await;
                let changed = match changed {
                    Ok(c) => tx.commit().await.map(|_| c),
                    Err(e) => Err(e),
                };
                match changed {
                    Ok(true) => self.status_changed(&row, STATUS_NEEDS_REAUTH, Some(&reason)),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(connector_id = %id, error = %e, "could not mark the connector needs_reauth")
                    }
                }
                Attempt::Done(Err(needs_reauth_error(Some(&reason))))
            }
            Err(e) => {
                let _ = tx.rollback().await;
                // An early refresh that failed for a passing reason keeps a still valid token.
                if matches!(
                    e.code,
                    ErrorCode::ProviderUnavailable | ErrorCode::RateLimited
                ) {
                    if let Some(t) = still_valid(&row, &creds, want) {
                        tracing::warn!(connector_id = %id, code = %e.code, "token refresh failed; using the still valid token");
                        return Attempt::Done(Ok(t));
                    }
                }
                Attempt::Done(Err(e))
            }
        }
    }

    /// The refresh request's inputs from the row just read.
    fn oauth_for(
        &self,
        row: &CredRow,
        creds: &StoredCredentials,
    ) -> Result<OAuthCredentials, ConnectorError> {
        let kind = self.registry.get(&row.connector_type).ok_or_else(|| {
            ConnectorError::internal("this connector's type is not available on this server")
        })?;
        let token_url = row
            .token_url
            .clone()
            .unwrap_or_else(|| kind.token_url_for(creds));
        Ok(creds.to_oauth(
            kind.provider.client_id.as_deref(),
            kind.provider.client_secret.as_ref(),
            &token_url,
            kind.refresh_scope(row.scopes.as_deref()),
        ))
    }

    /// Marks the connector `needs_reauth` unless it already is (outside a refresh: a 401 that
    /// no refresh can fix). Sends the status event when the status changed.
    pub async fn mark_needs_reauth(
        &self,
        org: &str,
        id: &str,
        reason: &str,
    ) -> Result<bool, ConnectorError> {
        let changed = self
            .store
            .mark_needs_reauth(org, id, reason)
            .await
            .map_err(db)?;
        if changed {
            if let Some(row) = self.read_row(org, id).await? {
                self.status_changed(&row, STATUS_NEEDS_REAUTH, Some(reason));
            }
        }
        Ok(changed)
    }

    pub(crate) async fn read_row(
        &self,
        org: &str,
        id: &str,
    ) -> Result<Option<CredRow>, ConnectorError> {
        self.store.credential_row(org, id).await.map_err(db)
    }

    /// Logs a status change and sends it to the organization's webhook (in the background).
    fn status_changed(&self, row: &CredRow, status: &str, reason: Option<&str>) {
        let previous = if status == STATUS_NEEDS_REAUTH {
            STATUS_ACTIVE
        } else {
            row.status.as_str()
        };
        self.webhooks.emit(webhook::StatusEvent {
            organization_id: row.organization_id.clone(),
            connector_id: row.id.clone(),
            customer_name: Some(row.customer_name.clone()),
            connector_type: Some(row.connector_type.clone()),
            status: status.to_string(),
            previous_status: Some(previous.to_string()),
            reason: reason.map(str::to_string),
        });
    }

    /// After a PATCH or re-authorization: sends an event when the status moved.
    pub fn note_status(
        &self,
        before: &crate::store::ConnectorRow,
        after: &crate::store::ConnectorRow,
    ) {
        if before.status == after.status {
            return;
        }
        self.webhooks.emit(webhook::StatusEvent {
            organization_id: after.organization_id.clone(),
            connector_id: after.id.clone(),
            customer_name: Some(after.customer_name.clone()),
            connector_type: Some(after.connector_type.clone()),
            status: after.status.clone(),
            previous_status: Some(before.status.clone()),
            reason: after.status_reason.clone(),
        });
    }

    /// After a DELETE.
    pub fn note_deleted(&self, before: &crate::store::ConnectorRow) {
        self.webhooks.emit(webhook::StatusEvent {
            organization_id: before.organization_id.clone(),
            connector_id: before.id.clone(),
            customer_name: Some(before.customer_name.clone()),
            connector_type: Some(before.connector_type.clone()),
            status: "deleted".into(),
            previous_status: Some(before.status.clone()),
            reason: None,
        });
    }
}

/// The stored token when it already satisfies `want`.
fn satisfied(row: &CredRow, creds: &StoredCredentials, want: Want<'_>) -> Option<Token> {
    let access = creds.get("access_token")?.clone();
    let now = now();
    let valid_for = |secs: i64| creds.expires_at.is_none_or(|at| at > now + secs);
    let can_refresh = creds.get("refresh_token").is_some();
    let ok = match want {
        // Without a refresh token there is nothing better to give: let the provider judge.
        Want::Fresh => valid_for(REFRESH_MARGIN_SECS) || !can_refresh,
        Want::Not(rejected) => &access != rejected && valid_for(60),
        Want::Check { margin, idle } => {
            !can_refresh
                || (valid_for(margin) && row.last_refresh_at.unwrap_or(row.created_at) > now - idle)
        }
    };
    ok.then(|| Token {
        access_token: access,
        expires_at: creds.expires_at,
        version: row.credentials_version,
        refreshed: false,
    })
}

/// After a transient refresh failure: the stored token if it has a minute left (not after a 401).
fn still_valid(row: &CredRow, creds: &StoredCredentials, want: Want<'_>) -> Option<Token> {
    if matches!(want, Want::Not(_)) {
        return None;
    }
    let at = creds.expires_at?;
    let access = creds.get("access_token")?.clone();
    (at > now() + 60).then(|| Token {
        access_token: access,
        expires_at: Some(at),
        version: row.credentials_version,
        refreshed: false,
    })
}

pub fn needs_reauth_error(reason: Option<&str>) -> ConnectorError {
    ConnectorError::new(
        ErrorCode::NeedsReauth,
        "this connector's authorization was revoked or expired: the end user must authorize again (update its credentials)",
    )
    .with_details(json!({"reason": reason}))
}

fn db(e: sqlx::Error) -> ConnectorError {
    ConnectorError::internal("the database failed; try again").with_source(e)
}

/// The token provider of a stored connector with a refresh token: an in-memory copy of the
/// token, and [`Lifecycle::token`] when it is stale or rejected.
pub struct LockedTokenSource {
    lifecycle: Arc<Lifecycle>,
    organization_id: String,
    connector_id: String,
    memory: tokio::sync::Mutex<Memory>,
}

struct Memory {
    access: Option<Secret>,
    expires_at: Option<i64>,
}

impl LockedTokenSource {
    pub fn new(
        lifecycle: Arc<Lifecycle>,
        organization_id: &str,
        connector_id: &str,
        creds: &StoredCredentials,
    ) -> LockedTokenSource {
        LockedTokenSource {
            lifecycle,
            organization_id: organization_id.to_string(),
            connector_id: connector_id.to_string(),
            memory: tokio::sync::Mutex::new(Memory {
                access: creds.get("access_token").cloned(),
                expires_at: creds.expires_at,
            }),
        }
    }

    async fn fetch(&self, memory: &mut Memory, want: Want<'_>) -> connector_core::Result<Secret> {
        let t = self
            .lifecycle
            .token(&self.organization_id, &self.connector_id, want)
            .await?
            .ok_or_else(|| ConnectorError::internal("the refresh was skipped"))?;
        memory.access = Some(t.access_token.clone());
        memory.expires_at = t.expires_at;
        Ok(t.access_token)
    }
}

#[async_trait]
impl TokenProvider for LockedTokenSource {
    async fn access_token(&self) -> connector_core::Result<Secret> {
        let mut m = self.memory.lock().await;
        if let Some(t) = &m.access {
            if m.expires_at
                .is_none_or(|at| at > now() + REFRESH_MARGIN_SECS)
            {
                return Ok(t.clone());
            }
        }
        self.fetch(&mut m, Want::Fresh).await
    }

    async fn refresh_after_unauthorized(
        &self,
        rejected: &Secret,
    ) -> connector_core::Result<Secret> {
        let mut m = self.memory.lock().await;
        if let Some(t) = &m.access {
            if t != rejected {
                return Ok(t.clone());
            }
        }
        self.fetch(&mut m, Want::Not(rejected)).await
    }
}

impl std::fmt::Debug for LockedTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockedTokenSource")
            .field("connector_id", &self.connector_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(last_refresh_at: Option<i64>) -> CredRow {
        CredRow {
            id: "c".into(),
            organization_id: "o".into(),
            customer_name: "x".into(),
            connector_type: "gmail".into(),
            credentials: vec![],
            credentials_version: 3,
            token_url: None,
            scopes: None,
            status: STATUS_ACTIVE.into(),
            last_refresh_at,
            created_at: 0,
        }
    }

    fn creds(access: &str, expires_in: Option<i64>) -> StoredCredentials {
        let mut c = StoredCredentials::default();
        c.fields.insert("access_token".into(), Secret::new(access));
        c.fields.insert("refresh_token".into(), Secret::new("r"));
        c.expires_at = expires_in.map(|s| now() + s);
        c
    }

    #[test]
    fn a_fresh_token_is_used_and_a_stale_one_is_not() {
        let r = row(Some(now()));
        let t = satisfied(&r, &creds("a", Some(3600)), Want::Fresh).unwrap();
        assert_eq!(t.access_token.expose(), "a");
        assert_eq!(t.version, 3);
        assert!(satisfied(&r, &creds("a", Some(200)), Want::Fresh).is_none());
        assert!(satisfied(&r, &creds("a", Some(-10)), Want::Fresh).is_none());
    }

    #[test]
    fn after_a_401_only_a_different_valid_token_will_do() {
        let r = row(Some(now()));
        let rejected = Secret::new("a");
        assert!(satisfied(&r, &creds("a", Some(3600)), Want::Not(&rejected)).is_none());
        let t = satisfied(&r, &creds("b", Some(3600)), Want::Not(&rejected)).unwrap();
        assert_eq!(t.access_token.expose(), "b");
    }

    #[test]
    fn a_health_check_refreshes_idle_or_expiring_tokens() {
        let check = Want::Check {
            margin: 600,
            idle: 3600,
        };
        assert!(satisfied(&row(Some(now())), &creds("a", Some(3000)), check).is_some());
        assert!(satisfied(&row(Some(now())), &creds("a", Some(300)), check).is_none());
        assert!(satisfied(&row(Some(now() - 7200)), &creds("a", Some(3000)), check).is_none());
        assert!(satisfied(&row(None), &creds("a", Some(3000)), check).is_none());
        // Expiry unknown (no `expires_in`): only idleness sends it to the token endpoint.
        assert!(satisfied(&row(Some(now())), &creds("a", None), check).is_some());
        assert!(satisfied(&row(Some(now() - 7200)), &creds("a", None), check).is_none());
    }
}
