"""A run's context: what its steps see of the run (vars, secrets, flags, the pooled HTTP client, the redactor).

Rules it keeps:

- Vars are the values the run was created with: the creating process's own, else the stored ones (redacted);
  a var withheld from the store (it held a secret or personal data) comes from ``GOLIVE_VAR_<NAME>`` or
  ``--var``, and a reference to one still missing fails with how to give it, never renders empty. A var
  declared to hold code (``type: sql``) is set only by the runbook or at the start, never overridden later.
  Typed vars are coerced; the value of a var named like a secret is registered with the redactor.
- A secret is resolved once per run through its provider (the stubs, in a stubbed rehearsal) and registered
  with the redactor before any step sees it; a provider's failure is a ``SecretError`` with its message
  redacted. Secrets are never stored: the log keeps placeholders.
- One pooled HTTP client per run, made on first use, closed by :meth:`RunContext.aclose`.
- :meth:`RunContext.step_context` is what a plugin sees of one step (``golive.plugins.base.StepContext``).

The engine holds one per run; an act (``golive confirm``, the API) makes its own to redact what a person typed
with the run's local secrets, and a decision's recheck runs its checks on one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from pydantic import BaseModel, ValidationError

from golive import clock as clock_mod
from golive import exceptions
from golive import redact as redact_mod
from golive.engine import handle as handle_mod
from golive.plugins import base as plugin_base
from golive.plugins import registry as registry_mod
from golive.results import Result
from golive.spec import loader, models, refs, vartypes

if TYPE_CHECKING:
    from golive.plugins import stubs
    from golive.watch import triggers as triggers_mod

__all__ = ["EXCERPT_LIMIT", "INTERNAL_ACTOR", "LOCAL_SECRET_PROVIDERS", "RollbackNow", "RunContext", "StepHost"]

EXCERPT_LIMIT = 4000  # characters of a summary kept in an event
INTERNAL_ACTOR = handle_mod.INTERNAL_ACTOR

# Secret providers that read this machine only (no network): their secrets are registered with the redactor
# before a phase starts even when no step of it references them, since a command inherits the environment.
LOCAL_SECRET_PROVIDERS = frozenset({"env", "file"})
_M = TypeVar("_M", bound=BaseModel)
_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9_]*:\d+>")  # a value the store keeps redacted


def _stubs_active() -> stubs.StubTransport | None:
    """The stubs a rehearsal put in place of the outside world, or None. Stubs are active only once
    golive.plugins.stubs was imported (by a run that uses them): other runs never import it."""
    mod = sys.modules.get("golive.plugins.stubs")
    return None if mod is None else cast("stubs.StubTransport | None", mod.active())


def _stubs_recording() -> stubs.Recorder | None:
    """The recorder of a recording rehearsal, or None (see :func:`_stubs_active`)."""
    mod = sys.modules.get("golive.plugins.stubs")
    return None if mod is None else cast("stubs.Recorder | None", mod.recording())


class RunContext:
    """Vars, secrets, flags, the HTTP pool and the redactor of one run, in this process."""

    def __init__(
        self,
        handle: handle_mod.RunHandle,
        *,
        clock: clock_mod.Clock | None = None,
        registry: registry_mod.Registry | None = None,
        var_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.h = handle
        self.runbook = handle.runbook
        self.clock = clock or handle.store.clock
        self.registry = registry or registry_mod.default_registry()
        self.redactor = handle.redactor()
        self.dry_run = handle.state.mode == "dry-run"
        self.vars: dict[str, Any] = {}
        self.withheld: set[str] = set()
        self._load_vars(var_overrides or {})
        self._secret_values: dict[str, str] = {}
        self._secret_lock = asyncio.Lock()
        self._http: Any = None
        self._workdir: Path | None = None

    def _load_vars(self, overrides: dict[str, Any]) -> None:
        h, rb = self.h, self.runbook
        self.vars = {**h.loaded.vars, **(h.record.params.get("vars") or {})}
        if h.raw_vars is not None:
            self.vars.update(h.raw_vars)
        else:
            for name in h.record.params.get("vars_withheld") or []:
                env_key = loader.var_env_key(name)
                if env_key in os.environ:
                    self.vars[name] = os.environ[env_key]
                else:
                    self.withheld.add(name)
        for name, value in overrides.items():
            if name in rb.vars and rb.var_type(name) in vartypes.CODE_TYPES:
                raise exceptions.UsageError(
                    f"--var {name}: variable {name!r} is declared 'type: {rb.var_type(name)}' (it holds "
                    "code), so it is set only by the runbook or when the run starts, never later"
                )
            self.vars[name] = value
            self.withheld.discard(name)
        for name in list(self.vars):
            if name in rb.vars and name not in self.withheld and self.vars[name] not in (None, ""):
                try:
                    self.vars[name] = vartypes.coerce(name, rb.var_type(name), self.vars[name])
                except ValueError as exc:
                    raise exceptions.UsageError(f"--var {name}: {exc}") from None
        for name, value in self.vars.items():
            # The value of a variable named like a secret is masked wherever a step prints it.
            text = value if isinstance(value, str) else None if value is None or isinstance(value, bool) else str(value)
            if text and redact_mod.secret_key_name(name) and not _PLACEHOLDER.fullmatch(text):
                self.redactor.add_secret(text)

    # -- secrets -----------------------------------------------------------------------------------------
    async def secret(self, name: str) -> str:
        """The value of a declared secret, resolved once per run and registered with the redactor."""
        async with self._secret_lock:
            if name in self._secret_values:
                return self._secret_values[name]
            ref = self.runbook.secrets.get(name)
            if ref is None:
                raise exceptions.SecretError(f"no secret {name!r} is declared")
            try:
                # A declaration may take its id and options from vars (`region: "${{ vars.aws_region }}"`).
                secret_id, options = refs.render((ref.id, ref.options), self.resolve)
            except refs.RefError as exc:
                raise exceptions.SecretError(f"secret {name!r}: {exc}") from None
            transport, recorder = _stubs_active(), _stubs_recording()
            if recorder is not None:
                recorder.secret(name)
            try:
                if transport is not None:  # a stubbed rehearsal: no provider is asked
                    value = transport.secret(name, secret_id, ref.key)
                else:
                    value = await self.secret_provider(ref.provider, options).resolve(secret_id, ref.key)
            except exceptions.GoliveError:
                raise
            except Exception as exc:
                raise exceptions.SecretError(
                    f"secret {name!r} ({ref.provider}:{ref.id}) could not be resolved: {self.redactor.redact(str(exc))}"
                ) from None
            self.redactor.add_secret(value)
            self._secret_values[name] = value
            return value

    def resolved(self, name: str) -> bool:
        """True once the secret ``name`` was resolved in this context."""
        return name in self._secret_values

    async def register_secrets(self, names: Iterable[str]) -> None:
        """Resolve (and so register with the redactor) each declared secret named that is not yet resolved. One
        that cannot be resolved is left to whatever needs it, which reports it."""
        for name in sorted(set(names) - self._secret_values.keys()):
            if name in self.runbook.secrets:
                with contextlib.suppress(exceptions.GoliveError):
                    await self.secret(name)

    def local_secrets(self) -> list[str]:
        """The declared secrets of this machine's providers (env, file): readable without the network."""
        return [n for n, ref in self.runbook.secrets.items() if ref.provider in LOCAL_SECRET_PROVIDERS]

    def secret_provider(self, provider: str, options: Any) -> plugin_base.SecretProvider:
        transport = _stubs_active()
        if transport is not None:  # a stubbed rehearsal: a `secret` check asks the stubs, never the provider
            return transport.secret_provider()
        cls = self.registry.get("secret", provider)
        if cls is None:
            raise exceptions.SecretError(f"unknown secret provider {provider!r}")
        opts = cls.params.model_validate(dict(options or {}))
        return cls(opts)  # type: ignore[call-arg,return-value]

    def flag_provider(self, name: str | None = None) -> plugin_base.FlagProvider:
        spec = self.runbook.flags
        transport = _stubs_active()
        stubbed = transport.flag_provider() if transport is not None else None
        if stubbed is not None:  # a stubbed rehearsal with flags: an in-memory store stands in for the vendor
            return stubbed
        if spec is None:
            raise exceptions.UsageError("the runbook declares no flags provider (flags.provider)")
        cls = self.registry.get("flag", spec.provider.type)
        if cls is None:
            raise exceptions.UsageError(f"unknown flag provider {spec.provider.type!r}")
        params = refs.render(spec.provider.with_, self.resolve)
        return cls(cls.params.model_validate(params))  # type: ignore[call-arg,return-value]

    # -- references --------------------------------------------------------------------------------------
    def resolve(self, ref: refs.Ref) -> Any:
        """A reference's value for a step: vars, resolved secrets and the environment here, the rest from the
        run's state. A withheld var or an unresolved secret fails (``SecretError``), never renders empty."""
        if ref.root == "vars" and ref.parts[1] in self.withheld:
            name = ref.parts[1]
            raise exceptions.SecretError(
                f"variable {name!r} held a secret or personal data, so it was not stored with the run; "
                f"resume with --var {name}=VALUE (or {loader.var_env_key(name)})"
            )
        if ref.root == "vars":
            return self.vars.get(ref.parts[1])
        if ref.root == "secrets":
            if ref.parts[1] not in self._secret_values:
                raise exceptions.SecretError(f"secret {ref.parts[1]!r} was not resolved")
            return self._secret_values[ref.parts[1]]
        if ref.root == "env":
            return os.environ.get(ref.parts[1], "")
        return handle_mod.resolve_ref(self.h, ref)

    async def render(self, value: Any) -> Any:
        """``value`` with its references rendered, the secrets it names resolved first."""
        names = {r.parts[1] for _, r in refs.scan(value) if isinstance(r, refs.Ref) and r.root == "secrets"}
        for n in names:
            await self.secret(n)
        return refs.render(value, self.resolve)

    async def validated(self, model: type[_M], value: dict[str, Any]) -> _M | Result:
        """A step's ``with`` rendered (:meth:`render`) and validated by ``model``, or the ``error`` Result
        naming the first bad field (its message redacted) or the reference that would not render."""
        try:
            return model.model_validate(await self.render(value) if value else {})
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            return Result.error(f"params: {where}: {self.redactor.redact(first['msg'])}")
        except (exceptions.GoliveError, refs.RefError) as exc:
            return Result.error(self.redactor.redact(str(exc)))

    # -- what plugins share ------------------------------------------------------------------------------
    def http_client(self) -> Any:
        """The run's one pooled HTTP client, created on first use and closed by :meth:`aclose`."""
        if self._http is None:
            from golive.plugins import _http

            self._http = _http.make_http_client()
        return self._http

    async def aclose(self) -> None:
        """Close what this context opened for plugins (the pooled HTTP client)."""
        if self._http is not None:
            http, self._http = self._http, None
            with contextlib.suppress(Exception):
                await http.aclose()

    @property
    def workdir(self) -> Path:
        """Where commands run: the runbook's directory, resolved once per run (a resolve per step is a syscall
        per step)."""
        if self._workdir is None:
            path = self.h.loaded.path
            self._workdir = Path(path).resolve().parent if path else Path.cwd()
        return self._workdir

    @workdir.setter
    def workdir(self, path: Path) -> None:
        self._workdir = path

    def step_context(self, step: models.Step, params: Any) -> plugin_base.StepContext:
        """What a plugin sees while it runs ``step`` with ``params`` (rendered and validated)."""
        return plugin_base.StepContext(
            params=params,
            step_id=step.id,
            run_id=self.h.run_id,
            timeout=step.timeout or self.runbook.settings.default_timeout,
            dry_run=self.dry_run,
            clock=self.clock,
            workdir=self.workdir,
            release=self.runbook.release.model_dump(mode="json", exclude_none=True),
            http_pool=self.http_client,
            secret=self.secret,
            secret_provider=self.secret_provider,
            flag_provider=self.flag_provider,
            redact=self.redactor.redact,
            log=lambda s: None,
        )


