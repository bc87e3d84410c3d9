"""How long `golive status` of a finished run takes at 2,000 / 20,000 / 50,000 events (target: <= 0.3 s).

Builds, for each length, a finished run: a runbook of ``--steps`` ``env`` checks and two triggers run
through the real engine, the rest of its events the trigger evaluations that make a run long (a long observe
window or 72 hours of hypercare), appended through the run's handle (hashed and chained). Then it times ``golive status RUN --db URL`` in a fresh subprocess, the
first call (what a person waits for right after the run) and the later ones. Alternated with it in the same
loop: the floor, ``golive --help`` (the interpreter and the CLI's start-up, which any command pays), so the
machine's drift cancels in the ratio. Peak RSS of the status process is printed beside its time.

Run: ``.venv/bin/python benchmarks/status.py [--events 2000,20000,50000] [--repeat 5] [--postgres URL]``
(``--postgres postgresql://postgres@127.0.0.1:5432/test`` makes a throwaway database next to that one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

TARGET = 0.3  # seconds, any length


def runbook_text(steps: int, phases: int = 4) -> str:
    lines = ["golive: 1", "name: status-bench", "settings:", "  concurrency: 50", "triggers:"]
    lines += [
        "  - {id: errors, title: Error rate, then: notify}",
        "  - {id: latency, title: p99 latency, then: notify}",
    ]
    lines.append("phases:")
    per_phase = max(1, steps // phases)
    n = 0
    for p in range(phases):
        lines += [f"  - id: p{p}", "    steps:"]
        count = per_phase if p < phases - 1 else steps - n
        for _ in range(count):
            lines.append(f"      - {{id: s{n}, kind: check, type: env, with: {{name: HOME}}}}")
            n += 1
    return "\n".join(lines) + "\n"


def evaluation(i: int) -> dict[str, Any]:
    """A ``trigger_evaluated`` event's data as the observe loop writes it: the last evaluation
    (triggers.Evaluation.event_data) and the batch of readings since the trigger's last event (``samples``,
    golive.watch.samples)."""
    tid = "errors" if i % 2 else "latency"
    ts = f"2026-12-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z"
    return {
        "trigger_id": tid,
        "trigger": tid,
        "ts": ts,
        "status": "ok",
        "value": 0.001 * (i % 17),
        "breached": False,
        "state": "ok",
        "fired": False,
        "consecutive_breaches": 0,
        "consecutive_errors": 0,
        "since": ts,
        "breaching_since": None,
        "reason": f"value {0.001 * (i % 17):.3f} within the threshold",
        "when": "value > 0.05",
        "then": "notify",
        "severity": "page",
        "samples": [[ts, "ok", 0.001 * (i % 17), None]] * 4,
    }


async def make_run(url: str, events: int, steps: int) -> tuple[str, int]:
    """A finished run of about ``events`` events in the store at ``url``: the run of a ``steps``-step runbook
    through the real engine, its other events the trigger evaluations a long observe window or hypercare
    records (appended through the run's handle, so hashed and chained like any event). (run id, events)"""
    from golive.engine import driver, runner
    from golive.engine.state import RunStatus
    from golive.spec import loader
    from golive.store import base, open_store
    from golive.views import cached

    loaded = loader.load_text(runbook_text(steps), "status-bench.yaml", environ={})
    store = open_store(url, create=True)
    await store.open()
    try:
        handle = await runner.create_run(store, loaded)
        extra = max(0, events - 2 * steps - 20)
        for start in range(0, extra, 500):
            batch = [
                base.NewEvent("trigger_evaluated", step_id="s0", data=evaluation(i))
                for i in range(start, min(extra, start + 500))
            ]
            await handle.append_many(batch)
        status = await driver.drive(handle, runner.Engine(handle), owner=driver.process_owner("bench"))
        if status is not RunStatus.PASSED:
            raise SystemExit(f"the benchmark run did not pass: {status}")
        # As golive run, the worker and the server do when a run ends: keep its summary for golive status.
        await cached.keep_finished(store, handle.run_id)
        return handle.run_id, handle.state.last_seq
    finally:
        await store.close()


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + sys) and peak RSS (MB) of one subprocess, which must exit 0."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def pg_database(base: str) -> tuple[str, Any]:
    import psycopg

    name = f"golive_status_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return base.rsplit("/", 1)[0] + "/" + name, drop


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", default="2000,20000,50000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=60, help="Steps of the runbook (the rest are evaluations).")
    ap.add_argument("--postgres", default=None, help="A PostgreSQL URL: use a throwaway database beside it.")
    args = ap.parse_args()
    golive = str(Path(sys.executable).with_name("golive"))
    # As installed: bytecode cached (a development shell may set PYTHONDONTWRITEBYTECODE, which would make every
    # fresh process compile golive's sources again).
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_") and k != "PYTHONDONTWRITEBYTECODE"}
    worst = 0.0
    best_wall = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        drop = None
        url = f"sqlite:///{tmp}/golive.db"
        if args.postgres:
            url, drop = pg_database(args.postgres)
        try:
            for n in (int(x) for x in args.events.split(",")):
                t = time.perf_counter()
                run_id, count = asyncio.run(make_run(url, n, args.steps))
                print(f"{count:,} events: run {run_id} made in {time.perf_counter() - t:.1f} s")
                argv = [golive, "status", run_id, "--db", url]
                first, first_cpu, rss = timed(argv, env)
                times: list[float] = []
                cpus: list[float] = []
                floors: list[float] = []
                for _ in range(args.repeat):
                    floors.append(timed([golive, "--help"], env)[0])
                    wall, cpu, peak = timed(argv, env)
                    times.append(wall)
                    cpus.append(cpu)
                    rss = max(rss, peak)
                worst = max(worst, first, max(times))
                best_wall = min(best_wall, min(times))
                med = sorted(times)[len(times) // 2]
                fmed = sorted(floors)[len(floors) // 2]
                print(
                    f"  golive status: first {first:.3f} s (CPU {first_cpu:.3f} s), then best {min(times):.3f} s, "
                    f"median {med:.3f} s (CPU best {min(cpus):.3f} s); peak RSS {rss:.0f} MB; "
                    f"floor (golive --help) median {fmed:.3f} s; ratio median/floor {med / fmed:.2f}x  "
                    f"(load average {os.getloadavg()[0]:.1f})"
                )
        finally:
            if drop is not None:
                drop()
    verdict = "meets" if worst <= TARGET else "MISSES"
    print(
        f"worst golive status {worst:.3f} s, best {best_wall:.3f} s "
        f"[worst {verdict} the {TARGET:.1f} s target at every length]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
