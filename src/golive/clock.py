"""Time, injectable: UTC wall time for records, monotonic time for durations, and sleeping.

Tests use :class:`golive.testing.FakeClock` so that schedules and deadlines never wait in real time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ScaledClock", "SystemClock", "utc_iso"]


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
        await asyncio.sleep(max(0.0, seconds))


def utc_iso(ts: datetime) -> str:
    """An ISO 8601 UTC timestamp with microseconds and a Z suffix, the one format golive stores."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
