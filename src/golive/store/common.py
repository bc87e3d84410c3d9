"""Pieces every store implementation shares (SQLite, PostgreSQL and ``golive.store.memory``).

No driver is imported here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from golive import clock as clock_mod
from golive import exceptions
from golive.store import base

__all__ = [
    "PreparedEvent",
    "check_digest",
    "check_expect",
    "event_from_row",
    "event_ts",
    "lease_from_state",
    "next_epoch",
    "one_line",
    "prepare_event",
    "raise_if_cancelled",
    "redact_url",
    "rows_past_known",
    "run_from_row",
    "run_params",
    "sha256_hex",
    "token_from_row",
    "wait_event",
]

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """A NewEvent with its timestamp fixed and its data encoded once, ready to be sealed by a writer."""

    type: str
    step_id: str | None
    actor: str | None
    data_json: str  # canonical JSON, exactly what is stored and hashed
    data: dict[str, Any]  # data as it reads back from the store (tuples become lists, ...)
    ts: str | None  # ISO 8601 UTC as given; None: the writer stamps it under the run's lock (event_ts)


def prepare_event(event: base.NewEvent) -> PreparedEvent:
    """Encode the data once and check the fields; refuse what cannot be stored. A timestamp not given is
    left to the writer, which stamps it inside the append's transaction (:func:`event_ts`)."""
    if not isinstance(event.type, str) or not event.type:
        raise exceptions.UsageError(f"event type must be a non-empty string, got {event.type!r}")
    for name, value in (("type", event.type), ("step_id", event.step_id), ("actor", event.actor)):
        if value is not None and "\x00" in value:  # PostgreSQL text cannot hold NUL; refuse it everywhere
            raise exceptions.UsageError(f"event {name} {value!r} contains a NUL character")
    when = event.ts
    if when is not None and when.tzinfo is None:
        raise exceptions.UsageError(
            f"event {event.type!r}: ts {when.isoformat()} has no timezone; pass an aware UTC datetime"
        )
    try:
        data_json = base.canonical_json(event.data)
    except (TypeError, ValueError) as exc:  # circular references, non-string keys of odd types
        raise exceptions.StoreError(f"event {event.type!r}: data cannot be encoded as JSON: {exc}") from exc
    data = json.loads(data_json)
    if not isinstance(data, dict):
        raise exceptions.UsageError(f"event {event.type!r}: data must be a mapping, got {type(data).__name__}")
    ts = None if when is None else clock_mod.utc_iso(when)
    return PreparedEvent(event.type, event.step_id, event.actor, data_json, data, ts)


def event_ts(p: PreparedEvent, now: str, last_ts: str | None) -> str:
    """The timestamp an event is stored with: its own if given, else ``now`` (read under the run's lock),
    never earlier than the run's previous event (clocks of several hosts may disagree a little)."""
    if p.ts is not None:
        return p.ts
    if last_ts is not None and len(last_ts) == len(now) and last_ts > now:
        return last_ts
    return now


def check_expect(run_id: str, expect_seq: int | None, last_seq: int) -> None:
    """Compare-and-append: refuse when the run's log is no longer at the head the caller read."""
    if expect_seq is not None and expect_seq != last_seq:
        raise exceptions.HeadMoved(run_id, expect_seq, last_seq)


