"""Planned T-times hold: with `t0`, a phase or step planned `at:` waits until its wall time (FakeClock).

"Day -1: lower TTL" and "T-0: switch CNAME" no longer run seconds apart: the phase planned at T+10m starts at
T+10m and not before; `--start-now` (create_run(start_now=True)) runs it at once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from golive.engine import acts, runner
from golive.engine.state import RunStatus, parse_ts
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock

WAIT_LIMIT = 30.0  # seconds (real) a run may take before the test fails
T0 = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)  # the FakeClock starts here too

SCHEDULED = """\
golive: 1
name: dns-cutover
t0: "2026-01-01T02:00:00Z"
comms: {cadence: []}
phases:
  - id: lower-ttl
    at: T-0
    steps:
      - {id: ttl, kind: action, type: command, with: {run: "true"}}
  - id: switch-cname
    at: T+10m
    steps:
      - {id: cname, kind: action, type: command, with: {run: "true"}}
      - {id: verify, kind: check, type: command, at: T+15m, needs: [cname], with: {run: "true"}}
"""


async def run(tmp_path: Path, *, start_now: bool) -> acts.RunHandle:
    clock = FakeClock(T0)
    store = sqlite.SqliteStore(tmp_path / ("now.db" if start_now else "planned.db"), clock)
    await store.open()
    try:
        loaded = loader.load_text(SCHEDULED, str(tmp_path / "runbook.yaml"), environ={})
        h = await runner.create_run(store, loaded, clock=clock, start_now=start_now)
        status = await asyncio.wait_for(runner.Engine(h, clock=clock, poll=1.0).run(), WAIT_LIMIT)
        assert status is RunStatus.PASSED
        return await acts.open_run(store, h.run_id)
    finally:
        await store.close()


def seconds_after_t0(ts: str | None) -> float:
    at = parse_ts(ts)
    assert at is not None
    return (at - T0).total_seconds()


async def test_a_phase_planned_at_t_plus_10m_starts_then_and_not_before(tmp_path: Path) -> None:
    """T-0's phase runs at once; the T+10m phase waits (recorded as scheduled_wait until 02:10Z) and starts at
    T+10m; its step planned at T+15m starts at T+15m."""
    h = await run(tmp_path, start_now=False)
    assert seconds_after_t0(h.state.phase_times["lower-ttl"][0]) == 0
    assert seconds_after_t0(h.state.phase_times["switch-cname"][0]) == 600
    assert seconds_after_t0(h.state.step("cname").started_at) == 600
    assert seconds_after_t0(h.state.step("verify").started_at) == 900
    assert {k: seconds_after_t0(v) for k, v in h.state.scheduled.items()} == {"switch-cname": 600, "verify": 900}


async def test_start_now_runs_every_phase_at_once(tmp_path: Path) -> None:
    """A run started with --start-now does not wait for the planned T-times."""
    h = await run(tmp_path, start_now=True)
    assert seconds_after_t0(h.state.phase_times["switch-cname"][0]) == 0
    assert seconds_after_t0(h.state.step("verify").started_at) == 0
    assert h.state.scheduled == {}


async def test_planned_and_actual_t_times_side_by_side_from_t0(tmp_path: Path) -> None:
    """Planned = t0 + at, actual = when it started, both labelled from t0 (not from the first phase's wall time):
    with --start-now the T+10m phase and the T+15m step start at T-0, 10 and 15 minutes early."""
    from golive.cli import views
    from golive.views import summary

    h = await run(tmp_path, start_now=True)
    data = summary.summarize(h)
    switch = next(p for p in data["phases"] if p["id"] == "switch-cname")
    assert (switch["planned_at"], switch["planned_time"], switch["t"], switch["drift"]) == (
        "T+10m",
        "2026-01-01T02:10:00.000000Z",
        "T-0",
        "-10m",
    )
    verify = next(s for s in switch["steps"] if s["id"] == "verify")
    assert (verify["planned_time"], verify["drift"]) == ("2026-01-01T02:15:00.000000Z", "-15m")
    assert views.t_cell(verify) == "T+15m/T-0"
    lines = [ln for ln in summary.timeline(h, data) if ln["what"].startswith("verify")]
    assert [(ln["planned"], ln["t"]) for ln in lines] == [("T+15m", "T-0")]


async def test_a_run_on_time_shows_no_drift(tmp_path: Path) -> None:
    from golive.views import summary

    h = await run(tmp_path, start_now=False)
    switch = next(p for p in summary.summarize(h)["phases"] if p["id"] == "switch-cname")
    assert (switch["planned_at"], switch["t"], switch["drift"]) == ("T+10m", "T+10m", "0m")
