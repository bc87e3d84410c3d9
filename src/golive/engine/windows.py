"""Windows and freezes while a live run goes on: past ``not_after`` the IC is asked; a freeze that begins is
announced and does not stop the run.

- **Overrun.** When the run's window (``window.not_after``) or the running phase's window closes before the
  cutover's phases are done, the engine records ``window_overrun`` [scope, not_after, deadline, default, role]
  and sends the ``window_overrun`` message. The role asked (``on_overrun.role``, else the roles with the
  decide power) answers with ``golive decide RUN continue|rollback`` (``overrun_decided``); with no answer by
  the deadline, the default is recorded the same way (``by: deadline``). ``rollback`` requests the rollback
  plan (``rollback_requested``, source ``window``); ``continue`` lets the cutover go on.
- **Freeze.** A freeze whose occurrence begins while the run goes on is recorded (``freeze_started``) and
  announced (``freeze_started`` message); the run does not stop: the freeze gates starts, not runs.

The watcher runs beside the engine's run loop in live runs that have something to watch. Pure decisions
(what is due) are functions of the runbook and the state, so a resumed engine picks up where one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from golive import clock as clock_mod
from golive import exceptions
from golive.engine import gate
from golive.engine import state as state_mod
from golive.spec import models

if TYPE_CHECKING:
    from golive.watch import freezes as freezes_mod

__all__ = ["Due", "apply_default", "ask", "due_overruns", "has_watch", "watch"]

WATCH_REAL = 0.2  # real seconds between looks, at most (the engine's poll interval when it is shorter)

INTERNAL_ACTOR = "golive"  # the actor of what the engine records by itself (as runner.INTERNAL_ACTOR)


class Due:
    """A window that closes: its scope (``run`` or a phase id), when, and what to ask."""

    def __init__(self, scope: str, not_after: datetime, on_overrun: models.OnOverrun) -> None:
        self.scope, self.not_after, self.on_overrun = scope, not_after, on_overrun


def has_watch(runbook: models.Runbook) -> bool:
    wins = [runbook.window, *(p.window for p in runbook.phases)]
    return bool(runbook.freeze) or any(w is not None and w.not_after is not None for w in wins)


def due_overruns(runbook: models.Runbook, st: state_mod.RunState) -> list[Due]:
    """The windows that close while the cutover still needs them: the run's (once the start gate opened, unless
    waived there) while any phase is still to finish, and each running phase's (unless waived: ``window:PHASE``)."""
    out: list[Due] = []
    open_phases = [p for p in runbook.phases if st.phases.get(p.id) in ("pending", "running")]
    # The run's window is the start gate's until the gate opened: judged (and perhaps waived) there first.
    gate_open = st.gate is not None and st.gate.get("outcome") == "open"
    if (
        runbook.window is not None
        and open_phases
        and gate_open
        and not any(w.get("gate") == "window" for w in st.gate_waived)
    ):
        _, na = runbook.window.edges(runbook.t0)
        if na is not None:
            out.append(Due("run", na, runbook.window.on_overrun))
    waived = {w.get("gate") for w in st.gate_waived}
    for p in runbook.phases:
        if p.window is not None and st.phases.get(p.id) == "running" and f"window:{p.id}" not in waived:
            _, na = p.window.edges(runbook.t0)
            if na is not None:
                out.append(Due(p.id, na, p.window.on_overrun))
    return out


def asked_role(runbook: models.Runbook, on_overrun: models.OnOverrun) -> list[str]:
    if on_overrun.role:
        return [on_overrun.role]
    return sorted(runbook.roles_with("decide"))


async def watch(engine: Any) -> None:
    """Run until cancelled (the engine cancels it when the run loop ends).

    It looks every real poll interval, like the engine's poller, and never sleeps on the run's clock: under a
    fake clock time moves whenever a task sleeps on it and no one sleeps sooner, so a watcher sleeping there
    would move the run's time while the run loop works."""
    runbook: models.Runbook = engine.runbook
    st: state_mod.RunState = engine.h.state
    freezes = _FreezeStarts(gate.calendar_for(runbook, engine.h.loaded.path)) if runbook.freeze else None
    waived = {w.get("gate") for w in st.gate_waived}
    announced = {(f.get("freeze"), f.get("start")) for f in st.freezes_started}
    last = engine.clock.now()
    while not st.final:
        # A busy store: looked at again next time (a lost lease stops the run loop itself).
        with contextlib.suppress(exceptions.StoreError):
            last = await _look(engine, runbook, st, freezes, waived, announced, last)
        await asyncio.sleep(min(float(engine.real_poll), WATCH_REAL))


