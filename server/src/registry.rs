//! The connector types the server can run. Adding a type is one entry in [`Registry::builtin`].

use std::sync::Arc;

use connector_core::spec::ConnectorSpec;
use connector_core::{Connector, HttpConfig, TokenProvider};

use crate::config::{ProviderConfig, ProvidersConfig};

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
    /// `scope` sent with refreshes (Microsoft needs it).
    pub refresh_scope: Option<String>,
    /// Server config: platform OAuth app and endpoint overrides.
    pub provider: ProviderConfig,
    pub factory: Factory,
}

impl ConnectorType {
    /// API root: the server config override, else the type's default.
    pub fn base_url(&self) -> &str {
        self.provider.base_url.as_deref().unwrap_or(&self.base_url)
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
        provider: provider.clone(),
        factory: Arc::new(connector_gmail::connector),
    }
}

/// Outlook joins the registry once `connector_outlook::connector` exists.
fn outlook(_provider: &ProviderConfig) -> Option<ConnectorType> {
    None
}
