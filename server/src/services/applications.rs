//! Application management: list, revoke and rotate-secret, shared by the CLI
//! (`connectors apps list|revoke|rotate-secret --org ORG`) and the API (for organization admins).
//!
//! **Who is an admin:** the organization's oldest application that is not revoked — the first
//! `connectors apps create --org ORG` (and the sandbox's application). Revoking it makes the
//! next oldest the admin; the CLI, which works on the database directly, always can.
//!
//! Revoking an application deletes its bearer tokens, and token lookups also refuse tokens of
//! revoked applications, so its tokens stop working at once on this replica and on every other
//! as soon as the change's announcement reaches it (PostgreSQL `NOTIFY`, delivered after the
//! commit: milliseconds; [`crate::store::auth`]). Rotating the
//! secret also deletes its tokens: a rotation usually means the old secret leaked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use connector_core::{ConnectorError, Secret};
use serde::Serialize;

use super::cache::HotCache;
use crate::auth::{mint_token, verify_client, IssuedToken};
use crate::config::Config;
use crate::error::{db, internal};
use crate::limits::{too_many, Limits, RateLimiter};
use crate::store::{now, Store, TokenRecord};

/// An application as listed (never its secret or hash).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppInfo {
    pub client_id: String,
    pub organization_id: String,
    pub created_at: i64,
    pub revoked: bool,
    pub revoked_at: Option<i64>,
    pub admin: bool,
}

/// Applications and their bearer tokens: the verified-token cache lives here, and every
/// change that must end a token's life (revoke, rotate-secret) forgets it in the same call.
pub struct Applications {
    store: Store,
    /// Verified tokens by token hash (see [`crate::auth`] for the trade-off).
    tokens: HotCache<TokenRecord>,
    /// Whether the cache may be used now: changes made by other processes reach this one
    /// ([`crate::store::auth`]).
    trust: Trust,
    /// Lifetime of an issued bearer token.
    token_ttl_secs: u64,
    /// What a token request may cost (see [`Applications::issue_token`]).
    checks: SecretChecks,
}

/// What of the changes announced by other processes the token cache has followed: the
/// store's generation of changes ([`Store::changes_seen`], fed by the one listener or marker
/// watch of this process, which the policy cache follows too) as of the cache's last clear.
struct Trust {
    /// The generation the cache was last emptied for.
    seen: AtomicU64,
    /// Held across a clear and the move of `seen`: no lookup uses the cache between a newer
    /// generation's discovery and the clear.
    clearing: Mutex<()>,
}

/// The bounds around client-secret checks.
struct SecretChecks {
    /// Checks running at once.
    running: tokio::sync::Semaphore,
    wait: Duration,
    by_source: RateLimiter,
    failures_by_client: RateLimiter,
    /// A hash with the current parameters that unknown client ids are checked against.
    decoy: String,
}

impl SecretChecks {
    fn new(limits: &Limits) -> SecretChecks {
        SecretChecks {
            running: tokio::sync::Semaphore::new(limits.secret_checks.max(1)),
            wait: limits.secret_check_wait,
            by_source: RateLimiter::new(limits.token_per_source),
            failures_by_client: RateLimiter::new(limits.token_failures_per_client),
            decoy: crate::auth::on_own_thread_blocking(|| {
                crate::auth::hash_secret(new_client_secret().expose())
            })
            .expect("a thread for the decoy hash")
            .expect("argon2 hashes"),
        }
    }
}

impl Applications {
    /// `config.token_cache`: how long a verified token is trusted without the database (0:
    /// never); `config.token_ttl_secs`: the lifetime of an issued token.
    pub fn new(store: Store, config: &Config) -> Applications {
        Applications::with(
            store,
            config.token_cache,
            config.token_ttl_secs,
            &config.limits,
        )
    }

    /// Without a token cache (the CLI, which serves no API).
    pub fn uncached(store: Store) -> Applications {
        Applications::with(store, Duration::ZERO, 3600, &Limits::default())
    }

