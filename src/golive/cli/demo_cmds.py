"""``golive demo``: a complete cutover of a bundled service, on the embedded store, in under two minutes."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

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
@click.option("--quiet", "-q", is_flag=True)
@_common.db_option
def demo(fault: str, workdir: Path | None, runbook: Path | None, quiet: bool, db_url: str | None) -> None:
    """Start the demo service on a free loopback port and cut it over with the demo runbook.

    The incident commander is an automated stand-in, labelled "demo-ic (automated)" in every record.
    Exit 0 when the run ends as the chosen scenario should (PASSED, NO-GO for --fault canary,
    ROLLED BACK for --fault observe); 1 otherwise.
    """
    from golive.cli import run_cmds
    from golive.demo import run as demo_run

    where = workdir or Path(".golive") / "demo" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    con = _common.console()
    if not quiet:
        con.print(f"[bold]golive demo[/bold] (fault: {fault}) — files in {where}")

    async def drive(store: Any, handle: Any) -> Any:
        return await run_cmds._drive(store, handle, quiet=quiet, prompt=False)

    result = _common.run_async(
        lambda: demo_run.run_demo(fault=fault, workdir=where, db_url=db_url, runbook=runbook, quiet=quiet, drive=drive)
    )
    expected = {"none": ("PASSED", "COMPLETE"), "canary": ("NO-GO",), "observe": ("ROLLED-BACK",)}[fault]
    ok = result.status in expected
    con.print()
    con.print(f"run {result.run_id}: [bold]{result.status}[/bold] ({result.verdict}) {result.reason}")
    for msg in result.refused:
        con.print(f"[yellow]refused, as the rules say:[/yellow] {msg}")
    con.print("flags now: " + ", ".join(f"{k}={v}" for k, v in result.flags.items()))
    if result.report_md:
        con.print(f"report (Markdown): {result.report_md}")
    if result.report_html:
        con.print(f"report (HTML):     {result.report_html}")
    if result.pack:
        con.print(f"evidence pack:     {result.pack}  (check it: golive evidence verify {result.pack})")
    db = f" --db {db_url}" if db_url else ""
    con.print(f"dashboard:         golive serve{db}  then open http://127.0.0.1:8080/runs/{result.run_id}")
    con.print(f"timeline:          golive timeline {result.run_id}{db}")
    sys.exit(0 if ok else 1)
