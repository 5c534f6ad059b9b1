//! Idempotency keys on execute: `idempotency_key` in the body, scoped to the organization and
//! the connector.
//!
//! - The first request claims the key (a `pending` row, inserted with `ON CONFLICT DO NOTHING`,
//!   so replicas sharing the database agree on one owner), runs, and stores its answer
//!   encrypted with the organization's data key for [`RETENTION_SECS`].
//! - A repeat with the same entity, action and params gets the stored answer without a
//!   provider call, with `Idempotent-Replayed: true`; with other params it is a 409 `conflict`.
//! - A repeat while the first still runs polls the database (so it works across replicas) for up
//!   to [`crate::Config::idempotency_wait`], then answers 409 `conflict`.
//! - Transient failures and `outcome_unknown` release the key instead of storing it: the retry
//!   runs again, and the key reaches the connector (`ExecuteOptions.idempotency_key`) so its
//!   exactly-once reconciliation finds a send whose response was lost.
//! - A claim whose owner vanished (crash) is taken over after [`LEASE_SECS`]. The owner's
//!   answer and release are compare-and-set on its lease, so a request that outlived its lease
//!   and lost the claim cannot overwrite the answer of the one that took it over.
//! - The SQL lives in the store (`store::idempotency`), one atomic statement per step, on
//!   SQLite and PostgreSQL alike.

use std::time::Duration;

use api_types::ExecuteResponse;
use connector_core::{ConnectorError, ErrorCode};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{db, internal};
use crate::store::{now, IdempotencyEntry, IdempotencySlot, Store};
use crate::vault::Vault;

/// How long a stored answer is replayed.
pub const RETENTION_SECS: i64 = 24 * 60 * 60;
/// How long a claim protects a running request before another request may take it over.
pub const LEASE_SECS: i64 = 5 * 60;
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;
/// The response header on a replayed answer.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

const POLL: Duration = Duration::from_millis(100);
/// How long a request waits for a concurrent request with the same key, unless the config
/// says otherwise ([`crate::Config::idempotency_wait`]).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// What the request asks for: its fingerprint is compared on reuse.
pub struct Fingerprint<'a> {
    pub entity: &'a str,
    pub action: &'a str,
    pub params: &'a Value,
}

impl Fingerprint<'_> {
    /// SHA-256 hex of the canonical JSON (object keys sorted) of entity, action and params.
    pub fn hash(&self) -> String {
        let v =
            json!({"entity": self.entity, "action": self.action, "params": canonical(self.params)});
        hex::encode(Sha256::digest(v.to_string().as_bytes()))
    }
}

fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Checks the key's shape (1 to 255 characters, no control characters).
pub fn validate_key(key: &str) -> Result<(), ConnectorError> {
    if key.is_empty() || key.chars().count() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(ConnectorError::invalid_params(
            "idempotency_key must be 1 to 255 characters without control characters",
        )
        .with_details(
            json!({"errors": [{"path": "/idempotency_key", "message": "1 to 255 characters"}]}),
        ));
    }
    Ok(())
}

/// Whether an error is the request's definitive answer (stored and replayed) rather than a
/// failure a retry may get past (the key is released).
pub fn is_definitive(code: ErrorCode) -> bool {
    !matches!(
        code,
        ErrorCode::Unauthenticated
            | ErrorCode::NeedsReauth
            | ErrorCode::RateLimited
            | ErrorCode::ProviderUnavailable
            | ErrorCode::OutcomeUnknown
            | ErrorCode::ApprovalRequired
            | ErrorCode::Internal
    )
}

/// The answer of an idempotent execute.
pub enum Answer {
    /// This request ran.
    Fresh(ExecuteResponse),
    /// The stored answer of an earlier request with the same key (its status and body).
    Replayed { status: u16, body: Value },
}

/// Claims, stores and replays idempotency keys (the store's rows, sealed by the vault).
pub struct Idempotency {
    store: Store,
    vault: Vault,
    /// How long a request waits for a concurrent one with the same key.
    wait: Duration,
}

impl Idempotency {
    pub fn new(store: Store, vault: Vault, wait: Duration) -> Idempotency {
        Idempotency { store, vault, wait }
    }

