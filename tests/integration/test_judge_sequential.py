"""A sequential judge in an observe window, through the engine under a fake clock: it looks every `step`
and stops the window at the first significant regression; a clean canary is watched to the end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pytest

from golive import results
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock, start_engine

LOOKS = 40  # readings scripted per source: more than the 30 looks of the window and the end judgement

RUNBOOK = """\
golive: 1
name: sequential-judge
roles:
  ic: {may: [decide, rollback]}
comms: {cadence: []}
phases:
  - id: canary
    steps:
      - id: soak
        kind: observe
        duration: 30m
        judge:
          sequential: true
          step: 1m
          metrics:
            - id: p99
              critical: true
              source: {type: fake, with: {name: canary}}
              baseline:
                source: {type: fake, with: {name: stable}}
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: [echo, reverted]}}
"""


def script(level: float, seed: int) -> list[results.MetricReading]:
    """What a range query over the window so far answers at each look: one more point a minute."""
    rng = np.random.default_rng(seed)
    values = level + rng.normal(0.0, 0.01, LOOKS + 1)
    out = []
    for k in range(1, LOOKS + 1):
        points = tuple((60.0 * i, float(v)) for i, v in enumerate(values[: k + 1]))
        out.append(results.MetricReading(status="ok", value=points[-1][1], series=points))
    return out


@pytest.mark.parametrize("canary_level", [0.33, 0.25], ids=["regressed", "clean"])
async def test_a_sequential_judge_stops_the_window_at_the_first_significant_look(
    store: sqlite.SqliteStore, fake_metrics: Any, canary_level: float
) -> None:
    """p99 0.33 s against the stable fleet's 0.25 s: rolled back at the first look with 20 samples a side
    (18 minutes into a 30-minute window). Equal levels: watched for 30 minutes, then the end
    judgement passes."""
    from golive.testing import FakeMetricSource

    fake_metrics.sources["canary"] = FakeMetricSource(script(canary_level, 1))
    fake_metrics.sources["stable"] = FakeMetricSource(script(0.25, 2))
    loaded = loader.load_text(RUNBOOK, "sequential.yaml", environ={})
    running = await start_engine(store, loaded, roles={"ic": "alice"}, clock=FakeClock())
    await running.finished()
    h = await running.view()
    events = await store.events(h.run_id)
    looks = [
        e for e in events if e.type in ("trigger_evaluated", "trigger_fired") and e.data["trigger_id"] == "soak.judge"
    ]
    assert looks, "the sequential judge looked"
    if canary_level == 0.25:
        assert h.state.status is RunStatus.PASSED, h.state.reason
        assert h.state.step("soak").details["judge"]["verdict"] == "PASS"
        assert not any(e.type == "trigger_fired" for e in events)
        return
    assert h.state.status is RunStatus.ROLLED_BACK
    fired = next(e for e in events if e.type == "trigger_fired")
    assert fired.data["trigger_id"] == "soak.judge"
    assert "sequential judge FAIL" in fired.data["reason"]
    # On the engine's (fake) clock: the first look is at the window's start, one a minute after that; the
    # look that first has 20 samples a side is 18 minutes in.
    first_look = datetime.fromisoformat(looks[0].data["ts"])
    after = (datetime.fromisoformat(fired.data["ts"]) - first_look).total_seconds()
    assert after == pytest.approx(18 * 60)
    assert len(looks) == 19
    assert h.state.rollback is not None
    assert h.state.rollback["by"] == "trigger:soak.judge"