    fn with(
        store: Store,
        token_cache: Duration,
        token_ttl_secs: u64,
        limits: &Limits,
    ) -> Applications {
        // Starts following announced changes now (on SQLite the marker's watch is made at the
        // first look); the cache is empty, so whatever came before needs no clear.
        let seen = if token_cache.is_zero() {
            0
        } else {
            store.changes_seen().unwrap_or(0)
        };
        Applications {
            store,
            tokens: HotCache::new(token_cache),
            trust: Trust {
                seen: AtomicU64::new(seen),
                clearing: Mutex::new(()),
            },
            token_ttl_secs,
            checks: SecretChecks::new(limits),
        }
    }

    /// Checks an application's client credentials and issues a bearer token. A wrong id
    /// and a wrong secret look the same, and cost the same (an unknown id is checked against
    /// a decoy hash). Bounded: requests per `source` address and failed requests per client id
    /// are rate limited (`rate_limited` with `retry_after`), and at most
    /// `limits.secret_checks` checks run at once (the others wait `limits.secret_check_wait`,
    /// then get `rate_limited`).
    pub async fn issue_token(
        &self,
        client_id: &str,
        client_secret: &Secret,
        source: Option<std::net::IpAddr>,
    ) -> Result<IssuedToken, ConnectorError> {
        let checks = &self.checks;
        if let Some(ip) = source {
            checks
                .by_source
                .take(&ip.to_string())
                .map_err(|wait| too_many("token requests from this address", wait))?;
        }
        // Client ids are short; a long one is unknown anyway and shares one bucket.
        let client_key: String = client_id.chars().take(128).collect();
        checks
            .failures_by_client
            .check(&client_key)
            .map_err(|wait| too_many("failed token requests for this client_id", wait))?;
        let _permit = tokio::time::timeout(checks.wait, checks.running.acquire())
            .await
            .map_err(|_| too_many("token requests at once", Duration::from_secs(1)))?
            .map_err(internal)?;
        let app = verify_client(
            &self.store,
            client_id,
            client_secret.expose(),
            Some(&checks.decoy),
        )
        .await?;
        let Some(app) = app else {
            let _ = checks.failures_by_client.take(&client_key);
            return Err(ConnectorError::new(
                connector_core::ErrorCode::Unauthenticated,
                "invalid client_id or client_secret",
            ));
        };
        mint_token(&self.store, &app, self.token_ttl_secs).await
    }

