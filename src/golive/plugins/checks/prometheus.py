"""Prometheus check: a PromQL value must meet a condition. No data is an error, never 0."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from golive import results
from golive.plugins import _prom, _util, base

__all__ = ["PrometheusCheck", "PrometheusExpect", "PrometheusParams"]


class PrometheusExpect(_util.ExpectBase):
    """What the value must be. A string is a condition (names: value, series)."""

    names: ClassVar[frozenset[str]] = frozenset({"value", "series"})

    value: float | None = Field(default=None, description="The exact value expected.")
    min: float | None = Field(default=None, description="The value must be at least this.")
    max: float | None = Field(default=None, description="The value must be at most this.")


class PrometheusParams(_prom.PromQueryParams):
    """A PromQL query and the condition its value must meet."""

    expect: PrometheusExpect = Field(default_factory=PrometheusExpect, description="Condition on the value.")


class PrometheusCheck(base.CheckPlugin):
    """Query Prometheus (instant or range) and check the value."""

    name = "prometheus"
    params = PrometheusParams
    description = "PromQL instant or range query; condition on the value; empty or NaN -> error (no data)."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: PrometheusParams = ctx.params
        reading = await _prom.query(ctx, p)
        details = {"query": p.query}
        if reading.status == "no_data":
            return _util.finish(
                ctx,
                results.Outcome.ERROR,
                f"no data ({reading.error})",
                details=details,
                output={"status": "no_data", "value": None},
            )
        if reading.status != "ok" or reading.value is None:
            return _util.finish(
                ctx, results.Outcome.ERROR, reading.error or "error", details=details, output={"status": "error"}
            )
        value = reading.value
        exp = p.expect
        failures = []
        if exp.value is not None and value != exp.value:
            failures.append(f"value {value:g}, expected {exp.value:g}")
        if exp.min is not None and value < exp.min:
            failures.append(f"value {value:g}, expected at least {exp.min:g}")
        if exp.max is not None and value > exp.max:
            failures.append(f"value {value:g}, expected at most {exp.max:g}")
        why = exp.check_condition({"value": value, "series": [v for _, v in reading.series]})
        if why:
            failures.append(why)
        output: dict[str, Any] = {"status": "ok", "value": value}
        if reading.series:
            output["points"] = len(reading.series)
        if failures:
            return _util.finish(ctx, results.Outcome.FAIL, "; ".join(failures), details=details, output=output)
        return _util.finish(ctx, results.Outcome.PASS, f"value {value:g}", details=details, output=output)
