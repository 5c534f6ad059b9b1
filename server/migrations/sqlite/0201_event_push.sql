-- Events (issue 20): push notifications that arrive while a poll runs are not lost: each one
-- bumps push_seq, and a poll that ends schedules the next one at once when push_seq moved.
ALTER TABLE event_streams ADD COLUMN push_seq BIGINT NOT NULL DEFAULT 0;
-- Bumped when the connector is pointed at another mailbox (its cursor and seen messages are
-- forgotten): message event ids include it, so a new mailbox's messages are never taken for
-- replays of the old one's.
ALTER TABLE event_streams ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
