//! The `connectors` command line and the server configuration.
//!
//! Precedence: TOML file (`--config FILE`) < environment (`CONNECTORS_*`) < command line.
//! Secrets may also come from a file named by the matching `*_FILE` variable.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use connector_core::{ProviderDescriptor, Secret};
use serde::Deserialize;

/// Self-hosted agent connectors for Gmail and Outlook.
#[derive(Debug, Parser)]
#[command(name = "connectors", version)]
pub struct Cli {
    /// Log output format.
    #[arg(
        long,
        global = true,
        env = "CONNECTORS_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API server.
    Serve(Box<ServeArgs>),
    /// Manage organizations.
    Orgs {
        #[command(subcommand)]
        command: OrgsCommand,
    },
    /// Manage API applications (client id + secret) of an organization.
    Apps {
        #[command(subcommand)]
        command: AppsCommand,
    },
    /// Run one provider emulator on its own (no server).
    Sandbox(SandboxArgs),
    /// Serve one connector over MCP on stdin/stdout (for desktop MCP clients).
    Mcp(Box<crate::mcp::McpArgs>),
    /// Master-key rotation.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new master key and re-wrap every organization's data key under it while servers
    /// keep serving. With a key file, the new key is written first in the file and the old keys
    /// stay after it (servers re-read the file when they meet the new key id). With
    /// `CONNECTORS_MASTER_KEY`, prints the new key and what to do (nothing is re-wrapped yet).
    Rotate(KeysArgs),
    /// Re-wrap every data key under the current (first) master key; after an env-based
    /// rotation, once every server runs with `CONNECTORS_MASTER_KEY=NEW,OLD`.
    Rewrap(KeysArgs),
}

