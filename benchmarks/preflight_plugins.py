"""Pre-flight HTTP checks at scale: 100 and 1,000 `http` checks at once through the run's shared client.

A loopback server (a separate process, aiohttp) answers GET /health after 100 ms with {"status":"ok"}.
Each check asserts status 200 and `$.status == "ok"`; every result must be PASS. Prints wall time per
batch (best and median of --repeat) and the peak RSS of this process.

    .venv/bin/python benchmarks/preflight_plugins.py            # the golive http check
    .venv/bin/python benchmarks/preflight_plugins.py --compare  # also raw httpx vs raw aiohttp clients

Targets for the end-to-end `golive preflight`: 100 checks <= 0.40 s, 1,000 checks <= 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

SERVER_DELAY = 0.1  # seconds the server waits before answering, like a real health endpoint
SIZES = (100, 1000)

SERVER = """
import asyncio, sys
from aiohttp import web
async def health(request):
    await asyncio.sleep(float(sys.argv[2]))
    return web.json_response({"status": "ok"})
app = web.Application()
app.router.add_get("/health", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), backlog=4096, print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(SERVER_DELAY)])
    url = f"http://127.0.0.1:{port}/health"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("benchmark server did not start")


async def golive_checks(url: str, n: int) -> float:
    from golive.plugins import _util
    from golive.plugins.checks.http import HttpCheck, HttpParams
    from golive.results import Outcome
    from golive.testing import make_ctx

    params = HttpParams(url=url, expect={"status": 200, "json": {"$.status": "ok"}})
    check = HttpCheck()
    async with _util.make_http_client() as client:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(check.run(make_ctx(params, http_pool=lambda: client, timeout=30.0)) for _ in range(n))
        )
        elapsed = time.perf_counter() - started
    bad = [r for r in results if r.outcome is not Outcome.PASS]
    if bad:
        raise SystemExit(f"{len(bad)} of {n} checks did not pass: {bad[0].summary}")
    return elapsed


async def raw_httpx(url: str, n: int) -> float:
    import httpx

    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one() -> None:
            r = await client.get(url)
            assert r.status_code == 200
            assert r.json() == {"status": "ok"}

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - started


async def raw_aiohttp(url: str, n: int) -> float:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2000)) as session:

        async def one() -> None:
            async with session.get(url) as r:
                body = await r.read()
                assert r.status == 200
                assert json.loads(body) == {"status": "ok"}

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per batch size (best and median shown)")
    ap.add_argument("--compare", action="store_true", help="also time raw httpx and raw aiohttp clients")
    args = ap.parse_args()
    proc, url = start_server()
    try:
        runners = [("golive http check (aiohttp pool)", golive_checks)]
        if args.compare:
            runners += [("raw aiohttp", raw_aiohttp), ("raw httpx", raw_httpx)]
        for label, fn in runners:
            for n in SIZES:
                reps = 1 if fn is raw_httpx and n >= 1000 else args.repeat  # httpx at 1,000 takes ~20 s
                times = [asyncio.run(fn(url, n)) for _ in range(reps)]
                print(
                    f"{label:34s} {n:5d} checks: best {min(times):.3f} s, median {statistics.median(times):.3f} s"
                    f" ({reps} runs)"
                )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the benchmark process: {peak_mb:.0f} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
