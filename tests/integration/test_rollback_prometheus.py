"""End to end with a real Prometheus: the error rate of a local app rises, the trigger fires, the run rolls back.

Prometheus (the Debian package) scrapes a loopback app every second (``start_prometheus`` in conftest); the
run's observe step reads the app's 5xx rate through the `prometheus` metric source. When the test raises the
error rate, the trigger fires, the rollback restores the kill-switch flags in a dotenv file and runs the plan,
and `golive status --json` / `golive flags --json` show the outcome as a person would read it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from golive.cli import run_cmds, watch_cmds
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite

pytestmark = pytest.mark.prometheus

WAIT_LIMIT = 60.0  # seconds a test waits for the run before it fails (Prometheus needs a few scrapes)
HEALTHY_READS = 1  # recorded ok readings before the test raises the error rate (samples come every 5 s)

RUNBOOK = """\
golive: 1
name: payout-rollback
title: Payout cutover
roles:
  ic: {title: Incident commander, may: [decide, rollback]}
vars:
  dir: {required: true}
  prometheus: {required: true}
  query: {type: promql, required: true}
flags:
  provider: {type: dotenv, with: {path: "${{ vars.dir }}/flags.env"}}
  safe: {PAYOUTS_ENABLED: false, PAYOUTS_NEW_ROUTER: false}
phases:
  - id: enable
    steps:
      - id: payouts-on
        kind: action
        type: flag
        with: {flags: {PAYOUTS_ENABLED: true, PAYOUTS_NEW_ROUTER: true}}
  - id: watch
    steps:
      - {id: observe-payouts, kind: observe, duration: 10m}
triggers:
  - id: payout-5xx
    title: Payout/Withdraw 5xx
    source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: "${{ vars.query }}"}}
    when: value > 0.15
    interval: 0.5s
    then: rollback
rollback:
  steps:
    - id: revert-release
      kind: action
      type: command
      with: {run: "echo reverted >> $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}
  confirm:
    - id: reverted
      kind: check
      type: command
      with: {run: "grep -q reverted $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}
"""


async def drive(db: Path, tmp_path: Path, prom: Any, service: str) -> str:
    """Run the runbook; once the trigger read the healthy rate, make 50% of payouts fail."""
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        loaded = loader.load_text(
            RUNBOOK,
            str(tmp_path / "runbook.yaml"),
            var_overrides={"dir": str(tmp_path), "prometheus": prom.url, "query": prom.error_rate(service)},
            environ={},
        )
        handle = await runner.create_run(store, loaded, roles={"ic": "alice"})
        task = asyncio.create_task(runner.Engine(handle, poll=0.05).run())
        limit = time.monotonic() + WAIT_LIMIT
        healthy: list[Any] = []
        while len(healthy) < HEALTHY_READS:
            assert time.monotonic() < limit, "the trigger never read the healthy rate"
            assert not task.done(), task.result()
            await asyncio.sleep(0.1)
            evs = await store.events(handle.run_id)
            healthy = [e for e in evs if e.type == "trigger_evaluated" and e.data["status"] == "ok"]
        assert {e.data["state"] for e in healthy} == {"ok"}
        prom.app.set_error_fraction(service, 0.5)
        assert await asyncio.wait_for(task, WAIT_LIMIT) is RunStatus.ROLLED_BACK
        return handle.run_id
    finally:
        await store.close()


@pytest.fixture(scope="module")
def rolled_back(
    start_prometheus: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, str]:
    prom = start_prometheus(services=("payout",))
    tmp_path = tmp_path_factory.mktemp("rollback-prometheus")
    (tmp_path / "flags.env").write_text("# kill switches\nPAYOUTS_ENABLED=false\nPAYOUTS_NEW_ROUTER=false\n")
    db = tmp_path / "golive.db"
    return db, tmp_path, asyncio.run(drive(db, tmp_path, prom, "payout"))


def test_status_json_says_rolled_back_by_the_trigger(rolled_back: tuple[Path, Path, str]) -> None:
    """`golive status --json`: status rolled_back, the reason names the trigger, rollback.by is trigger:<id>,
    the rollback finished and passed."""
    db, _, run_id = rolled_back
    res = CliRunner().invoke(run_cmds.status, [run_id, "--json", "--db", str(db)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["status"] == "rolled_back"
    assert "payout-5xx" in data["reason"]
    assert data["rollback"]["by"] == "trigger:payout-5xx"
    assert data["rollback"]["source"] == "trigger"
    assert data["rollback"]["finished_at"] is not None
    assert data["rollback"]["outcome"] == "pass"
    assert [s["id"] for s in data["rollback_steps"]] == [runner.RESTORE_FLAGS_STEP, "revert-release", "reverted"]
    assert [f["trigger"] for f in data["fired"]] == ["payout-5xx"]


def test_the_fire_reads_the_raised_error_rate_from_prometheus(rolled_back: tuple[Path, Path, str]) -> None:
    """The firing evaluation carries the value Prometheus computed (above the 0.15 line) and the window failed."""
    db, _, run_id = rolled_back

    async def look() -> Any:
        store = sqlite.SqliteStore(db)
        await store.open()
        try:
            return await acts.open_run(store, run_id)
        finally:
            await store.close()

    h = asyncio.run(look())
    [fired] = h.state.fired
    assert fired["then"] == "rollback"
    assert h.state.triggers["payout-5xx"]["value"] > 0.15
    window = h.state.step("observe-payouts")
    assert window.outcome is not None
    assert window.outcome.value == "fail"


def test_the_flags_read_back_at_their_safe_values(rolled_back: tuple[Path, Path, str]) -> None:
    """The dotenv file has the safe values again (its comment kept), and `golive flags --json` reads each
    one through the provider as safe."""
    db, tmp_path, run_id = rolled_back
    text = (tmp_path / "flags.env").read_text()
    assert "# kill switches" in text
    assert "PAYOUTS_ENABLED=false" in text
    assert "PAYOUTS_NEW_ROUTER=false" in text
    res = CliRunner().invoke(watch_cmds.flags, [run_id, "--json", "--db", str(db)])
    assert res.exit_code == 0, res.output
    rows = {r["flag"]: r for r in json.loads(res.output)["flags"]}
    assert {n: (r["current"], r["safe"], r["state"]) for n, r in rows.items()} == {
        "PAYOUTS_ENABLED": ("false", False, "safe"),
        "PAYOUTS_NEW_ROUTER": ("false", False, "safe"),
    }
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]
