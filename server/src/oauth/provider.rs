//! Provider endpoints, scopes and consent parameters, as the connector type's descriptor gives
//! them, each endpoint overridable in the server config (`[providers.<type>] authorize_url = ...`).

use connector_core::provider::Capability;

use crate::registry::ConnectorType;

/// Scopes that are about the token, not the mailbox: never required to be echoed back.
const TOKEN_SCOPES: &[&str] = &["offline_access", "openid", "profile", "email"];

/// Where the flow talks to for one connector type.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    pub revoke: Option<String>,
    pub api_base: String,
}

/// The endpoints for `tenant` (ignored by providers without tenants).
pub fn endpoints(kind: &ConnectorType, tenant: &str) -> Endpoints {
    let p = &kind.provider;
    let oauth = &kind.descriptor.oauth;
    Endpoints {
        authorize: p
            .authorize_url
            .clone()
            .unwrap_or_else(|| oauth.authorize_url_for(Some(tenant))),
        token: p
            .token_url
            .clone()
            .unwrap_or_else(|| oauth.token_url_for(Some(tenant))),
        revoke: p
            .revoke_url
            .clone()
            .or_else(|| oauth.revoke_url.map(str::to_string)),
        api_base: kind.base_url().to_string(),
    }
}

/// The scopes to ask for: `full` (default) or `readonly`.
pub fn scopes_for(kind: &ConnectorType, readonly: bool) -> Vec<String> {
    kind.scopes(if readonly {
        Capability::Read
    } else {
        Capability::Full
    })
}

/// The extra authorize-URL parameters of the provider.
pub fn consent_params(kind: &ConnectorType) -> &'static [(&'static str, &'static str)] {
    kind.descriptor.consent_params
}

/// Required scopes that the grant lacks (token-only scopes such as `offline_access` are not
/// required to be echoed; the provider's resource prefix on granted scopes is ignored).
pub fn missing_scopes(kind: &ConnectorType, required: &[String], granted: &str) -> Vec<String> {
    let prefix = kind.descriptor.scopes.granted_prefix;
    let normalize = |scope: &str| {
        prefix
            .and_then(|p| scope.strip_prefix(p))
            .unwrap_or(scope)
            .to_ascii_lowercase()
    };
    let granted: Vec<String> = granted.split_whitespace().map(normalize).collect();
    required
        .iter()
        .filter(|s| !TOKEN_SCOPES.contains(&s.as_str()))
        .filter(|s| !granted.contains(&normalize(s)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProvidersConfig;
    use crate::registry::Registry;

    #[test]
    fn default_endpoints_are_the_providers_and_follow_the_tenant() {
        let reg = Registry::builtin(&ProvidersConfig::default());
        let g = endpoints(reg.get("gmail").unwrap(), "common");
        assert_eq!(g.authorize, connector_gmail::AUTHORIZE_URL);
        assert_eq!(g.token, connector_gmail::TOKEN_URL);
        assert_eq!(g.revoke.as_deref(), Some(connector_gmail::REVOKE_URL));
        let m = endpoints(reg.get("outlook").unwrap(), "organizations");
        assert_eq!(
            m.authorize,
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
        );
        assert_eq!(m.token, connector_outlook::token_url("organizations"));
        assert!(m.revoke.is_none());
    }

    #[test]
    fn missing_scopes_ignore_token_scopes_and_graph_prefix() {
        let req: Vec<String> = ["offline_access", "User.Read", "Mail.Send"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let reg = Registry::builtin(&ProvidersConfig::default());
        let outlook = reg.get("outlook").unwrap();
        assert!(missing_scopes(
            outlook,
            &req,
            "https://graph.microsoft.com/User.Read mail.send"
        )
        .is_empty());
        assert_eq!(
            missing_scopes(outlook, &req, "User.Read"),
            vec!["Mail.Send".to_string()]
        );
    }
}
