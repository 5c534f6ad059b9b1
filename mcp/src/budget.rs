//! Output budgets: a list result over the budget is cut at a record boundary, never inside a
//! record, and says how to get the rest.
//!
//! For an action that pages (its spec has `pagination`), the cut result carries a page token in
//! the action's own next-token metadata (`metadata.next_page_token`), and the tool description
//! already says to pass it back as the action's token param (`page_token`). That token is ours
//! (`mcp1.` + base64url of `{"t": provider token or null, "o": records already returned}`): a
//! call with it asks the provider for the same page again (with the provider's token, or none
//! for the first page) and skips the records returned before. Once the rest of a provider page
//! fits, the provider's own next token is passed through unchanged, so following the tokens
//! returns every record once (as long as the mailbox does not change between the calls, as
//! with any paging). Nothing is kept on the server: the token carries all it needs, so any
//! replica can serve the next call.
//!
//! An action that does not page gets the records that fit and `metadata.truncated` with the
//! number left out and how to narrow the call. A single record is never cut: when one alone is
//! over the budget it is returned whole, with `metadata.over_budget`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use connector_core::spec::ActionSpec;
use connector_core::{ConnectorError, Output};
use serde_json::{json, Value};

/// Our page tokens start with this.
pub const TOKEN_PREFIX: &str = "mcp1.";

/// Where a cut result resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The provider's token of the page that was cut (`None`: the first page).
    pub provider_token: Option<String>,
    /// Records of that page already returned.
    pub offset: usize,
}

pub fn encode(resume: &Resume) -> String {
    let body = json!({"t": resume.provider_token, "o": resume.offset});
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(body.to_string()))
}

/// Our token, or `None` for anything else (a provider's token).
pub fn decode(token: &str) -> Option<Result<Resume, ConnectorError>> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let bad = || {
        ConnectorError::invalid_field(
            "/page_token",
            "this page token is damaged: pass metadata.next_page_token back unchanged",
        )
    };
    let parsed = URL_SAFE_NO_PAD
        .decode(rest)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    Some(
        parsed
            .and_then(|v| {
                let offset = usize::try_from(v.get("o")?.as_u64()?).ok()?;
                let provider_token = match v.get("t")? {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    _ => return None,
                };
                Some(Resume {
                    provider_token,
                    offset,
                })
            })
            .ok_or_else(bad),
    )
}

/// Replaces our token in the params by the provider's (or removes it for the first page).
/// Returns where to resume: the provider token sent and the records to skip.
pub fn unwrap_params(def: &ActionSpec, params: &mut Value) -> Result<Resume, ConnectorError> {
    let Some(p) = &def.pagination else {
        return Ok(Resume {
            provider_token: None,
            offset: 0,
        });
    };
    let Some(obj) = params.as_object_mut() else {
        return Ok(Resume {
            provider_token: None,
            offset: 0,
        });
    };
    let given = obj.get(&p.token_param).and_then(Value::as_str);
    match given.and_then(decode) {
        Some(resume) => {
            let resume = resume?;
            match &resume.provider_token {
                Some(t) => obj.insert(p.token_param.clone(), json!(t)),
                None => obj.remove(&p.token_param),
            };
            Ok(resume)
        }
        None => Ok(Resume {
            provider_token: given.map(str::to_string),
            offset: 0,
        }),
    }
}

