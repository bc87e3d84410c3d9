"""`then: pause` triggers through the engine: "IC decides within 5 minutes".

A pause trigger makes the observe step wait for the IC with a deadline and a default. GO continues the
window: the evaluators are reset and the rest of the window is watched (a GO never passes a window that was
not watched for its whole duration); NO-GO rolls back; past the deadline the default applies (FakeClock,
no real five minutes); anyone without the decide power is refused.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from golive import exceptions
from golive.engine import acts
from golive.engine.state import RunState, RunStatus, parse_ts
from golive.spec import loader
from golive.store import base as store_base
from golive.store import sqlite
from golive.testing import FakeClock, RunningEngine, start_engine
from golive.views import summary

FAST_POLL = 0.02  # seconds between the engine's looks at the log
WAIT_LIMIT = 30.0  # seconds a test waits for the run to reach a state before it fails

RUNBOOK = """\
golive: 1
name: rollback-pause
roles:
  ic: {title: Incident commander, may: [decide]}
  observer: {title: Observer}
vars:
  dir: {required: true}
phases:
  - id: watch
    steps:
      - {id: window, kind: observe, duration: 2s}
  - id: after
    steps:
      - {id: done, kind: action, type: command, with: {run: "echo after >> $DIR/after.log", env: {DIR: "${{ vars.dir }}"}}}
