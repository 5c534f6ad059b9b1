//! The token authority both emulators share: token rules, issued access and refresh tokens,
//! authorization codes (PKCE S256), rotation, revocation and expiry.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine;
use rand::Rng;
use sha2::Digest;

use crate::profile::{Issued, Profile, TokenFailure};

/// Who a token speaks for and what it may do (`scopes: None`: every scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The emulator's canonical user (lowercase address).
    pub user: String,
    /// Normalized by the provider's profile.
    pub scopes: Option<Vec<String>>,
}

/// Why a bearer token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    /// Issued but expired, or invalidated by `expire_access_tokens` / revocation.
    Expired,
    /// Never issued and no rule names it.
    Unknown,
}

/// An authorization code waiting for the token endpoint.
pub(crate) struct PendingCode {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub refresh: bool,
    pub expires: Instant,
}

pub(crate) struct Authority {
    profile: &'static Profile,
    pub default_user: String,
    rules: HashMap<String, Grant>,
    access: HashMap<String, (Grant, Instant)>,
    /// Access tokens that no longer work (expired by a control or revoked).
    retired: HashSet<String>,
    refresh: HashMap<String, Grant>,
    codes: HashMap<String, PendingCode>,
    pub rotate: bool,
    pub access_ttl: Duration,
    pub deny_consent: bool,
    /// The consent screen is a page with the provider's choices (else it approves at once).
    pub interactive_consent: bool,
    /// Unknown tokens are checked at an introspection URL instead of being the default user.
    pub introspection: bool,
}

/// A random token with the provider's prefix.
pub fn random_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::thread_rng().gen();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

impl Authority {
    pub fn new(
        profile: &'static Profile,
        default_user: &str,
        rules: HashMap<String, Grant>,
        rotate: bool,
        introspection: bool,
    ) -> Authority {
        Authority {
            profile,
            default_user: default_user.to_string(),
            rules,
            access: HashMap::new(),
            retired: HashSet::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            rotate,
            access_ttl: profile.access_ttl,
            deny_consent: false,
            interactive_consent: false,
            introspection,
        }
    }

    /// Resolves a bearer token: issued access tokens, then configured rules, then (with no
    /// rules and no trusted issuer) any non-empty token as the default user with every scope.
    pub fn authenticate(&self, bearer: &str) -> Result<Grant, Rejection> {
        if bearer.is_empty() {
            return Err(Rejection::Empty);
        }
        if self.retired.contains(bearer) {
            return Err(Rejection::Expired);
        }
        if let Some((g, exp)) = self.access.get(bearer) {
            return if Instant::now() < *exp {
                Ok(g.clone())
            } else {
                Err(Rejection::Expired)
            };
        }
        if let Some(g) = self.rules.get(bearer) {
            return Ok(g.clone());
        }
        if self.rules.is_empty() && !self.introspection {
            return Ok(Grant {
                user: self.default_user.clone(),
                scopes: None,
            });
        }
        Err(Rejection::Unknown)
    }

    /// True when the token is an unexpired issued token or a rule's.
    pub fn is_known(&self, bearer: &str) -> bool {
        self.access
            .get(bearer)
            .is_some_and(|(_, exp)| Instant::now() < *exp)
            || self.rules.contains_key(bearer)
    }

    pub fn insert_access(&mut self, bearer: &str, grant: Grant, ttl: Duration) {
        self.retired.remove(bearer);
        self.access
            .insert(bearer.to_string(), (grant, Instant::now() + ttl));
    }

    pub fn issue_access(&mut self, grant: Grant) -> String {
        let token = random_token(self.profile.access_token_prefix);
        let ttl = self.access_ttl;
        self.insert_access(&token, grant, ttl);
        token
    }

    pub fn issue_refresh(&mut self, grant: Grant) -> String {
        let token = random_token(self.profile.refresh_token_prefix);
        self.refresh.insert(token.clone(), grant);
        token
    }

    pub fn revoke_refresh(&mut self, token: &str) -> bool {
        self.refresh.remove(token).is_some()
    }

    pub fn revoke_access(&mut self, token: &str) {
        self.access.remove(token);
        self.retired.insert(token.to_string());
    }

    /// Every access token issued so far stops working (the next call answers 401).
    pub fn expire_access_tokens(&mut self) {
        let issued: Vec<String> = self.access.drain().map(|(t, _)| t).collect();
        self.retired.extend(issued);
    }

    pub fn add_code(&mut self, code: PendingCode) -> String {
        let token = random_token(self.profile.code_prefix);
        self.codes.insert(token.clone(), code);
        token
    }

    /// The token endpoint's grants: `refresh_token` (rotating when switched on) and
    /// `authorization_code` (PKCE S256 checked).
    pub fn token(&mut self, form: &HashMap<String, String>) -> Result<Issued, TokenFailure> {
        if form.get("client_id").is_none_or(|c| c.is_empty()) {
            return Err(TokenFailure::MissingClientId);
        }
        match form.get("grant_type").map(String::as_str) {
            Some("refresh_token") => self.refresh_grant(form),
            Some("authorization_code") => self.code_grant(form),
            None | Some("") => Err(TokenFailure::MissingGrantType),
            Some(other) => Err(TokenFailure::UnsupportedGrantType(other.to_string())),
        }
    }

    fn issued(&mut self, grant: &Grant, refresh_token: Option<String>) -> Issued {
        let access_token = self.issue_access(grant.clone());
        Issued {
            access_token,
            refresh_token,
            ttl: self.access_ttl,
            scopes: grant.scopes.clone().unwrap_or_default(),
        }
    }

    fn refresh_grant(&mut self, form: &HashMap<String, String>) -> Result<Issued, TokenFailure> {
        let rt = form
            .get("refresh_token")
            .filter(|r| !r.is_empty())
            .ok_or(TokenFailure::MissingRefreshToken)?;
        let grant = self
            .refresh
            .get(rt)
            .cloned()
            .ok_or(TokenFailure::BadRefreshToken)?;
        let next = if self.rotate {
            self.refresh.remove(rt);
            Some(self.issue_refresh(grant.clone()))
        } else {
            None
        };
        Ok(self.issued(&grant, next))
    }

    fn code_grant(&mut self, form: &HashMap<String, String>) -> Result<Issued, TokenFailure> {
        let code = form
            .get("code")
            .and_then(|c| self.codes.remove(c))
            .ok_or(TokenFailure::BadCode)?;
        if code.expires < Instant::now() {
            return Err(TokenFailure::ExpiredCode);
        }
        if form.get("redirect_uri") != Some(&code.redirect_uri) {
            return Err(TokenFailure::RedirectMismatch);
        }
        if let Some(challenge) = &code.code_challenge {
            let verifier = form
                .get("code_verifier")
                .filter(|v| !v.is_empty())
                .ok_or(TokenFailure::MissingVerifier)?;
            let digest = sha2::Sha256::digest(verifier.as_bytes());
            if base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) != *challenge {
                return Err(TokenFailure::BadVerifier);
            }
        }
        let refresh = code.refresh.then(|| self.issue_refresh(code.grant.clone()));
        Ok(self.issued(&code.grant, refresh))
    }
}
