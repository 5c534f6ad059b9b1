//! The OAuth flow that ends in a `connector_id`: initiate and reauthorize (a consent URL with
//! PKCE and single-use server-side state bound to the organization), the callback (exchanges
//! the code, reads the account, creates or re-authorizes the connector through
//! [`Connectors`]), and the account a connector was authorized for.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use api_types::{AccountView, ConsentUrl, InitiateRequest, ReauthorizeRequest};
use base64::Engine;
use connector_core::{ConnectorError, HttpConfig, Secret, StaticToken};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::connectors::{Connectors, NewConnectorInput, Origin};
use super::oauth_apps::{Chosen, OAuthApps};
use crate::credentials::StoredCredentials;
use crate::error::{db, internal as internal_error};
use crate::limits::{Limits, RateLimiter};
use crate::oauth::exchange::{exchange_code, http_client, Tokens};
use crate::oauth::provider::{consent_params, endpoints, missing_scopes, scopes_for};
use crate::oauth::redirect::allowed;
use crate::oauth::STATE_TTL_SECS;
use crate::registry::{ConnectorType, Registry};
use crate::store::{now, Link, Store};
use crate::vault::Vault;

/// The OAuth flow of one server.
pub struct OAuthFlow {
    store: Store,
    vault: Vault,
    registry: Arc<Registry>,
    connectors: Arc<Connectors>,
    apps: Arc<OAuthApps>,
    /// Callback requests per source address (a stranger reaches the callback without a token,
    /// and each one costs a database look-up, and with a valid state a provider call).
    callbacks_by_source: RateLimiter,
}

/// A flow started by a connect session: its token's hash and the scopes it asks.
#[derive(Debug, Clone)]
pub(crate) struct ConnectStart {
    pub session: String,
    pub scopes: Vec<String>,
}

/// What a consent request is bound to (stored server side with the hashed state).
#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub customer_name: String,
    pub connector_type: String,
    pub redirect_url: String,
    /// Our callback URL as sent to the provider.
    pub redirect_uri: String,
    pub name: Option<String>,
    pub replication_config: Option<Value>,
    pub scopes: Vec<String>,
    pub tenant: String,
    pub oauth_app_id: Option<String>,
    /// Re-authorize exactly this connector.
    pub connector_id: Option<String>,
    /// The connect session (hash of its token) this flow runs for: the callback records the
    /// outcome there and `redirect_url` is the session's own result page.
    #[serde(default)]
    pub connect_session: Option<String>,
}

