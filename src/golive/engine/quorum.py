"""Quorum approvals: the two-person rule on a decision's GO or on a waiver.

A :class:`golive.spec.models.Quorum` asks for N approvals by distinct people who hold one of its ``of`` roles,
none of its ``not`` roles, did not start the run (``not_starter``) and did not perform a step named in
``not_performers_of`` (nobody approves their own change). Each approval is an ``approval_recorded`` event;
the act that brings the count to N also records the decision (or the waiver) itself.

Who counts is judged again whenever the quorum is read, from the run as it is now: an approver who has since
taken the deployer role, or performed the change, no longer counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from golive.engine import state as state_mod
from golive.spec import models

__all__ = ["Tally", "describe", "ineligible", "quorum_of", "tally"]


def quorum_of(runbook: models.Runbook, step: models.Step, act: str) -> models.Quorum | None:
    """The quorum an act on a step needs: ``go`` a decision's ``quorum``, ``waive`` the step's
    ``waiver_quorum`` (else ``settings.waiver_quorum``); None when one person's act is enough."""
    if act == "go":
        return step.quorum if step.kind is models.StepKind.DECISION else None
    if act == "waive":
        return step.waiver_quorum or runbook.settings.waiver_quorum
    return None


def ineligible(state: state_mod.RunState, q: models.Quorum, person: str) -> str | None:
    """Why ``person`` may not approve under ``q`` now (None when they may)."""
    held = state.roles_of(person)
    barred = sorted(held & set(q.not_))
    if barred:
        return f"{person} holds role {barred[0]!r}, whose holders may not approve (quorum not: {', '.join(q.not_)})"
    if q.not_starter and state.created_by is not None and state.created_by == person:
        return f"{person} started the run and may not approve their own change (quorum not_starter)"
    for sid in q.not_performers_of:
        st = state.steps.get(sid)
        if st is not None and st.actor == person:
            return f"{person} performed step {sid!r} and may not approve their own change (quorum not_performers_of)"
    if not held & set(q.of):
        holders = "; ".join(f"{r}: {state.roles.get(r) or 'vacant'}" for r in q.of)
        return f"{person} holds none of the roles that approve ({holders})"
    return None


@dataclass(frozen=True)
class Tally:
    """Where a quorum stands: who approved (and counts), who is awaited, who approved but no longer counts."""

    quorum: models.Quorum
    approved: list[dict[str, Any]] = field(default_factory=list)  # {by, at, reason, ...}, one per person
    awaited: list[dict[str, Any]] = field(default_factory=list)  # {role, holder} eligible and not yet approved
    discounted: list[dict[str, Any]] = field(default_factory=list)  # {by, why}: approved, no longer eligible

    @property
    def needed(self) -> int:
        return self.quorum.approvals

    @property
    def met(self) -> bool:
        return len(self.approved) >= self.quorum.approvals

    def as_dict(self) -> dict[str, Any]:
        return {
            "approvals": self.needed,
            "of": list(self.quorum.of),
            "not": list(self.quorum.not_),
            "approved": self.approved,
            "awaited": self.awaited,
            "discounted": self.discounted,
            "count": len(self.approved),
            "met": self.met,
        }


def tally(state: state_mod.RunState, q: models.Quorum, approvals: list[dict[str, Any]], act: str) -> Tally:
    """Count the ``act`` approvals recorded on a step under ``q``, judged against the run as it is now."""
    approved: list[dict[str, Any]] = []
    discounted: list[dict[str, Any]] = []
    seen: set[str] = set()
    for a in approvals:
        who = str(a.get("by") or "")
        if a.get("act") != act or who in seen:
            continue
        seen.add(who)
        why = ineligible(state, q, who)
        (discounted.append({"by": who, "why": why}) if why else approved.append(a))
    awaited: list[dict[str, Any]] = []
    for role in q.of:
        holder = state.roles.get(role)
        if holder is not None and (holder in seen or any(w["holder"] == holder for w in awaited)):
            continue
        if holder is None or ineligible(state, q, holder) is None:
            awaited.append({"role": role, "holder": holder})
    return Tally(q, approved, awaited, discounted)


def describe(t: Tally) -> str:
    """``1 of 2 approvals (alice); awaited: carol (cab), sre (vacant)``: one line for people."""
    names = ", ".join(str(a.get("by")) for a in t.approved)
    text = f"{len(t.approved)} of {t.needed} approvals" + (f" ({names})" if names else "")
    if not t.met:
        wait = ", ".join(f"{w['holder']} ({w['role']})" if w["holder"] else f"{w['role']} (vacant)" for w in t.awaited)
        text += f"; awaited: {wait or 'nobody eligible holds an approving role'}"
    return text
