"""Triggers against a real Prometheus scraping a local app whose error rate the test controls.

The fixture starts the Debian ``prometheus`` binary on a free loopback port with a 1 s scrape interval,
scraping an exporter served from a thread here. Covers: the error-rate trigger fires after the test raises
the error rate; an empty result; NaN (0/0); Prometheus killed -> errors -> the trigger fails closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from golive import clock as clock_mod
from golive import results
from golive.spec import models
from golive.watch.observe import observe
from golive.watch.triggers import ReadMetric, TriggerEvaluator, TriggerState, plugin_source_factory

pytestmark = pytest.mark.prometheus

PROMETHEUS = shutil.which("prometheus")
SCRAPE_INTERVAL = 1  # seconds
READY_WAIT = 30.0  # seconds to wait for Prometheus to start and scrape; a bound, not an assertion
APP_RPS = 200.0  # requests per second the simulated app serves

ERROR_RATE = (
    'sum(rate(app_requests_total{service="payout",code=~"5.."}[5s]))'
    ' / sum(rate(app_requests_total{service="payout"}[5s]))'
)
# The same for a service whose error fraction no test changes, so tests sharing one Prometheus stay independent.
STEADY_RATE = ERROR_RATE.replace("payout", "checkout")
IDLE_RATE = "sum(rate(idle_errors_total[5s])) / sum(rate(idle_requests_total[5s]))"  # 0/0 = NaN
MISSING = "sum(rate(no_such_metric_total[5s]))"  # an empty vector


@dataclass
class App:
    """A simulated app with two services: request counters grow with time at APP_RPS each; a test sets
    the payout service's error fraction (the checkout service stays healthy)."""

    error_fraction: float = 0.0
    counts: dict[tuple[str, str], float] = field(default_factory=dict)
    last: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def exposition(self) -> bytes:
        with self.lock:
            now = time.monotonic()
            n = (now - self.last) * APP_RPS
            self.last = now
            for service, fraction in (("payout", self.error_fraction), ("checkout", 0.0)):
                for code, share in (("200", 1 - fraction), ("500", fraction)):
                    self.counts[service, code] = self.counts.get((service, code), 0.0) + n * share
            lines = ["# TYPE app_requests_total counter"]
            lines += [f'app_requests_total{{service="{s}",code="{c}"}} {v:.3f}' for (s, c), v in self.counts.items()]
            lines += [
                "# TYPE idle_requests_total counter",
                "idle_requests_total 0",
                "# TYPE idle_errors_total counter",
                "idle_errors_total 0",
            ]
        return ("\n".join(lines) + "\n").encode()


@contextlib.contextmanager
def serve_app() -> Iterator[tuple[App, int]]:
    """The app's /metrics endpoint on a loopback port, served from a thread."""
    state = App()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path.startswith("/metrics")
            body = state.exposition() if found else b"not found\n"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    app: App

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@contextlib.contextmanager
def run_prometheus(workdir: Path) -> Iterator[Prometheus]:
    """A real Prometheus on a free loopback port scraping a fresh app every second; stopped afterwards."""
    if PROMETHEUS is None:
        pytest.skip("the prometheus binary is not installed (scripts/setup installs the Debian package)")
    with serve_app() as (state, app_port):
        port = _free_port()
        config = workdir / "prometheus.yml"
        config.write_text(
            f"""global:
  scrape_interval: {SCRAPE_INTERVAL}s
  evaluation_interval: {SCRAPE_INTERVAL}s
scrape_configs:
  - job_name: app
    static_configs:
      - targets: ['127.0.0.1:{app_port}']
"""
        )
        log_path = workdir / "prometheus.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            prom = Prometheus(f"http://127.0.0.1:{port}", proc, state)
            try:
                _wait_for_scrapes(prom, log_path)
                yield prom
            finally:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def app_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """One Prometheus for this module (each test reads its own series); the conftest `prometheus` serves gauges only, these tests need counters and rate()."""
    with run_prometheus(tmp_path_factory.mktemp("prometheus")) as prom:
        yield prom


@pytest.fixture
def doomed_prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    """A Prometheus of this test's own, for a test that kills it."""
    with run_prometheus(tmp_path) as prom:
        yield prom


def _wait_for_scrapes(prom: Prometheus, log: Path) -> None:
    """Until the error-rate query has a value: Prometheus is up and has scraped the app twice."""
    deadline = time.monotonic() + READY_WAIT
    query = urllib.request.quote(ERROR_RATE)
    while time.monotonic() < deadline:
        if prom.process.poll() is not None:
            raise RuntimeError(f"prometheus exited {prom.process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{prom.url}/api/v1/query?query={query}", timeout=2) as resp:
                if b'"result":[{' in resp.read():
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"prometheus did not scrape the app within {READY_WAIT:g}s: {log.read_text()[-2000:]}")


def trigger(url: str, query: str, **kw: Any) -> models.Trigger:
    data: dict[str, Any] = {
        "id": "payout-5xx",
        "title": "Payout/Withdraw 5xx",
        "source": {"type": "prometheus", "with": {"url": url, "query": query}},
        "when": "value > 0.15",
        "interval": "1s",
        "then": "rollback",
    }
    data.update(kw)
    return models.Trigger.model_validate(data)


