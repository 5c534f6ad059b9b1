//! The context store's tables (issue 23): replicated messages with full-text search, the
//! replication state of each connector, and the messages the events marked as changed.
//!
//! One query model over both backends: the same filters become the same SQL except for the
//! full-text part (SQLite: the FTS5 table `context_fts` with `bm25` and `snippet`;
//! PostgreSQL: the `fts` tsvector with `ts_rank` and `ts_headline`). Writes are upserts on
//! `(connector_id, message_id)`, so applying a message twice leaves one row.

use connector_core::replica::ReplicaMessage;
use sqlx::Row as _;

use super::events::now_ms;
use super::{Backend, Store};

/// A connector's replication (a row of `context_sync`).
#[derive(Debug, Clone)]
pub struct SyncRow {
    pub connector_id: String,
    pub organization_id: String,
    /// The replication_config (JSON) the stored data follows.
    pub config: String,
    /// `backfilling`, `live` or `failed`.
    pub state: String,
    pub checkpoint: Option<String>,
    pub backfilled: i64,
    pub last_error: Option<String>,
    /// `[[configured, id], ...]` of the scope's labels/folders (JSON).
    pub folders: Option<String>,
    pub backfill_finished_at: Option<i64>,
    pub updated_at: i64,
}

pub const BACKFILLING: &str = "backfilling";
pub const LIVE: &str = "live";
pub const FAILED: &str = "failed";

const SYNC_COLUMNS: &str = "connector_id, organization_id, config, state, checkpoint, \
    backfilled, last_error, folders, backfill_finished_at, updated_at";

fn sync_row(r: &super::Row) -> SyncRow {
    SyncRow {
        connector_id: r.get("connector_id"),
        organization_id: r.get("organization_id"),
        config: r.get("config"),
        state: r.get("state"),
        checkpoint: r.get("checkpoint"),
        backfilled: r.get("backfilled"),
        last_error: r.get("last_error"),
        folders: r.get("folders"),
        backfill_finished_at: r.get("backfill_finished_at"),
        updated_at: r.get("updated_at"),
    }
}

/// A search, in the store's terms.
#[derive(Debug, Clone, Default)]
pub struct StoreQuery {
    /// Free-text words (alphanumeric, lowercased).
    pub words: Vec<String>,
    /// Lowercased substrings of the from / to / cc text and of the subject.
    pub from: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub subject: Option<String>,
    /// The message carries this label (provider id).
    pub label: Option<String>,
    /// Left out unless named by `label`.
    pub hidden: Vec<String>,
    pub is_read: Option<bool>,
    pub has_attachments: Option<bool>,
    pub after_ms: Option<i64>,
    pub before_ms: Option<i64>,
    pub thread_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
    /// How many of the newest text matches are ranked ([`RANK_WINDOW`] when `None`).
    pub rank_window: Option<i64>,
}

/// One hit of a store search.
#[derive(Debug, Clone)]
pub struct StoreHit {
    pub message_id: String,
    pub thread_id: Option<String>,
    pub subject: Option<String>,
    pub from_name: Option<String>,
    pub from_email: Option<String>,
    pub date_ms: i64,
    pub labels: Vec<String>,
    pub is_read: bool,
    pub has_attachments: bool,
    pub snippet: Option<String>,
    /// The matching words in context (text searches).
    pub highlight: Option<String>,
}

