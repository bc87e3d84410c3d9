"""Armed triggers: each trigger is read on its interval over its armed span, whatever step is running.

A trigger's span (``armed: {from: PHASE, until: PHASE | end | hypercare}``) starts when its ``from`` phase
starts (default: the phase of its first observe step) and ends when its ``until`` phase ends, when the cutover
ends (``end``) or when hypercare ends (``hypercare``, the default: GO plus the last tier or report). A trigger
that no observe step watches and that declares no ``armed`` is not armed. Nothing is armed once a rollback
started, nor after a run that did not pass.

:class:`ArmedWatch` reads the armed triggers that no running observe step is reading (an observe window reads
its own), records their readings as batched samples (:class:`golive.watch.observe.Recorder`) through the
engine's fenced appends, and acts on a fire: ``rollback`` starts the rollback (the running engine's run loop is
woken; in hypercare the watch runs the rollback itself and the run ends ROLLED_BACK_AFTER_GO), ``notify`` is
announced, and ``pause`` pauses the run: the IC is asked ``continue`` or ``rollback`` (``trigger_paused``, scope
``trigger:ID``, the trigger's ``deadline`` and ``default``; the ``pause`` message), the same question a window
overrun asks and answered the same way (``golive decide RUN continue|rollback``, ``overrun_decided``). While it
is open no new phase or step starts (the engine holds them; steps already running finish) and the other triggers
are read on: a rollback trigger's fire still rolls back at once. The watch applies the default at the deadline
(``hold``: none) and acts on the answer: ``continue`` resets the trigger's evaluator (it must breach again, for
its ``for``, to fire again), ``rollback`` rolls back by ``trigger:ID``. An append that fails (a lost lease, a
store error) ends the watch with that error: the engine stops, it never goes on unwatched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from golive import clock as clock_mod
from golive.engine import state as state_mod
from golive.engine import windows as windows_mod
from golive.spec import models
from golive.watch import samples as samples_mod

if TYPE_CHECKING:
    from golive.engine.state import RunState
    from golive.watch import observe as observe_mod
    from golive.watch import triggers as triggers_mod

__all__ = [
    "ArmedWatch",
    "armed_now",
    "gap_floor",
    "hypercare_end",
    "record_coverage",
    "span",
    "span_coverage",
    "taken_up",
]

RECHECK = 1.0  # seconds of run time between two looks at which triggers are armed, when none is due sooner


def span(runbook: models.Runbook, trigger: models.Trigger) -> tuple[str | None, str] | None:
    """(from phase, until) of a trigger's armed span, or None when it is not armed. ``from`` None: the
    first phase."""
    if trigger.source is None:
        return None
    start = trigger.armed.from_ if trigger.armed is not None else None
    if start is None:
        for phase in runbook.phases:
            if any(
                s.kind is models.StepKind.OBSERVE and (not s.triggers or trigger.id in s.triggers) for s in phase.steps
            ):
                start = phase.id
                break
        else:
            if trigger.armed is None:
                return None
    return start, trigger.armed.until if trigger.armed is not None else "hypercare"


def hypercare_end(runbook: models.Runbook, go: datetime | None) -> datetime | None:
    """When hypercare ends: GO plus its last tier's ``until`` or its last report's ``at`` (None without)."""
    hc = runbook.hypercare
    lengths = [t.until for t in hc.tiers] + [r.at for r in hc.reports]
    if go is None or not lengths:
        return None
    return go + timedelta(seconds=max(lengths))


def armed_now(runbook: models.Runbook, st: RunState, trigger: models.Trigger, now: datetime) -> bool:
    """Whether ``trigger`` is inside its armed span in the run's state ``st`` at ``now``."""
    from golive.engine.state import RunStatus, parse_ts

    sp = span(runbook, trigger)
    if sp is None or st.rollback is not None or st.status is RunStatus.ROLLING_BACK or st.rollback_requests:
        return False  # a rollback was asked for or started: nothing is read any more
    start, until = sp
    if start is not None and st.phases.get(start, "pending") == "pending":
        return False
    if st.final:
        if st.status is not RunStatus.PASSED or until != "hypercare":
            return False
        end = hypercare_end(runbook, parse_ts(st.go_at))
        return end is not None and now < end
    if until in ("end", "hypercare"):
        return True
    return st.phases.get(until, "pending") in ("pending", "running")


