"""What a comms template can see: plain data about the run, the phase or step, and the moment.

Every variable in :data:`VARIABLES` is always defined (``None``, ``0`` or empty when it does not apply),
so a template can test ``{% if reason %}`` and a misspelt name is still an error. The engine builds the
run-wide part once (:func:`for_run`) and adds the part of each event (:func:`for_phase`, :func:`for_step`,
``reason=``, ``actor=``, counts from :func:`counts`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from golive.clock import utc_iso
from golive.spec import models
from golive.spec.durations import format_duration, format_ttime

__all__ = [
    "VARIABLES",
    "blank",
    "counts",
    "elapsed_text",
    "for_phase",
    "for_run",
    "for_step",
    "is_canary",
    "normalize",
    "verdict",
]

# name -> what it holds. The docs (docs/comms.md) list the same table.
VARIABLES: Mapping[str, str] = {
    "event": "the event name, e.g. phase_passed",
    "run_id": "the run's id",
    "mode": "live, rehearsal or dry-run",
    "runbook": "the runbook's name",
    "runbook_title": "the runbook's title (its name when it has none)",
    "service": "the runbook's service",
    "environment": "the runbook's environment",
    "owner": "the runbook's owner",
    "release_tag": "release.tag",
    "release_sha": "release.sha",
    "now": "the time of the message, ISO 8601 UTC",
    "t_minus": "the time relative to T-0 as scribes write it (T-15m, T+1h30m); none without a T-0",
    "phase_id": "the phase's id",
    "phase_title": "the phase's title (its id when it has none)",
    "phase_at": "the phase's planned T-time",
    "step_id": "the step's id",
    "step_title": "the step's title (its id when it has none)",
    "outcome": "pass, warn, fail, error, skipped, waived, not-run or not-taken",
    "verdict": "the outcome in capitals: PASS, FAIL, ...",
    "reason": "why: the failing step's summary, the trigger that fired, the person's words",
    "actor": "who acted (the decider, the person who started the rollback)",
    "decision": "GO or NO-GO",
    "after_go": "rollback_triggered/rollback_complete: true when the rollback came after GO, during hypercare",
    "status": "the run's status (running, waiting, rolling_back, passed, ...)",
    "steps_total": "steps in the run's phases",
    "steps_passed": "steps passed, warned or waived",
    "steps_failed": "steps failed or in error",
    "steps_pending": "steps not finished",
    "current_phase": "the title of the phase running now",
    "next_checkpoint": "the next checkpoint, e.g. 'Canary at T-0'",
    "update_every": "the interval of the first cadence tier, e.g. 15m",
    "tier": "status updates: the cadence tier's name",
    "slot": "status updates: the update's number in its tier (1, 2, ...)",
    "elapsed": "status updates and reports: time since the tier's anchor (run start or GO), e.g. 45m",
    "since": "status updates: the tier's anchor, 'start' or 'GO'",
    "report_id": "hypercare reports: the report's id",
    "report_title": "hypercare reports: the report's title",
    "summary": "hypercare reports: the summary text",
    "run": "a mapping: id, mode, name, service, environment, started_at, status, reason",
    "release": "a mapping: tag, sha",
    "vars": "the run's variables",
    "steps": "a mapping of step id -> {outcome, summary, output, inputs}, when the engine provides it",
    "roles": "a mapping of role -> the person holding it",
    "role": "the role a waiting step needs",
    "statement": "the decision statement",
    "deadline": "when a pending decision or pause defaults, ISO 8601 UTC",
    "default": "what happens at the deadline (no-go, rollback, hold, continue)",
    "blockers": "steps or phases that keep GO from being recorded",
    "quorum": "a decision with a quorum: where it stands, e.g. '1 of 2 approvals (alice); awaited: carol (cab)'",
    "approved": "a decision with a quorum: the people whose approvals count, in order",
    "awaited": "a decision with a quorum: the eligible role holders still to approve, e.g. 'carol (cab)'",
    "links": "decision_pending, manual_waiting: approval links, a list of {person, url} (with a server secret)",
    "waivers": "phase_waived/canary_waived: each waived step, who waived it and the ticket",
    "next_phase": "run_stopped: the phase to continue from (golive resume RUN --from PHASE)",
    "trigger": "a mapping: id, title, reason of the trigger that fired",
    "scope": "window_overrun: whose window closed ('the run's window' or 'phase X's window')",
    "not_after": "window_overrun: when that window closed (wall time and how long ago)",
    "freeze": "freeze_started: a mapping: id, title of the freeze that began",
    "until": "freeze_started: when the freeze ends (wall time and how far away)",
}

_ZERO = ("steps_total", "steps_passed", "steps_failed", "steps_pending")
_MAPPINGS = ("run", "release", "vars", "steps", "roles", "trigger", "freeze")
_CANARY = re.compile(r"(?<![a-z0-9])canary(?![a-z0-9])", re.IGNORECASE)
_PASSING = frozenset({"pass", "warn", "waived"})
_FAILING = frozenset({"fail", "error"})


def normalize(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten the nested shapes callers also use into the flat variables: ``phase={id, title, outcome}``,
    ``step={id, title, outcome, summary, role}``, ``decision={decision, by, reason, statement}``,
    ``counts={passed, failed}``, ``runbook={name, title, ...}``, ``by=``; outcomes in lower case and the
    verdict in capitals. A flat variable given explicitly wins over one derived here."""
    out = dict(ctx)
    derived: dict[str, Any] = {}
    phase = ctx.get("phase")
    if isinstance(phase, Mapping):
        derived.update(phase_id=phase.get("id"), phase_title=phase.get("title") or phase.get("id"))
        if phase.get("outcome"):
            derived["outcome"] = phase["outcome"]
    step = ctx.get("step")
    if isinstance(step, Mapping):
        derived.update(step_id=step.get("id"), step_title=step.get("title") or step.get("id"))
        for src, dst in (("outcome", "outcome"), ("summary", "reason"), ("role", "role")):
            if step.get(src):
                derived[dst] = step[src]
    decision = ctx.get("decision")
    if isinstance(decision, Mapping):
        value = str(decision.get("decision") or "")
        derived["decision"] = {"go": "GO", "no-go": "NO-GO", "no_go": "NO-GO"}.get(value.lower(), value.upper() or None)
        for src, dst in (("by", "actor"), ("reason", "reason"), ("statement", "statement")):
            if decision.get(src):
                derived[dst] = decision[src]
    counts_ = ctx.get("counts")
    if isinstance(counts_, Mapping):
        for k in ("total", "passed", "failed", "pending"):
            if k in counts_:
                derived[f"steps_{k}"] = counts_[k]
    runbook = ctx.get("runbook")
    if isinstance(runbook, Mapping):
        derived.update(runbook=runbook.get("name"), runbook_title=runbook.get("title") or runbook.get("name"))
        for k in ("service", "environment", "owner"):
            if runbook.get(k):
                derived[k] = runbook[k]
    if ctx.get("by") and not ctx.get("actor"):
        derived["actor"] = ctx["by"]
    for k, v in derived.items():
        given = ctx.get(k)
        if given is None or isinstance(given, Mapping):  # absent, or the nested form being flattened
            out[k] = v
    if isinstance(out.get("outcome"), str):
        out["outcome"] = out["outcome"].lower()
        out["verdict"] = out["outcome"].upper()
    return out


