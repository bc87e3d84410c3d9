"""Takeover time: how long a run goes undriven after the `golive worker` that drives it is killed (SIGKILL).

Run: ``.venv/bin/python benchmarks/takeover.py [--ttl 3] [--kills 3] [--admin-url postgresql://postgres@127.0.0.1:5432/test]``

On a throwaway PostgreSQL database (created on the local server, dropped at the end), two workers run with
lease TTL ``--ttl``; a `golive run` of a long runbook (non-idempotent command actions) is killed with SIGKILL
so that a worker adopts it; then, ``--kills`` times, the worker that owns the run is killed with SIGKILL (and
a fresh worker started in its place). The takeover time is from the kill to the ``engine_started`` event of
the new owner, as stamped by the store. Target: at most TTL + 2 s (the expiry is the database's clock; workers
look for orphans every TTL / 3).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from golive.store import Event, open_store

GOLIVE = str(Path(sys.executable).with_name("golive"))
ACTIONS = 400  # long enough to outlast every kill
SLACK = 2.0  # seconds over the TTL the target allows


@contextlib.contextmanager
def throwaway(admin_url: str) -> Iterator[str]:
    name = f"golive_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{urlsplit(admin_url).netloc}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def runbook(directory: Path) -> Path:
    lines = ["golive: 1", "name: takeover-bench", "vars:", "  dir: {required: true}", "phases:", "  - id: work",
             "    steps:"]  # fmt: skip
    for i in range(ACTIONS):
        needs = f", needs: [a{i - 1}]" if i else ""
        lines.append(
            f"      - {{id: a{i}, kind: action, type: command{needs}, idempotent: true, "
            f'with: {{cwd: "${{{{ vars.dir }}}}", run: "sleep 0.05"}}}}'
        )
    path = directory / "runbook.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def events(url: str, run_id: str) -> list[Event]:
    async def go() -> list[Event]:
        store = open_store(url)
        await store.open()
        try:
            return await store.events(run_id)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except Exception:
        return []


def started(url: str, run_id: str) -> list[Event]:
    return [e for e in events(url, run_id) if e.type == "engine_started"]


def wait_for(pred: object, timeout: float) -> None:
    limit = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > limit:
            raise SystemExit("timed out")
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ttl", type=float, default=3.0, help="Lease TTL in seconds.")
    ap.add_argument("--kills", type=int, default=3, help="Owning workers to kill.")
    ap.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    with throwaway(args.admin_url) as url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "GOLIVE_DATABASE_URL": url, "GOLIVE_LEASE_TTL": str(args.ttl)}

        def spawn(*a: str) -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [GOLIVE, *a], env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )

        workers = [spawn("worker") for _ in range(2)]
        rid = "takeover-bench"
        owner = spawn("run", str(runbook(work)), "--run-id", rid, "--var", f"dir={work}", "--no-prompt", "-q")
        times: list[float] = []
        try:
            wait_for(lambda: len(started(url, rid)) == 1, 60)
            time.sleep(0.5)
            killed_at = time.time()
            owner.send_signal(signal.SIGKILL)
            owner.wait()
            wait_for(lambda: len(started(url, rid)) == 2, 60)
            first = started(url, rid)[-1]
            times.append(_parse(first.ts) - killed_at)
            for _ in range(args.kills):
                time.sleep(0.5)
                n = len(started(url, rid))
                holder = started(url, rid)[-1].data["owner"]
                victim = next(w for w in workers if f":{w.pid}:" in holder)
                killed_at = time.time()
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                workers.remove(victim)
                workers.append(spawn("worker"))
                wait_for(lambda n=n: len(started(url, rid)) > n, 60)
                times.append(_parse(started(url, rid)[-1].ts) - killed_at)
        finally:
            for p in (owner, *workers):
                if p.poll() is None:
                    p.kill()
                    p.wait()
    target = args.ttl + SLACK
    print(f"lease TTL {args.ttl:g} s; workers look for orphans every {args.ttl / 3:.2f} s")
    for i, t in enumerate(times):
        what = "golive run killed, a worker adopted" if i == 0 else "owning worker killed, the other adopted"
        print(f"takeover {i + 1}: {t:.2f} s ({what})")
    worst = max(times)
    print(
        f"takeover: worst {worst:.2f} s (target <= TTL + {SLACK:g} s = {target:g} s: {'met' if worst <= target else 'MISSED'})"
    )


def _parse(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


if __name__ == "__main__":
    main()
