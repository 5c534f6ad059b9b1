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
pub mod limits;
pub mod logging;
pub mod mcp;
pub mod metrics;
pub mod oauth;
pub mod openapi;
mod openapi_links;
mod openapi_responses;
mod openapi_types;
pub mod registry;
pub mod routes;
pub mod runtime;
pub mod sandbox;
pub mod services;
pub mod short_paths;
pub mod store;
pub mod urls;
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
        let runtime = Arc::new(Runtime::new(
            store.clone(),
            vault.clone(),
            registry.clone(),
            config.public_url.clone(),
        ));
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
        .app_data(extract::form_config())
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
    // Before anything is opened or written: a second server on this data directory stops here.
    let _lock = lock_data_dir(&config.data_dir)?;
    let mut config = config;
    // The emulators start first: the OAuth flow (and the connect page) of the sandbox goes to
    // their consent and token endpoints.
    let emulators = if config.sandbox {
        let emulators = sandbox::start_emulators(!config.sandbox_no_quotas)?;
        sandbox::point_providers(&mut config, &emulators);
        emulators
    } else {
        Vec::new()
    };
    let state = AppState::new(config).await?;
    if state.config.sandbox {
        sandbox::start(&state, &emulators).await?;
    }
    serve(state).await
}

/// The lock file that marks a data directory in use by a running server (`connectors serve`);
/// released when the returned file is dropped or the process ends.
pub const LOCK_FILE: &str = "serve.lock";

/// Takes the data directory for this server, or fails naming it when another server holds it.
pub fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "the data directory {} is in use by another `connectors serve`; stop it or give this one another --data-dir",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// Serves until the process is stopped.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let bind = state.config.bind;
    let _health = lifecycle::health::spawn(
        state.runtime.lifecycle().clone(),
        state.config.health_check(),
    );
    let _events = state.services.events.spawn();
    let _context = state.services.context.spawn();
    // Credential and policy changes made by other replicas or the CLI: one listener, whose
    // generation of changes both the verified-token cache and the policy cache follow.
    let _changes = state.store.spawn_change_listener();
    let state = web::Data::new(state);
    let workers = state.config.workers;
    let limits = state.config.limits.clone();
    let mut server = actix_web::HttpServer::new(move || create_app(state.clone()))
        // The head of a request, then (in the body extractor) its body, must arrive in time;
        // idle keep-alive connections are closed.
        .client_request_timeout(limits.header_timeout)
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .keep_alive(limits.keep_alive);
    let worker_count = workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if let Some(n) = workers {
        server = server.workers(n);
    }
    // `max_connections` counts per worker.
    server = server.max_connections(limits.max_connections.div_ceil(worker_count).max(1));
    let server = server.bind(bind)?.run();
    tracing::info!(%bind, "listening");
    server.await?;
    Ok(())
}
