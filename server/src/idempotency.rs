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

use actix_web::{web, HttpResponse};
use connector_core::{ConnectorError, ErrorCode};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::store::{now, IdempotencyEntry, IdempotencySlot};
use crate::AppState;

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
pub fn validate_key(key: &str) -> ApiResult<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(ApiError::from(
            ConnectorError::invalid_params(
                "idempotency_key must be 1 to 255 characters without control characters",
            )
            .with_details(
                json!({"errors": [{"path": "/idempotency_key", "message": "1 to 255 characters"}]}),
            ),
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
            | ErrorCode::Internal
    )
}

/// Runs `run` (which yields the 200 body) at most once per key; answers with the stored
/// answer on a repeat.
pub async fn execute<F>(
    state: web::Data<AppState>,
    org: &str,
    connector_id: &str,
    key: &str,
    fingerprint: Fingerprint<'_>,
    run: F,
) -> ApiResult<HttpResponse>
where
    F: std::future::Future<Output = Result<Value, ConnectorError>> + Send + 'static,
{
    let answer = run_once(state, org, connector_id, key, fingerprint, run).await?;
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .map_err(|_| ApiError::internal("a stored idempotent answer has a bad status"))?;
    let mut response = HttpResponse::build(status);
    if answer.replayed {
        response.insert_header((REPLAYED_HEADER, "true"));
    }
    Ok(response.json(answer.body))
}

/// The answer to a call with an idempotency key: the body (the 200 body, or a stored error
/// body) with its status, and whether it is the stored answer of an earlier call.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

/// [`execute`] without HTTP: the same claim, run, store and replay, for every entry point
/// that takes idempotency keys (the execute route, MCP).
pub async fn run_once<F>(
    state: web::Data<AppState>,
    org: &str,
    connector_id: &str,
    key: &str,
    fingerprint: Fingerprint<'_>,
    run: F,
) -> ApiResult<Answer>
where
    F: std::future::Future<Output = Result<Value, ConnectorError>> + Send + 'static,
{
    validate_key(key)?;
    let slot = IdempotencySlot {
        organization_id: org.to_string(),
        connector_id: connector_id.to_string(),
        key_hash: hex::encode(Sha256::digest(key.as_bytes())),
    };
    let request_hash = fingerprint.hash();
    let deadline = tokio::time::Instant::now() + state.config.idempotency_wait;
    let mut run = Some(run);
    let store = &state.store;
    loop {
        let t = now();
        store.purge_idempotency_key(&slot, t).await?;
        let lease = t + LEASE_SECS;
        if store
            .claim_idempotency_key(&slot, &request_hash, t, lease, t + RETENTION_SECS)
            .await?
        {
            let run = run.take().expect("claimed once");
            return own(state, slot, lease, run).await;
        }
        match store.idempotency_entry(&slot).await? {
            None => continue, // released or expired between the two statements
            Some(seen) if seen.request_hash() != request_hash => return Err(reused()),
            Some(IdempotencyEntry::Done { response, .. }) => {
                return replay(&state, &slot, &response).await
            }
            Some(IdempotencyEntry::Pending { locked_until, .. }) => {
                // The owner vanished (its lease ended): one waiting request takes over.
                if locked_until < t
                    && store
                        .take_over_idempotency_key(&slot, locked_until, lease)
                        .await?
                {
                    let run = run.take().expect("claimed once");
                    return own(state, slot, lease, run).await;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(ApiError::from(
                        ConnectorError::new(
                            ErrorCode::Conflict,
                            "a request with this idempotency_key is still running; retry later with the same key to get its result",
                        )
                        .with_details(json!({"reason": "in_progress"})),
                    ));
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

fn reused() -> ApiError {
    ApiError::from(
        ConnectorError::new(
            ErrorCode::Conflict,
            "this idempotency_key was already used with another entity, action or params; use a new key for a new request",
        )
        .with_details(json!({"reason": "key_reused"})),
    )
}

/// Runs the request on its own task (so a client that hangs up does not leave the claim
/// unfinished), then stores or releases the key.
async fn own<F>(
    state: web::Data<AppState>,
    slot: IdempotencySlot,
    lease: i64,
    run: F,
) -> ApiResult<Answer>
where
    F: std::future::Future<Output = Result<Value, ConnectorError>> + Send + 'static,
{
    // `tokio::spawn`, not actix's local spawn: MCP calls arrive on tasks outside actix's
    // local set.
    let task = tokio::spawn(async move {
        let outcome = run.await;
        let stored = match &outcome {
            Ok(body) => Some((200u16, body.clone())),
            Err(e) if is_definitive(e.code) => Some((e.http_status(), e.to_body())),
            Err(_) => None,
        };
        let recorded = match stored {
            Some((status, body)) => record(&state, &slot, lease, status, &body).await,
            None => state
                .store
                .release_idempotency_key(&slot, lease)
                .await
                .map(|_| ())
                .map_err(ApiError::from),
        };
        if let Err(e) = recorded {
            // The answer still goes out; a retry will run again once the lease ends.
            tracing::error!(code = %e.0.code, "storing the idempotent answer failed");
        }
        outcome
    });
    match task.await {
        Ok(Ok(body)) => Ok(Answer {
            status: 200,
            body,
            replayed: false,
        }),
        Ok(Err(e)) => Err(ApiError::from(e)),
        Err(join) => Err(ApiError::internal(join)),
    }
}

/// Stores the answer sealed with the organization's data key (unless another request took the
/// claim over after this one's lease ended: its answer is the one kept).
async fn record(
    state: &AppState,
    slot: &IdempotencySlot,
    lease: i64,
    status: u16,
    body: &Value,
) -> ApiResult<()> {
    let plain =
        serde_json::to_vec(&json!({"status": status, "body": body})).map_err(ApiError::internal)?;
    let (blob, _key_id) = state.vault.encrypt(&slot.organization_id, &plain).await?;
    let kept = state
        .store
        .finish_idempotency_key(slot, lease, &blob, now() + RETENTION_SECS)
        .await?;
    if !kept {
        tracing::warn!("an idempotent request outlived its lease; the answer of the request that took it over is kept");
    }
    Ok(())
}

async fn replay(state: &AppState, slot: &IdempotencySlot, blob: &[u8]) -> ApiResult<Answer> {
    let plain = state.vault.decrypt(&slot.organization_id, blob).await?;
    let mut stored: Value = serde_json::from_slice(&plain).map_err(ApiError::internal)?;
    let status = stored["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| ApiError::internal("a stored idempotent answer has no status"))?;
    Ok(Answer {
        status,
        body: stored["body"].take(),
        replayed: true,
    })
}
