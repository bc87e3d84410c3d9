"""Scenarios: a runbook played headless under a fake clock against stubs, with scripted people, and judged.

A scenario file (YAML, ``scenario: 1``) names who holds each role, what each person does and when (confirm
with inputs and evidence, fail a manual step, GO / NO-GO, waive, roll back, or no answer before a deadline),
the stubs the runbook meets (a stubs file, and ``faults:`` laid over it, e.g. a stub that starts failing at
T+3m or a metric series a trigger or a judge reads), and what must come out: the run's outcome, step
outcomes, flags at the end, comms per channel and the evidence checklist.

:func:`play` runs the same engine ``golive run --mode rehearsal`` runs, with an in-memory store and
:class:`golive.clock.FakeClock` (a 2-hour window passes without real waiting), and returns what happened
(:class:`Actual`); :func:`compare` lists every difference from what the scenario expects, the first
differing step first. ``golive test`` is the command over both.

A scenario never passes on a step that did not meet a stub: every outside call goes to the stubs (one no
stub answers fails closed, and the scenario fails naming it), and a step whose plugin cannot be stubbed at
the transport (``tcp``, ``tls``) is refused before the run starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from golive import clock as clock_mod
from golive import exceptions
from golive.plugins import stubs as stubs_mod
from golive.spec.durations import Duration

__all__ = [
    "Actual",
    "Difference",
    "Scenario",
    "ScenarioResult",
    "compare",
    "load_scenario",
    "play",
    "unstubbable",
]

SCENARIO_VERSION = 1
MAX_SCENARIO_BYTES = 4 * 1024 * 1024  # a scenario is configuration
DEFAULT_LOOK_EVERY = 30.0  # seconds of run time between the scripted people's looks at the run
DEFAULT_RUN_LIMIT = 7 * 24 * 3600.0  # seconds of run time a scenario may take before it fails
IDLE_WAIT = 5.0  # seconds (real) a sleeper waits at most for the run's threads before time moves anyway
IDLE_TURNS = 200  # event-loop turns a sleeper waits at most for the other tasks to become idle
REAL_POLL = 0.02  # seconds (real) between the engine's looks for acts recorded by others
ENGINE_POLL = 5.0  # seconds of run time between the engine's looks for people's acts (they look every 30 s)
REAL_TIME_LIMIT = 120.0  # seconds of real time a scenario may take before it fails (a stuck run never hangs)
# Plugins that meet the outside world somewhere no stub reaches (a socket of their own).
TRANSPORT_LESS = frozenset({"tcp", "tls"})
LOCAL_FILES = frozenset({"file", "log"})  # read local files: a scenario's `files:` provides them


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------------------- the file format


class Confirm(_Model):
    inputs: dict[str, str] = Field(default_factory=dict, description="Values of the step's inputs, by input id.")
    evidence: list[str] = Field(
        default_factory=list, description="Files handed in (paths relative to the scenario, or names in files:)."
    )


class Waive(_Model):
    ticket: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class Act(_Model):
    """One person's act: on a step when it waits (``step``), or at a run time (``at``, for a rollback)."""

    step: str | None = Field(default=None, description="The step acted on, when it waits for a person.")
    at: Duration | None = Field(default=None, description="Run time from the start at which to act, e.g. 40m.")
    after: Duration = Field(default=0.0, description="How long after the step starts waiting the person acts.")
    by: str | None = Field(default=None, description="Who acts; default: the holder of the step's role.")
    confirm: Confirm | None = None
    fail: str | None = Field(default=None, description="Confirm the manual step as failed, with this reason.")
    decide: Literal["go", "no-go"] | None = None
    reason: str = Field(default="scenario", description="The reason recorded with a decision.")
    waive: Waive | None = None
    rollback: str | None = Field(
        default=None, description="Ask for the rollback plan, with this reason (at: a run time, or while step: runs)."
    )
    no_answer: bool = Field(default=False, description="Nobody answers: the step's deadline and default apply.")

    @model_validator(mode="after")
    def _one(self) -> Act:
        what = [
            n
            for n, on in (
                ("confirm", self.confirm is not None),
                ("fail", self.fail is not None),
                ("decide", self.decide is not None),
                ("waive", self.waive is not None),
                ("rollback", self.rollback is not None),
                ("no_answer", self.no_answer),
            )
            if on
        ]
        if len(what) != 1:
            raise ValueError(
                "give exactly one of confirm, fail, decide, waive, rollback, no_answer"
                + (f" (got {', '.join(what)})" if what else "")
            )
        if self.rollback is not None:
            if self.at is None and self.step is None:
                raise ValueError("a rollback needs at: (run time) or step: (when that step waits)")
        elif self.step is None:
            raise ValueError(f"{what[0]} needs step: the id of the step acted on")
        return self

    @property
    def what(self) -> str:
        for n in ("confirm", "fail", "decide", "waive", "rollback"):
            if getattr(self, n) is not None:
                return n
        return "no_answer"


