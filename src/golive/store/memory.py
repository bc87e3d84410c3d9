"""The event store in memory: the store contract held in a process, for tests and throwaway runs.

``open_store("memory://")`` returns one; ``golive.testing.InMemoryStore`` is this class. It keeps to the
contract the SQLite and PostgreSQL stores keep (tests/integration/test_store_contract.py runs on all three), and
shares their encoding, chaining and lease rules through ``golive.store.common`` and ``golive.store.base``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

from golive import clock as clock_mod
from golive import exceptions
from golive.store import base as store_base
from golive.store import common as store_common
from golive.store import sqlfiles

__all__ = ["InMemoryStore"]


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
        self._snapshots: dict[tuple[str, str], store_base.Snapshot] = {}
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
            ev = store_base.seal_event(run_id, seq, ts, p.type, p.step_id, p.actor, p.data_json, prev, data=p.data)
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

    async def get_snapshot(self, run_id: str, kind: str) -> store_base.Snapshot | None:
        self._check_open()
        snap = self._snapshots.get((run_id, kind))
        if snap is None:
            return None
        at = [ev for ev in self._events.get(run_id, []) if ev.seq == snap.seq]
        if not at or at[0].hash != snap.head_hash:
            del self._snapshots[run_id, kind]
            return None
        return snap

    async def put_snapshot(self, run_id: str, kind: str, snapshot: store_base.Snapshot) -> None:
        self._check_open()
        self._snapshots[run_id, kind] = snapshot

    async def verify(self, run_id: str) -> int:
        """Verify every hash, seq continuity, and that the log ends at the run's head."""
        self._check_open()
        if run_id not in self._runs:
            raise exceptions.NotFound(f"no run {run_id!r}")
        evs = list(self._events[run_id])
        count = store_base.verify_chain(run_id, evs)
        store_base.check_head(run_id, evs, *self._heads[run_id])
        return count

    async def follow(
        self, run_id: str, after_seq: int = 0, poll: float = 0.1, *, known: Callable[[], int] | None = None
    ) -> AsyncIterator[store_base.Event]:
        """Yield events as they are appended; woken by each append (``poll`` is not needed here). ``known``: as
        for :meth:`golive.store.base.Store.follow`."""
        self._check_open()
        waiter = asyncio.Event()
        self._waiters.setdefault(run_id, set()).add(waiter)
        seq = after_seq
        try:
            while True:
                waiter.clear()
                if known is not None:
                    seq = max(seq, known())
                batch = await self.events(run_id, after_seq=seq)
                fresh = store_base.skip_known(batch, known)
                if batch:
                    seq = batch[-1].seq
                for ev in fresh:
                    yield ev
                if not fresh:
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
