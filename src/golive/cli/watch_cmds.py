"""``golive watch`` (triggers live), ``golive hypercare`` (checks on their schedule) and ``golive flags``.

``watch`` reads the run's trigger events (what the running engine's observe steps recorded); it never
evaluates a trigger itself, so what it shows is what the run saw. ``hypercare`` runs the runbook's
hypercare checks through the same plugins and context as the engine and records results, alerts and
reports as events of the run. ``flags`` reads each kill-switch flag through the runbook's flag provider.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from golive import clock as clock_mod
from golive import exceptions
from golive.cli import _common
from golive.engine import hypercare as service

__all__ = ["flags", "hypercare", "sparkline", "watch"]

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 30  # points shown per trigger
WATCH_REFRESH = 1.0  # seconds between two reads of the event log in the live view
hypercare_runner = service.hypercare_runner  # the service behind `golive hypercare`

STATE_STYLE = {
    "ok": "green",
    "pending": "yellow",
    "firing": "bold white on red",
    "no_data": "magenta",
    "held": "magenta",
    "error": "bold red",
    "-": "dim",
}


def sparkline(values: Sequence[float | None], width: int = SPARK_WIDTH) -> str:
    """Unicode blocks for the last ``width`` values, scaled min..max; a gap (no data) is a space."""
    tail = list(values)[-width:]
    nums = [v for v in tail if v is not None and math.isfinite(v)]
    if not nums:
        return " " * len(tail)
    lo, hi = min(nums), max(nums)
    span = hi - lo
    out = []
    for v in tail:
        if v is None or not math.isfinite(v):
            out.append(" ")
        elif span == 0:
            out.append(SPARK_BLOCKS[0])
        else:
            out.append(SPARK_BLOCKS[min(len(SPARK_BLOCKS) - 1, int((v - lo) / span * len(SPARK_BLOCKS)))])
    return "".join(out)


# --- watch --------------------------------------------------------------------------------------------


def trigger_rows(handle: Any) -> list[dict[str, Any]]:
    """One row per trigger of the run's runbook, from the folded trigger events."""
    rows = []
    for t in handle.runbook.triggers:
        seen = handle.state.triggers.get(t.id) or {}
        history = [v for _, v in seen.get("history") or []]
        rows.append(
            {
                "id": t.id,
                "title": t.title or t.id,
                "source": t.source.type if t.source else "manual",
                "when": t.when or "raised by a person",
                "interval": t.interval,
                "then": t.then,
                "severity": t.severity,
                "state": seen.get("state") or "-",
                "value": seen.get("value"),
                "reason": seen.get("reason") or "",
                "at": seen.get("ts") or seen.get("at"),
                "history": history,
            }
        )
    return rows


def watch_renderable(handle: Any) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    st = handle.state
    head = Text()
    head.append(f"{handle.runbook.title or handle.runbook.name} ", style="bold")
    head.append(f"run {handle.run_id} ")
    rb = st.rollback
    rolling = rb is not None and not rb.get("finished_at")
    label = "ROLLING BACK" if rolling else st.status.label  # the same words as `golive status`
    head.append(label, style="bold white on red" if rolling else "bold red" if rb else "cyan")
    if st.reason:
        head.append(f"  {st.reason}", style="dim")
    table = Table(expand=False)
    for col in ("trigger", "value", "threshold", "state", "then", "sparkline", "last"):
        table.add_column(col, overflow="fold")
    for row in trigger_rows(handle):
        value = "-" if row["value"] is None else f"{row['value']:.6g}"
        table.add_row(
            Text(row["title"], style="bold") if row["title"] != row["id"] else row["id"],
            value,
            row["when"],
            Text(row["state"], style=STATE_STYLE.get(row["state"], "")),
            f"{row['then']} ({row['severity']})",
            sparkline(row["history"]),
            (row["at"] or "")[11:19],
        )
    parts: list[Any] = [head]
    if rb is not None:
        # In the order they ran (the flags' safe values first), not in the order the runbook lists them.
        ran = sorted(
            (
                (s.finished_at or "", sid, s)
                for sid, s in st.steps.items()
                if (s.section.startswith("rollback") or sid == "restore_safe_flags") and s.outcome is not None
            ),
            key=lambda item: item[0],
        )
        done = [f"{sid} {s.outcome.value.upper()}" for _, sid, s in ran if s.outcome is not None]
        parts.append(Text(f"ROLLBACK: {rb.get('reason')} (started by {rb.get('by')})", style="bold red"))
        if done:
            parts.append(Text("rollback steps: " + ", ".join(done), style="red"))
    parts.append(table)
    for fired in st.fired[-5:]:
        parts.append(
            Text(f"FIRED {fired.get('at', '')[:19]} {fired.get('trigger')}: {fired.get('reason')}", style="bold red")
        )
    return Group(*parts)


