"""Who is calling and whether they may: bearer tokens and stream tickets, the failed-attempt rate limit, and
each endpoint's access level.

A missing, malformed, unknown, revoked or expired credential is a 401 with ``WWW-Authenticate: Bearer``; every
failed attempt counts against the caller's address, and past the limit every request from it is a 429 with
``Retry-After`` before any token is looked at. A stream ticket only ever opens a stream: it never acts,
whatever roles it names, and it dies with the token that got it. A read-only token cannot act (403); only
the server's start roles start runs (403).
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request

from golive.server import auth, openapi
from golive.server import config as config_mod
from golive.server.call import HTTPProblem, ServerState

__all__ = ["AUTH_CHALLENGE", "authenticate", "check_access"]

AUTH_CHALLENGE = 'Bearer realm="golive"'


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def authenticate(request: Request, st: ServerState, allow_ticket: bool = False) -> auth.Principal:
    """The caller, or HTTPProblem 401/429. Failed attempts count against the caller's address."""
    client = _client(request)
    wait = st.limiter.retry_after(client)
    if wait is not None:
        raise HTTPProblem(
            429,
            "rate_limited",
            f"too many failed authentications from {client}; retry in {math.ceil(wait)} s",
            {"Retry-After": str(math.ceil(wait))},
        )
    header = request.headers.get("authorization")
    if header is None:
        ticket = request.query_params.get("ticket") if allow_ticket else None
        if ticket:
            found = st.signer.verify(ticket, str(request.path_params.get("run_id", "")))
            issuer_token = None
            if found is not None and found[2] is not None:  # the token that got the ticket must still hold
                try:
                    issuer_token = await st.authority.by_digest(found[2])
                except auth.Rejected:
                    found = None
                if issuer_token is None:
                    found = None
            if found is None:
                st.limiter.failed(client)
                raise HTTPProblem(
                    401,
                    "unauthorized",
                    "the stream ticket is invalid, expired or for another run; get a new one "
                    "with POST /api/v1/runs/{run_id}/events/ticket",
                    {"WWW-Authenticate": AUTH_CHALLENGE + ', error="invalid_token"'},
                )
            # A ticket only ever opens a stream; it can never act, whatever roles it names.
            return auth.Principal(
                found[0], frozenset(found[1]), can_act=False, can_start=False, source="ticket", digest=found[2],
                expires=issuer_token.expires if issuer_token is not None else None,
            )  # fmt: skip
        raise HTTPProblem(
            401,
            "unauthorized",
            "this needs a bearer token: send 'Authorization: Bearer <token>' (make one with `golive token create`)",
            {"WWW-Authenticate": AUTH_CHALLENGE},
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        st.limiter.failed(client)
        raise HTTPProblem(
            401,
            "unauthorized",
            "the Authorization header must be 'Bearer <token>'",
            {"WWW-Authenticate": AUTH_CHALLENGE + ', error="invalid_request"'},
        )
    try:
        return await st.authority.authenticate(token)
    except auth.Rejected as exc:
        st.limiter.failed(client)
        raise HTTPProblem(
            401,
            "unauthorized",
            exc.message,
            {"WWW-Authenticate": AUTH_CHALLENGE + f', error="invalid_token", error_description="{exc.message}"'},
        ) from None


def check_access(ep: openapi.Endpoint[Any], p: auth.Principal, cfg: config_mod.ServerConfig) -> None:
    """403 when the principal may not call the endpoint: a read-only token acting, or starting without a start role."""
    if ep.access == "act" and not p.can_act:
        raise HTTPProblem(
            403,
            "forbidden",
            f"{p.user}'s token has read-only roles ({', '.join(sorted(p.roles)) or 'none'}); it cannot {ep.summary.lower()}",
        )
    if ep.access == "start" and not p.can_start:
        raise HTTPProblem(
            403,
            "forbidden",
            f"{p.user}'s token may not start runs; that needs one of the server roles: "
            f"{', '.join(cfg.start_roles) or 'none are configured (start_roles)'}",
        )
