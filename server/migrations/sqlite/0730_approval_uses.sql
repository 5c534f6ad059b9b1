-- Approvals (issue 27): how often an approval was consumed. The first use of an approval sends
-- under an idempotency key nobody used before, so the send skips looking for an earlier
-- attempt; a use after `outcome_unknown` gave it back (uses > 1) looks first.
ALTER TABLE approvals ADD COLUMN uses BIGINT NOT NULL DEFAULT 0;
-- Approvals decided before this column: whether a send went out under them is unknown, so
-- their next use looks first.
UPDATE approvals SET uses = 1 WHERE status <> 'pending';
