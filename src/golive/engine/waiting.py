"""Waiting on a person where a step paused: the IC's answer to a paused observation or an inconclusive judge.

Rules it keeps:

- The answer is an act recorded by any process (``golive decide``, the API), read from the log on the run's
  clock; a rollback requested meanwhile ends the wait.
- At the deadline the default applies (recorded as ``decision_defaulted``), unless the default is ``hold``.
- GO (or a ``continue`` default) goes on watching what is left of the window; NO-GO (or a ``rollback``
  default) fails the step and starts the rollback (:class:`golive.engine.context.RollbackNow`).
"""

from __future__ import annotations

from golive.engine import context as context_mod
from golive.engine.context import RollbackNow
from golive.engine.state import parse_ts
from golive.spec import models

__all__ = ["wait_pause"]


async def wait_pause(engine: context_mod.StepHost, step: models.Step) -> float:
    """Wait for the IC on a paused observation. GO (or a ``continue`` default) returns the seconds of the
    window still to watch; NO-GO (or a ``rollback`` default) rolls back; ``hold`` waits on."""
    st = engine.h.state
    s = st.step(step.id)
    deadline = parse_ts(s.deadline)
    default = s.default or "rollback"
    remaining = s.remaining if s.remaining is not None else (step.duration or 0.0)
    limit = None
    if deadline is not None and default != "hold":
        limit = engine.clock.monotonic() + max(0.0, (deadline - engine.clock.now()).total_seconds())
    while True:
        if st.step(step.id).decision is not None:  # this pause's answer (the fold clears it at each pause)
            dec = st.decision
            break
        if limit is not None and engine.clock.monotonic() >= limit:
            await engine.emit(
                "decision_defaulted",
                step_id=step.id,
                default=default,
                reason=f"no decision by the deadline; default {default}",
            )
            dec = st.decision
            break
        engine.check_rollback()
        await engine.clock.sleep(engine.poll)
        await engine.h.refresh()
    choice = (dec or {}).get("decision")
    who = (dec or {}).get("by")
    if choice in ("go", "continue"):
        await engine.emit(
            "step_started",
            step_id=step.id,
            attempt=1,
            actor=who,
            resumed=True,
            remaining=round(remaining, 3),
            summary=f"paused by trigger; {str(choice).upper()} by {who}: watching the remaining {remaining:.0f}s",
        )
        return remaining
    await engine.emit(
        "step_finished", step_id=step.id, outcome="fail", summary=f"paused by trigger; {str(choice).upper()} by {who}"
    )
    raise RollbackNow(
        f"observation paused and {str(choice).upper()} by {who}: {(dec or {}).get('reason')}",
        str(who),
        "decision",
    )
