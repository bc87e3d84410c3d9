"""Runs as the server holds them: cached views, acts through the shared rules, and engines in the background.

The server never decides whether an act is allowed: it calls :mod:`golive.engine.acts` (the same functions
as the CLI) with the token's user as the actor, and turns the refusal into 403 (409 when another act got there
first). A run started through the API is driven in this process by :func:`golive.engine.driver.drive`, under
the run's fenced lease, as ``golive run`` does; a run whose owner died or stopped renewing its lease is taken
over when ``resume_orphans`` is on (as ``golive worker`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from golive import exceptions, identity
from golive.engine import acts, driver, gate, links, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import base as store_base
from golive.views import cached, summary
from golive.views.model import Summary

__all__ = ["RunService", "RunView"]

log = logging.getLogger("golive.server")

T = TypeVar("T")

ORPHAN_POLL = 10.0  # seconds at most between looks for runs whose owner stopped renewing its lease
VIEW_CACHE_MAX = 64  # runs whose folded state the server keeps in memory at most
ROLLBACK_HANDOFF_WAIT = 3.0  # seconds a live engine elsewhere gets to pick up a rollback request
RUNBOOK_SUFFIXES = (".yaml", ".yml")
RUNBOOK_LIST_MAX = 500  # files listed from runbook_dir at most
FRAGMENT_CACHE_MAX = 64  # viewer perspectives whose rendered fragment is kept per run
_RUNBOOK_MARK = re.compile(r"^golive\s*:", re.MULTILINE)


class Coalescer:
    """Share one call of ``fn`` among concurrent callers, without ever answering from the past.

    A caller that arrives while a call runs waits for the *next* call, which starts after that one ends
    and so after the caller arrived. When a hundred dashboards refetch a run after the same event, the
    store is read about twice, not a hundred times, and each of them still sees every event committed
    before it asked.
    """

    def __init__(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._fn = fn
        self._current: asyncio.Future[None] | None = None
        self._next: asyncio.Future[None] | None = None

    async def __call__(self) -> None:
        if self._current is None:
            self._current = asyncio.ensure_future(self._run_current())
            await asyncio.shield(self._current)
            return
        if self._next is None:
            self._next = asyncio.ensure_future(self._run_next(self._current))
        await asyncio.shield(self._next)

    async def _run_current(self) -> None:
        try:
            await self._fn()
        finally:
            self._current = None

    async def _run_next(self, previous: asyncio.Future[None]) -> None:
        await asyncio.wait([previous])  # its outcome belongs to its own callers
        me: asyncio.Future[None] | None = self._next
        self._next = None
        self._current = me
        try:
            await self._fn()
        finally:
            if self._current is me:
                self._current = None


@dataclass
class RunView:
    """A run's handle kept warm, with its summary cached by the last event seq it reflects."""

    handle: acts.RunHandle
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    summary_seq: int = -1
    summary: Summary | None = None
    summary_json: bytes = b""
    refresh: Coalescer = field(init=False)
    # Rendered dashboard fragments of the current summary, by viewer perspective (cleared on each event).
    fragments: dict[Any, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.refresh = Coalescer(self.handle.refresh)

    def current(self) -> tuple[Summary, bytes]:
        """The summary for the state as it is now (recomputed only when an event arrived)."""
        seq = self.handle.state.last_seq
        if self.summary is None or self.summary_seq != seq:
            data = summary.summarize(self.handle)
            self.summary = data
            self.summary_json = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str).encode()
            self.summary_seq = seq
            self.fragments.clear()
            return data, self.summary_json
        return self.summary, self.summary_json

    def fragment(self, key: Any, render: Callable[[Summary], str]) -> str:
        """The dashboard fragment for ``key`` (a viewer perspective), rendered once per event."""
        data, _ = self.current()
        html = self.fragments.get(key)
        if html is None:
            if len(self.fragments) >= FRAGMENT_CACHE_MAX:
                self.fragments.clear()
            html = self.fragments[key] = render(data)
        return html


