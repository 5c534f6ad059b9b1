//! MIME: decoding (mail-parser) and rebuilding Gmail payload trees as MIME.

pub mod decode;
mod direct;
pub mod payload;
mod repair;
pub mod view;

pub use decode::{decode_mime, AttachmentInfo, EmailAddress, HeaderField, MimeDecoded};
pub use direct::{
    decode_payload, decode_payload_direct, decode_payload_metadata, decode_payload_metadata_direct,
    decode_payload_rebuilt,
};
pub use payload::{decode_base64url, payload_to_mime};
