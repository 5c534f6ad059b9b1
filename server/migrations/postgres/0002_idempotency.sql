-- Idempotency keys on execute (portable SQL: SQLite and PostgreSQL).
-- key_hash is the SHA-256 hex of the caller's key; response is the stored answer
-- ({status, body}) sealed with the organization's data key (NULL while pending).
CREATE TABLE idempotency_keys (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    connector_id TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    response BYTEA,
    locked_until BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, connector_id, key_hash)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys(expires_at);
