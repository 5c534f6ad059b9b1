//! Connector credentials: validation against the connector's auth schema, and the stored form
//! (a map of fields, encrypted as a whole by the vault).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connector_core::secret::expose_for_vault;
use connector_core::spec::AuthSchema;
use connector_core::{OAuthCredentials, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use connector_core::ConnectorError;

use crate::error::internal;

/// What the vault stores for one connector. `Debug` shows field names only; the values are
/// serialized ([`StoredCredentials::to_json`]) only because the vault encrypts what it stores.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct StoredCredentials {
    #[serde(serialize_with = "expose_for_vault::map")]
    pub fields: BTreeMap<String, Secret>,
    /// Unix seconds when `access_token` expires, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredentials")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl StoredCredentials {
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.fields.get(name).filter(|s| !s.expose().is_empty())
    }

    /// The plaintext the vault encrypts: every secret's value.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("credentials serialize")
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, ConnectorError> {
        serde_json::from_slice(bytes).map_err(|_| internal("stored credentials do not parse"))
    }

    /// The OAuth inputs: stored fields, the platform app for missing client credentials, and
    /// the token URL chosen by the caller.
    pub fn to_oauth(
        &self,
        platform_client_id: Option<&str>,
        platform_client_secret: Option<&Secret>,
        token_url: &str,
        scope: Option<String>,
    ) -> OAuthCredentials {
        let from_platform = self.get("client_id").is_none();
        OAuthCredentials {
            access_token: self.get("access_token").cloned(),
            expires_at: self
                .expires_at
                .map(|s| UNIX_EPOCH + Duration::from_secs(s.max(0) as u64)),
            refresh_token: self.get("refresh_token").cloned(),
            client_id: self
                .get("client_id")
                .map(|s| s.expose().to_string())
                .or_else(|| platform_client_id.map(str::to_string)),
            client_secret: if from_platform {
                platform_client_secret.cloned()
            } else {
                self.get("client_secret").cloned()
            },
            token_url: Some(token_url.to_string()),
            scope: self.get("scope").map(|s| s.expose().to_string()).or(scope),
        }
    }
}

pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What a refresh token needs besides itself.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRule {
    /// A platform OAuth app is configured for the provider: nothing else is needed.
    pub platform_app: bool,
    /// Without a platform app, `client_secret` is needed as well as `client_id`.
    pub needs_client_secret: bool,
}

/// Checks `credentials` (the request's JSON object) against the auth schema: only known fields,
/// string values, required fields present, one `one_of` alternative complete. A refresh token
/// needs client credentials unless a platform app is configured ([`RefreshRule`]). Errors name
/// the field (`credentials.<name>`) and never echo a value. Defaults of the schema are not
/// stored: they apply when the connector runs.
pub fn validate(
    auth: &AuthSchema,
    credentials: &Value,
    rule: RefreshRule,
) -> Result<StoredCredentials, ConnectorError> {
    let platform_app = rule.platform_app;
    let obj = credentials
        .as_object()
        .ok_or_else(|| field_error("credentials", "credentials must be a JSON object"))?;
    let mut fields = BTreeMap::new();
    for (name, value) in obj {
        if !auth.fields.contains_key(name) {
            let known: Vec<&String> = auth.fields.keys().collect();
            return Err(field_error(
                &format!("credentials.{name}"),
                &format!("unknown credential field `{name}`; this connector accepts {known:?}"),
            ));
        }
        let s = value.as_str().ok_or_else(|| {
            field_error(
                &format!("credentials.{name}"),
                &format!("credential field `{name}` must be a string"),
            )
        })?;
        if name == "token_url" && !s.is_empty() && !is_https_url(s) {
            return Err(field_error(
                "credentials.token_url",
                "`token_url` must be an https:// URL (refresh tokens and client secrets are sent to it)",
            ));
        }
        if !s.is_empty() {
            fields.insert(name.clone(), Secret::new(s));
        }
    }
    for (name, field) in &auth.fields {
        if !fields.contains_key(name) && field.required && field.default.is_none() {
            return Err(field_error(
                &format!("credentials.{name}"),
                &format!("missing credential field `{name}`"),
            ));
        }
    }
    if fields.contains_key("refresh_token") && !platform_app {
        let needed: &[&str] = if rule.needs_client_secret {
            &["client_id", "client_secret"]
        } else {
            &["client_id"]
        };
        for n in needed {
            if !fields.contains_key(*n) {
                return Err(field_error(
                    &format!("credentials.{n}"),
                    &format!("a refresh_token needs `{n}` because no platform OAuth app is configured for this provider"),
                ));
            }
        }
    }
    let has = |n: &str| {
        fields.contains_key(n) || (platform_app && (n == "client_id" || n == "client_secret"))
    };
    let alternatives: Vec<Vec<String>> = if auth.one_of.is_empty() {
        vec![vec!["access_token".into()], vec!["refresh_token".into()]]
    } else {
        auth.one_of.clone()
    };
    if !alternatives
        .iter()
        .any(|group| group.iter().all(|n| has(n)))
    {
        return Err(field_error(
            "credentials",
            &format!(
                "credentials must contain one of these field sets: {alternatives:?}{}",
                if platform_app {
                    ""
                } else {
                    " (no platform OAuth app is configured for this provider, so a refresh token needs client credentials)"
                }
            ),
        ));
    }
    Ok(StoredCredentials {
        fields,
        expires_at: None,
    })
}

