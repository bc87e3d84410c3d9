"""The API's handlers: one async function per endpoint, each taking the request's :class:`Call`.

A handler runs after the app has authenticated the caller, checked the endpoint's access level and validated
the body; it does the act through golive.engine.acts (the same rules as the CLI) via the RunService, and
answers a schema model or a Response. Errors are raised (HTTPProblem, or the package's exceptions, which the
app maps to status codes), never answered by hand. Routes and their documentation are in
golive.server.endpoints.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from golive import exceptions
from golive.engine import acts, gate
from golive.server import auth, dashboard, exports, openapi, schemas, sse
from golive.server.bodies import safe_name
from golive.server.call import Call, HTTPProblem

__all__ = [
    "RUN_LIST_DEFAULT",
    "RUN_LIST_MAX",
    "assign",
    "blob",
    "confirm",
    "decide",
    "evidence_pack",
    "get_openapi",
    "get_run",
    "health",
    "issue_ticket",
    "list_runbooks",
    "list_runs",
    "me",
    "open_link",
    "report",
    "resolve",
    "rollback",
    "signoff",
    "start_run",
    "stream_events",
    "ui_run",
    "ui_runs",
    "verify",
    "waive",
]

RUN_LIST_DEFAULT = 50  # runs listed when ?limit= is not given
RUN_LIST_MAX = 500
STREAM_RECHECK_FLOOR = 0.2  # seconds: the shortest keepalive of a stream whose token is about to expire


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
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{safe_name(filename)}"'}
    )


async def evidence_pack(call: Call) -> Response:
    v = await call.state.service.view(call.path("run_id"))
    data, filename = await exports.evidence_pack(v.handle)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{safe_name(filename)}"'},
    )


async def blob(call: Call) -> Response:
    v = await call.state.service.view(call.path("run_id"))
    digest = call.path("digest")
    item = exports.find_evidence(v.handle, digest)
    if item is None:
        raise exceptions.NotFound(f"run {v.handle.run_id} has no evidence with sha256 {digest}")
    data = await call.state.store.get_blob(digest)
    name = safe_name(str(item.get("name") or ""), digest)
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
