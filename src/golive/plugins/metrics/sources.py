"""Metric sources: Prometheus, a number in an HTTP JSON answer, a SQL scalar, log lines, a command."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from golive import expr, patterns, results
from golive.plugins import _http, _logs, _proc, _prom, _request, _sql, _util, base
from golive.spec import codecheck

__all__ = [
    "CommandMetric",
    "CommandMetricParams",
    "HttpJsonMetric",
    "HttpJsonMetricParams",
    "LogMetric",
    "LogMetricParams",
    "PrometheusMetric",
    "SqlMetric",
    "SqlMetricParams",
    "to_number",
]

Reading = results.MetricReading


def to_number(value: Any, what: str) -> Reading:
    """A reading from a JSON/SQL/text value: null is no data, a number (or numeric text) is a value."""
    if value is None:
        return Reading.no_data(f"{what} is null")
    if isinstance(value, bool):
        return Reading.of(1.0 if value else 0.0)
    if isinstance(value, int | float):
        return Reading.of(float(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return Reading.no_data(f"{what} is empty")
        try:
            number = float(text)
        except ValueError:
            return Reading.failed(f"{what} is {_util.fmt(value)}, not a number")
        return Reading.of(number)
    return Reading.failed(f"{what} is a {type(value).__name__}, not a number")


class PrometheusMetric(base.MetricSource):
    """A PromQL query: instant, or a range folded by an aggregation."""

    name = "prometheus"
    params = _prom.PromQueryParams
    description = "PromQL instant or range query (aggregation last/avg/min/max/sum/count)."

    async def read(self, ctx: base.StepContext) -> Reading:
        return await _prom.query(ctx, ctx.params)


class HttpJsonMetricParams(_request.HttpRequestParams):
    """An HTTP endpoint that answers JSON with a number in it."""

    path: str = Field(
        description="JSON path of the number, e.g. $.queue.backlog.", json_schema_extra=codecheck.code_field("jmespath")
    )

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        _request.check_paths({v: None})
        return v


class HttpJsonMetric(base.MetricSource):
    """The number at a JSON path of an HTTP answer."""

    name = "http-json"
    params = HttpJsonMetricParams
    description = "A number at a JSON path of an HTTP JSON answer."

    async def read(self, ctx: base.StepContext) -> Reading:
        p: HttpJsonMetricParams = ctx.params
        try:
            resp = await _request.send(ctx, p)
        except _http.HttpFailure as exc:
            return Reading.failed(ctx.redact(exc.message))
        if not 200 <= resp.status < 300:
            return Reading.failed(f"status {resp.status}, expected 2xx")
        try:
            doc = resp.json()
        except ValueError as exc:
            return Reading.failed(str(exc))
        try:
            return to_number(expr.json_path(doc, p.path), p.path)
        except expr.ConditionError as exc:
            return Reading.failed(exc.message)


class SqlMetricParams(base.Params):
    """A query whose first column of the first row is the number."""

    url: str = Field(description="SQLAlchemy URL of the database.", min_length=1)
    query: str = Field(
        description="SQL query giving one number, e.g. SELECT count(*) FROM outbox WHERE ... (values go in "
        "`parameters`; a whole query may come from a var declared `type: sql`).",
        json_schema_extra=codecheck.code_field("sql"),
    )
    parameters: dict[str, Any] = Field(default_factory=dict, description="Values for :name parameters.")
    timeout: _util.Duration | None = Field(default=None, description="Time limit (default: the step's timeout).")


class SqlMetric(base.MetricSource):
    """A scalar from SQL; no rows or NULL is no data."""

    name = "sql"
    params = SqlMetricParams
    description = "A SQL scalar (first column of the first row); no rows or NULL -> no data."

    async def read(self, ctx: base.StepContext) -> Reading:
        p: SqlMetricParams = ctx.params
        timeout = _util.step_timeout(ctx, p.timeout)
        try:
            res = await _sql.execute(p.url, [p.query], p.parameters, timeout=timeout, write=False)
        except _sql.SqlFailure as exc:
            return Reading.failed(ctx.redact(exc.message))
        if not res.rows or not res.rows[0]:
            return Reading.no_data("the query returned no rows")
        return to_number(res.rows[0][0], "the value")


class LogMetricParams(_logs.LogSourceParams):
    """Lines matching a pattern within a trailing window."""

    window: _util.Duration = Field(description="Trailing window, e.g. 5m.", gt=0)
    mode: Literal["count", "rate"] = Field(default="count", description="count of lines, or rate per `per`.")
    per: _util.Duration = Field(default=60.0, gt=0, description="Unit of a rate (default: per minute).")


class LogMetric(base.MetricSource):
    """Count (or rate) of matching log lines in the last ``window``.

    A log with no timestamped line at all inside the window is ``no_data``, not 0: a service that
    stopped logging must not look healthy.
    """

    name = "log"
    params = LogMetricParams
    description = "Count or rate of log lines matching a pattern in a trailing window."

    async def read(self, ctx: base.StepContext) -> Reading:
        p: LogMetricParams = ctx.params
        since = ctx.clock.now() - timedelta(seconds=p.window)
        pattern = patterns.compile(p.pattern)
        ts_regex = patterns.compile(p.timestamp_regex)
        if p.path is not None:
            path = _util.resolve_path(ctx, p.path)
            try:
                lines: Iterable[str] = _logs.reverse_lines(path, p.max_bytes)
                counted = await asyncio.to_thread(_count, lines, pattern, ts_regex, p.timestamp_format, since)
            except OSError as exc:
                return Reading.failed(f"cannot read {p.path}: {exc.strerror or exc}")
        else:
            assert p.command is not None
            timeout = _util.step_timeout(ctx, p.timeout)
            try:
                res = await _proc.run_command(p.command, cwd=ctx.workdir, timeout=timeout)
            except _proc.ProcFailure as exc:
                return Reading.failed(exc.message)
            if res.timed_out or res.exit_code != 0:
                return Reading.failed(
                    "log command timed out" if res.timed_out else f"log command exited {res.exit_code}"
                )
            counted = _count(reversed(res.stdout.splitlines()), pattern, ts_regex, p.timestamp_format, since)
        matches, seen = counted
        if seen == 0:
            return Reading.no_data(f"no log lines in the last {_util.fmt_duration(p.window)}")
        if p.mode == "rate":
            return Reading.of(matches / (p.window / p.per))
        return Reading.of(float(matches))


def _count(lines: Iterable[str], pattern: Any, ts_regex: Any, fmt: str | None, since: datetime) -> tuple[int, int]:
    """(matching lines, timestamped lines) at or after ``since``, reading newest first."""
    matches = seen = 0
    try:
        for line in lines:
            ts = _logs.find_timestamp(line, ts_regex, fmt)
            if ts is None:
                continue  # continuation lines (stack traces) carry no time
            if ts < since:
                break  # logs are in time order: everything further back is older
            seen += 1
            if pattern.search(line):
                matches += 1
        return matches, seen
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()


class CommandMetricParams(base.Params):
    """A command that prints a number."""

    run: str | list[str] = Field(
        description="An argv list, or a string run by /bin/sh -c (values go in `env`).",
        json_schema_extra=codecheck.code_field("argv"),
    )
    regex: str | None = Field(
        default=None,
        description="Regex that finds the number in stdout (group 1, else the whole match).",
        json_schema_extra=codecheck.code_field("regex"),
    )
    cwd: str | None = Field(default=None, description="Working directory.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment variables: how a templated value reaches a shell command, as data.",
    )

    _env_text = field_validator("env", mode="before")(_util.env_text)
    timeout: _util.Duration | None = Field(default=None, description="Time limit (default: the step's timeout).")


class CommandMetric(base.MetricSource):
    """A number printed by a command (exit code 0 required)."""

    name = "command"
    params = CommandMetricParams
    description = "A number printed by a command (optionally found by a regex)."

    async def read(self, ctx: base.StepContext) -> Reading:
        p: CommandMetricParams = ctx.params
        timeout = _util.step_timeout(ctx, p.timeout)
        cwd = _util.resolve_path(ctx, p.cwd) if p.cwd else ctx.workdir
        try:
            res = await _proc.run_command(p.run, cwd=cwd, env=p.env, timeout=timeout)
        except _proc.ProcFailure as exc:
            return Reading.failed(exc.message)
        if res.timed_out:
            return Reading.failed(f"command timed out after {timeout:g} s")
        if res.exit_code != 0:
            tail = res.stderr.strip().splitlines()[-1:] or [""]
            return Reading.failed(f"command exited {res.exit_code}: {_util.cut_head(ctx.redact(tail[0]), 200)}")
        text = res.stdout.strip()
        if p.regex is not None:
            m = patterns.search(p.regex, res.stdout)
            if m is None:
                return Reading.no_data(f"stdout has no match for /{p.regex}/")
            text = m.group(1) if m.groups() else m.group(0)
        return to_number(text, "stdout")
