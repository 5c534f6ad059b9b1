//! Callers and scopes: the kit's token authority resolves a bearer token, this module turns
//! the grant into a Graph caller and its refusals into Graph's 401 messages.

use std::sync::atomic::Ordering;

use axum::http::HeaderMap;
use sandbox_kit::Rejection;

use super::reply::{self, Reply};
use super::state::Inner;

/// Who is calling, with which scopes (`None`: every scope).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    pub scopes: Option<Vec<String>>,
}

impl Caller {
    /// True when the caller holds any of `needed` (short names like `Mail.Read`).
    pub fn has_any(&self, needed: &[&str]) -> bool {
        match &self.scopes {
            None => true,
            Some(have) => needed
                .iter()
                .any(|n| have.iter().any(|h| h.eq_ignore_ascii_case(n))),
        }
    }
}

/// `https://graph.microsoft.com/Mail.Read` -> `Mail.Read`.
pub fn short_scope(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_string()
}

impl Inner {
    /// Resolves the `Authorization` header to a caller, or a 401 (an unknown token was
    /// looked up at the trusted issuer by the kit's pipeline, when one is configured).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Reply> {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .unwrap_or("");
        let result = match self.kit.authenticate(token) {
            Ok(g) => Ok(Caller {
                user: g.user,
                scopes: g.scopes,
            }),
            Err(Rejection::Empty) => Err(reply::unauthorized("Access token is empty.")),
            Err(Rejection::Expired) => Err(reply::unauthorized(
                "Lifetime validation failed, the token is expired.",
            )),
            Err(Rejection::Unknown) => Err(reply::unauthorized(
                "IDX14100: JWT is not well formed, there are no dots (.).",
            )),
        };
        if result.is_err() {
            self.unauthorized.fetch_add(1, Ordering::SeqCst);
        }
        result
    }
}
