"""The start gate: windows, freezes and change records, judged together before a live run starts.

Each thing that stops the start is a :class:`Block`, and every refusal has one format, whatever blocks:
what blocks, until when, who can waive it and how. The engine runs the gate first thing in a fresh live
run (CLI, server and worker alike): it records ``start_gate`` [outcome open|refused, blocks, next_allowed]
and, when refused, ends the run FAILED before anything else happens (exit 1, as every refused act).

- **window** (``window:`` at the top): before ``not_before`` or past ``not_after``.
- **freeze** (``freeze:``): an occurrence in force now (runbook RRULEs, a shared .ics file, public holidays).
- **change record**: every ``change-record`` check step of the phases runs here, before any phase; its
  result is the step's own (a pass is not asked again in its phase).

A block is lifted by a waiver given when the run starts (``golive run --waive ID --as NAME --ticket T
--reason R``): NAME must hold, in this run, a role that may waive it (the block's ``waivable_by``, else the
roles with the ``waive`` power). A waiver is recorded as ``gate_waived`` [gate, role, ticket, reason, auth, auth_subject]
with NAME as actor (auth: how NAME authenticated, as on every act); a change-record step waived so is recorded waived with the waiver (``waiver_recorded``).

A STOPPED run continued days later (``golive resume RUN --from PHASE``) is judged again, windows and freezes,
when it is continued (:func:`resume_blocks`; the same refusal, waived with ``--waive ID`` there). A phase's
own ``window`` blocks the phase when it is due (:func:`phase_window_blocks`): waived as ``window:PHASE`` by a
waiver given at the start or at ``resume --from``, it neither waits nor asks the IC at its ``not_after``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive import clock as clock_mod
from golive import exceptions
from golive.results import Outcome
from golive.spec import models
from golive.spec.durations import format_duration

if TYPE_CHECKING:
    from golive.watch import freezes

__all__ = [
    "Block",
    "GateWaiver",
    "calendar_for",
    "check_waiver_ids",
    "format_refusal",
    "gate_ids",
    "phase_window_blocks",
    "resolve_waivers",
    "resume_blocks",
    "run_gate",
    "schedule",
    "waived_event",
    "when_text",
]

CHANGE_CHECK = "change-record"  # the check type of a change record (golive.plugins.checks)


@dataclass(frozen=True)
class GateWaiver:
    """A waiver given at the start: ``gate`` is ``window``, a freeze id or a change-record step id."""

    gate: str
    by: str
    ticket: str
    reason: str
    auth: str | None = None  # how ``by`` authenticated (golive.identity: token, oidc, local)
    auth_subject: str | None = None


@dataclass
class Block:
    """One thing that keeps a live run from starting."""

    gate: str  # the id to waive it by: "window", a freeze id, a change-record step id
    kind: str  # window | freeze | change
    what: str  # "window 02:00–04:00 UTC", "freeze year-end (Year-end sales)", "change CHG0030001"
    why: str
    until: str | None  # ISO UTC when it lifts by itself; None: it does not (approval, a closed window)
    until_text: str
    waivable_by: tuple[str, ...]
    waived: dict[str, Any] | None = field(default=None)

    def data(self) -> dict[str, Any]:
        out = asdict(self)
        out["waivable_by"] = list(self.waivable_by)
        return out


def when_text(ts: datetime, now: datetime) -> str:
    """ "2026-03-07 02:00 UTC (in 3h20m)": the wall time and how far away it is."""
    text = clock_mod.utc_iso(ts)[:16].replace("T", " ") + " UTC"
    delta = (ts - now).total_seconds()
    if abs(delta) >= 60:  # minutes are enough for a person planning a start
        delta = round(delta / 60) * 60.0
    if delta > 0:
        return f"{text} (in {format_duration(delta)})"
    return f"{text} ({format_duration(-delta)} ago)"


def calendar_for(runbook: models.Runbook, runbook_path: str | None) -> freezes.Calendar:
    # Imported here: calendars (icalendar, holidays) cost start-up that a run without a gate does not need.
    from golive.watch import freezes

    base = Path(runbook_path).parent if runbook_path else None
    return freezes.Calendar(runbook.freeze, base)


def _waivers(runbook: models.Runbook, own: Sequence[str]) -> tuple[str, ...]:
    return tuple(own) or tuple(sorted(runbook.roles_with("waive")))


def window_blocks(runbook: models.Runbook, now: datetime) -> list[Block]:
    """The run's window at the start: before ``not_before`` or past ``not_after`` it blocks (``window``)."""
    if runbook.window is None:
        return []
    return _window_blocks(runbook, runbook.window, "window", "window", now,
                          "until a new window is planned (change not_before/not_after)")  # fmt: skip


