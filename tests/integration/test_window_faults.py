"""A phase due after its window closed (FakeClock, real SQLite): nothing of it runs before the IC answered.

The window of a phase says when its steps may run. A phase that becomes due after its ``not_after`` is not
started quietly (a quick action would be done before anyone looked): the IC is asked at once, with the
window's deadline and default, and the phase starts only on ``continue`` (an answer or the default); a
``rollback`` answer rolls back without running it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from golive.engine import acts
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock, RunningEngine, start_engine

from .conftest import sqlite_on_fake_clock

WAIT_LIMIT = 30.0  # seconds (real) a run may take before the test fails
T0 = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)

LATE = """\
golive: 1
name: late-phase
t0: "2026-03-07T02:00:00Z"
comms: {cadence: []}
roles:
  ic: {title: Incident Commander, may: [decide, rollback]}
  dba: {title: DBA}
phases:
  - id: prepare
    steps:
      - {id: copy, kind: manual, role: dba, instructions: Copy the data.}
  - id: switch
    window: {not_after: "2026-03-07T02:10:00Z", on_overrun: {deadline: 4h, default: DEFAULT}}
    steps:
      - {id: flip, kind: action, type: command, with: {run: "true"}}
rollback:
  steps:
    - {id: restore, kind: action, type: command, with: {run: "true"}}
"""


@pytest.fixture
async def clock_store(tmp_path: Path) -> AsyncIterator[tuple[FakeClock, sqlite.SqliteStore]]:
    async with sqlite_on_fake_clock(tmp_path / "w.db", T0) as clock_and_store:
        yield clock_and_store


async def _late(clock: FakeClock, store: sqlite.SqliteStore, default: str) -> RunningEngine:
    """The copy takes 20 minutes: the switch phase becomes due 10 minutes after its window closed."""
    loaded = loader.load_text(LATE.replace("DEFAULT", default), "late.yaml", environ={})
    r = await start_engine(store, loaded, roles={"ic": "alice", "dba": "bob"}, clock=clock, poll=0.5)
    v = await r.until("the copy waits", lambda s: s.step("copy").status == "waiting")
    clock.advance(20 * 60)
    await acts.confirm(v, "copy", "bob")
    return r


async def test_a_phase_due_after_its_window_closed_waits_for_the_ics_continue(
    clock_store: tuple[FakeClock, sqlite.SqliteStore],
) -> None:
    clock, store = clock_store
    r = await _late(clock, store, "rollback")
    v = await r.until("the IC is asked about the switch's window", lambda s: s.pending_overrun is not None)
    assert v.state.pending_overrun["scope"] == "switch"
    assert v.state.step("flip").outcome is None  # nothing of the phase ran before the answer
    assert not [e for e in await store.events(v.run_id) if e.type == "action_started"]
    await acts.decide_overrun(v, "continue", "alice", "the switch is still safe")
    status = await asyncio.wait_for(r.finished(), WAIT_LIMIT)
    assert status is RunStatus.PASSED
    evs = await store.events(v.run_id)
    answered = next(e.seq for e in evs if e.type == "overrun_decided")
    assert next(e.seq for e in evs if e.type == "action_started" and e.step_id == "flip") > answered


async def test_a_phase_due_after_its_window_closed_is_not_run_when_the_default_rolls_back(
    clock_store: tuple[FakeClock, sqlite.SqliteStore],
) -> None:
    clock, store = clock_store
    r = await _late(clock, store, "rollback")
    v = await r.until("the IC is asked", lambda s: s.pending_overrun is not None)
    clock.advance(5 * 3600)  # nobody answers: the deadline's default (rollback) applies
    status = await asyncio.wait_for(r.finished(), WAIT_LIMIT)
    assert status is RunStatus.ROLLED_BACK
    assert not [e for e in await store.events(v.run_id) if e.type == "action_started" and e.step_id == "flip"]


WAIVED = """\
golive: 1
name: waived-window
t0: "2026-03-07T02:00:00Z"
comms: {cadence: []}
roles:
  ic: {title: Incident Commander, may: [decide, rollback, waive]}
window: {not_before: T-0, not_after: T+30m}
phases:
  - id: switch
    steps:
      - {id: flip, kind: action, type: command, with: {run: "true"}}
rollback:
  steps:
    - {id: restore, kind: action, type: command, with: {run: "true"}}
"""


async def test_a_run_window_waived_at_the_start_asks_no_overrun_question(tmp_path: Path) -> None:
    """The window closed an hour ago and the IC waived it at the start (ticket, reason): the run starts and
    passes, and the window watcher asks nobody about that window (it looked before the waiver was recorded
    and asked past not_after, default rollback, on a run whose window was waived)."""
    from golive.engine import gate, runner

    clock = FakeClock(T0.replace(hour=3))
    store = sqlite.SqliteStore(tmp_path / "w.db", clock)
    await store.open()
    try:
        loaded = loader.load_text(WAIVED, "waived.yaml", environ={})
        waiver = gate.GateWaiver(gate="window", by="alice", ticket="CHG-1", reason="agreed with the CAB")
        h = await runner.create_run(store, loaded, clock=clock, roles={"ic": "alice"}, gate_waivers=[waiver])
        status = await asyncio.wait_for(runner.Engine(h, clock=clock, poll=0.01).run(), WAIT_LIMIT)
        assert status is RunStatus.PASSED
        types = [e.type for e in await store.events(h.run_id)]
        assert "gate_waived" in types
        assert "window_overrun" not in types
    finally:
        await store.close()


TYPO = """\
golive: 1
name: typo
roles:
  ic: {title: Incident Commander, may: [decide, waive]}
window: {not_before: "2020-01-01T00:00:00Z", not_after: "2020-01-02T00:00:00Z"}
phases:
  - id: work
    window: {not_after: "2020-01-02T00:00:00Z"}
    steps:
      - {id: banner, kind: action, type: command, with: {run: "true"}}
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: "true"}}
"""


@pytest.mark.parametrize(
    ("gate_id", "fix"),
    [("windw", "did you mean 'window'?"), ("window:wrk", "did you mean 'window:work'?")],
)
def test_a_waiver_for_a_gate_the_runbook_does_not_have_is_refused_with_the_fix(
    tmp_path: Path, gate_id: str, fix: str
) -> None:
    """`golive run FILE --waive windw` (a typo) is bad input: exit 2 naming the id, the likely one and the
    runbook's gates, and no run is started (a typo of a phase window's id used to pass silently)."""
    import os
    import subprocess
    import sys

    (tmp_path / "typo.yaml").write_text(TYPO)
    args = ["run", "typo.yaml", "--role", "ic=alice", "--no-prompt", "--waive", "window", "--waive", gate_id]
    args += ["--as", "alice", "--ticket", "CHG-1", "--reason", "agreed"]
    env = {k: v for k, v in os.environ.items() if k != "GOLIVE_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "golive", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--waive {gate_id}: the start gate of typo.yaml has no block {gate_id!r}" in done.stderr
    assert fix in done.stderr
    assert "window, window:work" in done.stderr
    assert "Traceback" not in done.stderr