class People(_Model):
    default: Literal["auto", "none"] = Field(
        default="auto",
        description="auto: every step nobody scripted is confirmed (inputs 'rehearsal') or decided GO; "
        "none: nobody answers it.",
    )
    acts: list[Act] = Field(default_factory=list)
    every: Duration = Field(default=DEFAULT_LOOK_EVERY, gt=0, description="How often people look at the run.")


class Comms(_Model):
    includes: list[str] = Field(default_factory=list, description="Comms events sent on the channel.")
    excludes: list[str] = Field(default_factory=list, description="Comms events never sent on the channel.")
    count: int | None = Field(default=None, ge=0, description="How many messages the channel got.")


Outcome = Literal["pass", "warn", "fail", "error", "skipped", "waived", "not-run", "not-taken", "go", "no-go"]
FinalOutcome = Literal["passed", "no_go", "rolled_back", "rolled_back_after_go", "stopped", "failed"]
EvidenceStatus = Literal["complete", "missing", "not-applicable"]


class Expect(_Model):
    outcome: FinalOutcome
    steps: dict[str, Outcome] = Field(default_factory=dict)
    flags: dict[str, Any] = Field(default_factory=dict)
    comms: dict[str, Comms] = Field(default_factory=dict)
    evidence: dict[str, EvidenceStatus] = Field(default_factory=dict)
    rollback_by: str | None = Field(default=None, description="Who or what started the rollback, e.g. trigger:x.")


class Scenario(_Model):
    """A scenario file, ``scenario: 1``."""

    scenario: Literal[1]
    name: str = Field(min_length=1)
    description: str = ""
    runbook: str | None = Field(default=None, description="The runbook, relative to this file.")
    stubs: str | None = Field(default=None, description="The stubs file, relative to this file.")
    faults: dict[str, Any] | None = Field(
        default=None, description="Stubs laid over the stubs file (same format; these are matched first)."
    )
    vars: dict[str, str | int | float | bool] = Field(default_factory=dict)
    env: dict[str, str] | None = Field(
        default=None,
        description="The run's environment for `env` checks, laid over the stubs' env: (never the real one).",
    )
    files: dict[str, str] = Field(default_factory=dict, description="Files written in the run's directory.")
    roles: dict[str, str] = Field(default_factory=dict)
    people: People = Field(default_factory=People)
    limit: Duration = Field(default=DEFAULT_RUN_LIMIT, gt=0, description="Run time the run may take.")
    expect: Expect

    @property
    def confirm_inputs(self) -> dict[str, dict[str, str]]:
        """The inputs the scenario's people confirm each manual step with, by step id (for other scripted
        people, e.g. :class:`golive.testing.AutoActors` in a time-scaled rehearsal of the same runbook)."""
        return {a.step: dict(a.confirm.inputs) for a in self.people.acts if a.step and a.confirm is not None}

    @model_validator(mode="after")
    def _safe_files(self) -> Scenario:
        for name in self.files:
            parts = Path(name).parts
            if Path(name).is_absolute() or ".." in parts or not parts:
                raise ValueError(f"files: {name!r} must be a relative path inside the run's directory")
        return self


@dataclass(frozen=True)
class LoadedScenario:
    path: Path
    scenario: Scenario
    node: Any  # the YAML node tree, for lines in messages


_FIXES = {
    "extra_forbidden": "remove it, or check its spelling against docs/rehearsal.md",
    "missing": "add it",
    "literal_error": "use one of the values named",
}


