"""The scheduler without I/O: phase order, needs, timeouts, retries, deadlines and rollback order.

Each run is on the in-memory store (``golive.store.memory``) under the fake clock (``golive.clock.FakeClock``),
with plugins made here and registered the way plugins are (a :class:`Registry`, the loader checking their
params against it): no socket, no subprocess, no file. The plugins note when (on the run's clock) each step
ran; the flag provider keeps its flags in a dict. The integration tests drive the same engine through real
commands, HTTP and stores.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any, ClassVar

from golive import results
from golive.clock import FakeClock, parse_time
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.plugins import base as plugin_base
from golive.plugins import registry as registry_mod
from golive.spec import loader
from golive.store.memory import InMemoryStore

HEADER = """
golive: 1
name: scheduler
roles:
  ic: {description: incident commander}
"""


class ScriptParams(plugin_base.Params):
    """What a scripted step does: its outcome at each attempt (the last one repeats), run-clock seconds it
    takes, or hangs until it is stopped."""

    outcomes: tuple[str, ...] = ("pass",)
    took: float = 0.0
    hang: bool = False


@dataclass
class World:
    """What the plugins of one test saw: (step, attempt, run-clock start, end) per call, and the flags."""

    clock: FakeClock
    calls: list[tuple[str, int, float, float]] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)
    journal: list[str] = field(default_factory=list)  # step ids (and "flags") as they started

    def starts(self) -> dict[str, float]:
        """Each step's first start, in run-clock seconds after the first step started."""
        base = min(c[2] for c in self.calls)
        out: dict[str, float] = {}
        for c in self.calls:
            out.setdefault(c[0], c[2] - base)
        return out

    def attempts(self, step_id: str) -> int:
        return sum(1 for c in self.calls if c[0] == step_id)

    def order(self) -> list[str]:
        """Step ids (and ``flags`` for a flag write) in the order they started, repeats folded."""
        j = self.journal
        return [n for i, n in enumerate(j) if i == 0 or j[i - 1] != n]


def make_registry(world: World) -> registry_mod.Registry:
    """The built-ins plus a scripted check, a scripted action and an in-memory flag provider."""

    async def play(ctx: plugin_base.StepContext) -> results.Result:
        p: ScriptParams = ctx.params
        attempt = world.attempts(ctx.step_id) + 1
        start = world.clock.monotonic()
        at = len(world.calls)
        world.calls.append((ctx.step_id, attempt, start, start))
        world.journal.append(ctx.step_id)
        if p.hang:
            await asyncio.Event().wait()
        if p.took:
            await world.clock.sleep(p.took)
        world.calls[at] = (ctx.step_id, attempt, start, world.clock.monotonic())
        outcome = p.outcomes[min(attempt, len(p.outcomes)) - 1]
        return results.Result(outcome=results.Outcome(outcome), summary=f"{outcome} at attempt {attempt}")

    class ScriptedCheck(plugin_base.CheckPlugin):
        name: ClassVar[str] = "scripted"
        params: ClassVar[type[plugin_base.Params]] = ScriptParams

        async def run(self, ctx: plugin_base.StepContext) -> results.Result:
            return await play(ctx)

    class ScriptedAction(plugin_base.ActionPlugin):
        name: ClassVar[str] = "scripted"
        params: ClassVar[type[plugin_base.Params]] = ScriptParams

        def describe(self, ctx: plugin_base.StepContext) -> str:
            return f"would play {ctx.step_id}"

        async def run(self, ctx: plugin_base.StepContext) -> results.Result:
            return await play(ctx)

    class MemoryFlags(plugin_base.FlagProvider):
        name: ClassVar[str] = "in-memory"
        params: ClassVar[type[plugin_base.Params]] = plugin_base.Params

        async def get(self, name: str) -> Any:
            return world.flags.get(name)

        async def set(self, name: str, value: Any) -> None:
            world.flags[name] = value
            world.journal.append("flags")

    reg = registry_mod.Registry()
    reg.load_builtins()
    for plugin in (ScriptedCheck, ScriptedAction, MemoryFlags):
        reg.register(plugin)
    return reg


async def run(body: str, *, world: World | None = None, act: Any = None) -> tuple[acts.RunHandle, World]:
    """Run a runbook (``HEADER`` + ``body``) to its end; ``act(view)`` plays a person beside it, on a fresh
    handle as another process opens it (see :func:`waiting`)."""
    clock = FakeClock()
    world = world or World(clock)
    world.clock = clock
    reg = make_registry(world)
    loaded = loader.load_text(HEADER + body, "scheduler.yaml", registry=reg, environ={})
    store = InMemoryStore(clock)
    await store.open()
    handle = await runner.create_run(store, loaded, clock=clock, roles={"ic": "ines"})
    engine = runner.Engine(handle, clock=clock, registry=reg)
    task = asyncio.create_task(engine.run())
    if act is not None:
        await act(lambda: acts.open_run(store, handle.run_id, loaded=loaded))
    await asyncio.wait_for(task, 30)
    return handle, world


