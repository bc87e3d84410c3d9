"""The store contract: every behaviour the engine relies on, checked on InMemory, SQLite and PostgreSQL.

PostgreSQL runs in a throwaway database made for this session (unique name, dropped after); each test
starts from an empty schema, so every test also covers migrating from nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from golive import exceptions, testing
from golive.store import base, memory, sqlfiles
from golive.store.base import NewEvent, RunRecord, Store, TokenRecord
from golive.store.postgres import PostgresStore
from golive.store.sqlite import SqliteStore

LATEST_VERSION = sqlfiles.load_migrations("sqlite")[-1].version
FOLLOW_DEADLINE = 30.0  # seconds a follow test waits before failing (never reached when it works)

MakeStore = Callable[[], Awaitable[Store]]


def _reset_schema(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def clock() -> testing.FakeClock:
    return testing.FakeClock(datetime(2026, 3, 1, 22, 0, tzinfo=UTC))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def make_store(
    request: pytest.FixtureRequest, tmp_path: object, clock: testing.FakeClock
) -> AsyncIterator[MakeStore]:
    """Opens stores on one backend location; each call is a new instance, like another process would
    have (InMemory has no second instance to offer: it hands back the same one)."""
    opened: list[Store] = []
    in_memory = memory.InMemoryStore(clock)
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_session_database")
        _reset_schema(url)

    async def make() -> Store:
        store: Store
        if request.param == "memory":
            store = in_memory
        elif request.param == "sqlite":
            store = SqliteStore(f"{tmp_path}/db/golive.db", clock)
        else:
            store = PostgresStore(url, clock)
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in reversed(opened):
        await store.close()


@pytest.fixture
async def store(make_store: MakeStore) -> Store:
    return await make_store()


def run_record(run_id: str = "20260301-2200-cutover", created_at: str = "2026-03-01T22:00:00.000000Z") -> RunRecord:
    return RunRecord(
        run_id=run_id,
        runbook_name="payments-cutover",
        runbook_path="examples/payments.yaml",
        runbook_digest="ab" * 32,
        runbook_text="golive: 1\nname: payments-cutover\n",
        mode="rehearsal",
        created_at=created_at,
        params={"vars": {"region": "eu-west-1"}, "roles": {"ic": "dana"}},
    )


# events --------------------------------------------------------------------------------------------------


async def test_append_assigns_gap_free_seq_and_chains_hashes(store: Store) -> None:
    """Seqs are 1, 2, 3; each prev_hash is the previous event's hash, the first one GENESIS."""
    await store.create_run(run_record())
    evs = [await store.append("20260301-2200-cutover", NewEvent(f"e{i}")) for i in range(3)]
    assert [e.seq for e in evs] == [1, 2, 3]
    assert evs[0].prev_hash == base.GENESIS
    assert [e.prev_hash for e in evs[1:]] == [e.hash for e in evs[:-1]]
    assert all(e.hash == e.computed_hash() for e in evs)


async def test_append_returns_what_events_reads_back(store: Store) -> None:
    """The appended Event equals the stored one: data normalised as JSON reads it (tuples become lists)."""
    await store.create_run(run_record())
    appended = await store.append(
        "20260301-2200-cutover",
        NewEvent(
            "step_finished",
            step_id="canary",
            actor="dana",
            data={"outcome": "pass", "latency_ms": [12, 14.5], "pair": (1, 2), "note": "Zürich → ok"},
        ),
    )
    (stored,) = await store.events("20260301-2200-cutover")
    assert stored == appended
    assert stored.data["pair"] == [1, 2]
    assert stored.data["note"] == "Zürich → ok"


async def test_event_ts_comes_from_the_store_clock_unless_given(store: Store, clock: testing.FakeClock) -> None:
    """Without ts the store's clock stamps the event; a given aware ts is kept."""
    await store.create_run(run_record())
    first = await store.append("20260301-2200-cutover", NewEvent("a"))
    given = datetime(2026, 3, 1, 23, 30, 5, 123456, tzinfo=UTC)
    second = await store.append("20260301-2200-cutover", NewEvent("b", ts=given))
    assert first.ts == "2026-03-01T22:00:00.000000Z"
    assert second.ts == "2026-03-01T23:30:05.123456Z"


