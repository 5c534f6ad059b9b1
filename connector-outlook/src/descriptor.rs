//! What the rest of the system knows about Outlook on Microsoft Graph: [`PROVIDER`].

use connector_core::provider::{OAuthEndpoints, ProviderDescriptor, RefreshRules, ScopeSets};

use crate::{
    authorize_url, connector, spec, token_url, DEFAULT_BASE_URL, DEFINITION_ID, SCOPES,
    SCOPES_READONLY,
};

/// The Outlook connector type.
pub static PROVIDER: ProviderDescriptor = ProviderDescriptor {
    name: "outlook",
    definition_id: DEFINITION_ID,
    spec,
    connector,
    api_base_url: DEFAULT_BASE_URL,
    oauth: OAuthEndpoints {
        authorize_url,
        token_url,
        // The Microsoft identity platform has no RFC 7009 endpoint.
        revoke_url: None,
        default_tenant: Some("common"),
    },
    scopes: ScopeSets {
        full: SCOPES,
        read: SCOPES_READONLY,
        send: &["offline_access", "User.Read", "Mail.Send"],
        modify: &["offline_access", "User.Read", "Mail.ReadWrite"],
        labels: &["offline_access", "User.Read", "MailboxSettings.ReadWrite"],
        // Asked with a mail capability, which brings `offline_access` and `User.Read`.
        calendar: &["Calendars.ReadWrite"],
        calendar_read: &["Calendars.Read"],
        granted_prefix: Some("https://graph.microsoft.com/"),
    },
    // `offline_access` (a refresh token) is one of the scopes; the code comes back in the query.
    consent_params: &[("response_mode", "query")],
    refresh: RefreshRules {
        scopes_on_refresh: true,
        rotates_refresh_tokens: true,
        client_secret_required: false,
    },
    changes: Some(&crate::events::CHANGES),
};
