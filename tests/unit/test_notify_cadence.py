"""The update cadence under the injected clock: which status updates are due, and how many per tier."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from golive.notify import MemoryChannel, Notifier, cadence
from golive.spec import models
from golive.testing import FakeClock

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MIN = 60.0  # seconds
HOUR = 3600.0  # seconds


def _at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def _simulate(go_after: float, total: float, step: float = MIN) -> Counter[str]:
    """Status updates per tier in a run that starts at START, GOes after ``go_after`` seconds and is
    watched for ``total`` seconds, the clock moving ``step`` seconds at a time."""
    tiers = cadence.DEFAULT_CADENCE
    sent: dict[str, int] = {}
    per_tier: Counter[str] = Counter()
    t = 0.0
    while t <= total:
        now = START + timedelta(seconds=t)
        anchors = cadence.Anchors(START, START + timedelta(seconds=go_after) if t >= go_after else None)
        for d in cadence.due(tiers, anchors, sent, now):
            assert d.missed == 0
            sent[d.tier] = d.slot
            per_tier[d.tier] += 1
        t += step
    return per_tier


def test_default_cadence_counts_over_24_hours() -> None:
    """GO 75m after start, watched to GO+24h: 4 cutover updates (15-60m; 75m is the GO itself), 4 in the
    first two hours after GO (30, 60, 90, 120m) and 22 hourly ones (3h..24h)."""
    counts = _simulate(go_after=75 * MIN, total=75 * MIN + 24 * HOUR + 30 * MIN)
    assert counts == Counter({"cutover": 4, "first-2h": 4, "2h-24h": 22})


def test_cutover_tier_includes_a_slot_just_before_go() -> None:
    """A GO one minute after the 75m slot leaves that slot in the cutover tier (5 updates)."""
    counts = _simulate(go_after=76 * MIN, total=76 * MIN + 3 * HOUR)
    assert counts["cutover"] == 5


def test_window_is_open_at_from_and_closed_at_until() -> None:
    """The schedule of the GO tiers: first at GO+30m, last of the first tier at GO+2h, the next tier
    starts at GO+3h and ends at GO+24h."""
    go = _at(0)
    anchors = cadence.Anchors(go - timedelta(hours=1), go)
    plan = [d for d in cadence.schedule(cadence.DEFAULT_CADENCE, anchors, go + timedelta(days=3)) if d.anchor == "go"]
    first = [d.due_at - go for d in plan if d.tier == "first-2h"]
    hourly = [d.due_at - go for d in plan if d.tier == "2h-24h"]
    assert first == [timedelta(minutes=m) for m in (30, 60, 90, 120)]
    assert hourly[0] == timedelta(hours=3)
    assert hourly[-1] == timedelta(hours=24)
    assert len(hourly) == 22


def test_go_tiers_wait_for_go() -> None:
    """Without a GO, only the start-anchored tier speaks, however long the cutover."""
    anchors = cadence.Anchors(START)
    plan = cadence.schedule(cadence.DEFAULT_CADENCE, anchors, _at(300))
    assert {d.tier for d in plan} == {"cutover"}
    assert len(plan) == 20


def test_nothing_is_due_after_the_run_ended() -> None:
    """A run that ended (rolled back at 50m) has its 15m, 30m and 45m updates and nothing after."""
    anchors = cadence.Anchors(START, None, _at(50))
    assert [d.slot for d in cadence.schedule(cadence.DEFAULT_CADENCE, anchors, _at(600))] == [1, 2, 3]
    assert cadence.due(cadence.DEFAULT_CADENCE, anchors, {"cutover": 3}, _at(600)) == []
    assert cadence.next_due(cadence.DEFAULT_CADENCE, anchors, {"cutover": 3}, _at(600)) is None


def test_missed_updates_are_coalesced_into_the_latest() -> None:
    """After two hours without a tick, one update is due (slot 8) and it says it replaces 7."""
    [d] = cadence.due(cadence.DEFAULT_CADENCE, cadence.Anchors(START), {}, _at(125))
    assert (d.tier, d.slot, d.missed, d.due_at) == ("cutover", 8, 7, _at(120))


def test_next_due_is_the_next_slot_on_the_grid() -> None:
    """At 20m with slot 1 sent, the next update is slot 2 at 30m; after the 24h tier, nothing."""
    tiers = cadence.DEFAULT_CADENCE
    nxt = cadence.next_due(tiers, cadence.Anchors(START), {"cutover": 1}, _at(20))
    assert nxt is not None
    assert (nxt.tier, nxt.slot, nxt.due_at) == ("cutover", 2, _at(30))
    go = _at(60)
    late = go + timedelta(hours=25)
    done = {"cutover": 3, "first-2h": 4, "2h-24h": 22}
    assert cadence.next_due(tiers, cadence.Anchors(START, go), done, late) is None


def test_next_due_returns_an_unsent_due_slot_first() -> None:
    """A slot due and not yet sent is what is due next, before any future one."""
    nxt = cadence.next_due(cadence.DEFAULT_CADENCE, cadence.Anchors(START), {}, _at(16))
    assert nxt is not None
    assert (nxt.slot, nxt.due_at) == (1, _at(15))


def test_default_cadence_applies_only_when_the_runbook_is_silent() -> None:
    """No cadence key: the seed's three tiers. `cadence: []`: no status updates."""
    assert cadence.tiers_for(models.Comms()) == cadence.DEFAULT_CADENCE
    assert cadence.tiers_for(models.Comms.model_validate({"cadence": []})) == ()