def outcome(h: acts.RunHandle, step_id: str) -> str | None:
    o = h.state.step(step_id).outcome
    return None if o is None else o.value


async def waiting(view: Any, step_id: str) -> acts.RunHandle:
    """A fresh handle once ``step_id`` waits for a person (the stored runbook read with this test's plugins)."""
    while True:
        h: acts.RunHandle = await view()
        if h.state.step(step_id).status == "waiting":
            return h
        await asyncio.sleep(0)


async def events(h: acts.RunHandle, type_: str) -> list[Any]:
    return [e for e in await h.store.events(h.run_id) if e.type == type_]


# -- phase order ---------------------------------------------------------------------------------------------


async def test_phases_run_in_their_order_each_after_the_one_before_finished() -> None:
    h, world = await run("""
phases:
  - id: first
    steps: [{id: a, kind: check, type: scripted, with: {took: 30}}]
  - id: second
    steps: [{id: b, kind: check, type: scripted, with: {took: 5}}]
  - id: third
    steps: [{id: c, kind: check, type: scripted}]
""")
    assert h.state.status is RunStatus.PASSED
    assert world.order() == ["a", "b", "c"]
    assert world.starts() == {"a": 0.0, "b": 30.0, "c": 35.0}
    seq = [(e.type, e.step_id) for e in await h.store.events(h.run_id) if e.type.startswith("phase_")]
    assert seq == [
        ("phase_started", "first"),
        ("phase_finished", "first"),
        ("phase_started", "second"),
        ("phase_finished", "second"),
        ("phase_started", "third"),
        ("phase_finished", "third"),
    ]


async def test_a_failed_phase_stops_the_run_and_the_later_phases_never_start() -> None:
    h, world = await run("""
phases:
  - id: first
    on_failure: stop
    steps: [{id: a, kind: check, type: scripted, with: {outcomes: [fail]}}]
  - id: second
    steps: [{id: b, kind: check, type: scripted}]
""")
    assert h.state.status is RunStatus.FAILED
    assert world.order() == ["a"]
    assert h.state.phases == {"first": "fail", "second": "not-run"}
    assert outcome(h, "b") == "not-run"


# -- needs and concurrency -----------------------------------------------------------------------------------


async def test_a_step_starts_when_its_needs_finished_and_the_rest_run_together() -> None:
    h, world = await run("""
phases:
  - id: only
    steps:
      - {id: a, kind: check, type: scripted, with: {took: 10}}
      - {id: b, kind: check, type: scripted, with: {took: 20}}
      - {id: c, kind: check, type: scripted, needs: [a, b], with: {took: 1}}
      - {id: d, kind: check, type: scripted, needs: [a]}
""")
    assert h.state.status is RunStatus.PASSED
    span = {c[0]: (c[2], c[3]) for c in world.calls}
    assert span["a"][0] == span["b"][0]  # no needs: they start together
    assert span["d"][0] >= span["a"][1]
    assert span["c"][0] >= max(span["a"][1], span["b"][1])


async def test_concurrency_bounds_the_steps_that_run_at_once() -> None:
    h, world = await run("""
settings: {concurrency: 1}
phases:
  - id: only
    steps:
      - {id: a, kind: check, type: scripted, with: {took: 10}}
      - {id: b, kind: check, type: scripted, with: {took: 10}}
      - {id: c, kind: check, type: scripted, with: {took: 10}}
""")
    assert h.state.status is RunStatus.PASSED
    spans = sorted((c[2], c[3]) for c in world.calls)
    assert [end - start for start, end in spans] == [10.0, 10.0, 10.0]
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))


async def test_a_need_that_did_not_pass_leaves_its_dependents_not_run() -> None:
    h, world = await run("""
phases:
  - id: only
    on_failure: stop
    steps:
      - {id: a, kind: check, type: scripted, with: {outcomes: [fail]}}
      - {id: b, kind: check, type: scripted, needs: [a]}
      - {id: c, kind: check, type: scripted, needs: [b]}
""")
    assert world.order() == ["a"]
    assert outcome(h, "b") == "not-run"
    assert "needs a did not pass" in h.state.step("b").summary
    assert outcome(h, "c") == "not-run"
    assert h.state.status is RunStatus.FAILED


