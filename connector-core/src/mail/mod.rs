//! Mail conventions both mail connectors share: addresses as params give them, the outgoing
//! message (recipients, bodies, attachments, reply headers) and the exactly-once send step.

mod address;
mod idempotent;
mod outgoing;

pub mod trust;
pub use address::{header_mailboxes, is_valid_email, parse_address, parse_mailbox, Mailbox};
pub use idempotent::{
    idempotency_marker, idempotent_message_id, look_before_sending, Found, MARKER_DOMAIN,
    MARKER_HEADER,
};
pub use outgoing::{
    AttachmentParams, ComposeParams, OutgoingAttachment, OutgoingMessage, Replying,
};
