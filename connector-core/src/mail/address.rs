//! Addresses as params give them: `"Ada Lovelace <ada@example.com>"`,
//! `"\"Lovelace, Ada\" <ada@example.com>"`, an RFC 2047 encoded name, or a bare address.

use mail_parser::MessageParser;
use serde::Serialize;

use crate::ConnectorError;

/// One parsed address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    /// The display name, when one is given.
    pub name: Option<String>,
    pub email: String,
}

/// Parses one address; `None` when it is not a usable email address.
pub fn parse_mailbox(input: &str) -> Option<Mailbox> {
    let header = format!("To: {}\r\n\r\n", input.replace(['\r', '\n'], " "));
    // mail-parser 0.11 panics on a few malformed inputs: a panic is "not an address".
    let first = std::panic::catch_unwind(|| {
        let parsed = MessageParser::new().parse(header.as_bytes())?;
        let a = parsed.to()?.first()?;
        let email = a.address.as_deref()?.trim().to_string();
        Some((a.name.as_deref().map(|n| n.trim().to_string()), email))
    })
    .ok()
    .flatten();
    match first {
        Some((name, email)) if is_valid_email(&email) => Some(Mailbox {
            name: name.filter(|n| !n.is_empty()),
            email,
        }),
        _ => None,
    }
}

/// [`parse_mailbox`] for a param: `field` names it in the `invalid_params` error.
pub fn parse_address(input: &str, field: &str) -> Result<Mailbox, Box<ConnectorError>> {
    parse_mailbox(input).ok_or_else(|| {
        Box::new(ConnectorError::invalid_params(format!(
            "`{field}`: {input:?} is not an email address; use \"Name <name@example.com>\" or name@example.com"
        )))
    })
}

/// `local@domain.tld` with no white space or angle brackets.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn bad_addresses_are_invalid_params_naming_the_field() {
        let err = parse_address("not an address", "to").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParams);
        assert!(err.message.contains("`to`"));
        assert!(parse_address("a@b", "cc").is_err());
        assert_eq!(
            parse_address("x@y.org", "to").unwrap(),
            Mailbox {
                name: None,
                email: "x@y.org".to_string()
            }
        );
    }

    #[test]
    fn addresses_parse_with_or_without_names() {
        let m = parse_mailbox("Ada Lovelace <ada@example.com>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(m.email, "ada@example.com");
        let m = parse_mailbox("\"Lovelace, Ada\" <ada@example.com>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Lovelace, Ada"));
        assert_eq!(
            parse_mailbox("grace@example.com").unwrap().email,
            "grace@example.com"
        );
        assert!(parse_mailbox("not an address").is_none());
        assert!(parse_mailbox("a@b").is_none());
        assert!(parse_mailbox("").is_none());
    }
}
