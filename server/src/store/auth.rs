//! How every server on a database learns that application credentials changed (an application
//! revoked, a secret rotated, its tokens deleted) or a send policy changed, when another process
//! made the change: another replica, or the `connectors` CLI. With that signal a server keeps
//! verified bearer tokens ([`crate::services::Applications`]) and the policies in force
//! ([`Store::policy_of`]) in memory instead of asking the database on every request.
//!
//! - PostgreSQL: the change is followed by `NOTIFY` on [`CHANNEL`]; every server `LISTEN`s
//!   ([`Store::auth_listener`]) and drops its cached tokens on each notification.
//! - SQLite file: one server per data directory (`serve.lock`), so the only other writer is the
//!   CLI, which replaces a marker file beside the database after a change
//!   (`<database>.auth-changed`); the server compares the marker ([`Store::auth_marker`]: the
//!   file's modification time and inode, one `stat`) before it trusts its cache.
//! - In-memory SQLite: one process, nobody to tell.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use sqlx::postgres::PgListener;
use sqlx::sqlite::SqliteConnectOptions;

use super::{Backend, Store};

/// The PostgreSQL notification channel of credential changes.
pub const CHANNEL: &str = "agent_connectors_auth";

/// Where a change is announced.
#[derive(Clone)]
pub(crate) enum Signal {
    /// PostgreSQL: the database URL, to `LISTEN` with a connection of its own.
    Notify { url: Arc<str> },
    /// A SQLite file: the marker file beside it.
    Marker { path: Arc<Path> },
    /// In-memory SQLite.
    None,
}

impl Signal {
    pub(crate) fn of(backend: Backend, database_url: &str) -> anyhow::Result<Signal> {
        Ok(match backend {
            Backend::Postgres => Signal::Notify {
                url: database_url.into(),
            },
            Backend::Sqlite => {
                let base = database_url.split('?').next().unwrap_or(database_url);
                let memory = matches!(base, "sqlite::memory:" | "sqlite://:memory:")
                    || database_url.contains("mode=memory");
                if memory {
                    Signal::None
                } else {
                    let options = SqliteConnectOptions::from_str(database_url)
                        .context("parsing the database URL (--database-url)")?;
                    let mut marker = options.get_filename().as_os_str().to_owned();
                    marker.push(".auth-changed");
                    Signal::Marker {
                        path: PathBuf::from(marker).into(),
                    }
                }
            }
        })
    }
}

/// The state of the SQLite marker: modification time and inode (a new file each change).
pub type Marker = Option<(SystemTime, u64)>;

/// What this process has learnt of announced changes: a generation that moves on with each
/// (one per notification, per new marker, per change made here). A value cached under one
/// generation is good while it is still the current one ([`Store::changes_seen`]).
#[derive(Default)]
pub(crate) struct Watch {
    generation: AtomicU64,
    /// PostgreSQL: a listener is connected now ([`Store::spawn_change_listener`]).
    listening: AtomicBool,
    /// SQLite: the marker as last seen.
    marker: Mutex<Marker>,
}

impl Store {
    /// Tells the other processes on this database that application credentials changed. Call
    /// once the change is committed.
    pub async fn auth_changed(&self) -> Result<(), sqlx::Error> {
        match &self.auth_signal {
            Signal::Notify { .. } => sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&self.pool)
                .await
                .map(|_| ()),
            Signal::Marker { path } => {
                // A new file each time (written aside, then renamed over the marker): its inode
                // changes even when the clock's granularity would not move the time.
                let path = path.to_path_buf();
                tokio::task::spawn_blocking(move || {
                    let mut tmp = path.clone().into_os_string();
                    tmp.push(format!(".{}", uuid::Uuid::new_v4().simple()));
                    std::fs::write(&tmp, b"application credentials changed\n")?;
                    std::fs::rename(&tmp, &path)
                })
                .await
                .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
                .map_err(sqlx::Error::Io)
            }
            Signal::None => Ok(()),
        }
    }

    /// The generation of changes this process knows of, when it learns of changes now; `None`
    /// while it cannot (PostgreSQL without a listener): caches must not be trusted then. On
    /// SQLite this compares the marker (one `stat`).
    pub(crate) fn changes_seen(&self) -> Option<u64> {
        let watch = &self.watch;
        match &self.auth_signal {
            Signal::Notify { .. } => {
                if !watch.listening.load(Ordering::SeqCst) {
                    return None;
                }
            }
            Signal::Marker { .. } => {
                let now = self.auth_marker();
                let mut seen = watch
                    .marker
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if *seen != now {
                    *seen = now;
                    watch.generation.fetch_add(1, Ordering::SeqCst);
                }
            }
            Signal::None => {}
        }
        Some(watch.generation.load(Ordering::SeqCst))
    }

    /// A change made by this process: what was cached before it is stale here at once.
    pub(crate) fn changed_here(&self) {
        self.watch.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// PostgreSQL: listens for announced changes, moving the generation on with each, and
    /// reconnects when the connection is lost ([`Store::changes_seen`] is `None` until it
    /// listens again). `None` on SQLite, where the marker is compared instead.
    pub fn spawn_change_listener(&self) -> Option<tokio::task::JoinHandle<()>> {
        if !self.auth_notifies() {
            return None;
        }
        let store = self.clone();
        Some(tokio::spawn(async move {
            let watch = &store.watch;
            let mut wait = Duration::from_millis(200);
            loop {
                match store.auth_listener().await {
                    Some(Ok(mut listener)) => {
                        // Whatever changed while nobody listened is unknown: a new generation.
                        watch.generation.fetch_add(1, Ordering::SeqCst);
                        watch.listening.store(true, Ordering::SeqCst);
                        wait = Duration::from_millis(200);
                        loop {
                            match listener.try_recv().await {
                                Ok(Some(_)) => {
                                    watch.generation.fetch_add(1, Ordering::SeqCst);
                                }
                                Ok(None) => break,
                                Err(e) => {
                                    tracing::warn!(error = %e, "change listener failed");
                                    break;
                                }
                            }
                        }
                        watch.listening.store(false, Ordering::SeqCst);
                        watch.generation.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "cannot listen for changes; policies are read from the database meanwhile");
                    }
                    None => return,
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }))
    }

    /// The SQLite marker as it is now (`None` without a marker file, and on PostgreSQL).
    pub fn auth_marker(&self) -> Marker {
        use std::os::unix::fs::MetadataExt;
        let Signal::Marker { path } = &self.auth_signal else {
            return None;
        };
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.ino()))
    }

    /// Whether changes made by other processes reach this one through [`Store::auth_listener`]
    /// (PostgreSQL) rather than [`Store::auth_marker`].
    pub fn auth_notifies(&self) -> bool {
        matches!(self.auth_signal, Signal::Notify { .. })
    }

    /// A connection that `LISTEN`s on [`CHANNEL`] (PostgreSQL); `None` on SQLite. It does not
    /// reconnect by itself: `try_recv` answers `Ok(None)` when the connection is lost, and the
    /// caller makes a new one.
    pub async fn auth_listener(&self) -> Option<Result<PgListener, sqlx::Error>> {
        let Signal::Notify { url } = &self.auth_signal else {
            return None;
        };
        Some(
            async {
                let mut listener = PgListener::connect(url).await?;
                listener.eager_reconnect(false);
                listener.listen(CHANNEL).await?;
                Ok(listener)
            }
            .await,
        )
    }
}
