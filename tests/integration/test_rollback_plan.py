"""The rollback plan through the engine (real SQLite store, real flag files, real commands).

Order: the flags' safe values first (the fastest lever), then the plan's steps in order, then the
confirmation checks. Started by a trigger, by a NO-GO, or by a person holding a permitted role; anyone
else is refused. Phased enablement sets the kill-switch flags in order; rollback restores their safe
values, lists included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from golive import exceptions
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import base as store_base
from golive.store import sqlite
from golive.testing import RunningEngine, start_engine

FAST_POLL = 0.02  # seconds between the engine's looks at the log
WAIT_LIMIT = 30.0  # seconds a test waits for the run to reach a state before it fails

RUNBOOK = """\
golive: 1
name: rollback-plan
title: Ticket routing go-live
roles:
  ic: {title: Incident commander, may: [decide]}
  release-manager: {title: Release manager}
  observer: {title: Observer}
settings:
  rollback_roles: [release-manager]
vars:
  dir: {required: true}
flags:
  provider: {type: json, with: {path: "${{ vars.dir }}/flags.json"}}
  safe:
    automation_enabled: false
    safe_mode: true
    templates.whitelist: []
  descriptions:
    automation_enabled: Master kill switch of the routing automation
phases:
  - id: routing-only
    steps:
      - id: enable-routing
        kind: action
        type: flag
        with: {flags: {automation_enabled: true, safe_mode: true, templates.whitelist: []}}
  - id: tier-1
    steps:
      - id: enable-tier-1
        kind: action
        type: flag
        with: {flags: {templates.whitelist: [password-reset, order-status]}}
  - id: tier-2
    steps:
      - id: enable-tier-2
        kind: action
        type: flag
        with: {flags: {safe_mode: false, templates.whitelist: [password-reset, order-status, refund-status]}}
  - id: watch
    steps:
      - {id: window, kind: observe, duration: 60s, triggers: [misroutes]}
      - {id: go, kind: decision, role: ic, needs: [window], requires: [window], deadline: 5m, default: hold}
triggers:
  - id: misroutes
    title: Misrouted tickets
    source: {type: fake, with: {name: misroutes}}
    when: value > 0.05
    interval: 0.2s
    then: rollback
