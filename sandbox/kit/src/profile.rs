//! What the kit needs to know about a provider, given as data by each emulator crate: token
//! shapes, scope naming, the OAuth endpoints' answers and its error bodies.

use std::collections::HashMap;
use std::time::Duration;

use axum::response::Response;
use serde_json::Value;

use crate::quota::QuotaRules;

/// A provider's facts.
pub struct Profile {
    /// `gmail`, `outlook`: names the emulator in logs and introspection requests.
    pub name: &'static str,
    /// Prefixes of the tokens the authority issues (`ya29.`, `1//`, `EwB...`).
    pub access_token_prefix: &'static str,
    pub refresh_token_prefix: &'static str,
    pub code_prefix: &'static str,
    /// Lifetime of issued access tokens until changed.
    pub access_ttl: Duration,
    /// Quotas and throttling, per user, when switched on.
    pub quota: QuotaRules,
    /// Whether refreshes rotate refresh tokens unless configured.
    pub rotates_refresh_tokens: bool,
    /// The configured latency delays each HTTP request (true), or each API call, which the
    /// emulator applies itself with [`crate::Kit::call_latency`] (false: a `$batch` pays it per
    /// part).
    pub latency_per_request: bool,
    /// A scope as the provider names it in grants (`gmail.readonly` -> Google's full URL;
    /// `https://graph.microsoft.com/Mail.Read` -> `Mail.Read`).
    pub normalize_scope: fn(&str) -> String,
    /// The introspection claims that name the user, first present wins.
    pub user_claims: &'static [&'static str],
    /// Whether an authorization request (its query, its normalized scopes) asks for a refresh
    /// token (Google: `access_type=offline`; Microsoft: the `offline_access` scope).
    pub wants_refresh_token: fn(&HashMap<String, String>, &[String]) -> bool,
    /// The token endpoint's success body.
    pub token_body: fn(&Issued) -> Value,
    /// Headers of every token endpoint answer (e.g. `cache-control`).
    pub token_headers: &'static [(&'static str, &'static str)],
    /// The token endpoint's error answer: (status, body).
    pub token_error: fn(TokenFailure) -> (u16, Value),
    /// What the consent screen does with a bad request.
    pub authorize_error: fn(AuthorizeFailure) -> AuthorizeError,
    /// Extra pairs of the redirect after consent (after `code`), e.g. Google's `scope`.
    pub consent_params: fn(&[String]) -> Vec<(&'static str, String)>,
    /// The pairs of the redirect when consent is denied.
    pub denied_params: &'static [(&'static str, &'static str)],
    /// The interactive consent screen (when the kit is told to show one).
    pub consent_screen: ConsentScreen,
    /// The answer of an injected status fault, in the provider's error shape.
    pub fault_response: fn(u16) -> Response,
}

/// Tokens just issued by the token endpoint.
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub ttl: Duration,
    /// Normalized scopes of the grant (empty: every scope).
    pub scopes: Vec<String>,
}

/// Why the token endpoint refuses a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    MissingClientId,
    MissingGrantType,
    UnsupportedGrantType(String),
    MissingRefreshToken,
    /// Unknown, revoked or rotated away.
    BadRefreshToken,
    /// Unknown or already redeemed.
    BadCode,
    ExpiredCode,
    RedirectMismatch,
    MissingVerifier,
    BadVerifier,
}

/// Why the consent screen refuses a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeFailure {
    MissingRedirectUri,
    MissingClientId,
    UnsupportedResponseType,
    MissingScope,
    UnsupportedChallengeMethod,
}

/// How the provider's consent screen looks to the end user, in the kit's interactive consent
/// mode ([`crate::SandboxConfig::interactive_consent`]); see docs/provider-behaviour.md.
#[derive(Debug, Clone, Copy)]
pub struct ConsentScreen {
    /// The page's heading.
    pub title: &'static str,
    /// Each scope has its own checkbox that the end user may untick (Google's granular
    /// consent); else the set is accepted or cancelled whole (Microsoft).
    pub granular: bool,
    /// The label of the button that grants.
    pub accept: &'static str,
    /// The label of the button that declines.
    pub cancel: &'static str,
}

/// How the consent screen reports a failure.
pub enum AuthorizeError {
    /// An error page (the browser stays at the provider).
    Page(Response),
    /// Back to the client's `redirect_uri` with these pairs (and `state`).
    Redirect(Vec<(&'static str, String)>),
}
