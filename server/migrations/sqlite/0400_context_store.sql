-- The context store (issue 23): replicated mailbox metadata (and text when the connector's
-- replication_config asks) with full-text search. SQLite: an FTS5 index over the messages
-- table (external content, kept in step by triggers). Times are unix milliseconds.

-- One row per replicating connector: the config the data was built under, the backfill's
-- checkpoint (a JSON cursor: which label/folder, which provider page), progress, the last
-- error, and the lease of the replica working on it.
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

-- One row per replicated message. `labels` is space-delimited with a space at both ends
-- (` INBOX UNREAD `); `addrs` holds from, to and cc for the index.
CREATE TABLE context_messages (
    rid INTEGER PRIMARY KEY,
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
    addrs TEXT GENERATED ALWAYS AS (from_text || ' ' || to_text || ' ' || cc_text) VIRTUAL,
    UNIQUE (connector_id, message_id)
);
CREATE INDEX context_messages_date ON context_messages(connector_id, date_ms DESC);
CREATE INDEX context_messages_thread ON context_messages(connector_id, thread_id);

-- External content: the index keeps no copy of the text; snippets read context_messages.
CREATE VIRTUAL TABLE context_fts USING fts5(
    subject, addrs, snippet, body_text,
    content='context_messages', content_rowid='rid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER context_messages_ai AFTER INSERT ON context_messages BEGIN
    INSERT INTO context_fts(rowid, subject, addrs, snippet, body_text)
    VALUES (new.rid, new.subject, new.addrs, new.snippet, new.body_text);
END;
CREATE TRIGGER context_messages_ad AFTER DELETE ON context_messages BEGIN
    INSERT INTO context_fts(context_fts, rowid, subject, addrs, snippet, body_text)
    VALUES ('delete', old.rid, old.subject, old.addrs, old.snippet, old.body_text);
END;
CREATE TRIGGER context_messages_au AFTER UPDATE ON context_messages BEGIN
    INSERT INTO context_fts(context_fts, rowid, subject, addrs, snippet, body_text)
    VALUES ('delete', old.rid, old.subject, old.addrs, old.snippet, old.body_text);
    INSERT INTO context_fts(rowid, subject, addrs, snippet, body_text)
    VALUES (new.rid, new.subject, new.addrs, new.snippet, new.body_text);
END;

-- Messages the mailbox events saw change (written in the events' transaction); the store
-- re-reads them from the provider and applies the result. `n` counts marks, so a mark that
-- arrives while one is applied is not lost.
CREATE TABLE context_dirty (
    connector_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (connector_id, message_id)
);
