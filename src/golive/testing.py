"""Test doubles that users of golive need too: a fake clock, an in-memory store (more are added beside it)."""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from golive import clock as clock_mod
from golive import exceptions, results
from golive.plugins import base as plugins_base
from golive.store import base as store_base
from golive.store import common as store_common
from golive.store import sqlfiles

__all__ = [
    "FakeClock",
    "FakeMetricSource",
    "InMemoryStore",
    "RunningEngine",
    "make_ctx",
    "start_engine",
]


class FakeClock:
    """A clock that only moves when told to, or when something sleeps on it.

    Sleepers wake in the order of their wake times, as on a real clock: a sleeper's ``sleep`` lets the
    other ready tasks run (so they can start their own sleeps), then moves time to the earliest wake time
    among all sleepers and wakes those that are due. A 900 s status-update sleep therefore does not jump
    past a 0.2 s poll, and a simulated 72 hours of hypercare still runs in milliseconds.
    """

    YIELDS = 3  # event-loop turns a sleeper lets pass before it moves time

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move the clock forward (and wake the sleepers that are due)."""
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
        self._wake_due()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + max(0.0, seconds), next(self._seq), fut))
        for _ in range(self.YIELDS):
            await asyncio.sleep(0)
        while self._sleepers and self._sleepers[0][2].done():  # cancelled sleepers
            heapq.heappop(self._sleepers)
        if self._sleepers and not fut.done():
            earliest = self._sleepers[0][0]
            if earliest > self._mono:
                self.advance(earliest - self._mono)
            else:
                self._wake_due()
        await fut


class InMemoryStore(store_base.Store):
    """The event store in memory, for tests: seq, hash chain, prefix lookup, blobs, tokens and leases
    behave as in the SQLite and PostgreSQL stores; nothing survives the process.

    ``open_store("memory://")`` returns one. :meth:`tamper` edits an event behind the chain's back, so
    tests can check what happens when ``verify`` fails.
    """

    def __init__(self, clock: clock_mod.Clock | None = None) -> None:
        super().__init__(clock)
        self._open = False
        self._runs: dict[str, store_base.RunRecord] = {}
        self._events: dict[str, list[store_base.Event]] = {}
        self._heads: dict[str, tuple[int, str]] = {}
        self._blobs: dict[str, tuple[bytes, store_base.BlobInfo]] = {}
        self._tokens: dict[str, store_base.TokenRecord] = {}
        self._leases: dict[str, store_base.Lease] = {}
        self._lease_epochs: dict[str, int] = {}
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._version = 0

    async def open(self) -> None:
        self._open = True
        # Report the schema the SQL stores would be at, so `golive db upgrade --db memory://` reads true.
        self._version = sqlfiles.load_migrations("sqlite")[-1].version

    async def close(self) -> None:
        self._open = False

    def _check_open(self) -> None:
        if not self._open:
            raise exceptions.StoreError("InMemoryStore is not open: call `await store.open()` first")

    async def schema_version(self) -> int:
        return self._version

    async def migrate(self) -> int:
        return self._version

    # runs
    async def create_run(self, run: store_base.RunRecord) -> None:
        self._check_open()
        params = store_common.run_params(run)  # validates and encodes params as the SQL stores do
        if run.run_id in self._runs:
            raise exceptions.StoreError(f"run {run.run_id!r} already exists")
        # Round-trip through the row form (params in column order) so params read back as JSON would.
        self._runs[run.run_id] = store_common.run_from_row(tuple(params.values()))
        self._events[run.run_id] = []
        self._heads[run.run_id] = (0, store_base.GENESIS)

    async def get_run(self, run_id: str) -> store_base.RunRecord:
        self._check_open()
        if not run_id:
            raise exceptions.UsageError("run id must not be empty")
        if run_id in self._runs:
            return self._runs[run_id]
        matches = sorted(r for r in self._runs if r.startswith(run_id))
        return self._runs[store_base.resolve_run_prefix(run_id, matches)]

    async def list_runs(self, limit: int = 100) -> list[store_base.RunRecord]:
        self._check_open()
        ordered = sorted(enumerate(self._runs.values()), key=lambda p: (p[1].created_at, p[0]), reverse=True)
        return [run for _, run in ordered[:limit]]

    # events
    async def append(
        self,
        run_id: str,
        event: store_base.NewEvent,
        *,
        fence: store_base.Fence | None = None,
        expect_seq: int | None = None,
    ) -> store_base.Event:
        return (await self.append_many(run_id, [event], fence=fence, expect_seq=expect_seq))[0]

    async def append_many(
        self,
        run_id: str,
        events: list[store_base.NewEvent],
        *,
        fence: store_base.Fence | None = None,
        expect_seq: int | None = None,
    ) -> list[store_base.Event]:
        """Append atomically with consecutive seqs (all or none); fenced and compare-and-append as the SQL
        stores are."""
        self._check_open()
        prepared = [store_common.prepare_event(e) for e in events]
        if run_id not in self._runs:
            raise exceptions.NotFound(f"no run {run_id!r}: create it before appending events")
        log = self._events[run_id]
        last = (log[-1].seq, log[-1].hash) if log else (0, store_base.GENESIS)
        if last != self._heads[run_id]:
            raise exceptions.ChainBroken(
                run_id,
                min(last[0], self._heads[run_id][0]) + 1,
                f"refusing to append: the log ends at seq {last[0]} but the run's head says {self._heads[run_id][0]}",
            )
        store_common.check_expect(run_id, expect_seq, last[0])
        if fence is not None:
            lease = self._leases.get(run_id)
            alive = lease is not None and lease.expires_at > self.clock.now().timestamp()
            why = store_base.fence_refusal(run_id, fence, lease, self._lease_epochs.get(run_id, 0), alive)
            if why is not None:
                raise exceptions.Fenced(why)
        seq, prev = last
        now = clock_mod.utc_iso(self.event_clock.now())
        last_ts = log[-1].ts if log else None
        sealed: list[store_base.Event] = []
        for p in prepared:
            seq += 1
            ts = last_ts = store_common.event_ts(p, now, last_ts)
            ev = store_base.seal_event(run_id, seq, ts, p.type, p.step_id, p.actor, p.data_json, prev)
            sealed.append(ev)
            prev = ev.hash
        log.extend(sealed)
        if sealed:
            self._heads[run_id] = (seq, prev)
            for waiter in self._waiters.get(run_id, ()):
                waiter.set()
        return sealed

    async def events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[store_base.Event]:
        self._check_open()
        found = [ev for ev in self._events.get(run_id, []) if ev.seq > after_seq]
        return found if limit is None else found[:limit]

    async def verify(self, run_id: str) -> int:
        """Verify every hash, seq continuity, and that the log ends at the run's head."""
        self._check_open()
        if run_id not in self._runs:
            raise exceptions.NotFound(f"no run {run_id!r}")
        evs = list(self._events[run_id])
        count = store_base.verify_chain(run_id, evs)
        store_base.check_head(run_id, evs, *self._heads[run_id])
        return count

    async def follow(self, run_id: str, after_seq: int = 0, poll: float = 0.1) -> AsyncIterator[store_base.Event]:
        """Yield events as they are appended; woken by each append (``poll`` is not needed here)."""
        self._check_open()
        waiter = asyncio.Event()
        self._waiters.setdefault(run_id, set()).add(waiter)
        seq = after_seq
        try:
            while True:
                waiter.clear()
                batch = await self.events(run_id, after_seq=seq)
                for ev in batch:
                    seq = ev.seq
                    yield ev
                if not batch:
                    await waiter.wait()
        finally:
            self._waiters.get(run_id, set()).discard(waiter)

    def tamper(self, run_id: str, seq: int, *, delete: bool = False, **changes: Any) -> None:
        """Edit (``data={...}``, ``actor=...``) or delete one stored event without fixing the chain."""
        log = self._events[run_id]
        index = next(i for i, ev in enumerate(log) if ev.seq == seq)
        if delete:
            del log[index]
        else:
            log[index] = dataclasses.replace(log[index], **changes)

    # blobs
    async def put_blob(self, data: bytes, media_type: str = "application/octet-stream") -> str:
        self._check_open()
        digest = store_common.sha256_hex(data)
        if digest not in self._blobs:
            info = store_base.BlobInfo(digest, len(data), media_type, clock_mod.utc_iso(self.clock.now()))
            self._blobs[digest] = (bytes(data), info)
        return digest

    async def get_blob(self, digest: str) -> bytes:
        self._check_open()
        store_common.check_digest(digest)
        if digest not in self._blobs:
            raise exceptions.NotFound(f"no blob {digest}")
        data = self._blobs[digest][0]
        if store_common.sha256_hex(data) != digest:
            raise exceptions.StoreError(f"blob {digest} is damaged")
        return data

    async def blob_info(self, digest: str) -> store_base.BlobInfo:
        self._check_open()
        store_common.check_digest(digest)
        if digest not in self._blobs:
            raise exceptions.NotFound(f"no blob {digest}")
        return self._blobs[digest][1]

    # tokens
    async def put_token(self, token: store_base.TokenRecord) -> None:
        self._check_open()
        self._tokens[token.token_hash] = token

    async def find_token(self, token_hash: str) -> store_base.TokenRecord | None:
        self._check_open()
        return self._tokens.get(token_hash)

    async def list_tokens(self) -> list[store_base.TokenRecord]:
        self._check_open()
        return sorted(self._tokens.values(), key=lambda t: (t.created_at, t.token_hash))

    # leases (this store's clock is the database's clock)
    def _move_lease(self, kind: str, run_id: str, owner: str, ttl: float) -> store_base.Lease | None:
        if run_id not in self._runs:
            raise exceptions.NotFound(f"no run {run_id!r}")
        now = self.clock.now().timestamp()
        held = self._leases.get(run_id)
        lease_epoch = self._lease_epochs.get(run_id, 0)
        alive = held is not None and held.expires_at > now
        epoch = store_common.next_epoch(kind, owner, lease_epoch, held, alive)
        if epoch is None:
            return None
        same = held is not None and epoch == held.epoch
        acquired = held.acquired_at if same and held is not None else clock_mod.utc_iso(self.clock.now())
        lease = store_base.Lease(run_id, owner, now + ttl, epoch, acquired)
        self._leases[run_id] = lease
        self._lease_epochs[run_id] = epoch
        return lease

    async def acquire_lease(self, run_id: str, owner: str, ttl: float) -> store_base.Lease | None:
        self._check_open()
        return self._move_lease("acquire", run_id, owner, ttl)

    async def take_over_lease(self, run_id: str, owner: str, ttl: float) -> store_base.Lease:
        self._check_open()
        lease = self._move_lease("take_over", run_id, owner, ttl)
        assert lease is not None
        return lease

    async def renew_lease(self, run_id: str, owner: str, ttl: float, epoch: int | None = None) -> bool:
        self._check_open()
        held = self._leases.get(run_id)
        now = self.clock.now().timestamp()
        if held is None or held.owner != owner or (epoch is not None and held.epoch != epoch):
            return False
        if held.expires_at <= now:  # a late renewal never revives a lease
            return False
        self._leases[run_id] = dataclasses.replace(held, expires_at=now + ttl)
        return True

    async def release_lease(self, run_id: str, owner: str) -> None:
        self._check_open()
        held = self._leases.get(run_id)
        if held is not None and held.owner == owner:
            del self._leases[run_id]

    async def get_lease(self, run_id: str) -> store_base.Lease | None:
        self._check_open()
        return self._leases.get(run_id)

    async def claim_orphan_run(self, owner: str, ttl: float) -> store_base.Lease | None:
        self._check_open()
        now = self.clock.now().timestamp()
        expired = sorted((lease.expires_at, lease.run_id) for lease in self._leases.values() if lease.expires_at <= now)
        if not expired:
            return None
        return self._move_lease("claim", expired[0][1], owner, ttl)


