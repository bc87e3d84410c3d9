"""The payments seed's rollback decision matrix, row for row, through the engine.

The six rows are the triggers of ``examples/payments-go-live.yaml`` (ids, conditions, ``for``, ``no_data``,
intervals and responses as written there); only their metric sources are swapped for sources the test
controls. Monitor rows (``then: notify``) fire and are recorded but the observe step goes on and passes;
each immediate-rollback row stops the step and rolls back, attributed to its trigger. The two rows a
person raises (migration failure, webhook misclassification) are raised with ``golive rollback --trigger``.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive import exceptions
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments-go-live.yaml"
WAIT_LIMIT = 30.0  # seconds a test waits for the run before it fails
MATRIX = {  # the seed's rows -> the example's trigger ids
    "Payout/Withdraw 404/5xx -> immediate rollback": "payout-withdraw-errors",
    "Migration failure -> immediate rollback": "migration-failure",
    "Ledger invariant breach -> immediate rollback": "ledger-invariant-breach",
    "Webhook misclassification -> immediate rollback": "webhook-misclassification",
    "Latency spike (no errors) -> monitor": "latency-spike",
    "Queue backlog (< SLA) -> monitor": "queue-backlog",
}
RESPONSE = {"immediate rollback": "rollback", "monitor": "notify"}


def example_triggers() -> list[dict[str, Any]]:
    """The matrix rows from the example, each metric source replaced by a `fake` source of the same name."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    rows = [t for t in doc["triggers"] if t["id"] in MATRIX.values()]
    for t in rows:
        if "source" in t:
            t["source"] = {"type": "fake", "with": {"name": t["id"]}}
        t.pop("armed", None)  # the example's phases are not this runbook's: armed by default, from its window
    return rows


def runbook(tmp_path: Path, window: str) -> loader.LoadedRunbook:
    doc = {
        "golive": 1,
        "name": "payments-matrix",
        "roles": {"ic": {"title": "Incident Commander", "may": ["decide", "rollback"]}, "db-owner": {}},
        "vars": {"dir": {"required": True}},
        "phases": [
            {"id": "observe", "steps": [{"id": "observe-first-2h", "kind": "observe", "duration": window}]},
            {
                "id": "after",
                "steps": [{"id": "announce", "kind": "action", "type": "command", "with": {"run": "true"}}],
            },
        ],
        "triggers": example_triggers(),
        "comms": {"cadence": []},  # no status updates: a cadence loop would move the FakeClock on its own
        "rollback": {
            "steps": [
                {
                    "id": "revert-release",
                    "kind": "action",
                    "type": "command",
                    # the directory reaches the shell as an environment variable, never as command text
                    "with": {"run": 'echo reverted >> "$DIR/rollback.log"', "env": {"DIR": "${{ vars.dir }}"}},
                }
            ]
        },
    }
    return loader.load_text(
        json.dumps(doc), str(tmp_path / "runbook.yaml"), var_overrides={"dir": str(tmp_path)}, environ={}
    )


def test_the_example_has_every_row_of_the_matrix_with_its_response() -> None:
    """Each of the six rows is a trigger of the payments example whose `then` is the row's response."""
    by_id = {t["id"]: t for t in example_triggers()}
    for row, tid in MATRIX.items():
        assert by_id[tid].get("then", "rollback") == RESPONSE[row.split(" -> ")[1]], row