def blank() -> dict[str, Any]:
    """Every variable, defined and empty."""
    out: dict[str, Any] = dict.fromkeys(VARIABLES)
    out.update(dict.fromkeys(_ZERO, 0))
    out.update({k: {} for k in _MAPPINGS})
    return out


def for_run(
    runbook: models.Runbook,
    *,
    run_id: str = "",
    mode: str = "live",
    started_at: datetime | None = None,
    vars: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The run-wide variables."""
    title = runbook.title or runbook.name
    return {
        "run_id": run_id,
        "mode": mode,
        "runbook": runbook.name,
        "runbook_title": title,
        "service": runbook.service or None,
        "environment": runbook.environment or None,
        "owner": runbook.owner or None,
        "release_tag": runbook.release.tag,
        "release_sha": runbook.release.sha,
        "steps_total": sum(len(p.steps) for p in runbook.phases),
        "steps_pending": sum(len(p.steps) for p in runbook.phases),
        "run": {
            "id": run_id,
            "mode": mode,
            "name": runbook.name,
            "service": runbook.service,
            "environment": runbook.environment,
            "started_at": utc_iso(started_at) if started_at else None,
        },
        "release": {"tag": runbook.release.tag, "sha": runbook.release.sha},
        "vars": dict(vars if vars is not None else runbook.var_defaults()),
    }


def for_phase(phase: models.Phase, outcome: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "phase_id": phase.id,
        "phase_title": phase.title or phase.id,
        "phase_at": format_ttime(phase.at) if phase.at is not None else None,
    }
    if outcome is not None:
        out.update(outcome=outcome, verdict=verdict(outcome))
    return out


def for_step(step: models.Step, outcome: str | None = None, phase: models.Phase | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"step_id": step.id, "step_title": step.title or step.id}
    if phase is not None:
        out.update(for_phase(phase))
    if outcome is not None:
        out.update(outcome=outcome, verdict=verdict(outcome))
    return out


def verdict(outcome: str | None) -> str | None:
    """``pass`` -> ``PASS``; the scribe's way of writing an outcome."""
    return outcome.upper() if outcome else None


def counts(outcomes: Iterable[str | None]) -> dict[str, int]:
    """Step counts from each step's outcome (None while it has none)."""
    total = passed = failed = pending = 0
    for o in outcomes:
        total += 1
        if o is None:
            pending += 1
        elif o in _PASSING:
            passed += 1
        elif o in _FAILING:
            failed += 1
        # skipped: finished, neither passed nor failed
    return {"steps_total": total, "steps_passed": passed, "steps_failed": failed, "steps_pending": pending}


def is_canary(item: models.Phase | models.Step) -> bool:
    """True for a phase or step that is the canary: an explicit ``canary: true`` when the model has the
    field, else the word 'canary' in its id or title ("canary", "Canary Money Loop", "canary-loop")."""
    flag = getattr(item, "canary", None)
    if isinstance(flag, bool):
        return flag
    return bool(_CANARY.search(item.id) or _CANARY.search(item.title or ""))


def elapsed_text(seconds: float) -> str:
    """45m, 1h30m: how long since an anchor."""
    return format_duration(max(0.0, seconds))
