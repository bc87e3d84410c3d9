"""What the start gate's calendars cost: a live run's start, `golive plan`'s schedule, the watcher's look.

A runbook with a realistic freeze calendar (a weekly RRULE, a yearly year-end freeze, public holidays of three
countries and a shared .ics file of ``--ics-events`` events, a fifth of them recurring) against the same
runbook without freezes (the floor), both run to PASSED by the real engine on an in-memory store under a fake
clock, alternated in one loop so the machine's drift cancels in the ratio. Also timed: ``gate.schedule`` (what
`golive plan` computes: the next allowed start and a year of occurrences) and one look of the run's freeze
watcher (engine/windows.py), against its budget of one real poll interval (0.2 s).

Run: ``.venv/bin/python benchmarks/start_gate.py [--repeat 20] [--ics-events 300]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from golive.engine import gate, runner, windows
from golive.spec import loader
from golive.testing import FakeClock, InMemoryStore

START = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # a Tuesday outside every freeze: the run starts
POLL_BUDGET = 0.2  # seconds: the watcher looks at most this often (windows.WATCH_REAL)

BASE = """\
golive: 1
name: gate-bench
comms: {cadence: []}
roles:
  ic: {title: Incident Commander, may: [decide, waive]}
FREEZES
phases:
  - id: switch
    steps:
      - {id: flip, kind: action, type: command, with: {run: "true"}}
"""

FREEZES = """\
freeze:
  - {id: fridays, start: "2026-01-02T12:00:00Z", end: "2026-01-03T00:00:00Z", rrule: FREQ=WEEKLY;BYDAY=FR}
  - {id: year-end, start: 2026-12-20, end: 2027-01-02, rrule: FREQ=YEARLY}
  - {id: de, holidays: {country: DE, subdiv: BY}, timezone: Europe/Berlin}
  - {id: us, holidays: {country: US}, timezone: America/New_York}
  - {id: gb, holidays: {country: GB}, timezone: Europe/London}
  - {id: shared, ics: freezes.ics}
"""


def ics(events: int) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN"]
    day = datetime(2026, 1, 5, tzinfo=UTC)
    for i in range(events):
        start = day + timedelta(days=i * 3 % 700, hours=i % 24)
        lines += [
            "BEGIN:VEVENT",
            f"UID:e{i}@bench",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"DTEND:{start + timedelta(hours=2):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:change window {i}",
            *(["RRULE:FREQ=MONTHLY;COUNT=12"] if i % 5 == 0 else []),
            "END:VEVENT",
        ]
    return "\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n"


async def one_run(loaded: loader.LoadedRunbook) -> float:
    clock = FakeClock(START)
    store = InMemoryStore(clock)
    await store.open()
    try:
        began = time.perf_counter()
        h = await runner.create_run(store, loaded, clock=clock, roles={"ic": "alice"})
        status = await runner.Engine(h, clock=clock, poll=1.0).run()
        took = time.perf_counter() - began
        assert status.value == "passed", (status, h.state.reason)
        return took
    finally:
        await store.close()


async def main(repeat: int, ics_events: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "freezes.ics").write_text(ics(ics_events))
        (d / "gated.yaml").write_text(BASE.replace("FREEZES", FREEZES))
        (d / "plain.yaml").write_text(BASE.replace("FREEZES\n", ""))
        gated = loader.load(d / "gated.yaml", environ={})
        plain = loader.load(d / "plain.yaml", environ={})
        with_gate: list[float] = []
        floor: list[float] = []
        await one_run(gated)  # warm: imports, the holiday tables' first build
        await one_run(plain)
        for _ in range(repeat):
            with_gate.append(await one_run(gated))
            floor.append(await one_run(plain))
        sched: list[float] = []
        for _ in range(max(3, repeat // 4)):
            began = time.perf_counter()
            out = gate.schedule(gated.runbook, gated.path, START)
            sched.append(time.perf_counter() - began)
            assert out is not None
        cal = gate.calendar_for(gated.runbook, gated.path)
        looks = windows._FreezeStarts(cal)
        look: list[float] = []
        now = START
        for _ in range(200):
            began = time.perf_counter()
            looks.between(now, now + timedelta(seconds=0.2))
            windows.due_overruns(gated.runbook, runner_state())
            look.append(time.perf_counter() - began)
            now += timedelta(seconds=0.2)
    g, f = statistics.median(with_gate), statistics.median(floor)
    print(f"freeze calendar: 6 freezes, {ics_events} shared .ics events; {repeat} runs each, medians")
    print(f"  run start to PASSED, with the start gate:    {g * 1000:8.1f} ms")
    print(f"  run start to PASSED, no freezes (floor):     {f * 1000:8.1f} ms")
    print(f"  ratio gate / floor:                          {g / f:8.2f}x  (extra {1000 * (g - f):.1f} ms per start)")
    print(f"  golive plan's schedule (gate.schedule):      {statistics.median(sched) * 1000:8.1f} ms")
    lk = statistics.median(look)
    print(
        f"  one look of the freeze watcher:              {lk * 1e6:8.1f} us  ({lk / POLL_BUDGET:.4%} of its 0.2 s poll)"
    )


def runner_state() -> object:
    from golive.engine.state import RunState

    return RunState("bench")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--ics-events", type=int, default=300)
    a = ap.parse_args()
    asyncio.run(main(a.repeat, a.ics_events))
