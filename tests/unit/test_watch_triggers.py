"""Trigger evaluation rules: for (sustained), no_data fail/ignore/hold, max_errors fails closed, manual."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from golive import results
from golive.spec import models
from golive.testing import FakeClock, FakeMetricSource
from golive.watch.triggers import TriggerEvaluator, TriggerState


def trig(**kw: Any) -> models.Trigger:
    data: dict[str, Any] = {
        "id": "payout-errors",
        "source": {"type": "fake"},
        "when": "value > 0.15",
        "interval": "30s",
    }
    data.update(kw)
    return models.Trigger.model_validate(data)


def make(source: FakeMetricSource, clock: FakeClock | None = None, **kw: Any) -> tuple[TriggerEvaluator, FakeClock]:
    clock = clock or FakeClock()
    return TriggerEvaluator(trig(**kw), lambda ref: source.read, clock), clock


async def run(ev: TriggerEvaluator, clock: FakeClock, n: int) -> list[Any]:
    out = []
    for _ in range(n):
        out.append(await ev.evaluate_once())
        clock.advance(ev.interval)
    return out


async def test_for_zero_fires_on_first_breach() -> None:
    """With for: 0 (the default) the first breach fires."""
    ev, _ = make(FakeMetricSource([0.5]))
    e = await ev.evaluate_once()
    assert (e.state, e.fired, e.breached) == (TriggerState.FIRING, True, True)


async def test_value_under_threshold_is_ok() -> None:
    """A value for which `when` is false is ok and not a breach."""
    ev, _ = make(FakeMetricSource([0.01]))
    e = await ev.evaluate_once()
    assert (e.state, e.fired, e.breached, e.value) == (TriggerState.OK, False, False, 0.01)


async def test_for_needs_breaches_sustained_over_the_duration() -> None:
    """for: 60s at a 30s interval: pending at 0s and 30s, fires at the third consecutive breach (60s)."""
    ev, clock = make(FakeMetricSource([0.5]), **{"for": "60s"})
    states = [(e.state, e.fired, e.consecutive_breaches) for e in await run(ev, clock, 3)]
    assert states == [
        (TriggerState.PENDING, False, 1),
        (TriggerState.PENDING, False, 2),
        (TriggerState.FIRING, True, 3),
    ]


async def test_a_recovery_resets_the_breach_streak() -> None:
    """An ok value between breaches starts the `for` count again."""
    ev, clock = make(FakeMetricSource([0.5, 0.5, 0.0, 0.5, 0.5, 0.5]), **{"for": "60s"})
    fired = [e.fired for e in await run(ev, clock, 6)]
    assert fired == [False, False, False, False, False, True]


async def test_fires_once_while_the_breach_lasts() -> None:
    """A trigger that keeps breaching stays firing without firing again; after recovery it can fire again."""
    ev, clock = make(FakeMetricSource([0.5, 0.6, 0.7, 0.0, 0.9]))
    evs = await run(ev, clock, 5)
    assert [e.fired for e in evs] == [True, False, False, False, True]
    assert [e.state for e in evs][:3] == [TriggerState.FIRING] * 3


async def test_no_data_fail_is_a_breach_that_fires_at_once_with_for_zero() -> None:
    """no_data: fail treats an empty result as a breach; with for: 0 it fires immediately."""
    ev, _ = make(FakeMetricSource([None]), no_data="fail")
    e = await ev.evaluate_once()
    assert (e.state, e.fired, e.status) == (TriggerState.FIRING, True, "no_data")
    assert "no data" in e.reason


async def test_no_data_fail_respects_for() -> None:
    """no_data: fail with for: 60s is pending until no data has lasted 60s."""
    ev, clock = make(FakeMetricSource([None]), no_data="fail", **{"for": "60s"})
    assert [e.state for e in await run(ev, clock, 3)] == [
        TriggerState.PENDING,
        TriggerState.PENDING,
        TriggerState.FIRING,
    ]


async def test_no_data_ignore_counts_as_ok_and_resets_the_streak() -> None:
    """no_data: ignore never fires on no data and breaks a breach streak."""
    ev, clock = make(FakeMetricSource([0.5, None, 0.5, None, None]), no_data="ignore", **{"for": "30s"})
    evs = await run(ev, clock, 5)
    assert [e.fired for e in evs] == [False] * 5
    assert evs[1].state is TriggerState.NO_DATA
    assert evs[1].consecutive_breaches == 0


async def test_no_data_hold_keeps_the_streak() -> None:
    """no_data: hold changes nothing: a breach streak interrupted by no data still fires on time."""
    ev, clock = make(FakeMetricSource([0.5, None, 0.5]), no_data="hold", **{"for": "60s"})
    evs = await run(ev, clock, 3)
    assert [e.state for e in evs] == [TriggerState.PENDING, TriggerState.HELD, TriggerState.FIRING]
    assert evs[1].breached is None
    assert evs[2].fired


async def test_no_data_hold_does_not_fire_again_when_already_firing() -> None:
    """A firing trigger held by no data does not count as a new fire when the breach is seen again."""
    ev, clock = make(FakeMetricSource([0.5, None, 0.5]), no_data="hold")
    assert [e.fired for e in await run(ev, clock, 3)] == [True, False, False]


async def test_nan_is_no_data() -> None:
    """NaN (Prometheus' 0/0) is no data, not a value: under no_data: fail it fires."""
    ev, _ = make(FakeMetricSource([float("nan")]), no_data="fail")
    e = await ev.evaluate_once()
    assert (e.status, e.value, e.fired) == ("no_data", None, True)


async def test_nan_in_an_ok_reading_is_no_data_too() -> None:
    """A source that hands back status ok with a NaN value is treated as no data (ignore: not a breach)."""
    ev, _ = make(FakeMetricSource([results.MetricReading(status="ok", value=float("nan"))]), no_data="ignore")
    e = await ev.evaluate_once()
    assert (e.status, e.state) == ("no_data", TriggerState.NO_DATA)


async def test_errors_below_max_are_not_a_fire() -> None:
    """Fewer than max_errors consecutive errors leave the trigger in state error, not firing."""
    src = FakeMetricSource()
    src.fail("connection refused")
    ev, clock = make(src, max_errors=3)
    evs = await run(ev, clock, 2)
    assert [(e.state, e.fired, e.consecutive_errors) for e in evs] == [
        (TriggerState.ERROR, False, 1),
        (TriggerState.ERROR, False, 2),
    ]


async def test_max_errors_fails_closed() -> None:
    """At max_errors consecutive errors the trigger fires with 'fails closed after N errors'."""
    src = FakeMetricSource()
    src.fail("connection refused")
    ev, clock = make(src, max_errors=3)
    e = (await run(ev, clock, 3))[-1]
    assert (e.state, e.fired) == (TriggerState.FIRING, True)
    assert e.reason.startswith("fails closed after 3 consecutive errors")
    assert "connection refused" in e.reason


async def test_a_good_reading_resets_the_error_count() -> None:
    """Errors must be consecutive: a good reading in between starts the count again."""
    err = results.MetricReading.failed("timeout")
    ev, clock = make(FakeMetricSource([err, err, 0.0, err, err]), max_errors=3)
    evs = await run(ev, clock, 5)
    assert [e.consecutive_errors for e in evs] == [1, 2, 0, 1, 2]
    assert not any(e.fired for e in evs)


async def test_an_exception_from_the_source_is_an_error_reading() -> None:
    """A source that raises gives an error reading (counted toward max_errors), never a pass."""
    src = FakeMetricSource()
    src.raise_(ConnectionError("refused"))
    ev, _ = make(src, max_errors=1)
    e = await ev.evaluate_once()
    assert (e.status, e.fired) == ("error", True)
    assert "ConnectionError" in e.reason


async def test_a_source_that_hangs_times_out_as_an_error() -> None:
    """A read that does not answer within the read timeout is an error."""
    never = asyncio.Event()

    async def hang() -> results.MetricReading:
        await never.wait()
        raise AssertionError("unreachable")

    ev = TriggerEvaluator(trig(), lambda ref: hang, FakeClock(), read_timeout=0.01)
    e = await ev.evaluate_once()
    assert e.status == "error"
    assert "did not answer" in e.reason


async def test_a_condition_that_cannot_be_evaluated_is_an_error() -> None:
    """`when` that does not fit the value (string vs number) is an error, not a pass."""
    ev, _ = make(FakeMetricSource([0.5]), when="value > 'high'", max_errors=1)
    e = await ev.evaluate_once()
    assert (e.status, e.state) == ("error", TriggerState.FIRING)


async def test_errors_are_redacted() -> None:
    """Error messages pass through the redactor before they reach an evaluation."""
    src = FakeMetricSource()
    src.fail("auth failed for token s3cr3t")
    ev = TriggerEvaluator(trig(), lambda ref: src.read, FakeClock(), redact=lambda s: s.replace("s3cr3t", "***"))
    e = await ev.evaluate_once()
    assert "s3cr3t" not in e.reason
    assert "***" in e.reason


async def test_manual_trigger_reads_nothing_until_raised() -> None:
    """A trigger without a source is a no-op when evaluated and fires when a person raises it."""
    ev = TriggerEvaluator(models.Trigger(id="security-incident", then="rollback"), None, FakeClock())
    assert ev.manual
    e = await ev.evaluate_once()
    assert (e.state, e.fired, e.status) == (TriggerState.OK, False, "manual")
    raised = ev.fire("critical security incident", actor="alice")
    assert (raised.state, raised.fired) == (TriggerState.FIRING, True)
    assert "alice" in raised.reason


def test_a_trigger_with_a_source_needs_a_factory() -> None:
    """Building an evaluator for a sourced trigger without a source factory is refused."""
    with pytest.raises(ValueError, match="source_factory"):
        TriggerEvaluator(trig(), None, FakeClock())


async def test_history_is_bounded_and_keeps_no_data_gaps() -> None:
    """The sparkline history keeps the last N readings, with None for no data."""
    src = FakeMetricSource([1.0, None, 2.0, 3.0])
    ev = TriggerEvaluator(trig(no_data="ignore"), lambda ref: src.read, FakeClock(), history_points=3)
    for _ in range(4):
        await ev.evaluate_once()
    assert [v for _, v in ev.history] == [None, 2.0, 3.0]


async def test_event_data_is_json_ready() -> None:
    """An evaluation's event data carries the trigger id, value, state, threshold text and response."""
    ev, _ = make(FakeMetricSource([0.5]), then="pause", severity="high")
    data = (await ev.evaluate_once()).event_data()
    assert data["trigger_id"] == "payout-errors"
    assert (data["value"], data["state"], data["when"], data["then"], data["severity"]) == (
        0.5,
        "firing",
        "value > 0.15",
        "pause",
        "high",
    )
    assert data["ts"].endswith("Z")
