//! Rust handlers for the actions whose spec names a `handler`.

mod attachments;
mod batch_get;
mod compose_params;
mod history;
mod messages;
mod preview;
mod search;
mod send;
mod threads;
mod write;

use std::sync::Arc;

use connector_core::{typed, ActionHandler};

pub use batch_get::{batch_get_messages, Throttle, START_PARTS_IN_FLIGHT};
pub use send::{DEFAULT_RESUMABLE_THRESHOLD, DEFAULT_UPLOAD_THRESHOLD};

/// Knobs of the Gmail handlers.
#[derive(Debug, Clone)]
pub struct GmailOptions {
    /// Messages larger than this many bytes are sent through the upload path (default 512 KiB: Gmail caps plain
    /// request bodies at 1 MiB).
    pub upload_threshold: usize,
    /// Messages larger than this go through a resumable upload session (default 16 MiB).
    pub resumable_threshold: usize,
    /// The user's Gmail quota in units per minute (default 6,000: projects created since
    /// 2026-05-01; older projects have 15,000).
    pub quota_units_per_minute: u32,
    /// The share of that quota bulk reads (get_many, list summaries) may spend, so that other
    /// calls still get through (default 0.75).
    pub bulk_quota_share: f64,
    /// Units of one `messages.get` (default 20, the 2026 cost; 5 on the older quota).
    pub message_get_units: u32,
}

impl Default for GmailOptions {
    fn default() -> Self {
        GmailOptions {
            upload_threshold: DEFAULT_UPLOAD_THRESHOLD,
            resumable_threshold: DEFAULT_RESUMABLE_THRESHOLD,
            quota_units_per_minute: 6_000,
            bulk_quota_share: 0.75,
            message_get_units: 20,
        }
    }
}

/// Root of every Gmail path for the authorized user.
pub(crate) const USER: &str = "/gmail/v1/users/me";

/// Every handler by the name the spec uses.
pub fn all(opts: &GmailOptions) -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    let mut v = reading(opts);
    v.extend(writing(opts));
    v
}

fn reading(opts: &GmailOptions) -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    // One pacer per connector (one user), shared by every bulk read.
    let throttle = Arc::new(Throttle::new(
        opts.quota_units_per_minute,
        opts.bulk_quota_share,
        opts.message_get_units,
    ));
    vec![
        (
            "messages_list",
            typed(messages::List {
                throttle: throttle.clone(),
            }),
        ),
        (
            "messages_search",
            typed(search::Search {
                throttle: throttle.clone(),
            }),
        ),
        ("messages_get", typed(messages::Get)),
        ("messages_get_many", typed(messages::GetMany { throttle })),
        ("attachments_get", typed(attachments::Get)),
        ("threads_get", typed(threads::Get)),
        ("drafts_get", typed(threads::DraftGet)),
        ("history_list", typed(history::List)),
    ]
}

fn writing(opts: &GmailOptions) -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    use send::{Compose, DraftSend, Target};
    use write::{BatchIds, FilterCreate};
    let t = send::UploadLimits {
        multipart_above: opts.upload_threshold,
        resumable_above: opts.resumable_threshold.max(opts.upload_threshold),
    };
    let compose = |target| typed(Compose { target, uploads: t });
    vec![
        ("messages_send", compose(Target::Send)),
        ("messages_import", compose(Target::Import)),
        ("messages_insert", compose(Target::Insert)),
        ("drafts_create", compose(Target::DraftCreate)),
        ("drafts_update", compose(Target::DraftUpdate)),
        ("drafts_send", typed(DraftSend { uploads: t })),
        ("messages_batch_modify", typed(BatchIds { delete: false })),
        ("messages_batch_delete", typed(BatchIds { delete: true })),
        ("filters_create", typed(FilterCreate)),
    ]
}
