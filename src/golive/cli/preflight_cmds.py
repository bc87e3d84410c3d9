"""``golive preflight`` (a phase's checks, concurrently, with reports) and ``golive report`` (a whole run)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from golive import exceptions
from golive.cli import _common

if TYPE_CHECKING:
    from golive.views.model import Summary

DEFAULT_CONCURRENCY = 50  # checks at once: high, but bounded
MAX_CONCURRENCY = 5000  # checks at once, at most (each holds a socket; the default fd limit is often 1024+)
DEFAULT_CHECK_TIMEOUT = 30.0  # seconds, for checks that set no timeout of their own
PROGRESS_INTERVAL = 0.1  # seconds between progress bar updates (a count over the checks, not per event)


def _pick_phases(runbook: Any, names: str | Sequence[str] | None) -> Any:
    """The phase whose checks run: the named one(s) merged into one, else every pre-flight phase merged
    (a runbook may split its pre-flight into preflight-env, preflight-secrets, ...), else the first phase
    with checks. The merged phase keeps the first one's id, so reports and events name a real phase."""
    from golive.spec import loader, models

    wanted = [names] if isinstance(names, str) else list(names or [])
    picked: list[Any] = []
    for name in wanted:
        match = next((p for p in runbook.phases if name in (p.id, p.title)), None)
        if match is None:
            ids = [p.id for p in runbook.phases]
            raise exceptions.UsageError(
                f"--phase {name!r}: no such phase{loader.suggest(name, ids)}; phases: {', '.join(ids)}"
            )
        if match not in picked:
            picked.append(match)
    if not picked:
        picked = [p for p in runbook.phases if "preflight" in p.id.replace("-", "").replace("_", "").lower()]
    if not picked:
        picked = [p for p in runbook.phases if any(s.kind is models.StepKind.CHECK for s in p.steps)][:1]
    if not picked:
        raise exceptions.UsageError("the runbook has no phase with checks; name one with --phase")
    if len(picked) == 1:
        return picked[0]
    return picked[0].model_copy(
        update={
            "title": " + ".join(p.title or p.id for p in picked),
            "steps": tuple(s for p in picked for s in p.steps),
        }
    )


def _drop_merged(runbook: Any, merged: Any) -> tuple[Any, ...]:
    """The runbook's phases with the merged phase in the first one's place and the others it took in removed."""
    taken = {s.id for s in merged.steps}
    out = []
    for p in runbook.phases:
        if p.id == merged.id:
            out.append(merged)
        elif not any(s.id in taken for s in p.steps):
            out.append(p)
    return tuple(out)


def _with_headlines(steps: list[dict[str, Any]], runbook: Any) -> list[dict[str, Any]]:
    """Each step dict with its plugin ``type`` and, when the plugin class names them, its ``headline`` keys."""
    from golive.plugins import registry as registry_mod

    reg = registry_mod.default_registry()
    by_id = {step.id: step for _, step in runbook.all_steps()}  # one pass: runbook.step() is a linear search
    out = []
    for s in steps:
        step = by_id.get(s["id"])
        typ = getattr(step, "type", None)
        extra: dict[str, Any] = {"type": typ}
        if typ and s.get("kind") in ("check", "action"):
            cls = reg.get(s["kind"], typ)
            headline = getattr(cls, "headline", None)
            if headline:
                extra["headline"] = list(headline)
        out.append({**s, **extra})
    return out


async def run_preflight(
    loaded: Any,
    phase_name: str | Sequence[str] | None,
    concurrency: int,
    timeout: float,  # noqa: ASYNC109 -- each check's default time limit, not a deadline for this call
    progress: Any = None,
) -> tuple[Summary, list[dict[str, Any]], Any]:
    """Run a phase's checks concurrently in an ephemeral in-memory run; return (summary, checks, phase).

    ``progress(n)`` (optional) is called with the number of checks that finished since the last call.
    The summary's ``status_label`` and ``verdict`` are the pre-flight's overall status (PASS or FAIL).
    """
    import asyncio
    import dataclasses

    from golive.engine import runner
    from golive.report import formats
    from golive.spec import models
    from golive.testing import InMemoryStore
    from golive.views import summary

    runbook = loaded.runbook
    phase = _pick_phases(runbook, phase_name)
    checks = tuple(s for s in phase.steps if s.kind is models.StepKind.CHECK)
    if not checks:
        raise exceptions.UsageError(f"phase {phase.id!r} has no check steps")
    # Only the checks run: needs on manual/action steps of the phase are dropped.
    ids = {s.id for s in checks}
    checks = tuple(s.model_copy(update={"needs": tuple(n for n in s.needs if n in ids)}) for s in checks)
    only = phase.model_copy(update={"steps": checks})
    settings = runbook.settings.model_copy(update={"concurrency": concurrency, "default_timeout": timeout})
    # A pre-flight is a read-only look: it sends no comms (no war-room messages for a local check).
    rb = runbook.model_copy(
        update={
            "settings": settings,
            "comms": models.Comms(),
            "phases": _drop_merged(runbook, only),
        }
    )
    store = InMemoryStore()
    await store.open()
    handle = await runner.create_run(store, dataclasses.replace(loaded, runbook=rb), mode="live")

    # The real engine: no comms are sent (nor the notifier's libraries imported), and every check runs (a run
    # stops a phase at its first blocking failure; a pre-flight reports every check, so a check is not run
    # only when a check it needs did not pass).
    engine = runner.Engine(handle, comms=False)

    async def report_progress() -> None:
        done = 0
        while True:
            now = sum(1 for s in checks if handle.state.step(s.id).status == "done")
            if now != done:
                progress(now - done)
                done = now
            await asyncio.sleep(PROGRESS_INTERVAL)

    ticker = asyncio.create_task(report_progress()) if progress is not None else None
    try:
        await engine.run_phase(only, stop_on_failure=False)
    finally:
        if ticker is not None:
            ticker.cancel()
        await engine.aclose()
    if progress is not None:
        progress(sum(1 for s in checks if handle.state.step(s.id).status == "done"))  # the rest, at once
    data = summary.summarize(handle)
    ph = next(p for p in data["phases"] if p["id"] == phase.id)
    steps = [{**s, "phase": phase.id, "phase_title": ph["title"]} for s in ph["steps"] if s["id"] in ids]
    steps = _with_headlines(steps, rb)
    data["finished_at"] = ph["finished_at"]
    # What a whole run records (evidence checklist, sign-offs, decision, completion) says nothing about a
    # pre-flight: shown, it would list the runbook's evidence as "missing".
    data.update(
        {
            "evidence_checklist": [],
            "signoffs": {},
            "decision": None,
            "waivers": [],
            "rollback": None,
            "completion": None,
        }
    )
    data["status"] = "passed"  # the ephemeral run itself never fails; overall_status says how the checks went
    overall = formats.overall_status(data, steps)
    data["status_label"] = data["verdict"] = overall
    data["preflight"] = {"phase": phase.id, "title": ph["title"], "concurrency": concurrency, "timeout": timeout}
    return data, steps, phase