def gap_floor(clock: Any) -> float:
    """The shortest gap that counts as unwatched besides twice the interval, as in observe windows: real time
    under 0.5 s (2 s in a time-scaled rehearsal) is the host's scheduling; a fake clock has no floor."""
    factor = getattr(clock, "factor", None)
    if isinstance(factor, int | float):
        return samples_mod.REHEARSAL_GAP_FLOOR * factor
    return samples_mod.REAL_GAP_FLOOR if isinstance(clock, clock_mod.SystemClock) else 0.0


def span_coverage(
    runbook: models.Runbook, st: RunState, events: Sequence[Any], segment: str, now: datetime, floor: float = 0.0
) -> dict[str, Any]:
    """Each armed trigger's coverage of its armed span in ``segment`` (``cutover``: from its ``from`` phase's
    start to its ``until`` phase's end, the cutover's end or the rollback's start; ``hypercare``: from GO to
    the end of hypercare, ``now`` or the rollback's start), from every reading the log holds (observe windows'
    and the armed watch's alike). Gaps follow the observe windows' rules (:mod:`golive.watch.samples`): a gap
    longer than twice the interval is unwatched, and a span whose every reading failed saw nothing."""
    from golive.engine.state import parse_ts

    rolled = parse_ts((st.rollback or {}).get("started_at"))
    go = parse_ts(st.go_at)
    out: dict[str, Any] = {}
    for t in runbook.triggers:
        sp = span(runbook, t)
        if sp is None:
            continue
        start, until = sp
        ends = [now] + ([rolled] if rolled is not None else [])
        if segment == "hypercare":
            end = hypercare_end(runbook, go)
            if until != "hypercare" or go is None or end is None:
                continue
            a: datetime | None = go
            ends.append(end)
        else:
            a = parse_ts(st.phase_times.get(start or runbook.phases[0].id, (None, None))[0])
            if until not in ("end", "hypercare"):
                ends.append(parse_ts(st.phase_times.get(until, (None, None))[1]) or now)
        b = min(ends)
        if a is None or b <= a:
            continue
        cov = samples_mod.Coverage(interval=t.interval, start=a, min_gap=floor)
        readings = sorted(
            sample
            for e in events
            if e.type in ("trigger_evaluated", "trigger_fired") and (e.data.get("trigger") or "") == t.id
            for sample in samples_mod.samples_of(e.data, e.ts)
            if a <= sample[0] <= b
        )
        for at, status, _, _ in readings:
            cov.add(at, error=status == "error")
        cov.close(b)
        need = t.min_coverage if t.min_coverage is not None else samples_mod.DEFAULT_MIN_COVERAGE
        blind = cov.errors >= cov.readings  # no reading, or every one failed: nothing was seen
        out[t.id] = {
            **cov.as_json(),
            "from": clock_mod.utc_iso(a),
            "until": clock_mod.utc_iso(b),
            "min_coverage": need,
            "blind": blind,
            "ok": cov.fraction + 1e-9 >= need and not blind,
        }
    return out


async def record_coverage(engine: Any, segment: str, watch: ArmedWatch | None = None) -> None:
    """Write the armed watch's last readings (``watch``), then ``armed_coverage`` [segment, ok, triggers]: each
    armed trigger's watched fraction of its span in ``segment`` against its ``min_coverage``. Nothing is
    written for a run without armed triggers."""
    runbook = engine.runbook
    if not any(span(runbook, t) is not None for t in runbook.triggers):
        return
    if watch is not None:
        await watch.flush()
    events = await engine.store.events(engine.h.run_id)
    try:
        per = span_coverage(runbook, engine.h.state, events, segment, engine.clock.now(), gap_floor(engine.clock))
    except Exception as exc:  # a log it cannot read (a bug, a hand-edited event): recorded as not ok, never ok
        why = engine.redactor.redact(f"{type(exc).__name__}: {exc}")
        await engine.emit("armed_coverage", segment=segment, ok=False, triggers={}, error=why)
        return
    if per:
        ok = all(c["ok"] for c in per.values())
        await engine.emit("armed_coverage", segment=segment, ok=ok, triggers=per)


