"""A throwaway Prometheus for ``golive demo --prometheus``: scrapes the demo service every second.

It listens on a free loopback port, keeps its data in a temporary directory that is removed afterwards, and
cannot outlive the demo: it runs under coreutils ``timeout`` (so even a ``kill -9`` of golive leaves it at
most :data:`MAX_LIFETIME` seconds), and it is stopped (TERM, then KILL) when the demo ends.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from golive import exceptions

__all__ = ["JOB", "LocalPrometheus", "find_binary"]

JOB = "golive-demo"  # the scrape job; the demo runbook's PromQL selects it
SCRAPE_INTERVAL = "1s"  # as fast as a trigger evaluating every second can use
MAX_LIFETIME = 600  # seconds; the demo takes under two minutes, this bounds an orphaned Prometheus
START_TIMEOUT = 30.0  # seconds until /-/ready answers
FIRST_SCRAPE_TIMEOUT = 20.0  # seconds until the demo service's target is up
STOP_TIMEOUT = 10.0  # seconds between TERM and KILL
POLL = 0.2  # seconds between readiness probes
PROBE_TIMEOUT = 2.0  # seconds for one readiness request


def find_binary() -> str | None:
    """The ``prometheus`` executable on PATH, or None."""
    return shutil.which("prometheus")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LocalPrometheus:
    """Prometheus on loopback scraping one target; use as a context manager."""

    def __init__(self, target: str, *, binary: str | None = None, log_path: Path | None = None) -> None:
        found = binary or find_binary()
        if found is None:
            raise exceptions.UsageError(
                "--prometheus: the prometheus binary is not on PATH; install it (scripts/setup does, or "
                "`apt-get install prometheus`) or run the demo without --prometheus (it scrapes /metrics directly)"
            )
        self.binary = found
        self.target = target  # host:port of the demo service
        self.host = "127.0.0.1"
        self.port = 0
        self.log_path = log_path
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalPrometheus:
        """Start it and wait (bounded) until it is ready and has scraped the target once."""
        self._tmp = tempfile.TemporaryDirectory(prefix="golive-demo-prometheus-")
        work = Path(self._tmp.name)
        config = work / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  evaluation_interval: {SCRAPE_INTERVAL}\n"
            f"scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{self.target}']\n",
            encoding="utf-8",
        )
        self.port = _free_port(self.host)
        argv = [
            self.binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address={self.host}:{self.port}",
            "--storage.tsdb.retention.time=1h",
        ]
        timeout_bin = shutil.which("timeout")
        if timeout_bin is not None:
            argv = [timeout_bin, "--kill-after=5s", f"{MAX_LIFETIME}s", *argv]
        log = (self.log_path or work / "prometheus.log").open("wb")
        try:
            # Its own session: a Ctrl-C in the terminal reaches golive, which stops it in order.
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        try:
            self._wait(self._ready, START_TIMEOUT, "Prometheus did not become ready")
            self._wait(self._target_up, FIRST_SCRAPE_TIMEOUT, f"Prometheus did not scrape {self.target}")
        except BaseException:
            self.stop()
            raise
        return self

    def _wait(self, probe: Callable[[], bool], limit: float, what: str) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise exceptions.GoliveError(
                    f"{what}: it exited with status {self._proc.returncode} (log: {self.log_path or 'not kept'})"
                )
            if probe():
                return
            time.sleep(POLL)
        raise exceptions.GoliveError(f"{what} within {limit:g}s (log: {self.log_path or 'not kept'})")

    def _get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=PROBE_TIMEOUT) as resp:
                return bytes(resp.read()) if resp.status == 200 else None
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def _ready(self) -> bool:
        return self._get("/-/ready") is not None

    def _target_up(self) -> bool:
        body = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": f'up{{job="{JOB}"}}'}))
        if body is None:
            return False
        try:
            result = json.loads(body)["data"]["result"]
            return any(float(r["value"][1]) == 1.0 for r in result)
        except (ValueError, KeyError, TypeError, IndexError):
            return False

    def stop(self) -> None:
        """TERM, then KILL after :data:`STOP_TIMEOUT`; remove the data directory."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
