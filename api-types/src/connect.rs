//! Connect sessions (issue 25): a single-use, expiring URL of the server's connect page.

use serde::{Deserialize, Serialize};

/// Creates a connect session: the URL of a page where the end user picks a provider, reviews
/// the permissions and authorizes; they land on `redirect_url` with `connector_id` (or `error`
/// and `error_description`).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectSessionRequest {
    /// The end user the connector will belong to (not blank). With
    /// `reconnect_connector_id`, the connector's own customer.
    #[schema(min_length = 1, pattern = r"\S")]
    pub customer_name: String,
    /// The connector types the end user may choose from (one or several, e.g. `["gmail",
    /// "outlook"]`). With `reconnect_connector_id` it may be empty; else it must name the
    /// connector's type.
    #[serde(default)]
    pub connector_types: Vec<String>,
    /// Where the end user lands afterwards; must be on the organization's redirect allow-list.
    pub redirect_url: String,
    /// Re-authorize this connector (one in `needs_reauth`, say): the page opens in reconnect
    /// mode and the connector keeps its id, settings and policies.
    #[serde(default)]
    pub reconnect_connector_id: Option<String>,
    /// What the application asks to do in the mailbox; the page lists only these, in plain
    /// words, and the consent asks only their scopes. Default: every mail capability (`read`,
    /// `send`, `modify`, `labels`), without `calendar`; with `reconnect_connector_id`, that
    /// plus `calendar` when the connector's grant had calendar access. `calendar` needs at
    /// least one mail capability beside it. A grant with fewer of these scopes than asked ends
    /// in `error=insufficient_scopes`.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub capabilities: Option<Vec<ConnectCapability>>,
}

/// What a connect session may ask to do in the end user's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectCapability {
    /// Read mail, labels or folders, and settings.
    Read,
    /// Send mail.
    Send,
    /// Change mail: read state, moves, drafts.
    Modify,
    /// Manage labels (Gmail) or categories and mailbox settings (Outlook).
    Labels,
    /// See and change calendars and events.
    Calendar,
}

/// A connect session: open `connect_url` in the end user's browser (a redirect, a link, or the
/// popup of `/connect/button.js`). The URL works once and expires at `expires_at`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectSession {
    pub connect_url: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Seconds from now.
    pub expires_in: i64,
}

/// A re-authorization link for a connector in `needs_reauth` (`POST
/// .../connectors/{id}/reconnect_link`, and `reconnect_url` in its `connector.status_changed`
/// event): opening `reconnect_url` starts a fresh connect session in reconnect mode. It works
/// until `expires_at` (days, not minutes) and stops working once the connector is active again
/// or deleted. It ends at the organization's `connect_return_url`, else on the server's own
/// page.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconnectLink {
    pub reconnect_url: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Seconds from now.
    pub expires_in: i64,
}
