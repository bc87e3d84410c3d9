"""Built-in metric sources (kind ``metric``) that triggers read: one number, ``no_data``, or an error.

An empty answer is ``no_data`` and never 0; NaN is ``no_data``; an unreachable source is ``error``.
"""

from __future__ import annotations

from golive.plugins import base
from golive.plugins.metrics.scrape import ScrapeMetric
from golive.plugins.metrics.sources import (
    CommandMetric,
    HttpJsonMetric,
    LogMetric,
    PrometheusMetric,
    SqlMetric,
)

__all__ = ["PLUGINS", "CommandMetric", "HttpJsonMetric", "LogMetric", "PrometheusMetric", "ScrapeMetric", "SqlMetric"]

PLUGINS: list[type[base.Plugin]] = [PrometheusMetric, HttpJsonMetric, SqlMetric, LogMetric, CommandMetric, ScrapeMetric]
