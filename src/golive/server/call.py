"""What a handler gets and how it answers: the request's :class:`Call`, the server's :class:`ServerState`,
and :class:`HTTPProblem` for an error answered with a status code and an ErrorBody.

The app (golive.server.app) makes one Call per request after authentication and body parsing; handlers
(golive.server.handlers) read the caller, the validated body and the server from it and never see the
request's raw headers for access decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from golive.server import auth, openapi, sse
from golive.server import config as config_mod
from golive.server import oidc as oidc_mod
from golive.server.runs import RunService
from golive.store import base as store_base

__all__ = ["Call", "HTTPProblem", "ServerState", "error"]


class HTTPProblem(Exception):
    """An error answered with a status code and an ErrorBody."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}


@dataclass
class ServerState:
    config: config_mod.ServerConfig
    store: store_base.Store
    service: RunService
    hub: sse.Hub
    authority: auth.TokenAuthority
    limiter: auth.FailureLimiter
    signer: auth.TicketSigner
    version: str
    login_sealer: auth.Sealer
    oidc: oidc_mod.Provider | None = None
    endpoints: list[openapi.Endpoint[Call]] = field(default_factory=list)
    document: dict[str, Any] | None = None


@dataclass
class Call:
    """What a handler gets: the request, the caller, the validated body and the server."""

    request: Request
    state: ServerState
    principal: auth.Principal | None
    body: Any = None
    files: list[Path] = field(default_factory=list)

    @property
    def user(self) -> str:
        assert self.principal is not None
        return self.principal.user

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])


def error(status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """The JSON error answer: ``{"error": ..., "message": ..., **extra}``."""
    body = {"error": error, "message": message, **extra}
    return JSONResponse(body, status_code=status, headers=headers)
