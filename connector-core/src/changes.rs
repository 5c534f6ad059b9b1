//! Mailbox changes, as every provider reports them: the provider-neutral input of the server's
//! events (issue 20).
//!
//! A provider crate that can tell what changed in a mailbox (Gmail `history.list`, Graph message
//! `delta`) implements [`MailChanges`] over its own actions and names it in its descriptor
//! ([`crate::ProviderDescriptor::changes`]). The server keeps the cursor, decides which change
//! is news (it remembers each message's [`MailChange::version`], so a duplicate or a replay of
//! a change it already saw produces nothing) and turns news into events.

use async_trait::async_trait;
use serde_json::Value;

use crate::replica::Replica;
use crate::{Connector, Output, Result};

/// Runs one of the connector's own actions (the connector itself, or the server's runtime with
/// its stored credentials and refresh lock).
#[async_trait]
pub trait Actions: Send + Sync {
    async fn run(&self, entity: &str, action: &str, params: Value) -> Result<Output>;
}

#[async_trait]
impl Actions for Connector {
    async fn run(&self, entity: &str, action: &str, params: Value) -> Result<Output> {
        self.execute(entity, action, params).await
    }
}

/// How a provider reports mailbox changes.
#[async_trait]
pub trait MailChanges: Send + Sync + std::fmt::Debug {
    /// Changes after `cursor`. Without a cursor: a [`PageKind::Baseline`] page, the cursor of
    /// "now" (and the messages a listing provider already has). A cursor the provider no longer
    /// honours (Gmail 404, Graph 410) is not an error: the answer is a [`PageKind::Resync`]
    /// page listing the mailbox as it is now. `more` is true when the caller should read again
    /// at once (a long backlog).
    async fn read(&self, api: &dyn Actions, cursor: Option<&str>) -> Result<ChangePage>;

    /// The summaries (from, subject, snippet; the text body when `with_body`) of messages, in
    /// the order of `ids`; a message that is gone has `None`.
    async fn summaries(
        &self,
        api: &dyn Actions,
        ids: &[String],
        with_body: bool,
    ) -> Result<Vec<Option<MessageSummary>>>;

    /// Starts the provider's push for the mailbox, when it has one the server can use with this
    /// `target` (Gmail: a Pub/Sub topic; Graph: the notification URL). The default: no push.
    async fn start_push(&self, api: &dyn Actions, target: &PushTarget) -> Result<Option<Push>> {
        let _ = (api, target);
        Ok(None)
    }

    /// Renews the push subscription `id` made by [`MailChanges::start_push`] (Graph: a new
    /// expiration). When the provider no longer has it, a new one is started: the answer's
    /// `id` then differs from `id`. The default starts anew (Gmail's `watch` is renewed by
    /// calling it again).
    async fn renew_push(
        &self,
        api: &dyn Actions,
        target: &PushTarget,
        id: &str,
    ) -> Result<Option<Push>> {
        let _ = id;
        self.start_push(api, target).await
    }

    /// Context store: how the provider copies the mailbox ([`Replica`]). The default: this
    /// provider cannot replicate.
    fn replica(&self) -> Option<&dyn Replica> {
        None
    }

    /// Calendar events (`event.created/updated/deleted`): how the server follows the account's
    /// primary calendar through the connector's `events.sync`, when the type has calendars.
    /// The default: no calendar.
    fn calendar(&self) -> Option<CalendarFollow> {
        None
    }
}

/// How a connector type's calendar is followed (see [`read_calendar`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarFollow {
    /// The window of a first (or re-)sync, in days before and after now, for a provider whose
    /// sync follows a window (Graph's `calendarView/delta`); `None`: the whole calendar
    /// (Google's `events.list` with `syncToken`).
    pub window_days: Option<(i64, i64)>,
}

/// One read of calendar changes.
#[derive(Debug, Clone, Default)]
pub struct CalendarPage {
    pub kind: PageKind,
    pub changes: Vec<CalendarChange>,
    /// Where to read from next time.
    pub cursor: String,
    /// Read again at once.
    pub more: bool,
}