/// The length in bytes of `value`'s compact JSON (what `value.to_string()` would give),
/// counted without building the string.
fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` into a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Skips the records returned before and cuts the rest at the budget. A result that is not a
/// list is measured whole: its JSON is returned, for the tool result's text to reuse.
pub fn apply(
    def: &ActionSpec,
    output: &mut Output,
    resume: &Resume,
    max_chars: usize,
) -> Option<String> {
    let Value::Array(records) = &mut output.result else {
        // Writing a `Value` does not fail; were it to, the caller serializes again.
        let json = serde_json::to_string(&output.result).ok();
        let size = json
            .as_ref()
            .map_or_else(|| json_len(&output.result), String::len);
        if size > max_chars {
            output.metadata.insert(
                "over_budget".into(),
                json!({"chars": size, "max_output_chars": max_chars,
                    "note": "one record is never cut, so it is returned whole"}),
            );
        }
        return json;
    };
    let skip = resume.offset.min(records.len());
    records.drain(..skip);
    // `[` + records joined by `,` + `]`.
    let mut used = 2;
    let mut keep = 0;
    for (i, r) in records.iter().enumerate() {
        let size = json_len(r) + usize::from(i > 0);
        if keep > 0 && used + size > max_chars {
            break;
        }
        used += size;
        keep += 1;
    }
    let omitted = records.len() - keep;
    if omitted == 0 {
        return None;
    }
    records.truncate(keep);
    let mut truncated = json!({
        "returned": keep,
        "omitted_from_this_page": omitted,
        "max_output_chars": max_chars,
    });
    match &def.pagination {
        Some(p) => {
            let token = encode(&Resume {
                provider_token: resume.provider_token.clone(),
                offset: resume.offset + keep,
            });
            output
                .metadata
                .insert(p.next_token_metadata.clone(), json!(token));
            truncated["next"] = json!(format!(
                "call again with the same arguments and `{}` set to metadata.{}",
                p.token_param, p.next_token_metadata
            ));
        }
        None => {
            truncated["next"] = json!(
                "this action does not page: narrow the call (fewer ids, a filter) to get the records left out"
            );
        }
    }
    output.metadata.insert("truncated".into(), truncated);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn paged() -> ActionSpec {
        serde_json::from_value(json!({
            "description": "d", "params": {"type": "object"}, "result": {"type": "array"},
            "handler": "h", "idempotent": true,
            "pagination": {"token_param": "page_token", "next_token_metadata": "next_page_token"}
        }))
        .unwrap()
    }

    fn output(n: usize, next: Option<&str>) -> Output {
        let mut metadata = Map::new();
        if let Some(t) = next {
            metadata.insert("next_page_token".into(), json!(t));
        }
        Output {
            result: Value::Array(
                (0..n)
                    .map(|i| json!({"id": format!("m{i:03}"), "pad": "x".repeat(80)}))
                    .collect(),
            ),
            metadata,
        }
    }

    fn ids(o: &Output) -> Vec<String> {
        o.result
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Simulates a provider with pages of 10 records (`p1`, `p2`, then none) and follows the
    /// tokens the budget hands out.
    #[test]
    fn following_the_tokens_returns_every_record_once() {
        let def = paged();
        let mut seen = Vec::new();
        let mut params = json!({});
        for _ in 0..100 {
            let resume = unwrap_params(&def, &mut params).unwrap();
            let (start, next) = match params.get("page_token").and_then(Value::as_str) {
                None => (0, Some("p1")),
                Some("p1") => (10, Some("p2")),
                Some("p2") => (20, None),
                other => panic!("unexpected provider token {other:?}"),
            };
            let mut out = output(10, next);
            for r in out.result.as_array_mut().unwrap() {
                let i: usize = r["id"].as_str().unwrap()[1..].parse().unwrap();
                r["id"] = json!(format!("m{:03}", start + i));
            }
            apply(&def, &mut out, &resume, 350);
            assert!(out.result.to_string().len() <= 350 || ids(&out).len() == 1);
            seen.extend(ids(&out));
            match out.metadata.get("next_page_token").and_then(Value::as_str) {
                Some(t) => params = json!({"page_token": t}),
                None => break,
            }
        }
        let expected: Vec<String> = (0..30).map(|i| format!("m{i:03}")).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_result_within_budget_is_untouched() {
        let def = paged();
        let mut out = output(3, Some("p1"));
        let before = out.clone();
        apply(
            &def,
            &mut out,
            &Resume {
                provider_token: None,
                offset: 0,
            },
            10_000,
        );
        assert_eq!(out.result, before.result);
        assert_eq!(out.metadata, before.metadata);
    }

    #[test]
    fn one_record_over_budget_comes_whole() {
        let def = paged();
        let mut out = output(2, None);
        apply(
            &def,
            &mut out,
            &Resume {
                provider_token: None,
                offset: 0,
            },
            10,
        );
        assert_eq!(ids(&out), ["m000"]);
        assert!(out.metadata["next_page_token"]
            .as_str()
            .unwrap()
            .starts_with(TOKEN_PREFIX));
    }

    #[test]
    fn a_damaged_token_is_invalid_params() {
        let mut params = json!({"page_token": "mcp1.!!"});
        let e = unwrap_params(&paged(), &mut params).unwrap_err();
        assert_eq!(e.code, connector_core::ErrorCode::InvalidParams);
    }
}
