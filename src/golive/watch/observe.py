"""Observation windows: run triggers for a duration; pass when no rollback or pause trigger fires.

:func:`observe` is one scheduler loop over all evaluators: it starts each evaluation when it is due (every
``interval``, on a fixed grid from the window's start; a slot missed because a read was slow is skipped,
not queued), and it sleeps only until the next thing is due. Reads run concurrently as tasks, so a slow
source never delays another trigger, and the loop wakes the moment any read completes: a ``rollback`` or
``pause`` fire returns at once, cancelling the other reads and sleeps. ``notify`` fires are recorded and the
window goes on. A rollback or pause trigger that is *still* firing from before the window (it fired in an
earlier window and the breach goes on) ends the window at its first evaluation too: an ongoing breach
never lets a window pass. After the IC chose to continue from a pause, the engine calls
``TriggerEvaluator.reset()`` so the trigger must breach for ``for`` again.

One loop (rather than one sleeping task per trigger) is also what makes the window exact under
:class:`golive.clock.FakeClock`, whose ``sleep`` moves time forward: only one sleeper ever waits.

Events: ``on_event`` receives ``{"type": "trigger_fired" | "trigger_evaluated", "data": {...}}`` (data is
:meth:`golive.watch.triggers.Evaluation.event_data` of the latest evaluation, plus ``samples``). Readings are
batched (:class:`Recorder`, :mod:`golive.watch.samples`): about one event per trigger per minute holding its
samples, a fire or a clear at once; the rest is flushed when the window ends, so every reading is in the log
and a run can be replayed (:mod:`golive.watch.replay`).

Coverage: the result holds each polled trigger's :class:`golive.watch.samples.Coverage` of the window (a gap
between readings longer than twice the interval is unwatched); the engine decides what a low one means.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from golive import clock as clock_mod
from golive.watch import samples as samples_mod
from golive.watch import triggers

__all__ = [
    "DEFAULT_PAUSE_DEADLINE",
    "ObserveResult",
    "OnEvent",
    "Recorder",
    "observe",
]

DEFAULT_PAUSE_DEADLINE = 300.0  # seconds; "IC decides within 5 minutes" when neither trigger nor runbook says

OnEvent = Callable[[dict[str, Any]], Awaitable[None]]

_THEN_RANK = {"rollback": 0, "pause": 1}  # when two fire in the same instant, the rollback wins


class ObserveResult(BaseModel):
    """How an observation window ended."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    passed: bool  # the whole duration elapsed and no rollback/pause trigger fired
    outcome: Literal["passed", "fired", "stopped"]
    started_at: datetime
    ended_at: datetime
    elapsed: float  # seconds, monotonic
    trigger_id: str | None = None  # the rollback/pause trigger that ended the window
    then: Literal["rollback", "pause"] | None = None
    reason: str = ""
    severity: str | None = None
    fired_at: datetime | None = None
    deadline_at: datetime | None = None  # pause: when the IC's decision is due
    default: str | None = None  # pause: what happens at the deadline (rollback | hold | continue)
    notified: tuple[str, ...] = ()  # notify triggers that fired during the window
    evaluations: int = 0
    last: dict[str, triggers.Evaluation] = {}  # the latest evaluation of each trigger
    coverage: dict[str, samples_mod.Coverage] = {}  # each polled trigger's watched time in the window

    @property
    def summary(self) -> str:
        """One line for the step result."""
        if self.outcome == "passed":
            extra = f"; notify: {', '.join(self.notified)}" if self.notified else ""
            # Name the responses that were really watched: a window watched only by pause triggers says so.
            kinds = [k for k in ("rollback", "pause") if any(ev.then == k for ev in self.last.values())]
            what = f"no {' or '.join(kinds)} trigger fired" if kinds else "no trigger fired"
            return f"{what} in {self.elapsed:.0f}s ({self.evaluations} evaluations){extra}"
        if self.outcome == "fired":
            return f"trigger {self.trigger_id} fired ({self.then}): {self.reason}"
        return f"observation stopped after {self.elapsed:.0f}s: {self.reason}"


def _reading(ev: triggers.Evaluation) -> list[Any]:
    """One reading in compact form: [ts, status, value, baseline]."""
    return [clock_mod.utc_iso(ev.ts), ev.status, ev.value, ev.baseline]


