-- golive store, schema version 1 (SQLite): runs, the hash-chained event log, API tokens, blob metadata
-- and run leases. Blob bytes live in files beside the database (<db dir>/blobs/ab/cdef...).

CREATE TABLE runs (
    run_id          TEXT PRIMARY KEY,
    runbook_name    TEXT NOT NULL,
    runbook_path    TEXT NOT NULL,
    runbook_digest  TEXT NOT NULL,
    runbook_text    TEXT NOT NULL,
    mode            TEXT NOT NULL,
    created_at      TEXT NOT NULL,                -- ISO 8601 UTC
    params          TEXT NOT NULL DEFAULT '{}',  -- canonical JSON
    -- The chain's head, written in the same transaction as each event: a deleted trailing event no
    -- longer matches it, so truncation is caught by verify and refused by append.
    head_seq        INTEGER NOT NULL DEFAULT 0,
    head_hash       TEXT NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000'
);

CREATE INDEX runs_by_created_at ON runs (created_at);

CREATE TABLE events (
    run_id     TEXT NOT NULL REFERENCES runs (run_id),
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    ts         TEXT NOT NULL,   -- ISO 8601 UTC, exactly as hashed
    type       TEXT NOT NULL,
    step_id    TEXT,
    actor      TEXT,
    data       TEXT NOT NULL,   -- canonical JSON, exactly as hashed
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Append-only: stop accidental edits. A deliberate edit (dropping these) is caught by the hash chain.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'golive events are append-only');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'golive events are append-only');
END;

CREATE TABLE tokens (
    token_hash  TEXT PRIMARY KEY,   -- sha256 hex of the bearer token; never the token
    user        TEXT NOT NULL,
    roles       TEXT NOT NULL,      -- JSON array of role names
    created_at  TEXT NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);

CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,   -- sha256 hex of the bytes; the file is blobs/<digest[:2]>/<digest[2:]>
    size        INTEGER NOT NULL,
    media_type  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE runs_lease (
    run_id       TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
    owner        TEXT NOT NULL,
    expires_at   REAL NOT NULL,     -- seconds since the epoch
    acquired_at  TEXT NOT NULL
);

CREATE INDEX runs_lease_by_expiry ON runs_lease (expires_at);
