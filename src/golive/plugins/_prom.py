"""Prometheus HTTP API queries, shared by the prometheus check and metric source.

An empty result is ``no_data`` and never 0; NaN (what ``0/0`` gives, e.g. an error rate with no
traffic) is ``no_data`` too; an HTTP failure, a Prometheus error or an unexpected answer is ``error``.
Range queries end at the real wall time, because that is the time axis of the Prometheus server (a
fake clock in tests must not move the query window).
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

from pydantic import Field, SecretStr

from golive import results
from golive.plugins import _http, _request, _util, base
from golive.spec import codecheck

__all__ = ["Aggregation", "PromQueryParams", "query"]

Aggregation = Literal["last", "avg", "min", "max", "sum", "count"]
DEFAULT_STEP = 60.0  # seconds between points of a range query


class PromQueryParams(base.Params):
    """A PromQL query: instant, or over a range with an aggregation."""

    url: str = Field(description="Prometheus base URL, e.g. http://prometheus:9090.", min_length=1)
    query: str = Field(
        description="PromQL expression; it must give one series (aggregate in PromQL).",
        min_length=1,
        json_schema_extra=codecheck.code_field("promql"),
    )
    range: _util.Duration | None = Field(
        default=None, description="Query this far back (a range query) and aggregate, e.g. 10m."
    )
    step: _util.Duration = Field(default=DEFAULT_STEP, gt=0, description="Resolution of a range query.")
    aggregation: Aggregation = Field(default="last", description="How a range becomes one number.")
    offset: _util.Duration | None = Field(
        default=None, ge=0, description="Read as of this long ago (the query, or its range, ends then), e.g. 1w."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers (e.g. a tenant header).")
    bearer: SecretStr | None = Field(default=None, description="Bearer token; never shown.")
    timeout: _util.Duration | None = Field(default=None, description="Time limit (default: the step's timeout).")
    verify_tls: bool = Field(default=True, description="Verify the server certificate.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust.")


def _num(raw: Any) -> float:
    return float(raw)  # Prometheus sends numbers as strings, including "NaN", "+Inf"


def _aggregate(values: list[float], how: Aggregation) -> float:
    if how == "last":
        return values[-1]
    if how == "avg":
        return sum(values) / len(values)
    if how == "min":
        return min(values)
    if how == "max":
        return max(values)
    if how == "sum":
        return sum(values)
    return float(len(values))


async def query(ctx: base.StepContext, p: PromQueryParams) -> results.MetricReading:
    """Run the query and fold the answer into one reading."""
    base_url = p.url.rstrip("/")
    q: dict[str, str] = {"query": p.query}
    end = time.time() - (p.offset or 0.0)
    if p.range is not None:
        q.update({"start": f"{end - p.range:.3f}", "end": f"{end:.3f}", "step": f"{p.step:g}"})
        endpoint = f"{base_url}/api/v1/query_range"
    else:
        if p.offset:
            q["time"] = f"{end:.3f}"
        endpoint = f"{base_url}/api/v1/query"
    req = _request.HttpRequestParams(
        url=endpoint,
        method="GET",
        headers=p.headers,
        query=q,
        bearer=p.bearer,
        timeout=p.timeout,
        verify_tls=p.verify_tls,
        ca_file=p.ca_file,
    )
    try:
        resp = await _request.send(ctx, req)
    except _http.HttpFailure as exc:
        return results.MetricReading.failed(f"prometheus unreachable: {exc.message}")
    try:
        doc = resp.json()
    except ValueError as exc:
        return results.MetricReading.failed(
            f"prometheus answered status {resp.status} with a body that is not JSON ({exc})"
        )
    if not isinstance(doc, dict) or doc.get("status") != "success":
        err = doc.get("error") if isinstance(doc, dict) else None
        kind = doc.get("errorType") if isinstance(doc, dict) else None
        return results.MetricReading.failed(f"prometheus status {resp.status}: {kind or 'error'}: {err or doc}")
    data = doc.get("data") or {}
    rtype = data.get("resultType")
    result: Any = data.get("result")
    try:
        if rtype == "scalar":
            return results.MetricReading.of(_num(result[1]))
        if rtype == "vector":
            if not result:
                return results.MetricReading.no_data("empty result")
            if len(result) > 1:
                return results.MetricReading.failed(
                    f"query gave {len(result)} series, expected one; aggregate it in PromQL (e.g. sum(...))"
                )
            return results.MetricReading.of(_num(result[0]["value"][1]))
        if rtype == "matrix":
            if not result:
                return results.MetricReading.no_data("empty result")
            if len(result) > 1:
                return results.MetricReading.failed(
                    f"query gave {len(result)} series, expected one; aggregate it in PromQL (e.g. sum(...))"
                )
            points = [(float(t), _num(v)) for t, v in result[0]["values"]]
            finite = [v for _, v in points if not math.isnan(v)]
            if not finite:
                return results.MetricReading.no_data("every point in the range is NaN")
            value = _aggregate(finite, p.aggregation)
            reading = results.MetricReading.of(value)
            return reading.model_copy(update={"series": tuple(points)})
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        return results.MetricReading.failed(f"unexpected prometheus answer ({type(exc).__name__}: {exc})")
    return results.MetricReading.failed(f"prometheus result type {rtype!r} is not a number")