async def test_naive_timestamp_is_refused(store: Store) -> None:
    """A ts without a timezone is ambiguous: refused with a UsageError, nothing stored."""
    await store.create_run(run_record())
    with pytest.raises(exceptions.UsageError, match="no timezone"):
        await store.append("20260301-2200-cutover", NewEvent("a", ts=datetime(2026, 3, 1, 22, 0)))
    assert await store.events("20260301-2200-cutover") == []


async def test_append_to_unknown_run_is_not_found(store: Store) -> None:
    """Events belong to a run that exists."""
    with pytest.raises(exceptions.NotFound, match="nope"):
        await store.append("nope", NewEvent("a"))


async def test_events_after_seq_and_limit(store: Store) -> None:
    """events(after_seq, limit) returns the events with seq > after_seq, in order, at most limit."""
    await store.create_run(run_record())
    for i in range(6):
        await store.append("20260301-2200-cutover", NewEvent("tick", data={"i": i}))
    assert [e.seq for e in await store.events("20260301-2200-cutover", after_seq=3)] == [4, 5, 6]
    assert [e.seq for e in await store.events("20260301-2200-cutover", after_seq=1, limit=2)] == [2, 3]
    assert await store.events("20260301-2200-cutover", after_seq=6) == []
    assert await store.last_seq("20260301-2200-cutover") == 6


async def test_append_many_is_consecutive_and_atomic(store: Store) -> None:
    """append_many stores all events with consecutive seqs, or none when one is invalid."""
    await store.create_run(run_record())
    evs = await store.append_many(
        "20260301-2200-cutover", [NewEvent("action_started", step_id="deploy"), NewEvent("note")]
    )
    assert [e.seq for e in evs] == [1, 2]
    with pytest.raises(exceptions.UsageError):
        await store.append_many("20260301-2200-cutover", [NewEvent("ok"), NewEvent("bad", ts=datetime(2026, 1, 1))])
    assert [e.seq for e in await store.events("20260301-2200-cutover")] == [1, 2]


async def test_events_of_two_runs_have_their_own_seqs(store: Store) -> None:
    """Seq is per run."""
    await store.create_run(run_record("run-a"))
    await store.create_run(run_record("run-b"))
    await store.append("run-a", NewEvent("x"))
    b = await store.append("run-b", NewEvent("x"))
    a = await store.append("run-a", NewEvent("x"))
    assert (a.seq, b.seq) == (2, 1)
    assert await store.verify("run-a") == 2
    assert await store.verify("run-b") == 1


async def test_concurrent_appenders_get_gap_free_seqs_and_a_valid_chain(store: Store) -> None:
    """50 tasks appending at once: every seq from 1 to 1000 exactly once, and the chain verifies."""
    await store.create_run(run_record())

    async def appender(i: int) -> list[int]:
        return [
            (await store.append("20260301-2200-cutover", NewEvent("tick", step_id=f"s{i}", data={"n": n}))).seq
            for n in range(20)
        ]

    seqs = [s for batch in await asyncio.gather(*(appender(i) for i in range(50))) for s in batch]
    assert sorted(seqs) == list(range(1, 1001))
    assert await store.verify("20260301-2200-cutover") == 1000


async def test_verify_counts_the_events_of_a_run(store: Store) -> None:
    """verify returns the number of events of an intact run; 0 for a run without events."""
    await store.create_run(run_record())
    assert await store.verify("20260301-2200-cutover") == 0
    for _ in range(4):
        await store.append("20260301-2200-cutover", NewEvent("x"))
    assert await store.verify("20260301-2200-cutover") == 4


async def test_verify_of_unknown_run_is_not_found(store: Store) -> None:
    with pytest.raises(exceptions.NotFound):
        await store.verify("nope")


async def test_follow_sees_events_appended_by_another_instance(make_store: MakeStore) -> None:
    """A follower yields events written through a second store instance (another connection)."""
    follower_store = await make_store()
    writer_store = await make_store()
    await writer_store.create_run(run_record())
    await writer_store.append("20260301-2200-cutover", NewEvent("before"))
    seen: list[int] = []

    async def follow() -> None:
        async for ev in follower_store.follow("20260301-2200-cutover", after_seq=0, poll=0.05):
            seen.append(ev.seq)
            if ev.seq == 3:
                return

    task = asyncio.create_task(follow())
    await writer_store.append("20260301-2200-cutover", NewEvent("during"))
    await writer_store.append("20260301-2200-cutover", NewEvent("during"))
    await asyncio.wait_for(task, FOLLOW_DEADLINE)
    assert seen == [1, 2, 3]


