"""Prometheus check and metric source against a real Prometheus scraping a local exporter."""

from __future__ import annotations

import pytest

from golive.plugins._prom import PromQueryParams
from golive.plugins.checks.prometheus import PrometheusCheck, PrometheusParams
from golive.plugins.metrics.sources import PrometheusMetric
from golive.results import Outcome
from golive.testing import make_ctx

from .conftest import PrometheusService

pytestmark = pytest.mark.prometheus


async def test_prometheus_check_passes_when_the_condition_holds(prometheus: PrometheusService) -> None:
    """error_ratio 0.05 passes `value < 0.15`."""
    p = PrometheusParams(url=prometheus.url, query="golive_test_error_ratio", expect="value < 0.15")
    result = await PrometheusCheck().run(make_ctx(p))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output == {"status": "ok", "value": 0.05}


async def test_prometheus_check_fails_when_the_condition_does_not_hold(prometheus: PrometheusService) -> None:
    """error_ratio 0.05 fails `value < 0.01` and the summary shows the value."""
    p = PrometheusParams(url=prometheus.url, query="golive_test_error_ratio", expect="value < 0.01")
    result = await PrometheusCheck().run(make_ctx(p))
    assert result.outcome is Outcome.FAIL
    assert "value=0.05" in result.summary


async def test_prometheus_missing_metric_is_no_data_never_zero(prometheus: PrometheusService) -> None:
    """A query for a metric that does not exist is ERROR `no data`, output status no_data, never 0."""
    p = PrometheusParams(url=prometheus.url, query="golive_metric_that_does_not_exist", expect="value < 1")
    result = await PrometheusCheck().run(make_ctx(p))
    assert result.outcome is Outcome.ERROR
    assert result.summary.startswith("no data")
    assert result.output == {"status": "no_data", "value": None}


async def test_prometheus_nan_is_no_data(prometheus: PrometheusService) -> None:
    """`0/0` (NaN, an error rate with no traffic) is no data, not a pass."""
    p = PrometheusParams(url=prometheus.url, query="golive_test_zero / golive_test_zero", expect="value < 0.15")
    result = await PrometheusCheck().run(make_ctx(p))
    assert result.outcome is Outcome.ERROR
    assert result.output["status"] == "no_data"
    reading = await PrometheusMetric().read(make_ctx(PromQueryParams(url=prometheus.url, query="0/0")))
    assert reading.status == "no_data"


async def test_prometheus_down_is_an_error(closed_port: int) -> None:
    """Prometheus not answering is an ERROR (check) and an error reading (source)."""
    url = f"http://127.0.0.1:{closed_port}"
    result = await PrometheusCheck().run(make_ctx(PrometheusParams(url=url, query="up", expect="value == 1")))
    assert result.outcome is Outcome.ERROR
    assert "prometheus unreachable" in result.summary
    reading = await PrometheusMetric().read(make_ctx(PromQueryParams(url=url, query="up")))
    assert reading.status == "error"


async def test_prometheus_bad_query_is_an_error(prometheus: PrometheusService) -> None:
    """A PromQL syntax error is an error with Prometheus's reason."""
    reading = await PrometheusMetric().read(make_ctx(PromQueryParams(url=prometheus.url, query="sum(")))
    assert reading.status == "error"
    assert "bad_data" in (reading.error or "")


async def test_prometheus_several_series_is_an_error(prometheus: PrometheusService) -> None:
    """A query with more than one series must be aggregated in PromQL; it is not silently picked."""
    reading = await PrometheusMetric().read(make_ctx(PromQueryParams(url=prometheus.url, query='{job="golive_test"}')))
    assert reading.status == "error"
    assert "aggregate" in (reading.error or "")


async def test_prometheus_range_query_aggregates(prometheus: PrometheusService) -> None:
    """A range query over the last 30 s with `max` gives the gauge's value and its points."""
    p = PromQueryParams(url=prometheus.url, query="golive_test_error_ratio", range="30s", step="1s", aggregation="max")
    reading = await PrometheusMetric().read(make_ctx(p))
    assert reading.status == "ok", reading.error
    assert reading.value == 0.05
    assert len(reading.series) >= 1


async def test_prometheus_source_follows_the_exporter(prometheus: PrometheusService) -> None:
    """A value set on the exporter is read once Prometheus scraped it."""
    prometheus.exporter.set("golive_test_backlog", 42.0)
    prometheus.wait_for("golive_test_backlog")
    reading = await PrometheusMetric().read(make_ctx(PromQueryParams(url=prometheus.url, query="golive_test_backlog")))
    assert reading.value == 42.0