def phase_window_blocks(runbook: models.Runbook, phase: models.Phase, now: datetime) -> list[Block]:
    """A phase's window when the phase is due to start: before ``not_before`` or past ``not_after`` it blocks
    (waived as ``window:PHASE``; without a waiver the phase waits for it to open, or starts and the IC is asked)."""
    if phase.window is None:
        return []
    return _window_blocks(runbook, phase.window, f"window:{phase.id}", f"phase {phase.id}'s window", now,
                          "until the IC decides (continue or rollback)")  # fmt: skip


def _window_blocks(
    runbook: models.Runbook, win: models.Window, gate_id: str, name: str, now: datetime, closed_until: str
) -> list[Block]:
    nb, na = win.edges(runbook.t0)
    span = f"{name} {_span(nb, na)}".replace("'s window ", " window ")
    roles = _waivers(runbook, win.waivable_by)
    if nb is not None and now < nb:
        return [Block(gate_id, "window", span, f"the {name} has not opened", clock_mod.utc_iso(nb),
                      f"until {when_text(nb, now)}", roles)]  # fmt: skip
    if na is not None and now >= na:
        return [Block(gate_id, "window", span, f"the {name} closed at {when_text(na, now)}", None, closed_until,
                      roles)]  # fmt: skip
    return []


def resolve_waivers(blocks: Sequence[Block], waivers: Sequence[GateWaiver], roles: dict[str, str]) -> None:
    """Mark each block a waiver lifts (``waived``): the waiver's person holds, in this run (``roles``: role to
    person), a role that may waive it, and gives a ticket and a reason; a waiver that does not count says why
    in the block's ``why``."""
    by_gate = {w.gate: w for w in waivers}
    for b in blocks:
        w = by_gate.get(b.gate)
        if w is None:
            continue
        role = next((r for r in b.waivable_by if roles.get(r) == w.by), None)
        if role is None:
            held = sorted(r for r, who in roles.items() if who == w.by)
            b.why += (
                f"; the waiver by {w.by} does not count: {w.by} holds "
                f"{', '.join(held) or 'no role'} in this run, not {' or '.join(b.waivable_by) or 'a waiving role'}"
            )
            continue
        if not w.ticket.strip() or not w.reason.strip():
            b.why += "; a waiver needs --ticket and --reason"
            continue
        b.waived = {"by": w.by, "role": role, "ticket": w.ticket, "reason": w.reason}
        if w.auth is not None:
            b.waived |= {"auth": w.auth, "auth_subject": w.auth_subject}


def waived_event(b: Block, redact: Any) -> dict[str, Any]:
    """The ``gate_waived`` data (and actor) of a waived block."""
    assert b.waived is not None
    return {
        "actor": b.waived["by"],
        "gate": b.gate,
        "kind": b.kind,
        "what": b.what,
        "why": b.why,
        "role": b.waived["role"],
        "ticket": b.waived["ticket"],
        "reason": redact(b.waived["reason"]),
        **{k: b.waived[k] for k in ("auth", "auth_subject") if k in b.waived},
    }


def _span(nb: datetime | None, na: datetime | None) -> str:
    def t(x: datetime | None) -> str:
        return clock_mod.utc_iso(x)[:16].replace("T", " ") if x else "…"

    return f"{t(nb)} – {t(na)} UTC"


def freeze_blocks(runbook: models.Runbook, cal: freezes.Calendar, now: datetime) -> list[Block]:
    out: list[Block] = []
    for f in runbook.freeze:
        if f.id in cal.broken:
            out.append(
                Block(f.id, "freeze", f"freeze {f.id}", f"its calendar cannot be read: {cal.broken[f.id]}", None,
                      "until its calendar reads again", _waivers(runbook, f.waivable_by))
            )  # fmt: skip
    seen: set[str] = set()
    for occ in cal.active(now):
        if occ.freeze_id in seen:
            continue
        seen.add(occ.freeze_id)
        end = cal.until(occ, now)
        out.append(
            Block(
                occ.freeze_id,
                "freeze",
                f"freeze {occ.freeze_id} ({occ.title})",
                f"in force since {when_text(occ.start, now)}",
                clock_mod.utc_iso(end) if end is not None else None,
                f"until {when_text(end, now)}" if end is not None else "with no end within a year",
                _waivers(runbook, occ.waivable_by),
            )
        )
    return out