def _invalid(p: Path, node: Any, exc: ValidationError, prefix: Sequence[Any] = ()) -> exceptions.UsageError:
    lines = []
    for err in exc.errors():
        loc = [*prefix, *err["loc"]]
        line = stubs_mod._line_of(node, loc)
        fix = _FIXES.get(err["type"])
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{p}:{line}: {'.'.join(str(x) for x in loc)}: {msg}" + (f" ({fix})" if fix else ""))
    return exceptions.UsageError("invalid scenario:\n" + "\n".join(lines))


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file; :class:`exceptions.UsageError` naming file, line, field and fix."""
    p = Path(path)
    _raw, node, data = stubs_mod.read_yaml(p, "scenario file", MAX_SCENARIO_BYTES)
    if not isinstance(data, dict) or "scenario" not in data:
        raise exceptions.UsageError(f"{p}:1:1: a scenario file starts with 'scenario: 1'")
    try:
        model = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _invalid(p, node, exc) from None
    if model.env is not None:
        try:
            stubs_mod.StubsFile.model_validate({"stubs": 1, "env": model.env})
        except ValidationError as exc:
            raise _invalid(p, node, exc) from None
    if model.faults is not None:
        try:
            stubs_mod.StubsFile.model_validate({"stubs": 1, **model.faults})
        except ValidationError as exc:
            raise _invalid(p, node, exc, ("faults",)) from None
    return LoadedScenario(p, model, node)


def scenario_stubs(loaded: LoadedScenario, base: stubs_mod.LoadedStubs | None) -> stubs_mod.LoadedStubs:
    """The stubs the scenario's run meets: its ``faults:`` first (they win), then the stubs file."""
    sc = loaded.scenario
    if sc.stubs is not None:
        base = stubs_mod.load_stubs(loaded.path.parent / sc.stubs)
    if base is None and sc.faults is None:
        raise exceptions.UsageError(
            f"{loaded.path}: no stubs: give 'stubs: FILE' in the scenario (or --stubs): a scenario never meets "
            "the outside world"
        )
    under = base.stubs if base is not None else stubs_mod.StubsFile(stubs=1)
    over = stubs_mod.StubsFile.model_validate({"stubs": 1, **(sc.faults or {})})
    update: dict[str, Any] = {
        k: [*getattr(over, k), *getattr(under, k)] for k in ("http", "commands", "sql", "metrics", "counters", "dns")
    }
    for key in ("secrets", "flags", "env"):
        if getattr(over, key) is not None:
            update[key] = {**(getattr(under, key) or {}), **getattr(over, key)}
    if sc.env is not None:
        update["env"] = {**(update.get("env") or under.env or {}), **sc.env}
    merged = under.model_copy(update=update)
    digest = hashlib.sha256(
        (base.digest if base else "").encode() + repr(sc.faults).encode() + repr(sc.env).encode()
    ).hexdigest()
    return stubs_mod.LoadedStubs(str(base.path if base else loaded.path), digest, merged)


# ------------------------------------------------------------------------------------ what cannot be stubbed


def unstubbable(
    runbook: Any,
    stubs: stubs_mod.StubsFile | None,
    files: Mapping[str, str] | None = None,
    vars_: Mapping[str, Any] | None = None,
) -> list[str]:
    """Steps that would meet the outside world where no stub reaches, each with why and the fix.

    ``files`` are the local files a scenario provides: a ``file`` / ``log`` check (or ``log`` trigger) reading
    one of them, or one a stubbed command writes (``files:`` of a command stub), is stubbed by it. A path
    whose variables (``vars_``) do not settle it is taken on trust in a scenario and counted missing without.
    """
    out = []
    provided = set(files or {}) | _written_by_stubs(stubs)
    reads: list[tuple[str, str, Any]] = []
    for _, step in runbook.all_steps():
        kind = step.type or ""
        if kind in TRANSPORT_LESS:
            out.append(f"step {step.id} ({kind}): opens its own socket; no stub reaches it (waive it in the scenario)")
        elif kind in LOCAL_FILES:
            reads.append((f"step {step.id}", kind, dict(step.with_ or {}).get("path")))
        elif kind == "env" and stubs is not None and stubs.env is None:
            name = dict(step.with_ or {}).get("name")
            out.append(f"step {step.id} (env): reads {name}; give the run's environment as env: in the stubs")
    for trig in runbook.triggers:
        if trig.source is not None and trig.source.type in LOCAL_FILES:
            reads.append((f"trigger {trig.id}", trig.source.type, dict(trig.source.with_ or {}).get("path")))
    for label, kind, raw in reads:
        if raw is None:
            continue  # a log read through a command: the commands stubs answer it
        path = _with_vars(str(raw), vars_ or {})
        if path in provided:
            continue
        if files is None:
            out.append(f"{label} ({kind}): reads the local file {path}; give it in a scenario's files:")
        elif "${{" not in path:
            out.append(f"{label} ({kind}): reads {path}, which the scenario's files: does not give")
    flags = runbook.flags
    if flags is not None and (stubs is None or stubs.flags is None) and _writes_local_file(flags.provider.type):
        # Without `flags:` the runbook's own provider is used: a file provider would flip the real file.
        out.append(
            f"flags ({flags.provider.type}): the flag provider writes the local file "
            f"{dict(flags.provider.with_ or {}).get('path')}; give the flags' starting values as flags: in the stubs"
        )
    if stubs is None:
        out.insert(0, "no stubs file: give --stubs FILE (or stubs/<runbook>.yaml beside the runbook)")
    return out


