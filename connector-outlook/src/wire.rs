//! Wire helpers: path segments, page and delta tokens carried from `@odata.nextLink` /
//! `@odata.deltaLink`, and reading Graph answers.

use base64::Engine;
pub use connector_core::wire::path_segment as seg;
use connector_core::{ConnectorError, ErrorCode, ProviderRequest, ProviderResponse, Result};
use serde_json::Value;

/// Graph's well-known folder names.
const WELL_KNOWN: &[&str] = &[
    "inbox",
    "sentitems",
    "drafts",
    "deleteditems",
    "archive",
    "junkemail",
    "outbox",
    "msgfolderroot",
    "clutter",
    "conversationhistory",
    "recoverableitemsdeletions",
    "scheduled",
    "searchfolders",
    "serverfailures",
    "syncissues",
];

pub fn is_well_known(folder: &str) -> bool {
    WELL_KNOWN.contains(&folder.to_ascii_lowercase().as_str())
}

/// Well-known folder names go lower case on the wire; ids unchanged.
pub fn folder_seg(folder: &str) -> String {
    if is_well_known(folder) {
        folder.to_ascii_lowercase()
    } else {
        seg(folder)
    }
}

/// An opaque token for a Graph link: the link's path and query after `/v1.0`, base64url.
pub fn token_from_link(link: &str) -> Option<String> {
    let url = url::Url::parse(link).ok()?;
    let path = url.path();
    let rel = path.strip_prefix("/v1.0").unwrap_or(path);
    let rel = match url.query() {
        Some(q) => format!("{rel}?{q}"),
        None => rel.to_string(),
    };
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rel))
}

/// The request a token stands for. Only `/me/...` links are accepted, so a token can never
/// point the connector (and its bearer token) at another host.
pub fn request_from_token(token: &str, param: &str) -> Result<ProviderRequest> {
    let bad = || {
        ConnectorError::invalid_params(format!(
            "`{param}` is not a token this action returned; pass metadata.{param_meta} from a previous call unchanged, or omit it to start over",
            param_meta = if param == "delta_token" { "delta_token" } else { "next_page_token" }
        ))
        .with_details(serde_json::json!({"errors": [{"pointer": format!("/{param}"), "message": "not a valid token"}]}))
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let rel = String::from_utf8(raw).map_err(|_| bad())?;
    if !rel.starts_with("/me/") || rel.contains("://") || rel.contains("..") {
        return Err(bad());
    }
    let (path, query) = rel.split_once('?').unwrap_or((rel.as_str(), ""));
    let mut req = ProviderRequest::get(path.to_string());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        req = req.query(k.into_owned(), v.into_owned());
    }
    Ok(req)
}

/// The records of every page of a collection, following `@odata.nextLink` for at most
/// `max_pages` pages.
pub async fn all_pages(
    cx: &connector_core::CallContext<'_>,
    first: ProviderRequest,
    max_pages: usize,
) -> Result<Vec<Value>> {
    let mut req = first;
    let mut all = Vec::new();
    for _ in 0..max_pages {
        let v = body(&cx.send(req).await?)?;
        all.extend(values(&v));
        match v
            .get("@odata.nextLink")
            .and_then(Value::as_str)
            .and_then(token_from_link)
        {
            Some(t) => req = request_from_token(&t, "page_token")?,
            None => break,
        }
    }
    Ok(all)
}

pub fn body(resp: &ProviderResponse) -> Result<Value> {
    resp.json::<Value>()
}

/// The `value` array of a collection answer.
pub fn values(v: &Value) -> Vec<Value> {
    v.get("value")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The provider status a core error carries, if it came from an HTTP answer.
pub fn provider_status(e: &ConnectorError) -> Option<u64> {
    e.details.get("provider_status").and_then(Value::as_u64)
}

/// 410 on a delta link: the token expired.
pub fn delta_error(e: ConnectorError) -> ConnectorError {
    if provider_status(&e) == Some(410) || e.code == ErrorCode::SyncRequired {
        let details = e.details.clone();
        ConnectorError::new(
            ErrorCode::SyncRequired,
            "the delta token has expired: call messages.delta again without delta_token (a full sync) and keep the new token",
        )
        .with_details(details)
    } else {
        e
    }
}

/// The error code for a failed `$batch` part's HTTP status.
pub fn code_for_status(status: u64) -> ErrorCode {
    match status {
        400 => ErrorCode::InvalidParams,
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::PermissionDenied,
        404 => ErrorCode::NotFound,
        410 => ErrorCode::SyncRequired,
        413 => ErrorCode::PayloadTooLarge,
        429 => ErrorCode::RateLimited,
        500..=599 => ErrorCode::ProviderUnavailable,
        _ => ErrorCode::ProviderError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_stay_on_graph() {
        let t = token_from_link(
            "https://graph.microsoft.com/v1.0/me/mailFolders/inbox/messages?%24top=10&%24skip=10",
        )
        .unwrap();
        let req = request_from_token(&t, "page_token").unwrap();
        assert_eq!(req.path, "/me/mailFolders/inbox/messages");
        assert_eq!(
            req.query,
            vec![
                ("$top".to_string(), "10".to_string()),
                ("$skip".to_string(), "10".to_string())
            ]
        );
        let evil =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("https://evil.example/me/x");
        assert!(request_from_token(&evil, "page_token").is_err());
        assert!(request_from_token("not base64!", "page_token").is_err());
    }

    #[test]
    fn segments_are_escaped_but_well_known_names_kept() {
        assert_eq!(seg("AAMk/a+b="), "AAMk%2Fa%2Bb=");
        assert_eq!(folder_seg("Inbox"), "inbox");
        assert_eq!(folder_seg("AQMkA-x_y="), "AQMkA-x_y=");
    }
}
