//! Provider endpoints and consent parameters (Google, Microsoft), each endpoint overridable in
//! the server config (`[providers.gmail] authorize_url = ...`).

use crate::registry::ConnectorType;

pub const GOOGLE_AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const GOOGLE_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";

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

/// Microsoft's identity platform (tenant-dependent URLs) or Google.
pub fn is_microsoft(kind: &ConnectorType) -> bool {
    kind.tenant_token_url.is_some()
}

pub fn endpoints(kind: &ConnectorType, tenant: &str) -> Endpoints {
    let p = &kind.provider;
    let microsoft = is_microsoft(kind);
    let authorize = p.authorize_url.clone().unwrap_or_else(|| {
        if microsoft {
            format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize")
        } else {
            GOOGLE_AUTHORIZE_URL.to_string()
        }
    });
    let token = p
        .token_url
        .clone()
        .unwrap_or_else(|| match kind.tenant_token_url {
            Some(build) => build(tenant),
            None => kind.token_url.clone(),
        });
    let revoke = p
        .revoke_url
        .clone()
        .or_else(|| (!microsoft).then(|| GOOGLE_REVOKE_URL.to_string()));
    Endpoints {
        authorize,
        token,
        revoke,
        api_base: kind.base_url().to_string(),
    }
}

/// The scopes to ask for: `full` (default) or `readonly`.
pub fn scopes_for(kind: &ConnectorType, readonly: bool) -> Vec<String> {
    let set: &[&str] = match (kind.name.as_str(), readonly) {
        ("gmail", false) => connector_gmail::SCOPES_FULL,
        ("gmail", true) => connector_gmail::SCOPES_READONLY,
        (_, false) => connector_outlook::SCOPES,
        (_, true) => connector_outlook::SCOPES_READONLY,
    };
    set.iter().map(|s| s.to_string()).collect()
}

/// The extra authorize-URL parameters of the provider.
pub fn consent_params(kind: &ConnectorType) -> Vec<(&'static str, &'static str)> {
    if is_microsoft(kind) {
        vec![("response_mode", "query")]
    } else {
        vec![
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("include_granted_scopes", "true"),
        ]
    }
}

fn normalize(scope: &str) -> String {
    scope
        .strip_prefix("https://graph.microsoft.com/")
        .unwrap_or(scope)
        .to_ascii_lowercase()
}

/// Required scopes that the grant lacks (token-only scopes such as `offline_access` are not
/// required to be echoed).
pub fn missing_scopes(required: &[String], granted: &str) -> Vec<String> {
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
        assert_eq!(g.authorize, GOOGLE_AUTHORIZE_URL);
        assert_eq!(g.token, connector_gmail::TOKEN_URL);
        assert_eq!(g.revoke.as_deref(), Some(GOOGLE_REVOKE_URL));
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
        assert!(missing_scopes(&req, "https://graph.microsoft.com/User.Read mail.send").is_empty());
        assert_eq!(
            missing_scopes(&req, "User.Read"),
            vec!["Mail.Send".to_string()]
        );
    }
}
