//! Consent URL (initiate) and callback.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use connector_core::{HttpConfig, Secret, StaticToken};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::apps::{choose, Chosen};
use super::exchange::{exchange_code, http_client, Tokens};
use super::provider::{consent_params, endpoints, missing_scopes};
use super::STATE_TTL_SECS;
use crate::credentials::StoredCredentials;
use crate::error::{ApiError, ApiResult};
use crate::registry::ConnectorType;
use crate::services::connectors::{NewConnectorInput, Origin};
use crate::store::now;
use crate::store::Link;
use crate::AppState;

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
}

fn hash_state(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// Stores the request and returns the provider's consent URL.
pub async fn consent_url(
    state: &AppState,
    org: &str,
    kind: &ConnectorType,
    chosen: &Chosen,
    pending: &Pending,
) -> ApiResult<String> {
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let mut random = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut random);
    // The organization id is part of the state (and of its hash): a state is bound to it.
    let st = format!(
        "{org}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    );
    let (blob, _) = state
        .vault
        .encrypt_secret(org, &Secret::new(verifier.secret().clone()))
        .await?;
    let request = serde_json::to_string(pending).expect("serializes");
    state
        .store
        .insert_oauth_state(
            &hash_state(&st),
            org,
            &request,
            &blob,
            now() + STATE_TTL_SECS,
        )
        .await?;
    let ep = endpoints(kind, &pending.tenant);
    let mut url = url::Url::parse(&ep.authorize)
        .map_err(|_| ApiError::internal("the configured authorize URL does not parse"))?;
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

/// What the callback answers: a redirect to the application or a plain error page.
pub enum Outcome {
    Redirect(String),
    Page(u16, &'static str),
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
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

pub async fn callback(state: &AppState, q: &HashMap<String, String>) -> Outcome {
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
    let row = match state.store.take_oauth_state(&hash_state(st)).await {
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
    if row.expires_at < now() {
        return fail(
            &p,
            "invalid_state",
            "the authorization request expired; start again",
        );
    }
    if let Some(err) = q.get("error") {
        let desc = q
            .get("error_description")
            .map(String::as_str)
            .unwrap_or("the provider refused the authorization");
        return fail(&p, &safe_code(err), desc);
    }
    let Some(code) = q.get("code").filter(|c| !c.is_empty()) else {
        return fail(
            &p,
            "invalid_request",
            "the provider sent no authorization code",
        );
    };
    match complete(state, &row.organization_id, &row.verifier, &p, code).await {
        Ok(id) => Outcome::Redirect(with_query(&p.redirect_url, &[("connector_id", &id)])),
        Err((error, description)) => fail(&p, error, &description),
    }
}

type Fail = (&'static str, String);

fn internal(e: impl std::fmt::Display) -> Fail {
    tracing::error!(cause = %e, "OAuth callback failed");
    ("server_error", "internal error; try again later".into())
}

async fn complete(
    state: &AppState,
    org: &str,
    verifier_blob: &[u8],
    p: &Pending,
    code: &str,
) -> Result<String, Fail> {
    let kind = state
        .registry
        .get(&p.connector_type)
        .ok_or_else(|| internal("connector type vanished"))?;
    let chosen = choose(state, org, kind, p.oauth_app_id.as_deref())
        .await
        .map_err(|e| internal(e.0.message))?;
    let verifier = state
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
    let (account, aliases) = read_account(kind, &ep.api_base, &tokens.access_token).await?;
    let creds = stored_credentials(kind, &chosen, p, &tokens);
    let store = &state.store;
    let connectors = &state.services.connectors;
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
    api_base: &str,
    token: &Secret,
) -> Result<(String, Vec<String>), Fail> {
    let connector = kind
        .connector(
            Arc::new(StaticToken(token.clone())),
            HttpConfig::new(api_base.to_string()),
        )
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