triggers:
  - id: payout-failure-rate
    title: Payout failure rate > 15%
    source: {type: fake, with: {name: failure-rate}}
    when: value > 0.15
    interval: 0.1s
    then: pause
    deadline: 5m
    default: rollback
  - id: payout-5xx
    title: Payout 5xx
    source: {type: fake, with: {name: errors}}
    when: value > 0
    interval: 0.1s
    then: rollback
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: "echo reverted >> $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}}
"""

ROLES = {"ic": "alice", "observer": "otto"}


def load(tmp_path: Path, text: str = RUNBOOK) -> loader.LoadedRunbook:
    return loader.load_text(text, str(tmp_path / "runbook.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})


async def paused(r: RunningEngine, count: int = 1) -> acts.RunHandle:
    """Until the window waits on its ``count``-th pause."""

    def pred(s: RunState) -> bool:
        return s.step("window").waiting_for == "pause" and len(s.fired) >= count

    handle: acts.RunHandle = await r.until(f"pause {count}", pred)
    return handle


async def start(
    store: store_base.Store, loaded: loader.LoadedRunbook, *, clock: Any = None, poll: float = FAST_POLL
) -> RunningEngine:
    return await start_engine(store, loaded, roles=ROLES, clock=clock, poll=poll)


async def test_a_pause_trigger_makes_a_pending_decision_with_a_deadline_and_a_default(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """The fire puts the window in waiting (what: pause) with the trigger's 5-minute deadline and its default;
    the run is WAITING and `status --json` lists it as pending."""
    fake_metrics["failure-rate"].set(0.4)
    r = await start(store, load(tmp_path))
    h = await paused(r)
    [fired] = await r.events("trigger_fired")
    [waiting] = [e for e in await r.events("step_waiting") if e.step_id == "window"]
    assert (waiting.data["what"], waiting.data["trigger"], waiting.data["default"]) == (
        "pause",
        "payout-failure-rate",
        "rollback",
    )
    deadline, fired_at = parse_ts(waiting.data["deadline"]), parse_ts(fired.data["ts"])
    assert deadline is not None
    assert fired_at is not None
    assert deadline - fired_at == timedelta(minutes=5)
    assert h.state.status is RunStatus.WAITING
    [pending] = summary.summarize(h)["pending"]
    assert (pending["id"], pending["waiting_for"], pending["default"]) == ("window", "pause", "rollback")
    await acts.decide(h, "no-go", "alice", "end the test")
    await r.finished()


async def test_the_default_rollback_applies_when_the_deadline_passes(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """On a FakeClock nobody answers within 5 minutes: decision_defaulted (rollback) is recorded and the run
    rolls back, attributed to the deadline. No real five minutes pass."""
    clock = FakeClock()
    fake_metrics["failure-rate"].set(0.4)
    r = await start(store, load(tmp_path), clock=clock, poll=1.0)
    assert await r.finished() is RunStatus.ROLLED_BACK
    [defaulted] = await r.events("decision_defaulted")
    assert (defaulted.step_id, defaulted.data["default"]) == ("window", "rollback")
    h = await r.view()
    assert h.state.rollback is not None
    assert (h.state.rollback["by"], h.state.rollback["source"]) == ("deadline", "decision")
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]
    assert not (tmp_path / "after.log").exists()
    assert clock.monotonic() >= 300.0  # the fake clock went past the deadline


async def test_no_go_by_the_ic_rolls_back(store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any) -> None:
    """NO-GO on a pause fails the window and runs the rollback plan, started by the IC, with the reason."""
    fake_metrics["failure-rate"].set(0.4)
    r = await start(store, load(tmp_path))
    h = await paused(r)
    await acts.decide(h, "no-go", "alice", "failure rate is real")
    assert await r.finished() is RunStatus.ROLLED_BACK
    h = await r.view()
    assert h.state.rollback is not None
    assert (h.state.rollback["by"], h.state.rollback["source"]) == ("alice", "decision")
    assert "failure rate is real" in h.state.reason
    window = h.state.step("window")
    assert window.outcome is not None
    assert window.outcome.value == "fail"
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]


async def test_someone_without_the_decide_power_is_refused(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """The observer cannot answer a pause: RuleRefused, recorded as act_refused; the pause still waits."""
    fake_metrics["failure-rate"].set(0.4)
    r = await start(store, load(tmp_path))
    h = await paused(r)
    with pytest.raises(exceptions.RuleRefused, match="otto holds none of the roles that decide a pause"):
        await acts.decide(h, "go", "otto", "looks fine to me")
    [refused] = await r.events("act_refused")
    assert (refused.actor, refused.step_id, refused.data["act"]) == ("otto", "window", "decide go")
    h = await r.view()
    assert h.state.step("window").status == "waiting"
    await acts.decide(h, "no-go", "alice", "end the test")
    await r.finished()


async def test_go_by_the_ic_watches_the_rest_of_the_window_and_then_passes(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """GO (the pending pause found without naming the step) resumes the window: triggers are read again
    after the decision, the window passes, and the run goes on to PASSED."""
    fake_metrics["failure-rate"].set(0.4)
    r = await start(store, load(tmp_path))
    h = await paused(r)
    fake_metrics["failure-rate"].set(0.02)
    await acts.decide(h, "go", "alice", "a known partner outage, not us")
    assert await r.finished() is RunStatus.PASSED
    evs = await r.events()
    decided = next(i for i, e in enumerate(evs) if e.type == "decision_recorded")
    resumed = next(i for i, e in enumerate(evs) if e.type == "step_started" and e.data.get("resumed"))
    passed = next(i for i, e in enumerate(evs) if e.type == "step_finished" and e.step_id == "window")
    assert decided < resumed < passed
    assert any(e.type == "trigger_evaluated" for e in evs[resumed:passed])
    h = await r.view()
    window = h.state.step("window")
    assert window.outcome is not None
    assert window.outcome.value == "pass"
    assert "paused by payout-failure-rate; GO by alice" in window.summary
    assert h.state.go_at is None  # GO after a pause is not the go-live's GO (hypercare counts from that)


async def test_after_go_a_rollback_trigger_in_the_rest_of_the_window_still_rolls_back(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """The window is still watched after GO: a 5xx burst in the remaining time rolls back."""
    fake_metrics["failure-rate"].set(0.4)
    r = await start(store, load(tmp_path))
    h = await paused(r)
    fake_metrics["failure-rate"].set(0.02)
    fake_metrics["errors"].set(3.0)
    await acts.decide(h, "go", "alice", "go on")
    assert await r.finished() is RunStatus.ROLLED_BACK
    h = await r.view()
    assert h.state.rollback is not None
    assert h.state.rollback["by"] == "trigger:payout-5xx"
    assert not (tmp_path / "after.log").exists()


async def test_after_go_the_pause_trigger_is_re_armed_and_pauses_again(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """After GO the evaluators are reset: a breach that goes on fires the pause trigger again, a second
    pending decision is made (the first answer does not count for it), and NO-GO then rolls back."""
    fake_metrics["failure-rate"].set(0.4)
    r = await start(store, load(tmp_path))
    await acts.decide(await paused(r), "go", "alice", "give it a minute")
    h = await paused(r, count=2)
    assert [e.data["what"] for e in await r.events("step_waiting")] == ["pause", "pause"]
    await acts.decide(h, "no-go", "alice", "still failing")
    assert await r.finished() is RunStatus.ROLLED_BACK
    assert "still failing" in (await r.view()).state.reason