@click.command()
@click.argument("run_id", required=False)
@click.option("--once", is_flag=True, help="Print one snapshot and exit.")
@_common.json_option
@_common.db_option
def watch(run_id: str | None, once: bool, as_json: bool, db_url: str | None) -> None:
    """Show each trigger of RUN (default: the newest) live: value, threshold, state, sparkline."""
    from golive.engine import acts

    async def go(store: Any) -> None:
        handle = await acts.open_run(store, await _common.latest_run_id(store, run_id))
        if as_json:
            _common.echo_json(
                {
                    "run_id": handle.run_id,
                    "status": handle.state.status.value,
                    "reason": handle.state.reason,
                    "rollback": handle.state.rollback,
                    "triggers": trigger_rows(handle),
                    "fired": handle.state.fired,
                }
            )
            return
        con = _common.console()
        if once or handle.state.final:
            con.print(watch_renderable(handle))
            return
        from rich.live import Live

        with Live(watch_renderable(handle), console=con, refresh_per_second=4) as live:
            while not handle.state.final:
                await asyncio.sleep(WATCH_REFRESH)
                await handle.refresh()
                live.update(watch_renderable(handle))

    _common.run_async(lambda: _common.with_store(db_url, go))


# --- hypercare ----------------------------------------------------------------------------------------


def _iso(ts: datetime | None) -> str | None:
    from golive import clock as clock_mod

    return clock_mod.utc_iso(ts) if ts is not None else None


@click.command()
@click.argument("run_id", required=False)
@click.option("--tick", is_flag=True, help="Run what is due now and exit (for cron); exit 1 on a failure.")
@click.option(
    "--until", "until", default=None, metavar="ISO", help="Stop at this UTC time (default: end of hypercare)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where reports go (default .golive/reports/RUN).",
)
@_common.json_option
@_common.db_option
def hypercare(
    run_id: str | None, tick: bool, until: str | None, out_dir: Path | None, as_json: bool, db_url: str | None
) -> None:
    """Run RUN's hypercare checks on their schedule (tiers from GO), write the control reports, alert on failures."""
    from golive.engine import rehearsal

    until_at: datetime | None = None
    if until:
        try:
            until_at = clock_mod.parse_time(until)
        except ValueError:
            raise exceptions.UsageError(
                f"--until {until!r}: write an ISO 8601 time, e.g. 2026-03-04T10:00:00Z"
            ) from None
        if until_at.tzinfo is None:
            raise exceptions.UsageError(f"--until {until!r} needs a timezone, e.g. 2026-03-04T10:00:00Z")
    con = _common.console(stderr=as_json)

    async def go(store: Any) -> int:
        rid = await _common.latest_run_id(store, run_id)
        r = await service.hypercare_runner(store, rid, out_dir, lambda s: con.print(s, markup=False))
        settings = rehearsal.settings_from_params(r.engine.h.record.params)
        try:
            return await _drive_hypercare(r, rid, settings)
        finally:
            await r.engine.aclose()

    async def _drive_hypercare(r: Any, rid: str, settings: Any) -> int:
        if tick:
            async with rehearsal.outside_world(r.engine, settings):
                result = await service.tick_hypercare(r)
            if result is None:  # an armed trigger fired (the rollback ran instead), or the run was rolled back
                st = r.engine.h.state
                if as_json:
                    _common.echo_json({"run_id": rid, "status": st.status.value, "reason": st.reason, "ok": False})
                else:
                    con.print(f"run {rid}: {st.status.label} ({st.reason})", markup=False)
                return 1
            if as_json:
                _common.echo_json(
                    {
                        "run_id": rid,
                        "slot": _iso(result.slot),
                        "ok": result.ok,
                        "checks": [
                            {"check_id": c.check_id, "outcome": c.outcome.value, "summary": c.summary}
                            for c in result.checks
                        ],
                        "missed": [_iso(t) for t in result.missed],
                        "reports": result.reports,
                        "report_failures": result.report_failures,
                        "next": _iso(r.next_wake(r.clock.now())),
                    }
                )
            elif not result.checks and not result.reports and not result.missed:
                nxt = r.next_wake(r.clock.now())
                con.print(f"nothing due now; next at {_iso(nxt) or 'never (hypercare is over)'}")
            return 0 if result.ok else 1
        con.print(f"hypercare of run {rid}: {len(r.ticks)} ticks from GO {r.go_time:%Y-%m-%d %H:%M} UTC to {r.end}")
        async with rehearsal.outside_world(r.engine, settings):
            await service.watch_hypercare(r, until=until_at)
        status = r.engine.h.state.status
        if status.value == "rolled_back_after_go":
            con.print(f"run {rid}: {status.label} ({r.engine.h.state.reason})")
            return 1
        failed = any(not rec.outcome.ok for rec in r.history) or bool(r.missed)
        return 1 if failed else 0

    code = _common.run_async(lambda: _common.with_store(db_url, go))
    raise SystemExit(code)


