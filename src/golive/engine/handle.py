"""A run as every process opens it: its record, its runbook and the fold of its events (``RunHandle``).

Rules it keeps:

- ``create_run`` records ``run_created`` with what the chain must cover (the runbook's digests, vars as stored,
  the anchor of T-0, start-gate waivers); a var whose value held a secret or personal data is withheld from
  the store and must be given again to resume elsewhere. A rehearsal's settings are refused for a live run.

- The state is the fold of the run's hash-chained event log, nothing else: ``open_run`` folds it (from a
  folded-state snapshot when one matches the log), ``refresh`` applies what other processes appended since.
- Every append goes through ``append_many``: the ownership is checked first (a lost lease writes nothing),
  the acting identity is stamped, each event is checked against its typed payload, and a driving process's
  batch carries its fence. ``expect_seq`` makes it a compare-and-append (``HeadMoved`` when the log moved).
- The runbook is the one stored with the run (by its digest), validated once and cached beside the state.
- A reference's value (``vars``, ``release``, ``run``, ``roles``, ``steps``) comes from the fold; a secret is
  never rendered into stored text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import re
import secrets as secrets_mod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from golive import clock as clock_mod
from golive import exceptions, identity, runids
from golive import redact as redact_mod
from golive.engine import events as events_mod
from golive.engine import gate as gate_mod
from golive.engine import rehearsal as rehearsal_mod
from golive.engine import state as state_mod
from golive.spec import durations, loader, models, refs
from golive.store import base as store_base

log = logging.getLogger(__name__)

INTERNAL_ACTOR = "golive"  # the actor of what the engine records by itself

__all__ = [
    "INTERNAL_ACTOR",
    "SNAPSHOT_EVERY",
    "RunHandle",
    "create_run",
    "fold_run",
    "keep_snapshot",
    "make_redactor",
    "new_run_id",
    "open_run",
    "packed_runbook_text",
    "pause_gc",
    "resolve_ref",
    "stored_var_overrides",
    "waiver_data",
]


@dataclass
class RunHandle:
    """A run as the rules see it: its record, its runbook and its current state."""

    store: store_base.Store
    record: store_base.RunRecord
    loaded: loader.LoadedRunbook
    state: state_mod.RunState
    # Variable values as given when the run was created, in the creating process only: the store keeps
    # them redacted, and a value that held a secret or personal data is withheld from it entirely.
    raw_vars: dict[str, Any] | None = None
    # The lease this process drives the run under (golive.engine.driver.Ownership), when it does: every
    # append then carries its fence, and none is attempted once the ownership is lost.
    ownership: Any = None
    # An event to record with this process's first write (the driver's engine_started for a finished run).
    announce: store_base.NewEvent | None = None
    # Called after this handle applied events it did not append itself (``refresh``, or those an append found
    # before its own): an engine hears a rollback request however it came in (Engine.run sets it).
    on_heard: Callable[[], None] | None = None

    @property
    def runbook(self) -> models.Runbook:
        return self.loaded.runbook

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def redactor(self) -> redact_mod.Redactor:
        return make_redactor(self.runbook)

    async def refresh(self) -> None:
        evs = await self.store.events(self.run_id, after_seq=self.state.last_seq)
        for ev in evs:
            self.state.apply(ev)
        if evs and self.on_heard is not None:
            self.on_heard()

    async def append(
        self, type_: str, *, step_id: str | None = None, actor: str | None = None, **data: Any
    ) -> store_base.Event:
        """Append one event (fenced when this process drives the run) and apply it to the state."""
        return (await self.append_many([store_base.NewEvent(type_, step_id=step_id, actor=actor, data=data)]))[0]

    async def append_many(
        self, events: list[store_base.NewEvent], *, expect_seq: int | None = None
    ) -> list[store_base.Event]:
        """Append events atomically and apply them. ``expect_seq``: compare-and-append on the head read
        (HeadMoved when another process wrote first). A driving process's appends carry its fence."""
        fence = None
        if self.ownership is not None:
            self.ownership.check()  # lost, or past due: fail here, before the store and any side effect
            fence = self.ownership.fence
        # Whoever is acting (golive.identity.acting) is named with how they authenticated on their events.
        events = identity.stamp_events(events)
        # Every event goes through its typed payload before the store sees it (a refusal loses nothing).
        events_mod.check(events if self.announce is None else [self.announce, *events])
        announce, self.announce = self.announce, None
        batch = events if announce is None else [announce, *events]
        try:
            evs = await self.store.append_many(self.run_id, batch, fence=fence, expect_seq=expect_seq)
        except exceptions.Fenced as exc:
            if self.ownership is not None:
                self.ownership.mark_lost(exc.message)
            raise
        except BaseException:
            self.announce = announce
            raise
        if evs and evs[0].seq > self.state.last_seq + 1:
            # Another process (or task) appended in between: apply those first, in order.
            for missed in await self.store.events(self.run_id, after_seq=self.state.last_seq):
                if missed.seq >= evs[0].seq:
                    break
                self.state.apply(missed)
            if self.on_heard is not None:
                self.on_heard()
        for ev in evs:
            if ev.seq == self.state.last_seq + 1:
                self.state.apply(ev)
        return evs if announce is None else evs[1:]