class FakeMetricSource:
    """A metric source for tests: plays a script of readings, then repeats the last one.

    Script items: a float (a value), ``None`` (no data), a :class:`golive.results.MetricReading`, or an
    exception (raised by ``read``). ``set``/``empty``/``fail``/``raise_`` replace what is read next,
    forever. It reads without suspending, so evaluations under :class:`FakeClock` happen at the instant
    they are due. Use ``lambda ref: source.read`` as a trigger's source factory.
    """

    def __init__(self, script: Iterable[float | results.MetricReading | BaseException | None] = ()) -> None:
        self._script = list(script)
        self._current: float | results.MetricReading | BaseException | None = None
        self.reads = 0

    def set(self, value: float) -> None:
        """Read this value from now on."""
        self._script, self._current = [], value

    def empty(self, why: str = "empty result") -> None:
        """Read no data from now on."""
        self._script, self._current = [], results.MetricReading.no_data(why)

    def fail(self, why: str) -> None:
        """Read an error from now on."""
        self._script, self._current = [], results.MetricReading.failed(why)

    def raise_(self, exc: BaseException) -> None:
        """Raise this exception from ``read`` from now on."""
        self._script, self._current = [], exc

    async def read(self, ctx: object = None) -> results.MetricReading:
        self.reads += 1
        if self._script:
            self._current = self._script.pop(0)
        item = self._current
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, results.MetricReading):
            return item
        if item is None:
            return results.MetricReading.no_data()
        return results.MetricReading.of(float(item))


