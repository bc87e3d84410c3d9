"""``golive plan FILE --compare RUN``: the plan's expected durations against a run's actual ones.

Made for rehearsals (every step runs and its duration is recorded), it works on any run: per step the
expected and actual duration, how late it was, and whether it lies on the critical path, the plan's (by
``expected``) and the actual one (the same longest-``needs``-chain rule, by measured durations).
"""

from __future__ import annotations

from typing import Any

from golive import exceptions
from golive.cli import _common
from golive.spec import durations, loader, models
from golive.spec import plan as plan_mod

__all__ = ["compare", "show"]

LATE_TOLERANCE = 0.0  # seconds over `expected` before a step counts as late


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else durations.format_duration(seconds)


def _fmt_late(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds > LATE_TOLERANCE:
        return "+" + durations.format_duration(seconds)
    return "-" + durations.format_duration(-seconds) if seconds < 0 else "0s"


def _actual(state: Any, step_id: str) -> float | None:
    """Seconds a finished step took: its recorded duration, else (manual, decision) finish minus start."""
    from golive.engine.state import parse_ts

    s = state.steps.get(step_id)
    if s is None or s.status != "done":
        return None
    if isinstance(s.duration, int | float):
        return float(s.duration)
    start, end = parse_ts(s.started_at), parse_ts(s.finished_at)
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _phase_actual(state: Any, phase_id: str) -> float | None:
    from golive.engine.state import parse_ts

    start, end = state.phase_times.get(phase_id, (None, None))
    a, b = parse_ts(start), parse_ts(end)
    return None if a is None or b is None else max(0.0, (b - a).total_seconds())


def _actual_plan(runbook: models.Runbook, actual: dict[str, float | None]) -> plan_mod.Plan:
    """The plan again with each step's ``expected`` replaced by what it took (0 when it did not run)."""
    phases = tuple(
        p.model_copy(
            update={"steps": tuple(s.model_copy(update={"expected": actual.get(s.id) or 0.0}) for s in p.steps)}
        )
        for p in runbook.phases
    )
    return plan_mod.make_plan(runbook.model_copy(update={"phases": phases}))


def compare(handle: Any, loaded: loader.LoadedRunbook, the_plan: plan_mod.Plan) -> dict[str, Any]:
    """Plan against run, as plain data (what ``--json`` prints)."""
    state = handle.state
    runbook = loaded.runbook
    actual = {s.id: _actual(state, s.id) for p in runbook.phases for s in p.steps}
    actual_plan = _actual_plan(runbook, actual)
    on_actual_path = set(actual_plan.critical_path)
    steps: list[dict[str, Any]] = []
    phases: list[dict[str, Any]] = []
    for ph in the_plan.phases:
        for sp in ph.steps:
            took = actual.get(sp.id)
            late_by = None if took is None or sp.expected is None else round(took - sp.expected, 3)
            st = state.steps.get(sp.id)
            steps.append(
                {
                    "phase": ph.id,
                    "id": sp.id,
                    "title": sp.title,
                    "kind": sp.kind,
                    "expected": sp.expected,
                    "actual": None if took is None else round(took, 3),
                    "late_by": late_by,
                    "late": late_by is not None and late_by > LATE_TOLERANCE,
                    "on_critical_path": sp.on_critical_path,
                    "on_actual_critical_path": sp.id in on_actual_path and took is not None,
                    "outcome": st.outcome.value if st is not None and st.outcome is not None else None,
                }
            )
        took_phase = _phase_actual(state, ph.id)
        phases.append(
            {
                "id": ph.id,
                "title": ph.title,
                "expected": ph.expected,
                "actual": None if took_phase is None else round(took_phase, 3),
                "late_by": None if took_phase is None else round(took_phase - ph.expected, 3),
                "outcome": state.phases.get(ph.id, "pending"),
            }
        )
    measured = [p["actual"] for p in phases if p["actual"] is not None]
    return {
        "run_id": handle.run_id,
        "runbook": runbook.name,
        "mode": state.mode,
        "status": state.status.value,
        "same_runbook": handle.record.runbook_digest == loaded.digest,
        "expected_total": the_plan.expected,
        "actual_total": round(sum(measured), 3) if measured else None,
        "steps": steps,
        "phases": phases,
        "late": [s["id"] for s in steps if s["late"]],
        "not_run": [s["id"] for s in steps if s["actual"] is None],
        "critical_path": list(the_plan.critical_path),
        "actual_critical_path": [sid for sid in actual_plan.critical_path if actual.get(sid) is not None],
        "missing_expected": list(the_plan.missing_expected),
    }


def show(loaded: loader.LoadedRunbook, the_plan: plan_mod.Plan, run_id: str, db_url: str | None, as_json: bool) -> None:
    """Print plan against run RUN: a table (step, expected, actual, late by, critical path) or JSON."""
    from golive.engine import acts
    from golive.store import open_store

    async def go() -> dict[str, Any]:
        store = open_store(db_url, create=False)
        await store.open()
        try:
            handle = await acts.open_run(store, run_id)
        finally:
            await store.close()
        if handle.record.runbook_name != loaded.runbook.name:
            raise exceptions.UsageError(
                f"run {handle.run_id} ran runbook {handle.record.runbook_name!r}, not {loaded.runbook.name!r}; "
                "compare a plan with a run of the same runbook"
            )
        return compare(handle, loaded, the_plan)

    data = _common.run_async(go)
    if as_json:
        _common.echo_json(data)
        return
    _print(data)


def _print(data: dict[str, Any]) -> None:
    from rich.table import Table

    con = _common.console()
    con.print(f"[bold]{data['runbook']}[/bold]: plan against run {data['run_id']} ({data['mode']}, {data['status']})")
    if not data["same_runbook"]:
        con.print("[yellow]the runbook file differs from the one the run used; steps are matched by id[/yellow]")
    table = Table(expand=False)
    for col in ("phase", "step", "expected", "actual", "late by", "critical path"):
        table.add_column(col)
    for s in data["steps"]:
        crit = ", ".join(
            name for name, on in (("plan", s["on_critical_path"]), ("actual", s["on_actual_critical_path"])) if on
        )
        late = _fmt_late(s["late_by"])
        table.add_row(
            s["phase"],
            s["id"],
            _fmt(s["expected"]),
            _fmt(s["actual"]),
            f"[bold red]{late}[/bold red]" if s["late"] else late,
            crit,
        )
    con.print(table)
    for p in data["phases"]:
        con.print(
            f"phase {p['id']}: expected {_fmt(p['expected'])}, actual {_fmt(p['actual'])}, "
            f"late by {_fmt_late(p['late_by'])}"
        )
    by_id = {s["id"]: s for s in data["steps"]}
    late = ", ".join(f"{sid} ({_fmt_late(by_id[sid]['late_by'])})" for sid in data["late"])
    con.print(f"[bold]late steps[/bold]: {late or 'none'}")
    if data["not_run"]:
        con.print(f"not run: {', '.join(data['not_run'])}")
    con.print(
        f"[bold]critical path (plan, {_fmt(data['expected_total'])})[/bold]: {' -> '.join(data['critical_path'])}"
    )
    con.print(
        f"[bold]critical path (actual, {_fmt(data['actual_total'])})[/bold]: "
        f"{' -> '.join(data['actual_critical_path']) or '-'}"
    )
    if data["missing_expected"]:
        con.print(f"[dim]{len(data['missing_expected'])} step(s) without 'expected' cannot be late[/dim]")
