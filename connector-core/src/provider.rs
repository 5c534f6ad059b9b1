//! The provider descriptor: everything the rest of the system (server, Python bindings) needs to
//! know about one connector type, in one value that the provider crate exports.
//!
//! The server's registry, its OAuth flow, its `[providers.<type>]` config and the Python
//! bindings loop over a list of these; none of them names a provider. Adding a connector type is
//! a crate that exports a [`ProviderDescriptor`] plus one line in that list.
//!
//! ```
//! # use connector_core::provider::*;
//! fn token_url(_tenant: &str) -> String { "https://auth.example.com/token".into() }
//! fn authorize_url(_tenant: &str) -> String { "https://auth.example.com/authorize".into() }
//! # fn spec() -> std::sync::Arc<connector_core::CompiledSpec> { unimplemented!() }
//! # fn connector(
//! #     _t: std::sync::Arc<dyn connector_core::TokenProvider>,
//! #     _h: connector_core::HttpConfig,
//! # ) -> connector_core::Result<connector_core::Connector> { unimplemented!() }
//! pub static PROVIDER: ProviderDescriptor = ProviderDescriptor {
//!     name: "notes",
//!     definition_id: "00000000-0000-4000-8000-000000000001",
//!     spec,
//!     connector,
//!     api_base_url: "https://api.example.com",
//!     oauth: OAuthEndpoints { authorize_url, token_url, revoke_url: None, default_tenant: None },
//!     scopes: ScopeSets { full: &["notes"], read: &["notes.read"], send: &[], modify: &["notes"], labels: &[], calendar: &[], calendar_read: &[], granted_prefix: None },
//!     consent_params: &[],
//!     refresh: RefreshRules { scopes_on_refresh: false, rotates_refresh_tokens: false, client_secret_required: true },
//!     changes: None,
//! };
//! ```

use std::sync::Arc;

use crate::{CompiledSpec, Connector, HttpConfig, Result, TokenProvider};

/// Builds a connector from a token provider and HTTP settings (`http.base_url` is the API root).
pub type ConnectorFactory = fn(Arc<dyn TokenProvider>, HttpConfig) -> Result<Connector>;

/// One connector type, as the rest of the system sees it.
#[derive(Debug)]
pub struct ProviderDescriptor {
    /// The connector type name (`gmail`, `outlook`): the API's `connector_type`, the config's
    /// `[providers.<name>]` section and its `CONNECTORS_<NAME>_*` environment variables.
    pub name: &'static str,
    /// Stable definition id (the API's `definition_id`).
    pub definition_id: &'static str,
    /// The compiled spec (compiled once per process by the provider crate).
    pub spec: fn() -> Arc<CompiledSpec>,
    /// How to build the connector.
    pub connector: ConnectorFactory,
    /// Default API root (`HttpConfig::base_url`); every deployment may override it.
    pub api_base_url: &'static str,
    /// The OAuth 2.0 endpoints.
    pub oauth: OAuthEndpoints,
    /// Scopes to ask for at consent, per capability.
    pub scopes: ScopeSets,
    /// Extra query parameters of the consent (authorize) URL, e.g. Google's
    /// `access_type=offline` (a refresh token) and `prompt=consent`.
    pub consent_params: &'static [(&'static str, &'static str)],
    /// How refresh tokens behave.
    pub refresh: RefreshRules,
    /// How the server learns what changed in a mailbox (events), when the provider can say.
    pub changes: Option<&'static dyn crate::changes::MailChanges>,
}

/// The provider's OAuth 2.0 endpoints, each a function of the directory tenant. Providers
/// without tenants ([`OAuthEndpoints::default_tenant`] `None`) ignore it.
#[derive(Debug, Clone, Copy)]
pub struct OAuthEndpoints {
    /// The consent (authorize) endpoint for a tenant.
    pub authorize_url: fn(&str) -> String,
    /// The token endpoint for a tenant.
    pub token_url: fn(&str) -> String,
    /// The RFC 7009 revocation endpoint, when the provider has one.
    pub revoke_url: Option<&'static str>,
    /// `Some(default)` when the endpoints depend on a directory tenant (Microsoft: `common`,
    /// `organizations`, `consumers` or a tenant id); `None` when there are no tenants.
    pub default_tenant: Option<&'static str>,
}

impl OAuthEndpoints {
    /// The endpoints depend on a tenant.
    pub fn has_tenants(&self) -> bool {
        self.default_tenant.is_some()
    }