rollback:
  steps:
    - id: disable-rules
      title: Surgical disable of the routing rules
      kind: action
      type: command
      with: {run: "echo rules-off >> $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}
    - id: revert-deploy
      title: Revert the middleware deploy
      kind: action
      type: command
      with: {run: "echo reverted >> $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}
  confirm:
    - id: no-new-invocations
      title: No new invocations
      kind: check
      type: command
      with: {run: "grep -q reverted $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}
"""

ROLES = {"ic": "alice", "release-manager": "rita", "observer": "otto"}
SAFE = {"automation_enabled": False, "safe_mode": True, "templates": {"whitelist": []}}


def load(tmp_path: Path, text: str = RUNBOOK) -> loader.LoadedRunbook:
    (tmp_path / "flags.json").write_text("{}")
    return loader.load_text(text, str(tmp_path / "runbook.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})


async def start(store: store_base.Store, loaded: loader.LoadedRunbook, roles: dict[str, str] = ROLES) -> RunningEngine:
    return await start_engine(store, loaded, roles=roles, poll=FAST_POLL)


def flags(tmp_path: Path) -> Any:
    return json.loads((tmp_path / "flags.json").read_text())


def order(events: list[store_base.Event]) -> list[str]:
    """Step ids of the rollback, in the order they started."""
    plan = {runner.RESTORE_FLAGS_STEP, "disable-rules", "revert-deploy", "no-new-invocations"}
    return [e.step_id for e in events if e.type in ("action_started", "step_started") and e.step_id in plan]


async def test_a_trigger_rolls_back_flags_first_then_steps_in_order_then_confirm(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """A rollback trigger's fire runs: restore_safe_flags, disable-rules, revert-deploy, no-new-invocations."""
    r = await start(store, load(tmp_path))
    await r.until("window watching", lambda s: s.step("window").status == "running")
    fake_metrics["misroutes"].set(0.2)
    assert await r.finished() is RunStatus.ROLLED_BACK
    evs = await r.events()
    assert order(evs) == [runner.RESTORE_FLAGS_STEP, "disable-rules", "revert-deploy", "no-new-invocations"]
    types = [e.type for e in evs]
    assert types.index("trigger_fired") < types.index("rollback_started") < types.index("rollback_finished")
    h = await r.view()
    assert h.state.rollback is not None
    assert (h.state.rollback["by"], h.state.rollback["source"], h.state.rollback["outcome"]) == (
        "trigger:misroutes",
        "trigger",
        "pass",
    )
    assert "misroutes" in h.state.reason
    assert flags(tmp_path) == SAFE
    assert (tmp_path / "rollback.log").read_text().split() == ["rules-off", "reverted"]


async def test_a_no_go_with_on_no_go_rollback_runs_the_plan_started_by_the_ic(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """NO-GO on a decision with on_no_go: rollback (the default) runs the whole plan, attributed to the IC."""
    r = await start(store, load(tmp_path, RUNBOOK.replace("duration: 60s", "duration: 0.5s")))
    h = await r.until("go waiting", lambda s: s.step("go").status == "waiting")
    await acts.decide(h, "no-go", "alice", "misroute sample looks wrong")
    assert await r.finished() is RunStatus.ROLLED_BACK
    h = await r.view()
    assert h.state.rollback is not None
    assert (h.state.rollback["by"], h.state.rollback["source"]) == ("alice", "decision")
    assert "NO-GO by alice: misroute sample looks wrong" in h.state.reason
    assert order(await r.events()) == [
        runner.RESTORE_FLAGS_STEP,
        "disable-rules",
        "revert-deploy",
        "no-new-invocations",
    ]
    assert flags(tmp_path) == SAFE


@pytest.mark.parametrize("person", ["rita", "alice"], ids=["rollback-role", "decide-power"])
async def test_a_permitted_person_starts_the_rollback_of_a_running_run(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any, person: str
) -> None:
    """A holder of a rollback role (settings.rollback_roles) or of the decide power asks for the rollback;
    the running engine stops watching and runs the plan; the reason names the person."""
    r = await start(store, load(tmp_path))
    h = await r.until("window watching", lambda s: s.step("window").status == "running")
    await acts.request_rollback(h, person, "customers report wrong queues")
    assert await r.finished() is RunStatus.ROLLED_BACK
    h = await r.view()
    assert h.state.rollback is not None
    assert (h.state.rollback["by"], h.state.rollback["source"]) == (person, "person")
    assert "customers report wrong queues" in h.state.reason
    assert person in h.state.reason
    assert order(await r.events()) == [
        runner.RESTORE_FLAGS_STEP,
        "disable-rules",
        "revert-deploy",
        "no-new-invocations",
    ]
    window = h.state.step("window")  # the interrupted window is ended, not left running
    assert (window.status, window.outcome and window.outcome.value) == ("done", "not-run")
    assert window.summary.startswith(f"abandoned: the rollback was started by {person}")


async def test_a_person_without_a_rollback_role_is_refused_and_the_run_goes_on(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """An observer asking for the rollback gets RuleRefused naming the permitted roles, recorded as act_refused;
    the run is not rolled back."""
    r = await start(store, load(tmp_path, RUNBOOK.replace("duration: 60s", "duration: 0.5s")))
    h = await r.until("window watching", lambda s: s.step("window").status in ("running", "done"))
    with pytest.raises(exceptions.RuleRefused, match="release-manager") as err:
        await acts.request_rollback(h, "otto", "I do not like it")
    assert "ic" in err.value.message
    h = await r.until("go waiting", lambda s: s.step("go").status == "waiting")
    assert h.state.refusals[-1]["act"] == "rollback"
    assert h.state.refusals[-1]["by"] == "otto"
    assert h.state.rollback_requests == []
    await acts.decide(h, "go", "alice", "clean window")
    assert await r.finished() is RunStatus.PASSED
    assert (await r.view()).state.rollback is None


async def test_phased_enablement_sets_the_flags_in_order_and_rollback_restores_the_safe_values(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """Routing-only, then Tier 1, then Tier 2 set automation_enabled, safe_mode and the template whitelist in
    that order (read back after each); the rollback puts every declared flag, the list too, at its safe value."""
    r = await start(store, load(tmp_path))
    h = await r.until("window watching", lambda s: s.step("window").status == "running")
    finished = [e for e in await r.events() if e.type == "action_finished"]
    assert [e.step_id for e in finished] == ["enable-routing", "enable-tier-1", "enable-tier-2"]
    after = [{k: v["after"] for k, v in e.data["output"]["flags"].items()} for e in finished]
    assert after == [
        {"automation_enabled": True, "safe_mode": True, "templates.whitelist": []},
        {"templates.whitelist": ["password-reset", "order-status"]},
        {"safe_mode": False, "templates.whitelist": ["password-reset", "order-status", "refund-status"]},
    ]
    assert flags(tmp_path) == {
        "automation_enabled": True,
        "safe_mode": False,
        "templates": {"whitelist": ["password-reset", "order-status", "refund-status"]},
    }
    await acts.request_rollback(h, "rita", "tier 2 templates misfire")
    assert await r.finished() is RunStatus.ROLLED_BACK
    assert flags(tmp_path) == SAFE
    restore = (await r.view()).state.step(runner.RESTORE_FLAGS_STEP)
    assert restore.outcome is not None
    assert restore.outcome.value == "pass"
    assert restore.output["flags"]["templates.whitelist"] == {
        "before": ["password-reset", "order-status", "refund-status"],
        "wanted": [],
        "after": [],
    }


async def test_a_failing_rollback_step_is_recorded_and_the_plan_goes_on(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """A rollback step that fails does not stop the rest of the plan (the revert still runs); the run ends
    ROLLED_BACK saying some rollback steps failed, and rollback_finished names them."""
    text = RUNBOOK.replace("echo rules-off >> $DIR/rollback.log", "exit 3")
    r = await start(store, load(tmp_path, text))
    h = await r.until("window watching", lambda s: s.step("window").status == "running")
    await acts.request_rollback(h, "rita", "misroutes seen by hand")
    assert await r.finished() is RunStatus.ROLLED_BACK
    h = await r.view()
    assert h.state.rollback is not None
    assert h.state.rollback["outcome"] == "fail"
    assert "some rollback steps failed" in h.state.reason
    finished = [e for e in await r.events() if e.type == "rollback_finished"]
    assert finished[0].data["failed"] == ["disable-rules"]
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]
