"""Real services on loopback for integration tests. Reuse these; do not start your own copies.

Fixtures (all bind 127.0.0.1 only, all clean up after themselves):

``http_server``          a threaded HTTP/1.1 server with a routing table (:class:`LoopbackHTTPServer`).
                         ``http_server.route("/health", json={"status": "ok"})``, then
                         ``http_server.url("/health")``; ``handle(path, fn)`` for dynamic answers;
                         ``requests`` records what came in. Unknown paths answer 404.
``tls_cert``             a self-signed certificate for ``localhost`` and ``127.0.0.1`` valid 30 days
                         (:class:`TlsCert` with ``cert_file``/``key_file``; the cert is its own CA, so
                         ``ca_file=tls_cert.cert_file`` makes it trusted).
``tls_server``           ``http_server``'s twin over HTTPS with ``tls_cert`` (``tls_server.ca_file``).
``start_tls_server``     factory: ``start_tls_server(make_cert(days=5))`` for other certificates.
``closed_port``          a loopback port with nothing listening (connection refused).
``prometheus``           a real Prometheus (session) scraping a local exporter every second
                         (:class:`PrometheusService`: ``url``, ``exporter.set("name", value)``).
                         Skipped when the ``prometheus`` binary is absent (scripts/setup installs it).
``moto_server``          moto's Secrets Manager (and the rest of AWS) in server mode (session);
                         ``aws_env`` sets fake credentials so boto3 never looks elsewhere.
``postgres_url``         a throwaway PostgreSQL database (SQLAlchemy URL, ``postgresql+psycopg://``),
                         dropped after the test. Skipped when the server is not reachable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from golive.clock import FakeClock
from golive.store import sqlite

LOOPBACK = "127.0.0.1"
SERVICE_START_TIMEOUT = 30.0  # seconds a service may take to become ready before the test errors
PG_ADMIN_URL = os.environ.get("GOLIVE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.asynccontextmanager
async def sqlite_on_fake_clock(
    path: Path, start: dt.datetime | None = None
) -> AsyncIterator[tuple[FakeClock, sqlite.SqliteStore]]:
    """A SQLite store at ``path`` whose timestamps come from a fresh fake clock (starting at ``start``)."""
    clock = FakeClock(start)
    store = sqlite.SqliteStore(path, clock)
    await store.open()
    try:
        yield clock, store
    finally:
        await store.close()


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = SERVICE_START_TIMEOUT) -> None:
    """Poll ``predicate`` (bounded in time) until it is true; fail the test with ``what`` if never."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not happen within {timeout:g} s")


# ------------------------------------------------------------------------------------------------ HTTP


@dataclass
class Request:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What a route answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering

    @classmethod
    def of_json(cls, doc: Any, status: int = 200, **kw: Any) -> Reply:
        return cls(status=status, body=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}, **kw)


Handler = Callable[[Request], Reply]


class LoopbackHTTPServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with routes set by the test."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real services and the pooled client use

            def log_message(self, format: str, *args: Any) -> None:
                pass  # tests read `requests`, not stderr

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with outer._lock:
                    outer.requests.append(req)
                    handler = outer._routes.get((self.command, parts.path)) or outer._routes.get(("*", parts.path))
                if handler is None:
                    reply = Reply.of_json({"error": "not found"}, status=404)
                else:
                    try:
                        reply = handler(req)
                    except Exception as exc:  # a broken test handler must show up as a 500, not a hang
                        reply = Reply(status=500, body=f"handler failed: {exc!r}".encode())
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        self._server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}{path}"

    def route(
        self,
        path: str,
        *,
        method: str = "*",
        status: int = 200,
        json: Any = None,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer ``path`` with a fixed reply (``json`` wins over ``body``)."""
        if json is not None:
            reply = Reply.of_json(json, status=status, delay=delay)
            reply.headers.update(headers or {})
        else:
            raw = body.encode() if isinstance(body, str) else body
            reply = Reply(status=status, body=raw, headers=dict(headers or {}), delay=delay)
        self.handle(path, lambda _req: reply, method=method)

    def handle(self, path: str, fn: Handler, *, method: str = "*") -> None:
        """Answer ``path`` with whatever ``fn(request)`` returns."""
        with self._lock:
            self._routes[(method.upper(), path)] = fn

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def http_server() -> Iterator[LoopbackHTTPServer]:
    server = LoopbackHTTPServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def closed_port() -> int:
    return free_port()


# ------------------------------------------------------------------------------------------------ TLS


@dataclass(frozen=True)
class TlsCert:
    """A PEM certificate and key on disk."""

    cert_file: str
    key_file: str
    not_after: dt.datetime


def make_cert(directory: Path, *, days: int = 30, names: tuple[str, ...] = ("localhost",)) -> TlsCert:
    """A self-signed certificate (its own CA) for ``names`` and 127.0.0.1, valid ``days`` from now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    not_after = now + dt.timedelta(days=days)
    san = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{names[0]}-{days}d-{uuid.uuid4().hex[:6]}"
    cert_file = directory / f"{stem}.pem"
    key_file = directory / f"{stem}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return TlsCert(cert_file=str(cert_file), key_file=str(key_file), not_after=not_after)


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> TlsCert:
    return make_cert(tmp_path_factory.mktemp("tls"), days=30)


class LoopbackHTTPSServer(LoopbackHTTPServer):
    """:class:`LoopbackHTTPServer` over TLS with a given certificate."""

    def __init__(self, cert: TlsCert) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert.cert_file, cert.key_file)
        self.cert = cert
        self.ca_file = cert.cert_file
        super().__init__(ssl_context=context)


