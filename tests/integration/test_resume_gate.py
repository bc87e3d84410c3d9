"""A STOPPED run continued with ``resume --from`` is judged by the start gate again (windows, freezes), and a
phase's window is waived like a freeze: by a named role with a ticket (FakeClock, real SQLite)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from golive import exceptions
from golive.engine import acts, gate, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock, RunningEngine, start_engine

STOPPABLE = """\
golive: 1
name: stoppable
comms: {cadence: []}
roles:
  ic: {title: Release driver, may: [decide]}
  cab: {title: Change Advisory Board}
freeze:
  - id: friday-afternoons
    title: No changes on Friday afternoons
    start: "2026-01-02T12:00:00Z"
    end: "2026-01-03T00:00:00Z"
    rrule: FREQ=WEEKLY;BYDAY=FR
    waivable_by: [cab]
phases:
  - id: tier1
    steps:
      - {id: enable-tier1, kind: action, type: command, with: {run: "true"}}
  - id: tier2
    steps:
      - {id: tier2-go, kind: decision, role: ic, on_no_go: keep-live}
      - {id: enable-tier2, kind: action, type: command, needs: [tier2-go], with: {run: "true"}}
"""

TUESDAY = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
FRIDAY_AFTERNOON = datetime(2026, 12, 11, 14, 0, tzinfo=UTC)
ROLES = {"ic": "alice", "cab": "carol"}


def load(tmp_path: Path, text: str) -> loader.LoadedRunbook:
    path = tmp_path / "runbook.yaml"
    path.write_text(text)
    return loader.load(path, environ={})


async def test_a_stopped_run_continued_inside_a_freeze_is_refused_and_a_waived_one_continues(tmp_path: Path) -> None:
    """Stopped on a Tuesday; continued on a Friday afternoon, inside the weekly freeze: refused in the start
    gate's format (the run stays STOPPED, nothing is entered again); the freeze waived by the CAB holder with a
    ticket: the run continues and passes, the waiver recorded."""
    clock = FakeClock(TUESDAY)
    store = sqlite.SqliteStore(tmp_path / "golive.db", clock)
    await store.open()
    try:
        r = await start_engine(store, load(tmp_path, STOPPABLE), roles=ROLES, clock=clock, poll=0.5)
        h = await r.until("tier 2 is asked", lambda s: s.step("tier2-go").status == "waiting")
        await acts.decide(h, "no-go", "alice", "matching not proven yet")
        assert await r.finished() is RunStatus.STOPPED

        clock.advance((FRIDAY_AFTERNOON - clock.now()).total_seconds())
        h = await r.view()
        with pytest.raises(exceptions.RuleRefused) as refused:
            await acts.continue_from(h, "tier2", "alice")
        text = str(refused.value)
        assert "refused at the start gate (1 block)" in text
        assert "freeze friday-afternoons (No changes on Friday afternoons)" in text
        assert f"golive resume {r.run_id} --from tier2 --waive friday-afternoons --as NAME" in text
        assert "a holder of cab" in text
        h = await r.view()
        assert h.state.status is RunStatus.STOPPED
        assert h.state.phases["tier2"] == "stopped"

        wrong = gate.GateWaiver(gate="friday-afternoons", by="alice", ticket="CHG-7", reason="customer waiting")
        with pytest.raises(exceptions.RuleRefused, match="the waiver by alice does not count"):
            await acts.continue_from(h, "tier2", "alice", [wrong])

        waiver = gate.GateWaiver(gate="friday-afternoons", by="carol", ticket="CHG-7", reason="customer waiting")
        h = await r.view()
        assert await acts.continue_from(h, "tier2", "alice", [waiver]) == ["tier2"]
        h = await r.view()
        [waived] = h.state.gate_waived
        assert (waived["gate"], waived["by"], waived["ticket"]) == ("friday-afternoons", "carol", "CHG-7")

        again = RunningEngine(store, h, asyncio.create_task(runner.Engine(h, clock=clock, poll=0.5).run()))
        h = await again.until("tier 2 is asked again", lambda s: s.step("tier2-go").status == "waiting")
        await acts.decide(h, "go", "alice", "matching proven")
        assert await again.finished() is RunStatus.PASSED
    finally:
        await store.close()


PHASE_WINDOW = """\
golive: 1
name: phase-window
comms: {cadence: []}
roles:
  ic: {title: Release driver, may: [decide]}
  cab: {title: Change Advisory Board}
phases:
  - id: prepare
    steps:
      - {id: lower-ttl, kind: action, type: command, with: {run: "true"}}
  - id: switch
    window: {not_before: "2026-12-08T12:00:00Z", waivable_by: [cab]}
    steps:
      - {id: flip, kind: action, type: command, with: {run: "true"}}
"""


@pytest.mark.parametrize(
    ("by", "waived"),
    [(None, False), ("carol", True), ("alice", False)],
    ids=["no waiver", "waived by the cab", "not a waiving role"],
)
async def test_a_phase_window_is_waived_by_a_named_role_with_a_ticket(
    tmp_path: Path, by: str | None, waived: bool
) -> None:
    """The switch phase's window opens at 12:00; the run starts at 10:00. Without a waiver (or with one from a
    person who holds no waiving role: refused, recorded) the phase waits for its window; waived as
    window:switch by the CAB holder with a ticket it starts at once, the waiver recorded."""
    clock = FakeClock(TUESDAY)
    store = sqlite.SqliteStore(tmp_path / "golive.db", clock)
    await store.open()
    try:
        waivers = [gate.GateWaiver(gate="window:switch", by=by, ticket="CHG-9", reason="TTL already low")] if by else []
        h = await runner.create_run(store, load(tmp_path, PHASE_WINDOW), roles=ROLES, gate_waivers=waivers)
        assert await runner.Engine(h, clock=clock, poll=0.5).run() is RunStatus.PASSED
        h = await acts.open_run(store, h.run_id)
        started = h.state.step("flip").started_at
        assert started is not None
        events = await store.events(h.run_id)
        waits = [e.data for e in events if e.type == "scheduled_wait"]
        if waived:
            assert started < "2026-12-08T10:05"
            assert waits == []
            [w] = h.state.gate_waived
            assert (w["gate"], w["by"], w["role"], w["ticket"]) == ("window:switch", "carol", "cab", "CHG-9")
        else:
            assert started >= "2026-12-08T12:00"
            assert [w["what"] for w in waits] == ["window"]
            assert h.state.gate_waived == []
        refusals = [r for r in h.state.refusals if r["act"] == "waive window:switch"]
        assert bool(refusals) is (by == "alice")
        if refusals:
            assert "alice holds ic in this run, not cab" in refusals[0]["why"]
    finally:
        await store.close()