async def test_follow_passes_over_what_the_caller_already_has(make_store: MakeStore) -> None:
    """``known`` (the seq up to which the caller applied the log, its own appends) is passed over; everything
    after it is yielded in order, another instance's appends among them, none left out."""
    follower_store = await make_store()
    writer_store = await make_store()
    run_id = "20260301-2200-cutover"
    await writer_store.create_run(run_record())
    applied = [0]  # the seq up to which the following "handle" has the log
    evs = await follower_store.append_many(run_id, [NewEvent("own"), NewEvent("own")])
    applied[0] = evs[-1].seq
    seen: list[tuple[int, str]] = []

    def known() -> int:
        return applied[0]

    async def follow() -> None:
        async for ev in follower_store.follow(run_id, after_seq=0, poll=0.05, known=known):
            seen.append((ev.seq, ev.type))
            applied[0] = max(applied[0], ev.seq)
            if ev.seq == 6:
                return

    task = asyncio.create_task(follow())
    await writer_store.append(run_id, NewEvent("other"))  # seq 3: not known, yielded
    while applied[0] < 3:
        await asyncio.sleep(0.01)
        assert not task.done()
    applied[0] = 5  # seqs 4-5: known before the follower could read them (a handle applies its own at once)
    await follower_store.append_many(run_id, [NewEvent("own"), NewEvent("own")])
    await writer_store.append(run_id, NewEvent("other"))  # seq 6
    await asyncio.wait_for(task, FOLLOW_DEADLINE)
    assert seen == [(3, "other"), (6, "other")]


async def test_a_follower_cancelled_as_an_append_wakes_it_stops(store: Store) -> None:
    """Cancelling a follower stops it even when the cancellation arrives with the wake of an append in this
    process (the engine cancels its follower as it records the run's end): on Python 3.11 ``asyncio.wait_for``
    returned the wake and dropped the cancellation, so the follower ran on and whoever awaited it hung."""
    await store.create_run(run_record())
    await store.append("20260301-2200-cutover", NewEvent("before"))

    async def follow() -> None:
        async for _ in store.follow("20260301-2200-cutover", after_seq=0, poll=0.05):
            pass

    for _ in range(5):  # each round: the follower waits, then an append wakes it as it is cancelled
        task = asyncio.create_task(follow())
        await asyncio.sleep(0.1)  # it reads what is there, then waits for the next append
        await store.append("20260301-2200-cutover", NewEvent("during"))
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=FOLLOW_DEADLINE)
        assert done == {task}, "the cancelled follower went on following"
        assert task.cancelled()


# runs ----------------------------------------------------------------------------------------------------


async def test_run_round_trips(store: Store) -> None:
    """get_run returns exactly the record created."""
    await store.create_run(run_record())
    assert await store.get_run("20260301-2200-cutover") == run_record()


async def test_create_run_twice_is_refused(store: Store) -> None:
    await store.create_run(run_record())
    with pytest.raises(exceptions.StoreError, match="already exists"):
        await store.create_run(run_record())


async def test_get_run_accepts_a_unique_prefix(store: Store) -> None:
    await store.create_run(run_record("7f3a9c-cutover"))
    await store.create_run(run_record("81aa00-cutover"))
    assert (await store.get_run("7f3")).run_id == "7f3a9c-cutover"


async def test_get_run_with_an_ambiguous_prefix_names_the_candidates(store: Store) -> None:
    await store.create_run(run_record("7f3a9c-cutover"))
    await store.create_run(run_record("7f3b00-cutover"))
    with pytest.raises(exceptions.UsageError, match="7f3a9c-cutover, 7f3b00-cutover"):
        await store.get_run("7f3")


async def test_get_run_exact_id_wins_over_longer_ids_sharing_it(store: Store) -> None:
    await store.create_run(run_record("run-1"))
    await store.create_run(run_record("run-10"))
    assert (await store.get_run("run-1")).run_id == "run-1"


async def test_get_run_unknown_is_not_found(store: Store) -> None:
    await store.create_run(run_record("7f3a9c-cutover"))
    with pytest.raises(exceptions.NotFound, match="zzz"):
        await store.get_run("zzz")


