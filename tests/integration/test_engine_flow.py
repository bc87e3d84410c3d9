"""The engine on a real SQLite store: phase order, needs, parallelism under the concurrency limit, timeouts,
retries, where a failure sends the run, and which outcome each step gets.

Order and overlap are read from event sequence numbers (the store's total order of commits) and from
marker files the steps write; nothing here asserts how fast anything is.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import base as store_base
from golive.store import sqlite

RUNBOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "runbooks"
FAST_POLL = 0.02  # seconds between the engine's looks at the log


def load(name: str, tmp_path: Path, *, replace: tuple[str, str] | None = None, **vars_: str) -> loader.LoadedRunbook:
    """A fixture runbook with ``dir`` pointing at the test's directory (optionally one text edit)."""
    path = RUNBOOKS / name
    text = path.read_text(encoding="utf-8")
    if replace is not None:
        assert replace[0] in text, f"{replace[0]!r} is not in {name}"
        text = text.replace(replace[0], replace[1])
    overrides = {"dir": str(tmp_path), **vars_} if "dir:" in text else dict(vars_)
    return loader.load_text(text, str(path), var_overrides=overrides, environ={})


async def run(store: store_base.Store, loaded: loader.LoadedRunbook, **kw: Any) -> tuple[acts.RunHandle, RunStatus]:
    handle = await runner.create_run(store, loaded, **kw)
    status = await runner.Engine(handle, poll=FAST_POLL).run()
    return handle, status


async def events(store: store_base.Store, h: acts.RunHandle) -> list[store_base.Event]:
    return await store.events(h.run_id)


def seq(evs: list[store_base.Event], type_: str, step_id: str) -> int:
    """The sequence number of the first event of this type for this step (or phase)."""
    found = [e.seq for e in evs if e.type == type_ and e.step_id == step_id]
    assert found, f"no {type_} event for {step_id}"
    return found[0]


def outcomes(h: acts.RunHandle) -> dict[str, str | None]:
    return {sid: (s.outcome.value if s.outcome else None) for sid, s in h.state.steps.items()}


