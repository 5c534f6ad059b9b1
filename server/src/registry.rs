//! The connector types the server can run: one per provider descriptor, with the server's
//! `[providers.<type>]` settings. The built-in list is [`providers::all`]; a server (or a test)
//! can be built with any other list ([`Registry::from_descriptors`]).

use std::sync::Arc;

use connector_core::provider::Capability;
use connector_core::spec::ConnectorSpec;
use connector_core::{Connector, HttpConfig, ProviderDescriptor, TokenProvider};

use crate::config::{ProviderConfig, ProvidersConfig};
use crate::credentials::{RefreshRule, StoredCredentials};

/// One connector type: its descriptor and this server's settings for it.
#[derive(Clone)]
pub struct ConnectorType {
    /// `gmail`, `outlook`.
    pub name: String,
    /// Stable definition id (Airbyte's for Gmail).
    pub definition_id: String,
    pub spec: Arc<ConnectorSpec>,
    /// Everything the provider crate says about the type.
    pub descriptor: &'static ProviderDescriptor,
    /// Server config: platform OAuth app and endpoint overrides.
    pub provider: ProviderConfig,
}

impl ConnectorType {
    pub fn new(descriptor: &'static ProviderDescriptor, provider: ProviderConfig) -> ConnectorType {
        ConnectorType {
            name: descriptor.name.to_string(),
            definition_id: descriptor.definition_id.to_string(),
            spec: Arc::new((descriptor.spec)().spec().clone()),
            descriptor,
            provider,
        }
    }

    /// API root: the server config override, else the type's default.
    pub fn base_url(&self) -> &str {
        self.provider
            .base_url
            .as_deref()
            .unwrap_or(self.descriptor.api_base_url)
    }

    /// Builds a connector over `http` authorized by `token`.
    // Core's error type, returned as core's factories return it.
    #[allow(clippy::result_large_err)]
    pub fn connector(
        &self,
        token: Arc<dyn TokenProvider>,
        http: HttpConfig,
    ) -> connector_core::Result<Connector> {
        (self.descriptor.connector)(token, http)
    }

    /// The endpoints depend on a directory tenant (Microsoft).
    pub fn has_tenants(&self) -> bool {
        self.descriptor.oauth.has_tenants()
    }

    /// What a refresh token needs besides itself on this server.
    pub fn refresh_rule(&self) -> RefreshRule {
        RefreshRule {
            platform_app: self.provider.has_platform_app(),
            needs_client_secret: self.descriptor.refresh.client_secret_required,
        }
    }

    /// The scopes to ask for at consent for a capability.
    pub fn scopes(&self, capability: Capability) -> Vec<String> {
        self.descriptor
            .scopes
            .for_capability(capability)
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// The token endpoint for stored credentials: the server's override, else the credentials'
    /// `token_url`, else one built from their `tenant` (or the provider's default).
    pub fn token_url_for(&self, creds: &StoredCredentials) -> String {
        if let Some(url) = &self.provider.token_url {
            return url.clone();
        }
        if let Some(url) = creds.get("token_url") {
            return url.expose().to_string();
        }
        self.descriptor
            .oauth
            .token_url_for(creds.get("tenant").map(|t| t.expose()))
    }

    /// The `scope` a refresh sends (see
    /// [`RefreshRules::scopes_on_refresh`](connector_core::provider::RefreshRules)): the scopes
    /// the consent granted, when known, for providers that take scopes on refresh.
    pub fn refresh_scope(&self, granted: Option<&str>) -> Option<String> {
        self.descriptor.refresh_scope(granted)
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

    /// One type per descriptor, with its `[providers.<name>]` settings.
    pub fn from_descriptors(
        descriptors: &[&'static ProviderDescriptor],
        providers: &ProvidersConfig,
    ) -> Registry {
        Registry::new(
            descriptors
                .iter()
                .map(|d| ConnectorType::new(d, providers.get(d.name)))
                .collect(),
        )
    }

    /// The built-in types ([`providers::all`]) with the server's provider settings.
    pub fn builtin(providers: &ProvidersConfig) -> Registry {
        Registry::from_descriptors(providers::all(), providers)
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

    #[test]
    fn the_registry_is_built_from_the_descriptor_list_it_is_given() {
        let mut providers = ProvidersConfig::default();
        providers.entry("outlook").base_url = Some("http://127.0.0.1:9/v1.0".into());
        let reg = Registry::from_descriptors(&[&connector_outlook::PROVIDER], &providers);
        assert!(reg.get("gmail").is_none());
        let outlook = reg.get("outlook").unwrap();
        assert_eq!(outlook.base_url(), "http://127.0.0.1:9/v1.0");
        assert_eq!(
            Registry::builtin(&ProvidersConfig::default())
                .all()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            providers::all().iter().map(|p| p.name).collect::<Vec<_>>()
        );
    }
}
