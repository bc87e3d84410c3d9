"""Ownership of a run: the lease with its epoch, the heartbeat, fenced appends and resume.

One driver for ``golive run``, ``golive resume``, ``golive serve`` and ``golive worker``. The engine
(:mod:`golive.engine.runner`) only schedules steps; whether this process may write to the run is decided here
and in the store:

- The run's lease is taken (or, by a person's explicit ``--take-over``, taken over) before the engine starts;
  its epoch grows at every change of owner and its expiry is the database's clock.
- Every event the engine writes carries the lease's :class:`~golive.store.base.Fence`; the store refuses it in
  the append's own transaction once another process owns the run or the lease has expired.
- A heartbeat renews the lease every third of its TTL. A renewal that is refused, fails for longer than the
  TTL, or comes late (this process was frozen, e.g. SIGSTOP) marks the ownership lost: the engine is
  cancelled and every later append fails here before reaching the store, so no further side effect starts.
  An action whose ``action_started`` was refused never runs.
- An engine that fails (a store error, a bug) records ``engine_stopped`` with why, keeps its lease until it
  expires (so a worker or server adopts the run, or ``golive resume`` continues it) and never leaves the
  run looking driven when nobody drives it.

On one host, a lease owner is recognised by process id and process start time, so ``golive resume`` refuses
while the owner lives (naming it), takes over at once when it is gone, and ``--take-over`` forces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from golive import clock as clock_mod
from golive import exceptions
from golive.engine import acts, runner
from golive.engine import handle as handle_mod
from golive.engine import state as state_mod
from golive.engine.state import RunStatus
from golive.exceptions import RunBusy
from golive.store import base as store_base

__all__ = [
    "LEASE_TTL",
    "OwnerInfo",
    "Ownership",
    "RunBusy",
    "describe_owner",
    "drive",
    "lease_ttl",
    "local_owner_alive",
    "parse_owner",
    "process_owner",
]

log = logging.getLogger("golive.driver")

LEASE_TTL = 15.0  # seconds; GOLIVE_LEASE_TTL overrides it (short in tests)
RENEW_FRACTION = 3  # the heartbeat renews every TTL / 3
RETRY_PAUSE = 0.2  # seconds between renewal attempts after a failed one


def lease_ttl(ttl: float | None = None) -> float:
    """The lease TTL in effect: ``ttl``, else $GOLIVE_LEASE_TTL, else :data:`LEASE_TTL`."""
    if ttl is not None:
        return ttl
    return clock_mod.seconds_from_env("GOLIVE_LEASE_TTL", LEASE_TTL, "the lease TTL", "15")


@dataclass(frozen=True, slots=True)
class OwnerInfo:
    """Who a lease owner string names: ``host:pid:start:kind``."""

    host: str
    pid: int
    start: str  # the process start time in clock ticks since boot ("" where unknown)
    kind: str  # run | resume | serve | worker | rollback

    def describe(self) -> str:
        return f"golive {self.kind} (process {self.pid} on {self.host})"


def _start_ticks(pid: int) -> str:
    """A process's start time (Linux: /proc/PID/stat field 22), so a reused pid is not taken for its owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


def process_owner(kind: str) -> str:
    """This process as a lease owner: host, pid, process start time and what it is."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}:{kind}"


def parse_owner(owner: str) -> OwnerInfo | None:
    parts = owner.split(":")
    if len(parts) == 4 and parts[1].isdigit():
        return OwnerInfo(parts[0], int(parts[1]), parts[2], parts[3])
    if len(parts) >= 2 and parts[1].isdigit():  # older owners: host:pid[:kind]
        return OwnerInfo(parts[0], int(parts[1]), "", parts[2] if len(parts) > 2 else "run")
    return None


def describe_owner(owner: str) -> str:
    info = parse_owner(owner)
    return info.describe() if info else owner


def local_owner_alive(owner: str) -> bool | None:
    """True/False for an owner that is a process of this host; None when it is another host's (or unknown)."""
    info = parse_owner(owner)
    if info is None or info.host != socket.gethostname():
        return None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, under another user
    # A reused pid (another process started since) is not the owner.
    return not (info.start and _start_ticks(info.pid) not in ("", info.start))


