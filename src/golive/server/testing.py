"""A live war-room server on a loopback port, in a thread: for tests, benchmarks and integrations.

::

    with LiveServer("runs.db", ServerConfig(...)) as srv:
        httpx.get(srv.url + "/health")

The server has its own event loop and its own store connection; talk to it over HTTP (and to the same
database from the CLI or another store instance), exactly as a person's browser and terminal would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType
from typing import Any

from golive.server import app as app_mod
from golive.server import config as config_mod
from golive.server import serving
from golive.store import open_store

__all__ = ["LiveServer"]

START_TIMEOUT = 20.0  # seconds the server may take to start listening
STOP_TIMEOUT = 20.0  # seconds it may take to stop
GRACEFUL = 2  # seconds open streams (dashboards) get to finish before the server closes them


class LiveServer:
    """Run ``golive serve``'s app over ``store_url`` on 127.0.0.1 (a free port) until closed."""

    def __init__(
        self, store_url: str, cfg: config_mod.ServerConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.store_url = store_url
        self.cfg = cfg or config_mod.ServerConfig()
        self.host = host
        self._port = port
        self.app = app_mod.create_app(open_store(store_url), self.cfg)
        self._server: serving.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LiveServer:
        config = serving.config(
            self.app,
            self.host,
            self._port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL,
            trusted_proxies=self.cfg.trusted_proxies,
        )
        server = serving.Server(config)
        self._server = server

        def run() -> None:
            try:
                asyncio.run(server.serve())
            except BaseException as exc:  # reported by start() / stop()
                self._error = exc

        self._thread = threading.Thread(target=run, name="golive-live-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the server did not start: {self._error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start within {START_TIMEOUT:g} s")
            time.sleep(0.02)
        sockets: list[Any] = [s for srv in server.servers for s in srv.sockets]
        self.port = int(sockets[0].getsockname()[1])
        self.app.state.golive.service.listening_at(self.url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():
                raise RuntimeError(f"the server did not stop within {STOP_TIMEOUT:g} s")
        self._thread = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
