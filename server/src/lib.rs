//! The `connectors` server: an actix-web API over the connector crates, with organizations,
//! API applications, an encrypted credential vault, and a sandbox mode.
//!
//! [`create_app`] builds the application from an [`AppState`]; `main.rs` only parses the
//! command line.

// Core's `ConnectorError` is the domain error type of every service (as in the connector
// crates); it is returned once per call, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod error;
pub mod extract;
pub mod lifecycle;
pub mod logging;
pub mod mcp;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod registry;
pub mod routes;
pub mod runtime;
pub mod sandbox;
pub mod services;
pub mod short_paths;
pub mod store;
pub mod vault;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App};
use tracing_actix_web::TracingLogger;

pub use config::Config;
use registry::Registry;
use runtime::Runtime;
pub use services::idempotency;
use services::Services;
use store::Store;
use vault::{MasterKey, Vault};

/// Everything a request handler needs.
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub vault: Vault,
    pub registry: Arc<Registry>,
    pub runtime: Arc<Runtime>,
    pub services: Services,
}

impl AppState {
    /// Opens the database (running migrations) and loads the master key; the built-in
    /// connector types.
    pub async fn new(config: Config) -> anyhow::Result<AppState> {
        let registry = Registry::builtin(&config.providers);
        AppState::with_registry(config, registry).await
    }

    pub async fn with_registry(config: Config, registry: Registry) -> anyhow::Result<AppState> {
        let store = Store::open(&config.database_url).await?;
        let master = MasterKey::load(&config)?;
        let vault = Vault::new(master, store.clone());
        let registry = Arc::new(registry);
        let runtime = Arc::new(Runtime::new(store.clone(), vault.clone(), registry.clone()));
        let services = Services::new(
            &config,
            store.clone(),
            vault.clone(),
            registry.clone(),
            runtime.clone(),
        );
        Ok(AppState {
            config: Arc::new(config),
            store,
            vault,
            registry,
            runtime,
            services,
        })
    }
}

/// The actix application: routes, JSON errors, request logging.
pub fn create_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(extract::query_config())
        .app_data(extract::path_config())
        .configure(routes::configure)
        .default_service(web::to(error::not_found_route))
        .wrap(actix_web::middleware::ErrorHandlers::new().handler(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            error::method_not_allowed,
        ))
        .wrap(actix_web::middleware::from_fn(auth::middleware))
        .wrap(actix_web::middleware::from_fn(short_paths::middleware))
        .wrap(actix_web::middleware::from_fn(metrics::middleware))
        .wrap(actix_web::middleware::from_fn(logging::request_id_header))
        .wrap(TracingLogger::<logging::RequestSpan>::new())
}

/// `connectors serve`: opens the state, starts the sandbox when `config.sandbox` asks for it,
/// and serves until the process is stopped.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let state = AppState::new(config).await?;
    let _emulators = if state.config.sandbox {
        sandbox::start(&state).await?
    } else {
        Vec::new()
    };
    serve(state).await
}

/// Serves until the process is stopped.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let bind = state.config.bind;
    let _health = lifecycle::health::spawn(
        state.runtime.lifecycle().clone(),
        state.config.health_check(),
    );
    let _events = state.services.events.spawn();
    let state = web::Data::new(state);
    let workers = state.config.workers;
    let mut server = actix_web::HttpServer::new(move || create_app(state.clone()));
    if let Some(n) = workers {
        server = server.workers(n);
    }
    let server = server.bind(bind)?.run();
    tracing::info!(%bind, "listening");
    server.await?;
    Ok(())
}