/// Database and master key options of `connectors keys ...` (same names as `serve`).
#[derive(Debug, Clone, Args)]
pub struct KeysArgs {
    #[arg(long, env = "CONNECTORS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[arg(long, env = "CONNECTORS_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(long, env = "CONNECTORS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Current master key first, then previous ones, comma separated.
    #[arg(long, env = "CONNECTORS_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    #[arg(long, env = "CONNECTORS_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// Change an organization's settings (redirect allow-list, webhook, raw-credential apps).
    Settings(crate::oauth::cli::SettingsArgs),
    /// Create an organization; prints `{"organization_id", "name"}`.
    Create {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show or set the send policy of an organization (its default) or of one connector;
    /// prints the policy in force (docs/guardrails.md).
    Policy {
        /// Organization id or name.
        #[arg(long)]
        org: String,
        /// A connector id of the organization [default: the organization's default policy].
        #[arg(long)]
        connector: Option<String>,
        /// The new policy as JSON (e.g. '{"mode": "draft_only"}').
        #[arg(long, conflicts_with = "clear")]
        set: Option<String>,
        /// Remove the policy (a connector falls back to the organization's default).
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Create an application; prints `{"organization_id", "client_id", "client_secret"}` (the
    /// secret is shown once and stored only as an argon2 hash).
    Create {
        /// Organization id or name.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the organization's applications (never their secrets); the admin is marked.
    List {
        /// Organization id or name.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke an application: its bearer tokens stop working at once.
    Revoke {
        /// Organization id or name.
        #[arg(long)]
        org: String,
        /// The application's client id.
        client_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give an application a new client secret (printed once); its tokens are revoked.
    RotateSecret {
        /// Organization id or name.
        #[arg(long)]
        org: String,
        /// The application's client id.
        client_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Where the CLI finds the database (same options as `serve`).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory (SQLite database and generated key file).
    #[arg(long, env = "CONNECTORS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML config file.
    #[arg(long, env = "CONNECTORS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL, as for `serve` [default: sqlite://<data-dir>/connectors.db].
    #[arg(long, env = "CONNECTORS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Which emulator: a connector type (`providers::emulators`).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(
        providers::emulators().iter().map(|(name, _)| *name)
    ))]
    pub provider: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub bind: SocketAddr,
    /// Accept only these tokens: `TOKEN=user@example.com:scope,scope` (repeatable). Without
    /// any, every non-empty bearer token is the default user with every scope.
    #[arg(long = "token")]
    pub tokens: Vec<String>,
    /// Mailbox seed: `demo` or a number of generated messages.
    #[arg(long, default_value = "demo")]
    pub seed: String,
    /// Trust an outside OAuth issuer: unknown bearer tokens are looked up at this RFC 7662
    /// introspection URL (`sub`/`email`/`username` is the mailbox, `scope` the grant) and are
    /// no longer the default user.
    #[arg(long = "trust-issuer", value_name = "INTROSPECTION_URL")]
    pub trust_issuer: Option<String>,
    /// The emulator's client id at that issuer (introspection is sent with HTTP Basic).
    #[arg(long, requires = "trust_issuer")]
    pub issuer_client_id: Option<String>,
    /// Its client secret.
    #[arg(
        long,
        env = "CONNECTORS_SANDBOX_ISSUER_CLIENT_SECRET",
        hide_env_values = true,
        requires = "issuer_client_id"
    )]
    pub issuer_client_secret: Option<String>,
    /// Accept only tokens whose introspected `aud` names this audience (resource indicator).
    #[arg(long, requires = "trust_issuer")]
    pub issuer_audience: Option<String>,
    /// Turn the emulator's quotas and throttling off (as `serve --sandbox --sandbox-no-quotas`
    /// does), e.g. for benchmarks and load tests. Default: on, as the real provider behaves.
    #[arg(long)]
    pub no_quotas: bool,
}

/// Options of `connectors serve`. Every field can also be set in the TOML file (same name) or
/// the environment (`CONNECTORS_` + upper-case name).
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "CONNECTORS_BIND")]
    pub bind: Option<SocketAddr>,
    /// The origin at which end users' browsers reach this server (e.g.
    /// https://connectors.example.com), for links made outside a request: the `reconnect_url`
    /// of a `connector.status_changed` event [default: http://<bind>].
    #[arg(long, env = "CONNECTORS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Data directory: SQLite database, generated master key file, sandbox.json [default: ./data].
    #[arg(long, env = "CONNECTORS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML config file.
    #[arg(long, env = "CONNECTORS_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Database URL: `sqlite://PATH`, or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` for
    /// several replicas on one database [default: sqlite://<data-dir>/connectors.db].
    #[arg(long, env = "CONNECTORS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Master key (32 bytes, base64 or hex) that wraps the per-organization data keys.
    /// Without it (or `master_key_file`) a key file is generated in the data directory.
    #[arg(long, env = "CONNECTORS_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// File holding the master key.
    #[arg(long, env = "CONNECTORS_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Lifetime of application access tokens in seconds [default: 3600, minimum 900].
    #[arg(long, env = "CONNECTORS_TOKEN_TTL_SECS")]
    pub token_ttl_secs: Option<u64>,
    /// How long a verified bearer token is trusted without asking the database again, in
    /// milliseconds [default: 0 = every request asks, so a revocation applies at once on every
    /// replica; at most 10000]. Revocations made through this process always apply at once;
    /// with a cache, those made on another replica or with the CLI apply within this bound.
    #[arg(long, env = "CONNECTORS_TOKEN_CACHE_MS")]
    pub token_cache_ms: Option<u64>,
    /// How long execute reuses a connector's row, in milliseconds [default: 1000, at most
    /// 10000; 0 turns it off]. Changes made through this process apply at once; those made on
    /// another replica (PATCH, DELETE, re-authorization, health-check status) within this bound.
    #[arg(long, env = "CONNECTORS_CONNECTOR_CACHE_MS")]
    pub connector_cache_ms: Option<u64>,
    /// HTTP worker threads [default: one per CPU core]. Each worker runs its own event loop;
    /// on a machine shared with other busy processes fewer workers can mean fewer thread
    /// hand-offs (see docs/benchmarks.md).
    #[arg(long, env = "CONNECTORS_WORKERS")]
    pub workers: Option<usize>,
    /// Seconds a request's body may take to arrive once its headers did; a slower body is
    /// refused and its connection closed [default: 15].
    #[arg(long, env = "CONNECTORS_BODY_TIMEOUT_SECS")]
    pub body_timeout_secs: Option<u64>,
    /// Open connections across all workers; further clients wait in the listen backlog
    /// [default: 10000].
    #[arg(long, env = "CONNECTORS_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Largest execute request body in bytes [default: 50 MiB].
    #[arg(long, env = "CONNECTORS_MAX_EXECUTE_BODY")]
    pub max_execute_body: Option<usize>,
    /// Bearer token that opens `GET /metrics` (Prometheus); without it `/metrics` is off.
    #[arg(long, env = "CONNECTORS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Seconds between connector health checks, which refresh tokens near expiry or idle so
    /// a revoked grant is marked `needs_reauth` before a call fails; 0 turns them off
    /// [default: 300].
    #[arg(long, env = "CONNECTORS_HEALTH_CHECK_INTERVAL_SECS")]
    pub health_check_interval_secs: Option<u64>,
    /// A connector not refreshed for this many seconds is refreshed by the health check
    /// [default: 21600, six hours].
    #[arg(long, env = "CONNECTORS_HEALTH_CHECK_IDLE_SECS")]
    pub health_check_idle_secs: Option<u64>,
    /// Milliseconds between two polls of a connector's mailbox for events (history / delta),
    /// for connectors without push; 0 turns polling off [default: 60000; 1000 with --sandbox].
    #[arg(long, env = "CONNECTORS_POLL_INTERVAL_MS")]
    pub poll_interval_ms: Option<u64>,
    /// Gmail push: the Pub/Sub topic (`projects/P/topics/T`) Gmail connectors watch; with it,
    /// `POST /push/gmail` takes the push subscription's notifications (also set
    /// `gmail_push_audience` and `gmail_push_service_account`).
    #[arg(long, env = "CONNECTORS_GMAIL_PUSH_TOPIC")]
    pub gmail_push_topic: Option<String>,
    /// Gmail push: the audience of the push subscription's tokens.
    #[arg(long, env = "CONNECTORS_GMAIL_PUSH_AUDIENCE")]
    pub gmail_push_audience: Option<String>,
    /// Gmail push: the push subscription's service account (the tokens' `email`).
    #[arg(long, env = "CONNECTORS_GMAIL_PUSH_SERVICE_ACCOUNT")]
    pub gmail_push_service_account: Option<String>,
    /// Gmail push: where the token issuer's keys are [default: Google's,
    /// https://www.googleapis.com/oauth2/v3/certs].
    #[arg(long, env = "CONNECTORS_GMAIL_PUSH_JWKS_URL")]
    pub gmail_push_jwks_url: Option<String>,
    /// Outlook push: the public URL at which Microsoft Graph reaches this server's
    /// `POST /push/outlook` (e.g. https://connectors.example.com/push/outlook; Graph wants
    /// HTTPS). With it each Outlook connector gets a change-notification subscription, with
    /// lifecycle notifications to the same URL + `/lifecycle`; without it Outlook is polled.
    #[arg(long, env = "CONNECTORS_OUTLOOK_PUSH_URL")]
    pub outlook_push_url: Option<String>,
    /// Start the Gmail and Outlook emulators in process with a demo organization, application
    /// and connectors (written to <data-dir>/sandbox.json).
    #[arg(long)]
    #[serde(default)]
    pub sandbox: bool,
    /// With `--sandbox`: turn the emulators' quotas and throttling off (Gmail's per-user
    /// units per minute, Graph's request and concurrency limits), e.g. for benchmarks and
    /// load tests. Default: on, as the real providers behave.
    #[arg(long, env = "CONNECTORS_SANDBOX_NO_QUOTAS")]
    #[serde(default)]
    pub sandbox_no_quotas: bool,
    /// Platform OAuth apps per provider (TOML `[providers.gmail]`, env
    /// `CONNECTORS_GMAIL_CLIENT_ID`, `CONNECTORS_GMAIL_CLIENT_SECRET[_FILE]`, ...).
    #[arg(skip)]
    #[serde(default)]
    pub providers: ProvidersConfig,
}

