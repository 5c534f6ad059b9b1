//! What a send would deliver, for the send policies (core's `guard`): the MIME message as it
//! will go out (built from the params, a reply's recipients filled in from the original, or the
//! raw message or draft as stored), read back the way a person would see it.

use connector_core::guard::{body_text, Preview, PreviewAttachment};
use connector_core::mail::Mailbox;

use crate::mime::decode_mime;

fn shown(m: &Mailbox) -> String {
    match &m.name {
        Some(n) => format!("{n} <{}>", m.email),
        None => m.email.clone(),
    }
}

/// The preview of an RFC 822 message.
pub fn of_raw(raw: &[u8]) -> Preview {
    let d = decode_mime(raw);
    let list = |l: &[Mailbox]| l.iter().map(shown).collect::<Vec<_>>();
    Preview {
        from: d.from.as_ref().map(shown),
        to: list(&d.to),
        cc: list(&d.cc),
        bcc: list(&d.bcc),
        subject: d.subject.clone(),
        text: body_text(d.text.as_deref(), d.html.as_deref()),
        attachments: d
            .attachments
            .iter()
            .map(|a| {
                let name = a.filename.as_deref().unwrap_or("(unnamed)");
                match &a.data {
                    Some(bytes) => PreviewAttachment::of(name, &a.mime_type, bytes),
                    None => PreviewAttachment {
                        filename: name.to_string(),
                        mime_type: a.mime_type.clone(),
                        size: a.size,
                        sha256: None,
                    },
                }
            })
            .collect(),
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_message_shows_its_recipients_text_and_attachments() {
        let raw = b"From: Ada <ada@example.com>\r\nTo: grace@example.com\r\nCc: Bob <bob@x.example>\r\nBcc: eve@y.example\r\nSubject: Hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello\r\n--b\r\nContent-Type: text/csv; name=a.csv\r\nContent-Disposition: attachment; filename=a.csv\r\n\r\na,b\r\n--b--\r\n";
        let p = of_raw(raw);
        assert_eq!(p.from.as_deref(), Some("Ada <ada@example.com>"));
        assert_eq!(
            p.recipients(),
            ["grace@example.com", "bob@x.example", "eve@y.example"]
        );
        assert_eq!(p.subject.as_deref(), Some("Hi"));
        assert!(p.text.starts_with("Hello"));
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].filename, "a.csv");
        assert!(p.attachments[0].sha256.is_some());
    }
}