async def _look(
    engine: Any,
    runbook: models.Runbook,
    st: state_mod.RunState,
    freezes: _FreezeStarts | None,
    waived: set[Any],
    announced: set[tuple[Any, Any]],
    last: datetime,
) -> datetime:
    """One look: announce freezes that began since ``last``, ask about windows that closed, apply defaults."""
    now = engine.clock.now()
    if freezes is not None and not st.rolling_back:
        for occ in freezes.between(last, now):
            key = (occ.freeze_id, clock_mod.utc_iso(occ.start))
            if key in announced or occ.freeze_id in waived:
                continue
            announced.add(key)
            await engine.emit("freeze_started", freeze=occ.freeze_id, title=occ.title, start=key[1],
                              end=clock_mod.utc_iso(occ.end))  # fmt: skip
            await engine.notify(
                "freeze_started",
                freeze={"id": occ.freeze_id, "title": occ.title},
                until=gate.when_text(occ.end, now),
            )
    last = now
    if not st.rolling_back and st.rollback is None:
        for due in due_overruns(runbook, st):
            if now >= due.not_after and not any(o.get("scope") == due.scope for o in st.overruns):
                await ask(engine, due, now)
    # An armed trigger's pause is the armed watch's (golive.engine.armed): its default and answers are its own.
    pending = next((o for o in reversed(st.overruns) if o.get("decision") is None and not state_mod.is_pause(o)), None)
    if pending is not None:
        deadline = state_mod.parse_ts(pending.get("deadline"))
        if deadline is not None and now >= deadline:
            await apply_default(engine, pending)
    await _act_on_answers(engine)
    return last


class _FreezeStarts:
    """Occurrences that begin in (a, b], from a calendar expanded a day at a time (looked at every poll)."""

    SPAN = timedelta(days=1)

    def __init__(self, cal: freezes_mod.Calendar) -> None:
        self.cal = cal
        self.lo: datetime | None = None
        self.hi: datetime | None = None
        self.occs: list[freezes_mod.Occurrence] = []

    def between(self, a: datetime, b: datetime) -> list[freezes_mod.Occurrence]:
        if self.lo is None or self.hi is None or a < self.lo or b > self.hi:
            self.lo, self.hi = a, max(b, a + self.SPAN)
            self.occs = self.cal.starts_between(self.lo, self.hi)
        return [o for o in self.occs if a < o.start <= b]


async def ask(engine: Any, due: Due, now: datetime) -> None:
    """Ask the IC (``window_overrun``, announced) what to do about a window that closed: deadline, default."""
    roles = asked_role(engine.runbook, due.on_overrun)
    deadline = now + timedelta(seconds=due.on_overrun.deadline)
    what = "the run's window" if due.scope == "run" else f"phase {due.scope}'s window"
    await engine.emit(
        "window_overrun",
        scope=due.scope,
        not_after=clock_mod.utc_iso(due.not_after),
        asked_at=clock_mod.utc_iso(now),
        deadline=clock_mod.utc_iso(deadline),
        default=due.on_overrun.default,
        roles=roles,
        reason=f"{what} closed at {gate.when_text(due.not_after, now)} and the cutover is not done",
    )
    await engine.notify(
        "window_overrun",
        scope=what,
        not_after=gate.when_text(due.not_after, now),
        deadline=clock_mod.utc_iso(deadline),
        default=due.on_overrun.default,
        role=", ".join(roles),
    )


async def apply_default(engine: Any, pending: dict[str, Any]) -> None:
    """Record the deadline's default as the answer to the open question ``pending`` (``by: deadline``)."""
    default = pending.get("default") or "rollback"
    await engine.emit(
        "overrun_decided",
        scope=pending.get("scope"),
        decision=default,
        default=True,
        reason=f"no answer by the deadline; default {default}",
    )


async def _act_on_answers(engine: Any) -> None:
    """A ROLLBACK answer (a person's or the deadline's) requests the rollback plan, once."""
    st: state_mod.RunState = engine.h.state
    if st.rollback is not None or st.final:
        return
    for o in st.overruns:
        dec = o.get("decision") or {}
        if dec.get("decision") != "rollback" or state_mod.is_pause(o):
            continue
        if any(r.get("source") == "window" for r in st.rollback_requests):
            return
        who = "deadline" if dec.get("default") else dec.get("by")
        await engine.emit(
            "rollback_requested",
            actor=INTERNAL_ACTOR if dec.get("default") else dec.get("by"),
            source="window",
            reason=f"{o.get('reason')}; ROLLBACK by {who}: {dec.get('reason')}",
        )
        with contextlib.suppress(exceptions.GoliveError):
            await engine.h.refresh()
        engine.rollback_wake.set()
        return
