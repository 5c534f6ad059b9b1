//! How every server on a database learns that application credentials changed (an application
//! revoked, a secret rotated, its tokens deleted) or a send policy changed, when another process
//! made the change: another replica, or the `connectors` CLI. With that signal a server keeps
//! verified bearer tokens ([`crate::services::Applications`]) and the policies in force
//! ([`Store::policy_of`]) in memory instead of asking the database on every request.
//!
//! - PostgreSQL: the change is followed by `NOTIFY` on [`CHANNEL`]; every server `LISTEN`s
//!   with one connection ([`Store::spawn_change_listener`]) and moves its generation of changes
//!   on with each notification; both caches follow that generation ([`Store::changes_seen`]),
//!   so one notification ends the cached tokens and the cached policies alike.
//! - SQLite file: one server per data directory (`serve.lock`), so the only other writer is the
//!   CLI, which replaces a marker file beside the database after a change
//!   (`<database>.auth-changed`); before it trusts its cache the server reads the inotify
//!   events of the marker's directory ([`MarkerWatch`]: one non-blocking `read`, no path walk),
//!   or, where that watch cannot be had, compares the marker ([`Store::auth_marker`]: the
//!   file's modification time and inode, one `stat`). Either way a change is seen by the first
//!   lookup after the CLI's rename returned: the kernel queues the event inside the rename.
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

/// The SQLite marker's changes as the kernel reports them: an inotify watch on the marker's
/// directory for the events that replace, write, touch or remove a file, read without blocking.
/// Linux queues the event before the `rename` (or `write`, `utime`, `unlink`) that causes it
/// returns, so [`MarkerWatch::changed`] after the CLI's change is `true`, exactly as comparing
/// the marker's `stat` would be, at the price of one `read` that finds nothing instead of a
/// path walk and a `statx` per lookup.
#[cfg(target_os = "linux")]
pub struct MarkerWatch {
    fd: rustix::fd::OwnedFd,
    name: std::ffi::CString,
}

#[cfg(target_os = "linux")]
impl MarkerWatch {
    /// Watches the directory of the marker at `path` (which need not exist yet).
    pub fn new(path: &Path) -> std::io::Result<MarkerWatch> {
        use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
        use std::os::unix::ffi::OsStrExt;
        let name = path
            .file_name()
            .ok_or_else(|| std::io::Error::other("the marker path has no file name"))?;
        let name = std::ffi::CString::new(name.as_bytes()).map_err(std::io::Error::other)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
        inotify::add_watch(
            &fd,
            dir,
            WatchFlags::MOVED_TO
                | WatchFlags::MOVED_FROM
                | WatchFlags::CREATE
                | WatchFlags::DELETE
                | WatchFlags::CLOSE_WRITE
                | WatchFlags::MODIFY
                | WatchFlags::ATTRIB
                | WatchFlags::DELETE_SELF
                | WatchFlags::MOVE_SELF
                | WatchFlags::ONLYDIR,
        )?;
        Ok(MarkerWatch { fd, name })
    }

