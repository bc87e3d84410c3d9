"""A small service to cut over in the demo: health, feature flags, Prometheus metrics, a canary, and faults.

It listens on a free loopback port in a background thread. Its kill-switch flags live in a JSON file that
golive's ``json`` flag provider writes; the service reads that file on every request, as a real service
reads its config store, so flipping a flag changes its behaviour at once.

Endpoints:

- ``GET /health``           ``{"status": "ok", "version": ...}``
- ``GET /version``          the deployed version
- ``POST /admin/deploy``    ``{"version": "v2"}``: deploys a version (records the previous one for revert)
- ``POST /admin/revert``    goes back to the previous version
- ``GET /canary``           one end-to-end order through the new code path; 500 under the ``canary`` fault
- ``GET /api/orders``       customer traffic; under the ``observe`` fault, fails while automation is enabled
- ``GET /metrics``          ``demo_http_requests_total`` and ``demo_http_errors_total`` (Prometheus text)
- ``GET /flags``            the flags as the service sees them
- ``POST /admin/fault``     ``{"mode": "none" | "canary" | "observe"}``
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_FLAGS", "FAULTS", "ROUTES", "DemoService"]

FAULTS = ("none", "canary", "observe")
# Every counted route is exported from the start at 0, as Prometheus client libraries do for known label
# values: a series that appears only with its first error makes rate() and a scrape ratio see no data.
ROUTES = ("orders", "canary")
STOP_POLL = 0.05  # seconds; how often the server loop checks for stop(), so the demo and tests end promptly
DEFAULT_FLAGS: dict[str, Any] = {"automation_enabled": False, "safe_mode": True, "outbound_enabled": False}


@dataclass
class _State:
    flags_path: Path
    version: str = "v1"
    previous: str | None = None
    fault: str = "none"
    requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROUTES, 0))
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROUTES, 0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def flags(self) -> dict[str, Any]:
        try:
            data = json.loads(self.flags_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return dict(DEFAULT_FLAGS)  # unreadable config: the service fails safe
        return {**DEFAULT_FLAGS, **data} if isinstance(data, dict) else dict(DEFAULT_FLAGS)

    def count(self, route: str, error: bool) -> None:
        with self.lock:
            self.requests[route] = self.requests.get(route, 0) + 1
            if error:
                self.errors[route] = self.errors.get(route, 0) + 1


class _Handler(BaseHTTPRequestHandler):
    server_version = "golive-demo/1"
    state: _State  # set on the subclass made per service

    def log_message(self, format: str, *args: Any) -> None:  # keep the demo's terminal clean
        return

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return {}
        if length <= 0:
            return {}
        try:
            data = json.loads(self.rfile.read(length))
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def do_GET(self) -> None:
        st = self.state
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send(200, {"status": "ok", "version": st.version})
        elif path == "/version":
            self._send(200, {"version": st.version})
        elif path == "/flags":
            self._send(200, st.flags())
        elif path == "/canary":
            ok = st.fault != "canary"
            st.count("canary", not ok)
            if ok:
                self._send(200, {"ok": True, "order": "demo-canary-order", "ledger": "settled", "version": st.version})
            else:
                self._send(500, {"ok": False, "error": "ledger invariant violated: held != 0 after settlement"})
        elif path == "/api/orders":
            flags = st.flags()
            failing = st.fault == "observe" and bool(flags.get("automation_enabled")) and not flags.get("safe_mode")
            st.count("orders", failing)
            if failing:
                self._send(500, {"error": "auto-reply worker crashed"})
            else:
                self._send(200, {"orders": 3, "automation": bool(flags.get("automation_enabled"))})
        elif path == "/metrics":
            with st.lock:
                lines = [
                    "# HELP demo_http_requests_total Requests served, by route.",
                    "# TYPE demo_http_requests_total counter",
                    *(f'demo_http_requests_total{{route="{r}"}} {n}' for r, n in sorted(st.requests.items())),
                    "# HELP demo_http_errors_total Requests that failed, by route.",
                    "# TYPE demo_http_errors_total counter",
                    *(f'demo_http_errors_total{{route="{r}"}} {n}' for r, n in sorted(st.errors.items())),
                ]
            self._send(200, ("\n".join(lines) + "\n").encode(), "text/plain; version=0.0.4")
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        st = self.state
        path = self.path.split("?", 1)[0]
        body = self._body()
        if path == "/admin/deploy":
            version = str(body.get("version") or "")
            if not version:
                self._send(400, {"error": "version is required"})
                return
            st.previous, st.version = st.version, version
            self._send(200, {"deployed": version, "previous": st.previous})
        elif path == "/admin/revert":
            if st.previous is None:
                self._send(409, {"error": "nothing to revert to"})
                return
            st.version, st.previous = st.previous, None
            self._send(200, {"version": st.version})
        elif path == "/admin/fault":
            mode = str(body.get("mode") or "none")
            if mode not in FAULTS:
                self._send(400, {"error": f"mode must be one of {', '.join(FAULTS)}"})
                return
            st.fault = mode
            self._send(200, {"fault": mode})
        else:
            self._send(404, {"error": "not found"})


class DemoService:
    """The demo service, started on a free loopback port in a thread."""

    def __init__(self, flags_path: Path, *, fault: str = "none", host: str = "127.0.0.1", port: int = 0) -> None:
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
        self.state = _State(flags_path=flags_path, fault=fault)
        if not flags_path.exists():
            flags_path.write_text(json.dumps(DEFAULT_FLAGS, indent=2) + "\n", encoding="utf-8")
        handler = type("DemoHandler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": STOP_POLL}, name="golive-demo", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}"

    def start(self) -> DemoService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DemoService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m golive.demo.service``: serve the demo service in the foreground, to run its runbook by hand."""
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m golive.demo.service", description=main.__doc__)
    parser.add_argument("--port", type=int, default=8080, help="loopback port (0: any free one; default 8080)")
    parser.add_argument("--flags", type=Path, default=Path("demo-flags.json"), help="the flags file")
    parser.add_argument("--fault", choices=FAULTS, default="none")
    args = parser.parse_args(argv)
    with DemoService(args.flags.resolve(), fault=args.fault, port=args.port) as svc:
        print(f"demo service on {svc.url} (flags in {args.flags.resolve()}); Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
