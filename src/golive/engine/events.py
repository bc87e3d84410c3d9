"""The events of a run's log: one :class:`EventType` per kind of event and a typed payload model for each.

Every event the engine and the acts write goes through :func:`check` before it reaches the store
(``RunHandle.append_many`` and ``create_run``): an unknown type, or a field its payload does not declare, is
refused there, so the log holds only what the fold and the views know how to read. A payload declares the
fields a writer may put in ``data``; each is optional, because writers leave out what does not apply.

To add a field to an event, declare it on its payload here (and read it in :mod:`golive.engine.state` if the
fold needs it); to add a type, add it to :class:`EventType`, give it a payload and list it in ``PAYLOADS``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from golive import exceptions
from golive.store import base as store_base

__all__ = ["PAYLOADS", "EventType", "Payload", "check", "payload", "read"]


class Payload(BaseModel):
    """The ``data`` of one event: frozen, and any field it does not declare is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, defer_build=True)

    # How the actor authenticated (golive.identity stamps them on any event of a person's act, whatever its
    # type: a decision, a waiver, a take-over's engine_started); absent on the engine's own events.
    auth: str | None = None
    auth_subject: str | None = None


class EventType(enum.StrEnum):
    """Every type of event a run's log holds."""

    ACT_REFUSED = "act_refused"
    ARMED_COVERAGE = "armed_coverage"
    APPROVAL_RECORDED = "approval_recorded"
    LINK_OPENED = "link_opened"
    ACTION_FINISHED = "action_finished"
    ACTION_RESOLVED = "action_resolved"
    ACTION_STARTED = "action_started"
    ACTION_UNKNOWN = "action_unknown"
    COMMS_SENT = "comms_sent"
    DECISION_DEFAULTED = "decision_defaulted"
    DECISION_RECORDED = "decision_recorded"
    ENGINE_STARTED = "engine_started"
    ENGINE_STOPPED = "engine_stopped"
    EVIDENCE_ADDED = "evidence_added"
    FOLLOW_UP_CONFIRMED = "follow_up_confirmed"
    FREEZE_STARTED = "freeze_started"
    GATE_WAIVED = "gate_waived"
    HYPERCARE_ALERT = "hypercare_alert"
    HYPERCARE_CHECK = "hypercare_check"
    HYPERCARE_MISSED = "hypercare_missed"
    HYPERCARE_REPORT = "hypercare_report"
    OVERRUN_DECIDED = "overrun_decided"
    PHASE_FINISHED = "phase_finished"
    PHASE_STARTED = "phase_started"
    REHEARSAL_REPORT = "rehearsal_report"
    ROLE_ASSIGNED = "role_assigned"
    ROLLBACK_FINISHED = "rollback_finished"
    ROLLBACK_INTERRUPTED = "rollback_interrupted"
    ROLLBACK_REQUESTED = "rollback_requested"
    ROLLBACK_STARTED = "rollback_started"
    RUN_CREATED = "run_created"
    RUN_FINISHED = "run_finished"
    RUN_REOPENED = "run_reopened"
    SCHEDULED_WAIT = "scheduled_wait"
    SIGNOFF_FIELDS_RECORDED = "signoff_fields_recorded"
    SIGNOFF_RECORDED = "signoff_recorded"
    START_GATE = "start_gate"
    STEP_CONFIRMED = "step_confirmed"
    STEP_FINISHED = "step_finished"
    STEP_PROBE = "step_probe"
    STEP_RECHECKED = "step_rechecked"
    STEP_RETRY = "step_retry"
    STEP_STARTED = "step_started"
    STEP_WAITING = "step_waiting"
    TRIGGER_EVALUATED = "trigger_evaluated"
    TRIGGER_FIRED = "trigger_fired"
    TRIGGER_PAUSED = "trigger_paused"
    WAIVER_RECORDED = "waiver_recorded"
    WINDOW_EXTENDED = "window_extended"
    WINDOW_OVERRUN = "window_overrun"


class ActRefused(Payload):
    """``act_refused``."""

    act: str | None = None
    why: str | None = None


class ActionFinished(Payload):
    """``action_finished``."""

    attempt: Any = None
    details: Any = None
    duration: Any = None
    evidence: Any = None
    final: bool | None = None
    outcome: str | None = None
    output: Any = None
    started_at: str | None = None
    summary: str | None = None


class ActionResolved(Payload):
    """``action_resolved``."""

    bulk: Any = None
    outcome: str | None = None
    reason: str | None = None


class ActionStarted(Payload):
    """``action_started``."""

    attempt: Any = None
    describe: str | None = None


class ActionUnknown(Payload):
    """``action_unknown``."""

    idempotent: bool | None = None
    outcome: Any = None
    retry: bool | None = None


