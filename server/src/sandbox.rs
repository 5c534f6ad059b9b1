//! The sandbox of `connectors serve --sandbox`, and `connectors sandbox gmail|outlook`.
//!
//! With `--sandbox` the provider emulators run in process with the demo mailbox, and a dev
//! organization, application and one connector per type are created (or, on a restart, re-bound
//! to the fresh emulators with fresh refresh tokens) and written to `<data-dir>/sandbox.json`.

use std::any::Any;
use std::path::Path;

use anyhow::Context;
use connector_core::Secret;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{Provider, SandboxArgs};
use crate::credentials::StoredCredentials;
use crate::services::connectors::{NewConnectorInput, Origin};
use crate::AppState;

pub const SANDBOX_USER: &str = "ada@example.com";
pub const SANDBOX_CUSTOMER: &str = "demo-customer";
const SANDBOX_CLIENT_ID: &str = "sandbox-client";
const SANDBOX_CLIENT_SECRET: &str = "sandbox-client-secret";

/// `<data-dir>/sandbox.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxFile {
    pub organization_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub customer_name: String,
    pub connectors: serde_json::Map<String, serde_json::Value>,
}

/// A running emulator: where it lives and a fresh refresh token for the demo user.
pub struct Emulator {
    pub connector_type: &'static str,
    pub base_url: String,
    pub token_url: String,
    pub refresh_token: Secret,
    /// Keeps the emulator alive (dropping stops it).
    pub handle: Box<dyn Any + Send>,
}

/// Starts every emulator this build has, with the demo seed; `quotas: false` turns their
/// quotas and throttling off (`connectors serve --sandbox --sandbox-no-quotas`).
pub fn start_emulators(quotas: bool) -> anyhow::Result<Vec<Emulator>> {
    let mut out = vec![gmail_emulator(quotas)?];
    out.extend(outlook_emulator(quotas)?);
    Ok(out)
}

fn gmail_emulator(quotas: bool) -> anyhow::Result<Emulator> {
    use sandbox_gmail::{GmailSandbox, SandboxConfig};
    let sb = GmailSandbox::start(SandboxConfig {
        quotas,
        ..SandboxConfig::default()
    })
    .context("starting the Gmail emulator")?;
    let refresh_token =
        Secret::new(sb.issue_refresh_token(SANDBOX_USER, connector_gmail::SCOPES_FULL));
    Ok(Emulator {
        connector_type: "gmail",
        base_url: sb.base_url(),
        token_url: sb.token_url(),
        refresh_token,
        handle: Box::new(sb),
    })
}

/// The Outlook emulator (refresh tokens rotate on every refresh, as Microsoft's do). It joins
/// the sandbox once the Outlook spec can send mail, so that the quickstart (list, read, send)
/// holds for every connector in `sandbox.json`.
fn outlook_emulator(quotas: bool) -> anyhow::Result<Option<Emulator>> {
    use sandbox_outlook::{OutlookSandbox, SandboxConfig};
    if connector_outlook::spec()
        .spec()
        .action("messages", "send")
        .is_none()
    {
        return Ok(None);
    }
    let sb = OutlookSandbox::start(SandboxConfig {
        quotas,
        ..SandboxConfig::default()
    })
    .context("starting the Outlook emulator")?;
    let refresh_token =
        Secret::new(sb.issue_refresh_token(SANDBOX_USER, connector_outlook::SCOPES));
    Ok(Some(Emulator {
        connector_type: "outlook",
        base_url: sb.base_url(),
        token_url: sb.token_url(),
        refresh_token,
        handle: Box::new(sb),
    }))
}

/// Starts the emulators, sets up (or re-binds) the sandbox organization and connectors and
/// prints them; the emulators run as long as the returned values live.
pub async fn start(state: &AppState) -> anyhow::Result<Vec<Emulator>> {
    if state.config.sandbox_no_quotas {
        tracing::info!("sandbox emulators run without quotas and throttling");
    }
    let emulators = start_emulators(!state.config.sandbox_no_quotas)?;
    let file = setup(state, &emulators).await?;
    announce(state, &file);
    Ok(emulators)
}

