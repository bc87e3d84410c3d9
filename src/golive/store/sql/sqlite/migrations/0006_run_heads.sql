-- golive store, schema version 6 (SQLite): the chain's head in a table of its own. It is written in the same
-- transaction as each append; in the runs row, every append rewrote that row, and SQLite reads a row's whole
-- runbook text to rewrite it (megabytes for a runbook of 50,000 steps: the appends of a long run grew slower
-- with the runbook's size). A run without a head row reads as having no events, so a deleted head row is
-- caught like a moved one. The runs table's head_seq and head_hash are no longer read or written (dropping a
-- column needs SQLite 3.35).

CREATE TABLE run_heads (
    run_id     TEXT PRIMARY KEY REFERENCES runs (run_id),
    head_seq   INTEGER NOT NULL DEFAULT 0,
    head_hash  TEXT NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000'
);

INSERT INTO run_heads (run_id, head_seq, head_hash) SELECT run_id, head_seq, head_hash FROM runs;