class RollbackNow(Exception):
    """Raised by a step when the rollback must start now (a rollback trigger fired, an end-of-window judge
    failed, NO-GO on a paused window); the scheduler catches it and runs the rollback plan."""

    def __init__(self, reason: str, by: str, source: str) -> None:
        super().__init__(reason)
        self.reason, self.by, self.source = reason, by, source


class StepHost(Protocol):
    """What a step that watches, judges or waits on people needs of the engine that runs it: the run's
    context and handle, its clock, and to record, announce and stop. ``golive.engine.runner.Engine`` is one;
    observing, judging and waiting see no more of it than this."""

    @property
    def ctx(self) -> RunContext: ...

    @property
    def h(self) -> handle_mod.RunHandle: ...

    @property
    def runbook(self) -> models.Runbook: ...

    @property
    def clock(self) -> clock_mod.Clock: ...

    @property
    def redactor(self) -> redact_mod.Redactor: ...

    @property
    def poll(self) -> float:
        """Run-clock seconds between looks at the log while waiting on people."""
        ...

    # A rollback is about to start: nothing reads the triggers any more (set by a window's rollback fire).
    rollback_begun: bool

    @property
    def evaluators(self) -> dict[str, triggers_mod.TriggerEvaluator]:
        """The run's one evaluator per trigger, shared by observe windows and the armed watch."""
        ...

    @property
    def rollback_wake(self) -> asyncio.Event:
        """Set when a rollback was requested (by a person, a trigger or a failed watcher)."""
        ...

    async def emit(self, type_: str, *, step_id: str | None = ..., actor: str | None = ..., **data: Any) -> None:
        """Append one event to the run (fenced) and apply it."""

    async def notify(
        self,
        event: str,
        *,
        message: str | None = ...,
        channels: list[str] | tuple[str, ...] | None = ...,
        severity: str | None = ...,
        **context: Any,
    ) -> None:
        """Send the comms of an event (a failure of a required channel propagates)."""

    async def record_result(
        self, step: models.Step, result: Result, attempt: int, started: str, duration: float, event: str
    ) -> None:
        """Record a step's result (redacted, evidence stored) and announce a failure."""

    async def abandon(self, steps: tuple[models.Step, ...] | list[models.Step]) -> None:
        """Record the steps a rollback interrupted as not run."""

    async def wait_for_acts(self) -> None:
        """Until another process records something (an act) or ``poll`` seconds of run time pass."""

    async def wait_pause(self, step: models.Step) -> float:
        """Wait for the IC on a paused step: the seconds of the window left after GO; NO-GO raises
        :class:`RollbackNow` (see :func:`golive.engine.waiting.wait_pause`)."""
        ...

    def check_rollback(self) -> None:
        """Raise :class:`RollbackNow` when a rollback was requested (or the watcher failed)."""
