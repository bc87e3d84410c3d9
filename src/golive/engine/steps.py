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
from typing import Any

from pydantic import ValidationError

from golive import exceptions
from golive.engine import context as context_mod
from golive.engine import judging
from golive.plugins import base as plugin_base
from golive.results import Outcome, Result
from golive.spec import models, refs

__all__ = ["backoff", "call_plugin", "check_result", "params"]


async def params(ctx: context_mod.RunContext, cls: type[plugin_base.Plugin], step: models.Step) -> Any:
    """The step's params rendered (vars, secrets, earlier outputs) and validated, or an error Result."""
    try:
        return cls.params.model_validate(await ctx.render(step.with_) if step.with_ else {})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return Result.error(f"params: {where}: {ctx.redactor.redact(first['msg'])}")
    except (exceptions.GoliveError, refs.RefError) as exc:
        return Result.error(ctx.redactor.redact(str(exc)))


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
        return await judging.judge_result(ctx, step)
    cls = ctx.registry.get("check", step.type)
    if cls is None:
        return Result.error(f"unknown check type {step.type!r}")
    policy = step.retry_policy
    for attempt in range(1, policy.attempts + 1):
        prepared = await params(ctx, cls, step)
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