class CommsSent(Payload):
    """``comms_sent``."""

    attempts: Any = None
    channel: str | None = None
    dedup_key: str | None = None
    due_at: str | None = None
    duration: Any = None
    error: str | None = None
    event: str | None = None
    missed: Any = None
    ok: bool | None = None
    phase_id: str | None = None
    rehearsal: bool | None = None
    required: bool | None = None
    severity: str | None = None
    slot: Any = None
    template: str | None = None
    text: str | None = None
    tier: str | None = None
    title: str | None = None
    trigger: str | None = None


class DecisionDefaulted(Payload):
    """``decision_defaulted``."""

    default: str | None = None
    reason: str | None = None


class DecisionRecorded(Payload):
    """``decision_recorded``."""

    approvers: Any = None
    decision: str | None = None
    pause: bool | None = None
    reason: str | None = None
    statement: str | None = None


class EngineStarted(Payload):
    """``engine_started``."""

    epoch: Any = None
    owner: str | None = None
    previous_epoch: Any = None
    previous_owner: str | None = None
    reason: str | None = None
    takeover: bool | None = None


class EngineStopped(Payload):
    """``engine_stopped``."""

    epoch: Any = None
    owner: str | None = None
    reason: str | None = None


class EvidenceAdded(Payload):
    """``evidence_added``."""

    name: str | None = None
    sha256: str | None = None


class FollowUpConfirmed(Payload):
    """``follow_up_confirmed``."""

    follow_up: str | None = None
    note: str | None = None
    title: str | None = None


class FreezeStarted(Payload):
    """``freeze_started``."""

    end: str | None = None
    freeze: str | None = None
    start: str | None = None
    title: str | None = None


class GateWaived(Payload):
    """``gate_waived``."""

    gate: str | None = None
    kind: str | None = None
    reason: str | None = None
    role: str | None = None
    ticket: str | None = None
    what: str | None = None
    why: str | None = None


class HypercareAlert(Payload):
    """``hypercare_alert``."""

    check_id: str | None = None
    kind: str | None = None
    message: str | None = None
    outcome: str | None = None
    report: Any = None
    slot: str | None = None


class HypercareCheck(Payload):
    """``hypercare_check``."""

    by: str | None = None
    check_id: str | None = None
    evidence: Any = None
    inputs: Any = None
    manual: bool | None = None
    outcome: str | None = None
    slot: str | None = None
    summary: str | None = None
    ts: str | None = None


class HypercareMissed(Payload):
    """``hypercare_missed``."""

    check_ids: Any = None
    slot: str | None = None


class HypercareReport(Payload):
    """``hypercare_report``."""

    due_at: str | None = None
    report: str | None = None
    status: str | None = None
    summary: Any = None
    title: str | None = None
    written_at: str | None = None


class OverrunDecided(Payload):
    """``overrun_decided``."""

    decision: str | None = None
    default: bool | None = None
    reason: str | None = None
    scope: str | None = None


class PhaseFinished(Payload):
    """``phase_finished``."""

    outcome: str | None = None
    reason: str | None = None


class PhaseStarted(Payload):
    """``phase_started``."""

    outcome: Any = None
    reason: Any = None
    title: str | None = None


class RehearsalReport(Payload):
    """``rehearsal_report``."""

    calls: Any = None
    flags: Any = None
    messages_held: Any = None
    recorded: str | None = None
    source: str | None = None
    unstubbed: Any = None


class RoleAssigned(Payload):
    """``role_assigned``."""

    person: str | None = None
    role: str | None = None


class RollbackFinished(Payload):
    """``rollback_finished``."""

    failed: Any = None
    outcome: str | None = None


class RollbackInterrupted(Payload):
    """``rollback_interrupted``."""

    error: str | None = None


class RollbackRequested(Payload):
    """``rollback_requested``."""

    armed: bool | None = None  # an armed trigger fired while the run went on (golive.engine.armed)
    reason: str | None = None
    source: str | None = None
    trigger: str | None = None


class RollbackStarted(Payload):
    """``rollback_started``."""

    by: str | None = None
    reason: str | None = None
    source: str | None = None


class RunCreated(Payload):
    """``run_created``."""

    anchor: str | None = None
    code_vars: Any = None
    digest: str | None = None
    gate_waivers: Any = None
    mode: str | None = None
    phases: Any = None
    rehearsal: Any = None
    release: Any = None
    runbook: str | None = None
    runbook_pack_digest: str | None = None
    runbook_text_digest: str | None = None
    sections: Any = None
    start_now: bool | None = None
    t0: str | None = None
    var_sources: Any = None
    vars: Any = None


class RunFinished(Payload):
    """``run_finished``."""

    reason: str | None = None
    status: str | None = None


class RunReopened(Payload):
    """``run_reopened``."""

    from_phase: str | None = None
    gate_waivers: Any = None  # waivers given with resume --from (golive.engine.gate)
    reason: str | None = None
    reenter_phases: Any = None
    reenter_steps: Any = None