    /// The tenant to use: the one given (when the provider has tenants and it is not empty),
    /// else the provider's default; `""` for providers without tenants.
    pub fn tenant<'a>(&self, given: Option<&'a str>) -> &'a str {
        match self.default_tenant {
            None => "",
            Some(default) => given.filter(|t| !t.is_empty()).unwrap_or(default),
        }
    }

    /// The token endpoint for `tenant` (or the default tenant).
    pub fn token_url_for(&self, tenant: Option<&str>) -> String {
        (self.token_url)(self.tenant(tenant))
    }

    /// The consent endpoint for `tenant` (or the default tenant).
    pub fn authorize_url_for(&self, tenant: Option<&str>) -> String {
        (self.authorize_url)(self.tenant(tenant))
    }
}

/// What a grant lets the connector do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Every action, reading and writing.
    Full,
    /// Every reading action.
    Read,
    /// Sending mail.
    Send,
    /// Changing mail (read state, moves, drafts).
    Modify,
    /// Managing labels or categories.
    Labels,
    /// Seeing and changing calendars and events (only when asked: mail does not need it).
    Calendar,
}

impl Capability {
    /// The mail capabilities: all of them together ask for the full set (without calendars).
    pub const MAIL: [Capability; 4] = [
        Capability::Read,
        Capability::Send,
        Capability::Modify,
        Capability::Labels,
    ];
}

/// Scope sets per capability. An empty set means the capability has no narrower scope than
/// [`ScopeSets::full`].
#[derive(Debug, Clone, Copy)]
pub struct ScopeSets {
    pub full: &'static [&'static str],
    pub read: &'static [&'static str],
    pub send: &'static [&'static str],
    pub modify: &'static [&'static str],
    pub labels: &'static [&'static str],
    /// Calendar access (read and write): asked only with [`Capability::Calendar`]; empty when
    /// the provider has no calendar.
    pub calendar: &'static [&'static str],
    /// The read-only calendar scopes that `read` or `full` may hold (a mail-only ask leaves
    /// them out, as it leaves out `calendar`).
    pub calendar_read: &'static [&'static str],
    /// A prefix the token endpoint may put before the granted scopes it echoes (Microsoft:
    /// `https://graph.microsoft.com/`), ignored when they are compared with the asked ones.
    pub granted_prefix: Option<&'static str>,
}

impl ScopeSets {
    /// The scopes to ask for to get `capability` (the full set when there is no narrower one).
    pub fn for_capability(&self, capability: Capability) -> &'static [&'static str] {
        let set = match capability {
            Capability::Full => self.full,
            Capability::Read => self.read,
            Capability::Send => self.send,
            Capability::Modify => self.modify,
            Capability::Labels => self.labels,
            Capability::Calendar => self.calendar,
        };
        if set.is_empty() {
            self.full
        } else {
            set
        }
    }

    /// Whether a scope grants calendar access (which no mail capability needs).
    pub fn is_calendar(&self, scope: &str) -> bool {
        self.calendar.contains(&scope) || self.calendar_read.contains(&scope)
    }

    /// The scopes to ask for `capabilities` (a connect session's ask): every mail capability
    /// together asks for the full set, fewer the union of their own sets; calendar scopes only
    /// with [`Capability::Calendar`]. In the order of the sets, without repeats.
    pub fn for_capabilities(&self, capabilities: &[Capability]) -> Vec<&'static str> {
        let has = |c: Capability| capabilities.contains(&c);
        let mut out: Vec<&'static str> = Vec::new();
        let add = |set: &[&'static str], out: &mut Vec<&'static str>| {
            for s in set {
                if !out.contains(s) {
                    out.push(s);
                }
            }
        };
        if Capability::MAIL.iter().all(|c| has(*c)) || has(Capability::Full) {
            add(self.full, &mut out);
        } else {
            for c in Capability::MAIL.into_iter().filter(|c| has(*c)) {
                add(self.for_capability(c), &mut out);
            }
        }
        out.retain(|s| !self.is_calendar(s));
        if has(Capability::Calendar) {
            add(self.calendar, &mut out);
        }
        out
    }
}

/// How the provider's refresh tokens behave.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRules {
    /// A refresh names the scopes it asks for (Microsoft's v2.0 token endpoint). They are the
    /// grant's scopes when known, never more: asking for scopes the user did not consent to
    /// fails the refresh. When they are not known, none are sent and the provider answers with
    /// the original consent's scopes.
    pub scopes_on_refresh: bool,
    /// The provider may answer a refresh with a new refresh token that replaces the old one
    /// (Microsoft does on every refresh); it must be stored before the new access token is used.
    pub rotates_refresh_tokens: bool,
    /// A refresh needs the client secret as well as the client id (confidential clients only,
    /// Google); otherwise the client id alone is enough (Microsoft public clients).
    pub client_secret_required: bool,
}

impl ProviderDescriptor {
    /// The `scope` to send with a refresh (see [`RefreshRules::scopes_on_refresh`]): `granted`
    /// (space-separated, e.g. what the consent granted) for providers that take scopes on
    /// refresh, else nothing.
    pub fn refresh_scope(&self, granted: Option<&str>) -> Option<String> {
        if !self.refresh.scopes_on_refresh {
            return None;
        }
        granted
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }
}

