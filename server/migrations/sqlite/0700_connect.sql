-- Connect page (issue 25): the organization's name and logo on the page, and connect sessions.
-- Portable SQL, the same for SQLite and PostgreSQL: TEXT ids and JSON, BIGINT unix seconds.
ALTER TABLE org_settings ADD COLUMN display_name TEXT;
ALTER TABLE org_settings ADD COLUMN logo_url TEXT;

-- Only the SHA-256 of a session's token is stored. `request` is the JSON of the API call;
-- `started_at`/`start` are set once (single use: the first provider choice wins), `outcome`
-- (JSON: connector_id, or error and error_description) when the OAuth callback ends.
CREATE TABLE connect_sessions (
    token_hash TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    request TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    start TEXT,
    outcome TEXT
);
CREATE INDEX connect_sessions_expiry ON connect_sessions(expires_at);
