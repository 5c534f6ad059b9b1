-- The context store's search bounds its ranking work (issue 23, docs/context-store.md
-- "Ranking"): a read-only view of the full-text index's vocabulary, so a search can tell
-- cheaply how many rows hold a word (`doc`) and pick its plan: a rare word is matched through
-- the index first, a common one by walking the newest messages.
CREATE VIRTUAL TABLE context_fts_vocab USING fts5vocab(context_fts, 'row');
