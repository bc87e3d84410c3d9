"""Observation windows: pass when nothing fires, return at once on rollback/pause, notify keeps going."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from golive import results
from golive.spec import models
from golive.testing import FakeClock, FakeMetricSource
from golive.watch import samples as samples_mod
from golive.watch.observe import observe
from golive.watch.triggers import TriggerEvaluator


def trig(tid: str, **kw: Any) -> models.Trigger:
    data: dict[str, Any] = {"id": tid, "source": {"type": "fake"}, "when": "value > 0.15", "interval": "10s"}
    data.update(kw)
    return models.Trigger.model_validate(data)


class Events:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    async def __call__(self, event: dict[str, Any]) -> None:
        self.items.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.items if e["type"] == kind]


async def test_passes_when_no_trigger_fires_for_the_whole_duration() -> None:
    """A window with healthy values passes after its duration, evaluating every interval on the grid."""
    clock = FakeClock()
    src = FakeMetricSource()
    src.set(0.01)
    ev = TriggerEvaluator(trig("errors"), lambda r: src.read, clock)
    events = Events()
    res = await observe(60.0, [ev], clock, events)
    assert res.passed
    assert res.outcome == "passed"
    assert src.reads == 6  # t = 0, 10, ..., 50
    assert res.elapsed == pytest.approx(60.0)


async def test_rollback_trigger_returns_at_once_with_the_trigger_and_reason() -> None:
    """When a rollback trigger fires the window ends at that evaluation, not at its duration."""
    clock = FakeClock()
    src = FakeMetricSource([0.0, 0.0, 0.4])
    ev = TriggerEvaluator(trig("payout-5xx", then="rollback"), lambda r: src.read, clock)
    events = Events()
    res = await observe(3600.0, [ev], clock, events)
    assert (res.passed, res.outcome, res.trigger_id, res.then) == (False, "fired", "payout-5xx", "rollback")
    assert "0.4" in res.reason
    assert res.elapsed == pytest.approx(20.0)
    assert [d["trigger_id"] for d in events.of("trigger_fired")] == ["payout-5xx"]


async def test_rollback_returns_without_waiting_for_a_slow_source() -> None:
    """A rollback fire returns while another trigger's read is still hanging; that read is cancelled."""
    clock = FakeClock()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def hang() -> results.MetricReading:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    bad = FakeMetricSource([0.9])
    slow = TriggerEvaluator(trig("latency", then="notify"), lambda r: hang, clock, read_timeout=3600)
    fast = TriggerEvaluator(trig("payout-5xx"), lambda r: bad.read, clock)
    res = await observe(600.0, [slow, fast], clock, Events())
    assert res.trigger_id == "payout-5xx"
    assert started.is_set()
    assert cancelled.is_set()


async def test_notify_trigger_reports_and_the_window_goes_on() -> None:
    """A notify trigger's fire is recorded and listed, and the window still passes."""
    clock = FakeClock()
    src = FakeMetricSource([0.0, 0.5, 0.5, 0.5, 0.0, 0.0])
    ev = TriggerEvaluator(trig("latency-spike", then="notify", severity="warning"), lambda r: src.read, clock)
    events = Events()
    res = await observe(60.0, [ev], clock, events)
    assert res.passed
    assert res.notified == ("latency-spike",)
    assert len(events.of("trigger_fired")) == 1
    assert src.reads == 6


async def test_pause_trigger_returns_with_deadline_and_default() -> None:
    """A pause trigger ends the window with the IC's deadline (fire time + deadline) and default."""
    clock = FakeClock()
    src = FakeMetricSource([0.0, 0.5])
    ev = TriggerEvaluator(trig("backlog", then="pause", deadline="5m", default="rollback"), lambda r: src.read, clock)
    res = await observe(600.0, [ev], clock, Events())
    assert (res.outcome, res.then, res.default) == ("fired", "pause", "rollback")
    assert res.fired_at is not None
    assert res.deadline_at == res.fired_at + timedelta(minutes=5)


async def test_pause_without_deadline_uses_the_default_deadline() -> None:
    """A pause trigger without a deadline uses the one observe is given (the runbook's decision deadline)."""
    clock = FakeClock()
    src = FakeMetricSource([0.5])
    ev = TriggerEvaluator(trig("backlog", then="pause"), lambda r: src.read, clock)
    res = await observe(600.0, [ev], clock, Events(), default_deadline=120.0)
    assert res.fired_at is not None
    assert res.deadline_at == res.fired_at + timedelta(seconds=120)


async def test_rollback_wins_over_pause_in_the_same_instant() -> None:
    """When a rollback and a pause trigger fire at the same evaluation time, the result is the rollback."""
    clock = FakeClock()
    a, b = FakeMetricSource([0.5]), FakeMetricSource([0.5])
    pause = TriggerEvaluator(trig("backlog", then="pause"), lambda r: a.read, clock)
    rollback = TriggerEvaluator(trig("ledger", then="rollback"), lambda r: b.read, clock)
    res = await observe(600.0, [pause, rollback], clock, Events())
    assert (res.trigger_id, res.then) == ("ledger", "rollback")


