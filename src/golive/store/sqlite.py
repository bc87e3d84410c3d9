"""The embedded event store: one SQLite file in WAL mode, blobs as files beside it.

sqlite3 is synchronous, so every write runs on one dedicated writer thread and every read on one reader
thread with its own connection (WAL lets readers proceed while the writer commits).

**Group commit.** :meth:`SqliteStore.append` puts a job on a queue and awaits a future. The writer takes
every queued job, opens one ``BEGIN IMMEDIATE`` transaction, reads each run's last (seq, hash) inside it,
seals and inserts the events, commits (``synchronous=FULL``: the WAL is fsynced), and only then resolves
the futures. So an append returns only once its event is durable, while 50 concurrent appenders share
one fsync. Several processes may open the same file: ``BEGIN IMMEDIATE`` makes their writers take turns
and the last (seq, hash) is always read inside the write transaction, so seq stays gap-free and the chain
valid across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import queue
import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from golive import clock as clock_mod
from golive import exceptions
from golive.store import base, common, sqlfiles

__all__ = ["SqliteStore"]

T = TypeVar("T")

BUSY_TIMEOUT = 30.0  # seconds a writer waits for another process's write transaction before failing
BUSY_TIMEOUT_ENV = "GOLIVE_SQLITE_BUSY_TIMEOUT"  # overrides BUSY_TIMEOUT (seconds)
MAX_BATCH = 1000  # jobs per group-commit transaction; bounds the wait of the last job in a batch
FOLLOW_BATCH = 1000  # events fetched per read while following
BLOB_DIR = "blobs"  # beside the database file
WAL_SWITCH_RETRY = 0.01  # seconds between attempts to switch a new file to WAL while another process does


@dataclass(eq=False, slots=True)
class _Job:
    """One unit of work for the writer thread, answered through ``future`` on ``loop``."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    run_id: str = ""
    pending: list[common.PreparedEvent] = field(default_factory=list)  # an append when non-empty
    fence: base.Fence | None = None  # an engine's append: refused unless it still owns the run
    expect_seq: int | None = None  # compare-and-append: refused unless the log is still at this seq
    call: Callable[[sqlite3.Connection], Any] | None = None  # any other write, inside the batch's transaction
    own_transaction: bool = False  # the call manages its own transaction (migrations)


class _BatchAborted(Exception):
    """The whole batch transaction failed; every job in it gets ``error``."""

    def __init__(self, error: exceptions.GoliveError) -> None:
        super().__init__(error.message)
        self.error = error


