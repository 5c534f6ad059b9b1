-- PostgreSQL twin of ../sqlite/0100_oauth.sql (same schema; BYTEA for BLOB). TEXT ids, BIGINT unix seconds, BYTEA ciphertexts.

-- Per-organization settings. Lists are JSON arrays of strings; the webhook secret is a vault
-- ciphertext.
CREATE TABLE org_settings (
    organization_id TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    redirect_allowlist TEXT NOT NULL,
    webhook_url TEXT,
    webhook_secret BYTEA,
    raw_credential_apps TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Pending consent requests. Only the SHA-256 of the state is stored; the row holds the PKCE
-- verifier encrypted by the vault and the request it is bound to.
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    request TEXT NOT NULL,
    verifier BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states(expires_at);

-- Bring-your-own OAuth apps; the client secret is a vault ciphertext.
CREATE TABLE oauth_apps (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret BYTEA,
    tenant TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Which account (and BYO app) a connector made by the OAuth flow belongs to.
CREATE TABLE oauth_links (
    connector_id TEXT PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    connector_type TEXT NOT NULL,
    account TEXT NOT NULL,
    -- JSON array of send-as addresses read at authorization.
    aliases TEXT NOT NULL,
    oauth_app_id TEXT
);
CREATE INDEX oauth_links_account ON oauth_links(organization_id, customer_name, connector_type, account);
