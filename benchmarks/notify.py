"""Comms figures: template rendering, the cadence computation, and delivery over real loopback transports.

Run: .venv/bin/python benchmarks/notify.py
Prints: renders per second (default and runbook templates, with the real redactor), the cost of one
cadence.due() call and of simulating 72 h at 1-second ticks, and per-message latency (p50/p95) of the
whole notify path (render, redact, send, record) to a JSON webhook, a form webhook and an SMTP server
(aiosmtpd), all on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from golive.clock import SystemClock
from golive.notify import Notifier, cadence, context, templates
from golive.redact import Redactor
from golive.spec import models

RENDERS = 20_000  # messages rendered per template
MESSAGES = 200  # messages sent per transport
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class _Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Box:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK"


def bench_render() -> None:
    red = Redactor()
    red.add_secret("psp-live-9f8e7d6c5b4a")
    r = templates.Renderer()
    ctx = context.blank()
    ctx.update(phase_title="Deploy+Smoke", reason="payout to jane@example.com failed", update_every="15m")
    cases = {
        "default phase_passed": templates.DEFAULT_TEMPLATES["phase_passed"],
        "default status_update": templates.DEFAULT_TEMPLATES["status_update"],
        "runbook rollback_triggered": "Rollback triggered. Reason: {{ reason }}. Restoration in progress.",
    }
    for name, text in cases.items():
        t = time.perf_counter()
        for _ in range(RENDERS):
            red.redact(r.render(text, ctx, name))
        dt = time.perf_counter() - t
        print(f"render+redact {name:28s} {RENDERS / dt:10,.0f} msg/s  ({dt / RENDERS * 1e6:.1f} us each)")


def bench_cadence() -> None:
    tiers = cadence.DEFAULT_CADENCE
    anchors = cadence.Anchors(START, START + timedelta(minutes=75))
    now = START + timedelta(hours=5)
    n = 100_000
    t = time.perf_counter()
    for _ in range(n):
        cadence.due(tiers, anchors, {"cutover": 4, "first-2h": 4}, now)
    dt = time.perf_counter() - t
    print(f"cadence.due() one call                  {dt / n * 1e6:10.2f} us")
    sent: dict[str, int] = {}
    total = 0
    t = time.perf_counter()
    for s in range(0, 72 * 3600, 1):
        for d in cadence.due(tiers, anchors, sent, START + timedelta(seconds=s)):
            sent[d.tier] = d.slot
            total += 1
    dt = time.perf_counter() - t
    print(f"cadence 72 h at 1 s ticks ({72 * 3600:,} calls)  {dt:10.2f} s, {total} updates")


async def bench_transport(name: str, url: str) -> None:
    records = 0

    async def record(_p: dict[str, Any]) -> None:
        nonlocal records
        records += 1

    comms = models.Comms.model_validate({"channels": [{"id": "c", "url": url}]})
    n = Notifier(comms, Redactor().redact, SystemClock(), record, min_interval=0.0)
    lat: list[float] = []
    t0 = time.perf_counter()
    for i in range(MESSAGES):
        t = time.perf_counter()
        [d] = await n.notify("phase_passed", {"phase_title": f"Phase {i}"})
        lat.append(time.perf_counter() - t)
        assert d.ok, d.error
    wall = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=20)
    print(
        f"notify -> {name:14s} p50 {statistics.median(lat) * 1e3:6.2f} ms  p95 {q[18] * 1e3:6.2f} ms"
        f"  {MESSAGES / wall:7.0f} msg/s  ({records} recorded)"
    )


async def bench_transports() -> None:
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    http.daemon_threads = True
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    box = _Box()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(box, hostname="bench"), "127.0.0.1", 0)
    smtp_port = smtp.sockets[0].getsockname()[1]
    port = http.server_address[1]
    try:
        await bench_transport("json webhook", f"json://127.0.0.1:{port}/hook")
        await bench_transport("form webhook", f"form://127.0.0.1:{port}/hook")
        await bench_transport("smtp", f"mailto://127.0.0.1:{smtp_port}?from=a@example.org&to=b@example.org")
    finally:
        smtp.close()
        await smtp.wait_closed()
        http.shutdown()
        http.server_close()


def main() -> None:
    bench_render()
    bench_cadence()
    asyncio.run(bench_transports())


if __name__ == "__main__":
    main()
