"""HTTP, command, SQL and wait actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field, model_validator

from golive import results
from golive.plugins import _http, _proc, _request, _sql, _util, base
from golive.plugins.checks import command as command_check
from golive.plugins.checks import http as http_check
from golive.spec import codecheck

__all__ = [
    "CommandAction",
    "HttpAction",
    "HttpActionExpect",
    "HttpActionParams",
    "SqlAction",
    "SqlActionParams",
    "WaitAction",
    "WaitParams",
]

SUCCESS_STATUSES = [200, 201, 202, 204]  # what an action call answers when it did what it was asked


class HttpActionExpect(http_check.HttpExpect):
    """What the response to the call must look like (default: a 2xx status)."""

    status: int | list[int] = Field(
        default_factory=lambda: list(SUCCESS_STATUSES), description="Accepted status code(s)."
    )


class HttpActionParams(_request.HttpRequestParams):
    """An HTTP call that changes something (e.g. unpause an automation rule)."""

    method: _request.Method = Field(default="POST", description="HTTP method.")
    expect: HttpActionExpect = Field(default_factory=HttpActionExpect, description="Response expected.")


class HttpAction(base.ActionPlugin):
    """Send an HTTP request that changes something and check the answer."""

    name = "http"
    params = HttpActionParams
    description = "HTTP call (POST/PUT/PATCH/DELETE...) with the same expectations as the http check."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: HttpActionParams = ctx.params
        try:
            resp = await _request.send(ctx, p)
        except _http.HttpFailure as exc:
            return _util.finish(ctx, results.Outcome.ERROR, exc.message, details={"failure": exc.kind})
        return http_check.response_result(ctx, p, resp, p.expect)

    def describe(self, ctx: base.StepContext) -> str:
        return f"would send {_request.describe_request(ctx, ctx.params)}"


class CommandAction(base.ActionPlugin):
    """Run a command that changes something (a deploy script, a migration)."""

    name = "command"
    params = command_check.CommandParams
    description = "Run a command (argv or shell); expect exit code and output; killed on timeout."

    async def run(self, ctx: base.StepContext) -> results.Result:
        return await command_check.command_result(ctx, ctx.params)

    def describe(self, ctx: base.StepContext) -> str:
        p: command_check.CommandParams = ctx.params
        where = f" in {p.cwd}" if p.cwd else ""
        return ctx.redact(f"would run `{_proc.describe_command(p.run)}`{where}")


class SqlActionParams(base.Params):
    """Statements run in one transaction, committed only if all succeed."""

    url: str = Field(description="SQLAlchemy URL of the database.", min_length=1)
    sql: str | list[str] = Field(
        description="A statement, or a list run in order in one transaction (values go in `parameters`).",
        json_schema_extra=codecheck.code_field("sql"),
    )
    parameters: dict[str, Any] = Field(default_factory=dict, description="Values for :name parameters.")
    expect_row_count: int | None = Field(
        default=None, ge=0, description="Rows the last statement must affect (else the transaction rolls back)."
    )
    timeout: _util.Duration | None = Field(default=None, description="Time limit (default: the step's timeout).")

    @property
    def statements(self) -> list[str]:
        return [self.sql] if isinstance(self.sql, str) else list(self.sql)

    @model_validator(mode="after")
    def _non_empty(self) -> SqlActionParams:
        if not self.statements or not all(s.strip() for s in self.statements):
            raise ValueError("`sql` needs at least one non-empty statement")
        return self


class SqlAction(base.ActionPlugin):
    """Run SQL statements in one transaction."""

    name = "sql"
    params = SqlActionParams
    description = "SQL statements in one transaction; optional expected row count of the last one."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: SqlActionParams = ctx.params
        timeout = _util.step_timeout(ctx, p.timeout)
        details = {"database": _sql.safe_url(p.url), "statements": len(p.statements)}
        if p.expect_row_count is not None:
            # Count first without committing, so a wrong count changes nothing.
            try:
                dry = await _sql.execute(p.url, p.statements, p.parameters, timeout=timeout, write=False)
            except _sql.SqlFailure as exc:
                return _util.finish(ctx, results.Outcome.ERROR, exc.message, details=details)
            if dry.rowcount != p.expect_row_count:
                return _util.finish(
                    ctx,
                    results.Outcome.FAIL,
                    f"{dry.rowcount} rows affected, expected {p.expect_row_count}; rolled back",
                    details=details,
                    output={"row_count": dry.rowcount, "committed": False},
                )
        try:
            res = await _sql.execute(p.url, p.statements, p.parameters, timeout=timeout, write=True)
        except _sql.SqlFailure as exc:
            return _util.finish(ctx, results.Outcome.ERROR, exc.message, details=details)
        output = {"row_count": res.rowcount, "rows": res.rows[:100], "committed": True}
        return _util.finish(
            ctx, results.Outcome.PASS, f"{res.rowcount} rows affected, committed", details=details, output=output
        )

    def describe(self, ctx: base.StepContext) -> str:
        p: SqlActionParams = ctx.params
        first = " ".join(p.statements[0].split())[:160]
        more = f" (+{len(p.statements) - 1} more)" if len(p.statements) > 1 else ""
        return ctx.redact(f"would run on {_sql.safe_url(p.url)}: {first}{more}")


class WaitParams(base.Params):
    """Wait for a duration or until a time (UTC if no offset is given)."""

    duration: _util.Duration | None = Field(default=None, alias="for", description="How long to wait, e.g. 10m.")
    until: datetime | None = Field(default=None, description="ISO time to wait until, e.g. 2026-03-01T14:00:00Z.")

    @model_validator(mode="after")
    def _one(self) -> WaitParams:
        if (self.duration is None) == (self.until is None):
            raise ValueError("give exactly one of `for` or `until`")
        return self


class WaitAction(base.ActionPlugin):
    """Wait (on the run's clock, so tests never sleep)."""

    name = "wait"
    params = WaitParams
    read_only = True
    description = "Wait for a duration or until an ISO time."

    def _seconds(self, ctx: base.StepContext) -> float:
        p: WaitParams = ctx.params
        if p.duration is not None:
            return p.duration
        assert p.until is not None
        until = p.until if p.until.tzinfo else p.until.replace(tzinfo=UTC)
        return max(0.0, (until - ctx.clock.now()).total_seconds())

    async def run(self, ctx: base.StepContext) -> results.Result:
        seconds = self._seconds(ctx)
        await ctx.clock.sleep(seconds)
        return _util.finish(
            ctx, results.Outcome.PASS, f"waited {_util.fmt_duration(seconds)}", output={"waited_seconds": seconds}
        )

    def describe(self, ctx: base.StepContext) -> str:
        return f"would wait {_util.fmt_duration(self._seconds(ctx))}"