async def test_list_runs_newest_first_with_limit(store: Store) -> None:
    await store.create_run(run_record("old", "2026-03-01T10:00:00.000000Z"))
    await store.create_run(run_record("new", "2026-03-02T10:00:00.000000Z"))
    await store.create_run(run_record("mid", "2026-03-01T12:00:00.000000Z"))
    assert [r.run_id for r in await store.list_runs()] == ["new", "mid", "old"]
    assert [r.run_id for r in await store.list_runs(limit=2)] == ["new", "mid"]


# blobs ---------------------------------------------------------------------------------------------------


async def test_blob_round_trip_is_content_addressed_and_idempotent(store: Store) -> None:
    payload = b"\x00\x01 smoke test output \xff" * 100
    digest = await store.put_blob(payload, "text/plain")
    assert digest == hashlib.sha256(payload).hexdigest()
    assert await store.put_blob(payload, "text/plain") == digest
    assert await store.get_blob(digest) == payload
    info = await store.blob_info(digest)
    assert (info.size, info.media_type) == (len(payload), "text/plain")


async def test_missing_blob_is_not_found(store: Store) -> None:
    with pytest.raises(exceptions.NotFound):
        await store.get_blob("0" * 64)


async def test_malformed_digest_is_refused_before_any_lookup(store: Store) -> None:
    """A digest names a file: '../x' and other non-hex strings are refused."""
    with pytest.raises(exceptions.UsageError, match="sha256"):
        await store.get_blob("../../etc/passwd")


# tokens --------------------------------------------------------------------------------------------------


async def test_tokens_put_find_list_and_revoke(store: Store) -> None:
    token = TokenRecord("c" * 64, "dana", ("ic", "scribe"), "2026-03-01T21:00:00.000000Z")
    await store.put_token(token)
    assert await store.find_token("c" * 64) == token
    assert await store.find_token("d" * 64) is None
    assert await store.list_tokens() == [token]
    assert await store.revoke_token("c" * 64) is True
    found = await store.find_token("c" * 64)
    assert found is not None
    assert found.revoked
    assert await store.revoke_token("d" * 64) is False


# schema --------------------------------------------------------------------------------------------------


async def test_open_migrates_to_the_newest_version_and_reopen_keeps_data(make_store: MakeStore) -> None:
    """A fresh store is at the newest schema version; opening it again changes nothing."""
    first = await make_store()
    assert await first.schema_version() == LATEST_VERSION
    await first.create_run(run_record())
    await first.append("20260301-2200-cutover", NewEvent("x"))
    await first.close()
    again = await make_store()
    assert await again.schema_version() == LATEST_VERSION
    assert await again.migrate() == LATEST_VERSION
    assert await again.verify("20260301-2200-cutover") == 1


async def test_closed_store_refuses_work(make_store: MakeStore) -> None:
    store = await make_store()
    await store.close()
    with pytest.raises(exceptions.StoreError, match="not open"):
        await store.append("x", NewEvent("x"))


# leases --------------------------------------------------------------------------------------------------


async def pass_lease_time(store: Store, clock: testing.FakeClock, seconds: float) -> None:
    """Let lease time pass. Leases expire by the database's clock: the in-memory store's is its injected
    clock; SQLite's and PostgreSQL's are their own, so real (short) time passes for them."""
    if isinstance(store, testing.InMemoryStore):
        clock.advance(seconds)
    else:
        await asyncio.sleep(seconds)


async def test_lease_is_exclusive_until_it_expires(store: Store, clock: testing.FakeClock) -> None:
    await store.create_run(run_record())
    run_id = "20260301-2200-cutover"
    assert await store.acquire_lease(run_id, "worker-a", ttl=0.4)
    assert not await store.acquire_lease(run_id, "worker-b", ttl=30)
    assert await store.acquire_lease(run_id, "worker-a", ttl=0.4)  # re-acquiring your own lease is fine
    await pass_lease_time(store, clock, 0.5)
    assert await store.acquire_lease(run_id, "worker-b", ttl=30)
    lease = await store.get_lease(run_id)
    assert lease is not None
    assert lease.owner == "worker-b"


