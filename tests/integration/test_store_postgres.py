"""PostgreSQL store behaviour beyond the contract: tampering, many connections, SKIP LOCKED, NOTIFY."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator

import psycopg
import pytest

from golive import exceptions, store, testing
from golive.store.base import NewEvent, RunRecord
from golive.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

RUN = "20260301-2200-cutover"
DEADLINE = 30.0  # seconds any wait in these tests may take before the test fails
CHILD_TIMEOUT = 120.0  # seconds a child process may take


def run_record(run_id: str = RUN) -> RunRecord:
    return RunRecord(run_id, "cutover", "cutover.yaml", "ab" * 32, "golive: 1\n", "live", "2026-03-01T22:00:00.000000Z")


@pytest.fixture
def url(postgres_module_database: str) -> str:
    """The throwaway database, emptied: every test starts from no schema at all."""
    with psycopg.connect(postgres_module_database, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return postgres_module_database


@pytest.fixture
async def pg(url: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(url)
    async with s:
        await s.create_run(run_record())
        yield s


async def test_open_store_accepts_postgres_urls(url: str) -> None:
    """postgres://, postgresql:// and postgresql+psycopg:// all reach the same database."""
    rest = url.split("://", 1)[1]
    for scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        s = store.open_store(f"{scheme}://{rest}")
        assert isinstance(s, PostgresStore)
        async with s:
            assert await s.schema_version() >= 1


async def test_edited_event_breaks_the_chain_at_that_seq(pg: PostgresStore, url: str) -> None:
    for i in range(4):
        await pg.append(RUN, NewEvent("tick", data={"i": i}))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER events_no_update_or_delete ON events")
        conn.execute("UPDATE events SET actor = 'mallory' WHERE run_id = %s AND seq = 2", (RUN,))
    with pytest.raises(exceptions.ChainBroken) as info:
        await pg.verify(RUN)
    assert info.value.seq == 2


async def test_deleted_events_break_the_chain(pg: PostgresStore, url: str) -> None:
    """A deleted middle event is named by seq; a deleted last one is caught by the run's head."""
    for i in range(4):
        await pg.append(RUN, NewEvent("tick", data={"i": i}))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER events_no_update_or_delete ON events")
        conn.execute("DELETE FROM events WHERE run_id = %s AND seq = 4", (RUN,))
    with pytest.raises(exceptions.ChainBroken, match="missing"):
        await pg.verify(RUN)
    with pytest.raises(exceptions.ChainBroken, match="refusing to append"):
        await pg.append(RUN, NewEvent("after-truncation"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM events WHERE run_id = %s AND seq = 2", (RUN,))
    with pytest.raises(exceptions.ChainBroken) as info:
        await pg.verify(RUN)
    assert info.value.seq == 2


async def test_events_table_refuses_edits_while_the_triggers_are_in_place(pg: PostgresStore, url: str) -> None:
    await pg.append(RUN, NewEvent("tick"))
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE events SET actor = 'mallory'")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("TRUNCATE events")


async def test_appenders_on_separate_pools_keep_seq_gap_free(pg: PostgresStore, url: str) -> None:
    """Three store instances (three pools, as three processes would have) append at once: seqs 1..600."""
    others = [PostgresStore(url) for _ in range(2)]
    for other in others:
        await other.open()
    try:

        async def appender(s: PostgresStore, who: str) -> None:
            for _ in range(10):
                await asyncio.gather(*(s.append(RUN, NewEvent("tick", actor=who, data={"i": i})) for i in range(20)))

        await asyncio.gather(appender(pg, "a"), appender(others[0], "b"), appender(others[1], "c"))
    finally:
        for other in others:
            await other.close()
    assert [e.seq for e in await pg.events(RUN)] == list(range(1, 601))
    assert await pg.verify(RUN) == 600


CHILD_APPEND = textwrap.dedent(
    """
    import asyncio, sys
    from golive.store.postgres import PostgresStore
    from golive.store.base import NewEvent

    async def main(url, who):
        async with PostgresStore(url) as s:
            for start in range(0, 200, 10):
                await asyncio.gather(*(s.append("{run}", NewEvent("tick", actor=who)) for _ in range(10)))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
).format(run=RUN)


async def test_two_processes_appending_keep_seq_gap_free(pg: PostgresStore, url: str) -> None:
    children = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD_APPEND, url, who, stderr=subprocess.PIPE)
        for who in ("proc-a", "proc-b")
    ]
    for child in children:
        try:
            _, err = await asyncio.wait_for(child.communicate(), CHILD_TIMEOUT)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        assert child.returncode == 0, err.decode()
    assert [e.seq for e in await pg.events(RUN)] == list(range(1, 401))
    assert await pg.verify(RUN) == 400


async def test_concurrent_orphan_claims_each_get_a_different_run(url: str) -> None:
    """Five workers claim at once (SKIP LOCKED): three orphans go to three different workers."""
    clock = testing.FakeClock()
    stores = [PostgresStore(url, clock) for _ in range(5)]
    for s in stores:
        await s.open()
    try:
        for i in range(3):
            await stores[0].create_run(run_record(f"orphan-{i}"))
            assert await stores[0].acquire_lease(f"orphan-{i}", "dead-worker", ttl=0.3)
        await asyncio.sleep(0.4)  # leases expire by the database's clock
        claimed = await asyncio.gather(*(s.claim_orphan_run(f"worker-{n}", ttl=30) for n, s in enumerate(stores)))
    finally:
        for s in stores:
            await s.close()
    taken = [c.run_id for c in claimed if c is not None]
    assert sorted(taken) == ["orphan-0", "orphan-1", "orphan-2"]


async def test_follow_is_woken_by_notify_not_by_polling(pg: PostgresStore, url: str) -> None:
    """With an hour-long poll, only NOTIFY can deliver an event written through another instance."""
    seen: list[int] = []

    async def follow() -> None:
        async for ev in pg.follow(RUN, poll=3600):
            seen.append(ev.seq)
            return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0)
    async with PostgresStore(url) as writer:
        await asyncio.wait_for(pg._listening.wait(), DEADLINE)
        await writer.append(RUN, NewEvent("from-elsewhere"))
        await asyncio.wait_for(task, DEADLINE)
    assert seen == [1]


async def test_follow_recovers_when_the_listen_connection_is_killed(pg: PostgresStore, url: str) -> None:
    """A terminated LISTEN connection is re-established; events keep arriving."""
    seen: list[int] = []

    async def follow() -> None:
        async for ev in pg.follow(RUN, poll=0.2):
            seen.append(ev.seq)
            if ev.seq == 2:
                return

    task = asyncio.create_task(follow())
    await asyncio.wait_for(pg._listening.wait(), DEADLINE)
    with psycopg.connect(url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
        ).fetchall()
    assert killed == [(True,)]
    async with PostgresStore(url) as writer:
        await writer.append(RUN, NewEvent("one"))
        await writer.append(RUN, NewEvent("two"))
        await asyncio.wait_for(task, DEADLINE)
    assert seen == [1, 2]


async def test_unreachable_server_is_one_store_error_without_the_password() -> None:
    """A stopped server fails at once with the driver's reason; the password never shows."""
    with pytest.raises(exceptions.StoreError) as info:
        await PostgresStore("postgresql://golive:s3cret-pw@127.0.0.1:1/golive").open()
    assert "s3cret-pw" not in str(info.value)
    assert "***" in str(info.value)
    assert "\n" not in str(info.value)
