"""War room: event -> viewer latency with 100 SSE viewers on one run, and GET /api/v1/runs/{id} request rate.

    .venv/bin/python benchmarks/sse.py [--viewers 100] [--events 200] [--gap 0.05] [--seconds 10] [--clients 8]
                                        [--db postgresql://...] [--dashboard]

``golive serve`` runs in its own process over a fresh SQLite store (or --db). A run of a small runbook waits
on a manual step. ``--viewers`` raw SSE clients follow it. Events are then made two ways, ``--events`` each,
``--gap`` seconds apart:

- through the API (POST /assign as the IC: the server appends and wakes its follower at once), and
- by another process writing to the store directly (as ``golive confirm`` from a terminal would; the server
  sees those by polling the store every 0.1 s, so about 50 ms more on average).

Latency is the viewer's receive time minus the event's stored timestamp (same machine clock), for every
event at every viewer (with ``--dashboard``: until the viewer has the re-rendered run fragment). Then ``--clients`` keep-alive connections GET the run summary for ``--seconds``
while the viewers stay connected, and the request rate is printed. Target: p95 <= 250 ms.
All traffic stays on 127.0.0.1; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
IC_TOKEN = "bench-ic-token-0123456789abcdef"
START_TIMEOUT = 30.0  # seconds for the server to answer /health
PHASE_TIMEOUT = 120.0  # seconds any one phase of the benchmark may take
RUNBOOK = """\
golive: 1
name: bench
roles:
  ic: {may: [decide, assign]}
  scribe: {}