    /// The organization's applications, oldest first, with the admin marked.
    pub async fn list(&self, org: &str) -> Result<Vec<AppInfo>, ConnectorError> {
        let rows = self.store.list_applications(org).await.map_err(db)?;
        let mut admin_seen = false;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let admin = r.revoked_at.is_none() && !admin_seen;
            admin_seen |= admin;
            out.push(AppInfo {
                client_id: r.client_id,
                organization_id: r.organization_id,
                created_at: r.created_at,
                revoked: r.revoked_at.is_some(),
                revoked_at: r.revoked_at,
                admin,
            });
        }
        Ok(out)
    }

    /// Whether the application (by its internal id) is its organization's admin.
    pub async fn is_admin(&self, org: &str, application_id: &str) -> Result<bool, ConnectorError> {
        let rows = self.store.list_applications(org).await.map_err(db)?;
        let first = rows.iter().find(|r| r.revoked_at.is_none());
        Ok(first.is_some_and(|r| r.id == application_id))
    }

    /// Revokes an application of the organization and deletes its tokens. `None` when the
    /// organization has no application with this client id. The organization's last
    /// application that is not revoked cannot be revoked through the API (`conflict`): the
    /// organization would have no admin left; the CLI (`connectors apps revoke`) can.
    pub async fn revoke(
        &self,
        org: &str,
        client_id: &str,
    ) -> Result<Option<AppInfo>, ConnectorError> {
        self.revoke_app(org, client_id, true).await
    }

    /// [`Applications::revoke`] for the CLI, which may revoke the last application too.
    pub async fn revoke_even_the_last(
        &self,
        org: &str,
        client_id: &str,
    ) -> Result<Option<AppInfo>, ConnectorError> {
        self.revoke_app(org, client_id, false).await
    }

    async fn revoke_app(
        &self,
        org: &str,
        client_id: &str,
        keep_last: bool,
    ) -> Result<Option<AppInfo>, ConnectorError> {
        let Some(id) = self
            .store
            .application_id(org, client_id)
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let active = self.list(org).await?;
        if keep_last
            && active.iter().filter(|a| !a.revoked).count() == 1
            && active
                .iter()
                .any(|a| !a.revoked && a.client_id == client_id)
        {
            return Err(ConnectorError::new(
                connector_core::ErrorCode::Conflict,
                "this is the organization's last application: create another one first (`connectors apps create`), or revoke it with `connectors apps revoke`",
            ));
        }
        self.store
            .revoke_application(&id, now())
            .await
            .map_err(db)?;
        self.drop_tokens(&id).await?;
        Ok(self
            .list(org)
            .await?
            .into_iter()
            .find(|a| a.client_id == client_id))
    }

    /// Gives the application a new client secret (returned once) and deletes its tokens.
    /// `None` when the organization has no such application; revoked applications cannot be
    /// rotated.
    pub async fn rotate_secret(
        &self,
        org: &str,
        client_id: &str,
    ) -> Result<Option<Result<Secret, RevokedApp>>, ConnectorError> {
        let Some(id) = self
            .store
            .application_id(org, client_id)
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        if self
            .store
            .application_revoked_at(&id)
            .await
            .map_err(db)?
            .is_some()
        {
            return Ok(Some(Err(RevokedApp)));
        }
        let secret = new_client_secret();
        let hash = crate::auth::on_own_thread({
            let s = secret.expose().to_string();
            move || crate::auth::hash_secret(&s)
        })
        .await
        .ok_or_else(|| internal("the new secret could not be hashed"))?
        .map_err(internal)?;
        self.store
            .set_application_secret(&id, &hash)
            .await
            .map_err(db)?;
        self.drop_tokens(&id).await?;
        Ok(Some(Ok(secret)))
    }

    /// The client id of an application (by its internal id); empty when it is gone.
    pub async fn client_id(&self, application_id: &str) -> Result<String, ConnectorError> {
        Ok(self
            .store
            .application_client_id(application_id)
            .await
            .map_err(db)?
            .unwrap_or_default())
    }

    /// The token's record: from the cache when verified less than the cache lifetime ago,
    /// otherwise from the database (and cached if valid; a refused token is never cached).
    pub async fn find_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<TokenRecord>, ConnectorError> {
        if !self.tokens.enabled() || !self.cache_trusted() {
            return self.store.find_token(token_hash).await.map_err(db);
        }
        if let Some(record) = self.tokens.get(token_hash) {
            return Ok(Some(record));
        }
        let generation = self.tokens.generation();
        let record = self.store.find_token(token_hash).await.map_err(db)?;
        match &record {
            Some(r) => self
                .tokens
                .put(token_hash.to_string(), r.clone(), generation),
            None => self.tokens.remove(token_hash),
        }
        Ok(record)
    }

    /// Whether cached tokens may be used now, emptying the cache when a change was announced
    /// since it was last emptied. Never while this process cannot learn of changes
    /// (PostgreSQL while its listener is starting or reconnecting).
    fn cache_trusted(&self) -> bool {
        let Some(generation) = self.store.changes_seen() else {
            return false;
        };
        // Generations only move on: one at or below the last cleared for is followed already.
        if self.trust.seen.load(Ordering::SeqCst) >= generation {
            return true;
        }
        let _clearing = self
            .trust
            .clearing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.trust.seen.load(Ordering::SeqCst) < generation {
            self.tokens.clear();
            self.trust.seen.store(generation, Ordering::SeqCst);
        }
        true
    }

    /// Tells the other processes on the database that credentials changed (after the change).
    async fn announce(&self) -> Result<(), ConnectorError> {
        self.store.auth_changed().await.map_err(db)
    }

    /// Drops every cached token: for tests and admin tools that edit tokens in the database
    /// behind this process's back.
    pub fn forget_cached_tokens(&self) {
        self.tokens.clear();
    }

    /// Deletes the application's tokens and forgets them here: they stop working at once.
    async fn drop_tokens(&self, application_id: &str) -> Result<(), ConnectorError> {
        self.store
            .delete_application_tokens(application_id)
            .await
            .map_err(db)?;
        self.tokens.retain(|r| r.application_id != application_id);
        self.announce().await
    }
}