def gate_ids(runbook: models.Runbook, *, changes: bool = True) -> list[str]:
    """The ids a waiver may name (``--waive ID``): ``window``, ``window:PHASE`` of each phase with a window, the
    freezes' ids and (at a start, ``changes``) the change-record steps' ids."""
    ids = ["window"] if runbook.window is not None else []
    ids += [f"window:{p.id}" for p in runbook.phases if p.window is not None]
    ids += [f.id for f in runbook.freeze]
    return ids + ([s.id for s in change_steps(runbook)] if changes else [])


def check_waiver_ids(runbook: models.Runbook, source: str, ids: Sequence[str], *, changes: bool = True) -> None:
    """Refuse a waiver for a block the runbook's start gate cannot have (a typo would otherwise lift nothing, and
    say nothing): UsageError naming the id, the likely one and the gate's ids."""
    from golive.spec.loader import suggest

    known = gate_ids(runbook, changes=changes)
    for gid in ids:
        if gid not in known:
            raise exceptions.UsageError(
                f"--waive {gid}: the start gate of {source} has no block {gid!r}{suggest(gid, known)}; "
                f"its blocks: {', '.join(known) or 'none (no window, freeze or change record)'}"
            )


def change_steps(runbook: models.Runbook) -> list[models.Step]:
    """The change-record checks of the phases: they are part of the start gate."""
    return [s for p in runbook.phases for s in p.steps if s.kind is models.StepKind.CHECK and s.type == CHANGE_CHECK]


def change_block(runbook: models.Runbook, step: models.Step, summary: str, output: Any, now: datetime) -> Block:
    record = (output or {}).get("record") if isinstance(output, dict) else None
    record = record or ((step.with_ or {}).get("record") if isinstance(step.with_, dict) else None) or step.id
    start = _parse((output or {}).get("start")) if isinstance(output, dict) else None
    if start is not None and start > now and "not opened" in summary:
        until, text = clock_mod.utc_iso(start), f"until {when_text(start, now)} (its window opens)"
    else:
        until, text = None, "until the change record is approved and inside its window"
    why = summary.removeprefix("refused: ").removeprefix(f"change {record} ")
    return Block(step.id, "change", f"change {record}", why, until, text,
                 _waivers(runbook, ()))  # fmt: skip


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return clock_mod.parse_time(value, naive_is_utc=False)
    except ValueError:  # NoTimezone too
        return None


def format_refusal(
    run_id: str, blocks: Sequence[dict[str, Any]], next_allowed: str | None, how: str = "golive run FILE"
) -> list[str]:
    """The one refusal format: what blocks, until when, who can waive it and how (``how``: the command the
    waiver goes with: a start, or ``golive resume RUN --from PHASE``)."""
    lines = [f"run {run_id} refused at the start gate ({len(blocks)} block{'s' if len(blocks) != 1 else ''}):"]
    for b in blocks:
        lines.append(f"  {b['what']}: {b['why']}; blocks {b['until_text']}")
        roles = ", ".join(b.get("waivable_by") or []) or "no role (give a role the waive power)"
        lines.append(
            f"    waive: a holder of {roles}, when starting: {how} --waive {b['gate']} --as NAME "
            "--ticket TICKET --reason TEXT"
        )
    if next_allowed:
        lines.append(f"  next allowed start (windows and freezes): {next_allowed}")
    return lines


