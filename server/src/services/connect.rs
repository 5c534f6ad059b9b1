//! Connect sessions (issue 25): a single-use, expiring URL of the server's connect page, which
//! starts the OAuth flow of [`OAuthFlow`] for the provider the end user picks and records how it
//! ended, so that the page can send the end user back (redirect) or tell the opener (popup).

use api_types::{
    ConnectCapability, ConnectSession, ConnectSessionRequest, InitiateRequest, ReauthorizeRequest,
};
use base64::Engine;
use connector_core::provider::Capability;
use connector_core::ConnectorError;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::oauth::{hash_state, ConnectStart, OAuthFlow};
use crate::error::db;
use crate::oauth::provider::endpoints;
use crate::oauth::redirect::valid_entry;
use crate::registry::ConnectorType;
use crate::store::now;

/// How long a connect URL stays valid.
pub const CONNECT_TTL_SECS: i64 = 900;

/// What a session was created with (stored as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRequest {
    pub customer_name: String,
    pub connector_types: Vec<String>,
    pub redirect_url: String,
    #[serde(default)]
    pub reconnect_connector_id: Option<String>,
    /// What the session asks (resolved: never empty).
    #[serde(default = "mail_capabilities")]
    pub capabilities: Vec<ConnectCapability>,
}

/// A session's default ask: every mail capability, no calendar.
pub fn mail_capabilities() -> Vec<ConnectCapability> {
    vec![
        ConnectCapability::Read,
        ConnectCapability::Send,
        ConnectCapability::Modify,
        ConnectCapability::Labels,
    ]
}

fn capability(c: ConnectCapability) -> Capability {
    match c {
        ConnectCapability::Read => Capability::Read,
        ConnectCapability::Send => Capability::Send,
        ConnectCapability::Modify => Capability::Modify,
        ConnectCapability::Labels => Capability::Labels,
        ConnectCapability::Calendar => Capability::Calendar,
    }
}

/// The scopes a session asking `capabilities` asks of a connector type (the provider's
/// descriptor says which scopes each capability needs).
pub fn session_scopes(kind: &ConnectorType, capabilities: &[ConnectCapability]) -> Vec<String> {
    let caps: Vec<Capability> = capabilities.iter().map(|c| capability(*c)).collect();
    kind.descriptor
        .scopes
        .for_capabilities(&caps)
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// What a reconnect asks by default: every mail capability, and calendar when the
/// connector's grant (`granted`, space-separated) had calendar access.
pub fn reconnect_capabilities(
    kind: &ConnectorType,
    granted: Option<&str>,
) -> Vec<ConnectCapability> {
    let sets = &kind.descriptor.scopes;
    let had_calendar = granted.unwrap_or("").split_whitespace().any(|s| {
        let s = sets
            .granted_prefix
            .and_then(|p| s.strip_prefix(p))
            .unwrap_or(s);
        sets.calendar
            .iter()
            .chain(sets.calendar_read)
            .any(|c| c.eq_ignore_ascii_case(s))
    });
    let mut caps = mail_capabilities();
    if had_calendar {
        caps.push(ConnectCapability::Calendar);
    }
    caps
}

/// Checks an ask against the connector types it is for.
fn check_capabilities(
    caps: &[ConnectCapability],
    kinds: &[&ConnectorType],
) -> Result<(), ConnectorError> {
    let invalid =
        |m: String| ConnectorError::invalid_params(m).with_details(json!({"path": "capabilities"}));
    if !caps.iter().any(|c| *c != ConnectCapability::Calendar) {
        return Err(invalid(
            "`capabilities` must name at least one mail capability: read, send, modify or labels (calendar comes with one of them)".into(),
        ));
    }
    if caps.contains(&ConnectCapability::Calendar) {
        if let Some(k) = kinds
            .iter()
            .find(|k| k.descriptor.scopes.calendar.is_empty())
        {
            return Err(invalid(format!(
                "`capabilities`: connector type `{}` has no calendar; leave `calendar` out",
                k.name
            )));
        }
    }
    Ok(())
}

/// How the end user started (stored as JSON when they pick a provider).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Start {
    /// The page runs in a popup of `/connect/button.js`.
    pub popup: bool,
    /// The opener's origin, when it is one of the organization's allowed origins: the only
    /// origin the result is posted to.
    pub target_origin: Option<String>,
}