async def test_a_non_blocking_need_that_failed_is_a_warning_its_dependents_run_after() -> None:
    h, world = await run("""
phases:
  - id: only
    steps:
      - {id: a, kind: check, type: scripted, blocking: false, with: {outcomes: [fail]}}
      - {id: b, kind: check, type: scripted, needs: [a]}
""")
    assert world.order() == ["a", "b"]
    assert (outcome(h, "a"), outcome(h, "b")) == ("warn", "pass")
    assert h.state.phases["only"] == "warn"
    assert h.state.status is RunStatus.PASSED


async def test_a_blocking_failure_stops_the_phase_and_what_had_not_started_is_not_run() -> None:
    h, world = await run("""
settings: {concurrency: 1}
phases:
  - id: only
    on_failure: stop
    steps:
      - {id: a, kind: check, type: scripted, with: {outcomes: [fail]}}
      - {id: b, kind: check, type: scripted}
""")
    assert world.order() == ["a"]
    assert outcome(h, "b") == "not-run"
    assert "the phase stopped (a)" in h.state.step("b").summary


# -- timeouts and retries -------------------------------------------------------------------------------------


async def test_a_step_past_its_timeout_is_an_error() -> None:
    h, _ = await run("""
phases:
  - id: only
    on_failure: stop
    steps: [{id: slow, kind: check, type: scripted, timeout: 50ms, with: {hang: true}}]
""")
    assert outcome(h, "slow") == "error"
    assert "timed out after 0.05s" in h.state.step("slow").summary
    assert h.state.status is RunStatus.FAILED


async def test_a_failing_check_is_retried_with_backoff_on_the_run_clock() -> None:
    h, world = await run("""
phases:
  - id: only
    steps:
      - id: flaky
        kind: check
        type: scripted
        retries: {attempts: 4, backoff: 10s, factor: 2, max_backoff: 15s}
        with: {outcomes: [fail, error, fail, pass]}
""")
    assert outcome(h, "flaky") == "pass"
    base = world.calls[0][2]
    assert [(c[1], c[2] - base) for c in world.calls] == [(1, 0.0), (2, 10.0), (3, 25.0), (4, 40.0)]
    retries = await events(h, "step_retry")
    assert [(e.data["attempt"], e.data["wait"]) for e in retries] == [(1, 10.0), (2, 15.0), (3, 15.0)]
    assert h.state.step("flaky").attempts == 4


async def test_a_check_that_fails_every_attempt_fails_with_its_last_result() -> None:
    h, world = await run("""
phases:
  - id: only
    on_failure: stop
    steps: [{id: bad, kind: check, type: scripted, retries: 3, with: {outcomes: [fail]}}]
""")
    assert world.attempts("bad") == 3
    assert outcome(h, "bad") == "fail"
    assert h.state.status is RunStatus.FAILED


async def test_an_action_runs_at_most_once_unless_it_is_idempotent() -> None:
    h, world = await run("""
phases:
  - id: only
    on_failure: stop
    steps:
      - {id: once, kind: action, type: scripted, retries: 3, with: {outcomes: [fail]}}
""")
    assert world.attempts("once") == 1
    assert outcome(h, "once") == "fail"
    h, world = await run("""
phases:
  - id: only
    steps:
      - {id: again, kind: action, type: scripted, idempotent: true, retries: 3, with: {outcomes: [fail, pass]}}
""")
    assert world.attempts("again") == 2
    assert outcome(h, "again") == "pass"
    finished = await events(h, "action_finished")
    assert [e.data.get("final", True) for e in finished] == [False, True]


# -- deadlines --------------------------------------------------------------------------------------------------


async def test_a_decision_nobody_takes_gets_its_default_at_the_deadline() -> None:
    h, world = await run("""
phases:
  - id: checks
    steps: [{id: a, kind: check, type: scripted}]
  - id: gate
    steps:
      - {id: go, kind: decision, role: ic, requires: [a], deadline: 10m, default: no-go, on_no_go: stop}
  - id: after
    steps: [{id: b, kind: check, type: scripted}]
""")
    assert h.state.status is RunStatus.NO_GO
    assert world.order() == ["a"]
    defaulted = await events(h, "decision_defaulted")
    assert [e.data["default"] for e in defaulted] == ["no-go"]
    waiting = (await events(h, "step_waiting"))[0]
    assert (parse_time(defaulted[0].ts) - parse_time(waiting.ts)).total_seconds() >= 600
    assert outcome(h, "b") == "not-run"


