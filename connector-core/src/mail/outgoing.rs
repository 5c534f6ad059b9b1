//! The outgoing message: the compose params both connectors take (recipients, bodies,
//! attachments, sender) and the message model built from them, reply headers included.

use serde::{Deserialize, Serialize};

/// One attachment as params give it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AttachmentParams {
    pub filename: String,
    #[serde(default = "octet_stream")]
    pub mime_type: String,
    /// The bytes, base64.
    pub content_base64: String,
}

fn octet_stream() -> String {
    "application/octet-stream".to_string()
}

/// The compose params both connectors' send and draft actions take. A list left out is `None`
/// (not `[]`), so "was it given" can still be asked.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ComposeParams {
    pub to: Option<Vec<String>>,
    pub cc: Option<Vec<String>>,
    pub bcc: Option<Vec<String>>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Option<Vec<AttachmentParams>>,
    /// Send from this address (an alias of the mailbox).
    pub from: Option<String>,
}

impl ComposeParams {
    /// The first structured field given, in param order (for "either raw or fields" checks).
    pub fn first_given(&self) -> Option<&'static str> {
        [
            ("to", self.to.is_some()),
            ("cc", self.cc.is_some()),
            ("bcc", self.bcc.is_some()),
            ("subject", self.subject.is_some()),
            ("text", self.text.is_some()),
            ("html", self.html.is_some()),
            ("attachments", self.attachments.is_some()),
            ("from", self.from.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given)
        .map(|(name, _)| name)
    }

    pub fn to(&self) -> &[String] {
        self.to.as_deref().unwrap_or_default()
    }
    pub fn cc(&self) -> &[String] {
        self.cc.as_deref().unwrap_or_default()
    }
    pub fn bcc(&self) -> &[String] {
        self.bcc.as_deref().unwrap_or_default()
    }
    pub fn attachments(&self) -> &[AttachmentParams] {
        self.attachments.as_deref().unwrap_or_default()
    }
}

/// One attachment to send.
#[derive(Debug, Clone)]
pub struct OutgoingAttachment {
    pub filename: String,
    pub mime_type: String,
    pub content: Vec<u8>,
}

/// A message to send. Addresses are as params give them (`"Name <email>"` or `email`).
#[derive(Debug, Clone, Default)]
pub struct OutgoingMessage {
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Vec<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<OutgoingAttachment>,
    /// With angle brackets, e.g. `<abc@example.com>`.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

/// What a reply takes from the message it answers.
#[derive(Debug, Clone, Default)]
pub struct Replying {
    /// The original's Message-ID.
    pub message_id: Option<String>,
    /// The original's References.
    pub references: Vec<String>,
    pub subject: Option<String>,
    /// Where answers go: the original's Reply-To, else its From (`"Name" <email>` or `email`).
    pub reply_address: Option<String>,
}

impl OutgoingMessage {
    /// The message of `params` with decoded attachments (not yet checked: see
    /// [`crate::mail::parse_address`]).
    pub fn new(params: &ComposeParams, attachments: Vec<OutgoingAttachment>) -> Self {
        OutgoingMessage {
            from: params.from.clone(),
            to: params.to().to_vec(),
            cc: params.cc().to_vec(),
            bcc: params.bcc().to_vec(),
            subject: params.subject.clone(),
            text: params.text.clone(),
            html: params.html.clone(),
            attachments,
            ..OutgoingMessage::default()
        }
    }

    pub fn has_recipients(&self) -> bool {
        !(self.to.is_empty() && self.cc.is_empty() && self.bcc.is_empty())
    }

    /// Makes this message a reply: In-Reply-To and References name the original, the subject
    /// (when none is given) is the original's with `Re: `, and with no recipients the answer
    /// goes to the original's reply address.
    pub fn answer(&mut self, original: Replying) {
        if let Some(mid) = &original.message_id {
            self.in_reply_to = Some(mid.clone());
            self.references = original.references.clone();
            self.references.push(mid.clone());
        }
        if self.subject.is_none() {
            self.subject = original.subject.map(|s| {
                if s.to_ascii_lowercase().starts_with("re:") {
                    s
                } else {
                    format!("Re: {s}")
                }
            });
        }
        if !self.has_recipients() {
            self.to = original.reply_address.into_iter().collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reply_names_the_original_and_keeps_given_fields() {
        let mut m = OutgoingMessage::default();
        m.answer(Replying {
            message_id: Some("<o@x>".into()),
            references: vec!["<a@x>".into()],
            subject: Some("Plans".into()),
            reply_address: Some("ada@example.com".into()),
        });
        assert_eq!(m.in_reply_to.as_deref(), Some("<o@x>"));
        assert_eq!(m.references, ["<a@x>", "<o@x>"]);
        assert_eq!(m.subject.as_deref(), Some("Re: Plans"));
        assert_eq!(m.to, ["ada@example.com"]);

        let mut m = OutgoingMessage {
            subject: Some("Mine".into()),
            cc: vec!["b@example.com".into()],
            ..OutgoingMessage::default()
        };
        m.answer(Replying {
            subject: Some("RE: x".into()),
            reply_address: Some("ada@example.com".into()),
            ..Replying::default()
        });
        assert_eq!(m.subject.as_deref(), Some("Mine"));
        assert!(m.to.is_empty() && m.in_reply_to.is_none());
    }

    #[test]
    fn compose_params_know_what_was_given() {
        let p: ComposeParams = serde_json::from_value(
            json!({"subject": "s", "to": [], "attachments": [{"filename": "a", "content_base64": ""}]}),
        )
        .unwrap();
        assert_eq!(p.first_given(), Some("to"));
        assert_eq!(p.attachments()[0].mime_type, "application/octet-stream");
        assert_eq!(ComposeParams::default().first_given(), None);
    }
}
