"""Flag action: set feature flags (kill switches), then read each back to prove it took."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from golive import exceptions, results
from golive.plugins import _util, base

__all__ = ["FlagAction", "FlagActionParams", "flag_equal"]


class FlagActionParams(base.Params):
    """Flags to set, and the provider that holds them."""

    flags: dict[str, Any] = Field(
        min_length=1, description="Flag name -> value, e.g. {order_status_outbound_enabled: false}."
    )
    provider: str | None = Field(
        default=None, description="Flag provider name from the runbook (default: the default)."
    )


def flag_equal(want: Any, got: Any) -> bool:
    """The value read back is the one written; text backends (dotenv) give ``"false"`` for ``false``."""
    if _util.same(got, want):
        return True
    if isinstance(got, str) and not isinstance(want, str):
        rendered = ("true" if want else "false") if isinstance(want, bool) else str(want)
        return got.strip().lower() == rendered.lower()
    return False


class FlagAction(base.ActionPlugin):
    """Set one or more flags through a flag provider, then read each back; FAIL if any differs."""

    name = "flag"
    params = FlagActionParams
    description = "Set feature flags via a flag provider and verify each by reading it back."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: FlagActionParams = ctx.params
        if ctx.flag_provider is None:
            return _util.finish(ctx, results.Outcome.ERROR, "no flag provider is configured for this run")
        where = p.provider or "the default flag provider"
        try:
            provider = ctx.flag_provider(p.provider)
        except exceptions.GoliveError as exc:
            return _util.finish(ctx, results.Outcome.ERROR, exc.message)
        changes: dict[str, dict[str, Any]] = {}
        mismatches: list[str] = []
        for name, want in p.flags.items():
            try:
                before = await provider.get(name)
            except Exception:
                before = None  # an unset flag may raise in some backends; the write is what matters
            try:
                await provider.set(name, want)
                after = await provider.get(name)
            except Exception as exc:  # a backend failure mid-way is an error, never a silent pass
                reason = exc.message if isinstance(exc, exceptions.GoliveError) else f"{type(exc).__name__}: {exc}"
                changes[name] = {"before": before, "wanted": want, "after": None}
                return _util.finish(
                    ctx,
                    results.Outcome.ERROR,
                    f"setting {name} via {where} failed: {reason}",
                    output={"flags": changes},
                )
            changes[name] = {"before": before, "wanted": want, "after": after}
            if not flag_equal(want, after):
                mismatches.append(f"{name} reads back {_util.fmt(after)}, expected {_util.fmt(want)}")
        if mismatches:
            return _util.finish(ctx, results.Outcome.FAIL, "; ".join(mismatches), output={"flags": changes})
        shown = ", ".join(f"{n}={_util.fmt(v)}" for n, v in p.flags.items())
        return _util.finish(ctx, results.Outcome.PASS, f"set {shown} (read back)", output={"flags": changes})

    def describe(self, ctx: base.StepContext) -> str:
        p: FlagActionParams = ctx.params
        shown = ", ".join(f"{n}={_util.fmt(v)}" for n, v in p.flags.items())
        return ctx.redact(f"would set {shown} via {p.provider or 'the default flag provider'}")