# --- flags --------------------------------------------------------------------------------------------


@click.command()
@click.argument("run_id", required=False)
@_common.json_option
@_common.db_option
def flags(run_id: str | None, as_json: bool, db_url: str | None) -> None:
    """Show RUN's kill-switch flags as the provider reports them, against their safe values."""
    from golive.engine import acts, runner
    from golive.plugins.actions import flag as flag_action

    async def go(store: Any) -> int:
        handle = await acts.open_run(store, await _common.latest_run_id(store, run_id))
        spec = handle.runbook.flags
        if spec is None:
            raise exceptions.UsageError(
                f"run {handle.run_id}: the runbook declares no flags (flags.provider, flags.safe)"
            )
        engine = runner.Engine(handle)
        provider = engine.ctx.flag_provider()
        rows = []
        for name, safe in spec.safe.items():
            try:
                current = await provider.get(name)
                error = None
            except Exception as exc:  # an unreadable flag is shown as such, never as safe
                current, error = None, engine.redactor.redact(f"{type(exc).__name__}: {exc}")
            # Like for like, as the flag action reads back: a dotenv provider gives "false" for false.
            state = "error" if error else "safe" if flag_action.flag_equal(safe, current) else "not safe"
            rows.append(
                {
                    "flag": name,
                    "current": current,
                    "safe": safe,
                    "state": state,
                    "error": error,
                    "description": spec.descriptions.get(name, ""),
                }
            )
        if as_json:
            _common.echo_json({"run_id": handle.run_id, "provider": spec.provider.type, "flags": rows})
        else:
            from rich.table import Table
            from rich.text import Text

            table = Table(title=f"flags of run {handle.run_id} ({spec.provider.type})")
            for col in ("flag", "current", "safe", "state", "description"):
                table.add_column(col, overflow="fold")
            for row in rows:
                style = {"safe": "green", "not safe": "yellow", "error": "bold red"}[row["state"]]
                table.add_row(
                    row["flag"],
                    row["error"] or json.dumps(row["current"]),
                    json.dumps(row["safe"]),
                    Text(row["state"], style=style),
                    row["description"],
                )
            _common.console().print(table)
        return 1 if any(r["state"] == "error" for r in rows) else 0

    raise SystemExit(_common.run_async(lambda: _common.with_store(db_url, go)))
