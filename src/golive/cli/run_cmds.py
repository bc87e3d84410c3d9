"""Commands on runs: run, resume, status, runs, timeline, and the acts (assign, confirm, decide, waive, resolve,
rollback, signoff), plus verify. The rules live in :mod:`golive.engine.acts`, shared with the API."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from golive import exceptions
from golive.cli import _common, export_cmds, remote

if TYPE_CHECKING:
    from golive.views.model import TimelineLine

ROLLBACK_HANDOFF_WAIT = 3.0  # seconds to let a running engine pick up a rollback request


EXIT_STOPPED = 3  # the run ended STOPPED: a deliberate stop, what passed is live; `resume --from` continues it


def _exit_for(status: Any) -> int:
    """0 passed; 3 stopped (on_no_go: keep-live); 1 NO-GO, failed, rolled back or still waiting."""
    from golive.engine.state import RunStatus

    if status is RunStatus.PASSED:
        return 0
    return EXIT_STOPPED if status is RunStatus.STOPPED else 1


async def _drive(
    store: Any,
    handle: Any,
    *,
    quiet: bool,
    prompt: bool,
    var_overrides: dict[str, str] | None = None,
    kind: str = "run",
    take_over: bool = False,
    actor: str | None = None,
    settings: Any = None,
    local: bool = False,
) -> Any:
    """Run the engine with a live view, owning the run through the driver (lease, heartbeat, fencing).
    On a shared store the terminal takes no acts at its prompts unless ``local`` (--local)."""
    from golive.engine import driver, rehearsal, runner
    from golive.views import summary

    if settings is None:
        settings = rehearsal.settings_from_params(handle.record.params)
    scaled = settings.clock()
    if scaled is not None:
        store.event_clock = scaled  # events carry scaled time; the lease keeps real time

    con = _common.console()
    live_view: Any = None
    printed: set[tuple[str, str]] = set()

    def on_change() -> None:
        if quiet:
            return
        data = summary.summarize(handle)
        if live_view is not None:
            from golive.cli import views

            live_view.update(views.status_renderable(data))
            return
        for ph in data["phases"]:
            for s in ph["steps"]:
                key = (s["id"], s["outcome"] or s["status"])
                if key not in printed and s["status"] in ("done", "waiting", "unknown"):
                    printed.add(key)
                    shown = (s["outcome"] or s["status"]).upper()
                    extra = f" ({s['waiting_for']} by {s['role']})" if s["status"] == "waiting" else ""
                    when = f"{s.get('planned_at') or '':>7} {s['t'] or '':>7}"  # planned, actual
                    con.print(f"{when} {ph['id']}/{s['id']}: {shown}{extra} {s['summary'] or ''}")
        for s in data["rollback_steps"] or []:
            key = ("rollback:" + s["id"], s["outcome"] or s["status"] or "")
            if key not in printed and s["status"] == "done":
                printed.add(key)
                con.print(f"        rollback/{s['id']}: {str(s['outcome']).upper()} {s['summary'] or ''}")

    prompter = _terminal_prompter if prompt and runner.is_interactive() else None
    if prompter is not None and getattr(store, "shared", False) and not local:
        # An answer typed here would be a person's act written straight into the shared store, unauthenticated.
        prompter = None
        click.echo(
            "golive: the store is shared (PostgreSQL): this terminal takes no acts; make them through the server "
            "(golive decide/confirm --server URL), or give --local to answer here (recorded auth: local)",
            err=True,
        )
    engine = runner.Engine(handle, clock=scaled, prompter=prompter, on_change=on_change, var_overrides=var_overrides)
    owner = driver.process_owner(kind)
    reason = "taken over with --take-over" if take_over else ""
    if not quiet and con.is_terminal:
        from rich.live import Live

        from golive.cli import views

        with Live(views.status_renderable(summary.summarize(handle)), console=con, refresh_per_second=4) as lv:
            live_view = lv
            async with rehearsal.outside_world(engine, settings):
                status = await driver.drive(
                    handle, engine, owner=owner, take_over=take_over, actor=actor, reason=reason
                )
    else:
        async with rehearsal.outside_world(engine, settings):
            status = await driver.drive(handle, engine, owner=owner, take_over=take_over, actor=actor, reason=reason)
    if handle.state.final:
        from golive.views import cached

        await cached.keep_finished(store, handle.run_id)  # the next golive status reads it
    gate_state = handle.state.gate
    if gate_state is not None and gate_state.get("outcome") == "refused":
        from golive.engine import gate

        left = [b for b in gate_state.get("blocks") or [] if not b.get("waived")]
        for line in gate.format_refusal(handle.run_id, left, gate_state.get("next_allowed_text")):
            click.echo(line, err=True)
    if not quiet:
        data = summary.summarize(handle)
        from golive.cli import views as views_mod

        words = views_mod.outcome_words(data["status_label"], data["verdict"])
        con.print(f"run {handle.run_id}: {words} {data['reason']}")
    return status


async def _terminal_prompter(step: Any, handle: Any) -> None:
    """Ask at the terminal for a manual step (as its role holder) or a decision (as the IC)."""
    from golive import identity
    from golive.engine import acts

    loop = asyncio.get_running_loop()
    holder = handle.state.roles.get(step.role or "")
    if step.kind.value == "manual":
        question = f"\n[{step.id}] {step.title or step.id}\n{step.instructions}\nDone? (y = confirm, f = failed)"
        answer = await loop.run_in_executor(None, lambda: click.prompt(question, type=click.Choice(["y", "f"])))
        actor = holder or await loop.run_in_executor(None, lambda: click.prompt(f"Your name (role {step.role})"))
        inputs: dict[str, str] = {}

        def ask(i: Any) -> str:
            return str(click.prompt(i.title or i.id, hide_input=i.secret, default="" if not i.required else None))

        for inp in step.inputs:
            inputs[inp.id] = await loop.run_in_executor(None, ask, inp)
        reason = ""
        if answer == "f":
            reason = await loop.run_in_executor(None, lambda: click.prompt("What went wrong"))
        with identity.acting(identity.local(actor)):  # named at this terminal: a local act
            await acts.confirm(handle, step.id, actor, inputs=inputs, failed=answer == "f", reason=reason)
    else:
        blockers = acts.decision_blockers(handle, step)
        if blockers:
            click.echo("GO is not possible: " + "; ".join(blockers))
        choice = await loop.run_in_executor(
            None,
            lambda: click.prompt(
                f"\n[{step.id}] decision (role {step.role}): go / no-go", type=click.Choice(["go", "no-go"])
            ),
        )
        actor = holder or await loop.run_in_executor(None, lambda: click.prompt("Your name"))
        reason = await loop.run_in_executor(None, lambda: click.prompt("Reason"))
        try:
            with identity.acting(identity.local(actor)):
                said = await acts.decide(handle, choice, actor, reason, step_id=step.id)
            if isinstance(said, acts.Approval):  # one approval of a quorum: the others approve from anywhere
                click.echo(said)
        except exceptions.RuleRefused as exc:
            click.echo(f"golive: {exc.message}", err=True)


# --- run / resume ------------------------------------------------------------------------------------


@click.command()
@click.argument("file", type=click.Path(path_type=str))
@click.option("--mode", type=click.Choice(["live", "rehearsal", "dry-run"]), default="live", show_default=True)
@click.option("--var", "vars_", multiple=True, metavar="K=V", help="Override a variable (repeatable).")
@click.option("--role", "roles", multiple=True, metavar="ROLE=NAME", help="Assign a person to a role (repeatable).")
@click.option("--run-id", default=None, help="Use this run id instead of a generated one.")
@click.option("--no-prompt", is_flag=True, help="Never prompt; wait for golive confirm/decide from anyone.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the final line.")
@click.option("--start-now", is_flag=True, help="Do not wait for the planned T-times (t0 and at:) of phases and steps.")
@click.option(
    "--waive",
    "gate_waive",
    multiple=True,
    metavar="ID",
    help="Waive a block of the start gate (window, a freeze id, a change-record step id); with --as, --ticket, --reason.",
)
@click.option(
    "--as", "waive_as", default=None, metavar="NAME", help="Who waives (must hold a waiving role; see --role)."
)
@click.option("--ticket", "waive_ticket", default=None, help="The ticket that tracks the start-gate waiver.")
@click.option("--reason", "waive_reason", default=None, help="Why the start-gate block is waived.")
@export_cmds.events_option
@export_cmds.otlp_option
@click.option(
    "--time-scale",
    type=float,
    default=None,
    metavar="FACTOR",
    help="Rehearsal only: run time this many times faster (waits, windows, deadlines, cadence, at:, back-off).",
)
@click.option(
    "--time-budget",
    default=None,
    metavar="DURATION",
    help="Rehearsal only: choose the time scale that fits the planned run into this wall time (e.g. 2m).",
)
@click.option(
    "--stubs",
    "stubs_file",
    default=None,
    type=click.Path(path_type=str),
    help="Rehearsal only: a stubs file that answers in place of the outside world (docs/rehearsal.md).",
)
@click.option(
    "--record",
    "record_file",
    default=None,
    type=click.Path(path_type=str),
    help="Rehearsal or dry-run: write what the outside world answered (redacted) as a stubs file.",
)
@remote.local_option
@_common.db_option
def run(
    file: str,
    mode: str,
    vars_: tuple[str, ...],
    roles: tuple[str, ...],
    run_id: str | None,
    no_prompt: bool,
    quiet: bool,
    start_now: bool,
    gate_waive: tuple[str, ...],
    waive_as: str | None,
    waive_ticket: str | None,
    waive_reason: str | None,
    events_to: tuple[str, ...],
    otlp: str | None,
    time_scale: float | None,
    time_budget: str | None,
    stubs_file: str | None,
    record_file: str | None,
    local: bool,
    db_url: str | None,
) -> None:
    """Start a run of FILE and drive it to its end.

    Manual steps and decisions wait for `golive confirm` / `golive decide` (from any terminal), or prompt here
    when this is an interactive terminal. Exit 0 when the run passed; 3 when it STOPPED (on_no_go: keep-live);
    1 for NO-GO, failure or rollback.
    """
    from golive.engine import rehearsal, runner
    from golive.spec import loader

    export_cmds.check_urls(events_to, otlp)
    loaded = loader.load(file, var_overrides=_common.parse_pairs(vars_, "var"))
    role_map = _common.parse_pairs(roles, "role")
    if time_budget is not None:
        if time_scale is not None:
            raise exceptions.UsageError("--time-scale and --time-budget: give one of them")
        time_scale = rehearsal.time_scale_for_budget(_planned_seconds(loaded.runbook), _budget(time_budget))
    settings = rehearsal.new_settings(time_scale=time_scale, stubs_path=stubs_file, record=record_file)
    settings.check_mode(mode)
    waivers = _gate_waivers(gate_waive, waive_as, waive_ticket, waive_reason, mode)
    if waivers:
        from golive.engine import gate

        gate.check_waiver_ids(loaded.runbook, file, gate_waive)

    async def go(store: Any) -> Any:
        if run_id is not None:
            try:
                existing = (await store.get_run(run_id)).run_id
            except (exceptions.NotFound, exceptions.UsageError):  # none, or only a prefix of several
                existing = None
            if existing == run_id:
                raise exceptions.UsageError(
                    f"--run-id {run_id}: a run with this id already exists; choose another id, "
                    f"or continue it with: golive resume {run_id}"
                )
        handle = await runner.create_run(
            store,
            loaded,
            mode=mode,
            roles=role_map,
            run_id=run_id,
            start_now=start_now,
            rehearsal=settings,
            clock=settings.clock(),
            gate_waivers=waivers,
        )
        if not quiet:
            click.echo(f"run {handle.run_id} started ({mode}{_scaled_note(settings)}); db {store_url(db_url)}")
        forwarder = await export_cmds.start(store, handle, events_to)
        try:
            return await _drive(store, handle, quiet=quiet, prompt=not no_prompt, settings=settings, local=local)
        finally:
            await export_cmds.finish(store, handle, forwarder, otlp, quiet=quiet)

    # A waiver is a person's act: on a shared store only with --local (recorded so); the API takes it as the caller.
    check = (lambda store: remote.refuse_shared(store, local, "run --waive", via_server=False)) if waivers else None
    status = _common.run_async(lambda: _common.with_store(db_url, go, create=True, check=check))
    sys.exit(_exit_for(status))


def _gate_waivers(
    ids: tuple[str, ...], actor: str | None, ticket: str | None, reason: str | None, mode: str
) -> list[Any]:
    """--waive ID... --as NAME --ticket T --reason R: waivers for the start gate (judged when the run starts)."""
    from golive.engine import gate

    if not ids:
        if actor or ticket or reason:
            raise exceptions.UsageError("--as, --ticket and --reason go with --waive ID (a block of the start gate)")
        return []
    if mode != "live":
        raise exceptions.UsageError(f"--waive: only a live run has a start gate (this is a {mode} run)")
    missing = [n for n, v in (("--as", actor), ("--ticket", ticket), ("--reason", reason)) if not (v or "").strip()]
    if missing:
        raise exceptions.UsageError(f"--waive {ids[0]}: a waiver needs {', '.join(missing)} (who, which ticket, why)")
    from golive import identity

    who = identity.local(actor or "").event_data()  # the CLI writes the waiver itself: a local act
    return [gate.GateWaiver(gate=i, by=actor or "", ticket=ticket or "", reason=reason or "", **who) for i in ids]


def _budget(text: str) -> float:
    from golive.spec.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise exceptions.UsageError(f"--time-budget {text!r}: {exc}") from None


def _planned_seconds(runbook: Any) -> float:
    """How long the runbook is planned to take: the span of its T-times or its expected durations, if longer."""
    from golive.spec import plan as plan_mod

    plan = plan_mod.make_plan(runbook)
    ats = [a for ph in plan.phases for a in (ph.at, *(s.at for s in ph.steps)) if a is not None]
    span = (max(ats) - min(ats)) if ats else 0.0
    return max(plan.expected, span)


def _scaled_note(settings: Any) -> str:
    parts = []
    if settings.time_scale not in (None, 1.0):
        parts.append(f"time x{settings.time_scale:g}")
    if settings.stubs is not None:
        parts.append(f"stubs {settings.stubs.path}")
    if settings.record is not None:
        parts.append(f"recording to {settings.record}")
    return ", " + ", ".join(parts) if parts else ""


def store_url(db_url: str | None) -> str:
    from golive.store import describe_url

    return describe_url(db_url)


@click.command()
@click.argument("run_id")
@click.option("--no-prompt", is_flag=True)
@click.option("--quiet", "-q", is_flag=True)
@click.option(
    "--var",
    "vars_",
    multiple=True,
    metavar="K=V",
    help="Give again a variable whose value held a secret or personal data (it was not stored).",
)
@click.option(
    "--take-over",
    is_flag=True,
    help="Take the run's lease even from a live owner (recorded); fencing stops that process at its next write.",
)
@click.option(
    "--from",
    "from_phase",
    default=None,
    metavar="PHASE",
    help="Continue a STOPPED run from PHASE (the stopped phase or the next); PHASE and later run afresh.",
)
@click.option(
    "--as",
    "actor",
    default=None,
    metavar="NAME",
    help="Who takes the run over or continues it (with --from: a role that decides; default $USER).",
)
@click.option(
    "--stubs",
    "stubs_file",
    default=None,
    type=click.Path(path_type=str),
    help="A stubbed rehearsal's stubs file, if it moved since the run started (its digest must match).",
)
@click.option(
    "--waive",
    "gate_waive",
    multiple=True,
    metavar="ID",
    help="With --from: waive a block of the start gate judged again (window, a freeze id) or a phase window "
    "(window:PHASE), as --as NAME; with --ticket and --reason.",
)
@click.option("--ticket", "waive_ticket", default=None, help="The ticket that tracks the waiver.")
@click.option("--reason", "waive_reason", default=None, help="Why the block is waived.")
@export_cmds.events_option
@export_cmds.otlp_option
@remote.local_option
@_common.db_option
def resume(
    run_id: str,
    no_prompt: bool,
    quiet: bool,
    vars_: tuple[str, ...],
    take_over: bool,
    from_phase: str | None,
    actor: str | None,
    stubs_file: str | None,
    gate_waive: tuple[str, ...],
    waive_ticket: str | None,
    waive_reason: str | None,
    events_to: tuple[str, ...],
    otlp: str | None,
    local: bool,
    db_url: str | None,
) -> None:
    """Continue RUN from its event log (after a crash, after waivers on the steps that stopped it, or a STOPPED
    run days later with --from PHASE). Exit 0 passed, 3 stopped, 1 otherwise.

    Refused while another live process owns the run (it is named); --take-over takes it anyway."""
    from golive import identity
    from golive.engine import acts, rehearsal

    overrides = _common.parse_pairs(vars_, "var")
    export_cmds.check_urls(events_to, otlp)
    if from_phase is not None and not actor:
        raise click.UsageError("--from needs --as NAME: who decides to continue the run")
    if (gate_waive or waive_ticket or waive_reason) and from_phase is None:
        raise exceptions.UsageError(
            "--waive, --ticket and --reason go with --from PHASE (the start gate is judged again when a STOPPED "
            "run continues)"
        )
    waivers = _gate_waivers(gate_waive, actor, waive_ticket, waive_reason, "live") if gate_waive else []
    who = actor or os.environ.get("USER") or "unknown"

    async def go(store: Any) -> Any:
        handle = await acts.open_run(store, run_id)
        unknown = [k for k in overrides if k not in handle.runbook.vars]
        if unknown:
            raise exceptions.UsageError(f"--var {unknown[0]}: the runbook declares no such variable")
        if from_phase is not None:
            assert actor is not None
            if waivers:  # at a resume only windows and freezes are judged again
                from golive.engine import gate

                gate.check_waiver_ids(handle.runbook, f"run {handle.run_id}", gate_waive, changes=False)
            with identity.acting(identity.local(actor)):
                phases = await acts.continue_from(handle, from_phase, actor, waivers)
            if not quiet:
                click.echo(f"run {handle.run_id} continues from {from_phase} ({', '.join(phases)} run again)")
        settings = rehearsal.settings_from_params(handle.record.params, stubs_path=stubs_file)
        logged = await store.events(handle.run_id)
        # events from here on (the ones before were sent by the run before; `golive export` sends them all)
        forwarder = await export_cmds.start(store, handle, events_to, after_seq=logged[-1].seq if logged else 0)
        try:
            # Taking the run over is a person's act (recorded with who): a local one.
            with identity.acting(identity.local(who) if take_over else None):
                return await _drive(
                    store,
                    handle,
                    quiet=quiet,
                    prompt=not no_prompt,
                    var_overrides=overrides,
                    kind="resume",
                    take_over=take_over,
                    actor=who if take_over else None,
                    settings=settings,
                    local=local,
                )
        finally:
            await export_cmds.finish(store, handle, forwarder, otlp, quiet=quiet)

    # Continuing a stopped run or taking it over is a person's act: on a shared store only with --local (the API
    # has no such act).
    what = "resume --from" if from_phase is not None else "resume --take-over" if take_over else None
    check = (lambda store: remote.refuse_shared(store, local, what, via_server=False)) if what else None
    sys.exit(_exit_for(_common.run_async(lambda: _common.with_store(db_url, go, check=check))))


# --- views -------------------------------------------------------------------------------------------


@click.command()
@click.argument("run_id", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep the view live until the run ends.")
@_common.json_option
@_common.db_option
def status(run_id: str | None, follow: bool, as_json: bool, db_url: str | None) -> None:
    """Show RUN (default: the newest): phases, steps, outcomes, durations, T-minus, waivers, pending acts."""
    from golive.cli import views
    from golive.views import cached

    async def go(store: Any) -> Any:
        rid = await _common.latest_run_id(store, run_id)
        # A finished run's summary is kept in the store at its last event (golive.views.cached): read back,
        # it spares importing the runbook models and the engine, most of this command's time.
        data = None if follow else await cached.cached_summary(store, await store.get_run(rid))
        handle = None
        if data is None:
            from golive.engine import acts
            from golive.views import summary

            handle = await acts.open_run(store, rid)
            data = summary.summarize(handle)
            if handle.state.final:
                st = handle.state
                await cached.keep_summary(store, handle.record, st.last_seq, st.head_hash, data)
        if as_json:
            _common.echo_json(data)
            return data
        con = _common.console()
        if not follow:
            con.print(views.status_renderable(data))
            return data
        from rich.live import Live

        from golive.views import summary

        if handle is None:  # --follow never reads the kept summary: the run is open here
            raise exceptions.UsageError("golive status --follow needs the run's events")
        with Live(views.status_renderable(data), console=con, refresh_per_second=4) as lv:
            while not handle.state.final:
                await asyncio.sleep(0.5)
                await handle.refresh()
                data = summary.summarize(handle)
                lv.update(views.status_renderable(data))
        return data

    _common.run_async(lambda: _common.with_store(db_url, go))


@click.command()
@_common.json_option
@click.option("--limit", default=50, show_default=True)
@_common.db_option
def runs(as_json: bool, limit: int, db_url: str | None) -> None:
    """List runs, newest first."""
    from golive.engine import acts

    async def go(store: Any) -> list[dict[str, Any]]:
        out = []
        for rec in await store.list_runs(limit=limit):
            h = await acts.open_run(store, rec.run_id)
            out.append(
                {
                    "run_id": rec.run_id,
                    "runbook": rec.runbook_name,
                    "mode": rec.mode,
                    "created_at": rec.created_at,
                    "status": h.state.status.label,
                    "reason": h.state.reason,
                }
            )
        return out

    rows = _common.run_async(lambda: _common.with_store(db_url, go))
    if as_json:
        _common.echo_json(rows)
        return
    from rich.table import Table

    table = Table()
    for col in ("run", "runbook", "mode", "created", "status", "reason"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["run_id"], r["runbook"], r["mode"], r["created_at"], r["status"], (r["reason"] or "")[:60])
    _common.console().print(table)


@click.command()
@click.argument("run_id")
@_common.json_option
@_common.db_option
def timeline(run_id: str, as_json: bool, db_url: str | None) -> None:
    """Print RUN's timeline in the scribe's format: planned and actual T-time, what, PASS/FAIL, UTC timestamp,
    actor; automated steps, inputs recorded, trigger fires and clears, waivers, acts and hypercare reports."""
    from golive.engine import acts
    from golive.views import summary

    async def go(store: Any) -> list[TimelineLine]:
        h = await acts.open_run(store, run_id)
        lines = summary.timeline(h)
        return lines

    lines = _common.run_async(lambda: _common.with_store(db_url, go))
    if as_json:
        _common.echo_json(lines)
        return
    # The seed's scribe format, one line per entry: planned T-time, actual T-time, what, PASS/FAIL, UTC, who.
    click.echo(f"{'planned':>8}  {'actual':>8}  what  result  at (UTC)  by")
    for line in lines:
        click.echo(
            f"{line['planned'] or '':>8}  {line['t'] or '':>8}  {line['what']}  {line['result']}  "
            f"{line['at']}  {line['actor'] or ''}".rstrip()
        )


# --- acts --------------------------------------------------------------------------------------------
#
# Each act goes to the server when one is named (--server / $GOLIVE_SERVER): authenticated there and checked by
# the same rules, as the credential's user. Otherwise it is written to the store here as --as NAME (auth:
# local), which a shared store refuses without --local.

as_option = click.option(
    "--as",
    "actor",
    default=None,
    metavar="NAME",
    help="Who is acting (must hold the role). Through a server: your credential's user (--as may only repeat it).",
)


def _acts_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    return remote.server_option(remote.local_option(_common.db_option(fn)))


@dataclass(frozen=True)
class _Where:
    """Where an act goes: the server (with its client), or the store here as ``actor``."""

    command: str
    actor: str | None
    server_url: str | None
    local: bool
    db_url: str | None

    def server(self) -> tuple[remote.Remote, str] | None:
        """(client, the acting user) when the act goes through the server."""
        if not self.server_url:
            return None
        if self.local:
            ctx = click.get_current_context(silent=True)
            given = ctx.get_parameter_source("server_url") if ctx is not None else None
            if given is click.core.ParameterSource.ENVIRONMENT:
                return None  # --local on the command line outweighs $GOLIVE_SERVER from the environment
            raise exceptions.UsageError(
                "--local writes to the store here; --server sends the act to a server: give one"
            )
        client = remote.Remote.for_server(self.server_url)
        return client, remote.check_actor(client, self.actor)

    def local_actor(self) -> str:
        if not self.actor:
            raise exceptions.UsageError(
                "--as NAME is required: say who is acting (or act through a server with --server URL)"
            )
        return self.actor


def _path(run_id: str, *parts: str) -> str:
    from urllib.parse import quote

    return "/api/v1/runs/" + "/".join(quote(p, safe="") for p in (run_id, *parts))


def _act(db_url: str | None, run_id: str, fn: Callable[[Any], Awaitable[Any]], where: _Where | None = None) -> Any:
    """Run ``fn(handle)`` on the run in the store here. An act (``where`` given) is refused on a shared store
    without --local, and is recorded as the local identity of ``where.actor``."""
    from golive import identity
    from golive.engine import acts, rehearsal
    from golive.plugins import stubs

    who = identity.local(where.local_actor()) if where is not None else None

    async def go(store: Any) -> Any:
        handle = await acts.open_run(store, run_id)
        settings = rehearsal.settings_from_params(handle.record.params)
        scaled = settings.clock()
        if scaled is not None:  # an act on a time-scaled rehearsal is stamped with the run's scaled time
            store.event_clock = scaled
        # An act that runs checks (a recheck at the decision) meets the rehearsal's stubs, never the world.
        transport = rehearsal.act_transport(settings, scaled)
        with stubs.activate(transport, None), identity.acting(who):
            return await fn(handle)

    check = None if where is None else (lambda store: remote.refuse_shared(store, where.local, where.command))
    return _common.run_async(lambda: _common.with_store(db_url, go, check=check))


@click.command()
@click.argument("run_id")
@click.argument("assignments", nargs=-1, required=True, metavar="ROLE=NAME...")
@as_option
@_acts_options
def assign(
    run_id: str,
    assignments: tuple[str, ...],
    actor: str | None,
    server_url: str | None,
    local: bool,
    db_url: str | None,
) -> None:
    """Assign people to roles in RUN."""
    from golive.engine import acts

    pairs = _common.parse_pairs(assignments, "role")
    where = _Where("assign", actor, server_url, local, db_url)
    via = where.server()
    if via is not None:
        client, who = via
        client.request("POST", _path(run_id, "assign"), json_body={"roles": pairs})
    else:
        who = where.local_actor()

        async def fn(h: Any) -> None:
            for role, person in pairs.items():
                await acts.assign(h, who, role, person)

        _act(db_url, run_id, fn, where)
    click.echo(", ".join(f"{r}={p}" for r, p in pairs.items()) + f" (by {who})")


@click.command()
@click.argument("run_id")
@click.argument("step_id")
@as_option
@click.option("--input", "inputs", multiple=True, metavar="K=V", help="A value the step asks for (repeatable).")
@click.option("--evidence", "evidence", multiple=True, type=click.Path(path_type=Path), help="An evidence file.")
@click.option("--fail", "failed", is_flag=True, help="Record the step as failed.")
@click.option("--reason", default="", help="Why it failed (with --fail).")
@_acts_options
def confirm(
    run_id: str,
    step_id: str,
    actor: str | None,
    inputs: tuple[str, ...],
    evidence: tuple[Path, ...],
    failed: bool,
    reason: str,
    server_url: str | None,
    local: bool,
    db_url: str | None,
) -> None:
    """Confirm (or --fail) the manual STEP of RUN, as the holder of its role."""
    from golive.engine import acts

    values = _common.parse_pairs(inputs, "input")
    where = _Where("confirm", actor, server_url, local, db_url)
    via = where.server()
    if via is not None:
        client, who = via
        form = {"inputs": json.dumps(values), "failed": "true" if failed else "false", "reason": reason}
        client.request("POST", _path(run_id, "steps", step_id, "confirm"), data=form, files=list(evidence))
    else:
        who = where.local_actor()
        _act(
            db_url,
            run_id,
            lambda h: acts.confirm(
                h, step_id, who, inputs=values, evidence=list(evidence), failed=failed, reason=reason
            ),
            where,
        )
    click.echo(f"{step_id}: {'FAIL' if failed else 'PASS'} (confirmed by {who})")


@click.command()
@click.argument("run_id")
@click.argument("decision", type=click.Choice(["go", "no-go", "continue", "rollback"], case_sensitive=False))
@as_option
@click.option("--reason", required=True, help="Why.")
@click.option("--step", "step_id", default=None, help="The decision step (default: the pending one).")
@_acts_options
def decide(
    run_id: str,
    decision: str,
    actor: str | None,
    reason: str,
    step_id: str | None,
    server_url: str | None,
    local: bool,
    db_url: str | None,
) -> None:
    """Record GO or NO-GO, or answer a closed window with continue or rollback. Refused (exit 1) when ACTOR does
    not hold the role or a requirement did not pass."""
    from golive.engine import acts

    decision = decision.lower()
    overrun = decision in ("continue", "rollback")
    where = _Where("decide", actor, server_url, local, db_url)
    via = where.server()
    if via is not None:
        client, who = via
        body = {"decision": decision, "reason": reason, "step": step_id}
        answer = client.request("POST", _path(run_id, "decide"), json_body=body)
        statement = answer.get("statement") if not overrun else answer.get("message")
        headline = str(answer.get("message") or f"{decision.upper()} recorded by {who}")
        if overrun:
            headline = f"{decision.upper()} recorded by {who}"
    elif overrun:
        who = where.local_actor()
        statement = _act(db_url, run_id, lambda h: acts.decide_overrun(h, decision, who, reason), where)
        headline = f"{decision.upper()} recorded by {who}"
    else:
        who = where.local_actor()
        statement = _act(db_url, run_id, lambda h: acts.decide(h, decision, who, reason, step_id=step_id), where)
        headline = f"{decision.upper()} recorded by {who}"
        if isinstance(statement, acts.Approval):  # one approval of a quorum: the decision is still to come
            headline, statement = str(statement), None
    click.echo(headline)
    if statement:
        click.echo(statement)


@click.command()
@click.argument("run_id")
@click.argument("step_id")
@as_option
@click.option("--ticket", required=True, help="The ticket that tracks the waiver.")
@click.option("--reason", required=True)
@_acts_options
def waive(
    run_id: str,
    step_id: str,
    actor: str | None,
    ticket: str,
    reason: str,
    server_url: str | None,
    local: bool,
    db_url: str | None,
) -> None:
    """Waive STEP of RUN (only roles the runbook allows); recorded and shown in every status and report."""
    from golive.engine import acts

    where = _Where("waive", actor, server_url, local, db_url)
    via = where.server()
    if via is not None:
        client, who = via
        answer = client.request(
            "POST", _path(run_id, "steps", step_id, "waive"), json_body={"ticket": ticket, "reason": reason}
        )
        said = str(answer.get("message") or f"{step_id}: WAIVED by {who} ({ticket})")
    else:
        who = where.local_actor()
        approval = _act(db_url, run_id, lambda h: acts.waive(h, step_id, who, ticket, reason), where)
        said = str(approval) if approval is not None else f"{step_id}: WAIVED by {who} ({ticket})"
    click.echo(said)


@click.command()
@click.argument("run_id")
@click.argument("step_id", required=False)
@click.option("--as", "actor", default=None, metavar="NAME", help="Who is resolving (must hold a resolving role).")
@click.option("--outcome", type=click.Choice(["done", "not-done"]), default=None, help="For STEP.")
@click.option("--unknown", "list_unknown", is_flag=True, help="List every unknown action with what the log knows.")
@click.option(
    "--outcomes",
    "outcomes_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A YAML file of STEP: done|not-done lines, one per unknown action (recorded in one act).",
)
@_common.json_option
@_acts_options
def resolve(
    run_id: str,
    step_id: str | None,
    actor: str | None,
    outcome: str | None,
    list_unknown: bool,
    outcomes_file: Path | None,
    as_json: bool,
    server_url: str | None,
    local: bool,
    db_url: str | None,
) -> None:
    """Say whether actions left unknown by a crash took effect (done) or not (not-done: they run again).

    One step: RUN STEP --outcome done|not-done --as NAME. All of them: RUN --unknown lists them (when each
    started, under which process, what it was doing); RUN --outcomes FILE --as NAME records a file of
    STEP: done|not-done lines (through a server: one act per step)."""
    from golive.engine import acts

    if list_unknown:
        rows = _act(db_url, run_id, acts.unknown_actions)
        if as_json:
            _common.echo_json(rows)
            return
        if not rows:
            click.echo("no action's outcome is unknown")
            return
        for r in rows:
            from golive.engine import driver

            who = driver.describe_owner(r["owner"]) if r.get("owner") else "an unknown process"
            click.echo(
                f"{r['step']}: started {r['started_at']} by {who} (lease epoch {r['epoch']}), attempt "
                f"{r['attempt']}: {r['describe'] or ''}; resolved by {' or '.join(r['resolvers']) or 'nobody'}"
            )
        click.echo(f"{len(rows)} unknown; write STEP: done|not-done lines to a file, then: "
                   f"golive resolve {run_id} --outcomes FILE --as NAME")  # fmt: skip
        return
    where = _Where("resolve", actor, server_url, local, db_url)
    if outcomes_file is not None:
        if step_id is not None or outcome is not None:
            raise exceptions.UsageError("--outcomes FILE resolves many steps: give neither STEP nor --outcome")
        outcomes = _read_outcomes(outcomes_file)
        via = where.server()
        if via is not None:
            client, by = via
            for sid, out in outcomes.items():
                client.request("POST", _path(run_id, "steps", sid, "resolve"), json_body={"outcome": out})
        else:
            by = where.local_actor()
            _act(db_url, run_id, lambda h: acts.resolve_many(h, outcomes, by), where)
        done = sum(1 for o in outcomes.values() if o == "done")
        click.echo(f"resolved {len(outcomes)} unknown actions by {by}: {done} done, {len(outcomes) - done} not-done")
        return
    if step_id is None or outcome is None:
        raise exceptions.UsageError("give STEP and --outcome done|not-done, or --outcomes FILE, or --unknown")
    via = where.server()
    if via is not None:
        client, by = via
        client.request("POST", _path(run_id, "steps", step_id, "resolve"), json_body={"outcome": outcome})
    else:
        by = where.local_actor()
        _act(db_url, run_id, lambda h: acts.resolve(h, step_id, by, outcome), where)
    click.echo(f"{step_id}: resolved {outcome} by {by}")


def _read_outcomes(path: Path) -> dict[str, str]:
    """STEP: done|not-done lines (YAML); a bad file is a usage error naming the file, line and the fix."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise exceptions.UsageError(f"--outcomes {path}: cannot read it ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise exceptions.UsageError(
            f"{path}:{line}: not valid YAML ({exc.problem}); write one line per step: STEP: done|not-done"
        ) from None
    if not isinstance(data, dict) or not data:
        raise exceptions.UsageError(f"{path}:1: write one line per unknown action: STEP: done|not-done")
    lines = {str(k): n for n, raw in enumerate(text.splitlines(), start=1) for k in [raw.split(":", 1)[0].strip()]}
    out: dict[str, str] = {}
    for key, value in data.items():
        if value not in ("done", "not-done"):
            raise exceptions.UsageError(
                f"{path}:{lines.get(str(key), 1)}: {key}: outcome {value!r}: write done or not-done"
            )
        out[str(key)] = str(value)
    return out


