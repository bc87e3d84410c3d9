"""A run as plain data: what ``golive status --json``, the API, the dashboard and the reports show."""

from __future__ import annotations

from typing import Any, cast

from golive.engine import acts
from golive.engine import handle as handle_mod
from golive.engine import quorum as quorum_mod
from golive.engine.state import RunStatus, is_pause, parse_ts
from golive.results import Outcome
from golive.spec import durations, models
from golive.views.model import (
    ArmedCoverageView,
    ChecklistItem,
    CommsView,
    CompletionCriterion,
    CompletionView,
    CoverageView,
    DecisionView,
    FiredView,
    FollowUpView,
    HypercareCheckView,
    HypercareReportView,
    JudgementView,
    PhaseView,
    QuorumView,
    RefusalView,
    RollbackView,
    SignoffFieldView,
    SignoffView,
    StepView,
    Summary,
    TimelineLine,
    TriggerView,
    WaitView,
    WaiverView,
)

__all__ = [
    "checklist",
    "completion",
    "drift",
    "follow_ups",
    "planned_time",
    "signoff_fields",
    "summarize",
    "timeline",
    "tminus",
]


def tminus(h: acts.RunHandle, ts: str | None) -> str | None:
    """The scribe's T-time of a wall time, relative to the run's T-0."""
    anchor = parse_ts(h.state.anchor)
    at = parse_ts(ts)
    if anchor is None or at is None:
        return None
    return durations.format_ttime(round((at - anchor).total_seconds() / 60) * 60)


def planned_time(h: acts.RunHandle, at: float | None) -> str | None:
    """The planned wall time of a T-time: ``t0`` plus ``at`` (None without a ``t0`` or an ``at``)."""
    t0 = h.runbook.t0
    if t0 is None or at is None:
        return None
    from datetime import timedelta

    from golive import clock as clock_mod

    return clock_mod.utc_iso(t0 + timedelta(seconds=at))


def drift(h: acts.RunHandle, at: float | None, started: str | None) -> str | None:
    """How far the actual start was from the planned T-time, e.g. '+4m', '-1m', '0m' (None if either is unknown)."""
    anchor, ts = parse_ts(h.state.anchor), parse_ts(started)
    if at is None or anchor is None or ts is None:
        return None
    minutes = round(((ts - anchor).total_seconds() - at) / 60)
    return f"{minutes:+d}m" if minutes else "0m"


def _step_dict(h: acts.RunHandle, section: str, step: models.Step) -> StepView:
    s = h.state.step(step.id)
    return {
        "id": step.id,
        "title": step.title or step.id,
        "section": section,
        "kind": step.kind.value,
        "role": step.role,
        "holder": h.state.roles.get(step.role or "") if step.role else None,
        "planned_at": durations.format_ttime(step.at) if step.at is not None else None,
        "planned_time": planned_time(h, step.at),
        "drift": drift(h, step.at, s.started_at),
        "status": s.status,
        "outcome": s.outcome.value if s.outcome else None,
        "summary": s.summary,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "t": tminus(h, s.started_at),
        "duration": s.duration,
        "expected": step.expected,
        "attempts": s.attempts,
        "actor": s.actor,
        "auth": s.auth,
        "auth_subject": s.auth_subject,
        "waiting_for": s.waiting_for,
        "deadline": s.deadline,
        "default": s.default,
        "blocking": step.blocking,
        "waiver": s.waiver,
        "evidence": s.evidence,
        "inputs": s.inputs,
        "output": s.output,
        "decision": s.decision,
        "statement": s.statement,
        "watch_ends_at": _watch_ends_at(s, step),
        "resolvers": [f"{r}={h.state.roles.get(r) or '<unassigned>'}" for r in acts.resolver_roles(h, step)]
        if s.status == "unknown"
        else [],
        "approvals": s.approvals,
        "quorum": quorum_state(h, step, "go"),
        "waiver_quorum": quorum_state(h, step, "waive") if s.approvals or s.status == "waiting" else None,
    }


