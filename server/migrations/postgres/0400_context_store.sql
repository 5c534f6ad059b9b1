-- The context store (issue 23): replicated mailbox metadata (and text when the connector's
-- replication_config asks) with full-text search. PostgreSQL: a generated tsvector with a GIN
-- index ('simple' configuration, split on every non-alphanumeric character: words as written,
-- no stemming, like SQLite's FTS5 unicode61 tokenizer).
-- Times are unix milliseconds.

CREATE TABLE context_sync (
    connector_id TEXT PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL,
    checkpoint TEXT,
    backfilled BIGINT NOT NULL,
    last_error TEXT,
    folders TEXT,
    backfill_finished_at BIGINT,
    lease_owner TEXT,
    lease_until_ms BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE context_messages (
    rid BIGSERIAL PRIMARY KEY,
    connector_id TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    thread_id TEXT,
    subject TEXT,
    from_name TEXT,
    from_email TEXT,
    from_text TEXT NOT NULL,
    to_text TEXT NOT NULL,
    cc_text TEXT NOT NULL,
    date_ms BIGINT NOT NULL,
    labels TEXT NOT NULL,
    is_read BIGINT NOT NULL,
    has_attachments BIGINT NOT NULL,
    attachments TEXT,
    snippet TEXT,
    body_text TEXT,
    size BIGINT,
    fts tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', regexp_replace(
            coalesce(subject, '') || ' ' || from_text || ' ' || to_text || ' ' || cc_text || ' ' ||
            coalesce(snippet, '') || ' ' || coalesce(body_text, ''),
            '[^[:alnum:]]+', ' ', 'g'))
    ) STORED,
    UNIQUE (connector_id, message_id)
);
CREATE INDEX context_messages_date ON context_messages(connector_id, date_ms DESC);
CREATE INDEX context_messages_thread ON context_messages(connector_id, thread_id);
CREATE INDEX context_messages_fts ON context_messages USING GIN (fts);

CREATE TABLE context_dirty (
    connector_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (connector_id, message_id)
);