class ScheduledWait(Payload):
    """``scheduled_wait``."""

    planned: str | None = None
    until: str | None = None
    what: str | None = None


class SignoffFieldsRecorded(Payload):
    """``signoff_fields_recorded``."""

    fields: Any = None


class SignoffRecorded(Payload):
    """``signoff_recorded``."""

    area: str | None = None
    statement: str | None = None


class StartGate(Payload):
    """``start_gate``."""

    blocks: Any = None
    next_allowed: str | None = None
    next_allowed_text: str | None = None
    outcome: str | None = None


class StepConfirmed(Payload):
    """``step_confirmed``."""

    evidence: Any = None
    inputs: Any = None
    outcome: str | None = None
    reason: str | None = None


class StepFinished(Payload):
    """``step_finished``."""

    attempt: Any = None
    details: Any = None
    downgraded_from: str | None = None
    duration: Any = None
    evidence: Any = None
    latency_ms: Any = None
    note: str | None = None
    outcome: str | None = None
    output: Any = None
    pair: Any = None
    started_at: str | None = None
    summary: str | None = None


class StepProbe(Payload):
    """``step_probe``."""

    held: Any = None
    outcome: str | None = None
    probe: Any = None
    restarted: bool | None = None
    summary: str | None = None


class StepRechecked(Payload):
    """``step_rechecked``."""

    decision: str | None = None
    outcome: str | None = None
    output: Any = None
    summary: str | None = None


class StepRetry(Payload):
    """``step_retry``."""

    attempt: Any = None
    summary: str | None = None
    wait: Any = None


class StepStarted(Payload):
    """``step_started``."""

    attempt: Any = None
    duration_planned: Any = None
    remaining: Any = None
    resumed: bool | None = None
    summary: str | None = None


class StepWaiting(Payload):
    """``step_waiting``."""

    blocked_by: Any = None
    deadline: str | None = None
    default: str | None = None
    details: Any = None
    holder: str | None = None
    instructions: str | None = None
    reason: str | None = None
    remaining: Any = None
    requires: Any = None
    role: str | None = None
    statement: Any = None
    summary: str | None = None
    trigger: str | None = None
    what: str | None = None


class TriggerEvaluated(Payload):
    """``trigger_evaluated``: one evaluation of a trigger (``baseline`` only when it has one) and its samples;
    ``armed`` when the armed watch read it outside an observe window (golive.engine.armed)."""

    armed: bool | None = None
    baseline: Any = None
    breached: bool | None = None
    breaching_since: str | None = None
    consecutive_breaches: Any = None
    consecutive_errors: Any = None
    fired: bool | None = None
    reason: str | None = None
    samples: Any = None
    severity: str | None = None
    since: str | None = None
    state: str | None = None
    status: str | None = None
    then: str | None = None
    trigger: str | None = None
    trigger_id: str | None = None
    ts: str | None = None
    value: Any = None
    when: str | None = None


class TriggerFired(TriggerEvaluated):
    """``trigger_fired``: the same fields as ``trigger_evaluated`` (both carry ``Evaluation.event_data()``)."""


class WaiverRecorded(Payload):
    """``waiver_recorded``."""

    approvers: Any = None
    reason: str | None = None
    ticket: str | None = None


class ArmedCoverage(Payload):
    """``armed_coverage``: each armed trigger's watched fraction of its armed span (golive.engine.armed)."""

    error: str | None = None  # the coverage could not be computed (recorded not ok)
    ok: bool | None = None
    segment: str | None = None
    triggers: Any = None


class WindowExtended(Payload):
    """``window_extended``."""

    coverage: Any = None
    extended: Any = None
    extension: Any = None
    max_extension: Any = None
    reason: str | None = None


class TriggerPaused(Payload):
    """``trigger_paused``: an armed ``pause`` trigger fired outside an observe window; the IC is asked."""

    asked_at: str | None = None
    deadline: str | None = None
    default: str | None = None
    reason: str | None = None
    roles: Any = None
    scope: str | None = None
    trigger: str | None = None


class WindowOverrun(Payload):
    """``window_overrun``."""

    asked_at: str | None = None
    deadline: str | None = None
    default: str | None = None
    not_after: str | None = None
    reason: str | None = None
    role: Any = None
    roles: Any = None
    scope: str | None = None


class ApprovalRecorded(Payload):
    """``approval_recorded``: one person's approval towards a quorum (GO or a waiver)."""

    act: str | None = None
    reason: str | None = None
    ticket: str | None = None


class LinkOpened(Payload):
    """``link_opened``: a person opened the one-time link sent to them."""

    act: str | None = None
    nonce: Any = None