    /// Whether the marker changed since the last call (its events are consumed). An error
    /// means the watch no longer sees the marker's directory (it was moved or deleted, the
    /// watch was dropped): the caller must stop relying on it. A lost-events overflow counts
    /// as a change.
    pub fn changed(&self) -> std::io::Result<bool> {
        use rustix::fs::inotify::{ReadFlags, Reader};
        use rustix::io::Errno;
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1024];
        let mut events = Reader::new(&self.fd, &mut buf);
        let mut changed = false;
        loop {
            match events.next() {
                Ok(e) => {
                    let flags = e.events();
                    if flags.intersects(
                        ReadFlags::IGNORED
                            | ReadFlags::DELETE_SELF
                            | ReadFlags::MOVE_SELF
                            | ReadFlags::UNMOUNT,
                    ) {
                        return Err(std::io::Error::other(
                            "the marker's directory is no longer watched",
                        ));
                    }
                    changed |= flags.contains(ReadFlags::QUEUE_OVERFLOW)
                        || e.file_name() == Some(self.name.as_c_str());
                }
                Err(Errno::AGAIN) => return Ok(changed),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Elsewhere the marker is compared by `stat` ([`Store::auth_marker`]).
#[cfg(not(target_os = "linux"))]
pub struct MarkerWatch;

#[cfg(not(target_os = "linux"))]
impl MarkerWatch {
    pub fn new(_: &Path) -> std::io::Result<MarkerWatch> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    pub fn changed(&self) -> std::io::Result<bool> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

/// What this process has learnt of announced changes: a generation that moves on with each
/// (one per notification, per new marker, per change made here). A value cached under one
/// generation is good while it is still the current one ([`Store::changes_seen`]).
#[derive(Default)]
pub(crate) struct Watch {
    generation: AtomicU64,
    /// PostgreSQL: a listener is connected now ([`Store::spawn_change_listener`]).
    listening: AtomicBool,
    /// SQLite: how the marker is checked.
    marker: Mutex<MarkerCheck>,
}

/// The SQLite marker's check: its inotify watch once made (at the first look), else its `stat`
/// as last seen.
#[derive(Default)]
struct MarkerCheck {
    started: bool,
    watch: Option<MarkerWatch>,
    seen: Marker,
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
    /// SQLite this reads the marker's inotify events (one non-blocking `read`; one `stat`
    /// where there is no watch).
    pub(crate) fn changes_seen(&self) -> Option<u64> {
        let watch = &self.watch;
        match &self.auth_signal {
            Signal::Notify { .. } => {
                if !watch.listening.load(Ordering::SeqCst) {
                    return None;
                }
            }
            Signal::Marker { path } => {
                // Held across the check and the bump: a caller that finds no new event must
                // not go on while another has consumed the event and not yet bumped.
                let mut check = watch
                    .marker
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if !check.started {
                    // Watch first, then look: a change between the two is seen twice.
                    check.started = true;
                    check.watch = MarkerWatch::new(path).ok();
                }
                let changed = match &check.watch {
                    Some(w) => match w.changed() {
                        Ok(changed) => changed,
                        Err(e) => {
                            tracing::warn!(error = %e, "the change marker is no longer watched; it is compared by stat");
                            check.watch = None;
                            check.seen = self.auth_marker();
                            true
                        }
                    },
                    None => {
                        let now = self.auth_marker();
                        let changed = check.seen != now;
                        check.seen = now;
                        changed
                    }
                };
                if changed {
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
                        tracing::warn!(error = %e, "cannot listen for changes; policies and tokens are read from the database meanwhile");
                    }
                    None => return,
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }))
    }

    /// Whether the SQLite marker is watched (rather than compared by `stat` on each look).
    #[cfg(test)]
    pub(crate) fn watches_marker(&self) -> bool {
        self.watch
            .marker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .watch
            .is_some()
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
    /// caller makes a new one. One per process: [`Store::spawn_change_listener`]'s.
    async fn auth_listener(&self) -> Option<Result<PgListener, sqlx::Error>> {
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_watch_reports_each_change_of_the_marker_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let marker = data.join("t.db.auth-changed");
        let watch = MarkerWatch::new(&marker).unwrap();
        assert!(!watch.changed().unwrap(), "nothing happened yet");
        // The database's own files change all the time: not a credential change.
        std::fs::write(data.join("t.db-wal"), b"pages").unwrap();
        std::fs::write(data.join("t.db.auth-changed.tmp"), b"x").unwrap();
        assert!(!watch.changed().unwrap());
        // The CLI's announcement: a new file renamed over the marker.
        std::fs::rename(data.join("t.db.auth-changed.tmp"), &marker).unwrap();
        assert!(
            watch.changed().unwrap(),
            "seen as soon as the rename returned"
        );
        assert!(!watch.changed().unwrap(), "each change is reported once");
        // Written in place, or removed: changes too.
        std::fs::write(&marker, b"again").unwrap();
        assert!(watch.changed().unwrap());
        std::fs::remove_file(&marker).unwrap();
        assert!(watch.changed().unwrap());
        // The directory moved away: the watch can no longer answer for the path.
        std::fs::rename(&data, dir.path().join("aside")).unwrap();
        assert!(watch.changed().is_err());
    }
}
