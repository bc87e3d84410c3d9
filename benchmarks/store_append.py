"""Event store append throughput: durable appends per second, 1 and 50 concurrent appenders.

    .venv/bin/python benchmarks/store_append.py [--events 20000] [--postgres URL | --no-postgres]

SQLite runs in a temporary directory (WAL, synchronous=FULL: each commit is fsynced). PostgreSQL runs in
a throwaway database created on the server given by --postgres (default: the local test server) and
dropped afterwards. Every append is awaited, so every counted event was committed before it counted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from golive.store.base import NewEvent, RunRecord, Store
from golive.store.postgres import PostgresStore
from golive.store.sqlite import SqliteStore

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
SINGLE_EVENTS = 2_000  # events for the one-appender case (it is fsync-bound, so fewer suffice)


def run_record(run_id: str) -> RunRecord:
    return RunRecord(run_id, "bench", "bench.yaml", "0" * 64, "golive: 1\n", "rehearsal", "2026-01-01T00:00:00Z")


def payload(i: int) -> NewEvent:
    """About the size of a real step_finished event."""
    return NewEvent(
        "step_finished",
        step_id=f"step-{i % 500}",
        actor="engine",
        data={"outcome": "pass", "duration_ms": 12.5, "attempt": 1, "detail": {"status": 200, "body": "ok" * 20}},
    )


async def measure(store: Store, appenders: int, total: int, runs: int) -> tuple[float, float, float]:
    """Events/s, and p50/p99 latency (ms) of one append, with ``appenders`` tasks over ``runs`` runs."""
    run_ids = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(runs)]
    for run_id in run_ids:
        await store.create_run(run_record(run_id))
    per_task = total // appenders
    latencies: list[float] = []

    async def appender(n: int) -> None:
        run_id = run_ids[n % runs]
        for i in range(per_task):
            t0 = time.perf_counter()
            await store.append(run_id, payload(i))
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(appender(n) for n in range(appenders)))
    elapsed = time.perf_counter() - start
    for run_id in run_ids:
        await store.verify(run_id)  # the figures count only if the chains are whole
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return per_task * appenders / elapsed, statistics.median(latencies) * 1e3, p99 * 1e3


async def bench(name: str, make: Callable[[], Awaitable[Store]], total: int) -> None:
    store = await make()
    try:
        for appenders, events, runs in ((1, SINGLE_EVENTS, 1), (50, total, 1), (50, total, 50)):
            rate, p50, p99 = await measure(store, appenders, events, runs)
            where = "one run" if runs == 1 else f"{runs} runs"
            print(
                f"{name:10} {appenders:3} appender(s), {where:8}: {rate:9,.0f} events/s  "
                f"(append latency p50 {p50:6.2f} ms, p99 {p99:6.2f} ms; {events} events)"
            )
    finally:
        await store.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events for the 50-appender cases")
    parser.add_argument("--postgres", default=DEFAULT_PG, help="server for the throwaway PostgreSQL database")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="golive-bench-") as tmp:

        async def sqlite_store() -> Store:
            s = SqliteStore(Path(tmp) / "golive.db")
            await s.open()
            return s

        await bench("sqlite", sqlite_store, args.events)

    if args.no_postgres:
        return 0
    import psycopg

    name = f"golive_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = await psycopg.AsyncConnection.connect(args.postgres, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        print(f"postgres   skipped: cannot connect to {args.postgres}: {exc}", file=sys.stderr)
        return 1
    async with admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = args.postgres.rsplit("/", 1)[0] + "/" + name

            async def pg_store() -> Store:
                s = PostgresStore(url)
                await s.open()
                return s

            await bench("postgres", pg_store, args.events)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
