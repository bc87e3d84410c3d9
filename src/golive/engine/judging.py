"""Judge steps: a ``judge`` check, and the judge at the end of an observe window (the watch library judges).

PASS passes the step; FAIL fails it (an observe window then rolls back, like a rollback trigger);
MARGINAL and INCONCLUSIVE never pass by themselves: the step pauses for the IC with the judge's deadline
and default (GO passes it, NO-GO rolls back). The judgement (samples, statistics, p-values, effects,
verdict) is stored in the step's result ``details.judge``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from golive import clock as clock_mod
from golive import exceptions
from golive.engine import context as context_mod
from golive.engine.context import RollbackNow
from golive.engine.state import parse_ts
from golive.plugins import base as plugin_base
from golive.results import Result
from golive.spec import models, refs
from golive.watch import baselines, sequential
from golive.watch import judge as judge_mod
from golive.watch import samples as samples_mod
from golive.watch import triggers as triggers_mod

DEFAULT_PAUSE_DEADLINE = 300.0  # seconds: "IC decides within 5 minutes"


def source_factory(ctx: context_mod.RunContext) -> triggers_mod.SourceFactory:
    """Reads metric sources through the registered plugins, with this run's vars and secrets."""

    def context(name: str, params: Any) -> plugin_base.StepContext:
        step = models.Step(id=f"metric_{name}".replace("-", "_"), kind=models.StepKind.CHECK, type=name)
        return ctx.step_context(step, params)

    return triggers_mod.plugin_source_factory(
        ctx.registry, context=context, render=lambda w: refs.render(w, ctx.resolve)
    )


def t0(ctx: context_mod.RunContext) -> Any:
    return parse_ts(ctx.h.state.anchor)


async def earlier_run(ctx: context_mod.RunContext, run_id: str) -> baselines.Earlier:
    """The samples a finished run recorded: its judges' canary samples per metric, its triggers' values."""
    try:
        events = await ctx.h.store.events(run_id)
    except exceptions.NotFound:
        raise baselines.BaselineError(f"baseline run {run_id!r} is not in this store") from None
    if not events:
        raise baselines.BaselineError(f"baseline run {run_id!r} is not in this store")
    samples: dict[str, tuple[tuple[float, ...], tuple[float, ...] | None]] = {}
    values: dict[str, list[float]] = {}
    for ev in events:
        d = ev.data
        judged = (d.get("details") or {}).get("judge") if ev.type == "step_finished" else None
        if isinstance(judged, dict):
            for m in judged.get("metrics") or []:
                got = m.get("samples") or {}
                if got.get("canary"):
                    total = got.get("canary_total")
                    samples[m["id"]] = (tuple(got["canary"]), tuple(total) if total else None)
        if ev.type in ("trigger_evaluated", "trigger_fired"):
            got = [float(v) for _, _, v, _ in samples_mod.samples_of(d, ev.ts) if v is not None]
            if got:
                values.setdefault(str(d.get("trigger_id")), []).extend(got)
    return baselines.Earlier(run_id=run_id, samples=samples, values={k: tuple(v) for k, v in values.items()})


def _runs(spec: models.Judge) -> set[str]:
    return {b.run for m in spec.metrics if (b := spec.baseline_of(m)).run is not None}


def collector(ctx: context_mod.RunContext, spec: models.Judge) -> sequential.Collect:
    """Reads every metric's canary (the last so many seconds) and baseline samples; a pinned run is read
    from the store once."""
    factory = source_factory(ctx)
    pinned: list[tuple[baselines.Earlier | None, str | None]] = []

    async def collect(window: float) -> dict[str, judge_mod.Samples]:
        if not pinned:
            earlier: baselines.Earlier | None = None
            failed: str | None = None
            for run_id in _runs(spec):  # one pinned run per judge is the use
                try:
                    earlier = await earlier_run(ctx, run_id)
                except baselines.BaselineError as exc:
                    failed = str(exc)
            pinned.append((earlier, failed))
        earlier, failed = pinned[0]
        samples = await baselines.collect(
            spec, factory, window=window, now=ctx.clock.now(), t0=t0(ctx), earlier=earlier
        )
        if failed is not None:
            samples = {
                m.id: judge_mod.Samples(canary=(), baseline=(), error=failed)
                if spec.baseline_of(m).run is not None
                else samples[m.id]
                for m in spec.metrics
            }
        return samples

    return collect


async def judge_now(ctx: context_mod.RunContext, spec: models.Judge, window: float) -> judge_mod.Judgement:
    """Read every metric's canary (the last ``window`` seconds) and baseline samples, and judge them."""
    return judge_mod.judge(spec, await collector(ctx, spec)(window))


