-- golive store queries (SQLite). Parameters are :named. Loaded by golive/store/sqlfiles.py.

-- name: create_schema_version
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  TEXT NOT NULL
)

-- name: has_schema_version
SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'

-- name: get_schema_version
SELECT COALESCE(MAX(version), 0) FROM schema_version

-- name: set_schema_version
INSERT INTO schema_version (version, name, applied_at) VALUES (:version, :name, :applied_at)

-- name: insert_run
INSERT INTO runs (run_id, runbook_name, runbook_path, runbook_digest, runbook_text, mode, created_at, params)
VALUES (:run_id, :runbook_name, :runbook_path, :runbook_digest, :runbook_text, :mode, :created_at, :params)
ON CONFLICT (run_id) DO NOTHING

-- name: insert_head
INSERT INTO run_heads (run_id) VALUES (:run_id)

-- name: get_run
SELECT run_id, runbook_name, runbook_path, runbook_digest, runbook_text, mode, created_at, params
FROM runs WHERE run_id = :run_id

-- name: find_run_ids_by_prefix
SELECT run_id FROM runs WHERE substr(run_id, 1, length(:prefix)) = :prefix ORDER BY run_id LIMIT :limit

-- name: list_runs
SELECT run_id, runbook_name, runbook_path, runbook_digest, runbook_text, mode, created_at, params
FROM runs ORDER BY created_at DESC, rowid DESC LIMIT :limit

-- name: run_tail
-- The run's recorded head and its actual last event, read inside the write transaction.
-- No head row reads as the genesis head (a run with no events): a deleted head row is refused like a moved one.
SELECT COALESCE(h.head_seq, 0), COALESCE(h.head_hash, '0000000000000000000000000000000000000000000000000000000000000000'), e.seq, e.hash, e.ts
FROM runs AS r
LEFT JOIN run_heads AS h ON h.run_id = r.run_id
LEFT JOIN events AS e
    ON e.run_id = r.run_id AND e.seq = (SELECT MAX(seq) FROM events WHERE run_id = r.run_id)
WHERE r.run_id = :run_id

-- name: run_head
SELECT COALESCE(h.head_seq, 0), COALESCE(h.head_hash, '0000000000000000000000000000000000000000000000000000000000000000')
FROM runs AS r LEFT JOIN run_heads AS h ON h.run_id = r.run_id
WHERE r.run_id = :run_id

-- name: insert_event
INSERT INTO events (run_id, seq, ts, type, step_id, actor, data, prev_hash, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: update_head
-- In a table of its own (schema version 6): rewriting the runs row read its whole runbook text.
UPDATE run_heads SET head_seq = :seq, head_hash = :hash WHERE run_id = :run_id

-- name: select_events
SELECT run_id, seq, ts, type, step_id, actor, data, prev_hash, hash
FROM events WHERE run_id = :run_id AND seq > :after_seq ORDER BY seq LIMIT :limit

-- name: last_seq
SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = :run_id

-- name: put_token
INSERT INTO tokens (token_hash, user, roles, created_at, revoked, expires_at, auth, subject)
VALUES (:token_hash, :user, :roles, :created_at, :revoked, :expires_at, :auth, :subject)
ON CONFLICT (token_hash) DO UPDATE SET
    user = excluded.user, roles = excluded.roles, created_at = excluded.created_at, revoked = excluded.revoked,
    expires_at = excluded.expires_at, auth = excluded.auth, subject = excluded.subject

-- name: find_token
SELECT token_hash, user, roles, created_at, revoked, expires_at, auth, subject FROM tokens WHERE token_hash = :token_hash

-- name: list_tokens
SELECT token_hash, user, roles, created_at, revoked, expires_at, auth, subject FROM tokens ORDER BY created_at, token_hash

-- name: insert_blob
INSERT INTO blobs (digest, size, media_type, created_at) VALUES (:digest, :size, :media_type, :created_at)
ON CONFLICT (digest) DO NOTHING

-- name: get_blob_info
SELECT digest, size, media_type, created_at FROM blobs WHERE digest = :digest

-- name: known_blobs
SELECT digest FROM blobs WHERE digest IN (SELECT value FROM json_each(:digests))

-- name: lease_state
-- The run's lease epoch and its lease row, judged alive by this database's clock (never a process's).
SELECT r.lease_epoch, l.owner, l.epoch, l.expires_at, l.acquired_at,
       COALESCE(l.expires_at > (julianday('now') - 2440587.5) * 86400.0, 0) AS alive,
       (julianday('now') - 2440587.5) * 86400.0 AS now
FROM runs AS r LEFT JOIN runs_lease AS l ON l.run_id = r.run_id
WHERE r.run_id = :run_id

-- name: put_lease
INSERT INTO runs_lease (run_id, owner, expires_at, acquired_at, epoch)
VALUES (:run_id, :owner, :expires_at, :acquired_at, :epoch)
ON CONFLICT (run_id) DO UPDATE SET
    owner = excluded.owner, expires_at = excluded.expires_at, acquired_at = excluded.acquired_at,
    epoch = excluded.epoch

-- name: set_lease_epoch
UPDATE runs SET lease_epoch = :epoch WHERE run_id = :run_id

-- name: renew_lease
-- Only a lease still alive is extended: a late renewal never revives it.
UPDATE runs_lease SET expires_at = (julianday('now') - 2440587.5) * 86400.0 + :ttl
WHERE run_id = :run_id AND owner = :owner AND (:epoch IS NULL OR epoch = :epoch)
  AND expires_at > (julianday('now') - 2440587.5) * 86400.0
RETURNING run_id

-- name: release_lease
DELETE FROM runs_lease WHERE run_id = :run_id AND owner = :owner

-- name: get_lease
SELECT run_id, owner, expires_at, epoch, acquired_at FROM runs_lease WHERE run_id = :run_id

-- name: find_orphan_run
-- SQLite has one writer at a time (BEGIN IMMEDIATE), so finding and taking an orphan cannot race.
SELECT run_id FROM runs_lease WHERE expires_at <= (julianday('now') - 2440587.5) * 86400.0
ORDER BY expires_at, run_id LIMIT 1

-- name: get_snapshot
-- The snapshot with whether the event it folded up to still has the hash it folded (0: discard it).
SELECT s.seq, s.head_hash, s.data, EXISTS (
    SELECT 1 FROM events e WHERE e.run_id = s.run_id AND e.seq = s.seq AND e.hash = s.head_hash
) FROM snapshots s WHERE s.run_id = :run_id AND s.kind = :kind

-- name: put_snapshot
INSERT INTO snapshots (run_id, kind, seq, head_hash, data) VALUES (:run_id, :kind, :seq, :head_hash, :data)
ON CONFLICT (run_id, kind) DO UPDATE SET seq = excluded.seq, head_hash = excluded.head_hash, data = excluded.data

-- name: drop_snapshot
DELETE FROM snapshots WHERE run_id = :run_id AND kind = :kind AND seq = :seq AND head_hash = :head_hash
