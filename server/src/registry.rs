//! The connector types the server can run. Adding a type is one entry in [`Registry::builtin`].

use std::sync::Arc;

use connector_core::spec::ConnectorSpec;
use connector_core::{Connector, HttpConfig, TokenProvider};

use crate::config::{ProviderConfig, ProvidersConfig};
use crate::credentials::{RefreshRule, StoredCredentials};

/// Builds a connector instance from a token provider and HTTP settings.
pub type Factory = Arc<
    dyn Fn(Arc<dyn TokenProvider>, HttpConfig) -> connector_core::Result<Connector> + Send + Sync,
>;

/// One connector type.
#[derive(Clone)]
pub struct ConnectorType {
    /// `gmail`, `outlook`.
    pub name: String,
    /// Stable definition id (Airbyte's for Gmail).
    pub definition_id: String,
    pub spec: Arc<ConnectorSpec>,
    /// Provider API root.
    pub base_url: String,
    /// Provider token endpoint.
    pub token_url: String,
    /// `scope` sent with refreshes when the credentials name none.
    pub refresh_scope: Option<String>,
    /// Builds the token endpoint from the credentials' `tenant` (Microsoft).
    pub tenant_token_url: Option<fn(&str) -> String>,
    /// A refresh token needs a client secret too (confidential clients only: Google); without
    /// it only `client_id` is required (Microsoft public clients). A configured platform OAuth
    /// app supplies both.
    pub refresh_needs_client_secret: bool,
    /// Server config: platform OAuth app and endpoint overrides.
    pub provider: ProviderConfig,
    pub factory: Factory,
}

impl ConnectorType {
    /// API root: the server config override, else the type's default.
    pub fn base_url(&self) -> &str {
        self.provider.base_url.as_deref().unwrap_or(&self.base_url)
    }

    /// What a refresh token needs besides itself on this server.
    pub fn refresh_rule(&self) -> RefreshRule {
        RefreshRule {
            platform_app: self.provider.has_platform_app(),
            needs_client_secret: self.refresh_needs_client_secret,
        }
    }

    /// The token endpoint for stored credentials: the server's override, else the credentials'
    /// `token_url`, else one built from their `tenant`, else the provider default.
    pub fn token_url_for(&self, creds: &StoredCredentials) -> String {
        if let Some(url) = &self.provider.token_url {
            return url.clone();
        }
        if let Some(url) = creds.get("token_url") {
            return url.expose().to_string();
        }
        match (self.tenant_token_url, creds.get("tenant")) {
            (Some(build), Some(tenant)) => build(tenant.expose()),
            _ => self.token_url.clone(),
        }
    }
}

/// The connector types by name.
#[derive(Clone, Default)]
pub struct Registry {
    types: Vec<ConnectorType>,
}

impl Registry {
    pub fn new(types: Vec<ConnectorType>) -> Registry {
        Registry { types }
    }

    pub fn get(&self, name: &str) -> Option<&ConnectorType> {
        self.types.iter().find(|t| t.name == name)
    }

    pub fn by_definition(&self, definition_id: &str) -> Option<&ConnectorType> {
        self.types.iter().find(|t| t.definition_id == definition_id)
    }

    pub fn all(&self) -> &[ConnectorType] {
        &self.types
    }

    /// Gmail and Outlook with the server's provider settings.
    pub fn builtin(providers: &ProvidersConfig) -> Registry {
        let mut types = vec![gmail(&providers.gmail)];
        types.extend(outlook(&providers.outlook));
        Registry { types }
    }
}

fn gmail(provider: &ProviderConfig) -> ConnectorType {
    ConnectorType {
        name: "gmail".into(),
        definition_id: connector_gmail::DEFINITION_ID.into(),
        spec: Arc::new(connector_gmail::spec().spec().clone()),
        base_url: connector_gmail::DEFAULT_BASE_URL.into(),
        token_url: connector_gmail::TOKEN_URL.into(),
        refresh_scope: None,
        tenant_token_url: None,
        refresh_needs_client_secret: true,
        provider: provider.clone(),
        factory: Arc::new(connector_gmail::connector),
    }
}

fn outlook(provider: &ProviderConfig) -> Option<ConnectorType> {
    Some(ConnectorType {
        name: "outlook".into(),
        definition_id: connector_outlook::DEFINITION_ID.into(),
        spec: Arc::new(connector_outlook::spec().spec().clone()),
        base_url: connector_outlook::DEFAULT_BASE_URL.into(),
        token_url: connector_outlook::token_url("common"),
        refresh_scope: None,
        tenant_token_url: Some(connector_outlook::token_url),
        refresh_needs_client_secret: false,
        provider: provider.clone(),
        factory: Arc::new(connector_outlook::connector),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::Secret;

    #[test]
    fn outlook_token_url_follows_the_tenant_unless_overridden() {
        let reg = Registry::builtin(&ProvidersConfig::default());
        let outlook = reg.get("outlook").unwrap();
        let mut creds = StoredCredentials::default();
        assert!(outlook.token_url_for(&creds).contains("/common/"));
        creds
            .fields
            .insert("tenant".into(), Secret::new("contoso.onmicrosoft.com"));
        assert!(outlook
            .token_url_for(&creds)
            .contains("/contoso.onmicrosoft.com/"));
        creds
            .fields
            .insert("token_url".into(), Secret::new("http://127.0.0.1:9/t"));
        assert_eq!(outlook.token_url_for(&creds), "http://127.0.0.1:9/t");
        let gmail = reg.get("gmail").unwrap();
        assert_eq!(
            gmail.token_url_for(&StoredCredentials::default()),
            connector_gmail::TOKEN_URL
        );
        assert_eq!(
            reg.by_definition(connector_gmail::DEFINITION_ID)
                .unwrap()
                .name,
            "gmail"
        );
    }
}
