"""Hypercare: the tiered schedule, slots run once, missed slots, alerts and the control reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from golive import results
from golive.spec import models
from golive.testing import FakeClock
from golive.watch.hypercare import HypercareRunner, schedule

GO = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
H = 3600.0  # seconds


def seed_spec(**kw: Any) -> models.HypercareSpec:
    """The payments seed: 0-6h every 30m, 6-24h hourly, 24-72h 3x daily; 24-hour control report."""
    data: dict[str, Any] = {
        "tiers": [
            {"from": "0h", "until": "6h", "every": "30m"},
            {"from": "6h", "until": "24h", "every": "1h"},
            {"from": "24h", "until": "72h", "times_per_day": 3},
        ],
        "checks": [
            {"id": "stuck-jobs", "kind": "check", "type": "command", "with": {"run": "detect_stuck_finance_jobs.py"}},
            {"id": "error-rate", "kind": "check", "type": "http", "with": {"url": "http://127.0.0.1/health"}},
        ],
        "reports": [
            {"id": "control-24h", "title": "24 hours control report", "at": "24h"},
            {"id": "stable-72h", "title": "72 hours stable", "at": "72h"},
        ],
        "focus": ["5xx rates", "Queue Backlog"],
        "role": "ic",
    }
    data.update(kw)
    return models.HypercareSpec.model_validate(data)


class Harness:
    """Records everything a runner does, with the fake clock's time."""

    def __init__(self, clock: FakeClock, fail: set[tuple[str, float]] | None = None) -> None:
        self.clock = clock
        self.fail = fail or set()  # (check id, hours after GO) that fail
        self.runs: list[tuple[str, datetime]] = []
        self.events: list[dict[str, Any]] = []
        self.reports: list[tuple[str, datetime, dict[str, Any]]] = []

    async def run_check(self, step: models.Step) -> results.Result:
        now = self.clock.now()
        self.runs.append((step.id, now))
        hours = (now - GO).total_seconds() / H
        if (step.id, hours) in self.fail:
            return results.Result.fail("3 stuck payouts older than 15m")
        return results.Result.ok("0 stuck")

    async def record(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    async def write_report(self, report: models.HypercareReport, summary: dict[str, Any]) -> None:
        self.reports.append((report.id, self.clock.now(), summary))

    def runner(self, spec: models.HypercareSpec, **kw: Any) -> HypercareRunner:
        return HypercareRunner(spec, GO, self.clock, self.run_check, self.record, self.write_report, **kw)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events if e["type"] == kind]


def hours(ticks: list[datetime]) -> list[float]:
    return [(t - GO).total_seconds() / H for t in ticks]


def test_seed_tiers_give_exactly_37_ticks() -> None:
    """0-6h every 30m (12), 6-24h hourly (18), 24-72h 3x daily (6), plus the closing tick at 72h."""
    ticks = hours(schedule(seed_spec().tiers, GO))
    assert len(ticks) == 37
    assert len([t for t in ticks if t < 6]) == 12
    assert len([t for t in ticks if 6 <= t < 24]) == 18
    assert len([t for t in ticks if 24 <= t < 72]) == 6
    assert ticks[0] == 0.0
    assert ticks[-1] == 72.0
    assert [t for t in ticks if t >= 24] == [24, 32, 40, 48, 56, 64, 72]


def test_tier_boundaries_appear_once() -> None:
    """The tick at a boundary shared by two tiers (6h, 24h) is not duplicated."""
    ticks = hours(schedule(seed_spec().tiers, GO))
    assert ticks.count(6.0) == 1
    assert ticks.count(24.0) == 1
    assert ticks == sorted(set(ticks))


def test_overlapping_tiers_are_merged() -> None:
    """Ticks of overlapping tiers are the sorted union."""
    tiers = [
        models.HypercareTier.model_validate({"from": "0h", "until": "2h", "every": "1h"}),
        models.HypercareTier.model_validate({"from": "0h", "until": "2h", "every": "30m"}),
    ]
    assert hours(schedule(tiers, GO)) == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_no_tiers_no_ticks() -> None:
    """A hypercare without tiers has no schedule."""
    assert schedule((), GO) == []


async def test_simulated_72_hours_runs_every_check_once_per_tick_and_writes_the_24h_report() -> None:
    """72 hours on the fake clock: each scheduled tick runs each check exactly once, at the tick's time,
    and the 24-hour control report is written at 24h with pass counts per check."""
    clock = FakeClock(GO)
    h = Harness(clock)
    runner = h.runner(seed_spec())
    await runner.run_forever()
    ticks = schedule(seed_spec().tiers, GO)
    for check in ("stuck-jobs", "error-rate"):
        assert [at for cid, at in h.runs if cid == check] == ticks
    assert [(rid, at) for rid, at, _ in h.reports] == [
        ("control-24h", GO + timedelta(hours=24)),
        ("stable-72h", GO + timedelta(hours=72)),
    ]
    summary = h.reports[0][2]
    assert summary["status"] == "pass"
    assert summary["slots"] == {"scheduled": 31, "run": 31, "missed": 0}  # 12 + 18 + the 24h tick
    assert summary["checks"]["stuck-jobs"]["pass"] == 31
    assert summary["due_at"] == "2026-03-02T10:00:00.000000Z"
    assert len(h.of("hypercare_check")) == 2 * 37
    assert h.of("hypercare_alert") == []
    assert clock.now() == GO + timedelta(hours=72)


