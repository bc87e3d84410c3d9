"""Events written by 72 hours of watching: five triggers read every 30 s, on a fake clock.

    .venv/bin/python benchmarks/event_volume.py [--hours 72] [--triggers 5] [--interval 30] [--window-only]

Two measurements: one observe window of 72 h (the watch library alone), and 72 h of hypercare after a GO with
five armed triggers, through the engine, the hypercare runner and an in-memory event store (every event the
run's log holds from GO to the end of hypercare is counted, checks and reports included).

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


HYPERCARE_RUNBOOK = """\
golive: 1
name: event-volume
roles:
  ic: {title: Incident commander, may: [decide]}
phases:
  - id: canary
    steps:
      - {id: window, kind: observe, duration: 1m}
  - id: decision
    steps:
      - {id: go, kind: decision, role: ic}
triggers:
TRIGGERS
hypercare:
  tiers:
    - {from: 0s, until: 6h, every: 30m}
    - {from: 6h, until: 24h, every: 1h}
    - {from: 24h, until: HOURSh, times_per_day: 3}
  checks:
    - {id: health, kind: check, type: command, with: {run: "true"}}
comms: {cadence: []}
"""


async def measure_hypercare(hours: float, count: int, interval: float) -> dict[str, Any]:
    """72 h of hypercare after a GO, five armed triggers, through the engine (in-memory store, fake clock)."""
    from pydantic import Field

    from golive.engine import acts
    from golive.engine import hypercare as service
    from golive.engine.state import RunStatus
    from golive.plugins import base
    from golive.plugins import registry as registry_mod
    from golive.spec import loader
    from golive.store import memory
    from golive.testing import start_engine

    class Params(base.Params):
        name: str = Field(description="unused")

    class Zero(base.MetricSource):
        name = "zero"
        params = Params
        description = "Reads 0 (benchmark only)."

        async def read(self, ctx: base.StepContext) -> results.MetricReading:
            return results.MetricReading.of(0.0)

    registry_mod.default_registry().register(Zero)
    rows = "".join(
        f"  - {{id: t{i}, source: {{type: zero, with: {{name: t{i}}}}}, when: value > 0, interval: {interval:g}s}}\n"
        for i in range(count)
    )
    text = HYPERCARE_RUNBOOK.replace("TRIGGERS\n", rows).replace("HOURS", f"{hours:g}")
    loaded = loader.load_text(text, "event-volume.yaml", environ={})
    clock = FakeClock()
    store = memory.InMemoryStore(clock)
    await store.open()
    r = await start_engine(store, loaded, roles={"ic": "ines"}, clock=clock, poll=1.0)
    h = await r.until("the GO is asked", lambda s: s.step("go").status == "waiting")
    await acts.decide(h, "go", "ines", "benchmark")
    assert await r.finished() is RunStatus.PASSED
    go_seq = (await store.events(r.run_id))[-1].seq
    hc = await service.hypercare_runner(store, r.run_id, None, lambda s: None)
    try:
        await service.watch_hypercare(hc)
    finally:
        await hc.engine.aclose()
    events = await store.events(r.run_id, after_seq=go_seq)
    trig = [e for e in events if e.type in ("trigger_evaluated", "trigger_fired")]
    held = sum(len(e.data.get("samples") or []) for e in trig)
    await store.close()
    return {"events": len(events), "trigger_events": len(trig), "held": held}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=72.0)
    ap.add_argument("--triggers", type=int, default=5)
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--window-only", action="store_true", help="only the 72-hour observe window")
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
    ok = got["events"] < LIMIT and got["held"] == got["readings"]
    if args.window_only:
        return 0 if ok else 1
    hc = asyncio.run(measure_hypercare(args.hours, args.triggers, args.interval))
    reads = int(args.hours * 3600 / args.interval) * args.triggers
    print(f"{args.hours:g} h of hypercare after GO, {args.triggers} armed triggers every {args.interval:g}s, engine")
    print(f"  readings in the log   {hc['held']:>8,}  (about {reads:,} due)")
    print(f"  trigger events        {hc['trigger_events']:>8,}")
    print(f"  all events after GO   {hc['events']:>8,}  (checks, reports, rollback-free)")
    print(f"  limit                 {LIMIT:>8,}  {'OK' if hc['events'] < LIMIT else 'OVER'}")
    return 0 if ok and hc["events"] < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