def quorum_state(h: acts.RunHandle, step: models.Step, act: str) -> QuorumView | None:
    """Where the quorum of an act on a step stands (who approved, who is awaited), or None without one."""
    q = quorum_mod.quorum_of(h.runbook, step, act)
    if q is None:
        return None
    t = quorum_mod.tally(h.state, q, h.state.step(step.id).approvals, act)
    return cast("QuorumView", {**t.as_dict(), "text": quorum_mod.describe(t)})


def _watch_ends_at(s: Any, step: models.Step) -> str | None:
    """When a running observe window that was never paused ends (its start plus its duration), or None."""
    from datetime import timedelta

    from golive.clock import utc_iso

    if step.kind is not models.StepKind.OBSERVE or s.status != "running" or step.duration is None:
        return None
    if s.remaining is not None:  # paused once: the rest of the window restarted at the IC's answer
        return None
    began = parse_ts(s.started_at)
    return utc_iso(began + timedelta(seconds=step.duration)) if began is not None else None


def wait(h: acts.RunHandle, step: models.Step) -> WaitView:
    """The one description of what a waiting step waits for, shared by ``golive status``, the API and the
    dashboard: ``kind`` (decision, pause, manual, resolve), the ``roles`` that must act with their
    ``holders``, the ``acts`` they can do, the ``deadline`` and ``default``, and a sentence (``text``).

    A pause (a trigger stopped an observe window) is a decision for the roles that decide -- never for
    whoever watches the window; an action left unknown by a crash is a resolve for its resolvers; a manual
    step is a confirm for its role."""
    s = h.state.step(step.id)
    rb = h.runbook
    if s.status == "unknown" or s.waiting_for == "resolve":
        kind, roles, can = "resolve", acts.resolver_roles(h, step), ["done", "not-done"]
    elif s.waiting_for == "pause":
        kind, roles, can = "pause", sorted(rb.roles_with("decide")) or [acts.decider_role(h, step)], ["go", "no-go"]
    elif s.waiting_for == "decision":
        kind, roles, can = "decision", [step.role or acts.decider_role(h, step)], ["go", "no-go"]
        if step.quorum is not None:
            roles = [*dict.fromkeys([*step.quorum.of, *roles])]
    else:
        kind, roles, can = "manual", [r for r in [step.role] if r], ["confirm", "fail"]
    holders = {r: h.state.roles.get(r) for r in roles}
    who = " or ".join(f"{r} ({holders[r] or 'unassigned'})" for r in roles) or "someone"
    title = step.title or step.id
    if kind == "pause":
        text = f"{title} is paused by a trigger: {who} decides GO (watch on) or NO-GO (roll back)"
    elif kind == "decision" and step.quorum is not None:
        veto = step.role or acts.decider_role(h, step)
        q = quorum_state(h, step, "go")
        text = f"{title}: GO needs {q['text'] if q else None}; {veto} ({holders.get(veto) or 'unassigned'}) may say NO-GO at once"
    elif kind == "decision":
        text = f"{title}: {who} decides GO or NO-GO"
    elif kind == "resolve":
        text = f"{title}: did the action take effect? {who} resolves it (golive resolve {h.run_id} {step.id})"
    else:
        text = f"{title}: {who} confirms it (golive confirm {h.run_id} {step.id})"
    if s.deadline and kind in ("pause", "decision"):
        text += f" by {s.deadline}, else {(s.default or step.default or 'no-go').upper()}"
    return {
        "kind": kind,
        "roles": roles,
        "holders": holders,
        "acts": can,
        "deadline": s.deadline,
        "default": s.default,
        "text": text,
        "quorum": quorum_state(h, step, "go") if kind == "decision" else None,
    }


def _centre(side: Any) -> float | None:
    if not isinstance(side, dict):
        return None
    for key in ("median", "rate", "per_sample"):
        if side.get(key) is not None:
            return float(side[key])
    return None


