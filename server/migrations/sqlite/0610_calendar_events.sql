-- Calendar events (issue 24): the primary calendar is followed beside the mailbox, in the same
-- stream (one sequence, one poll lease). `calendar_cursor` is the next `events.sync` call;
-- `calendar_retry_at_ms` holds the calendar back (a grant without the calendar scope, a
-- failing calendar read) while mail polling goes on. The events told about are rows of
-- `event_messages` with ids `calendar:<event id>`.
ALTER TABLE event_streams ADD COLUMN calendar_cursor TEXT;
ALTER TABLE event_streams ADD COLUMN calendar_retry_at_ms BIGINT;
