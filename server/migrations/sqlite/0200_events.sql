-- Events (issue 20). Portable SQL: TEXT ids, BIGINT numbers; times in this file are unix
-- milliseconds (`*_ms`) or seconds (`created_at`).

-- One stream per connector: the next sequence number of its events, the delivery and polling
-- schedules and their leases (a replica owns a lease until `*_lease_until`), the provider
-- cursor, and the push subscription when one is set up.
CREATE TABLE event_streams (
    connector_id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    next_seq BIGINT NOT NULL,
    -- bumped by every write of events: a delivery lease releases only what it has seen.
    gen BIGINT NOT NULL,
    deliver_at_ms BIGINT,
    deliver_owner TEXT,
    deliver_lease_until_ms BIGINT NOT NULL,
    cursor TEXT,
    poll_at_ms BIGINT,
    poll_owner TEXT,
    poll_lease_until_ms BIGINT NOT NULL,
    poll_failures BIGINT NOT NULL,
    poll_error TEXT,
    push_kind TEXT,
    push_id TEXT,
    push_expires_at BIGINT,
    push_renew_at_ms BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX event_streams_deliver ON event_streams(deliver_at_ms);
CREATE INDEX event_streams_poll ON event_streams(poll_at_ms);
CREATE INDEX event_streams_push_id ON event_streams(push_id);

-- The outbox and the feed: events in per-connector order (`seq` 1, 2, 3, ...), with their
-- webhook delivery state: pending, delivered, dead (gave up: redeliver on request) or none
-- (no webhook was set when the event was made; the feed still has it).
CREATE TABLE events (
    connector_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivery TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error TEXT,
    delivered_at BIGINT,
    PRIMARY KEY (connector_id, seq)
);
CREATE INDEX events_delivery ON events(connector_id, delivery, seq);

-- The messages a connector's events have told about, with the state they were told in, so that
-- a change seen twice (provider duplicates, replays, resyncs) makes one event.
CREATE TABLE event_messages (
    connector_id TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    version TEXT,
    deleted BIGINT NOT NULL,
    changes BIGINT NOT NULL,
    PRIMARY KEY (connector_id, message_id)
);

-- Message bodies in events only when the organization asks (1).
ALTER TABLE org_settings ADD COLUMN event_bodies BIGINT NOT NULL DEFAULT 0;