def coverage(h: acts.RunHandle) -> list[CoverageView]:
    """Each observe window's watched fraction (from its result's ``details.coverage``): the least-watched
    trigger's fraction, the min_coverage it needed, whether it was met, any extension, and per trigger."""
    out: list[CoverageView] = []
    for _, step in h.runbook.all_steps():
        s = h.state.steps.get(step.id)
        cov = (s.details or {}).get("coverage") if s is not None else None
        if step.kind is not models.StepKind.OBSERVE or not isinstance(cov, dict):
            continue
        out.append(
            {
                "step": step.id,
                "title": step.title or step.id,
                "fraction": cov.get("fraction"),
                "min_coverage": cov.get("min_coverage"),
                "ok": cov.get("ok"),
                "least": cov.get("least"),
                "extended": cov.get("extended") or 0.0,
                "triggers": cov.get("triggers") or {},
                "text": coverage_text(cov),
            }
        )
    return out


def armed_coverage(h: acts.RunHandle) -> list[ArmedCoverageView]:
    """The armed triggers' coverage of their spans, per segment (cutover, hypercare): each trigger's watched
    fraction against its min_coverage, the gaps nobody watched, and a line of text."""
    out: list[ArmedCoverageView] = []
    for segment, data in h.state.armed_coverage.items():
        per = data.get("triggers") or {}
        least = min(per, key=lambda t: per[t].get("fraction") or 0.0) if per else None
        text = ", ".join(
            f"{tid} {float(c.get('fraction') or 0.0) * 100:.0f}%"
            + ("" if c.get("ok") else f" (min {float(c.get('min_coverage') or 0.0) * 100:.0f}%: NOT MET)")
            for tid, c in per.items()
        )
        out.append({"segment": segment, "ok": bool(data.get("ok")), "least": least, "triggers": per, "text": text})
    return out


def coverage_text(cov: dict[str, Any]) -> str:
    """``95% watched (min 90%)``, with the extension and the least-watched trigger when it matters."""
    frac, need = float(cov.get("fraction") or 0.0), float(cov.get("min_coverage") or 0.0)
    text = f"{frac * 100:.0f}% watched (min {need * 100:.0f}%)"
    if cov.get("extended"):
        text += f", extended by {float(cov['extended']):.0f}s"
    if not cov.get("ok"):
        text += f": NOT MET ({cov.get('least')} least watched)"
    return text


def judgements(h: acts.RunHandle) -> list[JudgementView]:
    """Each judged step's verdict and, per metric, canary against baseline (the full samples, statistics
    and p-values stay in the step's ``details.judge``)."""
    out: list[JudgementView] = []
    for _, step in h.runbook.all_steps():
        s = h.state.steps.get(step.id)
        judged = (s.details or {}).get("judge") if s is not None else None
        if not isinstance(judged, dict):
            continue
        out.append(
            {
                "step": step.id,
                "title": step.title or step.id,
                "verdict": judged.get("verdict"),
                "score": judged.get("score"),
                "reason": judged.get("reason"),
                "outcome": s.outcome.value if s is not None and s.outcome else None,
                "metrics": [
                    {
                        "id": m.get("id"),
                        "kind": m.get("kind"),
                        "status": m.get("status"),
                        "test": m.get("test"),
                        "canary": _centre(m.get("canary")),
                        "baseline": _centre(m.get("baseline")),
                        "n_canary": m.get("n_canary"),
                        "n_baseline": m.get("n_baseline"),
                        "effect": m.get("effect"),
                        "p_adjusted": m.get("p_adjusted"),
                        "critical": m.get("critical"),
                        "weight": m.get("weight"),
                        "reason": m.get("reason"),
                    }
                    for m in judged.get("metrics") or []
                    if isinstance(m, dict)
                ],
            }
        )
    return out


