"""Trigger samples: how readings are batched into events, and the watched time they prove.

**Batches.** A trigger's readings are not recorded one event per read: each ``trigger_evaluated`` event holds
a batch, ``samples`` = ``[[ts, status, value, baseline], ...]`` in the order they were read, and its other
fields describe the batch's last evaluation (state, reason, streaks). A batch is written when
:data:`BATCH_PERIOD` passed since the trigger's last event, when the trigger clears from firing, and when
the watch ends; a ``trigger_fired`` event carries the readings since the last event the same way. So a
72-hour hypercare with five triggers read every 30 s writes about 21,600 events, not 43,200 plus changes.
:func:`samples_of` reads one event's samples (and the older form, ``readings`` plus the event's own reading).

**Coverage.** A window is watched only while its triggers are read. For one trigger over a window
``[start, end]``, the times ``start``, each reading, ``end`` cut the window into gaps; a gap longer than
twice the trigger's interval (:data:`GAP_FACTOR`) is *unwatched* as a whole (the engine was frozen, killed,
starved, or its reads hung). The watched fraction is ``1 - unwatched / (end - start)``; a window's coverage
is its least-watched trigger's. Every reading counts, errors and no data included: a source that cannot
be read fails the trigger closed on its own (``max_errors``); a span whose every reading was an error
(``errors``) saw nothing, and the engine does not pass it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from golive import clock as clock_mod

__all__ = [
    "BATCH_PERIOD",
    "DEFAULT_MIN_COVERAGE",
    "GAP_FACTOR",
    "MAX_GAPS",
    "REAL_GAP_FLOOR",
    "REHEARSAL_GAP_FLOOR",
    "Coverage",
    "Sample",
    "coverage_of",
    "parse_ts",
    "samples_of",
    "watched_fraction",
]

BATCH_PERIOD = 60.0  # seconds between two batch events of one trigger (fires and clears are written at once)
GAP_FACTOR = 2.0  # a gap between readings longer than this many intervals is unwatched
DEFAULT_MIN_COVERAGE = 0.9  # fraction of a window that must be watched for it to pass
MAX_GAPS = 20  # unwatched gaps kept per trigger for the reports (the total counts them all)
REAL_GAP_FLOOR = 0.5  # real seconds; a shorter gap (the host's scheduling) is never unwatched in a live run
# Real seconds, in a time-scaled rehearsal: its reads come as fast as the machine allows (30 s at 3600x is
# 8 ms), so a pause of the host (a busy CI machine) would read as hours unwatched. What a rehearsal shows is
# the runbook's logic, not this machine's scheduling.
REHEARSAL_GAP_FLOOR = 2.0

Sample = tuple[datetime, str, float | None, float | None]
"""One reading: (ts, status, value, baseline)."""


def parse_ts(text: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; naive is UTC), a datetime as it is, anything else None."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    if not isinstance(text, str):
        return None
    try:
        return clock_mod.parse_time(text)
    except ValueError:
        return None


def _row(r: Any) -> Sample | None:
    if not isinstance(r, list | tuple) or len(r) < 3:
        return None
    at = parse_ts(r[0])
    if at is None:
        return None
    value = r[2] if isinstance(r[2], int | float) and not isinstance(r[2], bool) else None
    base = r[3] if len(r) > 3 and isinstance(r[3], int | float) and not isinstance(r[3], bool) else None
    return (at, str(r[1]), value, base)


def samples_of(data: Mapping[str, Any], ts: Any = None) -> list[Sample]:
    """Every reading a ``trigger_evaluated`` / ``trigger_fired`` event's data holds, oldest first.

    A batch (``samples``) holds them all, its last one included. The older form held the readings before the
    event in ``readings`` and the event's own reading in its fields; both are read. A person's raise
    (``status: manual``) is no reading.
    """
    if isinstance(data.get("samples"), list):
        return [s for r in data["samples"] if (s := _row(r)) is not None and s[1] != "manual"]
    out = [s for r in data.get("readings") or [] if (s := _row(r)) is not None]
    at = parse_ts(data.get("ts")) or parse_ts(ts)
    value, base = data.get("value"), data.get("baseline")
    value = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    base = base if isinstance(base, int | float) and not isinstance(base, bool) else None
    status = str(data.get("status") or ("ok" if value is not None else "no_data"))
    if at is not None and status != "manual":
        out.append((at, status, value, base))
    return out


@dataclass
class Coverage:
    """How much of a span one trigger watched (seconds), built reading by reading."""

    interval: float
    start: datetime
    min_gap: float = 0.0  # seconds; a longer floor than twice the interval (a time-scaled rehearsal's)
    end: datetime | None = None
    readings: int = 0
    errors: int = 0  # readings that were errors: a span whose every reading failed saw nothing
    unwatched: float = 0.0
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)  # the first MAX_GAPS unwatched gaps
    _last: datetime | None = None

    def add(self, at: datetime, *, error: bool = False) -> None:
        """A reading at ``at`` (readings come in time order; an earlier one changes nothing); ``error``: it failed."""
        prev = self._last or self.start
        if at <= prev:
            return
        self._gap(prev, at)
        self._last = at
        self.readings += 1
        self.errors += error

    def close(self, end: datetime) -> Coverage:
        """End the span at ``end`` (the gap after the last reading counts too)."""
        self._gap(self._last or self.start, end)
        self.end = end
        return self

    def _gap(self, a: datetime, b: datetime) -> None:
        gap = (b - a).total_seconds()
        if gap > max(GAP_FACTOR * self.interval, self.min_gap):
            self.unwatched += gap
            if len(self.gaps) < MAX_GAPS:
                self.gaps.append((a, b))

    @property
    def span(self) -> float:
        """Seconds from the start to the end (or the last reading while open)."""
        last = self.end or self._last or self.start
        return max(0.0, (last - self.start).total_seconds())

    @property
    def watched(self) -> float:
        return max(0.0, self.span - self.unwatched)

    @property
    def fraction(self) -> float:
        """The watched fraction; an empty span is fully watched (nothing was left unwatched)."""
        return 1.0 if self.span <= 0 else self.watched / self.span

    def as_json(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "span": round(self.span, 3),
            "watched": round(self.watched, 3),
            "unwatched": round(self.unwatched, 3),
            "fraction": round(self.fraction, 4),
            "readings": self.readings,
            "errors": self.errors,
            "gaps": [
                [a.isoformat().replace("+00:00", "Z"), b.isoformat().replace("+00:00", "Z")] for a, b in self.gaps
            ],
        }


def coverage_of(times: Iterable[datetime], start: datetime, end: datetime, interval: float) -> Coverage:
    """The coverage of one trigger read at ``times`` over ``[start, end]``."""
    cov = Coverage(interval=interval, start=start)
    for at in sorted(t for t in times if start <= t <= end):
        cov.add(at)
    return cov.close(end)


def watched_fraction(parts: Sequence[Coverage]) -> float:
    """The watched fraction over several spans of one trigger (a window's segments between pauses)."""
    span = sum(c.span for c in parts)
    return 1.0 if span <= 0 else sum(c.watched for c in parts) / span