fn like(s: &str) -> String {
    let escaped = s
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn labels_text(labels: &[String]) -> String {
    format!(" {} ", labels.join(" "))
}

/// A parameter of a query being built.
#[derive(Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

#[derive(Clone)]
struct Sql {
    sql: String,
    args: Vec<Arg>,
}

impl Sql {
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

impl Store {
    /// Every connector's replication row.
    pub async fn context_syncs(&self) -> Result<Vec<SyncRow>, sqlx::Error> {
        let rows = sqlx::query(&format!("SELECT {SYNC_COLUMNS} FROM context_sync"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(sync_row).collect())
    }

    /// Connectors whose replication_config turns replication on: `(id, organization, type,
    /// config)`.
    pub async fn context_candidates(
        &self,
    ) -> Result<Vec<(String, String, String, String)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, organization_id, connector_type, replication_config FROM connectors \
             WHERE replication_config LIKE '%\"enabled\":true%'",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get("id"),
                    r.get("organization_id"),
                    r.get("connector_type"),
                    r.get("replication_config"),
                )
            })
            .collect())
    }

    /// Removes change marks of connectors that no longer replicate.
    pub async fn context_orphans(&self) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "DELETE FROM context_dirty WHERE connector_id NOT IN \
             (SELECT connector_id FROM context_sync)",
        )
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    pub async fn context_sync(&self, connector_id: &str) -> Result<Option<SyncRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {SYNC_COLUMNS} FROM context_sync WHERE connector_id = $1"
        ))
        .bind(connector_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(sync_row))
    }

    /// Starts (or restarts, under a new config) a connector's replication: the backfill begins
    /// again from the start; rows already stored stay (the backfill upserts them).
    pub async fn context_start(
        &self,
        connector_id: &str,
        organization_id: &str,
        config: &str,
    ) -> Result<(), sqlx::Error> {
        let t = now_ms();
        sqlx::query(
            "INSERT INTO context_sync (connector_id, organization_id, config, state, checkpoint, \
             backfilled, last_error, folders, backfill_finished_at, lease_owner, lease_until_ms, \
             updated_at) VALUES ($1, $2, $3, $4, NULL, 0, NULL, NULL, NULL, NULL, 0, $5) \
             ON CONFLICT (connector_id) DO UPDATE SET config = $3, state = $4, checkpoint = NULL, \
             backfilled = 0, last_error = NULL, folders = NULL, backfill_finished_at = NULL, \
             updated_at = $5",
        )
        .bind(connector_id)
        .bind(organization_id)
        .bind(config)
        .bind(BACKFILLING)
        .bind(t)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// Removes a connector's replica: its messages, marks and replication row.
    pub async fn context_drop(&self, connector_id: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for table in ["context_messages", "context_dirty", "context_sync"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE connector_id = $1"))
                .bind(connector_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// Claims up to `limit` replications with work (a backfill to run, or marked messages) for
    /// `owner` until `until_ms`.
    pub async fn context_claim(
        &self,
        owner: &str,
        until_ms: i64,
        limit: i64,
    ) -> Result<Vec<SyncRow>, sqlx::Error> {
        let t = now_ms();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "UPDATE context_sync SET lease_owner = $1, lease_until_ms = $2 WHERE connector_id IN \
             (SELECT connector_id FROM context_sync s WHERE s.lease_until_ms < $3 AND \
             (s.state <> $4 OR EXISTS (SELECT 1 FROM context_dirty d \
             WHERE d.connector_id = s.connector_id)) ORDER BY s.updated_at LIMIT $5{lock}) \
             RETURNING {SYNC_COLUMNS}"
        ))
        .bind(owner)
        .bind(until_ms)
        .bind(t)
        .bind(LIVE)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(sync_row).collect())
    }

    /// Ends a claim; with `error`, records it (the work is tried again after `retry_at_ms`).
    pub async fn context_release(
        &self,
        connector_id: &str,
        owner: &str,
        error: Option<&str>,
        retry_at_ms: i64,
    ) -> Result<(), sqlx::Error> {
        let q = match error {
            Some(e) => sqlx::query(
                "UPDATE context_sync SET lease_owner = NULL, lease_until_ms = $3, \
                 last_error = $4, state = CASE WHEN state = 'live' THEN state ELSE 'failed' END, \
                 updated_at = $5 WHERE connector_id = $1 AND lease_owner = $2",
            )
            .bind(connector_id)
            .bind(owner)
            .bind(retry_at_ms)
            .bind(e),
            None => sqlx::query(
                "UPDATE context_sync SET lease_owner = NULL, lease_until_ms = $3, \
                 last_error = NULL, state = CASE WHEN state = 'failed' THEN 'backfilling' \
                 ELSE state END, updated_at = $4 WHERE connector_id = $1 AND lease_owner = $2",
            )
            .bind(connector_id)
            .bind(owner)
            .bind(retry_at_ms),
        };
        q.bind(now_ms()).execute(&self.pool).await.map(|_| ())
    }

    /// Stores the label/folder ids the scope resolved to.
    pub async fn context_set_folders(
        &self,
        connector_id: &str,
        folders: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE context_sync SET folders = $1 WHERE connector_id = $2")
            .bind(folders)
            .bind(connector_id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Writes one backfill page and its checkpoint in one transaction, while `owner` holds the
    /// claim (false: the claim was lost and nothing was written). `next: None` ends the
    /// backfill.
    pub async fn context_backfill_page(
        &self,
        connector_id: &str,
        owner: &str,
        messages: &[ReplicaMessage],
        next: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let t = now_ms();
        let (state, finished) = match next {
            Some(_) => (BACKFILLING, None),
            None => (LIVE, Some(t)),
        };
        let held = sqlx::query(
            "UPDATE context_sync SET checkpoint = $1, backfilled = backfilled + $2, state = $3, \
             backfill_finished_at = COALESCE($4, backfill_finished_at), last_error = NULL, \
             updated_at = $5 WHERE connector_id = $6 AND lease_owner = $7",
        )
        .bind(next)
        .bind(messages.len() as i64)
        .bind(state)
        .bind(finished)
        .bind(t)
        .bind(connector_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if held == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for m in messages {
            upsert(&mut tx, connector_id, m).await?;
        }
        tx.commit().await?;
        if next.is_none() && self.backend == Backend::Postgres {
            // A backfill can write most of the table at once: fresh statistics let the
            // planner tell rare words (GIN index) from common ones (newest-first walk) now,
            // not when autovacuum gets to it.
            sqlx::query("ANALYZE context_messages")
                .execute(&self.pool)
                .await?;
        }
        Ok(true)
    }

    /// Up to `limit` messages marked as changed, with their mark counts.
    pub async fn context_dirty(
        &self,
        connector_id: &str,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT message_id, n FROM context_dirty WHERE connector_id = $1 \
             ORDER BY message_id LIMIT $2",
        )
        .bind(connector_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("message_id"), r.get("n")))
            .collect())
    }

    /// Applies re-read messages (upserts and removals) and clears the marks read (a mark that
    /// came in since stays), in one transaction.
    pub async fn context_apply(
        &self,
        connector_id: &str,
        upserts: &[ReplicaMessage],
        removals: &[String],
        marks: &[(String, i64)],
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for m in upserts {
            upsert(&mut tx, connector_id, m).await?;
        }
        for id in removals {
            sqlx::query("DELETE FROM context_messages WHERE connector_id = $1 AND message_id = $2")
                .bind(connector_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for (id, n) in marks {
            sqlx::query(
                "DELETE FROM context_dirty WHERE connector_id = $1 AND message_id = $2 AND n = $3",
            )
            .bind(connector_id)
            .bind(id)
            .bind(*n)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Every stored message's id, labels and date (to prune after a narrower config).
    pub async fn context_scope_rows(
        &self,
        connector_id: &str,
    ) -> Result<Vec<(String, Vec<String>, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT message_id, labels, date_ms FROM context_messages WHERE connector_id = $1",
        )
        .bind(connector_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let labels: String = r.get("labels");
                (
                    r.get("message_id"),
                    labels.split_whitespace().map(str::to_string).collect(),
                    r.get("date_ms"),
                )
            })
            .collect())
    }

    /// Drops stored bodies (the config no longer asks for them).
    pub async fn context_drop_bodies(&self, connector_id: &str) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE context_messages SET body_text = NULL \
             WHERE connector_id = $1 AND body_text IS NOT NULL",
        )
        .bind(connector_id)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Removes messages received before `before_ms` (retention).
    pub async fn context_expire(
        &self,
        connector_id: &str,
        before_ms: i64,
    ) -> Result<u64, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM context_messages WHERE connector_id = $1 AND date_ms < $2")
                .bind(connector_id)
                .bind(before_ms)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// How many messages the store holds for a connector.
    pub async fn context_count(&self, connector_id: &str) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM context_messages WHERE connector_id = $1")
            .bind(connector_id)
            .fetch_one(&self.pool)
            .await
            .map(|r| r.get("n"))
    }

    /// Searches a connector's replica: without words, newest first; with words, the newest
    /// [`RANK_WINDOW`] matches ranked by relevance (then newest first), then every further
    /// match newest first (docs/context-store.md, "Ranking").
    pub async fn context_search(
        &self,
        connector_id: &str,
        q: &StoreQuery,
    ) -> Result<Vec<StoreHit>, sqlx::Error> {
        let f = filters(connector_id, q);
        let words: Vec<&String> = q.words.iter().filter(|w| !w.is_empty()).collect();
        if words.is_empty() {
            let mut s = f.sql.clone();
            let (l, o) = (s.arg(Arg::Int(q.limit)), s.arg(Arg::Int(q.offset)));
            // A thread holds a handful of messages: read them by the thread index. Without
            // statistics SQLite walks the date index instead to spare the sort, every message
            // of the connector (90 ms at 100,000 messages, docs/benchmarks.md).
            let table = match (self.backend, &q.thread_id) {
                (Backend::Sqlite, Some(_)) => {
                    "context_messages m INDEXED BY context_messages_thread"
                }
                _ => "context_messages m",
            };
            s.sql = format!(
                "SELECT {COLS}, NULL AS highlight FROM {table} WHERE {} \
                 ORDER BY m.date_ms DESC, m.message_id LIMIT {l} OFFSET {o}",
                f.conds
            );
            let rows = s.query().fetch_all(&self.pool).await?;
            return Ok(rows.iter().map(hit).collect());
        }
        let text = match self.backend {
            Backend::Sqlite => words
                .iter()
                .map(|w| format!("\"{}\"", w.replace('"', "")))
                .collect::<Vec<_>>()
                .join(" "),
            Backend::Postgres => words
                .iter()
                .map(|w| {
                    w.chars()
                        .filter(|c| c.is_alphanumeric())
                        .collect::<String>()
                })
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" & "),
        };
        let plan = match self.backend {
            Backend::Postgres => Plan::Postgres,
            Backend::Sqlite if self.fts_matches_many(&text).await? => Plan::SqliteNewestFirst,
            Backend::Sqlite => Plan::SqliteIndexFirst,
        };
        let window = q.rank_window.unwrap_or(RANK_WINDOW).max(0);
        let (offset, end) = (q.offset, q.offset + q.limit);
        let mut rids = Vec::new();
        if offset < window {
            let mut s = f.sql.clone();
            let m = s.arg(Arg::Text(text.clone()));
            let (w, l, o) = (
                s.arg(Arg::Int(window)),
                s.arg(Arg::Int(end.min(window) - offset)),
                s.arg(Arg::Int(offset)),
            );
            let matches = plan.matches(&f.conds, &m);
            s.sql = match plan {
                Plan::Postgres => format!(
                    "SELECT c.rid FROM ({matches} LIMIT {w}) c \
                     ORDER BY ts_rank(c.fts, to_tsquery('simple', {m})) DESC, c.date_ms DESC, \
                     c.message_id LIMIT {l} OFFSET {o}"
                ),
                // bm25 over the candidates only: one pass over the word's index entries
                // between the candidates' smallest and largest row id (the newest messages
                // sit together: the backfill writes them in date order, events append).
                _ => format!(
                    "WITH cand AS MATERIALIZED ({matches} LIMIT {w}), \
                     f AS MATERIALIZED (SELECT rowid AS rid, \
                     bm25(context_fts, 4.0, 2.0, 1.0, 1.0) AS r FROM context_fts \
                     WHERE context_fts MATCH {m} AND rowid BETWEEN (SELECT min(rid) FROM cand) \
                     AND (SELECT max(rid) FROM cand) AND +rowid IN (SELECT rid FROM cand)) \
                     SELECT c.rid FROM f JOIN cand c ON c.rid = f.rid \
                     ORDER BY f.r, c.date_ms DESC, c.message_id LIMIT {l} OFFSET {o}"
                ),
            };
            let rows = s.query().fetch_all(&self.pool).await?;
            rids.extend(rows.iter().map(|r| r.get::<i64, _>("rid")));
        }
        let from = offset.max(window);
        if end > from {
            let mut s = f.sql.clone();
            let m = s.arg(Arg::Text(text.clone()));
            let (l, o) = (s.arg(Arg::Int(end - from)), s.arg(Arg::Int(from)));
            s.sql = format!(
                "SELECT d.rid FROM ({} LIMIT {l} OFFSET {o}) d \
                 ORDER BY d.date_ms DESC, d.message_id",
                plan.matches(&f.conds, &m)
            );
            let rows = s.query().fetch_all(&self.pool).await?;
            rids.extend(rows.iter().map(|r| r.get::<i64, _>("rid")));
        }
        self.decorate(&rids, &text).await
    }

    /// Whether more than [`FTS_FIRST_MAX`] rows (of every connector) match `text`: a count
    /// that stops there, so it costs little even for a word in every message.
    async fn fts_matches_many(&self, text: &str) -> Result<bool, sqlx::Error> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM context_fts WHERE context_fts MATCH $1 \
             LIMIT $2)",
        )
        .bind(text)
        .bind(FTS_FIRST_MAX + 1)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > FTS_FIRST_MAX)
    }

    /// The rows of a page (in the order given) with their highlights, computed for these rows
    /// only.
    async fn decorate(&self, rids: &[i64], text: &str) -> Result<Vec<StoreHit>, sqlx::Error> {
        if rids.is_empty() {
            return Ok(Vec::new());
        }
        let list = rids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let sql = match self.backend {
            Backend::Sqlite => format!(
                "SELECT {COLS}, m.rid, snippet(context_fts, -1, '**', '**', '…', 12) AS highlight \
                 FROM context_fts CROSS JOIN context_messages m ON m.rid = context_fts.rowid \
                 WHERE context_fts MATCH $1 AND context_fts.rowid IN ({list})"
            ),
            Backend::Postgres => format!(
                "SELECT {COLS}, m.rid, ts_headline('simple', coalesce(m.body_text, m.snippet, \
                 m.subject, ''), to_tsquery('simple', $1), \
                 'StartSel=**, StopSel=**, MaxWords=18, MinWords=6') AS highlight \
                 FROM context_messages m WHERE m.rid IN ({list})"
            ),
        };
        let rows = sqlx::query(&sql).bind(text).fetch_all(&self.pool).await?;
        let mut by_rid: std::collections::HashMap<i64, StoreHit> = rows
            .iter()
            .map(|r| (r.get::<i64, _>("rid"), hit(r)))
            .collect();
        Ok(rids.iter().filter_map(|r| by_rid.remove(r)).collect())
    }
}

