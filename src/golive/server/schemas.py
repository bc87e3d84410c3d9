"""The API's request and response bodies. The OpenAPI document is generated from these models.

Responses that carry a run (``RunSummary``) are what :func:`golive.views.summary.summarize` returns; the
integration tests validate real summaries against these models, so the document cannot drift from it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from golive import runids

__all__ = [
    "ActResult",
    "AssignRequest",
    "ConfirmRequest",
    "DecideRequest",
    "ErrorBody",
    "EventOut",
    "GateWaiveRequest",
    "Health",
    "JudgedMetricOut",
    "JudgementOut",
    "Me",
    "ResolveRequest",
    "RollbackRequest",
    "RunList",
    "RunListItem",
    "RunSummary",
    "RunbookList",
    "SignoffRequest",
    "StartRunRequest",
    "StartRunResult",
    "Ticket",
    "VerifyResult",
    "WaiveRequest",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- requests ------------------------------------------------------------------------------------------


class GateWaiveRequest(_Model):
    """A block of the start gate to waive: ``window``, a freeze id or a change-record step id."""

    gate: str = Field(min_length=1)
    ticket: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class StartRunRequest(_Model):
    """Start a run of a runbook file found under the server's ``runbook_dir``."""

    runbook: str = Field(min_length=1, description="Path of the runbook file, relative to the server's runbook_dir.")
    mode: Literal["live", "rehearsal", "dry-run"] = "live"
    vars: dict[str, str | bool | int | float] = Field(
        default_factory=dict,
        description="Variable overrides (like --var K=V), coerced to each var's declared type; a value that "
        "does not fit is refused (400).",
    )
    roles: dict[str, str] = Field(default_factory=dict, description="Role -> person, assigned at start.")
    run_id: str | None = Field(default=None, pattern=runids.PATTERN)
    waive: list[GateWaiveRequest] = Field(
        default_factory=list,
        description="Blocks of a live run's start gate waived by the caller (like golive run --waive): the caller "
        "must hold, in this run, a role the block names.",
    )


class AssignRequest(_Model):
    """Assign people to runbook roles; the caller is the actor."""

    roles: dict[str, str] = Field(min_length=1, description="Role -> person.")


class ConfirmRequest(_Model):
    """Confirm (or fail) a waiting manual step. Send multipart/form-data instead to attach evidence files:
    fields ``inputs`` (a JSON object), ``failed`` (true/false), ``reason``, and files ``evidence``."""

    inputs: dict[str, str] = Field(default_factory=dict)
    failed: bool = False
    reason: str = ""


class DecideRequest(_Model):
    decision: Literal["go", "no-go", "continue", "rollback"] = Field(
        description="GO or NO-GO; continue or rollback answer a window that closed before the cutover was done."
    )
    reason: str = Field(min_length=1)
    step: str | None = Field(default=None, description="The decision step (default: the pending one).")


class WaiveRequest(_Model):
    ticket: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class OpenLinkRequest(_Model):
    link: str = Field(min_length=1, max_length=4096, description="The token after ?link= in an approval link.")


class LinkOpened(_Model):
    run_id: str
    step: str = Field(description="The step the link opens.")
    act: str = Field(description="decide or confirm: what the person is asked to do (the link itself does nothing).")
    person: str = Field(description="Whom the link was sent to (the signed-in user).")
    waiting_for: str | None = Field(default=None, description="What the step waits for: decision or manual.")


class ResolveRequest(_Model):
    outcome: Literal["done", "not-done"]


class RollbackRequest(_Model):
    reason: str = Field(min_length=1)
    trigger: str | None = Field(
        default=None, description="Raise this trigger (one without a source, then: rollback) as the rollback's cause."
    )


class SignoffRequest(_Model):
    area: str | None = Field(default=None, min_length=1)
    statement: str | None = Field(default=None, min_length=1)
    fields: dict[str, str] = Field(default_factory=dict, description="Sign-off fields to fill in: id -> value.")


# --- responses -----------------------------------------------------------------------------------------


class ErrorBody(_Model):
    error: str = Field(description="unauthorized | forbidden | not_found | invalid | refused | rate_limited | ...")
    message: str
    problems: list[dict[str, Any]] | None = Field(default=None, description="Every problem of an invalid runbook.")


class Health(_Model):
    status: Literal["ok"]
    version: str