async def test_stop_event_ends_the_window_without_a_pass() -> None:
    """Setting `stop` (a person raised a trigger or started the rollback) ends the window, not passed."""
    clock = FakeClock()
    src = FakeMetricSource()
    src.set(0.0)
    stop = asyncio.Event()

    async def on_event(event: dict[str, Any]) -> None:
        if src.reads >= 3:
            stop.set()

    ev = TriggerEvaluator(trig("errors"), lambda r: src.read, clock)
    res = await observe(3600.0, [ev], clock, on_event, stop)
    assert (res.passed, res.outcome) == (False, "stopped")


async def test_errors_fail_closed_and_end_the_window() -> None:
    """A source that keeps failing fires its rollback trigger after max_errors: the window does not pass."""
    clock = FakeClock()
    src = FakeMetricSource()
    src.fail("connection refused")
    ev = TriggerEvaluator(trig("errors", max_errors=3), lambda r: src.read, clock)
    res = await observe(600.0, [ev], clock, Events())
    assert (res.passed, res.trigger_id) == (False, "errors")
    assert "fails closed after 3" in res.reason


async def test_triggers_with_different_intervals_each_keep_their_own_grid() -> None:
    """Two triggers at 10s and 25s over 100s are read 10 and 4 times."""
    clock = FakeClock()
    a, b = FakeMetricSource(), FakeMetricSource()
    a.set(0.0)
    b.set(0.0)
    ea = TriggerEvaluator(trig("a", interval="10s"), lambda r: a.read, clock)
    eb = TriggerEvaluator(trig("b", interval="25s"), lambda r: b.read, clock)
    res = await observe(100.0, [ea, eb], clock, Events())
    assert res.passed
    assert (a.reads, b.reads) == (10, 4)


async def test_manual_triggers_are_not_polled() -> None:
    """A trigger without a source does not stop a window from passing and is never read."""
    clock = FakeClock()
    ev = TriggerEvaluator(models.Trigger(id="security-incident"), None, clock)
    res = await observe(60.0, [ev], clock, Events())
    assert res.passed
    assert res.evaluations == 0


async def test_readings_are_batched_about_one_event_a_minute_with_every_sample_and_the_clear_at_once() -> None:
    """A 1-hour window at 1s writes about one event per minute (plus the fire and the clear), the batches hold
    all 3600 readings, and the recovery one second after the fire is written at once."""
    clock = FakeClock()
    src = FakeMetricSource([0.0] * 100 + [0.3] + [0.0] * 10000)
    ev = TriggerEvaluator(trig("errors", interval="1s", then="notify"), lambda r: src.read, clock)
    events = Events()
    res = await observe(3600.0, [ev], clock, events)
    evaluated = events.of("trigger_evaluated")
    assert res.evaluations == 3600
    assert len(evaluated) + len(events.of("trigger_fired")) <= 3600 / samples_mod.BATCH_PERIOD + 4
    stamps = [s[0] for d in evaluated + events.of("trigger_fired") for s in d["samples"]]
    assert len(stamps) == len(set(stamps)) == 3600
    fired_at = datetime.fromisoformat(events.of("trigger_fired")[0]["ts"])
    recovered = (fired_at + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    [clear] = [d for d in evaluated if d["ts"] == recovered]
    assert clear["state"] == "ok"
    assert [s[0] for s in clear["samples"]] == [recovered]


async def test_a_zero_duration_is_refused() -> None:
    """An observe window needs a positive duration."""
    with pytest.raises(ValueError, match="positive duration"):
        await observe(0.0, [], FakeClock(), Events())


async def test_a_rollback_trigger_still_firing_from_before_ends_the_next_window() -> None:
    """A breach that began before the window (the trigger already fired) ends the window at once."""
    clock = FakeClock()
    src = FakeMetricSource()
    src.set(0.9)
    ev = TriggerEvaluator(trig("ledger"), lambda r: src.read, clock)
    assert (await ev.evaluate_once()).fired
    events = Events()
    res = await observe(600.0, [ev], clock, events)
    assert (res.outcome, res.trigger_id) == ("fired", "ledger")
    assert res.elapsed == 0.0
    assert events.of("trigger_evaluated")[-1]["state"] == "firing"


async def test_a_reset_trigger_must_breach_for_its_duration_again() -> None:
    """After reset() (the IC chose to continue) a trigger fires again only once `for` has passed anew."""
    clock = FakeClock()
    src = FakeMetricSource()
    src.set(0.9)
    ev = TriggerEvaluator(trig("backlog", then="pause", **{"for": "30s"}), lambda r: src.read, clock)
    first = await observe(600.0, [ev], clock, Events())
    assert first.elapsed == 30.0
    ev.reset()
    second = await observe(600.0, [ev], clock, Events())
    assert (second.outcome, second.elapsed) == ("fired", 30.0)


async def test_a_window_watched_only_by_pause_triggers_says_no_pause_trigger_fired() -> None:
    """The summary names the responses really watched: `no pause trigger fired`, not `no rollback ...`."""
    clock = FakeClock()
    src = FakeMetricSource()
    src.set(0.01)
    ev = TriggerEvaluator(trig("latency", then="pause"), lambda r: src.read, clock)
    res = await observe(30.0, [ev], clock, Events())
    assert res.summary.startswith("no pause trigger fired in 30s")
    both = [ev, TriggerEvaluator(trig("errors"), lambda r: src.read, clock)]
    res = await observe(30.0, both, clock, Events())
    assert res.summary.startswith("no rollback or pause trigger fired in 30s")