class Recorder:
    """Batches a trigger's readings into events (:mod:`golive.watch.samples`): one ``trigger_evaluated`` per
    trigger every :data:`~golive.watch.samples.BATCH_PERIOD` holding its ``samples``; a fire and a clear are
    written at once (with the readings since the last event), and :meth:`flush` writes what is left."""

    def __init__(self, on_event: OnEvent, clock: clock_mod.Clock, period: float = samples_mod.BATCH_PERIOD) -> None:
        self._on_event = on_event
        self._clock = clock
        self._period = period
        self._last_state: dict[str, triggers.TriggerState] = {}
        self._last_emit: dict[str, float] = {}  # monotonic seconds of each trigger's last event
        self._batch: dict[str, list[list[Any]]] = {}
        self._last: dict[str, triggers.Evaluation] = {}

    async def record(self, ev: triggers.Evaluation, interval: float) -> None:
        tid = ev.trigger_id
        mono = self._clock.monotonic()
        was = self._last_state.get(tid)
        self._last_state[tid] = ev.state
        self._last[tid] = ev
        if ev.status != "manual":
            self._batch.setdefault(tid, []).append(_reading(ev))
        if ev.fired:
            await self._emit("trigger_fired", ev, mono)
            return
        cleared = was is triggers.TriggerState.FIRING and ev.state is not triggers.TriggerState.FIRING
        # A tenth of the interval is forgiven so that a batch due with a reading is not put off by jitter.
        due = tid not in self._last_emit or mono - self._last_emit[tid] >= self._period - 0.1 * interval
        if cleared or due:
            await self._emit("trigger_evaluated", ev, mono)

    async def _emit(self, kind: str, ev: triggers.Evaluation, mono: float) -> None:
        data = ev.event_data()
        data["samples"] = self._batch.pop(ev.trigger_id, [])
        self._last_emit[ev.trigger_id] = mono
        await self._on_event({"type": kind, "data": data})

    async def flush(self) -> None:
        """Write every trigger's readings not yet written (with its last evaluation): every reading ends up in
        the events, so a finished run can be replayed through edited triggers."""
        for tid, batch in list(self._batch.items()):
            if batch and tid in self._last:
                await self._emit("trigger_evaluated", self._last[tid], self._clock.monotonic())


