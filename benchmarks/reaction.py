"""Trigger reaction: latency from a metric breach to the first rollback action.

    .venv/bin/python benchmarks/reaction.py [--breaches 50] [--observers 10] [--interval 1]

A local HTTP service serves one JSON error rate per observer; the benchmark flips a rate into breach at a
random moment. Each observer runs an observation window with one trigger (``http-json`` metric source,
read through the plugin registry like the engine does; ``when: value > 0.15``, ``then: rollback``) and
records events in a real SQLite event store. When the window returns fired, the observer calls the
"first rollback action" (where the engine starts its rollback) and the latency breach -> that call is
taken. Observers run concurrently so 50 breaches take well under two minutes.

Expected: the breach is seen at the next evaluation, so latency is about uniform over one interval plus
the read, the condition and one event append: p50 ≈ interval / 2, p95 ≈ 0.95 × interval + a few ms.
Target: p95 <= interval + 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from golive import clock as clock_mod
from golive.spec import models
from golive.store import open_store
from golive.store.base import NewEvent, RunRecord, Store
from golive.watch import observe as observe_mod
from golive.watch import triggers as triggers_mod

THRESHOLD = 0.15
HEALTHY = 0.01
BREACHED = 0.5
MIN_QUIET = 1.0  # seconds of healthy readings before a breach, at least
MAX_QUIET = 3.0  # seconds; the breach moment is uniform in [MIN_QUIET, MAX_QUIET] so it hits any phase
WINDOW = 600.0  # seconds; the observation window, far longer than any breach takes to be seen


class RateService:
    """Serves ``GET /rate/<n>`` -> ``{"error_rate": x}`` over HTTP/1.1 with keep-alive, on loopback."""

    def __init__(self, n: int) -> None:
        self.rates = [HEALTHY] * n
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                n = int(path.rsplit("/", 1)[1])
                body = json.dumps({"error_rate": self.rates[n]}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def observer(
    n: int, breaches: int, interval: float, service: RateService, store: Store, latencies: list[float]
) -> None:
    run_id = f"reaction-{n}"
    await store.create_run(
        RunRecord(run_id, "bench", "bench.yaml", "0" * 64, "golive: 1\n", "rehearsal", "2026-01-01T00:00:00Z")
    )
    trigger = models.Trigger.model_validate(
        {
            "id": "payout-5xx",
            "source": {
                "type": "http-json",
                "with": {"url": f"http://127.0.0.1:{service.port}/rate/{n}", "path": "$.error_rate"},
            },
            "when": f"value > {THRESHOLD}",
            "interval": f"{interval:g}s",
            "then": "rollback",
        }
    )
    factory = triggers_mod.plugin_source_factory()
    clock = clock_mod.SystemClock()
    rng = random.Random(n)

    async def on_event(event: dict[str, Any]) -> None:
        await store.append(run_id, NewEvent(event["type"], step_id="observe", data=event["data"]))

    for _ in range(breaches):
        service.rates[n] = HEALTHY
        evaluator = triggers_mod.TriggerEvaluator(trigger, factory, clock)
        window = asyncio.ensure_future(observe_mod.observe(WINDOW, [evaluator], clock, on_event))
        await asyncio.sleep(rng.uniform(MIN_QUIET, MAX_QUIET))
        if window.done():
            raise RuntimeError(f"observer {n}: the window ended before the breach: {window.result().summary}")
        breach_at = time.perf_counter()
        service.rates[n] = BREACHED
        result = await window
        if result.then != "rollback":
            raise RuntimeError(f"observer {n}: expected a rollback fire, got {result.outcome}: {result.summary}")
        await first_rollback_action(latencies, breach_at)


async def first_rollback_action(latencies: list[float], breach_at: float) -> None:
    """Where the engine emits rollback_started and restores the safe flags: the moment we measure to."""
    latencies.append(time.perf_counter() - breach_at)


def pct(sorted_values: list[float], p: float) -> float:
    """The p-th percentile by nearest rank."""
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--breaches", type=int, default=50)
    ap.add_argument("--observers", type=int, default=10)
    ap.add_argument("--interval", type=float, default=1.0, help="trigger interval in seconds")
    args = ap.parse_args()
    per = -(-args.breaches // args.observers)
    service = RateService(args.observers)
    await service.start()
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "golive.db"))
        await store.open()
        started = time.perf_counter()
        try:
            await asyncio.gather(
                *(observer(n, per, args.interval, service, store, latencies) for n in range(args.observers))
            )
        finally:
            await store.close()
            await service.stop()
        took = time.perf_counter() - started
    values = sorted(latencies)
    p50, p95 = statistics.median(values), pct(values, 95)
    target = args.interval + 0.5
    print(
        f"trigger reaction, interval {args.interval:g}s, {len(values)} breaches over {args.observers} concurrent "
        f"observers in {took:.1f}s"
    )
    print(f"  breach -> first rollback action: p50 {p50:.3f}s  p95 {p95:.3f}s  max {values[-1]:.3f}s")
    print(f"  target p95 <= {target:g}s: {'met' if p95 <= target else 'NOT met'}")
    return 0 if p95 <= target else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
