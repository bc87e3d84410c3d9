"""Observe steps through the engine against a real Prometheus: no data, NaN and a Prometheus that is down.

An empty result or NaN is *no data*, never 0: under ``no_data: fail`` the trigger fires and the run rolls
back; under ``ignore`` and ``hold`` the window passes (nothing breached before). A Prometheus that stops
answering gives read errors; after ``max_errors`` in a row the trigger fails closed and, with
``then: rollback``, the run rolls back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite

pytestmark = pytest.mark.prometheus

WAIT_LIMIT = 60.0  # seconds a test waits for the run before it fails
MISSING = "sum(rate(no_such_metric_total[5s]))"  # no series at all: an empty vector
IDLE_RATE = "sum(rate(idle_errors_total[5s])) / sum(rate(idle_requests_total[5s]))"  # 0/0 = NaN

RUNBOOK = """\
golive: 1
name: observe-prometheus
roles:
  ic: {may: [decide, rollback]}
vars:
  dir: {required: true}
  prometheus: {required: true}
  query: {type: promql, required: true}
comms: {cadence: []}
phases:
  - id: watch
    steps:
      - {id: window, kind: observe, duration: WINDOW}
  - id: after
    steps:
      - {id: carry-on, kind: action, type: command, with: {run: "echo on >> $DIR/after.log", env: {DIR: "${{ vars.dir }}"}}}
triggers:
  - id: payout-5xx
    source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: "${{ vars.query }}"}}
    when: value > 0.15
    interval: 0.25s
    no_data: NO_DATA
    max_errors: 3
    then: rollback
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: "echo reverted >> $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}}
"""


@pytest.fixture(scope="module")
def prom(start_prometheus: Callable[..., Any]) -> Any:
    return start_prometheus(services=("payout",))


async def start(
    store: sqlite.SqliteStore, tmp_path: Path, url: str, query: str, no_data: str, window: str = "1.5s"
) -> tuple[acts.RunHandle, asyncio.Task[RunStatus]]:
    text = RUNBOOK.replace("WINDOW", window).replace("NO_DATA", no_data)
    loaded = loader.load_text(
        text,
        str(tmp_path / "runbook.yaml"),
        var_overrides={"dir": str(tmp_path), "prometheus": url, "query": query},
        environ={},
    )
    h = await runner.create_run(store, loaded, roles={"ic": "alice"})
    return h, asyncio.create_task(runner.Engine(h, poll=0.05).run())


async def finish(store: sqlite.SqliteStore, h: acts.RunHandle, task: asyncio.Task[RunStatus]) -> acts.RunHandle:
    await asyncio.wait_for(task, WAIT_LIMIT)
    return await acts.open_run(store, h.run_id)


@pytest.mark.parametrize(("query", "why"), [(MISSING, "empty result"), (IDLE_RATE, "NaN")], ids=["empty", "nan"])
async def test_no_data_under_fail_fires_and_rolls_back(
    store: sqlite.SqliteStore, tmp_path: Path, prom: Any, query: str, why: str
) -> None:
    """An empty vector or a 0/0 rate is no data; `no_data: fail` makes it a breach: fired, rolled back."""
    h, task = await start(store, tmp_path, prom.url, query, "fail")
    h = await finish(store, h, task)
    assert h.state.status is RunStatus.ROLLED_BACK
    [fired] = h.state.fired
    assert fired["trigger"] == "payout-5xx"
    assert why in fired["reason"]
    assert "no_data is 'fail'" in fired["reason"]
    assert h.state.rollback is not None
    assert h.state.rollback["by"] == "trigger:payout-5xx"
    assert not (tmp_path / "after.log").exists()


@pytest.mark.parametrize(("query", "why"), [(MISSING, "empty result"), (IDLE_RATE, "NaN")], ids=["empty", "nan"])
@pytest.mark.parametrize(("policy", "state"), [("ignore", "no_data"), ("hold", "held")])
async def test_no_data_under_ignore_or_hold_lets_the_window_pass(
    store: sqlite.SqliteStore, tmp_path: Path, prom: Any, query: str, why: str, policy: str, state: str
) -> None:
    """Under `ignore` no data counts as ok; under `hold` it keeps the state it had (nothing breached):
    the window runs to its end and passes, and the recorded reading says no data, never 0."""
    h, task = await start(store, tmp_path, prom.url, query, policy)
    h = await finish(store, h, task)
    assert h.state.status is RunStatus.PASSED
    assert h.state.fired == []
    seen = h.state.triggers["payout-5xx"]
    assert (seen["status"], seen["state"], seen["value"]) == ("no_data", state, None)
    assert why in seen["reason"]
    assert (tmp_path / "after.log").read_text().split() == ["on"]


async def test_prometheus_down_fails_closed_after_max_errors_and_rolls_back(
    store: sqlite.SqliteStore, tmp_path: Path, start_prometheus: Callable[..., Any]
) -> None:
    """The trigger reads fine, then Prometheus is stopped: each read is an error, and the third in a row
    (max_errors: 3) fires 'fails closed'; with then: rollback the run rolls back."""
    doomed = start_prometheus(services=("payout",))
    h, task = await start(store, tmp_path, doomed.url, doomed.error_rate("payout"), "fail", window="10m")
    limit = time.monotonic() + WAIT_LIMIT
    while not any(e.type == "trigger_evaluated" and e.data["status"] == "ok" for e in await store.events(h.run_id)):
        assert time.monotonic() < limit, "the trigger never read Prometheus"
        assert not task.done()
        await asyncio.sleep(0.05)
    doomed.stop()
    h = await finish(store, h, task)
    assert h.state.status is RunStatus.ROLLED_BACK
    [fired] = h.state.fired
    assert fired["reason"].startswith("fails closed after 3 consecutive errors")
    read = [
        s[1]
        for e in await store.events(h.run_id)
        if e.type in ("trigger_evaluated", "trigger_fired")
        for s in e.data["samples"]
    ]
    assert read[-3:] == ["error"] * 3  # one error alone fires nothing: the third in a row fires
    assert "ok" in read[:-3]
    assert h.state.triggers["payout-5xx"]["consecutive_errors"] == 3
    assert h.state.rollback is not None
    assert h.state.rollback["by"] == "trigger:payout-5xx"
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]