class Ownership:
    """This process's lease on one run: acquire, heartbeat, fence, release."""

    def __init__(self, store: store_base.Store, run_id: str, owner: str, ttl: float | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.owner = owner
        self.ttl = lease_ttl(ttl)
        self.lease: store_base.Lease | None = None
        self.lost: str | None = None
        self.previous: store_base.Lease | None = None
        self._renewed_at = 0.0  # time.monotonic() of the last successful acquire/renewal
        self._on_lost: list[Callable[[str], None]] = []
        self._beat: asyncio.Task[None] | None = None

    def start_heartbeat(self) -> None:
        """Start renewing now (right after the lease was taken: loading a large run must not let it lapse)."""
        if self._beat is None and self.lease is not None:
            self._beat = asyncio.create_task(self.heartbeat(), name=f"golive-lease-{self.run_id}")

    async def stop_heartbeat(self) -> None:
        beat, self._beat = self._beat, None
        if beat is not None:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    @property
    def fence(self) -> store_base.Fence:
        assert self.lease is not None
        return self.lease.fence

    async def acquire(self, *, take_over: bool = False) -> store_base.Lease:
        """Take the run's lease. A lease held by a live process is refused (RunBusy naming it) unless
        ``take_over``; one left by a process of this host that is gone is taken at once."""
        self.previous = await self.store.get_lease(self.run_id)
        started = time.monotonic()
        lease: store_base.Lease | None = None
        if take_over:
            lease = await self.store.take_over_lease(self.run_id, self.owner, self.ttl)
        else:
            prev = self.previous
            alive_here = local_owner_alive(prev.owner) if prev is not None and prev.owner != self.owner else None
            if alive_here is True:
                # A live process of this host owns it, even if frozen past its lease: it may continue.
                assert prev is not None
                raise RunBusy(self._busy_message(prev))
            if alive_here is False:  # its process is gone (kill -9, reboot): no need to wait for the expiry
                lease = await self.store.take_over_lease(self.run_id, self.owner, self.ttl)
            else:
                lease = await self.store.acquire_lease(self.run_id, self.owner, self.ttl)
            if lease is None:
                current = await self.store.get_lease(self.run_id)
                raise RunBusy(self._busy_message(current))
        self.lease = lease
        self._renewed_at = started
        self.start_heartbeat()
        return lease

    def _busy_message(self, lease: store_base.Lease | None) -> str:
        who = describe_owner(lease.owner) if lease is not None else "another process"
        return (
            f"run {self.run_id} is being run by {who}; act on it with confirm/decide/rollback, wait for that "
            f"process to stop, or take the run over with: golive resume {self.run_id} --take-over"
        )

    def adopt(self, lease: store_base.Lease, started: float) -> None:
        """Own a lease claimed elsewhere (a worker's or server's claim of an orphan), taken at monotonic
        time ``started``, and start renewing it."""
        self.lease = lease
        self._renewed_at = started
        self.start_heartbeat()

    def on_lost(self, callback: Callable[[str], None]) -> None:
        self._on_lost.append(callback)

    def mark_lost(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
            log.error("run %s: %s", self.run_id, why)
            for cb in self._on_lost:
                cb(why)

    def check(self) -> None:
        """Raise Fenced when this process no longer owns the run, or may not (its lease is past due here)."""
        if self.lost is None and self.lease is not None and time.monotonic() - self._renewed_at >= self.ttl:
            self.mark_lost(
                f"this process ({describe_owner(self.owner)}) did not renew the lease of run {self.run_id} within "
                f"{self.ttl:g} s (it was stopped or too slow); it stops before any further side effect"
            )
        if self.lost is not None:
            raise exceptions.Fenced(self.lost)

    async def heartbeat(self) -> None:
        """Renew every TTL / 3 until cancelled; mark the ownership lost when that fails or comes late."""
        assert self.lease is not None
        epoch = self.lease.epoch
        while self.lost is None:
            await asyncio.sleep(self.ttl / RENEW_FRACTION)
            try:
                self.check()  # a frozen process wakes here past its lease: lost, whatever the store says
            except exceptions.Fenced:
                return
            attempt = time.monotonic()
            try:
                ok = await self.store.renew_lease(self.run_id, self.owner, self.ttl, epoch=epoch)
            except exceptions.StoreError as exc:
                log.warning("run %s: lease renewal failed (retrying): %s", self.run_id, exc.message)
                await asyncio.sleep(RETRY_PAUSE)
                continue  # check() ends it once the TTL has passed since the last renewal
            if not ok:
                current = await _quiet_lease(self.store, self.run_id)
                by = (
                    f"{describe_owner(current.owner)} owns it since epoch {current.epoch}"
                    if current is not None and current.epoch != epoch
                    else "its lease expired"
                )
                self.mark_lost(
                    f"run {self.run_id}: this process lost the run ({by}); it stops before any further side effect"
                )
                return
            self._renewed_at = attempt

    async def release(self) -> None:
        """Give the lease up (only while this process still holds it)."""
        if self.lease is not None and self.lost is None:
            with contextlib.suppress(exceptions.StoreError):
                await self.store.release_lease(self.run_id, self.owner)


async def _quiet_lease(store: store_base.Store, run_id: str) -> store_base.Lease | None:
    try:
        return await store.get_lease(run_id)
    except exceptions.StoreError:
        return None


Body = Callable[[runner.Engine], Awaitable[RunStatus]]


async def drive(
    handle: acts.RunHandle,
    engine: runner.Engine,
    *,
    owner: str,
    ttl: float | None = None,
    take_over: bool = False,
    actor: str | None = None,
    reason: str = "",
    body: Body | None = None,
    ownership: Ownership | None = None,
) -> RunStatus:
    """Own the run and drive ``engine`` (``engine.run()`` unless ``body`` says otherwise) to its end.

    ``ownership`` is a lease already acquired (a worker's claim); otherwise it is acquired here, by
    ``take_over`` when a person asked for it (``actor``, ``reason``: recorded). Raises RunBusy when another
    live process owns the run, Fenced when this process lost it while driving (its engine stopped before
    any further side effect), and re-raises an engine failure after recording it as ``engine_stopped``.
    """
    own = ownership or Ownership(handle.store, handle.run_id, owner, ttl)
    if own.lease is None:
        await own.acquire(take_over=take_over)
    assert own.lease is not None
    handle.ownership = own
    run_task: asyncio.Task[RunStatus] | None = None

    def stop_engine(why: str) -> None:
        if run_task is not None and not run_task.done():
            run_task.cancel()

    own.on_lost(stop_engine)
    own.start_heartbeat()
    try:
        prev = own.previous
        await handle.refresh()
        started = store_base.NewEvent(
            "engine_started",
            actor=actor or runner.INTERNAL_ACTOR,
            data={
                "owner": own.owner,
                "epoch": own.lease.epoch,
                "takeover": take_over,
                "previous_owner": prev.owner if prev is not None and prev.owner != own.owner else None,
                "previous_epoch": prev.epoch if prev is not None and prev.owner != own.owner else None,
                "reason": reason,
            },
        )
        if handle.state.final and body is None and not take_over:
            # A finished run usually has nothing left to do: record the ownership only with a first write.
            handle.announce = started
        else:
            await handle.append_many([started])
        run_task = asyncio.ensure_future((body or _run)(engine))
        try:
            status = await run_task
        except asyncio.CancelledError:
            if own.lost is None:
                raise
            raise exceptions.Fenced(own.lost) from None
    except exceptions.Fenced as exc:
        own.mark_lost(exc.message)
        await engine.aclose()
        raise
    except asyncio.CancelledError:
        # This process stops driving the run (shutdown): nothing it left behind may write any more; the
        # lease is kept until it expires, so another process adopts the run.
        own.lost = own.lost or f"run {handle.run_id}: this process stopped driving it"
        raise
    except Exception as exc:
        why = exc.message if isinstance(exc, exceptions.GoliveError) else f"{type(exc).__name__}: {exc}"
        log.error("run %s: engine stopped: %s", handle.run_id, why)
        await _record_stop(handle, own, why)
        await engine.aclose()
        raise
    finally:
        await own.stop_heartbeat()
    await own.release()
    # The run is no longer driven from here: what this process writes to it next (hypercare, a person's
    # act through the same handle) is unfenced, like any other process's.
    handle.ownership = None
    handle.announce = None
    if handle.state.final and handle.state.last_seq >= handle_mod.SNAPSHOT_EVERY:
        # Its views (status, reports, the API) then start from this fold instead of folding the whole log.
        await handle_mod.keep_snapshot(
            handle.store, handle.state, state_mod.snapshot_kind(handle.record.runbook_digest)
        )
    return status


async def _run(engine: runner.Engine) -> RunStatus:
    return await engine.run()


async def _record_stop(handle: acts.RunHandle, own: Ownership, why: str) -> None:
    """Record that the engine stopped and why (fenced: only while this process still owns the run). The
    lease is kept until it expires, so a worker adopts the run; a store that is down gets a log line only."""
    if own.lost is not None:
        return
    try:
        await handle.append(
            "engine_stopped",
            actor=runner.INTERNAL_ACTOR,
            owner=own.owner,
            epoch=own.fence.epoch,
            reason=handle.redactor().redact(why)[: runner.EXCERPT_LIMIT],
        )
    except exceptions.GoliveError as exc:
        log.error("run %s: could not record that the engine stopped: %s", handle.run_id, exc.message)
