//! Google's partial responses: `fields=messages(id,threadId),nextPageToken`, `payload/headers`,
//! `*`. Applied to every JSON answer of an API call that has a `fields` parameter.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A selection: field name -> sub-selection (None: the whole value).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Selection(BTreeMap<String, Option<Selection>>);

impl Selection {
    /// Parses a `fields` value; Err for unbalanced parentheses or empty names.
    pub fn parse(s: &str) -> Result<Self, String> {
        let chars: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
        let mut pos = 0;
        let sel = parse_list(&chars, &mut pos)?;
        if pos != chars.len() {
            return Err(format!("Invalid field selection {s}"));
        }
        Ok(sel)
    }

    fn insert_path(&mut self, path: &[String], sub: Option<Selection>) {
        let (first, rest) = path.split_first().expect("paths are never empty");
        if rest.is_empty() {
            match (self.0.get_mut(first), sub) {
                (Some(Some(existing)), Some(new)) => existing.0.extend(new.0),
                (Some(_), None) => {
                    self.0.insert(first.clone(), None);
                }
                (Some(None), Some(_)) => {}
                (None, sub) => {
                    self.0.insert(first.clone(), sub);
                }
            }
        } else {
            let entry = self
                .0
                .entry(first.clone())
                .or_insert_with(|| Some(Selection::default()));
            if let Some(inner) = entry {
                inner.insert_path(rest, sub);
            }
        }
    }

    /// Keeps only the selected parts of `v` (arrays are filtered element by element).
    pub fn apply(&self, v: &Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(|i| self.apply(i)).collect()),
            Value::Object(obj) => {
                if self.0.contains_key("*") {
                    return v.clone();
                }
                let mut out = Map::new();
                for (k, sub) in &self.0 {
                    if let Some(val) = obj.get(k) {
                        out.insert(
                            k.clone(),
                            sub.as_ref()
                                .map(|s| s.apply(val))
                                .unwrap_or_else(|| val.clone()),
                        );
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

fn parse_list(chars: &[char], pos: &mut usize) -> Result<Selection, String> {
    let mut sel = Selection::default();
    loop {
        let mut path = vec![String::new()];
        while *pos < chars.len() && !matches!(chars[*pos], ',' | '(' | ')') {
            if chars[*pos] == '/' {
                path.push(String::new());
            } else {
                path.last_mut().expect("non-empty").push(chars[*pos]);
            }
            *pos += 1;
        }
        if path.iter().any(String::is_empty) {
            return Err("Invalid field selection: empty field name".into());
        }
        let sub = if *pos < chars.len() && chars[*pos] == '(' {
            *pos += 1;
            let inner = parse_list(chars, pos)?;
            if *pos >= chars.len() || chars[*pos] != ')' {
                return Err("Invalid field selection: missing )".into());
            }
            *pos += 1;
            Some(inner)
        } else {
            None
        };
        sel.insert_path(&path, sub);
        if *pos < chars.len() && chars[*pos] == ',' {
            *pos += 1;
            continue;
        }
        return Ok(sel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_nested_fields_through_arrays() {
        let v = json!({"messages": [{"id": "a", "threadId": "t", "x": 1}], "nextPageToken": "n", "resultSizeEstimate": 3});
        let s = Selection::parse("messages(id),nextPageToken").unwrap();
        assert_eq!(
            s.apply(&v),
            json!({"messages": [{"id": "a"}], "nextPageToken": "n"})
        );
        let s = Selection::parse("messages/threadId, resultSizeEstimate").unwrap();
        assert_eq!(
            s.apply(&v),
            json!({"messages": [{"threadId": "t"}], "resultSizeEstimate": 3})
        );
        let m =
            json!({"id": "a", "payload": {"headers": [{"name": "A", "value": "1"}], "parts": []}});
        assert_eq!(
            Selection::parse("id,payload/headers").unwrap().apply(&m),
            json!({"id": "a", "payload": {"headers": [{"name": "A", "value": "1"}]}})
        );
        assert_eq!(Selection::parse("*").unwrap().apply(&m), m);
        assert!(Selection::parse("messages(id").is_err());
        assert!(Selection::parse("a,,b").is_err());
    }
}
