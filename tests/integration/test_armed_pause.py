"""An armed ``pause`` trigger that fires outside an observe window pauses the run (fake clock, real SQLite).

The IC is asked continue or rollback (``trigger_paused``, the trigger's deadline and default, the ``pause``
message), the question a window overrun asks. Meanwhile no new phase or step starts; ``continue`` resumes (the
trigger must breach again to fire again); ``rollback``, or no answer by the deadline with the default
``rollback``, rolls back by ``trigger:ID``; a rollback trigger firing meanwhile rolls back at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.integration import test_armed_triggers as armed_runbook

from golive import results
from golive.engine import acts, hypercare
from golive.engine.state import RunState, RunStatus, parse_ts
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock, RunningEngine, start_engine
from golive.views import summary

from .conftest import sqlite_on_fake_clock

RUNBOOK = """\
golive: 1
name: armed-pause
roles:
  ic: {title: Incident commander, may: [decide, rollback]}
  ops: {title: Operator}
phases:
  - id: deploy
    steps:
      - {id: ship, kind: action, type: command, with: {run: "true"}}
      - {id: confirm-deploy, kind: manual, role: ops, needs: [ship]}
  - id: enable
    steps:
      - {id: flip, kind: action, type: command, with: {run: "true"}}
      - {id: confirm-flip, kind: manual, role: ops, needs: [flip]}
