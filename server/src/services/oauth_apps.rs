//! Bring-your-own OAuth apps (`/api/v1/oauth-apps`) and the choice of the OAuth client a flow
//! uses: an explicit app, else the organization's newest app for the provider, else the
//! platform app from the server config. Secrets are encrypted by the vault and never
//! returned; a changed client id or secret reaches every connector made with the app at once.

use std::sync::Arc;

use api_types::{CreateOAuthAppRequest, OAuthAppView, UpdateOAuthAppRequest};
use connector_core::{ConnectorError, Secret};

use super::connectors::Connectors;
use crate::error::{db, internal};
use crate::oauth::exchange::ClientCreds;
use crate::registry::{ConnectorType, Registry};
use crate::store::{AppRow, Store};
use crate::vault::Vault;

/// The client, the BYO app id (None = platform) and the app's tenant.
pub struct Chosen {
    pub client: ClientCreds,
    pub app_id: Option<String>,
    pub tenant: Option<String>,
}

pub struct OAuthApps {
    store: Store,
    vault: Vault,
    registry: Arc<Registry>,
    connectors: Arc<Connectors>,
}

fn not_found() -> ConnectorError {
    ConnectorError::not_found("no OAuth app with this id in your organization")
}

/// What responses show of an app (never its secret).
pub fn view(a: &AppRow) -> OAuthAppView {
    OAuthAppView {
        id: a.id.clone(),
        provider: a.provider.clone(),
        client_id: a.client_id.clone(),
        client_secret_set: a.client_secret.is_some(),
        tenant: a.tenant.clone(),
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

impl OAuthApps {
    pub fn new(
        store: Store,
        vault: Vault,
        registry: Arc<Registry>,
        connectors: Arc<Connectors>,
    ) -> OAuthApps {
        OAuthApps {
            store,
            vault,
            registry,
            connectors,
        }
    }

    /// Registers an app for a connector type.
    pub async fn create(
        &self,
        org: &str,
        r: CreateOAuthAppRequest,
    ) -> Result<AppRow, ConnectorError> {
        if self.registry.get(&r.provider).is_none() {
            let names: Vec<&str> = self
                .registry
                .all()
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            return Err(ConnectorError::invalid_params(format!(
                "`provider` must be a connector type ({})",
                names.join(", ")
            )));
        }
        if r.client_id.trim().is_empty() {
            return Err(ConnectorError::invalid_params(
                "`client_id` must not be empty",
            ));
        }
        let secret = match &r.client_secret {
            Some(s) => Some(self.vault.encrypt_secret(org, s).await?.0),
            None => None,
        };
        self.store
            .insert_oauth_app(
                org,
                &r.provider,
                &r.client_id,
                secret.as_deref(),
                r.tenant.as_deref(),
            )
            .await
            .map_err(db)
    }

    /// The organization's apps.
    pub async fn list(&self, org: &str) -> Result<Vec<AppRow>, ConnectorError> {
        self.store.oauth_apps(org).await.map_err(db)
    }

    /// One app, or `not_found`.
    pub async fn get(&self, org: &str, id: &str) -> Result<AppRow, ConnectorError> {
        self.store
            .oauth_app(org, id)
            .await
            .map_err(db)?
            .ok_or_else(not_found)
    }

    /// Changes an app; a new client id or secret is written into every connector made with it.
    pub async fn update(
        &self,
        org: &str,
        id: &str,
        r: UpdateOAuthAppRequest,
    ) -> Result<AppRow, ConnectorError> {
        let mut app = self.get(org, id).await?;
        if let Some(c) = r.client_id {
            app.client_id = c;
        }
        if let Some(s) = &r.client_secret {
            app.client_secret = Some(self.vault.encrypt_secret(org, s).await?.0);
        }
        if r.tenant.is_some() {
            app.tenant = r.tenant;
        }
        self.store.update_oauth_app(&app).await.map_err(db)?;
        self.propagate(org, &app, r.client_secret.as_ref()).await?;
        self.get(org, id).await
    }

    /// Rewrites the client id/secret stored with each connector made by this app.
    async fn propagate(
        &self,
        org: &str,
        app: &AppRow,
        secret: Option<&Secret>,
    ) -> Result<(), ConnectorError> {
        for cid in self
            .store
            .connectors_of_app(org, &app.id)
            .await
            .map_err(db)?
        {
            self.connectors
                .edit_credentials(org, &cid, |creds| {
                    creds
                        .fields
                        .insert("client_id".into(), Secret::new(app.client_id.clone()));
                    if let Some(s) = secret {
                        creds.fields.insert("client_secret".into(), s.clone());
                    }
                })
                .await?;
        }
        Ok(())
    }

    /// Deletes an app, or `not_found`.
    pub async fn delete(&self, org: &str, id: &str) -> Result<(), ConnectorError> {
        if self.store.delete_oauth_app(org, id).await.map_err(db)? {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// The OAuth client a flow for `kind` uses (see the module docs).
    pub async fn choose(
        &self,
        org: &str,
        kind: &ConnectorType,
        app_id: Option<&str>,
    ) -> Result<Chosen, ConnectorError> {
        let app = match app_id {
            Some(id) => Some(
                self.store
                    .oauth_app(org, id)
                    .await
                    .map_err(db)?
                    .filter(|a| a.provider == kind.name)
                    .ok_or_else(|| {
                        ConnectorError::not_found(
                            "no OAuth app with this id for this connector type",
                        )
                    })?,
            ),
            None => self
                .store
                .oauth_apps(org)
                .await
                .map_err(db)?
                .into_iter()
                .rev()
                .find(|a| a.provider == kind.name),
        };
        if let Some(app) = app {
            return Ok(Chosen {
                client: self.decrypt(&app).await?,
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
            None => Err(ConnectorError::invalid_params(format!(
                "no OAuth app for `{}`: configure a platform app or create one with POST /api/v1/oauth-apps",
                kind.name
            ))),
        }
    }

    async fn decrypt(&self, app: &AppRow) -> Result<ClientCreds, ConnectorError> {
        let client_secret = match &app.client_secret {
            Some(blob) => {
                let plain = self.vault.decrypt(&app.organization_id, blob).await?;
                Some(Secret::new(
                    String::from_utf8(plain).map_err(|_| internal("secret is not UTF-8"))?,
                ))
            }
            None => None,
        };
        Ok(ClientCreds {
            client_id: app.client_id.clone(),
            client_secret,
        })
    }
}
