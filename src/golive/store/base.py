"""The event store boundary: an async base class. Engine, CLI and server import only this module.

Implementations (``sqlite``, ``postgres``) translate driver errors into
:class:`golive.exceptions.StoreError` and never leak a driver type above this boundary.

The event log is append-only. Each event's hash covers the event and the previous hash, so editing,
deleting or reordering a row breaks the chain at that row (:func:`verify_chain`).
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from golive import clock as clock_mod
from golive import exceptions

__all__ = [
    "GENESIS",
    "BlobInfo",
    "Event",
    "Fence",
    "Lease",
    "NewEvent",
    "RunRecord",
    "Snapshot",
    "Store",
    "TokenRecord",
    "canonical_json",
    "check_head",
    "event_hash",
    "event_hash_from_json",
    "resolve_run_prefix",
    "seal_event",
    "skip_known",
    "verify_chain",
]

GENESIS = "0" * 64  # prev_hash of a run's first event


# json.dumps with these arguments builds a new JSONEncoder per call; one shared encoder (stateless between
# calls) gives byte-identical text without that cost on every event.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(value: Any) -> str:
    """Stable JSON: sorted keys, no spaces, UTF-8 kept. What hashes are computed over."""
    return _CANONICAL.encode(value)


def event_hash(
    run_id: str, seq: int, ts: str, type_: str, step_id: str | None, actor: str | None, data: Any, prev_hash: str
) -> str:
    payload = canonical_json([run_id, seq, ts, type_, step_id, actor, data, prev_hash])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append; the store assigns seq, ts and hashes.

    ``ts`` is taken from the store's clock inside the append's transaction (under the run's lock), never
    earlier than the run's previous event, so timestamps agree with the sequence; a ``ts`` given here is kept.
    """

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
    expires_at: str | None = None  # ISO 8601 UTC; None: never expires
    auth: str = "token"  # how the holder authenticated: "token" (golive token create) or "oidc" (a login session)
    subject: str | None = None  # who authenticated, when the token came from a login (the OIDC subject)


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


def event_hash_from_json(
    run_id: str,
    seq: int,
    ts: str,
    type_: str,
    step_id: str | None,
    actor: str | None,
    data_json: str,
    prev_hash: str,
) -> str:
    """:func:`event_hash` given ``data`` already as :func:`canonical_json` text (saves a second encode).

    ``canonical_json`` of a list is ``[`` + the canonical parts joined by ``,`` + ``]``, so splicing the
    pre-encoded data in gives byte-identical input to sha256.
    """
    head = canonical_json([run_id, seq, ts, type_, step_id, actor])  # "[...]": its "]" makes way for the rest
    text = f"{head[:-1]},{data_json},{canonical_json(prev_hash)}]"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal_event(
    run_id: str,
    seq: int,
    ts: str,
    type_: str,
    step_id: str | None,
    actor: str | None,
    data_json: str,
    prev_hash: str,
    *,
    data: Any = None,
) -> Event:
    """Build the stored form of an event: data as it reads back from JSON, and its chained hash.

    ``data``: ``data_json`` already decoded (a PreparedEvent's ``data``), so it is not decoded twice."""
    if data is None:
        data = json.loads(data_json)
    digest = event_hash_from_json(run_id, seq, ts, type_, step_id, actor, data_json, prev_hash)
    return Event(run_id, seq, ts, type_, step_id, actor, data, prev_hash, digest)


def check_head(run_id: str, events: list[Event], head_seq: int, head_hash: str) -> None:
    """Check that the chain ends where the run's head says it does (catches deleted trailing events).

    The head (last seq and hash) is written in the same transaction as the events, so a truncated log
    no longer matches it. Call after :func:`verify_chain` on the same events.
    """
    last_seq = events[-1].seq if events else 0
    last_hash = events[-1].hash if events else GENESIS
    if last_seq < head_seq:
        raise exceptions.ChainBroken(
            run_id, last_seq + 1, f"event missing: the run's head says the log ends at seq {head_seq}"
        )
    if last_seq > head_seq:
        raise exceptions.ChainBroken(
            run_id, head_seq + 1, f"event not recorded in the run's head (head ends at seq {head_seq})"
        )
    if last_hash != head_hash:
        raise exceptions.ChainBroken(run_id, last_seq, "hash differs from the one recorded in the run's head")


RUN_PREFIX_CANDIDATES_SHOWN = 10  # how many candidate ids an ambiguous-prefix message names


