//! `connectors orgs settings`: the organization settings from the command line (same rules as
//! `PUT /api/v1/organization/settings`; only the options given change).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use connector_core::Secret;

use api_types::SettingsChange;

use crate::config::{Config, ServeArgs, StoreArgs};
use crate::services::settings::view;
use crate::AppState;

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Organization id or name.
    #[arg(long)]
    pub org: String,
    /// Allowed redirect URL prefix (repeatable; replaces the list).
    #[arg(long = "allow-redirect")]
    pub allow_redirect: Vec<String>,
    /// Empty the redirect allow-list.
    #[arg(long, conflicts_with = "allow_redirect")]
    pub clear_redirects: bool,
    /// Webhook URL ("" removes the webhook and its secret).
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// File holding the webhook signing secret (kept out of the process list).
    #[arg(long)]
    pub webhook_secret_file: Option<PathBuf>,
    /// Application client id allowed to read raw credentials (repeatable; replaces the list).
    #[arg(long = "raw-credentials-app")]
    pub raw_credentials_apps: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn settings(a: SettingsArgs) -> anyhow::Result<()> {
    let config = Config::resolve(ServeArgs {
        data_dir: a.store.data_dir.clone(),
        config: a.store.config.clone(),
        database_url: a.store.database_url.clone(),
        ..Default::default()
    })?;
    let state = AppState::new(config).await?;
    let org = state
        .store
        .find_org(&a.org)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no organization with id or name {:?}", a.org))?;
    let webhook_secret = match &a.webhook_secret_file {
        Some(p) => Some(Secret::new(
            std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))?
                .trim(),
        )),
        None => None,
    };
    let change = SettingsChange {
        redirect_allowlist: (a.clear_redirects || !a.allow_redirect.is_empty())
            .then(|| a.allow_redirect.clone()),
        webhook_url: a.webhook_url.clone(),
        webhook_secret,
        raw_credential_apps: (!a.raw_credentials_apps.is_empty())
            .then(|| a.raw_credentials_apps.clone()),
        event_bodies: None,
        ..Default::default()
    };
    let s = state
        .services
        .settings
        .apply(&org.id, change)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let mut v = serde_json::to_value(view(&s)).expect("settings serialize");
    v["organization_id"] = serde_json::json!(org.id);
    println!("{v}");
    state.store.close().await;
    Ok(())
}