def _write(path: Path, text: str, option: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise exceptions.UsageError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None


@click.command()
@click.argument("file", type=click.Path(path_type=str))
@click.option(
    "--phase",
    "phase_name",
    multiple=True,
    help="A phase whose checks run (repeatable; default: every pre-flight phase).",
)
@click.option("--var", "vars_", multiple=True, metavar="K=V", help="Override a variable (repeatable).")
@click.option(
    "--out-json", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the JSON report."
)
@click.option(
    "--out-md", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the Markdown proof."
)
@click.option("--out-junit", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write JUnit XML.")
@click.option(
    "--concurrency",
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    type=click.IntRange(1, MAX_CONCURRENCY),
    help="Checks at once.",
)
@click.option(
    "--timeout",
    "timeout_",
    default=f"{DEFAULT_CHECK_TIMEOUT:g}s",
    show_default=True,
    help="Per-check timeout when a check sets none.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing; the exit code and the files say it.")
def preflight(
    file: str,
    phase_name: tuple[str, ...],
    vars_: tuple[str, ...],
    out_json: Path | None,
    out_md: Path | None,
    out_junit: Path | None,
    concurrency: int,
    timeout_: str,
    quiet: bool,
) -> None:
    """Run the checks of a phase of FILE concurrently and write reports. Exit 0 only when overall_status is PASS."""
    from golive.report import formats
    from golive.spec import durations, loader

    try:
        timeout = durations.parse_duration(timeout_)
    except ValueError as exc:
        raise exceptions.UsageError(f"--timeout: {exc}") from None
    if timeout <= 0:
        raise exceptions.UsageError(f"--timeout {timeout_}: must be more than 0, e.g. 30s")
    loaded = loader.load(file, var_overrides=_common.parse_pairs(vars_, "var"))
    _pick_phases(loaded.runbook, phase_name)  # an unknown --phase is bad input: exit 2 before anything runs
    con = None if quiet else _common.console(stderr=True)  # --quiet never imports rich

    async def go() -> tuple[Summary, list[dict[str, Any]], Any]:
        if con is None or not con.is_terminal:
            return await run_preflight(loaded, phase_name, concurrency, timeout)
        from rich.markup import escape as esc
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=con,
            transient=True,
        ) as prog:
            phase = _pick_phases(loaded.runbook, phase_name)
            total = sum(1 for s in phase.steps if s.kind.value == "check")
            task = prog.add_task(f"pre-flight {esc(phase.id)}", total=total)
            return await run_preflight(
                loaded, phase_name, concurrency, timeout, progress=lambda n: prog.advance(task, n)
            )

    data, steps, phase = _common.run_async(go)
    status = data["status_label"]
    outputs = ((out_json, "json", "--out-json"), (out_md, "md", "--out-md"), (out_junit, "junit", "--out-junit"))
    for path, fmt, option in outputs:
        if path is None:
            continue
        if fmt == "md":
            text = formats.to_markdown(data, steps, title=f"Pre-flight: {data['title']} / {phase.title or phase.id}")
        else:
            text = formats.render(fmt, data, steps)
        _write(path, text, option)
    if not quiet:
        from rich.markup import escape

        out = _common.console()
        out.print(f"overall_status {status}")
        for s in steps:
            outcome = (s.get("outcome") or "missing").upper()
            style = "green" if outcome in ("PASS", "WARN") else "red"
            line = f"[{style}]{escape(s['id'])} {outcome}[/{style}] {escape(s.get('summary') or '')}"
            out.print(line.rstrip(), highlight=False, soft_wrap=True)
    sys.exit(0 if status == "PASS" else 1)


@click.command()
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["json", "md", "junit", "html"]), default="md", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write to a file.")
@_common.db_option
def report(run_id: str, fmt: str, out: Path | None, db_url: str | None) -> None:
    """Write RUN's report as JSON, Markdown, JUnit or a self-contained HTML page."""
    from golive.engine import acts
    from golive.report import formats
    from golive.store import open_store
    from golive.views import summary

    async def go() -> str:
        store = open_store(db_url, create=False)
        await store.open()
        try:
            h = await acts.open_run(store, run_id)
            data = summary.summarize(h)
            if fmt == "html":
                from golive.report import html

                return await html.render_run(h, data)
            return formats.render(fmt, data, _with_headlines(formats.checks_of(data), h.runbook))
        finally:
            await store.close()

    text = _common.run_async(go)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)
