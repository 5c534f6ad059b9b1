-- The context store's search bounds its ranking work (issue 23, docs/context-store.md
-- "Ranking"). PostgreSQL picks between the GIN index (rare words) and the newest-first walk
-- of context_messages_date (common words) from the column statistics of `fts`: gather them
-- now for a store that already holds mail (the server analyzes again after each backfill).
ANALYZE context_messages;
