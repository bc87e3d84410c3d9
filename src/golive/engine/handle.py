"""A run as every process opens it: its record, its runbook and the fold of its events (``RunHandle``).

Rules it keeps:

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
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from golive import exceptions, identity
from golive import redact as redact_mod
from golive.engine import events as events_mod
from golive.engine import state as state_mod
from golive.spec import durations, loader, models, refs
from golive.store import base as store_base

log = logging.getLogger(__name__)

__all__ = [
    "SNAPSHOT_EVERY",
    "RunHandle",
    "fold_run",
    "keep_snapshot",
    "make_redactor",
    "open_run",
    "packed_runbook_text",
    "pause_gc",
    "resolve_ref",
    "stored_var_overrides",
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

    @property
    def runbook(self) -> models.Runbook:
        return self.loaded.runbook

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def redactor(self) -> redact_mod.Redactor:
        return make_redactor(self.runbook)

    async def refresh(self) -> None:
        for ev in await self.store.events(self.run_id, after_seq=self.state.last_seq):
            self.state.apply(ev)

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