def checklist(h: acts.RunHandle) -> list[ChecklistItem]:
    """Each evidence checklist item and whether its steps' evidence is there."""
    out: list[ChecklistItem] = []
    rolled = h.state.rollback is not None
    for item in h.runbook.evidence:
        if item.when == "rollback" and not rolled:
            out.append({"id": item.id, "title": item.title, "status": "not-applicable", "steps": list(item.steps)})
            continue
        have = []
        missing = []
        for sid in item.steps:
            s = h.state.step(sid)
            spec = h.runbook.step(sid)
            if spec is not None and spec.kind is models.StepKind.DECISION:
                # An approval record is the decision a person recorded, GO or NO-GO: a NO-GO is recorded too.
                if s.decision is not None or (s.status == "done" and s.actor not in (None, "", "golive", "deadline")):
                    have.append(sid)
                else:
                    missing.append(sid)
                continue
            # A step that declares evidence (a screenshot, a log) proves the item only with a file handed in;
            # a confirmation alone is not that evidence.
            has = (
                bool(s.evidence)
                if spec is not None and spec.evidence
                else bool(s.evidence or s.output is not None or s.inputs)
            )
            if s.outcome in (Outcome.PASS, Outcome.WARN) and has:
                have.append(sid)
            else:
                missing.append(sid)
        out.append(
            {
                "id": item.id,
                "title": item.title,
                "status": "missing" if missing else "complete",
                "steps": list(item.steps),
                "missing_steps": missing,
            }
        )
    return out


def completion(h: acts.RunHandle) -> CompletionView:
    """Whether the runbook's completion criteria hold, criterion by criterion."""
    st = h.state
    items: list[CompletionCriterion] = []
    for c in h.runbook.completion:
        why: list[str] = []
        for sid in c.steps:
            o = st.outcome_of(sid)
            if o not in ("pass", "warn"):
                why.append(f"{sid} is {(o or 'pending').upper()}")
        for area in c.signoffs:
            if area not in st.signoffs:
                why.append(f"sign-off {area} pending")
        for rid in c.reports:
            if rid not in st.reports:
                why.append(f"report {rid} not written")
            elif str(st.reports[rid].get("status", "")).lower() in ("fail", "error"):
                why.append(f"report {rid} is {str(st.reports[rid].get('status')).upper()}")
        if c.no_triggers and any(f.get("then") == "rollback" for f in st.fired):
            why.append("a rollback trigger fired")
        if c.evidence_complete and any(i["status"] == "missing" for i in checklist(h)):
            why.append("evidence checklist incomplete")
        items.append({"id": c.id, "title": c.title, "met": not why, "why": why})
    complete = bool(items) and all(i["met"] for i in items) and st.status is RunStatus.PASSED
    return {"complete": complete, "criteria": items}


def signoff_fields(h: acts.RunHandle) -> list[SignoffFieldView]:
    """Each sign-off field with its value: what a person entered (``source: person``), else its ``value``
    template rendered from the run (``source: run``), else blank (``value: None``)."""
    from golive.spec import refs

    out: list[SignoffFieldView] = []
    red = h.redactor()
    for f in h.runbook.signoff.fields:
        entered = h.state.signoff_fields.get(f.id)
        item: SignoffFieldView = {"id": f.id, "title": f.title, "type": f.type, "value": None, "source": None}
        if entered is not None:
            item.update({"value": entered["value"], "source": "person", "by": entered["by"], "at": entered["at"]})
        elif f.value is not None:
            try:
                rendered = refs.render(f.value, lambda ref: handle_mod.resolve_ref(h, ref))
            except (refs.RefError, LookupError, TypeError, ValueError):
                rendered = None
            except Exception:  # a reference the run cannot answer (a secret) leaves the blank empty
                rendered = None
            if rendered not in (None, "", "pending"):
                item.update({"value": red.redact(str(rendered)), "source": "run"})
        out.append(item)
    return out


def _started(h: acts.RunHandle, ident: str) -> bool:
    """A phase or step that waited for its planned T-time has started since."""
    if ident in h.state.phases:
        return h.state.phases[ident] != "pending"
    return h.state.step(ident).status != "pending"


