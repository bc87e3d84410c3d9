"""``golive preflight`` (a phase's checks, concurrently, with reports) and ``golive report`` (a whole run)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from golive import exceptions
from golive.cli import _common

DEFAULT_CONCURRENCY = 50  # checks at once: high, but bounded
DEFAULT_CHECK_TIMEOUT = 30.0  # seconds, for checks that set no timeout of their own


def _pick_phase(runbook: Any, name: str | None) -> Any:
    from golive.spec import loader, models

    if name:
        for p in runbook.phases:
            if name in (p.id, p.title):
                return p
        ids = [p.id for p in runbook.phases]
        raise exceptions.UsageError(
            f"--phase {name!r}: no such phase{loader.suggest(name, ids)}; phases: {', '.join(ids)}"
        )
    for p in runbook.phases:
        if "preflight" in p.id.replace("-", "").replace("_", "").lower():
            return p
    for p in runbook.phases:
        if any(s.kind is models.StepKind.CHECK for s in p.steps):
            return p
    raise exceptions.UsageError("the runbook has no phase with checks; name one with --phase")


async def run_preflight(
    loaded: Any, phase_name: str | None, concurrency: int, timeout: float, progress: Any = None
) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """Run a phase's checks concurrently in an ephemeral run; return (summary, checks, phase)."""
    from golive.engine import runner, summary
    from golive.spec import models
    from golive.testing import InMemoryStore

    runbook = loaded.runbook
    phase = _pick_phase(runbook, phase_name)
    checks = tuple(s for s in phase.steps if s.kind is models.StepKind.CHECK)
    if not checks:
        raise exceptions.UsageError(f"phase {phase.id!r} has no check steps")
    # Only the checks run: needs on manual/action steps of the phase are dropped.
    ids = {s.id for s in checks}
    checks = tuple(s.model_copy(update={"needs": tuple(n for n in s.needs if n in ids)}) for s in checks)
    only = phase.model_copy(update={"steps": checks})
    settings = runbook.settings.model_copy(update={"concurrency": concurrency, "default_timeout": timeout})
    rb = runbook.model_copy(update={"settings": settings})
    store = InMemoryStore()
    await store.open()
    handle = await runner.create_run(store, loaded, mode="live")
    handle.loaded = type(loaded)(runbook=rb, path=loaded.path, text=loaded.text, digest=loaded.digest, vars=loaded.vars)

    done = 0

    def on_change() -> None:
        nonlocal done
        if progress is None:
            return
        now = sum(1 for s in checks if handle.state.step(s.id).status == "done")
        if now != done:
            progress(now - done)
            done = now

    engine = runner.Engine(handle, on_change=on_change)
    engine.runbook = rb
    try:
        await engine.run_phase(only)
    finally:
        if engine._http is not None:
            await engine._http.aclose()
    data = summary.summarize(handle)
    data["created_at"] = handle.state.created_at
    data["finished_at"] = handle.state.phase_times.get(phase.id, (None, None))[1]
    ph = next(p for p in data["phases"] if p["id"] == phase.id)
    steps = [{**s, "phase": phase.id, "phase_title": ph["title"]} for s in ph["steps"] if s["id"] in ids]
    data["status"] = "passed"
    return data, steps, phase


@click.command()
@click.argument("file", type=click.Path(path_type=str))
@click.option("--phase", "phase_name", default=None, help="The phase whose checks run (default: the pre-flight).")
@click.option("--var", "vars_", multiple=True, metavar="K=V")
@click.option("--out-json", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--out-md", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--out-junit", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--concurrency", default=DEFAULT_CONCURRENCY, show_default=True, type=click.IntRange(1, 5000))
@click.option(
    "--timeout", "timeout_", default="30s", show_default=True, help="Per-check timeout when a check sets none."
)
@click.option("--quiet", "-q", is_flag=True)
def preflight(
    file: str,
    phase_name: str | None,
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
    loaded = loader.load(file, var_overrides=_common.parse_pairs(vars_, "var"))
    con = _common.console(stderr=True)

    async def go() -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
        if quiet or not con.is_terminal:
            return await run_preflight(loaded, phase_name, concurrency, timeout)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=con,
            transient=True,
        ) as prog:
            phase = _pick_phase(loaded.runbook, phase_name)
            task = prog.add_task(f"pre-flight {phase.id}", total=sum(1 for s in phase.steps if s.kind.value == "check"))
            return await run_preflight(
                loaded, phase_name, concurrency, timeout, progress=lambda n: prog.advance(task, n)
            )

    data, steps, phase = _common.run_async(go)
    status = formats.overall_status(data, steps)
    outputs = {out_json: "json", out_md: "md", out_junit: "junit"}
    for path, fmt in outputs.items():
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            text = formats.render(fmt, data, steps)
            if fmt == "md":
                text = formats.to_markdown(
                    data, steps, title=f"Pre-flight: {data['title']} / {phase.title or phase.id}"
                )
            path.write_text(text, encoding="utf-8")
    if not quiet:
        out = _common.console()
        out.print(f"overall_status {status}")
        for s in steps:
            outcome = (s.get("outcome") or "missing").upper()
            style = "green" if outcome in ("PASS", "WARN") else "red"
            out.print(f"[{style}]{s['id']} {outcome}[/{style}] {s.get('summary') or ''}", highlight=False)
    sys.exit(0 if status == "PASS" else 1)


@click.command()
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["json", "md", "junit", "html"]), default="md", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write to a file.")
@_common.db_option
def report(run_id: str, fmt: str, out: Path | None, db_url: str | None) -> None:
    """Write RUN's report as JSON, Markdown, JUnit or a self-contained HTML page."""
    from golive.engine import acts, summary
    from golive.report import formats
    from golive.store import open_store

    async def go() -> str:
        store = open_store(db_url)
        await store.open()
        try:
            h = await acts.open_run(store, run_id)
            data = summary.summarize(h)
            if fmt == "html":
                from golive.report import html

                return await html.render_run(h, data)
            return formats.render(fmt, data)
        finally:
            await store.close()

    text = _common.run_async(go)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)
