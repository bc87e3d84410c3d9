"""Outcomes and results: what a step, a check or a metric reading comes to."""

from __future__ import annotations

import enum
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Evidence", "MetricReading", "Outcome", "Result", "gates"]


class Outcome(enum.StrEnum):
    """The outcome of a step. ``error`` gates exactly like ``fail``: golive fails closed."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"
    WAIVED = "waived"
    NOT_RUN = "not-run"  # the step never ran: its phase stopped, or the run ended (NO-GO, rollback, stop) first
    NOT_TAKEN = "not-taken"  # a rollback step whose `if:` chose another branch: not meant to run

    @property
    def ok(self) -> bool:
        """True when the outcome lets what depends on it go ahead."""
        return self in (Outcome.PASS, Outcome.WARN, Outcome.WAIVED)


def gates(outcome: Outcome) -> bool:
    """True when this outcome stops a blocking step's phase (fail, error, or a missing result)."""
    return outcome in (Outcome.FAIL, Outcome.ERROR)


class Evidence(BaseModel):
    """One piece of evidence a plugin or a person hands in: stored as a content-addressed blob."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    content: bytes
    media_type: str = "text/plain"


class Result(BaseModel):
    """What a check or action plugin returns.

    ``summary`` states expected against seen (``status 503, expected 200``); ``output`` is what later
    steps can reference as ``${{ steps.<id>.output.<path> }}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    outcome: Outcome
    summary: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    output: Any = None
    evidence: tuple[Evidence, ...] = ()

    @classmethod
    def ok(cls, summary: str = "", **kw: Any) -> Result:
        return cls(outcome=Outcome.PASS, summary=summary, **kw)

    @classmethod
    def fail(cls, summary: str, **kw: Any) -> Result:
        return cls(outcome=Outcome.FAIL, summary=summary, **kw)

    @classmethod
    def error(cls, summary: str, **kw: Any) -> Result:
        return cls(outcome=Outcome.ERROR, summary=summary, **kw)


class MetricReading(BaseModel):
    """One reading of a metric source: a value, ``no_data`` (never 0), or an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str  # "ok" | "no_data" | "error"
    value: float | None = None
    error: str | None = None
    series: tuple[tuple[float, float], ...] = ()  # (unix seconds, value) for range queries

    @classmethod
    def of(cls, value: float) -> MetricReading:
        if math.isnan(value):
            # NaN is what Prometheus answers for 0/0: there is no rate to compare, so it is no data.
            return cls(status="no_data", error="value is NaN")
        return cls(status="ok", value=value)

    @classmethod
    def no_data(cls, why: str = "empty result") -> MetricReading:
        return cls(status="no_data", error=why)

    @classmethod
    def failed(cls, why: str) -> MetricReading:
        return cls(status="error", error=why)
