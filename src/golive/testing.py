"""Test doubles that users of golive need too: a fake clock, an in-memory store (more are added beside it).

``InMemoryStore`` is ``golive.store.memory.InMemoryStore``, offered here beside the other doubles.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golive import exceptions, results
from golive.clock import FakeClock
from golive.exceptions import PeopleGaveUp
from golive.plugins import base as plugins_base
from golive.store import base as store_base
from golive.store.memory import InMemoryStore

__all__ = [
    "AutoActors",
    "FakeClock",
    "FakeMetricSource",
    "InMemoryStore",
    "PeopleGaveUp",
    "Rehearsal",
    "RunningEngine",
    "make_ctx",
    "rehearse",
    "start_engine",
    "write_log_lines",
]


class FakeMetricSource:
    """A metric source for tests: plays a script of readings, then repeats the last one.

    Script items: a float (a value), ``None`` (no data), a :class:`golive.results.MetricReading`, or an
    exception (raised by ``read``). ``set``/``empty``/``fail``/``raise_`` replace what is read next,
    forever. It reads without suspending, so evaluations under :class:`FakeClock` happen at the instant
    they are due. Use ``lambda ref: source.read`` as a trigger's source factory.
    """

    def __init__(self, script: Iterable[float | results.MetricReading | BaseException | None] = ()) -> None:
        self._script = list(script)
        self._current: float | results.MetricReading | BaseException | None = None
        self.reads = 0

    def set(self, value: float) -> None:
        """Read this value from now on."""
        self._script, self._current = [], value

    def empty(self, why: str = "empty result") -> None:
        """Read no data from now on."""
        self._script, self._current = [], results.MetricReading.no_data(why)

    def fail(self, why: str) -> None:
        """Read an error from now on."""
        self._script, self._current = [], results.MetricReading.failed(why)

    def raise_(self, exc: BaseException) -> None:
        """Raise this exception from ``read`` from now on."""
        self._script, self._current = [], exc

    async def read(self, ctx: object = None) -> results.MetricReading:
        self.reads += 1
        if self._script:
            self._current = self._script.pop(0)
        item = self._current
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, results.MetricReading):
            return item
        if item is None:
            return results.MetricReading.no_data()
        return results.MetricReading.of(float(item))


def make_ctx(
    params: Any,
    *,
    secrets: dict[str, str] | None = None,
    flags: Any = None,
    **kw: Any,
) -> plugins_base.StepContext:
    """A :class:`golive.plugins.base.StepContext` for running a plugin directly in a test.

    ``params`` is the plugin's params model instance (``HttpParams(url=...)``). ``secrets`` maps names
    to values: ``ctx.secret(name)`` returns them and ``ctx.redact`` masks every value as ``***``.
    ``flags`` is a flag provider (used for every name) or a dict of provider name (``None`` for the
    default) to provider, for ``ctx.flag_provider``. Any other keyword sets that StepContext field
    (``clock``, ``workdir``, ``release``, ``http_pool``, ``timeout``, ``secret_provider``...).

    Example::

        result = await HttpCheck().run(make_ctx(HttpParams(url=server.url("/health"))))
    """
    known = dict(secrets or {})
    if known and "redact" not in kw:
        values = sorted((v for v in known.values() if v), key=len, reverse=True)

        def redact(text: str) -> str:
            for v in values:
                text = text.replace(v, "***")
            return text

        kw["redact"] = redact
    if known and "secret" not in kw:

        async def secret(name: str) -> str:
            if name not in known:
                raise exceptions.SecretError(f"no secret {name!r} in this test context")
            return known[name]

        kw["secret"] = secret
    if flags is not None and "flag_provider" not in kw:
        if isinstance(flags, dict):
            table = dict(flags)

            def pick(name: str | None) -> Any:
                if name not in table:
                    raise exceptions.UsageError(f"no flag provider {name!r} in this test context")
                return table[name]

            kw["flag_provider"] = pick
        else:
            kw["flag_provider"] = lambda name: flags
    return plugins_base.StepContext(params=params, **kw)


ENGINE_WAIT_LIMIT = 30.0  # seconds RunningEngine.until waits for a state before it fails
ENGINE_FAST_POLL = 0.02  # seconds between the engine's looks at the log in tests


class RunningEngine:
    """A run driven by an engine task; people act through fresh handles, as from another terminal.

    For tests of a runbook's rules: start it with :func:`start_engine`, wait with :meth:`until`, act with
    :mod:`golive.engine.acts` on :meth:`view`, and read the outcome with :meth:`finished`.
    """

    def __init__(self, store: store_base.Store, handle: Any, task: asyncio.Task[Any]) -> None:
        self.store, self.handle, self.task = store, handle, task

    @property
    def run_id(self) -> str:
        return str(self.handle.run_id)

    async def view(self) -> Any:
        """A fresh handle, as `golive confirm` / `golive decide` would open."""
        from golive.engine import acts

        return await acts.open_run(self.store, self.run_id)

    async def until(self, what: str, pred: Callable[[Any], bool], limit: float = ENGINE_WAIT_LIMIT) -> Any:
        """The first fresh handle whose state satisfies ``pred``; an engine crash or the time limit fails."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.task.done():
                self.task.result()  # surface an engine crash
            h = await self.view()
            if pred(h.state):
                return h
            await asyncio.sleep(ENGINE_FAST_POLL)
        raise AssertionError(f"run never reached: {what}")

    async def waiting(self, step_id: str) -> Any:
        return await self.until(f"{step_id} waiting", lambda s: s.step(step_id).status == "waiting")

    async def finished(self, limit: float = ENGINE_WAIT_LIMIT) -> Any:
        """The run's final status."""
        return await asyncio.wait_for(self.task, limit)

    async def events(self, type_: str | None = None) -> list[store_base.Event]:
        return [e for e in await self.store.events(self.run_id) if type_ is None or e.type == type_]


