"""Observe steps: watch the runbook's triggers for a duration (the watch library does the evaluating).

A ``rollback`` trigger starts the rollback at once; a ``pause`` trigger makes the step wait for the IC's
decision (GO continues, NO-GO rolls back) with a deadline and a default; a ``notify`` trigger only informs.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from golive import clock as clock_mod
from golive.engine import context as context_mod
from golive.engine import judging
from golive.engine.context import RollbackNow
from golive.engine.state import parse_ts
from golive.results import Result
from golive.spec import models
from golive.watch import baselines
from golive.watch import observe as observe_mod
from golive.watch import samples as samples_mod
from golive.watch import triggers as triggers_mod

DEFAULT_PAUSE_DEADLINE = 300.0  # seconds: "IC decides within 5 minutes"


def evaluators(
    engine: context_mod.StepHost, trigger_ids: tuple[str, ...] = (), earlier: dict[str, baselines.Earlier] | None = None
) -> list[triggers_mod.TriggerEvaluator]:
    """Trigger evaluators reading through the registered metric plugins, with this run's vars and secrets;
    ``earlier`` holds the pinned runs that ``run:`` baselines compare with."""
    wanted = [t for t in engine.runbook.triggers if not trigger_ids or t.id in trigger_ids]
    factory = judging.source_factory(engine.ctx)

    def baseline(t: models.Trigger) -> triggers_mod.ReadMetric | None:
        if t.baseline is None or t.source is None:
            return None
        early = (earlier or {}).get(t.baseline.run or "")
        return baselines.baseline_reader(
            t, factory, now=engine.clock.now, t0=lambda: judging.t0(engine.ctx), earlier=early
        )

    return [
        triggers_mod.TriggerEvaluator(t, factory, engine.clock, redact=engine.redactor.redact, baseline=baseline(t))
        for t in wanted
    ]


async def shared(
    engine: context_mod.StepHost, trigger_ids: tuple[str, ...] = ()
) -> list[triggers_mod.TriggerEvaluator]:
    """The run's one evaluator per trigger (``trigger_ids``, or all), made at first need and kept on the engine:
    observe windows and the armed watch (:mod:`golive.engine.armed`) read the same evaluator, so a trigger that
    one of them fired stays firing for the other and never fires twice without a clear in between. A trigger
    the run's log shows firing (an earlier engine of this run read it) is taken up still firing. The sources'
    secrets and the pinned runs that ``run:`` baselines compare with are resolved once, here."""
    wanted = tuple(t.id for t in engine.runbook.triggers if (not trigger_ids or t.id in trigger_ids))
    missing = tuple(tid for tid in wanted if tid not in engine.evaluators)
    if missing:
        earlier: dict[str, baselines.Earlier] = {}
        for t in engine.runbook.triggers:
            if t.id not in missing or t.source is None:
                continue
            await engine.ctx.render(t.source.with_)
            if t.baseline is not None and t.baseline.run and t.baseline.run not in earlier:
                # A missing run leaves the baseline reader without values: it reports an error, never a pass.
                with contextlib.suppress(baselines.BaselineError):
                    earlier[t.baseline.run] = await judging.earlier_run(engine.ctx, t.baseline.run)
        for ev in evaluators(engine, missing, earlier):
            if ev.id in engine.evaluators:  # made meanwhile by another reader
                continue
            logged = engine.h.state.triggers.get(ev.id) or {}
            if logged.get("state") == "firing" and not ev.manual:
                ev.continue_firing(parse_ts(logged.get("since")) or engine.clock.now())
            engine.evaluators[ev.id] = ev
    return [engine.evaluators[tid] for tid in wanted]


async def observe_step(engine: context_mod.StepHost, step: models.Step) -> None:
    """Watch the step's triggers for its duration. After a pause and the IC's GO (or a ``continue``
    default), the evaluators are reset and the rest of the window is watched: a GO never passes a window
    that was not watched for its whole duration."""
    assert step.duration is not None
    st = engine.h.state
    s = st.step(step.id)
    evs: list[triggers_mod.TriggerEvaluator] | None = None
    rearm = False
    if s.status == "waiting" and s.waiting_for == "pause":
        remaining = await engine.wait_pause(step)  # resumed while paused: the IC's answer comes first
        rearm = True  # the IC chose to go on: the trigger that paused must breach again to fire again
    else:
        await engine.emit("step_started", step_id=step.id, attempt=1, duration_planned=step.duration)
        remaining = step.duration
    window_evs = await shared(engine, step.triggers)  # the sources' secrets are resolved before the window opens

    async def on_event(ev: dict[str, Any]) -> None:
        await engine.emit(ev["type"], step_id=step.id, **ev["data"])
        data = ev["data"]
        if ev["type"] == "trigger_fired" and data.get("then") != "pause":
            # A pause is announced below (with its deadline); a rollback trigger's fire goes to the channels
            # it names (the rollback itself is announced to everyone), a notify trigger's to its routing.
            trig = engine.runbook.trigger(str(data.get("trigger_id") or data.get("trigger") or ""))
            if trig is not None and (trig.then == "notify" or trig.channels):
                await engine.notify(
                    "trigger_fired",
                    channels=trig.channels,
                    severity=trig.severity,
                    trigger={"id": trig.id, "title": trig.title or trig.id, "reason": data.get("reason")},
                    reason=data.get("reason"),
                )

    watched = step.duration - remaining
    pauses: list[str] = []
    segments: dict[str, list[samples_mod.Coverage]] = {}  # each trigger's coverage, window segment by segment
    extended = 0.0
    most = step.max_extension if step.max_extension is not None else step.duration
    while True:
        if evs is None:
            evs = list(window_evs)
            watch = judging.watcher(engine.ctx, step)  # a sequential judge watches like a trigger (this window's own)
            if watch is not None:
                evs.append(watch)
        if rearm:
            for ev in evs:  # the IC chose to go on: a trigger must breach (for `for`) again to fire again
                ev.reset()
            rearm = False
        result = None
        if remaining > 0:
            result = await observe_mod.observe(
                remaining,
                evs,
                engine.clock,
                on_event,
                engine.rollback_wake,
                default_deadline=engine.runbook.settings.decision_deadline or DEFAULT_PAUSE_DEADLINE,
            )
            watched += result.elapsed
            for tid, part in result.coverage.items():
                segments.setdefault(tid, []).append(part)
        started = st.step(step.id).started_at
        began = parse_ts(started)
        took = (engine.clock.now() - began).total_seconds() if began else watched
        if result is None or result.outcome == "passed":
            cov = coverage(engine, step, segments, extended)
            if not cov["ok"]:
                more = min(most - extended, _extension(engine, step, segments))
                if step.on_low_coverage == "extend" and more > 0:
                    extended += more
                    remaining = more
                    await engine.emit(
                        "window_extended",
                        step_id=step.id,
                        extension=round(more, 3),
                        extended=round(extended, 3),
                        max_extension=most,
                        coverage=cov,
                        reason=f"watched {_pct(cov['fraction'])} of the window, below min_coverage "
                        f"{_pct(cov['min_coverage'])}: watching {more:.0f}s more",
                    )
                    continue
                blind = [t for t, c in cov["triggers"].items() if c["blind"]]
                why = (
                    (
                        f"every read of {', '.join(blind)} failed: nothing was seen"
                        if blind
                        else f"watched {_pct(cov['fraction'])} of the window (least: {cov['least']}), below "
                        f"min_coverage {_pct(cov['min_coverage'])}"
                    )
                    + (f", after extending it by {extended:.0f}s" if extended else "")
                    + ("" if blind else f"; unwatched: {_gaps_text(cov)}")
                )
                await engine.record_result(
                    step, Result.fail(why, details={"coverage": cov}), 1, started or "", took, "step_finished"
                )
                return
            summary = result.summary if result is not None else f"watched {watched:.0f}s"
            if pauses:
                summary = f"{summary}; watched {watched:.0f}s of {step.duration:.0f}s in all ({'; '.join(pauses)})"
            if segments:
                summary = f"{summary}; coverage {_pct(cov['fraction'])}" + (
                    f" (extended by {extended:.0f}s)" if extended else ""
                )
            if step.judge is not None:  # the window was watched: now the canary against its baseline
                spec = judging.end_of_window(step.judge)
                judgement = await judging.judge_now(engine.ctx, spec, spec.window or step.duration)
                await judging.decide(engine, step, spec, judgement, started or "", rollback_on_fail=True)
                return
            details = {"coverage": cov} if segments else {}
            await engine.record_result(
                step, Result.ok(summary, details=details), 1, started or "", took, "step_finished"
            )
            return
        if result.outcome == "stopped":  # a rollback was asked for while watching
            await engine.abandon([step])
            engine.check_rollback()
            return
        trig = engine.runbook.trigger(result.trigger_id or "")
        title = trig.title if trig and trig.title else result.trigger_id
        if result.then == "rollback":
            engine.rollback_begun = True  # nothing reads the triggers any more: the rollback comes next
            await engine.record_result(step, Result.fail(result.summary), 1, started or "", took, "step_finished")
            raise RollbackNow(
                f"trigger {result.trigger_id} fired ({title}): {result.reason}",
                f"trigger:{result.trigger_id}",
                "trigger",
            )
        remaining = max(0.0, step.duration - watched)
        deadline = result.deadline_at or (engine.clock.now() + timedelta(seconds=DEFAULT_PAUSE_DEADLINE))
        await engine.emit(
            "step_waiting",
            step_id=step.id,
            what="pause",
            trigger=result.trigger_id,
            reason=result.reason,
            deadline=clock_mod.utc_iso(deadline),
            default=result.default or "rollback",
            remaining=round(remaining, 3),
        )
        await engine.notify(
            "pause",
            channels=trig.channels if trig is not None else None,
            severity=trig.severity if trig is not None and trig.severity == "critical" else None,
            trigger={"id": result.trigger_id, "title": title, "reason": result.reason},
            deadline=clock_mod.utc_iso(deadline),
            default=result.default,
        )
        remaining = await engine.wait_pause(step)
        rearm = True
        dec = st.decision or {}
        pauses.append(f"paused by {result.trigger_id}; {str(dec.get('decision')).upper()} by {dec.get('by')}")


def min_coverage(engine: context_mod.StepHost, step: models.Step, trigger_id: str) -> float:
    """The watched fraction a trigger must reach in this window: its own, else the step's, else 0.9."""
    trig = engine.runbook.trigger(trigger_id)
    if trig is not None and trig.min_coverage is not None:
        return trig.min_coverage
    return step.min_coverage if step.min_coverage is not None else samples_mod.DEFAULT_MIN_COVERAGE


