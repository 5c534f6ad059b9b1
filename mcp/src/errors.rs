//! Core's errors as MCP tool errors: `isError: true` with the code, the message, the fix hint
//! from core's table and the details, as text the model reads and as structured data.

use connector_core::ConnectorError;
use serde_json::{json, Value};

/// The `CallToolResult` of a failed call.
pub fn tool_error(e: &ConnectorError) -> Value {
    let body = e.to_body();
    let error = &body["error"];
    let mut text = format!(
        "Error {}: {}\nWhat to do: {}",
        e.code.as_str(),
        e.message,
        e.code.hint()
    );
    if error["details"].as_object().is_some_and(|d| !d.is_empty()) {
        text.push_str(&format!("\nDetails: {}", error["details"]));
    }
    json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
        "_meta": {"error": {"code": e.code.as_str(), "message": e.message,
            "hint": e.code.hint(), "details": error["details"]}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::ErrorCode;

    #[test]
    fn needs_reauth_says_what_the_user_must_do() {
        let e = ConnectorError::new(ErrorCode::NeedsReauth, "the refresh token was revoked");
        let r = tool_error(&e);
        assert_eq!(r["isError"], true);
        let text = r["content"][0]["text"].as_str().unwrap();
        assert!(text.starts_with("Error needs_reauth: the refresh token was revoked"));
        assert!(
            text.contains("must authorize this connector again"),
            "{text}"
        );
        assert_eq!(r["_meta"]["error"]["code"], "needs_reauth");
    }

    #[test]
    fn details_are_kept() {
        let e = ConnectorError::invalid_field("/to/0", "not an address");
        let r = tool_error(&e);
        assert_eq!(
            r["_meta"]["error"]["details"]["errors"][0]["pointer"],
            "/to/0"
        );
        assert!(r["content"][0]["text"].as_str().unwrap().contains("/to/0"));
    }
}