async def start_engine(
    store: store_base.Store,
    loaded: Any,
    *,
    roles: dict[str, str] | None = None,
    clock: Any = None,
    poll: float = ENGINE_FAST_POLL,
    mode: str = "live",
) -> RunningEngine:
    """Create a run of ``loaded`` (in ``mode``: live, rehearsal, dry-run) and drive it with an engine in a
    background task."""
    from golive.engine import runner

    handle = await runner.create_run(store, loaded, roles=roles, mode=mode)
    engine = runner.Engine(handle, poll=poll, clock=clock)
    return RunningEngine(store, handle, asyncio.create_task(engine.run()))


class AutoActors:
    """People who act on a run as a rehearsal's script says, with the roles' holders as actors.

    Each manual step is confirmed with ``inputs[step_id]`` (an input not given gets ``"rehearsal"``; an
    input with a ``pattern`` must be given), each decision and pause is decided ``decisions.get(step_id,
    "go")``. They look at the run every ``every`` seconds of the run's clock (a fake or scaled clock), so
    the time people take is in proportion whatever the clock. Used by rehearsal tests and scenarios.
    """

    def __init__(
        self,
        store: store_base.Store,
        run_id: str,
        *,
        clock: Any,
        inputs: dict[str, dict[str, str]] | None = None,
        decisions: dict[str, str] | None = None,
        every: float = 30.0,
        fallback_actor: str = "rehearsal-actor",
        max_tries: int = 5,
    ) -> None:
        self.store, self.run_id, self.clock = store, run_id, clock
        self.inputs = inputs or {}
        self.decisions = decisions or {}
        self.every = every
        self.fallback_actor = fallback_actor
        self.max_tries = max_tries
        self.acted: list[tuple[str, str]] = []  # (step id, what)
        self.refused: list[str] = []

    async def run(self) -> None:
        """Act until the run is final (cancel the task to stop earlier)."""
        from golive import exceptions as exc_mod
        from golive.engine import acts

        done: set[tuple[str, str]] = set()
        tries: dict[tuple[str, str], int] = {}
        while True:
            h = await acts.open_run(self.store, self.run_id)
            if h.state.final:
                return
            for s in list(h.state.waiting):
                key = (s.id, str(s.waiting_for))
                if key in done:
                    continue
                step = h.runbook.step(s.id)
                if step is None:
                    continue
                actor = h.state.roles.get(step.role or "") or self._decider(h) or self.fallback_actor
                try:
                    if s.waiting_for == "manual":
                        given = self.inputs.get(s.id, {})
                        values = {i.id: given.get(i.id, "rehearsal") for i in step.inputs}
                        await acts.confirm(h, s.id, actor, inputs=values, evidence=self._evidence(step))
                    elif s.waiting_for in ("decision", "pause"):
                        choice = self.decisions.get(s.id, "go")
                        who = self._decider(h) or actor
                        if choice == "go":  # under a quorum, the awaited approvers approve too
                            await acts.scripted_go(h, s.id, who, "rehearsal script")
                        else:
                            await acts.decide(h, choice, who, "rehearsal script", step_id=s.id)
                    else:
                        continue
                except exc_mod.GoliveError as exc:
                    # Refused (a rule, or another act landed first): look again on the next round, a few times.
                    self.refused.append(f"{s.id}: {exc.message}")
                    tries[key] = tries.get(key, 0) + 1
                    if tries[key] >= self.max_tries:
                        # Nobody in the script can do what the run waits for: say so, instead of a run that
                        # waits for ever (a manual step whose input must match a pattern the script lacks).
                        raise PeopleGaveUp(
                            f"the scripted people gave up on {s.id} ({s.waiting_for}): {exc.message}"
                        ) from None
                    continue
                done.add(key)
                self.acted.append(key)
                h = await acts.open_run(self.store, self.run_id)
            await self.clock.sleep(self.every)

    def _evidence(self, step: Any) -> list[Path]:
        """A small file per required evidence item of a manual step (a rehearsal's stand-in)."""
        import tempfile

        out = []
        for item in step.evidence:
            if item.required:
                fd, name = tempfile.mkstemp(prefix=f"golive-{step.id}-", suffix=".txt")
                with os.fdopen(fd, "w") as f:
                    f.write(f"rehearsal evidence for {step.id}: {item.name}\n")
                out.append(Path(name))
        return out

    @staticmethod
    def _decider(h: Any) -> str | None:
        from golive.engine import acts

        return acts.decider_of(h)