class Me(_Model):
    user: str
    roles: list[str]
    can_act: bool
    can_start: bool


class RunListItem(_Model):
    run_id: str
    runbook: str
    title: str
    mode: str
    created_at: str
    status: str
    verdict: str
    reason: str


class RunList(_Model):
    runs: list[RunListItem]


class RunbookFile(_Model):
    path: str
    name: str
    title: str


class RunbookList(_Model):
    runbooks: list[RunbookFile]
    problems: list[str] = Field(default_factory=list, description="Files under runbook_dir that did not load.")


class StartRunResult(_Model):
    run_id: str
    url: str


class ActResult(_Model):
    run_id: str
    act: str
    actor: str
    seq: int = Field(description="The run's last event after the act.")
    message: str
    statement: str | None = None


class VerifyResult(_Model):
    run_id: str
    valid: bool
    events: int | None = Field(description="Events checked (when valid).")
    first_broken_seq: int | None = Field(description="The first event that breaks the chain (when not valid).")
    reason: str | None


class Ticket(_Model):
    ticket: str
    expires_in: float = Field(description="Seconds the ticket may be used to open the stream.")
    url: str = Field(description="The stream URL with the ticket, for EventSource.")


class EventOut(_Model):
    """One event as sent on the SSE stream (``data:``); ``id:`` is its seq."""

    run_id: str
    seq: int
    ts: str
    type: str
    step_id: str | None
    actor: str | None
    data: dict[str, Any]


class RoleOut(_Model):
    holder: str | None
    title: str
    description: str


class StepOut(_Model):
    id: str
    title: str
    section: str
    kind: str
    role: str | None = None
    holder: str | None = None
    planned_at: str | None = None
    planned_time: str | None = Field(default=None, description="With a t0: the planned wall time (t0 + at), UTC.")
    drift: str | None = Field(default=None, description="Actual start against the planned T-time, e.g. '+4m'.")
    status: str
    outcome: str | None
    summary: str
    started_at: str | None
    finished_at: str | None
    t: str | None
    duration: float | None
    expected: float | None = None
    attempts: int = 0
    actor: str | None = None
    auth: str | None = Field(
        default=None, description="How the person who acted authenticated: token, oidc or local (CLI to the store)."
    )
    auth_subject: str | None = Field(
        default=None, description="Who authenticated: the token's user, the OIDC subject, or the local account."
    )
    waiting_for: str | None = None
    deadline: str | None = None
    default: str | None = None
    blocking: bool = True
    waiver: dict[str, Any] | None = None
    evidence: list[dict[str, Any]]
    inputs: dict[str, Any] = Field(default_factory=dict)
    output: Any = None
    decision: str | None = None
    statement: str | None = None
    resolvers: list[str] = Field(
        default_factory=list,
        description="For an action whose outcome is unknown: who may resolve it, as ROLE=HOLDER.",
    )
    watch_ends_at: str | None = Field(
        default=None, description="A running observe window (never paused): when it ends, UTC."
    )
    wait: dict[str, Any] | None = Field(
        default=None,
        description="For a pending step: what it waits for, the same for the CLI, the API and the dashboard "
        "(kind: decision|pause|manual|resolve, roles, holders, acts, deadline, default, text, quorum).",
    )
    approvals: list[dict[str, Any]] = Field(
        default_factory=list, description="Quorum approvals recorded on the step (act go|waive, by, at, reason)."
    )
    quorum: dict[str, Any] | None = Field(
        default=None,
        description="A decision with a quorum: approvals needed, approved (who counts), awaited (role, holder), "
        "discounted (approved but no longer eligible), count, met, text.",
    )
    waiver_quorum: dict[str, Any] | None = Field(
        default=None, description="A step whose waiver needs a quorum: where that quorum stands (as quorum)."
    )


class PhaseOut(_Model):
    id: str
    title: str
    planned_at: str | None
    planned_time: str | None = Field(default=None, description="With a t0: the planned wall time (t0 + at), UTC.")
    drift: str | None = Field(default=None, description="Actual start against the planned T-time, e.g. '+4m'.")
    outcome: str
    started_at: str | None
    finished_at: str | None
    t: str | None
    steps: list[StepOut]


