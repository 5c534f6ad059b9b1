//! The exact message a send would deliver, as a person approving it sees it, and the hash an
//! approval binds to.

use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::mail::{parse_mailbox, ComposeParams};
use crate::text::html_to_text;

/// One attachment of a previewed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PreviewAttachment {
    pub filename: String,
    pub mime_type: String,
    /// Bytes.
    pub size: u64,
    /// Hex SHA-256 of the content (`None` when the provider holds the bytes and did not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// What a send would deliver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Preview {
    /// The sender, when the call or the draft names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A plain-text rendering of the body (the HTML part's visible text when there is no text).
    pub text: String,
    pub attachments: Vec<PreviewAttachment>,
    /// What else the provider adds that the preview cannot show (e.g. "the original message is
    /// quoted below the comment").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Preview {
    /// The message of compose params (`to`, `cc`, `bcc`, `subject`, `text`, `html`,
    /// `attachments`, `from`); `None` when they name no recipient.
    pub fn from_params(params: &Value) -> Option<Preview> {
        let p: ComposeParams = serde_json::from_value(params.clone()).ok()?;
        let preview = Preview {
            from: p.from.clone(),
            to: p.to().to_vec(),
            cc: p.cc().to_vec(),
            bcc: p.bcc().to_vec(),
            subject: p.subject.clone(),
            text: body_text(p.text.as_deref(), p.html.as_deref()),
            attachments: p
                .attachments()
                .iter()
                .map(|a| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(a.content_base64.trim())
                        .unwrap_or_else(|_| a.content_base64.as_bytes().to_vec());
                    PreviewAttachment::of(&a.filename, &a.mime_type, &bytes)
                })
                .collect(),
            note: None,
        };
        (!preview.recipients().is_empty()).then_some(preview)
    }

    /// The bare, lower-cased addresses of every recipient (to, cc, bcc), in order, each once.
    /// An entry that is not an address is kept as written (so a rule still sees it).
    pub fn recipients(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            let email = parse_mailbox(r)
                .map(|m| m.email)
                .unwrap_or_else(|| r.trim().to_string())
                .to_ascii_lowercase();
            if !out.contains(&email) {
                out.push(email);
            }
        }
        out
    }

    /// The hex SHA-256 of this exact message (with the call it goes out by): an approval binds
    /// to it, so any change needs a new approval.
    pub fn content_hash(&self, entity: &str, action: &str) -> String {
        let canonical = serde_json::to_vec(&(entity, action, self)).expect("a preview serializes");
        hex::encode(Sha256::digest(canonical))
    }
}

impl PreviewAttachment {
    pub fn of(filename: &str, mime_type: &str, bytes: &[u8]) -> PreviewAttachment {
        PreviewAttachment {
            filename: filename.to_string(),
            mime_type: mime_type.to_string(),
            size: bytes.len() as u64,
            sha256: Some(hex::encode(Sha256::digest(bytes))),
        }
    }
}

/// The text a person reads: `text` when given, else the visible text of `html`.
pub fn body_text(text: Option<&str>, html: Option<&str>) -> String {
    match (text, html) {
        (Some(t), _) if !t.is_empty() => t.to_string(),
        (_, Some(h)) => html_to_text(h),
        _ => String::new(),
    }
}
