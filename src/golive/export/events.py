"""Run events out as CloudEvents (HTTP binding, binary mode), with CDEvents where one fits.

Every stored event of a run becomes a CloudEvent of type ``dev.golive.<event type>.v1`` (``id`` the run id
and sequence number, so a receiver can drop duplicates; ``source`` ``/golive/runs/<run id>``; ``subject``
the step). Two moments are also sent as CDEvents (v0.4.1): the GO decision as
``dev.cdevents.service.deployed.0.2.0`` and a finished rollback as ``dev.cdevents.service.rolledback.0.2.0``.

Only a fixed set of fields leaves golive (ids, kinds, outcomes, the redacted one-line summaries, T-times,
who decided): no step output, no inputs, no evidence, no variable value. Events are already redacted
when they are stored, and the summary is redacted again with the run's redactor.

:class:`EventForwarder` follows the run's event log in the store in a task of its own: a sink that is
slow or down is retried with backoff (bounded attempts, bounded time per attempt) and never delays the
run; what could not be delivered is counted and reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.v1.event import CloudEvent

from golive import clock as clock_mod
from golive.store import base as store_base

__all__ = ["CDEVENTS_VERSION", "EventForwarder", "Sink", "SinkStats", "cloud_events"]

log = logging.getLogger(__name__)

CDEVENTS_VERSION = "0.4.1"
DEPLOYED = "dev.cdevents.service.deployed.0.2.0"
ROLLED_BACK = "dev.cdevents.service.rolledback.0.2.0"
GOLIVE_TYPE = "dev.golive.{type}.v1"
# Fields of an event's data that may leave golive, per event type (everything else stays in the store).
SAFE_FIELDS: dict[str, tuple[str, ...]] = {
    "run_created": ("runbook", "mode", "runbook_digest"),
    "phase_started": ("phase", "at"),
    "phase_finished": ("phase", "outcome"),
    "step_started": ("kind", "attempt", "phase"),
    "action_started": ("kind", "attempt", "phase"),
    "step_finished": ("outcome", "summary", "duration", "attempt", "phase"),
    "action_finished": ("outcome", "summary", "duration", "attempt", "phase"),
    "step_waiting": ("what", "deadline", "default"),
    "step_confirmed": ("outcome",),
    "decision_recorded": ("decision",),
    "decision_defaulted": ("default",),
    "waiver_recorded": ("ticket",),
    "approval_recorded": ("act",),
    "trigger_fired": ("trigger", "then", "severity"),
    "rollback_requested": ("reason",),
    "rollback_started": ("reason",),
    "rollback_finished": ("outcome",),
    "signoff_recorded": ("area",),
    "hypercare_check": ("outcome", "summary"),
    "hypercare_report": ("report", "status"),
    "run_finished": ("status", "reason"),
}
ATTEMPTS = 5  # per event and sink, the first included
BACKOFF = 0.5  # seconds before the second attempt; doubles, capped at MAX_BACKOFF
MAX_BACKOFF = 10.0
ATTEMPT_TIMEOUT = 5.0  # seconds for one delivery
QUEUE_LIMIT = 10_000  # events waiting for one sink; beyond it the oldest are dropped (and counted)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    runbook: str
    service: str
    environment: str
    release: dict[str, Any]


def _artifact_id(info: RunInfo) -> str:
    """A purl for what went live: the first pinned artifact, else the runbook's release tag/sha."""
    for art in info.release.get("artifacts") or []:
        digest = str(art.get("digest") or "")
        if digest:
            return f"pkg:generic/{art.get('name') or info.service or info.runbook}@{digest}"
    version = info.release.get("tag") or info.release.get("sha") or "unpinned"
    return f"pkg:generic/{info.service or info.runbook}@{version}"


def _cdevent(kind: str, ev: store_base.Event, info: RunInfo) -> CloudEvent:
    source = f"/golive/runs/{info.run_id}"
    ev_id = f"{info.run_id}-{ev.seq}-cdevent"
    data = {
        "context": {
            "specversion": CDEVENTS_VERSION,
            "id": ev_id,
            "source": source,
            "type": kind,
            "timestamp": ev.ts,
        },
        "subject": {
            "id": info.service or info.runbook,
            "source": source,
            "content": {"environment": {"id": info.environment or "default"}, "artifactId": _artifact_id(info)},
        },
    }
    return CloudEvent(
        {"type": kind, "source": source, "id": ev_id, "time": _time(ev.ts), "datacontenttype": "application/json"},
        data,
    )


def _time(ts: str) -> Any:
    try:
        return clock_mod.parse_time(ts)
    except ValueError:
        return None


