"""Time, injectable: UTC wall time for records, monotonic time for durations, and sleeping.

Tests (and ``golive test``) use :class:`FakeClock` so that schedules and deadlines never wait in real time.
"""

from __future__ import annotations

import heapq
import itertools
import os
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from golive.exceptions import NoTimezone, UsageError

if TYPE_CHECKING:  # asyncio costs ~35 ms to import; a clock used only to read the time never needs it
    import asyncio

__all__ = [
    "Clock",
    "FakeClock",
    "NoTimezone",
    "ScaledClock",
    "SystemClock",
    "parse_time",
    "seconds_from_env",
    "utc_iso",
]


class Clock(Protocol):
    """What golive needs of time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait this many seconds (a fake clock advances instead)."""
        ...


class SystemClock:
    """The real clock. ``offset`` (seconds) shifts its wall time, as a host whose clock is off would be
    (tests of clock skew set it through $GOLIVE_TEST_CLOCK_OFFSET); monotonic time is never shifted."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = timedelta(seconds=offset)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(max(0.0, seconds))


def utc_iso(ts: datetime) -> str:
    """An ISO 8601 UTC timestamp with microseconds and a Z suffix, the one format golive stores."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seconds_from_env(name: str, default: float, what: str, example: str) -> float:
    """A positive number of seconds from the environment variable ``name``, else ``default`` when it is unset
    or blank; UsageError naming the variable, its value and the fix when it is not one (``what`` names the
    setting in that message, ``example`` is a value that would do)."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r}: give {what} in seconds, e.g. {example}") from None
    if value <= 0:
        raise UsageError(f"{name}={raw!r}: {what} must be positive")
    return value


def parse_time(text: str, *, naive_is_utc: bool = True) -> datetime:
    """A UTC datetime from ISO 8601 text (``2026-03-07T02:00:00Z``, an offset, a space for the ``T``).

    The one timestamp parser of the package. A time without a timezone is UTC (golive writes UTC), or, with
    ``naive_is_utc=False``, refused with :class:`NoTimezone`. Anything else is a ValueError.
    """
    stripped = text.strip()
    iso = stripped[:-1] + "+00:00" if stripped.endswith(("Z", "z")) else stripped
    parsed = datetime.fromisoformat(iso)
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise NoTimezone(f"time {stripped!r} has no timezone")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class ScaledClock:
    """Rehearsal time: scaled time runs ``factor`` times faster than real time from ``anchor``.

    ``now()`` is ``anchor + (real_now - anchor) * factor``; ``sleep(s)`` waits ``s / factor`` real seconds;
    ``monotonic()`` is scaled the same way. Every process that works on a scaled run rebuilds the clock from
    the anchor and factor recorded with the run, so resume, hypercare and acts from another terminal all
    read the same scaled time. Leases and heartbeats keep real time (the store's own clock).
    """

    def __init__(self, factor: float, anchor: datetime | None = None, *, base: Clock | None = None) -> None:
        if not factor > 0:
            raise ValueError(f"time scale must be positive, not {factor!r}")
        self.factor = float(factor)
        self._base = base or SystemClock()
        self.anchor = (anchor or self._base.now()).astimezone(UTC)
        self._mono0 = self._base.monotonic()

    def now(self) -> datetime:
        real = self._base.now()
        return self.anchor + (real - self.anchor) * self.factor

    def real_time(self, scaled: datetime) -> datetime:
        """The real wall time at which the scaled clock read ``scaled``."""
        return self.anchor + (scaled - self.anchor) / self.factor

    def monotonic(self) -> float:
        return self._mono0 + (self._base.monotonic() - self._mono0) * self.factor

    async def sleep(self, seconds: float) -> None:
        await self._base.sleep(max(0.0, seconds) / self.factor)


class FakeClock:
    """A clock that only moves when told to, or when something sleeps on it.

    Sleepers wake in the order of their wake times, as on a real clock: a sleeper's ``sleep`` lets the
    other ready tasks run (so they can start their own sleeps), then moves time to the earliest wake time
    among all sleepers and wakes those that are due. A 900 s status-update sleep therefore does not jump
    past a 0.2 s poll, and a simulated 72 hours of hypercare still runs in milliseconds.
    """

    YIELDS = 3  # event-loop turns a sleeper lets pass before it moves time
    WAITER_TURNS = 200  # event-loop turns a waiter woken on the way gets before real pauses (1 ms each)
    WAITER_WAIT = 1.0  # real seconds, at most, a waiter woken on the way may take to wait again before time moves on

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []  # wait(): woken, never moving time
        self._seq = itertools.count()
        self._wakes = 0  # sleepers and waiters woken so far (see sleep)

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move the clock forward (and wake the sleepers that are due)."""
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
        self._wake_due()

    def _wake_due(self) -> None:
        for heap in (self._sleepers, self._waiters):
            while heap and heap[0][0] <= self._mono:
                _, _, fut = heapq.heappop(heap)
                if not fut.done():
                    fut.set_result(None)
                    self._wakes += 1

    async def wait(self, seconds: float) -> None:
        """Wait until the clock has moved ``seconds`` on, without moving it: a watch that reads on time (the
        armed triggers) must not itself drive a fake clock ahead of the work it watches. Sleepers that move
        time stop at each waiter's time on the way and let it run there."""
        import asyncio

        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self._mono + max(0.0, seconds), next(self._seq), fut))
        self._wake_due()
        await fut

    async def _let_others_run(self, woken: asyncio.Future[None] | None = None) -> None:
        """What a sleeper waits for before it moves time: here, a few event-loop turns. It ends early once
        ``woken`` (the sleeper's own wake-up) is done: a sleeper another one woke meanwhile must go back to
        its caller at once, not idle on while a third sleeper moves time past what its caller does next."""
        import asyncio

        for _ in range(self.YIELDS):
            if woken is not None and woken.done():
                return
            await asyncio.sleep(0)

    async def sleep(self, seconds: float) -> None:
        import asyncio

        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + max(0.0, seconds), next(self._seq), fut))
        try:
            seen = self._wakes
            await self._let_others_run(fut)
            while not fut.done():
                if self._wakes != seen:
                    # Another sleeper moved time and woke someone while this one let others run: the woken go
                    # first (they may start reads or sleeps due before this one's time), then this one looks again.
                    seen = self._wakes
                    await self._let_others_run(fut)
                    continue
                for heap in (self._sleepers, self._waiters):
                    while heap and heap[0][2].done():  # cancelled sleepers and waiters
                        heapq.heappop(heap)
                if not self._sleepers:
                    break
                earliest = self._sleepers[0][0]
                if self._waiters and self._mono < self._waiters[0][0] < earliest:
                    # A waiter is due first: time stops there and it runs (until it waits again, or for a
                    # bounded number of loop turns) before time moves on.
                    self.advance(self._waiters[0][0] - self._mono)
                    seen = self._wakes
                    await self._let_others_run()
                    give_up = time.monotonic() + self.WAITER_WAIT
                    turns = 0
                    while not any(not f.done() for _, _, f in self._waiters) and time.monotonic() < give_up:
                        turns += 1  # loop turns first; then brief real pauses while it writes through a thread
                        await asyncio.sleep(0 if turns < self.WAITER_TURNS else 0.001)
                    continue
                if earliest > self._mono:
                    self.advance(earliest - self._mono)
                else:
                    self._wake_due()
                break
            await fut
        finally:
            if not fut.done():
                # Cancelled before its time (a wait that heard an act first cancels its tick): it must leave the
                # sleepers, or another sleeper would move time to it, wake nobody, and wait for a mover that is gone.
                fut.cancel()