/// How many of a text search's newest matches are ranked by relevance; later matches follow
/// newest first. Ranking is what costs: a word in most of a mailbox would otherwise be scored
/// in every message before the first page (and there its weight is near zero anyway: FTS5's
/// bm25 floors the weight of a word in more than half the rows).
pub const RANK_WINDOW: i64 = 200;

/// SQLite: text matched by at most this many rows is searched through the full-text index
/// first; more common text by walking the connector's newest messages.
const FTS_FIRST_MAX: i64 = 5_000;

const COLS: &str = "m.message_id, m.thread_id, m.subject, m.from_name, m.from_email, \
    m.date_ms, m.labels, m.is_read, m.has_attachments, m.snippet";

/// How a text search finds its matches.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// One SQL; the planner picks the GIN index or the date index from the statistics.
    Postgres,
    /// FTS5 first, then the messages (rare words).
    SqliteIndexFirst,
    /// The date index first, each row tested against the word's index entries (common words).
    SqliteNewestFirst,
}

impl Plan {
    /// Every match (`rid`, `date_ms`, `message_id`, and `fts` on PostgreSQL), newest first;
    /// `m` names the text parameter.
    fn matches(self, conds: &str, m: &str) -> String {
        match self {
            Plan::Postgres => format!(
                "SELECT m.rid, m.date_ms, m.message_id, m.fts FROM context_messages m \
                 WHERE m.fts @@ to_tsquery('simple', {m}) AND {conds} \
                 ORDER BY m.date_ms DESC, m.message_id"
            ),
            Plan::SqliteIndexFirst => format!(
                "SELECT m.rid, m.date_ms, m.message_id FROM context_fts \
                 CROSS JOIN context_messages m ON m.rid = context_fts.rowid \
                 WHERE context_fts MATCH {m} AND {conds} ORDER BY m.date_ms DESC, m.message_id"
            ),
            // `+` keeps SQLite from driving the search by the (large) set of matching rows.
            Plan::SqliteNewestFirst => format!(
                "SELECT m.rid, m.date_ms, m.message_id FROM context_messages m WHERE {conds} \
                 AND +m.rid IN (SELECT rowid FROM context_fts WHERE context_fts MATCH {m}) \
                 ORDER BY m.date_ms DESC, m.message_id"
            ),
        }
    }
}