def test_tier_keys_are_unique() -> None:
    """Unnamed tiers are tier-N; a repeated name gets its position appended."""
    tiers = [models.CadenceTier.model_validate({"every": "5m", "name": n}) for n in ("", "x", "x")]
    assert cadence.tier_keys(tiers) == ["tier-1", "x", "x-3"]


@pytest.mark.parametrize("bad", [{"every": "0s"}, {"every": "5m", "from": "2h", "until": "1h"}])
def test_tier_refuses_an_empty_or_endless_window(bad: dict[str, Any]) -> None:
    """A zero interval or an until before from is refused when the runbook loads."""
    with pytest.raises(pydantic.ValidationError):
        models.CadenceTier.model_validate(bad)


async def test_notifier_loop_sends_the_right_number_per_tier_in_a_simulated_day() -> None:
    """Notifier.run_cadence on a FakeClock: GO at 75m, run watched 24h30m after GO; records per tier are
    4/4/22 and each status update text has the run's state."""
    clock = FakeClock(START)
    records: list[dict[str, Any]] = []

    async def record(payload: dict[str, Any]) -> None:
        records.append(payload)

    log = MemoryChannel("log")
    notifier = Notifier(models.Comms(), lambda s: s, clock, record, channel_objects={"log": log})
    go_at = _at(75)
    stop_at = go_at + timedelta(hours=24, minutes=30)

    def anchors() -> cadence.Anchors:
        return cadence.Anchors(START, go_at if clock.now() >= go_at else None)

    def state() -> dict[str, Any]:
        return {"current_phase": "Hypercare" if clock.now() >= go_at else "Deploy+Smoke", "steps_passed": 3}

    sent = await notifier.run_cadence(anchors, state, lambda: clock.now() >= stop_at)
    per_tier = Counter(r["tier"] for r in records)
    assert per_tier == Counter({"cutover": 4, "first-2h": 4, "2h-24h": 22})
    assert sent == 30
    assert all(r["event"] == "status_update" and r["ok"] for r in records)
    assert log.bodies[0] == "Status update 15m: Deploy+Smoke. Steps: 3 passed, 0 failed."
    assert [r["due_at"] for r in records[:2]] == ["2026-03-01T09:15:00.000000Z", "2026-03-01T09:30:00.000000Z"]
