"""The event store boundary: an async base class. Engine, CLI and server import only this module.

Implementations (``sqlite``, ``postgres``) translate driver errors into
:class:`golive.exceptions.StoreError` and never leak a driver type above this boundary.

The event log is append-only. Each event's hash covers the event and the previous hash, so editing,
deleting or reordering a row breaks the chain at that row (:func:`verify_chain`).
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from golive import clock as clock_mod
from golive import exceptions

__all__ = [
    "GENESIS",
    "Event",
    "NewEvent",
    "RunRecord",
    "Store",
    "TokenRecord",
    "canonical_json",
    "event_hash",
    "verify_chain",
]

GENESIS = "0" * 64  # prev_hash of a run's first event


def canonical_json(value: Any) -> str:
    """Stable JSON: sorted keys, no spaces, UTF-8 kept. What hashes are computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(
    run_id: str, seq: int, ts: str, type_: str, step_id: str | None, actor: str | None, data: Any, prev_hash: str
) -> str:
    payload = canonical_json([run_id, seq, ts, type_, step_id, actor, data, prev_hash])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append; the store assigns seq, ts (from its clock unless given) and hashes."""

    type: str
    step_id: str | None = None
    actor: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class Event:
    run_id: str
    seq: int  # 1-based, per run, gap-free
    ts: str  # ISO 8601 UTC, clock.utc_iso()
    type: str
    step_id: str | None
    actor: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "ts": self.ts,
            "type": self.type,
            "step_id": self.step_id,
            "actor": self.actor,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    def computed_hash(self) -> str:
        return event_hash(
            self.run_id, self.seq, self.ts, self.type, self.step_id, self.actor, self.data, self.prev_hash
        )


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run's fixed facts. Its changing state is a fold over its events."""

    run_id: str
    runbook_name: str
    runbook_path: str
    runbook_digest: str  # sha256 of the runbook file bytes
    runbook_text: str  # the runbook source, so a run can resume and be reported without the file
    mode: str  # live | rehearsal | dry-run
    created_at: str  # ISO 8601 UTC
    params: dict[str, Any] = field(default_factory=dict)  # vars overrides, role assignments at start, ...


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_hash: str  # sha256 hex of the bearer token; the token itself is never stored
    user: str
    roles: tuple[str, ...]
    created_at: str
    revoked: bool = False


def verify_chain(run_id: str, events: Iterable[Event]) -> int:
    """Check seq continuity and every hash; return the number of events. Raises ChainBroken."""
    prev = GENESIS
    expected_seq = 1
    n = 0
    for ev in events:
        if ev.seq != expected_seq:
            raise exceptions.ChainBroken(run_id, expected_seq, f"expected seq {expected_seq}, found {ev.seq}")
        if ev.prev_hash != prev:
            raise exceptions.ChainBroken(run_id, ev.seq, "prev_hash does not match the previous event's hash")
        if ev.computed_hash() != ev.hash:
            raise exceptions.ChainBroken(run_id, ev.seq, "content does not match its hash (edited)")
        prev = ev.hash
        expected_seq += 1
        n += 1
    return n


class Store(abc.ABC):
    """Async event store. One instance per process; safe to share between tasks."""

    def __init__(self, clock: clock_mod.Clock | None = None) -> None:
        self.clock: clock_mod.Clock = clock or clock_mod.SystemClock()

    # lifecycle -------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and migrate the schema to the current version."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # runs --------------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def create_run(self, run: RunRecord) -> None: ...

    @abc.abstractmethod
    async def get_run(self, run_id: str) -> RunRecord:
        """The run, or NotFound. A unique prefix of a run id is accepted."""

    @abc.abstractmethod
    async def list_runs(self, limit: int = 100) -> list[RunRecord]:
        """Newest first."""

    # events ------------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def append(self, run_id: str, event: NewEvent) -> Event:
        """Append one event and return it once it is durably committed."""

    async def append_many(self, run_id: str, events: list[NewEvent]) -> list[Event]:
        return [await self.append(run_id, e) for e in events]

    @abc.abstractmethod
    async def events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        """Events with seq > after_seq, in order."""

    async def last_seq(self, run_id: str) -> int:
        evs = await self.events(run_id)
        return evs[-1].seq if evs else 0

    async def follow(self, run_id: str, after_seq: int = 0, poll: float = 0.1) -> AsyncIterator[Event]:
        """Yield events as they are appended (by any process). Polls by default; PostgreSQL may LISTEN."""
        seq = after_seq
        while True:
            batch = await self.events(run_id, after_seq=seq)
            for ev in batch:
                seq = ev.seq
                yield ev
            if not batch:
                await self.clock.sleep(poll)

    async def verify(self, run_id: str) -> int:
        """Verify the run's chain; return the event count or raise ChainBroken."""
        return verify_chain(run_id, await self.events(run_id))

    # blobs (content-addressed evidence) --------------------------------------------------------------
    @abc.abstractmethod
    async def put_blob(self, data: bytes, media_type: str = "application/octet-stream") -> str:
        """Store bytes under their sha256 hex digest and return it. Idempotent."""

    @abc.abstractmethod
    async def get_blob(self, digest: str) -> bytes: ...

    # API tokens ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def put_token(self, token: TokenRecord) -> None: ...

    @abc.abstractmethod
    async def find_token(self, token_hash: str) -> TokenRecord | None: ...