/// Per-provider settings: `[providers.<type>]` for each connector type the server runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct ProvidersConfig(BTreeMap<String, ProviderConfig>);

impl ProvidersConfig {
    /// The settings of a connector type (defaults when it has no section).
    pub fn get(&self, name: &str) -> ProviderConfig {
        self.0.get(name).cloned().unwrap_or_default()
    }

    /// The settings of a connector type, to change them.
    pub fn entry(&mut self, name: &str) -> &mut ProviderConfig {
        self.0.entry(name.to_string()).or_default()
    }

    /// Refuses a section for a type the server does not run (a typo would otherwise be ignored).
    fn check_names(&self, descriptors: &[&'static ProviderDescriptor]) -> anyhow::Result<()> {
        for name in self.0.keys() {
            if !descriptors.iter().any(|d| d.name == name) {
                let known: Vec<&str> = descriptors.iter().map(|d| d.name).collect();
                anyhow::bail!(
                    "unknown provider section `[providers.{name}]`: known types are {known:?}"
                );
            }
        }
        Ok(())
    }
}

/// A provider's endpoints and the platform OAuth app used for connectors whose credentials
/// carry no client id/secret.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// API root override (tests, proxies).
    pub base_url: Option<String>,
    /// Token endpoint override.
    pub token_url: Option<String>,
    /// OAuth consent (authorize) endpoint override.
    pub authorize_url: Option<String>,
    /// Token revocation endpoint override.
    pub revoke_url: Option<String>,
    /// The OAuth callback URL registered at the provider [default: this server's address].
    pub redirect_uri: Option<String>,
    /// Microsoft tenant for consent: common, organizations, consumers or an id [default: common].
    pub tenant: Option<String>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .finish()
    }
}

