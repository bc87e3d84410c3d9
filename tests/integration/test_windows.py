"""Windows while a live run goes on (FakeClock, real SQLite): past `not_after` the IC is asked, with a deadline
and a default; the default applies when nobody answers, an answer before the deadline wins; a phase does not
start before its window opens; a freeze that begins during the run is announced and does not stop it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from golive import exceptions
from golive.engine import acts
from golive.engine.state import RunStatus, parse_ts
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock, RunningEngine, start_engine

from .conftest import sqlite_on_fake_clock

WAIT_LIMIT = 30.0  # seconds (real) a run may take before the test fails
T0 = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)

OVERRUN = """\
golive: 1
name: db-cutover
t0: "2026-03-07T02:00:00Z"
comms: {cadence: []}
roles:
  ic: {title: Incident Commander, may: [decide, rollback]}
  dba: {title: DBA}
window:
  not_before: T-0
  not_after: T+30m
  on_overrun: {deadline: DEADLINE, default: DEFAULT}
phases:
  - id: migrate
    steps:
      - {id: copy, kind: manual, role: dba, instructions: Copy the data.}
rollback:
  steps:
    - {id: restore, kind: action, type: command, with: {run: "true"}}
"""


@pytest.fixture
async def clock_store(tmp_path: Path) -> AsyncIterator[tuple[FakeClock, sqlite.SqliteStore]]:
    async with sqlite_on_fake_clock(tmp_path / "w.db", T0) as clock_and_store:
        yield clock_and_store


async def start(store: sqlite.SqliteStore, clock: FakeClock, text: str, poll: float = 5.0) -> RunningEngine:
    loaded = loader.load_text(text, "db-cutover.yaml", environ={})
    roles = {"ic": "alice", "dba": "bob"} if "dba:" in text else {"ic": "alice"}
    return await start_engine(store, loaded, roles=roles, clock=clock, poll=poll)


def minutes(ts: str | None) -> float:
    at = parse_ts(ts)
    assert at is not None
    return (at - T0).total_seconds() / 60


async def test_a_run_past_not_after_asks_the_ic_and_applies_the_default(
    clock_store: tuple[FakeClock, sqlite.SqliteStore],
) -> None:
    """Nobody confirms the copy: at T+30m the IC is asked (deadline 10m, default rollback); at T+40m the
    default is recorded and the rollback plan runs."""
    clock, store = clock_store
    r = await start(store, clock, OVERRUN.replace("DEFAULT", "rollback").replace("DEADLINE", "10m"), poll=0.5)
    status = await asyncio.wait_for(r.finished(), WAIT_LIMIT)
    h = await r.view()
    assert status is RunStatus.ROLLED_BACK
    (asked,) = h.state.overruns
    assert asked["scope"] == "run"
    assert minutes(asked["asked_at"]) >= 30
    assert minutes(asked["not_after"]) == 30
    assert parse_ts(asked["deadline"]) - parse_ts(asked["asked_at"]) == timedelta(minutes=10)  # type: ignore[operator]
    assert asked["roles"] == ["ic"]
    assert asked["decision"]["decision"] == "rollback"
    assert asked["decision"]["default"] is True
    assert minutes(asked["decision"]["at"]) >= minutes(asked["deadline"])
    (req,) = h.state.rollback_requests
    assert req["source"] == "window"
    assert "ROLLBACK by deadline" in req["reason"]
    assert h.state.step("restore").outcome is not None
    sent = [c["event"] for c in h.state.comms]
    assert "window_overrun" in sent


async def test_the_ic_answers_continue_before_the_deadline_and_the_cutover_goes_on(
    clock_store: tuple[FakeClock, sqlite.SqliteStore],
) -> None:
    clock, store = clock_store
    # The run's clock moves while people act (as it would): a deadline of hours leaves them the time.
    r = await start(store, clock, OVERRUN.replace("DEFAULT", "rollback").replace("DEADLINE", "4h"), poll=0.5)
    v = await r.until("the IC is asked", lambda s: s.pending_overrun is not None)
    with pytest.raises(exceptions.RuleRefused, match="bob holds none of the roles asked about the window"):
        await acts.decide_overrun(v, "rollback", "bob", "too slow")
    v = await r.view()
    await acts.decide_overrun(v, "continue", "alice", "copy is at 90%")
    v = await r.view()
    await acts.confirm(v, "copy", "bob")
    status = await asyncio.wait_for(r.finished(), WAIT_LIMIT)
    h = await r.view()
    assert status is RunStatus.PASSED
    (asked,) = h.state.overruns
    assert (asked["decision"]["decision"], asked["decision"]["by"]) == ("continue", "alice")
    assert h.state.rollback_requests == []


PHASE_WINDOW = """\
golive: 1
name: phased
t0: "2026-03-07T02:00:00Z"
comms: {cadence: []}
roles:
  ic: {title: Incident Commander, may: [decide, rollback]}
freeze:
  - id: backup-window
    title: Nightly backup freeze
    start: "2026-03-07T02:05:00Z"
    end: "2026-03-07T02:10:00Z"
phases:
  - id: prepare
    steps:
      - {id: prep, kind: action, type: command, with: {run: "true"}}
  - id: switch
    window: {not_before: "2026-03-07T02:20:00Z", not_after: "2026-03-07T09:00:00Z"}
    steps:
      - {id: flip, kind: action, type: command, with: {run: "true"}}
      - {id: verify, kind: manual, role: ic, needs: [flip], instructions: Check the dashboards.}
"""


async def test_a_phase_waits_for_its_window_and_a_freeze_that_begins_is_announced(
    clock_store: tuple[FakeClock, sqlite.SqliteStore],
) -> None:
    clock, store = clock_store
    r = await start(store, clock, PHASE_WINDOW, poll=0.2)
    v = await r.until("the freeze is announced", lambda s: bool(s.freezes_started))
    await acts.confirm(v, "verify", "alice")
    status = await asyncio.wait_for(r.finished(), WAIT_LIMIT)
    h = await r.view()
    assert status is RunStatus.PASSED
    assert minutes(h.state.phase_times["prepare"][0]) < 20
    assert minutes(h.state.phase_times["prepare"][1]) < 20
    assert minutes(h.state.phase_times["switch"][0]) >= 20
    assert minutes(h.state.scheduled["switch"]) == 20
    (began,) = h.state.freezes_started
    assert began["freeze"] == "backup-window"
    assert minutes(began["start"]) == 5
    assert minutes(began["at"]) >= 5
    assert [c["event"] for c in h.state.comms if c["event"] == "freeze_started"] == ["freeze_started"]
    assert h.state.overruns == []


async def test_a_failed_window_watcher_stops_the_engine_and_never_lets_the_run_go_on_unwatched(
    clock_store: tuple[FakeClock, sqlite.SqliteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: the watcher's error stops the engine (the run stays resumable: the waiting step is not
    recorded as abandoned)."""
    from golive.engine import windows

    def broken(*_: object) -> list[windows.Due]:
        raise RuntimeError("calendar exploded")

    clock, store = clock_store
    r = await start(store, clock, OVERRUN.replace("DEFAULT", "rollback").replace("DEADLINE", "10m"), poll=0.5)
    await r.waiting("copy")
    monkeypatch.setattr(windows, "due_overruns", broken)
    with pytest.raises(exceptions.GoliveError, match="the window and freeze watcher failed: calendar exploded"):
        await r.finished()
    h = await r.view()
    assert h.state.step("copy").status == "waiting"
    assert not h.state.final