/// One change to one calendar event (an instance, for a recurring series).
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarChange {
    /// [`ChangeKind::Present`] (it is there, as `event`) or [`ChangeKind::Deleted`].
    pub kind: ChangeKind,
    pub event_id: String,
    /// A digest of the event's record: two reads with the same version are one state.
    pub version: Option<String>,
    /// The connector's record (the shared calendar shape); for a deletion, what the provider
    /// still said (often only id and status).
    pub event: Value,
}

/// Pages read at most per call of [`read_calendar`] (the rest at once after, `more`).
const CALENDAR_PAGES: usize = 40;

/// Reads the primary calendar's changes through the connector's `events.sync`, after `cursor`
/// (`None`: a baseline, the calendar as it is, not news). An expired sync token
/// (`sync_required`) becomes a [`PageKind::Resync`] listing. The cursor is the next call's
/// params as JSON, with the kind of read it continues.
pub async fn read_calendar(
    api: &dyn Actions,
    follow: CalendarFollow,
    cursor: Option<&str>,
) -> Result<CalendarPage> {
    let first = || {
        let mut p = serde_json::json!({"calendar_id": "primary", "max_results": 250});
        if let Some((back, ahead)) = follow.window_days {
            let now = chrono::Utc::now();
            let at = |d: chrono::DateTime<chrono::Utc>| {
                d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            p["time_min"] = at(now - chrono::Duration::days(back)).into();
            p["time_max"] = at(now + chrono::Duration::days(ahead)).into();
        }
        p
    };
    let (mut kind, mut params, mut whole) = match cursor {
        None => (PageKind::Baseline, first(), true),
        Some(c) => {
            let saved: Value = serde_json::from_str(c)
                .map_err(|_| crate::ConnectorError::internal("unreadable calendar cursor"))?;
            let kind = match saved["k"].as_str() {
                Some("b") => PageKind::Baseline,
                Some("r") => PageKind::Resync { complete: false },
                _ => PageKind::Incremental,
            };
            (kind, saved["p"].clone(), false)
        }
    };
    let mut changes = Vec::new();
    let mut pages = 0;
    loop {
        let out = match api.run("events", "sync", params.clone()).await {
            Ok(out) => out,
            Err(e)
                if e.code == crate::ErrorCode::SyncRequired
                    && kind == PageKind::Incremental
                    && pages == 0 =>
            {
                kind = PageKind::Resync { complete: true };
                params = first();
                whole = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        pages += 1;
        for record in out.result.as_array().into_iter().flatten() {
            let Some(id) = record.get("id").and_then(Value::as_str) else {
                continue;
            };
            let cancelled = record.get("status").and_then(Value::as_str) == Some("cancelled");
            changes.push(CalendarChange {
                kind: if cancelled {
                    ChangeKind::Deleted
                } else {
                    ChangeKind::Present
                },
                event_id: id.to_string(),
                version: (!cancelled).then(|| record_version(record)),
                event: record.clone(),
            });
        }
        let meta = |k: &str| {
            out.metadata
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if let Some(page) = meta("next_page_token") {
            let mut next = params.clone();
            if let Some(o) = next.as_object_mut() {
                o.insert("page_token".into(), page.into());
            }
            params = next;
            if pages >= CALENDAR_PAGES {
                if let PageKind::Resync { .. } = kind {
                    kind = PageKind::Resync { complete: false };
                }
                let k = match kind {
                    PageKind::Baseline => "b",
                    PageKind::Resync { .. } => "r",
                    PageKind::Incremental => "i",
                };
                let cursor = serde_json::json!({"k": k, "p": params}).to_string();
                return Ok(CalendarPage {
                    kind,
                    changes,
                    cursor,
                    more: true,
                });
            }
            continue;
        }
        let Some(token) = meta("next_sync_token") else {
            return Err(crate::ConnectorError::internal(
                "events.sync ended without a next_sync_token",
            ));
        };
        if let PageKind::Resync { .. } = kind {
            kind = PageKind::Resync { complete: whole };
        }
        let next =
            serde_json::json!({"calendar_id": "primary", "max_results": 250, "sync_token": token});
        return Ok(CalendarPage {
            kind,
            changes,
            cursor: serde_json::json!({"k": "i", "p": next}).to_string(),
            more: false,
        });
    }
}

/// A digest of a calendar record (its state as events care: any field).
fn record_version(record: &Value) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(record.to_string().as_bytes());
    hex::encode(&digest[..12])
}

/// What a push subscription points at.
#[derive(Debug, Clone, Default)]
pub struct PushTarget {
    /// Gmail: `projects/P/topics/T`.
    pub topic: Option<String>,
    /// Graph: the notification URL (and the lifecycle URL) with the clientState secret of a
    /// new subscription.
    pub notification_url: Option<String>,
    pub lifecycle_url: Option<String>,
    pub client_state: Option<String>,
}

/// A started push subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// What the provider's notifications name it by (Graph: the subscription id; Gmail: the
    /// mailbox address).
    pub id: Option<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
}

/// One read of changes.
#[derive(Debug, Clone, Default)]
pub struct ChangePage {
    pub kind: PageKind,
    pub changes: Vec<MailChange>,
    /// Where to read from next time.
    pub cursor: String,
    /// Read again at once.
    pub more: bool,
}

/// What a page is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PageKind {
    /// Changes since the cursor.
    #[default]
    Incremental,
    /// The first read: remember these messages, they are not news.
    Baseline,
    /// The cursor had expired: the mailbox as it is now. Unknown messages are new, known ones
    /// whose version moved changed; with `complete`, known messages that are absent were
    /// deleted.
    Resync { complete: bool },
}

/// One change to one message.
#[derive(Debug, Clone, PartialEq)]
pub struct MailChange {
    pub kind: ChangeKind,
    pub message_id: String,
    pub thread_id: Option<String>,
    /// Gmail label ids; Outlook: the folder, then the categories.
    pub labels: Vec<String>,
    /// The message's state as far as events care (labels, read state, folder): two changes with
    /// the same version are one. `None` when the provider does not say (a deletion).
    pub version: Option<String>,
    /// The message is one the user sent.
    pub sent: bool,
    /// When the provider gave it along.
    pub summary: Option<MessageSummary>,
}

/// What happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The provider says it is new.
    Added,
    /// The provider says it changed.
    Changed,
    Deleted,
    /// It is there (a listing, or a delta entry that does not say new or changed): new if the
    /// server does not know it, changed if its version moved.
    Present,
}

