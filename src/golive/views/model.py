"""The typed shape of the read model: what ``summary.summarize`` returns, key by key.

Rules:
- These are ``TypedDict``s, not classes: the summary stays the plain dict that ``golive status --json``, the
  API, the dashboard, the reports and the evidence pack serialize, so their JSON is byte for byte what it was,
  while mypy checks every key a reader names (a misspelt key is a type error, not a silent ``None``).
- A key is ``NotRequired`` only where the dict really may lack it (a waiver without approvers, the safe-flag
  restore step that has fewer fields than a runbook step, what a caller adds: ``preflight``, ``chain``,
  ``blob_status``). Event payloads kept as written (comms, hypercare checks and reports, trigger readings)
  are ``total=False``: the fold keeps the keys the event carried.
- Read a key that is always there as ``summary["key"]``: mypy checks that name. ``.get("key")`` of a key the
  view does not declare is not a mypy error (it gives ``object``), so ``.get`` is for ``NotRequired`` keys.
- Nothing here computes: ``summary`` builds these, ``format`` formats them. No ``from __future__ import
  annotations`` here: Python 3.11 reads ``NotRequired`` only from evaluated annotations.
- tests/shape.py checks real summaries against these declarations, so the model cannot drift from the dict.
"""

from typing import Any, NotRequired, TypedDict

__all__ = [
    "ArmedCoverageView",
    "ChecklistItem",
    "CommsView",
    "CompletionCriterion",
    "CompletionView",
    "CoverageView",
    "DecisionView",
    "EngineView",
    "FiredView",
    "FollowUpView",
    "HypercareCheckView",
    "HypercareReportView",
    "JudgementView",
    "MetricView",
    "PendingView",
    "PhaseView",
    "QuorumView",
    "RefusalView",
    "RoleView",
    "RollbackInterrupted",
    "RollbackView",
    "SignoffFieldView",
    "SignoffView",
    "StepView",
    "Summary",
    "TimelineLine",
    "TriggerView",
    "WaitView",
    "WaiverView",
]


QuorumView = TypedDict(
    "QuorumView",
    {
        "approvals": int,
        "of": list[str],
        "not": list[str],
        "approved": list[dict[str, Any]],
        "awaited": list[dict[str, Any]],
        "discounted": list[dict[str, Any]],
        "count": int,
        "met": bool,
        "text": str,
    },
)
"""Where a quorum of an act on a step stands (``engine.quorum.Tally.as_dict`` and its sentence)."""


class WaiverView(TypedDict):
    """A waiver recorded on a step: who, when, the ticket and the reason (and the quorum's approvers)."""

    step: str | None
    by: str | None
    at: str
    ticket: str | None
    reason: str | None
    approvers: NotRequired[list[str]]


class StepView(TypedDict):
    """A step as every view shows it. The safe-flag restore step of a rollback has only the keys that are
    not ``NotRequired`` here."""

    id: str
    title: str
    section: str
    kind: str
    outcome: str | None
    summary: str
    status: str
    started_at: str | None
    finished_at: str | None
    duration: float | None
    evidence: list[dict[str, Any]]
    t: str | None
    role: NotRequired[str | None]
    holder: NotRequired[str | None]
    planned_at: NotRequired[str | None]
    planned_time: NotRequired[str | None]
    drift: NotRequired[str | None]
    expected: NotRequired[float | None]
    attempts: NotRequired[int]
    actor: NotRequired[str | None]
    auth: NotRequired[str | None]
    auth_subject: NotRequired[str | None]
    waiting_for: NotRequired[str | None]
    deadline: NotRequired[str | None]
    default: NotRequired[str | None]
    blocking: NotRequired[bool]
    waiver: NotRequired[dict[str, Any] | None]
    inputs: NotRequired[dict[str, Any]]
    output: NotRequired[Any]
    decision: NotRequired[str | None]
    statement: NotRequired[str | None]
    watch_ends_at: NotRequired[str | None]
    resolvers: NotRequired[list[str]]
    approvals: NotRequired[list[dict[str, Any]]]
    quorum: NotRequired[QuorumView | None]
    waiver_quorum: NotRequired[QuorumView | None]


