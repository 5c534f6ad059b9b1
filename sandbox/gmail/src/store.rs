//! The emulator's state: users, messages (raw RFC 822 + lazily parsed), threads, labels, drafts,
//! history and settings. All mutations go through [`User`] so history and counts follow.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::mime::{self, Envelope, Index, Parsed};

/// Gmail's system labels, in the order labels.list returns them.
pub(crate) const SYSTEM_LABELS: &[&str] = &[
    "CHAT",
    "SENT",
    "INBOX",
    "IMPORTANT",
    "TRASH",
    "DRAFT",
    "SPAM",
    "CATEGORY_FORUMS",
    "CATEGORY_UPDATES",
    "CATEGORY_PERSONAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_SOCIAL",
    "STARRED",
    "UNREAD",
];

/// Labels a client may not add or remove with modify.
const FIXED_LABELS: &[&str] = &["DRAFT", "SENT", "CHAT"];

pub(crate) struct Msg {
    pub id: String,
    pub thread_id: String,
    pub labels: Vec<String>,
    pub raw: Bytes,
    pub internal_date: i64,
    pub history_id: u64,
    parsed: OnceLock<Arc<Parsed>>,
    index: OnceLock<Arc<Index>>,
}

impl Msg {
    /// The rendering view (payload tree, headers, attachments), parsed on first use.
    pub fn parsed(&self) -> &Arc<Parsed> {
        self.parsed
            .get_or_init(|| Arc::new(mime::parse(&self.id, &self.raw)))
    }

    /// Search fields and snippet, parsed on first use unless the seed provided them.
    pub fn index(&self) -> &Arc<Index> {
        self.index.get_or_init(|| Arc::new(mime::index(&self.raw)))
    }

    pub fn has(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }
}

#[derive(Clone)]
pub(crate) struct UserLabel {
    pub id: String,
    pub name: String,
    pub message_list_visibility: Option<String>,
    pub label_list_visibility: Option<String>,
    pub color: Option<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Change {
    Added,
    Deleted,
    LabelsAdded(Vec<String>),
    LabelsRemoved(Vec<String>),
}

#[derive(Clone)]
pub(crate) struct HistoryRecord {
    pub id: u64,
    pub msg_id: String,
    pub thread_id: String,
    /// The message's labels right after the change.
    pub labels: Vec<String>,
    pub change: Change,
}

pub(crate) struct User {
    pub email: String,
    pub name: String,
    pub messages: HashMap<String, Msg>,
    /// (internalDate, id) for newest-first listing.
    pub by_date: BTreeSet<(i64, String)>,
    /// thread id -> message ids, oldest first.
    pub threads: HashMap<String, Vec<String>>,
    /// RFC 822 Message-ID (without brackets) -> message id.
    pub msgid_index: HashMap<String, String>,
    pub labels: BTreeMap<String, UserLabel>,
    pub next_label: u64,
    /// draft id -> message id.
    pub drafts: BTreeMap<String, String>,
    pub history: VecDeque<HistoryRecord>,
    pub history_id: u64,
    /// Start ids below this answer 404 in history.list.
    pub history_floor: u64,
    pub send_as: Vec<Value>,
    pub filters: Vec<Value>,
    pub next_filter: u64,
    pub vacation: Value,
    pub watch_expiration: Option<i64>,
    /// The Pub/Sub topic of the watch (see `pubsub`).
    pub watch_topic: Option<String>,
    /// The history id the watch was started at (changes after it are pushed).
    pub watch_history_id: u64,
    /// Senders that already got this vacation period's auto-reply.
    pub vacation_replied: std::collections::HashSet<String>,
    /// Thread by Google's rule (see [`crate::Behaviour::threading_rule`]); set from the store's
    /// behaviour on every add.
    pub threading_rule: bool,
}

impl User {
    pub fn new(email: &str, name: &str) -> Self {
        Self {
            email: email.to_string(),
            name: name.to_string(),
            messages: HashMap::new(),
            by_date: BTreeSet::new(),
            threads: HashMap::new(),
            msgid_index: HashMap::new(),
            labels: BTreeMap::new(),
            next_label: 1,
            drafts: BTreeMap::new(),
            history: VecDeque::new(),
            history_id: 1000,
            history_floor: 1,
            threading_rule: false,
            send_as: vec![json!({
                "sendAsEmail": email,
                "displayName": name,
                "replyToAddress": "",
                "signature": "",
                "isPrimary": true,
                "isDefault": true,
            })],
            filters: Vec::new(),
            next_filter: 1,
            vacation: json!({"enableAutoReply": false}),
            watch_expiration: None,
            watch_topic: None,
            watch_history_id: 0,
            vacation_replied: Default::default(),
        }
    }

    pub fn label_exists(&self, id: &str) -> bool {
        SYSTEM_LABELS.contains(&id) || self.labels.contains_key(id)
    }

