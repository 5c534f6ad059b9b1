//! Wire conventions every connector shares: key case between params (snake_case) and provider
//! JSON (camelCase), and percent-encoding of ids put into a path.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

/// Left as they are in a path segment: RFC 3986 unreserved characters and `=` (base64 padding of
/// Graph ids, allowed in a segment); everything else (`/`, `+`, `?`, `@`, space, ...) is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'=');

/// Percent-encodes one path segment (an id from the caller or the provider).
pub fn path_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// `messagesTotal` -> `messages_total`, `threadsURL` -> `threads_url`, `HTMLBody` -> `html_body`.
pub fn snake_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `add_label_ids` -> `addLabelIds`.
pub fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames object keys from the wire's camelCase to snake_case, recursively. OData annotations
/// (`@odata.context`, ...) are protocol, not data: they are dropped.
pub fn snake_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !k.starts_with('@'))
                .map(|(k, v)| (snake_case(&k), snake_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(snake_keys).collect()),
        other => other,
    }
}

/// Renames object keys from snake_case params to the wire's camelCase, recursively.
pub fn camel_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (camel_case(k), camel_keys(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(camel_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snake_case_examples() {
        assert_eq!(snake_case("messagesTotal"), "messages_total");
        assert_eq!(snake_case("threadsURL"), "threads_url");
        assert_eq!(snake_case("HTMLBody"), "html_body");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("id"), "id");
        assert_eq!(snake_case("@odata.nextLink"), "@odata.next_link");
        assert_eq!(snake_case("labelListVisibility"), "label_list_visibility");
    }

    #[test]
    fn snake_keys_and_segments() {
        assert_eq!(
            snake_keys(json!({"messagesAdded": [{"message": {"threadId": "1"}}]})),
            json!({"messages_added": [{"message": {"thread_id": "1"}}]})
        );
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(path_segment("ada@example.com"), "ada%40example.com");
        assert_eq!(path_segment("a/b c?"), "a%2Fb%20c%3F");
        assert_eq!(path_segment("AAMk/a+b="), "AAMk%2Fa%2Bb=");
        assert_eq!(path_segment("AQMkA-x_y="), "AQMkA-x_y=");
    }

    #[test]
    fn settings_keys_become_snake_case() {
        let v = snake_keys(
            json!({"timeZone": "UTC", "automaticRepliesSetting": {"externalAudience": "all"}, "@odata.context": "x"}),
        );
        assert_eq!(
            v,
            json!({"time_zone": "UTC", "automatic_replies_setting": {"external_audience": "all"}})
        );
    }

    #[test]
    fn camel_keys_round_trip_snake_keys() {
        let v = json!({"add_label_ids": ["A"], "negated_query": "x", "size_comparison": "larger"});
        let c = camel_keys(&v);
        assert_eq!(
            c,
            json!({"addLabelIds": ["A"], "negatedQuery": "x", "sizeComparison": "larger"})
        );
        assert_eq!(snake_keys(c), v);
    }
}
