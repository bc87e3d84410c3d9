"""One plugin step: its params rendered and validated, the plugin called under the step's timeout, retries.

Rules it keeps:

- Params are rendered (vars, secrets, earlier outputs) and validated by the plugin's params model; a bad one
  is an ``error`` result naming the field, its message redacted.
- A plugin runs under the step's timeout (``settings.default_timeout`` when it has none): past it, ``error``.
  What it raises, and what it returns that is not a ``Result``, fails closed as ``error``, redacted.
- A check is retried on fail/error as its retry policy says, backing off on the run's clock.
- Everything a result carries out (summary, details, output) is redacted with the run's redactor.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from golive import clock as clock_mod
from golive import exceptions
from golive.engine import context as context_mod
from golive.plugins import base as plugin_base
from golive.results import Evidence, Outcome, Result
from golive.spec import durations, models

__all__ = [
    "backoff",
    "call_plugin",
    "check_result",
    "record_result",
    "render_params",
    "run_plugin_step",
    "store_evidence",
]


async def render_params(ctx: context_mod.RunContext, cls: type[plugin_base.Plugin], step: models.Step) -> Any:
    """The step's params rendered (vars, secrets, earlier outputs) and validated, or an error Result."""
    return await ctx.validated(cls.params, step.with_)


async def call_plugin(ctx: context_mod.RunContext, plugin: Any, pctx: plugin_base.StepContext) -> Result:
    """Run a check or an action under the step's timeout; whatever goes wrong is an ``error`` result."""
    try:
        async with asyncio.timeout(pctx.timeout):
            result = await plugin.run(pctx)
        if not isinstance(result, Result):
            return Result.error(f"plugin returned {type(result).__name__}, not a Result")
        return result
    except TimeoutError:
        return Result.error(f"timed out after {pctx.timeout:g}s")
    except exceptions.GoliveError as exc:
        return Result.error(ctx.redactor.redact(exc.message))
    except Exception as exc:  # a plugin bug or an unexpected failure fails closed
        return Result.error(ctx.redactor.redact(f"{type(exc).__name__}: {exc}"))