@click.command()
@click.argument("run_id")
@as_option
@click.option("--reason", required=True)
@click.option("--trigger", "trigger_id", default=None, metavar="ID", help="Raise this trigger (one without a source).")
@_acts_options
def rollback(
    run_id: str,
    actor: str | None,
    reason: str,
    trigger_id: str | None,
    server_url: str | None,
    local: bool,
    db_url: str | None,
) -> None:
    """Start RUN's rollback plan now. The running engine picks it up; if none runs, it runs here (through a
    server: the server's engine, or the server itself).

    Exit 0 once the rollback is requested and started (or, run here, finished with every step passing);
    1 when refused or when a rollback step failed."""
    from golive import identity
    from golive.engine import acts, driver, runner
    from golive.engine.state import RunStatus

    where = _Where("rollback", actor, server_url, local, db_url)
    via = where.server()
    if via is not None:
        client, by = via
        body = {"reason": reason, "trigger": trigger_id}
        answer = client.request("POST", _path(run_id, "rollback"), json_body=body)
        click.echo(f"rollback requested by {by}: {reason}")
        click.echo(str(answer.get("message") or ""))
        sys.exit(0)
    by = where.local_actor()

    async def go(store: Any) -> bool:
        h = await acts.open_run(store, run_id)
        with identity.acting(identity.local(by)):
            await acts.request_rollback(h, by, reason, trigger=trigger_id)
        click.echo(f"rollback requested by {by}: {reason}")
        lease = await store.get_lease(h.run_id)
        if lease is not None and lease.expires_at > time.time() and driver.local_owner_alive(lease.owner) is not False:
            # A live engine owns the run: give it a moment to start the rollback.
            for _ in range(int(ROLLBACK_HANDOFF_WAIT / 0.2)):
                await asyncio.sleep(0.2)
                await h.refresh()
                if h.state.rollback is not None:
                    click.echo(f"rollback started by the running engine ({driver.describe_owner(lease.owner)})")
                    return True
        try:
            status = await driver.drive(
                h, runner.Engine(h), owner=driver.process_owner("rollback"), body=lambda e: e.rollback_requested()
            )
        except driver.RunBusy:
            # Recorded: the engine that holds the run starts it when its current action returns.
            click.echo("the running engine holds the run; it starts the rollback as soon as it can")
            return True
        click.echo(f"run {h.run_id}: {h.state.status.label} ({h.state.reason})")
        rolled = status in (RunStatus.ROLLED_BACK, RunStatus.ROLLED_BACK_AFTER_GO)
        return rolled and (h.state.rollback or {}).get("outcome") == "pass"

    check = lambda store: remote.refuse_shared(store, local, "rollback")  # noqa: E731
    sys.exit(0 if _common.run_async(lambda: _common.with_store(db_url, go, check=check)) else 1)