    pub fn label_by_name(&self, name: &str) -> Option<&UserLabel> {
        self.labels
            .values()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    /// Creates a user label (name must be unique).
    pub fn create_label(&mut self, name: &str) -> ApiResult<String> {
        if name.trim().is_empty() {
            return Err(ApiError::invalid_argument("No label name specified."));
        }
        if self.label_by_name(name).is_some()
            || SYSTEM_LABELS.iter().any(|s| s.eq_ignore_ascii_case(name))
        {
            return Err(ApiError::conflict("Label name exists or conflicts"));
        }
        let id = format!("Label_{}", self.next_label);
        self.next_label += 1;
        self.labels.insert(
            id.clone(),
            UserLabel {
                id: id.clone(),
                name: name.to_string(),
                message_list_visibility: Some("show".into()),
                label_list_visibility: Some("labelShow".into()),
                color: None,
            },
        );
        Ok(id)
    }

    fn record(&mut self, msg_id: &str, change: Change) -> u64 {
        self.history_id += 1;
        let hid = self.history_id;
        let (thread_id, labels) = match self.messages.get_mut(msg_id) {
            Some(m) => {
                m.history_id = hid;
                (m.thread_id.clone(), m.labels.clone())
            }
            None => (String::new(), Vec::new()),
        };
        self.history.push_back(HistoryRecord {
            id: hid,
            msg_id: msg_id.to_string(),
            thread_id,
            labels,
            change,
        });
        hid
    }

    /// Which thread a new message joins: the given one if it exists, else the thread of any
    /// message named in In-Reply-To / References, else a new thread.
    fn thread_for(&self, id: &str, hint: Option<&str>, env: &Envelope) -> String {
        if !self.threading_rule {
            if let Some(t) = hint.filter(|t| self.threads.contains_key(*t)) {
                return t.to_string();
            }
        }
        // Google's rule (with `threading_rule`): a message joins a thread only if it names the
        // thread (when a threadId was asked for), its In-Reply-To / References point into the
        // thread, and its subject matches; otherwise it starts a new thread.
        let subject = env.subject.as_deref().map(mime::thread_subject);
        for r in env.in_reply_to.iter().chain(env.references.iter().rev()) {
            let Some(t) = self.msgid_index.get(r).and_then(|m| self.messages.get(m)) else {
                continue;
            };
            if !self.threading_rule {
                return t.thread_id.clone();
            }
            if hint.is_some_and(|h| h != t.thread_id) {
                continue;
            }
            let theirs = mime::envelope(&t.raw)
                .subject
                .as_deref()
                .map(mime::thread_subject);
            if theirs == subject {
                return t.thread_id.clone();
            }
        }
        id.to_string()
    }

    /// Stores a message; records `messagesAdded` when `record` is set.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        id: String,
        raw: Bytes,
        labels: &[String],
        internal_date: i64,
        thread_hint: Option<&str>,
        env: &Envelope,
        record: bool,
        index: Option<Index>,
    ) -> String {
        let thread_id = self.thread_for(&id, thread_hint, env);
        let mut lbls: Vec<String> = Vec::new();
        for l in labels {
            if !lbls.contains(l) {
                lbls.push(l.clone());
            }
        }
        let msg = Msg {
            id: id.clone(),
            thread_id: thread_id.clone(),
            labels: lbls,
            raw,
            internal_date,
            history_id: self.history_id,
            parsed: OnceLock::new(),
            index: OnceLock::new(),
        };
        if let Some(ix) = index {
            let _ = msg.index.set(Arc::new(ix));
        }
        if let Some(mid) = &env.message_id {
            self.msgid_index
                .entry(mid.clone())
                .or_insert_with(|| id.clone());
        }
        self.messages.insert(id.clone(), msg);
        self.by_date.insert((internal_date, id.clone()));
        let t = self.threads.entry(thread_id).or_default();
        t.push(id.clone());
        let messages = &self.messages;
        t.sort_by_key(|m| messages.get(m).map(|m| (m.internal_date, m.id.clone())));
        if record {
            self.record(&id, Change::Added);
        }
        id
    }

    pub fn check_labels(&self, ids: &[String]) -> ApiResult<()> {
        for l in ids {
            if !self.label_exists(l) || FIXED_LABELS.contains(&l.as_str()) {
                return Err(ApiError::invalid_argument(format!("Invalid label: {l}")));
            }
        }
        Ok(())
    }

    /// Adds and removes labels, recording what actually changed.
    pub fn modify(&mut self, id: &str, add: &[String], remove: &[String]) -> ApiResult<()> {
        self.check_labels(add)?;
        self.check_labels(remove)?;
        self.modify_unchecked(id, add, remove)
    }