PAYLOADS: dict[EventType, type[Payload]] = {
    EventType.ACT_REFUSED: ActRefused,
    EventType.APPROVAL_RECORDED: ApprovalRecorded,
    EventType.LINK_OPENED: LinkOpened,
    EventType.ACTION_FINISHED: ActionFinished,
    EventType.ACTION_RESOLVED: ActionResolved,
    EventType.ACTION_STARTED: ActionStarted,
    EventType.ACTION_UNKNOWN: ActionUnknown,
    EventType.COMMS_SENT: CommsSent,
    EventType.DECISION_DEFAULTED: DecisionDefaulted,
    EventType.DECISION_RECORDED: DecisionRecorded,
    EventType.ENGINE_STARTED: EngineStarted,
    EventType.ENGINE_STOPPED: EngineStopped,
    EventType.EVIDENCE_ADDED: EvidenceAdded,
    EventType.FOLLOW_UP_CONFIRMED: FollowUpConfirmed,
    EventType.FREEZE_STARTED: FreezeStarted,
    EventType.GATE_WAIVED: GateWaived,
    EventType.HYPERCARE_ALERT: HypercareAlert,
    EventType.HYPERCARE_CHECK: HypercareCheck,
    EventType.HYPERCARE_MISSED: HypercareMissed,
    EventType.HYPERCARE_REPORT: HypercareReport,
    EventType.OVERRUN_DECIDED: OverrunDecided,
    EventType.PHASE_FINISHED: PhaseFinished,
    EventType.PHASE_STARTED: PhaseStarted,
    EventType.REHEARSAL_REPORT: RehearsalReport,
    EventType.ROLE_ASSIGNED: RoleAssigned,
    EventType.ROLLBACK_FINISHED: RollbackFinished,
    EventType.ROLLBACK_INTERRUPTED: RollbackInterrupted,
    EventType.ROLLBACK_REQUESTED: RollbackRequested,
    EventType.ROLLBACK_STARTED: RollbackStarted,
    EventType.RUN_CREATED: RunCreated,
    EventType.RUN_FINISHED: RunFinished,
    EventType.RUN_REOPENED: RunReopened,
    EventType.SCHEDULED_WAIT: ScheduledWait,
    EventType.SIGNOFF_FIELDS_RECORDED: SignoffFieldsRecorded,
    EventType.SIGNOFF_RECORDED: SignoffRecorded,
    EventType.START_GATE: StartGate,
    EventType.STEP_CONFIRMED: StepConfirmed,
    EventType.STEP_FINISHED: StepFinished,
    EventType.STEP_PROBE: StepProbe,
    EventType.STEP_RECHECKED: StepRechecked,
    EventType.STEP_RETRY: StepRetry,
    EventType.STEP_STARTED: StepStarted,
    EventType.STEP_WAITING: StepWaiting,
    EventType.TRIGGER_EVALUATED: TriggerEvaluated,
    EventType.TRIGGER_FIRED: TriggerFired,
    EventType.WAIVER_RECORDED: WaiverRecorded,
    EventType.WINDOW_EXTENDED: WindowExtended,
    EventType.ARMED_COVERAGE: ArmedCoverage,
    EventType.WINDOW_OVERRUN: WindowOverrun,
    EventType.TRIGGER_PAUSED: TriggerPaused,
}


def payload(type_: str, data: Mapping[str, Any]) -> Payload:
    """The typed payload of an event's ``data``; UsageError naming the type and the field when it is not one."""
    try:
        kind = EventType(type_)
    except ValueError:
        raise exceptions.UsageError(
            f"event type {type_!r} is not an EventType: add it to golive.engine.events (with its payload)"
        ) from None
    model = PAYLOADS[kind]
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'data'}: "
            + ("not a field of this event" if err["type"] == "extra_forbidden" else err["msg"])
            for err in exc.errors()
        )
        raise exceptions.UsageError(
            f"event {type_!r}: {problems} (declare the field on {model.__name__} in golive.engine.events)"
        ) from None


def check(events: Iterable[store_base.NewEvent]) -> None:
    """Refuse (UsageError) the first event whose type or data its payload model does not allow."""
    for event in events:
        payload(event.type, event.data)


P = TypeVar("P", bound=Payload)


def read(data: Mapping[str, Any], model: type[P]) -> P:
    """A stored event's ``data`` as its payload model, for the fold and the views.

    What was written went through :func:`check`, so it validates as it did then; a log written before a field
    left its payload is still read (the fields the model no longer declares are left out), never refused: a
    run's history folds whatever version of golive wrote it.
    """
    try:
        return model.model_validate(data)
    except ValidationError:
        known = {k: v for k, v in data.items() if k in model.model_fields}
        # cast: the pydantic mypy plugin types model_construct on the bound (Payload), not on P
        return cast(P, model.model_construct(set(known), **known))