@pytest.fixture
def start_tls_server() -> Iterator[Callable[[TlsCert], LoopbackHTTPSServer]]:
    started: list[LoopbackHTTPSServer] = []

    def start(cert: TlsCert) -> LoopbackHTTPSServer:
        server = LoopbackHTTPSServer(cert)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.close()


@pytest.fixture
def tls_server(tls_cert: TlsCert, start_tls_server: Callable[[TlsCert], LoopbackHTTPSServer]) -> LoopbackHTTPSServer:
    return start_tls_server(tls_cert)


# ------------------------------------------------------------------------------------------------ Prometheus


class Exporter:
    """A /metrics endpoint whose gauges the test sets; Prometheus scrapes it every second."""

    def __init__(self) -> None:
        self._values: dict[str, float] = {"golive_test_up": 1.0}
        self._lock = threading.Lock()
        self.server = LoopbackHTTPServer()
        self.server.handle("/metrics", self._metrics)

    def set(self, name: str, value: float) -> None:
        with self._lock:
            self._values[name] = value

    def _metrics(self, _req: Request) -> Reply:
        with self._lock:
            lines = [f"# TYPE {k} gauge\n{k} {v!r}" for k, v in sorted(self._values.items())]
        return Reply(body=("\n".join(lines) + "\n").encode(), headers={"Content-Type": "text/plain; version=0.0.4"})


@dataclass
class PrometheusService:
    """A running Prometheus and the exporter it scrapes."""

    url: str
    exporter: Exporter

    def query(self, promql: str) -> Any:
        qs = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{qs}", timeout=5) as resp:
            return json.loads(resp.read())

    def wait_for(self, promql: str) -> None:
        """Wait (bounded) until ``promql`` has a sample: exporter values appear after a scrape."""

        def has_data() -> bool:
            try:
                return bool(self.query(promql)["data"]["result"])
            except (OSError, KeyError, ValueError):
                return False

        wait_until(has_data, f"prometheus data for {promql}")


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusService]:
    with running_prometheus(tmp_path_factory.mktemp("prometheus")) as service:
        yield service


