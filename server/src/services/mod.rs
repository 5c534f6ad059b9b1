//! The domain layer between the routes and the store.
//!
//! A route parses the request, makes one call here and renders the answer; the services own
//! the store, the vault and the in-process caches, and keep the caches right themselves.
//! Their errors are core's [`connector_core::ConnectorError`]; the HTTP mapping happens once,
//! in [`crate::error`].

pub mod applications;
mod cache;
pub mod connectors;
mod credentials;
pub mod events;

pub use applications::{AppInfo, Applications, RevokedApp};
pub use connectors::{Connectors, Origin};

use std::sync::Arc;
use std::time::Duration;

use crate::registry::Registry;
use crate::runtime::Runtime;
use crate::store::Store;
use crate::vault::Vault;

/// Every service of one server (held in the application state).
pub struct Services {
    pub connectors: Connectors,
    pub applications: Applications,
    pub events: Arc<events::Events>,
}

impl Services {
    pub fn new(
        store: Store,
        vault: Vault,
        registry: Arc<Registry>,
        runtime: Arc<Runtime>,
        token_cache: Duration,
        connector_cache: Duration,
        events: events::EventsConfig,
    ) -> Services {
        let events = Arc::new(events::Events::new(
            store.clone(),
            vault.clone(),
            registry.clone(),
            runtime.clone(),
            events,
        ));
        Services {
            connectors: Connectors::new(store.clone(), vault, registry, runtime, connector_cache),
            applications: Applications::new(store, token_cache),
            events,
        }
    }
}
