"""The one set of display formatters: durations, T-times and timestamps, as every view shows them.

A duration is written in the runbook's own form (``format_duration``: ``90s`` is ``1m30s``; ``500ms``,
``24h``, ``2d1h``), so what a person reads can be pasted back into a runbook; a T-time is ``T-15m`` /
``T+1h`` (``format_ttime``), or to the second on charts (``ttext``); a stored timestamp (ISO 8601 UTC) is
shown as ``2026-11-23 04:56:35 UTC`` (``clock_text``) or, in tables of one run, ``04:56:35``
(``time_of_day``). The CLI, the dashboard and the reports import these; none formats a time or a
duration of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from golive import clock as clock_mod
from golive.spec.durations import format_duration, format_ttime

__all__ = [
    "clock_text",
    "duration_text",
    "format_duration",
    "format_ttime",
    "parse_ts",
    "time_of_day",
    "ttext",
]


def parse_ts(value: Any) -> datetime | None:
    """A stored timestamp as a UTC datetime; None for a blank or for text that is not a time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return clock_mod.parse_time(value)  # golive writes UTC; a naive time is UTC, never mixed
    except ValueError:
        return None


def clock_text(value: Any) -> str:
    """'2026-11-23T04:56:35.183Z' -> '2026-11-23 04:56:35 UTC' (or the text as given if it is not a time)."""
    at = parse_ts(value)
    if at is None:
        return str(value) if value else ""
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def time_of_day(value: Any) -> str:
    """HH:MM:SS UTC of a stored timestamp, for tables where the date is the run's date; blank if none."""
    at = parse_ts(value)
    return at.strftime("%H:%M:%S") if at else ""


def ttext(seconds: float | None, decimals: int = 0) -> str:
    """A T-time with seconds: -3598 -> 'T-59m58s', 0 -> 'T-0', 5400 -> 'T+90m', 4 h -> 'T+4h'."""
    if seconds is None:
        return ""
    rounded = round(seconds, decimals)
    if rounded == 0:
        return "T-0"
    sign = "-" if rounded < 0 else "+"
    mag = abs(rounded)
    whole = int(mag)
    frac = mag - whole
    if whole >= 3 * 3600 + 60:  # past three hours scribes write hours
        h, rem = divmod(whole, 3600)
        m = rem // 60
        return f"T{sign}{h}h{f'{m:02d}m' if m else ''}"
    m, s = divmod(whole, 60)
    secs = s + frac
    sec_text = f"{secs:0{3 + decimals if decimals else 2}.{decimals}f}s" if m else f"{secs:.{decimals}f}s"
    if m and secs < 10 ** (-decimals) / 2:
        return f"T{sign}{m}m"
    return f"T{sign}{m}m{sec_text}" if m else f"T{sign}{sec_text}"


def duration_text(seconds: Any) -> str:
    """A duration in seconds in the one duration form (``2m30s``); blank for anything that is not a number."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return ""
    return format_duration(seconds)
