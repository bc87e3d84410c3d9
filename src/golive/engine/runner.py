"""The engine: runs a run's phases and steps from its event log, and resumes from it after a crash.

Rules it keeps:

- Phases run in order; a phase starts only when every phase before it passed or was waived.
- Inside a phase, steps follow ``needs`` and run in parallel under ``settings.concurrency``.
- A per-step timeout gives ``error``; retries back off; a blocking fail/error stops the phase and the run goes
  where the phase's ``on_failure`` says (NO-GO, rollback, stop); a non-blocking failure is a ``warn``.
- Actions are at most once: ``action_started`` is durable before the side effect, ``action_finished`` after.
  On resume, an action with a start and no finish is ``unknown``: retried only when ``idempotent``, otherwise
  the run waits for ``golive resolve``.
- Manual steps and decisions wait for acts recorded by any process (:mod:`golive.engine.acts`); a decision's
  deadline applies its default.
- A rollback (trigger, NO-GO, or a person) runs the flags' safe values first, then the plan's steps in order,
  then its confirmation checks, and the run ends ROLLED_BACK with the reason and who or what started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import secrets as secrets_mod
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from golive import clock as clock_mod
from golive import exceptions, identity, runids
from golive import redact as redact_mod
from golive.engine import acts
from golive.engine import armed as armed_mod
from golive.engine import events as events_mod
from golive.engine import gate as gate_mod
from golive.engine import links as links_mod
from golive.engine import quorum as quorum_mod
from golive.engine import rehearsal as rehearsal_mod
from golive.engine import windows as windows_mod
from golive.engine.state import FINAL, RunStatus
from golive.plugins import base as plugin_base
from golive.plugins import registry as registry_mod
from golive.results import Evidence, Outcome, Result
from golive.spec import loader, models, refs, vartypes
from golive.store import base as store_base

if TYPE_CHECKING:
    from golive.plugins import stubs
    from golive.watch import triggers as triggers_mod

__all__ = ["Engine", "create_run", "new_run_id"]

POLL_INTERVAL = 0.2  # seconds between looks at the event log for acts from other processes
RESTORE_FLAGS_STEP = "restore_safe_flags"
EXCERPT_LIMIT = 4000  # characters of a summary kept in an event
INTERNAL_ACTOR = "golive"
# Secret providers that read this machine only (no network): their secrets are registered with the redactor
# before a phase starts even when no step of it references them, since a command inherits the environment.
LOCAL_SECRET_PROVIDERS = frozenset({"env", "file"})
_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9_]*:\d+>")  # a value the store keeps redacted

Prompter = Callable[[models.Step, "acts.RunHandle"], Awaitable[None]]


def new_run_id(clock: clock_mod.Clock) -> str:
    return clock.now().strftime("%Y%m%d-%H%M%S-") + secrets_mod.token_hex(3)


def _anchor(runbook: models.Runbook, clock: clock_mod.Clock) -> str:
    """Wall time of T-0: the runbook's t0, else so that the run starts at its first phase's T-time."""
    if runbook.t0 is not None:
        return clock_mod.utc_iso(runbook.t0)
    first_at = next((p.at for p in runbook.phases if p.at is not None), None)
    if first_at is None:
        first_at = next((s.at for p in runbook.phases for s in p.steps if s.at is not None), 0.0)
    return clock_mod.utc_iso(clock.now() - timedelta(seconds=first_at or 0.0))


async def create_run(
    store: store_base.Store,
    loaded: loader.LoadedRunbook,
    *,
    mode: str = "live",
    roles: dict[str, str] | None = None,
    actor: str = INTERNAL_ACTOR,
    clock: clock_mod.Clock | None = None,
    run_id: str | None = None,
    start_now: bool = False,
    rehearsal: rehearsal_mod.RehearsalSettings | None = None,
    gate_waivers: Sequence[gate_mod.GateWaiver] = (),
) -> acts.RunHandle:
    """Create a run, record ``run_created`` and the initial role assignments, and return its handle.

    ``start_now``: the run does not wait for the planned T-times of its phases and steps (``golive run
    --start-now``); without it, a runbook with ``t0`` holds each ``at:`` until its wall time.
    ``rehearsal`` (time scale, stubs, recording) is refused for a live run; it is recorded with the run.
    ``gate_waivers``: waivers of the start gate's blocks given at the start (``golive run --waive``), judged
    by the gate when the engine starts the run (:mod:`golive.engine.gate`)."""
    clk = clock or store.clock
    if mode not in ("live", "rehearsal", "dry-run"):
        raise exceptions.UsageError(f"--mode {mode!r}: use live, rehearsal or dry-run")
    rehearsal_params: dict[str, Any] = {}
    if rehearsal is not None:
        rehearsal.check_mode(mode)
        rehearsal_params = rehearsal.params()
    runbook = loaded.runbook
    for role in roles or {}:
        if role not in runbook.roles:
            raise exceptions.UsageError(
                f"--role {role}: the runbook declares no role {role!r}{loader.suggest(role, runbook.roles)}; "
                f"declared: {', '.join(runbook.roles) or 'none'}"
            )
    rid = runids.check(run_id) if run_id is not None else new_run_id(clk)
    # Variables reach the store redacted; one whose value held a secret or personal data is withheld and
    # must be given again (--var or GOLIVE_VAR_<NAME>) to resume the run in another process.
    var_redactor = acts.make_redactor(runbook)
    withheld: list[str] = []
    stored_vars: dict[str, Any] = {}  # typed: a bool var stays a bool when the run is resumed elsewhere
    for k, v in loaded.vars.items():
        text = "" if v is None else str(v)
        if text and redact_mod.secret_key_name(k):
            # A variable whose name says secret (api_key, db_password) is stored as a placeholder, whatever
            # its value.
            clean = var_redactor.redact_obj({k: text})[k]
            stored_vars[k] = clean
        else:
            clean = var_redactor.redact(text)
            stored_vars[k] = v if clean == text and isinstance(v, bool | int | float) else clean
        if clean != text:
            withheld.append(k)
    record = store_base.RunRecord(
        run_id=rid,
        runbook_name=runbook.name,
        runbook_path=loaded.path,
        runbook_digest=loaded.digest,
        runbook_text=loaded.text,
        mode=mode,
        created_at=clock_mod.utc_iso(clk.now()),
        params={
            "vars": stored_vars,
            "vars_withheld": withheld,
            "var_sources": dict(loaded.var_sources),
            "roles": dict(roles or {}),
            **({"rehearsal": rehearsal_params} if rehearsal_params else {}),
        },
    )
    await store.create_run(record)
    red = acts.make_redactor(runbook)
    events = [
        store_base.NewEvent(
            "run_created",
            actor=actor,
            data={
                "runbook": runbook.name,
                "digest": loaded.digest,
                "mode": mode,
                "vars": red.redact_obj(dict(loaded.vars)),
                # Where each value came from, and which vars hold code by declaration (type: sql): a person
                # reading the record sees who set the SQL that ran.
                "var_sources": dict(loaded.var_sources),
                "code_vars": list(runbook.code_vars()),
                # The runbook text is covered by the chain: as the store keeps it and as a pack carries it
                # (redacted by the run's settings), so an edit of either is found (golive.evidence.anchor).
                "runbook_text_digest": hashlib.sha256(loaded.text.encode("utf-8")).hexdigest(),
                "runbook_pack_digest": hashlib.sha256(
                    acts.packed_runbook_text(runbook, loaded.text).encode("utf-8")
                ).hexdigest(),
                "t0": clock_mod.utc_iso(runbook.t0) if runbook.t0 else None,
                "anchor": _anchor(runbook, clk),
                "start_now": start_now,
                **({"gate_waivers": [acts.waiver_data(w, red) for w in gate_waivers]} if gate_waivers else {}),
                "release": runbook.release.model_dump(mode="json", exclude_none=True),
                "sections": {s.id: sec for sec, s in runbook.all_steps()},
                "phases": [p.id for p in runbook.phases],
                **({"rehearsal": rehearsal_params} if rehearsal_params else {}),
            },
        )
    ]
    events += [
        store_base.NewEvent("role_assigned", actor=actor, data={"role": r, "person": p})
        for r, p in (roles or {}).items()
    ]
    stamped = identity.stamp_events(events)
    events_mod.check(stamped)
    await store.append_many(rid, stamped)
    handle = await acts.open_run(store, rid, loaded=loaded)
    handle.raw_vars = dict(loaded.vars)
    return handle


MIN_REAL_POLL = 0.01  # real seconds between a time-scaled engine's looks at the store


class _Rollback(Exception):
    """Raised inside the run loop when a rollback must start now."""

    def __init__(self, reason: str, by: str, source: str) -> None:
        super().__init__(reason)
        self.reason, self.by, self.source = reason, by, source


def _stubs_active() -> stubs.StubTransport | None:
    """The stubs a rehearsal put in place of the outside world, or None. Stubs are active only once
    golive.plugins.stubs was imported (by a run that uses them): other runs never import it."""
    mod = sys.modules.get("golive.plugins.stubs")
    return None if mod is None else cast("stubs.StubTransport | None", mod.active())


def _stubs_recording() -> stubs.Recorder | None:
    """The recorder of a recording rehearsal, or None (see :func:`_stubs_active`)."""
    mod = sys.modules.get("golive.plugins.stubs")
    return None if mod is None else cast("stubs.Recorder | None", mod.recording())


class Engine:
    """Runs one run to its end (or to a crash; then ``resume`` runs it again from the log)."""

    def __init__(
        self,
        handle: acts.RunHandle,
        *,
        clock: clock_mod.Clock | None = None,
        registry: registry_mod.Registry | None = None,
        prompter: Prompter | None = None,
        poll: float = POLL_INTERVAL,
        on_change: Callable[[], None] | None = None,
        var_overrides: dict[str, Any] | None = None,
        linker: links_mod.Linker | None = None,
    ) -> None:
        self.h = handle
        # Approval links in the messages of waiting steps: the server's own, else $GOLIVE_SERVER_SECRET with
        # $GOLIVE_PUBLIC_URL; none when neither is set.
        self.linker = linker if linker is not None else links_mod.from_env()
        self.store = handle.store
        self.runbook = handle.runbook
        self.clock = clock or self.store.clock
        self.registry = registry or registry_mod.default_registry()
        self.prompter = prompter
        # Seconds of run time between looks at the store, and the same in real seconds. A time-scaled
        # rehearsal looks at most every MIN_REAL_POLL real seconds, so polling never becomes a busy loop.
        factor = self.clock.factor if isinstance(self.clock, clock_mod.ScaledClock) else 1.0
        self.poll = max(poll, MIN_REAL_POLL * factor) if factor != 1.0 else poll
        self.real_poll = self.poll / factor
        self.on_change = on_change
        self.redactor = handle.redactor()
        self.vars = {**handle.loaded.vars, **(handle.record.params.get("vars") or {})}
        self._withheld: set[str] = set()
        if handle.raw_vars is not None:
            self.vars.update(handle.raw_vars)
        else:
            import os

            for name in handle.record.params.get("vars_withheld") or []:
                env_key = loader.var_env_key(name)
                if env_key in os.environ:
                    self.vars[name] = os.environ[env_key]
                else:
                    self._withheld.add(name)
        for name, value in (var_overrides or {}).items():
            if name in self.runbook.vars and self.runbook.var_type(name) in vartypes.CODE_TYPES:
                raise exceptions.UsageError(
                    f"--var {name}: variable {name!r} is declared 'type: {self.runbook.var_type(name)}' (it holds "
                    "code), so it is set only by the runbook or when the run starts, never later"
                )
            self.vars[name] = value
            self._withheld.discard(name)
        for name in list(self.vars):
            if name in self.runbook.vars and name not in self._withheld and self.vars[name] not in (None, ""):
                try:
                    self.vars[name] = vartypes.coerce(name, self.runbook.var_type(name), self.vars[name])
                except ValueError as exc:
                    raise exceptions.UsageError(f"--var {name}: {exc}") from None
        for name, value in self.vars.items():
            # The value of a variable named like a secret is masked wherever a step prints it.
            text = value if isinstance(value, str) else None if value is None or isinstance(value, bool) else str(value)
            if text and redact_mod.secret_key_name(name) and not _PLACEHOLDER.fullmatch(text):
                self.redactor.add_secret(text)
        self._secret_values: dict[str, str] = {}
        self._secret_lock = asyncio.Lock()
        self._http: Any = None
        self._rollback_wake = asyncio.Event()
        self._watch_failed: BaseException | None = None
        self._armed_failed: Exception | None = None  # the armed-trigger watch failed (e.g. a lost lease)
        # One evaluator per trigger, shared by observe windows and the armed watch (observing.shared).
        self.evaluators: dict[str, triggers_mod.TriggerEvaluator] = {}
        self.rollback_begun = False  # a rollback is about to start: the armed watch reads no more
        self._armed: Any = None  # the armed watch (golive.engine.armed.ArmedWatch) while the run loop runs
        self._taken_up_fire: dict[str, Any] | None = None  # a fire left unanswered by an earlier engine (run())
        self._notifier: Any = None
        self._pagers: Any = None
        self.dry_run = handle.state.mode == "dry-run"
        self._workdir_cache: Path | None = None

    # -- plumbing --------------------------------------------------------------------------------------
    async def emit(
        self, type_: str, *, step_id: str | None = None, actor: str | None = INTERNAL_ACTOR, **data: Any
    ) -> None:
        await self.h.append(type_, step_id=step_id, actor=actor, **data)
        if self.on_change:
            self.on_change()
        if self.runbook.pagers and not self.dry_run and type_ in ("trigger_fired", "trigger_evaluated", "run_finished"):
            await self._page(type_, data)

    async def _page(self, type_: str, data: dict[str, Any]) -> None:
        """Wake the runbook's pagers on a trigger fire; resolve the page when it clears or the run ends."""
        if self._pagers is None:
            from golive.notify import pager as pager_mod

            async def render(text: str) -> str:
                return str(await self.render(text))

            async def record(payload: dict[str, Any]) -> None:
                await self.emit("comms_sent", **payload)

            self._pagers = pager_mod.Pagers(
                self.runbook, self.h.run_id, render=render, record=record, http=self.http_client,
                comms=list(self.h.state.comms), mode=self.h.state.mode,
            )  # fmt: skip
        await self._pagers.on_event(type_, data)

    def _pending_rollback(self) -> _Rollback | None:
        st = self.h.state
        if st.rollback is None and st.rollback_requests:
            req = st.rollback_requests[-1]
            if req.get("armed"):  # an armed trigger fired while the run went on
                return _Rollback(req.get("reason") or "trigger fired", f"trigger:{req.get('trigger')}", "trigger")
            if req.get("trigger"):  # a trigger a person raised: the rollback is the trigger's, the reason names them
                tid = req["trigger"]
                return _Rollback(
                    f"trigger {tid} raised by {req.get('by')}: {req.get('reason')}", f"trigger:{tid}", "trigger"
                )
            return _Rollback(
                req.get("reason") or "requested", req.get("by") or "unknown", req.get("source") or "person"
            )
        if self._taken_up_fire is not None and st.rollback is None:
            from golive.engine import armed

            return _Rollback(*armed.taken_up(self.runbook, self._taken_up_fire), "trigger")
        return None

    async def _poller(self) -> None:
        """Apply acts recorded by other processes; wake the run loop when a rollback is requested."""
        while True:
            await asyncio.sleep(self.real_poll)
            try:
                await self.h.refresh()
            except exceptions.StoreError:
                continue  # a busy store is retried on the next poll; the run loop sees errors itself
            if self._pending_rollback() is not None:
                self._rollback_wake.set()
            if self.on_change:
                self.on_change()

    # -- secrets and references ------------------------------------------------------------------------
    async def secret(self, name: str) -> str:
        async with self._secret_lock:
            if name in self._secret_values:
                return self._secret_values[name]
            ref = self.runbook.secrets.get(name)
            if ref is None:
                raise exceptions.SecretError(f"no secret {name!r} is declared")
            try:
                # A declaration may take its id and options from vars (`region: "${{ vars.aws_region }}"`).
                secret_id, options = refs.render((ref.id, ref.options), self._sync_resolve)
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
        params = refs.render(spec.provider.with_, self._sync_resolve)
        return cls(cls.params.model_validate(params))  # type: ignore[call-arg,return-value]

    def _sync_resolve(self, ref: refs.Ref) -> Any:
        if ref.root == "vars" and ref.parts[1] in self._withheld:
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
            import os

            return os.environ.get(ref.parts[1], "")
        return acts.resolve_ref(self.h, ref)

    async def render(self, value: Any) -> Any:
        names = {r.parts[1] for _, r in refs.scan(value) if isinstance(r, refs.Ref) and r.root == "secrets"}
        for n in names:
            await self.secret(n)
        return refs.render(value, self._sync_resolve)

    async def aclose(self) -> None:
        """Close what the engine opened for plugins (the pooled HTTP client)."""
        if self._http is not None:
            http, self._http = self._http, None
            with contextlib.suppress(Exception):
                await http.aclose()

    def http_client(self) -> Any:
        """The run's one pooled HTTP client, created on first use and closed when the run loop ends."""
        if self._http is None:
            from golive.plugins import _http

            self._http = _http.make_http_client()
        return self._http

    def _workdir(self) -> Path:
        """The runbook's directory, resolved once per run (a path resolve per step is a syscall per step)."""
        if self._workdir_cache is None:
            path = self.h.loaded.path
            self._workdir_cache = Path(path).resolve().parent if path else Path.cwd()
        return self._workdir_cache

    def step_context(self, step: models.Step, params: Any) -> plugin_base.StepContext:
        return plugin_base.StepContext(
            params=params,
            step_id=step.id,
            run_id=self.h.run_id,
            timeout=step.timeout or self.runbook.settings.default_timeout,
            dry_run=self.dry_run,
            clock=self.clock,
            workdir=self._workdir(),
            release=self.runbook.release.model_dump(mode="json", exclude_none=True),
            http_pool=self.http_client,
            secret=self.secret,
            secret_provider=self.secret_provider,
            flag_provider=self.flag_provider,
            redact=self.redactor.redact,
            log=lambda s: None,
        )

    # -- comms -----------------------------------------------------------------------------------------
    async def notifier(self) -> Any:
        """The run's notifier, made on first use (channel URLs may carry secrets: they are registered)."""
        if self._notifier is None:
            from golive.engine.state import parse_ts
            from golive.notify import context as context_mod
            from golive.notify import notifier as notifier_mod

            async def record(payload: dict[str, Any]) -> None:
                await self.emit("comms_sent", **payload)

            for ch in self.runbook.comms.channels:
                await self.render(ch.url)
                if ch.rehearsal and self.h.state.mode != "live":
                    await self.render(ch.rehearsal)
            self._notifier = notifier_mod.Notifier(
                self.runbook.comms,
                redact=self.redactor.redact,
                clock=self.clock,
                record=record,
                base=context_mod.for_run(
                    self.runbook,
                    run_id=self.h.run_id,
                    mode=self.h.state.mode,
                    started_at=parse_ts(self.h.state.created_at),
                    vars=self.vars,
                ),
                t0=parse_ts(self.h.state.anchor),
                resolve_url=lambda url: str(refs.render(url, self._sync_resolve)),
                mode=self.h.state.mode,
            )
            for secret in self._notifier.secrets():
                self.redactor.add_secret(secret)
            self._notifier.restore(self.h.state.comms)
        return self._notifier

    async def notify(
        self,
        event: str,
        *,
        message: str | None = None,
        channels: list[str] | tuple[str, ...] | None = None,
        severity: str | None = None,
        **context: Any,
    ) -> None:
        """Send a comms message for an event to its routed channels (or the ``channels`` named). A failed
        delivery is recorded and never blocks the cutover, unless the channel is required (then DeliveryFailed
        propagates to the step that sent it). During a rollback nothing stops the restoration: a comms failure
        (a required channel down, its secret missing) is recorded instead."""
        try:
            n = await self.notifier()
            await n.notify(event, self.message_context(**context), channels or None, message, severity=severity)
        except exceptions.GoliveError as exc:
            if self.h.state.rollback is None:
                raise
            await self.emit(
                "comms_sent",
                channel="*",
                event=event,
                text="",
                ok=False,
                attempts=0,
                error=self.redactor.redact(exc.message)[:EXCERPT_LIMIT],
            )

    async def announce_phase(self, phase: models.Phase, stage: str, **context: Any) -> None:
        n = await self.notifier()
        await n.announce_phase(phase, stage, self.message_context(**context))

    def _cadence_context(self) -> dict[str, Any]:
        st = self.h.state
        current = next((p for p, o in st.phases.items() if o == "running"), None)
        pending = [p for p, o in st.phases.items() if o == "pending"]
        return self.message_context(
            current_phase=current,
            next_checkpoint=pending[0] if pending else None,
            steps_passed=sum(1 for s in st.steps.values() if s.outcome is Outcome.PASS),
            steps_failed=sum(1 for s in st.steps.values() if s.outcome in (Outcome.FAIL, Outcome.ERROR)),
            steps_pending=sum(1 for s in st.steps.values() if s.status != "done" and s.section in st.phases),
        )

    async def _run_cadence(self) -> None:
        """Status updates on the runbook's cadence tiers, from the run's current state."""
        n = await self.notifier()
        if not n.tiers:  # no cadence: the loop would only spin (and on a FakeClock push time forward)
            return
        st = self.h.state
        await n.run_cadence(anchors=self.cadence_anchors, ctx=self._cadence_context, stop=lambda: st.final)

    def cadence_anchors(self) -> Any:
        """The run's cadence anchors: start, GO, and when the run is complete (after hypercare, if it passed)."""
        from golive.engine.state import parse_ts
        from golive.notify import cadence

        st = self.h.state
        start = parse_ts(st.created_at) or self.clock.now()
        go = parse_ts(st.go_at)
        end = cadence.complete_at(self.runbook, go, parse_ts(st.finished_at), st.status is RunStatus.PASSED)
        return cadence.Anchors(start=start, go=go, end=end)

    def message_context(self, **extra: Any) -> dict[str, Any]:
        st = self.h.state
        rb = self.runbook
        return {
            "run": {"id": self.h.run_id, "mode": st.mode, "status": st.status.label, "name": rb.name},
            "runbook": {"name": rb.name, "title": rb.title, "service": rb.service, "environment": rb.environment},
            "release": rb.release.model_dump(mode="json", exclude_none=True),
            "counts": {
                "passed": sum(1 for s in st.steps.values() if s.outcome is Outcome.PASS),
                "failed": sum(1 for s in st.steps.values() if s.outcome in (Outcome.FAIL, Outcome.ERROR)),
            },
            **extra,
        }

    # -- the run ----------------------------------------------------------------------------------------
    async def run(self) -> RunStatus:
        """Run (or resume) to the end. Returns the final status (or WAITING if stopped while waiting)."""
        st = self.h.state
        if st.final and not await self._reopen_if_waived():
            return st.status
        # A rollback trigger's fire that an earlier engine of this run wrote and died before answering.
        self._taken_up_fire = None if st.final else st.unanswered_fire()
        if self._taken_up_fire is not None:
            self._rollback_wake.set()
        poller = asyncio.create_task(self._poller())
        updates = asyncio.create_task(self._run_cadence())
        tasks = [poller, updates, asyncio.create_task(self._watch_armed())]
        if st.mode == "live" and windows_mod.has_watch(self.runbook):
            watcher = asyncio.create_task(windows_mod.watch(self))
            watcher.add_done_callback(self._watch_ended)
            tasks.append(watcher)
        try:
            with acts.collector_relaxed():
                return await self._run()
        finally:
            for task in tasks:
                task.cancel()
                if task.done() and not task.cancelled() and task.exception() is self._watch_failed:
                    continue  # the watcher's failure is the run's error (raised by _check_rollback)
                with contextlib.suppress(asyncio.CancelledError, exceptions.GoliveError):
                    await task
            if self._notifier is not None and not self._lost():
                with contextlib.suppress(exceptions.GoliveError):
                    await self._notifier.drain()
            await self.aclose()

    def _lost(self) -> bool:
        """True once this process no longer owns the run: it sends and records nothing more."""
        own = self.h.ownership
        return own is not None and own.lost is not None

    async def _reopen_if_waived(self) -> bool:
        """A run that stopped on failed blocking steps continues once each of them is waived.

        Resume is exact: the phases that failed (and those that never ran) are entered again, and every step in
        them without an outcome of its own (``not-run``, or none) runs or waits again, manual steps included.
        """
        st = self.h.state
        if st.status not in (RunStatus.NO_GO, RunStatus.FAILED) or st.rollback is not None:
            return False
        failed = [s for s in st.steps.values() if s.outcome in (Outcome.FAIL, Outcome.ERROR) and s.section in st.phases]
        if not failed or any(s.waiver is None for s in failed):
            return False
        if any(s.decision == "no-go" for s in st.steps.values()):
            return False
        reenter = [p.id for p in self.runbook.phases if st.phases.get(p.id) in ("fail", "error", "not-run", "pending")]
        steps = [
            s.id
            for p in self.runbook.phases
            if p.id in reenter
            for s in p.steps
            if st.step(s.id).outcome in (None, Outcome.NOT_RUN)
        ]
        await self.emit(
            "run_reopened",
            reason="every failed blocking step is waived: " + ", ".join(s.id for s in failed),
            reenter_phases=reenter,
            reenter_steps=steps,
        )
        for s in failed:
            await self.emit(
                "step_finished",
                step_id=s.id,
                outcome="waived",
                summary=f"waived by {(s.waiver or {}).get('by')} ({(s.waiver or {}).get('ticket')})",
                actor=s.waiver.get("by") if s.waiver else None,
            )
        return True

    async def _run(self) -> RunStatus:
        st = self.h.state
        if st.mode == "live" and st.gate is None and all(o == "pending" for o in st.phases.values()):
            # A fresh live run passes the start gate (windows, freezes, change records) before anything else.
            left = await gate_mod.run_gate(self, [gate_mod.GateWaiver(**w) for w in st.gate_waivers])
            if left:
                await self.finish(
                    RunStatus.FAILED,
                    "refused at the start gate: " + "; ".join(f"{b['what']}: {b['why']}" for b in left),
                )
                return st.status
        # A fresh run (nothing started yet; ownership events do not count) announces itself once.
        if not any(c.get("event") == "run_started" for c in st.comms) and all(
            o == "pending" for o in st.phases.values()
        ):
            await self.notify("run_started")
        try:
            await self._recover_open_actions()
            if st.rollback is not None:  # resumed mid-rollback: finish the rollback, never go on with the cutover
                raise _Rollback(st.rollback["reason"], st.rollback["by"], st.rollback["source"])
            jumping = any(
                st.phases.get(p.id) in ("fail", "error") and p.on_failure == "decide" for p in self.runbook.phases
            )
            for phase in self.runbook.phases:
                if st.phases.get(phase.id) in ("pass", "waived", "warn", "skipped", "fail", "error", "stopped"):
                    continue
                if phase.if_ and st.phases.get(phase.id) == "pending":
                    holds = self.condition_holds(phase.if_)
                    if holds is not True:
                        why = f"`{phase.if_}` is false" if holds is False else f"`{phase.if_}` failed: {holds}"
                        for s in phase.steps:
                            await self.emit(
                                "step_finished",
                                step_id=s.id,
                                outcome="skipped" if holds is False else "error",
                                summary=f"phase skipped: {why}",
                            )
                        if holds is False:
                            await self.emit("phase_finished", step_id=phase.id, outcome="skipped", reason=why)
                            continue
                        await self.emit("phase_finished", step_id=phase.id, outcome="error", reason=why)
                        await self.finish(RunStatus.FAILED, f"phase {phase.id!r}: {why}")
                        return st.status
                if jumping and not any(s.kind is models.StepKind.DECISION for s in phase.steps):
                    await self.emit(
                        "phase_finished",
                        step_id=phase.id,
                        outcome="skipped",
                        reason="an earlier phase failed; going to the decision",
                    )
                    continue
                self._check_rollback()
                if st.phases.get(phase.id) == "pending":
                    await self._wait_until_planned(phase.at, phase.id, "phase")
                    self._check_rollback()
                    await self._wait_for_window(phase)
                    self._check_rollback()
                if st.resumed_from == phase.id and st.phases.get(phase.id) == "pending":
                    await self._checks_first(phase)
                outcome, no_go = await self.run_phase(phase)
                self._check_rollback()
                if no_go is not None:
                    step, dec = no_go
                    reason = f"NO-GO by {dec.get('by')}: {dec.get('reason')}"
                    if step.on_no_go == "rollback" or dec.get("decision") == "rollback":
                        raise _Rollback(reason, str(dec.get("by")), "decision")
                    if step.on_no_go == "keep-live":
                        await self._stop_here(phase, reason)
                        return st.status
                    await self.finish(RunStatus.NO_GO, reason)
                    return st.status
                if outcome in ("fail", "error"):
                    failed = [s.id for s in phase.steps if st.step(s.id).outcome in (Outcome.FAIL, Outcome.ERROR)]
                    reason = f"phase {phase.id!r} failed: {', '.join(failed)}"
                    if phase.on_failure == "rollback":
                        raise _Rollback(reason, f"phase:{phase.id}", "phase")
                    if phase.on_failure == "decide" and not jumping:
                        jumping = True
                        continue
                    await self.finish(RunStatus.NO_GO if phase.on_failure == "no-go" else RunStatus.FAILED, reason)
                    return st.status
                if outcome == "waiting":
                    return RunStatus.WAITING
            if jumping:
                failed_phases = [p.id for p in self.runbook.phases if st.phases.get(p.id) in ("fail", "error")]
                await self.finish(RunStatus.NO_GO, f"phase(s) failed: {', '.join(failed_phases)}")
                return st.status
            await self.finish(RunStatus.PASSED, "every phase passed")
            return st.status
        except _Rollback as rb:
            self.rollback_begun = True
            await self.rollback(rb.reason, rb.by, rb.source)
            return st.status

    def _watch_ended(self, task: asyncio.Task[None]) -> None:
        """Fail closed: a window watcher that failed stops the run (at its next look at the rollback request),
        never lets it go on unwatched; the driver records why and a resume starts a new watcher."""
        if not task.cancelled() and task.exception() is not None:
            self._watch_failed = task.exception()
            self._rollback_wake.set()

    async def _watch_armed(self) -> None:
        """Read the armed triggers whatever step runs (:mod:`golive.engine.armed`); a rollback trigger's fire is
        a rollback request the run loop takes at once. A failed append (a lost lease, a store error) stops the
        run loop with that error: the run is never driven on unwatched."""
        if self.dry_run:
            return

        async def on_rollback(reason: str, by: str) -> None:
            await self.emit(
                "rollback_requested", reason=reason, source="trigger", trigger=by.removeprefix("trigger:"), armed=True
            )
            self._rollback_wake.set()

        self._armed = armed_mod.ArmedWatch(self, on_rollback)
        try:
            await self._armed.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # fail closed: the run loop raises it at its next look
            self._armed_failed = exc
            self._rollback_wake.set()

    def _check_rollback(self) -> None:
        if self._armed_failed is not None:
            raise self._armed_failed
        if self._watch_failed is not None:
            raise exceptions.GoliveError(f"the window and freeze watcher failed: {self._watch_failed}")
        rb = self._pending_rollback()
        if rb is not None:
            raise rb

    async def rollback_requested(self) -> RunStatus:
        """Run the rollback a person asked for, here (``golive rollback`` when no engine holds the run): the
        steps left waiting or watching are recorded as abandoned, then the plan runs as in :meth:`rollback`."""
        rb = self._pending_rollback()
        if rb is None:
            return self.h.state.status
        try:
            await self.abandon([s for p in self.runbook.phases for s in p.steps])
            await self.rollback(rb.reason, rb.by, rb.source)
        finally:
            if self._notifier is not None:
                with contextlib.suppress(exceptions.GoliveError):
                    await self._notifier.drain()
            await self.aclose()
        return self.h.state.status

    async def finish(self, status: RunStatus, reason: str) -> None:
        if self.h.state.final:
            return
        if status is not RunStatus.PASSED:
            # No step stays PENDING after the run ended: what never ran says so, and why.
            why = f"not run: the run ended {status.label}"
            for p in self.runbook.phases:
                for step in p.steps:
                    s = self.h.state.step(step.id)
                    if s.status == "pending" and s.outcome is None:
                        await self.emit("step_finished", step_id=step.id, outcome="not-run", summary=why)
                if self.h.state.phases.get(p.id) == "pending":
                    await self.emit("phase_finished", step_id=p.id, outcome="not-run", reason=why)
        if status is RunStatus.PASSED:
            self._check_every_blocking_step_passed()
        if not self.dry_run:  # the armed watch's last readings, then its coverage of the spans that end here
            await armed_mod.record_coverage(self, "hypercare" if self._after_go() else "cutover", self._armed)
        await self.emit("run_finished", status=status.value, reason=reason)

    def _check_every_blocking_step_passed(self) -> None:
        """Fail closed: PASSED only when every blocking step of every phase that ran has an outcome of its own
        that passes (pass, warn, waived, or skipped by its own condition or a dry run)."""
        st = self.h.state
        missing = [
            s.id
            for p in self.runbook.phases
            if st.phases.get(p.id) != "skipped"
            for s in p.steps
            if s.blocking and st.step(s.id).outcome not in _PASSING
        ]
        if missing:
            raise exceptions.GoliveError(
                f"run {self.h.run_id}: refusing to record PASSED: blocking step(s) without a passing outcome of "
                f"their own in the log: {', '.join(missing)}"
            )

    async def _stop_here(self, phase: models.Phase, reason: str) -> None:
        """End the run STOPPED (``on_no_go: keep-live``): what passed stays live and the flags stay as set."""
        later = [p.id for p in self.runbook.phases][[p.id for p in self.runbook.phases].index(phase.id) + 1 :]
        nxt = later[0] if later else None
        await self.notify("run_stopped", reason=reason, phase=phase.id, next_phase=nxt)
        await self.finish(RunStatus.STOPPED, f"stopped at {phase.id!r}: {reason}")

    async def _recover_open_actions(self) -> None:
        """After a crash: an action with a start and no finish is unknown (retried only if idempotent)."""
        for _, step in self.runbook.all_steps():
            s = self.h.state.step(step.id)
            # "unknown" too: a crash between action_unknown and action_resolved must not leave an idempotent
            # action waiting for a person.
            if s.action_open and s.status in ("running", "unknown"):
                if step.idempotent:
                    if s.status == "running":
                        await self.emit("action_unknown", step_id=step.id, idempotent=True, retry=True)
                    await self.emit(
                        "action_resolved", step_id=step.id, outcome="not-done", reason="idempotent: safe to run again"
                    )
                elif s.status == "running":
                    await self.emit("action_unknown", step_id=step.id, idempotent=False, retry=False)

    # -- phases and steps --------------------------------------------------------------------------------
    async def _wait_until_planned(self, at: float | None, ident: str, what: str) -> None:
        """With a ``t0``, a phase or step planned ``at:`` a T-time waits until that wall time (recorded as
        ``scheduled_wait``, so views count down); a rollback request ends the wait. Not in a dry run, nor in a
        run started with ``--start-now``."""
        from golive.engine.state import parse_ts

        st = self.h.state
        anchor = parse_ts(st.anchor)
        if at is None or self.runbook.t0 is None or anchor is None or st.start_now or self.dry_run:
            return
        await self._sleep_until(anchor + timedelta(seconds=at), ident, what, clock_fmt_t(at))

    async def _sleep_until(self, due: datetime, ident: str, what: str, planned: str) -> None:
        """Wait until ``due`` (recorded as ``scheduled_wait``); a rollback request ends the wait."""
        remaining = (due - self.clock.now()).total_seconds()
        if remaining <= 0:
            return
        await self.emit("scheduled_wait", step_id=ident, what=what, until=clock_mod.utc_iso(due), planned=planned)
        sleeper = asyncio.ensure_future(self.clock.sleep(remaining))
        waker = asyncio.ensure_future(self._rollback_wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (sleeper, waker):
                fut.cancel()

    async def _wait_for_window(self, phase: models.Phase) -> None:
        """A live run's phase with ``window.not_before`` does not start before it (recorded as a
        ``scheduled_wait`` of ``what: window``); a rollback request ends the wait. Past ``not_after`` it starts
        and the IC is asked at once (:mod:`golive.engine.windows`)."""
        if phase.window is None or self.h.state.mode != "live":
            return
        if await self._phase_window_waived(phase):
            return
        nb, _ = phase.window.edges(self.runbook.t0)
        if nb is None:
            return
        await self._sleep_until(nb, phase.id, "window", f"window opens {clock_mod.utc_iso(nb)}")

    async def _phase_window_waived(self, phase: models.Phase) -> bool:
        """True when a waiver given at the start or at ``resume --from`` (``window:PHASE``) lifts the phase's
        window that blocks it now: recorded as ``gate_waived``; the phase neither waits for ``not_before`` nor
        has the IC asked at its ``not_after``. A waiver that does not count (not a waiving role, no ticket) is
        recorded as refused and the window holds."""
        st = self.h.state
        gate_id = f"window:{phase.id}"
        if any(w.get("gate") == gate_id for w in st.gate_waived):
            return True
        waivers = [gate_mod.GateWaiver(**w) for w in st.gate_waivers if w.get("gate") == gate_id]
        if not waivers:
            return False
        blocks = gate_mod.phase_window_blocks(self.runbook, phase, self.clock.now())
        if not blocks:
            return False  # the window is open: nothing to waive
        gate_mod.resolve_waivers(blocks, waivers[-1:], st.roles)
        b = blocks[0]
        if b.waived is None:
            await self.emit("act_refused", actor=waivers[-1].by, act=f"waive {gate_id}", why=b.why)
            return False
        await self.emit("gate_waived", **gate_mod.waived_event(b, self.redactor.redact))
        return True

    async def _checks_first(self, phase: models.Phase) -> None:
        """A STOPPED run continued from this phase days later: its checks run again before anyone is asked to
        act on what they said back then (the phase then runs as usual; a failed check stops it)."""
        await self.emit("phase_started", step_id=phase.id, title=phase.title or phase.id)
        if phase.announce.get("start"):
            await self.announce_phase(phase, "start")
        await self._register_secrets(phase)
        sem = asyncio.Semaphore(self.runbook.settings.concurrency)

        async def one(step: models.Step) -> None:
            async with sem:
                await self.run_step(step)

        await asyncio.gather(*(one(s) for s in phase.steps if s.kind is models.StepKind.CHECK and not s.needs))

    async def run_phase(self, phase: models.Phase) -> tuple[str, tuple[models.Step, dict[str, Any]] | None]:
        st = self.h.state
        if st.phases.get(phase.id) != "running":
            await self.emit("phase_started", step_id=phase.id, title=phase.title or phase.id)
            if phase.announce.get("start"):
                await self.announce_phase(phase, "start")
        await self._register_secrets(phase)
        steps = {s.id: s for s in phase.steps}
        sem = asyncio.Semaphore(self.runbook.settings.concurrency)
        done: dict[str, asyncio.Event] = {sid: asyncio.Event() for sid in steps}
        stop = asyncio.Event()

        task_of: dict[str, asyncio.Task[None]] = {}
        let_go: set[str] = set()  # manual steps no longer waited for because the phase stopped

        def stop_phase() -> None:
            stop.set()
            # Nobody has to confirm a step of a phase that already failed: stop waiting, so the run goes on
            # to where on_failure says (decisions keep waiting: the IC's NO-GO or the deadline decide).
            for sid, task in task_of.items():
                if steps[sid].kind is models.StepKind.MANUAL and st.step(sid).status == "waiting" and not task.done():
                    let_go.add(sid)
                    task.cancel()

        async def one(step: models.Step) -> None:
            try:
                for need in step.needs:
                    await done[need].wait()
                if await self._skip_if_stopped(step, stop):
                    return
                if st.step(step.id).status == "pending":
                    await self._wait_until_planned(step.at, step.id, "step")
                    if await self._skip_if_stopped(step, stop):
                        return
                if step.kind is models.StepKind.MANUAL:
                    try:
                        await self.run_step(step)  # waiting does not hold a concurrency slot
                    except asyncio.CancelledError:
                        if step.id not in let_go:
                            raise
                        await self.h.refresh()  # a confirmation may have landed meanwhile
                        if st.step(step.id).status != "done":
                            await self._skip_if_stopped(step, stop)
                        return
                elif step.kind is models.StepKind.DECISION:
                    await self.run_step(step)
                else:
                    async with sem:
                        # A blocking failure may have stopped the phase while this step waited for a slot.
                        if await self._skip_if_stopped(step, stop):
                            return
                        await self.run_step(step)
                s = st.step(step.id)
                if step.blocking and s.outcome in (Outcome.FAIL, Outcome.ERROR):
                    stop_phase()
                if step.kind is models.StepKind.DECISION and s.outcome is Outcome.FAIL:
                    stop_phase()
            finally:
                done[step.id].set()

        tasks = [asyncio.create_task(one(s)) for s in phase.steps]
        task_of.update({s.id: t for s, t in zip(phase.steps, tasks, strict=True)})
        rollback_wait = asyncio.create_task(self._rollback_wake.wait())
        gathered = asyncio.gather(*tasks, return_exceptions=True)
        try:
            waitables: set[asyncio.Future[Any]] = {gathered, rollback_wait}
            await asyncio.wait(waitables, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # The engine is being stopped (lost ownership, a server shutting down): its steps stop with it,
            # none is left running on its own; actions in flight finish and are recorded (shielded).
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.wait(tasks)
            raise
        finally:
            rollback_wait.cancel()
        if not gathered.done():
            # A rollback was requested: stop waiting on people and checks; actions in flight finish (shielded).
            for t in tasks:
                t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gathered
            if self._watch_failed is None:  # a failed watcher stops the engine; its steps wait on for a resume
                await self.abandon(phase.steps)
            self._check_rollback()
        for r in gathered.result():
            if isinstance(r, _Rollback):
                raise r
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                raise r
        # Outcome of the phase.
        no_go = None
        for s in phase.steps:
            ss = st.step(s.id)
            if s.kind is models.StepKind.DECISION and ss.status == "done" and ss.outcome is Outcome.FAIL:
                dec = st.decision or {"by": ss.actor, "reason": ss.summary, "decision": "no-go"}
                no_go = (s, dec)
        blocking_bad = [
            s.id for s in phase.steps if s.blocking and st.step(s.id).outcome in (Outcome.FAIL, Outcome.ERROR)
        ]
        # A blocking step never ends without an outcome of its own: one that did not run keeps the phase from passing.
        not_run = [s.id for s in phase.steps if s.blocking and st.step(s.id).outcome is Outcome.NOT_RUN]
        unfinished = [s.id for s in phase.steps if st.step(s.id).status != "done"]
        waived = [s.id for s in phase.steps if st.step(s.id).outcome is Outcome.WAIVED]
        if no_go is not None and no_go[0].on_no_go == "keep-live":
            outcome = "stopped"
        elif blocking_bad or no_go or (not_run and not unfinished):
            outcome = "fail"
            blocking_bad = blocking_bad or [f"{sid} (not run)" for sid in not_run]
        elif unfinished:
            return "waiting", None
        elif waived:
            outcome = "waived"
        elif any(st.step(s.id).outcome is Outcome.WARN for s in phase.steps):
            outcome = "warn"
        else:
            outcome = "pass"
        await self.emit(
            "phase_finished", step_id=phase.id, outcome=outcome, reason=", ".join(blocking_bad) if blocking_bad else ""
        )
        if outcome == "waived":
            await self.announce_phase(phase, "waived", waivers=self._waiver_text(waived))
        elif outcome != "stopped":  # a stop is announced as the run's (run_stopped)
            await self.announce_phase(
                phase, "pass" if outcome in ("pass", "warn") else "fail", reason=", ".join(blocking_bad)
            )
        return outcome, no_go

    def _waiver_text(self, step_ids: list[str]) -> str:
        """ "canary-errors waived by lena (CHG-4711)", for each waived step: comms name the waiver, never a pass."""
        parts = []
        for sid in step_ids:
            w = self.h.state.step(sid).waiver or {}
            parts.append(f"{sid} waived by {w.get('by') or 'unknown'} ({w.get('ticket') or 'no ticket'})")
        return "; ".join(parts)

    async def _register_secrets(self, phase: models.Phase) -> None:
        """Resolve, before any step of the phase starts, the secrets its steps reference and those of the local
        providers (env, file). Steps run concurrently: one that prints a secret (a command echoing a variable,
        a service echoing a token) must not finish before the step that references it registered it with the
        redactor. A secret that cannot be resolved is left to the step that needs it, which reports it."""
        names = {n for n, ref in self.runbook.secrets.items() if ref.provider in LOCAL_SECRET_PROVIDERS}
        for step in phase.steps:
            for _, ref in refs.scan((step.with_, step.message)):
                if isinstance(ref, refs.Ref) and ref.root == "secrets" and len(ref.parts) > 1:
                    names.add(ref.parts[1])
        for name in sorted(names - self._secret_values.keys()):
            if name in self.runbook.secrets:
                with contextlib.suppress(exceptions.GoliveError):
                    await self.secret(name)

    async def abandon(self, steps: tuple[models.Step, ...] | list[models.Step]) -> None:
        """Record the steps a rollback interrupted (watching, waiting on a person) as not run with the reason,
        so no view shows them running or waiting forever. An action in flight is left open: whether it took
        effect is unknown, and resume says so."""
        rb = self._pending_rollback()
        why = f"abandoned: the rollback was started by {rb.by} ({rb.reason})" if rb else "abandoned: a rollback"
        for step in steps:
            s = self.h.state.step(step.id)
            if s.status in ("running", "waiting") and not s.action_open:
                await self.emit("step_finished", step_id=step.id, outcome="not-run", summary=self.redactor.redact(why))

    async def _skip_if_stopped(self, step: models.Step, stop: asyncio.Event) -> bool:
        """Record (never silently) a step whose needs did not pass or whose phase stopped: ``not-run``, or
        ``skipped`` when every need that did not pass was itself skipped (its ``if:`` chose not to run it)."""
        st = self.h.state
        if st.step(step.id).status == "done":
            return False  # run_step returns at once for it
        if any(st.step(n).status != "done" for n in step.needs):
            # A need that is unknown or unfinished (its task stopped on an error) is waited for, never
            # taken as failed: nothing is recorded and the phase stays unfinished.
            return True
        bad = [n for n in step.needs if not (st.step(n).outcome and st.step(n).outcome.ok)]  # type: ignore[union-attr]
        outcome = "not-run"
        if bad:
            summary = f"not run: needs {', '.join(bad)} did not pass"
            if all(st.step(n).outcome is Outcome.SKIPPED for n in bad):
                outcome, summary = "skipped", f"skipped: needs {', '.join(bad)} were skipped"
        elif stop.is_set():
            failed = [
                sid
                for sid, s in st.steps.items()
                if s.section == st.steps[step.id].section and s.outcome in (Outcome.FAIL, Outcome.ERROR)
            ]
            summary = f"not run: the phase stopped ({', '.join(failed) or 'a blocking step failed'})"
        else:
            return False
        await self.emit("step_finished", step_id=step.id, outcome=outcome, summary=summary)
        return True

    def condition_holds(self, text: str) -> bool | str:
        """Evaluate a step's or a phase's ``if:``; True/False, or the error text (which fails closed)."""
        from golive import expr

        steps = {
            sid: {
                "outcome": s.outcome.value if s.outcome else None,
                "output": s.output,
                "inputs": s.inputs,
                "summary": s.summary,
                "status": s.status,
            }
            for sid, s in self.h.state.steps.items()
        }
        try:
            return bool(expr.compile_condition(text).evaluate({"vars": dict(self.vars), "steps": steps}))
        except exceptions.GoliveError as exc:
            return self.redactor.redact(exc.message)

    async def _skipped_by_condition(self, step: models.Step) -> bool:
        """Record a step whose ``if:`` is false as skipped; one whose ``if:`` cannot be evaluated as error."""
        if not step.if_:
            return False
        holds = self.condition_holds(step.if_)
        if holds is True:
            return False
        if holds is False:
            # In the rollback plan an `if:` chooses a branch: the other one is "not taken", not a skipped duty.
            branch = self.runbook.phase_of(step.id) in ("rollback", "rollback.confirm")
            await self.emit(
                "step_finished",
                step_id=step.id,
                outcome="not-taken" if branch else "skipped",
                summary=f"{'not taken' if branch else 'skipped'}: `{step.if_}` is false",
            )
        else:
            await self.emit(
                "step_finished",
                step_id=step.id,
                outcome="error",
                summary=f"`{step.if_}` could not be evaluated: {holds}",
            )
        return True

    async def run_step(self, step: models.Step) -> None:
        st = self.h.state
        s = st.step(step.id)
        if s.status == "done":
            return
        if await self._skipped_by_condition(step):
            return
        if s.waiver is not None and step.kind is not models.StepKind.DECISION:
            await self.emit(
                "step_finished",
                step_id=step.id,
                outcome="waived",
                summary=f"waived by {s.waiver['by']} ({s.waiver['ticket']}): {s.waiver['reason']}",
            )
            return
        kind = step.kind
        if kind is models.StepKind.CHECK and step.type == models.JUDGE_CHECK:
            from golive.engine import judging  # the observe/judge modules import this one

            await judging.judge_check(self, step)
        elif kind in (models.StepKind.CHECK, models.StepKind.ACTION):
            await self._run_plugin_step(step)
        elif kind is models.StepKind.MANUAL:
            await self._wait_manual(step)
        elif kind is models.StepKind.DECISION:
            await self._wait_decision(step)
        elif kind is models.StepKind.OBSERVE:
            await self._observe(step)
        elif kind is models.StepKind.NOTIFY:
            await self._notify_step(step)

    async def _params(self, cls: type[plugin_base.Plugin], step: models.Step) -> Any:
        """The step's params rendered (vars, secrets, earlier outputs) and validated, or an error Result."""
        try:
            return cls.params.model_validate(await self.render(step.with_) if step.with_ else {})
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            return Result.error(f"params: {where}: {self.redactor.redact(first['msg'])}")
        except (exceptions.GoliveError, refs.RefError) as exc:
            return Result.error(self.redactor.redact(str(exc)))

    async def check_result(self, step: models.Step) -> Result:
        """Run a check step outside the phase flow (hypercare): same params, timeout, retries and redaction,
        no step events (the caller records the result)."""
        if step.kind is not models.StepKind.CHECK or step.type is None:
            return Result.error(f"{step.id} is a {step.kind.value} step; only check steps run here")
        if step.type == models.JUDGE_CHECK:
            from golive.engine import judging

            return await judging.judge_result(self, step)
        cls = self.registry.get("check", step.type)
        if cls is None:
            return Result.error(f"unknown check type {step.type!r}")
        policy = step.retry_policy
        for attempt in range(1, policy.attempts + 1):
            prepared = await self._params(cls, step)
            if isinstance(prepared, Result):
                return prepared
            result = await self._call_plugin(cls(), self.step_context(step, prepared))
            if result.outcome not in (Outcome.FAIL, Outcome.ERROR) or attempt == policy.attempts:
                break
            await self.clock.sleep(min(policy.backoff * policy.factor ** (attempt - 1), policy.max_backoff))
        return result.model_copy(
            update={
                "summary": self.redactor.redact(result.summary),
                "details": self.redactor.redact_obj(result.details),
                "output": self.redactor.redact_obj(result.output),
            }
        )

    async def _run_plugin_step(self, step: models.Step) -> None:
        s = self.h.state.step(step.id)
        if s.status == "unknown":
            await self._wait_resolution(step)
            if self.h.state.step(step.id).status == "done":
                return
        kind = "check" if step.kind is models.StepKind.CHECK else "action"
        assert step.type is not None
        cls = self.registry.get(kind, step.type)  # type: ignore[arg-type]
        if step.steady is not None and cls is not None and not (self.dry_run and not cls.read_only):
            await self._run_steady(step, cls, step.steady)
            return
        policy = step.retry_policy
        attempt = 0
        started_wall = clock_mod.utc_iso(self.clock.now())
        t0 = self.clock.monotonic()
        result: Result
        while True:
            attempt += 1
            if cls is None:
                result = Result.error(f"unknown {kind} type {step.type!r}")
                break
            prepared = await self._params(cls, step)
            if isinstance(prepared, Result):
                result = prepared
                break
            params = prepared
            ctx = self.step_context(step, params)
            plugin = cls()
            is_action = kind == "action"
            dry = self.dry_run and not cls.read_only
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
                    summary=self.redactor.redact(
                        f"dry-run: {would if would.startswith('would ') else 'would ' + would}"
                    ),
                    details={"dry_run": True},
                )
                break
            if is_action:
                desc = plugin.describe(ctx) if isinstance(plugin, plugin_base.ActionPlugin) else step.type
                await self.emit(
                    "action_started",
                    step_id=step.id,
                    attempt=attempt,
                    describe=self.redactor.redact(desc)[:EXCERPT_LIMIT],
                )
            else:
                await self.emit("step_started", step_id=step.id, attempt=attempt)
            if is_action:
                # action_started is durable; a process frozen since (SIGSTOP, a stalled VM) may have lost the
                # run meanwhile: check once more, here, right before the side effect.
                if self.h.ownership is not None:
                    self.h.ownership.check()
                # At most once, and never left open: a rollback that cancels this step waits for the side
                # effect to finish and records it before the cancellation goes on.
                inner = asyncio.ensure_future(self._call_plugin(plugin, ctx))
                try:
                    result = await asyncio.shield(inner)
                except asyncio.CancelledError:
                    result = await inner
                    await self._record_result(
                        step, result, attempt, started_wall, self.clock.monotonic() - t0, "action_finished"
                    )
                    raise
            else:
                result = await self._call_plugin(plugin, ctx)
            if result.outcome in (Outcome.FAIL, Outcome.ERROR) and attempt < policy.attempts and not is_action:
                wait = min(policy.backoff * policy.factor ** (attempt - 1), policy.max_backoff)
                await self.emit(
                    "step_retry",
                    step_id=step.id,
                    attempt=attempt,
                    wait=wait,
                    summary=self.redactor.redact(result.summary)[:EXCERPT_LIMIT],
                )
                await self.clock.sleep(wait)
                continue
            if (
                result.outcome in (Outcome.FAIL, Outcome.ERROR)
                and attempt < policy.attempts
                and is_action
                and step.idempotent
            ):
                wait = min(policy.backoff * policy.factor ** (attempt - 1), policy.max_backoff)
                await self.emit(
                    "action_finished",
                    step_id=step.id,
                    outcome=result.outcome.value,
                    attempt=attempt,
                    summary=self.redactor.redact(result.summary)[:EXCERPT_LIMIT],
                    final=False,
                )
                await self.emit("step_retry", step_id=step.id, attempt=attempt, wait=wait, summary=result.summary[:200])
                await self.clock.sleep(wait)
                continue
            break
        await self._record_result(
            step,
            result,
            attempt,
            started_wall,
            self.clock.monotonic() - t0,
            "action_finished"
            if kind == "action" and not (self.dry_run and cls and not cls.read_only)
            else "step_finished",
        )

    async def _run_steady(self, step: models.Step, cls: type[plugin_base.Plugin], spec: models.Steady) -> None:
        """A steady gate: probe the check every ``spec.every``; it passes once it held continuously for
        ``spec.for_`` (a breach, an error included, restarts the clock), else ends ``spec.on_timeout`` at the
        limit. Every probe is recorded (``step_probe``) so the evidence shows when the clock restarted."""
        started_wall = clock_mod.utc_iso(self.clock.now())
        t0 = self.clock.monotonic()
        await self.emit("step_started", step_id=step.id, attempt=1)
        held_since: float | None = None
        longest = 0.0
        probes = 0
        breaches = 0
        while True:
            prepared = await self._params(cls, step)
            result = (
                prepared
                if isinstance(prepared, Result)
                else await self._call_plugin(cls(), self.step_context(step, prepared))
            )
            probes += 1
            now = self.clock.monotonic()
            if result.outcome in (Outcome.PASS, Outcome.WARN):
                held_since = now if held_since is None else held_since
            else:
                breaches += 1
                held_since = None
            held = now - held_since if held_since is not None else 0.0
            longest = max(longest, held)
            summary = self.redactor.redact(result.summary)[:EXCERPT_LIMIT]
            await self.emit(
                "step_probe",
                step_id=step.id,
                probe=probes,
                outcome=result.outcome.value,
                held=round(held, 3),
                restarted=held_since is None,
                summary=summary,
            )
            what = f"steady for {clock_fmt(spec.for_)}"
            if held_since is not None and held >= spec.for_:
                final = Result(
                    outcome=Outcome.PASS,
                    summary=f"{what}: held {clock_fmt(held)} over {probes} probes ({breaches} failed and "
                    f"restarted the clock); last: {summary}",
                    details={"probes": probes, "breaches": breaches, "held": round(held, 3)},
                    output=result.output,
                )
                break
            if now - t0 + spec.every > spec.limit:
                final = Result(
                    outcome=Outcome(spec.on_timeout),
                    summary=f"not {what} within {clock_fmt(spec.limit)}: held {clock_fmt(longest)} at most over "
                    f"{probes} probes ({breaches} failed); last: {summary}",
                    details={"probes": probes, "breaches": breaches, "longest": round(longest, 3)},
                    output=result.output,
                )
                break
            await self.clock.sleep(spec.every)
        await self._record_result(step, final, probes, started_wall, self.clock.monotonic() - t0, "step_finished")

    async def _call_plugin(self, plugin: Any, ctx: plugin_base.StepContext) -> Result:
        try:
            async with asyncio.timeout(ctx.timeout):
                result = await plugin.run(ctx)
            if not isinstance(result, Result):
                return Result.error(f"plugin returned {type(result).__name__}, not a Result")
            return result
        except TimeoutError:
            return Result.error(f"timed out after {ctx.timeout:g}s")
        except exceptions.GoliveError as exc:
            return Result.error(self.redactor.redact(exc.message))
        except Exception as exc:  # a plugin bug or an unexpected failure fails closed
            return Result.error(self.redactor.redact(f"{type(exc).__name__}: {exc}"))

    async def _record_result(
        self, step: models.Step, result: Result, attempt: int, started: str, duration: float, event: str
    ) -> None:
        outcome = result.outcome
        summary = result.summary
        extra: dict[str, Any] = {}
        if not step.blocking and outcome in (Outcome.FAIL, Outcome.ERROR):
            summary = f"{outcome.value} (non-blocking): {summary}"
            extra["downgraded_from"] = outcome.value  # a decision that requires this step still sees the failure
            outcome = Outcome.WARN
        evidence = [await self._store_evidence(e) for e in result.evidence]
        await self.emit(
            event,
            **extra,
            step_id=step.id,
            outcome=outcome.value,
            summary=self.redactor.redact(summary)[:EXCERPT_LIMIT],
            details=self.redactor.redact_obj(result.details),
            output=self.redactor.redact_obj(result.output),
            evidence=evidence,
            duration=round(duration, 6),
            attempt=attempt,
            started_at=started,
        )
        if outcome in (Outcome.FAIL, Outcome.ERROR):
            await self.notify(
                "step_failed",
                step={
                    "id": step.id,
                    "title": step.title or step.id,
                    "outcome": outcome.value.upper(),
                    "summary": self.redactor.redact(summary),
                },
            )

    async def _store_evidence(self, ev: Evidence) -> dict[str, Any]:
        data = ev.content
        if ev.media_type.startswith("text/") or ev.media_type in ("application/json",):
            with contextlib.suppress(UnicodeDecodeError):
                data = self.redactor.redact(data.decode("utf-8")).encode("utf-8")
        digest = await self.store.put_blob(data, ev.media_type)
        return {"name": ev.name, "sha256": digest, "size": len(data), "media_type": ev.media_type}

    # -- waiting on people ------------------------------------------------------------------------------
    async def _wait_until_done(
        self, step_id: str, deadline: float | None = None, until: Callable[[], bool] | None = None
    ) -> bool:
        """Wait for a step to be done by an act from any process. False when the deadline passed first.
        ``until``: also return (True) as soon as it holds (a quorum approval landed)."""
        s = self.h.state.step(step_id)
        while s.status != "done" and not (until is not None and until()):
            if s.status == "pending" and self.h.state.step(step_id).action_open is False and s.waiting_for is None:
                return True  # resolved not-done: run it again
            if deadline is not None and self.clock.monotonic() >= deadline:
                return False
            await self.clock.sleep(self.poll)
            await self.h.refresh()
            s = self.h.state.step(step_id)
        return True

    async def _wait_manual(self, step: models.Step) -> None:
        s = self.h.state.step(step.id)
        if s.status != "waiting":
            await self.emit(
                "step_waiting",
                step_id=step.id,
                what="manual",
                role=step.role,
                holder=self.h.state.roles.get(step.role or ""),
                instructions=step.instructions,
            )
            await self.notify(
                "manual_waiting",
                step={"id": step.id, "title": step.title or step.id, "role": step.role},
                links=self.approval_links(step, "confirm", [self.h.state.roles.get(step.role or "")]),
            )
        if self.prompter is not None:
            prompt: asyncio.Future[None] = asyncio.ensure_future(self.prompter(step, self.h))
            waiter: asyncio.Future[Any] = asyncio.ensure_future(self._wait_until_done(step.id))
            await asyncio.wait({prompt, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if prompt.done() and (error := prompt.exception()) is not None:
                waiter.cancel()
                raise error
            await waiter
            prompt.cancel()
        else:
            await self._wait_until_done(step.id)

    async def _wait_resolution(self, step: models.Step) -> None:
        await self.notify("action_unknown", step={"id": step.id, "title": step.title or step.id})
        await self._wait_until_done(step.id)

    async def _wait_decision(self, step: models.Step) -> None:
        st = self.h.state
        s = st.step(step.id)
        deadline_s = step.deadline or self.runbook.settings.decision_deadline
        if s.status != "waiting":
            blockers = acts.decision_blockers(self.h, step)
            deadline_at = clock_mod.utc_iso(self.clock.now() + timedelta(seconds=deadline_s)) if deadline_s else None
            await self.emit(
                "step_waiting",
                step_id=step.id,
                what="decision",
                role=step.role,
                holder=st.roles.get(step.role or ""),
                deadline=deadline_at,
                default=step.default,
                blocked_by=blockers,
                requires=list(step.requires),
            )
            await self.notify(
                "decision_pending",
                step={"id": step.id, "title": step.title or step.id},
                blockers=blockers,
                deadline=deadline_at,
                links=self.approval_links(step, "decide", self._deciders(step)),
                **self.quorum_context(step),
            )
        deadline_mono = None
        s = st.step(step.id)
        if s.deadline and step.default in ("no-go", "rollback"):
            from golive.engine.state import parse_ts

            remaining = (parse_ts(s.deadline) - self.clock.now()).total_seconds()  # type: ignore[operator]
            deadline_mono = self.clock.monotonic() + max(0.0, remaining)
        prompt: asyncio.Future[None] | None = None
        if self.prompter is not None:
            prompt = asyncio.ensure_future(self.prompter(step, self.h))
        try:
            ok = await self._wait_approvals(step, deadline_mono)
        finally:
            if prompt is not None:
                prompt.cancel()
        if not ok:
            # Compare-and-append, like a person's act: a decision that landed at the deadline wins.
            await acts.apply_default(self.h, step.id, step.default or "no-go")
            if self.on_change:
                self.on_change()
        dec = st.decision or {}
        if st.step(step.id).outcome is Outcome.PASS:
            await self.notify(
                "decision_go",
                actor=dec.get("by"),
                reason=dec.get("reason"),
                statement=dec.get("statement"),
                approved=list(dec.get("approvers") or []),
            )
        else:
            await self.notify("decision_no_go", actor=dec.get("by"), reason=dec.get("reason"))

    async def _wait_approvals(self, step: models.Step, deadline_mono: float | None) -> bool:
        """Wait for the decision; under a quorum, announce each approval as it lands (who approved, who is
        awaited). False when the deadline passed first."""
        if step.quorum is None:
            return await self._wait_until_done(step.id, deadline_mono)
        seen = len(self.h.state.step(step.id).approvals)

        def approved() -> bool:
            return len(self.h.state.step(step.id).approvals) != seen

        while True:
            ok = await self._wait_until_done(step.id, deadline_mono, until=approved)
            s = self.h.state.step(step.id)
            # Each approval that did not itself record the decision is announced with the quorum as it stood
            # then (two may land between two looks at the log).
            last = len(s.approvals) - (1 if s.status == "done" and s.decision == "go" else 0)
            for i in range(seen, last):
                await self.notify(
                    "decision_approved",
                    step={"id": step.id, "title": step.title or step.id},
                    actor=s.approvals[i].get("by"),
                    reason=s.approvals[i].get("reason"),
                    **self.quorum_context(step, upto=i + 1),
                )
            seen = len(s.approvals)
            if not ok or s.status == "done":
                return ok

    def _deciders(self, step: models.Step) -> list[str | None]:
        """Who a pending decision waits for: the awaited approvers of its quorum and the deciding role's holder
        (whose NO-GO is a veto); without a quorum, the deciding role's holder."""
        people: list[str | None] = []
        if step.quorum is not None:
            t = quorum_mod.tally(self.h.state, step.quorum, self.h.state.step(step.id).approvals, "go")
            people = [w["holder"] for w in t.awaited]
        return [*people, self.h.state.roles.get(step.role or "")]

    def approval_links(self, step: models.Step, act: str, people: Sequence[str | None]) -> list[dict[str, str]]:
        """One signed, single-use link per person (``{person, url}``) that opens ``step`` in the dashboard for
        them; they expire with the step's deadline. None without a linker."""
        if self.linker is None:
            return []
        s = self.h.state.step(step.id)
        expires = links_mod.expiry(s.deadline, self.clock.now())
        return [
            {"person": p, "url": self.linker.issue(self.h.run_id, step.id, act, p, expires)}
            for p in dict.fromkeys(x for x in people if x)
        ]

    def quorum_context(self, step: models.Step, upto: int | None = None) -> dict[str, Any]:
        """The comms variables of a decision's quorum: ``quorum`` (one line), ``approved``, ``awaited``
        (counting the first ``upto`` approvals, default all)."""
        if step.quorum is None:
            return {}
        approvals = self.h.state.step(step.id).approvals
        t = quorum_mod.tally(self.h.state, step.quorum, approvals[:upto], "go")
        return {
            "quorum": quorum_mod.describe(t),
            "approved": [str(a.get("by")) for a in t.approved],
            "awaited": [f"{w['holder']} ({w['role']})" if w["holder"] else f"{w['role']} (vacant)" for w in t.awaited],
        }

    # -- observe and notify -------------------------------------------------------------------------------
    async def _observe(self, step: models.Step) -> None:
        from golive.engine import observing

        await observing.observe_step(self, step)

    async def _notify_step(self, step: models.Step) -> None:
        started = clock_mod.utc_iso(self.clock.now())
        t = self.clock.monotonic()
        await self.emit("step_started", step_id=step.id, attempt=1)
        try:
            rendered = step.model_copy(update={"message": await self.render(step.message)}) if step.message else step
            n = await self.notifier()
            deliveries = await n.notify_step(rendered, self.message_context())
            failed = [d for d in deliveries if not d.ok]
            result = (
                Result(outcome=Outcome.WARN, summary=f"sent; {len(failed)} channel(s) failed (not required)")
                if failed
                else Result.ok(f"sent to {len(deliveries)} channel(s)")
            )
        except exceptions.GoliveError as exc:
            result = Result.fail(self.redactor.redact(exc.message))
        await self._record_result(step, result, 1, started, self.clock.monotonic() - t, "step_finished")

    # -- rollback ----------------------------------------------------------------------------------------
    async def rollback(self, reason: str, by: str, source: str) -> None:
        """Run the rollback plan to its end. A failure of the machinery itself (a store, a secret a comms channel
        needs, a bug) is recorded as ``rollback_interrupted`` and re-raised: the run stays ROLLING-BACK, and
        whoever resumes it (``golive resume``, a worker) adopts the rollback and finishes it."""
        try:
            await self._rollback(reason, by, source)
        except (asyncio.CancelledError, exceptions.StoreError):
            raise  # a killed process or a lost store cannot record anything; the log says ROLLING-BACK
        except Exception as exc:
            text = exc.message if isinstance(exc, exceptions.GoliveError) else f"{type(exc).__name__}: {exc}"
            text = self.redactor.redact(text)
            with contextlib.suppress(exceptions.GoliveError):
                await self.emit("rollback_interrupted", error=text[:EXCERPT_LIMIT])
            with contextlib.suppress(Exception):
                await self.notify("rollback_interrupted", reason=text)
            raise exceptions.RollbackInterrupted(
                f"rollback of run {self.h.run_id} interrupted: {text}; the run stays ROLLING-BACK: fix the cause, "
                f"then finish it with: golive resume {self.h.run_id}"
            ) from None

    def _after_go(self) -> bool:
        """The rollback under way started after the cutover passed with a GO (during hypercare)."""
        return bool((self.h.state.rollback or {}).get("after_go"))

    def rollback_order(self) -> list[models.Step | None]:
        """The rollback's steps in the order they run; ``None`` stands for restoring the flags' safe values."""
        plan = self.runbook.rollback
        steps: list[models.Step | None] = list(plan.steps)
        where = plan.restore_flags
        if self.runbook.flags is not None and where != "never":
            if where == "first":
                steps.insert(0, None)
            elif where == "last":
                steps.append(None)
            else:
                assert isinstance(where, models.RestoreAfter)
                at = next((i for i, s in enumerate(steps) if s is not None and s.id == where.after), len(steps) - 1)
                steps.insert(at + 1, None)
        return [*steps, *plan.confirm]

    async def _rollback(self, reason: str, by: str, source: str) -> None:
        st = self.h.state
        if st.rollback is None:
            if not await self._claim_rollback(reason, by, source):
                return  # another process started the rollback (an IC's `golive rollback` in hypercare): it runs it
            await self.notify("rollback_triggered", reason=reason, actor=by, after_go=self._after_go())
        for pid, phase_outcome in list(st.phases.items()):
            if phase_outcome == "running":  # the phase the rollback interrupted ends here, failed
                await self.emit(
                    "phase_finished", step_id=pid, outcome="fail", reason=f"interrupted by rollback: {reason}"
                )
        outcomes: list[Outcome] = []
        failed: list[str] = []
        for step in self.rollback_order():
            if step is None:
                o = await self._restore_flags()
                sid = RESTORE_FLAGS_STEP
            else:
                if st.step(step.id).status != "done":
                    await self.run_step(step)
                o = st.step(step.id).outcome or Outcome.ERROR
                sid = step.id
            if o is Outcome.NOT_TAKEN:
                continue  # an unchosen branch was not meant to run: it counts neither way
            outcomes.append(o)
            if not o.ok:
                failed.append(sid)
        ok = not failed
        after_go = self._after_go()
        await self.emit("rollback_finished", outcome="pass" if ok else "fail", failed=failed)
        await self.notify("rollback_complete", reason=reason, outcome="pass" if ok else "fail", after_go=after_go)
        status_reason = f"{reason} (rollback started by {by}{'' if ok else '; some rollback steps failed'})"
        if after_go:
            status_reason = f"after GO, during hypercare: {status_reason}"
        await self.finish(RunStatus.ROLLED_BACK_AFTER_GO if after_go else RunStatus.ROLLED_BACK, status_reason)

    async def _claim_rollback(self, reason: str, by: str, source: str) -> bool:
        """Append ``rollback_started`` only while no rollback has started (compare-and-append on a fresh read of
        the log): True when this process started it. False when another one did first (in hypercare no engine
        holds the run, so `golive hypercare`'s armed watch and an IC's `golive rollback` can both get here):
        that one runs the plan, and it runs once."""
        for _ in range(acts.MAX_ACT_ATTEMPTS):
            await self.h.refresh()
            if self.h.state.rollback is not None:
                return False
            started = store_base.NewEvent(
                "rollback_started", actor=INTERNAL_ACTOR, data={"reason": reason, "by": by, "source": source}
            )
            try:
                await self.h.append_many([started], expect_seq=self.h.state.last_seq)
            except exceptions.HeadMoved:
                continue  # something else was written meanwhile: read again
            if self.on_change:
                self.on_change()
            return True
        raise exceptions.StoreError(f"run {self.h.run_id}: the log kept moving; the rollback could not be started")

    async def _restore_flags(self) -> Outcome:
        """The fastest lever: set every declared kill-switch flag back to its safe value and read it back."""
        spec = self.runbook.flags
        assert spec is not None
        s = self.h.state.step(RESTORE_FLAGS_STEP)
        if s.status == "done" and s.outcome is not None:
            return s.outcome
        started = clock_mod.utc_iso(self.clock.now())
        t = self.clock.monotonic()
        await self.emit(
            "action_started", step_id=RESTORE_FLAGS_STEP, attempt=1, describe=f"set safe values: {spec.safe}"
        )
        # The same code as a `flag` action step: set each flag, then read it back and compare like for like.
        cls = self.registry.get("action", "flag")
        if cls is None:
            result = Result.error("no flag action plugin is registered")
        else:
            params = cls.params.model_validate({"flags": dict(spec.safe)})
            probe = models.Step(id=RESTORE_FLAGS_STEP, kind=models.StepKind.ACTION, type="flag")
            result = await self._call_plugin(cls(), self.step_context(probe, params))
        step = models.Step(
            id=RESTORE_FLAGS_STEP, kind=models.StepKind.ACTION, type="flag", title="Restore safe flag values"
        )
        await self._record_result(step, result, 1, started, self.clock.monotonic() - t, "action_finished")
        return result.outcome


_PASSING = frozenset({Outcome.PASS, Outcome.WARN, Outcome.WAIVED, Outcome.SKIPPED})


def clock_fmt_t(seconds: float) -> str:
    """A T-time as the runbook writes it (T-15m, T+1h)."""
    from golive.spec import durations

    return durations.format_ttime(seconds)


def clock_fmt(seconds: float) -> str:
    """A duration as the runbook writes it (60s, 1m30s)."""
    from golive.spec import durations

    return durations.format_duration(seconds)


def _ok(outcome: Outcome | None) -> bool:
    return outcome is not None and outcome.ok


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def monotonic() -> float:
    return time.monotonic()


__all__ += ["FINAL", "is_interactive"]
