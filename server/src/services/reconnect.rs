//! Re-authorization links (issue 25): a link for the end user of a connector in `needs_reauth`
//! that opens the connect page in reconnect mode. A connect session lasts minutes; this link
//! travels in the `connector.status_changed` event (webhook and feed) and from
//! `POST .../connectors/{id}/reconnect_link`, so it lasts days: each opening mints a fresh,
//! single-use connect session for that connector only.
//!
//! Only the SHA-256 of a link's token is stored. A link stops working when it expires, when the
//! connector is active again or deleted (its links are deleted then, and an opening checks the
//! status anyway). The flow returns to the organization's `connect_return_url` when it is set
//! and still on the redirect allow-list, else to the server's own `/connect/finished` page
//! ("you can close this window"). The link is never logged.

use api_types::ReconnectLink;
use connector_core::ConnectorError;

use super::connect::{new_token, reconnect_capabilities, well_formed, SessionRequest};
use super::oauth::{hash_state, OAuthFlow};
use crate::error::db;
use crate::oauth::redirect::allowed;
use crate::store::{now, Store};

/// How long a reconnect link works: a week, long enough for an email to be read.
pub const RECONNECT_TTL_SECS: i64 = 7 * 86_400;
/// Where the links point (outside `/api/`: the bearer needs no API token).
pub const PATH: &str = "/connect/r";
/// Where a reconnect flow ends when the organization set no `connect_return_url`.
pub const FINISHED_PATH: &str = "/connect/finished";

const STATUS_NEEDS_REAUTH: &str = "needs_reauth";

fn link_hash(token: &str) -> String {
    hash_state(&format!("reconnect:{token}"))
}

/// Mints and stores a link for `connector_id` (the caller knows it needs one); `base`: the
/// origin end users reach this server at.
pub async fn mint(
    store: &Store,
    org: &str,
    connector_id: &str,
    base: &str,
) -> Result<ReconnectLink, ConnectorError> {
    let token = new_token();
    let expires_at = now() + RECONNECT_TTL_SECS;
    store
        .insert_reconnect_link(&link_hash(&token), org, connector_id, expires_at)
        .await
        .map_err(db)?;
    Ok(ReconnectLink {
        reconnect_url: format!("{}{PATH}/{token}", base.trim_end_matches('/')),
        expires_at,
        expires_in: RECONNECT_TTL_SECS,
    })
}

/// What opening a link leads to.
pub enum Opened {
    /// The URL of a fresh connect session in reconnect mode.
    Session(String),
    /// Not a link of this server, or voided (the connector is active again or deleted).
    Unknown,
    Expired,
}

impl OAuthFlow {
    /// `POST .../connectors/{id}/reconnect_link`: a link for a connector in `needs_reauth`
    /// (404 for an unknown connector, 409 `conflict` for one that does not need it).
    pub async fn reconnect_link(
        &self,
        org: &str,
        id: &str,
        base: &str,
    ) -> Result<ReconnectLink, ConnectorError> {
        let row = self.connectors_get(org, id).await?;
        if row.status != STATUS_NEEDS_REAUTH {
            return Err(ConnectorError::new(
                connector_core::ErrorCode::Conflict,
                format!(
                    "the connector is `{}`: a reconnect link is only for a connector in `needs_reauth`",
                    row.status
                ),
            ));
        }
        mint(self.store_ref(), org, id, base).await
    }

    /// Opens a link: a fresh connect session for its connector. `base`: this server's origin as
    /// the request reached it.
    pub async fn open_reconnect_link(
        &self,
        token: &str,
        base: &str,
    ) -> Result<Opened, ConnectorError> {
        if !well_formed(token) {
            return Ok(Opened::Unknown);
        }
        let store = self.store_ref();
        let Some((org, id, expires_at)) =
            store.reconnect_link(&link_hash(token)).await.map_err(db)?
        else {
            return Ok(Opened::Unknown);
        };
        if expires_at < now() {
            return Ok(Opened::Expired);
        }
        let row = match store.get_connector(&org, &id).await.map_err(db)? {
            Some(row) if row.status == STATUS_NEEDS_REAUTH => row,
            _ => {
                store.void_reconnect_links(&id).await.map_err(db)?;
                return Ok(Opened::Unknown);
            }
        };
        let settings = store.org_settings(&org).await.map_err(db)?;
        let redirect_url = settings
            .connect_return_url
            .filter(|u| allowed(&settings.redirect_allowlist, u))
            .unwrap_or_else(|| format!("{}{FINISHED_PATH}", base.trim_end_matches('/')));
        let capabilities = reconnect_capabilities(
            self.kind_of(Some(&row.connector_type), None)?,
            row.scopes.as_deref(),
        );
        let session = self
            .store_connect_session(
                &org,
                SessionRequest {
                    customer_name: row.customer_name,
                    connector_types: vec![row.connector_type],
                    redirect_url,
                    reconnect_connector_id: Some(row.id),
                    capabilities,
                },
                base,
            )
            .await?;
        Ok(Opened::Session(session.connect_url))
    }
}
