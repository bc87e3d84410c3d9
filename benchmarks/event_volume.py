"""Events written by 72 hours of watching: five triggers read every 30 s, on a fake clock.

    .venv/bin/python benchmarks/event_volume.py [--hours 72] [--triggers 5] [--interval 30]

Trigger readings are batched into one event per trigger per minute (golive.watch.samples), fires and clears
at once. The floor it is compared with is one event per reading (what the log would hold without batches).
Prints the events, the readings they hold, and the ratio; the limit is 30,000 events for 72 h of 5 triggers
at 30 s. Two flapping triggers (a breach every ten minutes, notify) add their fires and clears.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from golive import results
from golive.spec import models
from golive.testing import FakeClock
from golive.watch import observe as observe_mod
from golive.watch import triggers

LIMIT = 30_000  # events for 72 h of five triggers at 30 s


def _trigger(i: int, interval: float) -> models.Trigger:
    return models.Trigger.model_validate(
        {
            "id": f"t{i}",
            "source": {"type": "fake", "with": {}},
            "when": "value > 0",
            "interval": f"{interval:g}s",
            "then": "notify",
        }
    )


class _Source:
    """0 every reading; a flapping source breaches one reading in twenty."""

    def __init__(self, flapping: bool) -> None:
        self.flapping, self.reads = flapping, 0

    async def read(self) -> results.MetricReading:
        self.reads += 1
        return results.MetricReading.of(1.0 if self.flapping and self.reads % 20 == 0 else 0.0)


async def measure(hours: float, count: int, interval: float) -> dict[str, Any]:
    clock = FakeClock()
    events: list[dict[str, Any]] = []

    async def on_event(ev: dict[str, Any]) -> None:
        events.append(ev)

    evaluators = []
    for i in range(count):
        src = _Source(flapping=i < 2)
        evaluators.append(triggers.TriggerEvaluator(_trigger(i, interval), lambda ref, s=src: s.read, clock))
    res = await observe_mod.observe(hours * 3600, evaluators, clock, on_event)
    held = sum(len(e["data"]["samples"]) for e in events)
    return {
        "events": len(events),
        "readings": res.evaluations,
        "held": held,
        "fires": sum(1 for e in events if e["type"] == "trigger_fired"),
        "coverage": min(c.fraction for c in res.coverage.values()),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=72.0)
    ap.add_argument("--triggers", type=int, default=5)
    ap.add_argument("--interval", type=float, default=30.0)
    args = ap.parse_args()
    got = asyncio.run(measure(args.hours, args.triggers, args.interval))
    floor = got["readings"]  # one event per reading
    print(f"{args.hours:g} h, {args.triggers} triggers every {args.interval:g}s (2 flapping), fake clock")
    print(f"  readings taken        {got['readings']:>8,}")
    print(f"  readings in the log   {got['held']:>8,}")
    print(f"  events written        {got['events']:>8,}  ({got['fires']:,} fires)")
    print(f"  one event per reading {floor:>8,}  (ratio {got['events'] / floor:.3f})")
    print(f"  coverage              {got['coverage']:.3f}")
    print(f"  limit                 {LIMIT:>8,}  {'OK' if got['events'] < LIMIT else 'OVER'}")
    return 0 if got["events"] < LIMIT and got["held"] == got["readings"] else 1


if __name__ == "__main__":
    sys.exit(main())