async def test_a_failing_check_alerts_and_appears_in_the_report_with_its_time() -> None:
    """A failed check records an alert, and the control report counts it and lists it with its slot time."""
    clock = FakeClock(GO)
    h = Harness(clock, fail={("stuck-jobs", 7.0)})
    await h.runner(seed_spec()).run_forever(until=GO + timedelta(hours=25))
    alerts = h.of("hypercare_alert")
    assert [(a["kind"], a["check_id"], a["slot"]) for a in alerts] == [
        ("check_failed", "stuck-jobs", "2026-03-01T17:00:00.000000Z")
    ]
    summary = h.reports[0][2]
    assert summary["status"] == "fail"
    assert summary["checks"]["stuck-jobs"]["fail"] == 1
    assert summary["failures"][0]["slot"] == "2026-03-01T17:00:00.000000Z"
    assert "stuck payouts" in summary["failures"][0]["summary"]


async def test_a_second_tick_at_the_same_time_does_nothing() -> None:
    """Ticking twice at the same instant runs each check once."""
    clock = FakeClock(GO + timedelta(minutes=45))
    h = Harness(clock)
    runner = h.runner(seed_spec())
    first = await runner.tick()
    second = await runner.tick()
    assert [c.check_id for c in first.checks] == ["stuck-jobs", "error-rate"]
    assert second.checks == []
    assert len(h.runs) == 2


async def test_a_restored_runner_does_not_repeat_done_slots_or_reports() -> None:
    """A runner restored from the event log (after a restart) skips the slots and reports already done."""
    clock = FakeClock(GO + timedelta(hours=24, minutes=10))
    h = Harness(clock)
    await h.runner(seed_spec()).tick()  # the 24h slot (earlier ones missed) and the 24h report
    assert len(h.reports) == 1
    again = Harness(clock)
    runner = again.runner(seed_spec())
    runner.restore(h.events)
    result = await runner.tick()
    assert result.checks == []
    assert result.reports == []
    assert again.events == []


async def test_slots_that_never_ran_are_recorded_as_missed_not_run_late() -> None:
    """Ticking first at 2h runs the 2h slot only; 0h to 1.5h are recorded as missed, with an alert."""
    clock = FakeClock(GO + timedelta(hours=2))
    h = Harness(clock)
    result = await h.runner(seed_spec()).tick()
    assert hours(result.missed) == [0.0, 0.5, 1.0, 1.5]
    assert {at for _, at in h.runs} == {GO + timedelta(hours=2)}
    assert len([a for a in h.of("hypercare_alert") if a["kind"] == "slot_missed"]) == 4
    assert not result.ok


async def test_a_check_that_raises_is_an_error_and_alerts() -> None:
    """A check that raises gives an error outcome and an alert, never a pass."""
    clock = FakeClock(GO)
    events: list[dict[str, Any]] = []

    async def boom(step: models.Step) -> results.Result:
        raise RuntimeError("ssh: connection refused")

    async def record(e: dict[str, Any]) -> None:
        events.append(e)

    async def write(r: models.HypercareReport, s: dict[str, Any]) -> None:
        return None

    result = await HypercareRunner(seed_spec(), GO, clock, boom, record, write).tick()
    assert {c.outcome for c in result.checks} == {results.Outcome.ERROR}
    assert len([e for e in events if e["type"] == "hypercare_alert"]) == 2


