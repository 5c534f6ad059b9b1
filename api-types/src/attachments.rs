//! Attachments by reference (`/api/v1/attachments`, docs/attachments.md): a handle on bytes the
//! server holds for a short time, scoped to the organization.

use serde::{Deserialize, Serialize};

/// A stored attachment: what `POST /api/v1/attachments` answers, and what replaces
/// `content_base64` in an `attachments.get` result run with `"attachments": "reference"`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentHandle {
    /// The handle (`att_...`): pass it as `{"content_ref": {"handle": "..."}}` in place of
    /// `content_base64` in a send or draft.
    pub handle: String,
    pub filename: String,
    pub mime_type: String,
    /// Size of the bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// When the handle stops working (RFC 3339).
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// `GET` it with the application's bearer token for the bytes (path on this server).
    pub download_url: String,
}
