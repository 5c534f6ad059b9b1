-- Guardrails (issue 22): send policies, approvals and the sends the limits count.
-- policies: one row per version of a scope; scope is a connector id, or '' for the
-- organization's default; the highest version of a scope is in force, policy NULL = removed.
CREATE TABLE policies (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    version BIGINT NOT NULL,
    policy TEXT,
    updated_by TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, scope, version)
);
-- approvals: preview and link_key are sealed with the organization's data key.
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    connector_id TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,
    entity TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    preview BYTEA NOT NULL,
    link_key BYTEA NOT NULL,
    status TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    decided_at_ms BIGINT,
    decided_by TEXT
);
CREATE INDEX approvals_content ON approvals(connector_id, content_hash, created_at_ms);
CREATE INDEX approvals_org ON approvals(organization_id, created_at_ms);
-- policy_sends: sends counted by max_sends_per_hour / max_sends_per_day (kept one day).
CREATE TABLE policy_sends (
    id TEXT PRIMARY KEY,
    connector_id TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    sent_at_ms BIGINT NOT NULL
);
CREATE INDEX policy_sends_time ON policy_sends(connector_id, sent_at_ms);
