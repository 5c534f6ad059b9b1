//! Rust handlers for the actions whose spec names a `handler`.

mod attachments;
mod batch_get;
mod compose_params;
mod history;
mod messages;
mod send;
mod threads;
mod write;

use std::sync::Arc;

use connector_core::{typed, ActionHandler};

pub use batch_get::batch_get_messages;
pub use send::{DEFAULT_RESUMABLE_THRESHOLD, DEFAULT_UPLOAD_THRESHOLD};

/// Knobs of the Gmail handlers.
#[derive(Debug, Clone)]
pub struct GmailOptions {
    /// Messages larger than this many bytes are sent through the upload path (default 512 KiB: Gmail caps plain
    /// request bodies at 1 MiB).
    pub upload_threshold: usize,
    /// Messages larger than this go through a resumable upload session (default 16 MiB).
    pub resumable_threshold: usize,
}

impl Default for GmailOptions {
    fn default() -> Self {
        GmailOptions {
            upload_threshold: DEFAULT_UPLOAD_THRESHOLD,
            resumable_threshold: DEFAULT_RESUMABLE_THRESHOLD,
        }
    }
}

/// Root of every Gmail path for the authorized user.
pub(crate) const USER: &str = "/gmail/v1/users/me";

/// Every handler by the name the spec uses.
pub fn all(opts: &GmailOptions) -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    let mut v = reading();
    v.extend(writing(opts));
    v
}

fn reading() -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    vec![
        ("messages_list", typed(messages::List)),
        ("messages_get", typed(messages::Get)),
        ("messages_get_many", typed(messages::GetMany)),
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