async def test_a_decision_taken_before_the_deadline_wins_over_the_default() -> None:
    async def decide(view: Any) -> None:
        await acts.decide(await waiting(view, "go"), "go", "ines", "all green", step_id="go")

    h, world = await run(
        """
phases:
  - id: gate
    steps:
      - {id: go, kind: decision, role: ic, deadline: 1h, default: no-go}
  - id: after
    steps: [{id: b, kind: check, type: scripted}]
""",
        act=decide,
    )
    assert h.state.status is RunStatus.PASSED
    assert await events(h, "decision_defaulted") == []
    assert world.order() == ["b"]


async def test_a_planned_step_waits_for_its_t_time() -> None:
    h, world = await run("""
t0: "2026-01-01T01:00:00Z"
phases:
  - id: only
    steps:
      - {id: early, kind: check, type: scripted}
      - {id: planned, kind: check, type: scripted, at: T+5m}
""")
    assert h.state.status is RunStatus.PASSED
    planned = next(c for c in world.calls if c[0] == "planned")
    assert planned[2] == 65 * 60  # the fake clock started at 00:00 (monotonic 0); T-0 is 01:00
    waits = await events(h, "scheduled_wait")
    assert [(e.step_id, e.data["what"], e.data["until"]) for e in waits] == [
        ("planned", "step", "2026-01-01T01:05:00.000000Z")
    ]


# -- rollback order -------------------------------------------------------------------------------------------


ROLLBACK = """
flags:
  provider: {type: in-memory}
  safe: {new_checkout: false}
phases:
  - id: cutover
    on_failure: rollback
    steps:
      - {id: switch, kind: action, type: scripted}
      - {id: verify, kind: check, type: scripted, needs: [switch], with: {outcomes: [fail]}}
rollback:
  restore_flags: {where}
  steps:
    - {id: revert, kind: action, type: scripted, with: {took: 5}}
    - {id: drain, kind: action, type: scripted}
  confirm:
    - {id: healthy, kind: check, type: scripted}
"""


async def test_a_failed_phase_rolls_back_flags_first_then_the_steps_then_the_confirmation() -> None:
    h, world = await run(ROLLBACK.replace("{where}", "first"))
    assert h.state.status is RunStatus.ROLLED_BACK
    assert world.order() == ["switch", "verify", "flags", "revert", "drain", "healthy"]
    assert world.flags == {"new_checkout": False}
    started = (await events(h, "rollback_started"))[0]
    assert (started.data["by"], started.data["source"]) == ("phase:cutover", "phase")
    assert [e.data["outcome"] for e in await events(h, "rollback_finished")] == ["pass"]


async def test_the_flags_are_restored_where_the_plan_says() -> None:
    _, world = await run(ROLLBACK.replace("{where}", "last"))
    assert world.order() == ["switch", "verify", "revert", "drain", "flags", "healthy"]
    _, world = await run(ROLLBACK.replace("{where}", "{after: revert}"))
    assert world.order() == ["switch", "verify", "revert", "flags", "drain", "healthy"]
    _, world = await run(ROLLBACK.replace("{where}", "never"))
    assert world.order() == ["switch", "verify", "revert", "drain", "healthy"]


async def test_a_failed_rollback_step_does_not_stop_the_rest_and_is_named() -> None:
    text = ROLLBACK.replace("{where}", "first").replace(
        "{id: revert, kind: action, type: scripted, with: {took: 5}}",
        "{id: revert, kind: action, type: scripted, with: {outcomes: [fail]}}",
    )
    h, world = await run(text)
    assert world.order() == ["switch", "verify", "flags", "revert", "drain", "healthy"]
    assert [e.data["failed"] for e in await events(h, "rollback_finished")] == [["revert"]]
    assert h.state.status is RunStatus.ROLLED_BACK
    assert "some rollback steps failed" in (h.state.reason or "")


async def test_a_no_go_rolls_back_and_the_later_phases_never_start() -> None:
    async def no_go(view: Any) -> None:
        await acts.decide(await waiting(view, "go"), "no-go", "ines", "error budget burning", step_id="go")

    h, world = await run(
        """
phases:
  - id: gate
    steps: [{id: go, kind: decision, role: ic}]
  - id: after
    steps: [{id: b, kind: check, type: scripted}]
rollback:
  steps: [{id: revert, kind: action, type: scripted}]
""",
        act=no_go,
    )
    assert h.state.status is RunStatus.ROLLED_BACK
    assert world.order() == ["revert"]
    started = (await events(h, "rollback_started"))[0]
    assert (started.data["by"], started.data["source"]) == ("ines", "decision")
    assert outcome(h, "b") == "not-run"
