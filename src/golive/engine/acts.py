"""What people do to a run, and the rules that allow or refuse it. The CLI and the API both call these.

Every act is attributed (the event's actor). A refused act is recorded as ``act_refused`` and raises
:class:`golive.exceptions.RuleRefused` whose message says why. Acts only append events; the process that
runs the engine (or any later ``golive resume``) reacts to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hashlib
import logging
import mimetypes
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from golive import clock as clock_mod
from golive import exceptions, patterns
from golive import redact as redact_mod
from golive.engine import context as context_mod
from golive.engine import gate as gate_mod
from golive.engine import handle as handle_mod
from golive.engine import links as links_mod
from golive.engine import quorum as quorum_mod
from golive.engine import state as state_mod
from golive.engine import steps as steps_mod
from golive.engine.handle import RunHandle, fold_run, keep_snapshot, open_run, pause_gc, waiver_data
from golive.results import Outcome
from golive.spec import loader, models, refs
from golive.store import base as store_base

log = logging.getLogger(__name__)

__all__ = [
    "Approval",
    "RunHandle",
    "apply_default",
    "assign",
    "collector_relaxed",
    "confirm",
    "confirm_follow_up",
    "continue_from",
    "decide",
    "decision_blockers",
    "fold_run",
    "keep_snapshot",
    "open_link",
    "open_run",
    "pause_gc",
    "request_rollback",
    "resolve",
    "resolve_many",
    "resolver_roles",
    "scripted_go",
    "signoff",
    "signoff_fields",
    "unknown_actions",
    "waive",
    "waiver_data",
]


class Approval(str):
    """What an act returns when it recorded one approval of a quorum that is not met yet (the decision or the
    waiver itself is still to come): the text says who approved, how many of how many, and who is awaited."""

    __slots__ = ()


P = ParamSpec("P")
R = TypeVar("R")

MAX_ACT_ATTEMPTS = 50  # compare-and-append rounds before an act gives up on a log that keeps moving
# Test hook: a directory where acts wait for each other before they commit, so that tests can make two
# processes' acts really overlap. Unset in normal use.
BARRIER_ENV = "GOLIVE_TEST_ACT_BARRIER"
BARRIER_PARTIES_ENV = "GOLIVE_TEST_ACT_BARRIER_PARTIES"
BARRIER_WAIT = 20.0  # seconds at most a test barrier holds an act
_HEAD: contextvars.ContextVar[tuple[int, int]] = contextvars.ContextVar("golive_act_head")


def _compare_and_append(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Make an act compare-and-append: its rules are checked against the state at the head it read, and its
    events land only if the head has not moved; otherwise it re-reads, re-checks and lands or is refused."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        h = args[0]
        assert isinstance(h, RunHandle)
        for attempt in range(MAX_ACT_ATTEMPTS):
            token = _HEAD.set((h.state.last_seq, attempt))
            try:
                return await fn(*args, **kwargs)
            except exceptions.HeadMoved:
                await h.refresh()
            finally:
                _HEAD.reset(token)
        raise exceptions.StoreError(
            f"run {h.run_id}: the log kept moving during {MAX_ACT_ATTEMPTS} attempts; the act was not recorded, "
            "try again"
        )

    return wrapper


async def _commit(h: RunHandle, events: list[store_base.NewEvent]) -> list[store_base.Event]:
    """Append an act's events atomically, on the head its rules were checked against (HeadMoved if not)."""
    seen, attempt = _HEAD.get((h.state.last_seq, 0))
    if attempt == 0:
        await _test_barrier(h.run_id)
    return await h.append_many(events, expect_seq=seen)