def resolve_run_prefix(prefix: str, matches: list[str]) -> str:
    """The one run id that ``prefix`` names among ``matches`` (ids starting with it), or an error.

    An exact match wins; several matches raise UsageError naming them; none raises NotFound.
    """
    if prefix in matches:
        return prefix
    if not matches:
        raise exceptions.NotFound(f"no run {prefix!r}: list runs with `golive runs`")
    if len(matches) > 1:
        shown = ", ".join(sorted(matches)[:RUN_PREFIX_CANDIDATES_SHOWN])
        raise exceptions.UsageError(f"run id prefix {prefix!r} is ambiguous: it matches {shown}; give more characters")
    return matches[0]


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What the store knows of a blob without reading its bytes."""

    digest: str  # sha256 hex
    size: int  # bytes
    media_type: str
    created_at: str  # ISO 8601 UTC


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a run's events folded into up to event ``seq`` (whose hash was ``head_hash``), as JSON text."""

    seq: int
    head_hash: str
    data: str


@dataclass(frozen=True, slots=True)
class Lease:
    """Ownership of a run by one process until ``expires_at`` unless renewed.

    ``epoch`` is the fencing token: it grows at every change of owner (and never goes back, even after a
    release), and an engine's appends carry it (:class:`Fence`); the store refuses a stale one.
    """

    run_id: str
    owner: str
    expires_at: float  # seconds since the epoch (UTC), from the database's clock
    epoch: int = 0
    acquired_at: str = ""

    @property
    def fence(self) -> Fence:
        return Fence(self.owner, self.epoch)


@dataclass(frozen=True, slots=True)
class Fence:
    """What an engine's append carries: who owns the run and at which lease epoch.

    The store accepts a fenced append only when, in the append's own transaction, the run's lease is held by
    ``owner`` at ``epoch`` and has not expired by the database's clock; otherwise it raises
    :class:`golive.exceptions.Fenced` and writes nothing.
    """

    owner: str
    epoch: int


def fence_refusal(run_id: str, fence: Fence, current: Lease | None, lease_epoch: int, alive: bool) -> str | None:
    """Why a fenced append must be refused (None when it may go on). Shared by every store."""
    if current is None:
        return f"run {run_id}: refusing {fence.owner}'s append: the run has no lease (epoch now {lease_epoch})"
    if current.owner != fence.owner or current.epoch != fence.epoch or lease_epoch != fence.epoch:
        return (
            f"run {run_id}: refusing {fence.owner}'s append at lease epoch {fence.epoch}: "
            f"{current.owner} owns the run since epoch {lease_epoch}"
        )
    if not alive:
        return f"run {run_id}: refusing {fence.owner}'s append: its lease (epoch {fence.epoch}) has expired"
    return None


def skip_known(events: list[Event], known: Callable[[], int] | None) -> list[Event]:
    """``events`` (in seq order) after the seq ``known`` returns now (all of them when there is no ``known``)."""
    if known is None or not events:
        return events
    k = known()
    return events if events[0].seq > k else [ev for ev in events if ev.seq > k]


