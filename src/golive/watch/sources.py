"""How the watch library reads metrics: a reader per metric source, made by a factory the caller gives.

Triggers, baselines and judges read only through these, so the library never names a plugin or an engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from golive import results
from golive.spec import models

__all__ = ["ReadMetric", "SourceFactory"]

ReadMetric = Callable[[], Awaitable[results.MetricReading]]
"""Reads the metric once."""

SourceFactory = Callable[[models.MetricRef], ReadMetric]
"""Makes the reader of a ``source`` (plugin and params); called once per evaluator."""
