"""A run's comms: its messages, its status updates on the cadence, and its pagers, as the engine sends them.

Rules it keeps:

- The notifier is made on first use; the channel URLs it renders may carry secrets, which are registered with
  the run's redactor before anything is sent. Every message is redacted and recorded (``comms_sent``).
- What was sent is restored from the log, so a resumed run neither repeats a message nor skips a due update.
- A failed delivery never blocks the cutover unless its channel is required (``DeliveryFailed`` then reaches
  the step that sent it); during a rollback nothing stops the restoration: a comms failure is recorded instead.
- Status updates follow the runbook's cadence tiers from the run's state (start, GO, completion); a runbook
  without tiers runs no loop.
- Pagers wake on a trigger's fire and resolve their page when it clears or the run ends.
- ``enabled=False`` sends nothing and makes no notifier (a pre-flight is a read-only look).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from golive import exceptions
from golive.engine import context as context_mod
from golive.engine.state import RunStatus, parse_ts
from golive.results import Outcome
from golive.spec import models, refs

__all__ = ["RunComms"]

Emit = Callable[..., Awaitable[None]]


class RunComms:
    """The comms of one run in this process; ``emit`` records (the engine's fenced append)."""

    def __init__(self, ctx: context_mod.RunContext, emit: Emit, *, enabled: bool = True) -> None:
        self.ctx = ctx
        self.h = ctx.h
        self.runbook = ctx.runbook
        self.emit = emit
        self.enabled = enabled
        self._notifier: Any = None
        self._pagers: Any = None

    async def _record(self, payload: dict[str, Any]) -> None:
        await self.emit("comms_sent", **payload)

    async def notifier(self) -> Any:
        """The run's notifier, made on first use (channel URLs may carry secrets: they are registered)."""
        if self._notifier is None:
            from golive.notify import context as notify_context
            from golive.notify import notifier as notifier_mod

            ctx, st = self.ctx, self.h.state
            for ch in self.runbook.comms.channels:
                await ctx.render(ch.url)
                if ch.rehearsal and st.mode != "live":
                    await ctx.render(ch.rehearsal)
            self._notifier = notifier_mod.Notifier(
                self.runbook.comms,
                redact=ctx.redactor.redact,
                clock=ctx.clock,
                record=self._record,
                base=notify_context.for_run(
                    self.runbook,
                    run_id=self.h.run_id,
                    mode=st.mode,
                    started_at=parse_ts(st.created_at),
                    vars=ctx.vars,
                ),
                t0=parse_ts(st.anchor),
                resolve_url=lambda url: str(refs.render(url, ctx.resolve)),
                mode=st.mode,
            )
            for secret in self._notifier.secrets():
                ctx.redactor.add_secret(secret)
            self._notifier.restore(st.comms)
        return self._notifier

    async def notify(
        self,
        event: str,
        *,
        message: str | None = None,
        channels: list[str] | tuple[str, ...] | None = None,
        severity: str | None = None,
        **context: Any,
    ) -> None:
        """Send a comms message for an event to its routed channels (or the ``channels`` named). A failed
        delivery is recorded and never blocks the cutover, unless the channel is required (then DeliveryFailed
        propagates to the step that sent it). During a rollback nothing stops the restoration: a comms failure
        (a required channel down, its secret missing) is recorded instead."""
        if not self.enabled:
            return
        try:
            n = await self.notifier()
            await n.notify(event, self.message_context(**context), channels or None, message, severity=severity)
        except exceptions.GoliveError as exc:
            if self.h.state.rollback is None:
                raise
            await self.emit(
                "comms_sent",
                channel="*",
                event=event,
                text="",
                ok=False,
                attempts=0,
                error=self.ctx.redactor.redact(exc.message)[: context_mod.EXCERPT_LIMIT],
            )

    async def announce_phase(self, phase: models.Phase, stage: str, **context: Any) -> None:
        """A phase's start, pass, failure or waivers, as its ``announce`` says."""
        if not self.enabled:
            return
        n = await self.notifier()
        await n.announce_phase(phase, stage, self.message_context(**context))

    def cadence_context(self) -> dict[str, Any]:
        """What a status update says: the phase running, the next checkpoint, the step counts."""
        st = self.h.state
        current = next((p for p, o in st.phases.items() if o == "running"), None)
        pending = [p for p, o in st.phases.items() if o == "pending"]
        return self.message_context(
            current_phase=current,
            next_checkpoint=pending[0] if pending else None,
            steps_passed=sum(1 for s in st.steps.values() if s.outcome is Outcome.PASS),
            steps_failed=sum(1 for s in st.steps.values() if s.outcome in (Outcome.FAIL, Outcome.ERROR)),
            steps_pending=sum(1 for s in st.steps.values() if s.status != "done" and s.section in st.phases),
        )

    async def run_cadence(self) -> None:
        """Status updates on the runbook's cadence tiers, from the run's current state."""
        if not self.enabled:
            return
        n = await self.notifier()
        if not n.tiers:  # no cadence: the loop would only spin (and on a FakeClock push time forward)
            return
        st = self.h.state
        await n.run_cadence(anchors=self.cadence_anchors, ctx=self.cadence_context, stop=lambda: st.final)

    def cadence_anchors(self) -> Any:
        """The run's cadence anchors: start, GO, and when the run is complete (after hypercare, if it passed)."""
        from golive.notify import cadence

        st = self.h.state
        start = parse_ts(st.created_at) or self.ctx.clock.now()
        go = parse_ts(st.go_at)
        end = cadence.complete_at(self.runbook, go, parse_ts(st.finished_at), st.status is RunStatus.PASSED)
        return cadence.Anchors(start=start, go=go, end=end)

    def message_context(self, **extra: Any) -> dict[str, Any]:
        """The variables every message of this run sees (run, runbook, release, counts) and ``extra``."""
        st = self.h.state
        rb = self.runbook
        return {
            "run": {"id": self.h.run_id, "mode": st.mode, "status": st.status.label, "name": rb.name},
            "runbook": {"name": rb.name, "title": rb.title, "service": rb.service, "environment": rb.environment},
            "release": rb.release.model_dump(mode="json", exclude_none=True),
            "counts": {
                "passed": sum(1 for s in st.steps.values() if s.outcome is Outcome.PASS),
                "failed": sum(1 for s in st.steps.values() if s.outcome in (Outcome.FAIL, Outcome.ERROR)),
            },
            **extra,
        }

    async def page(self, type_: str, data: dict[str, Any]) -> None:
        """Wake the runbook's pagers on a trigger fire; resolve the page when it clears or the run ends."""
        if self._pagers is None:
            from golive.notify import pager as pager_mod

            async def render(text: str) -> str:
                return str(await self.ctx.render(text))

            self._pagers = pager_mod.Pagers(
                self.runbook, self.h.run_id, render=render, record=self._record, http=self.ctx.http_client,
                comms=list(self.h.state.comms), mode=self.h.state.mode,
            )  # fmt: skip
        await self._pagers.on_event(type_, data)

    async def drain(self) -> None:
        """Wait for the messages still being sent (retries included), if a notifier was made; a failure to
        deliver was recorded already."""
        if self._notifier is not None:
            with contextlib.suppress(exceptions.GoliveError):
                await self._notifier.drain()