def _written_by_stubs(stubs: stubs_mod.StubsFile | None) -> set[str]:
    """The files stubbed commands write (relative to the run's directory)."""
    out: set[str] = set()
    for c in stubs.commands if stubs is not None else ():
        for res in [c.result] if c.result is not None else list(c.sequence or []):
            out.update(res.files)
    return out


def _with_vars(path: str, vars_: Mapping[str, Any]) -> str:
    """``${{ vars.NAME }}`` replaced by the variable's value where it is known."""
    import re

    def one(m: re.Match[str]) -> str:
        value = vars_.get(m.group(1))
        return str(value) if value is not None else m.group(0)

    return re.sub(r"\$\{\{\s*vars\.([A-Za-z0-9_-]+)\s*\}\}", one, path)


def _writes_local_file(provider: str) -> bool:
    """Whether a flag provider keeps the flags in a local file (no stub reaches it; network ones meet the
    stubbed transport)."""
    from golive.plugins import registry
    from golive.plugins.flags import files

    cls = registry.default_registry().get("flag", provider)
    return cls is not None and issubclass(cls, files._FileFlags)


# ---------------------------------------------------------------------------------------------- playing


@dataclass
class Actual:
    """What a played scenario did."""

    outcome: str
    reason: str
    steps: dict[str, str]  # step id -> outcome (a decision: go / no-go), in the order they finished
    order: list[str]  # every step id of the runbook, in runbook order
    flags: dict[str, Any]
    comms: dict[str, list[str]]  # channel -> comms events sent (ok), in order
    evidence: dict[str, str]
    rollback_by: str | None
    unstubbed: list[str]
    refused: list[str]
    run_time: float  # seconds of (fake) run time the run took
    summaries: dict[str, str] = field(default_factory=dict)


