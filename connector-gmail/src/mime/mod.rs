//! MIME: decoding (mail-parser) and rebuilding Gmail payload trees as MIME.

pub mod decode;
pub mod payload;
mod repair;

pub use decode::{decode_mime, AttachmentInfo, EmailAddress, HeaderField, MimeDecoded};
pub use payload::{decode_base64url, payload_to_mime};