/// The short form of a message that an event carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageSummary {
    /// `Name <address>` or the bare address.
    pub from: Option<String>,
    pub subject: Option<String>,
    pub snippet: Option<String>,
    /// Only when asked for.
    pub body_text: Option<String>,
}

impl MessageSummary {
    /// From a connector's message record (`from: {name, email}`, `subject`, `snippet`, `text`).
    pub fn from_record(v: &Value, with_body: bool) -> MessageSummary {
        let from = v.get("from").and_then(|f| {
            let email = f.get("email").and_then(Value::as_str)?;
            Some(match f.get("name").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => format!("{n} <{email}>"),
                _ => email.to_string(),
            })
        });
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        MessageSummary {
            from,
            subject: text("subject"),
            snippet: text("snippet").map(|s| truncate(&s, 200)),
            body_text: if with_body { text("text") } else { None },
        }
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `events.sync` of a calendar holding `events`: two records a page; token `t-old`
    /// expired.
    struct FakeCalendar {
        events: Vec<Value>,
        calls: std::sync::Mutex<Vec<Value>>,
    }

    #[async_trait]
    impl Actions for FakeCalendar {
        async fn run(&self, entity: &str, action: &str, params: Value) -> Result<Output> {
            assert_eq!((entity, action), ("events", "sync"));
            self.calls.lock().unwrap().push(params.clone());
            if params["sync_token"] == "t-old" && params.get("page_token").is_none() {
                return Err(crate::ConnectorError::new(
                    crate::ErrorCode::SyncRequired,
                    "expired",
                ));
            }
            let at: usize = params["page_token"]
                .as_str()
                .map_or(0, |p| p.parse().unwrap());
            let page: Vec<Value> = self.events.iter().skip(at).take(2).cloned().collect();
            let out = Output::new(Value::Array(page));
            Ok(if at + 2 < self.events.len() {
                out.with_meta("next_page_token", (at + 2).to_string())
            } else {
                out.with_meta("next_sync_token", "t-new")
            })
        }
    }

