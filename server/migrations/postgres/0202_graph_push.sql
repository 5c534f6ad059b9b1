-- Events (issue 20): Graph change notifications. The SHA-256 (hex) of the clientState secret of
-- the connector's subscription: every notification's clientState is checked against it.
ALTER TABLE event_streams ADD COLUMN push_secret TEXT;