async def test_renew_extends_only_the_owners_lease(store: Store, clock: testing.FakeClock) -> None:
    await store.create_run(run_record())
    run_id = "20260301-2200-cutover"
    await store.acquire_lease(run_id, "worker-a", ttl=1.5)
    await pass_lease_time(store, clock, 1.0)
    assert await store.renew_lease(run_id, "worker-a", ttl=1.5)
    assert not await store.renew_lease(run_id, "worker-b", ttl=1.5)
    await pass_lease_time(store, clock, 1.0)  # 2 s after acquiring, 1 s after renewing: still held
    assert not await store.acquire_lease(run_id, "worker-b", ttl=30)


async def test_late_renewal_never_revives_a_lease(store: Store, clock: testing.FakeClock) -> None:
    """An owner whose renewal comes after its lease expired has lost the run, even if nobody took it."""
    await store.create_run(run_record())
    run_id = "20260301-2200-cutover"
    lease = await store.acquire_lease(run_id, "worker-a", ttl=0.3)
    assert lease is not None
    await pass_lease_time(store, clock, 0.4)
    assert not await store.renew_lease(run_id, "worker-a", ttl=30, epoch=lease.epoch)


async def test_claim_orphan_run_takes_only_expired_leases(store: Store, clock: testing.FakeClock) -> None:
    await store.create_run(run_record("run-a"))
    await store.create_run(run_record("run-b"))
    await store.acquire_lease("run-a", "dead-worker", ttl=0.3)
    await store.acquire_lease("run-b", "live-worker", ttl=60)
    assert await store.claim_orphan_run("rescuer", ttl=30) is None
    await pass_lease_time(store, clock, 0.4)
    claimed = await store.claim_orphan_run("rescuer", ttl=30)
    assert claimed is not None
    assert (claimed.run_id, claimed.owner, claimed.epoch) == ("run-a", "rescuer", 2)
    assert await store.claim_orphan_run("rescuer-2", ttl=30) is None  # run-a is held again, run-b alive
    lease = await store.get_lease("run-a")
    assert lease is not None
    assert lease.owner == "rescuer"


async def test_released_lease_is_nobodys_orphan(store: Store, clock: testing.FakeClock) -> None:
    """A finished run releases its lease and is then never claimed as an orphan."""
    await store.create_run(run_record())
    await store.acquire_lease("20260301-2200-cutover", "worker-a", ttl=0.3)
    await store.release_lease("20260301-2200-cutover", "worker-b")  # not the owner: no effect
    assert await store.get_lease("20260301-2200-cutover") is not None
    await store.release_lease("20260301-2200-cutover", "worker-a")
    await pass_lease_time(store, clock, 0.4)
    assert await store.get_lease("20260301-2200-cutover") is None
    assert await store.claim_orphan_run("rescuer", ttl=30) is None


async def test_epoch_rises_at_every_change_of_owner_and_never_goes_back(store: Store) -> None:
    await store.create_run(run_record())
    run_id = "20260301-2200-cutover"
    first = await store.acquire_lease(run_id, "worker-a", ttl=30)
    again = await store.acquire_lease(run_id, "worker-a", ttl=30)
    assert first is not None
    assert again is not None
    assert again.epoch == first.epoch  # the same owner keeps its epoch
    taken = await store.take_over_lease(run_id, "operator", ttl=30)
    assert taken.epoch == first.epoch + 1
    await store.release_lease(run_id, "operator")
    after_release = await store.acquire_lease(run_id, "worker-b", ttl=30)
    assert after_release is not None
    assert after_release.epoch == taken.epoch + 1  # a release does not reset the epoch


async def test_fenced_append_is_refused_once_the_run_changed_owner(store: Store) -> None:
    """The old owner's append is refused in the append's own transaction, and nothing of it is stored."""
    await store.create_run(run_record())
    run_id = "20260301-2200-cutover"
    old = await store.acquire_lease(run_id, "worker-a", ttl=30)
    assert old is not None
    await store.append(run_id, NewEvent("step_started", step_id="a01"), fence=old.fence)
    new = await store.take_over_lease(run_id, "worker-b", ttl=30)
    with pytest.raises(exceptions.Fenced, match="worker-b owns the run since epoch 2"):
        await store.append_many(run_id, [NewEvent("action_started", step_id="a02")], fence=old.fence)
    assert [e.type for e in await store.events(run_id)] == ["step_started"]
    await store.append(run_id, NewEvent("action_started", step_id="a02"), fence=new.fence)
    assert await store.verify(run_id) == 2


