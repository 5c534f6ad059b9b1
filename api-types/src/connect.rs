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
