-- The admin of an organization is its oldest application that is not revoked. `created_at` is in
-- seconds, so two applications made in the same second tied and the random id decided; a
-- per-organization sequence decides instead (existing rows numbered by the old order).
ALTER TABLE applications ADD COLUMN created_seq BIGINT NOT NULL DEFAULT 0;
UPDATE applications SET created_seq = (
    SELECT COUNT(*) FROM applications a2
    WHERE a2.organization_id = applications.organization_id
      AND (a2.created_at < applications.created_at
           OR (a2.created_at = applications.created_at AND a2.id <= applications.id))
);