def make_ctx(
    params: Any,
    *,
    secrets: dict[str, str] | None = None,
    flags: Any = None,
    **kw: Any,
) -> plugins_base.StepContext:
    """A :class:`golive.plugins.base.StepContext` for running a plugin directly in a test.

    ``params`` is the plugin's params model instance (``HttpParams(url=...)``). ``secrets`` maps names
    to values: ``ctx.secret(name)`` returns them and ``ctx.redact`` masks every value as ``***``.
    ``flags`` is a flag provider (used for every name) or a dict of provider name (``None`` for the
    default) to provider, for ``ctx.flag_provider``. Any other keyword sets that StepContext field
    (``clock``, ``workdir``, ``release``, ``http_pool``, ``timeout``, ``secret_provider``...).

    Example::

        result = await HttpCheck().run(make_ctx(HttpParams(url=server.url("/health"))))
    """
    known = dict(secrets or {})
    if known and "redact" not in kw:
        values = sorted((v for v in known.values() if v), key=len, reverse=True)

        def redact(text: str) -> str:
            for v in values:
                text = text.replace(v, "***")
            return text

        kw["redact"] = redact
    if known and "secret" not in kw:

        async def secret(name: str) -> str:
            if name not in known:
                raise exceptions.SecretError(f"no secret {name!r} in this test context")
            return known[name]

        kw["secret"] = secret
    if flags is not None and "flag_provider" not in kw:
        if isinstance(flags, dict):
            table = dict(flags)

            def pick(name: str | None) -> Any:
                if name not in table:
                    raise exceptions.UsageError(f"no flag provider {name!r} in this test context")
                return table[name]

            kw["flag_provider"] = pick
        else:
            kw["flag_provider"] = lambda name: flags
    return plugins_base.StepContext(params=params, **kw)