def cloud_events(ev: store_base.Event, info: RunInfo, redact: Callable[[str], str] = str) -> list[CloudEvent]:
    """The CloudEvents one stored event becomes (its own, plus a CDEvent where one fits)."""
    fields = SAFE_FIELDS.get(ev.type, ())
    data: dict[str, Any] = {"run_id": info.run_id, "seq": ev.seq, "runbook": info.runbook}
    if ev.step_id:
        data["step"] = ev.step_id
    for k in fields:
        if k in ev.data and isinstance(ev.data[k], str | int | float | bool):
            value = ev.data[k]
            data[k] = redact(value) if isinstance(value, str) else value
    if ev.type in ("decision_recorded", "signoff_recorded", "waiver_recorded", "step_confirmed", "approval_recorded"):
        data["actor"] = redact(ev.actor or "")
    attrs: dict[str, Any] = {
        "type": GOLIVE_TYPE.format(type=ev.type),
        "source": f"/golive/runs/{info.run_id}",
        "id": f"{info.run_id}-{ev.seq}",
        "datacontenttype": "application/json",
    }
    t = _time(ev.ts)
    if t is not None:
        attrs["time"] = t
    if ev.step_id:
        attrs["subject"] = ev.step_id
    out = [CloudEvent(attrs, data)]
    if ev.type == "decision_recorded" and ev.data.get("decision") == "go" and not ev.data.get("pause"):
        out.append(_cdevent(DEPLOYED, ev, info))
    if ev.type == "rollback_finished":
        out.append(_cdevent(ROLLED_BACK, ev, info))
    return out


@dataclass
class SinkStats:
    delivered: int = 0
    failed: int = 0  # gave up after every attempt
    dropped: int = 0  # the queue was full
    last_error: str = ""


@dataclass
class Sink:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    stats: SinkStats = field(default_factory=SinkStats)
    in_flight: bool = False


class EventForwarder:
    """Follows a run's events in the store and posts them to sinks, never blocking the run."""

    def __init__(
        self,
        store: store_base.Store,
        run_id: str,
        info: RunInfo,
        sinks: Sequence[Sink],
        *,
        redact: Callable[[str], str] = str,
        poll: float = 0.2,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.store, self.run_id, self.info, self.sinks = store, run_id, info, list(sinks)
        self.redact, self.poll, self.attempts, self.backoff, self._sleep = redact, poll, attempts, backoff, sleep
        self._queues: list[asyncio.Queue[CloudEvent | None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._follower: asyncio.Task[None] | None = None
        self.seen_seq = 0

    async def start(self, after_seq: int = 0) -> None:
        import aiohttp

        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT))
        self.seen_seq = after_seq
        for sink in self.sinks:
            q: asyncio.Queue[CloudEvent | None] = asyncio.Queue()
            self._queues.append(q)
            self._tasks.append(asyncio.create_task(self._deliver(sink, q), name=f"golive-events-{sink.url}"))
        self._follower = asyncio.create_task(self._follow(), name="golive-events-follow")

    async def _follow(self) -> None:
        while True:
            batch = await self.store.events(self.run_id, after_seq=self.seen_seq)
            for ev in batch:
                self.seen_seq = ev.seq
                for ce in cloud_events(ev, self.info, self.redact):
                    for sink, q in zip(self.sinks, self._queues, strict=True):
                        if q.qsize() >= QUEUE_LIMIT:
                            q.get_nowait()
                            sink.stats.dropped += 1
                        q.put_nowait(ce)
            if not batch:
                await asyncio.sleep(self.poll)

    async def _deliver(self, sink: Sink, q: asyncio.Queue[CloudEvent | None]) -> None:
        while True:
            ce = await q.get()
            if ce is None:
                return
            sink.in_flight = True
            msg = ce_http.to_binary_event(ce)
            headers = {**msg.headers, **sink.headers}
            wait = self.backoff
            for attempt in range(1, self.attempts + 1):
                try:
                    async with self._session.post(sink.url, data=msg.body, headers=headers) as resp:
                        if 200 <= resp.status < 300:
                            sink.stats.delivered += 1
                            break
                        sink.stats.last_error = f"HTTP {resp.status}"
                        if 400 <= resp.status < 500 and resp.status not in (408, 429):
                            attempt = self.attempts  # the sink refused this event: retrying cannot help
                except Exception as exc:  # connection refused, timeout, reset: retried
                    sink.stats.last_error = f"{type(exc).__name__}: {exc}"
                if attempt >= self.attempts:
                    sink.stats.failed += 1
                    log.warning("event %s not delivered to %s: %s", ce.get_id(), sink.url, sink.stats.last_error)
                    break
                await self._sleep(wait)
                wait = min(wait * 2, MAX_BACKOFF)
            sink.in_flight = False

    async def close(self, drain: float = 10.0) -> list[Sink]:
        """Send what is left (events stored up to now included), at most ``drain`` seconds, then stop."""
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            # the events appended since the follower's last look
            batch = await self.store.events(self.run_id, after_seq=self.seen_seq)
            for ev in batch:
                self.seen_seq = ev.seq
                for ce in cloud_events(ev, self.info, self.redact):
                    for q in self._queues:
                        q.put_nowait(ce)
        for q in self._queues:
            q.put_nowait(None)
        _done, pending = await asyncio.wait(self._tasks, timeout=drain) if self._tasks else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for sink, q, task in zip(self.sinks, self._queues, self._tasks, strict=True):
            if task in pending and sink.in_flight:
                sink.stats.failed += 1
            while not q.empty():
                if q.get_nowait() is not None:
                    sink.stats.failed += 1  # never sent: the drain time ran out
        await self._session.close()
        return self.sinks