class Counting:
    """Wraps the plugin source factory to count readings by status."""

    def __init__(self) -> None:
        self.inner = plugin_source_factory()
        self.readings: list[results.MetricReading] = []

    def __call__(self, ref: models.MetricRef) -> ReadMetric:
        read = self.inner(ref)

        async def counted() -> results.MetricReading:
            reading = await read()
            self.readings.append(reading)
            return reading

        return counted


async def _until(predicate: Any, what: str, bound: float = 30.0) -> None:
    deadline = time.monotonic() + bound
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {bound:g}s")
        await asyncio.sleep(0.05)


async def test_error_rate_trigger_fires_after_the_error_rate_rises(app_prometheus: Prometheus) -> None:
    """Healthy traffic keeps the trigger ok; once the app serves 50% 5xx the rollback trigger fires."""
    prometheus = app_prometheus
    state = prometheus.app
    source = Counting()
    ev = TriggerEvaluator(trigger(prometheus.url, ERROR_RATE), source, clock_mod.SystemClock())
    events: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)

    window = asyncio.ensure_future(observe(300.0, [ev], clock_mod.SystemClock(), on_event))
    await _until(lambda: sum(r.status == "ok" for r in source.readings) >= 3, "three healthy readings")
    assert not window.done()
    assert ev.last is not None
    assert ev.last.state is TriggerState.OK
    state.error_fraction = 0.5
    res = await asyncio.wait_for(window, timeout=60)
    assert (res.outcome, res.trigger_id, res.then) == ("fired", "payout-5xx", "rollback")
    assert res.last["payout-5xx"].value is not None
    assert res.last["payout-5xx"].value > 0.15
    assert [e["data"]["trigger_id"] for e in events if e["type"] == "trigger_fired"] == ["payout-5xx"]


async def test_range_query_trigger_reads_the_error_rate(app_prometheus: Prometheus) -> None:
    """A range query (max over 10s) gives a value the trigger compares; healthy traffic is ok."""
    prometheus = app_prometheus
    t = trigger(prometheus.url, STEADY_RATE)
    t = t.model_copy(
        update={
            "source": models.MetricRef.model_validate(
                {
                    "type": "prometheus",
                    "with": {
                        "url": prometheus.url,
                        "query": STEADY_RATE,
                        "range": "10s",
                        "step": "1s",
                        "aggregation": "max",
                    },
                }
            )
        }
    )
    ev = TriggerEvaluator(t, plugin_source_factory(), clock_mod.SystemClock())
    e = await ev.evaluate_once()
    assert (e.status, e.state, e.value) == ("ok", TriggerState.OK, 0.0)


async def test_empty_result_is_no_data_and_fails_under_no_data_fail(app_prometheus: Prometheus) -> None:
    """A query with no series is no data (not 0): no_data: fail fires, no_data: ignore does not."""
    prometheus = app_prometheus
    failing = TriggerEvaluator(
        trigger(prometheus.url, MISSING, no_data="fail"), plugin_source_factory(), clock_mod.SystemClock()
    )
    ignoring = TriggerEvaluator(
        trigger(prometheus.url, MISSING, no_data="ignore"), plugin_source_factory(), clock_mod.SystemClock()
    )
    e1 = await failing.evaluate_once()
    e2 = await ignoring.evaluate_once()
    assert (e1.status, e1.state, e1.fired) == ("no_data", TriggerState.FIRING, True)
    assert "empty result" in e1.reason
    assert (e2.status, e2.state, e2.fired) == ("no_data", TriggerState.NO_DATA, False)


async def test_nan_rate_is_no_data(app_prometheus: Prometheus) -> None:
    """0/0 (a rate with no traffic) is NaN, which is no data: held under no_data: hold, fired under fail."""
    prometheus = app_prometheus
    held = TriggerEvaluator(
        trigger(prometheus.url, IDLE_RATE, no_data="hold"), plugin_source_factory(), clock_mod.SystemClock()
    )
    e = await held.evaluate_once()
    assert (e.status, e.state, e.breached) == ("no_data", TriggerState.HELD, None)
    assert "NaN" in e.reason
    failing = TriggerEvaluator(trigger(prometheus.url, IDLE_RATE), plugin_source_factory(), clock_mod.SystemClock())
    assert (await failing.evaluate_once()).fired


async def test_prometheus_down_fails_closed_after_max_errors(doomed_prometheus: Prometheus) -> None:
    """With Prometheus killed every read is an error; after max_errors the rollback trigger fires."""
    prometheus = doomed_prometheus
    ev = TriggerEvaluator(
        trigger(prometheus.url, ERROR_RATE, max_errors=3), plugin_source_factory(), clock_mod.SystemClock()
    )
    first = await ev.evaluate_once()
    assert (first.status, first.state) == ("ok", TriggerState.OK)  # it was reading fine before the kill
    prometheus.kill()
    res = await asyncio.wait_for(observe(300.0, [ev], clock_mod.SystemClock(), _ignore), timeout=60)
    assert (res.outcome, res.trigger_id, res.then) == ("fired", "payout-5xx", "rollback")
    assert res.reason.startswith("fails closed after 3 consecutive errors")
    assert "unreachable" in res.reason


async def _ignore(event: dict[str, Any]) -> None:
    return None
