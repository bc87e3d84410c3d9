"""Replay: every reading is in the log, and edited triggers and judges re-run on it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from golive.spec import models
from golive.testing import FakeClock, FakeMetricSource
from golive.watch import judge as judge_mod
from golive.watch import replay as replay_mod
from golive.watch.observe import observe
from golive.watch.triggers import TriggerEvaluator

VALUES = [0.01, 0.02, 0.05, 0.06, 0.07, 0.02, 0.01, 0.08, 0.09, 0.09] * 3  # one reading a second


def tdict(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": "errors", "source": {"type": "fake"}, "when": "value > 0.15", "interval": "1s"}
    return data | kw


def trig(**kw: Any) -> models.Trigger:
    return models.Trigger.model_validate(tdict(**kw))


def runbook(trigger: dict[str, Any], judge: dict[str, Any] | None = None) -> models.Runbook:
    steps: list[dict[str, Any]] = [{"id": "watch", "kind": "observe", "duration": "30s"}]
    if judge is not None:
        steps.append({"id": "judge", "kind": "check", "type": "judge", "with": judge})
    return models.Runbook.model_validate(
        {
            "golive": 1,
            "name": "r",
            "phases": [{"id": "p", "steps": steps}],
            "triggers": [trigger],
        }
    )


async def recorded_run() -> list[dict[str, Any]]:
    """A 30 s window of one reading a second, recorded as the engine records it, as run events."""
    clock = FakeClock()
    src = FakeMetricSource(list(VALUES))
    items: list[dict[str, Any]] = []

    async def on_event(ev: dict[str, Any]) -> None:
        items.append(ev)

    start = clock.now()
    res = await observe(30.0, [TriggerEvaluator(trig(), lambda r: src.read, clock)], clock, on_event)
    assert res.passed
    events: list[dict[str, Any]] = [
        {
            "seq": 1,
            "run_id": "r1",
            "type": "run_created",
            "ts": start.isoformat(),
            "data": {"anchor": start.isoformat()},
        },
        {"seq": 2, "run_id": "r1", "type": "step_started", "ts": start.isoformat(), "step_id": "watch", "data": {}},
    ]
    for i, ev in enumerate(items):
        events.append(
            {
                "seq": 3 + i,
                "run_id": "r1",
                "type": ev["type"],
                "ts": ev["data"]["ts"],
                "step_id": "watch",
                "data": ev["data"],
            }
        )
    end = clock.now().isoformat()
    events.append(
        {
            "seq": 1000,
            "run_id": "r1",
            "type": "step_finished",
            "ts": end,
            "step_id": "watch",
            "data": {"outcome": "pass"},
        }
    )
    events.append(
        {"seq": 1001, "run_id": "r1", "type": "run_finished", "ts": end, "data": {"status": "passed", "reason": "ok"}}
    )
    return events


async def test_every_reading_of_a_window_is_in_the_recorded_events() -> None:
    """Readings are batched (far fewer events than readings), and the batches hold all 30."""
    events = await recorded_run()
    recorded = [e for e in events if e["type"] in ("trigger_evaluated", "trigger_fired")]
    assert len(recorded) < 30
    seen = {r[0] for e in recorded for r in e["data"]["samples"]}
    assert len(seen) == 30


async def test_a_stricter_trigger_rolls_back_at_the_reading_that_completes_its_streak() -> None:
    """`value > 0.04 for 2s`: readings 3, 4, 5 (t = 2, 3, 4 s) breach; it fires at t = 4 s, T+4s."""
    events = await recorded_run()
    res = replay_mod.replay(events, runbook(tdict(when="value > 0.04", **{"for": "2s"})))
    stop = res.first_stop
    assert stop is not None
    window, fired = stop
    assert (window.step, fired["trigger_id"], fired["then"]) == ("watch", "errors", "rollback")
    assert res.t(replay_mod.parse_ts(fired["ts"])) == "T+4s"
    assert res.verdict().startswith("rollback at T+4s in watch")
    assert res.verdict().endswith("instead of PASSED")
    assert res.as_json()["would"]["t"] == "T+4s"


async def test_the_trigger_as_it_was_replays_to_no_rollback() -> None:
    """The original threshold (0.15) is never crossed: nothing would stop the window."""
    events = await recorded_run()
    res = replay_mod.replay(events, runbook(tdict()))
    assert res.first_stop is None
    assert res.windows[0].readings == 30
    assert res.verdict() == "no trigger would stop a window; the run would still end PASSED"


async def test_a_notify_trigger_fires_without_stopping_the_window() -> None:
    """A notify trigger is reported as fired but does not end the window."""
    events = await recorded_run()
    res = replay_mod.replay(events, runbook(tdict(when="value > 0.08", then="notify")))
    assert res.first_stop is None
    assert [f["then"] for f in res.windows[0].fired] == ["notify"] * 3


def test_a_judge_is_rejudged_on_its_recorded_samples() -> None:
    """A recorded PASS (a 6% shift, below the 10% floor) becomes FAIL with `min_effect: 0.05`."""
    rng = np.random.default_rng(3)
    base = rng.normal(250, 3, 60)
    judge_with = {
        "window": "30m",
        "baseline": {"offset": "1w"},
        "metrics": [
            {"id": "p99", "source": {"type": "prometheus", "with": {"url": "http://127.0.0.1:1", "query": "x"}}}
        ],
    }
    spec = models.Judge.model_validate(judge_with)
    samples = judge_mod.Samples(canary=tuple(base * 1.06), baseline=tuple(rng.normal(250, 3, 60)))
    was = judge_mod.judge(spec, {"p99": samples})
    assert was.verdict is judge_mod.Verdict.PASS
    events = [
        {
            "seq": 1,
            "run_id": "r",
            "type": "step_finished",
            "ts": "2026-01-01T00:00:00Z",
            "step_id": "judge",
            "data": {"outcome": "pass", "details": {"judge": was.event_data()}},
        },
    ]
    stricter = judge_with | {"metrics": [judge_with["metrics"][0] | {"min_effect": 0.05}]}
    res = replay_mod.replay(events, runbook(tdict(), judge=stricter))
    [j] = res.judges
    assert (j.step, j.was, j.now) == ("judge", "PASS", "FAIL")
    assert res.verdict().startswith("judge of judge would FAIL")
    same = replay_mod.replay(events, runbook(tdict(), judge=judge_with))
    assert same.judges[0].now == "PASS"


@pytest.mark.parametrize("anchor", [None])
def test_without_a_t0_times_are_times_of_day(anchor: Any) -> None:
    """No anchor recorded: the replay speaks in wall-clock times."""
    res = replay_mod.Replay("r", anchor, "passed", "", None, [], [], [])
    assert res.t(replay_mod.parse_ts("2026-01-01T10:11:12Z")) == "10:11:12"


def test_a_sequential_judge_is_replayed_look_by_look() -> None:
    """A window whose end-of-window judgement recorded 30 samples a minute apart of a +30% p99: replayed with
    `sequential: true`, the watch would have rolled back at its first look with 20 samples, T+19m."""
    rng = np.random.default_rng(5)
    src = {"type": "prometheus", "with": {"url": "http://127.0.0.1:1", "query": "x"}}
    judge_with: dict[str, Any] = {
        "step": "1m",
        "baseline": {"offset": "1w"},
        "metrics": [{"id": "p99", "critical": True, "source": src}],
    }
    samples = judge_mod.Samples(canary=tuple(rng.normal(0.33, 0.01, 30)), baseline=tuple(rng.normal(0.25, 0.01, 30)))
    was = judge_mod.judge(models.Judge.model_validate(judge_with), {"p99": samples})
    t0 = "2026-01-01T10:00:00+00:00"
    events = [
        {"seq": 1, "run_id": "r", "type": "run_created", "ts": t0, "data": {"anchor": t0}},
        {"seq": 2, "run_id": "r", "type": "step_started", "ts": t0, "step_id": "soak", "data": {}},
        {
            "seq": 3,
            "run_id": "r",
            "type": "step_finished",
            "ts": "2026-01-01T10:30:00+00:00",
            "step_id": "soak",
            "data": {"outcome": "fail", "details": {"judge": was.event_data()}},
        },
    ]
    rb = models.Runbook.model_validate(
        {
            "golive": 1,
            "name": "r",
            "phases": [
                {
                    "id": "p",
                    "steps": [
                        {"id": "soak", "kind": "observe", "duration": "30m", "judge": judge_with | {"sequential": True}}
                    ],
                }
            ],
        }
    )
    res = replay_mod.replay(events, rb)
    [j] = res.judges
    assert j.now == "FAIL"
    assert j.stopped is not None
    assert res.verdict().startswith("rollback at T+19m0s in soak (sequential judge: sequential judge FAIL")
    plain = replay_mod.replay(
        events,
        rb.model_copy(
            update={
                "phases": (
                    rb.phases[0].model_copy(
                        update={
                            "steps": (
                                rb.phases[0]
                                .steps[0]
                                .model_copy(update={"judge": models.Judge.model_validate(judge_with)}),
                            )
                        }
                    ),
                )
            }
        ),
    )
    assert plain.first_stop is None
    assert plain.verdict().startswith("judge of soak would FAIL")
