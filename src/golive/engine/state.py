"""A run's state is a fold over its events. Every view (CLI, API, dashboard, reports) reads this.

Event types (``data`` fields in brackets; :mod:`golive.engine.events` declares each type's payload, and every
event written goes through it):

- ``run_created`` [runbook, digest, mode, vars, t0, anchor]          ``run_finished`` [status, reason]
- ``run_reopened`` [reason, reenter_phases, reenter_steps, from_phase, gate_waivers] ``role_assigned`` [role, person]
- ``phase_started`` / ``phase_finished`` [outcome, reason]
- ``step_started`` [attempt]   ``action_started`` [attempt, describe]   ``step_retry`` [attempt, summary, wait]
- ``step_probe`` [probe, outcome, held, restarted, summary]: one probe of a steady gate (``steady:``)
- ``scheduled_wait`` [what: phase|step, until, planned]: it waits for its planned T-time (``t0`` and ``at:``)
- ``step_finished`` / ``action_finished`` [outcome, summary, details, output, evidence, duration, attempt]
- ``step_waiting`` [what: manual|decision|resolve, deadline, default, statement, blocked_by]
- ``step_confirmed`` [outcome, inputs, evidence, reason]           ``action_unknown`` / ``action_resolved`` [outcome]
- ``decision_recorded`` [decision, reason, statement]             ``decision_defaulted`` [default]
- ``waiver_recorded`` [ticket, reason]                            ``act_refused`` [act, why]
- ``trigger_evaluated`` [trigger, status, value, state]            ``trigger_fired`` [trigger, reason, then, severity]
- ``rollback_requested`` [reason, source, trigger, armed]   ``rollback_started`` [reason, by, source]   ``rollback_finished`` [outcome]
- ``window_extended`` [extension, extended, max_extension, coverage, reason]: an observe window watched on (min_coverage)
- ``armed_coverage`` [segment, ok, triggers]: each armed trigger's watched fraction of its armed span
- ``rollback_interrupted`` [error]: the rollback's own machinery failed; the run stays ROLLING-BACK, adoptable
- ``step_rechecked`` [outcome, summary, decision]: a decision's recheck ran when someone decided
- ``follow_up_confirmed`` [follow_up, note]: a rollback follow-up duty was confirmed
- ``comms_sent`` [channel, event, text, ok, attempts, error]       ``signoff_recorded`` [area, statement]
- ``signoff_fields_recorded`` [fields: {id: value}]
- ``engine_started`` [owner, epoch, takeover, previous_owner, previous_epoch, reason]   (a process took the lease)
- ``engine_stopped`` [owner, epoch, reason]                        (its engine failed; resume or a worker continues)
- ``start_gate`` [outcome: open|refused, blocks, next_allowed]: the start gate of a live run (engine/gate.py)
- ``gate_waived`` [gate, kind, what, why, role, ticket, reason]: a block of the start gate waived at the start
- ``window_overrun`` [scope: run|PHASE, not_after, deadline, default, role]: past not_after, the IC is asked
- ``trigger_paused`` [scope: trigger:ID, trigger, reason, deadline, default, roles]: an armed pause trigger fired
  outside an observe window; the IC is asked continue or rollback, like a window overrun (no new step starts)
- ``overrun_decided`` [scope, decision: continue|rollback, reason, default]: the answer (or the deadline's default)
- ``freeze_started`` [freeze, title, start, end]: a freeze began while the run was going on (announced)
- ``hypercare_check`` [slot, outcome]   ``hypercare_report`` [report, summary]   ``evidence_added`` [name, sha256]
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from golive import clock as clock_mod
from golive.engine import events as payloads
from golive.results import Outcome
from golive.spec import models
from golive.store.base import Event
from golive.watch import samples as samples_mod

__all__ = [
    "FINAL",
    "RunState",
    "RunStatus",
    "StepState",
    "dump_state",
    "fold",
    "is_pause",
    "load_state",
    "snapshot_kind",
]

HISTORY_POINTS = 120  # recorded values kept per trigger for the sparkline


def _history(history: list[list[Any]], data: dict[str, Any], ts: str) -> list[list[Any]]:
    """A trigger's sparkline points with an event's samples added (each with the time it was read)."""
    points = [
        [clock_mod.utc_iso(at), value] for at, _, value, _ in samples_mod.samples_of(data, ts) if value is not None
    ]
    return [*history, *points][-HISTORY_POINTS:]


class RunStatus(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    WAITING = "waiting"
    ROLLING_BACK = "rolling_back"
    PASSED = "passed"
    NO_GO = "no_go"
    ROLLED_BACK = "rolled_back"
    ROLLED_BACK_AFTER_GO = "rolled_back_after_go"  # rolled back during hypercare, after the cutover passed with a GO
    STOPPED = "stopped"  # a deliberate stop (on_no_go: keep-live): what passed stays live; resume --from continues
    FAILED = "failed"

    @property
    def label(self) -> str:
        return self.value.replace("_", "-").upper()


FINAL = frozenset(
    {
        RunStatus.PASSED,
        RunStatus.NO_GO,
        RunStatus.ROLLED_BACK,
        RunStatus.ROLLED_BACK_AFTER_GO,
        RunStatus.STOPPED,
        RunStatus.FAILED,
    }
)


@dataclass
class StepState:
    id: str
    section: str  # phase id, "rollback", "rollback.confirm" or "hypercare"
    status: str = "pending"  # pending | running | waiting | unknown | done
    outcome: Outcome | None = None
    summary: str = ""
    output: Any = None
    details: dict[str, Any] = field(default_factory=dict)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    duration: float | None = None
    actor: str | None = None
    auth: str | None = None  # how the actor authenticated (token | oidc | local), when a person acted
    auth_subject: str | None = None  # who authenticated (golive.identity)
    waiting_for: str | None = None  # manual | decision | resolve
    deadline: str | None = None
    default: str | None = None
    action_open: bool = False  # action_started without action_finished
    waiver: dict[str, Any] | None = None
    statement: str | None = None
    decision: str | None = None
    downgraded_from: str | None = None  # fail|error of a non-blocking step recorded as warn
    remaining: float | None = None  # a paused observe step: seconds of its window still to watch
    approvals: list[dict[str, Any]] = field(default_factory=list)  # quorum approvals (go, waive): by, at, ...


def is_pause(question: dict[str, Any]) -> bool:
    """Whether a question of ``RunState.overruns`` is an armed trigger's pause (else a window's overrun)."""
    return str(question.get("scope") or "").startswith("trigger:")


@dataclass
class RunState:
    run_id: str
    runbook_name: str = ""
    mode: str = "live"
    status: RunStatus = RunStatus.CREATED
    reason: str = ""
    created_at: str | None = None
    created_by: str | None = None  # who started the run (None for golive itself); may give its roles
    finished_at: str | None = None
    anchor: str | None = None  # the wall time of T-0
    roles: dict[str, str] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)  # phase id -> pending|running|pass|fail|error|waived
    phase_times: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    steps: dict[str, StepState] = field(default_factory=dict)
    decision: dict[str, Any] | None = None  # the GO/NO-GO decision recorded
    waivers: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)  # trigger id -> last state + history
    fired: list[dict[str, Any]] = field(default_factory=list)
    cleared: list[dict[str, Any]] = field(default_factory=list)  # a firing trigger reading normal again
    assignments: list[dict[str, Any]] = field(default_factory=list)  # every role_assigned, in order
    rollback: dict[str, Any] | None = None  # requested/started/finished info
    rollback_requests: list[dict[str, Any]] = field(default_factory=list)
    comms: list[dict[str, Any]] = field(default_factory=list)
    signoffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    signoff_fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # field id -> value, by, at
    hypercare: list[dict[str, Any]] = field(default_factory=list)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    follow_ups: dict[str, dict[str, Any]] = field(default_factory=dict)  # follow-up id -> who confirmed, when
    start_now: bool = False  # started with --start-now: planned T-times do not hold phases and steps
    scheduled: dict[str, str] = field(default_factory=dict)  # phase/step id -> wall time it waits for
    resumed_from: str | None = None  # the phase a STOPPED run was last continued from (resume --from)
    rechecks: list[dict[str, Any]] = field(default_factory=list)
    go_at: str | None = None
    engine: dict[str, Any] | None = None  # who drives the run: owner, epoch, since (engine_started)
    engine_stopped: dict[str, Any] | None = None  # the last engine failure, until another engine starts
    takeovers: list[dict[str, Any]] = field(default_factory=list)  # explicit --take-over acts
    rehearsal: dict[str, Any] = field(default_factory=dict)  # time scale, stubs, recording (engine/rehearsal.py)
    # segment (cutover | hypercare) -> each armed trigger's coverage of its armed span (golive.engine.armed)
    armed_coverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    gate_waivers: list[dict[str, Any]] = field(default_factory=list)  # waivers given at the start (run --waive)
    gate: dict[str, Any] | None = None  # the start gate: outcome, blocks, next_allowed (start_gate)
    gate_waived: list[dict[str, Any]] = field(default_factory=list)  # blocks of the gate waived, by whom
    # window_overrun and trigger_paused questions and their answers
    overruns: list[dict[str, Any]] = field(default_factory=list)
    freezes_started: list[dict[str, Any]] = field(default_factory=list)  # freezes that began during the run
    links_used: dict[str, dict[str, Any]] = field(default_factory=dict)  # approval link nonce -> by, at, step
    last_seq: int = 0
    head_hash: str = ""

    # -- queries ---------------------------------------------------------------------------------------
    def step(self, step_id: str) -> StepState:
        st = self.steps.get(step_id)
        if st is None:
            st = StepState(step_id, "")
            self.steps[step_id] = st
        return st

    def outcome_of(self, step_or_phase: str) -> str | None:
        if step_or_phase in self.steps and self.steps[step_or_phase].outcome is not None:
            return self.steps[step_or_phase].outcome.value  # type: ignore[union-attr]
        return self.phases.get(step_or_phase)

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def waiting(self) -> list[StepState]:
        return [s for s in self.steps.values() if s.status in ("waiting", "unknown")]

    @property
    def rolling_back(self) -> bool:
        return self.status is RunStatus.ROLLING_BACK

    def holders(self, role: str) -> str | None:
        return self.roles.get(role)

    def unanswered_fire(self) -> dict[str, Any] | None:
        """The last rollback trigger's fire that no rollback answers: no rollback asked for or started after it
        (the engine that fired it stopped before its rollback), while the run can still roll back (not final, or
        passed with hypercare going on). An engine taking the run up acts on it: a fire is never lost."""
        if self.rollback is not None or self.rollback_requests or self.status is RunStatus.ROLLING_BACK:
            return None
        if self.final and self.status is not RunStatus.PASSED:
            return None
        return next((f for f in reversed(self.fired) if f.get("then") == "rollback"), None)

    def roles_of(self, person: str) -> set[str]:
        return {r for r, p in self.roles.items() if p == person}

    @property
    def pending_overrun(self) -> dict[str, Any] | None:
        """The question (a window overrun or an armed trigger's pause) waiting for its answer, if any."""
        return next((o for o in reversed(self.overruns) if o.get("decision") is None), None)

    @property
    def pending_pause(self) -> dict[str, Any] | None:
        """The question an armed ``pause`` trigger's fire asked (``trigger_paused``, scope ``trigger:ID``) while
        it waits for its answer: no new phase or step starts meanwhile."""
        return next((o for o in reversed(self.overruns) if o.get("decision") is None and is_pause(o)), None)

    # -- the fold ----------------------------------------------------------------------------------------
    def apply(self, ev: Event) -> None:
        """Fold one event in: its ``data`` is read through its payload model (golive.engine.events)."""
        if ev.seq <= self.last_seq:
            return  # already applied (the engine and a poller may both see an event)
        d = ev.data  # the whole payload, where a view keeps it as written (gate, overruns, comms, reports)
        t = ev.type
        self.last_seq = ev.seq
        self.head_hash = ev.hash
        if t == "run_created":
            created = payloads.read(d, payloads.RunCreated)
            self.runbook_name = created.runbook if created.runbook is not None else ""
            self.mode = created.mode if created.mode is not None else "live"
            self.vars = dict(created.vars or {})
            self.created_at = ev.ts
            self.created_by = ev.actor if ev.actor and ev.actor != "golive" else None
            self.anchor = created.anchor
            self.start_now = bool(created.start_now)
            self.rehearsal = dict(created.rehearsal or {})
            self.gate_waivers = list(created.gate_waivers or [])
            self.status = RunStatus.RUNNING
            for sid, section in (created.sections or {}).items():
                self.steps[sid] = StepState(sid, section)
            for pid in created.phases or []:
                self.phases[pid] = "pending"
        elif t == "role_assigned":
            assigned = payloads.read(d, payloads.RoleAssigned)
            self.assignments.append({"role": assigned.role, "person": assigned.person, "by": ev.actor, "at": ev.ts})
            if assigned.person:
                self.roles[assigned.role or ""] = assigned.person
            else:
                self.roles.pop(assigned.role or "", None)
        elif t == "phase_started":
            self.phases[ev.step_id or ""] = "running"
            self.phase_times[ev.step_id or ""] = (ev.ts, None)
        elif t == "phase_finished":
            phase = payloads.read(d, payloads.PhaseFinished)
            self.phases[ev.step_id or ""] = phase.outcome if phase.outcome is not None else "fail"
            start = self.phase_times.get(ev.step_id or "", (None, None))[0]
            self.phase_times[ev.step_id or ""] = (start, ev.ts)
        elif t in ("step_started", "action_started"):
            began: payloads.StepStarted | payloads.ActionStarted = (
                payloads.read(d, payloads.StepStarted)
                if t == "step_started"
                else payloads.read(d, payloads.ActionStarted)
            )
            st = self.step(ev.step_id or "")
            st.status = "running"
            st.attempts = int(began.attempt if began.attempt is not None else st.attempts + 1)
            st.started_at = st.started_at or ev.ts
            st.action_open = t == "action_started"
            st.waiting_for = None
            if isinstance(began, payloads.StepStarted) and began.resumed:
                st.deadline = None  # an observe step watching again after a pause: that deadline is over
        elif t == "scheduled_wait":  # a phase or step waits for its planned T-time (views count down)
            until = payloads.read(d, payloads.ScheduledWait).until
            self.scheduled[ev.step_id or ""] = until if until is not None else ""
        elif t == "start_gate":
            self.gate = {**d, "at": ev.ts}
        elif t == "armed_coverage":
            segment = payloads.read(d, payloads.ArmedCoverage).segment
            self.armed_coverage[segment or "cutover"] = {**d, "at": ev.ts}
        elif t == "gate_waived":
            self.gate_waived.append({**d, "by": ev.actor, "at": ev.ts})
        elif t in ("window_overrun", "trigger_paused"):
            self.overruns.append({**d, "at": ev.ts, "decision": None})
        elif t == "overrun_decided":
            scope = payloads.read(d, payloads.OverrunDecided).scope
            for o in reversed(self.overruns):
                if o.get("scope") == scope and o.get("decision") is None:
                    o["decision"] = {**d, "by": ev.actor, "at": ev.ts}
                    break
        elif t == "freeze_started":
            self.freezes_started.append({**d, "at": ev.ts})
        elif t == "step_probe":  # a steady gate's probe: the live view shows how long it has held
            probe = payloads.read(d, payloads.StepProbe)
            held = probe.held if probe.held is not None else 0
            self.step(ev.step_id or "").summary = f"held {held}s: {probe.summary if probe.summary is not None else ''}"
        elif t == "step_retry":
            self.step(ev.step_id or "").summary = _text(payloads.read(d, payloads.StepRetry).summary)
        elif t == "action_finished" and payloads.read(d, payloads.ActionFinished).final is False:
            # One failed attempt of an action that will be retried: not the step's result. After a crash in
            # the back-off the step is still to be done (idempotent: run again), never ended on this attempt.
            st = self.step(ev.step_id or "")
            st.status = "running"
            st.action_open = False
            st.summary = _text(payloads.read(d, payloads.ActionFinished).summary)
        elif t in ("step_finished", "action_finished"):
            done: payloads.StepFinished | payloads.ActionFinished = (
                payloads.read(d, payloads.StepFinished)
                if t == "step_finished"
                else payloads.read(d, payloads.ActionFinished)
            )
            st = self.step(ev.step_id or "")
            st.status = "done"
            st.action_open = False
            st.outcome = Outcome(done.outcome if done.outcome is not None else "error")
            st.summary = _text(done.summary)
            st.details = done.details or {}
            st.output = done.output
            st.evidence = list(st.evidence) + list(done.evidence or [])
            st.finished_at = ev.ts
            st.duration = done.duration
            st.downgraded_from = done.downgraded_from if isinstance(done, payloads.StepFinished) else None
            st.started_at = done.started_at or st.started_at or ev.ts
            if ev.actor:
                st.actor = ev.actor
                st.auth = done.auth if "auth" in done.model_fields_set else st.auth
                st.auth_subject = done.auth_subject if "auth_subject" in done.model_fields_set else st.auth_subject
            st.waiting_for = None
            st.deadline = None
        elif t == "step_waiting":
            waiting = payloads.read(d, payloads.StepWaiting)
            st = self.step(ev.step_id or "")
            st.status = "waiting"
            st.started_at = st.started_at or ev.ts
            st.waiting_for = waiting.what
            st.deadline = waiting.deadline
            st.default = waiting.default
            st.statement = waiting.statement or st.statement
            if waiting.what == "pause":  # a new pause of an observe step waits for a new answer
                st.decision = None
                st.remaining = waiting.remaining
            self.status = RunStatus.WAITING if self.status is RunStatus.RUNNING else self.status
        elif t == "step_confirmed":
            confirmed = payloads.read(d, payloads.StepConfirmed)
            st = self.step(ev.step_id or "")
            st.inputs = dict(confirmed.inputs or {})
            st.evidence = list(st.evidence) + list(confirmed.evidence or [])
            st.actor = ev.actor
            st.auth, st.auth_subject = confirmed.auth, confirmed.auth_subject
        elif t == "action_unknown":
            st = self.step(ev.step_id or "")
            st.status = "unknown"
            st.waiting_for = "resolve"
        elif t == "action_resolved":
            st = self.step(ev.step_id or "")
            if payloads.read(d, payloads.ActionResolved).outcome == "not-done":
                st.status = "pending"
                st.waiting_for = None
                st.action_open = False
        elif t == "decision_recorded":
            decided = payloads.read(d, payloads.DecisionRecorded)
            st = self.step(ev.step_id or "")
            st.decision = decided.decision
            st.statement = decided.statement or st.statement
            self.decision = {
                "decision": decided.decision,
                "by": ev.actor,
                "at": ev.ts,
                "reason": decided.reason,
                "statement": decided.statement,
                "step": ev.step_id,
                "default": False,
            }
            if decided.approvers:
                self.decision["approvers"] = list(decided.approvers)
            if decided.decision == "go" and not decided.pause:  # GO after a pause is not the go-live's GO
                self.go_at = ev.ts
        elif t == "decision_defaulted":
            defaulted = payloads.read(d, payloads.DecisionDefaulted)
            st = self.step(ev.step_id or "")
            if st.waiting_for == "pause":
                st.decision = defaulted.default
            self.decision = {
                "decision": defaulted.default,
                "by": "deadline",
                "at": ev.ts,
                "reason": defaulted.reason,
                "statement": None,
                "step": ev.step_id,
                "default": True,
            }
        elif t == "approval_recorded":
            approval = payloads.read(d, payloads.ApprovalRecorded)
            st = self.step(ev.step_id or "")
            st.approvals = [
                *st.approvals,
                {
                    "act": approval.act,
                    "by": ev.actor,
                    "at": ev.ts,
                    "reason": approval.reason,
                    "ticket": approval.ticket,
                    "auth": approval.auth,
                    "auth_subject": approval.auth_subject,
                },
            ]
        elif t == "link_opened":
            opened = payloads.read(d, payloads.LinkOpened)
            self.links_used[str(opened.nonce)] = {"by": ev.actor, "at": ev.ts, "step": ev.step_id, "act": opened.act}
        elif t == "waiver_recorded":
            waived = payloads.read(d, payloads.WaiverRecorded)
            w: dict[str, Any] = {
                "step": ev.step_id,
                "by": ev.actor,
                "at": ev.ts,
                "ticket": waived.ticket,
                "reason": waived.reason,
            }
            if waived.approvers:
                w["approvers"] = list(waived.approvers)
            self.waivers.append(w)
            self.step(ev.step_id or "").waiver = w
        elif t == "act_refused":
            refused = payloads.read(d, payloads.ActRefused)
            self.refusals.append(
                {"act": refused.act, "step": ev.step_id, "by": ev.actor, "at": ev.ts, "why": refused.why}
            )
        elif t == "trigger_evaluated":
            reading = payloads.read(d, payloads.TriggerEvaluated)
            tid = reading.trigger_id or _text(reading.trigger)
            tr = self.triggers.setdefault(tid, {"history": []})
            if tr.get("state") == "firing" and reading.state not in (None, "firing"):
                self.cleared.append({"trigger": tid, "at": ev.ts, "value": reading.value, "reason": reading.reason})
            tr.update({k: v for k, v in d.items() if k not in ("trigger", "trigger_id", "samples", "readings")})
            tr["at"] = ev.ts
            tr["history"] = _history(tr["history"], d, ev.ts)
        elif t == "trigger_fired":
            fired = payloads.read(d, payloads.TriggerFired)
            self.fired.append(
                {
                    "trigger": fired.trigger,
                    "at": ev.ts,
                    "reason": fired.reason,
                    "then": fired.then,
                    "severity": fired.severity,
                    "by": ev.actor,
                }
            )
            tr = self.triggers.setdefault(fired.trigger_id or _text(fired.trigger), {"history": []})
            # The firing reading is the latest one: views show its value and reason, not the one before.
            tr.update(
                {k: v for k, v in d.items() if k not in ("trigger", "trigger_id", "history", "samples", "readings")}
            )
            tr["at"] = ev.ts
            tr["history"] = _history(tr["history"], d, ev.ts)
            tr["state"] = "firing"
        elif t == "rollback_requested":
            requested = payloads.read(d, payloads.RollbackRequested)
            self.rollback_requests.append(
                {
                    "reason": requested.reason,
                    "source": requested.source,
                    "by": ev.actor,
                    "at": ev.ts,
                    "trigger": requested.trigger,
                    "armed": bool(requested.armed),
                }
            )
        elif t == "rollback_started":
            rolling = payloads.read(d, payloads.RollbackStarted)
            self.rollback = {
                "reason": rolling.reason,
                "by": rolling.by or ev.actor,
                "source": rolling.source,
                "started_at": ev.ts,
                "finished_at": None,
                "outcome": None,
                # The cutover had passed (a GO, hypercare going on): the rollback ends ROLLED_BACK_AFTER_GO.
                "after_go": self.status is RunStatus.PASSED and self.go_at is not None,
            }
            self.status = RunStatus.ROLLING_BACK
        elif t == "rollback_finished":
            if self.rollback is not None:
                self.rollback["finished_at"] = ev.ts
                self.rollback["outcome"] = payloads.read(d, payloads.RollbackFinished).outcome
                self.rollback["interrupted"] = None
        elif t == "rollback_interrupted":
            if self.rollback is not None:
                error = payloads.read(d, payloads.RollbackInterrupted).error
                self.rollback["interrupted"] = {"at": ev.ts, "error": error, "by": ev.actor}
        elif t == "step_rechecked":
            self.rechecks.append({**d, "step": ev.step_id, "at": ev.ts, "by": ev.actor})
        elif t == "follow_up_confirmed":
            follow_up = payloads.read(d, payloads.FollowUpConfirmed)
            self.follow_ups[_text(follow_up.follow_up)] = {"by": ev.actor, "at": ev.ts, "note": follow_up.note}
        elif t == "comms_sent":
            self.comms.append({**d, "at": ev.ts})
        elif t == "signoff_recorded":
            signed = payloads.read(d, payloads.SignoffRecorded)
            self.signoffs[_text(signed.area)] = {"by": ev.actor, "at": ev.ts, "statement": signed.statement}
        elif t == "signoff_fields_recorded":
            for fid, value in (payloads.read(d, payloads.SignoffFieldsRecorded).fields or {}).items():
                self.signoff_fields[fid] = {"value": value, "by": ev.actor, "at": ev.ts}
        elif t == "hypercare_check":
            self.hypercare.append({**d, "step": ev.step_id, "at": ev.ts})
        elif t == "hypercare_report":
            self.reports[_text(payloads.read(d, payloads.HypercareReport).report)] = {**d, "at": ev.ts}
        elif t == "engine_started":
            started = payloads.read(d, payloads.EngineStarted)
            self.engine = {"owner": started.owner, "epoch": started.epoch, "since": ev.ts}
            self.engine_stopped = None
            if started.takeover:
                self.takeovers.append(
                    {
                        "by": ev.actor,
                        "at": ev.ts,
                        "owner": started.owner,
                        "epoch": started.epoch,
                        "previous_owner": started.previous_owner,
                        "reason": started.reason,
                    }
                )
        elif t == "engine_stopped":
            stopped = payloads.read(d, payloads.EngineStopped)
            self.engine_stopped = {
                "owner": stopped.owner,
                "epoch": stopped.epoch,
                "reason": stopped.reason,
                "at": ev.ts,
            }
        elif t == "run_finished":
            finished = payloads.read(d, payloads.RunFinished)
            self.status = RunStatus(finished.status if finished.status is not None else "failed")
            self.reason = _text(finished.reason)
            self.finished_at = ev.ts
        elif t == "rehearsal_report":
            self.rehearsal = {**self.rehearsal, "report": dict(d)}
        elif t == "run_reopened":
            reopened = payloads.read(d, payloads.RunReopened)
            self.status = RunStatus.RUNNING
            self.reason = ""
            self.finished_at = None
            # What the run enters again: those phases start over, those steps have no outcome of their own yet.
            for pid in reopened.reenter_phases or []:
                self.phases[pid] = "pending"
                self.phase_times.pop(pid, None)
            for sid in reopened.reenter_steps or []:
                old = self.steps.get(sid)
                self.steps[sid] = StepState(sid, old.section if old else "")
            if reopened.from_phase:
                self.resumed_from = reopened.from_phase
            # Waivers given with resume --from join the start's: phase windows (window:PHASE) are judged later.
            self.gate_waivers = [*self.gate_waivers, *(reopened.gate_waivers or [])]
            if self.decision is not None and self.decision.get("step") in (reopened.reenter_steps or []):
                self.decision = None  # that decision is taken again
        if (
            t
            in (
                "step_finished",
                "action_finished",
                "decision_recorded",
                "step_confirmed",
                "action_resolved",
                "decision_defaulted",
            )
            and self.status is RunStatus.WAITING
            and not self.waiting
        ):
            self.status = RunStatus.RUNNING


def _text(value: str | None) -> str:
    """A text field of a payload, empty when the event left it out."""
    return value if value is not None else ""


def fold(run_id: str, events: Iterable[Event], runbook: models.Runbook | None = None) -> RunState:
    """Build a run's state from its events (and its runbook, for step sections)."""
    state = RunState(run_id)
    if runbook is not None:
        for section, step in runbook.all_steps():
            state.steps[step.id] = StepState(step.id, section)
        for p in runbook.phases:
            state.phases[p.id] = "pending"
    for ev in events:
        state.apply(ev)
    return state


def parse_ts(ts: str | None) -> datetime | None:
    if not ts:
        return None
    return clock_mod.parse_time(ts)


# --- snapshots: a folded state kept in the store (a cache of the fold, never evidence) ----------------------


@functools.cache
def _fold_code_digest() -> str:
    """The digest of this module's source: a snapshot folded by other code is never read back."""
    from golive import __version__

    return hashlib.sha256(__version__.encode() + b"\0" + Path(__file__).read_bytes()).hexdigest()[:32]


def snapshot_kind(runbook_digest: str) -> str:
    """The snapshot kind of a fold by this code over a run of the runbook with ``runbook_digest`` (its steps
    and phases seed the fold)."""
    return f"state/{_fold_code_digest()}/{runbook_digest}"


def dump_state(state: RunState) -> str:
    """The state as JSON text; :func:`load_state` gives back an equal state."""
    # The fields as they are (no deep copy: json reads them); enums are str, tuples become lists.
    raw = dict(vars(state))
    raw["steps"] = {sid: vars(st) for sid, st in state.steps.items()}
    return json.dumps(raw, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_STEP_FIELDS = frozenset(f.name for f in fields(StepState))
_RUN_FIELDS = frozenset(f.name for f in fields(RunState))


def load_state(text: str) -> RunState:
    """The state :func:`dump_state` wrote. ValueError (or KeyError/TypeError) when the text is not one."""
    raw = json.loads(text)
    if not isinstance(raw, dict) or set(raw) != _RUN_FIELDS:
        raise ValueError("not a folded run state")
    steps: dict[str, StepState] = {}
    for sid, st in raw["steps"].items():
        if set(st) != _STEP_FIELDS:
            raise ValueError("not a folded step state")
        step = StepState(**st)
        if step.outcome is not None:
            step.outcome = Outcome(step.outcome)
        steps[sid] = step
    raw["steps"] = steps
    raw["status"] = RunStatus(raw["status"])
    raw["phase_times"] = {k: (v[0], v[1]) for k, v in raw["phase_times"].items()}
    return RunState(**raw)
