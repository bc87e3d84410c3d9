"""The driver in one process, on a real SQLite store: fencing stops the engine before a side effect, a
frozen owner loses the run, a failed engine is recorded and its run adopted by a server, not orphaned."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from golive import exceptions
from golive.engine import acts, driver, runner
from golive.server import runs as runs_mod
from golive.spec import loader
from golive.store import base as store_base
from golive.store import sqlite

TTL = 2.0  # seconds

RUNBOOK = """\
golive: 1
name: fenced
roles:
  ic: {may: [decide]}
  ops: {}
vars:
  dir: {required: true}
phases:
  - id: work
    steps:
      - {id: banner, kind: manual, role: ops, instructions: "Put up the banner."}
      - {id: migrate, kind: action, type: command, needs: [banner], with: {cwd: "${{ vars.dir }}", run: "echo migrate >> effects.log"}}
"""


@pytest.fixture
async def store(tmp_path: Path) -> sqlite.SqliteStore:
    s = sqlite.SqliteStore(tmp_path / "golive.db")
    await s.open()
    yield s  # type: ignore[misc]
    await s.close()


def load(tmp_path: Path) -> loader.LoadedRunbook:
    path = tmp_path / "fenced.yaml"
    path.write_text(RUNBOOK)
    return loader.load(path, var_overrides={"dir": str(tmp_path)})


async def until(pred: object, what: str, limit: float = 20.0) -> None:
    end = time.monotonic() + limit
    while not await pred():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_an_engine_fenced_out_never_runs_the_action_it_was_about_to_start(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """While the engine waits for a person, another process takes the run over. The confirmation lands (acts
    are not fenced), but the engine's action_started is refused: drive raises Fenced and the side effect
    never happens."""
    h = await runner.create_run(store, load(tmp_path), roles={"ops": "olga", "ic": "ian"})
    task = asyncio.create_task(driver.drive(h, runner.Engine(h, poll=0.02), owner="host:1:1:run", ttl=TTL))
    view = await acts.open_run(store, h.run_id)

    async def banner_waiting() -> bool:
        await view.refresh()
        return view.state.step("banner").status == "waiting"

    await until(banner_waiting, "the manual step to wait")
    taken = await store.take_over_lease(h.run_id, "host:2:2:resume", TTL)
    await acts.confirm(view, "banner", "olga")
    with pytest.raises(exceptions.Fenced, match="since epoch 2"):
        await asyncio.wait_for(task, 20)
    assert not (tmp_path / "effects.log").exists()
    types = [e.type for e in await store.events(h.run_id)]
    assert "action_started" not in types
    assert taken.epoch == 2


async def test_an_owner_frozen_past_its_lease_stops_at_its_next_append(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """Nobody took the run, but the owner did not renew within the TTL: it must not go on (its lease may be
    taken at any moment), and it says why."""
    h = await runner.create_run(store, load(tmp_path), roles={"ops": "olga"})
    own = driver.Ownership(store, h.run_id, "host:1:1:run", ttl=0.3)
    await own.acquire()
    await own.stop_heartbeat()  # as if the process were frozen
    h.ownership = own
    await asyncio.sleep(0.4)
    with pytest.raises(exceptions.Fenced, match="did not renew the lease"):
        await h.append("step_started", step_id="banner")
    assert await store.events(h.run_id, after_seq=h.state.last_seq) == []


async def test_a_live_local_owner_is_named_and_a_dead_one_is_taken_over_at_once(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    h = await runner.create_run(store, load(tmp_path))
    me = driver.process_owner("run")  # this test process: alive
    assert await store.acquire_lease(h.run_id, me, 60)
    with pytest.raises(driver.RunBusy, match=rf"golive run \(process {os.getpid()} on .*--take-over"):
        await driver.Ownership(store, h.run_id, driver.process_owner("resume"), 60).acquire()
    await store.release_lease(h.run_id, me)
    info = driver.parse_owner(me)
    assert info is not None
    gone = f"{info.host}:{2**22 + 17}:{info.start}:run"  # a pid above the kernel's limit: no such process
    assert driver.local_owner_alive(gone) is False
    reused = f"{info.host}:{os.getpid()}:1:run"  # this pid, another start time: the pid was reused
    assert driver.local_owner_alive(reused) is False
    assert await store.acquire_lease(h.run_id, gone, 60)
    own = driver.Ownership(store, h.run_id, driver.process_owner("resume"), 60)
    lease = await own.acquire()
    await own.stop_heartbeat()
    assert lease.epoch == 3


class FailingOnce(sqlite.SqliteStore):
    """A store whose engine appends fail once, at the first action_started (the database went away)."""

    failed = False

    async def append_many(
        self,
        run_id: str,
        events: list[store_base.NewEvent],
        *,
        fence: store_base.Fence | None = None,
        expect_seq: int | None = None,
    ) -> list[store_base.Event]:
        if not self.failed and any(e.type == "action_started" for e in events):
            self.failed = True
            raise exceptions.StoreError("PostgreSQL store: append failed: server closed the connection")
        return await super().append_many(run_id, events, fence=fence, expect_seq=expect_seq)


async def test_a_server_engine_that_fails_is_recorded_and_its_run_adopted_not_orphaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `golive serve` an engine that fails records engine_stopped (shown in the summary) and keeps its
    lease; once that expires, a server adopts the run and finishes it. Never RUNNING with nobody driving it."""
    monkeypatch.setenv("GOLIVE_LEASE_TTL", "1")
    monkeypatch.setattr(runs_mod, "ORPHAN_POLL", 0.2)
    books = tmp_path / "books"
    books.mkdir()
    (books / "fenced.yaml").write_text(RUNBOOK)
    store = FailingOnce(tmp_path / "golive.db")
    await store.open()
    first = runs_mod.RunService(store, books)
    first.owner = "host:1:1:serve"
    second = runs_mod.RunService(store, books)
    second.owner = "host:2:2:serve"
    adopt: asyncio.Task[None] | None = None
    try:
        rid = await first.start(
            "fenced.yaml", mode="live", vars_={"dir": str(tmp_path)}, roles={"ops": "olga"}, run_id=None, actor="ian"
        )
        view = await acts.open_run(store, rid)

        async def banner_waiting() -> bool:
            await view.refresh()
            return view.state.step("banner").status == "waiting"

        await until(banner_waiting, "the manual step to wait")
        await acts.confirm(view, "banner", "olga")

        async def stopped() -> bool:
            return not first.engine_running(rid)

        await until(stopped, "the first server's engine to stop")
        data, _ = await first.summary(rid)
        assert data["status"] == "running"
        assert data["engine"]["stopped"]["reason"].endswith("server closed the connection")
        lease = await store.get_lease(rid)
        assert lease is not None
        assert lease.owner == "host:1:1:serve"  # kept until it expires, so that someone adopts the run

        adopt = asyncio.create_task(second.adopt_orphans())

        async def passed() -> bool:
            await view.refresh()
            return view.state.status.value == "passed"

        await until(passed, "the second server to adopt and finish the run")
        assert (tmp_path / "effects.log").read_text() == "migrate\n"
        started = [e.data["owner"] for e in await store.events(rid) if e.type == "engine_started"]
        assert started == ["host:1:1:serve", "host:2:2:serve"]
    finally:
        if adopt is not None:
            adopt.cancel()
        await first.close()
        await second.close()
        await store.close()


async def test_after_driving_to_the_end_the_handle_writes_unfenced_again(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """Once the run ended and the lease is released, later writes through the same handle (hypercare after
    the cutover, an act) are not refused for a lease nobody renews any more."""
    h = await runner.create_run(store, load(tmp_path), roles={"ops": "olga"})
    task = asyncio.create_task(driver.drive(h, runner.Engine(h, poll=0.02), owner="host:1:1:run", ttl=0.5))
    view = await acts.open_run(store, h.run_id)

    async def banner_waiting() -> bool:
        await view.refresh()
        return view.state.step("banner").status == "waiting"

    await until(banner_waiting, "the manual step to wait")
    await acts.confirm(view, "banner", "olga")
    status = await asyncio.wait_for(task, 20)
    assert status.value == "passed"
    assert await store.get_lease(h.run_id) is None
    await asyncio.sleep(0.6)  # longer than the TTL of the lease it held
    ev = await h.append("hypercare_check", step_id="banner", slot="t1", outcome="pass")
    assert ev.type == "hypercare_check"
