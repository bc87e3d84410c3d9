"""A metric source that reads a Prometheus text exposition endpoint (``/metrics``) directly.

For services whose metrics no Prometheus server scrapes (the demo, a laptop rehearsal): one sample's value,
its per-second rate, or the ratio of two counters' increases since the previous reading (an error rate).
Counters are cumulative, so the first reading of a rate or ratio uses the totals since the process started;
later readings use the increase since the previous one. No increase in the denominator is ``no_data``.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from golive import results
from golive.plugins import _http, _request, _util, base

__all__ = ["ScrapeMetric", "ScrapeMetricParams", "parse_exposition"]

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)(?:\s+\d+)?\s*$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Selector(BaseModel):
    """A metric name and the labels its samples must carry; matching samples are summed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str = Field(description="Sample name, e.g. demo_http_errors_total.")
    labels: dict[str, str] = Field(default_factory=dict, description="Label values the samples must have.")


class ScrapeMetricParams(base.Params):
    """Where the exposition is, and which number to make of it."""

    url: str = Field(description="The /metrics URL.")
    metric: str = Field(description="Sample name of the value (the numerator for a ratio).")
    labels: dict[str, str] = Field(default_factory=dict, description="Label values the samples must have.")
    mode: Literal["value", "rate", "ratio"] = Field(
        default="value", description="value: the sum; rate: increase per second; ratio: increase / denominator's."
    )
    denominator: Selector | None = Field(default=None, description="For mode ratio: the counter to divide by.")
    timeout: _util.Duration = Field(default=5.0, description="Time limit of one scrape.")


def parse_exposition(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Samples of a Prometheus text exposition: (name, labels, value). Comments and bad lines are skipped."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line.strip())
        if not m:
            continue
        try:
            value = float(m.group("value"))
        except ValueError:
            continue
        labels = {k: v.encode().decode("unicode_escape") for k, v in _LABEL.findall(m.group("labels") or "")}
        out.append((m.group("name"), labels, value))
    return out


def _sum(samples: list[tuple[str, dict[str, str], float]], name: str, labels: dict[str, str]) -> float | None:
    picked = [v for n, lab, v in samples if n == name and all(lab.get(k) == w for k, w in labels.items())]
    return math.fsum(picked) if picked else None


class ScrapeMetric(base.MetricSource):
    """Read a number from a /metrics endpoint: value, rate, or the ratio of two counters' increases."""

    name = "scrape"
    params = ScrapeMetricParams
    description = "Prometheus text exposition read directly (value, rate, or ratio of counter increases)."

    def __init__(self) -> None:
        self._previous: tuple[float, float, float | None] | None = None  # (monotonic, numerator, denominator)

    async def read(self, ctx: base.StepContext) -> results.MetricReading:
        p: ScrapeMetricParams = ctx.params
        try:
            async with _request.http_client(ctx) as client:
                resp = await client.request("GET", p.url, timeout=p.timeout)
        except _http.HttpFailure as exc:
            return results.MetricReading.failed(ctx.redact(str(exc)))
        if resp.status != 200:
            return results.MetricReading.failed(f"status {resp.status}, expected 200 from {p.url}")
        samples = parse_exposition(resp.text())
        num = _sum(samples, p.metric, p.labels)
        if num is None:
            return results.MetricReading.no_data(f"no sample {p.metric} in the exposition")
        if p.mode == "value":
            return results.MetricReading.of(num)
        den: float | None = None
        if p.mode == "ratio":
            if p.denominator is None:
                return results.MetricReading.failed("mode ratio needs a denominator")
            den = _sum(samples, p.denominator.metric, p.denominator.labels)
            if den is None:
                return results.MetricReading.no_data(f"no sample {p.denominator.metric} in the exposition")
        now = ctx.clock.monotonic()
        prev = self._previous
        self._previous = (now, num, den)
        if p.mode == "rate":
            if prev is None or now <= prev[0]:
                return results.MetricReading.no_data("first reading of a rate")
            return results.MetricReading.of(max(0.0, num - prev[1]) / (now - prev[0]))
        assert den is not None
        d_num, d_den = (num, den) if prev is None or prev[2] is None else (num - prev[1], den - prev[2])
        if d_den < 0 or d_num < 0:  # the counters were reset (the process restarted): start over
            d_num, d_den = num, den
        if d_den == 0:
            return results.MetricReading.no_data("no increase in the denominator (no traffic)")
        return results.MetricReading.of(d_num / d_den)
