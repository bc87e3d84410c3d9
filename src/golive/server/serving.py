"""Running the app on uvicorn, with a shutdown that ends live streams first.

Uvicorn waits for open responses before it stops; a dashboard's event stream never ends by itself, so a
plain shutdown would wait out its grace period and then cancel the streams with errors in the log. Here the
streams are told to end as the shutdown begins, and the server stops at once and cleanly.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette

__all__ = ["Server", "config"]

GRACEFUL_SHUTDOWN = 5  # seconds open requests get to finish once streams are closed


class Server(uvicorn.Server):
    """uvicorn.Server that closes the war room's event streams when it starts shutting down."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        state = getattr(getattr(app, "state", None), "golive", None)
        if state is not None:
            state.hub.shutdown()
        await super().shutdown(sockets=sockets)


def config(app: Starlette, host: str, port: int, *, trusted_proxies: Sequence[str] = (), **kw: Any) -> uvicorn.Config:
    """uvicorn's config for the war room. Forwarded headers (X-Forwarded-For/-Proto) are believed only from
    ``trusted_proxies`` (addresses or networks); with none, never: the auth rate limit counts the real peer, so
    a client cannot dodge it or lock out an address of its choosing by sending a header."""
    kw.setdefault("timeout_graceful_shutdown", GRACEFUL_SHUTDOWN)
    if trusted_proxies:
        kw.setdefault("proxy_headers", True)
        kw.setdefault("forwarded_allow_ips", list(trusted_proxies))
    else:
        kw.setdefault("proxy_headers", False)
    kw.setdefault("lifespan", "on")
    kw.setdefault("server_header", False)
    return uvicorn.Config(app, host=host, port=port, **kw)