pub(crate) fn hash_state(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

impl OAuthFlow {
    pub fn new(
        store: Store,
        vault: Vault,
        registry: Arc<Registry>,
        connectors: Arc<Connectors>,
        apps: Arc<OAuthApps>,
        limits: &Limits,
    ) -> OAuthFlow {
        OAuthFlow {
            store,
            vault,
            registry,
            connectors,
            apps,
            callbacks_by_source: RateLimiter::new(limits.public_per_source),
        }
    }

    pub(crate) fn store_ref(&self) -> &Store {
        &self.store
    }

    pub(crate) async fn connectors_get(
        &self,
        org: &str,
        id: &str,
    ) -> Result<crate::store::ConnectorRow, ConnectorError> {
        self.connectors.get(org, id).await
    }

    /// Takes one callback request of `source`'s allowance (`limits.public_per_source`), or says
    /// how long until there is one.
    pub fn admit_callback(&self, source: Option<std::net::IpAddr>) -> Result<(), Duration> {
        match source {
            Some(ip) => self.callbacks_by_source.take(&ip.to_string()),
            None => Ok(()),
        }
    }

    /// Starts the flow for a new connector. `callback_url`: this server's callback URL as the
    /// request reached it (used when the provider config names no `redirect_uri`).
    pub async fn initiate(
        &self,
        org: &str,
        r: InitiateRequest,
        callback_url: &str,
    ) -> Result<ConsentUrl, ConnectorError> {
        self.begin(org, r, callback_url, None).await
    }

    /// [`Self::initiate`]; for a connect session (`connect`: its token's hash) the
    /// `redirect_url` is the server's own result page, not checked against the allow-list.
    pub(crate) async fn begin(
        &self,
        org: &str,
        r: InitiateRequest,
        callback_url: &str,
        connect: Option<ConnectStart>,
    ) -> Result<ConsentUrl, ConnectorError> {
        if r.customer_name.trim().is_empty() {
            return Err(ConnectorError::invalid_params(
                "`customer_name` must not be empty",
            ));
        }
        let kind = self.kind_of(r.connector_type.as_deref(), r.definition_id.as_deref())?;
        if connect.is_none() {
            self.check_redirect(org, &r.redirect_url).await?;
        }
        let chosen = self
            .apps
            .choose(org, kind, r.oauth_app_id.as_deref())
            .await?;
        let tenant = tenant_of(kind, r.tenant, chosen.tenant.clone())?;
        let pending = Pending {
            customer_name: r.customer_name,
            connector_type: kind.name.clone(),
            redirect_url: r.redirect_url,
            redirect_uri: redirect_uri(kind, callback_url),
            name: r.name,
            replication_config: r
                .replication_config
                .map(|c| serde_json::to_value(c).expect("serializes")),
            scopes: match &connect {
                Some(c) => c.scopes.clone(),
                None => scopes_for(kind, readonly(r.scopes.as_deref())?),
            },
            tenant: if kind.has_tenants() {
                tenant
            } else {
                "common".into()
            },
            oauth_app_id: chosen.app_id.clone(),
            connector_id: None,
            connect_session: connect.map(|c| c.session),
        };
        Ok(ConsentUrl {
            consent_url: self.consent_url(org, kind, &chosen, &pending).await?,
            connector_id: None,
        })
    }

    /// Starts the flow again for an existing connector (its own app, if it had one).
    pub async fn reauthorize(
        &self,
        org: &str,
        id: &str,
        r: ReauthorizeRequest,
        callback_url: &str,
    ) -> Result<ConsentUrl, ConnectorError> {
        self.begin_again(org, id, r, callback_url, None).await
    }

    /// [`Self::reauthorize`], for a connect session as in [`Self::begin`].
    pub(crate) async fn begin_again(
        &self,
        org: &str,
        id: &str,
        r: ReauthorizeRequest,
        callback_url: &str,
        connect: Option<ConnectStart>,
    ) -> Result<ConsentUrl, ConnectorError> {
        let row = self.connectors.get(org, id).await?;
        let kind = self.kind_of(Some(&row.connector_type), None)?;
        if connect.is_none() {
            self.check_redirect(org, &r.redirect_url).await?;
        }
        let link = self.store.link_of(&row.id).await.map_err(db)?;
        let app_id = link.and_then(|l| l.2);
        let chosen = self.apps.choose(org, kind, app_id.as_deref()).await?;
        let tenant = tenant_of(kind, r.tenant, chosen.tenant.clone())?;
        let pending = Pending {
            customer_name: row.customer_name.clone(),
            connector_type: kind.name.clone(),
            redirect_url: r.redirect_url,
            redirect_uri: redirect_uri(kind, callback_url),
            name: None,
            replication_config: None,
            scopes: match &connect {
                Some(c) => c.scopes.clone(),
                None => scopes_for(kind, readonly(r.scopes.as_deref())?),
            },
            tenant: if kind.has_tenants() {
                tenant
            } else {
                "common".into()
            },
            oauth_app_id: chosen.app_id.clone(),
            connector_id: Some(row.id.clone()),
            connect_session: connect.map(|c| c.session),
        };
        Ok(ConsentUrl {
            consent_url: self.consent_url(org, kind, &chosen, &pending).await?,
            connector_id: Some(row.id),
        })
    }

    /// The account (address, aliases) an OAuth connector was authorized for.
    pub async fn account(&self, org: &str, id: &str) -> Result<AccountView, ConnectorError> {
        self.connectors.get(org, id).await?;
        let (account, aliases, app) =
            self.store.link_of(id).await.map_err(db)?.ok_or_else(|| {
                ConnectorError::not_found("this connector was not made by the OAuth flow")
            })?;
        Ok(AccountView {
            connector_id: id.to_string(),
            account,
            aliases,
            oauth_app_id: app,
        })
    }

    pub(crate) fn kind_of(
        &self,
        t: Option<&str>,
        d: Option<&str>,
    ) -> Result<&ConnectorType, ConnectorError> {
        match (t, d) {
            (Some(t), _) => self.registry.get(t),
            (None, Some(d)) => self.registry.by_definition(d),
            (None, None) => None,
        }
        .filter(|k| d.is_none_or(|d| d == k.definition_id))
        .ok_or_else(|| {
            ConnectorError::invalid_params("give a known `connector_type` or `definition_id`")
        })
    }

    pub(crate) async fn check_redirect(&self, org: &str, url: &str) -> Result<(), ConnectorError> {
        let settings = self.store.org_settings(org).await.map_err(db)?;
        if allowed(&settings.redirect_allowlist, url) {
            Ok(())
        } else {
            Err(ConnectorError::invalid_params(
                "`redirect_url` is not on the organization's redirect allow-list (scheme, host, port and path prefix must match)",
            )
            .with_details(json!({"path": "redirect_url"})))
        }
    }

    /// Stores the request and returns the provider's consent URL.
    async fn consent_url(
        &self,
        org: &str,
        kind: &ConnectorType,
        chosen: &Chosen,
        pending: &Pending,
    ) -> Result<String, ConnectorError> {
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let mut random = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut random);
        // The organization id is part of the state (and of its hash): a state is bound to it.
        let st = format!(
            "{org}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
        );
        let (blob, _) = self
            .vault
            .encrypt_secret(org, &Secret::new(verifier.secret().clone()))
            .await?;
        let request = serde_json::to_string(pending).expect("serializes");
        self.store
            .insert_oauth_state(
                &hash_state(&st),
                org,
                &request,
                &blob,
                now() + STATE_TTL_SECS,
            )
            .await
            .map_err(db)?;
        let ep = endpoints(kind, &pending.tenant);
        let mut url = url::Url::parse(&ep.authorize)
            .map_err(|_| internal_error("the configured authorize URL does not parse"))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &chosen.client.client_id)
                .append_pair("redirect_uri", &pending.redirect_uri)
                .append_pair("scope", &pending.scopes.join(" "))
                .append_pair("state", &st)
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", "S256");
            for &(k, v) in consent_params(kind) {
                q.append_pair(k, v);
            }
        }
        Ok(url.to_string())
    }
}