async def run_gate(engine: Any, waivers: Sequence[GateWaiver]) -> list[dict[str, Any]]:
    """Judge the start gate now; record it (``start_gate``) and return the blocks left (empty: the run starts).

    ``engine`` is the :class:`golive.engine.runner.Engine` that runs the gate (it imports this module)."""
    runbook = engine.runbook
    st = engine.h.state
    if runbook.window is None and not runbook.freeze and not change_steps(runbook):
        return []  # nothing to gate: nothing recorded
    now = engine.clock.now()
    cal = calendar_for(runbook, engine.h.loaded.path)
    blocks = window_blocks(runbook, now) + freeze_blocks(runbook, cal, now)
    passed_changes: list[tuple[models.Step, Any, str, float]] = []
    for step in change_steps(runbook):
        done = st.step(step.id)
        if done.status == "done" and done.outcome in (Outcome.PASS, Outcome.WARN, Outcome.WAIVED):
            continue  # passed (or waived) at an earlier look: a failure recorded before a crash is asked again
        started = clock_mod.utc_iso(engine.clock.now())
        began = engine.clock.monotonic()
        result = await engine.check_result(step)
        if result.outcome in (Outcome.PASS, Outcome.WARN):
            passed_changes.append((step, result, started, engine.clock.monotonic() - began))
        else:
            blocks.append(change_block(runbook, step, result.summary, result.output, now))
            passed_changes.append((step, result, started, engine.clock.monotonic() - began))
    resolve_waivers(blocks, waivers, st.roles)
    left = [b for b in blocks if b.waived is None]
    nb, na = runbook.window.edges(runbook.t0) if runbook.window else (None, None)
    nxt = cal.next_allowed(now, nb, na) if left else None
    nxt_text = when_text(nxt, now) if nxt is not None and nxt > now else None
    if left:
        # The change records' results are the evidence of the refusal: recorded as their steps' own.
        for step, result, started, took in passed_changes:
            await engine.emit("step_started", step_id=step.id, attempt=1)
            await engine.record_result(step, result, 1, started, took, "step_finished")
        await engine.emit(
            "start_gate",
            outcome="refused",
            blocks=[b.data() for b in blocks],
            next_allowed=clock_mod.utc_iso(nxt) if nxt is not None else None,
            next_allowed_text=nxt_text,
        )
        return [b.data() for b in left]
    for b in blocks:
        await engine.emit("gate_waived", **waived_event(b, engine.redactor.redact))
    waived_steps = {b.gate: b for b in blocks if b.kind == "change"}
    for step, result, started, took in passed_changes:
        await engine.emit("step_started", step_id=step.id, attempt=1)
        if step.id in waived_steps:
            wv = waived_steps[step.id].waived or {}
            await engine.emit(
                "waiver_recorded",
                step_id=step.id,
                actor=wv.get("by"),
                ticket=wv.get("ticket"),
                reason=engine.redactor.redact(str(wv.get("reason"))),
            )
            await engine.emit(
                "step_finished",
                step_id=step.id,
                outcome="waived",
                summary=engine.redactor.redact(
                    f"waived at the start gate by {wv.get('by')} ({wv.get('ticket')}): {result.summary}"
                ),
                output=engine.redactor.redact_obj(result.output),
                actor=wv.get("by"),
            )
        else:
            await engine.record_result(step, result, 1, started, took, "step_finished")
    await engine.emit("start_gate", outcome="open", blocks=[b.data() for b in blocks])
    return []


def resume_blocks(
    runbook: models.Runbook,
    runbook_path: str | None,
    now: datetime,
    waivers: Sequence[GateWaiver],
    roles: dict[str, str],
) -> tuple[list[Block], str | None]:
    """The start gate's windows and freezes judged again for a STOPPED run continued now (``golive resume
    --from``), with the waivers given then: every block (waived or not) and the next allowed start's text."""
    if runbook.window is None and not runbook.freeze:
        return [], None
    cal = calendar_for(runbook, runbook_path)
    blocks = window_blocks(runbook, now) + freeze_blocks(runbook, cal, now)
    resolve_waivers(blocks, waivers, roles)
    if all(b.waived is not None for b in blocks):
        return blocks, None
    nb, na = runbook.window.edges(runbook.t0) if runbook.window else (None, None)
    nxt = cal.next_allowed(now, nb, na)
    return blocks, when_text(nxt, now) if nxt is not None and nxt > now else None


def schedule(runbook: models.Runbook, runbook_path: str | None, now: datetime) -> dict[str, Any] | None:
    """What ``golive plan`` shows of the start gate (windows and freezes; change records are asked at the
    start): the window, what blocks a start now, the next allowed start, and the freezes of the coming year."""
    if runbook.window is None and not runbook.freeze:
        return None
    cal = calendar_for(runbook, runbook_path)
    nb, na = runbook.window.edges(runbook.t0) if runbook.window else (None, None)
    blocks = window_blocks(runbook, now) + freeze_blocks(runbook, cal, now)
    nxt = cal.next_allowed(now, nb, na)
    from golive.watch import freezes

    upcoming = []
    for occ in cal.between(now, now + freezes.HORIZON)[:MAX_LISTED]:
        upcoming.append({"freeze": occ.freeze_id, "title": occ.title, "start": clock_mod.utc_iso(occ.start),
                         "end": clock_mod.utc_iso(occ.end)})  # fmt: skip
    return {
        "now": clock_mod.utc_iso(now),
        "window": {
            "not_before": clock_mod.utc_iso(nb) if nb else None,
            "not_after": clock_mod.utc_iso(na) if na else None,
        },
        "blocks_now": [b.data() for b in blocks],
        "next_allowed": clock_mod.utc_iso(nxt) if nxt is not None else None,
        "next_allowed_text": (
            "now"
            if nxt is not None and nxt <= now
            else when_text(nxt, now)
            if nxt is not None
            else "none within the window (or the coming year)"
        ),
        "freezes": upcoming,
    }


MAX_LISTED = 10  # freeze occurrences golive plan lists