@click.command()
@click.argument("run_id")
@as_option
@click.option("--area", default=None, help="The sign-off area, e.g. engineering, qa, operations.")
@click.option("--statement", default=None, help="What the area signs (with --area).")
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="ID=VALUE",
    help="Fill in a sign-off field (repeatable); checked against its declared type.",
)
@_acts_options
def signoff(
    run_id: str,
    actor: str | None,
    area: str | None,
    statement: str | None,
    fields: tuple[str, ...],
    server_url: str | None,
    local: bool,
    db_url: str | None,
) -> None:
    """Sign off an area of RUN (--area, --statement) and/or fill in its sign-off fields (--field ID=VALUE)."""
    from golive.engine import acts

    if not area and not fields:
        raise exceptions.UsageError("give --area AREA --statement TEXT, or --field ID=VALUE (or both)")
    if area and not statement:
        raise exceptions.UsageError("--area needs --statement: say what the area signs")
    values = _common.parse_pairs(fields, "field")
    where = _Where("signoff", actor, server_url, local, db_url)
    via = where.server()
    if via is not None:
        client, by = via
        client.request(
            "POST", _path(run_id, "signoff"), json_body={"area": area, "statement": statement, "fields": values}
        )
        stored = values
    else:
        by = where.local_actor()

        async def act(h: Any) -> dict[str, str]:
            out = await acts.signoff_fields(h, by, values) if values else {}
            if area:
                await acts.signoff(h, area, by, statement or "")
            return out

        stored = _act(db_url, run_id, act, where)
    for fid, value in stored.items():
        click.echo(f"{fid}: {value} (filled in by {by})")
    if area:
        click.echo(f"{area}: signed off by {by}")


