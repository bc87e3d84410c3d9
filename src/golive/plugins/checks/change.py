"""``change-record``: the run's change request (ServiceNow) or change issue (Jira) is approved and the run
is inside its planned window. Put it first in the pre-flight phase of a live run: a record that is not
approved, or a window that is not open, fails the phase before any action runs.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from golive import exceptions, results
from golive.plugins import _change, _util, base

__all__ = ["ChangeRecordCheck", "ChangeRecordParams"]

SN_APPROVED_STATES = ("Scheduled", "Implement")
JIRA_APPROVED_STATES = ("Approved", "Scheduled", "Awaiting implementation", "Implementing")


class ChangeRecordParams(_change.ChangeParams):
    """A change record that must be approved and open for the run."""

    approved_states: list[str] | None = Field(
        default=None,
        description="States in which the run may start (default: ServiceNow Scheduled, Implement, with approval "
        "`approved`; Jira Approved, Scheduled, Awaiting implementation, Implementing).",
    )
    check_window: bool = Field(default=True, description="The run's clock must be inside the planned window.")
    start_field: str | None = Field(
        default=None, description="Jira: the field holding the planned start, e.g. customfield_10050."
    )
    end_field: str | None = Field(default=None, description="Jira: the field holding the planned end.")

    @model_validator(mode="after")
    def _window_fields(self) -> ChangeRecordParams:
        if self.system == "jira" and self.check_window and not (self.start_field and self.end_field):
            raise ValueError(
                "a Jira change's window is in two fields: give `start_field` and `end_field` "
                "(e.g. customfield_10050), or `check_window: false`"
            )
        return self


def _hm(seconds: float) -> str:
    return _util.fmt_duration(abs(seconds))


class ChangeRecordCheck(base.CheckPlugin):
    """Refuse the run unless its change record is approved and inside its window."""

    name = "change-record"
    params = ChangeRecordParams
    description = "ServiceNow change request or Jira issue is approved and inside its planned window."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: ChangeRecordParams = ctx.params
        try:
            rec = await _change.read(ctx, p, start_field=p.start_field, end_field=p.end_field)
        except exceptions.GoliveError as exc:
            return _util.finish(ctx, results.Outcome.ERROR, f"cannot read change {p.record}: {exc.message}")
        now = ctx.clock.now()
        output = {**rec.as_output(), "checked_at": now.isoformat()}
        allowed = p.approved_states or list(SN_APPROVED_STATES if p.system == "servicenow" else JIRA_APPROVED_STATES)
        state_name = rec.state.split(" (", 1)[0]
        problems = []
        if p.system == "servicenow" and rec.approved_by_field != "approved":
            problems.append(f"is not approved (approval: {rec.approved_by_field or 'none'}, state: {rec.state})")
        elif state_name.lower() not in {s.lower() for s in allowed}:
            problems.append(f"is in state {rec.state}, not one of {', '.join(allowed)}")
        if p.check_window and not problems:
            if rec.start is None or rec.end is None:
                problems.append("has no planned start and end")
            elif now < rec.start:
                problems.append(
                    f"window {rec.start:%Y-%m-%d %H:%M}–{rec.end:%H:%M} UTC has not opened "
                    f"(opens in {_hm((rec.start - now).total_seconds())})"
                )
            elif now > rec.end:
                problems.append(
                    f"window {rec.start:%Y-%m-%d %H:%M}–{rec.end:%H:%M} UTC closed "
                    f"{_hm((now - rec.end).total_seconds())} ago"
                )
        if problems:
            return _util.finish(
                ctx, results.Outcome.FAIL, f"refused: change {rec.record} {'; '.join(problems)}", output=output
            )
        window = (
            f", window {rec.start:%H:%M}–{rec.end:%H:%M} UTC ({_hm((rec.end - now).total_seconds())} left)"
            if p.check_window and rec.start and rec.end
            else ""
        )
        return _util.finish(
            ctx, results.Outcome.PASS, f"change {rec.record} is approved ({rec.state}){window}", output=output
        )