class _ThreadWatch:
    """Counts the run's work in threads (``asyncio.to_thread``, ``run_in_executor``) until the loop has its result.

    The count drops in a callback of the asyncio future, queued together with the wake-up of the task that
    awaits it, so "nothing in threads and nothing ready" means the result has been delivered too.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.busy = 0
        self._loop = loop
        self._original = loop.run_in_executor

        def run_in_executor(executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
            fut = self._original(executor, func, *args)
            self.busy += 1
            fut.add_done_callback(self._done)
            return fut

        loop.run_in_executor = run_in_executor  # type: ignore[method-assign,assignment]

    def _done(self, _fut: asyncio.Future[Any]) -> None:
        self.busy -= 1

    def close(self) -> None:
        self._loop.run_in_executor = self._original  # type: ignore[method-assign]


def _scenario_clock(threads: _ThreadWatch) -> Any:
    """A fake clock that moves only when every task is idle and no thread works for the run.

    :class:`golive.clock.FakeClock` lets a few event-loop turns pass before a sleeper moves time; a task
    that is about to sleep (the observe window's next read, started as a task) may not have registered yet,
    or a read may be running in a thread, and time would jump past it. Here a sleeper first lets the loop run
    until nothing else is ready and the executor is idle (waiting at most IDLE_WAIT real seconds).
    """

    class ScenarioClock(clock_mod.FakeClock):
        async def _let_others_run(self, woken: asyncio.Future[None] | None = None) -> None:
            loop = asyncio.get_running_loop()
            give_up = time.monotonic() + IDLE_WAIT
            while True:
                for _ in range(IDLE_TURNS):
                    if woken is not None and woken.done():
                        return  # woken meanwhile: its caller goes on now (see FakeClock._let_others_run)
                    await asyncio.sleep(0)
                    # Private, but the only way to know that no other task is ready to run.
                    if not getattr(loop, "_ready", None):
                        break
                if not threads.busy or time.monotonic() > give_up:
                    return
                await asyncio.sleep(0.001)  # a thread is working: let it finish (real time, briefly)

    return ScenarioClock()


class _People:
    """The scenario's people: each scripted act when its step waits (after its delay) or at its time; every
    other waiting step answered automatically (``default: auto``) or not at all."""

    def __init__(
        self, store: Any, run_id: str, clock: Any, sc: Scenario, base_dir: Path, workdir: Path, where: str
    ) -> None:
        self.store, self.run_id, self.clock, self.sc = store, run_id, clock, sc
        self.base_dir, self.workdir = base_dir, workdir
        self.where = where
        self.loaded: Any = None
        self.start = clock.monotonic()
        self.refused: list[str] = []
        self.pending = list(sc.people.acts)
        self.waiting_since: dict[tuple[str, str], float] = {}
        self.answered: set[tuple[str, str]] = set()

    def _evidence(self, names: Sequence[str]) -> list[Path]:
        out = []
        for name in names:
            p = self.workdir / name if name in self.sc.files else self.base_dir / name
            if not p.is_file():
                raise exceptions.UsageError(
                    f"evidence {name!r}: no such file (give it in files:, or beside the scenario)"
                )
            out.append(p)
        return out

    def _auto_evidence(self, step: Any) -> list[Path]:
        out = []
        for item in step.evidence:
            if item.required:
                p = self.workdir / ".evidence" / f"{step.id}-{item.name}.txt".replace("/", "_")
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(f"scenario evidence for {step.id}: {item.name}\n", encoding="utf-8")
                out.append(p)
        return out

    @staticmethod
    def _decider(h: Any) -> str | None:
        from golive.engine import acts

        return acts.decider_of(h)

    def _actor(self, h: Any, step: Any, act: Act | None) -> str:
        if act is not None and act.by:
            return act.by
        if step is not None and step.role and h.state.roles.get(step.role):
            return str(h.state.roles[step.role])
        return self._decider(h) or "scenario-actor"

    async def _do(self, h: Any, act: Act | None, step_id: str, waiting_for: str | None) -> None:
        from golive.engine import acts

        step: Any = h.runbook.step(step_id) if step_id else None
        actor = self._actor(h, step, act)
        if act is None:  # the automatic person
            if waiting_for == "manual":
                values = {i.id: "rehearsal" for i in step.inputs}
                await acts.confirm(h, step_id, actor, inputs=values, evidence=self._auto_evidence(step))
            else:
                await acts.scripted_go(h, step_id, self._decider(h) or actor, "scenario: automatic GO")
            return
        if act.confirm is not None:
            given = act.confirm.inputs
            values = {i.id: given.get(i.id, "rehearsal") for i in step.inputs} | given
            ev = self._evidence(act.confirm.evidence) if act.confirm.evidence else self._auto_evidence(step)
            await acts.confirm(h, step_id, actor, inputs=values, evidence=ev)
        elif act.fail is not None:
            await acts.confirm(h, step_id, actor, failed=True, reason=act.fail)
        elif act.decide is not None:
            who = act.by or self._decider(h) or actor
            await acts.decide(h, act.decide, who, act.reason, step_id=step_id)
        elif act.waive is not None:
            await acts.waive(h, step_id, actor, act.waive.ticket, act.waive.reason)
        elif act.rollback is not None:
            who = act.by or self._rollbacker(h) or actor
            await acts.request_rollback(h, who, act.rollback)

    def _rollbacker(self, h: Any) -> str | None:
        for role_id in sorted(h.runbook.roles_with("rollback")):
            if h.state.roles.get(role_id):
                return str(h.state.roles[role_id])
        return self._decider(h)

    async def run(self) -> None:
        from golive.engine import acts

        every = float(self.sc.people.every)
        # One handle, brought up to date before each look (reopening would load the runbook every time).
        h = await acts.open_run(self.store, self.run_id, self.loaded)
        while True:
            await h.refresh()
            if h.state.final:
                return
            now = self.clock.monotonic() - self.start
            next_due = now + every
            # Acts at a run time (a rollback at T+40m).
            for timed in [a for a in self.pending if a.at is not None]:
                at = float(timed.at or 0.0)
                if now >= at:
                    self.pending.remove(timed)
                    await self._try(h, timed, timed.step or "", None)
                    await h.refresh()
                else:
                    next_due = min(next_due, at)
            # A rollback while a step runs (an observe window), once it has run for `after`.
            for during in [a for a in self.pending if a.at is None and a.rollback is not None]:
                st = h.state.step(during.step or "")
                if st.status not in ("running", "waiting"):
                    continue
                since = self.waiting_since.setdefault((st.id, "running"), now)
                if now >= since + float(during.after):
                    self.pending.remove(during)
                    await self._try(h, during, st.id, None)
                    await h.refresh()
                else:
                    next_due = min(next_due, since + float(during.after))
            for s in list(h.state.waiting) + self._failed_open(h):
                key = (s.id, str(s.waiting_for))
                if key in self.answered:
                    continue
                since = self.waiting_since.setdefault(key, now)
                act = next((a for a in self.pending if a.step == s.id and a.at is None), None)
                if act is None:
                    if s.status != "waiting" or self.sc.people.default == "none":
                        continue
                    if s.waiting_for not in ("manual", "decision", "pause"):
                        continue
                elif act.no_answer:
                    self.pending.remove(act)
                    self.answered.add(key)
                    continue
                elif act.what != "waive" and s.status != "waiting":
                    continue
                if act is not None and now < since + float(act.after):
                    next_due = min(next_due, since + float(act.after))
                    continue
                if act is not None:
                    self.pending.remove(act)
                self.answered.add(key)
                await self._try(h, act, s.id, s.waiting_for)
                await h.refresh()
            await self.clock.sleep(max(0.001, next_due - now))

    @staticmethod
    def _failed_open(h: Any) -> list[Any]:
        """Steps that ended failed while the run is open (a waiver may still stand in for them)."""
        return [s for s in h.state.steps.values() if s.status == "done" and str(s.outcome) in ("fail", "error")]

    async def _try(self, h: Any, act: Act | None, step_id: str, waiting_for: str | None) -> None:
        try:
            await self._do(h, act, step_id, waiting_for)
        except exceptions.UsageError as exc:
            fix = (
                f"give it with people.acts: - step: {step_id}, confirm: {{inputs: {{...}}}}"
                if act is None and waiting_for == "manual"
                else "fix the act in people.acts"
            )
            raise exceptions.UsageError(f"{self.where}: step {step_id}: {exc.message} ({fix})") from None
        except exceptions.GoliveError as exc:
            what = act.what if act is not None else "automatic answer"
            self.refused.append(f"{step_id or 'run'}: {what} refused: {exc.message}")


async def play(
    loaded_runbook: Any,
    sc: LoadedScenario | None,
    stubs: stubs_mod.LoadedStubs,
    *,
    workdir: Path,
    roles: Mapping[str, str] | None = None,
) -> Actual:
    """Play the runbook against ``stubs`` with the scenario's people under a fake clock; what happened."""
    from golive.engine import acts, rehearsal, runner
    from golive.engine.state import parse_ts
    from golive.store import memory
    from golive.views import summary

    scenario = sc.scenario if sc is not None else None
    threads = _ThreadWatch(asyncio.get_running_loop())
    clock = _scenario_clock(threads)
    store = memory.InMemoryStore(clock=clock)
    await store.open()
    store.event_clock = clock
    settings = rehearsal.RehearsalSettings(stubs=stubs)
    for name, content in (scenario.files if scenario else {}).items():
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    handle = await runner.create_run(
        store,
        loaded_runbook,
        mode="rehearsal",
        roles=dict(roles or {}) | (dict(scenario.roles) if scenario else {}),
        rehearsal=settings,
        clock=clock,
        start_now=True,
    )
    engine = runner.Engine(handle, clock=clock, poll=ENGINE_POLL)
    # The engine notices acts of other processes (a rollback request) on a real-time poll: here they are
    # this process's, so it looks often rather than every ENGINE_POLL real seconds.
    engine.real_poll = REAL_POLL
    engine.ctx.workdir = workdir  # commands run (and stubbed commands write) in the scenario's directory
    people = _People(
        store,
        handle.run_id,
        clock,
        scenario or Scenario(scenario=1, name="happy path", expect=Expect(outcome="passed")),
        sc.path.parent if sc is not None else workdir,
        workdir,
        str(sc.path) if sc is not None else "the happy path",
    )
    people.loaded = loaded_runbook
    limit = float(scenario.limit) if scenario else DEFAULT_RUN_LIMIT
    transport: Any = None
    try:
        async with rehearsal.outside_world(engine, settings) as transport:
            run = asyncio.create_task(engine.run())
            actors = asyncio.create_task(people.run())
            started = time.monotonic()
            try:
                while not run.done():
                    await asyncio.wait({run, actors}, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
                    if actors.done() and not actors.cancelled() and actors.exception() is not None:
                        raise actors.exception()  # type: ignore[misc]
                    if clock.monotonic() > limit or time.monotonic() - started > REAL_TIME_LIMIT:
                        raise exceptions.GoliveError(
                            f"the run did not end within {limit / 3600:g} h of run time "
                            f"(status {handle.state.status.value}; waiting: "
                            f"{', '.join(s.id for s in handle.state.waiting) or 'nothing'})"
                        )
                run.result()
            finally:
                for t in (run, actors):
                    t.cancel()
                await asyncio.gather(run, actors, return_exceptions=True)
                await engine.aclose()
        h = await acts.open_run(store, handle.run_id)
        st = h.state
        steps: dict[str, str] = {}
        summaries: dict[str, str] = {}
        for s in sorted(
            (s for s in st.steps.values() if s.outcome is not None or s.decision is not None),
            key=lambda s: s.finished_at or "",
        ):
            steps[s.id] = s.decision if s.decision in ("go", "no-go") else str(s.outcome.value if s.outcome else "")
            summaries[s.id] = s.summary
        comms: dict[str, list[str]] = {}
        for c in st.comms:
            if c.get("ok") and c.get("channel") not in (None, "*"):
                comms.setdefault(str(c["channel"]), []).append(str(c.get("event") or ""))
        evidence = {i["id"]: i["status"] for i in summary.checklist(h)}
        rb = st.rollback or {}
        first, last = parse_ts(st.created_at), parse_ts(st.finished_at)
        return Actual(
            outcome=st.status.value,
            reason=st.reason,
            steps=steps,
            order=[s.id for _, s in h.runbook.all_steps()],
            flags=transport.flag_values if transport is not None else {},
            comms=comms,
            evidence=evidence,
            rollback_by=rb.get("by") or rb.get("source"),
            unstubbed=list(transport.unstubbed) if transport is not None else [],
            refused=people.refused,
            run_time=(last - first).total_seconds() if first and last else 0.0,
            summaries=summaries,
        )
    finally:
        threads.close()
        await store.close()


# -------------------------------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class Difference:
    what: str  # "outcome", "step", "flag", "comms", "evidence", "unstubbed", "rollback_by"
    key: str
    expected: Any
    actual: Any
    note: str = ""

    def line(self) -> str:
        label = f"{self.what} {self.key}".strip()
        more = f"  ({self.note})" if self.note else ""
        return f"{label}: expected {_show(self.expected)}, got {_show(self.actual)}{more}"


def _show(v: Any) -> str:
    if v is None:
        return "nothing"
    if isinstance(v, list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def compare(expect: Expect, actual: Actual) -> list[Difference]:
    """Every difference between what the scenario expects and what happened; step differences in runbook
    order, so the first one is the first differing step."""
    out: list[Difference] = []
    for item in actual.unstubbed:
        out.append(Difference("unstubbed", item, "a stub", "no stub answered (failed closed)"))
    for step_id in [s for s in actual.order if s in expect.steps] + [s for s in expect.steps if s not in actual.order]:
        want = expect.steps[step_id]
        got = actual.steps.get(step_id, "not-run" if step_id in actual.order else None)
        if step_id not in actual.order:
            out.append(Difference("step", step_id, want, None, "the runbook has no such step"))
        elif got != want:
            out.append(Difference("step", step_id, want, got, actual.summaries.get(step_id, "")[:200]))
    if expect.outcome != actual.outcome:
        out.append(Difference("outcome", "", expect.outcome, actual.outcome, actual.reason[:200]))
    if expect.rollback_by is not None and expect.rollback_by != actual.rollback_by:
        out.append(Difference("rollback_by", "", expect.rollback_by, actual.rollback_by))
    for name, want in expect.flags.items():
        if actual.flags.get(name) != want:
            out.append(Difference("flag", name, want, actual.flags.get(name)))
    for channel, c in expect.comms.items():
        sent = actual.comms.get(channel, [])
        missing = [e for e in c.includes if e not in sent]
        if missing:
            out.append(Difference("comms", channel, f"includes {missing}", sent))
        extra = [e for e in c.excludes if e in sent]
        if extra:
            out.append(Difference("comms", channel, f"never {extra}", sent))
        if c.count is not None and c.count != len(sent):
            out.append(Difference("comms", channel, f"{c.count} messages", f"{len(sent)} {sent}"))
    for item, want_status in expect.evidence.items():
        got_status = actual.evidence.get(item)
        if got_status != want_status:
            out.append(Difference("evidence", item, want_status, got_status))
    return out


@dataclass
class ScenarioResult:
    name: str
    path: str
    passed: bool
    differences: list[Difference]
    actual: Actual | None
    error: str | None = None
    wall: float = 0.0

    def report(self) -> str:
        """The readable diff: the first differing step named first, then every difference."""
        if self.error is not None:
            return f"FAIL {self.name} ({self.path}): {self.error}"
        if self.passed:
            assert self.actual is not None
            return (
                f"PASS {self.name} ({self.path}): {self.actual.outcome.upper()} after "
                f"{_hms(self.actual.run_time)} of run time, {self.wall:.1f} s real"
            )
        lines = [f"FAIL {self.name} ({self.path})"]
        first_step = next((d for d in self.differences if d.what == "step"), None)
        if first_step is not None:
            lines.append(f"  first differing step: {first_step.key}")
        for d in self.differences:
            lines.append(f"  - {d.line()}")
        if self.actual is not None:
            if self.actual.refused:
                lines.append("  acts refused: " + "; ".join(self.actual.refused))
            lines.append(f"  run ended {self.actual.outcome.upper()}: {self.actual.reason}")
            lines.append("  steps as run: " + ", ".join(f"{k}={v}" for k, v in self.actual.steps.items()))
        return "\n".join(lines)


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def run_one(
    runbook_path: Path,
    sc: LoadedScenario | None,
    base_stubs: stubs_mod.LoadedStubs | None,
    var_overrides: Mapping[str, Any],
    *,
    roles: Mapping[str, str] | None = None,
) -> ScenarioResult:
    """Load, check what cannot be stubbed, play and compare one scenario (or the happy path)."""
    from golive.spec import loader

    name = sc.scenario.name if sc is not None else "happy path"
    where = str(sc.path) if sc is not None else str(runbook_path)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="golive-scenario-") as tmp:
        workdir = Path(tmp)
        given = dict(var_overrides) | ({k: v for k, v in sc.scenario.vars.items()} if sc is not None else {})
        loaded = loader.load(runbook_path, var_overrides=given)
        if sc is not None:
            stubs = scenario_stubs(sc, base_stubs)
            missing = unstubbable(loaded.runbook, stubs.stubs, sc.scenario.files, loaded.vars)
        else:
            missing = unstubbable(loaded.runbook, base_stubs.stubs if base_stubs else None, None, loaded.vars)
            stubs = base_stubs  # type: ignore[assignment]
        if missing:
            return ScenarioResult(
                name, where, False, [], None, "not every outside call is stubbed:\n    " + "\n    ".join(missing)
            )
        expect = sc.scenario.expect if sc is not None else Expect(outcome="passed")
        try:
            if sc is None:  # the happy path: automatic people hold every role nobody named
                roles = {r: f"{r} (automatic)" for r in loaded.runbook.roles} | dict(roles or {})
            actual = asyncio.run(play(loaded, sc, stubs, workdir=workdir, roles=roles))
        except exceptions.UsageError:
            raise
        except exceptions.GoliveError as exc:
            return ScenarioResult(name, where, False, [], None, exc.message, time.perf_counter() - started)
    diffs = compare(expect, actual)
    if sc is None:
        # The happy path: every step that ran passed against a stub.
        for step_id, got in actual.steps.items():
            if got not in ("pass", "go", "skipped", "not-taken", "not-run"):
                diffs.append(Difference("step", step_id, "pass", got, actual.summaries.get(step_id, "")[:200]))
    return ScenarioResult(name, where, not diffs, diffs, actual, None, time.perf_counter() - started)


# ----------------------------------------------------------------------------------------------- JUnit


def junit_xml(suite: str, results: Sequence[ScenarioResult]) -> str:
    """A JUnit XML document with one test case per scenario (CI systems show the diff as the failure)."""
    import xml.etree.ElementTree as ET

    failures = sum(1 for r in results if not r.passed)
    root = ET.Element("testsuites")
    ts = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        time=f"{sum(r.wall for r in results):.3f}",
    )
    for r in results:
        tc = ET.SubElement(ts, "testcase", classname=suite, name=r.name, file=r.path, time=f"{r.wall:.3f}")
        if not r.passed:
            first = next((d for d in r.differences if d.what == "step"), None)
            msg = r.error or (f"first differing step: {first.key}" if first else r.differences[0].line())
            f = ET.SubElement(tc, "failure", message=msg.splitlines()[0], type="ScenarioMismatch")
            f.text = r.report()
        else:
            out = ET.SubElement(tc, "system-out")
            out.text = r.report()
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
