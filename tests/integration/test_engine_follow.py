"""The engine learns of acts from other processes through ``store.follow`` (PostgreSQL: LISTEN/NOTIFY; SQLite:
its follow's bounded polling), not through its waits' ticks.

The engine waits on a manual step with a poll of an hour of run time: a wait that only woke on its tick would
sleep for that hour. Another process (a Python interpreter of its own, as ``golive confirm`` in another
terminal) confirms the step in the same store; the engine applies it, finishes the run, and the second
person's act is in the log as theirs.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from golive.engine import runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import open_store

RUNBOOK = """
golive: 1
name: follow
roles:
  dbo: {description: database owner}
phases:
  - id: cutover
    steps:
      - {id: snapshot, kind: manual, role: dbo, instructions: "Take the snapshot"}
      - {id: after, kind: check, type: command, needs: [snapshot], with: {run: "true"}}
"""

CONFIRM = """
import asyncio, sys
from golive.engine import acts
from golive.store import open_store

async def main() -> None:
    async with open_store(sys.argv[1]) as store:
        h = await acts.open_run(store, sys.argv[2])
        await acts.confirm(h, "snapshot", "dana", reason="snapshot snap-42 taken")

asyncio.run(main())
"""

HOUR = 3600.0  # the waits' tick: longer than the test's limit, so only the follower can wake the wait
LIMIT = 60.0  # seconds the whole exchange may take before the test fails


async def _confirmed_by_another_process(url: str, tmp_path: Path) -> None:
    book = tmp_path / "follow.yaml"
    book.write_text(RUNBOOK, encoding="utf-8")
    async with open_store(url) as store:
        handle = await runner.create_run(store, loader.load(book, environ={}), roles={"dbo": "dana"})
        engine = runner.Engine(handle, poll=HOUR)
        task = asyncio.create_task(engine.run())
        while handle.state.step("snapshot").status != "waiting":
            assert not task.done(), task.result()
            await asyncio.sleep(0.01)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", CONFIRM, url, handle.run_id)
        assert await asyncio.wait_for(proc.wait(), LIMIT) == 0
        status = await asyncio.wait_for(task, LIMIT)
        assert status is RunStatus.PASSED
        confirmed = [e for e in await store.events(handle.run_id) if e.type == "step_confirmed"]
        assert [(e.step_id, e.actor) for e in confirmed] == [("snapshot", "dana")]
        assert handle.state.step("after").outcome is not None
        assert handle.state.step("after").outcome.value == "pass"


async def test_an_act_from_another_process_wakes_the_engine_on_sqlite(tmp_path: Path) -> None:
    await _confirmed_by_another_process(f"sqlite:///{tmp_path / 'golive.db'}", tmp_path)


@pytest.mark.postgres
async def test_an_act_from_another_process_wakes_the_engine_on_postgresql(
    postgres_database: str, tmp_path: Path
) -> None:
    await _confirmed_by_another_process(postgres_database, tmp_path)
