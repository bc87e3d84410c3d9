"""SQLite store behaviour beyond the contract: tampering, several processes, durability, files on disk."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from golive import exceptions, store
from golive.store import base, sqlfiles
from golive.store.base import NewEvent, RunRecord
from golive.store.sqlite import SqliteStore

RUN = "20260301-2200-cutover"
CHILD_TIMEOUT = 120.0  # seconds a child process may take before the test fails


def run_record(run_id: str = RUN) -> RunRecord:
    return RunRecord(run_id, "cutover", "cutover.yaml", "ab" * 32, "golive: 1\n", "live", "2026-03-01T22:00:00.000000Z")


async def make_run(path: Path, events: int) -> None:
    async with SqliteStore(path) as s:
        await s.create_run(run_record())
        for i in range(events):
            await s.append(RUN, NewEvent("tick", step_id=f"s{i}", data={"i": i}))


def raw(path: Path, *statements: str) -> None:
    """Edit the file behind the store's back, as an attacker with file access would (triggers dropped)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS events_no_update")
        conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


async def run_children(*argvs: list[str]) -> None:
    """Run ``python -c <code> args...`` children concurrently; each must exit 0 within the timeout."""
    children = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", *argv, stderr=subprocess.PIPE) for argv in argvs
    ]
    for child in children:
        try:
            _, err = await asyncio.wait_for(child.communicate(), CHILD_TIMEOUT)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        assert child.returncode == 0, err.decode()


# tampering -----------------------------------------------------------------------------------------------


async def test_edited_event_data_breaks_the_chain_at_that_seq(tmp_path: Path) -> None:
    db = tmp_path / "golive.db"
    await make_run(db, 5)
    raw(db, f"UPDATE events SET data = '{{\"i\":99}}' WHERE run_id = '{RUN}' AND seq = 3")
    async with SqliteStore(db) as s:
        with pytest.raises(exceptions.ChainBroken, match="event 3 ") as info:
            await s.verify(RUN)
    assert info.value.seq == 3


async def test_event_data_edited_into_invalid_json_breaks_the_chain_at_that_seq(tmp_path: Path) -> None:
    """Garbage in the data column is a broken chain (a StoreError), never a JSON traceback."""
    db = tmp_path / "golive.db"
    await make_run(db, 3)
    raw(db, f"UPDATE events SET data = '{{not json' WHERE run_id = '{RUN}' AND seq = 2")
    async with SqliteStore(db) as s:
        with pytest.raises(exceptions.ChainBroken) as info:
            await s.verify(RUN)
    assert info.value.seq == 2


async def test_deleted_middle_event_breaks_the_chain_at_that_seq(tmp_path: Path) -> None:
    db = tmp_path / "golive.db"
    await make_run(db, 5)
    raw(db, f"DELETE FROM events WHERE run_id = '{RUN}' AND seq = 2")
    async with SqliteStore(db) as s:
        with pytest.raises(exceptions.ChainBroken) as info:
            await s.verify(RUN)
    assert info.value.seq == 2


async def test_deleted_last_event_is_caught_by_the_run_head(tmp_path: Path) -> None:
    """Truncating the log keeps a valid-looking chain; the head recorded with each append catches it."""
    db = tmp_path / "golive.db"
    await make_run(db, 5)
    raw(db, f"DELETE FROM events WHERE run_id = '{RUN}' AND seq = 5")
    async with SqliteStore(db) as s:
        with pytest.raises(exceptions.ChainBroken, match="missing") as info:
            await s.verify(RUN)
        assert info.value.seq == 5
        with pytest.raises(exceptions.ChainBroken, match="refusing to append"):
            await s.append(RUN, NewEvent("after-truncation"))


async def test_verified_events_are_the_checked_log_and_refuse_a_truncated_one(tmp_path: Path) -> None:
    """verified_events (what the evidence pack packs) checks as verify does, head included, and returns the
    events it checked."""
    db = tmp_path / "golive.db"
    await make_run(db, 5)
    async with SqliteStore(db) as s:
        assert [ev.seq for ev in await s.verified_events(RUN)] == [1, 2, 3, 4, 5]
        assert await s.verified_events(RUN) == await s.events(RUN)
    raw(db, f"DELETE FROM events WHERE run_id = '{RUN}' AND seq = 5")
    async with SqliteStore(db) as s:
        with pytest.raises(exceptions.ChainBroken, match="missing") as info:
            await s.verified_events(RUN)
    assert info.value.seq == 5


