//! Trusting an outside issuer: a bearer token the emulator does not know is looked up at an
//! introspection URL (the request and the reading of the answer are
//! `connector_core::introspection`'s), and the grant it describes is kept until it expires.

use std::time::Duration;

use connector_core::introspection::{introspect, read_answer, ClientAuth};
use serde_json::Value;

use crate::authority::Grant;
use crate::profile::Profile;
use crate::Kit;

/// Where to look unknown tokens up.
pub(crate) struct Issuer {
    pub url: String,
    pub client: Option<ClientAuth>,
    pub audience: Option<String>,
}

/// Resolves `bearer` at the configured URL unless the emulator already knows it.
pub(crate) async fn ensure_known(kit: &Kit, bearer: &str) {
    let Some(issuer) = kit.issuer.as_ref() else {
        return;
    };
    if bearer.is_empty() || kit.auth().is_known(bearer) {
        return;
    }
    let client = issuer.client.as_ref();
    let Some(v) = introspect(&kit.http, &issuer.url, client, bearer, kit.profile.name).await else {
        return;
    };
    if let Some((grant, ttl)) = grant_from(kit.profile, &v, issuer.audience.as_deref()) {
        let user = kit.directory.ensure(&grant.user);
        kit.auth()
            .insert_access(bearer, Grant { user, ..grant }, ttl);
    }
}

/// The grant an introspection answer describes, or None for an inactive token (or one meant
/// for another audience).
pub fn grant_from(
    profile: &Profile,
    v: &Value,
    audience: Option<&str>,
) -> Option<(Grant, Duration)> {
    let a = read_answer(v, audience, profile.user_claims)?;
    let scopes = a
        .scopes
        .iter()
        .map(|s| (profile.normalize_scope)(s))
        .collect();
    Some((
        Grant {
            user: a.user,
            scopes: Some(scopes),
        },
        a.ttl,
    ))
}
