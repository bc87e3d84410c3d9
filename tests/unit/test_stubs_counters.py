"""Counter stubs: a Prometheus counter on a stubbed /metrics page grows by its rate over run time, never goes
down, and a `scrape` source reads its increases as it reads a live service's (rate, and the ratio of two
counters' increases an error-rate trigger uses)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from golive.plugins import stubs
from golive.plugins.metrics.scrape import ScrapeMetric, ScrapeMetricParams, parse_exposition
from golive.testing import FakeClock, make_ctx

PAGE = "http://orders.invalid:8080/metrics"


def counters(*items: dict[str, Any]) -> stubs.StubsFile:
    return stubs.StubsFile.model_validate({"stubs": 1, "counters": list(items)})


def test_a_counter_grows_by_each_phase_rate_and_the_last_rate_goes_on() -> None:
    c = counters({"url": PAGE, "metric": "x_total", "start": 100, "rate": [{"per_second": 2, "until": "1m"}]})
    (x,) = c.counters
    assert [x.value_at(t) for t in (0, 30, 60, 90)] == [100, 160, 220, 280]
    c = counters(
        {
            "url": PAGE,
            "metric": "errors_total",
            "rate": [{"per_second": 0.5, "until": "2m"}, {"per_second": 0, "until": "3m"}, {"per_second": 10}],
        }
    )
    (e,) = c.counters
    assert [e.value_at(t) for t in (0, 120, 150, 180, 181)] == [0, 60, 60, 60, 70]
    values = [e.value_at(t) for t in range(0, 400, 7)]
    assert values == sorted(values)  # a counter never goes down


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"url": PAGE, "metric": "x_total", "rate": [{"per_second": -1}]}, "greater than or equal to 0"),
        ({"url": PAGE, "metric": "x total", "rate": [{"per_second": 1}]}, "should match pattern"),
        ({"url": PAGE, "metric": "x_total", "rate": []}, "at least 1 item"),
        ({"url": PAGE, "metric": "x_total", "labels": {"a-b": "1"}, "rate": [{"per_second": 1}]}, "label name"),
    ],
)
def test_a_bad_counter_is_refused(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        counters(item)


async def test_a_scrape_trigger_reads_the_counters_increases_over_run_time() -> None:
    """Requests at 20/s with errors at 0.1/s until T+3m, then 8/s: the ratio of increases a scrape source
    reads goes from 0.5% to 40%; its rate mode reads 20 requests/s; a label set not stubbed is no data."""
    clock = FakeClock()
    t = stubs.StubTransport(
        counters(
            {"url": "http://orders.invalid:*/metrics", "metric": "req_total", "labels": {"route": "orders"},
             "start": 1200, "rate": [{"per_second": 20}]},
            {"url": PAGE, "metric": "err_total", "labels": {"route": "orders"}, "start": 3,
             "rate": [{"per_second": 0.1, "until": "3m"}, {"per_second": 8}]},
        ),
        clock,
    )  # fmt: skip
    ratio = ScrapeMetric()
    rate = ScrapeMetric()
    none = ScrapeMetric()
    ratio_p = ScrapeMetricParams.model_validate(
        {"url": PAGE, "metric": "err_total", "labels": {"route": "orders"}, "mode": "ratio",
         "denominator": {"metric": "req_total", "labels": {"route": "orders"}}}
    )  # fmt: skip
    rate_p = ScrapeMetricParams(url=PAGE, metric="req_total", labels={"route": "orders"}, mode="rate")
    none_p = ScrapeMetricParams(url=PAGE, metric="req_total", labels={"route": "search"})
    seen: list[float | None] = []
    rates: list[float | None] = []
    with stubs.activate(t):
        for _ in range(8):
            clock.advance(30)
            seen.append((await ratio.read(make_ctx(ratio_p, clock=clock, timeout=5.0))).value)
            rates.append((await rate.read(make_ctx(rate_p, clock=clock, timeout=5.0))).value)
        missing = await none.read(make_ctx(none_p, clock=clock, timeout=5.0))
    assert seen[1:5] == pytest.approx([0.005] * 4)  # increases between readings, before T+3m
    assert seen[6:] == pytest.approx([0.4, 0.4])
    assert rates[0] is None
    assert rates[1:] == pytest.approx([20.0] * 7)
    assert missing.status == "no_data"
    assert "no sample req_total" in str(missing.error)
    assert not t.unstubbed


def test_a_scenario_fault_replaces_the_counter_of_the_same_metric_and_labels() -> None:
    """The first stub of a metric and label set wins: a fault (laid first) replaces the file's counter."""
    t = stubs.StubTransport(
        counters(
            {"url": PAGE, "metric": "err_total", "labels": {"route": "orders"}, "start": 9, "rate": [{"per_second": 1}]},
            {"url": PAGE, "metric": "err_total", "labels": {"route": "orders"}, "start": 3, "rate": [{"per_second": 0}]},
            {"url": PAGE, "metric": "err_total", "labels": {"route": "search"}, "rate": [{"per_second": 0}]},
        ),
        FakeClock(),
    )  # fmt: skip
    page = t._counters_page(PAGE)
    assert page is not None
    text = page.decode()
    assert text.count("# TYPE err_total counter") == 1
    assert parse_exposition(text) == [
        ("err_total", {"route": "orders"}, 9.0),
        ("err_total", {"route": "search"}, 0.0),
    ]
    assert t._counters_page("http://other.invalid/metrics") is None
