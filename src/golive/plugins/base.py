"""What a plugin is: a class with a name, a pydantic params model, a read-only flag and an async method.

Five kinds share one registry (:mod:`golive.plugins.registry`):

- ``check``  -- :class:`CheckPlugin`, ``async run(ctx) -> Result``; read-only by definition.
- ``action`` -- :class:`ActionPlugin`, ``async run(ctx) -> Result``; changes something. In dry-run mode
  the engine calls ``describe(ctx)`` instead, unless the action declares itself ``read_only``.
- ``secret`` -- :class:`SecretProvider`, ``async resolve(ref) -> str``.
- ``flag``   -- :class:`FlagProvider`, ``async get(name)`` / ``async set(name, value)``.
- ``metric`` -- :class:`MetricSource`, ``async read(ctx) -> MetricReading``.

Params models are frozen and forbid unknown keys; the runbook's JSON Schema is generated from them.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from golive import clock as clock_mod
from golive import results

if TYPE_CHECKING:
    import httpx

    from golive.plugins import _http

__all__ = [
    "KINDS",
    "ActionPlugin",
    "CheckPlugin",
    "FlagProvider",
    "MetricSource",
    "Params",
    "Plugin",
    "PluginKind",
    "SecretProvider",
    "SecretRefParams",
    "StepContext",
]

PluginKind = Literal["check", "action", "secret", "flag", "metric"]
KINDS: tuple[PluginKind, ...] = ("check", "action", "secret", "flag", "metric")


class Params(BaseModel):
    """Base of every plugin's params model: frozen, keyword-only, unknown keys refused."""

    # defer_build: a params model builds its validator when first used, so loading the registry stays cheap.
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, defer_build=True)


class Plugin(abc.ABC):
    """Common shape of every plugin class."""

    name: ClassVar[str]
    kind: ClassVar[PluginKind]
    params: ClassVar[type[Params]]
    read_only: ClassVar[bool] = False
    description: ClassVar[str] = ""


@dataclass
class StepContext:
    """Everything a check or action sees while it runs one step.

    ``params`` is the plugin's params model, already rendered (vars, secrets, earlier outputs) and
    validated. Secret values inside it are registered with the redactor before the plugin runs.
    """

    params: Any
    step_id: str = "adhoc"
    run_id: str | None = None
    timeout: float = 30.0  # seconds
    dry_run: bool = False
    clock: clock_mod.Clock = field(default_factory=clock_mod.SystemClock)
    workdir: Path = field(default_factory=Path.cwd)
    release: Mapping[str, Any] = field(default_factory=dict)
    http_client: Callable[[], httpx.AsyncClient] | None = None
    # The run's pooled client used by the built-in HTTP plugins (aiohttp underneath; see plugins/_http.py).
    # The engine makes one per run with golive.plugins._util.make_http_client() and closes it at the end.
    http_pool: Callable[[], _http.HttpClient] | None = None
    secret: Callable[[str], Awaitable[str]] | None = None
    secret_provider: Callable[[str, Mapping[str, Any]], SecretProvider] | None = None
    flag_provider: Callable[[str | None], FlagProvider] | None = None
    redact: Callable[[str], str] = field(default=lambda s: s)
    log: Callable[[str], None] = field(default=lambda s: None)

    def http(self) -> httpx.AsyncClient:
        """The run's shared HTTP client (connection pooling across checks)."""
        if self.http_client is None:
            raise RuntimeError("no HTTP client in this context")
        return self.http_client()


class CheckPlugin(Plugin):
    """A read-only assertion."""

    kind: ClassVar[PluginKind] = "check"
    read_only: ClassVar[bool] = True

    @abc.abstractmethod
    async def run(self, ctx: StepContext) -> results.Result: ...


class ActionPlugin(Plugin):
    """Something that changes the world. Recorded at most once by the engine."""

    kind: ClassVar[PluginKind] = "action"

    @abc.abstractmethod
    async def run(self, ctx: StepContext) -> results.Result: ...

    def describe(self, ctx: StepContext) -> str:
        """What ``run`` would do, for dry-run mode and the plan. Never has a side effect."""
        return f"{self.name}: {ctx.params.model_dump(mode='json', exclude_none=True)}"


class SecretRefParams(Params):
    """Provider options of a secret reference (subclassed per provider)."""


class SecretProvider(Plugin):
    """Resolves a secret reference to its value. The value never enters an output."""

    kind: ClassVar[PluginKind] = "secret"
    read_only: ClassVar[bool] = True

    def __init__(self, options: Params) -> None:
        self.options = options

    @abc.abstractmethod
    async def resolve(self, secret_id: str, key: str | None = None) -> str: ...

    async def exists(self, secret_id: str, key: str | None = None) -> bool:
        try:
            await self.resolve(secret_id, key)
        except Exception:
            return False
        return True


class FlagProvider(Plugin):
    """Reads and writes feature flags (kill switches) in one backend."""

    kind: ClassVar[PluginKind] = "flag"

    def __init__(self, options: Params) -> None:
        self.options = options

    @abc.abstractmethod
    async def get(self, name: str) -> Any: ...

    @abc.abstractmethod
    async def set(self, name: str, value: Any) -> None: ...

    async def get_all(self, names: list[str]) -> dict[str, Any]:
        return {n: await self.get(n) for n in names}


class MetricSource(Plugin):
    """Reads one number for a trigger: a value, ``no_data`` or an error."""

    kind: ClassVar[PluginKind] = "metric"
    read_only: ClassVar[bool] = True

    @abc.abstractmethod
    async def read(self, ctx: StepContext) -> results.MetricReading: ...
