//! The domain layer between the routes and the store.
//!
//! A route parses the request, makes one call here and renders the answer; the services own
//! the store, the vault and the in-process caches, and keep the caches right themselves.
//! Their errors are core's [`connector_core::ConnectorError`]; the HTTP mapping happens once,
//! in [`crate::error`].

pub mod applications;
pub mod attachments;
mod cache;
pub mod connect;
pub mod connectors;
pub mod context;
mod credentials;
pub mod events;
pub mod execute;
pub mod guardrails;
pub mod idempotency;
pub mod oauth;
pub mod oauth_apps;
pub mod reconnect;
pub mod settings;

pub use applications::{AppInfo, Applications, RevokedApp};
pub use attachments::Attachments;
pub use connectors::{Connectors, Origin};
pub use execute::Executions;
pub use oauth::OAuthFlow;
pub use oauth_apps::OAuthApps;
pub use settings::Settings;

use std::sync::Arc;

use connector_core::ConnectorError;

use crate::config::Config;
use crate::error::db;
use crate::registry::Registry;
use crate::runtime::Runtime;
use crate::store::Store;
use crate::vault::Vault;

/// The context worker waits for the events' first cursor only when the server polls.
fn server_context_config(config: &Config) -> context::ContextConfig {
    context::ContextConfig {
        wait_for_events: config.context.wait_for_events && !config.events.poll_interval.is_zero(),
        ..config.context.clone()
    }
}

/// Every service of one server (held in the application state).
pub struct Services {
    pub connectors: Arc<Connectors>,
    /// Attachment handles and references (docs/attachments.md).
    pub attachments: Arc<Attachments>,
    pub applications: Applications,
    pub events: Arc<events::Events>,
    /// The context store's worker (replication into the database).
    pub context: Arc<context::Context>,
    pub executions: Executions,
    pub guardrails: guardrails::Guardrails,
    pub settings: Settings,
    pub oauth_apps: Arc<OAuthApps>,
    pub oauth: OAuthFlow,
    store: Store,
}

impl Services {
    pub fn new(
        config: &Config,
        store: Store,
        vault: Vault,
        registry: Arc<Registry>,
        runtime: Arc<Runtime>,
    ) -> Services {
        let connectors = Arc::new(Connectors::new(
            store.clone(),
            vault.clone(),
            registry.clone(),
            runtime.clone(),
            config.connector_cache,
        ));
        let events = Arc::new(events::Events::new(
            store.clone(),
            vault.clone(),
            registry.clone(),
            runtime.clone(),
            config.events.clone(),
        ));
        let context = Arc::new(context::Context::new(
            store.clone(),
            registry.clone(),
            runtime.clone(),
            server_context_config(config),
        ));
        let oauth_apps = Arc::new(OAuthApps::new(
            store.clone(),
            vault.clone(),
            registry.clone(),
            connectors.clone(),
        ));
        let attachments = Arc::new(Attachments::new(
            store.clone(),
            vault.clone(),
            config.limits.attachments.clone(),
        ));
        Services {
            applications: Applications::new(store.clone(), config),
            executions: Executions::new(
                connectors.clone(),
                idempotency::Idempotency::new(
                    store.clone(),
                    vault.clone(),
                    config.idempotency_wait,
                ),
                attachments.clone(),
            ),
            attachments,
            settings: Settings::new(store.clone(), vault.clone()),
            guardrails: guardrails::Guardrails::new(store.clone(), vault.clone()),
            oauth: OAuthFlow::new(
                store.clone(),
                vault,
                registry,
                connectors.clone(),
                oauth_apps.clone(),
                &config.limits,
            ),
            oauth_apps,
            connectors,
            events,
            context,
            store,
        }
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ready(&self) -> Result<(), ConnectorError> {
        self.store.ping().await.map_err(db)
    }
}