def follow_ups(h: acts.RunHandle) -> list[FollowUpView]:
    """The rollback's follow-up duties: ``due`` once a rollback ran, ``confirmed`` (by whom, when), or
    ``not-due`` (no rollback)."""
    st = h.state
    out: list[FollowUpView] = []
    for f in h.runbook.rollback.follow_ups():
        done = st.follow_ups.get(f.id)
        status = "confirmed" if done else ("due" if st.rollback is not None else "not-due")
        out.append(
            {
                "id": f.id,
                "title": f.title,
                "role": f.role,
                "status": status,
                "by": (done or {}).get("by"),
                "at": (done or {}).get("at"),
                "note": (done or {}).get("note"),
            }
        )
    return out


def verdict(h: acts.RunHandle) -> str:
    st = h.state
    if st.status is RunStatus.ROLLING_BACK:  # started, not finished: never "ROLLED BACK" before it is
        return "ROLLING BACK"
    if st.status is RunStatus.ROLLED_BACK_AFTER_GO:
        return "ROLLED BACK AFTER GO"
    if st.status is RunStatus.ROLLED_BACK or st.rollback is not None:
        return "ROLLED BACK"
    # The go-live's GO (go_at), not the answer to a pause: a pause's GO only lets an observe window go on.
    if st.go_at is not None:
        return "GO"
    if st.status is RunStatus.STOPPED:
        return "STOPPED"
    if st.status is RunStatus.NO_GO or (st.decision and st.decision.get("decision") in ("no-go", "rollback")):
        return "NO-GO"
    return st.status.label


def summarize(h: acts.RunHandle) -> Summary:
    st = h.state
    rb = h.runbook
    phases: list[PhaseView] = []
    for p in rb.phases:
        start, end = st.phase_times.get(p.id, (None, None))
        phases.append(
            {
                "id": p.id,
                "title": p.title or p.id,
                "planned_at": durations.format_ttime(p.at) if p.at is not None else None,
                "planned_time": planned_time(h, p.at),
                "drift": drift(h, p.at, start),
                "outcome": st.phases.get(p.id, "pending"),
                "started_at": start,
                "finished_at": end,
                "t": tminus(h, start),
                "steps": [_step_dict(h, p.id, s) for s in p.steps],
            }
        )
    rollback_steps = [_step_dict(h, sec, s) for sec, s in rb.all_steps() if sec.startswith("rollback")]
    if "restore_safe_flags" in st.steps and st.steps["restore_safe_flags"].status != "pending":
        s = st.steps["restore_safe_flags"]
        rollback_steps.insert(
            0,
            {
                "id": s.id,
                "title": "Restore safe flag values",
                "section": "rollback",
                "kind": "action",
                "outcome": s.outcome.value if s.outcome else None,
                "summary": s.summary,
                "status": s.status,
                "started_at": s.started_at,
                "finished_at": s.finished_at,
                "duration": s.duration,
                "evidence": s.evidence,
                "t": tminus(h, s.started_at),
            },
        )
    comp = completion(h)
    # The fold (engine/state.py) keeps the decision, the rollback, waivers, refusals, fires, messages,
    # sign-offs and hypercare as dicts of the keys its events carry; the view names those keys (model.py).
    out: Summary = {
        "run_id": h.run_id,
        "runbook": rb.name,
        "title": rb.title or rb.name,
        "service": rb.service,
        "environment": rb.environment,
        "release": rb.release.model_dump(mode="json", exclude_none=True),
        "digest": h.record.runbook_digest,
        "mode": st.mode,
        "rehearsal": st.rehearsal,
        "rehearsal_note": rehearsal_note(st.rehearsal, st.created_at, st.finished_at),
        "status": st.status.value,
        "status_label": "COMPLETE" if comp["complete"] else st.status.label,
        "verdict": verdict(h),
        "reason": st.reason,
        "created_at": st.created_at,
        "finished_at": st.finished_at,
        "anchor": st.anchor,
        "roles": {
            r: {"holder": st.roles.get(r), "title": role.title or r, "description": role.description}
            for r, role in rb.roles.items()
        },
        "phases": phases,
        "rollback": cast("RollbackView | None", st.rollback),
        "rollback_steps": rollback_steps,
        "follow_ups": follow_ups(h),
        "scheduled": {k: v for k, v in st.scheduled.items() if not _started(h, k)},
        "start_gate": st.gate,
        "gate_waived": st.gate_waived,
        "overrun": st.pending_overrun,
        "freezes_started": st.freezes_started,
        "rechecks": st.rechecks,
        "decision": cast("DecisionView | None", st.decision),
        "waivers": cast("list[WaiverView]", st.waivers),
        "refusals": cast("list[RefusalView]", st.refusals),
        "engine": {
            "owner": (st.engine or {}).get("owner"),
            "epoch": (st.engine or {}).get("epoch"),
            "since": (st.engine or {}).get("since"),
            "stopped": st.engine_stopped,
            "takeovers": st.takeovers,
        },
        "pending": [
            {**_step_dict(h, s.section, step), "wait": wait(h, step)}
            for s in st.waiting
            if (step := rb.step(s.id)) is not None
        ],
        "triggers": [
            cast(
                "TriggerView",
                {
                    "id": t.id,
                    "title": t.title or t.id,
                    "when": t.when,
                    "then": t.then,
                    "severity": t.severity,
                    **{k: v for k, v in st.triggers.get(t.id, {}).items()},
                },
            )
            for t in rb.triggers
        ],
        "fired": cast("list[FiredView]", st.fired),
        "judgements": judgements(h),
        "coverage": coverage(h),
        "armed_coverage": armed_coverage(h),
        "comms": cast("list[CommsView]", st.comms),
        "signoffs": {
            a.id: cast("SignoffView", st.signoffs.get(a.id, {"status": "pending"}) | {"title": a.title or a.id})
            for a in rb.signoff.areas
        },
        "signoff_fields": signoff_fields(h),
        "hypercare": cast("list[HypercareCheckView]", st.hypercare),
        "reports": cast("dict[str, HypercareReportView]", st.reports),
        "evidence_checklist": checklist(h),
        "completion": comp,
        "head_hash": st.head_hash,
        "events": st.last_seq,
        "timeline": [],  # filled in below, from the summary itself
    }
    if rb.settings.redact_ips:
        # Titles, conditions and names come from the runbook as written; with redact_ips their addresses
        # are masked here as in every event (what the run recorded is redacted already), so no report,
        # status or export shows them.
        out = acts.redact_strings(handle_mod.make_redactor(rb), out)
    out["timeline"] = timeline(h, out)
    return out