def taken_up(runbook: models.Runbook, fire: dict[str, Any]) -> tuple[str, str]:
    """(reason, by) of the rollback an engine taking a run up owes to a fire it finds unanswered in the log
    (:meth:`golive.engine.state.RunState.unanswered_fire`: the engine that fired it stopped before its
    rollback). The fire stands: it is not read again first."""
    tid = str(fire.get("trigger") or "")
    trig = runbook.trigger(tid)
    title = trig.title if trig is not None and trig.title else tid
    reason = f"trigger {tid} fired ({title}): {fire.get('reason')} (taken up: its rollback had not started)"
    return reason, f"trigger:{tid}"


def _observed(runbook: models.Runbook, st: RunState, observe_steps: Sequence[models.Step]) -> set[str]:
    """Triggers a running observe step reads itself. A window paused for the IC reads nothing until the answer
    (minutes): the armed watch reads its triggers meanwhile, so a rollback trigger breaching while the IC weighs
    a pause rolls back at once (the shared evaluators keep the pausing trigger firing, not fired again).

    ``observe_steps``: the runbook's observe steps, found once by the watch (it looks at every poll)."""
    out: set[str] = set()
    for step in observe_steps:
        if st.step(step.id).status == "running":
            out |= set(step.triggers) if step.triggers else {t.id for t in runbook.triggers}
    return out


async def _shared(engine: Any, ids: tuple[str, ...]) -> list[triggers_mod.TriggerEvaluator]:
    """The run's one evaluator per trigger (:func:`golive.engine.observing.shared`). Imported here, when a
    trigger is armed: observing brings the canary judge (numpy, scipy: about 0.55 s of CPU and 77 MB) that a run
    with no armed trigger never needs."""
    from golive.engine import observing

    return await observing.shared(engine, ids)