class FollowUpOut(_Model):
    """A rollback follow-up duty: due once a rollback ran, confirmed like a manual step."""

    id: str
    title: str
    role: str | None
    status: Literal["not-due", "due", "confirmed"]
    by: str | None
    at: str | None
    note: str | None


class JudgedMetricOut(_Model):
    """One metric of a judgement: canary against baseline."""

    id: str
    kind: str
    status: str = Field(description="pass, fail or inconclusive.")
    test: str | None
    canary: float | None = Field(description="The canary's median (continuous) or rate (rate, count).")
    baseline: float | None = Field(description="The baseline's median or rate.")
    n_canary: int | None
    n_baseline: int | None
    effect: float | None = Field(description="Relative change in the worse direction (null: infinite or none).")
    p_adjusted: float | None = Field(description="One-sided p-value after the Holm correction.")
    critical: bool | None
    weight: float | None
    reason: str | None


class JudgementOut(_Model):
    """A judged step's verdict (the full samples and statistics are in the step's ``details.judge``)."""

    step: str
    title: str
    verdict: str | None = Field(description="PASS, MARGINAL, FAIL or INCONCLUSIVE.")
    score: float | None
    reason: str | None
    outcome: str | None
    metrics: list[JudgedMetricOut]


class RunSummary(_Model):
    """A run as plain data: the same object ``golive status --json`` prints."""

    run_id: str
    runbook: str
    title: str
    service: str
    environment: str
    release: dict[str, Any]
    digest: str
    mode: str
    rehearsal: dict[str, Any] = Field(
        default_factory=dict,
        description="A rehearsal's time scale and anchor, stubs file (path, sha256) or recording, and its report.",
    )
    rehearsal_note: str = Field(default="", description="One line on how a rehearsal met time and the outside world.")
    status: str
    status_label: str
    verdict: str
    reason: str
    created_at: str | None
    finished_at: str | None
    anchor: str | None
    roles: dict[str, RoleOut]
    phases: list[PhaseOut]
    rollback: dict[str, Any] | None
    rollback_steps: list[StepOut]
    follow_ups: list[FollowUpOut]
    scheduled: dict[str, str]
    start_gate: dict[str, Any] | None = Field(
        default=None,
        description="A live run's start gate: outcome (open|refused), blocks (gate, kind, what, why, until, "
        "until_text, waivable_by, waived), next_allowed.",
    )
    gate_waived: list[dict[str, Any]] = Field(default_factory=list, description="Blocks waived at the start, by whom.")
    overrun: dict[str, Any] | None = Field(
        default=None,
        description="A window closed before the cutover was done: scope, not_after, roles asked, deadline, default.",
    )
    freezes_started: list[dict[str, Any]] = Field(
        default_factory=list, description="Freezes that began during the run."
    )
    rechecks: list[dict[str, Any]]
    decision: dict[str, Any] | None
    waivers: list[dict[str, Any]]
    refusals: list[dict[str, Any]]
    engine: dict[str, Any] = Field(
        description="Who drives the run (owner, lease epoch, since), the last engine failure (stopped) and "
        "explicit takeovers."
    )
    pending: list[StepOut]
    triggers: list[dict[str, Any]]
    fired: list[dict[str, Any]]
    judgements: list[JudgementOut] = Field(description="Each judged step, canary against baseline per metric.")
    coverage: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each finished observe window's watched fraction: step, title, fraction, min_coverage, ok, "
        "least (the least-watched trigger), extended (seconds), triggers (per trigger: fraction, gaps, ...), text.",
    )
    armed_coverage: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The armed triggers' coverage of their armed spans, per segment (cutover, hypercare): "
        "segment, ok, least, triggers (per trigger: from, until, fraction, min_coverage, gaps, ...), text.",
    )
    comms: list[dict[str, Any]]
    signoffs: dict[str, dict[str, Any]]
    signoff_fields: list[dict[str, Any]] = Field(
        description="Each sign-off field: id, title, type, value (None when blank), source (person or run), by, at."
    )
    hypercare: list[dict[str, Any]]
    reports: dict[str, dict[str, Any]]
    evidence_checklist: list[dict[str, Any]]
    completion: dict[str, Any]
    head_hash: str
    events: int
    timeline: list[dict[str, Any]] = Field(
        description="The scribe's timeline: planned and actual T-time, what, result, at (UTC), actor, kind."
    )