async def _test_barrier(run_id: str) -> None:
    """The test hook: wait until every party (``$GOLIVE_TEST_ACT_BARRIER_PARTIES``, default 2) acting on the
    same run has arrived (one directory per run under ``$GOLIVE_TEST_ACT_BARRIER``)."""
    where = os.environ.get(BARRIER_ENV)
    if not where:
        return
    parties = int(os.environ.get(BARRIER_PARTIES_ENV) or 2)
    root = Path(where) / run_id
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)

    def arrivals() -> int:
        return sum(1 for _ in root.glob("arrive-*"))

    await asyncio.to_thread((root / f"arrive-{uuid.uuid4().hex}").touch)
    target = -(-(await asyncio.to_thread(arrivals)) // parties) * parties
    loop = asyncio.get_running_loop()
    give_up = loop.time() + BARRIER_WAIT
    while await asyncio.to_thread(arrivals) < target and loop.time() < give_up:  # noqa: ASYNC110 - other processes
        await asyncio.sleep(0.005)


def _ev(type_: str, *, step_id: str | None = None, actor: str | None = None, **data: Any) -> store_base.NewEvent:
    return store_base.NewEvent(type_, step_id=step_id, actor=actor, data=data)


def _when(ts: str | None) -> str:
    """A stored timestamp as a person reads it in a refusal: 10:42:07Z."""
    return f"{ts[11:19]}Z" if ts and len(ts) >= 19 else (ts or "an unknown time")


def redact_strings(red: redact_mod.Redactor, obj: Any) -> Any:
    """A copy of a JSON-like document with every string (keys too) redacted, without the key semantics of
    ``redact_obj`` (a summary's ``"pass"`` count is not a password)."""
    if isinstance(obj, str):
        return red.redact(obj)
    if isinstance(obj, dict):
        return {(red.redact(k) if isinstance(k, str) else k): redact_strings(red, v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_strings(red, v) for v in obj]
    return obj


async def act_redactor(h: RunHandle) -> redact_mod.Redactor:
    """The run's redactor, with the values of its local secrets (``env`` and ``file`` providers) registered.

    What a person types (an input, a reason) or uploads (an evidence file) may hold such a secret, and this
    process (``golive confirm``, the API) can read it as the engine does; a secret it cannot resolve here is
    left out. Remote providers are not asked: an act must not wait on a vault.
    """
    ctx = context_mod.RunContext(h)
    local = ctx.local_secrets()
    if not local:
        return h.redactor()
    try:
        await ctx.register_secrets(local)
    finally:
        await ctx.aclose()
    return ctx.redactor


# The cyclic collector's generation thresholds while engines run (CPython's default: 700, 10, 10).
RELAXED_GC_THRESHOLDS = (20_000, 50, 100)
_relaxed = 0  # engines running in this process with the relaxed thresholds
_saved_thresholds: tuple[int, int, int] | None = None


@contextlib.contextmanager
def collector_relaxed() -> Any:
    """Collect cycles less often while an engine runs: each step allocates a few hundred short-lived
    objects (events, results, contexts), almost none of them in cycles, and a young-generation pass every
    700 allocations scanned them for nothing (about a quarter of a trivial step's CPU). Reference counting
    still frees everything at once; cyclic garbage waits for the next (rarer) pass. Shared by the engines
    of one process: the thresholds are restored when the last one ends."""
    import gc

    global _relaxed, _saved_thresholds
    if _relaxed == 0:
        _saved_thresholds = gc.get_threshold()
        gc.set_threshold(*RELAXED_GC_THRESHOLDS)
    _relaxed += 1
    try:
        yield
    finally:
        _relaxed -= 1
        if _relaxed == 0 and _saved_thresholds is not None:
            gc.set_threshold(*_saved_thresholds)
            _saved_thresholds = None


async def _refuse(
    h: RunHandle, act: str, actor: str, why: str, step_id: str | None = None, *, conflict: bool = False
) -> None:
    """Record the refusal (on the head the rules read, like any act) and raise it. ``conflict``: another act
    got there first (ActConflict: exit 1, HTTP 409)."""
    await _commit(h, [_ev("act_refused", step_id=step_id, actor=actor, act=act, why=why)])
    raise (exceptions.ActConflict if conflict else exceptions.RuleRefused)(f"{act} refused: {why}")


def _check_open(h: RunHandle) -> None:
    if h.state.final and h.state.status is not state_mod.RunStatus.PASSED:
        raise exceptions.RuleRefused(f"run {h.run_id} has ended ({h.state.status.label}); nothing more can be done")


def _step(h: RunHandle, step_id: str) -> models.Step:
    step = h.runbook.step(step_id)
    if step is None:
        ids = [s.id for _, s in h.runbook.all_steps()]
        raise exceptions.NotFound(f"run {h.run_id} has no step {step_id!r}{loader.suggest(step_id, ids)}")
    return step


def _holds(h: RunHandle, actor: str, role: str | None) -> bool:
    return role is not None and h.state.roles.get(role) == actor


def _role_hint(h: RunHandle, role: str) -> str:
    holder = h.state.roles.get(role)
    if holder is None:
        return f"role {role!r} is not assigned; assign it with: golive assign {h.run_id} {role}=NAME"
    return f"role {role!r} is held by {holder}"


@_compare_and_append
async def assign(h: RunHandle, actor: str, role: str, person: str) -> None:
    """Assign a person to a role. Roles are given, not taken: assigning a role, vacant or not, needs the
    ``assign`` power (a role whose ``may`` lists it), or is the run's starter's, or the holder handing over."""
    if role not in h.runbook.roles:
        raise exceptions.UsageError(
            f"the runbook declares no role {role!r}{loader.suggest(role, h.runbook.roles)}; declared: {', '.join(h.runbook.roles)}"
        )
    current = h.state.roles.get(role)
    assigners = h.runbook.roles_with("assign")
    starter = h.state.created_by
    allowed = (
        any(_holds(h, actor, r) for r in assigners)
        or (current is not None and actor == current)
        or (starter is not None and actor == starter)
    )
    if not allowed:
        held = f"role {role!r} is held by {current}" if current else f"role {role!r} is vacant"
        who = ", ".join(sorted(assigners)) if assigners else "no role (add 'assign' to a role's may:)"
        await _refuse(
            h,
            "assign",
            actor,
            f"{actor} may not assign: {held}; roles are given, not taken: assigning needs the assign power "
            f"(held by: {who}){f', or the holder {current}' if current else ''}",
        )
    await _commit(h, [_ev("role_assigned", actor=actor, role=role, person=person)])


@_compare_and_append
async def confirm(
    h: RunHandle,
    step_id: str,
    actor: str,
    *,
    inputs: Mapping[str, str] | None = None,
    evidence: list[Path] | None = None,
    failed: bool = False,
    reason: str = "",
) -> None:
    """Confirm (or fail) a waiting manual step, as the holder of its role; or a rollback follow-up duty."""
    if is_follow_up(h, step_id) and h.runbook.step(step_id) is None:
        if failed:
            raise exceptions.UsageError(f"{step_id!r} is a follow-up duty: confirm it when done (no --fail)")
        await confirm_follow_up(h, step_id, actor, reason)
        return
    _check_open(h)
    step = _step(h, step_id)
    if step.kind is not models.StepKind.MANUAL:
        raise exceptions.UsageError(f"step {step_id!r} is a {step.kind.value} step; only manual steps are confirmed")
    st = h.state.step(step_id)
    # A manual hypercare check (the payments seed's random ledger recon) is confirmed whenever it is done,
    # as often as it is done, from GO on; each confirmation is one of its hypercare results.
    hypercare = h.runbook.phase_of(step_id) == "hypercare"
    if hypercare:
        if h.state.go_at is None:
            await _refuse(h, "confirm", actor, f"{step_id!r} is a hypercare check: hypercare starts at GO", step_id)
    elif st.status == "done":
        by = f" by {st.actor}" if st.actor else ""
        await _refuse(
            h,
            "confirm",
            actor,
            f"already {(st.outcome.value if st.outcome else 'done').upper()}{by} at {_when(st.finished_at)}",
            step_id,
            conflict=True,
        )
    elif st.status != "waiting":
        what = st.outcome.value if st.outcome else st.status
        await _refuse(h, "confirm", actor, f"step {step_id!r} is not waiting for confirmation (it is {what})", step_id)
    assert step.role is not None
    confirm_any = h.runbook.roles_with("confirm-any")
    if not _holds(h, actor, step.role) and not any(_holds(h, actor, r) for r in confirm_any):
        await _refuse(
            h, "confirm", actor, f"{actor} does not hold role {step.role!r} ({_role_hint(h, step.role)})", step_id
        )
    values = dict(inputs or {})
    if failed and not reason:
        raise exceptions.UsageError("--fail needs --reason: say what went wrong")
    if not failed:
        known = {i.id for i in step.inputs}
        for name in values:
            if name not in known:
                raise exceptions.UsageError(
                    f"step {step_id!r} has no input {name!r}{loader.suggest(name, known)}; inputs: {', '.join(known) or 'none'}"
                )
        for inp in step.inputs:
            v = values.get(inp.id)
            if inp.required and not v:
                raise exceptions.UsageError(f"step {step_id!r} needs --input {inp.id}=VALUE ({inp.title or inp.id})")
            if v and inp.pattern and not patterns.fullmatch(inp.pattern, v):
                raise exceptions.UsageError(f"--input {inp.id}={v!r} does not match {inp.pattern!r}")
        missing = [e.name for e in step.evidence if e.required]
        if missing and not evidence:
            raise exceptions.UsageError(f"step {step_id!r} needs --evidence FILE: {', '.join(missing)}")
    red = await act_redactor(h)
    for inp in step.inputs:
        if inp.secret and values.get(inp.id):
            red.add_secret(values[inp.id])
    stored_inputs = {k: red.redact(v) for k, v in values.items()}
    ev_items = [await store_evidence_file(h.store, red, p) for p in (evidence or [])]
    outcome = "fail" if failed else "pass"
    summary = red.redact(reason) if failed else f"confirmed by {actor}"
    confirmed = _ev(
        "step_confirmed",
        step_id=step_id,
        actor=actor,
        inputs=stored_inputs,
        evidence=ev_items,
        outcome=outcome,
        reason=red.redact(reason),
    )
    if hypercare:
        from golive.clock import utc_iso

        now = utc_iso(h.store.clock.now())
        await _commit(
            h,
            [
                confirmed,
                _ev(
                    "hypercare_check",
                    step_id=step_id,
                    actor=actor,
                    slot=now,
                    check_id=step_id,
                    outcome=outcome,
                    summary=summary,
                    ts=now,
                    inputs=stored_inputs,
                    evidence=ev_items,
                    manual=True,
                    by=actor,
                ),
            ],
        )
        return
    await _commit(
        h,
        [
            confirmed,
            _ev(
                "step_finished",
                step_id=step_id,
                actor=actor,
                outcome=outcome,
                summary=summary,
                output={"inputs": stored_inputs},
                evidence=[],
            ),
        ],
    )


async def store_evidence_file(store: store_base.Store, red: redact_mod.Redactor, path: Path) -> dict[str, Any]:
    """Keep an evidence file as a blob (text is redacted first); return its reference."""
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise exceptions.UsageError(f"--evidence {path}: cannot read it ({exc.strerror})") from None
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    redacted = False
    if media.startswith("text/") or media in ("application/json", "application/xml") or _looks_text(data):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            clean = red.redact(text)
            redacted = clean != text
            data = clean.encode("utf-8")
    digest = await store.put_blob(data, media)
    return {"name": path.name, "sha256": digest, "size": len(data), "media_type": media, "redacted": redacted}


def _looks_text(data: bytes) -> bool:
    head = data[:4096]
    return b"\x00" not in head and bool(head)


def decision_blockers(h: RunHandle, step: models.Step) -> list[str]:
    """Why GO cannot be recorded now: each required step or phase that did not pass.

    A waiver satisfies a requirement, except for a step marked ``waivable: false`` or named (itself or its
    phase) in the decision's ``requires_strict``: "Canary FAIL = NO-GO, no exceptions" holds through waivers.
    """
    out = []
    dry = h.state.mode == "dry-run"
    # No GO past a failed phase, whether or not the decision names it.
    section = h.runbook.phase_of(step.id)
    required = (*step.requires, *(r for r in step.requires_strict if r not in step.requires))
    for p in h.runbook.phases:
        if p.id == section:
            break
        if h.state.phases.get(p.id) in ("fail", "error") and p.id not in required:
            out.append(f"phase {p.id!r} is {h.state.phases[p.id].upper()}")
    strict = set(step.requires_strict)
    for req in required:
        phase = h.runbook.phase(req)
        if phase is not None:
            outcome = h.state.phases.get(req)
            if not (outcome in ("pass", "warn", "waived") or (dry and outcome == "skipped")):
                out.append(f"phase {req!r} is {(outcome or 'pending').upper()}")
                continue
            out += _waiver_blockers(h, step, phase.steps, strict_phase=req in strict)
            continue
        outcome = h.state.outcome_of(req)
        target = h.runbook.step(req)
        if outcome == "waived" and target is not None:
            out += _waiver_blockers(h, step, (target,), strict_phase=False)
            continue
        ok = outcome in ("pass", "warn") or (dry and outcome == "skipped")
        down = h.state.steps[req].downgraded_from if req in h.state.steps else None
        if ok and down:
            # A required step that failed is a blocker even when it was non-blocking for its phase.
            out.append(f"step {req!r} is {down.upper()} (non-blocking, recorded as WARN)")
            continue
        if not ok:
            out.append(f"step {req!r} is {(outcome or 'pending').upper()}")
    return out


def _waiver_blockers(
    h: RunHandle, decision: models.Step, steps: tuple[models.Step, ...], *, strict_phase: bool
) -> list[str]:
    """The waived steps among ``steps`` that a waiver cannot satisfy for ``decision``, with the rule."""
    out = []
    for s in steps:
        ss = h.state.step(s.id)
        if ss.outcome is not Outcome.WAIVED:
            continue
        if strict_phase or s.id in decision.requires_strict:
            rule = f"it is in requires_strict of decision {decision.id!r}"
        elif not s.waivable:
            rule = f"step {s.id!r} is waivable: false"
        else:
            continue
        w = ss.waiver or {}
        out.append(
            f"step {s.id!r} is WAIVED (by {w.get('by') or 'unknown'}, ticket {w.get('ticket') or 'none'}), "
            f"and a waiver never satisfies it: {rule}"
        )
    return out


async def recheck(h: RunHandle, step: models.Step, actor: str) -> tuple[list[store_base.NewEvent], list[str]]:
    """Run a decision's ``recheck`` checks again now: their ``step_rechecked`` events (committed with the act)
    and why each one that did not pass failed."""
    events: list[store_base.NewEvent] = []
    failed: list[str] = []
    ctx = context_mod.RunContext(h)
    try:
        for rid in step.recheck:
            spec = h.runbook.step(rid)
            if spec is None:  # refused at load; a stored runbook is the loaded one
                failed.append(f"recheck {rid!r} is not a step of this runbook")
                continue
            result = await steps_mod.check_result(ctx, spec)
            events.append(
                _ev(
                    "step_rechecked",
                    step_id=rid,
                    actor=actor,
                    decision=step.id,
                    outcome=result.outcome.value,
                    summary=result.summary[:4000],
                    output=result.output,
                )
            )
            if result.outcome not in (Outcome.PASS, Outcome.WARN):
                failed.append(f"{rid} is {result.outcome.value.upper()} now: {result.summary}")
    finally:
        await ctx.aclose()
    return events, failed


def pending_decision(h: RunHandle, step_id: str | None = None) -> models.Step:
    waiting = [
        s
        for _, s in h.runbook.all_steps()
        if (s.kind is models.StepKind.DECISION or h.state.step(s.id).waiting_for == "pause")
        and h.state.step(s.id).status == "waiting"
    ]
    if step_id:
        step = _step(h, step_id)
        if step.kind is not models.StepKind.DECISION and h.state.step(step.id).waiting_for != "pause":
            raise exceptions.UsageError(f"step {step_id!r} is not a decision step")
        return step
    if not waiting:
        decisions = [s.id for _, s in h.runbook.all_steps() if s.kind is models.StepKind.DECISION]
        if not decisions:
            raise exceptions.UsageError(f"run {h.run_id}: the runbook has no decision step")
        return (
            _step(h, decisions[0])
            if len(decisions) == 1
            else _step(h, next((d for d in decisions if h.state.step(d).status != "done"), decisions[-1]))
        )
    return waiting[0]


def render_statement(h: RunHandle, step: models.Step, decision: str, reason: str) -> str:
    if not step.statement:
        return f"{decision.upper()}: {reason}".strip()
    text = refs.render(step.statement, lambda r: handle_mod.resolve_ref(h, r))
    return str(text)


def decider_of(h: RunHandle) -> str | None:
    """Who holds the first role that may decide, if anyone does (scripted people act as them)."""
    for role_id, role in h.runbook.roles.items():
        if "decide" in (role.may or []) and h.state.roles.get(role_id):
            return str(h.state.roles[role_id])
    return None


async def scripted_go(h: RunHandle, step_id: str, first: str, reason: str) -> str:
    """GO as scripted people (rehearsal scripts, scenarios): by ``first``; under a quorum, by ``first`` when
    eligible and then by each awaited approver until it is met, each an approval of its own under every rule."""
    step = _step(h, step_id)
    if step.quorum is None or step.kind is not models.StepKind.DECISION:
        return await decide(h, "go", first, reason, step_id=step_id)
    said: str = Approval("")
    for _ in range(step.quorum.approvals):
        t = quorum_mod.tally(h.state, step.quorum, h.state.step(step_id).approvals, "go")
        eligible = [str(w["holder"]) for w in t.awaited if w["holder"]]
        who = first if first in eligible else (eligible[0] if eligible else first)
        said = await decide(h, "go", who, reason, step_id=step_id)
        if not isinstance(said, Approval):
            break
    return said


def decider_role(h: RunHandle, step: models.Step) -> str:
    """The role that decides a step: its own, else the first role with the decide power (the IC)."""
    if step.role:
        return step.role
    powered = sorted(h.runbook.roles_with("decide"))
    if powered:
        return powered[0]
    decisions = [s.role for _, s in h.runbook.all_steps() if s.kind is models.StepKind.DECISION and s.role]
    return decisions[0] if decisions else "ic"


def _already_decided(h: RunHandle, step: models.Step) -> str:
    """ "already decided: NO-GO by alice at 10:42:07Z" for a decision (or answered pause) that is done."""
    st = h.state.step(step.id)
    dec = h.state.decision if h.state.decision and h.state.decision.get("step") == step.id else None
    if dec is not None:
        what = str(dec.get("decision") or "").upper()
        return f"already decided: {what} by {dec.get('by')} at {_when(dec.get('at'))}"
    what = (st.decision or (st.outcome.value if st.outcome else "done")).upper()
    return f"already decided: {what} by {st.actor or 'the engine'} at {_when(st.finished_at)}"


async def _approval(
    h: RunHandle, q: models.Quorum, step_id: str, actor: str, act: str, **data: Any
) -> tuple[store_base.NewEvent, quorum_mod.Tally]:
    """One approval of a quorum (``act`` go or waive): refused when ``actor`` already approved; else its
    ``approval_recorded`` event and the quorum as it stands with it."""
    approvals = h.state.step(step_id).approvals
    before = quorum_mod.tally(h.state, q, approvals, act)
    mine = next((a for a in before.approved if a.get("by") == actor), None)
    if mine is not None:
        what = "GO" if act == "go" else "the waiver"
        await _refuse(
            h,
            "decide go" if act == "go" else act,
            actor,
            f"{actor} already approved {what} at {_when(mine.get('at'))}; a quorum counts distinct people "
            f"({quorum_mod.describe(before)})",
            step_id,
            conflict=True,
        )
    event = _ev("approval_recorded", step_id=step_id, actor=actor, act=act, **data)
    return event, quorum_mod.tally(h.state, q, [*approvals, {"act": act, "by": actor}], act)


@_compare_and_append
async def decide(h: RunHandle, decision: str, actor: str, reason: str, step_id: str | None = None) -> str:
    """Record GO or NO-GO on the pending decision. Refused when the actor does not hold the role, or for GO
    when any requirement did not pass ("Canary FAIL = NO-GO, no exceptions": the IC included)."""
    decision = decision.lower().replace("_", "-")
    if decision not in ("go", "no-go"):
        raise exceptions.UsageError(f"decision {decision!r}: use go or no-go")
    if not reason.strip():
        raise exceptions.UsageError("a decision needs --reason")
    step = pending_decision(h, step_id)
    st = h.state.step(step.id)
    if st.status == "done" and (h.state.final or h.state.decision is not None):
        # The run may have ended on that very decision: what the person needs to hear is who decided.
        await _refuse(h, f"decide {decision}", actor, _already_decided(h, step), step.id, conflict=True)
    _check_open(h)
    if step.kind is not models.StepKind.DECISION:
        # A paused observe step: the IC answers (the decide power), whoever watches the window.
        deciders = h.runbook.roles_with("decide") or {decider_role(h, step)}
        if not any(_holds(h, actor, r) for r in deciders):
            await _refuse(
                h,
                f"decide {decision}",
                actor,
                f"{actor} holds none of the roles that decide a pause: "
                + "; ".join(_role_hint(h, r) for r in sorted(deciders)),
                step.id,
            )
    elif (q := quorum_mod.quorum_of(h.runbook, step, decision)) is not None:
        # GO needs a quorum: anyone eligible approves; NO-GO stays the deciding role's veto (below).
        why = quorum_mod.ineligible(h.state, q, actor)
        if why is not None:
            await _refuse(h, "decide go", actor, f"{why}; GO needs {q.approvals} approvals", step.id)
    else:
        assert step.role is not None
        if not _holds(h, actor, step.role):
            await _refuse(
                h,
                f"decide {decision}",
                actor,
                f"{actor} does not hold role {step.role!r}, the only role that decides ({_role_hint(h, step.role)})",
                step.id,
            )
    if st.status == "done":
        await _refuse(h, f"decide {decision}", actor, _already_decided(h, step), step.id, conflict=True)
    if st.status != "waiting":
        await _refuse(h, f"decide {decision}", actor, f"decision {step.id!r} is not pending yet", step.id)
    default = st.default or step.default
    deadline = state_mod.parse_ts(st.deadline) if st.waiting_for == "decision" else None
    if deadline is not None and default in ("no-go", "rollback") and h.store.clock.now() >= deadline:
        # The deadline is a fact recorded when the decision opened: it holds whether or not an engine was
        # running at that moment; the engine that holds the run next records the default.
        await _refuse(
            h,
            f"decide {decision}",
            actor,
            f"the deadline of decision {step.id!r} passed at {_when(st.deadline)} with no decision; "
            f"its default {str(default).upper()} applies",
            step.id,
        )
    if st.waiting_for == "pause":
        # A paused observation: GO continues the cutover, NO-GO rolls back.
        red = await act_redactor(h)
        await _commit(
            h,
            [
                _ev(
                    "decision_recorded",
                    step_id=step.id,
                    actor=actor,
                    decision=decision,
                    reason=red.redact(reason),
                    statement=f"{decision.upper()} after pause: {red.redact(reason)}",
                    pause=True,
                )
            ],
        )
        return f"{decision.upper()} after pause: {red.redact(reason)}"
    if decision == "go":
        blockers = decision_blockers(h, step)
        if blockers:
            await _refuse(
                h, "decide go", actor, "GO requires every required step to pass: " + "; ".join(blockers), step.id
            )
    q = quorum_mod.quorum_of(h.runbook, step, decision)
    approval: list[store_base.NewEvent] = []
    approvers: list[str] = []
    if q is not None:
        red = await act_redactor(h)
        event, after = await _approval(h, q, step.id, actor, "go", reason=red.redact(reason))
        approval = [event]
        if not after.met:
            await _commit(h, approval)
            return Approval(f"GO approval recorded by {actor}: {quorum_mod.describe(after)}")
        approvers = [str(a.get("by")) for a in after.approved]
    rechecked: list[store_base.NewEvent] = []
    if decision == "go" and step.recheck:
        # What held at smoke time may not hold now: the decision's checks run again at the moment of GO, and
        # their results are recorded with the decision or with the refusal.
        rechecked, stale = await recheck(h, step, actor)
        if stale:
            why = "a recheck at the decision failed: " + "; ".join(stale)
            await _commit(h, [*rechecked, _ev("act_refused", step_id=step.id, actor=actor, act="decide go", why=why)])
            raise exceptions.RuleRefused(f"decide go refused: {why}")
    red = await act_redactor(h)
    statement = (
        red.redact(render_statement(h, step, decision, reason)) if decision == "go" else red.redact(f"NO-GO: {reason}")
    )
    extra: dict[str, Any] = {"approvers": approvers} if approvers else {}
    await _commit(
        h,
        [
            *rechecked,
            *approval,
            _ev(
                "decision_recorded",
                step_id=step.id,
                actor=actor,
                decision=decision,
                reason=red.redact(reason),
                statement=statement,
                **extra,
            ),
            _ev(
                "step_finished",
                step_id=step.id,
                actor=actor,
                outcome="pass" if decision == "go" else "fail",
                summary=f"{decision.upper()} by {', '.join(approvers) or actor}: {red.redact(reason)}",
                output={"decision": decision},
            ),
        ],
    )
    return statement


@_compare_and_append
async def decide_overrun(h: RunHandle, decision: str, actor: str, reason: str) -> str:
    """Answer the question asked when a window closed before the cutover was done, or when an armed ``pause``
    trigger fired outside an observe window: ``continue`` or ``rollback``. Only the role asked may answer,
    before the deadline (after it, the default applies)."""
    decision = decision.lower()
    if decision not in ("continue", "rollback"):
        raise exceptions.UsageError(
            f"decision {decision!r}: a window overrun or a trigger's pause is answered continue or rollback"
        )
    if not reason.strip():
        raise exceptions.UsageError("a decision needs --reason")
    _check_open(h)
    pending = h.state.pending_overrun
    if pending is None:
        answered = next((o for o in reversed(h.state.overruns) if o.get("decision")), None)
        why = (
            f"no window overrun or pause is waiting for an answer (the last was answered "
            f"{answered['decision'].get('decision')} by {answered['decision'].get('by') or 'the deadline'})"
            if answered
            else "no window has closed and no trigger paused this run; continue or rollback answers a window "
            "overrun or a trigger's pause"
        )
        await _refuse(h, f"decide {decision}", actor, why)
        raise AssertionError("unreachable")  # _refuse raises
    roles = list(pending.get("roles") or [])
    if not any(_holds(h, actor, r) for r in roles):
        await _refuse(
            h,
            f"decide {decision}",
            actor,
            f"{actor} holds none of the roles asked about the {'pause' if state_mod.is_pause(pending) else 'window'}: "
            + ("; ".join(_role_hint(h, r) for r in roles) or "none"),
        )
    deadline = state_mod.parse_ts(pending.get("deadline"))
    if deadline is not None and h.store.clock.now() >= deadline:
        await _refuse(
            h,
            f"decide {decision}",
            actor,
            f"the deadline passed at {_when(pending.get('deadline'))}; its default {str(pending.get('default')).upper()} "
            "applies",
        )
    red = await act_redactor(h)
    await _commit(
        h,
        [
            _ev(
                "overrun_decided",
                actor=actor,
                scope=pending.get("scope"),
                decision=decision,
                default=False,
                reason=red.redact(reason),
            )
        ],
    )
    what = f"after {pending.get('trigger')}'s pause" if state_mod.is_pause(pending) else "past the window"
    return f"{decision.upper()} {what}: {red.redact(reason)}"


@_compare_and_append
async def open_link(h: RunHandle, claim: links_mod.Claim, user: str) -> dict[str, Any]:
    """The person an approval link was sent to opens it: recorded once (``link_opened``); refused after it was
    used, for anyone else, after it expired (the act's deadline) and once the step no longer waits. Opening a
    link never acts: it says which act to show."""
    act, sid = "open link", claim.step_id
    used = h.state.links_used.get(claim.nonce)
    if used is not None:
        await _refuse(
            h,
            act,
            user,
            f"this link was already used by {used['by']} at {_when(used['at'])}; a link opens once (open the run "
            f"in the dashboard instead: /runs/{h.run_id})",
            sid,
            conflict=True,
        )
    if user != claim.person:
        await _refuse(h, act, user, f"this link was sent to {claim.person}, not to {user}; it opens only for them", sid)
    if h.store.clock.now() >= claim.expires:
        await _refuse(h, act, user, f"this link expired at {_when(clock_mod.utc_iso(claim.expires))}", sid)
    st = h.state.step(sid)
    if st.status != "waiting":
        what = st.outcome.value.upper() if st.outcome else st.status
        await _refuse(h, act, user, f"step {sid!r} no longer waits for anyone ({what})", sid)
    await _commit(h, [_ev("link_opened", step_id=sid, actor=user, act=claim.act, nonce=claim.nonce)])
    return {"run_id": h.run_id, "step": sid, "act": claim.act, "person": claim.person, "waiting_for": st.waiting_for}


@_compare_and_append
async def apply_default(h: RunHandle, step_id: str, default: str) -> bool:
    """The engine applies a decision's default at its deadline, compare-and-append like a person's act:
    False (nothing recorded) when a decision landed first."""
    if h.state.step(step_id).status == "done":
        return False
    await _commit(
        h,
        [
            _ev(
                "decision_defaulted",
                step_id=step_id,
                actor="golive",
                default=default,
                reason=f"no decision by the deadline; default {default}",
            ),
            _ev(
                "step_finished",
                step_id=step_id,
                actor="golive",
                outcome="fail",
                summary=f"deadline passed: default {default.upper()}",
                output={"decision": default},
            ),
        ],
    )
    return True


@_compare_and_append
async def waive(h: RunHandle, step_id: str, actor: str, ticket: str, reason: str) -> Approval | None:
    """Waive a step, with a ticket and a reason, as a role the runbook allows to waive. Under a waiver quorum
    each eligible person's waive is an approval, and the one that meets the quorum records the waiver."""
    st_ = h.state
    stopped_on_failure = st_.status in (state_mod.RunStatus.NO_GO, state_mod.RunStatus.FAILED) and st_.rollback is None
    if not stopped_on_failure:
        _check_open(h)  # a run stopped by failed steps stays open to waivers: `golive resume` then continues it
    step = _step(h, step_id)
    if not ticket.strip() or not reason.strip():
        raise exceptions.UsageError("a waiver needs --ticket and --reason")
    allowed = h.runbook.roles_with("waive")
    q = quorum_mod.quorum_of(h.runbook, step, "waive") if step.kind is not models.StepKind.DECISION else None
    if q is not None:
        why = quorum_mod.ineligible(h.state, q, actor)
        if why is not None:
            await _refuse(h, "waive", actor, f"{why}; a waiver of {step_id!r} needs {q.approvals} approvals", step_id)
    elif not allowed:
        await _refuse(h, "waive", actor, "this runbook allows no waivers (settings.waiver_roles is empty)", step_id)
    elif not any(_holds(h, actor, r) for r in allowed):
        await _refuse(
            h, "waive", actor, f"{actor} holds none of the roles that may waive: {', '.join(sorted(allowed))}", step_id
        )
    if step.kind is models.StepKind.DECISION:
        await _refuse(h, "waive", actor, "a decision cannot be waived; record GO or NO-GO", step_id)
    st = h.state.step(step_id)
    if st.outcome in (Outcome.PASS, Outcome.WAIVED):
        by = f" by {st.actor}" if st.actor else ""
        await _refuse(
            h,
            "waive",
            actor,
            f"step {step_id!r} already {st.outcome.value}{by} at {_when(st.finished_at)}",
            step_id,
            conflict=True,
        )
    if st.status == "running":
        # Its result is still to come and would overrule the waiver: waive what it ends with, not what it might.
        await _refuse(
            h,
            "waive",
            actor,
            f"step {step_id!r} is running ({step.kind.value}, attempt {st.attempts}); a waiver cannot stand in for "
            f"a result still to come: wait for it to finish and waive its outcome then (golive status "
            f"{h.run_id}), or stop it first (golive rollback {h.run_id})",
            step_id,
        )
    red = await act_redactor(h)
    approval: list[store_base.NewEvent] = []
    extra: dict[str, Any] = {}
    if q is not None:
        event, after = await _approval(
            h, q, step_id, actor, "waive", ticket=red.redact(ticket), reason=red.redact(reason)
        )
        approval = [event]
        if not after.met:
            await _commit(h, approval)
            return Approval(f"waiver approval of {step_id} recorded by {actor}: {quorum_mod.describe(after)}")
        extra["approvers"] = [str(a.get("by")) for a in after.approved]
    events = [
        *approval,
        _ev(
            "waiver_recorded",
            step_id=step_id,
            actor=actor,
            ticket=red.redact(ticket),
            reason=red.redact(reason),
            **extra,
        ),
    ]
    if st.status in ("waiting", "unknown"):
        events.append(
            _ev(
                "step_finished",
                step_id=step_id,
                actor=actor,
                outcome="waived",
                summary=f"waived by {', '.join(extra.get('approvers') or [actor])} ({red.redact(ticket)}): {red.redact(reason)}",
            )
        )
    await _commit(h, events)
    return None


async def unknown_actions(h: RunHandle) -> list[dict[str, Any]]:
    """Every action whose outcome is unknown, with what the log knows of it: when it started, which process
    drove the run then (its lease owner and epoch), the attempt, and what it was doing (its description)."""
    unknown = {sid for sid, st in h.state.steps.items() if st.status == "unknown"}
    if not unknown:
        return []
    owner: dict[str, Any] = {}
    started: dict[str, dict[str, Any]] = {}
    for ev in await h.store.events(h.run_id):
        if ev.type == "engine_started":
            owner = {"owner": ev.data.get("owner"), "epoch": ev.data.get("epoch")}
        elif ev.type == "action_started" and ev.step_id in unknown:
            started[ev.step_id] = {
                "started_at": ev.ts,
                "attempt": ev.data.get("attempt"),
                "describe": ev.data.get("describe"),
                "seq": ev.seq,
                **owner,
            }
    out = []
    for _, step in h.runbook.all_steps():
        if step.id in unknown:
            info = started.get(step.id, {})
            out.append(
                {
                    "step": step.id,
                    "title": step.title or step.id,
                    "resolvers": resolver_roles(h, step),
                    "started_at": info.get("started_at"),
                    "owner": info.get("owner"),
                    "epoch": info.get("epoch"),
                    "attempt": info.get("attempt"),
                    "describe": info.get("describe"),
                    "idempotent": step.idempotent,
                }
            )
    return out


@_compare_and_append
async def resolve_many(h: RunHandle, outcomes: Mapping[str, str], actor: str) -> None:
    """Resolve many unknown actions in one act (all or none): each step gets its own ``action_resolved``
    (and, for ``done``, its ``action_finished``). Each must be unknown and ``actor`` must be allowed to
    resolve each."""
    _check_open(h)
    if not outcomes:
        raise exceptions.UsageError("no outcomes given: write one line STEP: done|not-done per unknown action")
    events: list[store_base.NewEvent] = []
    not_unknown = []
    for step_id, outcome in outcomes.items():
        step = _step(h, step_id)
        if outcome not in ("done", "not-done"):
            raise exceptions.UsageError(f"{step_id}: outcome {outcome!r}: use done or not-done")
        if h.state.step(step_id).status != "unknown":
            not_unknown.append(f"{step_id} ({h.state.step(step_id).status})")
            continue
        allowed = resolver_roles(h, step)
        if not any(_holds(h, actor, r) for r in allowed):
            await _refuse(
                h,
                "resolve",
                actor,
                f"{actor} holds none of the roles that may resolve {step_id!r}: "
                + (
                    "; ".join(_role_hint(h, r) for r in allowed)
                    or "the runbook declares no role with decide or rollback"
                ),
                step_id,
            )
        events.append(_ev("action_resolved", step_id=step_id, actor=actor, outcome=outcome, bulk=True))
        if outcome == "done":
            events.append(
                _ev(
                    "action_finished",
                    step_id=step_id,
                    actor=actor,
                    outcome="pass",
                    summary=f"resolved by {actor}: the action took effect",
                )
            )
    if not_unknown:
        await _refuse(
            h,
            "resolve",
            actor,
            "not unknown (nothing was recorded; list them with --unknown): " + ", ".join(not_unknown),
            conflict=True,
        )
    await _commit(h, events)


def resolver_roles(h: RunHandle, step: models.Step) -> list[str]:
    """Who may say whether an interrupted action took effect: the step's role, and the roles with the
    ``decide`` or ``rollback`` power (so an action without a role is never stuck)."""
    roles = {step.role} if step.role else set()
    roles |= h.runbook.roles_with("decide") | h.runbook.roles_with("rollback")
    return sorted(r for r in roles if r)


@_compare_and_append
async def continue_from(
    h: RunHandle, phase_id: str, actor: str, waivers: Sequence[gate_mod.GateWaiver] = ()
) -> list[str]:
    """Continue a STOPPED run from PHASE (``golive resume RUN --from PHASE``), as a role that decides.

    PHASE is the phase the run stopped in or the one after it, and every phase before it (but the stopped one)
    passed. PHASE and every later phase are entered afresh: their steps, checks first, run again, since what
    held days ago may not hold now. A live run is judged by the start gate's windows and freezes again, now:
    a block not lifted by one of ``waivers`` refuses the act (the run stays STOPPED); the waivers are kept for
    the phase windows of the phases entered again (``window:PHASE``). Returns the phases entered again."""
    st = h.state
    if st.status is not state_mod.RunStatus.STOPPED:
        raise exceptions.UsageError(
            f"--from {phase_id}: run {h.run_id} is {st.status.label}; only a STOPPED run continues from a phase "
            f"(a run stopped by failed steps continues with golive waive, then golive resume {h.run_id})"
        )
    ids = [p.id for p in h.runbook.phases]
    if phase_id not in ids:
        raise exceptions.UsageError(
            f"--from {phase_id}: the runbook has no phase {phase_id!r}{loader.suggest(phase_id, ids)}; phases: {', '.join(ids)}"
        )
    stopped = next((i for i, p in enumerate(ids) if st.phases.get(p) == "stopped"), None)
    at = ids.index(phase_id)
    if stopped is None or at not in (stopped, stopped + 1):
        where = ids[stopped] if stopped is not None else "an unknown phase"
        nxt = f" or {ids[stopped + 1]!r}" if stopped is not None and stopped + 1 < len(ids) else ""
        raise exceptions.UsageError(
            f"--from {phase_id}: the run stopped in {where!r}; continue from {where!r}{nxt} (the phases between would be walked around)"
        )
    deciders = h.runbook.roles_with("decide")
    if not any(_holds(h, actor, r) for r in deciders):
        await _refuse(
            h,
            "resume --from",
            actor,
            f"{actor} holds none of the roles that decide to continue: "
            + "; ".join(_role_hint(h, r) for r in sorted(deciders) or ["ic"]),
        )
    gate_events: list[store_base.NewEvent] = []
    if st.mode == "live":
        blocks, next_text = gate_mod.resume_blocks(
            h.runbook, h.loaded.path, h.store.clock.now(), waivers, dict(st.roles)
        )
        left = [b.data() for b in blocks if b.waived is None]
        if left:
            how = f"golive resume {h.run_id} --from {phase_id}"
            await _refuse(h, "resume --from", actor, "\n".join(gate_mod.format_refusal(h.run_id, left, next_text, how)))
        red = h.redactor()
        for b in blocks:
            data = gate_mod.waived_event(b, red.redact)
            gate_events.append(_ev("gate_waived", **data))
        if blocks:
            gate_events.append(_ev("start_gate", outcome="open", blocks=[b.data() for b in blocks]))
    reenter = ids[at:]
    steps = [s.id for p in h.runbook.phases if p.id in reenter for s in p.steps]
    kept: dict[str, Any] = {"gate_waivers": [waiver_data(w, h.redactor()) for w in waivers]} if waivers else {}
    await _commit(
        h,
        [
            _ev(
                "run_reopened",
                actor=actor,
                reason=f"continued from {phase_id!r} by {actor}",
                from_phase=phase_id,
                reenter_phases=reenter,
                reenter_steps=steps,
                **kept,
            ),
            *gate_events,
        ],
    )
    return reenter


@_compare_and_append
async def confirm_follow_up(h: RunHandle, follow_up_id: str, actor: str, note: str = "") -> None:
    """Confirm a rollback follow-up duty (e.g. "Keep blue running for 24 h"), as its role or a role that decides.

    Follow-ups come after the rollback, so a run that has ended ROLLED-BACK still takes them."""
    fu = next((f for f in h.runbook.rollback.follow_ups() if f.id == follow_up_id), None)
    if fu is None:
        ids = [f.id for f in h.runbook.rollback.follow_ups()]
        raise exceptions.NotFound(
            f"run {h.run_id} has no follow-up {follow_up_id!r}{loader.suggest(follow_up_id, ids)}; "
            f"follow-ups: {', '.join(ids) or 'none'}"
        )
    if h.state.rollback is None:
        await _refuse(h, "confirm", actor, f"follow-up {fu.id!r} is due only after a rollback; none ran")
    allowed = {fu.role} if fu.role else h.runbook.roles_with("decide") | h.runbook.roles_with("rollback")
    if not any(_holds(h, actor, r) for r in allowed):
        await _refuse(
            h,
            "confirm",
            actor,
            f"{actor} holds none of the roles that confirm follow-up {fu.id!r}: "
            + "; ".join(_role_hint(h, r) for r in sorted(allowed)),
        )
    if fu.id in h.state.follow_ups:
        done = h.state.follow_ups[fu.id]
        await _refuse(
            h,
            "confirm",
            actor,
            f"follow-up {fu.id!r} was already confirmed by {done['by']} at {_when(done.get('at'))}",
            conflict=True,
        )
    red = await act_redactor(h)
    await _commit(h, [_ev("follow_up_confirmed", actor=actor, follow_up=fu.id, title=fu.title, note=red.redact(note))])


def is_follow_up(h: RunHandle, ident: str) -> bool:
    return any(f.id == ident for f in h.runbook.rollback.follow_ups())


@_compare_and_append
async def resolve(h: RunHandle, step_id: str, actor: str, outcome: str) -> None:
    """Say whether an action left ``unknown`` by a crash took effect (done) or not (not-done: run it again)."""
    _check_open(h)
    step = _step(h, step_id)
    if outcome not in ("done", "not-done"):
        raise exceptions.UsageError(f"--outcome {outcome!r}: use done or not-done")
    st = h.state.step(step_id)
    if st.status != "unknown":
        await _refuse(
            h, "resolve", actor, f"step {step_id!r} is not unknown (it is {st.status})", step_id, conflict=True
        )
    allowed = resolver_roles(h, step)
    if not any(_holds(h, actor, r) for r in allowed):
        await _refuse(
            h,
            "resolve",
            actor,
            f"{actor} holds none of the roles that may resolve {step_id!r}: "
            + ("; ".join(_role_hint(h, r) for r in allowed) or "the runbook declares no role with decide or rollback"),
            step_id,
        )
    events = [_ev("action_resolved", step_id=step_id, actor=actor, outcome=outcome)]
    if outcome == "done":
        events.append(
            _ev(
                "action_finished",
                step_id=step_id,
                actor=actor,
                outcome="pass",
                summary=f"resolved by {actor}: the action took effect",
            )
        )
    await _commit(h, events)


@_compare_and_append
async def request_rollback(
    h: RunHandle, actor: str, reason: str, source: str = "person", *, trigger: str | None = None
) -> None:
    """Ask for the rollback plan to run now, as a role the runbook allows.

    ``trigger`` names a trigger a person raises (one without a source, ``then: rollback``, e.g. the
    payments matrix's "Migration failure"): its fire is recorded and the rollback is attributed to it
    (``trigger:<id>``), with the person in the reason.
    """
    if not reason.strip():
        raise exceptions.UsageError("a rollback needs --reason")
    trig = None
    if trigger is not None:
        trig = h.runbook.trigger(trigger)
        raisable = [t.id for t in h.runbook.triggers if t.source is None and t.then == "rollback"]
        if trig is None or trig.source is not None or trig.then != "rollback":
            raise exceptions.UsageError(
                f"--trigger {trigger}: not a rollback trigger raised by a person"
                f"{loader.suggest(trigger, raisable)}; such triggers: {', '.join(raisable) or 'none'}"
            )
    if h.state.status in (
        state_mod.RunStatus.ROLLED_BACK,
        state_mod.RunStatus.ROLLED_BACK_AFTER_GO,
        state_mod.RunStatus.ROLLING_BACK,
    ):
        await _refuse(h, "rollback", actor, f"run is already {h.state.status.label}", conflict=True)
    if h.state.final and h.state.status is not state_mod.RunStatus.PASSED:
        await _refuse(h, "rollback", actor, f"run has ended ({h.state.status.label})")
    allowed = h.runbook.roles_with("rollback") | h.runbook.roles_with("decide")
    if not any(_holds(h, actor, r) for r in allowed):
        await _refuse(
            h,
            "rollback",
            actor,
            f"{actor} holds none of the roles that may start the rollback: {', '.join(sorted(allowed)) or 'none declared'}",
        )
    red = await act_redactor(h)
    if trig is not None:
        await _commit(
            h,
            [
                _ev(
                    "trigger_fired",
                    actor=actor,
                    trigger=trig.id,
                    trigger_id=trig.id,
                    reason=f"raised by {actor}: {red.redact(reason)}",
                    then=trig.then,
                    severity=trig.severity,
                    status="manual",
                    fired=True,
                ),
                _ev("rollback_requested", actor=actor, reason=red.redact(reason), source="trigger", trigger=trig.id),
            ],
        )
        return
    await _commit(h, [_ev("rollback_requested", actor=actor, reason=red.redact(reason), source=source)])


@_compare_and_append
async def signoff(h: RunHandle, area: str, actor: str, statement: str) -> None:
    """Sign off an area (engineering, qa, operations, ...)."""
    areas = {a.id: a for a in h.runbook.signoff.areas}
    if area not in areas:
        raise exceptions.UsageError(
            f"the runbook has no sign-off area {area!r}{loader.suggest(area, areas)}; areas: {', '.join(areas) or 'none'}"
        )
    if not statement.strip():
        raise exceptions.UsageError("a sign-off needs --statement")
    role = areas[area].role
    if role and not _holds(h, actor, role):
        await _refuse(h, "signoff", actor, f"{actor} does not hold role {role!r} ({_role_hint(h, role)})")
    if area in h.state.signoffs:
        signed = h.state.signoffs[area]
        await _refuse(
            h,
            "signoff",
            actor,
            f"area {area!r} was already signed by {signed['by']} at {_when(signed.get('at'))}",
            conflict=True,
        )
    red = await act_redactor(h)
    await _commit(h, [_ev("signoff_recorded", actor=actor, area=area, statement=red.redact(statement))])


_BOOL_WORDS = {"yes": True, "true": True, "y": True, "1": True, "no": False, "false": False, "n": False, "0": False}


def check_field_value(field: models.SignoffField, value: str) -> str:
    """A sign-off field's value as stored (normalised), or UsageError naming the field, its type and the fix."""
    import datetime as dt

    v = value.strip()
    where = f"--field {field.id}={value!r}"
    try:
        if field.type == "int":
            v = str(int(v))
        elif field.type == "number":
            float(v)
        elif field.type == "bool":
            v = "yes" if _BOOL_WORDS[v.lower()] else "no"
        elif field.type == "date":
            v = dt.date.fromisoformat(v).isoformat()
        elif field.type == "datetime":
            try:
                parsed = clock_mod.parse_time(v, naive_is_utc=False)
            except clock_mod.NoTimezone:
                raise ValueError("no timezone") from None
            v = parsed.isoformat().replace("+00:00", "Z")
        elif field.type == "url":
            if not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", v):
                raise ValueError("not an http(s) URL")
        elif field.type == "sha" and not re.fullmatch(r"[0-9a-fA-F]{7,40}", v):
            raise ValueError("not 7-40 hex digits")
    except (ValueError, KeyError):
        examples = {
            "int": "42",
            "number": "9.5",
            "bool": "yes or no",
            "date": "2026-03-01",
            "datetime": "2026-03-01T10:15:00Z",
            "url": "https://example.com/report",
            "sha": "3f2a9c1",
        }
        raise exceptions.UsageError(
            f"{where}: {field.title!r} is a {field.type}; give e.g. {examples.get(field.type, 'text')}"
        ) from None
    if not v:
        raise exceptions.UsageError(f"{where}: a value is needed ({field.title})")
    if field.pattern and not re.fullmatch(field.pattern, v):
        raise exceptions.UsageError(f"{where} does not match {field.pattern!r} ({field.title})")
    return v


async def signoff_fields(h: RunHandle, actor: str, values: Mapping[str, str]) -> dict[str, str]:
    """Fill in sign-off fields (``golive signoff --field k=v``), as a holder of a role that signs: the field's
    own ``role``, an area's role, or a role with the signoff power. Values are checked against their types
    and stored redacted; returns what was stored."""
    fields = {f.id: f for f in h.runbook.signoff.fields}
    if not values:
        raise exceptions.UsageError("give at least one --field ID=VALUE")
    checked: dict[str, str] = {}
    for fid, value in values.items():
        spec = fields.get(fid)
        if spec is None:
            raise exceptions.UsageError(
                f"the runbook has no sign-off field {fid!r}{loader.suggest(fid, fields)}; "
                f"fields: {', '.join(fields) or 'none'}"
            )
        checked[fid] = check_field_value(spec, value)
    signers = {a.role for a in h.runbook.signoff.areas if a.role} | h.runbook.roles_with("signoff")
    for fid in checked:
        own = fields[fid].role
        allowed: set[str] = {own} if own else signers
        if allowed and not any(_holds(h, actor, r) for r in allowed):
            await _refuse(
                h,
                "signoff",
                actor,
                f"{actor} holds none of the roles that fill sign-off field {fid!r}: {', '.join(sorted(allowed))}",
            )
    red = await act_redactor(h)
    stored = {k: red.redact(v) for k, v in checked.items()}
    await h.append("signoff_fields_recorded", actor=actor, fields=stored)
    return stored


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