def _planned_go(rb: models.Runbook) -> float | None:
    """The planned T-time (seconds from T-0) of the GO: the first decision step's ``at``, else its phase's."""
    for p in rb.phases:
        for st in p.steps:
            if st.kind is models.StepKind.DECISION:
                return st.at if st.at is not None else p.at
    return None


def _ttime(seconds: float | None) -> str | None:
    return durations.format_ttime(seconds) if seconds is not None else None


def _inputs_text(inputs: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (inputs or {}).items() if v not in (None, ""))


def timeline(h: acts.RunHandle, summary: Summary | None = None) -> list[TimelineLine]:
    """The scribe's timeline: every phase start and end, every step with its result (automated steps PASS/FAIL,
    manual steps with the inputs recorded, redacted), decisions, trigger fires and clears, waivers, acts
    (role assignments, rollback requests, refusals, sign-offs), the rollback, and hypercare reports and
    failures. Each line has its planned T-time (``planned``: the step's or phase's ``at``; a hypercare report's
    is the planned GO plus its ``at``), its actual T-time (``t``), result, UTC timestamp and actor. This is
    what `golive timeline` prints, the reports list and the evidence pack keeps."""
    summary = summary if summary is not None else summarize(h)
    st = h.state
    rb = h.runbook
    lines: list[TimelineLine] = []

    def add(what: str, result: str, at: str | None, actor: str | None, kind: str, planned: float | None = None) -> None:
        if at:
            lines.append(
                {
                    "planned": _ttime(planned),
                    "t": None,
                    "what": what,
                    "result": result,
                    "at": at,
                    "actor": actor or "",
                    "kind": kind,
                }
            )

    def step_line(s: StepView, planned: float | None) -> None:
        if not s["finished_at"] or s["status"] != "done":
            return
        if s["kind"] == "decision":
            result = str(s.get("decision") or s["outcome"] or "").upper().replace("_", "-")
            add(s["title"], result, s["finished_at"], s.get("actor"), "decision", planned)
            statement = s.get("statement")
            if statement:
                lines[-1]["detail"] = statement
            return
        what = s["title"]
        recorded = _inputs_text(s.get("inputs"))
        if recorded:
            what = f"{what}: {recorded}"
        elif s["kind"] != "manual" and s["summary"]:
            what = f"{what}: {s['summary']}"
        actor = s.get("actor") if s["kind"] == "manual" else (s.get("actor") or "golive")
        add(what, str(s["outcome"] or "").upper(), s["finished_at"], actor, s["kind"], planned)

    for ph, spec in zip(summary["phases"], rb.phases, strict=False):
        add(f"{ph['title']} start", "", ph["started_at"], "golive", "phase", spec.at)
        for s, sspec in zip(ph["steps"], spec.steps, strict=False):
            step_line(s, sspec.at if sspec.at is not None else spec.at)
        add(f"{ph['title']} end", str(ph["outcome"]).upper(), ph["finished_at"], "golive", "phase", spec.at)
    for s in summary["rollback_steps"] or []:
        step_line(s, None)
    for f in st.fired:
        trig = rb.trigger(str(f.get("trigger") or ""))
        title = trig.title if trig and trig.title else f.get("trigger")
        add(f"Trigger {title} fired ({f.get('then')}): {f.get('reason')}", "FIRED", f.get("at"), f.get("by"), "trigger")
    for c in st.cleared:
        trig = rb.trigger(str(c.get("trigger") or ""))
        title = trig.title if trig and trig.title else c.get("trigger")
        add(f"Trigger {title} cleared", "CLEARED", c.get("at"), "golive", "trigger")
    rbk = summary["rollback"]
    if rbk:
        add(f"Rollback start: {rbk['reason']}", "", rbk["started_at"], rbk["by"], "rollback")
        add("Rollback end", str(rbk["outcome"] or "").upper(), rbk["finished_at"], "golive", "rollback")
    for req in st.rollback_requests:
        add(f"Rollback requested: {req.get('reason')}", "REQUESTED", req.get("at"), req.get("by"), "act")
    for a in st.assignments:
        who = a.get("person") or "nobody"
        add(f"Role {a.get('role')} assigned to {who}", "ASSIGNED", a.get("at"), a.get("by"), "act")
    for r in st.refusals:
        add(f"Refused {r.get('act')}: {r.get('why')}", "REFUSED", r.get("at"), r.get("by"), "act")
    for area, v in (summary["signoffs"] or {}).items():
        if v.get("at"):
            add(f"Sign-off {area}: {v.get('statement') or ''}".rstrip(": "), "SIGNED", v["at"], v.get("by"), "signoff")
    for sid, ss in st.steps.items():  # each approval of a quorum (GO or a waiver), attributed
        for a in ss.approvals:
            what = "GO" if a.get("act") == "go" else f"waiver ({a.get('ticket')})"
            add(f"Approval of {what} on {sid}: {a.get('reason') or ''}".rstrip(": "), "APPROVED", a.get("at"),
                a.get("by"), "approval")  # fmt: skip
    for w in st.waivers:  # the scribe notes every waiver: what, ticket and reason, who
        add(f"Waiver {w['step']} ({w['ticket']}): {w['reason']}", "WAIVED", w["at"], w["by"], "waiver")
    for fu in summary["follow_ups"] or []:
        if fu["at"]:
            add(f"Follow-up {fu['title']}", "CONFIRMED", fu["at"], fu["by"], "follow_up")
    # The start gate, the windows and the freezes (engine/gate.py, engine/windows.py).
    if st.gate is not None:
        blocks = [b for b in st.gate.get("blocks") or [] if not b.get("waived")]
        what = "; ".join(f"{b['what']}: {b['why']}, {b['until_text']}" for b in blocks) or "nothing blocks"
        add(f"Start gate: {what}", "REFUSED" if blocks else "OPEN", st.gate.get("at"), "golive", "gate")
    for g in st.gate_waived:
        add(f"Start gate waiver {g.get('what')} ({g.get('ticket')}): {g.get('reason')}", "WAIVED", g.get("at"),
            g.get("by"), "waiver")  # fmt: skip
    for o in st.overruns:
        what, kind = ("Trigger pause", "trigger") if is_pause(o) else ("Window overrun", "window")
        add(f"{what}: {o.get('reason')}; asked {', '.join(o.get('roles') or [])}, default {o.get('default')}",
            "ASKED", o.get("at"), "golive", kind)  # fmt: skip
        dec = o.get("decision")
        if dec:
            who = "deadline" if dec.get("default") else dec.get("by")
            add(f"{what} answered: {dec.get('reason')}", str(dec.get("decision")).upper(), dec.get("at"),
                who, kind)  # fmt: skip
    for fz in st.freezes_started:
        add(f"Freeze {fz.get('title')} began (the run goes on)", "FREEZE", fz.get("at"), "golive", "freeze")
    planned_go = _planned_go(rb)
    reports = {r.id: r for r in rb.hypercare.reports}
    for rid, rep in st.reports.items():
        spec_r = reports.get(rid)
        planned = planned_go + spec_r.at if spec_r is not None and planned_go is not None else None
        title = spec_r.title if spec_r is not None else rep.get("title") or rid
        add(
            f"Hypercare report: {title}",
            str(rep.get("status") or "").upper(),
            rep.get("at"),
            "hypercare",
            "report",
            planned,
        )
    for c in st.hypercare:
        if c.get("manual") or str(c.get("outcome")) not in ("pass", "warn"):
            check = rb.step(str(c.get("check_id") or ""))
            title = check.title if check and check.title else c.get("check_id")
            detail = _inputs_text(c.get("inputs")) or c.get("summary") or ""
            what = f"Hypercare {title}: {detail}" if detail else f"Hypercare {title}"
            add(what, str(c.get("outcome") or "").upper(), c.get("at"), c.get("by") or "hypercare", "hypercare")
    lines.sort(key=lambda x: x["at"] or "")
    for line in lines:
        line["t"] = tminus(h, line["at"])
    return lines


