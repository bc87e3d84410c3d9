"""The engine: runs a run's phases and steps from its event log, and resumes from it after a crash.

Rules it keeps:

- Phases run in order; a phase starts only when every phase before it passed or was waived.
- Inside a phase, steps follow ``needs`` and run in parallel under ``settings.concurrency``.
- A per-step timeout gives ``error``; retries back off; a blocking fail/error stops the phase and the run goes
  where the phase's ``on_failure`` says (NO-GO, rollback, stop); a non-blocking failure is a ``warn``.
- Actions are at most once: ``action_started`` is durable before the side effect, ``action_finished`` after.
  On resume, an action with a start and no finish is ``unknown``: retried only when ``idempotent``, otherwise
  the run waits for ``golive resolve``.
- Manual steps and decisions wait for acts recorded by any process (:mod:`golive.engine.acts`); a decision's
  deadline applies its default.
- A rollback (trigger, NO-GO, or a person) runs the flags' safe values first, then the plan's steps in order,
  then its confirmation checks, and the run ends ROLLED_BACK with the reason and who or what started it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from golive import clock as clock_mod
from golive import exceptions
from golive.engine import acts, waiting
from golive.engine import armed as armed_mod
from golive.engine import comms as comms_mod
from golive.engine import context as context_mod
from golive.engine import gate as gate_mod
from golive.engine import links as links_mod
from golive.engine import steps as steps_mod
from golive.engine import windows as windows_mod
from golive.engine.context import RollbackNow
from golive.engine.handle import create_run, new_run_id
from golive.engine.state import FINAL, RunStatus, is_pause, parse_ts
from golive.plugins import registry as registry_mod
from golive.results import Outcome, Result
from golive.spec import durations, models, refs
from golive.store import base as store_base

if TYPE_CHECKING:
    from golive.watch import triggers as triggers_mod

__all__ = ["Engine", "create_run", "new_run_id"]  # create_run and new_run_id live in golive.engine.handle

# Seconds of run time between a wait's looks at its deadline and at the log (the fallback: the follower wakes
# waits as soon as another process's act is applied).
POLL_INTERVAL = 0.2
# Real seconds at most between the follower's reads where the store's follow polls (SQLite, for the appends of
# other processes): the bounded fallback where there is no LISTEN/NOTIFY.
FOLLOW_POLL = 0.2
RESTORE_FLAGS_STEP = "restore_safe_flags"
EXCERPT_LIMIT = context_mod.EXCERPT_LIMIT
INTERNAL_ACTOR = context_mod.INTERNAL_ACTOR

Prompter = waiting.Prompter


MIN_REAL_POLL = 0.01  # real seconds between a time-scaled engine's looks at the store


class Engine:
    """Runs one run to its end (or to a crash; then ``resume`` runs it again from the log)."""

    def __init__(
        self,
        handle: acts.RunHandle,
        *,
        clock: clock_mod.Clock | None = None,
        registry: registry_mod.Registry | None = None,
        prompter: Prompter | None = None,
        poll: float = POLL_INTERVAL,
        on_change: Callable[[], None] | None = None,
        var_overrides: dict[str, Any] | None = None,
        linker: links_mod.Linker | None = None,
        comms: bool = True,
    ) -> None:
        """``comms``: False sends no comms at all and makes no notifier (a pre-flight is a read-only look)."""
        self.h = handle
        # Approval links in the messages of waiting steps: the server's own, else $GOLIVE_SERVER_SECRET with
        # $GOLIVE_PUBLIC_URL; none when neither is set.
        self.linker = linker if linker is not None else links_mod.from_env()
        self.store = handle.store
        self.runbook = handle.runbook
        self.clock = clock or self.store.clock
        self.registry = registry or registry_mod.default_registry()
        self.prompter = prompter
        # Seconds of run time between looks at the store, and the same in real seconds. A time-scaled
        # rehearsal looks at most every MIN_REAL_POLL real seconds, so polling never becomes a busy loop.
        factor = self.clock.factor if isinstance(self.clock, clock_mod.ScaledClock) else 1.0
        self.poll = max(poll, MIN_REAL_POLL * factor) if factor != 1.0 else poll
        self.real_poll = self.poll / factor
        self.on_change = on_change
        # Manual steps, decisions and unknown actions wait on people (golive.engine.waiting).
        self.people = waiting.People(self, prompter=prompter, linker=self.linker, on_change=on_change)
        # The run's vars, secrets, flags, HTTP pool and redactor (golive.engine.context).
        self.ctx = context_mod.RunContext(handle, clock=self.clock, registry=self.registry, var_overrides=var_overrides)
        self.redactor = self.ctx.redactor
        self.vars = self.ctx.vars
        self.rollback_wake = asyncio.Event()
        self._heard = asyncio.Event()  # set (and replaced) each time the follower applies another process's events
        self._watch_failed: BaseException | None = None
        self._armed_failed: Exception | None = None  # the armed-trigger watch failed (e.g. a lost lease)
        # One evaluator per trigger, shared by observe windows and the armed watch (observing.shared).
        self.evaluators: dict[str, triggers_mod.TriggerEvaluator] = {}
        self.rollback_begun = False  # a rollback is about to start: the armed watch reads no more
        self._armed: Any = None  # the armed watch (golive.engine.armed.ArmedWatch) while the run loop runs
        self._taken_up_fire: dict[str, Any] | None = None  # a fire left unanswered by an earlier engine (run())
        # The run's comms: messages, status updates on the cadence, pagers (golive.engine.comms).
        self.comms = comms_mod.RunComms(self.ctx, self.emit, enabled=comms)
        self.dry_run = self.ctx.dry_run

    # -- plumbing --------------------------------------------------------------------------------------
    async def emit(
        self, type_: str, *, step_id: str | None = None, actor: str | None = INTERNAL_ACTOR, **data: Any
    ) -> None:
        await self.h.append(type_, step_id=step_id, actor=actor, **data)
        if self.on_change:
            self.on_change()
        if self.runbook.pagers and not self.dry_run and type_ in ("trigger_fired", "trigger_evaluated", "run_finished"):
            await self.comms.page(type_, data)

    def _pending_rollback(self) -> RollbackNow | None:
        st = self.h.state
        if st.rollback is None and st.rollback_requests:
            req = st.rollback_requests[-1]
            if req.get("armed"):  # an armed trigger fired while the run went on
                return RollbackNow(req.get("reason") or "trigger fired", f"trigger:{req.get('trigger')}", "trigger")
            if req.get("trigger"):  # a trigger a person raised: the rollback is the trigger's, the reason names them
                tid = req["trigger"]
                return RollbackNow(
                    f"trigger {tid} raised by {req.get('by')}: {req.get('reason')}", f"trigger:{tid}", "trigger"
                )
            return RollbackNow(
                req.get("reason") or "requested", req.get("by") or "unknown", req.get("source") or "person"
            )
        if self._taken_up_fire is not None and st.rollback is None:
            return RollbackNow(*armed_mod.taken_up(self.runbook, self._taken_up_fire), "trigger")
        return None

    async def _follow(self) -> None:
        """Apply what other processes record (people's acts, a rollback request) as the store reports it, through
        ``store.follow``: PostgreSQL wakes it on NOTIFY, the in-memory store on each append, and SQLite on this
        store's appends and otherwise within ``real_poll`` seconds (its follow polls: the bounded fallback). A
        rollback request wakes the run loop; waits on people wake at once (:meth:`wait_for_acts`)."""
        while True:
            try:
                poll = min(self.real_poll, FOLLOW_POLL)
                # The events this handle applied (its own appends above all) are passed over, not read back:
                # those a wait's look at the log applied reach the run loop through on_heard.
                follow = self.store.follow(
                    self.h.run_id, after_seq=self.h.state.last_seq, poll=poll, known=lambda: self.h.state.last_seq
                )
                async for ev in follow:
                    # New here unless a wait's look at the log or an append applied it while it was read.
                    if ev.seq > self.h.state.last_seq:
                        await self.h.refresh()
                        heard, self._heard = self._heard, asyncio.Event()
                        heard.set()
                        if self.on_change:
                            self.on_change()
                    if self._pending_rollback() is not None:  # however it was applied, the run loop hears it
                        self.rollback_wake.set()
            except exceptions.StoreError:
                # A busy store: follow again from what was applied; the run loop sees errors itself.
                await asyncio.sleep(self.real_poll)

    async def wait_for_acts(self) -> None:
        """Until another process records something (an act) or ``poll`` seconds of run time pass: the tick on
        which a wait checks its deadline, and the fallback should a wake be missed."""
        heard = asyncio.ensure_future(self._heard.wait())
        tick = asyncio.ensure_future(self.clock.sleep(self.poll))
        try:
            await asyncio.wait({heard, tick}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            heard.cancel()
            tick.cancel()

    async def aclose(self) -> None:
        """Close what the engine opened for plugins (the pooled HTTP client)."""
        await self.ctx.aclose()

    # -- comms -----------------------------------------------------------------------------------------
    async def notify(
        self,
        event: str,
        *,
        message: str | None = None,
        channels: list[str] | tuple[str, ...] | None = None,
        severity: str | None = None,
        **context: Any,
    ) -> None:
        """Send the comms of an event (:meth:`golive.engine.comms.RunComms.notify`)."""
        await self.comms.notify(event, message=message, channels=channels, severity=severity, **context)

    # -- the run ----------------------------------------------------------------------------------------
    async def run(self) -> RunStatus:
        """Run (or resume) to the end. Returns the final status (or WAITING if stopped while waiting)."""
        st = self.h.state
        if st.final and not await self._reopen_if_waived():
            return st.status
        # A rollback trigger's fire that an earlier engine of this run wrote and died before answering.
        self._taken_up_fire = None if st.final else st.unanswered_fire()
        if self._taken_up_fire is not None:
            self.rollback_wake.set()
        # However another process's event is applied (the follower, a wait's look at the log, an append that
        # found it first), a rollback request it carries wakes the run loop.
        heard_before, self.h.on_heard = self.h.on_heard, self._heard_elsewhere
        follower = asyncio.create_task(self._follow())
        updates = asyncio.create_task(self.comms.run_cadence())
        tasks = [follower, updates, asyncio.create_task(self._watch_armed())]
        if st.mode == "live" and windows_mod.has_watch(self.runbook):
            watcher = asyncio.create_task(windows_mod.watch(self))
            watcher.add_done_callback(self._watch_ended)
            tasks.append(watcher)
        try:
            with acts.collector_relaxed():
                return await self._run()
        finally:
            for task in tasks:
                task.cancel()
                if task.done() and not task.cancelled() and task.exception() is self._watch_failed:
                    continue  # the watcher's failure is the run's error (raised by check_rollback)
                with contextlib.suppress(asyncio.CancelledError, exceptions.GoliveError):
                    await task
            self.h.on_heard = heard_before
            if not self._lost():
                await self.comms.drain()
            await self.aclose()

    def _heard_elsewhere(self) -> None:
        if self._pending_rollback() is not None:
            self.rollback_wake.set()

    def _lost(self) -> bool:
        """True once this process no longer owns the run: it sends and records nothing more."""
        own = self.h.ownership
        return own is not None and own.lost is not None

    async def _reopen_if_waived(self) -> bool:
        """A run that stopped on failed blocking steps continues once each of them is waived.

        Resume is exact: the phases that failed (and those that never ran) are entered again, and every step in
        them without an outcome of its own (``not-run``, or none) runs or waits again, manual steps included.
        """
        st = self.h.state
        if st.status not in (RunStatus.NO_GO, RunStatus.FAILED) or st.rollback is not None:
            return False
        failed = [s for s in st.steps.values() if s.outcome in (Outcome.FAIL, Outcome.ERROR) and s.section in st.phases]
        if not failed or any(s.waiver is None for s in failed):
            return False
        if any(s.decision == "no-go" for s in st.steps.values()):
            return False
        reenter = [p.id for p in self.runbook.phases if st.phases.get(p.id) in ("fail", "error", "not-run", "pending")]
        steps = [
            s.id
            for p in self.runbook.phases
            if p.id in reenter
            for s in p.steps
            if st.step(s.id).outcome in (None, Outcome.NOT_RUN)
        ]
        await self.emit(
            "run_reopened",
            reason="every failed blocking step is waived: " + ", ".join(s.id for s in failed),
            reenter_phases=reenter,
            reenter_steps=steps,
        )
        for s in failed:
            await self.emit(
                "step_finished",
                step_id=s.id,
                outcome="waived",
                summary=f"waived by {(s.waiver or {}).get('by')} ({(s.waiver or {}).get('ticket')})",
                actor=s.waiver.get("by") if s.waiver else None,
            )
        return True

    async def _run(self) -> RunStatus:
        st = self.h.state
        if st.mode == "live" and st.gate is None and all(o == "pending" for o in st.phases.values()):
            # A fresh live run passes the start gate (windows, freezes, change records) before anything else.
            left = await gate_mod.run_gate(self, [gate_mod.GateWaiver(**w) for w in st.gate_waivers])
            if left:
                await self.finish(
                    RunStatus.FAILED,
                    "refused at the start gate: " + "; ".join(f"{b['what']}: {b['why']}" for b in left),
                )
                return st.status
        # A fresh run (nothing started yet; ownership events do not count) announces itself once.
        if not any(c.get("event") == "run_started" for c in st.comms) and all(
            o == "pending" for o in st.phases.values()
        ):
            await self.notify("run_started")
        try:
            await self._recover_open_actions()
            if st.rollback is not None:  # resumed mid-rollback: finish the rollback, never go on with the cutover
                raise RollbackNow(st.rollback["reason"], st.rollback["by"], st.rollback["source"])
            jumping = any(
                st.phases.get(p.id) in ("fail", "error") and p.on_failure == "decide" for p in self.runbook.phases
            )
            for phase in self.runbook.phases:
                if st.phases.get(phase.id) in ("pass", "waived", "warn", "skipped", "fail", "error", "stopped"):
                    continue
                if phase.if_ and st.phases.get(phase.id) == "pending":
                    holds = self.condition_holds(phase.if_)
                    if holds is not True:
                        why = f"`{phase.if_}` is false" if holds is False else f"`{phase.if_}` failed: {holds}"
                        for s in phase.steps:
                            await self.emit(
                                "step_finished",
                                step_id=s.id,
                                outcome="skipped" if holds is False else "error",
                                summary=f"phase skipped: {why}",
                            )
                        if holds is False:
                            await self.emit("phase_finished", step_id=phase.id, outcome="skipped", reason=why)
                            continue
                        await self.emit("phase_finished", step_id=phase.id, outcome="error", reason=why)
                        await self.finish(RunStatus.FAILED, f"phase {phase.id!r}: {why}")
                        return st.status
                if jumping and not any(s.kind is models.StepKind.DECISION for s in phase.steps):
                    await self.emit(
                        "phase_finished",
                        step_id=phase.id,
                        outcome="skipped",
                        reason="an earlier phase failed; going to the decision",
                    )
                    continue
                self.check_rollback()
                if st.phases.get(phase.id) == "pending":
                    await self._wait_until_planned(phase.at, phase.id, "phase")
                    self.check_rollback()
                    await self._wait_for_window(phase)
                    self.check_rollback()
                    await self._held()
                    self.check_rollback()
                if st.resumed_from == phase.id and st.phases.get(phase.id) == "pending":
                    await self._checks_first(phase)
                outcome, no_go = await self.run_phase(phase)
                self.check_rollback()
                if no_go is not None:
                    step, dec = no_go
                    reason = f"NO-GO by {dec.get('by')}: {dec.get('reason')}"
                    if step.on_no_go == "rollback" or dec.get("decision") == "rollback":
                        raise RollbackNow(reason, str(dec.get("by")), "decision")
                    if step.on_no_go == "keep-live":
                        await self._stop_here(phase, reason)
                        return st.status
                    await self.finish(RunStatus.NO_GO, reason)
                    return st.status
                if outcome in ("fail", "error"):
                    failed = [s.id for s in phase.steps if st.step(s.id).outcome in (Outcome.FAIL, Outcome.ERROR)]
                    reason = f"phase {phase.id!r} failed: {', '.join(failed)}"
                    if phase.on_failure == "rollback":
                        raise RollbackNow(reason, f"phase:{phase.id}", "phase")
                    if phase.on_failure == "decide" and not jumping:
                        jumping = True
                        continue
                    await self.finish(RunStatus.NO_GO if phase.on_failure == "no-go" else RunStatus.FAILED, reason)
                    return st.status
                if outcome == "waiting":
                    return RunStatus.WAITING
            if jumping:
                failed_phases = [p.id for p in self.runbook.phases if st.phases.get(p.id) in ("fail", "error")]
                await self.finish(RunStatus.NO_GO, f"phase(s) failed: {', '.join(failed_phases)}")
                return st.status
            await self.finish(RunStatus.PASSED, "every phase passed")
            return st.status
        except RollbackNow as rb:
            self.rollback_begun = True
            await self.rollback(rb.reason, rb.by, rb.source)
            return st.status

    def _watch_ended(self, task: asyncio.Task[None]) -> None:
        """Fail closed: a window watcher that failed stops the run (at its next look at the rollback request),
        never lets it go on unwatched; the driver records why and a resume starts a new watcher."""
        if not task.cancelled() and task.exception() is not None:
            self._watch_failed = task.exception()
            self.rollback_wake.set()

    async def _watch_armed(self) -> None:
        """Read the armed triggers whatever step runs (:mod:`golive.engine.armed`); a rollback trigger's fire is
        a rollback request the run loop takes at once. A failed append (a lost lease, a store error) stops the
        run loop with that error: the run is never driven on unwatched."""
        if self.dry_run:
            return

        async def on_rollback(reason: str, by: str) -> None:
            await self.emit(
                "rollback_requested", reason=reason, source="trigger", trigger=by.removeprefix("trigger:"), armed=True
            )
            self.rollback_wake.set()

        self._armed = armed_mod.ArmedWatch(self, on_rollback)
        try:
            await self._armed.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # fail closed: the run loop raises it at its next look
            self._armed_failed = exc
            self.rollback_wake.set()

    def check_rollback(self) -> None:
        if self._armed_failed is not None:
            raise self._armed_failed
        if self._watch_failed is not None:
            raise exceptions.GoliveError(f"the window and freeze watcher failed: {self._watch_failed}")
        rb = self._pending_rollback()
        if rb is not None:
            raise rb

    async def rollback_requested(self) -> RunStatus:
        """Run the rollback a person asked for, here (``golive rollback`` when no engine holds the run): the
        steps left waiting or watching are recorded as abandoned, then the plan runs as in :meth:`rollback`."""
        rb = self._pending_rollback()
        if rb is None:
            return self.h.state.status
        try:
            await self.abandon([s for p in self.runbook.phases for s in p.steps])
            await self.rollback(rb.reason, rb.by, rb.source)
        finally:
            await self.comms.drain()
            await self.aclose()
        return self.h.state.status

    async def finish(self, status: RunStatus, reason: str) -> None:
        if self.h.state.final:
            return
        if status is not RunStatus.PASSED:
            # No step stays PENDING after the run ended: what never ran says so, and why.
            why = f"not run: the run ended {status.label}"
            for p in self.runbook.phases:
                for step in p.steps:
                    s = self.h.state.step(step.id)
                    if s.status == "pending" and s.outcome is None:
                        await self.emit("step_finished", step_id=step.id, outcome="not-run", summary=why)
                if self.h.state.phases.get(p.id) == "pending":
                    await self.emit("phase_finished", step_id=p.id, outcome="not-run", reason=why)
        if status is RunStatus.PASSED:
            self._check_every_blocking_step_passed()
        if not self.dry_run:  # the armed watch's last readings, then its coverage of the spans that end here
            await armed_mod.record_coverage(self, "hypercare" if self._after_go() else "cutover", self._armed)
        await self.emit("run_finished", status=status.value, reason=reason)

    def _check_every_blocking_step_passed(self) -> None:
        """Fail closed: PASSED only when every blocking step of every phase that ran has an outcome of its own
        that passes (pass, warn, waived, or skipped by its own condition or a dry run)."""
        st = self.h.state
        missing = [
            s.id
            for p in self.runbook.phases
            if st.phases.get(p.id) != "skipped"
            for s in p.steps
            if s.blocking and st.step(s.id).outcome not in _PASSING
        ]
        if missing:
            raise exceptions.GoliveError(
                f"run {self.h.run_id}: refusing to record PASSED: blocking step(s) without a passing outcome of "
                f"their own in the log: {', '.join(missing)}"
            )

    async def _stop_here(self, phase: models.Phase, reason: str) -> None:
        """End the run STOPPED (``on_no_go: keep-live``): what passed stays live and the flags stay as set."""
        later = [p.id for p in self.runbook.phases][[p.id for p in self.runbook.phases].index(phase.id) + 1 :]
        nxt = later[0] if later else None
        await self.notify("run_stopped", reason=reason, phase=phase.id, next_phase=nxt)
        await self.finish(RunStatus.STOPPED, f"stopped at {phase.id!r}: {reason}")

    async def _recover_open_actions(self) -> None:
        """After a crash: an action with a start and no finish is unknown (retried only if idempotent)."""
        for _, step in self.runbook.all_steps():
            s = self.h.state.step(step.id)
            # "unknown" too: a crash between action_unknown and action_resolved must not leave an idempotent
            # action waiting for a person.
            if s.action_open and s.status in ("running", "unknown"):
                if step.idempotent:
                    if s.status == "running":
                        await self.emit("action_unknown", step_id=step.id, idempotent=True, retry=True)
                    await self.emit(
                        "action_resolved", step_id=step.id, outcome="not-done", reason="idempotent: safe to run again"
                    )
                elif s.status == "running":
                    await self.emit("action_unknown", step_id=step.id, idempotent=False, retry=False)

    # -- phases and steps --------------------------------------------------------------------------------
    async def _wait_until_planned(self, at: float | None, ident: str, what: str) -> None:
        """With a ``t0``, a phase or step planned ``at:`` a T-time waits until that wall time (recorded as
        ``scheduled_wait``, so views count down); a rollback request ends the wait. Not in a dry run, nor in a
        run started with ``--start-now``."""

        st = self.h.state
        anchor = parse_ts(st.anchor)
        if at is None or self.runbook.t0 is None or anchor is None or st.start_now or self.dry_run:
            return
        await self._sleep_until(anchor + timedelta(seconds=at), ident, what, clock_fmt_t(at))

    async def _sleep_until(self, due: datetime, ident: str, what: str, planned: str) -> None:
        """Wait until ``due`` (recorded as ``scheduled_wait``); a rollback request ends the wait."""
        remaining = (due - self.clock.now()).total_seconds()
        if remaining <= 0:
            return
        await self.emit("scheduled_wait", step_id=ident, what=what, until=clock_mod.utc_iso(due), planned=planned)
        sleeper = asyncio.ensure_future(self.clock.sleep(remaining))
        waker = asyncio.ensure_future(self.rollback_wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (sleeper, waker):
                fut.cancel()

    async def _wait_for_window(self, phase: models.Phase) -> None:
        """A live run's phase with ``window.not_before`` does not start before it (recorded as a
        ``scheduled_wait`` of ``what: window``); a rollback request ends the wait. Past ``not_after`` the IC is
        asked at once and it waits for the answer (:meth:`_closed_window`)."""
        if phase.window is None or self.h.state.mode != "live":
            return
        if await self._phase_window_waived(phase):
            return
        nb, na = phase.window.edges(self.runbook.t0)
        if na is not None and self.clock.now() >= na:
            await self._closed_window(phase, na)
            return
        if nb is None:
            return
        await self._sleep_until(nb, phase.id, "window", f"window opens {clock_mod.utc_iso(nb)}")

    async def _closed_window(self, phase: models.Phase, not_after: datetime) -> None:
        """The phase is due after its window closed: nothing of it runs before the IC answered. The IC is asked at
        once (``window_overrun``, the window's deadline and default); ``continue`` (an answer or the default)
        starts the phase, ``rollback`` rolls back (the window watcher requests it; raised here as _Rollback)."""
        assert phase.window is not None
        st = self.h.state
        if not any(o.get("scope") == phase.id for o in st.overruns):
            due = windows_mod.Due(phase.id, not_after, phase.window.on_overrun)
            await windows_mod.ask(self, due, self.clock.now())
        while True:
            asked = next(o for o in reversed(st.overruns) if o.get("scope") == phase.id)
            if (asked.get("decision") or {}).get("decision") == "continue":
                return
            self.check_rollback()
            # The window watcher applies the deadline's default and turns a rollback answer into the request.
            await asyncio.sleep(self.real_poll)

    def _paused(self) -> bool:
        """An armed pause trigger's question is open, or was answered ``rollback`` (the armed watch is turning
        it into the rollback request): nothing new starts."""
        return any(
            is_pause(o) and (o.get("decision") is None or o["decision"].get("decision") == "rollback")
            for o in self.h.state.overruns
        )

    async def _held(self) -> None:
        """While the run is paused by an armed trigger (:mod:`golive.engine.armed`), no new phase or step starts:
        wait for ``continue``. A ``rollback`` (an answer or the default, which the armed watch applies at the
        deadline) ends the wait with the rollback: the run loop raises it, and a step waiting here is cancelled
        with its phase."""
        while self._paused():
            self.check_rollback()
            await asyncio.sleep(self.real_poll)

    async def _phase_window_waived(self, phase: models.Phase) -> bool:
        """True when a waiver given at the start or at ``resume --from`` (``window:PHASE``) lifts the phase's
        window that blocks it now: recorded as ``gate_waived``; the phase neither waits for ``not_before`` nor
        has the IC asked at its ``not_after``. A waiver that does not count (not a waiving role, no ticket) is
        recorded as refused and the window holds."""
        st = self.h.state
        gate_id = f"window:{phase.id}"
        if any(w.get("gate") == gate_id for w in st.gate_waived):
            return True
        waivers = [gate_mod.GateWaiver(**w) for w in st.gate_waivers if w.get("gate") == gate_id]
        if not waivers:
            return False
        blocks = gate_mod.phase_window_blocks(self.runbook, phase, self.clock.now())
        if not blocks:
            return False  # the window is open: nothing to waive
        gate_mod.resolve_waivers(blocks, waivers[-1:], st.roles)
        b = blocks[0]
        if b.waived is None:
            await self.emit("act_refused", actor=waivers[-1].by, act=f"waive {gate_id}", why=b.why)
            return False
        await self.emit("gate_waived", **gate_mod.waived_event(b, self.redactor.redact))
        return True

    async def _checks_first(self, phase: models.Phase) -> None:
        """A STOPPED run continued from this phase days later: its checks run again before anyone is asked to
        act on what they said back then (the phase then runs as usual; a failed check stops it)."""
        await self.emit("phase_started", step_id=phase.id, title=phase.title or phase.id)
        if phase.announce.get("start"):
            await self.comms.announce_phase(phase, "start")
        await self._register_secrets(phase)
        sem = asyncio.Semaphore(self.runbook.settings.concurrency)

        async def one(step: models.Step) -> None:
            async with sem:
                await self.run_step(step)

        await asyncio.gather(*(one(s) for s in phase.steps if s.kind is models.StepKind.CHECK and not s.needs))

    async def run_phase(
        self, phase: models.Phase, *, stop_on_failure: bool = True
    ) -> tuple[str, tuple[models.Step, dict[str, Any]] | None]:
        """Run a phase's steps (needs, concurrency, waits) and record its outcome. ``stop_on_failure``: False
        lets a blocking failure stop nothing, so a step is not run only when a need of it did not pass (a
        pre-flight reports every check)."""
        st = self.h.state
        if st.phases.get(phase.id) != "running":
            await self.emit("phase_started", step_id=phase.id, title=phase.title or phase.id)
            if phase.announce.get("start"):
                await self.comms.announce_phase(phase, "start")
        await self._register_secrets(phase)
        steps = {s.id: s for s in phase.steps}
        limit = self.runbook.settings.concurrency
        sem = asyncio.Semaphore(limit)
        stop = asyncio.Event()

        # Tasks are made as steps can go, not one per step at the phase's start (a phase of 12,500 steps made
        # 12,500 tasks at once): a step gets its task when its last need ended; a plain check or action (no
        # ``at:``: it waits for nothing but a slot) is fed as a slot frees, in the order it became ready (phase
        # order for those ready at the start). Manual steps, decisions and ``at:`` steps get their task at once:
        # their waits hold no slot.
        index = {sid: i for i, sid in enumerate(steps)}
        left = {s.id: len(set(s.needs)) for s in phase.steps}  # needs not yet ended
        dependents: dict[str, list[models.Step]] = {}
        for s in phase.steps:
            for need in dict.fromkeys(s.needs):
                dependents.setdefault(need, []).append(s)
        queue: collections.deque[models.Step] = collections.deque()  # plain steps ready, waiting for a slot
        fed = 0  # tasks of plain steps not yet ended
        ended = 0  # steps whose task ended
        failures: list[tuple[int, BaseException]] = []  # what the steps' tasks raised, by phase order
        all_ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        closing = False  # the phase is being torn down (a rollback, the engine stopped): no new task starts

        task_of: dict[str, asyncio.Task[None]] = {}  # the tasks not yet ended
        let_go: set[str] = set()  # manual steps no longer waited for because the phase stopped

        def plain(step: models.Step) -> bool:
            return step.kind not in (models.StepKind.MANUAL, models.StepKind.DECISION) and step.at is None

        def ready(step: models.Step) -> None:
            if closing:
                return
            if plain(step) and fed >= limit:
                queue.append(step)
            else:
                start(step)

        def start(step: models.Step) -> None:
            nonlocal fed
            if plain(step):
                fed += 1
            task = asyncio.create_task(one(step))
            task_of[step.id] = task
            task.add_done_callback(lambda t: step_ended(step, t))

        def step_ended(step: models.Step, task: asyncio.Task[None]) -> None:
            nonlocal fed, ended
            task_of.pop(step.id, None)
            if plain(step):
                fed -= 1
            exc = None if task.cancelled() else task.exception()
            if exc is not None:
                failures.append((index[step.id], exc))
            ended += 1
            for d in dependents.get(step.id, ()):
                left[d.id] -= 1
                if left[d.id] == 0:
                    ready(d)
            while queue and fed < limit and not closing:
                start(queue.popleft())
            if ended == len(steps) and not all_ended.done():
                all_ended.set_result(None)

        def stop_phase() -> None:
            if not stop_on_failure:
                return
            stop.set()
            # Nobody has to confirm a step of a phase that already failed: stop waiting, so the run goes on
            # to where on_failure says (decisions keep waiting: the IC's NO-GO or the deadline decide).
            for sid, task in list(task_of.items()):
                if steps[sid].kind is models.StepKind.MANUAL and st.step(sid).status == "waiting" and not task.done():
                    let_go.add(sid)
                    task.cancel()

        async def one(step: models.Step) -> None:
            # Its needs have ended (it is started then): whether they passed is _skip_if_stopped's to say.
            if await self._skip_if_stopped(step, stop):
                return
            if st.step(step.id).status == "pending":
                await self._wait_until_planned(step.at, step.id, "step")
                await self._held()
                if await self._skip_if_stopped(step, stop):
                    return
            if step.kind is models.StepKind.MANUAL:
                try:
                    await self.run_step(step)  # waiting does not hold a concurrency slot
                except asyncio.CancelledError:
                    if step.id not in let_go:
                        raise
                    await self.h.refresh()  # a confirmation may have landed meanwhile
                    if st.step(step.id).status != "done":
                        await self._skip_if_stopped(step, stop)
                    return
            elif step.kind is models.StepKind.DECISION:
                await self.run_step(step)
            else:
                async with sem:
                    if st.step(step.id).status == "pending":
                        await self._held()  # a pause asked while this step waited for a slot
                    # A blocking failure may have stopped the phase while this step waited for a slot.
                    if await self._skip_if_stopped(step, stop):
                        return
                    await self.run_step(step)
            s = st.step(step.id)
            if step.blocking and s.outcome in (Outcome.FAIL, Outcome.ERROR):
                stop_phase()
            if step.kind is models.StepKind.DECISION and s.outcome is Outcome.FAIL:
                stop_phase()

        async def tear_down() -> None:
            """Cancel the steps' tasks and wait for them to end; no new one starts."""
            nonlocal closing
            closing = True
            queue.clear()
            live = list(task_of.values())
            for t in live:
                t.cancel()
            if live:
                await asyncio.wait(live)

        rollback_wait = asyncio.create_task(self.rollback_wake.wait())
        if not steps:
            all_ended.set_result(None)
        for s in phase.steps:
            if left[s.id] == 0:
                ready(s)
        try:
            waitables: set[asyncio.Future[Any]] = {all_ended, rollback_wait}
            await asyncio.wait(waitables, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # The engine is being stopped (lost ownership, a server shutting down): its steps stop with it,
            # none is left running on its own; actions in flight finish and are recorded (shielded).
            await tear_down()
            raise
        finally:
            rollback_wait.cancel()
        if not all_ended.done():
            # A rollback was requested: stop waiting on people and checks; actions in flight finish (shielded).
            with contextlib.suppress(asyncio.CancelledError):
                await tear_down()
            if self._watch_failed is None:  # a failed watcher stops the engine; its steps wait on for a resume
                await self.abandon(phase.steps)
            self.check_rollback()
        for _, r in sorted(failures, key=lambda f: f[0]):
            if isinstance(r, RollbackNow):
                raise r
            if not isinstance(r, asyncio.CancelledError):
                raise r
        # Outcome of the phase.
        no_go = None
        for s in phase.steps:
            ss = st.step(s.id)
            if s.kind is models.StepKind.DECISION and ss.status == "done" and ss.outcome is Outcome.FAIL:
                dec = st.decision or {"by": ss.actor, "reason": ss.summary, "decision": "no-go"}
                no_go = (s, dec)
        blocking_bad = [
            s.id for s in phase.steps if s.blocking and st.step(s.id).outcome in (Outcome.FAIL, Outcome.ERROR)
        ]
        # A blocking step never ends without an outcome of its own: one that did not run keeps the phase from passing.
        not_run = [s.id for s in phase.steps if s.blocking and st.step(s.id).outcome is Outcome.NOT_RUN]
        unfinished = [s.id for s in phase.steps if st.step(s.id).status != "done"]
        waived = [s.id for s in phase.steps if st.step(s.id).outcome is Outcome.WAIVED]
        if no_go is not None and no_go[0].on_no_go == "keep-live":
            outcome = "stopped"
        elif blocking_bad or no_go or (not_run and not unfinished):
            outcome = "fail"
            blocking_bad = blocking_bad or [f"{sid} (not run)" for sid in not_run]
        elif unfinished:
            return "waiting", None
        elif waived:
            outcome = "waived"
        elif any(st.step(s.id).outcome is Outcome.WARN for s in phase.steps):
            outcome = "warn"
        else:
            outcome = "pass"
        await self.emit(
            "phase_finished", step_id=phase.id, outcome=outcome, reason=", ".join(blocking_bad) if blocking_bad else ""
        )
        if outcome == "waived":
            await self.comms.announce_phase(phase, "waived", waivers=self._waiver_text(waived))
        elif outcome != "stopped":  # a stop is announced as the run's (run_stopped)
            await self.comms.announce_phase(
                phase, "pass" if outcome in ("pass", "warn") else "fail", reason=", ".join(blocking_bad)
            )
        return outcome, no_go

    def _waiver_text(self, step_ids: list[str]) -> str:
        """ "canary-errors waived by lena (CHG-4711)", for each waived step: comms name the waiver, never a pass."""
        parts = []
        for sid in step_ids:
            w = self.h.state.step(sid).waiver or {}
            parts.append(f"{sid} waived by {w.get('by') or 'unknown'} ({w.get('ticket') or 'no ticket'})")
        return "; ".join(parts)

    async def _register_secrets(self, phase: models.Phase) -> None:
        """Resolve, before any step of the phase starts, the secrets its steps reference and those of the local
        providers (env, file). Steps run concurrently: one that prints a secret (a command echoing a variable,
        a service echoing a token) must not finish before the step that references it registered it with the
        redactor. A secret that cannot be resolved is left to the step that needs it, which reports it."""
        names = set(self.ctx.local_secrets())
        for step in phase.steps:
            for _, ref in refs.scan((step.with_, step.message)):
                if isinstance(ref, refs.Ref) and ref.root == "secrets" and len(ref.parts) > 1:
                    names.add(ref.parts[1])
        await self.ctx.register_secrets(names)

    async def abandon(self, steps: tuple[models.Step, ...] | list[models.Step]) -> None:
        """Record the steps a rollback interrupted (watching, waiting on a person) as not run with the reason,
        so no view shows them running or waiting forever. An action in flight is left open: whether it took
        effect is unknown, and resume says so."""
        rb = self._pending_rollback()
        why = f"abandoned: the rollback was started by {rb.by} ({rb.reason})" if rb else "abandoned: a rollback"
        for step in steps:
            s = self.h.state.step(step.id)
            if s.status in ("running", "waiting") and not s.action_open:
                await self.emit("step_finished", step_id=step.id, outcome="not-run", summary=self.redactor.redact(why))

    async def _skip_if_stopped(self, step: models.Step, stop: asyncio.Event) -> bool:
        """Record (never silently) a step whose needs did not pass or whose phase stopped: ``not-run``, or
        ``skipped`` when every need that did not pass was itself skipped (its ``if:`` chose not to run it)."""
        st = self.h.state
        if st.step(step.id).status == "done":
            return False  # run_step returns at once for it
        if any(st.step(n).status != "done" for n in step.needs):
            # A need that is unknown or unfinished (its task stopped on an error) is waited for, never
            # taken as failed: nothing is recorded and the phase stays unfinished.
            return True
        bad = [n for n in step.needs if not (st.step(n).outcome and st.step(n).outcome.ok)]  # type: ignore[union-attr]
        outcome = "not-run"
        if bad:
            summary = f"not run: needs {', '.join(bad)} did not pass"
            if all(st.step(n).outcome is Outcome.SKIPPED for n in bad):
                outcome, summary = "skipped", f"skipped: needs {', '.join(bad)} were skipped"
        elif stop.is_set():
            failed = [
                sid
                for sid, s in st.steps.items()
                if s.section == st.steps[step.id].section and s.outcome in (Outcome.FAIL, Outcome.ERROR)
            ]
            summary = f"not run: the phase stopped ({', '.join(failed) or 'a blocking step failed'})"
        else:
            return False
        await self.emit("step_finished", step_id=step.id, outcome=outcome, summary=summary)
        return True

    def condition_holds(self, text: str) -> bool | str:
        """Evaluate a step's or a phase's ``if:``; True/False, or the error text (which fails closed)."""
        from golive import expr

        steps = {
            sid: {
                "outcome": s.outcome.value if s.outcome else None,
                "output": s.output,
                "inputs": s.inputs,
                "summary": s.summary,
                "status": s.status,
            }
            for sid, s in self.h.state.steps.items()
        }
        try:
            return bool(expr.compile_condition(text).evaluate({"vars": dict(self.vars), "steps": steps}))
        except exceptions.GoliveError as exc:
            return self.redactor.redact(exc.message)

    async def _skipped_by_condition(self, step: models.Step) -> bool:
        """Record a step whose ``if:`` is false as skipped; one whose ``if:`` cannot be evaluated as error."""
        if not step.if_:
            return False
        holds = self.condition_holds(step.if_)
        if holds is True:
            return False
        if holds is False:
            # In the rollback plan an `if:` chooses a branch: the other one is "not taken", not a skipped duty.
            branch = self.runbook.phase_of(step.id) in ("rollback", "rollback.confirm")
            await self.emit(
                "step_finished",
                step_id=step.id,
                outcome="not-taken" if branch else "skipped",
                summary=f"{'not taken' if branch else 'skipped'}: `{step.if_}` is false",
            )
        else:
            await self.emit(
                "step_finished",
                step_id=step.id,
                outcome="error",
                summary=f"`{step.if_}` could not be evaluated: {holds}",
            )
        return True

    async def run_step(self, step: models.Step) -> None:
        st = self.h.state
        s = st.step(step.id)
        if s.status == "done":
            return
        if await self._skipped_by_condition(step):
            return
        if s.waiver is not None and step.kind is not models.StepKind.DECISION:
            await self.emit(
                "step_finished",
                step_id=step.id,
                outcome="waived",
                summary=f"waived by {s.waiver['by']} ({s.waiver['ticket']}): {s.waiver['reason']}",
            )
            return
        kind = step.kind
        if kind is models.StepKind.CHECK and step.type == models.JUDGE_CHECK:
            # Imported for a judge or an observe step only: they bring the canary judge (numpy, scipy: about
            # 0.55 s of CPU and 77 MB) that most runs never need.
            from golive.engine import judging

            await judging.judge_check(self, step)
        elif kind in (models.StepKind.CHECK, models.StepKind.ACTION):
            await self._run_plugin_step(step)
        elif kind is models.StepKind.MANUAL:
            await self.people.wait_manual(step)
        elif kind is models.StepKind.DECISION:
            await self.people.wait_decision(step)
        elif kind is models.StepKind.OBSERVE:
            await self._observe(step)
        elif kind is models.StepKind.NOTIFY:
            await self._notify_step(step)

    async def check_result(self, step: models.Step) -> Result:
        """Run a check step outside the phase flow (hypercare): see :func:`golive.engine.steps.check_result`."""
        return await steps_mod.check_result(self.ctx, step)

    async def _run_plugin_step(self, step: models.Step) -> None:
        s = self.h.state.step(step.id)
        if s.status == "unknown":
            await self.people.wait_resolution(step)
            if self.h.state.step(step.id).status == "done":
                return
        await steps_mod.run_plugin_step(self, step)

    async def record_result(
        self, step: models.Step, result: Result, attempt: int, started: str, duration: float, event: str
    ) -> None:
        """Record a step's result: see :func:`golive.engine.steps.record_result`."""
        await steps_mod.record_result(self, step, result, attempt, started, duration, event)

    async def wait_pause(self, step: models.Step) -> float:
        """Wait for the IC on a paused step (:func:`golive.engine.waiting.wait_pause`)."""
        return await waiting.wait_pause(self, step)

    # -- observe and notify -------------------------------------------------------------------------------
    async def _observe(self, step: models.Step) -> None:
        from golive.engine import observing  # brings the canary judge: see run_step

        await observing.observe_step(self, step)

    async def _notify_step(self, step: models.Step) -> None:
        started = clock_mod.utc_iso(self.clock.now())
        t = self.clock.monotonic()
        await self.emit("step_started", step_id=step.id, attempt=1)
        try:
            rendered = (
                step.model_copy(update={"message": await self.ctx.render(step.message)}) if step.message else step
            )
            n = await self.comms.notifier()
            deliveries = await n.notify_step(rendered, self.comms.message_context())
            failed = [d for d in deliveries if not d.ok]
            result = (
                Result(outcome=Outcome.WARN, summary=f"sent; {len(failed)} channel(s) failed (not required)")
                if failed
                else Result.ok(f"sent to {len(deliveries)} channel(s)")
            )
        except exceptions.GoliveError as exc:
            result = Result.fail(self.redactor.redact(exc.message))
        await self.record_result(step, result, 1, started, self.clock.monotonic() - t, "step_finished")

    # -- rollback ----------------------------------------------------------------------------------------
    async def rollback(self, reason: str, by: str, source: str) -> None:
        """Run the rollback plan to its end. A failure of the machinery itself (a store, a secret a comms channel
        needs, a bug) is recorded as ``rollback_interrupted`` and re-raised: the run stays ROLLING-BACK, and
        whoever resumes it (``golive resume``, a worker) adopts the rollback and finishes it."""
        try:
            await self._rollback(reason, by, source)
        except (asyncio.CancelledError, exceptions.StoreError):
            raise  # a killed process or a lost store cannot record anything; the log says ROLLING-BACK
        except Exception as exc:
            text = exc.message if isinstance(exc, exceptions.GoliveError) else f"{type(exc).__name__}: {exc}"
            text = self.redactor.redact(text)
            with contextlib.suppress(exceptions.GoliveError):
                await self.emit("rollback_interrupted", error=text[:EXCERPT_LIMIT])
            with contextlib.suppress(Exception):
                await self.notify("rollback_interrupted", reason=text)
            raise exceptions.RollbackInterrupted(
                f"rollback of run {self.h.run_id} interrupted: {text}; the run stays ROLLING-BACK: fix the cause, "
                f"then finish it with: golive resume {self.h.run_id}"
            ) from None

    def _after_go(self) -> bool:
        """The rollback under way started after the cutover passed with a GO (during hypercare)."""
        return bool((self.h.state.rollback or {}).get("after_go"))

    def rollback_order(self) -> list[models.Step | None]:
        """The rollback's steps in the order they run; ``None`` stands for restoring the flags' safe values."""
        plan = self.runbook.rollback
        steps: list[models.Step | None] = list(plan.steps)
        where = plan.restore_flags
        if self.runbook.flags is not None and where != "never":
            if where == "first":
                steps.insert(0, None)
            elif where == "last":
                steps.append(None)
            else:
                assert isinstance(where, models.RestoreAfter)
                at = next((i for i, s in enumerate(steps) if s is not None and s.id == where.after), len(steps) - 1)
                steps.insert(at + 1, None)
        return [*steps, *plan.confirm]

    async def _rollback(self, reason: str, by: str, source: str) -> None:
        st = self.h.state
        if st.rollback is None:
            if not await self._claim_rollback(reason, by, source):
                return  # another process started the rollback (an IC's `golive rollback` in hypercare): it runs it
            await self.notify("rollback_triggered", reason=reason, actor=by, after_go=self._after_go())
        for pid, phase_outcome in list(st.phases.items()):
            if phase_outcome == "running":  # the phase the rollback interrupted ends here, failed
                await self.emit(
                    "phase_finished", step_id=pid, outcome="fail", reason=f"interrupted by rollback: {reason}"
                )
        outcomes: list[Outcome] = []
        failed: list[str] = []
        for step in self.rollback_order():
            if step is None:
                o = await self._restore_flags()
                sid = RESTORE_FLAGS_STEP
            else:
                if st.step(step.id).status != "done":
                    await self.run_step(step)
                o = st.step(step.id).outcome or Outcome.ERROR
                sid = step.id
            if o is Outcome.NOT_TAKEN:
                continue  # an unchosen branch was not meant to run: it counts neither way
            outcomes.append(o)
            if not o.ok:
                failed.append(sid)
        ok = not failed
        after_go = self._after_go()
        await self.emit("rollback_finished", outcome="pass" if ok else "fail", failed=failed)
        await self.notify("rollback_complete", reason=reason, outcome="pass" if ok else "fail", after_go=after_go)
        status_reason = f"{reason} (rollback started by {by}{'' if ok else '; some rollback steps failed'})"
        if after_go:
            status_reason = f"after GO, during hypercare: {status_reason}"
        await self.finish(RunStatus.ROLLED_BACK_AFTER_GO if after_go else RunStatus.ROLLED_BACK, status_reason)

    async def _claim_rollback(self, reason: str, by: str, source: str) -> bool:
        """Append ``rollback_started`` only while no rollback has started (compare-and-append on a fresh read of
        the log): True when this process started it. False when another one did first (in hypercare no engine
        holds the run, so `golive hypercare`'s armed watch and an IC's `golive rollback` can both get here):
        that one runs the plan, and it runs once."""
        for _ in range(acts.MAX_ACT_ATTEMPTS):
            await self.h.refresh()
            if self.h.state.rollback is not None:
                return False
            started = store_base.NewEvent(
                "rollback_started", actor=INTERNAL_ACTOR, data={"reason": reason, "by": by, "source": source}
            )
            try:
                await self.h.append_many([started], expect_seq=self.h.state.last_seq)
            except exceptions.HeadMoved:
                continue  # something else was written meanwhile: read again
            if self.on_change:
                self.on_change()
            return True
        raise exceptions.StoreError(f"run {self.h.run_id}: the log kept moving; the rollback could not be started")

    async def _restore_flags(self) -> Outcome:
        """The fastest lever: set every declared kill-switch flag back to its safe value and read it back."""
        spec = self.runbook.flags
        assert spec is not None
        s = self.h.state.step(RESTORE_FLAGS_STEP)
        if s.status == "done" and s.outcome is not None:
            return s.outcome
        started = clock_mod.utc_iso(self.clock.now())
        t = self.clock.monotonic()
        await self.emit(
            "action_started", step_id=RESTORE_FLAGS_STEP, attempt=1, describe=f"set safe values: {spec.safe}"
        )
        # The same code as a `flag` action step: set each flag, then read it back and compare like for like.
        cls = self.registry.get("action", "flag")
        if cls is None:
            result = Result.error("no flag action plugin is registered")
        else:
            params = cls.params.model_validate({"flags": dict(spec.safe)})
            probe = models.Step(id=RESTORE_FLAGS_STEP, kind=models.StepKind.ACTION, type="flag")
            result = await steps_mod.call_plugin(self.ctx, cls(), self.ctx.step_context(probe, params))
        step = models.Step(
            id=RESTORE_FLAGS_STEP, kind=models.StepKind.ACTION, type="flag", title="Restore safe flag values"
        )
        await self.record_result(step, result, 1, started, self.clock.monotonic() - t, "action_finished")
        return result.outcome


_PASSING = frozenset({Outcome.PASS, Outcome.WARN, Outcome.WAIVED, Outcome.SKIPPED})


def clock_fmt_t(seconds: float) -> str:
    """A T-time as the runbook writes it (T-15m, T+1h)."""
    return durations.format_ttime(seconds)


def clock_fmt(seconds: float) -> str:
    """A duration as the runbook writes it (60s, 1m30s)."""
    return durations.format_duration(seconds)


def _ok(outcome: Outcome | None) -> bool:
    return outcome is not None and outcome.ok


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def monotonic() -> float:
    return time.monotonic()


__all__ += ["FINAL", "is_interactive"]
