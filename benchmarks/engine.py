"""Engine throughput: a 10,000-step runbook of trivial checks, every event durably committed on SQLite.

Run: ``.venv/bin/python benchmarks/engine.py [--steps 10000] [--phases 4] [--concurrency 200] [--repeat 3]
[--unfenced] [--profile FILE]``

The run is driven as ``golive run`` drives it: through :func:`golive.engine.driver.drive`, which holds the run's
lease (heartbeat) and fences every append with its epoch (checked by the store in the append's transaction).
``--unfenced`` runs the bare engine instead, to show what ownership costs.

The runbook has ``--phases`` phases of independent ``noop`` checks (a trivial check registered here, in the
default registry, so the figure measures the engine and the store, not a plugin). The run goes through the
in-process API (``create_run`` + ``Engine(handle).run()``) on a fresh SQLite store in a temporary directory
(WAL, ``synchronous=FULL``: every append is fsynced before it returns). Printed: steps per second over the
whole run (create to run_finished), events per second, and the process's RSS growth as the run ends, before
the script verifies the chain (peak RSS minus RSS before the run), for each of ``--repeat`` runs and the
best, with the machine's load average (the machine is shared: other processes slow the figure down). Targets: >= 3,000 steps/s and < 100 MB RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from golive import results
from golive.engine import driver, runner
from golive.engine.state import RunStatus
from golive.plugins import base, registry
from golive.spec import loader
from golive.store import sqlite

TARGET_STEPS_PER_S = 3000.0  # steps per second
TARGET_RSS_MB = 100.0  # MB of RSS growth


class NoopParams(base.Params):
    """No parameters: the check does nothing."""


class NoopCheck(base.CheckPlugin):
    """Passes at once; the cheapest possible check, so only the engine is measured."""

    name: ClassVar[str] = "bench-noop"
    params: ClassVar[type[base.Params]] = NoopParams
    description: ClassVar[str] = "Passes at once (benchmark only)."

    async def run(self, ctx: base.StepContext) -> results.Result:
        return results.Result.ok("ok")


def runbook_text(steps: int, phases: int, concurrency: int) -> str:
    lines = ["golive: 1", "name: engine-bench", "settings:", f"  concurrency: {concurrency}", "phases:"]
    per_phase = steps // phases
    n = 0
    for p in range(phases):
        lines += [f"  - id: p{p}", "    steps:"]
        count = per_phase if p < phases - 1 else steps - n
        for _ in range(count):
            lines.append(f"      - {{id: s{n}, kind: check, type: bench-noop}}")
            n += 1
    return "\n".join(lines) + "\n"


def rss_mb() -> float:
    """Current resident set size in MB (from /proc; ru_maxrss is the peak)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KiB on Linux


async def bench(steps: int, phases: int, concurrency: int, fenced: bool = True) -> dict[str, float]:
    reg = registry.default_registry()
    if reg.get("check", NoopCheck.name) is None:
        reg.register(NoopCheck)
    text = runbook_text(steps, phases, concurrency)
    t_load = time.perf_counter()
    loaded = loader.load_text(text, "engine-bench.yaml", environ={})
    load_s = time.perf_counter() - t_load
    with tempfile.TemporaryDirectory() as tmp:
        store = sqlite.SqliteStore(Path(tmp) / "golive.db")
        await store.open()
        try:
            rss0 = rss_mb()
            peak0 = peak_rss_mb()
            t0 = time.perf_counter()
            c0 = time.process_time()
            handle = await runner.create_run(store, loaded)
            engine = runner.Engine(handle)
            if fenced:
                status = await driver.drive(handle, engine, owner=driver.process_owner("bench"))
            else:
                status = await engine.run()
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - c0
            events = handle.state.last_seq
            # Measured as the run ends: the check below reads every event at once (100,000 at 50,000 steps),
            # which is the script's cost, not the engine's.
            grown = max(rss_mb() - rss0, peak_rss_mb() - max(peak0, rss0))
            verified = await store.verify(handle.run_id)
        finally:
            await store.close()
    if status is not RunStatus.PASSED or verified != events:
        raise SystemExit(f"benchmark run did not pass cleanly: {status}, {verified}/{events} events verified")
    return {
        "steps": steps,
        "events": events,
        "seconds": elapsed,
        "load_seconds": load_s,
        "steps_per_s": steps / elapsed,
        "cpu_us_per_step": cpu / steps * 1e6,
        "events_per_s": events / elapsed,
        "rss_growth_mb": grown,
    }


