"""A time-scaled, stubbed rehearsal of the payments example: its 2-hour observe window and 72 hours of
hypercare in about a minute and a half, with the schedule's hypercare slots, reports, decision and status
updates as the schedule says and as an unscaled run under the fake clock has them."""

from __future__ import annotations

import asyncio
import collections
import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from golive import clock as clock_mod
from golive.engine import rehearsal, scenario
from golive.engine.state import RunStatus, parse_ts
from golive.spec import loader
from golive.store import open_store
from golive.testing import rehearse, write_log_lines
from golive.watch import hypercare

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "examples" / "payments-go-live.yaml"
STUBS = ROOT / "examples" / "stubs" / "payments-go-live.yaml"
PEOPLE = scenario.load_scenario(ROOT / "examples" / "scenarios" / "payments-go-live" / "go.yaml").scenario


def _loaded(tmp_path: Path) -> Any:
    return loader.load(str(RUNBOOK), var_overrides={**PEOPLE.vars, "api_log": str(tmp_path / "api.log")})


def _counts(events: list[Any]) -> dict[str, Any]:
    """What the schedule decides, and must not depend on the clock's speed."""
    comms = collections.Counter(
        e.data.get("tier")
        for e in events
        if e.type == "comms_sent" and e.data.get("tier") not in (None, "during-cutover")
    )
    return {
        # Every slot of the schedule is accounted for: run, or recorded as missed (a rehearsal scaled beyond what
        # the machine keeps up with misses slots visibly; it never drops them).
        "hypercare_slots": collections.Counter(
            [e.step_id for e in events if e.type == "hypercare_check"]
            + [c for e in events if e.type == "hypercare_missed" for c in e.data.get("check_ids") or ()]
        ),
        "hypercare_reports": sorted(str(e.data.get("report")) for e in events if e.type == "hypercare_report"),
        "cadence_after_go": dict(comms),
        "decisions": [e.data.get("decision") for e in events if e.type == "decision_recorded"],
        "steps_passed": sorted(
            e.step_id or ""
            for e in events
            if e.type in ("step_finished", "action_finished") and e.data.get("outcome") == "pass"
        ),
    }


async def _rehearse(tmp_path: Path, clock: Any, settings: rehearsal.RehearsalSettings, name: str) -> dict[str, Any]:
    store = open_store(str(tmp_path / f"{name}.db"))
    await store.open()
    try:
        # The API writes its webhook log as (run) time passes, as the live service would; the on-call then runs
        # `golive hypercare RUN`: every slot since GO is run or recorded as missed.
        res = await rehearse(
            store,
            _loaded(tmp_path),
            settings,
            clock,
            roles=dict(PEOPLE.roles),
            inputs=PEOPLE.confirm_inputs,
            helpers=[
                functools.partial(
                    write_log_lines, tmp_path / "api.log", line="{ts} webhook Signature Verified for evt_{n}", every=600
                )
            ],
            reports=tmp_path / name,
        )
        assert res.status is RunStatus.PASSED, (res.reason, res.refused)
        assert not res.unstubbed
        events = await store.events(res.run_id)
        first, last = parse_ts(events[0].ts), parse_ts(events[-1].ts)
        assert first is not None
        assert last is not None
        return _counts(events) | {"span_hours": (last - first).total_seconds() / 3600}
    finally:
        await store.close()


def test_payments_rehearsal_time_scaled_3600_keeps_the_schedule(tmp_path: Path) -> None:
    """The 2-hour window and 72 hours of hypercare at 3600x: every hypercare slot of the schedule is accounted
    for (run, or recorded as missed), the four reports are written, the decision and the first-2-hours status
    updates are as the schedule says, and every step ran against its stub."""
    settings = rehearsal.new_settings(time_scale=3600, stubs_path=STUBS)
    scaled = settings.clock()
    assert isinstance(scaled, clock_mod.ScaledClock)
    fast = asyncio.run(_rehearse(tmp_path, scaled, settings, "scaled"))
    # (The same rehearsal under the plain fake clock is not compared any more: its people's sleeps carry time
    # past an observe window's reads, which the watched-window rule rightly counts as unwatched. What follows
    # checks the scaled run against the schedule itself; `golive test` plays the payments example on a fake
    # clock that moves only when the run is idle, in tests/integration/test_scenarios.py.)

    # What the schedule says, independent of any clock: the tiers from GO for each hypercare check.
    spec = _loaded(tmp_path).runbook.hypercare
    go = datetime(2026, 1, 1, tzinfo=UTC)
    want = {c.id: len(hypercare.check_schedule(c, spec.tiers, go)) for c in spec.checks if c.kind.value == "check"}
    assert dict(fast["hypercare_slots"]) == want
    assert fast["hypercare_reports"] == ["control-24h", "first-6h", "first-report", "stable-72h"]
    assert fast["decisions"] == ["go"]
    # every 30 minutes from GO until GO+2h, on the war room and the log
    assert fast["cadence_after_go"].get("first-2-hours") == 8
    assert fast["span_hours"] > 72  # the cutover, then 72 hours of hypercare from GO, in scaled time