    /// Runs `run` at most once per key; answers with the stored answer on a repeat.
    pub async fn execute<F>(
        &self,
        org: &str,
        connector_id: &str,
        key: &str,
        fingerprint: Fingerprint<'_>,
        run: F,
    ) -> Result<Answer, ConnectorError>
    where
        F: std::future::Future<Output = Result<ExecuteResponse, ConnectorError>> + Send + 'static,
    {
        validate_key(key)?;
        let slot = IdempotencySlot {
            organization_id: org.to_string(),
            connector_id: connector_id.to_string(),
            key_hash: hex::encode(Sha256::digest(key.as_bytes())),
        };
        let request_hash = fingerprint.hash();
        let deadline = tokio::time::Instant::now() + self.wait;
        let mut run = Some(run);
        let store = &self.store;
        loop {
            let t = now();
            store.purge_idempotency_key(&slot, t).await.map_err(db)?;
            let lease = t + LEASE_SECS;
            if store
                .claim_idempotency_key(&slot, &request_hash, t, lease, t + RETENTION_SECS)
                .await
                .map_err(db)?
            {
                let run = run.take().expect("claimed once");
                return self.own(slot, lease, run).await;
            }
            match store.idempotency_entry(&slot).await.map_err(db)? {
                None => continue, // released or expired between the two statements
                Some(seen) if seen.request_hash() != request_hash => return Err(reused()),
                Some(IdempotencyEntry::Done { response, .. }) => {
                    return self.replay(&slot, &response).await
                }
                Some(IdempotencyEntry::Pending { locked_until, .. }) => {
                    // The owner vanished (its lease ended): one waiting request takes over.
                    if locked_until < t
                        && store
                            .take_over_idempotency_key(&slot, locked_until, lease)
                            .await
                            .map_err(db)?
                    {
                        let run = run.take().expect("claimed once");
                        return self.own(slot, lease, run).await;
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(ConnectorError::new(
                            ErrorCode::Conflict,
                            "a request with this idempotency_key is still running; retry later with the same key to get its result",
                        )
                        .with_details(json!({"reason": "in_progress"})));
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    /// Runs the request on its own task (so a client that hangs up does not leave the claim
    /// unfinished), then stores or releases the key.
    async fn own<F>(
        &self,
        slot: IdempotencySlot,
        lease: i64,
        run: F,
    ) -> Result<Answer, ConnectorError>
    where
        F: std::future::Future<Output = Result<ExecuteResponse, ConnectorError>> + Send + 'static,
    {
        let (store, vault) = (self.store.clone(), self.vault.clone());
        // `tokio::spawn`, not actix's local spawn: MCP calls run on tasks outside actix's
        // local set (rmcp's), and reach this path too.
        let task = tokio::spawn(async move {
            let outcome = run.await;
            let stored = match &outcome {
                Ok(body) => Some((200u16, serde_json::to_value(body).map_err(internal))),
                Err(e) if is_definitive(e.code) => Some((
                    e.http_status(),
                    Ok(serde_json::to_value(crate::error::error_body(e))
                        .expect("an error body serializes")),
                )),
                Err(_) => None,
            };
            let recorded = match stored {
                Some((status, Ok(body))) => {
                    record(&store, &vault, &slot, lease, status, &body).await
                }
                Some((_, Err(e))) => Err(e),
                None => store
                    .release_idempotency_key(&slot, lease)
                    .await
                    .map(|_| ())
                    .map_err(db),
            };
            if let Err(e) = recorded {
                // The answer still goes out; a retry will run again once the lease ends.
                tracing::error!(code = %e.code, "storing the idempotent answer failed");
            }
            outcome
        });
        match task.await {
            Ok(outcome) => outcome.map(Answer::Fresh),
            Err(join) => Err(internal(join)),
        }
    }

    async fn replay(&self, slot: &IdempotencySlot, blob: &[u8]) -> Result<Answer, ConnectorError> {
        let plain = self.vault.decrypt(&slot.organization_id, blob).await?;
        let mut stored: Value = serde_json::from_slice(&plain).map_err(internal)?;
        let status = stored["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| internal("a stored idempotent answer has no status"))?;
        Ok(Answer::Replayed {
            status,
            body: stored["body"].take(),
        })
    }
}

fn reused() -> ConnectorError {
    ConnectorError::new(
        ErrorCode::Conflict,
        "this idempotency_key was already used with another entity, action or params; use a new key for a new request",
    )
    .with_details(json!({"reason": "key_reused"}))
}

/// Stores the answer sealed with the organization's data key (unless another request took the
/// claim over after this one's lease ended: its answer is the one kept).
async fn record(
    store: &Store,
    vault: &Vault,
    slot: &IdempotencySlot,
    lease: i64,
    status: u16,
    body: &Value,
) -> Result<(), ConnectorError> {
    let plain = serde_json::to_vec(&json!({"status": status, "body": body})).map_err(internal)?;
    let (blob, _key_id) = vault.encrypt(&slot.organization_id, &plain).await?;
    let kept = store
        .finish_idempotency_key(slot, lease, &blob, now() + RETENTION_SECS)
        .await
        .map_err(db)?;
    if !kept {
        tracing::warn!("an idempotent request outlived its lease; the answer of the request that took it over is kept");
    }
    Ok(())
}
