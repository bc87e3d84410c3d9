"""Time, injectable: UTC wall time for records, monotonic time for durations, and sleeping.

Tests use :class:`golive.testing.FakeClock` so that schedules and deadlines never wait in real time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "SystemClock", "utc_iso"]


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
