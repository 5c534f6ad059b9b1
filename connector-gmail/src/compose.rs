//! Composing RFC 5322 messages from structured params with mail-builder (messages.send,
//! drafts.create/update).

use mail_builder::headers::address::Address;
use mail_builder::headers::message_id::MessageId;
use mail_builder::MessageBuilder;

use connector_core::mail::parse_address;
pub use connector_core::mail::{OutgoingAttachment, OutgoingMessage};
use connector_core::{ConnectorError, ErrorCode};

fn strip_brackets(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn address_list(
    list: &[String],
    field: &str,
) -> Result<Option<Address<'static>>, Box<ConnectorError>> {
    let mut out = Vec::with_capacity(list.len());
    for a in list {
        let m = parse_address(a, field)?;
        out.push(Address::new_address(m.name, m.email));
    }
    Ok(match out.len() {
        0 => None,
        1 => out.pop(),
        _ => Some(Address::new_list(out)),
    })
}

/// Builds the RFC 5322 bytes. Non-ASCII subjects and names become RFC 2047 words, bodies are
/// encoded as needed (quoted-printable or base64), file names per RFC 2231.
pub fn build(c: &OutgoingMessage) -> Result<Vec<u8>, Box<ConnectorError>> {
    let mut b = MessageBuilder::new();
    if let Some(from) = &c.from {
        let m = parse_address(from, "from")?;
        b = b.from(Address::new_address(m.name, m.email));
    }
    if let Some(a) = address_list(&c.to, "to")? {
        b = b.to(a);
    }
    if let Some(a) = address_list(&c.cc, "cc")? {
        b = b.cc(a);
    }
    if let Some(a) = address_list(&c.bcc, "bcc")? {
        b = b.bcc(a);
    }
    if let Some(a) = address_list(&c.reply_to, "reply_to")? {
        b = b.reply_to(a);
    }
    if let Some(s) = &c.subject {
        b = b.subject(s.replace(['\r', '\n'], " "));
    }
    let id = c
        .message_id
        .clone()
        .unwrap_or_else(|| format!("<{}@agent-connectors>", uuid::Uuid::new_v4().simple()));
    b = b.message_id(strip_brackets(&id));
    if let Some(irt) = &c.in_reply_to {
        b = b.in_reply_to(strip_brackets(irt));
    }
    if !c.references.is_empty() {
        let refs: Vec<String> = c.references.iter().map(|r| strip_brackets(r)).collect();
        b = b.references(MessageId::new_list(refs.into_iter()));
    }
    match (&c.text, &c.html) {
        (Some(t), _) => b = b.text_body(t.clone()),
        (None, None) => b = b.text_body(String::new()),
        _ => {}
    }
    if let Some(h) = &c.html {
        b = b.html_body(h.clone());
    }
    for a in &c.attachments {
        b = b.attachment(a.mime_type.clone(), a.filename.clone(), a.content.clone());
    }
    b.write_to_vec().map_err(|e| {
        Box::new(
            ConnectorError::new(ErrorCode::Internal, "the message could not be built")
                .with_source(e),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::decode_mime;
    use connector_core::mail::idempotent_message_id as message_id_for_key;

    #[test]
    fn non_ascii_round_trips_through_the_decoder() {
        let c = OutgoingMessage {
            from: Some("Ada Lovelace <ada@example.com>".into()),
            to: vec![
                "\"Hopper, Grace\" <grace@example.com>".into(),
                "bob@example.org".into(),
            ],
            subject: Some("Grüße aus Zürich 🎉".into()),
            text: Some("Schöne Grüße\nZeile zwei".into()),
            html: Some("<p>Schöne <b>Grüße</b></p>".into()),
            attachments: vec![OutgoingAttachment {
                filename: "résumé.pdf".into(),
                mime_type: "application/pdf".into(),
                content: (0..=255u8).collect(),
            }],
            message_id: Some(message_id_for_key("k1", "example.com")),
            in_reply_to: Some("<orig@example.com>".into()),
            references: vec!["<a@example.com>".into(), "<orig@example.com>".into()],
            ..OutgoingMessage::default()
        };
        let raw = build(&c).unwrap();
        assert!(raw.is_ascii(), "headers and bodies are 7-bit encoded");
        let d = decode_mime(&raw);
        assert_eq!(d.subject.as_deref(), Some("Grüße aus Zürich 🎉"));
        assert_eq!(
            d.from.as_ref().unwrap().name.as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(d.to[0].name.as_deref(), Some("Hopper, Grace"));
        assert_eq!(d.to[1].email, "bob@example.org");
        assert_eq!(
            d.text.as_deref().map(|t| t.replace("\r\n", "\n")),
            Some("Schöne Grüße\nZeile zwei".into())
        );
        assert_eq!(d.html.as_deref(), Some("<p>Schöne <b>Grüße</b></p>"));
        assert_eq!(d.attachments.len(), 1);
        assert_eq!(d.attachments[0].filename.as_deref(), Some("résumé.pdf"));
        assert_eq!(
            d.attachments[0].data.as_deref(),
            Some(&(0..=255u8).collect::<Vec<_>>()[..])
        );
        assert_eq!(d.message_id, Some(message_id_for_key("k1", "example.com")));
        assert_eq!(d.in_reply_to.as_deref(), Some("<orig@example.com>"));
        assert_eq!(d.references, vec!["<a@example.com>", "<orig@example.com>"]);
    }
}