triggers:
  - id: lag
    title: replication lag
    source: {type: fake, with: {name: lag}}
    when: value > 0
    interval: 10s
    then: pause
    deadline: 10m
    default: rollback
    armed: {from: deploy, until: end}
  - id: errors
    title: 5xx
    source: {type: fake, with: {name: errors}}
    when: value > 0
    interval: 10s
    armed: {from: deploy, until: end}
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: "true"}}
comms: {cadence: [], channels: [{id: war-room, url: "log://WARROOM"}]}
"""


class Switch:
    """Reads 1 (a breach) while ``on``, else 0."""

    def __init__(self) -> None:
        self.on = False

    async def read(self) -> results.MetricReading:
        return results.MetricReading.of(1.0 if self.on else 0.0)


@pytest.fixture
async def clock_store(tmp_path: Path) -> AsyncIterator[tuple[FakeClock, sqlite.SqliteStore]]:
    async with sqlite_on_fake_clock(tmp_path / "p.db") as clock_and_store:
        yield clock_and_store


def _paused(s: RunState) -> bool:
    return s.pending_pause is not None


async def _paused_in_deploy(
    clock: FakeClock, store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> tuple[RunningEngine, Switch, Switch]:
    """The deploy waits on the operator; the lag breaches: the run is paused, then the operator confirms."""
    lag, errors = Switch(), Switch()
    fake_metrics.sources["lag"], fake_metrics.sources["errors"] = lag, errors
    text = RUNBOOK.replace("WARROOM", str(tmp_path / "war-room.log"))
    loaded = loader.load_text(text, str(tmp_path / "runbook.yaml"), environ={})
    r = await start_engine(store, loaded, roles={"ic": "alice", "ops": "otto"}, clock=clock, poll=0.05)
    v = await r.until("the deploy waits", lambda s: s.step("confirm-deploy").status == "waiting")
    lag.on = True
    clock.advance(30)
    v = await r.until("the lag pauses the run", _paused)
    await acts.confirm(v, "confirm-deploy", "otto")
    await r.until("the deploy passed", lambda s: s.phases.get("deploy") == "pass")
    return r, lag, errors


async def _held(r: RunningEngine) -> None:
    """The next phase does not start while the question is open (the engine looks every 0.05 s)."""
    await asyncio.sleep(0.5)
    st = (await r.view()).state
    assert st.phases.get("enable") == "pending"
    assert not await r.events("phase_started") or all(e.step_id != "enable" for e in await r.events("phase_started"))


async def test_a_pause_trigger_firing_during_an_action_phase_holds_the_next_phase_until_continue(
    clock_store: tuple[FakeClock, sqlite.SqliteStore], tmp_path: Path, fake_metrics: Any
) -> None:
    clock, store = clock_store
    r, lag, _ = await _paused_in_deploy(clock, store, tmp_path, fake_metrics)
    await _held(r)
    v = await r.view()
    asked = v.state.pending_pause
    assert asked["scope"] == "trigger:lag"
    assert asked["default"] == "rollback"
    assert asked["roles"] == ["ic"]
    assert parse_ts(asked["deadline"]) - parse_ts(asked["asked_at"]) == timedelta(minutes=10)  # the trigger's
    # golive status shows the pending decision, the war room got the pause message.
    assert summary.summarize(v)["overrun"]["scope"] == "trigger:lag"
    assert "IC decision needed" in (tmp_path / "war-room.log").read_text()
    lag.on = False
    said = await acts.decide_overrun(v, "continue", "alice", "the lag is the nightly batch")
    assert said.startswith("CONTINUE after lag's pause")
    v = await r.until("the flip waits", lambda s: s.step("confirm-flip").status == "waiting")
    await acts.confirm(v, "confirm-flip", "otto")
    assert await r.finished() is RunStatus.PASSED
    evs = await store.events(r.run_id)
    answered = next(e.seq for e in evs if e.type == "overrun_decided")
    assert next(e.seq for e in evs if e.type == "phase_started" and e.step_id == "enable") > answered
    assert (await r.view()).state.rollback is None


async def test_a_pause_trigger_with_no_answer_rolls_back_by_its_default_at_the_deadline(
    clock_store: tuple[FakeClock, sqlite.SqliteStore], tmp_path: Path, fake_metrics: Any
) -> None:
    clock, store = clock_store
    r, _, _ = await _paused_in_deploy(clock, store, tmp_path, fake_metrics)
    await _held(r)
    clock.advance(11 * 60)  # nobody answers: the default (rollback) applies at the deadline
    assert await r.finished() is RunStatus.ROLLED_BACK
    st = (await r.view()).state
    assert st.rollback is not None
    assert (st.rollback["by"], st.rollback["source"]) == ("trigger:lag", "trigger")
    [dec] = [o["decision"] for o in st.overruns]
    assert dec["default"] is True
    assert dec["decision"] == "rollback"
    assert not [e for e in await store.events(r.run_id) if e.type == "action_started" and e.step_id == "flip"]


async def test_continue_rearms_the_pause_trigger_and_a_rollback_trigger_still_rolls_back_while_paused(
    clock_store: tuple[FakeClock, sqlite.SqliteStore], tmp_path: Path, fake_metrics: Any
) -> None:
    """After continue the lag goes on breaching: its evaluator was reset, so it fires (and asks) again. While
    that second question is open, the 5xx trigger breaches: the rollback starts at once, by trigger:errors."""
    clock, store = clock_store
    r, _, errors = await _paused_in_deploy(clock, store, tmp_path, fake_metrics)
    await acts.decide_overrun(await r.view(), "continue", "alice", "watching it")
    await r.until("the flip waits", lambda s: s.step("confirm-flip").status == "waiting")
    clock.advance(30)
    await r.until("the lag fires and asks again", lambda s: len(s.overruns) == 2 and s.pending_pause is not None)
    errors.on = True
    clock.advance(30)
    assert await r.finished() is RunStatus.ROLLED_BACK
    st = (await r.view()).state
    assert st.rollback is not None
    assert st.rollback["by"] == "trigger:errors"
    assert [o["decision"] for o in st.overruns][1] is None  # the rollback did not wait for the open question


async def test_a_pause_trigger_in_hypercare_asks_the_ic_and_its_default_rolls_back_after_go(
    clock_store: tuple[FakeClock, sqlite.SqliteStore], tmp_path: Path, fake_metrics: Any
) -> None:
    """After GO, `golive hypercare`'s armed watch asks the same question when a pause trigger fires; nobody
    answers, and at the deadline the default rolls back: the run ends ROLLED_BACK_AFTER_GO by trigger:errors."""
    clock, store = clock_store
    text = armed_runbook.RUNBOOK.replace("    ARMED\n", "    then: pause\n    deadline: 10m\n")
    text = text.replace("WARROOM", str(tmp_path / "war-room.log"))
    loaded = loader.load_text(text, str(tmp_path / "rb.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})
    source = armed_runbook.BreachFrom(clock, None)
    fake_metrics.sources["errors"] = source
    r = await start_engine(store, loaded, roles={"ic": "alice", "ops": "otto"}, clock=clock, poll=0.5)
    h = await r.until("the deploy waits", lambda s: s.step("confirm-deploy").status == "waiting")
    await acts.confirm(h, "confirm-deploy", "otto")
    h = await r.until("the GO is asked", lambda s: s.step("go").status == "waiting")
    await acts.decide(h, "go", "alice", "canary clean")
    assert await r.finished() is RunStatus.PASSED
    go = parse_ts((await r.view()).state.go_at)
    assert go is not None
    source.at = go + timedelta(hours=1)
    hc = await hypercare.hypercare_runner(store, r.run_id, tmp_path / "reports", lambda s: None)
    try:
        await hypercare.watch_hypercare(hc)  # the schedule moves the fake clock past the question's deadline
    finally:
        await hc.engine.aclose()
    st = (await r.view()).state
    assert st.status is RunStatus.ROLLED_BACK_AFTER_GO
    assert st.rollback is not None
    assert st.rollback["by"] == "trigger:errors"
    [asked] = st.overruns
    assert asked["scope"] == "trigger:errors"
    assert asked["decision"]["default"] is True
    assert asked["decision"]["decision"] == "rollback"
    assert parse_ts(asked["deadline"]) - parse_ts(asked["asked_at"]) == timedelta(minutes=10)
    assert parse_ts(st.rollback["started_at"]) >= parse_ts(asked["deadline"])
