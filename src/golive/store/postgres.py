"""The team event store: PostgreSQL through psycopg 3 (async) and a psycopg_pool connection pool.

Appends are group-committed like the SQLite store's: one writer task drains the queue of pending appends
and writes them in one transaction that first locks every affected run row (``SELECT ... FOR UPDATE``,
in run_id order) and then reads each run's last (seq, hash). The row lock serialises appends to a run
across every process sharing the database, so seq stays gap-free and the chain valid. The transaction
ends with ``pg_notify`` on :data:`CHANNEL`, which wakes :meth:`PostgresStore.follow` in every process
(LISTEN on one dedicated connection per store), with a polling timeout as the fallback.

Run leases (``runs_lease``) let ``golive worker`` processes own runs and take over the runs of a dead
worker with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
import psycopg_pool

from golive import clock as clock_mod
from golive import exceptions
from golive.store import base, common, sqlfiles

__all__ = ["CHANNEL", "PostgresStore"]

T = TypeVar("T")

CHANNEL = "golive_events"  # NOTIFY channel; the payload is the run id
POOL_MIN = 1  # connections kept open
POOL_MAX = 10  # connections at most (the LISTEN connection is extra)
POOL_TIMEOUT = 30.0  # seconds to wait for a free connection before failing
CONNECT_TIMEOUT = 10  # seconds to establish one connection (libpq connect_timeout)
MAX_BATCH = 1000  # appends per group-commit transaction
FOLLOW_BATCH = 1000  # events fetched per read while following
LISTEN_SAFETY_POLL = 2.0  # seconds: re-read even without a notification while LISTEN is up
LISTEN_RETRY = 1.0  # seconds between attempts to re-establish the LISTEN connection
LISTEN_READY_WAIT = 5.0  # seconds follow() waits for LISTEN before relying on polling alone


@dataclass(eq=False, slots=True)
class _Append:
    future: asyncio.Future[list[base.Event]]
    run_id: str
    pending: list[common.PreparedEvent] = field(default_factory=list)
    fence: base.Fence | None = None  # an engine's append: refused unless it still owns the run
    expect_seq: int | None = None  # compare-and-append: refused unless the log is still at this seq


class PostgresStore(common.BatchingStore):
    """Event store in a PostgreSQL database; many processes may share it."""

    # Shared by a team: people's acts go through `golive serve` (authenticated) unless --local is given.
    shared = True

    def __init__(self, url: str, clock: clock_mod.Clock | None = None, *, migrate: bool = True) -> None:
        """``url`` is a libpq URL or conninfo; ``migrate=False`` opens without applying migrations."""
        super().__init__(clock)
        self.url = url
        self._auto_migrate = migrate
        self._sql = sqlfiles.load_queries("postgres")
        self._pool: psycopg_pool.AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]] | None = None
        self._queue: asyncio.Queue[_Append | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def __repr__(self) -> str:
        return f"PostgresStore({common.redact_url(self.url)!r})"

    # lifecycle -------------------------------------------------------------------------------------
    async def open(self) -> None:
        """Open the pool, migrate (unless ``migrate=False``) and start the group-commit writer."""
        if self._pool is not None:
            return
        pool: psycopg_pool.AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]] = (
            psycopg_pool.AsyncConnectionPool(
                self.url,
                min_size=POOL_MIN,
                max_size=POOL_MAX,
                timeout=POOL_TIMEOUT,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
                open=False,
                name="golive-store",
            )
        )
        try:
            # One direct attempt first: a wrong URL or a stopped server fails at once with the driver's
            # reason, instead of the pool retrying (and logging) until its timeout.
            probe = await psycopg.AsyncConnection.connect(self.url, connect_timeout=CONNECT_TIMEOUT)
            await probe.close()
            await pool.open(wait=True, timeout=POOL_TIMEOUT)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            with contextlib.suppress(Exception):
                await pool.close()
            raise exceptions.StoreError(
                f"cannot connect to the PostgreSQL store {common.redact_url(self.url)}: "
                f"{common.one_line(exc)}; "
                "check GOLIVE_DATABASE_URL / --db and that the server is running"
            ) from exc
        self._pool = pool
        try:
            if self._auto_migrate:
                await self.migrate()
        except BaseException:
            await self.close()
            raise
        self._queue = asyncio.Queue()
        self._listening = asyncio.Event()
        self._writer = asyncio.create_task(self._writer_main(), name="golive-postgres-writer")

    async def close(self) -> None:
        """Finish queued appends, stop listening and close the pool. Idempotent."""
        writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    # plumbing ----------------------------------------------------------------------------------------
    def _error(self, exc: BaseException, what: str) -> exceptions.StoreError:
        return exceptions.StoreError(
            f"PostgreSQL store {common.redact_url(self.url)}: {what} failed: {common.one_line(exc)}"
        )

    async def _with_conn(self, what: str, fn: Callable[[psycopg.AsyncConnection[tuple[Any, ...]]], Awaitable[T]]) -> T:
        """Run ``fn`` on a pooled (autocommit) connection, translating driver errors."""
        pool = self._pool
        if pool is None:
            raise exceptions.StoreError(f"{self!r} is not open: call `await store.open()` first")
        try:
            async with pool.connection() as conn:
                return await fn(conn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._error(exc, what) from exc

    async def _fetchone(self, name: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        async def run(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> tuple[Any, ...] | None:
            cur = await conn.execute(self._sql[name], params)
            return await cur.fetchone()

        return await self._with_conn(name, run)

    async def _fetchall(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        async def run(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            cur = await conn.execute(self._sql[name], params)
            return await cur.fetchall()

        return await self._with_conn(name, run)

    async def _execute(self, name: str, params: dict[str, Any]) -> int:
        async def run(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> int:
            cur = await conn.execute(self._sql[name], params)
            return cur.rowcount

        return await self._with_conn(name, run)

    # schema ----------------------------------------------------------------------------------------
    async def schema_version(self) -> int:
        row = await self._fetchone("has_schema_version", {})
        if row is None or not row[0]:
            return 0
        row = await self._fetchone("get_schema_version", {})
        return 0 if row is None else int(row[0])

    async def migrate(self) -> int:
        migrations = sqlfiles.load_migrations("postgres")
        latest = migrations[-1].version

        async def run(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> int:
            async with conn.transaction():
                await conn.execute(self._sql["migration_lock"])
                await conn.execute(self._sql["create_schema_version"])
                row = await (await conn.execute(self._sql["get_schema_version"])).fetchone()
                current = 0 if row is None else int(row[0])
                if current > latest:
                    raise exceptions.StoreError(
                        f"PostgreSQL store {common.redact_url(self.url)} is at schema version {current}, "
                        f"newer than this golive knows ({latest}); upgrade golive"
                    )
                for migration in migrations[current:]:
                    # No parameters: psycopg sends the file as one simple query, several statements at once.
                    await conn.execute(migration.sql)
                    await conn.execute(
                        self._sql["set_schema_version"],
                        {
                            "version": migration.version,
                            "name": migration.name,
                            "applied_at": clock_mod.utc_iso(self.clock.now()),
                        },
                    )
                return max(current, latest)

        return await self._with_conn("migration", run)

    # runs --------------------------------------------------------------------------------------------
    async def create_run(self, run: base.RunRecord) -> None:
        if await self._execute("insert_run", common.run_params(run)) == 0:
            raise exceptions.StoreError(f"run {run.run_id!r} already exists")

    async def get_run(self, run_id: str) -> base.RunRecord:
        if not run_id:
            raise exceptions.UsageError("run id must not be empty")
        row = await self._fetchone("get_run", {"run_id": run_id})
        if row is None:
            limit = base.RUN_PREFIX_CANDIDATES_SHOWN + 1
            ids = await self._fetchall("find_run_ids_by_prefix", {"prefix": run_id, "limit": limit})
            full = base.resolve_run_prefix(run_id, [r[0] for r in ids])
            row = await self._fetchone("get_run", {"run_id": full})
            if row is None:  # deleted between the two reads
                raise exceptions.NotFound(f"no run {run_id!r}")
        return common.run_from_row(row)

    async def list_runs(self, limit: int = 100) -> list[base.RunRecord]:
        return [common.run_from_row(r) for r in await self._fetchall("list_runs", {"limit": limit})]

    # events ------------------------------------------------------------------------------------------
    async def _append(
        self,
        run_id: str,
        pending: list[common.PreparedEvent],
        fence: base.Fence | None,
        expect_seq: int | None,
    ) -> list[base.Event]:
        if self._writer is None:
            raise exceptions.StoreError(f"{self!r} is not open: call `await store.open()` first")
        if self._writer.done():  # its event loop was torn down under it
            raise exceptions.StoreError(f"{self!r}: the writer task has stopped; reopen the store")
        job = _Append(asyncio.get_running_loop().create_future(), run_id, pending, fence, expect_seq)
        self._queue.put_nowait(job)
        return await job.future

    async def _writer_main(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                outcomes = await self._commit_batch(batch)
            except exceptions.GoliveError as exc:
                outcomes = [exc] * len(batch)
            except Exception as exc:  # the writer must outlive any one batch
                outcomes = [self._error(exc, "append")] * len(batch)
            for job, outcome in zip(batch, outcomes, strict=True):
                if job.future.done():  # the caller was cancelled; the write happened regardless
                    continue
                if isinstance(outcome, BaseException):
                    job.future.set_exception(outcome)
                else:
                    job.future.set_result(outcome)
            if stop:
                return

    async def _commit_batch(self, batch: list[_Append]) -> list[list[base.Event] | exceptions.GoliveError]:
        run_ids = sorted({job.run_id for job in batch})

        async def run(
            conn: psycopg.AsyncConnection[tuple[Any, ...]],
        ) -> tuple[list[list[base.Event] | exceptions.GoliveError], set[str]]:
            async with conn.transaction():
                locked = await (await conn.execute(self._sql["lock_runs"], {"run_ids": run_ids})).fetchall()
                now = clock_mod.utc_iso(self.event_clock.now())  # under the run locks: timestamps follow the seqs
                heads = {r[0]: (int(r[1]), str(r[2])) for r in locked}
                leases = {r[0]: common.lease_from_state(r[0], (*r[3:8], r[8])) for r in locked}
                cur = await conn.execute(self._sql["run_tails"], {"run_ids": list(heads)})
                tails: dict[str, tuple[int, str, str | None]] = {
                    r[0]: (int(r[1]), str(r[2]), r[3]) for r in await cur.fetchall()
                }
                refused: dict[str, exceptions.GoliveError] = {}
                for run_id in run_ids:
                    if run_id not in heads:
                        refused[run_id] = exceptions.NotFound(f"no run {run_id!r}: create it before appending events")
                        continue
                    last = tails.get(run_id, (0, base.GENESIS, None))
                    if last[:2] != heads[run_id]:
                        refused[run_id] = exceptions.ChainBroken(
                            run_id,
                            min(last[0], heads[run_id][0]) + 1,
                            f"refusing to append: the log ends at seq {last[0]} "
                            f"but the run's head says {heads[run_id][0]}",
                        )
                    else:
                        tails[run_id] = last
                rows: list[tuple[Any, ...]] = []
                outcomes: list[list[base.Event] | exceptions.GoliveError] = []
                for job in batch:
                    if job.run_id in refused:
                        outcomes.append(refused[job.run_id])
                        continue
                    seq, prev, last_ts = tails[job.run_id]
                    if job.expect_seq is not None and job.expect_seq != seq:
                        outcomes.append(exceptions.HeadMoved(job.run_id, job.expect_seq, seq))
                        continue
                    if job.fence is not None:
                        lease_epoch, lease, alive = leases[job.run_id]
                        why = base.fence_refusal(job.run_id, job.fence, lease, lease_epoch, alive)
                        if why is not None:
                            outcomes.append(exceptions.Fenced(why))
                            continue
                    sealed: list[base.Event] = []
                    for p in job.pending:
                        seq += 1
                        ts = last_ts = common.event_ts(p, now, last_ts)
                        digest = base.event_hash_from_json(
                            job.run_id, seq, ts, p.type, p.step_id, p.actor, p.data_json, prev
                        )
                        rows.append((job.run_id, seq, ts, p.type, p.step_id, p.actor, p.data_json, prev, digest))
                        sealed.append(base.Event(job.run_id, seq, ts, p.type, p.step_id, p.actor, p.data, prev, digest))
                        prev = digest
                    tails[job.run_id] = (seq, prev, last_ts)
                    outcomes.append(sealed)
                written = sorted({job.run_id for job, o in zip(batch, outcomes, strict=True) if isinstance(o, list)})
                if rows:
                    async with conn.cursor() as cur2:
                        await cur2.executemany(self._sql["insert_event"], rows)
                        await cur2.executemany(
                            self._sql["update_head"],
                            [{"run_id": r, "seq": tails[r][0], "hash": tails[r][1]} for r in written],
                        )
                        await cur2.executemany(
                            self._sql["notify"], [{"channel": CHANNEL, "payload": r} for r in written]
                        )
            return outcomes, set(written)

        outcomes, written = await self._with_conn("append", run)
        self._wake(written)  # this process's followers need not wait for the NOTIFY round trip
        return outcomes

    async def events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[base.Event]:
        rows = await self._fetchall("select_events", {"run_id": run_id, "after_seq": after_seq, "limit": limit})
        return [_event(r) for r in rows]

    async def last_seq(self, run_id: str) -> int:
        row = await self._fetchone("last_seq", {"run_id": run_id})
        return 0 if row is None else int(row[0])

    async def verify(self, run_id: str) -> int:
        """Verify every hash, seq continuity, and that the log ends at the run's recorded head."""

        async def snapshot(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> tuple[Any, list[Any]]:
            async with conn.transaction():
                # One snapshot for both reads, or an append in between would look like tampering.
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                head = await (await conn.execute(self._sql["run_head"], {"run_id": run_id})).fetchone()
                params = {"run_id": run_id, "after_seq": 0, "limit": None}
                rows = await (await conn.execute(self._sql["select_events"], params)).fetchall()
            return head, rows

        head, rows = await self._with_conn("verify", snapshot)
        if head is None:
            raise exceptions.NotFound(f"no run {run_id!r}")
        evs = [_event(r) for r in rows]
        count = base.verify_chain(run_id, evs)
        base.check_head(run_id, evs, int(head[0]), str(head[1]))
        return count

    async def follow(
        self, run_id: str, after_seq: int = 0, poll: float = 0.1, *, known: Callable[[], int] | None = None
    ) -> AsyncIterator[base.Event]:
        """Yield events as they are appended by any process, woken by NOTIFY. ``known``: as for
        :meth:`golive.store.base.Store.follow`; the rows up to it are passed over before decoding.

        While the LISTEN connection is down, falls back to re-reading every ``poll`` seconds (real time).
        """
        self._ensure_listener()
        await common.wait_event(self._listening, LISTEN_READY_WAIT)
        waiter = asyncio.Event()
        self._waiters.setdefault(run_id, set()).add(waiter)
        seq = after_seq
        try:
            while True:
                waiter.clear()  # before reading, so a NOTIFY that arrives during the read wakes us
                if known is not None:
                    seq = max(seq, known())
                rows = await self._fetchall(
                    "select_events", {"run_id": run_id, "after_seq": seq, "limit": FOLLOW_BATCH}
                )
                common.raise_if_cancelled()
                read = len(rows)
                seq, rows = common.rows_past_known(rows, seq, known)
                for row in rows:
                    yield _event(row)
                if not rows and read < FOLLOW_BATCH:
                    timeout = max(poll, LISTEN_SAFETY_POLL) if self._listening.is_set() else poll
                    await common.wait_event(waiter, timeout)
                    common.raise_if_cancelled()
        finally:
            self._waiters.get(run_id, set()).discard(waiter)

    def _ensure_listener(self) -> None:
        if self._pool is None:
            raise exceptions.StoreError(f"{self!r} is not open: call `await store.open()` first")
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen_main(), name="golive-postgres-listener")

    def _wake(self, run_ids: set[str] | list[str]) -> None:
        for run_id in run_ids:
            for waiter in self._waiters.get(run_id, ()):
                waiter.set()

    async def _listen_main(self) -> None:
        """Hold one LISTEN connection for the store's lifetime; reconnect after a failure."""
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
                try:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    # Anything appended while we were not listening is caught by the first re-read.
                    self._wake(list(self._waiters))
                    async for note in conn.notifies():
                        self._wake([note.payload])
                finally:
                    self._listening.clear()
                    await conn.close()
            except psycopg.Error:
                pass  # followers poll meanwhile; try again shortly
            await asyncio.sleep(LISTEN_RETRY)

    # blobs -------------------------------------------------------------------------------------------
    async def put_blob(self, data: bytes, media_type: str = "application/octet-stream") -> str:
        """Store the bytes in the ``blobs`` table under their sha256 hex digest."""
        digest = await asyncio.to_thread(common.sha256_hex, data)
        params = {
            "digest": digest,
            "size": len(data),
            "media_type": media_type,
            "created_at": clock_mod.utc_iso(self.clock.now()),
            "data": data,
        }
        await self._execute("insert_blob", params)
        return digest

    async def get_blob(self, digest: str) -> bytes:
        """The blob's bytes, re-hashed on the way out; NotFound, or StoreError when damaged."""
        common.check_digest(digest)
        row = await self._fetchone("get_blob", {"digest": digest})
        if row is None:
            raise exceptions.NotFound(f"no blob {digest}")
        data = bytes(row[0])
        actual = await asyncio.to_thread(common.sha256_hex, data)
        if actual != digest:
            raise exceptions.StoreError(f"blob {digest} is damaged: its stored bytes hash to {actual}")
        return data

    async def blob_info(self, digest: str) -> base.BlobInfo:
        common.check_digest(digest)
        row = await self._fetchone("get_blob_info", {"digest": digest})
        if row is None:
            raise exceptions.NotFound(f"no blob {digest}")
        return base.BlobInfo(row[0], int(row[1]), row[2], row[3])

    # tokens ------------------------------------------------------------------------------------------
    # snapshots -------------------------------------------------------------------------------------
    async def get_snapshot(self, run_id: str, kind: str) -> base.Snapshot | None:
        params = {"run_id": run_id, "kind": kind}
        row = await self._fetchone("get_snapshot", params)
        if row is None:
            return None
        snap = base.Snapshot(int(row[0]), str(row[1]), str(row[2]))
        if not row[3]:
            await self._execute("drop_snapshot", {**params, "seq": snap.seq, "head_hash": snap.head_hash})
            return None
        return snap

    async def put_snapshot(self, run_id: str, kind: str, snapshot: base.Snapshot) -> None:
        params = {"run_id": run_id, "kind": kind, "seq": snapshot.seq, "head_hash": snapshot.head_hash}
        await self._execute("put_snapshot", {**params, "data": snapshot.data})

    async def put_token(self, token: base.TokenRecord) -> None:
        params = {
            "token_hash": token.token_hash,
            "user": token.user,
            "roles": json.dumps(list(token.roles)),
            "created_at": token.created_at,
            "revoked": token.revoked,
            "expires_at": token.expires_at,
            "auth": token.auth,
            "subject": token.subject,
        }
        await self._execute("put_token", params)

    async def find_token(self, token_hash: str) -> base.TokenRecord | None:
        row = await self._fetchone("find_token", {"token_hash": token_hash})
        return None if row is None else common.token_from_row(row)

    async def list_tokens(self) -> list[base.TokenRecord]:
        return [common.token_from_row(r) for r in await self._fetchall("list_tokens", {})]

    # leases ----------------------------------------------------------------------------------------
    async def _move_lease(self, kind: str, run_id: str | None, owner: str, ttl: float) -> base.Lease | None:
        """In one transaction: lock the run, read its lease by the server's clock and move it."""

        async def run(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> base.Lease | None:
            async with conn.transaction():
                rid = run_id
                if rid is None:  # claim: the oldest expired lease of a run nobody else is claiming now
                    found = await (await conn.execute(self._sql["find_orphan_run"], {})).fetchone()
                    if found is None:
                        return None
                    rid = str(found[0])
                row = await (await conn.execute(self._sql["lease_state"], {"run_id": rid})).fetchone()
                if row is None:
                    raise exceptions.NotFound(f"no run {rid!r}")
                move = common.plan_lease_move(kind, rid, owner, ttl, row, clock_mod.utc_iso(self.clock.now()))
                if move is None:
                    return None
                await conn.execute(self._sql["put_lease"], move.params)
                if move.epoch_moves:
                    await conn.execute(self._sql["set_lease_epoch"], {"run_id": rid, "epoch": move.lease.epoch})
                return move.lease

        return await self._with_conn(f"lease {kind}", run)

    async def acquire_lease(self, run_id: str, owner: str, ttl: float) -> base.Lease | None:
        return await self._move_lease("acquire", run_id, owner, ttl)

    async def take_over_lease(self, run_id: str, owner: str, ttl: float) -> base.Lease:
        lease = await self._move_lease("take_over", run_id, owner, ttl)
        assert lease is not None
        return lease

    async def renew_lease(self, run_id: str, owner: str, ttl: float, epoch: int | None = None) -> bool:
        params = {"run_id": run_id, "owner": owner, "ttl": ttl, "epoch": epoch}
        return await self._fetchone("renew_lease", params) is not None

    async def release_lease(self, run_id: str, owner: str) -> None:
        await self._execute("release_lease", {"run_id": run_id, "owner": owner})

    async def get_lease(self, run_id: str) -> base.Lease | None:
        row = await self._fetchone("get_lease", {"run_id": run_id})
        return None if row is None else base.Lease(row[0], row[1], float(row[2]), int(row[3]), row[4])

    async def claim_orphan_run(self, owner: str, ttl: float) -> base.Lease | None:
        return await self._move_lease("claim", None, owner, ttl)


def _event(r: tuple[Any, ...]) -> base.Event:
    return common.event_from_row(r)
