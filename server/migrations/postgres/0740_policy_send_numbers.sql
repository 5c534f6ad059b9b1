-- Counted sends (issue 27): each connector's sends carry ascending numbers (`seq`), in the
-- order of their times, so the sends in a window are the newest number minus the window's
-- first plus one: two index seeks however many sends the window holds, where a count walked
-- every one of them. A send that did not go out is marked `forgotten` rather than deleted, so
-- the numbers stay contiguous; the marked ones in a window (rare: a failed send) are
-- subtracted. Two replicas numbering the same send collide on `policy_sends_seq`, and the
-- loser counts again.
ALTER TABLE policy_sends ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE policy_sends ADD COLUMN forgotten BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE policy_sends AS p SET seq = r.n
FROM (SELECT id, row_number() OVER (PARTITION BY connector_id ORDER BY sent_at_ms, id) AS n
      FROM policy_sends) AS r
WHERE p.id = r.id;
DROP INDEX policy_sends_time;
CREATE UNIQUE INDEX policy_sends_seq ON policy_sends(connector_id, seq);
CREATE INDEX policy_sends_time ON policy_sends(connector_id, sent_at_ms, seq);
CREATE INDEX policy_sends_forgotten ON policy_sends(connector_id, sent_at_ms) WHERE forgotten;