class WaitView(TypedDict):
    """What a waiting step waits for: its kind, the roles that must act and their holders, the acts they
    can do, the deadline and default, and one sentence."""

    kind: str
    roles: list[str]
    holders: dict[str, str | None]
    acts: list[str]
    deadline: str | None
    default: str | None
    text: str
    quorum: QuorumView | None


class PendingView(StepView):
    """A step waiting for a person, with what it waits for."""

    wait: WaitView


class PhaseView(TypedDict):
    id: str
    title: str
    planned_at: str | None
    planned_time: str | None
    drift: str | None
    outcome: str
    started_at: str | None
    finished_at: str | None
    t: str | None
    steps: list[StepView]


class RoleView(TypedDict):
    holder: str | None
    title: str
    description: str | None


class DecisionView(TypedDict):
    """The GO/NO-GO recorded (or its deadline's default: ``by`` is ``deadline`` and ``default`` true)."""

    decision: str | None
    by: str | None
    at: str
    reason: str | None
    statement: str | None
    step: str | None
    default: bool
    approvers: NotRequired[list[str]]


class RollbackInterrupted(TypedDict):
    at: str
    error: str | None
    by: str | None


class RollbackView(TypedDict):
    """The rollback: why and by whom it started, when it finished and how, and an interruption if any."""

    reason: str | None
    by: str | None
    source: str | None
    started_at: str
    finished_at: str | None
    outcome: str | None
    after_go: bool
    interrupted: NotRequired[RollbackInterrupted | None]


class RefusalView(TypedDict):
    act: str | None
    step: str | None
    by: str | None
    at: str
    why: str | None


class FiredView(TypedDict):
    trigger: str | None
    at: str
    reason: str | None
    then: str | None
    severity: str | None
    by: str | None


class EngineView(TypedDict):
    """Who drives the run (owner, epoch, since), its last failure (``stopped``) and the take-overs."""

    owner: str | None
    epoch: int | None
    since: str | None
    stopped: dict[str, Any] | None
    takeovers: list[dict[str, Any]]


class TriggerView(TypedDict, total=False):
    """A runbook trigger with its last reading as the fold keeps it (``trigger_evaluated`` / ``trigger_fired``
    as written, less the samples), its ``history``; the HTML report adds the full series and its ``gaps``."""

    id: str
    title: str
    when: str | None
    then: str | None
    severity: str | None
    state: str | None
    status: str | None
    value: Any
    reason: str | None
    armed: bool | None
    baseline: Any
    breached: bool | None
    breaching_since: str | None
    consecutive_breaches: Any
    consecutive_errors: Any
    fired: bool | None
    since: str | None
    ts: str | None
    auth: str | None
    auth_subject: str | None
    at: str
    history: list[Any]
    gaps: list[Any]


class MetricView(TypedDict):
    id: str | None
    kind: str | None
    status: str | None
    test: str | None
    canary: float | None
    baseline: float | None
    n_canary: int | None
    n_baseline: int | None
    effect: float | None
    p_adjusted: float | None
    critical: bool | None
    weight: float | None
    reason: str | None


class JudgementView(TypedDict):
    step: str
    title: str
    verdict: str | None
    score: float | None
    reason: str | None
    outcome: str | None
    metrics: list[MetricView]


class CoverageView(TypedDict):
    step: str
    title: str
    fraction: float | None
    min_coverage: float | None
    ok: bool | None
    least: str | None
    extended: float
    triggers: dict[str, dict[str, Any]]
    text: str


class ArmedCoverageView(TypedDict):
    segment: str
    ok: bool
    least: str | None
    triggers: dict[str, dict[str, Any]]
    text: str


class CommsView(TypedDict, total=False):
    """A message sent (``comms_sent`` as written, with its time)."""

    at: str
    auth: str | None
    auth_subject: str | None
    attempts: Any
    channel: str | None
    dedup_key: str | None
    due_at: str | None
    duration: Any
    error: str | None
    event: str | None
    missed: Any
    ok: bool | None
    phase_id: str | None
    rehearsal: bool | None
    required: bool | None
    severity: str | None
    slot: Any
    template: str | None
    text: str | None
    tier: str | None
    title: str | None
    trigger: str | None