def backoff(policy: models.Retries, attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): backoff * factor^(attempt-1), capped."""
    return float(min(policy.backoff * policy.factor ** (attempt - 1), policy.max_backoff))


async def check_result(ctx: context_mod.RunContext, step: models.Step) -> Result:
    """Run a check step outside the phase flow (hypercare, a decision's recheck): same params, timeout,
    retries and redaction, no step events (the caller records the result)."""
    if step.kind is not models.StepKind.CHECK or step.type is None:
        return Result.error(f"{step.id} is a {step.kind.value} step; only check steps run here")
    if step.type == models.JUDGE_CHECK:
        # Imported for a judge check only: the canary judge brings numpy and scipy (about 0.55 s and 77 MB).
        from golive.engine import judging

        return await judging.judge_result(ctx, step)
    cls = ctx.registry.get("check", step.type)
    if cls is None:
        return Result.error(f"unknown check type {step.type!r}")
    policy = step.retry_policy
    for attempt in range(1, policy.attempts + 1):
        prepared = await render_params(ctx, cls, step)
        if isinstance(prepared, Result):
            return prepared
        result = await call_plugin(ctx, cls(), ctx.step_context(step, prepared))
        if result.outcome not in (Outcome.FAIL, Outcome.ERROR) or attempt == policy.attempts:
            break
        await ctx.clock.sleep(backoff(policy, attempt))
    return result.model_copy(
        update={
            "summary": ctx.redactor.redact(result.summary),
            "details": ctx.redactor.redact_obj(result.details),
            "output": ctx.redactor.redact_obj(result.output),
        }
    )


async def run_plugin_step(host: context_mod.StepHost, step: models.Step) -> None:
    kind = "check" if step.kind is models.StepKind.CHECK else "action"
    assert step.type is not None
    cls = host.ctx.registry.get(kind, step.type)  # type: ignore[arg-type]
    if step.steady is not None and cls is not None and not (host.ctx.dry_run and not cls.read_only):
        await run_steady(host, step, cls, step.steady)
        return
    policy = step.retry_policy
    attempt = 0
    started_wall = clock_mod.utc_iso(host.clock.now())
    t0 = host.clock.monotonic()
    result: Result
    while True:
        attempt += 1
        if cls is None:
            result = Result.error(f"unknown {kind} type {step.type!r}")
            break
        prepared = await render_params(host.ctx, cls, step)
        if isinstance(prepared, Result):
            result = prepared
            break
        params = prepared
        ctx = host.ctx.step_context(step, params)
        plugin = cls()
        is_action = kind == "action"
        dry = host.ctx.dry_run and not cls.read_only
        if dry:
            # Only plugins that declare read_only run in a dry run; the rest say what they would do.
            would = (
                plugin.describe(ctx)
                if isinstance(plugin, plugin_base.ActionPlugin)
                else f"run the {kind} {step.type!r}, which is not read-only"
            )
            result = Result(
                outcome=Outcome.SKIPPED,
                # Built-in describe() texts already start with "would"; others get it here.
                summary=host.redactor.redact(f"dry-run: {would if would.startswith('would ') else 'would ' + would}"),
                details={"dry_run": True},
            )
            break
        if is_action:
            desc = plugin.describe(ctx) if isinstance(plugin, plugin_base.ActionPlugin) else step.type
            await host.emit(
                "action_started",
                step_id=step.id,
                attempt=attempt,
                describe=host.redactor.redact(desc)[: context_mod.EXCERPT_LIMIT],
            )
        else:
            await host.emit("step_started", step_id=step.id, attempt=attempt)
        if is_action:
            # action_started is durable; a process frozen since (SIGSTOP, a stalled VM) may have lost the
            # run meanwhile: check once more, here, right before the side effect.
            if host.h.ownership is not None:
                host.h.ownership.check()
            # At most once, and never left open: a rollback that cancels this step waits for the side
            # effect to finish and records it before the cancellation goes on.
            inner = asyncio.ensure_future(call_plugin(host.ctx, plugin, ctx))
            try:
                result = await asyncio.shield(inner)
            except asyncio.CancelledError:
                result = await inner
                await record_result(
                    host, step, result, attempt, started_wall, host.clock.monotonic() - t0, "action_finished"
                )
                raise
        else:
            result = await call_plugin(host.ctx, plugin, ctx)
        if result.outcome in (Outcome.FAIL, Outcome.ERROR) and attempt < policy.attempts and not is_action:
            wait = backoff(policy, attempt)
            await host.emit(
                "step_retry",
                step_id=step.id,
                attempt=attempt,
                wait=wait,
                summary=host.redactor.redact(result.summary)[: context_mod.EXCERPT_LIMIT],
            )
            await host.clock.sleep(wait)
            continue
        if (
            result.outcome in (Outcome.FAIL, Outcome.ERROR)
            and attempt < policy.attempts
            and is_action
            and step.idempotent
        ):
            wait = backoff(policy, attempt)
            await host.emit(
                "action_finished",
                step_id=step.id,
                outcome=result.outcome.value,
                attempt=attempt,
                summary=host.redactor.redact(result.summary)[: context_mod.EXCERPT_LIMIT],
                final=False,
            )
            await host.emit("step_retry", step_id=step.id, attempt=attempt, wait=wait, summary=result.summary[:200])
            await host.clock.sleep(wait)
            continue
        break
    await record_result(
        host,
        step,
        result,
        attempt,
        started_wall,
        host.clock.monotonic() - t0,
        "action_finished"
        if kind == "action" and not (host.ctx.dry_run and cls and not cls.read_only)
        else "step_finished",
    )


async def run_steady(
    host: context_mod.StepHost, step: models.Step, cls: type[plugin_base.Plugin], spec: models.Steady
) -> None:
    """A steady gate: probe the check every ``spec.every``; it passes once it held continuously for
    ``spec.for_`` (a breach, an error included, restarts the clock), else ends ``spec.on_timeout`` at the
    limit. Every probe is recorded (``step_probe``) so the evidence shows when the clock restarted."""
    started_wall = clock_mod.utc_iso(host.clock.now())
    t0 = host.clock.monotonic()
    await host.emit("step_started", step_id=step.id, attempt=1)
    held_since: float | None = None
    longest = 0.0
    probes = 0
    breaches = 0
    while True:
        prepared = await render_params(host.ctx, cls, step)
        result = (
            prepared
            if isinstance(prepared, Result)
            else await call_plugin(host.ctx, cls(), host.ctx.step_context(step, prepared))
        )
        probes += 1
        now = host.clock.monotonic()
        if result.outcome in (Outcome.PASS, Outcome.WARN):
            held_since = now if held_since is None else held_since
        else:
            breaches += 1
            held_since = None
        held = now - held_since if held_since is not None else 0.0
        longest = max(longest, held)
        summary = host.redactor.redact(result.summary)[: context_mod.EXCERPT_LIMIT]
        await host.emit(
            "step_probe",
            step_id=step.id,
            probe=probes,
            outcome=result.outcome.value,
            held=round(held, 3),
            restarted=held_since is None,
            summary=summary,
        )
        what = f"steady for {durations.format_duration(spec.for_)}"
        if held_since is not None and held >= spec.for_:
            final = Result(
                outcome=Outcome.PASS,
                summary=f"{what}: held {durations.format_duration(held)} over {probes} probes ({breaches} failed and "
                f"restarted the clock); last: {summary}",
                details={"probes": probes, "breaches": breaches, "held": round(held, 3)},
                output=result.output,
            )
            break
        if now - t0 + spec.every > spec.limit:
            final = Result(
                outcome=Outcome(spec.on_timeout),
                summary=f"not {what} within {durations.format_duration(spec.limit)}: held {durations.format_duration(longest)} at most over "
                f"{probes} probes ({breaches} failed); last: {summary}",
                details={"probes": probes, "breaches": breaches, "longest": round(longest, 3)},
                output=result.output,
            )
            break
        await host.clock.sleep(spec.every)
    await record_result(host, step, final, probes, started_wall, host.clock.monotonic() - t0, "step_finished")


async def record_result(
    host: context_mod.StepHost,
    step: models.Step,
    result: Result,
    attempt: int,
    started: str,
    duration: float,
    event: str,
) -> None:
    outcome = result.outcome
    summary = result.summary
    extra: dict[str, Any] = {}
    if not step.blocking and outcome in (Outcome.FAIL, Outcome.ERROR):
        summary = f"{outcome.value} (non-blocking): {summary}"
        extra["downgraded_from"] = outcome.value  # a decision that requires this step still sees the failure
        outcome = Outcome.WARN
    evidence = [await store_evidence(host, e) for e in result.evidence]
    await host.emit(
        event,
        **extra,
        step_id=step.id,
        outcome=outcome.value,
        summary=host.redactor.redact(summary)[: context_mod.EXCERPT_LIMIT],
        details=host.redactor.redact_obj(result.details),
        output=host.redactor.redact_obj(result.output),
        evidence=evidence,
        duration=round(duration, 6),
        attempt=attempt,
        started_at=started,
    )
    if outcome in (Outcome.FAIL, Outcome.ERROR):
        await host.notify(
            "step_failed",
            step={
                "id": step.id,
                "title": step.title or step.id,
                "outcome": outcome.value.upper(),
                "summary": host.redactor.redact(summary),
            },
        )


async def store_evidence(host: context_mod.StepHost, ev: Evidence) -> dict[str, Any]:
    data = ev.content
    if ev.media_type.startswith("text/") or ev.media_type in ("application/json",):
        with contextlib.suppress(UnicodeDecodeError):
            data = host.redactor.redact(data.decode("utf-8")).encode("utf-8")
    digest = await host.h.store.put_blob(data, ev.media_type)
    return {"name": ev.name, "sha256": digest, "size": len(data), "media_type": ev.media_type}