/// The filters of a search as SQL conditions over `m` (context_messages) and their arguments.
struct Filters {
    sql: Sql,
    conds: String,
}

fn filters(connector_id: &str, q: &StoreQuery) -> Filters {
    let mut s = Sql {
        sql: String::new(),
        args: Vec::new(),
    };
    let mut conds: Vec<String> = Vec::new();
    let c = s.arg(Arg::Text(connector_id.to_string()));
    conds.push(format!("m.connector_id = {c}"));
    for (col, v) in [
        ("m.from_text", &q.from),
        ("m.to_text", &q.to),
        ("m.cc_text", &q.cc),
        ("lower(m.subject)", &q.subject),
    ] {
        if let Some(v) = v {
            let p = s.arg(Arg::Text(like(v)));
            conds.push(format!("{col} LIKE {p} ESCAPE '\\'"));
        }
    }
    match &q.label {
        Some(l) => {
            let p = s.arg(Arg::Text(like_label(l)));
            conds.push(format!("m.labels LIKE {p} ESCAPE '\\'"));
        }
        None => {
            for h in &q.hidden {
                let p = s.arg(Arg::Text(like_label(h)));
                conds.push(format!("m.labels NOT LIKE {p} ESCAPE '\\'"));
            }
        }
    }
    if let Some(r) = q.is_read {
        let p = s.arg(Arg::Int(i64::from(r)));
        conds.push(format!("m.is_read = {p}"));
    }
    if let Some(a) = q.has_attachments {
        let p = s.arg(Arg::Int(i64::from(a)));
        conds.push(format!("m.has_attachments = {p}"));
    }
    if let Some(a) = q.after_ms {
        let p = s.arg(Arg::Int(a));
        conds.push(format!("m.date_ms >= {p}"));
    }
    if let Some(b) = q.before_ms {
        let p = s.arg(Arg::Int(b));
        conds.push(format!("m.date_ms < {p}"));
    }
    if let Some(t) = &q.thread_id {
        let p = s.arg(Arg::Text(t.clone()));
        conds.push(format!("m.thread_id = {p}"));
    }
    Filters {
        sql: s,
        conds: conds.join(" AND "),
    }
}

