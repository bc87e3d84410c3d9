-- golive store queries (PostgreSQL, psycopg 3). Parameters are %(named)s. Loaded by golive/store/sqlfiles.py.

-- name: migration_lock
-- Concurrent openers migrate one at a time; released at the end of the transaction.
SELECT pg_advisory_xact_lock(7152604399103751421)

-- name: create_schema_version
CREATE TABLE IF NOT EXISTS schema_version (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  text NOT NULL
)

-- name: has_schema_version
SELECT to_regclass('schema_version') IS NOT NULL

-- name: get_schema_version
SELECT COALESCE(MAX(version), 0) FROM schema_version

-- name: set_schema_version
INSERT INTO schema_version (version, name, applied_at) VALUES (%(version)s, %(name)s, %(applied_at)s)

-- name: insert_run
INSERT INTO runs (run_id, runbook_name, runbook_path, runbook_digest, runbook_text, mode, created_at, params)
VALUES (%(run_id)s, %(runbook_name)s, %(runbook_path)s, %(runbook_digest)s, %(runbook_text)s, %(mode)s,
        %(created_at)s, %(params)s)
ON CONFLICT (run_id) DO NOTHING

-- name: get_run
SELECT run_id, runbook_name, runbook_path, runbook_digest, runbook_text, mode, created_at, params
FROM runs WHERE run_id = %(run_id)s

-- name: find_run_ids_by_prefix
SELECT run_id FROM runs WHERE starts_with(run_id, %(prefix)s) ORDER BY run_id LIMIT %(limit)s

-- name: list_runs
SELECT run_id, runbook_name, runbook_path, runbook_digest, runbook_text, mode, created_at, params
FROM runs ORDER BY created_at DESC, created_order DESC LIMIT %(limit)s

-- name: lock_runs
-- Lock every run of the batch in run_id order (two processes never deadlock) and read their heads, lease
-- epochs and lease rows; a lease is alive by this server's clock, never a client's.
SELECT r.run_id, r.head_seq, r.head_hash, r.lease_epoch, l.owner, l.epoch, l.expires_at, l.acquired_at,
       COALESCE(l.expires_at > extract(epoch FROM clock_timestamp())::float8, false) AS alive
FROM runs AS r LEFT JOIN runs_lease AS l ON l.run_id = r.run_id
WHERE r.run_id = ANY(%(run_ids)s) ORDER BY r.run_id FOR UPDATE OF r

-- name: run_tails
-- A separate statement after lock_runs, so it reads a snapshot taken after the locks were granted.
SELECT r.run_id, e.seq, e.hash, e.ts
FROM unnest(%(run_ids)s::text[]) AS r (run_id)
CROSS JOIN LATERAL (
    SELECT seq, hash, ts FROM events WHERE events.run_id = r.run_id ORDER BY seq DESC LIMIT 1
) AS e

-- name: run_head
SELECT head_seq, head_hash FROM runs WHERE run_id = %(run_id)s

-- name: insert_event
INSERT INTO events (run_id, seq, ts, type, step_id, actor, data, prev_hash, hash)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)

-- name: update_head
UPDATE runs SET head_seq = %(seq)s, head_hash = %(hash)s WHERE run_id = %(run_id)s

-- name: notify
SELECT pg_notify(%(channel)s, %(payload)s)

-- name: select_events
SELECT run_id, seq, ts, type, step_id, actor, data, prev_hash, hash
FROM events WHERE run_id = %(run_id)s AND seq > %(after_seq)s ORDER BY seq LIMIT %(limit)s

-- name: last_seq
SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = %(run_id)s

-- name: put_token
INSERT INTO tokens (token_hash, "user", roles, created_at, revoked, expires_at, auth, subject)
VALUES (%(token_hash)s, %(user)s, %(roles)s, %(created_at)s, %(revoked)s, %(expires_at)s, %(auth)s, %(subject)s)
ON CONFLICT (token_hash) DO UPDATE SET
    "user" = excluded."user", roles = excluded.roles, created_at = excluded.created_at,
    revoked = excluded.revoked, expires_at = excluded.expires_at,
    auth = excluded.auth, subject = excluded.subject