def floor(events: int, per_step: float) -> dict[str, float]:
    """The one-commit-per-event SQLite floor: plain ``sqlite3`` appending ``events`` rows of an event's size
    to a fresh WAL database with ``synchronous=FULL``, each in its own transaction (so each durable before
    the next is written), as a naive durable log would. Reported as steps/s at ``per_step`` events a step."""
    import json
    import sqlite3

    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE events (run_id TEXT, seq INTEGER, ts TEXT, type TEXT, step_id TEXT, actor TEXT, "
            "data TEXT, prev_hash TEXT, hash TEXT, PRIMARY KEY (run_id, seq))"
        )
        data = json.dumps({"outcome": "pass", "summary": "ok", "details": {}, "output": None, "duration": 0.0001})
        t0 = time.perf_counter()
        for seq in range(1, events + 1):
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    "run",
                    seq,
                    "2026-12-04T00:00:00.000000Z",
                    "step_finished",
                    f"s{seq}",
                    "golive",
                    data,
                    "0" * 64,
                    "f" * 64,
                ),
            )
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        conn.close()
    return {"events_per_s": events / elapsed, "steps_per_s": events / per_step / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--phases", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3, help="Runs to make; the best is the figure.")
    ap.add_argument("--profile", default=None, help="Write cProfile stats here and print the top 25.")
    ap.add_argument("--unfenced", action="store_true", help="Run the bare engine, without lease and fencing.")
    args = ap.parse_args()
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        asyncio.run(bench(args.steps, args.phases, args.concurrency, not args.unfenced))
        prof.disable()
        prof.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)
        return
    runs = []
    ratios = []
    for i in range(max(1, args.repeat)):
        res = asyncio.run(bench(args.steps, args.phases, args.concurrency, not args.unfenced))
        runs.append(res)
        fl = floor(int(res["events"]), res["events"] / res["steps"])
        ratios.append(res["steps_per_s"] / fl["steps_per_s"])
        print(
            f"run {i + 1}: {res['steps']:,} steps, {res['events']:,} events in {res['seconds']:.2f} s: "
            f"{res['steps_per_s']:,.0f} steps/s, {res['events_per_s']:,.0f} events/s, "
            f"CPU {res['cpu_us_per_step']:.0f} us/step, RSS growth {res['rss_growth_mb']:.1f} MB; one-commit-per-event floor {fl['steps_per_s']:,.0f} steps/s "
            f"({fl['events_per_s']:,.0f} events/s): ratio {ratios[-1]:.2f}x (load average {os.getloadavg()[0]:.1f})"
        )
    ratios.sort()
    print(f"engine / one-commit-per-event floor: median {ratios[len(ratios) // 2]:.2f}x (target >= 2x)")
    best = max(runs, key=lambda r: r["steps_per_s"])
    worst_rss = max(r["rss_growth_mb"] for r in runs)
    ok_speed = best["steps_per_s"] >= TARGET_STEPS_PER_S
    ok_rss = worst_rss < TARGET_RSS_MB
    print(
        f"engine ({'bare, unfenced' if args.unfenced else 'driven: lease, heartbeat, fenced appends'}): "
        f"best {best['steps_per_s']:,.0f} steps/s (target >= {TARGET_STEPS_PER_S:,.0f}: "
        f"{'met' if ok_speed else 'MISSED'}), {best['events_per_s']:,.0f} events/s, every one committed with fsync"
    )
    print(
        f"engine: RSS growth at most {worst_rss:.1f} MB (target < {TARGET_RSS_MB:.0f}: {'met' if ok_rss else 'MISSED'})"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