async def test_events_refuse_update_and_delete_while_the_triggers_are_in_place(tmp_path: Path) -> None:
    """Accidental edits through SQL are refused; only deliberate ones (dropping triggers) get through."""
    db = tmp_path / "golive.db"
    await make_run(db, 1)
    conn = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE events SET actor = 'mallory'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events")
    finally:
        conn.close()


# several processes ---------------------------------------------------------------------------------------

CHILD_APPEND = textwrap.dedent(
    """
    import asyncio, sys
    from golive.store.sqlite import SqliteStore
    from golive.store.base import NewEvent

    async def main(path, who, count):
        async with SqliteStore(path) as s:
            async def one(i):
                return await s.append("{run}", NewEvent("tick", actor=who, data={{"i": i}}))
            for start in range(0, count, 10):
                await asyncio.gather(*(one(i) for i in range(start, min(count, start + 10))))

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
).format(run=RUN)


async def test_two_processes_appending_to_one_file_keep_seq_gap_free(tmp_path: Path) -> None:
    """Two processes append 300 events each, concurrently: seqs 1..600, each once, chain valid."""
    db = tmp_path / "golive.db"
    await make_run(db, 0)
    await run_children(*[[CHILD_APPEND, str(db), who, "300"] for who in ("proc-a", "proc-b")])
    async with SqliteStore(db) as s:
        evs = await s.events(RUN)
        assert [e.seq for e in evs] == list(range(1, 601))
        assert {e.actor for e in evs} == {"proc-a", "proc-b"}
        assert await s.verify(RUN) == 600


CHILD_DURABLE = textwrap.dedent(
    """
    import asyncio, sys, time
    from golive.store.sqlite import SqliteStore
    from golive.store.base import NewEvent

    async def main(path):
        s = SqliteStore(path)
        await s.open()
        ev = await s.append("{run}", NewEvent("action_started", step_id="flip-flag"))
        print(ev.seq, ev.hash, flush=True)
        time.sleep(600)  # the parent kills us here, before any close or checkpoint

    asyncio.run(main(sys.argv[1]))
    """
).format(run=RUN)


async def test_event_survives_sigkill_right_after_append_returns(tmp_path: Path) -> None:
    """Once append returns the event is committed: SIGKILL of the writer loses nothing."""
    db = tmp_path / "golive.db"
    await make_run(db, 2)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD_DURABLE, str(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), CHILD_TIMEOUT)
        os.kill(child.pid, signal.SIGKILL)  # no close, no checkpoint, no atexit
    finally:
        if child.returncode is None:
            child.kill()
        _, err = await asyncio.wait_for(child.communicate(), CHILD_TIMEOUT)
    assert child.returncode == -signal.SIGKILL, err.decode()
    seq, digest = line.decode().split()
    async with SqliteStore(db) as s:
        (ev,) = await s.events(RUN, after_seq=2)
        assert (ev.seq, ev.hash, ev.type) == (int(seq), digest, "action_started")
        assert await s.verify(RUN) == 3


# files, pragmas, schema ----------------------------------------------------------------------------------


async def test_database_is_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = tmp_path / "golive.db"
    await make_run(db, 0)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("PRAGMA foreign_keys=ON")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO events VALUES ('no-such-run', 1, 't', 'x', NULL, NULL, '{}', 'p', 'h')")
    finally:
        conn.close()


async def test_blob_is_a_file_beside_the_database_and_damage_is_detected(tmp_path: Path) -> None:
    db = tmp_path / "golive.db"
    async with SqliteStore(db) as s:
        digest = await s.put_blob(b"curl output: HTTP/1.1 200 OK", "text/plain")
        path = tmp_path / "blobs" / digest[:2] / digest[2:]
        assert path.read_bytes() == b"curl output: HTTP/1.1 200 OK"
        path.write_bytes(b"curl output: HTTP/1.1 500 NO")
        with pytest.raises(exceptions.StoreError, match="damaged"):
            await s.get_blob(digest)
        await s.put_blob(b"curl output: HTTP/1.1 200 OK", "text/plain")  # putting it again repairs it
        assert await s.get_blob(digest) == b"curl output: HTTP/1.1 200 OK"
        path.unlink()
        with pytest.raises(exceptions.StoreError, match="missing"):
            await s.get_blob(digest)


async def test_default_store_is_created_under_dot_golive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No URL and no GOLIVE_DATABASE_URL: .golive/golive.db in the working directory, made on open."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(store.ENV_VAR, raising=False)
    s = store.open_store()
    async with s:
        assert isinstance(s, SqliteStore)
    assert (tmp_path / ".golive" / "golive.db").is_file()


async def test_environment_variable_chooses_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(store.ENV_VAR, f"sqlite:///{tmp_path}/team/golive.db")
    async with store.open_store() as s:
        await s.create_run(run_record())
    assert (tmp_path / "team" / "golive.db").is_file()


async def test_schema_newer_than_this_golive_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "golive.db"
    await make_run(db, 0)
    newest = sqlfiles.load_migrations("sqlite")[-1].version
    raw(db, f"INSERT INTO schema_version VALUES ({newest + 1}, 'future', '2030-01-01T00:00:00.000000Z')")
    with pytest.raises(exceptions.StoreError, match="newer than this golive"):
        async with SqliteStore(db):
            pass


# The head's queries at schema version 5, when the head was kept in the runs row.
V5_HEAD_QUERIES = {
    "insert_head": "SELECT :run_id",
    "update_head": "UPDATE runs SET head_seq = :seq, head_hash = :hash WHERE run_id = :run_id",
    "run_head": "SELECT head_seq, head_hash FROM runs WHERE run_id = :run_id",
    "run_tail": "SELECT r.head_seq, r.head_hash, e.seq, e.hash, e.ts FROM runs AS r LEFT JOIN events AS e "
    "ON e.run_id = r.run_id AND e.seq = (SELECT MAX(seq) FROM events WHERE run_id = r.run_id) "
    "WHERE r.run_id = :run_id",
}


async def test_version_6_moves_each_run_head_out_of_the_runs_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written at version 5 (the head in the runs row) upgrades with every run's head in run_heads: the
    chain still verifies, appends go on from it, and a head moved back afterwards is still caught."""
    db = tmp_path / "golive.db"
    every = sqlfiles.load_migrations("sqlite")
    monkeypatch.setattr(sqlfiles, "load_migrations", lambda dialect: every[:5])
    async with SqliteStore(db) as s:  # version 5 and its queries: the head in the runs row
        s._sql = {**s._sql, **V5_HEAD_QUERIES}
        await s.create_run(run_record())
        for i in range(3):
            await s.append(RUN, NewEvent("tick", step_id=f"s{i}", data={"i": i}))
        assert await s.verify(RUN) == 3
    monkeypatch.undo()
    async with SqliteStore(db) as s:
        assert await s.schema_version() == 6
        assert await s.verify(RUN) == 3
        await s.append(RUN, NewEvent("tick"))
        assert await s.verify(RUN) == 4
    raw(db, f"UPDATE run_heads SET head_seq = 3 WHERE run_id = '{RUN}'")
    async with SqliteStore(db) as s:
        with pytest.raises(exceptions.ChainBroken):
            await s.verify(RUN)
    raw(db, f"DELETE FROM run_heads WHERE run_id = '{RUN}'")  # no head row reads as a run with no events
    async with SqliteStore(db) as s:
        with pytest.raises(exceptions.ChainBroken):
            await s.verify(RUN)
        with pytest.raises(exceptions.ChainBroken):
            await s.append(RUN, NewEvent("tick"))


async def test_open_without_migrate_leaves_an_empty_file_at_version_zero(tmp_path: Path) -> None:
    """`golive db upgrade` reads the version before migrating."""
    async with SqliteStore(tmp_path / "golive.db", migrate=False) as s:
        assert await s.schema_version() == 0
        assert await s.migrate() == sqlfiles.load_migrations("sqlite")[-1].version


async def test_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    """A path under a regular file cannot hold a database: one clear StoreError."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(exceptions.StoreError, match="store directory"):
        await SqliteStore(tmp_path / "file" / "golive.db").open()


async def test_concurrent_migrations_by_two_processes_apply_once(tmp_path: Path) -> None:
    """Two processes opening a new file at once both succeed; the version is recorded once."""
    db = tmp_path / "golive.db"
    code = "import asyncio,sys\nfrom golive.store.sqlite import SqliteStore\n" + (
        "async def m():\n    async with SqliteStore(sys.argv[1]):\n        pass\nasyncio.run(m())\n"
    )
    await run_children([code, str(db)], [code, str(db)])
    conn = sqlite3.connect(db)
    try:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version")]
    finally:
        conn.close()
    assert versions == [m.version for m in sqlfiles.load_migrations("sqlite")]


async def test_hash_of_stored_event_matches_the_shared_hash_function(tmp_path: Path) -> None:
    """The SQLite store seals events with base.event_hash (what `golive verify` recomputes)."""
    db = tmp_path / "golive.db"
    await make_run(db, 1)
    async with SqliteStore(db) as s:
        (ev,) = await s.events(RUN)
    assert ev.hash == base.event_hash(RUN, 1, ev.ts, "tick", "s0", None, {"i": 0}, base.GENESIS)