/// What the callback answers: a redirect to the application or a plain error page.
pub enum Outcome {
    Redirect(String),
    Page(u16, &'static str),
}

pub(crate) fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(base).expect("allow-listed URLs parse");
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

fn fail(p: &Pending, error: &str, description: &str) -> Outcome {
    tracing::info!(error, "OAuth callback refused");
    Outcome::Redirect(with_query(
        &p.redirect_url,
        &[("error", error), ("error_description", description)],
    ))
}

/// Only `[a-z_]` of a provider's error code is passed on.
fn safe_code(s: &str) -> String {
    let c: String = s
        .chars()
        .filter(|c| c.is_ascii_lowercase() || *c == '_')
        .take(64)
        .collect();
    if c.is_empty() {
        "provider_error".into()
    } else {
        c
    }
}

impl OAuthFlow {
    /// The provider's redirect back: a redirect to the caller's `redirect_url` with the
    /// outcome, or a plain page when the state is unknown.
    pub async fn callback(&self, q: &HashMap<String, String>) -> Outcome {
        let invalid = Outcome::Page(
        400,
        "This authorization request is unknown, was already used or was tampered with. Start again from the application.",
    );
        let Some(st) = q.get("state").filter(|s| !s.is_empty()) else {
            return invalid;
        };
        let Some((org, _)) = st.split_once('.') else {
            return invalid;
        };
        let row = match self.store.take_oauth_state(&hash_state(st)).await {
            Ok(Some(r)) if r.organization_id == org => r,
            Ok(_) => return invalid,
            Err(e) => {
                tracing::error!(cause = %e, "reading OAuth state");
                return Outcome::Page(500, "Internal error; try again later.");
            }
        };
        let Ok(p) = serde_json::from_str::<Pending>(&row.request) else {
            return invalid;
        };
        let result = self.outcome(&row, &p, q).await;
        if let Some(session) = &p.connect_session {
            let recorded = match &result {
                Ok(id) => json!({"connector_id": id}),
                Err((error, description)) => {
                    json!({"error": error, "error_description": description})
                }
            };
            if let Err(e) = self
                .store
                .finish_connect_session(session, &recorded.to_string())
                .await
            {
                tracing::error!(cause = %e, "recording a connect session's outcome");
                return Outcome::Page(500, "Internal error; try again later.");
            }
            return Outcome::Redirect(p.redirect_url.clone());
        }
        match result {
            Ok(id) => Outcome::Redirect(with_query(&p.redirect_url, &[("connector_id", &id)])),
            Err((error, description)) => fail(&p, &error, &description),
        }
    }

