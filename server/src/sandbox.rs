//! The sandbox of `connectors serve --sandbox`, and `connectors sandbox gmail|outlook`.
//!
//! With `--sandbox` the provider emulators run in process with the demo mailbox, and a dev
//! organization, application and one connector per type are created (or, on a restart, re-bound
//! to the fresh emulators with fresh refresh tokens) and written to `<data-dir>/sandbox.json`.

use std::path::Path;

use anyhow::Context;
use connector_core::Secret;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::SandboxArgs;
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
    /// The emulator's controls; dropping it stops the emulator.
    pub handle: Box<dyn sandbox_kit::Emulator>,
}

/// Starts every emulator this build has (one per connector type in `providers::emulators`),
/// with the demo seed; `quotas: false` turns their quotas and throttling off
/// (`connectors serve --sandbox --sandbox-no-quotas`).
pub fn start_emulators(quotas: bool) -> anyhow::Result<Vec<Emulator>> {
    providers::emulators()
        .iter()
        .map(|(name, start)| {
            let provider = providers::get(name).context("an emulator without a connector type")?;
            let sb = start(emulator_config(quotas))
                .with_context(|| format!("starting the {name} emulator"))?;
            Ok(emulator(provider.name, sb, provider.scopes.full))
        })
        .collect()
}

/// The emulators of `serve --sandbox` show their consent pages: a newcomer clicks through the
/// connect flow as an end user would (accept, cancel, untick a Google scope).
fn emulator_config(quotas: bool) -> sandbox_kit::SandboxConfig {
    sandbox_kit::SandboxConfig {
        quotas,
        interactive_consent: true,
        ..Default::default()
    }
}

/// A started emulator with a fresh refresh token for the demo user with `scopes`.
fn emulator(
    connector_type: &'static str,
    handle: Box<dyn sandbox_kit::Emulator>,
    scopes: &[&str],
) -> Emulator {
    let refresh_token = Secret::new(handle.kit().issue_refresh_token(SANDBOX_USER, scopes));
    Emulator {
        connector_type,
        base_url: handle.base_url(),
        token_url: handle.token_url(),
        refresh_token,
        handle,
    }
}

/// Starts the emulators, sets up (or re-binds) the sandbox organization and connectors and
/// prints them; the emulators run as long as the returned values live.
pub async fn start(state: &AppState, emulators: &[Emulator]) -> anyhow::Result<()> {
    if state.config.sandbox_no_quotas {
        tracing::info!("sandbox emulators run without quotas and throttling");
    }
    let file = setup(state, emulators).await?;
    let later = enable_push(state, emulators);
    // The first poll (the baseline) before anyone can change the mailbox: from the first
    // request on, every change is an event.
    if !state.config.events.poll_interval.is_zero() {
        let ids: Vec<String> = file
            .connectors
            .values()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        state
            .services
            .events
            .poll_first(&file.organization_id, &ids)
            .await?;
    }
    enable_push_urls(state, later);
    let connect = connect_url(state, &file).await?;
    announce(state, &file);
    println!("Connect page (one use, valid for 15 minutes; the emulators show their consent pages): {connect}");
    Ok(())
}

/// Points each emulated provider's OAuth flow (consent, token, API) at its emulator, unless
/// the config names the provider's endpoints itself.
pub fn point_providers(config: &mut crate::config::Config, emulators: &[Emulator]) {
    for emu in emulators {
        let p = config.providers.entry(emu.connector_type);
        if p.authorize_url.is_some() || p.token_url.is_some() || p.base_url.is_some() {
            continue;
        }
        p.authorize_url = Some(emu.handle.authorize_url());
        p.token_url = Some(emu.token_url.clone());
        p.base_url = Some(emu.base_url.clone());
        if p.client_id.is_none() {
            p.client_id = Some(SANDBOX_CLIENT_ID.into());
            p.client_secret = Some(Secret::new(SANDBOX_CLIENT_SECRET));
        }
    }
}

/// This server's address as a browser on this machine reaches it.
fn local_base(state: &AppState) -> String {
    let bind = state.config.bind;
    let host = if bind.ip().is_unspecified() {
        std::net::SocketAddr::from(([127, 0, 0, 1], bind.port()))
    } else {
        bind
    };
    format!("http://{host}")
}