    pub fn modify_unchecked(
        &mut self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> ApiResult<()> {
        let m = self.messages.get_mut(id).ok_or_else(ApiError::not_found)?;
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for l in add {
            if !m.has(l) && !added.contains(l) {
                m.labels.push(l.clone());
                added.push(l.clone());
            }
        }
        for l in remove {
            if !add.contains(l) && m.has(l) {
                m.labels.retain(|x| x != l);
                removed.push(l.clone());
            }
        }
        if !added.is_empty() {
            self.record(id, Change::LabelsAdded(added));
        }
        if !removed.is_empty() {
            self.record(id, Change::LabelsRemoved(removed));
        }
        Ok(())
    }

    /// Changes the labels of a message that just arrived, as part of its arrival: no new
    /// history record; the `messagesAdded` record shows the final labels.
    pub fn relabel_arrival(&mut self, id: &str, add: &[String], remove: &[String]) {
        let Some(m) = self.messages.get_mut(id) else {
            return;
        };
        for l in add {
            if !m.has(l) && (self.labels.contains_key(l) || SYSTEM_LABELS.contains(&l.as_str())) {
                m.labels.push(l.clone());
            }
        }
        m.labels.retain(|l| !remove.contains(l) || add.contains(l));
        let labels = m.labels.clone();
        if let Some(r) = self
            .history
            .iter_mut()
            .rev()
            .find(|r| r.msg_id == id && r.change == Change::Added)
        {
            r.labels = labels;
        }
    }

    /// Removes a message for good.
    pub fn delete(&mut self, id: &str) -> ApiResult<()> {
        if !self.messages.contains_key(id) {
            return Err(ApiError::not_found());
        }
        self.record(id, Change::Deleted);
        let m = self.messages.remove(id).expect("checked above");
        self.by_date.remove(&(m.internal_date, m.id.clone()));
        if let Some(t) = self.threads.get_mut(&m.thread_id) {
            t.retain(|x| x != id);
            if t.is_empty() {
                self.threads.remove(&m.thread_id);
            }
        }
        self.msgid_index.retain(|_, v| v != id);
        self.drafts.retain(|_, v| v != id);
        Ok(())
    }

    /// Messages newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Msg> {
        self.by_date
            .iter()
            .rev()
            .filter_map(|(_, id)| self.messages.get(id))
    }

    /// Per label: (messagesTotal, messagesUnread, threadsTotal, threadsUnread).
    pub fn label_counts(&self) -> HashMap<String, (usize, usize, usize, usize)> {
        let mut msgs: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut threads: HashMap<&str, (HashSet<&str>, HashSet<&str>)> = HashMap::new();
        for m in self.messages.values() {
            let unread = m.has("UNREAD");
            for l in &m.labels {
                let e = msgs.entry(l).or_default();
                e.0 += 1;
                let t = threads.entry(l).or_default();
                t.0.insert(&m.thread_id);
                if unread {
                    e.1 += 1;
                    t.1.insert(&m.thread_id);
                }
            }
        }
        msgs.into_iter()
            .map(|(l, (mt, mu))| {
                let (tt, tu) = threads
                    .get(l)
                    .map(|(a, b)| (a.len(), b.len()))
                    .unwrap_or((0, 0));
                (l.to_string(), (mt, mu, tt, tu))
            })
            .collect()
    }
}

pub(crate) struct Store {
    pub users: BTreeMap<String, User>,
    /// The provider behaviours in force (see [`crate::Behaviour`]).
    pub behaviour: crate::Behaviour,
    /// Google Calendar's events and sync clock (`crate::calendar`).
    pub calendar: crate::calendar::CalStore,
    next_id: u64,
    next_draft: u64,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            users: BTreeMap::new(),
            behaviour: crate::Behaviour::default(),
            calendar: Default::default(),
            next_id: 0x18c2_a4f0_0000_0000,
            next_draft: 5_213_921_379_421_794_373,
        }
    }
}

/// Gmail ids are lower-case hex.
pub(crate) fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Store {
    pub fn new_id(&mut self) -> String {
        self.next_id += 0x1_3b7;
        format!("{:016x}", self.next_id)
    }

    pub fn new_draft_id(&mut self) -> String {
        self.next_draft += 7_919;
        format!("r{}", self.next_draft)
    }

    pub fn ensure_user(&mut self, email: &str) -> &mut User {
        let key = email.to_ascii_lowercase();
        self.users.entry(key.clone()).or_insert_with(|| {
            let name = key.split('@').next().unwrap_or("").to_string();
            User::new(&key, &name)
        })
    }

    pub fn user(&self, email: &str) -> ApiResult<&User> {
        self.users
            .get(&email.to_ascii_lowercase())
            .ok_or_else(ApiError::not_found)
    }

    pub fn user_mut(&mut self, email: &str) -> ApiResult<&mut User> {
        self.users
            .get_mut(&email.to_ascii_lowercase())
            .ok_or_else(ApiError::not_found)
    }

    /// Parses the envelope and stores a message for `email`; returns its id.
    pub fn add_raw(
        &mut self,
        email: &str,
        raw: Bytes,
        labels: &[String],
        internal_date: Option<i64>,
        thread_hint: Option<&str>,
        record: bool,
    ) -> String {
        let env = mime::envelope(&raw);
        let date = internal_date
            .or(env.date_ms)
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        let id = self.new_id();
        let rule = self.behaviour.threading_rule;
        let user = self.ensure_user(email);
        user.threading_rule = rule;
        user.insert(id, raw, labels, date, thread_hint, &env, record, None)
    }
}