async def test_fenced_append_is_refused_once_the_lease_expired(store: Store, clock: testing.FakeClock) -> None:
    await store.create_run(run_record())
    run_id = "20260301-2200-cutover"
    lease = await store.acquire_lease(run_id, "worker-a", ttl=0.3)
    assert lease is not None
    await pass_lease_time(store, clock, 0.4)
    with pytest.raises(exceptions.Fenced, match="has expired"):
        await store.append(run_id, NewEvent("action_started", step_id="a02"), fence=lease.fence)
    assert await store.events(run_id) == []


async def test_lease_expiry_ignores_the_process_clock(make_store: MakeStore, clock: testing.FakeClock) -> None:
    """SQLite and PostgreSQL judge a lease by the database's clock: a process whose clock runs an hour
    ahead (or behind) neither takes a healthy run nor sees its own lease as expired."""
    store = await make_store()
    if isinstance(store, testing.InMemoryStore):
        pytest.skip("the in-memory store's clock is its database clock")
    await store.create_run(run_record())
    run_id = "20260301-2200-cutover"
    lease = await store.acquire_lease(run_id, "healthy", ttl=30)
    assert lease is not None
    for skew in (3600, -7200):
        clock.advance(skew)
        assert await store.acquire_lease(run_id, "skewed", ttl=30) is None
        assert await store.claim_orphan_run("skewed", ttl=30) is None
        assert await store.renew_lease(run_id, "healthy", ttl=30, epoch=lease.epoch)
        await store.append(run_id, NewEvent("step_started"), fence=lease.fence)
    current = await store.get_lease(run_id)
    assert current is not None
    assert (current.owner, current.epoch) == ("healthy", lease.epoch)


async def test_compare_and_append_refuses_a_moved_head(make_store: MakeStore) -> None:
    """Two writers that read the same head: the first lands, the second is told the head moved."""
    one, two = await make_store(), await make_store()
    await one.create_run(run_record())
    run_id = "20260301-2200-cutover"
    await one.append(run_id, NewEvent("step_waiting", step_id="go"))
    first = await one.append_many(run_id, [NewEvent("decision_recorded", step_id="go")], expect_seq=1)
    assert first[0].seq == 2
    with pytest.raises(exceptions.HeadMoved):
        await two.append(run_id, NewEvent("decision_recorded", step_id="go"), expect_seq=1)
    assert [e.type for e in await two.events(run_id)] == ["step_waiting", "decision_recorded"]


async def test_timestamps_never_run_backwards_along_the_seqs(make_store: MakeStore) -> None:
    """A process whose clock is behind the previous writer's stamps its event no earlier than that event:
    timestamps are assigned under the append's lock and checked against the run's last one."""
    ahead, behind = await make_store(), await make_store()
    if ahead is behind:
        pytest.skip("one in-memory store has one clock")
    ahead.clock = testing.FakeClock(datetime(2026, 3, 1, 22, 0, 5, tzinfo=UTC))
    behind.clock = testing.FakeClock(datetime(2026, 3, 1, 22, 0, 0, tzinfo=UTC))
    await ahead.create_run(run_record())
    run_id = "20260301-2200-cutover"
    await ahead.append(run_id, NewEvent("step_started"))
    await behind.append_many(run_id, [NewEvent("step_finished"), NewEvent("phase_finished")])
    assert [e.ts for e in await behind.events(run_id)] == ["2026-03-01T22:00:05.000000Z"] * 3


async def test_lease_on_unknown_run_is_not_found(store: Store) -> None:
    with pytest.raises(exceptions.NotFound):
        await store.acquire_lease("nope", "worker-a", ttl=10)


# shape ---------------------------------------------------------------------------------------------------


async def test_event_timestamps_advance_with_the_clock(store: Store, clock: testing.FakeClock) -> None:
    """Timestamps are the clock's at append time (UTC, microseconds, Z)."""
    await store.create_run(run_record())
    await store.append("20260301-2200-cutover", NewEvent("a"))
    clock.advance(timedelta(minutes=5).total_seconds())
    ev = await store.append("20260301-2200-cutover", NewEvent("b"))
    assert ev.ts == "2026-03-01T22:05:00.000000Z"