async def write_log_lines(path: Path, clock: Any, line: str, every: float) -> None:
    """A service writing its log as run time passes: ``line`` formatted with ``ts`` (the run clock's time, UTC
    ISO 8601) and ``n`` (1, 2, ...), appended every ``every`` seconds of run time until cancelled."""
    from golive import clock as clock_mod

    n = 0
    while True:
        n += 1
        with path.open("a", encoding="utf-8") as f:
            f.write(line.format(ts=clock_mod.utc_iso(clock.now()), n=n) + "\n")
        await clock.sleep(every)


@dataclass
class Rehearsal:
    """What :func:`rehearse` played: the run's end, what was not stubbed, and the wall time of each part."""

    run_id: str
    status: Any  # golive.engine.state.RunStatus
    reason: str
    refused: list[str]  # acts the scripted people were refused
    unstubbed: list[str]
    run_wall: float  # seconds of real time of the cutover
    hypercare_wall: float  # and of hypercare (0 when the run did not pass)
    hypercare_from: float  # run-clock epoch seconds at which hypercare started


async def rehearse(
    store: store_base.Store,
    loaded: Any,
    settings: Any,
    clock: Any,
    *,
    roles: dict[str, str],
    inputs: dict[str, dict[str, str]] | None = None,
    every: float = 30.0,
    helpers: Iterable[Callable[[Any], Any]] = (),
    reports: Path,
) -> Rehearsal:
    """A stubbed (and time-scaled) rehearsal as ``golive run --mode rehearsal`` and then ``golive hypercare RUN``
    play it: :class:`AutoActors` act with ``inputs`` every ``every`` seconds of run time, ``helpers`` (coroutine
    functions of the run's clock, e.g. a service writing its log with :func:`write_log_lines`) run beside it, and
    hypercare runs to its end (reports under ``reports``) once the run passed. People or a helper that fail (an
    act refused for good, a crash) fail it at once, raised; a run left waiting after the people's script ended
    fails it too (AssertionError), so a rehearsal never hangs."""
    from golive.engine import hypercare as service
    from golive.engine import rehearsal, runner
    from golive.engine.state import RunStatus

    store.event_clock = clock
    t0 = time.perf_counter()
    handle = await runner.create_run(store, loaded, mode="rehearsal", roles=roles, rehearsal=settings, clock=clock)
    engine = runner.Engine(handle, clock=clock)
    actors = AutoActors(store, handle.run_id, clock=clock, inputs=inputs, every=every)
    async with rehearsal.outside_world(engine, settings) as transport:
        # People act inside the rehearsal too: a recheck at their decision asks the stubs, not the world.
        people = asyncio.create_task(actors.run())
        side = [asyncio.create_task(h(clock)) for h in helpers]
        run = asyncio.create_task(engine.run())
        try:
            while not run.done():
                await asyncio.wait({run, people, *side}, return_when=asyncio.FIRST_COMPLETED)
                for t in (people, *side):
                    if t.done() and not t.cancelled() and t.exception() is not None:
                        raise t.exception()  # type: ignore[misc]
                if people.done() and not run.done():
                    await asyncio.wait({run}, timeout=5)
                    if not run.done():
                        raise AssertionError("the run is stuck after the people's script ended")
            status = run.result()
        finally:
            for t in (run, people, *side):
                t.cancel()
            await asyncio.gather(run, people, *side, return_exceptions=True)
            await engine.aclose()
        t1 = time.perf_counter()
        hypercare_from = clock.now().timestamp()
        if status is RunStatus.PASSED:
            hc = await service.hypercare_runner(store, handle.run_id, reports, lambda s: None)
            try:
                await hc.run_forever()
            finally:
                await hc.engine.aclose()
        t2 = time.perf_counter()
        unstubbed = list(getattr(transport, "unstubbed", None) or [])  # a Recorder lets every call through
    return Rehearsal(
        handle.run_id, status, handle.state.reason, actors.refused, unstubbed, t1 - t0, t2 - t1, hypercare_from
    )
