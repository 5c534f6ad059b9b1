//! Where the real Microsoft Graph is harsher than a naive emulator, and the switch for each.
//! Every behaviour is on by default (`Behaviour::default()`); `Behaviour::kind()` switches them
//! all off for tests that need the old, kinder emulator. The project's
//! `docs/provider-behaviour.md` names the source of each.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::model::Mailbox;
use super::writes;

/// The provider behaviours of one Graph emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behaviour {
    /// `sendMail` and `/send` answer 202 while the message is still in Drafts; it moves to
    /// the Outbox after half of this delay and reaches Sent Items (and the recipients) after
    /// all of it ("Send mail by using the Microsoft Graph API"). Zero: filed at once.
    pub transport_delay: Duration,
    /// A client-set `internetMessageId` survives sending. Graph does not document whether it
    /// does, so it is off by default (the transport gives the message its own id) and tests
    /// run both ways.
    pub keep_internet_message_id: bool,
    /// A reply or forward arriving from another mailbox gets a new `conversationId` in the
    /// recipient's mailbox instead of joining the conversation the recipient started (users
    /// report it on Microsoft Q&A; conversationId is a best-effort thread key).
    pub conversation_id_changes: bool,
    /// `sendMail` refuses inline attachments over 4 MB in total (413); larger files go through
    /// a draft and an upload session.
    pub inline_attachment_limit: bool,
    /// The page links (`@odata.nextLink`) of a delta round expire (410 `SyncStateNotFound`)
    /// once the folder has changed since the round began; the round's final `deltaLink`
    /// stays good (microsoft-graph-docs#2162, #2877).
    pub delta_page_links_expire: bool,
    /// `/forward` and `/createForward` start the new message with none of the original's
    /// custom Internet headers (the forward is a new message built from the request's
    /// writable properties); switched off, a forward carries the original's `x-` headers.
    pub forward_drops_headers: bool,
}

/// The default transport delay: a few seconds, as Exchange Online commonly takes.
pub const DEFAULT_TRANSPORT_DELAY: Duration = Duration::from_secs(3);

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            transport_delay: DEFAULT_TRANSPORT_DELAY,
            keep_internet_message_id: false,
            conversation_id_changes: true,
            inline_attachment_limit: true,
            delta_page_links_expire: true,
            forward_drops_headers: true,
        }
    }
}

impl Behaviour {
    /// Every behaviour switched off: sent mail is filed at once with the client's
    /// `internetMessageId`.
    pub fn kind() -> Behaviour {
        Behaviour {
            transport_delay: Duration::ZERO,
            keep_internet_message_id: true,
            conversation_id_changes: false,
            inline_attachment_limit: false,
            delta_page_links_expire: false,
            forward_drops_headers: false,
        }
    }
}

/// A message accepted for sending and not yet in Sent Items.
#[derive(Debug, Clone)]
pub struct Transit {
    /// The sender's mailbox key.
    pub user: String,
    /// The message's id while in Drafts / Outbox.
    pub id: String,
    /// Keep a copy in Sent Items.
    pub save: bool,
    pub outbox_at: Instant,
    pub sent_at: Instant,
    /// [`Behaviour::conversation_id_changes`] when the message was accepted.
    pub new_conversation: bool,
}

/// Moves every message in transit that is due: to the Outbox, then to Sent Items (a new id)
/// and the recipients' inboxes. `all` is every mailbox; `finish` completes everything now.
pub fn advance(
    transit: &mut Vec<Transit>,
    all: &mut std::collections::HashMap<String, Mailbox>,
    finish: bool,
) {
    if transit.is_empty() {
        return;
    }
    let now = Instant::now();
    let mut deliveries = Vec::new();
    let mut new_conversation = false;
    transit.retain(|t| {
        let Some(mb) = all.get_mut(&t.user) else {
            return false;
        };
        let Some(mut m) = mb.messages.get(&t.id).cloned() else {
            // Deleted while in transit: Exchange would still send it; the emulator drops it.
            return false;
        };
        if finish || now >= t.sent_at {
            mb.remove_message(&t.id);
            new_conversation |= t.new_conversation;
            m.is_draft = false;
            m.sent = Utc::now();
            m.received = m.sent;
            for r in m.to.iter().chain(&m.cc).chain(&m.bcc) {
                deliveries.push(writes::Delivery {
                    to: r.address.to_ascii_lowercase(),
                    msg: m.clone(),
                });
            }
            if t.save {
                m.id = mb.next_id("AAMkA", "message");
                m.folder_id = mb
                    .folder("sentitems")
                    .map(|f| f.id.clone())
                    .unwrap_or_default();
                mb.put_message(m);
            }
            return false;
        }
        if now >= t.outbox_at {
            let outbox = mb
                .folder("outbox")
                .map(|f| f.id.clone())
                .unwrap_or_default();
            if m.folder_id != outbox {
                m.folder_id = outbox;
                m.is_draft = false;
                mb.put_message(m);
            }
        }
        true
    });
    for d in deliveries {
        if let Some(key) = super::state::resolve_user(all, &d.to) {
            if let Some(mb) = all.get_mut(&key) {
                writes::deliver(mb, d.msg, new_conversation);
            }
        }
    }
}

/// While mail is in transit, moves it on every 100 ms and tells subscribers (the emulator's
/// transport does not wait for the next request to deliver).
pub async fn tick(inner: std::sync::Arc<super::state::Inner>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let pending = !inner.transit.lock().expect("transit").is_empty();
        if pending {
            inner.notify();
        }
    }
}
