-- PostgreSQL twin of ../sqlite/0001_init.sql (same schema; BYTEA for BLOB): TEXT ids, BIGINT unix seconds, BYTEA ciphertexts.
CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- One data key per organization, wrapped by the master key; the wrapped blob names the master key id.
CREATE TABLE data_keys (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    master_key_id TEXT NOT NULL,
    wrapped BYTEA NOT NULL,
    active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX data_keys_one_active ON data_keys(organization_id) WHERE active;

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Bearer tokens are stored as SHA-256 hex of a random 32-byte token.
CREATE TABLE app_tokens (
    token_hash TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX app_tokens_expiry ON app_tokens(expires_at);

CREATE TABLE connectors (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    customer_name TEXT NOT NULL,
    connector_type TEXT NOT NULL,
    definition_id TEXT NOT NULL,
    name TEXT NOT NULL,
    replication_config TEXT NOT NULL,
    -- AES-256-GCM envelope; the blob starts with the data key id.
    credentials BYTEA NOT NULL,
    credentials_key_id TEXT NOT NULL,
    -- bumped when credentials are replaced (not on refresh): invalidates cached instances.
    credentials_version BIGINT NOT NULL,
    -- provider endpoint overrides (sandbox); NULL = the provider default.
    base_url TEXT,
    token_url TEXT,
    status TEXT NOT NULL,
    status_reason TEXT,
    scopes TEXT,
    last_refresh_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX connectors_org ON connectors(organization_id, customer_name);
