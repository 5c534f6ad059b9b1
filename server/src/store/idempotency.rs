//! Idempotency keys of execute (the protocol is in `crate::idempotency`). Every step that
//! requests race for is one statement: the claim is an `INSERT ... ON CONFLICT DO NOTHING`, a
//! takeover and the owner's writes are compare-and-set `UPDATE`/`DELETE`s on the lease, so
//! replicas on one PostgreSQL database agree on one owner.

use sqlx::Row;

use super::Store;

/// A key's identity: organization, connector and the SHA-256 hex of the caller's key.
#[derive(Debug, Clone)]
pub struct IdempotencySlot {
    pub organization_id: String,
    pub connector_id: String,
    pub key_hash: String,
}

/// A key as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyEntry {
    /// Answered: `response` is the sealed answer.
    Done {
        request_hash: String,
        response: Vec<u8>,
    },
    /// Claimed by a request that runs (or ran and vanished) until `locked_until`.
    Pending {
        request_hash: String,
        locked_until: i64,
    },
}

impl IdempotencyEntry {
    pub fn request_hash(&self) -> &str {
        match self {
            IdempotencyEntry::Done { request_hash, .. }
            | IdempotencyEntry::Pending { request_hash, .. } => request_hash,
        }
    }
}

impl Store {
    /// Deletes the key if its retention ended before `t`.
    pub async fn purge_idempotency_key(
        &self,
        slot: &IdempotencySlot,
        t: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE organization_id = $1 AND connector_id = $2 \
             AND key_hash = $3 AND expires_at < $4",
        )
        .bind(&slot.organization_id)
        .bind(&slot.connector_id)
        .bind(&slot.key_hash)
        .bind(t)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// Claims the key (pending until `locked_until`, kept until `expires_at`); true for the one
    /// caller that inserted it. Also deletes every key whose retention ended before `t`.
    pub async fn claim_idempotency_key(
        &self,
        slot: &IdempotencySlot,
        request_hash: &str,
        t: i64,
        locked_until: i64,
        expires_at: i64,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM idempotency_keys WHERE expires_at < $1")
            .bind(t)
            .execute(&self.pool)
            .await?;
        let done = sqlx::query(
            "INSERT INTO idempotency_keys (organization_id, connector_id, key_hash, \
             request_hash, state, response, locked_until, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', NULL, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&slot.organization_id)
        .bind(&slot.connector_id)
        .bind(&slot.key_hash)
        .bind(request_hash)
        .bind(locked_until)
        .bind(expires_at)
        .bind(t)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes over a pending claim whose lease `old_locked_until` ended; true for the one caller
    /// that moved the lease to `locked_until`.
    pub async fn take_over_idempotency_key(
        &self,
        slot: &IdempotencySlot,
        old_locked_until: i64,
        locked_until: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE idempotency_keys SET locked_until = $1 WHERE organization_id = $2 \
             AND connector_id = $3 AND key_hash = $4 AND state = 'pending' AND locked_until = $5",
        )
        .bind(locked_until)
        .bind(&slot.organization_id)
        .bind(&slot.connector_id)
        .bind(&slot.key_hash)
        .bind(old_locked_until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn idempotency_entry(
        &self,
        slot: &IdempotencySlot,
    ) -> Result<Option<IdempotencyEntry>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT request_hash, state, response, locked_until FROM idempotency_keys \
             WHERE organization_id = $1 AND connector_id = $2 AND key_hash = $3",
        )
        .bind(&slot.organization_id)
        .bind(&slot.connector_id)
        .bind(&slot.key_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let request_hash: String = row.try_get("request_hash")?;
        let state: String = row.try_get("state")?;
        let response: Option<Vec<u8>> = row.try_get("response")?;
        Ok(Some(match (state.as_str(), response) {
            ("done", Some(response)) => IdempotencyEntry::Done {
                request_hash,
                response,
            },
            _ => IdempotencyEntry::Pending {
                request_hash,
                locked_until: row.try_get("locked_until")?,
            },
        }))
    }

    /// Stores the answer of the claim holding the lease `locked_until`; false (nothing
    /// written) when another request took the claim over meanwhile.
    pub async fn finish_idempotency_key(
        &self,
        slot: &IdempotencySlot,
        locked_until: i64,
        response: &[u8],
        expires_at: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', response = $1, expires_at = $2 \
             WHERE organization_id = $3 AND connector_id = $4 AND key_hash = $5 \
             AND state = 'pending' AND locked_until = $6",
        )
        .bind(response)
        .bind(expires_at)
        .bind(&slot.organization_id)
        .bind(&slot.connector_id)
        .bind(&slot.key_hash)
        .bind(locked_until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives up the claim holding the lease `locked_until` (a retry runs again); false when
    /// another request took it over meanwhile.
    pub async fn release_idempotency_key(
        &self,
        slot: &IdempotencySlot,
        locked_until: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "DELETE FROM idempotency_keys WHERE organization_id = $1 AND connector_id = $2 \
             AND key_hash = $3 AND state = 'pending' AND locked_until = $4",
        )
        .bind(&slot.organization_id)
        .bind(&slot.connector_id)
        .bind(&slot.key_hash)
        .bind(locked_until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