impl ProviderConfig {
    /// A platform OAuth app is configured.
    pub fn has_platform_app(&self) -> bool {
        self.client_id.is_some() && self.client_secret.is_some()
    }
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    /// The origin end users reach this server at (no trailing slash).
    pub public_url: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub master_key: Option<Secret>,
    pub master_key_file: Option<PathBuf>,
    pub token_ttl_secs: u64,
    /// HTTP worker threads (`None`: one per CPU core).
    pub workers: Option<usize>,
    /// Verified-token cache lifetime (see [`crate::auth::TOKEN_CACHE_TTL`]).
    pub token_cache: std::time::Duration,
    /// Connector-row cache lifetime (see [`crate::auth::CONNECTOR_CACHE_TTL`]).
    pub connector_cache: std::time::Duration,
    /// How long an execute waits for a concurrent one with the same idempotency key before it
    /// answers 409 `conflict` (30 s; not a command-line option, tests shorten it).
    pub idempotency_wait: std::time::Duration,
    pub max_execute_body: usize,
    /// Opens `GET /metrics` when set.
    pub metrics_token: Option<Secret>,
    pub sandbox: bool,
    /// With `sandbox`: the emulators run without quotas and throttling.
    pub sandbox_no_quotas: bool,
    pub providers: ProvidersConfig,
    /// 0 = no health checks.
    pub health_check_interval_secs: u64,
    pub health_check_idle_secs: u64,
    /// Rates, concurrency, timeouts and sizes a stranger may cost (defaults; tests change them).
    pub limits: crate::limits::Limits,
    /// Events: polling, webhook delivery (see [`crate::services::events`]).
    pub events: crate::services::events::EventsConfig,
    /// The context store's worker (see [`crate::services::context`]).
    pub context: crate::services::context::ContextConfig,
}

pub const DEFAULT_HEALTH_CHECK_INTERVAL_SECS: u64 = 300;
pub const DEFAULT_HEALTH_CHECK_IDLE_SECS: u64 = 6 * 3600;

pub const MIN_TOKEN_TTL_SECS: u64 = 15 * 60;
pub const MAX_CACHE_MS: u64 = 10_000;
pub const DEFAULT_MAX_EXECUTE_BODY: usize = 50 * 1024 * 1024;