/// Creates (or re-binds) the sandbox organization, app and connectors; writes sandbox.json.
pub async fn setup(state: &AppState, emulators: &[Emulator]) -> anyhow::Result<SandboxFile> {
    let path = state.config.data_dir.join("sandbox.json");
    let existing = read_existing(&path, state).await?;
    let mut file = match existing {
        Some(f) => f,
        None => {
            let org = state
                .store
                .create_org(&format!(
                    "sandbox-{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                ))
                .await?;
            let app = crate::auth::create_application(&state.store, &org.id).await?;
            SandboxFile {
                organization_id: org.id,
                client_id: app.client_id,
                client_secret: app.client_secret.expose().to_string(),
                customer_name: SANDBOX_CUSTOMER.into(),
                connectors: Default::default(),
            }
        }
    };
    let org = file.organization_id.clone();
    for emu in emulators {
        let Some(kind) = state.registry.get(emu.connector_type) else {
            continue;
        };
        let mut creds = StoredCredentials::default();
        creds
            .fields
            .insert("refresh_token".into(), emu.refresh_token.clone());
        creds
            .fields
            .insert("client_id".into(), Secret::new(SANDBOX_CLIENT_ID));
        creds
            .fields
            .insert("client_secret".into(), Secret::new(SANDBOX_CLIENT_SECRET));
        let endpoints = (Some(emu.base_url.clone()), Some(emu.token_url.clone()));
        let existing_id = file
            .connectors
            .get(emu.connector_type)
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let connectors = &state.services.connectors;
        let rebound = match existing_id {
            Some(id) => {
                connectors
                    .reauthorize(&org, &id, &creds, Some(endpoints.clone()))
                    .await?
            }
            None => None,
        };
        let id = match rebound {
            Some(row) => row.id,
            None => {
                connectors
                    .create(
                        &org,
                        kind,
                        NewConnectorInput {
                            customer_name: file.customer_name.clone(),
                            name: Some(format!("Sandbox {}", kind.name)),
                            replication_config: None,
                            credentials: creds,
                            base_url: endpoints.0,
                            token_url: endpoints.1,
                        },
                        Origin::Sandbox,
                    )
                    .await?
                    .id
            }
        };
        file.connectors.insert(emu.connector_type.into(), json!(id));
    }
    let text = serde_json::to_string_pretty(&file)?;
    let _ = std::fs::remove_file(&path);
    crate::vault::write_private(&path, text.as_bytes())?;
    Ok(file)
}

/// The previous sandbox.json if its organization and application still exist.
async fn read_existing(path: &Path, state: &AppState) -> anyhow::Result<Option<SandboxFile>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let Ok(file) = serde_json::from_str::<SandboxFile>(&text) else {
        tracing::warn!(path = %path.display(), "ignoring an unreadable sandbox.json");
        return Ok(None);
    };
    let org_ok = state.store.find_org(&file.organization_id).await?.is_some();
    let app_ok = state
        .store
        .find_application(&file.client_id)
        .await?
        .is_some_and(|a| a.organization_id == file.organization_id);
    Ok((org_ok && app_ok).then_some(file))
}

fn announce(state: &AppState, file: &SandboxFile) {
    let base = format!("http://{}", state.config.bind);
    println!(
        "Sandbox ready: {}",
        state.config.data_dir.join("sandbox.json").display()
    );
    println!("{}", serde_json::to_string_pretty(file).unwrap_or_default());
    println!("API: {base}/api/v1  (get a token: POST {base}/api/v1/account/applications/token)");
}

/// `connectors sandbox gmail|outlook`: one emulator until Ctrl-C.
pub async fn standalone(args: SandboxArgs) -> anyhow::Result<()> {
    match args.provider {
        Provider::Gmail => {
            use sandbox_gmail::{GmailSandbox, SandboxConfig, Seed, TokenRule};
            let seed: Seed = args.seed.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let tokens = args
                .tokens
                .iter()
                .map(|t| {
                    t.parse::<TokenRule>()
                        .map_err(|e| anyhow::anyhow!("--token: {e}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let sb = GmailSandbox::start(SandboxConfig {
                bind: args.bind,
                seed,
                tokens,
                introspection_url: args.trust_issuer.clone(),
                introspection_client_id: args.issuer_client_id.clone(),
                introspection_client_secret: args.issuer_client_secret.clone().map(Secret::new),
                introspection_audience: args.issuer_audience.clone(),
                ..Default::default()
            })?;
            println!(
                "{}",
                json!({"provider": "gmail", "base_url": sb.base_url(), "token_url": sb.token_url()})
            );
            tokio::signal::ctrl_c().await?;
            tracing::info!(addr = %sb.addr(), "emulator stopped");
        }
        Provider::Outlook => {
            use sandbox_outlook::{OutlookSandbox, SandboxConfig, Seed, TokenRule};
            let seed: Seed = args
                .seed
                .parse()
                .map_err(|e| anyhow::anyhow!("--seed: {e}"))?;
            let tokens = args
                .tokens
                .iter()
                .map(|t| {
                    t.parse::<TokenRule>()
                        .map_err(|e| anyhow::anyhow!("--token: {e}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let sb = OutlookSandbox::start(SandboxConfig {
                bind: args.bind,
                seed,
                tokens,
                introspection_url: args.trust_issuer.clone(),
                introspection_client_id: args.issuer_client_id.clone(),
                introspection_client_secret: args.issuer_client_secret.clone().map(Secret::new),
                introspection_audience: args.issuer_audience.clone(),
                ..Default::default()
            })?;
            println!(
                "{}",
                json!({"provider": "outlook", "base_url": sb.base_url(), "token_url": sb.token_url()})
            );
            tokio::signal::ctrl_c().await?;
            tracing::info!(addr = %sb.addr(), "emulator stopped");
        }
    }
    Ok(())
}