@click.command()
@click.argument("run_id")
@click.option(
    "--checkpoint",
    "checkpoint_path",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="A checkpoint file (`golive checkpoint`) or an evidence pack: the chain must still reach its head.",
)
@click.option(
    "--pubkey",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Public key the checkpoint (or pack) must be signed with.",
)
@_common.json_option
@_common.db_option
def verify(run_id: str, checkpoint_path: Path | None, pubkey: Path | None, as_json: bool, db_url: str | None) -> None:
    """Verify RUN's event hash chain and its runbook text; name the first broken event. With --checkpoint,
    also that the log still reaches a head anchored outside the store (truncation). Exit 1 when it does not
    verify."""
    from golive.evidence import anchor, runpack

    anchored = runpack.read_anchor(checkpoint_path, pubkey) if checkpoint_path is not None else None

    async def go(store: Any) -> dict[str, Any]:
        rec = await store.get_run(run_id)
        try:
            n = await store.verify(rec.run_id)
        except exceptions.ChainBroken as exc:
            return {"run_id": rec.run_id, "valid": False, "first_broken_seq": exc.seq, "reason": exc.reason}
        events = await store.events(rec.run_id)
        edited = anchor.check_stored_runbook(rec.runbook_text, events[0].data) if events else None
        if edited:
            return {"run_id": rec.run_id, "valid": False, "first_broken_seq": 1, "reason": edited}
        if anchored is not None:
            if anchored.get("run_id") != rec.run_id:
                raise exceptions.UsageError(f"--checkpoint is of run {anchored.get('run_id')}, not of run {rec.run_id}")
            why = anchor.check_against(anchored, events)
            if why:
                return {"run_id": rec.run_id, "valid": False, "first_broken_seq": anchored["head_seq"], "reason": why}
        return {"run_id": rec.run_id, "valid": True, "events": n, "checkpoint": anchored is not None}

    res = _common.run_async(lambda: _common.with_store(db_url, go))
    if as_json:
        _common.echo_json(res)
    elif res["valid"]:
        extra = "; reaches the anchored head" if res.get("checkpoint") else ""
        click.echo(f"run {res['run_id']}: chain valid ({res['events']} events{extra})")
    else:
        click.echo(f"run {res['run_id']}: chain BROKEN at event {res['first_broken_seq']}: {res['reason']}")
    sys.exit(0 if res["valid"] else 1)


@click.command()
@click.argument("run_id")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Checkpoint file to write.")
@click.option(
    "--sign",
    "sign_key",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Private key (`golive keygen`) to sign the checkpoint with.",
)
@_common.db_option
def checkpoint(run_id: str, out: Path, sign_key: Path | None, db_url: str | None) -> None:
    """Write RUN's verified head (last seq and hash) to a file kept outside the store; `golive verify RUN
    --checkpoint FILE` later proves no event was deleted or rewritten up to it."""
    from golive.evidence import anchor

    async def go(store: Any) -> tuple[str, int, str]:
        rec = await store.get_run(run_id)
        await store.verify(rec.run_id)
        events = await store.events(rec.run_id)
        if not events:
            raise exceptions.UsageError(f"run {rec.run_id} has no events to anchor")
        return rec.run_id, events[-1].seq, events[-1].hash

    rid, seq, head = _common.run_async(lambda: _common.with_store(db_url, go))
    anchor.write_checkpoint(out, rid, seq, head, sign_key)
    click.echo(f"run {rid}: head event {seq} ({head[:12]}) written to {out}" + (" (signed)" if sign_key else ""))
