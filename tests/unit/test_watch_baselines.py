"""Baselines: how a baseline read is built, paired and fed to a trigger's condition."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from golive import results
from golive.spec import models
from golive.testing import FakeClock, FakeMetricSource
from golive.watch import baselines, triggers

PROM = {"type": "prometheus", "with": {"url": "http://127.0.0.1:1", "query": "up", "offset": "1h"}}


def test_a_shifted_read_adds_range_step_and_offset_to_a_prometheus_query() -> None:
    """`offset: 1w` on a source that already reads 1h back reads 1w + 1h back, over the window."""
    ref = models.MetricRef.model_validate(PROM)
    shifted = baselines.windowed(ref, window=1800.0, step=60.0, offset=604800.0)
    assert shifted.with_["range"] == "1800.000s"
    assert shifted.with_["step"] == "60.000s"
    assert shifted.with_["offset"] == f"{604800.0 + 3600.0:.3f}s"
    assert ref.with_["offset"] == "1h"  # the runbook's own ref is left alone


def test_a_source_that_cannot_read_the_past_is_refused() -> None:
    """A command cannot be shifted back a week: a BaselineError that says what to use instead."""
    ref = models.MetricRef.model_validate({"type": "command", "with": {"run": ["echo", "1"]}})
    with pytest.raises(baselines.BaselineError, match="use a prometheus source"):
        baselines.windowed(ref, window=60.0, step=10.0, offset=60.0)


def test_compare_gives_the_names_a_condition_sees() -> None:
    """value, baseline, delta, ratio and delta_pts; a zero baseline gives a ratio of 1 or infinity."""
    got = triggers.compare(0.95, 0.97)
    assert got["delta"] == pytest.approx(-0.02)
    assert got["delta_pts"] == pytest.approx(-2.0)
    assert got["ratio"] == pytest.approx(0.95 / 0.97)
    assert triggers.compare(0.0, 0.0)["ratio"] == 1.0
    assert triggers.compare(3.0, 0.0)["ratio"] == float("inf")


def trigger(**kw: Any) -> models.Trigger:
    data = {
        "id": "auth",
        "source": {"type": "fake"},
        "baseline": {"source": {"type": "fake", "with": {"name": "stable"}}},
        "when": "delta_pts <= -2",
        "interval": "10s",
    }
    return models.Trigger.model_validate(data | kw)


async def test_a_trigger_compares_its_value_with_a_second_query() -> None:
    """0.93 against the stable fleet's 0.97 is a 4-point drop: it fires; 0.965 does not."""
    canary, stable = FakeMetricSource([0.965, 0.93]), FakeMetricSource([0.97])
    clock = FakeClock()

    def factory(ref: models.MetricRef) -> triggers.ReadMetric:
        return stable.read if ref.with_.get("name") == "stable" else canary.read

    ev = triggers.TriggerEvaluator(trigger(), factory, clock)
    first = await ev.evaluate_once()
    assert (first.breached, first.baseline) == (False, 0.97)
    clock.advance(10)
    second = await ev.evaluate_once()
    assert (second.fired, second.value, second.baseline) == (True, 0.93, 0.97)
    assert second.event_data()["baseline"] == 0.97


async def test_a_baseline_without_data_or_failing_is_never_a_pass() -> None:
    """No baseline data follows `no_data` (fail: a breach); a failing baseline is an error reading."""
    canary, stable = FakeMetricSource([0.5]), FakeMetricSource([None])
    clock = FakeClock()

    def factory(ref: models.MetricRef) -> triggers.ReadMetric:
        return stable.read if ref.with_.get("name") == "stable" else canary.read

    ev = triggers.TriggerEvaluator(trigger(), factory, clock)
    got = await ev.evaluate_once()
    assert (got.status, got.fired) == ("no_data", True)
    assert "baseline" in got.reason
    stable.fail("stable fleet unreachable")
    ev.reset()
    err = await ev.evaluate_once()
    assert err.status == "error"
    assert "baseline: stable fleet unreachable" in err.reason


async def test_a_before_baseline_waits_for_t0() -> None:
    """Before T-0 has passed there is no window before it to read: an error reading, not a value."""
    clock = FakeClock()
    t = models.Trigger.model_validate(
        {"id": "p99", "source": PROM, "baseline": {"before": "30m"}, "when": "ratio > 1.2", "interval": "10s"}
    )
    reads: list[models.MetricRef] = []

    def factory(ref: models.MetricRef) -> triggers.ReadMetric:
        reads.append(ref)

        async def read() -> results.MetricReading:
            return results.MetricReading.of(1.0)

        return read

    future = clock.now() + timedelta(minutes=5)
    read = baselines.baseline_reader(t, factory, now=clock.now, t0=lambda: future)
    assert (await read()).status == "error"
    past = clock.now() - timedelta(minutes=40)
    read = baselines.baseline_reader(t, factory, now=clock.now, t0=lambda: past)
    assert (await read()).value == 1.0
    assert reads[-1].with_["range"] == "1800.000s"
    assert reads[-1].with_["aggregation"] == "avg"
    assert reads[-1].with_["offset"] == f"{2400.0 + 3600.0:.3f}s"
