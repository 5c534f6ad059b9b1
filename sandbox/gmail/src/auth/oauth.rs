//! Google-shaped OAuth endpoints: `/token` (refresh_token and authorization_code grants, PKCE
//! S256) and the consent screen `/o/oauth2/v2/auth`, approved at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;

use super::{expand_scope, random_token, Auth, Grant};

impl Auth {
    /// The `/token` endpoint: (status, JSON body). Grants: `refresh_token` and
    /// `authorization_code` (codes from [`Auth::authorize`], PKCE S256 checked).
    pub fn token_endpoint(&mut self, form: &HashMap<String, String>) -> (u16, Value) {
        let bad = |code: &str, desc: &str| (400, json!({"error": code, "error_description": desc}));
        if form.get("client_id").is_none_or(|c| c.is_empty()) {
            return bad(
                "invalid_request",
                "Could not determine client ID from request.",
            );
        }
        match form.get("grant_type").map(String::as_str) {
            Some("refresh_token") => self.refresh_grant(form),
            Some("authorization_code") => self.code_grant(form),
            Some(other) => bad(
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            ),
            None => bad("invalid_request", "Missing required parameter: grant_type"),
        }
    }

    fn access_body(&mut self, grant: &Grant) -> Value {
        let access = random_token("ya29.sandbox-");
        self.access.insert(
            access.clone(),
            (grant.clone(), Instant::now() + self.access_ttl),
        );
        json!({
            "access_token": access,
            "expires_in": self.access_ttl.as_secs(),
            "scope": grant.scopes.clone().unwrap_or_default().join(" "),
            "token_type": "Bearer",
        })
    }

    fn refresh_grant(&mut self, form: &HashMap<String, String>) -> (u16, Value) {
        let bad = |code: &str, desc: &str| (400, json!({"error": code, "error_description": desc}));
        let Some(rt) = form.get("refresh_token").filter(|r| !r.is_empty()) else {
            return bad(
                "invalid_request",
                "Missing required parameter: refresh_token",
            );
        };
        let Some(grant) = self.refresh.get(rt).cloned() else {
            return bad("invalid_grant", "Token has been expired or revoked.");
        };
        let mut body = self.access_body(&grant);
        if self.rotate {
            self.refresh.remove(rt);
            let new_rt = random_token("1//sandbox-");
            self.refresh.insert(new_rt.clone(), grant);
            body["refresh_token"] = json!(new_rt);
        }
        (200, body)
    }

    fn code_grant(&mut self, form: &HashMap<String, String>) -> (u16, Value) {
        let bad = |code: &str, desc: &str| (400, json!({"error": code, "error_description": desc}));
        let Some(code) = form.get("code").and_then(|c| self.codes.remove(c)) else {
            return bad("invalid_grant", "Malformed auth code.");
        };
        if code.expires < Instant::now() {
            return bad("invalid_grant", "Bad Request");
        }
        if form.get("redirect_uri") != Some(&code.redirect_uri) {
            return bad("redirect_uri_mismatch", "Bad Request");
        }
        if let Some(challenge) = &code.code_challenge {
            let Some(verifier) = form.get("code_verifier") else {
                return bad("invalid_grant", "Missing code verifier.");
            };
            let digest = sha2::Sha256::digest(verifier.as_bytes());
            if base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) != *challenge {
                return bad("invalid_grant", "Invalid code verifier.");
            }
        }
        let mut body = self.access_body(&code.grant);
        if code.offline {
            let rt = random_token("1//sandbox-");
            self.refresh.insert(rt.clone(), code.grant.clone());
            body["refresh_token"] = json!(rt);
        }
        (200, body)
    }

    /// The consent screen, answered at once: `Ok(redirect location)` with `code` and `state`
    /// (or `error=access_denied` when consent is set to be denied), `Err(message)` for a
    /// request that cannot be redirected.
    pub fn authorize(
        &mut self,
        q: &HashMap<String, String>,
        known_user: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let redirect = q
            .get("redirect_uri")
            .filter(|r| !r.is_empty())
            .ok_or("Missing required parameter: redirect_uri")?;
        if q.get("client_id").is_none_or(|c| c.is_empty()) {
            return Err("Missing required parameter: client_id".into());
        }
        if q.get("response_type").map(String::as_str) != Some("code") {
            return Err("Unsupported response_type: only code is supported".into());
        }
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        if self.deny_consent {
            out.append_pair("error", "access_denied");
        } else {
            let scopes: Vec<String> = q
                .get("scope")
                .map(|s| s.split_whitespace().map(expand_scope).collect())
                .unwrap_or_default();
            if scopes.is_empty() {
                return Err("Missing required parameter: scope".into());
            }
            let user = q
                .get("login_hint")
                .filter(|h| known_user(h))
                .cloned()
                .unwrap_or_else(|| self.default_user.clone());
            let code = random_token("4/0sandbox-");
            let challenge = match (
                q.get("code_challenge"),
                q.get("code_challenge_method").map(String::as_str),
            ) {
                (Some(c), Some("S256")) => Some(c.clone()),
                (Some(_), _) => return Err("Only code_challenge_method=S256 is supported".into()),
                (None, _) => None,
            };
            self.codes.insert(
                code.clone(),
                PendingCode {
                    grant: Grant {
                        user: user.to_ascii_lowercase(),
                        scopes: Some(scopes.clone()),
                    },
                    redirect_uri: redirect.clone(),
                    code_challenge: challenge,
                    offline: q.get("access_type").map(String::as_str) == Some("offline"),
                    expires: Instant::now() + Duration::from_secs(600),
                },
            );
            out.append_pair("code", &code);
            out.append_pair("scope", &scopes.join(" "));
        }
        if let Some(state) = q.get("state") {
            out.append_pair("state", state);
        }
        let sep = if redirect.contains('?') { '&' } else { '?' };
        Ok(format!("{redirect}{sep}{}", out.finish()))
    }
}

/// An authorization code waiting to be exchanged.
pub(crate) struct PendingCode {
    grant: Grant,
    redirect_uri: String,
    code_challenge: Option<String>,
    offline: bool,
    expires: Instant,
}