async def test_monitor_rows_fire_and_are_recorded_but_the_window_passes(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """A sustained latency spike (for: 5m) and a queue backlog fire as notify: trigger_fired is recorded for
    each, the 2 h window still runs to its end and passes, and the run goes on (FakeClock: no real 2 h)."""
    fake_metrics["latency-spike"].set(2.4)  # p95 seconds, over the 1.5 s line
    fake_metrics["queue-backlog"].set(12)  # payouts waiting, under the SLA
    clock = FakeClock()
    h = await runner.create_run(store, runbook(tmp_path, "2h"), roles={"ic": "alice"})
    status = await asyncio.wait_for(runner.Engine(h, clock=clock, poll=1.0).run(), WAIT_LIMIT)
    assert status is RunStatus.PASSED
    fired = {e.data["trigger_id"]: e for e in await store.events(h.run_id) if e.type == "trigger_fired"}
    assert set(fired) == {"latency-spike", "queue-backlog"}
    assert {e.data["then"] for e in fired.values()} == {"notify"}
    assert fired["latency-spike"].data["reason"].endswith("is true for 5m")
    h = await acts.open_run(store, h.run_id)
    window = h.state.step("observe-first-2h")
    assert window.outcome is not None
    assert window.outcome.value == "pass"
    assert "notify: " in window.summary
    assert h.state.rollback is None
    assert clock.monotonic() >= 7200.0


@pytest.mark.parametrize("trigger_id", ["payout-withdraw-errors", "ledger-invariant-breach"])
async def test_a_metric_rollback_row_stops_the_window_and_rolls_back(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any, trigger_id: str
) -> None:
    """One 404/5xx on payouts, or one ledger invariant breach, fails the window at once and rolls back,
    attributed to the trigger (FakeClock)."""
    fake_metrics[trigger_id].set(1)
    h = await runner.create_run(store, runbook(tmp_path, "2h"), roles={"ic": "alice"})
    status = await asyncio.wait_for(runner.Engine(h, clock=FakeClock(), poll=1.0).run(), WAIT_LIMIT)
    assert status is RunStatus.ROLLED_BACK
    h = await acts.open_run(store, h.run_id)
    assert h.state.rollback is not None
    assert (h.state.rollback["by"], h.state.rollback["source"]) == (f"trigger:{trigger_id}", "trigger")
    assert trigger_id in h.state.reason
    window = h.state.step("observe-first-2h")
    assert window.outcome is not None
    assert window.outcome.value == "fail"
    announce = h.state.step("announce")  # never ran: recorded so, not left pending
    assert (announce.outcome and announce.outcome.value, announce.summary) == (
        "not-run",
        "not run: the run ended ROLLED-BACK",
    )
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]


@pytest.mark.parametrize("trigger_id", ["migration-failure", "webhook-misclassification"])
async def test_a_raised_rollback_row_stops_the_window_and_rolls_back(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any, trigger_id: str
) -> None:
    """The IC raises a person's row while the window runs: its fire is recorded, the window stops and the
    run rolls back as trigger:<id>, the reason naming the IC."""
    h = await runner.create_run(store, runbook(tmp_path, "2h"), roles={"ic": "alice"})
    task = asyncio.create_task(runner.Engine(h, poll=0.02).run())
    limit = time.monotonic() + WAIT_LIMIT
    other = await acts.open_run(store, h.run_id)
    while other.state.step("observe-first-2h").status != "running":
        assert time.monotonic() < limit
        assert not task.done()
        await asyncio.sleep(0.02)
        await other.refresh()
    await acts.request_rollback(other, "alice", "seen in the migration log", trigger=trigger_id)
    assert await asyncio.wait_for(task, WAIT_LIMIT) is RunStatus.ROLLED_BACK
    h = await acts.open_run(store, h.run_id)
    assert [f["trigger"] for f in h.state.fired] == [trigger_id]
    assert h.state.rollback is not None
    assert h.state.rollback["by"] == f"trigger:{trigger_id}"
    assert f"trigger {trigger_id} raised by alice: seen in the migration log" in h.state.reason


async def test_raising_a_trigger_that_has_a_source_is_a_usage_error(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """Only source-less rollback triggers are raised by a person; naming another says which ones can be."""
    h = await runner.create_run(store, runbook(tmp_path, "2h"), roles={"ic": "alice"})
    with pytest.raises(exceptions.UsageError, match="migration-failure, webhook-misclassification"):
        await acts.request_rollback(h, "alice", "by hand", trigger="latency-spike")
    assert h.state.rollback_requests == []
