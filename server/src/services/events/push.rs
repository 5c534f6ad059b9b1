//! Push in: notifications that a mailbox changed. They are not events themselves: a verified
//! notification moves the connector's next poll to now ([`crate::store::Store::poll_pushed`]),
//! which is in the database when the endpoint answers, so the provider's retry stops only once
//! the work is safely recorded, and whichever replica polls reads the changes from the stored
//! cursor (duplicates and out-of-order notifications cost one cheap read, never an event).
//!
//! Gmail (Google Cloud Pub/Sub push): `Authorization: Bearer <OIDC JWT>` verified here: RS256
//! signature against the issuer's published keys (Google's by default), `iss`
//! `https://accounts.google.com` or `accounts.google.com`, `aud` as configured, `email` the
//! configured service account with `email_verified`, `exp` (one minute of leeway). The body's
//! `message.data` is base64 of `{"emailAddress", "historyId"}`.

use std::time::{Duration, Instant};

use base64::Engine;
use connector_core::changes::PushTarget;
use connector_core::{ConnectorError, ErrorCode};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::{db, Events};
use crate::store::events::now_ms;

/// Google's keys for the tokens Pub/Sub push sends.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
const GOOGLE_ISSUERS: &[&str] = &["https://accounts.google.com", "accounts.google.com"];
/// Keys are re-read after this long, or sooner for an unknown key id (at most every 30 s).
const KEYS_TTL: Duration = Duration::from_secs(3600);
const KEYS_RETRY: Duration = Duration::from_secs(30);

/// Gmail push through Pub/Sub: what the server subscribes with and trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GmailPushConfig {
    /// `projects/P/topics/T`, named in `users.watch`.
    pub topic: String,
    /// The `aud` of the push subscription's tokens.
    pub audience: String,
    /// The push subscription's service account (the tokens' `email`).
    pub service_account: String,
    /// Where the issuer's keys are ([`GOOGLE_JWKS_URL`] unless an emulator issues them).
    pub jwks_url: String,
}

/// Verifies Pub/Sub push tokens (one per server; keys cached).
pub struct GooglePush {
    config: GmailPushConfig,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<Option<(JwkSet, Instant)>>,
}

#[derive(Deserialize)]
struct Claims {
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
}

#[derive(Deserialize)]
struct PushBody {
    message: PushMessage,
}

#[derive(Deserialize)]
struct PushMessage {
    data: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GmailNotification {
    email_address: String,
    history_id: Value,
}

fn refused(why: &str) -> ConnectorError {
    tracing::warn!(why, "push notification refused");
    ConnectorError::new(
        ErrorCode::Unauthenticated,
        "the push notification's token is not valid",
    )
}

impl GooglePush {
    pub fn new(config: GmailPushConfig, http: reqwest::Client) -> GooglePush {
        GooglePush {
            config,
            http,
            keys: tokio::sync::Mutex::new(None),
        }
    }

    pub fn config(&self) -> &GmailPushConfig {
        &self.config
    }

    /// Checks a push token; `Unauthenticated` when anything is off.
    pub async fn verify(&self, token: &str) -> Result<(), ConnectorError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused("not a JWT"))?;
        if header.alg != Algorithm::RS256 {
            return Err(refused("not RS256"));
        }
        let kid = header.kid.ok_or_else(|| refused("no key id"))?;
        let key = self.key(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(GOOGLE_ISSUERS);
        v.set_audience(&[&self.config.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.leeway = 60;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &v).map_err(|e| {
            let why = match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "expired",
                jsonwebtoken::errors::ErrorKind::InvalidAudience => "wrong audience",
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => "wrong issuer",
                jsonwebtoken::errors::ErrorKind::InvalidSignature => "bad signature",
                _ => "invalid token",
            };
            refused(why)
        })?;
        let c = data.claims;
        if c.email.as_deref() != Some(self.config.service_account.as_str()) {
            return Err(refused("wrong service account"));
        }
        if !c.email_verified {
            return Err(refused("email not verified"));
        }
        Ok(())
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, ConnectorError> {
        let mut keys = self.keys.lock().await;
        let find = |set: &JwkSet| set.find(kid).cloned();
        if let Some((set, at)) = keys.as_ref() {
            let fresh = at.elapsed() < KEYS_TTL;
            if let (Some(k), true) = (find(set), fresh) {
                return DecodingKey::from_jwk(&k).map_err(|_| refused("unusable key"));
            }
            if fresh && at.elapsed() < KEYS_RETRY {
                return Err(refused("unknown key id"));
            }
        }
        let set: JwkSet = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|_| {
                ConnectorError::new(
                    ErrorCode::ProviderUnavailable,
                    "the token issuer's keys could not be read; the push will be retried",
                )
            })?
            .json()
            .await
            .map_err(|_| ConnectorError::internal("the token issuer's keys do not parse"))?;
        let found = find(&set);
        *keys = Some((set, Instant::now()));
        let k = found.ok_or_else(|| refused("unknown key id"))?;
        DecodingKey::from_jwk(&k).map_err(|_| refused("unusable key"))
    }
}

impl Events {
    /// Turns Gmail push on (or replaces its configuration): connectors of type `gmail` get a
    /// watch on the topic, and pushes are verified against it.
    pub fn enable_gmail_push(&self, config: GmailPushConfig) {
        let target = PushTarget {
            topic: Some(config.topic.clone()),
            ..Default::default()
        };
        self.push_targets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert("gmail".into(), target);
        *self.google.write().unwrap_or_else(|e| e.into_inner()) = Some(std::sync::Arc::new(
            GooglePush::new(config, self.http.clone()),
        ));
    }

    /// The push target for connectors of a type, when push is on for it.
    pub(crate) fn push_target(&self, connector_type: &str) -> Option<PushTarget> {
        self.push_targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(connector_type)
            .cloned()
    }

    /// A Pub/Sub push for Gmail: verifies it and asks for a poll of the mailbox it names.
    /// Returns how many connectors follow that mailbox.
    pub async fn gmail_pushed(&self, token: &str, body: &[u8]) -> Result<u64, ConnectorError> {
        let verifier = self
            .google
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| {
                ConnectorError::not_found("Gmail push is not configured on this server")
            })?;
        verifier.verify(token).await?;
        let body: PushBody = serde_json::from_slice(body)
            .map_err(|_| ConnectorError::invalid_params("not a Pub/Sub push body"))?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(body.message.data.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(body.message.data.trim()))
            .map_err(|_| ConnectorError::invalid_params("message.data is not base64"))?;
        let n: GmailNotification = serde_json::from_slice(&data).map_err(|_| {
            ConnectorError::invalid_params("message.data is not a Gmail notification")
        })?;
        let account = n.email_address.to_ascii_lowercase();
        let polled = self
            .store
            .poll_pushed("gmail", &account, now_ms())
            .await
            .map_err(db)?;
        tracing::info!(history_id = %n.history_id, connectors = polled, "Gmail push received");
        super::poll::WAKE.notify_waiters();
        Ok(polled)
    }
}
