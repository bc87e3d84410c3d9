"""`golive watch`, `golive hypercare --tick` and `golive flags` on a real run in a real SQLite store.

The run is driven by the real engine: an observe step watches a command metric for 2 s, then the IC
records GO. The commands then read what the run recorded.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from golive.cli import watch_cmds
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite

RUNBOOK = """\
golive: 1
name: watch-cli
title: Watch CLI cutover
roles:
  ic: {title: Incident commander, may: [decide, rollback]}
vars:
  dir: {required: true}
flags:
  provider: {type: json, with: {path: "${{ vars.dir }}/flags.json"}}
  safe: {payouts.enabled: false, payouts.new_router: false}
phases:
  - id: watch
    steps:
      - {id: window, kind: observe, duration: 2s, triggers: [error-rate]}
  - id: decide
    steps:
      - {id: go, kind: decision, role: ic, requires: [watch]}
triggers:
  - id: error-rate
    title: Payout 5xx rate
    source: {type: command, with: {run: "cat $DIR/rate", env: {DIR: "${{ vars.dir }}"}}}
    when: value > 0.15
    interval: 1s
    then: rollback
  - id: security
    title: Critical security incident
hypercare:
  tiers:
    - {from: 0h, until: 6h, every: 30m}
  checks:
    - {id: queue-ok, kind: check, type: command, with: {run: "exit 0"}}
    - {id: ledger-recon, kind: check, type: command, with: {run: "exit 3"}}
  reports:
    - {id: control-1h, title: First hypercare report, at: 1h}
"""


@dataclass
class Run:
    db: Path
    run_id: str
    dir: Path


async def _drive(db: Path, workdir: Path) -> str:
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        loaded = loader.load_text(
            RUNBOOK, str(workdir / "runbook.yaml"), var_overrides={"dir": str(workdir)}, environ={}
        )
        handle = await runner.create_run(store, loaded, roles={"ic": "alice"})
        engine = asyncio.ensure_future(runner.Engine(handle, poll=0.05).run())
        for _ in range(400):  # bounded: 20 s
            await asyncio.sleep(0.05)
            await handle.refresh()
            if handle.state.step("go").status == "waiting" or engine.done():
                break
        other = await acts.open_run(store, handle.run_id)
        await acts.decide(other, "go", "alice", "window clean")
        status = await asyncio.wait_for(engine, timeout=20)
        assert status is RunStatus.PASSED
        return handle.run_id
    finally:
        await store.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    workdir = tmp_path_factory.mktemp("watch-cli")
    (workdir / "rate").write_text("0.02\n")
    (workdir / "flags.json").write_text(json.dumps({"payouts": {"enabled": True, "new_router": False}}))
    db = workdir / "golive.db"
    return Run(db, asyncio.run(_drive(db, workdir)), workdir)


def test_watch_once_shows_every_trigger_with_value_threshold_state_and_sparkline(run: Run) -> None:
    """`watch --once` prints a table row per trigger with the recorded value, the `when` text and a sparkline."""
    res = CliRunner().invoke(watch_cmds.watch, [run.run_id, "--once", "--db", str(run.db)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Payout 5xx rate" in res.output
    assert "value > 0.15" in res.output
    assert "0.02" in res.output
    assert "raised by a person" in res.output
    assert any(ch in res.output for ch in watch_cmds.SPARK_BLOCKS)


def test_watch_json_carries_the_history_recorded_by_the_observe_step(run: Run) -> None:
    """`watch --json` gives each trigger's state and the values the observe step recorded."""
    res = CliRunner().invoke(watch_cmds.watch, [run.run_id, "--json", "--db", str(run.db)])
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in json.loads(res.output)["triggers"]}
    assert rows["error-rate"]["state"] == "ok"
    assert rows["error-rate"]["history"]
    assert set(rows["error-rate"]["history"]) == {0.02}
    assert rows["security"]["state"] == "-"


def test_flags_shows_current_against_safe_values(run: Run) -> None:
    """`flags --json` reads each safe-listed flag through the provider and says whether it is at its safe value."""
    res = CliRunner().invoke(watch_cmds.flags, [run.run_id, "--json", "--db", str(run.db)])
    assert res.exit_code == 0, res.output
    rows = {r["flag"]: r for r in json.loads(res.output)["flags"]}
    assert (rows["payouts.enabled"]["current"], rows["payouts.enabled"]["state"]) == (True, "not safe")
    assert (rows["payouts.new_router"]["current"], rows["payouts.new_router"]["state"]) == (False, "safe")


def test_hypercare_tick_runs_the_due_checks_records_them_and_alerts_on_failure(run: Run, tmp_path: Path) -> None:
    """`hypercare --tick` right after GO runs the first slot: one check passes, the failing one alerts, exit 1;
    a second tick at the same time runs nothing."""
    args = [run.run_id, "--tick", "--json", "--db", str(run.db), "--out", str(tmp_path)]
    first = CliRunner().invoke(watch_cmds.hypercare, args)
    assert first.exit_code == 1, (first.output, first.exception)
    data = json.loads(first.stdout)
    assert {c["check_id"]: c["outcome"] for c in data["checks"]} == {"queue-ok": "pass", "ledger-recon": "fail"}
    second = CliRunner().invoke(watch_cmds.hypercare, args)
    assert json.loads(second.stdout)["checks"] == []

    async def events() -> list[str]:
        store = sqlite.SqliteStore(run.db)
        await store.open()
        try:
            return [e.type for e in await store.events(run.run_id)]
        finally:
            await store.close()

    types = asyncio.run(events())
    assert types.count("hypercare_check") == 2
    assert types.count("hypercare_alert") == 1


def test_hypercare_until_past_the_report_writes_it(run: Run, tmp_path: Path) -> None:
    """The first-hour report is written once its time has passed; its Markdown lists the checks."""

    async def go_at() -> datetime:
        store = sqlite.SqliteStore(run.db)
        await store.open()
        try:
            h = await acts.open_run(store, run.run_id)
            assert h.state.go_at is not None
            return datetime.fromisoformat(h.state.go_at.replace("Z", "+00:00"))
        finally:
            await store.close()

    go = asyncio.run(go_at())
    # The real clock cannot jump an hour: drive the runner the CLI builds with a fake clock instead.
    from golive.testing import FakeClock

    async def simulate() -> list[str]:
        # One fake clock for the store, hence the engine and its status-update cadence, and the runner: a
        # runner on a fake clock beside a notifier on the real one waits for a status update the real clock
        # has not reached, and ticks every millisecond until it has.
        clock = FakeClock(max(go, datetime.now(UTC)))
        store = sqlite.SqliteStore(run.db, clock)
        await store.open()
        try:
            r = await watch_cmds.hypercare_runner(store, run.run_id, tmp_path, lambda s: None)
            r.clock = clock
            await r.run_forever(until=go + timedelta(hours=1, minutes=1))
            return sorted(r.written)
        finally:
            await store.close()

    assert asyncio.run(simulate()) == ["control-1h"]
    md = (tmp_path / "control-1h.md").read_text()
    assert "First hypercare report" in md
    assert "| queue-ok |" in md
    assert json.loads((tmp_path / "control-1h.json").read_text())["status"] == "fail"