class SignoffView(TypedDict):
    """A sign-off area: ``pending`` until a person signs (then by, at, statement), with its title."""

    title: str
    status: NotRequired[str]
    by: NotRequired[str | None]
    at: NotRequired[str]
    statement: NotRequired[str | None]


class SignoffFieldView(TypedDict):
    id: str
    title: str
    type: str
    value: Any
    source: str | None
    by: NotRequired[str | None]
    at: NotRequired[str]


class HypercareCheckView(TypedDict, total=False):
    """A hypercare check as recorded (``hypercare_check``), with its step and time."""

    step: str | None
    at: str
    auth: str | None
    auth_subject: str | None
    by: str | None
    check_id: str | None
    evidence: Any
    inputs: Any
    manual: bool | None
    outcome: str | None
    slot: str | None
    summary: str | None
    ts: str | None


class HypercareReportView(TypedDict, total=False):
    """A hypercare report written (``hypercare_report``), with its time."""

    at: str
    auth: str | None
    auth_subject: str | None
    due_at: str | None
    report: str | None
    status: str | None
    summary: Any
    title: str | None
    written_at: str | None


class ChecklistItem(TypedDict):
    id: str
    title: str
    status: str  # complete | missing | not-applicable
    steps: list[str]
    missing_steps: NotRequired[list[str]]


class CompletionCriterion(TypedDict):
    id: str
    title: str
    met: bool
    why: list[str]


class CompletionView(TypedDict):
    complete: bool
    criteria: list[CompletionCriterion]


class FollowUpView(TypedDict):
    id: str
    title: str
    role: str | None
    status: str  # due | confirmed | not-due
    by: str | None
    at: str | None
    note: str | None


class TimelineLine(TypedDict):
    """One line of the scribe's timeline."""

    planned: str | None
    t: str | None
    what: str
    result: str
    at: str
    actor: str
    kind: str
    detail: NotRequired[str]


class Summary(TypedDict):
    """A run as plain data (``summary.summarize``), in the order its JSON shows the keys."""

    run_id: str
    runbook: str
    title: str
    service: str | None
    environment: str | None
    release: dict[str, Any]
    digest: str
    mode: str
    rehearsal: dict[str, Any]
    rehearsal_note: str
    status: str
    status_label: str
    verdict: str
    reason: str
    created_at: str | None
    finished_at: str | None
    anchor: str | None
    roles: dict[str, RoleView]
    phases: list[PhaseView]
    rollback: RollbackView | None
    rollback_steps: list[StepView]
    follow_ups: list[FollowUpView]
    scheduled: dict[str, str]
    start_gate: dict[str, Any] | None
    gate_waived: list[dict[str, Any]]
    overrun: dict[str, Any] | None
    freezes_started: list[dict[str, Any]]
    rechecks: list[dict[str, Any]]
    decision: DecisionView | None
    waivers: list[WaiverView]
    refusals: list[RefusalView]
    engine: EngineView
    pending: list[PendingView]
    triggers: list[TriggerView]
    fired: list[FiredView]
    judgements: list[JudgementView]
    coverage: list[CoverageView]
    armed_coverage: list[ArmedCoverageView]
    comms: list[CommsView]
    signoffs: dict[str, SignoffView]
    signoff_fields: list[SignoffFieldView]
    hypercare: list[HypercareCheckView]
    reports: dict[str, HypercareReportView]
    evidence_checklist: list[ChecklistItem]
    completion: CompletionView | None  # None only in a pre-flight's summary
    head_hash: str
    events: int
    timeline: list[TimelineLine]
    # Added by callers, never by summarize():
    preflight: NotRequired[dict[str, Any]]  # `golive preflight`: the phase, its title, concurrency, timeout
    chain: NotRequired[dict[str, Any]]  # the HTML report: the hash chain's check
    blob_status: NotRequired[dict[str, dict[str, Any]]]  # the HTML report: each evidence blob re-hashed
