"""Waiting on people: manual steps, decisions (deadlines, defaults, quorums, approval links), unknown actions
and a paused observation or judge.

Rules it keeps:

- A step waits for an act recorded by any process (``golive confirm``/``decide``/``resolve``, the API), read
  from the log on the run's clock; a terminal prompter may answer beside it.
- A decision's deadline applies its default by compare-and-append (:func:`golive.engine.acts.apply_default`):
  a decision that landed first wins. Under a quorum each approval is announced as it lands.
- Each person waited for gets a signed single-use approval link when the engine has a linker.
- The answer to a pause is an act recorded by any process (``golive decide``, the API), read from the log on the run's
  clock; a rollback requested meanwhile ends the wait.
- At the deadline the default applies (recorded as ``decision_defaulted``), unless the default is ``hold``.
- GO (or a ``continue`` default) goes on watching what is left of the window; NO-GO (or a ``rollback``
  default) fails the step and starts the rollback (:class:`golive.engine.context.RollbackNow`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from golive import clock as clock_mod
from golive.engine import acts
from golive.engine import context as context_mod
from golive.engine import handle as handle_mod
from golive.engine import links as links_mod
from golive.engine import quorum as quorum_mod
from golive.engine.context import RollbackNow
from golive.engine.state import parse_ts
from golive.results import Outcome
from golive.spec import models

__all__ = ["People", "Prompter", "wait_pause"]

Prompter = Callable[[models.Step, handle_mod.RunHandle], Awaitable[None]]


class People:
    """What the engine waits for people on, for one run: ``host`` records and announces, ``prompter`` (a
    terminal) may answer beside the log, ``linker`` signs approval links, ``on_change`` is told of a change."""

    def __init__(
        self,
        host: context_mod.StepHost,
        *,
        prompter: Prompter | None = None,
        linker: links_mod.Linker | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.host = host
        self.prompter = prompter
        self.linker = linker
        self.on_change = on_change

    async def wait_until_done(
        self, step_id: str, deadline: float | None = None, until: Callable[[], bool] | None = None
    ) -> bool:
        """Wait for a step to be done by an act from any process. False when the deadline passed first.
        ``until``: also return (True) as soon as it holds (a quorum approval landed)."""
        s = self.host.h.state.step(step_id)
        while s.status != "done" and not (until is not None and until()):
            if s.status == "pending" and self.host.h.state.step(step_id).action_open is False and s.waiting_for is None:
                return True  # resolved not-done: run it again
            if deadline is not None and self.host.clock.monotonic() >= deadline:
                return False
            await self.host.wait_for_acts()
            await self.host.h.refresh()
            s = self.host.h.state.step(step_id)
        return True

    async def wait_manual(self, step: models.Step) -> None:
        s = self.host.h.state.step(step.id)
        if s.status != "waiting":
            await self.host.emit(
                "step_waiting",
                step_id=step.id,
                what="manual",
                role=step.role,
                holder=self.host.h.state.roles.get(step.role or ""),
                instructions=step.instructions,
            )
            await self.host.notify(
                "manual_waiting",
                step={"id": step.id, "title": step.title or step.id, "role": step.role},
                links=self.approval_links(step, "confirm", [self.host.h.state.roles.get(step.role or "")]),
            )
        if self.prompter is not None:
            prompt: asyncio.Future[None] = asyncio.ensure_future(self.prompter(step, self.host.h))
            waiter: asyncio.Future[Any] = asyncio.ensure_future(self.wait_until_done(step.id))
            await asyncio.wait({prompt, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if prompt.done() and (error := prompt.exception()) is not None:
                waiter.cancel()
                raise error
            await waiter
            prompt.cancel()
        else:
            await self.wait_until_done(step.id)

    async def wait_resolution(self, step: models.Step) -> None:
        await self.host.notify("action_unknown", step={"id": step.id, "title": step.title or step.id})
        await self.wait_until_done(step.id)

    async def wait_decision(self, step: models.Step) -> None:
        st = self.host.h.state
        s = st.step(step.id)
        deadline_s = step.deadline or self.host.runbook.settings.decision_deadline
        if s.status != "waiting":
            blockers = acts.decision_blockers(self.host.h, step)
            deadline_at = (
                clock_mod.utc_iso(self.host.clock.now() + timedelta(seconds=deadline_s)) if deadline_s else None
            )
            await self.host.emit(
                "step_waiting",
                step_id=step.id,
                what="decision",
                role=step.role,
                holder=st.roles.get(step.role or ""),
                deadline=deadline_at,
                default=step.default,
                blocked_by=blockers,
                requires=list(step.requires),
            )
            await self.host.notify(
                "decision_pending",
                step={"id": step.id, "title": step.title or step.id},
                blockers=blockers,
                deadline=deadline_at,
                links=self.approval_links(step, "decide", self._deciders(step)),
                **self.quorum_context(step),
            )
        deadline_mono = None
        s = st.step(step.id)
        if s.deadline and step.default in ("no-go", "rollback"):
            remaining = (parse_ts(s.deadline) - self.host.clock.now()).total_seconds()  # type: ignore[operator]
            deadline_mono = self.host.clock.monotonic() + max(0.0, remaining)
        prompt: asyncio.Future[None] | None = None
        if self.prompter is not None:
            prompt = asyncio.ensure_future(self.prompter(step, self.host.h))
        try:
            ok = await self.wait_approvals(step, deadline_mono)
        finally:
            if prompt is not None:
                prompt.cancel()
        if not ok:
            # Compare-and-append, like a person's act: a decision that landed at the deadline wins.
            await acts.apply_default(self.host.h, step.id, step.default or "no-go")
            if self.on_change:
                self.on_change()
        dec = st.decision or {}
        if st.step(step.id).outcome is Outcome.PASS:
            await self.host.notify(
                "decision_go",
                actor=dec.get("by"),
                reason=dec.get("reason"),
                statement=dec.get("statement"),
                approved=list(dec.get("approvers") or []),
            )
        else:
            await self.host.notify("decision_no_go", actor=dec.get("by"), reason=dec.get("reason"))

    async def wait_approvals(self, step: models.Step, deadline_mono: float | None) -> bool:
        """Wait for the decision; under a quorum, announce each approval as it lands (who approved, who is
        awaited). False when the deadline passed first."""
        if step.quorum is None:
            return await self.wait_until_done(step.id, deadline_mono)
        seen = len(self.host.h.state.step(step.id).approvals)

        def approved() -> bool:
            return len(self.host.h.state.step(step.id).approvals) != seen

        while True:
            ok = await self.wait_until_done(step.id, deadline_mono, until=approved)
            s = self.host.h.state.step(step.id)
            # Each approval that did not itself record the decision is announced with the quorum as it stood
            # then (two may land between two looks at the log).
            last = len(s.approvals) - (1 if s.status == "done" and s.decision == "go" else 0)
            for i in range(seen, last):
                await self.host.notify(
                    "decision_approved",
                    step={"id": step.id, "title": step.title or step.id},
                    actor=s.approvals[i].get("by"),
                    reason=s.approvals[i].get("reason"),
                    **self.quorum_context(step, upto=i + 1),
                )
            seen = len(s.approvals)
            if not ok or s.status == "done":
                return ok

    def _deciders(self, step: models.Step) -> list[str | None]:
        """Who a pending decision waits for: the awaited approvers of its quorum and the deciding role's holder
        (whose NO-GO is a veto); without a quorum, the deciding role's holder."""
        people: list[str | None] = []
        if step.quorum is not None:
            t = quorum_mod.tally(self.host.h.state, step.quorum, self.host.h.state.step(step.id).approvals, "go")
            people = [w["holder"] for w in t.awaited]
        return [*people, self.host.h.state.roles.get(step.role or "")]

    def approval_links(self, step: models.Step, act: str, people: Sequence[str | None]) -> list[dict[str, str]]:
        """One signed, single-use link per person (``{person, url}``) that opens ``step`` in the dashboard for
        them; they expire with the step's deadline. None without a linker."""
        if self.linker is None:
            return []
        s = self.host.h.state.step(step.id)
        expires = links_mod.expiry(s.deadline, self.host.clock.now())
        return [
            {"person": p, "url": self.linker.issue(self.host.h.run_id, step.id, act, p, expires)}
            for p in dict.fromkeys(x for x in people if x)
        ]

    def quorum_context(self, step: models.Step, upto: int | None = None) -> dict[str, Any]:
        """The comms variables of a decision's quorum: ``quorum`` (one line), ``approved``, ``awaited``
        (counting the first ``upto`` approvals, default all)."""
        if step.quorum is None:
            return {}
        approvals = self.host.h.state.step(step.id).approvals
        t = quorum_mod.tally(self.host.h.state, step.quorum, approvals[:upto], "go")
        return {
            "quorum": quorum_mod.describe(t),
            "approved": [str(a.get("by")) for a in t.approved],
            "awaited": [f"{w['holder']} ({w['role']})" if w["holder"] else f"{w['role']} (vacant)" for w in t.awaited],
        }


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
        await engine.wait_for_acts()
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