def make_redactor(runbook: models.Runbook) -> redact_mod.Redactor:
    s = runbook.settings
    return redact_mod.Redactor(
        custom_patterns=[(p.name, p.pattern) for p in s.redact_patterns], redact_ips=s.redact_ips
    )


def packed_runbook_text(runbook: models.Runbook, text: str) -> str:
    """The runbook text as an evidence pack carries it: redacted by a fresh redactor with the run's settings.

    ``run_created`` chains the digest of exactly this text, so it must not depend on what else a redactor
    has seen (placeholders are numbered in order of appearance)."""
    return make_redactor(runbook).redact(text)


def stored_var_overrides(record: store_base.RunRecord) -> dict[str, Any]:
    """The typed-literal vars a run started with (a duration or a threshold taken from a var shapes the
    runbook), so that the stored text reads as the run's runbook again; withheld values are left out."""
    withheld = set(record.params.get("vars_withheld") or [])
    stored = record.params.get("vars") or {}
    return {
        k: v
        for k, v in stored.items()
        if k not in withheld
        and (isinstance(v, bool | int | float) or (isinstance(v, str) and re.fullmatch(durations.DURATION_PATTERN, v)))
    }


async def open_run(
    store: store_base.Store, run_id: str, loaded: loader.LoadedRunbook | None = None, *, snapshot: bool = True
) -> RunHandle:
    """Load a run by id (or unique prefix): record, runbook (from the stored text) and folded state.

    ``loaded`` (the runbook the run was just created from) saves validating the stored text again, which is
    most of the cost of starting a large run; it is used only when its digest is the run's. ``snapshot``:
    start the fold from the run's folded-state snapshot when one matches the log (see :func:`fold_run`);
    False folds the whole log (the evidence pack does).
    """
    record = await store.get_run(run_id)
    overrides = stored_var_overrides(record)
    # The validated runbook is cached beside the state snapshot, by its digest, its vars and the code.
    rb_kind = (
        "runbook/"
        + hashlib.sha256(
            f"{loader.validated_code_digest()}\0{record.runbook_digest}\0{store_base.canonical_json(overrides)}".encode()
        ).hexdigest()[:40]
    )
    validated = False  # the stored text was validated here: cache the result
    if loaded is None or loaded.digest != record.runbook_digest:
        loaded = await _cached_runbook(store, record, rb_kind) if snapshot else None
        if loaded is None:
            with loader.stored_runbook():
                loaded = loader.load_text(record.runbook_text, record.runbook_path, environ={}, var_overrides=overrides)
            validated = True
    state = await fold_run(store, record.run_id, loaded.runbook, record.runbook_digest, snapshot=snapshot)
    if snapshot and validated and state.last_seq:
        try:
            text = loader.dump_loaded(loaded)
        except (ValueError, TypeError):
            pass
        else:
            await _keep(store, record.run_id, rb_kind, store_base.Snapshot(state.last_seq, state.head_hash, text))
    return RunHandle(store, record, loaded, state)


async def _cached_runbook(
    store: store_base.Store, record: store_base.RunRecord, kind: str
) -> loader.LoadedRunbook | None:
    try:
        snap = await store.get_snapshot(record.run_id, kind)
        return None if snap is None else loader.undump_loaded(snap.data, record.runbook_text)
    except (exceptions.StoreError, ValueError, KeyError, TypeError):
        return None


# Events folded past the snapshot (or from the start) before a new snapshot is kept. A finished run keeps
# one as soon as it has this many events, so its views never fold its log again.
SNAPSHOT_EVERY = 1000