/// A connect session of the sandbox customer for every emulated provider, landing on the
/// server's own `/connect/finished` page (added to the organization's allow-list).
async fn connect_url(state: &AppState, file: &SandboxFile) -> anyhow::Result<String> {
    let base = local_base(state);
    let finished = format!("{base}/connect/finished");
    let org = &file.organization_id;
    let settings = state
        .services
        .settings
        .get(org)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    if !settings.redirect_allowlist.contains(&finished) {
        let mut list = settings.redirect_allowlist.clone();
        list.push(finished.clone());
        state
            .services
            .settings
            .apply(
                org,
                api_types::SettingsChange {
                    redirect_allowlist: Some(list),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
    }
    let mut types: Vec<String> = file.connectors.keys().cloned().collect();
    types.sort();
    let session = state
        .services
        .oauth
        .create_connect_session(
            org,
            api_types::ConnectSessionRequest {
                customer_name: file.customer_name.clone(),
                connector_types: types,
                redirect_url: finished,
                reconnect_connector_id: None,
                capabilities: None,
            },
            &base,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(session.connect_url)
}

/// Points each emulator's push notifications at this server (Gmail: Pub/Sub push, now;
/// Graph: change notifications, whose endpoint Graph validates when the subscription is made,
/// so the returned setups are to be enabled by [`enable_push_urls`] once the server is about
/// to listen).
fn enable_push(state: &AppState, emulators: &[Emulator]) -> Vec<sandbox_kit::PushSetup> {
    let bind = state.config.bind;
    let host = if bind.ip().is_unspecified() {
        std::net::SocketAddr::from(([127, 0, 0, 1], bind.port()))
    } else {
        bind
    };
    let mut later = Vec::new();
    for emu in emulators {
        let endpoint = format!("http://{host}/push/{}", emu.connector_type);
        let Some(setup) = emu.handle.enable_push(&endpoint) else {
            continue;
        };
        if setup.notification_url.is_some() {
            later.push(setup);
            continue;
        }
        if let (Some(topic), Some(audience), Some(service_account), Some(jwks_url)) = (
            setup.topic,
            setup.audience,
            setup.service_account,
            setup.jwks_url,
        ) {
            state.services.events.enable_gmail_push(
                crate::services::events::push::GmailPushConfig {
                    topic,
                    audience,
                    service_account,
                    jwks_url,
                },
            );
            tracing::info!(%endpoint, "sandbox push notifications on");
        }
    }
    later
}

/// Turns on the push setups that name a notification URL (Graph change notifications): the
/// connectors' next polls subscribe.
fn enable_push_urls(state: &AppState, setups: Vec<sandbox_kit::PushSetup>) {
    for setup in setups {
        if let Some(notification_url) = setup.notification_url {
            tracing::info!(endpoint = %notification_url, "sandbox push notifications on");
            state.services.events.enable_outlook_push(
                crate::services::events::graph::OutlookPushConfig { notification_url },
            );
        }
    }
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
            Some(row) => {
                // A fresh emulator: the events cursor of the old one means nothing there.
                state.store.reset_stream(&row.id).await?;
                row.id
            }
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
    let cfg = standalone_config(&args)?;
    let start = providers::emulator(&args.provider)
        .with_context(|| format!("no emulator for connector type {:?}", args.provider))?;
    let sb = start(cfg)?;
    println!(
        "{}",
        json!({"provider": sb.provider(), "base_url": sb.base_url(), "token_url": sb.token_url()})
    );
    tokio::signal::ctrl_c().await?;
    tracing::info!(emulator = sb.provider(), "emulator stopped");
    Ok(())
}

/// The emulator configuration `connectors sandbox` asks for.
pub fn standalone_config(args: &SandboxArgs) -> anyhow::Result<sandbox_kit::SandboxConfig> {
    let seed = args
        .seed
        .parse()
        .map_err(|e| anyhow::anyhow!("--seed: {e}"))?;
    let tokens = args
        .tokens
        .iter()
        .map(|t| t.parse().map_err(|e| anyhow::anyhow!("--token: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(sandbox_kit::SandboxConfig {
        bind: args.bind,
        seed,
        tokens,
        quotas: !args.no_quotas,
        introspection_url: args.trust_issuer.clone(),
        introspection_client_id: args.issuer_client_id.clone(),
        introspection_client_secret: args.issuer_client_secret.clone().map(Secret::new),
        introspection_audience: args.issuer_audience.clone(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::{Cli, Command};

    fn sandbox_args(argv: &[&str]) -> SandboxArgs {
        match Cli::try_parse_from(argv)
            .expect("the command line parses")
            .command
        {
            Command::Sandbox(args) => args,
            _ => panic!("not `connectors sandbox`"),
        }
    }

    #[test]
    fn standalone_emulators_have_quotas_unless_no_quotas_is_given() {
        for provider in ["gmail", "outlook"] {
            let on = standalone_config(&sandbox_args(&["connectors", "sandbox", provider]));
            assert!(on.unwrap().quotas, "{provider}: quotas by default");
            let off = standalone_config(&sandbox_args(&[
                "connectors",
                "sandbox",
                provider,
                "--no-quotas",
            ]));
            assert!(!off.unwrap().quotas, "{provider}: --no-quotas");
        }
    }

    #[test]
    fn standalone_emulators_read_the_one_token_syntax() {
        let cfg = standalone_config(&sandbox_args(&[
            "connectors",
            "sandbox",
            "outlook",
            "--token",
            "t1=grace@example.com:Mail.Read,Mail.Send",
            "--token",
            "t2=ada@example.com",
        ]))
        .unwrap();
        assert_eq!(cfg.tokens.len(), 2);
        assert_eq!(cfg.tokens[0].user, "grace@example.com");
        assert_eq!(cfg.tokens[0].scopes, ["Mail.Read", "Mail.Send"]);
        assert!(cfg.tokens[1].every_scope());
        let bad = standalone_config(&sandbox_args(&[
            "connectors",
            "sandbox",
            "gmail",
            "--token",
            "no-user",
        ]));
        assert!(bad.unwrap_err().to_string().contains("--token"));
    }
}
