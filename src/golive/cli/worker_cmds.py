"""``golive worker``: a process that only adopts runs from the store and drives them to their end.

A run is adopted when its lease has expired by the database's clock: its owner (a ``golive run``, a
``golive serve`` or another worker) died, was stopped, or lost its connection. Several workers may share one
PostgreSQL store; simultaneous claimers each get a different run (``FOR UPDATE SKIP LOCKED``), and fencing
stops a former owner that wakes up at its next write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from typing import Any

import click

from golive import exceptions
from golive.cli import _common

__all__ = ["worker"]

log = logging.getLogger("golive.worker")


@click.command()
@click.option(
    "--ttl",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Lease TTL in seconds for the runs this worker drives (default $GOLIVE_LEASE_TTL, else 15).",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.05),
    default=None,
    help="Seconds between looks for runs to adopt (default a third of the TTL, at most 10).",
)
@click.option("--max-runs", default=20, show_default=True, type=click.IntRange(1), help="Runs driven at once.")
@click.option("--once", is_flag=True, help="Adopt the runs there are now, drive them to their end, then exit.")
@_common.db_option
def worker(ttl: float | None, poll: float | None, max_runs: int, once: bool, db_url: str | None) -> None:
    """Adopt and drive runs whose owner stopped renewing its lease (it died, froze or lost the store).

    Prints one line per adopted and finished run; SIGTERM or Ctrl-C stops it (its runs keep their leases
    until they expire, then another worker adopts them)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    _common.run_async(
        lambda: _common.with_store(db_url, lambda store: _work(store, ttl, poll, max_runs, once), create=True)
    )


async def _work(store: Any, ttl: float | None, poll: float | None, max_runs: int, once: bool) -> None:
    from golive.engine import acts, driver, runner
    from golive.views import cached

    lease_ttl = driver.lease_ttl(ttl)
    interval = poll if poll is not None else min(10.0, lease_ttl / driver.RENEW_FRACTION)
    owner = driver.process_owner("worker")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    driving: dict[str, asyncio.Task[None]] = {}
    click.echo(f"worker {driver.describe_owner(owner)}: adopting runs (lease TTL {lease_ttl:g} s)", err=True)

    async def drive_one(lease: Any, own: Any) -> None:
        try:
            handle = await acts.open_run(store, lease.run_id)
            status = await driver.drive(handle, runner.Engine(handle), owner=owner, ownership=own)
            click.echo(f"run {lease.run_id}: {status.label} ({handle.state.reason})", err=True)
            if handle.state.final:
                await cached.keep_finished(store, lease.run_id)  # golive status reads it
        except exceptions.Fenced as exc:
            click.echo(f"run {lease.run_id}: stopped: {exc.message}", err=True)
        except exceptions.GoliveError as exc:
            click.echo(f"run {lease.run_id}: engine stopped: {exc.message}", err=True)
        finally:
            await own.stop_heartbeat()  # a run that could not even be opened is left to expire
            driving.pop(lease.run_id, None)

    while not stop.is_set():
        lease = None
        if len(driving) < max_runs:
            claimed_at = time.monotonic()
            try:
                lease = await store.claim_orphan_run(owner, lease_ttl)
            except exceptions.StoreError as exc:
                click.echo(f"looking for runs to adopt: {exc.message}", err=True)
        if lease is not None and lease.run_id not in driving:
            own = driver.Ownership(store, lease.run_id, owner, lease_ttl)
            own.adopt(lease, claimed_at)
            click.echo(f"run {lease.run_id}: adopted (lease epoch {lease.epoch})", err=True)
            driving[lease.run_id] = asyncio.create_task(drive_one(lease, own), name=f"golive-worker-{lease.run_id}")
            continue  # there may be more to adopt
        if once and not driving:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    for task in list(driving.values()):
        task.cancel()
    for task in list(driving.values()):
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