ENGINE_WAIT_LIMIT = 30.0  # seconds RunningEngine.until waits for a state before it fails
ENGINE_FAST_POLL = 0.02  # seconds between the engine's looks at the log in tests


class RunningEngine:
    """A run driven by an engine task; people act through fresh handles, as from another terminal.

    For tests of a runbook's rules: start it with :func:`start_engine`, wait with :meth:`until`, act with
    :mod:`golive.engine.acts` on :meth:`view`, and read the outcome with :meth:`finished`.
    """

    def __init__(self, store: store_base.Store, handle: Any, task: asyncio.Task[Any]) -> None:
        self.store, self.handle, self.task = store, handle, task

    @property
    def run_id(self) -> str:
        return str(self.handle.run_id)

    async def view(self) -> Any:
        """A fresh handle, as `golive confirm` / `golive decide` would open."""
        from golive.engine import acts

        return await acts.open_run(self.store, self.run_id)

    async def until(self, what: str, pred: Callable[[Any], bool], limit: float = ENGINE_WAIT_LIMIT) -> Any:
        """The first fresh handle whose state satisfies ``pred``; an engine crash or the time limit fails."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.task.done():
                self.task.result()  # surface an engine crash
            h = await self.view()
            if pred(h.state):
                return h
            await asyncio.sleep(ENGINE_FAST_POLL)
        raise AssertionError(f"run never reached: {what}")

    async def waiting(self, step_id: str) -> Any:
        return await self.until(f"{step_id} waiting", lambda s: s.step(step_id).status == "waiting")

    async def finished(self, limit: float = ENGINE_WAIT_LIMIT) -> Any:
        """The run's final status."""
        return await asyncio.wait_for(self.task, limit)

    async def events(self, type_: str | None = None) -> list[store_base.Event]:
        return [e for e in await self.store.events(self.run_id) if type_ is None or e.type == type_]


