//! `GET`/`PUT /api/v1/organization/settings`.

use connector_core::Secret;
use serde::{Deserialize, Serialize};

/// A change of settings (API body, CLI flags): only the fields it names change.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    /// Redirect URL prefixes the OAuth flow may return to (scheme, host, port, path prefix).
    #[serde(default)]
    pub redirect_allowlist: Option<Vec<String>>,
    /// Empty string removes the webhook.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Signing secret of webhook deliveries; encrypted at rest, never returned.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(serialize_with = "crate::expose::optional_secret")]
    pub webhook_secret: Option<Secret>,
    /// Application client ids.
    #[serde(default)]
    pub raw_credential_apps: Option<Vec<String>>,
    /// Put the text body of messages in events (`message.body_text`); off by default.
    #[serde(default)]
    pub event_bodies: Option<bool>,
    /// The name the connect page shows (default: the organization's name); empty string
    /// removes it. At most 100 characters.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// The logo the connect page shows: an http(s) URL; empty string removes it.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Where the connect page returns the end user after a reconnect link (the
    /// `reconnect_url` of a `connector.status_changed` event): a URL on
    /// `redirect_allowlist`, which gets `connector_id` or `error` in its query. Empty string
    /// removes it; without it the flow ends on the server's own "you can close this window"
    /// page.
    #[serde(default)]
    pub connect_return_url: Option<String>,
}

/// The organization's settings as responses show them (never the webhook secret).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsView {
    pub redirect_allowlist: Vec<String>,
    #[schema(required)]
    pub webhook_url: Option<String>,
    pub webhook_secret_set: bool,
    /// Application client ids allowed to read raw credentials.
    pub raw_credential_apps: Vec<String>,
    /// Events carry message bodies.
    #[serde(default)]
    pub event_bodies: bool,
    /// The name the connect page shows (null: the organization's name).
    #[serde(default)]
    #[schema(required)]
    pub display_name: Option<String>,
    /// The logo the connect page shows.
    #[serde(default)]
    #[schema(required)]
    pub logo_url: Option<String>,
    /// Where a reconnect link's flow returns the end user (null: the server's own page).
    #[serde(default)]
    #[schema(required)]
    pub connect_return_url: Option<String>,
}
