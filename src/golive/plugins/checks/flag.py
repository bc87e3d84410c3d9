"""The ``flag`` check: "flag X is Y", read through any flag provider."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from golive import exceptions, results
from golive.plugins import _util, base
from golive.plugins.actions.flag import flag_equal

__all__ = ["FlagCheck", "FlagCheckParams", "FlagSource", "matches"]


class FlagSource(base.Params):
    """A flag provider given in the step itself: a ``flag`` plugin type and its options."""

    type: str = Field(description="Flag provider type, e.g. launchdarkly, ofrep, unleash, flagd.")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with", description="The provider's options.")


class FlagCheckParams(base.Params):
    """A flag and the value it must have."""

    flag: str = Field(min_length=1, description="Flag name (key), e.g. orders.write_new_db.")
    is_: Any = Field(alias="is", description="The value the flag must have, e.g. false, 'on', 25.")
    provider: str | None = Field(
        default=None, description="Flag provider name from the runbook (default: the runbook's `flags.provider`)."
    )
    source: FlagSource | None = Field(
        default=None,
        description="A flag provider for this check only ({type, with}), e.g. an OFREP endpoint next to the "
        "runbook's LaunchDarkly provider. Give `provider` or `source`, not both.",
    )

    @model_validator(mode="after")
    def _one_provider(self) -> FlagCheckParams:
        if self.provider is not None and self.source is not None:
            raise ValueError("give either `provider` or `source`, not both")
        return self


_TRUE, _FALSE = ("true", "on", "enabled", "1"), ("false", "off", "disabled", "0")


def matches(want: Any, got: Any) -> bool:
    """The provider's value is the expected one; an on/off flag also matches `on`/`off`, `true`/`false` text."""
    if flag_equal(want, got):
        return True
    if isinstance(got, bool) and isinstance(want, str):
        return want.strip().lower() in (_TRUE if got else _FALSE)
    return False


def _provider(ctx: base.StepContext, p: FlagCheckParams) -> base.FlagProvider:
    if p.source is not None:
        from golive.plugins import registry  # here: the registry loads every built-in module

        cls = registry.default_registry().get("flag", p.source.type)
        if cls is None:
            known = ", ".join(registry.default_registry().names("flag"))
            raise exceptions.UsageError(f"unknown flag provider type {p.source.type!r} (known: {known})")
        try:
            options = cls.params.model_validate(p.source.with_)
        except ValueError as exc:
            raise exceptions.UsageError(f"flag provider {p.source.type!r}: {exc}") from None
        return cls(options)  # type: ignore[call-arg,return-value]
    if ctx.flag_provider is None:
        raise exceptions.UsageError("no flag provider is configured for this run (flags.provider, or `source`)")
    return ctx.flag_provider(p.provider)


class FlagCheck(base.CheckPlugin):
    """Read one flag and compare it with the expected value; a read that fails is an error, never a pass."""

    name = "flag"
    params = FlagCheckParams
    description = "A feature flag has the expected value, read through any flag provider."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: FlagCheckParams = ctx.params
        where = p.source.type if p.source else (p.provider or "the default flag provider")
        try:
            provider = _provider(ctx, p)
            value = await provider.get(p.flag)
        except exceptions.GoliveError as exc:
            return _util.finish(ctx, results.Outcome.ERROR, f"reading {p.flag} via {where} failed: {exc.message}")
        except Exception as exc:  # a backend bug is an error, never a silent pass
            return _util.finish(
                ctx, results.Outcome.ERROR, f"reading {p.flag} via {where} failed: {type(exc).__name__}: {exc}"
            )
        output = {"flag": p.flag, "value": value, "expected": p.is_, "provider": where}
        if not matches(p.is_, value):
            return _util.finish(
                ctx,
                results.Outcome.FAIL,
                f"{p.flag} is {_util.fmt(value)} via {where}, expected {_util.fmt(p.is_)}",
                output=output,
            )
        return _util.finish(ctx, results.Outcome.PASS, f"{p.flag} is {_util.fmt(value)} via {where}", output=output)