async def start_engine(
    store: store_base.Store,
    loaded: Any,
    *,
    roles: dict[str, str] | None = None,
    clock: Any = None,
    poll: float = ENGINE_FAST_POLL,
    mode: str = "live",
) -> RunningEngine:
    """Create a run of ``loaded`` (in ``mode``: live, rehearsal, dry-run) and drive it with an engine in a
    background task."""
    from golive.engine import runner

    handle = await runner.create_run(store, loaded, roles=roles, mode=mode)
    engine = runner.Engine(handle, poll=poll, clock=clock)
    return RunningEngine(store, handle, asyncio.create_task(engine.run()))


class AutoActors:
    """People who act on a run as a rehearsal's script says, with the roles' holders as actors.

    Each manual step is confirmed with ``inputs[step_id]`` (an input not given gets ``"rehearsal"``; an
    input with a ``pattern`` must be given), each decision and pause is decided ``decisions.get(step_id,
    "go")``. They look at the run every ``every`` seconds of the run's clock (a fake or scaled clock), so
    the time people take is in proportion whatever the clock. Used by rehearsal tests and scenarios.
    """

    def __init__(
        self,
        store: store_base.Store,
        run_id: str,
        *,
        clock: Any,
        inputs: dict[str, dict[str, str]] | None = None,
        decisions: dict[str, str] | None = None,
        every: float = 30.0,
        fallback_actor: str = "rehearsal-actor",
        max_tries: int = 5,
    ) -> None:
        self.store, self.run_id, self.clock = store, run_id, clock
        self.inputs = inputs or {}
        self.decisions = decisions or {}
        self.every = every
        self.fallback_actor = fallback_actor
        self.max_tries = max_tries
        self.acted: list[tuple[str, str]] = []  # (step id, what)
        self.refused: list[str] = []

    async def run(self) -> None:
        """Act until the run is final (cancel the task to stop earlier)."""
        from golive import exceptions as exc_mod
        from golive.engine import acts

        done: set[tuple[str, str]] = set()
        tries: dict[tuple[str, str], int] = {}
        while True:
            h = await acts.open_run(self.store, self.run_id)
            if h.state.final:
                return
            for s in list(h.state.waiting):
                key = (s.id, str(s.waiting_for))
                if key in done:
                    continue
                step = h.runbook.step(s.id)
                if step is None:
                    continue
                actor = h.state.roles.get(step.role or "") or self._decider(h) or self.fallback_actor
                try:
                    if s.waiting_for == "manual":
                        given = self.inputs.get(s.id, {})
                        values = {i.id: given.get(i.id, "rehearsal") for i in step.inputs}
                        await acts.confirm(h, s.id, actor, inputs=values, evidence=self._evidence(step))
                    elif s.waiting_for in ("decision", "pause"):
                        choice = self.decisions.get(s.id, "go")
                        await acts.decide(h, choice, self._decider(h) or actor, "rehearsal script", step_id=s.id)
                    else:
                        continue
                except exc_mod.GoliveError as exc:
                    # Refused (a rule, or another act landed first): look again on the next round, a few times.
                    self.refused.append(f"{s.id}: {exc.message}")
                    tries[key] = tries.get(key, 0) + 1
                    if tries[key] >= self.max_tries:
                        done.add(key)
                    continue
                done.add(key)
                self.acted.append(key)
                h = await acts.open_run(self.store, self.run_id)
            await self.clock.sleep(self.every)

    def _evidence(self, step: Any) -> list[Path]:
        """A small file per required evidence item of a manual step (a rehearsal's stand-in)."""
        import tempfile

        out = []
        for item in step.evidence:
            if item.required:
                fd, name = tempfile.mkstemp(prefix=f"golive-{step.id}-", suffix=".txt")
                with os.fdopen(fd, "w") as f:
                    f.write(f"rehearsal evidence for {step.id}: {item.name}\n")
                out.append(Path(name))
        return out

    @staticmethod
    def _decider(h: Any) -> str | None:
        for role_id, role in h.runbook.roles.items():
            if "decide" in (role.may or []) and h.state.roles.get(role_id):
                return str(h.state.roles[role_id])
        return None
