"""Environment variable and secret checks. Neither ever shows a secret value."""

from __future__ import annotations

import os
import sys
from typing import Any, Literal

from pydantic import Field, model_validator

from golive import exceptions, results
from golive.plugins import _util, base

__all__ = ["EnvCheck", "EnvParams", "SecretCheck", "SecretParams", "get_secret_provider"]

EnvState = Literal["present", "equals", "not_equals", "absent"]


class EnvParams(base.Params):
    """An environment variable of the golive process and the state it must be in."""

    name: str = Field(description="Variable name, e.g. ORDER_STATUS_OUTBOUND_ENABLED.", min_length=1)
    state: EnvState = Field(default="present", description="present, equals, not_equals or absent.")
    value: str | None = Field(default=None, description="The value compared with for equals / not_equals.")
    allow_empty: bool = Field(default=False, description="For `present`: an empty value counts as present.")
    secret: bool | None = Field(
        default=None,
        description="Never show the value. Default: on for names that look secret (TOKEN, KEY, PASSWORD...).",
    )

    @model_validator(mode="after")
    def _value_needed(self) -> EnvParams:
        if self.state in ("equals", "not_equals") and self.value is None:
            raise ValueError(f"state {self.state} needs `value`")
        return self


class EnvCheck(base.CheckPlugin):
    """An environment variable is present, absent, or has (or has not) a value."""

    name = "env"
    params = EnvParams
    description = "Environment variable present / equals / not_equals / absent; secret values never shown."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: EnvParams = ctx.params
        hidden = p.secret if p.secret is not None else _util.looks_secret(p.name)
        # A stubbed rehearsal reads the stubs' `env:` only, never the real process environment.
        mod = sys.modules.get("golive.plugins.stubs")
        transport = None if mod is None else mod.active()
        if transport is not None:
            try:
                seen = transport.env(p.name)
            except exceptions.PluginError as exc:
                return _util.finish(ctx, results.Outcome.ERROR, exc.message, output={"present": False})
        else:
            seen = os.environ.get(p.name)
        present = seen is not None and (p.allow_empty or seen != "")
        shown = "(hidden)" if hidden or seen is None else _util.fmt(seen)
        output: dict[str, Any] = {"present": present}
        if p.state == "present":
            ok = present
            why = f"{p.name} is {'empty' if seen == '' else 'not set'}, expected it to be set"
        elif p.state == "absent":
            ok = seen is None
            why = f"{p.name} is set ({shown}), expected it to be absent"
        elif p.state == "equals":
            ok = seen == p.value
            if seen is None:
                why = f"{p.name} is not set, expected {'the expected value' if hidden else _util.fmt(p.value)}"
            elif hidden:
                why = f"{p.name} differs from the expected value (value hidden)"
            else:
                why = f"{p.name} is {shown}, expected {_util.fmt(p.value)}"
        else:
            ok = seen != p.value
            why = f"{p.name} equals the value it must not have" + ("" if hidden else f" ({_util.fmt(p.value)})")
        if not hidden and seen is not None:
            output["value"] = seen
        if ok:
            state = {
                "present": "is set",
                "absent": "is not set",
                "equals": "has the expected value",
                "not_equals": "does not have the refused value",
            }[p.state]
            return _util.finish(ctx, results.Outcome.PASS, f"{p.name} {state}", output=output)
        return _util.finish(ctx, results.Outcome.FAIL, why, output=output)


def get_secret_provider(ctx: base.StepContext, name: str, options: dict[str, Any]) -> base.SecretProvider:
    """The engine's provider factory if it gave one, else the registry's provider with these options."""
    if ctx.secret_provider is not None:
        return ctx.secret_provider(name, options)
    from golive.plugins import registry  # late: the registry imports this package

    cls = registry.default_registry().get("secret", name)
    if cls is None:
        known = ", ".join(registry.default_registry().names("secret"))
        raise exceptions.UsageError(f"unknown secret provider {name!r}; known: {known}")
    assert issubclass(cls, base.SecretProvider)
    return cls(cls.params.model_validate(options))


class SecretParams(base.Params):
    """A secret that must exist in its provider."""

    provider: str = Field(description="Secret provider: env, file, aws-secretsmanager, vault, or a plugin's.")
    id: str = Field(description="The secret's id in the provider (name, path or ARN).", min_length=1)
    key: str | None = Field(default=None, description="A key inside a JSON / KV secret that must exist too.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Provider options, e.g. {region: us-east-2, profile: rp-admin-prod}."
    )
    not_empty: bool = Field(default=True, description="An empty value counts as missing.")


class SecretCheck(base.CheckPlugin):
    """A secret exists in its provider (its value is fetched to prove it and never shown)."""

    name = "secret"
    params = SecretParams
    description = "Secret exists in its provider (env, file, aws-secretsmanager, vault); value never output."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: SecretParams = ctx.params
        label = f"{p.id}" + (f"[{p.key}]" if p.key else "")
        output = {"present": False, "provider": p.provider}
        try:
            provider = get_secret_provider(ctx, p.provider, p.options)
            value = await provider.resolve(p.id, p.key)
        except _util.SecretMissing as exc:
            return _util.finish(
                ctx, results.Outcome.FAIL, f"secret {label} is missing in {p.provider}: {exc.message}", output=output
            )
        except exceptions.UsageError as exc:
            return _util.finish(ctx, results.Outcome.ERROR, exc.message, output=output)
        except Exception as exc:  # any provider failure (network, permissions) is an error, never a pass
            reason = exc.message if isinstance(exc, exceptions.GoliveError) else f"{type(exc).__name__}: {exc}"
            return _util.finish(
                ctx, results.Outcome.ERROR, f"cannot read secret {label} from {p.provider}: {reason}", output=output
            )
        if p.not_empty and value == "":
            return _util.finish(ctx, results.Outcome.FAIL, f"secret {label} is empty in {p.provider}", output=output)
        output["present"] = True
        return _util.finish(ctx, results.Outcome.PASS, f"secret {label} is present in {p.provider}", output=output)
