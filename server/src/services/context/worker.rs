//! The context store's background work: discovering replicating connectors, running their
//! backfills and applying the changes the mailbox events marked.
//!
//! Work is claimed per connector with a lease in `context_sync` (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), so any replica may run it and one that dies hands it over when its lease runs
//! out. A backfill page and its checkpoint are written in one transaction while the lease is
//! held; a change mark is cleared only if no newer mark came in while it was applied.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::changes::Actions;
use connector_core::replica::{self, Replica, ReplicaMessage, ReplicaScope};
use connector_core::{ConnectorError, Output};
use serde_json::Value;
use tokio::sync::Notify;

use super::{db, Plan};
use crate::registry::Registry;
use crate::runtime::{ExecuteCall, Runtime};
use crate::store::context::{SyncRow, LIVE};
use crate::store::events::now_ms;
use crate::store::{ConnectorRow, Store};

/// Woken when there may be new work (a config changed, a change was marked).
pub(crate) static WAKE: Notify = Notify::const_new();

/// Settings of the worker.
#[derive(Debug, Clone)]
pub struct ContextConfig {
    /// How often the loop looks for due work (and at once when woken).
    pub tick: Duration,
    /// How often replicating connectors are looked for (configs, deletions, retention).
    pub discover_every: Duration,
    /// How long a claim lasts without progress.
    pub lease: Duration,
    /// After a failure, the next try.
    pub retry: Duration,
    /// Backfill pages per claim (then other connectors get a turn).
    pub pages_per_claim: usize,
    /// Start a backfill only once the connector's events have their first cursor (changes
    /// from then on are marked for the store; earlier ones are in what the backfill reads).
    /// Off when the server does not poll.
    pub wait_for_events: bool,
}

impl Default for ContextConfig {
    fn default() -> ContextConfig {
        ContextConfig {
            tick: Duration::from_millis(250),
            discover_every: Duration::from_secs(5),
            lease: Duration::from_secs(120),
            retry: Duration::from_secs(30),
            pages_per_claim: 20,
            wait_for_events: true,
        }
    }
}

/// The context store service (one per server).
pub struct Context {
    store: Store,
    registry: Arc<Registry>,
    runtime: Arc<Runtime>,
    config: ContextConfig,
    owner: String,
}

/// The loop; dropping it stops it.
pub struct Worker(tokio::task::JoinHandle<()>);

impl Drop for Worker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct RowActions<'a> {
    runtime: &'a Runtime,
    row: &'a ConnectorRow,
}

#[async_trait]
impl Actions for RowActions<'_> {
    async fn run(
        &self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> connector_core::Result<Output> {
        self.runtime
            .execute(
                self.row,
                ExecuteCall {
                    entity: entity.into(),
                    action: action.into(),
                    params,
                    idempotency_key: None,
                },
            )
            .await
    }
}