impl From<AppInfo> for api_types::ApplicationView {
    fn from(a: AppInfo) -> Self {
        api_types::ApplicationView {
            client_id: a.client_id,
            organization_id: a.organization_id,
            created_at: a.created_at,
            revoked: a.revoked,
            revoked_at: a.revoked_at,
            admin: a.admin,
        }
    }
}

/// The application is revoked.
#[derive(Debug)]
pub struct RevokedApp;

/// A new client secret, in the format `auth::create_application` uses.
fn new_client_secret() -> Secret {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    Secret::new(format!(
        "cs_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{create_application, hash_token, issue_token};

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        (Store::open(&url).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn a_cached_token_is_dropped_at_once_when_its_application_is_revoked_here() {
        let (store, _dir) = store().await;
        let apps = Applications::with(
            store.clone(),
            Duration::from_secs(1),
            3600,
            &Limits::default(),
        );
        let org = store.create_org("cache").await.unwrap().id;
        let app = create_application(&store, &org).await.unwrap();
        let issued = issue_token(&store, &app.client_id, app.client_secret.expose(), 3600)
            .await
            .map_err(|e| e.to_string())
            .unwrap();
        let hash = hash_token(issued.access_token.expose());
        let record = apps.find_token(&hash).await.unwrap().unwrap();
        assert_eq!(record.organization_id, org);
        // Revoked behind this process's back (another replica, the CLI): the cached record
        // is still trusted within the cache lifetime...
        store
            .revoke_application(&record.application_id, 1)
            .await
            .unwrap();
        apps.tokens.touch(&hash); // a slow machine must not turn this into a miss
        assert!(apps.find_token(&hash).await.unwrap().is_some());
        assert!(apps.tokens.contains(&hash));
        // ...and a revoke through this process forgets it at once.
        apps.revoke(&org, &app.client_id).await.unwrap();
        assert!(!apps.tokens.contains(&hash));
        assert!(apps.find_token(&hash).await.unwrap().is_none());
        assert!(
            !apps.tokens.contains(&hash),
            "a refused token is not cached"
        );
    }

    #[tokio::test]
    async fn a_revocation_by_another_process_empties_the_cache_at_the_next_lookup() {
        let (store, _dir) = store().await;
        let server = Applications::with(
            store.clone(),
            Duration::from_secs(10),
            3600,
            &Limits::default(),
        );
        // The CLI: its own process on the same SQLite file, without a cache.
        let cli = Applications::uncached(store.clone());
        let org = store.create_org("cli").await.unwrap().id;
        let keep = create_application(&store, &org).await.unwrap();
        let app = create_application(&store, &org).await.unwrap();
        let issued = issue_token(&store, &app.client_id, app.client_secret.expose(), 3600)
            .await
            .map_err(|e| e.to_string())
            .unwrap();
        let hash = hash_token(issued.access_token.expose());
        assert!(server.find_token(&hash).await.unwrap().is_some());
        assert!(server.tokens.contains(&hash), "verified once, then cached");
        assert_eq!(
            store.watches_marker(),
            cfg!(target_os = "linux"),
            "the marker is watched, not stat'ed per lookup"
        );
        let marker = store.auth_marker();
        cli.revoke(&org, &app.client_id).await.unwrap().unwrap();
        assert_ne!(store.auth_marker(), marker, "the CLI's change is announced");
        assert!(
            server.find_token(&hash).await.unwrap().is_none(),
            "refused at the next lookup, long before the cache lifetime"
        );
        // A rotated secret too.
        let issued = issue_token(&store, &keep.client_id, keep.client_secret.expose(), 3600)
            .await
            .map_err(|e| e.to_string())
            .unwrap();
        let hash = hash_token(issued.access_token.expose());
        assert!(server.find_token(&hash).await.unwrap().is_some());
        cli.rotate_secret(&org, &keep.client_id)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(server.find_token(&hash).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_unknown_token_is_never_cached() {
        let (store, _dir) = store().await;
        let apps = Applications::with(store, Duration::from_secs(1), 3600, &Limits::default());
        let hash = hash_token("cat_never_issued");
        assert!(apps.find_token(&hash).await.unwrap().is_none());
        assert!(!apps.tokens.contains(&hash));
    }
}
