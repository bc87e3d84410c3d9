"""Change-freeze calendars: when a freeze is in force, until when, and the next instant outside every freeze.

A runbook's ``freeze:`` entries become RFC 5545 events (DTSTART, DTEND, RRULE, EXDATE) in one in-memory
:class:`icalendar.Calendar`; a shared ``.ics`` file is read as it is; both are expanded by
``recurring-ical-events`` (time zones, exceptions, all-day events). Public holidays come from the
``holidays`` tables, each a whole day in the freeze's time zone. Pure library: no engine, no store.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

import holidays as holidays_mod
import icalendar
import recurring_ical_events

from golive import exceptions
from golive.spec import loader, models

__all__ = ["Calendar", "Occurrence", "describe"]

FIRST_LOOK = timedelta(days=31)  # the first span expanded when looking for the end of a freeze
HORIZON = timedelta(days=366)  # how far ahead golive looks for the end of a freeze or the next allowed start


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a freeze: in force from ``start`` (inclusive) to ``end`` (exclusive), UTC."""

    freeze_id: str
    title: str
    start: datetime
    end: datetime
    waivable_by: tuple[str, ...]

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


def _zone(name: str | None) -> tzinfo:
    return zoneinfo.ZoneInfo(name) if name else UTC


def _aware(value: date | datetime, tz: tzinfo) -> datetime:
    """A DTSTART/DTEND value as an aware UTC date-time (a date is its midnight in ``tz``)."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tz)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _event_calendar(freeze: models.Freeze) -> icalendar.Calendar:
    """The runbook entry as a one-event RFC 5545 calendar."""
    assert freeze.start is not None
    assert freeze.end is not None
    tz = _zone(freeze.timezone)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//golive//freeze//EN")
    cal.add("version", "2.0")
    ev = icalendar.Event()
    ev.add("uid", f"{freeze.id}@golive")
    ev.add("summary", freeze.title or freeze.id)

    def local(v: date | datetime) -> date | datetime:
        if isinstance(v, datetime) and v.tzinfo is None:
            return v.replace(tzinfo=tz)
        return v

    ev.add("dtstart", local(freeze.start))
    ev.add("dtend", local(freeze.end))
    if freeze.rrule:
        ev.add("rrule", icalendar.vRecur.from_ical(freeze.rrule))
    for ex in freeze.exdates:
        ev.add("exdate", local(ex))
    cal.add_component(ev)
    return cal


class Calendar:
    """Every freeze of a runbook, expanded on demand over a span of time."""

    def __init__(self, freezes: Sequence[models.Freeze], base_dir: Path | None = None) -> None:
        self.freezes = tuple(freezes)
        self._cals: dict[str, Any] = {}  # freeze id -> its recurring-ical-events expander (built once)
        # freeze id -> why its calendar cannot be read (a shared file changed or gone since validation): the
        # start gate blocks on it (fail closed), and no start is known to be allowed.
        self.broken: dict[str, str] = {}
        for f in self.freezes:
            if f.ics is not None:
                path = Path(f.ics)
                if not path.is_absolute() and base_dir is not None:
                    path = base_dir / path
                try:
                    self._cals[f.id] = recurring_ical_events.of(loader.read_ics(path))
                except exceptions.UsageError as exc:
                    self.broken[f.id] = exc.message
            elif f.start is not None:
                self._cals[f.id] = recurring_ical_events.of(_event_calendar(f))

    def __bool__(self) -> bool:
        return bool(self.freezes)

    def between(self, a: datetime, b: datetime) -> list[Occurrence]:
        """Occurrences of every freeze that overlap [a, b), in start order."""
        out: list[Occurrence] = []
        for f in self.freezes:
            tz = _zone(f.timezone)
            if f.holidays is not None:
                out += self._holidays(f, tz, a, b)
                continue
            if f.id in self.broken:
                continue
            for comp in self._cals[f.id].between(a - timedelta(days=1), b):
                start = _aware(comp.get("DTSTART").dt, tz)
                end_prop = comp.get("DTEND")
                if end_prop is not None:
                    end = _aware(end_prop.dt, tz)
                else:  # RFC 5545: an all-day event without DTEND lasts the day; a timed one is an instant
                    dt = comp.get("DTSTART").dt
                    end = _aware(dt + timedelta(days=1), tz) if not isinstance(dt, datetime) else start
                if end > a and start < b and end > start:
                    title = str(comp.get("SUMMARY") or "") if f.ics else ""
                    out.append(Occurrence(f.id, _title(f, title), start, end, f.waivable_by))
        return sorted(out, key=lambda o: (o.start, o.freeze_id))

    @staticmethod
    def _holidays(f: models.Freeze, tz: tzinfo, a: datetime, b: datetime) -> list[Occurrence]:
        assert f.holidays is not None
        years = range(a.astimezone(tz).year, b.astimezone(tz).year + 1)
        table: Any = holidays_mod.country_holidays(f.holidays.country, subdiv=f.holidays.subdiv, years=years)
        out = []
        for day, name in sorted(table.items()):
            start = _aware(day, tz)
            end = _aware(day + timedelta(days=1), tz)
            if end > a and start < b:
                out.append(Occurrence(f.id, _title(f, str(name)), start, end, f.waivable_by))
        return out

    def active(self, at: datetime) -> list[Occurrence]:
        """The occurrences in force at ``at``."""
        return [o for o in self.between(at, at + timedelta(seconds=1)) if o.covers(at)]

    def _sweep(self, t: datetime, limit: datetime, only: str | None = None) -> datetime | None:
        """From ``t``, the first instant not covered by an occurrence (of ``only``, else of any freeze), or None
        when occurrences cover everything up to ``limit``. Expands a month ahead first, then further."""
        span = FIRST_LOOK
        while True:
            if t >= limit:  # covered past the limit (a freeze that ends beyond it)
                return None
            end = min(t + span, limit)
            for o in self.between(t, end):  # in start order: a gap before the next occurrence is the answer
                if only is not None and o.freeze_id != only:
                    continue
                if o.start > t:
                    return t
                t = max(t, o.end)
            if t < end:
                return t
            if end >= limit:
                return None
            span = min(span * 4, HORIZON)

    def until(self, occ: Occurrence, at: datetime) -> datetime | None:
        """When a freeze in force at ``at`` is over: the end of its occurrence and of any occurrence of the same
        freeze that follows it back to back (two holidays in a row are one block); None if not within a year."""
        return self._sweep(at, at + HORIZON, only=occ.freeze_id)

    def next_allowed(
        self, at: datetime, not_before: datetime | None = None, not_after: datetime | None = None
    ) -> datetime | None:
        """The first instant from ``at`` that is outside every freeze and inside the window, or None when
        there is none before ``not_after`` (or within :data:`HORIZON`)."""
        if self.broken:  # a freeze that cannot be read may cover any instant
            return None
        t = max(at, not_before) if not_before is not None else at
        limit = min(not_after, at + HORIZON) if not_after is not None else at + HORIZON
        if t > limit:
            return None
        found = self._sweep(t, limit)
        return found if found is not None and found <= limit else None

    def starts_between(self, a: datetime, b: datetime) -> list[Occurrence]:
        """Occurrences that begin in (a, b]: a freeze that begins during a run is announced."""
        return [o for o in self.between(a, b + timedelta(seconds=1)) if a < o.start <= b]


def _title(f: models.Freeze, name: str) -> str:
    if f.title and name:
        return f"{f.title}: {name}"
    return f.title or name or f.id


def describe(occurrences: Iterable[Occurrence]) -> str:
    return ", ".join(f"{o.freeze_id} ({o.title})" for o in occurrences)