async def test_phases_run_in_order_each_starting_after_the_previous_passed(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """Phase 'second' starts only after phase 'first' finished with pass."""
    h, status = await run(store, load("parallel.yaml", tmp_path))
    evs = await events(store, h)
    assert status is RunStatus.PASSED
    assert h.state.phases == {"first": "pass", "second": "pass"}
    assert seq(evs, "phase_finished", "first") < seq(evs, "phase_started", "second")
    assert (tmp_path / "order.log").read_text().split()[-1] == "last"


async def test_a_failed_phase_keeps_every_later_phase_from_starting(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """After a blocking failure in 'pre', phase 'post' never starts and its action never runs."""
    h, status = await run(store, load("failing.yaml", tmp_path))
    evs = await events(store, h)
    assert status is RunStatus.NO_GO
    assert not [e for e in evs if e.type == "phase_started" and e.step_id == "post"]
    assert h.state.phases["post"] == "not-run"  # recorded as never run, not left pending
    assert not (tmp_path / "unreached.log").exists()


async def test_independent_steps_run_at_the_same_time(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """'left' and 'right' each wait for the other's marker file, so both pass only if they overlapped; both
    started before either finished."""
    h, _ = await run(store, load("parallel.yaml", tmp_path))
    evs = await events(store, h)
    assert outcomes(h)["left"] == "pass"
    assert outcomes(h)["right"] == "pass"
    first_finish = min(seq(evs, "step_finished", "left"), seq(evs, "step_finished", "right"))
    assert seq(evs, "step_started", "left") < first_finish
    assert seq(evs, "step_started", "right") < first_finish


async def test_a_step_starts_only_after_its_needs_finished(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """'after' needs 'left' and 'right': it starts after both finished."""
    h, _ = await run(store, load("parallel.yaml", tmp_path))
    evs = await events(store, h)
    started = seq(evs, "step_started", "after")
    assert started > seq(evs, "step_finished", "left")
    assert started > seq(evs, "step_finished", "right")
    assert outcomes(h)["after"] == "pass"


async def test_the_concurrency_limit_holds_steps_back(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """With settings.concurrency 1, three independent steps never overlap."""
    h, status = await run(store, load("serial.yaml", tmp_path))
    evs = await events(store, h)
    assert status is RunStatus.PASSED
    spans = sorted((seq(evs, "step_started", s), seq(evs, "step_finished", s)) for s in ("one", "two", "three"))
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end < start, f"steps overlapped: {spans}"


async def test_two_steps_that_must_overlap_fail_under_concurrency_one(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """The overlap test can fail: with concurrency 1, 'left' waits for a 'right' that cannot start."""
    loaded = load("parallel.yaml", tmp_path, replace=("concurrency: 4", "concurrency: 1"))
    h, status = await run(store, loaded)
    assert status is RunStatus.NO_GO
    assert "fail" in {outcomes(h)["left"], outcomes(h)["right"]}


async def test_a_step_past_its_timeout_is_an_error_and_on_failure_stop_fails_the_run(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """timeout 300ms on `sleep 20`: outcome error (never pass), the run ends FAILED (on_failure: stop)."""
    h, status = await run(store, load("timeout.yaml", tmp_path))
    slow = h.state.steps["slow"]
    assert slow.outcome is not None
    assert slow.outcome.value == "error"
    assert "timed out" in slow.summary
    assert status is RunStatus.FAILED
    assert h.state.reason == "phase 'only' failed: slow"


async def test_retries_back_off_with_growing_waits(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """'flaky' fails twice, then passes: two step_retry events with waits 50ms then 100ms."""
    h, _ = await run(store, load("failing.yaml", tmp_path))
    evs = await events(store, h)
    retries = [e for e in evs if e.type == "step_retry" and e.step_id == "flaky"]
    assert [e.data["wait"] for e in retries] == [0.05, 0.1]
    assert [e.data["attempt"] for e in retries] == [1, 2]
    assert h.state.steps["flaky"].outcome is not None
    assert h.state.steps["flaky"].outcome.value == "pass"
    assert h.state.steps["flaky"].attempts == 3
    assert (tmp_path / "flaky.count").read_text().strip() == "3"


async def test_a_non_blocking_failure_is_a_warn(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """'soft' (blocking: false) exits 3: outcome warn, and the summary says it failed."""
    h, _ = await run(store, load("failing.yaml", tmp_path))
    soft = h.state.steps["soft"]
    assert soft.outcome is not None
    assert soft.outcome.value == "warn"
    assert soft.summary.startswith("fail (non-blocking):")


async def test_a_blocking_failure_with_on_failure_no_go_ends_no_go(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """'hard' fails: the phase fails, the step that needs it is not run (recorded, with why), run NO-GO."""
    h, status = await run(store, load("failing.yaml", tmp_path))
    assert status is RunStatus.NO_GO
    assert h.state.reason == "phase 'pre' failed: hard"
    assert outcomes(h)["hard"] == "fail"
    assert outcomes(h)["after_hard"] == "not-run"
    assert h.state.steps["after_hard"].summary == "not run: needs hard did not pass"
    assert not (tmp_path / "after_hard.log").exists()
    assert h.state.phases["pre"] == "fail"


async def test_on_failure_rollback_runs_the_rollback_plan_and_ends_rolled_back(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """on_failure: rollback runs the plan's steps and confirmation checks, then ROLLED_BACK with the reason."""
    loaded = load("failing.yaml", tmp_path, replace=("on_failure: no-go", "on_failure: rollback"))
    h, status = await run(store, loaded)
    assert status is RunStatus.ROLLED_BACK
    assert (tmp_path / "undo.log").read_text() == "undo\n"
    assert outcomes(h)["undo"] == "pass"
    assert outcomes(h)["undone"] == "pass"
    assert h.state.rollback is not None
    assert h.state.rollback["outcome"] == "pass"
    assert "phase 'pre' failed: hard" in h.state.reason
    assert not (tmp_path / "unreached.log").exists()


async def test_on_failure_stop_ends_failed_without_rollback(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """on_failure: stop ends the run FAILED; the rollback plan does not run."""
    loaded = load("failing.yaml", tmp_path, replace=("on_failure: no-go", "on_failure: stop"))
    h, status = await run(store, loaded)
    assert status is RunStatus.FAILED
    assert h.state.rollback is None
    assert not (tmp_path / "undo.log").exists()


async def test_a_blocking_failure_skips_what_waits_for_a_slot(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """Under concurrency 1, once a blocking step fails the steps still waiting for a slot are skipped (and
    say why) instead of running in a phase that already failed."""
    text = """
golive: 1
name: stop-early
settings: {concurrency: 1}
phases:
  - id: only
    steps:
      - {id: bad, kind: check, type: command, with: {run: "exit 1"}}
      - {id: later, kind: check, type: command, with: {run: "exit 0"}}
"""
    h, status = await run(store, loader.load_text(text, "stop-early.yaml", environ={}))
    assert status is RunStatus.NO_GO
    assert outcomes(h) == {"bad": "fail", "later": "not-run"}
    assert h.state.steps["later"].summary == "not run: the phase stopped (bad)"


async def test_every_event_of_a_run_is_attributed_and_the_chain_verifies(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """Engine events carry the actor 'golive'; the hash chain of the whole run verifies."""
    h, _ = await run(store, load("failing.yaml", tmp_path))
    evs = await events(store, h)
    assert all(e.actor for e in evs)
    assert await store.verify(h.run_id) == len(evs)


async def test_a_run_stopped_by_a_failed_step_continues_once_it_is_waived(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """NO-GO on 'hard'; the IC waives it with a ticket; resuming reopens the run: 'hard' is waived, phase
    'pre' is waived, phase 'post' runs and the run passes."""
    loaded = load(
        "failing.yaml", tmp_path, replace=("ic: {may: [decide, rollback]}", "ic: {may: [decide, rollback, waive]}")
    )
    h, status = await run(store, loaded, roles={"ic": "alice"})
    assert status is RunStatus.NO_GO
    await acts.waive(await acts.open_run(store, h.run_id), "hard", "alice", "CHG-77", "known issue, fixed tomorrow")
    h = await acts.open_run(store, h.run_id)
    status = await runner.Engine(h, poll=FAST_POLL).run()
    assert status is RunStatus.PASSED
    assert outcomes(h)["hard"] == "waived"
    assert h.state.phases["pre"] == "waived"
    assert (tmp_path / "unreached.log").read_text() == "ran\n"
    assert [e.type for e in await events(store, h)].count("run_reopened") == 1


async def test_a_blocking_failure_stops_waiting_for_a_manual_step_of_the_same_phase(
    store: sqlite.SqliteStore,
) -> None:
    """The phase fails while its manual step waits for a person: the step is skipped (the phase stopped)
    and the run ends NO-GO without anyone having to confirm a step of a failed phase."""
    text = """
golive: 1
name: stop-manual
roles: {ops: {}}
phases:
  - id: only
    steps:
      - {id: banner, kind: manual, role: ops, instructions: Put the maintenance banner up.}
      - {id: bad, kind: check, type: command, with: {run: "sleep 0.2; exit 1"}}
"""
    h, status = await run(store, loader.load_text(text, "stop-manual.yaml", environ={}), roles={"ops": "olga"})
    assert status is RunStatus.NO_GO
    assert outcomes(h) == {"banner": "not-run", "bad": "fail"}
    assert h.state.steps["banner"].summary == "not run: the phase stopped (bad)"
    evs = await events(store, h)
    assert seq(evs, "step_waiting", "banner") < seq(evs, "step_finished", "banner")


RETRIED_ACTION = """
golive: 1
name: retried-action
vars: {dir: {required: true}}
phases:
  - id: only
    steps:
      - id: push
        kind: action
        type: command
        idempotent: true
        retries: {attempts: 3, backoff: 50ms}
        with:
          cwd: "${{ vars.dir }}"
          run: "echo x >> push.count; [ $(wc -l < push.count) -ge 2 ]"
"""


async def test_an_idempotent_action_is_retried_after_a_failed_attempt(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """The first attempt fails, the second passes: the failed attempt is recorded (final: false) and the
    step ends pass."""
    loaded = loader.load_text(RETRIED_ACTION, "retried.yaml", var_overrides={"dir": str(tmp_path)}, environ={})
    h, status = await run(store, loaded)
    assert status is RunStatus.PASSED
    finished = [e.data for e in await events(store, h) if e.type == "action_finished"]
    assert [(d["outcome"], d.get("final", True)) for d in finished] == [("fail", False), ("pass", True)]
    assert (tmp_path / "push.count").read_text() == "x\nx\n"


async def test_a_crash_during_a_retry_back_off_does_not_make_the_failed_attempt_final(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """The process died after a failed attempt of an idempotent action (action_finished final: false, then
    step_retry): the resumed run tries again instead of ending on that attempt."""
    loaded = loader.load_text(RETRIED_ACTION, "retried.yaml", var_overrides={"dir": str(tmp_path)}, environ={})
    (tmp_path / "push.count").write_text("x\n")  # what the first, failed attempt left behind
    h = await runner.create_run(store, loaded)
    await h.append("phase_started", step_id="only", actor="golive")
    await h.append("action_started", step_id="push", actor="golive", attempt=1, describe="push")
    await h.append("action_finished", step_id="push", actor="golive", outcome="fail", attempt=1, final=False)
    await h.append("step_retry", step_id="push", actor="golive", attempt=1, wait=0.05, summary="exit code 1")
    assert h.state.steps["push"].status != "done"
    h = await acts.open_run(store, h.run_id)
    status = await runner.Engine(h, poll=FAST_POLL).run()
    assert status is RunStatus.PASSED
    assert outcomes(h)["push"] == "pass"
    assert (tmp_path / "push.count").read_text() == "x\nx\n"