    #[tokio::test]
    async fn a_calendar_is_read_page_by_page_and_an_expired_token_is_a_complete_resync() {
        let cal = FakeCalendar {
            events: vec![
                json!({"id": "a", "status": "confirmed", "summary": "A"}),
                json!({"id": "b", "status": "cancelled"}),
                json!({"id": "c", "status": "confirmed", "summary": "C"}),
            ],
            calls: Default::default(),
        };
        let graph = CalendarFollow {
            window_days: Some((30, 365)),
        };
        let base = read_calendar(&cal, graph, None).await.unwrap();
        assert_eq!(base.kind, PageKind::Baseline);
        assert!(!base.more);
        let kinds: Vec<_> = base
            .changes
            .iter()
            .map(|c| (c.event_id.as_str(), c.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("a", ChangeKind::Present),
                ("b", ChangeKind::Deleted),
                ("c", ChangeKind::Present)
            ]
        );
        assert!(base.changes[0].version.is_some() && base.changes[1].version.is_none());
        let first = cal.calls.lock().unwrap()[0].clone();
        assert!(first["time_min"].is_string() && first["time_max"].is_string());
        let second = cal.calls.lock().unwrap()[1].clone();
        assert_eq!(second["page_token"], "2");
        assert_eq!(
            second["time_min"], first["time_min"],
            "the same window on every page"
        );
        let next: Value = serde_json::from_str(&base.cursor).unwrap();
        assert_eq!(next["p"]["sync_token"], "t-new");

        // Same record, same version; another record, another.
        let again = read_calendar(&cal, graph, Some(&base.cursor))
            .await
            .unwrap();
        assert_eq!(again.kind, PageKind::Incremental);
        assert_eq!(again.changes[0].version, base.changes[0].version);
        assert_ne!(again.changes[0].version, again.changes[2].version);

        let expired = json!({"k": "i", "p": {"calendar_id": "primary", "sync_token": "t-old"}});
        let resync = read_calendar(&cal, graph, Some(&expired.to_string()))
            .await
            .unwrap();
        assert_eq!(resync.kind, PageKind::Resync { complete: true });
        assert_eq!(resync.changes.len(), 3);

        let google = CalendarFollow { window_days: None };
        read_calendar(&cal, google, None).await.unwrap();
        let last = cal.calls.lock().unwrap().last().unwrap().clone();
        assert!(
            last.get("time_min").is_none(),
            "Google follows the whole calendar"
        );
    }

    #[test]
    fn a_summary_reads_the_connectors_record_and_keeps_the_body_only_when_asked() {
        let rec = json!({"from": {"name": "Ada", "email": "ada@example.com"},
            "subject": "Hi", "snippet": "x".repeat(300), "text": "body"});
        let s = MessageSummary::from_record(&rec, false);
        assert_eq!(s.from.as_deref(), Some("Ada <ada@example.com>"));
        assert_eq!(s.subject.as_deref(), Some("Hi"));
        assert_eq!(s.snippet.unwrap().chars().count(), 200);
        assert_eq!(s.body_text, None);
        let s = MessageSummary::from_record(&rec, true);
        assert_eq!(s.body_text.as_deref(), Some("body"));
        let bare = MessageSummary::from_record(&json!({"from": {"email": "b@x"}}), false);
        assert_eq!(bare.from.as_deref(), Some("b@x"));
    }
}
