//! The context store (issue 23): connectors that opt in through `replication_config.enabled`
//! have their mailbox copied into the server's database and kept fresh by the mailbox events;
//! `messages.search` answers from that copy.
//!
//! - **Plan** ([`Plan`]): what a connector's `replication_config` asks (labels/folders, since,
//!   spam and trash, bodies, retention), checked when the connector is created or changed.
//! - **Worker** ([`worker`]): finds replicating connectors, runs their backfill page by page
//!   (the provider's page token is the checkpoint, written with the page: a killed backfill
//!   resumes where it stopped and upserts cannot double a row), applies the messages the
//!   events marked as changed, prunes what a narrower config or the retention leaves out.
//! - **Search** ([`search`]): one query model over SQLite FTS5 and PostgreSQL tsvector.
//!
//! The only hook in the events pipeline: each change a poll records marks the message in
//! `context_dirty`, in the events' own transaction ([`crate::store::events::EventTx::mark_context_dirty`]).

pub mod search;
pub mod worker;

use api_types::{Bodies, ReplicationConfig, ReplicationStatus};
use connector_core::replica::ReplicaScope;
use connector_core::ConnectorError;
use serde_json::Value;

use crate::store::context::SyncRow;
use crate::store::{ConnectorRow, Store};

pub use worker::{Context, ContextConfig, Worker};

/// What a connector's `replication_config` asks of the context store.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub config: ReplicationConfig,
    pub since_ms: Option<i64>,
}

const DAY_MS: i64 = 86_400_000;

impl Plan {
    /// Reads a stored or submitted `replication_config`; errors name the field.
    pub fn parse(value: &Value) -> Result<Plan, ConnectorError> {
        let config: ReplicationConfig = serde_json::from_value(value.clone()).map_err(|e| {
            ConnectorError::invalid_params(format!("`replication_config` does not read: {e}"))
        })?;
        let since_ms = config
            .since
            .as_deref()
            .map(|s| connector_core::search::time_ms(s, "replication_config.since"))
            .transpose()?;
        if config.retention_days == Some(0) {
            return Err(ConnectorError::invalid_params(
                "`replication_config.retention_days` must be at least 1 (or absent: keep everything)",
            ));
        }
        if config.labels.iter().any(|l| l.trim().is_empty()) {
            return Err(ConnectorError::invalid_params(
                "`replication_config.labels` must not hold empty names",
            ));
        }
        Ok(Plan { config, since_ms })
    }

    /// The plan of a connector when it replicates.
    pub fn of(row: &ConnectorRow) -> Option<Plan> {
        Plan::parse(&row.replication_config)
            .ok()
            .filter(|p| p.config.enabled)
    }

    /// The config as stored with the replica (a change restarts the backfill and prunes).
    pub fn canonical(&self) -> String {
        serde_json::to_string(&self.config).expect("a config serializes")
    }

    /// The oldest receive time kept now (since and retention).
    pub fn cutoff_ms(&self, now_ms: i64) -> Option<i64> {
        let retention = self
            .config
            .retention_days
            .map(|d| now_ms - i64::from(d) * DAY_MS);
        match (self.since_ms, retention) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn scope(&self, now_ms: i64) -> ReplicaScope {
        ReplicaScope {
            labels: self.config.labels.clone(),
            since_ms: self.cutoff_ms(now_ms),
            include_spam_trash: self.config.include_spam_and_trash,
            with_body: self.config.bodies == Bodies::Text,
        }
    }
}

/// The replication part of a connector's status.
pub async fn status(
    store: &Store,
    row: &ConnectorRow,
) -> Result<Option<ReplicationStatus>, ConnectorError> {
    if Plan::of(row).is_none() {
        return Ok(None);
    }
    let Some(sync) = store.context_sync(&row.id).await.map_err(db)? else {
        return Ok(Some(ReplicationStatus {
            state: crate::store::context::BACKFILLING.into(),
            messages: 0,
            backfilled: 0,
            last_error: None,
            backfill_finished_at: None,
            updated_at: ts(crate::store::events::now_ms()),
        }));
    };
    let messages = store.context_count(&row.id).await.map_err(db)?;
    Ok(Some(view(&sync, messages)))
}

fn view(sync: &SyncRow, messages: i64) -> ReplicationStatus {
    ReplicationStatus {
        state: sync.state.clone(),
        messages,
        backfilled: sync.backfilled,
        last_error: sync.last_error.clone(),
        backfill_finished_at: sync.backfill_finished_at.map(ts),
        updated_at: ts(sync.updated_at),
    }
}

fn ts(ms: i64) -> String {
    connector_core::search::rfc3339_ms(ms).unwrap_or_default()
}

pub(crate) fn db(e: sqlx::Error) -> ConnectorError {
    ConnectorError::internal("the database failed; try again").with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plan_reads_the_config_and_names_bad_fields() {
        let p = Plan::parse(&json!({"enabled": true, "since": "1970-01-03",
            "retention_days": 1, "bodies": "text"}))
        .unwrap();
        assert_eq!(p.since_ms, Some(2 * DAY_MS));
        // Retention is the later of the two cutoffs.
        assert_eq!(p.cutoff_ms(5 * DAY_MS), Some(4 * DAY_MS));
        assert_eq!(p.cutoff_ms(2 * DAY_MS), Some(2 * DAY_MS));
        assert!(p.scope(0).with_body);
        let e = Plan::parse(&json!({"enabled": true, "since": "soon"})).unwrap_err();
        assert!(
            e.message.contains("replication_config.since"),
            "{}",
            e.message
        );
        let e = Plan::parse(&json!({"bodies": "html"})).unwrap_err();
        assert!(e.message.contains("replication_config"), "{}", e.message);
        let e = Plan::parse(&json!({"retention_days": 0})).unwrap_err();
        assert!(e.message.contains("retention_days"), "{}", e.message);
    }
}