async def observe(
    duration: float,
    evaluators: Sequence[triggers.TriggerEvaluator],
    clock: clock_mod.Clock,
    on_event: OnEvent,
    stop: asyncio.Event | None = None,
    *,
    default_deadline: float = DEFAULT_PAUSE_DEADLINE,
) -> ObserveResult:
    """Run the evaluators for ``duration`` seconds; return when it ends, a rollback/pause fires, or ``stop`` is set.

    Triggers without a source (raised by a person) are not polled; the engine raises them and sets
    ``stop``. ``default_deadline`` (seconds) is a pause trigger's deadline when it sets none (pass the
    runbook's ``settings.decision_deadline`` when there is one). Exceptions from ``on_event`` propagate.
    """
    if duration <= 0:
        raise ValueError(f"an observation window needs a positive duration, got {duration!r}s")
    started_at = clock.now()
    start = clock.monotonic()
    end = start + duration
    polled = [e for e in evaluators if not e.manual]
    next_due: dict[str, float] = {e.id: start for e in polled}
    inflight: dict[asyncio.Task[triggers.Evaluation], triggers.TriggerEvaluator] = {}
    recorder = Recorder(on_event, clock)
    # A gap too short in real time is the machine's scheduling, not an engine that stopped watching: on the
    # real clock and in a time-scaled rehearsal (whose reads run as fast as the machine can) it is never
    # unwatched. A fake clock's time is not real time: no floor.
    factor = getattr(clock, "factor", None)
    if isinstance(factor, int | float):
        floor = samples_mod.REHEARSAL_GAP_FLOOR * factor
    elif isinstance(clock, clock_mod.SystemClock):
        floor = samples_mod.REAL_GAP_FLOOR
    else:
        floor = 0.0
    coverage = {e.id: samples_mod.Coverage(interval=e.interval, start=started_at, min_gap=floor) for e in polled}
    notified: list[str] = []
    last: dict[str, triggers.Evaluation] = {}
    count = 0
    stop_task: asyncio.Task[Any] | None = asyncio.ensure_future(stop.wait()) if stop is not None else None
    sleeper: asyncio.Task[None] | None = None
    sleeper_at = 0.0  # the monotonic time the sleeper wakes at

    def finish(outcome: Literal["passed", "fired", "stopped"], **kw: Any) -> ObserveResult:
        ended = clock.now()
        return ObserveResult(
            coverage={tid: c.close(ended) for tid, c in coverage.items()},
            passed=outcome == "passed",
            outcome=outcome,
            started_at=started_at,
            ended_at=ended,
            elapsed=clock.monotonic() - start,
            notified=tuple(notified),
            evaluations=count,
            last=dict(last),
            **kw,
        )

    try:
        while True:
            if stop is not None and stop.is_set():
                await recorder.flush()
                return finish("stopped", reason="stopped by the engine")
            now = clock.monotonic()
            if now >= end:
                await recorder.flush()
                return finish("passed")
            busy = set(inflight.values())
            for e in polled:
                if e in busy or next_due[e.id] > now:
                    continue
                inflight[asyncio.ensure_future(e.evaluate_once())] = e
                due = next_due[e.id] + e.interval
                # Behind schedule (a slow read): skip the missed slots rather than firing reads back to back.
                next_due[e.id] = due if due > now else now + e.interval
            if inflight:
                # Let reads that answer without waiting finish before time moves on: under a fake clock
                # the sleeper below advances time at once, which would misdate what completes after it.
                await asyncio.sleep(0)
            if not any(t.done() for t in inflight):
                wake = min([d for d in next_due.values() if d > now] + [end])
                # The sleeper stays while the reads that woke the loop are recorded: under a fake clock,
                # time then moves no further than the next read while the store is written (another task's
                # sleep would otherwise carry it past reads that are due, and the window would look unwatched).
                if sleeper is None or sleeper.done() or sleeper_at != wake:
                    if sleeper is not None and not sleeper.done():
                        sleeper.cancel()
                    sleeper, sleeper_at = asyncio.ensure_future(clock.sleep(wake - now)), wake
                waiting: set[asyncio.Future[Any]] = {*inflight, sleeper}
                if stop_task is not None:
                    waiting.add(stop_task)
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            stopping: list[triggers.Evaluation] = []
            for task in [t for t in inflight if t.done()]:
                evaluator = inflight.pop(task)
                ev = task.result()
                count += 1
                last[ev.trigger_id] = ev
                await recorder.record(ev, evaluator.interval)
                if ev.trigger_id in coverage:
                    coverage[ev.trigger_id].add(ev.ts, error=ev.status == "error")
                if ev.fired and ev.then == "notify":
                    notified.append(ev.trigger_id)
                if ev.stops_observe:
                    stopping.append(ev)
            if stopping:
                ev = min(stopping, key=lambda x: _THEN_RANK.get(x.then, 9))
                await recorder.flush()
                return _fired(finish, ev, evaluators, default_deadline, started_at)
    finally:
        pending: list[asyncio.Future[Any]] = [*inflight]
        if sleeper is not None:
            pending.append(sleeper)
        if stop_task is not None:
            pending.append(stop_task)
        for fut in pending:
            fut.cancel()
        for fut in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fut


def _fired(
    finish: Callable[..., ObserveResult],
    ev: triggers.Evaluation,
    evaluators: Sequence[triggers.TriggerEvaluator],
    default_deadline: float,
    started_at: datetime,
) -> ObserveResult:
    then: Literal["rollback", "pause"] = "rollback" if ev.then == "rollback" else "pause"
    deadline_at: datetime | None = None
    default: str | None = None
    # A trigger that another reader of it (the armed watch shares its evaluator) fired as this window opened is
    # still firing here: the IC's deadline counts from that fire, as it does for this window's own. One that
    # fired longer ago (more than a read interval before the window opened) counts from this read, so the IC
    # is never asked with a deadline already gone.
    evaluator = next(e for e in evaluators if e.id == ev.trigger_id)
    opened = started_at - timedelta(seconds=evaluator.interval)
    fired_at = ev.since if not ev.fired and ev.since >= opened else ev.ts
    if then == "pause":
        trig = evaluator.trigger
        deadline_at = fired_at + timedelta(seconds=trig.deadline if trig.deadline is not None else default_deadline)
        default = trig.default
    return finish(
        "fired",
        trigger_id=ev.trigger_id,
        then=then,
        reason=ev.reason,
        severity=ev.severity,
        fired_at=fired_at,
        deadline_at=deadline_at,
        default=default,
    )
