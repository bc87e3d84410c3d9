"""The war-room ASGI app: the REST API under /api/v1, the SSE stream, and the dashboard.

Status codes: 401 (with ``WWW-Authenticate: Bearer``) when the token is missing, unknown or revoked; 403
when the token may not do this (read-only) or the runbook's rules refuse the act (``RuleRefused``); 409 when
another act landed first and this one no longer applies (``ActConflict``: "already decided: ..."); 404
for an unknown run, step or file; 400 for a request the rules call invalid (``UsageError``); 422 for a body
that does not match its schema or a runbook that does not load; 429 (with ``Retry-After``) after too many
failed authentications from one address. Without a token only ``/health`` answers, besides the login page
and its static files, which hold no run data: a browser cannot attach a bearer header to a page load, so
the pages fetch everything they show with the token, from the API and the HTML fragment routes under /ui.

This module is the app factory and the dispatch of a request: authentication and access
(golive.server.access), the body (golive.server.bodies), the handler (golive.server.handlers, routed by the
table in golive.server.endpoints) and the mapping of the package's exceptions to status codes. The
request-level types are in golive.server.call.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from golive import exceptions
from golive import identity as identity_mod
from golive.server import access, auth, bodies, dashboard, endpoints, exports, openapi, sse
from golive.server import config as config_mod
from golive.server import oidc as oidc_mod
from golive.server.call import Call, HTTPProblem, ServerState, error
from golive.server.runs import RunService
from golive.store import base as store_base

__all__ = ["create_app", "route_paths"]

log = logging.getLogger("golive.server")

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _route_handler(ep: openapi.Endpoint[Call]) -> Callable[[Request], Any]:
    async def handle(request: Request) -> Response:
        st: ServerState = request.app.state.golive
        call = Call(request, st, None)
        try:
            if ep.access != "public":
                call.principal = await access.authenticate(request, st, allow_ticket=ep.name == "streamEvents")
                access.check_access(ep, call.principal, st.config)
            if ep.body is not None:
                ctype = request.headers.get("content-type", "")
                if ctype.startswith("multipart/form-data") and "multipart/form-data" in ep.alt_body_media:
                    call.body = await bodies.read_confirm_form(call)
                else:
                    call.body = await bodies.read_json(request, ep.body)
            # Acts in this request are recorded with who made them and how they authenticated.
            with identity_mod.acting(call.principal.identity if call.principal is not None else None):
                result = await ep.handler(call)
        except HTTPProblem as exc:
            return error(exc.status, exc.error, exc.message, exc.headers)
        except exceptions.RunbookInvalid as exc:
            return error(
                422, "invalid_runbook", exc.message.splitlines()[0], problems=[p.as_dict() for p in exc.problems]
            )
        except exceptions.UsageError as exc:
            return error(400, "invalid", exc.message)
        except exceptions.ActConflict as exc:
            return error(409, "conflict", exc.message)
        except exceptions.RuleRefused as exc:
            return error(403, "refused", exc.message)
        except exceptions.NotFound as exc:
            return error(404, "not_found", exc.message)
        except exports.NotAvailable as exc:
            return error(501, "not_implemented", exc.message)
        except exceptions.StoreError as exc:
            log.error("store error on %s %s: %s", request.method, request.url.path, exc.message)
            return error(503, "store_unavailable", exc.message)
        except exceptions.GoliveError as exc:
            return error(500, "failed", exc.message)
        finally:
            for f in call.files:
                with contextlib.suppress(OSError):
                    f.unlink()
            if call.files:
                with contextlib.suppress(OSError):
                    call.files[0].parent.rmdir()
        if isinstance(result, Response):
            return result
        if isinstance(result, BaseModel):
            return JSONResponse(result.model_dump(mode="json"), status_code=ep.status)
        return JSONResponse(result, status_code=ep.status)

    handle.__name__ = ep.name
    return handle


# --- middleware -----------------------------------------------------------------------------------------


class SecurityHeaders:
    """Headers every response carries: no framing, no sniffing, and a CSP with no inline script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", dashboard.CSP.encode()),
                ]
                headers += [(k, v) for k, v in extra if k not in names]
                if scope.get("path", "").startswith("/api/") and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    return error(404, "not_found", f"no route {request.url.path}")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")


async def _internal(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error(500, "internal", "internal error; the server log has the details")


def create_app(
    store: store_base.Store,
    cfg: config_mod.ServerConfig | None = None,
    *,
    manage_store: bool = True,
) -> Starlette:
    """The war-room app over ``store`` (opened at startup and closed at shutdown unless ``manage_store`` is off)."""
    cfg = cfg or config_mod.ServerConfig()
    try:
        version = metadata.version("golive")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    service = RunService(store, cfg.runbook_dir)
    secret = cfg.secret.encode() if cfg.secret else secrets.token_bytes(32)
    service.configure_links(secret, cfg.public_url)
    state = ServerState(
        config=cfg,
        store=store,
        service=service,
        hub=sse.Hub(store, service.head, service.apply),
        authority=auth.TokenAuthority(cfg, store),
        limiter=auth.FailureLimiter(cfg.auth_failures),
        signer=auth.TicketSigner(secret, cfg.ticket_ttl),
        version=version,
        login_sealer=auth.Sealer(secret, "golive-oidc-login", oidc_mod.PENDING_TTL),
        oidc=oidc_mod.Provider(cfg.oidc) if cfg.oidc is not None else None,
    )
    state.endpoints = endpoints.table()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_store:
            await store.open()
        orphans = None
        if cfg.resume_orphans:
            import asyncio

            orphans = asyncio.create_task(service.adopt_orphans(), name="golive-orphans")
        try:
            yield
        finally:
            if orphans is not None:
                orphans.cancel()
                with contextlib.suppress(BaseException):
                    await orphans
            await state.hub.close()
            await service.close()
            if manage_store:
                await store.close()

    routes: list[BaseRoute] = [
        Route(ep.path, _route_handler(ep), methods=[ep.method], name=ep.name) for ep in state.endpoints
    ]
    routes += dashboard.page_routes()
    routes += oidc_mod.routes(cfg.oidc is not None)
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"))
    middleware = [Middleware(SecurityHeaders)]
    if cfg.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cfg.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
                max_age=600,
            )
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _method_not_allowed, 500: _internal},
    )
    app.state.golive = state
    return app


def route_paths(app: Starlette) -> Sequence[str]:
    """Every route path of the app (for tests that pin the OpenAPI document to the routes)."""
    return [r.path for r in app.routes if isinstance(r, Route)]
