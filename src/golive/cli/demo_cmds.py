"""``golive demo``: a complete cutover of a bundled service, on the embedded store, in under two minutes."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from golive import exceptions
from golive.cli import _common


@click.command()
@click.option(
    "--fault",
    type=click.Choice(["none", "canary", "observe"]),
    default="none",
    show_default=True,
    help="canary: the canary fails and GO is refused (NO-GO). observe: a trigger fires and rolls back.",
)
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the demo writes its files (default .golive/demo/<time>).",
)
@click.option(
    "--runbook",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Run another runbook against the demo service (default: the bundled demo runbook).",
)
@click.option(
    "--prometheus",
    type=click.Choice(["off", "on", "auto"]),
    default="off",
    show_default=True,
    is_flag=False,
    flag_value="on",
    help="Start a throwaway Prometheus scraping the service and point the triggers at it (--prometheus alone: "
    "on; auto: only when the prometheus binary is on PATH). off: the triggers read /metrics directly.",
)
@click.option("--quiet", "-q", is_flag=True, help="No live view; print only the summary at the end.")
@_common.db_option
def demo(
    fault: str, workdir: Path | None, runbook: Path | None, prometheus: str, quiet: bool, db_url: str | None
) -> None:
    """Start the demo service on a free loopback port and cut it over with the demo runbook.

    The incident commander is an automated stand-in, labelled "demo-ic (automated)" in every record.
    Exit 0 when the run ends as the chosen scenario should (COMPLETE, NO-GO for --fault canary,
    ROLLED-BACK for --fault observe) and every output was written; 1 otherwise.
    """
    from rich.markup import escape as esc

    from golive.cli import run_cmds
    from golive.demo import prometheus as demo_prometheus
    from golive.demo import run as demo_run

    where = workdir or Path(".golive") / "demo" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    con = _common.console()
    use_prometheus = prometheus == "on" or (prometheus == "auto" and demo_prometheus.find_binary() is not None)
    if prometheus == "on" and demo_prometheus.find_binary() is None:
        raise exceptions.UsageError(
            "--prometheus: the prometheus binary is not on PATH; install it (scripts/setup does, or "
            "`apt-get install prometheus`) or run the demo without --prometheus (it scrapes /metrics directly)"
        )
    if not quiet:
        source = "Prometheus (started for the demo)" if use_prometheus else "the service's /metrics (scrape)"
        con.print(f"[bold]golive demo[/bold] (fault: {fault}; triggers read {source}) — files in {esc(str(where))}")

    async def drive(store: Any, handle: Any) -> Any:
        return await run_cmds._drive(store, handle, quiet=quiet, prompt=False)

    def echo(line: str) -> None:
        if not quiet:
            con.print(f"  hypercare {esc(line)}", soft_wrap=True)

    result = _common.run_async(
        lambda: demo_run.run_demo(
            fault=fault,
            workdir=where,
            db_url=db_url,
            runbook=runbook,
            quiet=quiet,
            drive=drive,
            prometheus=use_prometheus,
            echo=echo,
        )
    )
    # COMPLETE, not just PASSED: the default scenario includes hypercare's passing report and the sign-off.
    expected = {"none": ("COMPLETE",), "canary": ("NO-GO",), "observe": ("ROLLED-BACK",)}[fault]
    ok = result.status in expected and not result.problems

    def say(text: str) -> None:
        # soft_wrap: a path or a command is never broken across lines, so it can be copied (and parsed).
        # Every value shown goes through esc: a '[' in a path or a reason is text, not rich markup.
        con.print(text, soft_wrap=True)

    con.print()
    if quiet:  # otherwise the live view printed this line already
        from golive.cli import views

        words = views.outcome_words(result.status, result.verdict)
        say(f"run {result.run_id}: [bold]{esc(words)}[/bold] {esc(result.reason)}")
    if result.status in expected:
        say(f"scenario {fault!r}: [bold]{result.status}[/bold], as this scenario should end")
    else:
        say(f"[red]scenario {fault!r}: {result.status}, but it should end {' or '.join(expected)}[/red]")
    for msg in result.refused:
        say(f"[yellow]refused, as the rules say:[/yellow] {esc(msg)}")
    say("flags now: " + esc(", ".join(f"{k}={v}" for k, v in result.flags.items())))
    if result.prometheus_url:
        log = Path(result.workdir / "prometheus.log").resolve()
        say(f"prometheus:        {result.prometheus_url} (stopped; its log: {esc(str(log))})")
    if result.report_md:
        say(f"report (Markdown): {esc(str(Path(result.report_md).resolve()))}")
    if result.report_html:
        say(f"report (HTML):     {esc(str(Path(result.report_html).resolve()))}")
    if result.pack:
        say(f"evidence pack:     {esc(str(Path(result.pack).resolve()))}")
        say(f"  check it:        golive evidence verify {esc(str(Path(result.pack).resolve()))}")
    for note in result.notes:
        say(f"[dim]{esc(note)}[/dim]")
    for problem in result.problems:
        say(f"[red]problem:[/red] {esc(problem)}")
    db = _db_for_follow_ups(db_url)
    say(f"status:            golive status {result.run_id}{db}")
    say(f"timeline:          golive timeline {result.run_id}{db}")
    say(f"dashboard:         golive token create --user you --roles viewer{db}   (prints a token, once)")
    say(f"                   golive serve{db}   then open http://127.0.0.1:8080/runs/{result.run_id} and paste it")
    sys.exit(0 if ok else 1)


def _db_for_follow_ups(db_url: str | None) -> str:
    """The ``--db`` the printed follow-up commands need to work from any directory: the SQLite store the demo
    used, as an absolute path; nothing for a server store (its URL, with its password, stays in
    $GOLIVE_DATABASE_URL where the user put it)."""
    from golive.store import resolve_url

    target = resolve_url(db_url)
    if "://" in target and not target.startswith("sqlite:///"):
        return ""
    path = target[len("sqlite:///") :] if target.startswith("sqlite:///") else target
    return f" --db {Path(path).expanduser().resolve()}"
