"""Hypercare for a run: a HypercareRunner wired to the engine's check path, the event log, reports and comms.

Used by ``golive hypercare`` (long-running or ``--tick`` for cron) and by ``golive demo``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from golive import exceptions

__all__ = ["HYPERCARE_ACTOR", "hypercare_runner", "run_hypercare", "tick_hypercare", "watch_hypercare"]

HYPERCARE_ACTOR = "hypercare"
OVER_POLL = 1.0  # real seconds between two looks at the log for a rollback run by another process


def _report_markdown(report: Any, summary: dict[str, Any]) -> str:
    lines = [
        f"# {report.title}",
        "",
        f"- Status: **{summary['status'].upper()}**",
        f"- Window: {summary['window']['from']} to {summary['window']['until']}",
        f"- Written: {summary['written_at']}",
        f"- Slots: {summary['slots']['run']} run of {summary['slots']['scheduled']} scheduled, "
        f"{summary['slots']['missed']} missed",
    ]
    if summary.get("focus"):
        lines.append(f"- Focus: {', '.join(summary['focus'])}")
    lines += [
        "",
        "## Summary",
        "",
        "| check | runs | pass | warn | fail | error | last |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for cid, c in summary["checks"].items():
        lines.append(
            f"| {cid} | {c['runs']} | {c['pass']} | {c['warn']} | {c['fail']} | {c['error']} | {c['last'] or '-'} |"
        )
    if summary["failures"]:
        lines += ["", "### Failures", ""]
        lines += [f"- {f['slot']} {f['check_id']}: {f['outcome'].upper()} {f['summary']}" for f in summary["failures"]]
    if summary["missed"]:
        lines += ["", "### Missed slots", ""]
        lines += [f"- {m['slot']}: {', '.join(m['check_ids'])}" for m in summary["missed"]]
    if "metrics" in report.includes:
        lines += ["", "## Metrics", ""]
        if summary["metrics"]:
            lines += ["| trigger | samples | min | max | last |", "| --- | ---: | ---: | ---: | ---: |"]
            for tid, m in summary["metrics"].items():
                lines.append(f"| {tid} | {m['samples']} | {m['min']:.6g} | {m['max']:.6g} | {m['last']:.6g} |")
        else:
            lines.append("No trigger samples in the window.")
        lines += ["", "### Triggers fired", ""]
        lines += [f"- {t['at']} {t['trigger_id']} ({t['then']}): {t['reason']}" for t in summary["triggers_fired"]] or [
            "None."
        ]
    if "actions" in report.includes:
        lines += ["", "## Actions", ""]
        lines += [
            f"- {a['at']} {a['step_id']}: {str(a['outcome']).upper()} {a['summary']}" for a in summary["actions"]
        ] or ["None."]
    return "\n".join(lines) + "\n"


async def hypercare_runner(store: Any, run_id: str, out_dir: Path | None, echo: Callable[[str], None]) -> Any:
    """A HypercareRunner for a run, with the engine's plugins and context, restored from the run's events."""
    from golive import clock as clock_mod
    from golive.engine import acts, rehearsal, runner
    from golive.engine.state import parse_ts
    from golive.results import Result
    from golive.spec import models
    from golive.watch import hypercare as hc

    handle = await acts.open_run(store, run_id)
    spec = handle.runbook.hypercare
    if not spec.tiers and not spec.reports:
        raise exceptions.UsageError(
            f"run {run_id}: the runbook has no hypercare (hypercare.tiers and hypercare.reports are empty)"
        )
    go = parse_ts(handle.state.go_at)
    if go is None:
        raise exceptions.UsageError(
            f"run {run_id} has no GO decision yet; hypercare starts at GO (record it with: golive decide {run_id} go)"
        )
    scaled = rehearsal.clock_for(handle.record.params)
    if scaled is not None:  # a time-scaled rehearsal: hypercare runs on the run's scaled clock
        store.event_clock = scaled
    engine = runner.Engine(handle, clock=scaled)
    clock = engine.clock or clock_mod.SystemClock()
    target = out_dir or Path(".golive") / "reports" / run_id

    async def run_check(step: models.Step) -> Result:
        return await engine.check_result(step)

    async def record(event: dict[str, Any]) -> None:
        data = event["data"]
        await handle.append(event["type"], step_id=data.get("check_id"), actor=HYPERCARE_ACTOR, **data)
        if event["type"] == "hypercare_alert":
            echo(f"ALERT {data.get('message')}")
            context = {k: v for k, v in data.items() if k != "message"}
            try:
                await engine.notify("hypercare_alert", message=data.get("message"), **context)
            except Exception as exc:  # the alert is in the event log already; a channel failure is reported
                echo(f"alert not sent: {engine.redactor.redact(str(exc))}")
        elif event["type"] == "hypercare_check":
            echo(f"{data['slot'][:16]} {data['check_id']}: {data['outcome'].upper()} {data.get('summary', '')}")

    async def write_report(report: models.HypercareReport, summary: dict[str, Any]) -> None:
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{report.id}.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        (target / f"{report.id}.md").write_text(_report_markdown(report, summary))
        echo(f"report {report.id} written to {target / (report.id + '.md')} ({summary['status'].upper()})")
        try:
            await engine.notify(
                "hypercare_report",
                report_title=report.title,
                summary=summary.get("status"),
                report_path=str(target / f"{report.id}.md"),
            )
        except Exception as exc:  # the report is written and recorded; a channel failure is reported
            echo(f"report announcement not sent: {engine.redactor.redact(str(exc))}")

    async def events() -> list[dict[str, Any]]:
        return [e.as_dict() for e in await store.events(run_id)]

    notifier = await engine.comms.notifier()

    async def status_updates(now: Any) -> Any:
        # The run's cadence goes on through hypercare: the status updates due now, then when the next is due.
        await handle.refresh()
        anchors = engine.comms.cadence_anchors()
        try:
            await notifier.send_due(anchors, engine.comms.cadence_context(), raise_required=False)
        except Exception as exc:  # a channel failure is recorded with the delivery; hypercare goes on
            echo(f"status update not sent: {engine.redactor.redact(str(exc))}")
        nxt = notifier.next_due(anchors)
        return nxt.due_at if nxt is not None else None

    hc_runner = hc.HypercareRunner(
        spec, go, clock, run_check, record, write_report, events_source=events, companion=status_updates
    )
    hc_runner.restore(await events())
    hc_runner.engine = engine  # type: ignore[attr-defined]  # closed by run_hypercare / the CLI when done
    return hc_runner


async def watch_hypercare(hc_runner: Any, until: Any = None) -> None:
    """Run hypercare's schedule to its end (or ``until``) with the armed triggers read beside it
    (:mod:`golive.engine.armed`): a rollback trigger's fire runs the rollback here, the run ends
    ROLLED_BACK_AFTER_GO and hypercare stops. A failed append stops both (fail closed)."""
    import asyncio
    import contextlib

    from golive.engine import armed

    engine = hc_runner.engine
    if await _over(engine) or await _answer_taken_up_fire(engine):
        return
    schedule = asyncio.ensure_future(hc_runner.run_forever(until=until))
    rolling: list[bool] = []

    async def on_rollback(reason: str, by: str) -> None:
        rolling.append(True)
        schedule.cancel()  # hypercare stops: no slot runs once the rollback has started
        await engine.rollback(reason, by, "trigger")

    async def until_over() -> None:
        # No engine holds the run in hypercare: a rollback run by another process (an IC's golive rollback)
        # is seen in the log, and hypercare stops there.
        while True:
            if await _over(engine):
                break
            await asyncio.sleep(max(engine.real_poll, OVER_POLL))
        if not rolling:
            schedule.cancel()

    watcher = armed.ArmedWatch(engine, on_rollback)
    watch = asyncio.ensure_future(watcher.run())
    ended = asyncio.ensure_future(until_over())
    try:
        await asyncio.wait({watch, schedule, ended}, return_when=asyncio.FIRST_COMPLETED)
        if rolling:  # a rollback is under way: it runs to its end
            await watch
        elif schedule.done() and not schedule.cancelled() and schedule.exception() is None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            # Hypercare is over: the last batches are written, then the armed spans' coverage.
            await armed.record_coverage(engine, "hypercare", watcher)
    finally:
        for task in (watch, schedule, ended):
            if not task.done():
                task.cancel()
        for task in (watch, schedule, ended):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _over(engine: Any) -> bool:
    """Whether hypercare is over because the run no longer stands passed (read again from the log): another
    process rolled it back, or is rolling it back. Nothing of hypercare runs on such a run."""
    from golive.engine.state import RunStatus

    await engine.h.refresh()
    return engine.h.state.status is not RunStatus.PASSED


async def _answer_taken_up_fire(engine: Any) -> bool:
    """A rollback trigger's fire that an earlier process wrote and died before rolling back (the log shows it
    unanswered): the rollback runs now, before anything of hypercare. True when it ran."""
    from golive.engine import armed

    fire = engine.h.state.unanswered_fire()
    if fire is None:
        return False
    reason, by = armed.taken_up(engine.runbook, fire)
    await engine.rollback(reason, by, "trigger")
    return True


async def tick_hypercare(hc_runner: Any) -> Any:
    """One ``golive hypercare --tick`` (from cron): every armed trigger is read once first, then what is due
    runs. A rollback trigger's fire runs the rollback here (the run ends ROLLED_BACK_AFTER_GO) and nothing
    of hypercare's schedule runs after it; returns the tick's result (None when the rollback ran instead)."""
    from golive.engine import armed

    engine = hc_runner.engine
    rolling: list[bool] = []

    async def on_rollback(reason: str, by: str) -> None:
        rolling.append(True)
        await engine.rollback(reason, by, "trigger")

    if await _over(engine) or await _answer_taken_up_fire(engine):
        return None
    await armed.ArmedWatch(engine, on_rollback).read_once()
    if rolling:
        return None
    return await hc_runner.tick()


async def run_hypercare(
    store: Any, run_id: str, out_dir: Path | None = None, echo: Callable[[str], None] = lambda s: None
) -> Any:
    """Run a run's whole hypercare schedule to its end (reports written, results recorded)."""
    from golive.engine import rehearsal

    runner = await hypercare_runner(store, run_id, out_dir, echo)
    settings = rehearsal.settings_from_params((await store.get_run(run_id)).params)
    try:
        async with rehearsal.outside_world(runner.engine, settings):
            await watch_hypercare(runner)
    finally:
        await runner.engine.aclose()
    return runner