phases:
  - id: p
    steps:
      - {id: wait_here, kind: manual, role: ic, instructions: Hold the run open for the benchmark.}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def http(port: int, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    """One request on a fresh connection (setup only; the measured paths use kept-alive connections)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    data = b"" if body is None else json.dumps(body).encode()
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {IC_TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def parse_ts(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


class Viewer:
    """A minimal SSE client: one connection, records (seq, latency) for role_assigned events.

    With ``dashboard`` it also behaves like the dashboard's script: on each event it fetches the run's HTML
    fragment (on a second kept-alive connection, one fetch at a time, again if events came meanwhile), and
    the latency is taken when a fragment showing that event (data-seq >= seq) has arrived.
    """

    def __init__(self, port: int, run_id: str, after: int, dashboard: bool = False) -> None:
        self.port, self.run_id, self.after = port, run_id, after
        self.latencies: dict[int, float] = {}
        self.connected = asyncio.Event()
        self.dashboard = dashboard
        self._ts: dict[int, float] = {}
        self._wake = asyncio.Event()

    async def fetcher(self, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        req = (
            f"GET /ui/runs/{self.run_id} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {IC_TOKEN}\r\n\r\n"
        ).encode()
        try:
            while not stop.is_set():
                await self._wake.wait()
                self._wake.clear()
                writer.write(req)
                status, body = await read_response(reader)
                now = time.time()
                if status != 200:
                    raise RuntimeError(f"fragment answered {status}")
                marker = body.find(b'data-seq="')
                seq = int(body[marker + 10 : body.index(b'"', marker + 10)])
                for s, ts in list(self._ts.items()):
                    if s <= seq:
                        self.latencies[s] = now - ts
                        del self._ts[s]
        finally:
            writer.close()

    async def run(self, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        writer.write(
            f"GET /api/v1/runs/{self.run_id}/events?after={self.after} HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Authorization: Bearer {IC_TOKEN}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        try:
            while not stop.is_set():
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"retry:"):
                    self.connected.set()
                if line.startswith(b"data: "):
                    now = time.time()
                    ev = json.loads(line[6:])
                    if ev["type"] == "role_assigned":
                        if self.dashboard:
                            self._ts[ev["seq"]] = parse_ts(ev["ts"])
                            self._wake.set()
                        else:
                            self.latencies[ev["seq"]] = now - parse_ts(ev["ts"])
        finally:
            writer.close()


async def api_events(port: int, run_id: str, n: int, gap: float) -> list[int]:
    """Make n events through the API (assign as the IC) on one kept-alive connection."""
    reader, writer = await asyncio.open_connection(HOST, port)
    seqs = []
    for i in range(n):
        body = json.dumps({"roles": {"scribe": f"api-{i}"}}).encode()
        writer.write(
            f"POST /api/v1/runs/{run_id}/assign HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {IC_TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        status, payload = await read_response(reader)
        if status != 200:
            raise RuntimeError(f"assign answered {status}: {payload[:200]!r}")
        seqs.append(json.loads(payload)["seq"])
        await asyncio.sleep(gap)
    writer.close()
    return seqs


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for h in lines[1:]:
        if h.lower().startswith(b"content-length:"):
            length = int(h.split(b":", 1)[1])
    return status, await asyncio.wait_for(reader.readexactly(length), 30)


WRITER = """
import asyncio, sys, time
from golive.engine import acts
from golive.store import open_store
async def main(db, rid, n, gap):
    store = open_store(db)
    await store.open()
    try:
        h = await acts.open_run(store, rid)
        for i in range(n):
            await acts.assign(h, "ic-user", "scribe", f"cli-{i}")
            await asyncio.sleep(gap)
        print(h.state.last_seq)
    finally:
        await store.close()
asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
"""


async def get_rate(port: int, path: str, clients: int, seconds: float) -> tuple[int, float, list[float]]:
    """GET path on `clients` kept-alive connections for `seconds`; return (requests, elapsed, latencies)."""
    deadline = time.monotonic() + seconds
    lat: list[float] = []
    count = 0

    async def one() -> None:
        nonlocal count
        reader, writer = await asyncio.open_connection(HOST, port)
        req = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {IC_TOKEN}\r\n\r\n".encode()
        try:
            while time.monotonic() < deadline:
                t = time.perf_counter()
                writer.write(req)
                status, _ = await read_response(reader)
                if status != 200:
                    raise RuntimeError(f"GET answered {status}")
                lat.append(time.perf_counter() - t)
                count += 1
        finally:
            writer.close()

    start = time.monotonic()
    await asyncio.gather(*(one() for _ in range(clients)))
    return count, time.monotonic() - start, lat


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, viewers: list[Viewer], seqs: list[int]) -> None:
    samples = [v.latencies[s] for v in viewers for s in seqs if s in v.latencies]
    missing = len(viewers) * len(seqs) - len(samples)
    ms = [x * 1000 for x in samples]
    print(
        f"{name}: {len(samples)} deliveries ({len(seqs)} events x {len(viewers)} viewers), missing {missing}; "
        f"latency p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms, p99 {pct(ms, 99):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )


async def main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="golive-bench-sse-"))
    (work / "bench.yaml").write_text(RUNBOOK)
    db = args.db or str(work / "golive.db")
    port = free_port()
    env = {
        **os.environ,
        "GOLIVE_API_TOKEN_MAP_JSON": json.dumps({IC_TOKEN: {"user_id": "ic-user", "roles": ["admin", "ic"]}}),
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "golive", "serve", "--port", str(port), "--db", db, "--runbook-dir", str(work),
        "--log-level", "warning",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                status, _ = await http(port, "GET", "/health")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.returncode is not None:
                raise RuntimeError("the server did not start")
            await asyncio.sleep(0.1)
        status, body = await http(port, "POST", "/api/v1/runs", {"runbook": "bench.yaml", "roles": {"ic": "ic-user"}})
        if status != 201:
            raise RuntimeError(f"starting the run: {status} {body[:300]!r}")
        run_id = json.loads(body)["run_id"]
        for _ in range(200):
            status, body = await http(port, "GET", f"/api/v1/runs/{run_id}")
            summary = json.loads(body)
            if summary["pending"]:
                break
            await asyncio.sleep(0.05)
        head = summary["events"]
        stop = asyncio.Event()
        viewers = [Viewer(port, run_id, head, args.dashboard) for _ in range(args.viewers)]
        tasks = [asyncio.create_task(v.run(stop)) for v in viewers]
        if args.dashboard:
            tasks += [asyncio.create_task(v.fetcher(stop)) for v in viewers]
        await asyncio.wait_for(asyncio.gather(*(v.connected.wait() for v in viewers)), PHASE_TIMEOUT)
        await asyncio.sleep(0.5)
        kind = "dashboard viewers (SSE + fragment refetch)" if args.dashboard else "SSE viewers"
        print(
            f"server pid {server.pid}, store {'PostgreSQL' if args.db else 'SQLite'}, {args.viewers} {kind}, run {run_id}"
        )

        seqs = await asyncio.wait_for(api_events(port, run_id, args.events, args.gap), PHASE_TIMEOUT)
        await asyncio.sleep(1.0)
        report("acts through the API", viewers, seqs)

        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, db, run_id, str(args.events), str(args.gap), stdout=subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), PHASE_TIMEOUT)
        last = int(out.decode().strip())
        cli_seqs = list(range(last - args.events + 1, last + 1))
        await asyncio.sleep(1.0)
        report("acts from another process", viewers, cli_seqs)

        n, elapsed, lat = await get_rate(port, f"/api/v1/runs/{run_id}", args.clients, args.seconds)
        ms = [x * 1000 for x in lat]
        print(
            f"GET /api/v1/runs/{{id}} with {args.viewers} viewers connected: {n / elapsed:,.0f} req/s "
            f"({n} in {elapsed:.1f} s, {args.clients} keep-alive clients; p50 {pct(ms, 50):.2f} ms, "
            f"p95 {pct(ms, 95):.2f} ms)"
        )
        stop.set()
        for t in tasks:
            t.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)
        n2, elapsed2, _ = await get_rate(port, f"/api/v1/runs/{run_id}", args.clients, args.seconds)
        print(f"GET /api/v1/runs/{{id}} with no viewers: {n2 / elapsed2:,.0f} req/s")
        print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(server.wait(), 20)
        except TimeoutError:
            server.kill()
            await asyncio.wait_for(server.wait(), 5)
        if server.returncode not in (0, 130, -signal.SIGINT) and server.stderr is not None:
            err = await server.stderr.read()
            print("server stderr:", err.decode()[-2000:], file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between events")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each GET rate run")
    parser.add_argument("--clients", type=int, default=8, help="keep-alive GET clients")
    parser.add_argument("--db", default=None, help="store URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--dashboard", action="store_true", help="viewers also refetch the HTML fragment per event, as the page does"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
