-- golive store, schema version 6 (PostgreSQL): no table changes. SQLite's version 6 moved the chain's head out
-- of the runs row (rewriting that row read its whole runbook text on every append); PostgreSQL keeps a large
-- runbook text out of line (TOAST), so updating the head in the runs row does not copy it. Recorded here.

COMMENT ON COLUMN runs.head_seq IS 'seq of the run''s last event, written in the same transaction as each append';
