-- golive store, schema version 1 (PostgreSQL): runs, the hash-chained event log, API tokens, blobs
-- (bytes in the table) and run leases. Applied in one transaction under an advisory lock.

CREATE TABLE runs (
    run_id          text PRIMARY KEY,
    runbook_name    text NOT NULL,
    runbook_path    text NOT NULL,
    runbook_digest  text NOT NULL,
    runbook_text    text NOT NULL,
    mode            text NOT NULL,
    created_at      text NOT NULL,                 -- ISO 8601 UTC
    params          text NOT NULL DEFAULT '{}',   -- canonical JSON
    -- The chain's head, written in the same transaction as each event and locked (FOR UPDATE) by every
    -- append: it serialises appends to a run across processes and catches a truncated log.
    head_seq        bigint NOT NULL DEFAULT 0,
    head_hash       text NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
    created_order   bigint GENERATED ALWAYS AS IDENTITY  -- ties in created_at: newest insert first
);

CREATE INDEX runs_by_created_at ON runs (created_at DESC, created_order DESC);

-- ts and data are text, not timestamptz/jsonb: the hash covers their exact characters, and jsonb
-- would reorder keys and rewrite numbers.
CREATE TABLE events (
    run_id     text NOT NULL REFERENCES runs (run_id),
    seq        bigint NOT NULL CHECK (seq >= 1),
    ts         text NOT NULL,
    type       text NOT NULL,
    step_id    text,
    actor      text,
    data       text NOT NULL,
    prev_hash  text NOT NULL,
    hash       text NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Append-only: stop accidental edits. A deliberate edit (dropping these) is caught by the hash chain.
CREATE FUNCTION golive_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'golive events are append-only';
END;
$$;

CREATE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION golive_events_append_only();

CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION golive_events_append_only();

CREATE TABLE tokens (
    token_hash  text PRIMARY KEY,   -- sha256 hex of the bearer token; never the token
    "user"      text NOT NULL,
    roles       text NOT NULL,      -- JSON array of role names
    created_at  text NOT NULL,
    revoked     boolean NOT NULL DEFAULT false
);

CREATE TABLE blobs (
    digest      text PRIMARY KEY,   -- sha256 hex of data
    size        bigint NOT NULL,
    media_type  text NOT NULL,
    created_at  text NOT NULL,
    data        bytea NOT NULL
);

CREATE TABLE runs_lease (
    run_id       text PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
    owner        text NOT NULL,
    expires_at   double precision NOT NULL,   -- seconds since the epoch
    acquired_at  text NOT NULL
);

CREATE INDEX runs_lease_by_expiry ON runs_lease (expires_at);
