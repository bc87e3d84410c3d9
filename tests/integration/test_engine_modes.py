"""Run modes on a real SQLite store: dry-run (actions only describe themselves; only read-only plugins run)
and rehearsal (durations recorded and compared with the plan)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from golive import results
from golive.cli import plan_compare
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.plugins import base, registry
from golive.spec import loader
from golive.spec import plan as plan_mod
from golive.store import sqlite

RUNBOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "runbooks"


def modes(tmp_path: Path) -> loader.LoadedRunbook:
    return loader.load(RUNBOOKS / "modes.yaml", var_overrides={"dir": str(tmp_path)}, environ={})


async def run(store: sqlite.SqliteStore, loaded: loader.LoadedRunbook, mode: str) -> acts.RunHandle:
    h = await runner.create_run(store, loaded, mode=mode)
    await runner.Engine(h, poll=0.02).run()
    return h


async def test_a_dry_run_describes_actions_without_doing_them(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """The command action is skipped with what it would run, its marker file never appears; checks and the
    read-only wait action run; the run passes."""
    h = await run(store, modes(tmp_path), "dry-run")
    assert h.state.status is RunStatus.PASSED
    marker = h.state.steps["write_marker"]
    assert marker.outcome is results.Outcome.SKIPPED
    assert marker.summary == "dry-run: would run `echo done >> marker.log`" + f" in {tmp_path}"
    assert not (tmp_path / "marker.log").exists()
    assert h.state.steps["env_ok"].outcome is results.Outcome.PASS
    assert h.state.steps["pause"].outcome is results.Outcome.PASS  # wait declares read_only
    evs = await store.events(h.run_id)
    assert not [e for e in evs if e.type == "action_started" and e.step_id == "write_marker"]


class WritesParams(base.Params):
    """No parameters."""


class WritingCheck(base.CheckPlugin):
    """A check that says it is not read-only (a third-party plugin may): a dry run must not call it."""

    name: ClassVar[str] = "test-engine-writing-check"
    params: ClassVar[type[base.Params]] = WritesParams
    read_only: ClassVar[bool] = False
    calls: ClassVar[int] = 0

    async def run(self, ctx: base.StepContext) -> results.Result:
        WritingCheck.calls += 1
        return results.Result.ok("wrote something")


async def test_a_dry_run_skips_a_check_that_is_not_read_only(store: sqlite.SqliteStore) -> None:
    """A check plugin declaring read_only = False is not run in a dry run: skipped, saying why."""
    reg = registry.default_registry()
    if reg.get("check", WritingCheck.name) is None:
        reg.register(WritingCheck)
    text = f"""
golive: 1
name: writing-check
phases:
  - id: only
    steps:
      - {{id: w, kind: check, type: {WritingCheck.name}}}
"""
    h = await run(store, loader.load_text(text, "writing-check.yaml", environ={}), "dry-run")
    assert WritingCheck.calls == 0
    w = h.state.steps["w"]
    assert w.outcome is results.Outcome.SKIPPED
    assert "not read-only" in w.summary
    assert h.state.status is RunStatus.PASSED


async def test_a_live_run_does_the_action(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """The same runbook live: the action runs once, between action_started and action_finished."""
    h = await run(store, modes(tmp_path), "live")
    assert (tmp_path / "marker.log").read_text() == "done\n"
    types = [e.type for e in await store.events(h.run_id) if e.step_id == "write_marker"]
    assert types == ["action_started", "action_finished"]


async def test_a_rehearsal_records_durations_and_compares_them_with_the_plan(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """Every step of a rehearsal has a duration; the comparison marks slow_check late (0.5 s against 10 ms)
    and write_marker early, and gives the plan's and the actual critical path."""
    loaded = modes(tmp_path)
    h = await run(store, loaded, "rehearsal")
    assert h.state.mode == "rehearsal"
    assert all(isinstance(h.state.steps[s].duration, float) for s in ("env_ok", "slow_check", "write_marker"))
    data = plan_compare.compare(h, loaded, plan_mod.make_plan(loaded.runbook))
    by_id = {s["id"]: s for s in data["steps"]}
    assert data["late"] == ["slow_check"]
    assert by_id["slow_check"]["late_by"] > 0
    assert by_id["write_marker"]["late_by"] < 0
    assert data["critical_path"] == ["env_ok", "write_marker", "pause"]
    assert data["actual_critical_path"][0] == "slow_check"
    assert by_id["slow_check"]["on_actual_critical_path"]
    assert not by_id["slow_check"]["on_critical_path"]
    assert data["same_runbook"] is True