/// Finds a descriptor by connector type name.
pub fn by_name(
    list: &[&'static ProviderDescriptor],
    name: &str,
) -> Option<&'static ProviderDescriptor> {
    list.iter().copied().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_url(tenant: &str) -> String {
        format!("https://login.example.com/{tenant}/token")
    }

    fn flat_url(_: &str) -> String {
        "https://auth.example.com/token".into()
    }

    #[test]
    fn tenant_aware_endpoints_follow_the_tenant_and_default_to_the_providers() {
        let ms = OAuthEndpoints {
            authorize_url: tenant_url,
            token_url: tenant_url,
            revoke_url: None,
            default_tenant: Some("common"),
        };
        assert!(ms.has_tenants());
        assert_eq!(
            ms.token_url_for(Some("contoso")),
            "https://login.example.com/contoso/token"
        );
        assert_eq!(
            ms.token_url_for(Some("")),
            "https://login.example.com/common/token"
        );
        assert_eq!(
            ms.token_url_for(None),
            "https://login.example.com/common/token"
        );
        let flat = OAuthEndpoints {
            token_url: flat_url,
            default_tenant: None,
            ..ms
        };
        assert!(!flat.has_tenants());
        assert_eq!(flat.tenant(Some("contoso")), "");
        assert_eq!(
            flat.token_url_for(Some("contoso")),
            "https://auth.example.com/token"
        );
    }

    #[test]
    fn scopes_go_with_a_refresh_only_where_the_provider_takes_them_and_only_the_granted_ones() {
        fn spec() -> Arc<CompiledSpec> {
            unreachable!("not built in this test")
        }
        fn connector(_: Arc<dyn TokenProvider>, _: HttpConfig) -> Result<Connector> {
            unreachable!("not built in this test")
        }
        let mut p = ProviderDescriptor {
            name: "t",
            definition_id: "d",
            spec,
            connector,
            api_base_url: "https://api.example.com",
            oauth: OAuthEndpoints {
                authorize_url: flat_url,
                token_url: flat_url,
                revoke_url: None,
                default_tenant: None,
            },
            scopes: ScopeSets {
                full: &["all"],
                read: &[],
                send: &[],
                modify: &[],
                labels: &[],
                calendar: &[],
                calendar_read: &[],
                granted_prefix: None,
            },
            consent_params: &[],
            refresh: RefreshRules {
                scopes_on_refresh: true,
                rotates_refresh_tokens: false,
                client_secret_required: false,
            },
            changes: None,
        };
        assert_eq!(p.refresh_scope(Some(" a b ")).as_deref(), Some("a b"));
        assert_eq!(
            p.refresh_scope(None),
            None,
            "unknown grant: ask for nothing"
        );
        assert_eq!(p.refresh_scope(Some("")), None);
        p.refresh.scopes_on_refresh = false;
        assert_eq!(p.refresh_scope(Some("a b")), None);
    }

    #[test]
    fn a_capability_without_its_own_scopes_asks_for_the_full_set() {
        let sets = ScopeSets {
            full: &["all"],
            read: &["read"],
            send: &[],
            modify: &["modify"],
            labels: &[],
            calendar: &[],
            calendar_read: &[],
            granted_prefix: None,
        };
        assert_eq!(sets.for_capability(Capability::Read), &["read"]);
        assert_eq!(sets.for_capability(Capability::Send), &["all"]);
        assert_eq!(sets.for_capability(Capability::Labels), &["all"]);
        assert_eq!(sets.for_capability(Capability::Full), &["all"]);
    }

    #[test]
    fn a_mail_ask_leaves_calendars_out_unless_calendar_is_asked() {
        let sets = ScopeSets {
            full: &["mail", "settings", "cal"],
            read: &["mail.read", "cal.read"],
            send: &["mail.send"],
            modify: &["mail.modify"],
            labels: &[],
            calendar: &["cal"],
            calendar_read: &["cal.read"],
            granted_prefix: None,
        };
        assert_eq!(
            sets.for_capabilities(&Capability::MAIL),
            ["mail", "settings"],
            "every mail capability: the full set without calendars"
        );
        let mut all = Capability::MAIL.to_vec();
        all.push(Capability::Calendar);
        assert_eq!(sets.for_capabilities(&all), ["mail", "settings", "cal"]);
        assert_eq!(
            sets.for_capabilities(&[Capability::Read, Capability::Send]),
            ["mail.read", "mail.send"]
        );
        assert_eq!(
            sets.for_capabilities(&[Capability::Read, Capability::Calendar]),
            ["mail.read", "cal"]
        );
        assert_eq!(
            sets.for_capabilities(&[Capability::Labels]),
            ["mail", "settings"],
            "no narrower set: the full one, still without calendars"
        );
    }
}