class RunService:
    """Everything the API does to runs, over one store."""

    def __init__(self, store: store_base.Store, runbook_dir: Path) -> None:
        self.store = store
        self.runbook_dir = runbook_dir
        self.owner = driver.process_owner("serve")
        self._views: OrderedDict[str, RunView] = OrderedDict()
        self._opening: dict[str, asyncio.Future[RunView]] = {}
        self._engines: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        # Signs the approval links the engines of this server send (golive.engine.links); set up by create_app,
        # its address by the config's public_url or, failing that, where the server listens.
        self.linker: links.Linker | None = None
        self._link_secret: bytes | None = None

    def configure_links(self, secret: bytes, public_url: str | None) -> None:
        """Approval links signed with ``secret``, opening the dashboard at ``public_url`` (None: not yet known)."""
        self._link_secret = secret
        self.linker = links.Linker(secret, public_url) if public_url else None

    def listening_at(self, url: str) -> None:
        """Where the server listens: the links' address unless the config named one."""
        if self.linker is None and self._link_secret is not None:
            self.linker = links.Linker(self._link_secret, url)

    # -- views ---------------------------------------------------------------------------------------
    async def resolve(self, run_id: str) -> str:
        """The full id of a run named by its id or a unique prefix (NotFound otherwise)."""
        if run_id in self._views:
            return run_id
        return (await self.store.get_run(run_id)).run_id

    async def view(self, run_id: str, refresh: bool = True) -> RunView:
        """The run's cached view, brought up to date with the log."""
        rid = await self.resolve(run_id)
        v = self._views.get(rid)
        if v is None:
            fut = self._opening.get(rid)
            if fut is None:
                fut = asyncio.get_running_loop().create_future()
                self._opening[rid] = fut
                try:
                    v = RunView(await acts.open_run(self.store, rid))
                except BaseException as exc:
                    fut.set_exception(exc)
                    fut.exception()  # retrieved here so a lone opener does not log "never retrieved"
                    raise
                finally:
                    self._opening.pop(rid, None)
                fut.set_result(v)
                self._views[rid] = v
                while len(self._views) > VIEW_CACHE_MAX:
                    self._views.popitem(last=False)
                return v
            v = await asyncio.shield(fut)
        self._views.move_to_end(rid)
        if refresh:
            await v.refresh()
        return v

    async def head(self, run_id: str) -> int:
        return (await self.view(run_id)).handle.state.last_seq

    def apply(self, ev: store_base.Event) -> None:
        """Apply an event seen by a live follower to the cached view (in order only; gaps wait for refresh)."""
        v = self._views.get(ev.run_id)
        if v is not None and ev.seq == v.handle.state.last_seq + 1:
            v.handle.state.apply(ev)

    async def summary(self, run_id: str) -> tuple[Summary, bytes]:
        v = await self.view(run_id)
        return v.current()

    async def list_runs(self, limit: int) -> list[dict[str, Any]]:
        out = []
        for rec in await self.store.list_runs(limit=limit):
            try:
                data, _ = await self.summary(rec.run_id)
            except exceptions.GoliveError as exc:
                # A run whose stored runbook no longer loads is still listed, with why.
                out.append(
                    {
                        "run_id": rec.run_id,
                        "runbook": rec.runbook_name,
                        "title": rec.runbook_name,
                        "mode": rec.mode,
                        "created_at": rec.created_at,
                        "status": "unreadable",
                        "verdict": "UNKNOWN",
                        "reason": exc.message.splitlines()[0],
                    }
                )
                continue
            out.append(
                {
                    "run_id": rec.run_id,
                    "runbook": rec.runbook_name,
                    "title": data["title"],
                    "mode": rec.mode,
                    "created_at": rec.created_at,
                    "status": data["status_label"],
                    "verdict": data["verdict"],
                    "reason": data["reason"] or "",
                }
            )
        return out

    # -- acts ------------------------------------------------------------------------------------------
    async def act(self, run_id: str, fn: Callable[[acts.RunHandle], Awaitable[T]]) -> tuple[T, RunView]:
        """Run one act on the run's fresh state; acts on one run are serialised inside this process."""
        v = await self.view(run_id, refresh=False)
        async with v.lock:
            await v.refresh()
            result = await fn(v.handle)
        return result, v

    async def request_rollback(
        self, run_id: str, actor: str, reason: str, trigger: str | None = None
    ) -> tuple[str, RunView]:
        """Ask for the rollback (the rules in acts decide); make sure an engine carries it out."""
        _, v = await self.act(run_id, lambda h: acts.request_rollback(h, actor, reason, trigger=trigger))
        rid = v.handle.run_id
        task = self._engines.get(rid)
        if task is not None and not task.done():
            return "the run's engine in this server is rolling back", v
        own = driver.Ownership(self.store, rid, self.owner)
        try:
            await own.acquire()
        except driver.RunBusy:
            lease = await self.store.get_lease(rid)
            who = driver.describe_owner(lease.owner) if lease is not None else "another process"
            return f"the run's engine ({who}) will roll back", v

        async def roll(engine: runner.Engine) -> RunStatus:
            await engine.rollback(reason, actor, "person")
            return engine.h.state.status

        async def go() -> None:
            handle = await acts.open_run(self.store, rid)
            await driver.drive(
                handle, runner.Engine(handle, linker=self.linker), owner=self.owner, ownership=own, body=roll
            )

        self._spawn_driven(rid, go, own)
        return "rollback started by this server", v

    # -- runs ------------------------------------------------------------------------------------------
    def runbook_path(self, name: str) -> Path:
        """A runbook file under runbook_dir; anything outside it is refused."""
        root = self.runbook_dir.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            raise exceptions.UsageError(f"runbook {name!r} is outside the server's runbook_dir; give a path inside it")
        if not path.is_file():
            raise exceptions.NotFound(
                f"no runbook file {name!r} under the server's runbook_dir (GET /api/v1/runbooks lists them)"
            )
        return path

    async def list_runbooks(self) -> tuple[list[dict[str, str]], list[str]]:
        root = self.runbook_dir.resolve()

        def scan() -> tuple[list[dict[str, str]], list[str]]:
            found: list[dict[str, str]] = []
            problems: list[str] = []
            files = sorted(p for p in root.rglob("*") if p.suffix in RUNBOOK_SUFFIXES and p.is_file())
            for p in files[:RUNBOOK_LIST_MAX]:
                rel = str(p.relative_to(root))
                try:
                    loaded = loader.load(p, environ={})
                except exceptions.RunbookInvalid as exc:
                    # Not every YAML file is a runbook; one that says it is (golive: 1) is reported.
                    with contextlib.suppress(OSError, UnicodeDecodeError):
                        if _RUNBOOK_MARK.search(p.read_text(encoding="utf-8")):
                            problems.append(f"{rel}: {exc.problems[0].message if exc.problems else exc.message}")
                    continue
                except exceptions.GoliveError as exc:
                    problems.append(f"{rel}: {exc.message.splitlines()[0]}")
                    continue
                rb = loaded.runbook
                found.append({"path": rel, "name": rb.name, "title": rb.title or rb.name})
            return found, problems

        return await asyncio.to_thread(scan)

    async def start(
        self,
        runbook: str,
        *,
        mode: str,
        vars_: dict[str, Any],
        roles: dict[str, str],
        run_id: str | None,
        actor: str,
        gate_waivers: Sequence[gate.GateWaiver] = (),
    ) -> str:
        """Create a run and drive it in the background; return its id (a live run passes the start gate first)."""
        path = self.runbook_path(runbook)
        loaded = await asyncio.to_thread(loader.load, path, var_overrides=vars_)
        handle = await runner.create_run(
            self.store, loaded, mode=mode, roles=roles, actor=actor, run_id=run_id, gate_waivers=gate_waivers
        )
        rid = handle.run_id
        own = driver.Ownership(self.store, rid, self.owner)
        try:
            await own.acquire()
        except driver.RunBusy:
            raise exceptions.RuleRefused(f"run {rid} was taken by another process before it started") from None
        self._spawn_driven(rid, lambda: self._run_engine(handle, own), own)
        return rid

    async def _run_engine(self, handle: acts.RunHandle, own: driver.Ownership) -> None:
        status = await driver.drive(handle, runner.Engine(handle, linker=self.linker), owner=self.owner, ownership=own)
        log.info("run %s: engine stopped (%s)", handle.run_id, status.label)
        if handle.state.final:
            await cached.keep_finished(self.store, handle.run_id)  # golive status reads it

    def _spawn_driven(self, run_id: str, body: Callable[[], Awaitable[None]], own: driver.Ownership) -> None:
        """Drive a run in the background (the driver holds, renews and fences the lease). An engine that
        fails has recorded ``engine_stopped`` and keeps its lease until it expires, so a server or worker
        adopts the run; it is never left RUNNING with nobody driving it and nothing said."""

        async def driven() -> None:
            try:
                # The engine acts as itself, not as the person whose request started or resumed it.
                with identity.acting(None):
                    await body()
            except asyncio.CancelledError:
                raise
            except exceptions.Fenced as exc:
                log.error("run %s: %s", run_id, exc.message)
            except Exception as exc:
                log.error("run %s: engine failed: %s", run_id, getattr(exc, "message", None) or repr(exc))
            finally:
                await own.stop_heartbeat()  # whatever happened, the lease is renewed no longer
                self._engines.pop(run_id, None)

        task = asyncio.create_task(driven(), name=f"golive-engine-{run_id}")
        self._engines[run_id] = task

    async def adopt_orphans(self) -> None:
        """Forever: take over runs whose owner stopped renewing its lease, and resume them here."""
        ttl = driver.lease_ttl()
        while True:
            claimed_at = time.monotonic()
            try:
                lease = await self.store.claim_orphan_run(self.owner, ttl)
            except (exceptions.StoreError, NotImplementedError) as exc:
                log.warning("looking for orphaned runs: %s", getattr(exc, "message", exc))
                lease = None
            if lease is None or lease.run_id in self._engines:
                await asyncio.sleep(min(ORPHAN_POLL, ttl / driver.RENEW_FRACTION))
                continue
            rid = lease.run_id
            log.info("run %s: its owner stopped; resuming it here (lease epoch %d)", rid, lease.epoch)
            own = driver.Ownership(self.store, rid, self.owner, ttl)
            own.adopt(lease, claimed_at)

            async def resume(rid: str = rid, own: driver.Ownership = own) -> None:
                handle = await acts.open_run(self.store, rid)
                await self._run_engine(handle, own)

            self._spawn_driven(rid, resume, own)

    def engine_running(self, run_id: str) -> bool:
        task = self._engines.get(run_id)
        return task is not None and not task.done()

    async def close(self) -> None:
        """Stop engines. Their runs stay resumable from the log, and their leases are left to expire so that
        another server or a worker adopts them."""
        tasks = list(self._engines.values()) + list(self._background)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
