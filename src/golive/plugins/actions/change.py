"""``change-close``: post the run's outcome, its decision and the evidence pack's digest to the change
record (ServiceNow close notes, a Jira comment), close the record, and read its state back."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from golive import exceptions, results
from golive.plugins import _change, _util, base

__all__ = ["ChangeCloseAction", "ChangeCloseParams"]


class ChangeCloseParams(_change.ChangeParams):
    """What to write to the change record when closing it."""

    outcome: str = Field(min_length=1, description="The run's outcome, e.g. PASSED or ROLLED_BACK.")
    successful: bool = Field(description="Close as successful (ServiceNow close_code `successful`) or unsuccessful.")
    decision: str | None = Field(default=None, description="The GO/NO-GO decision, e.g. 'GO by Ana Ruiz 22:41Z'.")
    evidence_digest: str | None = Field(
        default=None, description="SHA-256 of the evidence pack (hex), so the record points at exactly one pack."
    )
    notes: str | None = Field(default=None, description="More text for the record (run id, links).")
    close_transition: str = Field(
        default="Done", description="Jira: the transition (or its target status) that closes the issue."
    )

    @field_validator("evidence_digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"(sha256:)?[0-9a-fA-F]{64}", value.strip()):
            raise ValueError(f"{value!r} is not a SHA-256 digest (64 hex digits)")
        return value.strip().lower() if value is not None else None


def close_text(p: ChangeCloseParams) -> str:
    lines = [f"golive: outcome {p.outcome}"]
    if p.decision:
        lines.append(f"Decision: {p.decision}")
    if p.evidence_digest:
        digest = p.evidence_digest.removeprefix("sha256:")
        lines.append(f"Evidence pack sha256: {digest}")
    if p.notes:
        lines.append(p.notes)
    return "\n".join(lines)


class ChangeCloseAction(base.ActionPlugin):
    """Write the outcome, decision and evidence digest to a change record and close it, confirmed by read-back."""

    name = "change-close"
    params = ChangeCloseParams
    description = "Close a ServiceNow change request or Jira issue with the outcome, decision and evidence digest."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: ChangeCloseParams = ctx.params
        text = close_text(p)
        try:
            rec = await _change.read(ctx, p)
            state, expected = await _change.close(
                ctx, p, rec, notes=text, successful=p.successful, transition=p.close_transition
            )
        except exceptions.GoliveError as exc:
            return _util.finish(ctx, results.Outcome.ERROR, f"closing change {p.record} failed: {exc.message}")
        output = {"system": p.system, "record": rec.record, "state": state, "notes": text}
        if state.lower() != expected.lower():
            return _util.finish(
                ctx,
                results.Outcome.FAIL,
                f"change {rec.record} reads back in state {state}, not {expected}",
                output=output,
            )
        return _util.finish(
            ctx, results.Outcome.PASS, f"closed change {rec.record} ({state}): {text.splitlines()[0]}", output=output
        )

    def describe(self, ctx: base.StepContext) -> str:
        p: ChangeCloseParams = ctx.params
        return ctx.redact(f"would close {p.system} change {p.record} with: {close_text(p)}".replace("\n", "; "))