async def fold_run(
    store: store_base.Store, run_id: str, runbook: models.Runbook, runbook_digest: str, *, snapshot: bool = True
) -> state_mod.RunState:
    """The run's state: its snapshot (a cache in the store) when one was folded by this code and the event
    it folded up to still has the hash it folded, plus the events after it; else the fold of the whole log.
    Keeps a new snapshot once SNAPSHOT_EVERY events were folded (or the run is finished): best effort, a
    store that refuses the write (read-only) costs the next reader a fold, nothing else."""
    kind = state_mod.snapshot_kind(runbook_digest)
    state: state_mod.RunState | None = None
    with pause_gc():
        if snapshot:
            try:
                snap = await store.get_snapshot(run_id, kind)
                if snap is not None:
                    state = state_mod.load_state(snap.data)
                    if state.last_seq != snap.seq or state.head_hash != snap.head_hash or state.run_id != run_id:
                        state = None
            except (exceptions.StoreError, ValueError, KeyError, TypeError):
                state = None
        if state is None:
            state = state_mod.fold(run_id, [], runbook)
        events = await store.events(run_id, after_seq=state.last_seq)
        for ev in events:
            state.apply(ev)
    if snapshot and events and (len(events) >= SNAPSHOT_EVERY or (state.final and state.last_seq >= SNAPSHOT_EVERY)):
        await keep_snapshot(store, state, kind)
    return state


async def keep_snapshot(store: store_base.Store, state: state_mod.RunState, kind: str) -> None:
    """Store ``state`` as the run's snapshot of ``kind`` (best effort: see :func:`fold_run`)."""
    try:
        data = state_mod.dump_state(state)
    except (ValueError, TypeError):
        return
    await _keep(store, state.run_id, kind, store_base.Snapshot(state.last_seq, state.head_hash, data))


async def _keep(store: store_base.Store, run_id: str, kind: str, snap: store_base.Snapshot) -> None:
    try:
        await store.put_snapshot(run_id, kind, snap)
    except exceptions.StoreError as exc:
        log.debug("run %s: snapshot %s not kept: %s", run_id, kind.split("/", 1)[0], exc.message)


@contextlib.contextmanager
def pause_gc() -> Any:
    """The cyclic collector off while a large acyclic object graph is built (events, a fold): its passes
    over the growing heap made reading and folding super-linear in the log's length."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def resolve_ref(h: RunHandle, ref: refs.Ref) -> Any:
    """A reference's value from the run's state (secrets are never rendered into stored text)."""
    p = ref.parts
    if ref.root == "vars":
        return h.state.vars.get(p[1], h.loaded.vars.get(p[1]))
    if ref.root == "release":
        return refs.lookup(h.runbook.release.model_dump(mode="json"), p[1:], ref.text)
    if ref.root == "run":
        info = {
            "id": h.run_id,
            "mode": h.state.mode,
            "started_at": h.state.created_at,
            "name": h.runbook.name,
            "service": h.runbook.service,
            "environment": h.runbook.environment,
            "status": h.state.status.label,
            "reason": h.state.reason,
        }
        return info.get(p[1])
    if ref.root == "roles":
        return h.state.roles.get(p[1], f"<{p[1]} unassigned>")
    if ref.root == "steps":
        st = h.state.step(p[1])
        if p[2] == "outcome":
            return st.outcome.value if st.outcome else "pending"
        if p[2] == "summary":
            return st.summary
        if p[2] == "inputs":
            return refs.lookup(st.inputs, p[3:], ref.text)
        return refs.lookup(st.output, p[3:], ref.text) if len(p) > 3 else st.output
    if ref.root == "secrets":
        return "<secret>"
    return None


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


def waiver_data(w: gate_mod.GateWaiver, red: Any) -> dict[str, Any]:
    """A start-gate waiver as the log keeps it: its free text redacted; how its giver authenticated (``auth``,
    which the redactor would take for a credential by its name) kept as it is."""
    data = dataclasses.asdict(w)
    how = {k: data.pop(k) for k in ("auth", "auth_subject")}
    return {**red.redact_obj(data), **{k: v for k, v in how.items() if v is not None}}


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
) -> RunHandle:
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
    var_redactor = make_redactor(runbook)
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
    red = make_redactor(runbook)
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
                    packed_runbook_text(runbook, loaded.text).encode("utf-8")
                ).hexdigest(),
                "t0": clock_mod.utc_iso(runbook.t0) if runbook.t0 else None,
                "anchor": _anchor(runbook, clk),
                "start_now": start_now,
                **({"gate_waivers": [waiver_data(w, red) for w in gate_waivers]} if gate_waivers else {}),
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
    handle = await open_run(store, rid, loaded=loaded)
    handle.raw_vars = dict(loaded.vars)
    return handle
