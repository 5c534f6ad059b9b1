//! What the rest of the system knows about Gmail: [`PROVIDER`].

use connector_core::provider::{OAuthEndpoints, ProviderDescriptor, RefreshRules, ScopeSets};

use crate::{
    connector, spec, AUTHORIZE_URL, DEFAULT_BASE_URL, DEFINITION_ID, REVOKE_URL, SCOPES_FULL,
    SCOPES_READONLY, TOKEN_URL,
};

/// The Gmail connector type.
pub static PROVIDER: ProviderDescriptor = ProviderDescriptor {
    name: "gmail",
    definition_id: DEFINITION_ID,
    spec,
    connector,
    api_base_url: DEFAULT_BASE_URL,
    oauth: OAuthEndpoints {
        authorize_url: |_| AUTHORIZE_URL.to_string(),
        token_url: |_| TOKEN_URL.to_string(),
        revoke_url: Some(REVOKE_URL),
        default_tenant: None,
    },
    scopes: ScopeSets {
        full: SCOPES_FULL,
        read: SCOPES_READONLY,
        send: &["https://www.googleapis.com/auth/gmail.send"],
        modify: &["https://www.googleapis.com/auth/gmail.modify"],
        labels: &["https://www.googleapis.com/auth/gmail.labels"],
        calendar: &[crate::calendar::SCOPE_FULL],
        calendar_read: &[crate::calendar::SCOPE_READONLY],
        granted_prefix: None,
    },
    // A refresh token only with `access_type=offline`, and again on a repeated consent only
    // with `prompt=consent`; earlier grants of the same app are kept.
    consent_params: &[
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
    ],
    refresh: RefreshRules {
        scopes_on_refresh: false,
        rotates_refresh_tokens: false,
        client_secret_required: true,
    },
    changes: Some(&crate::events::CHANGES),
};
