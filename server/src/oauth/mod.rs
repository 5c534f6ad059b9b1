//! The OAuth flow that ends in a `connector_id` (issue 7): organization settings, consent
//! URLs with PKCE and single-use server-side state, the callback that exchanges the code and
//! creates (or re-authorizes) the connector, bring-your-own OAuth apps, revocation on delete.

pub mod cli;
pub mod exchange;
pub mod provider;
pub mod redirect;
pub mod revoke;

/// How long a consent request stays valid.
pub const STATE_TTL_SECS: i64 = 600;