impl Context {
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        runtime: Arc<Runtime>,
        config: ContextConfig,
    ) -> Context {
        Context {
            store,
            registry,
            runtime,
            config,
            owner: format!("ctx-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Starts the loop.
    pub fn spawn(self: &Arc<Self>) -> Worker {
        let me = self.clone();
        Worker(tokio::spawn(async move { me.run().await }))
    }

    async fn run(&self) {
        let mut discovered = tokio::time::Instant::now() - self.config.discover_every;
        loop {
            let woken = WAKE.notified();
            if discovered.elapsed() >= self.config.discover_every {
                if let Err(e) = self.discover().await {
                    tracing::error!(error = %e, "context store: looking for replicating connectors failed");
                }
                discovered = tokio::time::Instant::now();
            }
            match self.work_once().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "context store: a round failed"),
            }
            let _ = tokio::time::timeout(self.config.tick, woken).await;
        }
    }

    /// Brings the replication rows in line with the connectors' configs: starts new ones,
    /// restarts changed ones, drops those turned off or deleted, applies retention.
    pub async fn discover(&self) -> Result<(), ConnectorError> {
        let candidates = self.store.context_candidates().await.map_err(db)?;
        let syncs = self.store.context_syncs().await.map_err(db)?;
        let mut wanted = std::collections::HashSet::new();
        for (id, org, kind, config) in candidates {
            let Ok(value) = serde_json::from_str::<Value>(&config) else {
                continue;
            };
            let Ok(plan) = Plan::parse(&value) else {
                continue;
            };
            let replicable = self
                .registry
                .get(&kind)
                .is_some_and(|t| t.descriptor.changes.is_some());
            if !plan.config.enabled || !replicable {
                continue;
            }
            wanted.insert(id.clone());
            let canonical = plan.canonical();
            let sync = syncs.iter().find(|s| s.connector_id == id);
            if sync.is_none_or(|s| s.config != canonical) {
                self.store
                    .context_start(&id, &org, &canonical)
                    .await
                    .map_err(db)?;
                tracing::info!(connector_id = %id, "context store: replication (re)started");
                WAKE.notify_waiters();
            }
            if let Some(cutoff) = plan.cutoff_ms(now_ms()) {
                self.store.context_expire(&id, cutoff).await.map_err(db)?;
            }
        }
        for s in syncs.iter().filter(|s| !wanted.contains(&s.connector_id)) {
            self.store.context_drop(&s.connector_id).await.map_err(db)?;
            tracing::info!(connector_id = %s.connector_id, "context store: replica removed");
        }
        self.store.context_orphans().await.map_err(db)?;
        Ok(())
    }

    /// Claims due replications and works on them; how many were claimed.
    pub async fn work_once(&self) -> Result<usize, ConnectorError> {
        let until = now_ms() + self.config.lease.as_millis() as i64;
        let claims = self
            .store
            .context_claim(&self.owner, until, 8)
            .await
            .map_err(db)?;
        let n = claims.len();
        futures::future::join_all(claims.into_iter().map(|c| self.work(c))).await;
        Ok(n)
    }

    async fn work(&self, sync: SyncRow) {
        let result = self.work_inner(&sync).await;
        let (error, at) = match &result {
            Ok(None) => (None, 0),
            Ok(Some(later)) => (None, now_ms() + later.as_millis() as i64),
            Err(e) => {
                tracing::warn!(connector_id = %sync.connector_id, code = %e.code, "context store: replication failed; will try again");
                (
                    Some(e.message.clone()),
                    now_ms() + self.config.retry.as_millis() as i64,
                )
            }
        };
        if let Err(e) = self
            .store
            .context_release(&sync.connector_id, &self.owner, error.as_deref(), at)
            .await
        {
            tracing::error!(connector_id = %sync.connector_id, error = %e, "context store: releasing a claim failed; its lease runs out");
        }
    }

    /// Works on one replication; `Some(wait)` to look again after a while.
    async fn work_inner(&self, sync: &SyncRow) -> Result<Option<Duration>, ConnectorError> {
        let Some(row) = self
            .store
            .get_connector(&sync.organization_id, &sync.connector_id)
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let Some(plan) = Plan::of(&row) else {
            return Ok(None);
        };
        if plan.canonical() != sync.config {
            // Changed since the claim: discovery restarts it.
            return Ok(None);
        }
        let fresh = sync.state != LIVE && sync.checkpoint.is_none();
        if fresh
            && self.config.wait_for_events
            && self
                .store
                .stream_cursor(&row.id)
                .await
                .map_err(db)?
                .is_none()
        {
            return Ok(Some(self.config.tick.max(Duration::from_millis(200))));
        }
        let source = replica::of(
            self.registry
                .get(&row.connector_type)
                .and_then(|t| t.descriptor.changes),
        )?;
        let api = RowActions {
            runtime: &self.runtime,
            row: &row,
        };
        let scope = plan.scope(now_ms());
        let label_ids = match &sync.folders {
            Some(f) => ids_of(f),
            None => {
                // A fresh start: resolve the labels, prune what the config no longer covers.
                let resolved = source.labels(&api, &scope).await?;
                let text = serde_json::to_string(&resolved).expect("serializes");
                self.store
                    .context_set_folders(&row.id, &text)
                    .await
                    .map_err(db)?;
                let ids = ids_of(&text);
                self.prune(&row, source, &scope, &ids).await?;
                ids
            }
        };
        if sync.state != LIVE {
            let mut checkpoint = sync.checkpoint.clone();
            for _ in 0..self.config.pages_per_claim {
                let page = source.page(&api, &scope, checkpoint.as_deref()).await?;
                let keep: Vec<ReplicaMessage> = page
                    .messages
                    .into_iter()
                    .filter(|m| source.in_scope(m, &scope, &label_ids))
                    .collect();
                let held = self
                    .store
                    .context_backfill_page(&row.id, &self.owner, &keep, page.next.as_deref())
                    .await
                    .map_err(db)?;
                if !held {
                    tracing::warn!(connector_id = %row.id, "context store: claim lost during the backfill");
                    return Ok(None);
                }
                checkpoint = page.next;
                if checkpoint.is_none() {
                    tracing::info!(connector_id = %row.id, "context store: backfill complete");
                    break;
                }
            }
        }
        self.apply_marked(&row, source, &api, &scope, &label_ids)
            .await?;
        Ok(None)
    }

    /// Re-reads the messages the events marked and applies them (upsert, or removal when gone
    /// or out of scope).
    async fn apply_marked(
        &self,
        row: &ConnectorRow,
        source: &dyn Replica,
        api: &dyn Actions,
        scope: &ReplicaScope,
        label_ids: &[String],
    ) -> Result<(), ConnectorError> {
        loop {
            let marks = self.store.context_dirty(&row.id, 100).await.map_err(db)?;
            if marks.is_empty() {
                return Ok(());
            }
            let ids: Vec<String> = marks.iter().map(|(id, _)| id.clone()).collect();
            let got = source.get(api, &ids, scope.with_body).await?;
            let mut upserts = Vec::new();
            let mut removals = Vec::new();
            for (id, m) in ids.iter().zip(got) {
                match m {
                    Some(m) if source.in_scope(&m, scope, label_ids) => upserts.push(m),
                    _ => removals.push(id.clone()),
                }
            }
            self.store
                .context_apply(&row.id, &upserts, &removals, &marks)
                .await
                .map_err(db)?;
            if marks.len() < 100 {
                return Ok(());
            }
        }
    }

    /// After a config change: removes stored messages the new scope leaves out, and the
    /// bodies when it no longer asks for them.
    async fn prune(
        &self,
        row: &ConnectorRow,
        source: &dyn Replica,
        scope: &ReplicaScope,
        label_ids: &[String],
    ) -> Result<(), ConnectorError> {
        let rows = self.store.context_scope_rows(&row.id).await.map_err(db)?;
        let out: Vec<String> = rows
            .into_iter()
            .filter(|(_, labels, date)| {
                let m = ReplicaMessage {
                    labels: labels.clone(),
                    received_ms: *date,
                    ..Default::default()
                };
                !source.in_scope(&m, scope, label_ids)
            })
            .map(|(id, _, _)| id)
            .collect();
        if !out.is_empty() {
            self.store
                .context_apply(&row.id, &[], &out, &[])
                .await
                .map_err(db)?;
            tracing::info!(connector_id = %row.id, removed = out.len(), "context store: pruned after a config change");
        }
        if !scope.with_body {
            self.store.context_drop_bodies(&row.id).await.map_err(db)?;
        }
        Ok(())
    }
}

/// The ids of a stored `[[configured, id], ...]`.
pub(crate) fn ids_of(folders: &str) -> Vec<String> {
    serde_json::from_str::<Vec<(String, String)>>(folders)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, id)| id)
        .collect()
}