@contextlib.contextmanager
def running_prometheus(work: Path) -> Iterator[PrometheusService]:
    """A real Prometheus (working in ``work``) scraping a local exporter every second, stopped afterwards;
    skips the test when the ``prometheus`` binary is absent."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("the prometheus binary is not installed (scripts/setup installs it)")
    work.mkdir(parents=True, exist_ok=True)
    exporter = Exporter()
    try:
        with _prometheus_process(binary, work, exporter) as service:
            yield service
    finally:
        exporter.server.close()


@contextlib.contextmanager
def _prometheus_process(binary: str, work: Path, exporter: Exporter) -> Iterator[PrometheusService]:
    exporter.set("golive_test_error_ratio", 0.05)
    exporter.set("golive_test_zero", 0.0)
    config = work / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: golive_test\n    static_configs:\n"
        f"      - targets: ['{LOOPBACK}:{exporter.server.port}']\n"
    )
    port = free_port()
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    service = PrometheusService(url=f"http://{LOOPBACK}:{port}", exporter=exporter)
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {proc.returncode}; see {work / 'prometheus.log'}")
            try:
                with urllib.request.urlopen(f"{service.url}/-/ready", timeout=1) as resp:
                    return bool(resp.status == 200)
            except (OSError, urllib.error.URLError):
                return False

        wait_until(ready, "prometheus ready")
        service.wait_for("golive_test_up")
        yield service
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


# ------------------------------------------------------------------------------------------------ AWS (moto)


@dataclass
class MotoService:
    """moto in server mode: ``endpoint_url`` for boto3, ``reset()`` to forget every resource."""

    endpoint_url: str

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=5):
            pass


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoService]:
    with running_moto() as service:
        yield service


@contextlib.contextmanager
def running_moto() -> Iterator[MotoService]:
    """moto in server mode on a free loopback port, stopped afterwards."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    try:
        yield MotoService(endpoint_url=f"http://{LOOPBACK}:{port}")
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_server: MotoService) -> MotoService:
    """Fake credentials and no shared config, so boto3 talks only to moto; moto state reset."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-2")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials-none"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    moto_server.reset()
    return moto_server


# ------------------------------------------------------------------------------------------------ PostgreSQL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database for this test, as a SQLAlchemy URL (postgresql+psycopg://); dropped afterwards."""
    with throwaway_database("golive_t") as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty database for this test (postgresql:// URL); dropped afterwards."""
    with throwaway_database("golive_t") as url:
        yield url


@pytest.fixture(scope="module")
def postgres_module_database() -> Iterator[str]:
    """One throwaway database for a test module (postgresql:// URL); dropped after the module."""
    with throwaway_database("golive_m") as url:
        yield url


@pytest.fixture(scope="session")
def postgres_session_database() -> Iterator[str]:
    """One throwaway database for the session (postgresql:// URL); dropped at the end."""
    with throwaway_database("golive_s") as url:
        yield url


@contextlib.contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """Create a database with a unique name on the local server, yield its URL, drop it after; skip the test
    when the server cannot be reached."""
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(PG_ADMIN_URL)
        yield f"postgresql://{parts.netloc}/{name}"
    finally:
        with contextlib.suppress(psycopg.Error):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# ------------------------------------------------------------------------------------------------ Prometheus
# scraping an app whose traffic the test controls (counters, so rate() and 0/0 work as in production)

APP_RPS = 200.0  # requests per second each simulated service serves


class TrafficApp:
    """A simulated app: per service, request counters (``code`` 200 and 500) grow at APP_RPS; the test
    sets a service's error fraction. ``idle_requests_total``/``idle_errors_total`` never grow (0/0 = NaN)."""

    def __init__(self) -> None:
        self._fractions: dict[str, float] = {}
        self._counts: dict[tuple[str, str], float] = {}
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self.server = LoopbackHTTPServer()
        self.server.handle("/metrics", self._metrics)

    def set_error_fraction(self, service: str, fraction: float) -> None:
        """From now on, ``fraction`` of the service's requests answer 500 (a new service starts at 0)."""
        with self._lock:
            self._advance()
            self._fractions[service] = fraction

    def _advance(self) -> None:
        now = time.monotonic()
        n = (now - self._last) * APP_RPS
        self._last = now
        for service, fraction in self._fractions.items():
            for code, share in (("200", 1 - fraction), ("500", fraction)):
                self._counts[service, code] = self._counts.get((service, code), 0.0) + n * share

    def _metrics(self, _req: Request) -> Reply:
        with self._lock:
            self._advance()
            lines = ["# TYPE app_requests_total counter"]
            lines += [f'app_requests_total{{service="{s}",code="{c}"}} {v:.3f}' for (s, c), v in self._counts.items()]
            lines += ["# TYPE idle_requests_total counter", "idle_requests_total 0"]
            lines += ["# TYPE idle_errors_total counter", "idle_errors_total 0"]
        return Reply(body=("\n".join(lines) + "\n").encode(), headers={"Content-Type": "text/plain; version=0.0.4"})


def error_rate_query(service: str, window: str = "5s") -> str:
    """PromQL: the service's share of 5xx answers over ``window`` (needs a scrape interval well below it)."""
    return (
        f'sum(rate(app_requests_total{{service="{service}",code=~"5.."}}[{window}]))'
        f' / sum(rate(app_requests_total{{service="{service}"}}[{window}]))'
    )


@dataclass
class PrometheusProcess:
    """A Prometheus of its own (``url``) scraping a :class:`TrafficApp` (``app``) every second."""

    url: str
    app: TrafficApp
    process: subprocess.Popen[bytes]
    log: Path

    def query(self, promql: str) -> Any:
        qs = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{qs}", timeout=5) as resp:
            return json.loads(resp.read())

    @staticmethod
    def error_rate(service: str, window: str = "5s") -> str:
        """PromQL of the service's 5xx share (:func:`error_rate_query`), for test modules (which cannot import
        conftest)."""
        return error_rate_query(service, window)

    def wait_for(self, promql: str) -> None:
        """Wait (bounded) until ``promql`` gives a sample."""

        def has_data() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                return bool(self.query(promql)["data"]["result"])
            except (OSError, KeyError, ValueError):
                return False

        wait_until(has_data, f"prometheus data for {promql}")

    def stop(self) -> None:
        """Stop Prometheus (SIGTERM, then SIGKILL); the URL then refuses connections."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def start_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., PrometheusProcess]]:
    """Factory: ``start_prometheus(services=("payout",))`` starts a Prometheus of the caller's own on a free
    loopback port, scraping a fresh :class:`TrafficApp` every second, and returns once each named service's
    error rate has a value (:func:`error_rate_query`). Everything started is stopped at the end of the
    session (or earlier with ``stop()``). Skipped when the ``prometheus`` binary is absent."""
    binary = shutil.which("prometheus")
    started: list[PrometheusProcess] = []

    def start(services: tuple[str, ...] = ("payout",)) -> PrometheusProcess:
        if binary is None:
            pytest.skip("the prometheus binary is not installed (scripts/setup installs the Debian package)")
        app = TrafficApp()
        for s in services:
            app.set_error_fraction(s, 0.0)
        work = tmp_path_factory.mktemp("prometheus-app")
        config = work / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: app\n    static_configs:\n"
            f"      - targets: ['{LOOPBACK}:{app.server.port}']\n"
        )
        port = free_port()
        log = work / "prometheus.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={work / 'data'}",
                    f"--web.listen-address={LOOPBACK}:{port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        prom = PrometheusProcess(f"http://{LOOPBACK}:{port}", app, proc, log)
        started.append(prom)
        for s in services:
            prom.wait_for(error_rate_query(s))
        return prom

    try:
        yield start
    finally:
        for prom in started:
            prom.stop()
            prom.app.server.close()


# ------------------------------------------------------------------------------------------------ metrics
# a test controls, with no service behind them (the `fake` metric source, for FakeClock runs of the engine)


@dataclass
class FakeMetrics:
    """A trigger with ``source: {type: fake, with: {name: N}}`` reads ``fake_metrics[N]``, a
    :class:`golive.testing.FakeMetricSource` (reading 0.0 until the test says otherwise)."""

    sources: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        from golive.testing import FakeMetricSource

        return self.sources.setdefault(name, FakeMetricSource([0.0]))


_FAKE_METRICS: list[FakeMetrics] = [FakeMetrics()]  # the current test's sources


def _fake_metric_source() -> type[Any]:
    from pydantic import Field

    from golive import results
    from golive.plugins import base

    class FakeParams(base.Params):
        name: str = Field(description="Which FakeMetricSource of the test to read.")

    class FakeSource(base.MetricSource):
        name = "fake"
        params = FakeParams
        description = "Reads a FakeMetricSource the test controls (tests only)."

        async def read(self, ctx: base.StepContext) -> results.MetricReading:
            reading: results.MetricReading = await _FAKE_METRICS[0][ctx.params.name].read()
            return reading

    return FakeSource


@pytest.fixture
def fake_metrics() -> Iterator[FakeMetrics]:
    """Registers the ``fake`` metric source in the default registry for this test (so runbooks using it
    load in the engine and in every handle the test opens), with this test's own sources; removed after,
    so later tests (the schema's, the docs') see only the real plugins."""
    from golive.plugins import registry as registry_mod

    reg = registry_mod.default_registry()
    reg.register(_fake_metric_source())
    _FAKE_METRICS[0] = FakeMetrics()
    try:
        yield _FAKE_METRICS[0]
    finally:
        _FAKE_METRICS[0] = FakeMetrics()
        reg._plugins.pop(("metric", "fake"), None)  # the Registry has no public unregister; tests only


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[sqlite.SqliteStore]:
    """A real SQLite event store in the test's own directory (engine, rollback and observe tests)."""
    s = sqlite.SqliteStore(tmp_path / "db" / "golive.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()
