//! Organization settings: the redirect URL allow-list of the OAuth flow, the webhook URL and
//! its signing secret (encrypted by the vault, never returned), and the applications allowed
//! to read raw credentials. Shared by `PUT /api/v1/organization/settings` and
//! `connectors orgs settings`: the same checks for both.

use api_types::{SettingsChange, SettingsView};
use connector_core::ConnectorError;
use serde_json::json;

use crate::error::db;
use crate::oauth::redirect::{allowed, valid_entry};
use crate::store::{SettingsRow, Store};
use crate::vault::Vault;

pub struct Settings {
    store: Store,
    vault: Vault,
}

impl Settings {
    pub fn new(store: Store, vault: Vault) -> Settings {
        Settings { store, vault }
    }

    /// The organization's settings (defaults when it never set any).
    pub async fn get(&self, org: &str) -> Result<SettingsRow, ConnectorError> {
        self.store.org_settings(org).await.map_err(db)
    }

    /// Validates and stores a change (only the fields it names); returns the new settings.
    pub async fn apply(&self, org: &str, c: SettingsChange) -> Result<SettingsRow, ConnectorError> {
        let mut s = self.get(org).await?;
        if let Some(list) = c.redirect_allowlist {
            for e in &list {
                valid_entry(e).map_err(|m| {
                    ConnectorError::invalid_params(m)
                        .with_details(json!({"path": "redirect_allowlist"}))
                })?;
            }
            s.redirect_allowlist = list;
        }
        if let Some(u) = c.webhook_url {
            if u.is_empty() {
                s.webhook_url = None;
                s.webhook_secret = None;
            } else {
                valid_entry(&u).map_err(ConnectorError::invalid_params)?;
                s.webhook_url = Some(u);
            }
        }
        if let Some(secret) = c.webhook_secret {
            s.webhook_secret = Some(self.vault.encrypt_secret(org, &secret).await?.0);
        }
        if let Some(apps) = c.raw_credential_apps {
            s.raw_credential_apps = apps;
        }
        if let Some(on) = c.event_bodies {
            s.event_bodies = on;
        }
        if let Some(name) = c.display_name {
            let name = name.trim().to_string();
            if name.chars().count() > 100 || name.chars().any(char::is_control) {
                return Err(ConnectorError::invalid_params(
                    "`display_name` must be at most 100 characters, without control characters",
                )
                .with_details(json!({"path": "display_name"})));
            }
            s.display_name = (!name.is_empty()).then_some(name);
        }
        if let Some(u) = c.logo_url {
            if u.is_empty() {
                s.logo_url = None;
            } else {
                valid_entry(&u).map_err(|m| {
                    ConnectorError::invalid_params(m).with_details(json!({"path": "logo_url"}))
                })?;
                s.logo_url = Some(u);
            }
        }
        if let Some(u) = c.connect_return_url {
            s.connect_return_url = (!u.is_empty()).then_some(u);
        }
        // Checked against the allow-list as it is after this change (either may have moved).
        if let Some(u) = &s.connect_return_url {
            if !allowed(&s.redirect_allowlist, u) {
                return Err(ConnectorError::invalid_params(
                    "`connect_return_url` must be on the organization's `redirect_allowlist` (scheme, host, port and path prefix must match)",
                )
                .with_details(json!({"path": "connect_return_url"})));
            }
        }
        self.store.put_org_settings(org, &s).await.map_err(db)?;
        Ok(s)
    }
}

/// What responses show of the settings: never the webhook secret.
pub fn view(s: &SettingsRow) -> SettingsView {
    SettingsView {
        redirect_allowlist: s.redirect_allowlist.clone(),
        webhook_url: s.webhook_url.clone(),
        webhook_secret_set: s.webhook_secret.is_some(),
        raw_credential_apps: s.raw_credential_apps.clone(),
        event_bodies: s.event_bodies,
        display_name: s.display_name.clone(),
        logo_url: s.logo_url.clone(),
        connect_return_url: s.connect_return_url.clone(),
    }
}