def _busy_timeout() -> float:
    return clock_mod.seconds_from_env(BUSY_TIMEOUT_ENV, BUSY_TIMEOUT, "the busy timeout", "30")


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements (triggers with inner ``;`` stay whole)."""
    statements: list[str] = []
    buf: list[str] = []
    for line in script.splitlines(keepends=True):
        buf.append(line)
        text = "".join(buf)
        if sqlite3.complete_statement(text):
            statements.append(text.strip())
            buf = []
    rest = "".join(buf)
    if any(ln.strip() and not ln.strip().startswith("--") for ln in rest.splitlines()):
        raise exceptions.StoreError(f"SQL script ends with an incomplete statement: {rest.strip()[:80]!r}")
    return statements


class SqliteStore(common.BatchingStore):
    """Event store in a SQLite file (WAL, synchronous=FULL, foreign keys), blobs in ``<dir>/blobs``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        clock: clock_mod.Clock | None = None,
        *,
        migrate: bool = True,
    ) -> None:
        """``migrate=False`` opens without applying migrations (``golive db upgrade`` does it itself)."""
        super().__init__(clock)
        self.path = Path(path)
        self.blob_root = self.path.parent / BLOB_DIR
        self._auto_migrate = migrate
        self._sql = sqlfiles.load_queries("sqlite")
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._waiters_lock = threading.Lock()
        self.busy_timeout = _busy_timeout()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # lifecycle -------------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the directory and file if needed, set WAL, and migrate (unless ``migrate=False``)."""
        if self._writer is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise exceptions.StoreError(f"cannot create the store directory {self.path.parent}: {exc}") from exc
        self._jobs = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._writer_main, name=f"golive-sqlite-writer:{self.path.name}")
        self._writer.daemon = True  # an unclosed store must not hang interpreter exit; appends await commits
        self._writer.start()
        try:
            await self._write(lambda conn: None)  # surfaces connection errors here
            if self._auto_migrate:
                await self.migrate()
            self._reader = ThreadPoolExecutor(1, thread_name_prefix=f"golive-sqlite-reader:{self.path.name}")
            await self._read(lambda conn: None)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Finish queued writes, then close both connections. Idempotent."""
        writer, self._writer = self._writer, None
        if writer is not None:
            self._jobs.put(None)
            await asyncio.to_thread(writer.join)
        reader, self._reader = self._reader, None
        if reader is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(reader, self._close_read_conn)
            reader.shutdown(wait=False)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        try:
            mode = self._enable_wal(conn)
            if str(mode).lower() != "wal":
                raise exceptions.StoreError(
                    f"SQLite store {self.path}: cannot use WAL mode (got {mode!r}); "
                    "put the database on a local filesystem"
                )
            conn.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit: appends are durable
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> str:
        """Switch to WAL. Two processes switching a new file at once can get SQLITE_BUSY at once, without
        the busy handler being consulted, so retry here until the busy timeout."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(WAL_SWITCH_RETRY)

    # schema ----------------------------------------------------------------------------------------
    async def schema_version(self) -> int:
        def get(conn: sqlite3.Connection) -> int:
            if conn.execute(self._sql["has_schema_version"]).fetchone() is None:
                return 0
            return int(conn.execute(self._sql["get_schema_version"]).fetchone()[0])

        return await self._write(get)

    async def migrate(self) -> int:
        return await self._write(self._migrate, own_transaction=True)

    def _migrate(self, conn: sqlite3.Connection) -> int:
        migrations = sqlfiles.load_migrations("sqlite")
        latest = migrations[-1].version
        conn.execute(self._sql["create_schema_version"])
        conn.execute("BEGIN IMMEDIATE")  # concurrent openers migrate one at a time and re-read the version
        try:
            current = int(conn.execute(self._sql["get_schema_version"]).fetchone()[0])
            if current > latest:
                raise exceptions.StoreError(
                    f"SQLite store {self.path} is at schema version {current}, newer than this golive "
                    f"knows ({latest}); upgrade golive"
                )
            for migration in migrations[current:]:
                for statement in split_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    self._sql["set_schema_version"],
                    {
                        "version": migration.version,
                        "name": migration.name,
                        "applied_at": clock_mod.utc_iso(self.clock.now()),
                    },
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return max(current, latest)

    # runs --------------------------------------------------------------------------------------------
    async def create_run(self, run: base.RunRecord) -> None:
        params = common.run_params(run)

        def insert(conn: sqlite3.Connection) -> None:
            if conn.execute(self._sql["insert_run"], params).rowcount == 0:
                raise exceptions.StoreError(f"run {run.run_id!r} already exists")
            conn.execute(self._sql["insert_head"], {"run_id": run.run_id})

        await self._write(insert)

    async def get_run(self, run_id: str) -> base.RunRecord:
        if not run_id:
            raise exceptions.UsageError("run id must not be empty")

        def get(conn: sqlite3.Connection) -> base.RunRecord:
            row = conn.execute(self._sql["get_run"], {"run_id": run_id}).fetchone()
            if row is None:
                limit = base.RUN_PREFIX_CANDIDATES_SHOWN + 1
                ids = conn.execute(self._sql["find_run_ids_by_prefix"], {"prefix": run_id, "limit": limit})
                full = base.resolve_run_prefix(run_id, [r[0] for r in ids])
                row = conn.execute(self._sql["get_run"], {"run_id": full}).fetchone()
            return common.run_from_row(row)

        return await self._read(get)

    async def list_runs(self, limit: int = 100) -> list[base.RunRecord]:
        rows = await self._read(lambda c: c.execute(self._sql["list_runs"], {"limit": limit}).fetchall())
        return [common.run_from_row(r) for r in rows]

    # events ------------------------------------------------------------------------------------------
    async def _append(
        self,
        run_id: str,
        pending: list[common.PreparedEvent],
        fence: base.Fence | None,
        expect_seq: int | None,
    ) -> list[base.Event]:
        loop = asyncio.get_running_loop()
        job = _Job(loop, loop.create_future(), run_id=run_id, pending=pending, fence=fence, expect_seq=expect_seq)
        result: list[base.Event] = await self._submit(job)
        return result

    async def events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[base.Event]:
        params = {"run_id": run_id, "after_seq": after_seq, "limit": -1 if limit is None else limit}
        rows = await self._read(functools.partial(self._event_rows, params))
        return [common.event_from_row(r) for r in rows]

    def _event_rows(self, params: dict[str, Any], conn: sqlite3.Connection) -> list[Any]:
        return conn.execute(self._sql["select_events"], params).fetchall()

    async def last_seq(self, run_id: str) -> int:
        return int(await self._read(lambda c: c.execute(self._sql["last_seq"], {"run_id": run_id}).fetchone()[0]))

    async def verify(self, run_id: str) -> int:
        """Verify every hash, seq continuity, and that the log ends at the run's recorded head."""
        return len(await self.verified_events(run_id))

    async def verified_events(self, run_id: str) -> list[base.Event]:
        """The events :meth:`verify` checked, from one read transaction (head and events together)."""

        def snapshot(conn: sqlite3.Connection) -> tuple[Any, list[Any]]:
            conn.execute("BEGIN")  # one read transaction: head and events from the same snapshot
            try:
                head = conn.execute(self._sql["run_head"], {"run_id": run_id}).fetchone()
                params = {"run_id": run_id, "after_seq": 0, "limit": -1}
                rows = conn.execute(self._sql["select_events"], params).fetchall()
            finally:
                conn.execute("COMMIT")
            return head, rows

        head, rows = await self._read(snapshot)
        if head is None:
            raise exceptions.NotFound(f"no run {run_id!r}")
        evs = [common.event_from_row(r) for r in rows]
        base.verify_chain(run_id, evs)
        base.check_head(run_id, evs, int(head[0]), str(head[1]))
        return evs

    async def follow(
        self, run_id: str, after_seq: int = 0, poll: float = 0.1, *, known: Callable[[], int] | None = None
    ) -> AsyncIterator[base.Event]:
        """Yield events as they are appended: at once for this store's appends, within ``poll`` seconds
        for other processes' (polled in real time, not on the injected clock, which may be fake). ``known``:
        as for :meth:`golive.store.base.Store.follow`; the rows up to it are passed over before decoding."""
        loop = asyncio.get_running_loop()
        waiter = (loop, asyncio.Event())
        with self._waiters_lock:
            self._waiters.setdefault(run_id, set()).add(waiter)
        seq = after_seq
        try:
            while True:
                waiter[1].clear()  # before reading, so an append committed during the read wakes us
                if known is not None:
                    seq = max(seq, known())
                params = {"run_id": run_id, "after_seq": seq, "limit": FOLLOW_BATCH}
                rows: list[Any] = await self._read(functools.partial(self._event_rows, params))
                common.raise_if_cancelled()
                read = len(rows)
                seq, rows = common.rows_past_known(rows, seq, known)
                for row in rows:
                    yield common.event_from_row(row)
                if not rows and read < FOLLOW_BATCH:
                    await common.wait_event(waiter[1], poll)
                    common.raise_if_cancelled()
        finally:
            with self._waiters_lock:
                self._waiters.get(run_id, set()).discard(waiter)

    # blobs -------------------------------------------------------------------------------------------
    def _blob_path(self, digest: str) -> Path:
        return self.blob_root / digest[:2] / digest[2:]

    async def put_blob(self, data: bytes, media_type: str = "application/octet-stream") -> str:
        """Write the bytes to ``blobs/ab/cdef...`` atomically (temp file, fsync, rename), then record them."""
        digest = await asyncio.to_thread(common.sha256_hex, data)
        await asyncio.to_thread(self._write_blob_file, digest, data)
        params = {
            "digest": digest,
            "size": len(data),
            "media_type": media_type,
            "created_at": clock_mod.utc_iso(self.clock.now()),
        }
        await self._write(self._statement("insert_blob", params))
        return digest

    def _write_blob_file(self, digest: str, data: bytes) -> None:
        path = self._blob_path(digest)
        try:
            if path.exists() and common.sha256_hex(path.read_bytes()) == digest:
                return  # already stored intact; a damaged copy falls through and is replaced
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the rename itself must survive a crash
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise exceptions.StoreError(f"cannot write blob {digest} to {path}: {exc}") from exc

    async def get_blob(self, digest: str) -> bytes:
        """The blob's bytes, re-hashed on the way out; NotFound, or StoreError when the file is damaged."""
        common.check_digest(digest)
        info = await self._blob_row(digest)
        path = self._blob_path(digest)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            if info is None:
                raise exceptions.NotFound(f"no blob {digest}") from exc
            raise exceptions.StoreError(f"blob {digest} is recorded but its file {path} is missing") from exc
        except OSError as exc:
            raise exceptions.StoreError(f"cannot read blob {digest} from {path}: {exc}") from exc
        actual = await asyncio.to_thread(common.sha256_hex, data)
        if actual != digest:
            raise exceptions.StoreError(f"blob {digest} is damaged: its file {path} hashes to {actual}")
        return data

    async def blob_file(self, digest: str) -> Path | None:
        """The blob's file under ``blobs/``; NotFound, or StoreError when it is recorded but the file is gone."""
        common.check_digest(digest)
        info = await self._blob_row(digest)
        path = self._blob_path(digest)
        if not await asyncio.to_thread(path.is_file):
            if info is None:
                raise exceptions.NotFound(f"no blob {digest}")
            raise exceptions.StoreError(f"blob {digest} is recorded but its file {path} is missing")
        return path

    async def blob_files(self, digests: Iterable[str]) -> dict[str, Path]:
        """One query for the recorded blobs and one thread that checks their files (not one round trip each)."""
        wanted = list(dict.fromkeys(digests))
        for digest in wanted:
            common.check_digest(digest)

        def look(conn: sqlite3.Connection) -> dict[str, Path]:
            rows = conn.execute(self._sql["known_blobs"], {"digests": json.dumps(wanted)}).fetchall()
            paths = {str(row[0]): self._blob_path(str(row[0])) for row in rows}
            return {digest: path for digest, path in paths.items() if path.is_file()}

        return await self._read(look)

    async def blob_info(self, digest: str) -> base.BlobInfo:
        common.check_digest(digest)
        info = await self._blob_row(digest)
        if info is None:
            raise exceptions.NotFound(f"no blob {digest}")
        return info

    async def _blob_row(self, digest: str) -> base.BlobInfo | None:
        row = await self._read(lambda c: c.execute(self._sql["get_blob_info"], {"digest": digest}).fetchone())
        return None if row is None else base.BlobInfo(row[0], int(row[1]), row[2], row[3])

    # tokens ------------------------------------------------------------------------------------------
    # snapshots -------------------------------------------------------------------------------------
    async def get_snapshot(self, run_id: str, kind: str) -> base.Snapshot | None:
        params = {"run_id": run_id, "kind": kind}
        row = await self._read(lambda c: c.execute(self._sql["get_snapshot"], params).fetchone())
        if row is None:
            return None
        snap = base.Snapshot(int(row[0]), str(row[1]), str(row[2]))
        if not row[3]:
            await self._write(
                self._statement("drop_snapshot", {**params, "seq": snap.seq, "head_hash": snap.head_hash})
            )
            return None
        return snap

    async def put_snapshot(self, run_id: str, kind: str, snapshot: base.Snapshot) -> None:
        params = {"run_id": run_id, "kind": kind, "seq": snapshot.seq, "head_hash": snapshot.head_hash}
        await self._write(self._statement("put_snapshot", {**params, "data": snapshot.data}))

    async def put_token(self, token: base.TokenRecord) -> None:
        params = {
            "token_hash": token.token_hash,
            "user": token.user,
            "roles": json.dumps(list(token.roles)),
            "created_at": token.created_at,
            "revoked": int(token.revoked),
            "expires_at": token.expires_at,
            "auth": token.auth,
            "subject": token.subject,
        }
        await self._write(self._statement("put_token", params))

    async def find_token(self, token_hash: str) -> base.TokenRecord | None:
        sql = self._sql["find_token"]
        row = await self._read(lambda c: c.execute(sql, {"token_hash": token_hash}).fetchone())
        return None if row is None else common.token_from_row(row)

    async def list_tokens(self) -> list[base.TokenRecord]:
        rows = await self._read(lambda c: c.execute(self._sql["list_tokens"]).fetchall())
        return [common.token_from_row(r) for r in rows]

    # leases ----------------------------------------------------------------------------------------
    def _move_lease(
        self, conn: sqlite3.Connection, kind: str, run_id: str, owner: str, ttl: float
    ) -> base.Lease | None:
        row = conn.execute(self._sql["lease_state"], {"run_id": run_id}).fetchone()
        if row is None:
            raise exceptions.NotFound(f"no run {run_id!r}")
        move = common.plan_lease_move(kind, run_id, owner, ttl, row, clock_mod.utc_iso(self.clock.now()))
        if move is None:
            return None
        conn.execute(self._sql["put_lease"], move.params)
        if move.epoch_moves:
            conn.execute(self._sql["set_lease_epoch"], {"run_id": run_id, "epoch": move.lease.epoch})
        return move.lease

    async def acquire_lease(self, run_id: str, owner: str, ttl: float) -> base.Lease | None:
        return await self._write(lambda c: self._move_lease(c, "acquire", run_id, owner, ttl))

    async def take_over_lease(self, run_id: str, owner: str, ttl: float) -> base.Lease:
        lease = await self._write(lambda c: self._move_lease(c, "take_over", run_id, owner, ttl))
        assert lease is not None
        return lease

    async def renew_lease(self, run_id: str, owner: str, ttl: float, epoch: int | None = None) -> bool:
        params = {"run_id": run_id, "owner": owner, "ttl": ttl, "epoch": epoch}
        return await self._write(lambda c: c.execute(self._sql["renew_lease"], params).fetchone() is not None)

    async def release_lease(self, run_id: str, owner: str) -> None:
        params = {"run_id": run_id, "owner": owner}
        await self._write(self._statement("release_lease", params))

    async def get_lease(self, run_id: str) -> base.Lease | None:
        row = await self._read(lambda c: c.execute(self._sql["get_lease"], {"run_id": run_id}).fetchone())
        return None if row is None else base.Lease(row[0], row[1], float(row[2]), int(row[3]), row[4])

    async def claim_orphan_run(self, owner: str, ttl: float) -> base.Lease | None:
        def claim(conn: sqlite3.Connection) -> base.Lease | None:
            row = conn.execute(self._sql["find_orphan_run"]).fetchone()
            return None if row is None else self._move_lease(conn, "claim", str(row[0]), owner, ttl)

        return await self._write(claim)

    # the reader thread -------------------------------------------------------------------------------
    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        reader = self._reader
        if reader is None:
            raise exceptions.StoreError(f"{self!r} is not open: call `await store.open()` first")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(reader, functools.partial(self._run_read, fn))

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._read_conn is None:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
                conn.execute("PRAGMA query_only=ON")  # this connection must never write
                self._read_conn = conn
            return fn(self._read_conn)
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from exc

    def _close_read_conn(self) -> None:
        conn, self._read_conn = self._read_conn, None
        if conn is not None:
            conn.close()

    # the writer thread -------------------------------------------------------------------------------
    async def _write(self, call: Callable[[sqlite3.Connection], T], *, own_transaction: bool = False) -> T:
        loop = asyncio.get_running_loop()
        job = _Job(loop, loop.create_future(), call=call, own_transaction=own_transaction)
        result: T = await self._submit(job)
        return result

    def _statement(self, name: str, params: dict[str, Any]) -> Callable[[sqlite3.Connection], None]:
        """A write job that runs one named statement."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(self._sql[name], params)

        return run

    async def _submit(self, job: _Job) -> Any:
        if self._writer is None:
            raise exceptions.StoreError(f"{self!r} is not open: call `await store.open()` first")
        if not self._writer.is_alive():
            raise exceptions.StoreError(f"{self!r}: the writer thread has stopped; reopen the store")
        self._jobs.put(job)
        return await job.future

    def _error(self, exc: BaseException, what: str) -> exceptions.StoreError:
        hint = ""
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            hint = f" (another process holds the write lock; waited up to {self.busy_timeout:g} s)"
        elif isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc):
            hint = " (the schema is not migrated: run `golive db upgrade`)"
        err = exceptions.StoreError(f"SQLite store {self.path}: {what} failed: {common.one_line(exc)}{hint}")
        err.__cause__ = exc
        return err

    def _writer_main(self) -> None:
        conn: sqlite3.Connection | None = None
        connect_error: exceptions.GoliveError | None = None
        try:
            conn = self._connect()
        except exceptions.GoliveError as exc:
            connect_error = exc
        except sqlite3.Error as exc:
            connect_error = self._error(exc, "open")
        stop = False
        while not stop:
            first = self._jobs.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            if conn is None:
                assert connect_error is not None
                self._deliver([(job, connect_error) for job in batch], set())
                continue
            try:
                self._process(conn, batch)
            except Exception as exc:  # a bug here must fail the waiting appends, not strand them
                # Futures already answered are skipped by _resolve (it runs after earlier answers).
                self._deliver([(job, self._error(exc, "write")) for job in batch], set())
        if conn is not None:
            conn.close()

    def _process(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        """Run the batch as group-committed transactions; own-transaction jobs run alone, in order."""
        group: list[_Job] = []
        for job in batch:
            if job.own_transaction:
                self._commit_group(conn, group)
                group = []
                assert job.call is not None
                try:
                    outcome: Any = job.call(conn)
                except exceptions.GoliveError as exc:
                    outcome = exc
                except Exception as exc:  # the writer thread must outlive any one job
                    outcome = self._error(exc, "migration")
                self._deliver([(job, outcome)], set())
            else:
                group.append(job)
        self._commit_group(conn, group)

    def _commit_group(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        if not jobs:
            return
        try:
            outcomes, appended = self._transact(conn, jobs)
        except _BatchAborted as exc:
            outcomes, appended = [(job, exc.error) for job in jobs], set()
        self._deliver(outcomes, appended)

    def _transact(self, conn: sqlite3.Connection, jobs: list[_Job]) -> tuple[list[tuple[_Job, Any]], set[str]]:
        """One transaction for all ``jobs``; each job in its own savepoint so one failure stays its own."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _BatchAborted(self._error(exc, "begin write transaction")) from exc
        outcomes: list[tuple[_Job, Any]] = []
        tails: dict[str, tuple[int, str, str | None]] = {}  # run -> (last seq, hash, ts) in this transaction
        fenced_ok: set[tuple[str, base.Fence]] = set()  # fences checked in this transaction
        now = clock_mod.utc_iso(self.event_clock.now())  # under the write lock: timestamps follow the seqs
        try:
            for job in jobs:
                conn.execute("SAVEPOINT job")
                try:
                    if job.pending:
                        outcome: Any = self._insert_events(conn, job, tails, fenced_ok, now)
                    else:
                        assert job.call is not None
                        fenced_ok.clear()  # a lease operation may have moved the epoch
                        outcome = job.call(conn)
                    conn.execute("RELEASE job")
                except Exception as exc:  # the writer thread must outlive any one job
                    if not conn.in_transaction:  # SQLite rolled the whole transaction back (disk full, ...)
                        raise
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcome = exc if isinstance(exc, exceptions.GoliveError) else self._error(exc, "write")
                outcomes.append((job, outcome))
            for run_id, (seq, digest, _) in tails.items():
                conn.execute(self._sql["update_head"], {"run_id": run_id, "seq": seq, "hash": digest})
            conn.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            error = exc if isinstance(exc, exceptions.GoliveError) else self._error(exc, "commit")
            raise _BatchAborted(error) from exc
        return outcomes, set(tails)

    def _insert_events(
        self,
        conn: sqlite3.Connection,
        job: _Job,
        tails: dict[str, tuple[int, str, str | None]],
        fenced_ok: set[tuple[str, base.Fence]],
        now: str,
    ) -> list[base.Event]:
        run_id = job.run_id
        tail = tails.get(run_id)
        if tail is None:
            tail = self._read_tail(conn, run_id)
        seq, prev, last_ts = tail
        common.check_expect(run_id, job.expect_seq, seq)
        if job.fence is not None and (run_id, job.fence) not in fenced_ok:
            row = conn.execute(self._sql["lease_state"], {"run_id": run_id}).fetchone()
            lease_epoch, lease, alive = common.lease_from_state(run_id, row)
            why = base.fence_refusal(run_id, job.fence, lease, lease_epoch, alive)
            if why is not None:
                raise exceptions.Fenced(why)
            fenced_ok.add((run_id, job.fence))
        rows: list[tuple[Any, ...]] = []
        sealed: list[base.Event] = []
        for p in job.pending:
            seq += 1
            ts = last_ts = common.event_ts(p, now, last_ts)
            digest = base.event_hash_from_json(run_id, seq, ts, p.type, p.step_id, p.actor, p.data_json, prev)
            rows.append((run_id, seq, ts, p.type, p.step_id, p.actor, p.data_json, prev, digest))
            sealed.append(base.Event(run_id, seq, ts, p.type, p.step_id, p.actor, p.data, prev, digest))
            prev = digest
        conn.executemany(self._sql["insert_event"], rows)
        tails[run_id] = (seq, prev, last_ts)  # only once the insert succeeded
        return sealed

    def _read_tail(self, conn: sqlite3.Connection, run_id: str) -> tuple[int, str, str | None]:
        """The run's last (seq, hash), read inside the write transaction; refuse a log cut short."""
        row = conn.execute(self._sql["run_tail"], {"run_id": run_id}).fetchone()
        if row is None:
            raise exceptions.NotFound(f"no run {run_id!r}: create it before appending events")
        head_seq, head_hash, last_seq, last_hash, last_ts = row
        last = (0, base.GENESIS) if last_seq is None else (int(last_seq), str(last_hash))
        if last != (int(head_seq), str(head_hash)):
            raise exceptions.ChainBroken(
                run_id,
                min(last[0], int(head_seq)) + 1,
                f"refusing to append: the log ends at seq {last[0]} but the run's head says {head_seq}",
            )
        return last[0], last[1], last_ts

    def _deliver(self, outcomes: list[tuple[_Job, Any]], appended: set[str]) -> None:
        """Resolve futures on their loops (one hop per loop) and wake this process's followers."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for job, outcome in outcomes:
            by_loop.setdefault(job.loop, []).append((job.future, outcome))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop was closed; nobody is waiting any more
                loop.call_soon_threadsafe(_resolve, items)
        if appended:
            with self._waiters_lock:
                waiters = [w for run_id in appended for w in self._waiters.get(run_id, ())]
            for loop, event in waiters:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(event.set)


def _resolve(items: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in items:
        if future.done():  # the caller was cancelled; the write happened regardless
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
