-- golive store, schema version 5 (SQLite): folded-state snapshots. A cache, never evidence: a row holds a
-- run's state folded up to event `seq` whose hash was `head_hash`, by the code named in `kind`. It is used
-- only while the event at `seq` still has that hash (checked in the same read), else discarded; the log
-- stays the only record and verify never reads this table.

CREATE TABLE snapshots (
    run_id     TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,     -- what was folded and by which code (e.g. state/<digest of that code>)
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    head_hash  TEXT NOT NULL,
    data       TEXT NOT NULL,     -- JSON
    PRIMARY KEY (run_id, kind)
);