/// A connect session as the page sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub organization_id: String,
    pub request: SessionRequest,
    pub expired: bool,
    pub start: Option<Start>,
    /// `{connector_id}` or `{error, error_description}`.
    pub outcome: Option<Value>,
}

/// What the page shows of the organization.
pub struct Branding {
    pub name: String,
    pub logo_url: Option<String>,
}

/// Why a session cannot start (again).
pub enum Closed {
    Expired,
    Used,
}

impl Closed {
    pub fn code(&self) -> &'static str {
        match self {
            Closed::Expired => "session_expired",
            Closed::Used => "session_used",
        }
    }
    pub fn description(&self) -> &'static str {
        match self {
            Closed::Expired => "this connect link has expired; start again from the application",
            Closed::Used => "this connect link was already used; start again from the application",
        }
    }
}

/// 32 random bytes, URL-safe base64 (43 characters).
pub(crate) fn new_token() -> String {
    let mut random = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut random);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
}

fn token_hash(token: &str) -> String {
    hash_state(&format!("connect:{token}"))
}

/// Whether a token has the shape this server issues (43 URL-safe base64 characters).
pub(crate) fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The origin (`scheme://host[:port]`) of a URL.
pub fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    u.host_str()?;
    Some(u.origin().ascii_serialization())
}

/// Plain words for a provider.
pub fn provider_label(kind: &ConnectorType) -> String {
    match kind.name.as_str() {
        "gmail" => "Google (Gmail)".into(),
        "outlook" => "Microsoft (Outlook)".into(),
        other => other.to_string(),
    }
}

/// Plain words for what a scope lets the application do (the scope itself when unknown).
pub fn scope_words(scope: &str) -> String {
    let s = scope
        .strip_prefix("https://graph.microsoft.com/")
        .unwrap_or(scope);
    match s {
        "https://mail.google.com/" => "Read, send, organize (labels) and delete your email".into(),
        "https://www.googleapis.com/auth/gmail.readonly" => "Read your email and labels".into(),
        "https://www.googleapis.com/auth/gmail.modify" => {
            "Read, send and organize (labels) your email".into()
        }
        "https://www.googleapis.com/auth/gmail.send" => "Send email as you".into(),
        "https://www.googleapis.com/auth/gmail.labels" => "Manage your labels".into(),
        "https://www.googleapis.com/auth/gmail.settings.basic" => {
            "Manage your mail settings: filters and the vacation responder".into()
        }
        "https://www.googleapis.com/auth/calendar" => {
            "See, create and change your calendars and events".into()
        }
        "https://www.googleapis.com/auth/calendar.readonly" => {
            "See your calendars and events".into()
        }
        "offline_access" => "Keep this access while you are away (until you revoke it)".into(),
        "User.Read" => "See your name and email address".into(),
        "Mail.Read" => "Read your email and folders".into(),
        "Mail.ReadWrite" => "Read, organize (folders, categories) and delete your email".into(),
        "Mail.Send" => "Send email as you".into(),
        "MailboxSettings.Read" => "See your mailbox settings".into(),
        "MailboxSettings.ReadWrite" => {
            "Manage your mailbox settings: rules and automatic replies".into()
        }
        "Calendars.Read" => "See your calendars and events".into(),
        "Calendars.ReadWrite" => "See, create and change your calendars and events".into(),
        other => other.to_string(),
    }
}