fn hit(r: &super::Row) -> StoreHit {
    let labels: String = r.get("labels");
    StoreHit {
        message_id: r.get("message_id"),
        thread_id: r.get("thread_id"),
        subject: r.get("subject"),
        from_name: r.get("from_name"),
        from_email: r.get("from_email"),
        date_ms: r.get("date_ms"),
        labels: labels.split_whitespace().map(str::to_string).collect(),
        is_read: r.get::<i64, _>("is_read") != 0,
        has_attachments: r.get::<i64, _>("has_attachments") != 0,
        snippet: r.get("snippet"),
        highlight: r.get("highlight"),
    }
}

fn like_label(l: &str) -> String {
    format!(
        "% {} %",
        l.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

async fn upsert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    connector_id: &str,
    m: &ReplicaMessage,
) -> Result<(), sqlx::Error> {
    let from_text = match (&m.from_name, &m.from_email) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (None, Some(e)) => e.clone(),
        (Some(n), None) => n.clone(),
        (None, None) => String::new(),
    }
    .to_lowercase();
    let attachments = (!m.attachments.is_empty()).then(|| {
        serde_json::to_string(
            &m.attachments
                .iter()
                .map(|(n, s)| serde_json::json!({"filename": n, "size": s}))
                .collect::<Vec<_>>(),
        )
        .expect("serializes")
    });
    sqlx::query(
        "INSERT INTO context_messages (connector_id, message_id, thread_id, subject, from_name, \
         from_email, from_text, to_text, cc_text, date_ms, labels, is_read, has_attachments, \
         attachments, snippet, body_text, size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (connector_id, message_id) DO UPDATE SET \
         thread_id = $3, subject = $4, from_name = $5, from_email = $6, from_text = $7, \
         to_text = $8, cc_text = $9, date_ms = $10, labels = $11, is_read = $12, \
         has_attachments = $13, attachments = $14, snippet = $15, body_text = $16, size = $17",
    )
    .bind(connector_id)
    .bind(&m.id)
    .bind(&m.thread_id)
    .bind(&m.subject)
    .bind(&m.from_name)
    .bind(&m.from_email)
    .bind(from_text)
    .bind(m.to.join(", ").to_lowercase())
    .bind(m.cc.join(", ").to_lowercase())
    .bind(m.received_ms)
    .bind(labels_text(&m.labels))
    .bind(i64::from(m.is_read))
    .bind(i64::from(m.has_attachments))
    .bind(attachments)
    .bind(&m.snippet)
    .bind(&m.body_text)
    .bind(m.size)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like("50%_Off"), "%50\\%\\_off%");
        assert_eq!(like_label("Label_1"), "% Label\\_1 %");
    }
}