impl Config {
    /// Defaults for a data directory (tests, the CLI).
    pub fn for_data_dir(data_dir: impl AsRef<Path>) -> Config {
        Config::resolve(ServeArgs {
            data_dir: Some(data_dir.as_ref().to_path_buf()),
            ..Default::default()
        })
        .expect("defaults resolve")
    }

    /// Merges the TOML file named by `args.config` (lowest), then `args` (env and CLI), then
    /// `*_FILE` secrets, then defaults; `[providers.<type>]` for the built-in connector types.
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Config> {
        Config::resolve_with(args, providers::all())
    }

    /// [`Config::resolve`] for a server running these connector types.
    pub fn resolve_with(
        args: ServeArgs,
        descriptors: &[&'static ProviderDescriptor],
    ) -> anyhow::Result<Config> {
        let file: ServeArgs = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => ServeArgs::default(),
        };
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = args
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("connectors.db").display()));
        let token_ttl_secs = args.token_ttl_secs.or(file.token_ttl_secs).unwrap_or(3600);
        if token_ttl_secs < MIN_TOKEN_TTL_SECS {
            anyhow::bail!("token_ttl_secs must be at least {MIN_TOKEN_TTL_SECS} (15 minutes)");
        }
        let token_cache_ms = args
            .token_cache_ms
            .or(file.token_cache_ms)
            .unwrap_or(crate::auth::TOKEN_CACHE_TTL.as_millis() as u64);
        let connector_cache_ms = args
            .connector_cache_ms
            .or(file.connector_cache_ms)
            .unwrap_or(crate::auth::CONNECTOR_CACHE_TTL.as_millis() as u64);
        for (name, v) in [
            ("token_cache_ms", token_cache_ms),
            ("connector_cache_ms", connector_cache_ms),
        ] {
            if v > MAX_CACHE_MS {
                anyhow::bail!(
                    "{name} must be at most {MAX_CACHE_MS} (it bounds how late other replicas' changes are seen); 0 turns the cache off"
                );
            }
        }
        let workers = args.workers.or(file.workers);
        if workers == Some(0) {
            anyhow::bail!("workers must be at least 1 (or left out: one per CPU core)");
        }
        let sandbox = args.sandbox || file.sandbox;
        let sandbox_no_quotas = args.sandbox_no_quotas || file.sandbox_no_quotas;
        if sandbox_no_quotas && !sandbox {
            anyhow::bail!(
                "sandbox_no_quotas (--sandbox-no-quotas, CONNECTORS_SANDBOX_NO_QUOTAS) only applies with --sandbox: add --sandbox or drop it"
            );
        }
        let gmail_push = match (
            args.gmail_push_topic.or(file.gmail_push_topic),
            args.gmail_push_audience.or(file.gmail_push_audience),
            args.gmail_push_service_account
                .or(file.gmail_push_service_account),
        ) {
            (None, _, _) => None,
            (Some(topic), Some(audience), Some(service_account)) => {
                Some(crate::services::events::push::GmailPushConfig {
                    topic,
                    audience,
                    service_account,
                    jwks_url: args
                        .gmail_push_jwks_url
                        .or(file.gmail_push_jwks_url)
                        .unwrap_or_else(|| {
                            crate::services::events::push::GOOGLE_JWKS_URL.to_string()
                        }),
                })
            }
            _ => anyhow::bail!(
                "gmail_push_topic needs gmail_push_audience and gmail_push_service_account (the push subscription's token audience and service account)"
            ),
        };
        let outlook_push = match args.outlook_push_url.or(file.outlook_push_url) {
            None => None,
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                Some(crate::services::events::graph::OutlookPushConfig {
                    notification_url: u,
                })
            }
            Some(_) => anyhow::bail!(
                "outlook_push_url must be the http(s) URL at which Graph reaches /push/outlook, e.g. https://connectors.example.com/push/outlook"
            ),
        };
        let mut providers = file.providers;
        providers.check_names(descriptors)?;
        for d in descriptors {
            provider_env(providers.entry(d.name), &d.name.to_ascii_uppercase())?;
        }
        let bind = args
            .bind
            .or(file.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid address"));
        let public_url = match args.public_url.or(file.public_url) {
            None => format!("http://{bind}"),
            Some(u) => match url::Url::parse(&u) {
                Ok(p)
                    if matches!(p.scheme(), "http" | "https")
                        && p.host_str().is_some()
                        && p.query().is_none() =>
                {
                    u.trim_end_matches('/').to_string()
                }
                _ => anyhow::bail!(
                    "public_url must be the http(s) origin end users reach this server at, e.g. https://connectors.example.com"
                ),
            },
        };
        Ok(Config {
            bind,
            public_url,
            data_dir,
            database_url,
            master_key: args.master_key.or(file.master_key).map(Secret::new),
            master_key_file: args.master_key_file.or(file.master_key_file),
            token_ttl_secs,
            workers,
            token_cache: std::time::Duration::from_millis(token_cache_ms),
            connector_cache: std::time::Duration::from_millis(connector_cache_ms),
            idempotency_wait: crate::idempotency::DEFAULT_WAIT,
            max_execute_body: args
                .max_execute_body
                .or(file.max_execute_body)
                .unwrap_or(DEFAULT_MAX_EXECUTE_BODY),
            metrics_token: args.metrics_token.or(file.metrics_token).map(Secret::new),
            sandbox,
            sandbox_no_quotas,
            providers,
            health_check_interval_secs: args
                .health_check_interval_secs
                .or(file.health_check_interval_secs)
                .unwrap_or(DEFAULT_HEALTH_CHECK_INTERVAL_SECS),
            health_check_idle_secs: args
                .health_check_idle_secs
                .or(file.health_check_idle_secs)
                .unwrap_or(DEFAULT_HEALTH_CHECK_IDLE_SECS),
            limits: {
                let mut l = crate::limits::Limits::default();
                if let Some(s) = args.body_timeout_secs.or(file.body_timeout_secs) {
                    if s == 0 {
                        anyhow::bail!("body_timeout_secs must be at least 1");
                    }
                    l.body_timeout = std::time::Duration::from_secs(s);
                }
                if let Some(n) = args.max_connections.or(file.max_connections) {
                    if n == 0 {
                        anyhow::bail!("max_connections must be at least 1");
                    }
                    l.max_connections = n;
                }
                l
            },
            events: crate::services::events::EventsConfig {
                poll_interval: std::time::Duration::from_millis(
                    args.poll_interval_ms
                        .or(file.poll_interval_ms)
                        .unwrap_or(if sandbox { 1000 } else { 60_000 }),
                ),
                gmail_push,
                outlook_push,
                ..Default::default()
            },
            context: Default::default(),
        })
    }

    /// The health check settings (`interval` zero = off).
    pub fn health_check(&self) -> crate::lifecycle::health::HealthConfig {
        crate::lifecycle::health::HealthConfig {
            interval: std::time::Duration::from_secs(self.health_check_interval_secs),
            idle: std::time::Duration::from_secs(self.health_check_idle_secs),
        }
    }
}