class ArmedWatch:
    """Reads a run's armed triggers on their intervals (one loop, like an observe window's)."""

    def __init__(self, engine: Any, on_rollback: Callable[[str, str], Awaitable[None]]) -> None:
        """``engine`` is the run's :class:`golive.engine.runner.Engine` (taken as Any: the runner starts this
        watch, so importing it here would be a cycle); ``on_rollback(reason, by)`` starts the rollback when a
        rollback trigger fires."""
        self.engine = engine
        self.on_rollback = on_rollback
        self._recorder: observe_mod.Recorder | None = None  # made when a trigger is first read
        self.reads = 0
        self._answered: set[tuple[str, str]] | None = None  # pause questions whose answer was acted on
        self._observe_steps = [s for _, s in engine.runbook.all_steps() if s.kind is models.StepKind.OBSERVE]

    @property
    def recorder(self) -> observe_mod.Recorder:
        """The readings' batcher, made (and the watchers imported) when the first armed trigger is read: a run
        with none, like a pre-flight, never imports them."""
        if self._recorder is None:
            from golive.watch import observe as observe_mod

            self._recorder = observe_mod.Recorder(self._record, self.engine.clock)
        return self._recorder

    async def flush(self) -> None:
        """Write the readings batched so far (nothing when no trigger was read)."""
        if self._recorder is not None:
            await self._recorder.flush()

    async def _record(self, ev: dict[str, Any]) -> None:
        await self.engine.emit(ev["type"], armed=True, **ev["data"])

    def active(self) -> list[models.Trigger]:
        """The armed triggers this watch reads now."""
        eng = self.engine
        st = eng.h.state
        if eng.rollback_begun or not eng.runbook.triggers:  # a window's fire is starting the rollback; or none
            return []
        now = eng.clock.now()
        busy = _observed(eng.runbook, st, self._observe_steps)
        return [t for t in eng.runbook.triggers if t.id not in busy and armed_now(eng.runbook, st, t, now)]

    async def run(self) -> None:
        """Read until cancelled; a rollback trigger's fire calls ``on_rollback`` and ends the watch."""
        eng = self.engine
        clock = eng.clock
        next_due: dict[str, float] = {}
        # A time-scaled rehearsal reads armed triggers at most every REAL_GAP_FLOOR real seconds: at 3600x a
        # 30 s interval would be 8 ms of real time, and the reads would starve the run they watch.
        factor = getattr(clock, "factor", None)
        floor = samples_mod.REAL_GAP_FLOOR * factor if isinstance(factor, int | float) else 0.0
        armable = any(span(eng.runbook, t) is not None for t in eng.runbook.triggers)
        while True:
            if await self.answers():
                return
            active = self.active()
            # The run's one evaluator per trigger, shared with its observe windows: a trigger a window fired
            # goes on firing here (no second fire) until a reading clears it.
            shared = {e.id: e for e in await _shared(eng, tuple(t.id for t in active))} if active else {}
            ids = {t.id for t in active}
            for tid in [t for t in next_due if t not in ids]:
                next_due.pop(tid)  # disarmed (or an observe window reads it): its batch is written now
                await self.flush()
            now = clock.monotonic()
            due = [t for t in active if next_due.setdefault(t.id, now) <= now]
            if due:
                evs = [shared[t.id] for t in due if t.id in shared]
                for e in evs:
                    every = max(e.interval, floor)
                    nxt = next_due[e.id] + every
                    next_due[e.id] = nxt if nxt > clock.monotonic() else clock.monotonic() + every
                if await self._read(evs):
                    return
            # Which triggers are armed is looked at again every poll (run time; a scaled rehearsal's is long
            # enough in real time not to spin).
            wake = min([*next_due.values(), clock.monotonic() + max(RECHECK, eng.poll)])
            if next_due:
                # A fake clock is waited on, never moved: the watch reads when the run's time comes, and
                # does not carry it ahead of work the run does in real time (a check's process, a store write).
                pause = max(0.0, wake - clock.monotonic())
                await (clock.wait(pause) if isinstance(clock, clock_mod.FakeClock) else clock.sleep(pause))
            elif isinstance(clock, clock_mod.FakeClock) and armable and not eng.rollback_begun:
                # Nothing armed now, but a trigger may be soon (its phase starts, a window ends): look again
                # when the run's time has moved a second on, stopping a fake clock there on its way.
                await clock.wait(max(RECHECK, eng.poll))
            else:
                # Nothing armed: look again in real time, never moving a fake clock while the run does I/O.
                await asyncio.sleep(eng.real_poll)

    async def read_once(self) -> bool:
        """Read every trigger armed now once and write the readings (``golive hypercare --tick``, run from
        cron); True when a rollback trigger fired and ``on_rollback`` ran."""
        if await self.answers():
            return True
        active = self.active()
        if not active:
            return False
        evs = await _shared(self.engine, tuple(t.id for t in active))
        try:
            return await self._read([e for e in evs if not e.manual])
        finally:
            await self.flush()

    async def _read(self, evs: list[triggers_mod.TriggerEvaluator]) -> bool:
        """Read ``evs`` once (together), record the readings and act on fires; True when the rollback started."""
        got = await asyncio.gather(*(e.evaluate_once() for e in evs))
        for e, ev in zip(evs, got, strict=True):
            self.reads += 1
            await self.recorder.record(ev, e.interval)
            if ev.fired and await self._fired(e.trigger, ev):
                return True
        return False

    async def _fired(self, trig: models.Trigger, ev: triggers_mod.Evaluation) -> bool:
        """Act on a fire; True when the rollback started (the watch ends)."""
        eng = self.engine
        title = trig.title or trig.id
        if trig.then == "rollback":
            await self.flush()
            st = eng.h.state
            if eng.rollback_begun or st.rollback is not None or st.rollback_requests:
                return True  # a rollback is already under way (asked for while this read was in flight)
            await self.on_rollback(f"trigger {trig.id} fired ({title}): {ev.reason}", f"trigger:{trig.id}")
            return True
        if trig.then == "pause" and not self._window_takes(trig):
            await self._ask(trig, ev)
            return False
        # notify, or a pause that a window of the running phase takes up: announced (to its channels too).
        await eng.notify(
            "trigger_fired",
            channels=trig.channels,
            severity=trig.severity,
            trigger={"id": trig.id, "title": title, "reason": ev.reason},
            reason=ev.reason,
        )
        return False

    def _window_takes(self, trig: models.Trigger) -> bool:
        """Whether an observe window of the running phase that watches ``trig`` is still to end: that window
        asks the IC when it reads the trigger (the shared evaluator keeps it firing; the IC's deadline counts
        from this fire when it came as the window opened), so the watch does not ask a second question."""
        st = self.engine.h.state
        return any(
            st.phases.get(phase.id) == "running"
            and st.step(step.id).status != "done"
            and (not step.triggers or trig.id in step.triggers)
            for phase in self.engine.runbook.phases
            for step in phase.steps
            if step.kind is models.StepKind.OBSERVE
        )

    async def _ask(self, trig: models.Trigger, ev: triggers_mod.Evaluation) -> None:
        """A pause trigger fired outside an observe window: ask the IC continue or rollback (``trigger_paused``,
        the trigger's deadline and default; the ``pause`` message). Asked once while a question of it is open."""
        eng = self.engine
        scope = f"trigger:{trig.id}"
        if any(o.get("scope") == scope and o.get("decision") is None for o in eng.h.state.overruns):
            return
        await self.flush()
        now = eng.clock.now()
        wait = trig.deadline
        if wait is None:
            from golive.watch import observe as observe_mod

            wait = eng.runbook.settings.decision_deadline or observe_mod.DEFAULT_PAUSE_DEADLINE
        deadline = clock_mod.utc_iso(now + timedelta(seconds=wait))
        title = trig.title or trig.id
        await eng.emit(
            "trigger_paused",
            scope=scope,
            trigger=trig.id,
            reason=f"trigger {trig.id} fired ({title}): {ev.reason}; the run is paused",
            asked_at=clock_mod.utc_iso(now),
            deadline=deadline,
            default=trig.default,
            roles=sorted(eng.runbook.roles_with("decide")),
        )
        await eng.notify(
            "pause",
            channels=trig.channels or None,
            severity=trig.severity if trig.severity == "critical" else None,
            trigger={"id": trig.id, "title": title, "reason": ev.reason},
            deadline=deadline,
            default=trig.default,
        )

    async def answers(self) -> bool:
        """Apply the deadline's default to an open pause question and act on the answers; True when a
        ``rollback`` answer started the rollback (``on_rollback``, by ``trigger:ID``: the watch ends)."""
        eng = self.engine
        st = eng.h.state
        pauses = [o for o in st.overruns if state_mod.is_pause(o)]
        if self._answered is None:  # answered before this watch began: a continue is not acted on again
            self._answered = {_key(o) for o in pauses if o.get("decision")}
        now = eng.clock.now()
        for o in pauses:
            deadline = state_mod.parse_ts(o.get("deadline"))
            default = o.get("default") or "rollback"
            if o.get("decision") is None and default != "hold" and deadline is not None and now >= deadline:
                await windows_mod.apply_default(eng, o)
        for o in pauses:
            dec = o.get("decision")
            if not dec or _key(o) in self._answered:
                continue
            tid = str(o.get("scope") or "").removeprefix("trigger:")
            if dec.get("decision") == "continue":
                self._answered.add(_key(o))
                ev = eng.evaluators.get(tid)
                if ev is not None:  # the IC chose to go on: the trigger must breach again to fire again
                    ev.reset()
                continue
            if eng.rollback_begun or st.rollback is not None or st.rollback_requests:
                return True  # a rollback is already under way
            who = "deadline" if dec.get("default") else dec.get("by")
            await self.flush()
            await self.on_rollback(f"{o.get('reason')}; ROLLBACK by {who}: {dec.get('reason')}", f"trigger:{tid}")
            return True
        return False


def _key(question: dict[str, Any]) -> tuple[str, str]:
    return str(question.get("scope")), str(question.get("at"))