def watcher(ctx: context_mod.RunContext, step: models.Step) -> sequential.SequentialWatch | None:
    """The sequential watch of an observe step's judge (``sequential: true``), as a trigger of the window."""
    spec = step.judge
    if spec is None or not spec.sequential:
        return None
    return sequential.SequentialWatch(f"{step.id}.judge", spec, collector(ctx, spec), ctx.clock)


def end_of_window(spec: models.Judge) -> models.Judge:
    """The judge at the end of the window: with a sequential watch, on the alpha the watch did not spend."""
    if not spec.sequential:
        return spec
    return spec.model_copy(update={"alpha": spec.alpha * (1 - sequential.WATCH_SHARE)})


async def _spec(ctx: context_mod.RunContext, step: models.Step) -> models.Judge | Result:
    """The step's judge (its ``with`` rendered and validated), or the error Result."""
    spec = await ctx.validated(models.Judge, step.with_)
    if isinstance(spec, Result):
        return spec
    if spec.window is None:
        return Result.error("a judge check needs 'window' (e.g. '30m')")
    return spec


async def judge_result(ctx: context_mod.RunContext, step: models.Step) -> Result:
    """A judge check outside the phase flow (hypercare), where nobody is asked: PASS passes; FAIL, and
    MARGINAL or INCONCLUSIVE (which would ask the IC), fail closed, with the judgement in the details."""
    spec = await _spec(ctx, step)
    if isinstance(spec, Result):
        return spec
    judgement = await judge_now(ctx, spec, spec.window or 0.0)
    details = {"judge": judgement.event_data()}
    if judgement.verdict is judge_mod.Verdict.PASS:
        return Result.ok(judgement.summary(), details=details)
    extra = "" if judgement.verdict is judge_mod.Verdict.FAIL else " (outside a phase nobody is asked: fails closed)"
    return Result.fail(judgement.summary() + extra, details=details)


async def judge_check(engine: context_mod.StepHost, step: models.Step) -> None:
    """A ``type: judge`` check step."""
    st = engine.h.state.step(step.id)
    if st.status == "waiting" and st.waiting_for == "pause":  # resumed while the IC decides
        await engine.wait_pause(step)
        await _record(engine, step, Result.ok(f"{st.summary}; GO after pause"), "")
        return
    started = clock_mod.utc_iso(engine.clock.now())
    await engine.emit("step_started", step_id=step.id, attempt=1)
    spec = await _spec(engine.ctx, step)
    if isinstance(spec, Result):
        await _record(engine, step, spec, started)
        return
    judgement = await judge_now(engine.ctx, spec, spec.window or 0.0)
    await decide(engine, step, spec, judgement, started, rollback_on_fail=False)


async def decide(
    engine: context_mod.StepHost,
    step: models.Step,
    spec: models.Judge,
    judgement: judge_mod.Judgement,
    started: str,
    *,
    rollback_on_fail: bool,
) -> None:
    """Record the verdict: PASS passes, FAIL fails (and rolls back when asked), MARGINAL and INCONCLUSIVE
    pause for the IC with the judge's deadline and default."""
    details = {"judge": judgement.event_data()}
    summary = judgement.summary()
    verdict = judgement.verdict
    if verdict is judge_mod.Verdict.PASS:
        await _record(engine, step, Result.ok(summary, details=details), started)
        return
    if verdict is judge_mod.Verdict.FAIL:
        await _record(engine, step, Result.fail(summary, details=details), started)
        if rollback_on_fail:
            raise RollbackNow(f"judge of {step.id} failed: {judgement.reason}", f"judge:{step.id}", "trigger")
        return
    deadline_s = spec.deadline or engine.runbook.settings.decision_deadline or DEFAULT_PAUSE_DEADLINE
    deadline = engine.clock.now() + timedelta(seconds=deadline_s)
    await engine.emit(
        "step_waiting",
        step_id=step.id,
        what="pause",
        trigger=f"judge:{step.id}",
        reason=engine.redactor.redact(summary),
        deadline=clock_mod.utc_iso(deadline),
        default=spec.default,
        remaining=0.0,
        details=engine.redactor.redact_obj(details),
        summary=engine.redactor.redact(summary),
    )
    await engine.notify(
        "pause",
        trigger={"id": f"judge:{step.id}", "title": step.title or step.id, "reason": summary},
        deadline=clock_mod.utc_iso(deadline),
        default=spec.default,
    )
    await engine.wait_pause(step)  # NO-GO (or a rollback default) rolls back from here
    dec = engine.h.state.decision or {}
    await _record(
        engine,
        step,
        Result.ok(f"{summary}; {str(dec.get('decision')).upper()} by {dec.get('by')}", details=details),
        started,
    )


async def _record(engine: context_mod.StepHost, step: models.Step, result: Result, started: str) -> None:
    st = engine.h.state.step(step.id)
    began = st.started_at or started
    at = parse_ts(began)
    took = (engine.clock.now() - at).total_seconds() if at else 0.0
    await engine.record_result(step, result, 1, began, took, "step_finished")