/// Reads `CONNECTORS_<P>_CLIENT_ID`, `..._CLIENT_SECRET`, `..._CLIENT_SECRET_FILE`,
/// `..._BASE_URL`, `..._TOKEN_URL` over the file's values.
fn provider_env(p: &mut ProviderConfig, name: &str) -> anyhow::Result<()> {
    let var = |suffix: &str| std::env::var(format!("CONNECTORS_{name}_{suffix}")).ok();
    if let Some(v) = var("CLIENT_ID") {
        p.client_id = Some(v);
    }
    if let Some(v) = var("CLIENT_SECRET") {
        p.client_secret = Some(Secret::new(v));
    } else if let Some(path) = var("CLIENT_SECRET_FILE") {
        let v = std::fs::read_to_string(&path)
            .with_context(|| format!("reading CONNECTORS_{name}_CLIENT_SECRET_FILE {path}"))?;
        p.client_secret = Some(Secret::new(v.trim()));
    }
    if let Some(v) = var("BASE_URL") {
        p.base_url = Some(v);
    }
    if let Some(v) = var("TOKEN_URL") {
        p.token_url = Some(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_wins_over_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:9000\"\ntoken_ttl_secs = 1800\n[providers.gmail]\nclient_id = \"cid\"\nclient_secret = \"cs\"\n",
        )
        .unwrap();
        let cfg = Config::resolve(ServeArgs {
            config: Some(file),
            bind: Some("127.0.0.1:9001".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.bind.port(), 9001);
        assert_eq!(cfg.token_ttl_secs, 1800);
        assert_eq!(cfg.data_dir, PathBuf::from("./data"));
        assert_eq!(
            cfg.health_check_interval_secs,
            DEFAULT_HEALTH_CHECK_INTERVAL_SECS
        );
        assert!(cfg.providers.get("gmail").has_platform_app());
        assert!(!format!("{cfg:?}").contains("\"cs\""));
    }

    #[test]
    fn health_checks_can_be_tuned_or_turned_off() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "health_check_interval_secs = 0\nhealth_check_idle_secs = 60\n",
        )
        .unwrap();
        let cfg = Config::resolve(ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap();
        assert!(cfg.health_check().interval.is_zero());
        assert_eq!(cfg.health_check().idle.as_secs(), 60);
        let cfg = Config::resolve(ServeArgs {
            config: Some(file),
            health_check_interval_secs: Some(30),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.health_check().interval.as_secs(), 30);
    }

    #[test]
    fn token_lifetime_below_fifteen_minutes_is_refused() {
        let err = Config::resolve(ServeArgs {
            token_ttl_secs: Some(60),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("15 minutes"));
    }

    #[test]
    fn sandbox_quotas_switch_off_from_the_file_or_the_cli_and_need_the_sandbox() {
        let cfg = Config::resolve(ServeArgs::default()).unwrap();
        assert!(!cfg.sandbox_no_quotas, "quotas are on by default");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "sandbox = true\nsandbox_no_quotas = true\n").unwrap();
        let cfg = Config::resolve(ServeArgs {
            config: Some(file),
            ..Default::default()
        })
        .unwrap();
        assert!(cfg.sandbox && cfg.sandbox_no_quotas);
        let cfg = Config::resolve(ServeArgs {
            sandbox: true,
            sandbox_no_quotas: true,
            ..Default::default()
        })
        .unwrap();
        assert!(cfg.sandbox_no_quotas);
        let err = Config::resolve(ServeArgs {
            sandbox_no_quotas: true,
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("--sandbox"), "{err}");
    }

    #[test]
    fn workers_default_to_one_per_core_and_zero_is_refused() {
        assert_eq!(Config::resolve(ServeArgs::default()).unwrap().workers, None);
        let cfg = Config::resolve(ServeArgs {
            workers: Some(1),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.workers, Some(1));
        let err = Config::resolve(ServeArgs {
            workers: Some(0),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("workers"), "{err}");
        let err = Config::resolve(ServeArgs {
            token_cache_ms: Some(60_000),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("token_cache_ms"), "{err}");
        let cfg = Config::resolve(ServeArgs::default()).unwrap();
        assert_eq!(
            cfg.token_cache,
            crate::auth::TOKEN_CACHE_TTL,
            "verified tokens are cached by default (changes are announced, store::auth)"
        );
    }

    #[test]
    fn provider_sections_follow_the_descriptor_list() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[providers.outlook]\ntenant = \"organizations\"\n").unwrap();
        let args = || ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        let cfg = Config::resolve(args()).unwrap();
        assert_eq!(
            cfg.providers.get("outlook").tenant.as_deref(),
            Some("organizations")
        );
        let err = Config::resolve_with(args(), &[&connector_gmail::PROVIDER]).unwrap_err();
        assert!(err.to_string().contains("[providers.outlook]"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "bnd = \"x\"\n").unwrap();
        let err = Config::resolve(ServeArgs {
            config: Some(file),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("bnd"));
    }
}
