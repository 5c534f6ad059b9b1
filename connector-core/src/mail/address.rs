//! Addresses as params give them: `"Ada Lovelace <ada@example.com>"`,
//! `"\"Lovelace, Ada\" <ada@example.com>"`, an RFC 2047 encoded name, or a bare address; and
//! addresses as received mail writes them in its headers, malformed ones included.

use mail_parser::{Address, MessageParser};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::ConnectorError;

/// One parsed address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    /// The display name, when one is given.
    pub name: Option<String>,
    pub email: String,
}

impl Mailbox {
    /// `{name, email}` as `json!(mailbox)` gives it, built from the owned strings (no
    /// serializer in between: decoded messages make many of these).
    pub fn into_value(self) -> Value {
        let mut m = Map::with_capacity(2);
        m.insert("name".into(), self.name.map_or(Value::Null, Value::String));
        m.insert("email".into(), Value::String(self.email));
        Value::Object(m)
    }

    /// A list of addresses as `json!(list)` gives it.
    pub fn list_value(list: Vec<Mailbox>) -> Value {
        Value::Array(list.into_iter().map(Mailbox::into_value).collect())
    }
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

/// The addresses of one received header (`From`, `To`, ...) from mail-parser's reading of it
/// (`addr`) and its raw value, with the repairs mail-parser's leniency needs:
/// a null address (`MAILER-DAEMON <>`, the empty reverse path of bounces) has the empty email
/// and keeps its display name; addresses written without commas between them (`a@x b@x`)
/// become separate addresses instead of one with a space in it.
pub fn header_mailboxes(
    addr: Option<&Address<'_>>,
    raw_value: &str,
    header: &str,
    warnings: &mut Vec<String>,
) -> Vec<Mailbox> {
    let null_address = raw_value.contains("<>");
    let Some(addr) = addr.filter(|a| a.iter().next().is_some()) else {
        return if raw_value.trim() == "<>" {
            vec![Mailbox {
                name: None,
                email: String::new(),
            }]
        } else {
            Vec::new()
        };
    };
    let mut out = Vec::new();
    for a in addr.iter() {
        let email = a.address.as_deref().map(clean_address).unwrap_or_default();
        let name = a.name.as_deref().map(unfold).filter(|n| !n.is_empty());
        if email.is_empty() {
            match name {
                // `Name <>`: a null address with a display name.
                Some(n) if null_address => out.push(Mailbox {
                    name: Some(n),
                    email: String::new(),
                }),
                // A bare word with no address (e.g. `From: foo`): keep it as the address.
                Some(n) => out.push(Mailbox {
                    name: None,
                    email: n,
                }),
                None => {}
            }
            continue;
        }
        if !email.contains(char::is_whitespace) {
            // One address (what the split below finds in it too).
            out.push(Mailbox { name, email });
            continue;
        }
        let words: Vec<&str> = email.split_whitespace().collect();
        let first_at = words.iter().position(|w| w.contains('@'));
        match first_at {
            Some(first) if words.len() > 1 && words[first..].iter().all(|w| w.contains('@')) => {
                // `a@x b@x` (commas missing) or `Ann a@x` (name not quoted, no brackets).
                let lead = words[..first].join(" ");
                let lead_name = Some(lead).filter(|n| !n.is_empty()).or(name);
                for (i, w) in words[first..].iter().enumerate() {
                    out.push(Mailbox {
                        name: if i == 0 { lead_name.clone() } else { None },
                        email: (*w).to_string(),
                    });
                }
                warnings.push(format!(
                    "the {header} header has addresses separated by spaces, not commas ({:?}); read as {}",
                    cut(raw_value, 120),
                    words[first..].join(", ")
                ));
            }
            _ => out.push(Mailbox { name, email }),
        }
    }
    out
}

/// Drops an obsolete source route (`@relay:user@host`) and the folding whitespace RFC 5322's
/// obsolete syntax allows around `.` and `@`.
fn clean_address(raw: &str) -> String {
    let mut addr = raw.trim();
    if addr.starts_with('@') {
        if let Some((_, rest)) = addr.rsplit_once(':') {
            addr = rest.trim();
        }
    }
    // Most addresses have no white space left after the trim: nothing to drop.
    if !addr.contains(char::is_whitespace) {
        return addr.to_string();
    }
    let mut out = String::with_capacity(addr.len());
    let chars: Vec<char> = addr.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_whitespace() {
            let prev = chars[..i].iter().rev().find(|c| !c.is_whitespace());
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(prev, Some('.' | '@')) || matches!(next, Some('.' | '@')) {
                continue;
            }
        }
        out.push(*c);
    }
    out
}

/// A display name on one line, trimmed.
fn unfold(s: &str) -> String {
    if !s.contains(['\r', '\n']) {
        return s.trim().to_string();
    }
    s.replace(['\r', '\n'], "").trim().to_string()
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
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

    /// The header's addresses as `header_mailboxes` reads them, with its warnings.
    fn received(value: &str) -> (Vec<Mailbox>, Vec<String>) {
        let raw = format!("From: {value}\r\n\r\n");
        let msg = MessageParser::new().parse_headers(raw.as_bytes()).unwrap();
        let mut warnings = Vec::new();
        let list = header_mailboxes(msg.from(), value, "From", &mut warnings);
        (list, warnings)
    }

    fn mb(name: Option<&str>, email: &str) -> Mailbox {
        Mailbox {
            name: name.map(str::to_string),
            email: email.to_string(),
        }
    }

    #[test]
    fn a_mailbox_value_is_what_its_serialization_gives() {
        let list = vec![mb(Some("Ada"), "ada@example.com"), mb(None, "")];
        assert_eq!(
            Mailbox::list_value(list.clone()),
            serde_json::to_value(&list).unwrap()
        );
        for m in list {
            assert_eq!(m.clone().into_value(), serde_json::to_value(&m).unwrap());
        }
    }

    #[test]
    fn received_headers_keep_null_senders_and_split_space_separated_addresses() {
        assert_eq!(
            received("MAILER DAEMON <>"),
            (vec![mb(Some("MAILER DAEMON"), "")], vec![])
        );
        assert_eq!(received("<>"), (vec![mb(None, "")], vec![]));
        let (list, warnings) = received("a@x b@x");
        assert_eq!(list, vec![mb(None, "a@x"), mb(None, "b@x")]);
        assert!(warnings[0].contains("separated by spaces"), "{warnings:?}");
        assert_eq!(
            received("Ada <ada@example.com>, grace@example.com").0,
            vec![
                mb(Some("Ada"), "ada@example.com"),
                mb(None, "grace@example.com")
            ]
        );
        // A param with either problem is still not an address.
        assert!(parse_mailbox("MAILER DAEMON <>").is_none());
        assert!(parse_mailbox("a@x.org b@x.org").is_none());
    }
}
