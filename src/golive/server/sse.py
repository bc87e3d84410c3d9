"""Live events: one follower of the event log per watched run, fanned out to every viewer.

A viewer's stream first replays the events after its ``Last-Event-ID`` (or ``after``) from the store, then
takes events from the run's shared follower. A gap (a slow viewer whose queue overflowed, or a follower
that started ahead of the replay) is filled from the store, so a viewer sees every event exactly once and
in order. A hundred viewers of one run cost one store follower, not a hundred.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from golive import exceptions
from golive.store import base as store_base

__all__ = ["EventStreamResponse", "Hub", "format_event"]

log = logging.getLogger("golive.server")

QUEUE_MAX = 2000  # events buffered per viewer before it is resynchronised from the store
KEEPALIVE = 15.0  # seconds between comment lines on an idle stream (keeps proxies from closing it)
RETRY_MS = 2000  # what EventSource waits before reconnecting, in milliseconds
FOLLOW_RETRY = 1.0  # seconds before a failed follower reads the store again
_RESYNC = object()
_CLOSE = object()


def format_event(ev: store_base.Event) -> bytes:
    """One event in the text/event-stream format; ``id`` is the seq, so a reconnect resumes after it."""
    payload = {
        "run_id": ev.run_id,
        "seq": ev.seq,
        "ts": ev.ts,
        "type": ev.type,
        "step_id": ev.step_id,
        "actor": ev.actor,
        "data": ev.data,
    }
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)
    # JSON never contains a raw newline, so one data: line is enough. No ``event:`` field: every event
    # arrives as a "message", and its type is in the data, so a client needs one listener, not one per type.
    return f"id: {ev.seq}\ndata: {text}\n\n".encode()


@dataclass
class _Channel:
    run_id: str
    queues: set[asyncio.Queue[Any]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class Hub:
    """Shared followers of runs' event logs.

    ``head(run_id)`` gives the seq a new follower starts after; ``on_event(ev)`` is called for each event
    before any viewer gets it (the server applies it to its cached view, so a viewer that fetches the run
    after an event sees that event).
    """

    def __init__(
        self,
        store: store_base.Store,
        head: Callable[[str], Awaitable[int]],
        on_event: Callable[[store_base.Event], None] | None = None,
    ) -> None:
        self.store = store
        self._head = head
        self._on_event = on_event
        self._channels: dict[str, _Channel] = {}
        self._closing = False

    def viewers(self, run_id: str) -> int:
        ch = self._channels.get(run_id)
        return len(ch.queues) if ch else 0

    def following(self, run_id: str) -> bool:
        ch = self._channels.get(run_id)
        return ch is not None and ch.task is not None and not ch.task.done()

    async def _follow(self, ch: _Channel, start: int) -> None:
        seq = start
        while True:
            try:
                async for ev in self.store.follow(ch.run_id, after_seq=seq):
                    seq = ev.seq
                    if self._on_event is not None:
                        try:
                            self._on_event(ev)
                        except Exception:  # a view that cannot apply an event must not stop the stream
                            log.exception("applying event %s of run %s to the view failed", ev.seq, ch.run_id)
                    for q in list(ch.queues):
                        try:
                            q.put_nowait(ev)
                        except asyncio.QueueFull:
                            # The viewer is too slow: drop its backlog, it re-reads from the store.
                            while not q.empty():
                                q.get_nowait()
                            q.put_nowait(_RESYNC)
            except exceptions.StoreError as exc:
                log.warning("following run %s: %s; retrying", ch.run_id, exc.message)
                await asyncio.sleep(FOLLOW_RETRY)

    async def stream(
        self, run_id: str, after_seq: int, keepalive: float = KEEPALIVE
    ) -> AsyncGenerator[store_base.Event | None, None]:
        """Events of ``run_id`` after ``after_seq``, then live ones; None now and then on an idle stream."""
        if self._closing:
            return
        q: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE_MAX)
        ch = self._channels.get(run_id)
        if ch is None:
            ch = _Channel(run_id)
            self._channels[run_id] = ch
        ch.queues.add(q)
        try:
            if ch.task is None or ch.task.done():
                start = await self._head(run_id)
                if ch.task is None or ch.task.done():
                    ch.task = asyncio.create_task(self._follow(ch, start), name=f"golive-follow-{run_id}")
            last = after_seq
            for ev in await self.store.events(run_id, after_seq=last):
                last = ev.seq
                yield ev
            while True:
                try:
                    item = await asyncio.wait_for(q.get(), keepalive)
                except TimeoutError:
                    yield None
                    continue
                if item is _CLOSE:
                    return
                if item is _RESYNC or item.seq > last + 1:
                    for ev in await self.store.events(run_id, after_seq=last):
                        last = ev.seq
                        yield ev
                    continue
                if item.seq <= last:
                    continue
                last = item.seq
                yield item
        finally:
            ch.queues.discard(q)
            if not ch.queues and self._channels.get(run_id) is ch:
                del self._channels[run_id]
                if ch.task is not None:
                    ch.task.cancel()

    def shutdown(self) -> None:
        """End every stream now (the server is stopping): browsers reconnect to whichever server is up."""
        self._closing = True
        for ch in self._channels.values():
            for q in list(ch.queues):
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(_CLOSE)

    async def close(self) -> None:
        tasks = [ch.task for ch in self._channels.values() if ch.task is not None]
        self._channels.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


class EventStreamResponse(StreamingResponse):
    """A text/event-stream response that stops as soon as the client goes away.

    Starlette's StreamingResponse notices a disconnect under ASGI 2.4 only when a write fails, which on an
    idle stream is the next keepalive; here the body and a disconnect listener run side by side and the
    first to end cancels the other, so a closed browser tab frees its follower slot at once.
    """

    def __init__(self, content: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> None:
        base_headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        super().__init__(content, media_type="text/event-stream", headers={**base_headers, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tg:

            async def body() -> None:
                with contextlib.suppress(OSError):
                    await self.stream_response(send)
                tg.cancel_scope.cancel()

            async def listen() -> None:
                await self.listen_for_disconnect(receive)
                tg.cancel_scope.cancel()

            tg.start_soon(body)
            tg.start_soon(listen)