async def test_a_report_that_cannot_be_written_alerts_and_is_retried() -> None:
    """A report writer failure is alerted, the report stays unwritten and the next tick writes it."""
    clock = FakeClock(GO + timedelta(hours=24))
    h = Harness(clock)
    attempts = 0

    async def flaky(report: models.HypercareReport, summary: dict[str, Any]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise OSError("disk full")

    runner = HypercareRunner(seed_spec(), GO, clock, h.run_check, h.record, flaky)
    first = await runner.tick()
    assert first.report_failures == ["control-24h"]
    assert [a["kind"] for a in h.of("hypercare_alert")][-1] == "report_failed"
    clock.advance(60)
    second = await runner.tick()
    assert second.reports == ["control-24h"]
    assert [r["report"] for r in h.of("hypercare_report")] == ["control-24h"]


async def test_the_control_report_lists_triggers_fired_metrics_and_actions_from_the_run() -> None:
    """The 24h summary takes triggers fired, metric samples and actions from the run's events in its window."""
    clock = FakeClock(GO + timedelta(hours=24))
    h = Harness(clock)
    run_events = [
        {
            "type": "trigger_evaluated",
            "ts": "2026-03-01T11:00:00.000000Z",
            "data": {"trigger_id": "latency", "ts": "2026-03-01T11:00:00.000000Z", "value": 0.2},
        },
        {
            "type": "trigger_fired",
            "ts": "2026-03-01T12:00:00.000000Z",
            "data": {
                "trigger_id": "latency",
                "ts": "2026-03-01T12:00:00.000000Z",
                "value": 0.9,
                "then": "notify",
                "severity": "warning",
                "reason": "value 0.9",
            },
        },
        {
            "type": "action_finished",
            "ts": "2026-03-01T13:00:00.000000Z",
            "step_id": "scale-workers",
            "actor": "bob",
            "data": {"outcome": "pass", "summary": "scaled to 4"},
        },
        {
            "type": "action_finished",
            "ts": "2026-03-03T13:00:00.000000Z",
            "step_id": "too-late",
            "data": {"outcome": "pass"},
        },
    ]

    async def source() -> list[dict[str, Any]]:
        return run_events

    await h.runner(seed_spec(), events_source=source).tick()
    summary = h.reports[0][2]
    assert [t["trigger_id"] for t in summary["triggers_fired"]] == ["latency"]
    assert summary["metrics"]["latency"] == {"samples": 2, "min": 0.2, "max": 0.9, "last": 0.9}
    assert [a["step_id"] for a in summary["actions"]] == ["scale-workers"]
    assert summary["status"] == "fail"  # a trigger fired in the window


def test_go_time_must_be_aware() -> None:
    """A naive GO time is refused (all times are UTC)."""
    with pytest.raises(ValueError, match="timezone-aware"):
        HypercareRunner(seed_spec(), GO.replace(tzinfo=None), FakeClock(), None, None, None)  # type: ignore[arg-type]


def test_a_check_with_its_own_every_runs_on_its_own_grid_until_the_end() -> None:
    """A check with `every: 24h` runs at 0h, 24h, 48h and the closing 72h; one with 30m runs 145 times."""
    spec = seed_spec(
        checks=[
            {"id": "daily-recon", "kind": "check", "type": "command", "every": "24h", "with": {"run": "x"}},
            {"id": "stuck-jobs", "kind": "check", "type": "command", "every": "30m", "with": {"run": "x"}},
        ]
    )
    runner = HypercareRunner(spec, GO, FakeClock(GO), None, None, None)  # type: ignore[arg-type]
    assert hours(runner.check_ticks["daily-recon"]) == [0.0, 24.0, 48.0, 72.0]
    assert len(runner.check_ticks["stuck-jobs"]) == 145


async def test_simulated_72_hours_with_own_cadences_and_a_manual_check() -> None:
    """Each check runs exactly on its own schedule; a manual check is never run and is listed in the report."""
    spec = seed_spec(
        checks=[
            {"id": "daily-recon", "kind": "check", "type": "command", "every": "24h", "with": {"run": "x"}},
            {"id": "error-rate", "kind": "check", "type": "http", "with": {"url": "http://127.0.0.1/health"}},
            {"id": "ledger-recon", "kind": "manual", "role": "payments-owner"},
        ]
    )
    clock = FakeClock(GO)
    h = Harness(clock)
    runner = h.runner(spec)
    await runner.run_forever()
    assert [at for cid, at in h.runs if cid == "daily-recon"] == runner.check_ticks["daily-recon"]
    assert [at for cid, at in h.runs if cid == "error-rate"] == schedule(spec.tiers, GO)
    assert not any(cid == "ledger-recon" for cid, _ in h.runs)
    summary = h.reports[0][2]
    assert summary["manual_checks"] == ["ledger-recon"]
    assert summary["checks"]["daily-recon"] == {
        "scheduled": 2,
        "runs": 2,
        "pass": 2,
        "warn": 0,
        "fail": 0,
        "error": 0,
        "last": "pass",
    }
    assert h.of("hypercare_missed") == []


async def test_the_companion_speaks_within_hypercare_and_never_keeps_it_running() -> None:
    """A companion (the run's status updates) is called at each tick and woken when it is next due, but a
    wake after hypercare's end does not keep a finished hypercare running."""
    clock = FakeClock(GO)
    h = Harness(clock)
    calls: list[datetime] = []

    async def companion(now: datetime) -> datetime | None:
        calls.append(now)
        return now + timedelta(hours=100)  # beyond the 72 h end

    runner = h.runner(seed_spec(), companion=companion)
    await runner.run_forever()
    assert clock.now() == GO + timedelta(hours=72)
    assert len(calls) == len(schedule(seed_spec().tiers, GO))
