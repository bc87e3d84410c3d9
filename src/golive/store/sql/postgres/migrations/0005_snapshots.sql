-- golive store, schema version 5 (PostgreSQL): folded-state snapshots. A cache, never evidence: a row holds
-- a run's state folded up to event `seq` whose hash was `head_hash`, by the code named in `kind`. It is used
-- only while the event at `seq` still has that hash (checked in the same read), else discarded; the log
-- stays the only record and verify never reads this table.

CREATE TABLE snapshots (
    run_id     text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    kind       text NOT NULL,
    seq        bigint NOT NULL CHECK (seq >= 1),
    head_hash  text NOT NULL,
    data       text NOT NULL,
    PRIMARY KEY (run_id, kind)
);