    /// The connector id the callback ends in, or the error code and description.
    async fn outcome(
        &self,
        row: &crate::store::StateRow,
        p: &Pending,
        q: &HashMap<String, String>,
    ) -> Result<String, (String, String)> {
        if row.expires_at < now() {
            return Err((
                "invalid_state".into(),
                "the authorization request expired; start again".into(),
            ));
        }
        if let Some(err) = q.get("error") {
            let desc = q
                .get("error_description")
                .map(String::as_str)
                .unwrap_or("the provider refused the authorization");
            return Err((safe_code(err), desc.to_string()));
        }
        let Some(code) = q.get("code").filter(|c| !c.is_empty()) else {
            return Err((
                "invalid_request".into(),
                "the provider sent no authorization code".into(),
            ));
        };
        self.complete(&row.organization_id, &row.verifier, p, code)
            .await
            .map_err(|(e, d)| (e.to_string(), d))
    }
}

type Fail = (&'static str, String);

fn internal(e: impl std::fmt::Display) -> Fail {
    tracing::error!(cause = %e, "OAuth callback failed");
    ("server_error", "internal error; try again later".into())
}

impl OAuthFlow {
    async fn complete(
        &self,
        org: &str,
        verifier_blob: &[u8],
        p: &Pending,
        code: &str,
    ) -> Result<String, Fail> {
        let kind = self
            .registry
            .get(&p.connector_type)
            .ok_or_else(|| internal("connector type vanished"))?;
        let chosen = self
            .apps
            .choose(org, kind, p.oauth_app_id.as_deref())
            .await
            .map_err(|e| internal(e.message))?;
        let verifier = self
            .vault
            .decrypt(org, verifier_blob)
            .await
            .map_err(internal)?;
        let verifier = String::from_utf8(verifier).map_err(internal)?;
        let ep = endpoints(kind, &p.tenant);
        let http = http_client();
        let tokens = exchange_code(
            &http,
            &ep.token,
            &p.redirect_uri,
            &chosen.client,
            code,
            &verifier,
        )
        .await
        .map_err(|m| ("invalid_grant", m))?;
        let granted = tokens.scope.clone().unwrap_or_else(|| p.scopes.join(" "));
        let missing = missing_scopes(kind, &p.scopes, &granted);
        if !missing.is_empty() {
            return Err((
                "insufficient_scopes",
                format!("these permissions were not granted: {}", missing.join(" ")),
            ));
        }
        let (account, aliases) = read_account(
            kind,
            self.connectors.runtime.provider_config(ep.api_base.clone()),
            &tokens.access_token,
        )
        .await?;
        let creds = stored_credentials(kind, &chosen, p, &tokens);
        let store = &self.store;
        let connectors = &self.connectors;
        let existing = match &p.connector_id {
            Some(id) => Some(id.clone()),
            None => store
                .linked_connector(org, &p.customer_name, &kind.name, &account)
                .await
                .map_err(internal)?,
        };
        if let (Some(id), Some(_)) = (&p.connector_id, &existing) {
            if let Some((prev, _, _)) = store.link_of(id).await.map_err(internal)? {
                if !prev.eq_ignore_ascii_case(&account) {
                    return Err((
                        "account_mismatch",
                        "a different account was authorized than the one this connector belongs to"
                            .into(),
                    ));
                }
            }
        }
        let id = match existing {
            Some(id) => {
                connectors
                    .reauthorize(org, &id, &creds, None)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| ("invalid_request", "the connector was deleted".to_string()))?;
                tracing::info!(connector_id = %id, "connector re-authorized");
                id
            }
            None => {
                connectors
                    .create(
                        org,
                        kind,
                        NewConnectorInput {
                            customer_name: p.customer_name.clone(),
                            name: p.name.clone(),
                            replication_config: p.replication_config.clone(),
                            credentials: creds,
                            base_url: None,
                            token_url: None,
                        },
                        Origin::OAuth,
                    )
                    .await
                    .map_err(internal)?
                    .id
            }
        };
        store
            .put_link(&Link {
                connector_id: &id,
                organization_id: org,
                customer_name: &p.customer_name,
                connector_type: &kind.name,
                account: &account,
                aliases: &aliases,
                oauth_app_id: chosen.app_id.as_deref(),
            })
            .await
            .map_err(internal)?;
        store
            .set_connector_scopes(&id, &granted)
            .await
            .map_err(internal)?;
        Ok(id)
    }
}

fn stored_credentials(
    kind: &ConnectorType,
    chosen: &Chosen,
    p: &Pending,
    tokens: &Tokens,
) -> StoredCredentials {
    let mut c = StoredCredentials::default();
    c.fields
        .insert("access_token".into(), tokens.access_token.clone());
    if let Some(rt) = &tokens.refresh_token {
        c.fields.insert("refresh_token".into(), rt.clone());
    }
    c.expires_at = tokens.expires_in.map(|s| now() + s as i64);
    if chosen.app_id.is_some() {
        c.fields.insert(
            "client_id".into(),
            Secret::new(chosen.client.client_id.clone()),
        );
        if let Some(s) = &chosen.client.client_secret {
            c.fields.insert("client_secret".into(), s.clone());
        }
    }
    if kind.has_tenants() && kind.spec.auth.fields.contains_key("tenant") {
        c.fields
            .insert("tenant".into(), Secret::new(p.tenant.clone()));
    }
    c
}

/// The account's address and send-as aliases, read through the connector itself.
async fn read_account(
    kind: &ConnectorType,
    http: HttpConfig,
    token: &Secret,
) -> Result<(String, Vec<String>), Fail> {
    let connector = kind
        .connector(Arc::new(StaticToken(token.clone())), http)
        .map_err(internal)?;
    let unavailable = |e: connector_core::ConnectorError| {
        tracing::warn!(code = %e.code, "reading the account profile failed");
        (
            "profile_unavailable",
            "the account's profile could not be read".to_string(),
        )
    };
    let profile = connector
        .execute("profile", "get", json!({}))
        .await
        .map_err(unavailable)?;
    let account = profile.result["email_address"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if account.is_empty() {
        return Err(("profile_unavailable", "the account has no address".into()));
    }
    let strings = |v: &Value, key: &str| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| {
                        if key.is_empty() {
                            x.as_str()
                        } else {
                            x[key].as_str()
                        }
                    })
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let aliases = if kind.spec.entities.contains_key("send_as") {
        let sa = connector
            .execute("send_as", "list", json!({}))
            .await
            .map_err(unavailable)?;
        strings(&sa.result, "send_as_email")
    } else {
        strings(&profile.result["aliases"], "")
    };
    Ok((account, aliases))
}

fn readonly(scopes: Option<&str>) -> Result<bool, ConnectorError> {
    match scopes.unwrap_or("full") {
        "full" => Ok(false),
        "readonly" => Ok(true),
        _ => Err(ConnectorError::invalid_params(
            "`scopes` must be \"full\" or \"readonly\"",
        )),
    }
}

/// Our callback URL: the provider config's `redirect_uri`, else this server's own address.
fn redirect_uri(kind: &ConnectorType, callback_url: &str) -> String {
    kind.provider
        .redirect_uri
        .clone()
        .unwrap_or_else(|| callback_url.to_string())
}

fn tenant_of(
    kind: &ConnectorType,
    asked: Option<String>,
    app_tenant: Option<String>,
) -> Result<String, ConnectorError> {
    let t = asked
        .or(app_tenant)
        .or_else(|| kind.provider.tenant.clone())
        .unwrap_or_else(|| {
            kind.descriptor
                .oauth
                .default_tenant
                .unwrap_or("common")
                .into()
        });
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(ConnectorError::invalid_params(
            "`tenant` must be common, organizations, consumers or a tenant id",
        ));
    }
    Ok(t)
}