def coverage(
    engine: context_mod.StepHost,
    step: models.Step,
    segments: dict[str, list[samples_mod.Coverage]],
    extended: float = 0.0,
) -> dict[str, Any]:
    """The window's coverage (``details.coverage`` of its result): each trigger's watched fraction against
    its ``min_coverage``; the window's is its least-watched trigger's, and it is ok when every trigger's is."""
    per: dict[str, Any] = {}
    for tid, parts in segments.items():
        need = min_coverage(engine, step, tid)
        frac = samples_mod.watched_fraction(parts)
        readings = sum(c.readings for c in parts)
        # Every read failed (fewer than max_errors, so the trigger did not fail closed): nothing was seen.
        blind = sum(c.errors for c in parts) >= readings
        per[tid] = {
            "fraction": round(frac, 4),
            "min_coverage": need,
            "ok": frac + 1e-9 >= need and not blind,
            "blind": blind,
            "watched": round(sum(c.watched for c in parts), 3),
            "span": round(sum(c.span for c in parts), 3),
            "readings": readings,
            "gaps": [g for c in parts for g in c.as_json()["gaps"]][: samples_mod.MAX_GAPS],
        }
    least = min(per, key=lambda t: per[t]["fraction"]) if per else None
    return {
        "fraction": per[least]["fraction"] if least else 1.0,
        "min_coverage": per[least]["min_coverage"]
        if least
        else (step.min_coverage or samples_mod.DEFAULT_MIN_COVERAGE),
        "least": least,
        "ok": all(t["ok"] for t in per.values()),
        "extended": round(extended, 3),
        "triggers": per,
    }


def _extension(
    engine: context_mod.StepHost, step: models.Step, segments: dict[str, list[samples_mod.Coverage]]
) -> float:
    """Seconds more to watch for every trigger to reach its min_coverage if the rest is watched (at least
    one reading of the slowest trigger)."""
    need = 0.0
    slowest = 0.0
    for tid, parts in segments.items():
        c = min_coverage(engine, step, tid)
        span = sum(p.span for p in parts)
        seen = sum(p.watched for p in parts)
        slowest = max(slowest, parts[-1].interval)
        # (seen + x) / (span + x) >= c; all of it must be watched when c is 1
        gap = (float("inf") if seen < span else 0.0) if c >= 1.0 else (c * span - seen) / (1.0 - c)
        need = max(need, gap)
    return max(need, slowest)


def _pct(x: Any) -> str:
    return f"{float(x) * 100:.0f}%"


def _gaps_text(cov: dict[str, Any]) -> str:
    least = cov["triggers"].get(cov["least"] or "", {})
    gaps = least.get("gaps") or []
    if not gaps:
        return "none recorded"
    return ", ".join(f"{a[11:19]}-{b[11:19]}" for a, b in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