def one_line(exc: BaseException) -> str:
    """A driver's message on one line (libpq's span several), for one-line CLI errors."""
    return " ".join(str(exc).split())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """A blob digest must be 64 lowercase hex characters (it also names a file: no path tricks)."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise exceptions.UsageError(f"not a sha256 hex digest: {digest!r} (expected 64 characters 0-9a-f)")
    return digest


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def event_from_row(row: tuple[Any, ...]) -> base.Event:
    """Event from (run_id, seq, ts, type, step_id, actor, data JSON, prev_hash, hash).

    Data that is not JSON can only come from editing the database: it is reported as a broken chain.
    """
    run_id, seq, ts, type_, step_id, actor, data_json, prev_hash, digest = row
    try:
        data = json.loads(data_json)
    except (TypeError, ValueError) as exc:
        raise exceptions.ChainBroken(run_id, int(seq), "data is not valid JSON (edited)") from exc
    return base.Event(run_id, int(seq), ts, type_, step_id, actor, data, prev_hash, digest)


def _json_column(value: Any, what: str) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError) as exc:
        raise exceptions.StoreError(f"{what} is not valid JSON in the store (edited?): {exc}") from exc


def run_from_row(row: tuple[Any, ...]) -> base.RunRecord:
    """RunRecord from (run_id, runbook_name, runbook_path, runbook_digest, runbook_text, mode, created_at, params)."""
    run_id, name, path, digest, text, mode, created_at, params = row
    return base.RunRecord(
        run_id=run_id,
        runbook_name=name,
        runbook_path=path,
        runbook_digest=digest,
        runbook_text=text,
        mode=mode,
        created_at=created_at,
        params=_json_column(params, f"run {run_id!r} params"),
    )


def run_params(run: base.RunRecord) -> dict[str, Any]:
    """The named parameters of the insert_run query."""
    if not run.run_id:
        raise exceptions.UsageError("run_id must not be empty")
    return {
        "run_id": run.run_id,
        "runbook_name": run.runbook_name,
        "runbook_path": run.runbook_path,
        "runbook_digest": run.runbook_digest,
        "runbook_text": run.runbook_text,
        "mode": run.mode,
        "created_at": run.created_at,
        "params": base.canonical_json(run.params),
    }


def token_from_row(row: tuple[Any, ...]) -> base.TokenRecord:
    """TokenRecord from (token_hash, user, roles JSON, created_at, revoked, expires_at, auth, subject)."""
    token_hash, user, roles, created_at, revoked, expires_at, auth, subject = row
    roles_list = _json_column(roles, f"roles of the token of {user!r}")
    return base.TokenRecord(
        token_hash, user, tuple(roles_list), created_at, bool(revoked), expires_at, auth or "token", subject
    )


def lease_from_state(run_id: str, row: tuple[Any, ...]) -> tuple[int, base.Lease | None, bool]:
    """(run's lease epoch, its lease row, alive) from a ``lease_state`` row."""
    lease_epoch, owner, epoch, expires_at, acquired_at, alive = row[:6]
    lease = None if owner is None else base.Lease(run_id, owner, float(expires_at), int(epoch), acquired_at or "")
    return int(lease_epoch), lease, bool(alive)


def next_epoch(kind: str, owner: str, lease_epoch: int, lease: base.Lease | None, alive: bool) -> int | None:
    """The epoch a lease operation leaves the run at, or None when it must not happen.

    ``acquire``: free or expired (a new epoch), or already ``owner``'s alive lease (the same epoch).
    ``take_over`` and ``claim`` (of an expired lease): always a new epoch, so the old owner is fenced out.
    """
    if kind == "acquire":
        if lease is not None and alive:
            return lease.epoch if lease.owner == owner and lease.epoch == lease_epoch else None
        return lease_epoch + 1
    if kind == "claim":
        return None if lease is None or alive else lease_epoch + 1
    return lease_epoch + 1


@dataclass(frozen=True)
class LeaseMove:
    """A lease move decided from the run's ``lease_state`` row: the row to put and whether the run's epoch
    moves. The SQLite and PostgreSQL stores write it in their own transaction."""

    lease: base.Lease
    params: dict[str, Any]  # for the ``put_lease`` statement
    epoch_moves: bool  # ``set_lease_epoch`` too


def plan_lease_move(
    kind: str, run_id: str, owner: str, ttl: float, row: tuple[Any, ...], now_iso: str
) -> LeaseMove | None:
    """What acquiring, renewing or taking over the lease does, by the database's clock (``row[6]``); None
    when the move is refused. ``now_iso`` is the acquisition time of a new owner."""
    lease_epoch, lease, alive = lease_from_state(run_id, row)
    epoch = next_epoch(kind, owner, lease_epoch, lease, alive)
    if epoch is None:
        return None
    now = float(row[6])
    acquired = lease.acquired_at if lease is not None and epoch == lease.epoch else now_iso
    params = {"run_id": run_id, "owner": owner, "expires_at": now + ttl, "acquired_at": acquired, "epoch": epoch}
    return LeaseMove(base.Lease(run_id, owner, now + ttl, epoch, acquired), params, epoch != lease_epoch)


class BatchingStore(base.Store):
    """A store whose writer commits queued events in batches: ``append`` and ``append_many`` prepare the
    events here once, and the implementation's ``_append`` hands them to its writer and awaits the commit."""

    async def append(
        self,
        run_id: str,
        event: base.NewEvent,
        *,
        fence: base.Fence | None = None,
        expect_seq: int | None = None,
    ) -> base.Event:
        """Append one event; returns once its transaction has committed."""
        return (await self._append(run_id, [prepare_event(event)], fence, expect_seq))[0]

    async def append_many(
        self,
        run_id: str,
        events: list[base.NewEvent],
        *,
        fence: base.Fence | None = None,
        expect_seq: int | None = None,
    ) -> list[base.Event]:
        """Append several events atomically, with consecutive seqs (all or none are stored)."""
        if not events:
            return []
        return await self._append(run_id, [prepare_event(e) for e in events], fence, expect_seq)

    async def _append(
        self, run_id: str, pending: list[PreparedEvent], fence: base.Fence | None, expect_seq: int | None
    ) -> list[base.Event]:
        raise NotImplementedError


def rows_past_known(rows: list[Any], seq: int, known: Callable[[], int] | None) -> tuple[int, list[Any]]:
    """A follower's batch of event rows ``(run_id, seq, ...)``: the seq to read after next time, and the rows to
    decode and yield, those past what the caller has already applied (``known``, asked after the read: what it
    applied meanwhile is not decoded either)."""
    if rows:
        seq = max(seq, int(rows[-1][1]))
        if known is not None:
            k = known()
            rows = [r for r in rows if int(r[1]) > k]
    return seq, rows


async def wait_event(event: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` is set or ``seconds`` pass, whichever comes first.

    Not ``asyncio.wait_for``: on Python 3.11 it returns when the event is set at the moment the waiting task is
    cancelled and drops the cancellation, so a cancelled follower would follow on (and whoever awaits it hang).
    """
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` when the running task was asked to stop and the request was lost on the way.

    On Python 3.11 ``asyncio.wait_for`` (in this package's drivers too: the PostgreSQL pool waits for a
    connection with it) drops a cancellation that arrives as what it waits for completes: the task's
    ``cancelling()`` count stays up while it runs on. A loop that would never end by itself (a follower) calls
    this after each wait so that it stops as asked."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