fn is_https_url(s: &str) -> bool {
    crate::urls::is_https_url(s)
}

fn field_error(path: &str, message: &str) -> ConnectorError {
    ConnectorError::invalid_params(message.to_string()).with_details(json!({"path": path}))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOGLE: RefreshRule = RefreshRule {
        platform_app: false,
        needs_client_secret: true,
    };

    fn schema() -> AuthSchema {
        serde_json::from_value(json!({
            "fields": {
                "access_token": {"description": "a", "secret": true},
                "refresh_token": {"description": "r", "secret": true},
                "client_id": {"description": "c"},
                "client_secret": {"description": "s", "secret": true}
            },
            "one_of": [["access_token"], ["refresh_token"]]
        }))
        .unwrap()
    }

    #[test]
    fn access_token_alone_is_enough() {
        let c = validate(&schema(), &json!({"access_token": "ya29.x"}), GOOGLE).unwrap();
        assert_eq!(c.get("access_token").unwrap().expose(), "ya29.x");
        assert!(!format!("{c:?}").contains("ya29"));
    }

    #[test]
    fn refresh_token_needs_client_credentials_unless_platform_app() {
        let creds = json!({"refresh_token": "1//r"});
        let e = validate(&schema(), &creds, GOOGLE).unwrap_err();
        assert!(!e.message.contains("1//r"));
        let platform = RefreshRule {
            platform_app: true,
            ..GOOGLE
        };
        assert!(validate(&schema(), &creds, platform).is_ok());
        let full = json!({"refresh_token": "1//r", "client_id": "c", "client_secret": "s"});
        assert!(validate(&schema(), &full, GOOGLE).is_ok());
        // A public client (Microsoft) needs only the client id.
        let public = RefreshRule {
            platform_app: false,
            needs_client_secret: false,
        };
        let with_id = json!({"refresh_token": "1//r", "client_id": "c"});
        assert!(validate(&schema(), &with_id, GOOGLE).is_err());
        assert!(validate(&schema(), &with_id, public).is_ok());
    }

    #[test]
    fn unknown_and_non_string_fields_are_named() {
        let e = validate(
            &schema(),
            &json!({"access_token": "x", "password": "p"}),
            GOOGLE,
        )
        .unwrap_err();
        assert_eq!(e.details["path"], "credentials.password");
        let e = validate(&schema(), &json!({"access_token": 5}), GOOGLE).unwrap_err();
        assert_eq!(e.details["path"], "credentials.access_token");
        assert!(validate(&schema(), &json!({}), GOOGLE).is_err());
    }

    #[test]
    fn a_token_url_must_be_https() {
        let mut auth = schema();
        auth.fields.insert(
            "token_url".into(),
            serde_json::from_value(json!({"description": "t"})).unwrap(),
        );
        for bad in [
            "http://169.254.169.254/token",
            "file:///etc/passwd",
            "nonsense",
        ] {
            let e = validate(
                &auth,
                &json!({"access_token": "x", "token_url": bad}),
                GOOGLE,
            )
            .unwrap_err();
            assert_eq!(e.details["path"], "credentials.token_url");
        }
        let ok = json!({"access_token": "x", "token_url": "https://oauth2.googleapis.com/token"});
        assert!(validate(&auth, &ok, GOOGLE).is_ok());
    }
}
