-- Re-authorization links (issue 25): a link in the `connector.status_changed` event (and from
-- the API) that opens the connect page in reconnect mode for days, where a connect session
-- lasts minutes. Only the SHA-256 of a link's token is stored; a link works only for its
-- connector, until `expires_at`, and is deleted once the connector is active again (or gone).
-- Portable SQL, the same for SQLite and PostgreSQL.
CREATE TABLE reconnect_links (
    token_hash TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    connector_id TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX reconnect_links_connector ON reconnect_links(connector_id);

-- Where a flow started from such a link returns the end user to (on the organization's
-- redirect allow-list); none: the server's own "you can close this window" page.
ALTER TABLE org_settings ADD COLUMN connect_return_url TEXT;