class Store(abc.ABC):
    """Async event store. One instance per process; safe to share between tasks."""

    # A store a team shares (PostgreSQL): a person's act written to it directly skips authentication, so the
    # CLI sends acts through the server unless told --local.
    shared: bool = False

    def __init__(self, clock: clock_mod.Clock | None = None) -> None:
        self.clock: clock_mod.Clock = clock or clock_mod.SystemClock()
        self._event_clock: clock_mod.Clock | None = None

    @property
    def event_clock(self) -> clock_mod.Clock:
        """The clock that stamps events: the store's own, or a time-scaled rehearsal's (leases keep real time)."""
        return self._event_clock or self.clock

    @event_clock.setter
    def event_clock(self, clock: clock_mod.Clock | None) -> None:
        self._event_clock = clock

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
    async def append(
        self, run_id: str, event: NewEvent, *, fence: Fence | None = None, expect_seq: int | None = None
    ) -> Event:
        """Append one event and return it once it is durably committed.

        ``fence``: refuse (:class:`~golive.exceptions.Fenced`) unless the caller still owns the run's lease.
        ``expect_seq``: compare-and-append; refuse (:class:`~golive.exceptions.HeadMoved`) unless the run's
        last seq is still this one. Both are checked in the append's own transaction.
        """

    @abc.abstractmethod
    async def append_many(
        self, run_id: str, events: list[NewEvent], *, fence: Fence | None = None, expect_seq: int | None = None
    ) -> list[Event]:
        """Append several events atomically with consecutive seqs; ``fence``/``expect_seq`` as for append."""

    @abc.abstractmethod
    async def events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        """Events with seq > after_seq, in order."""

    async def last_seq(self, run_id: str) -> int:
        evs = await self.events(run_id)
        return evs[-1].seq if evs else 0

    async def follow(
        self, run_id: str, after_seq: int = 0, poll: float = 0.1, *, known: Callable[[], int] | None = None
    ) -> AsyncIterator[Event]:
        """Yield events as they are appended (by any process), in order. Polls by default; PostgreSQL may LISTEN.

        ``known``: the seq up to which the caller already has the log (a handle that applied its own appends):
        events up to it are passed over, neither yielded nor (where the store reads them back) decoded; the
        events after it are yielded in order, none left out."""
        seq = after_seq
        while True:
            if known is not None:
                seq = max(seq, known())
            batch = await self.events(run_id, after_seq=seq)
            fresh = skip_known(batch, known)
            for ev in fresh:
                seq = ev.seq
                yield ev
            if batch:
                seq = max(seq, batch[-1].seq)
            if not fresh:
                await self.clock.sleep(poll)

    async def verify(self, run_id: str) -> int:
        """Verify the run's chain; return the event count or raise ChainBroken."""
        return verify_chain(run_id, await self.events(run_id))

    async def verified_events(self, run_id: str) -> list[Event]:
        """The run's events with their chain checked as :meth:`verify` checks it (hashes, seq, and the head the
        store recorded), for a reader that uses the events it checked (the evidence pack). ChainBroken."""
        await self.verify(run_id)
        events = await self.events(run_id)
        verify_chain(run_id, events)  # events appended after that check (a run still going) are checked too
        return events

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

    # additions for the CLI, the server and workers (not abstract, so other subclasses keep working) ----
    async def list_tokens(self) -> list[TokenRecord]:
        """Every token record (hashes only), oldest first."""
        raise NotImplementedError

    async def revoke_token(self, token_hash: str) -> bool:
        """Mark a token revoked; False when there is no such token."""
        token = await self.find_token(token_hash)
        if token is None:
            return False
        await self.put_token(dataclasses.replace(token, revoked=True))
        return True

    async def blob_info(self, digest: str) -> BlobInfo:
        """Size and media type of a stored blob, or NotFound."""
        raise NotImplementedError

    async def blob_file(self, digest: str) -> Path | None:
        """The local file that holds a blob's bytes, for streaming a large blob without loading it, or None
        when this store keeps blobs elsewhere (use :meth:`get_blob`). The file is not re-hashed here: a
        reader that streams it hashes what it reads. NotFound when there is no such blob."""
        return None

    async def blob_files(self, digests: Iterable[str]) -> dict[str, Path]:
        """The local files of many blobs in one call (what :meth:`blob_file` gives each), for a reader of
        thousands of blobs. Blobs without a local file are left out, as are missing ones: ask
        :meth:`blob_file` or :meth:`get_blob` about those, which say why."""
        out: dict[str, Path] = {}
        for digest in dict.fromkeys(digests):
            try:
                path = await self.blob_file(digest)
            except (exceptions.NotFound, exceptions.StoreError, NotImplementedError):
                continue
            if path is not None:
                out[digest] = path
        return out

    # folded-state snapshots: a cache of a run's fold, never evidence (verify never reads it) -----------
    async def get_snapshot(self, run_id: str, kind: str) -> Snapshot | None:
        """The run's snapshot of ``kind`` if the event it folded up to still has the hash it folded; one that
        no longer matches is discarded (deleted) and None returned, as is None when there is none."""
        return None

    async def put_snapshot(self, run_id: str, kind: str, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` as the run's snapshot of ``kind`` (replacing the previous one). A store without
        snapshots keeps nothing: its readers fold the whole log."""
        return None

    async def schema_version(self) -> int:
        """The schema version the database is at (0 when empty)."""
        return 0

    async def migrate(self) -> int:
        """Apply pending migrations; return the version reached."""
        return 0

    # run leases: which process owns a run; another may claim it once the lease expires --------------
    # Every expiry is computed from the database's clock, never from a process's clock.
    async def acquire_lease(self, run_id: str, owner: str, ttl: float) -> Lease | None:
        """Take the run's lease for ``ttl`` seconds if it is free, expired or already ``owner``'s; the lease
        (with its epoch, raised unless ``owner`` already held it alive) or None."""
        raise NotImplementedError

    async def take_over_lease(self, run_id: str, owner: str, ttl: float) -> Lease:
        """Take the run's lease whoever holds it (a person's explicit takeover); the epoch rises, so the old
        owner's next append is refused."""
        raise NotImplementedError

    async def renew_lease(self, run_id: str, owner: str, ttl: float, epoch: int | None = None) -> bool:
        """Extend ``owner``'s lease to ``ttl`` seconds from now; False if ``owner`` no longer holds it (at
        ``epoch``, when given) or it has already expired: a late renewal never revives a lease."""
        raise NotImplementedError

    async def release_lease(self, run_id: str, owner: str) -> None:
        """Give the lease up (a finished run is then nobody's orphan). No-op unless ``owner`` holds it."""
        raise NotImplementedError

    async def get_lease(self, run_id: str) -> Lease | None:
        """The run's lease row, expired or not, or None."""
        raise NotImplementedError

    async def claim_orphan_run(self, owner: str, ttl: float) -> Lease | None:
        """Take over one run whose lease has expired (its owner died or stopped); its new lease, or None."""
        raise NotImplementedError
