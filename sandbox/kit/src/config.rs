//! How to start an emulator: one configuration type for every provider, and the one `--token`
//! syntax.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use connector_core::Secret;

/// Which mailbox content an emulator starts with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Seed {
    /// The demo mailboxes of `ada@example.com` and `grace@example.com`.
    #[default]
    Demo,
    /// `n` generated messages for `ada@example.com` (grace's mailbox empty).
    Count(usize),
    /// Both users, no messages.
    Empty,
}

impl FromStr for Seed {
    type Err = String;
    /// `demo`, `empty` or a number.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "demo" => Ok(Seed::Demo),
            "empty" => Ok(Seed::Empty),
            n => n
                .parse()
                .map(Seed::Count)
                .map_err(|_| format!("seed must be demo, empty or a number, not {n:?}")),
        }
    }
}

/// A bearer token an emulator accepts, for one user with these scopes, as given (short names
/// like `gmail.readonly` / `Mail.Read`, or full URLs; each emulator reads them its provider's
/// way). No scope, or `*`, means every scope.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRule {
    pub token: String,
    pub user: String,
    pub scopes: Vec<String>,
}

impl TokenRule {
    pub fn new(token: impl Into<String>, user: impl Into<String>, scopes: &[&str]) -> TokenRule {
        TokenRule {
            token: token.into(),
            user: user.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// True when the rule grants every scope.
    pub fn every_scope(&self) -> bool {
        self.scopes.is_empty() || self.scopes.iter().any(|s| s == "*")
    }
}

impl fmt::Debug for TokenRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRule")
            .field("token", &"[redacted]")
            .field("user", &self.user)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl FromStr for TokenRule {
    type Err = String;
    /// The CLI form `TOKEN=user:scope,scope` (`TOKEN=user` or `TOKEN=user:*` gives every
    /// scope; scopes are separated by commas or spaces).
    fn from_str(spec: &str) -> Result<TokenRule, String> {
        let (token, rest) = spec
            .split_once('=')
            .ok_or("expected TOKEN=user:scope,scope")?;
        let (user, scopes) = rest.split_once(':').unwrap_or((rest, "*"));
        if token.is_empty() || !user.contains('@') {
            return Err("expected TOKEN=user@domain:scope,scope".into());
        }
        let scopes: Vec<&str> = scopes
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        Ok(TokenRule::new(token, user, &scopes))
    }
}

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on; default `127.0.0.1:0` (a free port).
    pub bind: SocketAddr,
    pub seed: Seed,
    /// When empty, any non-empty bearer token is the default user with every scope.
    pub tokens: Vec<TokenRule>,
    /// The provider's quotas and throttling (on by default; off for benchmarks).
    pub quotas: bool,
    /// Every refresh returns a new refresh token and retires the old one. `None`: the
    /// provider's habit (Microsoft rotates, Google does not).
    pub rotate_refresh_tokens: Option<bool>,
    /// Delay added to every answer.
    pub latency: Option<Duration>,
    /// Trust an outside issuer: unknown bearer tokens are looked up at this URL (RFC 7662
    /// `POST token=...`, or Google's tokeninfo answer) instead of being the default user.
    pub introspection_url: Option<String>,
    /// The emulator's own client credentials at the issuer, sent with every introspection
    /// request as HTTP Basic (`client_secret_basic`, RFC 7662 section 2.1): issuers such as
    /// oidc-provider answer authenticated resource servers only. No secret: the id alone.
    pub introspection_client_id: Option<String>,
    pub introspection_client_secret: Option<Secret>,
    /// When set, an active token is accepted only if its `aud` (a string or an array) names
    /// this audience (the API's resource indicator, e.g. `https://graph.microsoft.com/`).
    pub introspection_audience: Option<String>,
    /// The consent screen is an HTML page on which a person decides, as at the provider:
    /// Google's lists each scope with a checkbox (granular consent), Microsoft's accepts or
    /// cancels the whole set. Off (approve at once) by default, for programs and tests;
    /// `connectors serve --sandbox` turns it on.
    pub interactive_consent: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: Seed::Demo,
            tokens: Vec::new(),
            quotas: true,
            rotate_refresh_tokens: None,
            latency: None,
            introspection_url: None,
            introspection_client_id: None,
            introspection_client_secret: None,
            introspection_audience: None,
            interactive_consent: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_syntax_reads_user_and_scopes() {
        let r: TokenRule = "tok=grace@example.com:gmail.readonly,gmail.send"
            .parse()
            .unwrap();
        assert_eq!(r.token, "tok");
        assert_eq!(r.user, "grace@example.com");
        assert_eq!(r.scopes, ["gmail.readonly", "gmail.send"]);
        assert!(!r.every_scope());
        let r: TokenRule = "tok=ada@example.com:Mail.Read Mail.Send".parse().unwrap();
        assert_eq!(r.scopes, ["Mail.Read", "Mail.Send"]);
        let r: TokenRule = "tok=ada@example.com".parse().unwrap();
        assert!(r.every_scope());
        let r: TokenRule = "tok=ada@example.com:*".parse().unwrap();
        assert!(r.every_scope());
        assert!("tok".parse::<TokenRule>().is_err());
        assert!("=ada@example.com:x".parse::<TokenRule>().is_err());
        assert!("tok=ada:x".parse::<TokenRule>().is_err());
    }

    #[test]
    fn a_token_rule_never_prints_its_token() {
        let r = TokenRule::new("secret-token", "ada@example.com", &[]);
        assert!(!format!("{r:?}").contains("secret-token"));
    }

    #[test]
    fn seeds_parse() {
        assert_eq!("demo".parse::<Seed>().unwrap(), Seed::Demo);
        assert_eq!("empty".parse::<Seed>().unwrap(), Seed::Empty);
        assert_eq!("12".parse::<Seed>().unwrap(), Seed::Count(12));
        assert!("many".parse::<Seed>().is_err());
    }
}
