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
        judged = _util.Verdicts()
        if exp.value is not None:
            judged.compare("value", value, "==", exp.value, value == exp.value)
        if exp.min is not None:
            judged.compare("value", value, ">=", exp.min, value >= exp.min)
        if exp.max is not None:
            judged.compare("value", value, "<=", exp.max, value <= exp.max)
        verdict = exp.condition_verdict({"value": value, "series": [v for _, v in reading.series]})
        if verdict is not None:
            judged.add(*verdict)
        failures = judged.failures
        output: dict[str, Any] = {"status": "ok", "value": value}
        if reading.series:
            output["points"] = len(reading.series)
        if failures:
            return _util.finish(ctx, results.Outcome.FAIL, "; ".join(failures), details=details, output=output)
        summary = judged.summary(f"value={_util.fmt(value)} (no expectation)")
        return _util.finish(ctx, results.Outcome.PASS, summary, details=details, output=output)
