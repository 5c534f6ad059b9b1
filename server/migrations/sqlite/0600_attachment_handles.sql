-- Attachments by reference (issue 22, docs/attachments.md): uploaded files and attachments
-- fetched for a download handle. `content` is sealed with the organization's data key (mail
-- content is never stored in clear); a handle expires at expires_at_ms and is deleted by the
-- sweep that runs before each new handle is stored.
CREATE TABLE attachment_handles (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    content BLOB NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX attachment_handles_org ON attachment_handles(organization_id, expires_at_ms);
CREATE INDEX attachment_handles_expiry ON attachment_handles(expires_at_ms);