def rehearsal_note(reh: dict[str, Any], started: str | None, finished: str | None) -> str:
    """One line that says how a rehearsal met time and the outside world ("" for an ordinary run)."""
    if not reh:
        return ""
    parts: list[str] = []
    scale = reh.get("time_scale")
    if scale:
        part = f"time-scaled x{scale:g}"
        a, b = parse_ts(started), parse_ts(finished)
        if a is not None and b is not None:
            run_s = (b - a).total_seconds()
            part += (
                f" ({durations.format_duration(run_s)} of run time in "
                f"{durations.format_duration(run_s / float(scale))} real)"
            )
        parts.append(part)
    stubs = reh.get("stubs")
    report = reh.get("report") or {}
    if stubs:
        part = f"against stubs {stubs.get('path')} (sha256 {str(stubs.get('sha256'))[:12]})"
        if report:
            part += f": {report.get('calls', 0)} calls answered"
            if report.get("unstubbed"):
                part += f", UNSTUBBED (failed closed): {', '.join(report['unstubbed'])}"
            if report.get("messages_held"):
                part += f", {report['messages_held']} messages held back from real channels"
        parts.append(part)
    if reh.get("record"):
        part = f"recording to {reh['record']}"
        if report.get("calls") is not None:
            part += f" ({report['calls']} calls recorded)"
        parts.append(part)
    return "; ".join(parts)
