"""The war-room ASGI app: the REST API under /api/v1, the SSE stream, and the dashboard.

Status codes: 401 (with ``WWW-Authenticate: Bearer``) when the token is missing, unknown or revoked; 403
when the token may not do this (read-only) or the runbook's rules refuse the act (``RuleRefused``); 409 when
another act landed first and this one no longer applies (``ActConflict``: "already decided: ..."); 404
for an unknown run, step or file; 400 for a request the rules call invalid (``UsageError``); 422 for a body
that does not match its schema or a runbook that does not load; 429 (with ``Retry-After``) after too many
failed authentications from one address. Without a token only ``/health`` answers, besides the login page
and its static files, which hold no run data: a browser cannot attach a bearer header to a page load, so
the pages fetch everything they show with the token, from the API and the HTML fragment routes under /ui.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
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
from golive.engine import acts, gate
from golive.server import auth, dashboard, exports, openapi, schemas, sse
from golive.server import config as config_mod
from golive.server import oidc as oidc_mod
from golive.server.runs import RunService
from golive.store import base as store_base

__all__ = ["Call", "ServerState", "create_app", "endpoints"]

log = logging.getLogger("golive.server")

JSON_BODY_MAX = 1024 * 1024  # bytes of a JSON request body
RUN_LIST_DEFAULT = 50  # runs listed when ?limit= is not given
RUN_LIST_MAX = 500
STATIC_DIR = Path(__file__).resolve().parent / "static"
AUTH_CHALLENGE = 'Bearer realm="golive"'
STREAM_RECHECK_FLOOR = 0.2  # seconds: the shortest keepalive of a stream whose token is about to expire


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
    endpoints: list[openapi.Endpoint] = field(default_factory=list)
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


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"error": error, "message": message, **extra}
    return JSONResponse(body, status_code=status, headers=headers)


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


def _check_access(ep: openapi.Endpoint, p: auth.Principal, cfg: config_mod.ServerConfig) -> None:
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


async def _read_json(request: Request, model: type[BaseModel]) -> BaseModel:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > JSON_BODY_MAX:
        raise HTTPProblem(413, "too_large", f"the body is larger than {JSON_BODY_MAX} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > JSON_BODY_MAX:
            raise HTTPProblem(413, "too_large", f"the body is larger than {JSON_BODY_MAX} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise HTTPProblem(422, "invalid", _validation_message(exc)) from None


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


async def _read_confirm_form(call: Call) -> schemas.ConfirmRequest:
    """multipart/form-data confirm: fields inputs (JSON object), failed, reason; files evidence."""
    request = call.request
    limit = call.state.config.max_upload
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPProblem(411, "length_required", "an upload needs a Content-Length header")
    if int(length) > limit:
        raise HTTPProblem(413, "too_large", f"the upload is larger than the server's max_upload ({limit} bytes)")
    form = await request.form(max_files=20, max_fields=50)
    try:
        raw_inputs = form.get("inputs")
        inputs: Any = {}
        if isinstance(raw_inputs, str) and raw_inputs.strip():
            try:
                inputs = json.loads(raw_inputs)
            except json.JSONDecodeError:
                raise HTTPProblem(422, "invalid", "inputs: must be a JSON object of name -> value") from None
        failed_raw = form.get("failed")
        failed = isinstance(failed_raw, str) and failed_raw.lower() in ("1", "true", "yes", "on")
        reason = form.get("reason")
        try:
            body = schemas.ConfirmRequest(
                inputs=inputs, failed=failed, reason=reason if isinstance(reason, str) else ""
            )
        except ValidationError as exc:
            raise HTTPProblem(422, "invalid", _validation_message(exc)) from None
        tmp = Path(tempfile.mkdtemp(prefix="golive-upload-"))
        for item in form.getlist("evidence"):
            if isinstance(item, str):
                continue
            name = _safe_name(item.filename or "")
            target = tmp / name
            n = 1
            while target.exists():
                target = tmp / f"{n}-{name}"
                n += 1
            data = await item.read()
            target.write_bytes(data)
            call.files.append(target)
        return body
    finally:
        await form.close()


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]+")


def _safe_name(name: str, default: str = "evidence") -> str:
    """A file name safe on disk and in a Content-Disposition header: no path, no quotes, no control bytes."""
    base = _UNSAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip("._")
    return base[:120] or default


def _route_handler(ep: openapi.Endpoint) -> Callable[[Request], Any]:
    async def handle(request: Request) -> Response:
        st: ServerState = request.app.state.golive
        call = Call(request, st, None)
        try:
            if ep.access != "public":
                call.principal = await authenticate(request, st, allow_ticket=ep.name == "streamEvents")
                _check_access(ep, call.principal, st.config)
            if ep.body is not None:
                ctype = request.headers.get("content-type", "")
                if ctype.startswith("multipart/form-data") and "multipart/form-data" in ep.alt_body_media:
                    call.body = await _read_confirm_form(call)
                else:
                    call.body = await _read_json(request, ep.body)
            # Acts in this request are recorded with who made them and how they authenticated.
            with identity_mod.acting(call.principal.identity if call.principal is not None else None):
                result = await ep.handler(call)
        except HTTPProblem as exc:
            return _error(exc.status, exc.error, exc.message, exc.headers)
        except exceptions.RunbookInvalid as exc:
            return _error(
                422, "invalid_runbook", exc.message.splitlines()[0], problems=[p.as_dict() for p in exc.problems]
            )
        except exceptions.UsageError as exc:
            return _error(400, "invalid", exc.message)
        except exceptions.ActConflict as exc:
            return _error(409, "conflict", exc.message)
        except exceptions.RuleRefused as exc:
            return _error(403, "refused", exc.message)
        except exceptions.NotFound as exc:
            return _error(404, "not_found", exc.message)
        except exports.NotAvailable as exc:
            return _error(501, "not_implemented", exc.message)
        except exceptions.StoreError as exc:
            log.error("store error on %s %s: %s", request.method, request.url.path, exc.message)
            return _error(503, "store_unavailable", exc.message)
        except exceptions.GoliveError as exc:
            return _error(500, "failed", exc.message)
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


# --- handlers ----------------------------------------------------------------------------------------


async def health(call: Call) -> schemas.Health:
    return schemas.Health(status="ok", version=call.state.version)


async def get_openapi(call: Call) -> Response:
    st = call.state
    if st.document is None:
        st.document = openapi.build_document(st.endpoints, st.version)
    return JSONResponse(st.document)


async def me(call: Call) -> schemas.Me:
    p = call.principal
    assert p is not None
    return schemas.Me(user=p.user, roles=sorted(p.roles), can_act=p.can_act, can_start=p.can_start)


async def list_runbooks(call: Call) -> schemas.RunbookList:
    found, problems = await call.state.service.list_runbooks()
    return schemas.RunbookList(runbooks=[schemas.RunbookFile(**f) for f in found], problems=problems)


def _limit(call: Call) -> int:
    raw = call.request.query_params.get("limit", str(RUN_LIST_DEFAULT))
    if not raw.isdigit() or not 1 <= int(raw) <= RUN_LIST_MAX:
        raise HTTPProblem(422, "invalid", f"limit: must be a whole number from 1 to {RUN_LIST_MAX}")
    return int(raw)


async def list_runs(call: Call) -> schemas.RunList:
    rows = await call.state.service.list_runs(_limit(call))
    return schemas.RunList(runs=[schemas.RunListItem(**r) for r in rows])


async def start_run(call: Call) -> schemas.StartRunResult:
    body: schemas.StartRunRequest = call.body
    if body.waive and body.mode != "live":
        raise HTTPProblem(422, "invalid", f"waive: only a live run has a start gate (this is a {body.mode} run)")
    who = call.principal.identity.event_data() if call.principal is not None else {}
    waivers = [gate.GateWaiver(gate=w.gate, by=call.user, ticket=w.ticket, reason=w.reason, **who) for w in body.waive]
    rid = await call.state.service.start(
        body.runbook,
        mode=body.mode,
        vars_=dict(body.vars),
        roles=dict(body.roles),
        run_id=body.run_id,
        actor=call.user,
        gate_waivers=waivers,
    )
    return schemas.StartRunResult(run_id=rid, url=f"/api/v1/runs/{rid}")


async def get_run(call: Call) -> Response:
    _, raw = await call.state.service.summary(call.path("run_id"))
    return Response(raw, media_type="application/json")


def _after(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    if not raw.isdigit():
        raise HTTPProblem(422, "invalid", "Last-Event-ID / after: must be an event seq (a whole number)")
    return int(raw)


async def stream_events(call: Call) -> Response:
    st = call.state
    rid = await st.service.resolve(call.path("run_id"))
    after = _after(call.request)

    p = call.principal
    assert p is not None
    # The stream never outlives its credential: it ends at the token's expiry (a keepalive falls due then) or
    # at the first look after the token is revoked; the client's reconnect is then refused (401).
    keepalive = sse.KEEPALIVE
    if p.expires is not None:
        keepalive = max(STREAM_RECHECK_FLOOR, min(keepalive, p.expires - time.time()))

    async def still_valid() -> bool:
        if p.expires is not None and p.expires <= time.time():
            return False
        if p.digest is None:
            return True
        try:
            return await st.authority.by_digest(p.digest) is not None
        except auth.Rejected:
            return False

    async def body() -> AsyncIterator[bytes]:
        yield f"retry: {sse.RETRY_MS}\n\n".encode()
        async with contextlib.aclosing(st.hub.stream(rid, after, keepalive=keepalive)) as events:
            look = time.monotonic() + keepalive  # a busy stream has no keepalives: look on events too
            async for ev in events:
                if ev is None or time.monotonic() >= look:
                    if not await still_valid():
                        return
                    look = time.monotonic() + keepalive
                yield b": keepalive\n\n" if ev is None else sse.format_event(ev)

    return sse.EventStreamResponse(body())


async def issue_ticket(call: Call) -> schemas.Ticket:
    st = call.state
    assert call.principal is not None
    rid = await st.service.resolve(call.path("run_id"))
    ticket = st.signer.issue(rid, call.principal)
    return schemas.Ticket(ticket=ticket, expires_in=st.signer.ttl, url=f"/api/v1/runs/{rid}/events?ticket={ticket}")


def _result(call: Call, v: Any, act: str, message: str, statement: str | None = None) -> schemas.ActResult:
    h: acts.RunHandle = v.handle
    return schemas.ActResult(
        run_id=h.run_id, act=act, actor=call.user, seq=h.state.last_seq, message=message, statement=statement
    )


async def assign(call: Call) -> schemas.ActResult:
    body: schemas.AssignRequest = call.body

    async def fn(h: acts.RunHandle) -> None:
        for role, person in body.roles.items():
            await acts.assign(h, call.user, role, person)

    _, v = await call.state.service.act(call.path("run_id"), fn)
    return _result(call, v, "assign", ", ".join(f"{r}={p}" for r, p in body.roles.items()) + f" (by {call.user})")


async def confirm(call: Call) -> schemas.ActResult:
    body: schemas.ConfirmRequest = call.body
    step = call.path("step_id")
    _, v = await call.state.service.act(
        call.path("run_id"),
        lambda h: acts.confirm(
            h, step, call.user, inputs=body.inputs, evidence=list(call.files), failed=body.failed, reason=body.reason
        ),
    )
    return _result(call, v, "confirm", f"{step}: {'FAIL' if body.failed else 'PASS'} (confirmed by {call.user})")


async def decide(call: Call) -> schemas.ActResult:
    body: schemas.DecideRequest = call.body
    if body.decision in ("continue", "rollback"):  # the answer to a window that closed before the cutover was done
        said, v = await call.state.service.act(
            call.path("run_id"), lambda h: acts.decide_overrun(h, body.decision, call.user, body.reason)
        )
        return _result(call, v, f"decide {body.decision}", said)
    statement, v = await call.state.service.act(
        call.path("run_id"), lambda h: acts.decide(h, body.decision, call.user, body.reason, step_id=body.step)
    )
    if isinstance(statement, acts.Approval):  # one approval of a quorum: the decision is still to come
        return _result(call, v, f"decide {body.decision}", str(statement))
    return _result(call, v, f"decide {body.decision}", f"{body.decision.upper()} recorded by {call.user}", statement)


async def waive(call: Call) -> schemas.ActResult:
    body: schemas.WaiveRequest = call.body
    step = call.path("step_id")
    approval, v = await call.state.service.act(
        call.path("run_id"), lambda h: acts.waive(h, step, call.user, body.ticket, body.reason)
    )
    said = str(approval) if approval is not None else f"{step}: WAIVED by {call.user} ({body.ticket})"
    return _result(call, v, "waive", said)


async def open_link(call: Call) -> schemas.LinkOpened:
    """An approval link opened by the person signed in: checked and recorded once; it never acts."""
    body: schemas.OpenLinkRequest = call.body
    rid = await call.state.service.resolve(call.path("run_id"))
    linker = call.state.service.linker
    claim = linker.read(body.link) if linker is not None else None
    if claim is None or claim.run_id != rid:
        raise exceptions.RuleRefused(
            f"open link refused: this link was not made by this server for run {rid} (wrong run, altered, or signed "
            "with another secret); open the run from the dashboard"
        )
    opened, _ = await call.state.service.act(rid, lambda h: acts.open_link(h, claim, call.user))
    return schemas.LinkOpened(**opened)


async def resolve(call: Call) -> schemas.ActResult:
    body: schemas.ResolveRequest = call.body
    step = call.path("step_id")
    _, v = await call.state.service.act(call.path("run_id"), lambda h: acts.resolve(h, step, call.user, body.outcome))
    return _result(call, v, "resolve", f"{step}: resolved {body.outcome} by {call.user}")


async def rollback(call: Call) -> schemas.ActResult:
    body: schemas.RollbackRequest = call.body
    how, v = await call.state.service.request_rollback(call.path("run_id"), call.user, body.reason, body.trigger)
    return _result(call, v, "rollback", f"rollback requested by {call.user}: {how}")


async def signoff(call: Call) -> schemas.ActResult:
    body: schemas.SignoffRequest = call.body
    if not body.area and not body.fields:
        raise exceptions.UsageError("give area and statement, or fields (or both)")
    if body.area and not body.statement:
        raise exceptions.UsageError("area needs a statement: say what the area signs")

    async def act(h: acts.RunHandle) -> None:
        if body.fields:
            await acts.signoff_fields(h, call.user, body.fields)
        if body.area:
            await acts.signoff(h, body.area, call.user, body.statement or "")

    _, v = await call.state.service.act(call.path("run_id"), act)
    done = [f"{body.area}: signed off by {call.user}"] if body.area else []
    if body.fields:
        done.append(f"{', '.join(body.fields)} filled in by {call.user}")
    return _result(call, v, "signoff", "; ".join(done))


async def verify(call: Call) -> schemas.VerifyResult:
    rid = await call.state.service.resolve(call.path("run_id"))
    try:
        n = await call.state.store.verify(rid)
    except exceptions.ChainBroken as exc:
        return schemas.VerifyResult(run_id=rid, valid=False, events=None, first_broken_seq=exc.seq, reason=exc.reason)
    return schemas.VerifyResult(run_id=rid, valid=True, events=n, first_broken_seq=None, reason=None)


async def report(call: Call) -> Response:
    fmt = call.path("fmt")
    v = await call.state.service.view(call.path("run_id"))
    data, media, filename = await exports.report(v.handle, fmt)
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{_safe_name(filename)}"'}
    )


async def evidence_pack(call: Call) -> Response:
    v = await call.state.service.view(call.path("run_id"))
    data, filename = await exports.evidence_pack(v.handle)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{_safe_name(filename)}"'},
    )


async def blob(call: Call) -> Response:
    v = await call.state.service.view(call.path("run_id"))
    digest = call.path("digest")
    item = exports.find_evidence(v.handle, digest)
    if item is None:
        raise exceptions.NotFound(f"run {v.handle.run_id} has no evidence with sha256 {digest}")
    data = await call.state.store.get_blob(digest)
    name = _safe_name(str(item.get("name") or ""), digest)
    return Response(
        data,
        media_type=str(item.get("media_type") or "application/octet-stream"),
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"},
    )


async def ui_runs(call: Call) -> Response:
    assert call.principal is not None
    rows = await call.state.service.list_runs(RUN_LIST_DEFAULT)
    return dashboard.fragment(dashboard.render_runs(rows, call.principal))


async def ui_run(call: Call) -> Response:
    assert call.principal is not None
    v = await call.state.service.view(call.path("run_id"))
    viewer = dashboard.Perspective.of(v.handle, call.principal)
    return dashboard.fragment(v.fragment(viewer, lambda data: dashboard.render_run(v.handle, data, viewer)))


# --- the endpoint table --------------------------------------------------------------------------------

_RUN = "/api/v1/runs/{run_id}"
_AFTER = openapi.Param("after", "query", "Replay events after this seq (Last-Event-ID wins when both are sent).")
_LEI = openapi.Param("Last-Event-ID", "header", "Resume after this event seq (sent by EventSource on reconnect).")
_TICKET = openapi.Param("ticket", "query", "An SSE ticket, for clients that cannot send headers (EventSource).")


def endpoints() -> list[openapi.Endpoint]:
    E = openapi.Endpoint
    s = schemas
    return [
        E("GET", "/health", "health", "Liveness", health, access="public", response=s.Health, tag="server"),
        E("GET", "/api/v1/openapi.json", "openapi", "This document", get_openapi, tag="server"),
        E("GET", "/api/v1/me", "me", "Who the token speaks for", me, response=s.Me, tag="server"),
        E(
            "GET",
            "/api/v1/runbooks",
            "listRunbooks",
            "List runbook files that runs can be started from",
            list_runbooks,
            response=s.RunbookList,
        ),
        E(
            "GET",
            "/api/v1/runs",
            "listRuns",
            "List runs, newest first",
            list_runs,
            response=s.RunList,
            params=(
                openapi.Param(
                    "limit",
                    "query",
                    "How many runs (1-500, default 50).",
                    {"type": "integer", "minimum": 1, "maximum": 500},
                ),
            ),
            errors=(422,),
        ),
        E(
            "POST",
            "/api/v1/runs",
            "startRun",
            "Start a run",
            start_run,
            access="start",
            body=s.StartRunRequest,
            response=s.StartRunResult,
            status=201,
            errors=(400, 404),
            description="Creates the run and drives it in the server process; acts then come through this API or the CLI.",
        ),
        E("GET", _RUN, "getRun", "A run as plain data", get_run, response=s.RunSummary, errors=(404,)),
        E(
            "GET",
            _RUN + "/events",
            "streamEvents",
            "Follow a run's events (SSE)",
            stream_events,
            media_type="text/event-stream",
            params=(_AFTER, _LEI, _TICKET),
            errors=(404, 422),
            description="Authenticate with the bearer header, or with ?ticket= from POST .../events/ticket.",
        ),
        E(
            "POST",
            _RUN + "/events/ticket",
            "issueTicket",
            "Get a short-lived ticket to open the event stream from a browser",
            issue_ticket,
            response=s.Ticket,
            errors=(404,),
        ),
        E(
            "POST",
            _RUN + "/assign",
            "assign",
            "Assign people to roles",
            assign,
            access="act",
            body=s.AssignRequest,
            response=s.ActResult,
            errors=(400, 404),
        ),
        E(
            "POST",
            _RUN + "/steps/{step_id}/confirm",
            "confirm",
            "Confirm or fail a manual step",
            confirm,
            access="act",
            body=s.ConfirmRequest,
            response=s.ActResult,
            errors=(400, 404, 411, 413),
            alt_body_media=("multipart/form-data",),
        ),
        E(
            "POST",
            _RUN + "/decide",
            "decide",
            "Record GO or NO-GO",
            decide,
            access="act",
            body=s.DecideRequest,
            response=s.ActResult,
            errors=(400, 404),
        ),
        E(
            "POST",
            _RUN + "/steps/{step_id}/waive",
            "waive",
            "Waive a step",
            waive,
            access="act",
            body=s.WaiveRequest,
            response=s.ActResult,
            errors=(400, 404),
        ),
        E(
            "POST",
            _RUN + "/links/open",
            "openLink",
            "Open an approval link",
            open_link,
            access="act",
            body=s.OpenLinkRequest,
            response=s.LinkOpened,
            errors=(404,),
            description="The signed-in person opens a link sent to them (once, before it expires); it shows the act "
            "and never acts.",
        ),
        E(
            "POST",
            _RUN + "/steps/{step_id}/resolve",
            "resolve",
            "Resolve an action left unknown by a crash",
            resolve,
            access="act",
            body=s.ResolveRequest,
            response=s.ActResult,
            errors=(400, 404),
        ),
        E(
            "POST",
            _RUN + "/rollback",
            "rollback",
            "Start the rollback",
            rollback,
            access="act",
            body=s.RollbackRequest,
            response=s.ActResult,
            status=202,
            errors=(400, 404),
        ),
        E(
            "POST",
            _RUN + "/signoff",
            "signoff",
            "Sign off an area",
            signoff,
            access="act",
            body=s.SignoffRequest,
            response=s.ActResult,
            errors=(400, 404),
        ),
        E(
            "GET",
            _RUN + "/verify",
            "verifyRun",
            "Verify the run's event hash chain",
            verify,
            response=s.VerifyResult,
            errors=(404,),
        ),
        E(
            "GET",
            _RUN + "/report.{fmt}",
            "getReport",
            "Download the run's report",
            report,
            media_type="application/octet-stream",
            params=(
                openapi.Param(
                    "fmt", "path", "Report format.", {"type": "string", "enum": list(exports.REPORT_FORMATS)}, True
                ),
            ),
            errors=(404, 501),
        ),
        E(
            "GET",
            _RUN + "/evidence.zip",
            "getEvidencePack",
            "Download the run's evidence pack",
            evidence_pack,
            media_type="application/zip",
            errors=(404, 501),
        ),
        E(
            "GET",
            _RUN + "/blobs/{digest}",
            "getEvidenceFile",
            "Download one evidence file of the run",
            blob,
            params=(openapi.Param("digest", "path", "The file's sha256 (hex).", required=True),),
            errors=(404,),
            media_type="application/octet-stream",
        ),
        E(
            "GET",
            "/ui/runs",
            "uiRuns",
            "Dashboard fragment: the runs list",
            ui_runs,
            media_type="text/html",
            tag="dashboard",
        ),
        E(
            "GET",
            "/ui/runs/{run_id}",
            "uiRun",
            "Dashboard fragment: one run's panels",
            ui_run,
            media_type="text/html",
            errors=(404,),
            tag="dashboard",
        ),
    ]


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
    return _error(404, "not_found", f"no route {request.url.path}")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return _error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")


async def _internal(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return _error(500, "internal", "internal error; the server log has the details")


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
    state.endpoints = endpoints()

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