-- name: find_token
SELECT token_hash, "user", roles, created_at, revoked, expires_at, auth, subject FROM tokens WHERE token_hash = %(token_hash)s

-- name: list_tokens
SELECT token_hash, "user", roles, created_at, revoked, expires_at, auth, subject FROM tokens ORDER BY created_at, token_hash

-- name: insert_blob
INSERT INTO blobs (digest, size, media_type, created_at, data)
VALUES (%(digest)s, %(size)s, %(media_type)s, %(created_at)s, %(data)s)
ON CONFLICT (digest) DO NOTHING

-- name: get_blob
SELECT data FROM blobs WHERE digest = %(digest)s

-- name: get_blob_info
SELECT digest, size, media_type, created_at FROM blobs WHERE digest = %(digest)s

-- name: lease_state
-- Lock the run (the order every writer takes: runs, then runs_lease) and read its lease epoch and lease
-- row, judged alive by this server's clock.
SELECT r.lease_epoch, l.owner, l.epoch, l.expires_at, l.acquired_at,
       COALESCE(l.expires_at > extract(epoch FROM clock_timestamp())::float8, false) AS alive,
       extract(epoch FROM clock_timestamp())::float8 AS now
FROM runs AS r LEFT JOIN runs_lease AS l ON l.run_id = r.run_id
WHERE r.run_id = %(run_id)s
FOR UPDATE OF r

-- name: put_lease
INSERT INTO runs_lease (run_id, owner, expires_at, acquired_at, epoch)
VALUES (%(run_id)s, %(owner)s, %(expires_at)s, %(acquired_at)s, %(epoch)s)
ON CONFLICT (run_id) DO UPDATE SET
    owner = excluded.owner, expires_at = excluded.expires_at, acquired_at = excluded.acquired_at,
    epoch = excluded.epoch

-- name: set_lease_epoch
UPDATE runs SET lease_epoch = %(epoch)s WHERE run_id = %(run_id)s

-- name: renew_lease
-- Only a lease still alive is extended: a late renewal never revives it.
UPDATE runs_lease SET expires_at = extract(epoch FROM clock_timestamp())::float8 + %(ttl)s
WHERE run_id = %(run_id)s AND owner = %(owner)s AND (%(epoch)s::bigint IS NULL OR epoch = %(epoch)s::bigint)
  AND expires_at > extract(epoch FROM clock_timestamp())::float8
RETURNING run_id

-- name: release_lease
DELETE FROM runs_lease WHERE run_id = %(run_id)s AND owner = %(owner)s

-- name: get_lease
SELECT run_id, owner, expires_at, epoch, acquired_at FROM runs_lease WHERE run_id = %(run_id)s

-- name: find_orphan_run
-- SKIP LOCKED on the run row: claimers at the same time each get a different orphan, none waits; the
-- run row is locked first, as every writer does, and lease_state re-checks the expiry under the lock.
SELECT l.run_id FROM runs_lease AS l JOIN runs AS r ON r.run_id = l.run_id
WHERE l.expires_at <= extract(epoch FROM clock_timestamp())::float8
ORDER BY l.expires_at, l.run_id LIMIT 1
FOR UPDATE OF r SKIP LOCKED

-- name: get_snapshot
-- The snapshot with whether the event it folded up to still has the hash it folded (false: discard it).
SELECT s.seq, s.head_hash, s.data, EXISTS (
    SELECT 1 FROM events e WHERE e.run_id = s.run_id AND e.seq = s.seq AND e.hash = s.head_hash
) FROM snapshots s WHERE s.run_id = %(run_id)s AND s.kind = %(kind)s

-- name: put_snapshot
INSERT INTO snapshots (run_id, kind, seq, head_hash, data)
VALUES (%(run_id)s, %(kind)s, %(seq)s, %(head_hash)s, %(data)s)
ON CONFLICT (run_id, kind) DO UPDATE SET seq = excluded.seq, head_hash = excluded.head_hash, data = excluded.data

-- name: drop_snapshot
DELETE FROM snapshots WHERE run_id = %(run_id)s AND kind = %(kind)s AND seq = %(seq)s AND head_hash = %(head_hash)s
