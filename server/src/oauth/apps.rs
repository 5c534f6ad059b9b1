//! Which OAuth client a flow uses: an explicit bring-your-own app, else the organization's
//! app for the provider, else the platform app from the server config.

use connector_core::Secret;

use super::exchange::ClientCreds;
use crate::error::{ApiError, ApiResult};
use crate::registry::ConnectorType;
use crate::store::AppRow;
use crate::AppState;

/// The client, the BYO app id (None = platform) and the app's tenant.
pub struct Chosen {
    pub client: ClientCreds,
    pub app_id: Option<String>,
    pub tenant: Option<String>,
}

pub async fn decrypt_app(state: &AppState, app: &AppRow) -> ApiResult<ClientCreds> {
    let client_secret = match &app.client_secret {
        Some(blob) => {
            let plain = state.vault.decrypt(&app.organization_id, blob).await?;
            Some(Secret::new(
                String::from_utf8(plain).map_err(|_| ApiError::internal("secret is not UTF-8"))?,
            ))
        }
        None => None,
    };
    Ok(ClientCreds {
        client_id: app.client_id.clone(),
        client_secret,
    })
}

pub async fn choose(
    state: &AppState,
    org: &str,
    kind: &ConnectorType,
    app_id: Option<&str>,
) -> ApiResult<Chosen> {
    let app = match app_id {
        Some(id) => Some(
            state
                .store
                .oauth_app(org, id)
                .await?
                .filter(|a| a.provider == kind.name)
                .ok_or_else(|| {
                    ApiError::not_found("no OAuth app with this id for this connector type")
                })?,
        ),
        None => state
            .store
            .oauth_apps(org)
            .await?
            .into_iter()
            .rev()
            .find(|a| a.provider == kind.name),
    };
    if let Some(app) = app {
        return Ok(Chosen {
            client: decrypt_app(state, &app).await?,
            app_id: Some(app.id.clone()),
            tenant: app.tenant.clone(),
        });
    }
    match &kind.provider.client_id {
        Some(id) => Ok(Chosen {
            client: ClientCreds {
                client_id: id.clone(),
                client_secret: kind.provider.client_secret.clone(),
            },
            app_id: None,
            tenant: None,
        }),
        None => Err(ApiError::invalid(format!(
            "no OAuth app for `{}`: configure a platform app or create one with POST /api/v1/oauth-apps",
            kind.name
        ))),
    }
}