/// The plain-words list of what a provider's consent will grant to a session asking
/// `capabilities`.
pub fn permissions(kind: &ConnectorType, capabilities: &[ConnectCapability]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in session_scopes(kind, capabilities) {
        let w = scope_words(&s);
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

impl OAuthFlow {
    /// `POST .../connect/sessions`. `base`: this server's origin as the request reached it.
    pub async fn create_connect_session(
        &self,
        org: &str,
        r: ConnectSessionRequest,
        base: &str,
    ) -> Result<ConnectSession, ConnectorError> {
        if r.customer_name.trim().is_empty() {
            return Err(
                ConnectorError::invalid_params("`customer_name` must not be empty")
                    .with_details(json!({"path": "customer_name"})),
            );
        }
        let mut types: Vec<String> = Vec::new();
        for t in &r.connector_types {
            let kind = self.kind_of(Some(t), None).map_err(|_| {
                ConnectorError::invalid_params(
                    "each of `connector_types` must be a known connector type (see GET /api/v1/connector-types)",
                )
                .with_details(json!({"path": "connector_types"}))
            })?;
            if !types.contains(&kind.name) {
                types.push(kind.name.clone());
            }
        }
        let mut asked = r.capabilities;
        if let Some(id) = &r.reconnect_connector_id {
            let row = self.connectors_get(org, id).await?;
            if asked.is_none() {
                if let Ok(kind) = self.kind_of(Some(&row.connector_type), None) {
                    asked = Some(reconnect_capabilities(kind, row.scopes.as_deref()));
                }
            }
            if row.customer_name != r.customer_name {
                return Err(ConnectorError::invalid_params(
                    "`customer_name` must be the customer of `reconnect_connector_id`",
                )
                .with_details(json!({"path": "customer_name"})));
            }
            if types.iter().any(|t| *t != row.connector_type) {
                return Err(ConnectorError::invalid_params(
                    "with `reconnect_connector_id`, `connector_types` may only name the connector's own type",
                )
                .with_details(json!({"path": "connector_types"})));
            }
            types = vec![row.connector_type];
        } else if types.is_empty() {
            return Err(ConnectorError::invalid_params(
                "`connector_types` must name at least one connector type",
            )
            .with_details(json!({"path": "connector_types"})));
        }
        let mut capabilities: Vec<ConnectCapability> = Vec::new();
        for c in asked.unwrap_or_else(mail_capabilities) {
            if !capabilities.contains(&c) {
                capabilities.push(c);
            }
        }
        let kinds: Vec<&ConnectorType> = types
            .iter()
            .filter_map(|t| self.kind_of(Some(t), None).ok())
            .collect();
        check_capabilities(&capabilities, &kinds)?;
        self.check_redirect(org, &r.redirect_url).await?;
        let request = SessionRequest {
            customer_name: r.customer_name,
            connector_types: types,
            redirect_url: r.redirect_url,
            reconnect_connector_id: r.reconnect_connector_id,
            capabilities,
        };
        self.store_connect_session(org, request, base).await
    }

    /// Stores a checked session request; its connect URL (origin `base`).
    pub(crate) async fn store_connect_session(
        &self,
        org: &str,
        request: SessionRequest,
        base: &str,
    ) -> Result<ConnectSession, ConnectorError> {
        let token = new_token();
        let expires_at = now() + CONNECT_TTL_SECS;
        self.store_ref()
            .insert_connect_session(
                &token_hash(&token),
                org,
                &serde_json::to_string(&request).expect("serializes"),
                expires_at,
            )
            .await
            .map_err(db)?;
        Ok(ConnectSession {
            connect_url: format!("{}/connect/s/{token}", base.trim_end_matches('/')),
            expires_at,
            expires_in: CONNECT_TTL_SECS,
        })
    }

    /// The session of a token, if there is one.
    pub async fn connect_session(&self, token: &str) -> Result<Option<Session>, ConnectorError> {
        if !well_formed(token) {
            return Ok(None);
        }
        let Some(row) = self
            .store_ref()
            .connect_session(&token_hash(token))
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let Ok(request) = serde_json::from_str::<SessionRequest>(&row.request) else {
            return Ok(None);
        };
        Ok(Some(Session {
            organization_id: row.organization_id,
            request,
            expired: row.expires_at < now(),
            start: row.start.and_then(|s| serde_json::from_str(&s).ok()),
            outcome: row.outcome.and_then(|s| serde_json::from_str(&s).ok()),
        }))
    }

    /// What the page shows of the organization: its display name (else its name) and logo.
    pub async fn branding(&self, org: &str) -> Result<Branding, ConnectorError> {
        let settings = self.store_ref().org_settings(org).await.map_err(db)?;
        let name = match settings.display_name {
            Some(n) => n,
            None => self
                .store_ref()
                .find_org(org)
                .await
                .map_err(db)?
                .map(|o| o.name)
                .unwrap_or_default(),
        };
        Ok(Branding {
            name,
            logo_url: settings.logo_url,
        })
    }

    /// `origin` when it is the origin of one of the organization's allow-list entries.
    pub async fn allowed_origin(
        &self,
        org: &str,
        origin: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let settings = self.store_ref().org_settings(org).await.map_err(db)?;
        let Some(wanted) = origin_of(origin).filter(|o| o == origin) else {
            return Ok(None);
        };
        Ok(settings
            .redirect_allowlist
            .iter()
            .filter_map(|e| valid_entry(e).ok())
            .map(|u| u.origin().ascii_serialization())
            .find(|o| *o == wanted))
    }

    /// The origins of the consent pages of these connector types (the page's form goes there).
    pub fn consent_origins(&self, types: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for t in types {
            if let Ok(kind) = self.kind_of(Some(t), None) {
                if let Some(o) = origin_of(&endpoints(kind, "common").authorize) {
                    if !out.contains(&o) {
                        out.push(o);
                    }
                }
            }
        }
        out
    }

    /// Starts the OAuth flow of a session for `connector_type` (single use); returns the
    /// provider's consent URL. `base`: this server's origin; `callback_url`: its OAuth callback.
    pub async fn start_connect(
        &self,
        token: &str,
        session: &Session,
        connector_type: &str,
        start: Start,
        base: &str,
        callback_url: &str,
    ) -> Result<Result<String, Closed>, ConnectorError> {
        if !session
            .request
            .connector_types
            .iter()
            .any(|t| t == connector_type)
        {
            return Err(ConnectorError::invalid_params(
                "this connect link does not offer that provider",
            ));
        }
        let hash = token_hash(token);
        let started = self
            .store_ref()
            .start_connect_session(&hash, &serde_json::to_string(&start).expect("serializes"))
            .await
            .map_err(db)?;
        if !started {
            return Ok(Err(if session.start.is_some() || !session.expired {
                Closed::Used
            } else {
                Closed::Expired
            }));
        }
        let org = &session.organization_id;
        let scopes = session_scopes(
            self.kind_of(Some(connector_type), None)?,
            &session.request.capabilities,
        );
        let connect = Some(ConnectStart {
            session: hash.clone(),
            scopes,
        });
        let done = format!("{}/connect/s/{token}/done", base.trim_end_matches('/'));
        let began = match &session.request.reconnect_connector_id {
            Some(id) => {
                self.begin_again(
                    org,
                    id,
                    ReauthorizeRequest {
                        redirect_url: done.clone(),
                        scopes: None,
                        tenant: None,
                    },
                    callback_url,
                    connect,
                )
                .await
            }
            None => {
                self.begin(
                    org,
                    InitiateRequest {
                        customer_name: session.request.customer_name.clone(),
                        connector_type: Some(connector_type.to_string()),
                        definition_id: None,
                        redirect_url: done.clone(),
                        name: None,
                        replication_config: None,
                        scopes: None,
                        tenant: None,
                        oauth_app_id: None,
                    },
                    callback_url,
                    connect,
                )
                .await
            }
        };
        match began {
            Ok(c) => Ok(Ok(c.consent_url)),
            Err(e) => {
                // The end user is told on the result page, like any other failed flow.
                tracing::warn!(code = %e.code.as_str(), "a connect session could not start its flow");
                let outcome = json!({"error": e.code.as_str(), "error_description": e.message});
                self.store_ref()
                    .finish_connect_session(&hash, &outcome.to_string())
                    .await
                    .map_err(db)?;
                Ok(Ok(done))
            }
        }
    }
}
