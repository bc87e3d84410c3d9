"""Durations (``90s``, ``5m``, ``1h30m``, ``500ms``, ``3d``) and T-times (``T-60m``, ``T+15m``, ``T-0``)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["Duration", "TTime", "format_duration", "format_ttime", "parse_duration", "parse_ttime"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$")
_TTIME = re.compile(r"^T\s*([+-])\s*(.+)$")
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"
TTIME_PATTERN = r"^T[+-](0|(\d+(\.\d+)?(ms|s|m|h|d|w))+)$"


def parse_duration(value: Any) -> float:
    """Seconds in a duration string. Raises ValueError with the fix in the message."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration such as '30s', '5m' or '1h30m', got {type(value).__name__}")
    if isinstance(value, int | float):
        raise ValueError(f"duration {value!r} has no unit: write '{value}s' or '{value}m'")
    text = value.strip().replace(" ", "")
    if not _WHOLE.match(text):
        if re.fullmatch(r"\d+(\.\d+)?", text):
            raise ValueError(f"duration {value!r} has no unit: write '{text}s' or '{text}m'")
        raise ValueError(
            f"malformed duration {value!r}: use a number and a unit (ms, s, m, h, d, w), e.g. '90s', '1h30m'"
        )
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))


def parse_ttime(value: Any) -> float:
    """Seconds relative to T-0 (negative before). ``T-60m`` -> -3600.0."""
    if not isinstance(value, str):
        raise ValueError(f"expected a T-time such as 'T-60m' or 'T+15m', got {type(value).__name__}")
    m = _TTIME.match(value.strip())
    if not m:
        raise ValueError(f"malformed T-time {value!r}: write it as 'T-60m', 'T+15m' or 'T-0'")
    sign, rest = m.groups()
    if rest.strip() == "0":
        return 0.0
    try:
        seconds = parse_duration(rest)
    except ValueError:
        if re.fullmatch(r"\d+", rest.strip()):
            raise ValueError(f"T-time {value!r} has no unit: write 'T{sign}{rest.strip()}m'") from None
        raise ValueError(f"malformed T-time {value!r}: write it as 'T-60m', 'T+15m' or 'T-0'") from None
    return -seconds if sign == "-" else seconds


def format_duration(seconds: float) -> str:
    """The one human form of a duration, which also reads back as one: 3600 -> '1h', 5400 -> '1h30m',
    150 -> '2m30s', 0.5 -> '500ms', 1.5 -> '1.5s'.

    Under a second in milliseconds; under a minute to a tenth of a second; from a minute on whole seconds in
    the largest units first without zero parts. Days only from two days up: people write ``within: 24h``
    and ``36h``, and a message should echo that.
    """
    if 0 < seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        tenths = round(seconds, 1)
        return f"{tenths:g}s" if tenths < 60 else "1m"
    total = round(seconds)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if unit == "d" and total < 2 * 86400:
            continue
        n, total = divmod(total, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def format_ttime(seconds: float) -> str:
    """-3600 -> 'T-60m' (minutes up to 3 hours, as scribes write them), 0 -> 'T-0'."""
    if abs(seconds) < 0.5:
        return "T-0"
    sign = "-" if seconds < 0 else "+"
    mag = abs(seconds)
    if mag % 60 == 0 and mag <= 3 * 3600:
        return f"T{sign}{int(mag // 60)}m"
    return f"T{sign}{format_duration(mag)}"


def _dur(v: Any) -> float:
    return parse_duration(v)


def _ttime(v: Any) -> float:
    return parse_ttime(v)


Duration = Annotated[
    float,
    BeforeValidator(_dur),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "5m", "1h30m"]}),
]
TTime = Annotated[
    float,
    BeforeValidator(_ttime),
    PlainSerializer(format_ttime, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": TTIME_PATTERN, "examples": ["T-60m", "T+15m", "T-0"]}),
]
