"""The SVG chart engine of the HTML report: metric charts with thresholds and gaps, and the run's timeline.

Pure geometry: each function turns the run summary's plain data into the coordinates, ticks and labels the
report's templates draw; nothing here renders HTML or reads the store. Times, T-times and durations are
written by :mod:`golive.views.format` (the one set of display formatters); the chart-only helpers (numbers,
outcomes, shortened labels) are here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from golive.views.format import clock_text, duration_text, parse_ts, ttext
from golive.views.model import Summary

__all__ = [
    "CHART_NARROW",
    "CHART_WIDE",
    "NARROW",
    "OUTCOMES",
    "WIDE",
    "metric_chart",
    "parse_thresholds",
    "thin",
    "timeline",
]


@dataclass(frozen=True)
class _ChartLayout:
    """Metric chart geometry in SVG user units: ``wide`` for laptops and print, ``narrow`` for phones."""

    name: str
    width: float
    height: float
    left: float  # room for the y-axis labels
    right: float
    top: float
    bottom: float  # room for the x-axis labels
    xticks: int  # about how many time ticks


CHART_WIDE = _ChartLayout("wide", 480, 200, 46, 16, 18, 30, 4)


CHART_NARROW = _ChartLayout("narrow", 340, 210, 40, 10, 18, 30, 3)


# Tick steps for a time axis, in seconds: the 1-2-5 decades below one second, then clock-friendly steps.
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


EDGE = 30  # user units: an axis label closer than this to either end of its axis is aligned to that end


OUTCOMES = ("pass", "warn", "fail", "error", "waived", "skipped", "not-run", "not-taken")


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


_CMP = r"(>=|<=|==|!=|>|<)"


_VALUE_FIRST = re.compile(rf"\bvalue\s*{_CMP}\s*({_NUM})")


_NUMBER_FIRST = re.compile(rf"({_NUM})\s*{_CMP}\s*value\b")


_MIRROR = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}


def parse_thresholds(when: str | None) -> list[tuple[str, float]]:
    """Every ``value <op> number`` comparison in a trigger's ``when``, as (op, number) with value on the left.

    ``'value > 0.2'`` -> ``[('>', 0.2)]``; ``'0.5 <= value and value < 2'`` -> ``[('>=', 0.5), ('<', 2.0)]``.
    """
    if not when:
        return []
    found: list[tuple[int, str, float]] = []
    for m in _VALUE_FIRST.finditer(when):
        found.append((m.start(), m.group(1), float(m.group(2))))
    for m in _NUMBER_FIRST.finditer(when):
        found.append((m.start(), _MIRROR[m.group(2)], float(m.group(1))))
    return [(op, num) for _, op, num in sorted(found) if math.isfinite(num)]


def num_text(v: float) -> str:
    return f"{v:.4g}"


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def outcome_key(step: dict[str, Any]) -> str:
    """The CSS/outcome key of a step: its outcome, or waiting/running/pending while it has none."""
    o = step.get("outcome")
    if o in OUTCOMES:
        return str(o)
    status = step.get("status") or "pending"
    if status in ("waiting", "unknown"):
        return "waiting"
    if status == "running":
        return "running"
    return "pending"


def thin(points: list[list[Any]], limit: int) -> list[list[Any]]:
    """At most ``limit`` points, keeping the lowest and the highest of each bucket so breaches stay visible."""
    if len(points) <= limit:
        return points
    buckets = max(1, limit // 2)
    size = len(points) / buckets
    out: list[list[Any]] = []
    for b in range(buckets):
        chunk = points[int(b * size) : int((b + 1) * size)]
        if not chunk:
            continue
        lo = min(chunk, key=lambda p: p[1])
        hi = max(chunk, key=lambda p: p[1])
        out.extend([lo, hi] if chunk.index(lo) <= chunk.index(hi) else [hi, lo])
        if lo is hi:
            out.pop()
    return out


def _nice_step(span: float, target: int, steps: Sequence[float] = ()) -> float:
    """A tick step near span/target: from ``steps`` when given and large enough, else 1-2-5 per decade."""
    raw = span / max(target, 1)
    for s in steps:
        if s >= raw:
            return float(s)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return float(m * mag)
    return float(10 * mag)


def _ticks(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    for _ in range(200):  # bounded whatever the inputs
        if v > hi + step * 1e-9:
            break
        out.append(round(v, 10))
        v += step
    return out


class _Axis:
    """Seconds relative to the run's T-0 (or to its start when it has none) and their x position."""

    def __init__(self, ref: datetime, has_anchor: bool, lo: float, hi: float, x0: float, x1: float) -> None:
        self.ref = ref
        self.has_anchor = has_anchor
        if hi - lo < 1e-3:
            lo, hi = lo - 0.5, hi + 0.5
        pad = (hi - lo) * 0.02
        self.lo, self.hi = lo - pad, hi + pad
        self.x0, self.x1 = x0, x1

    def sec(self, ts: Any) -> float | None:
        at = parse_ts(ts)
        return None if at is None else (at - self.ref).total_seconds()

    def x(self, sec: float) -> float:
        return round(self.x0 + (sec - self.lo) / (self.hi - self.lo) * (self.x1 - self.x0), 2)

    def label(self, sec: float, decimals: int = 0) -> str:
        text = ttext(sec, decimals)
        return text if self.has_anchor else "+" + text.removeprefix("T-").removeprefix("T+")

    def ticks(self, target: int = 7) -> list[dict[str, Any]]:
        span = self.hi - self.lo
        sub_second = tuple(s for s in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5))
        step = _nice_step(span, target, sub_second + TIME_STEPS)
        decimals = 0 if step >= 1 else max(1, math.ceil(-math.log10(step) - 1e-9))
        out = []
        for v in _ticks(self.lo, self.hi, step):
            x = self.x(v)
            # A label at the very edge would be clipped by the SVG box: pin it to the side it is near.
            anchor = "start" if x - self.x0 < EDGE else "end" if self.x1 - x < EDGE else "middle"
            out.append({"x": x, "label": self.label(v, decimals), "anchor": anchor})
        return out


def reference(summary: Summary, starts: list[datetime]) -> tuple[datetime | None, bool]:
    anchor = parse_ts(summary["anchor"])
    if anchor is not None:
        return anchor, True
    created = parse_ts(summary["created_at"])
    if created is not None:
        return created, False
    return (min(starts), False) if starts else (None, False)


def step_span(step: dict[str, Any], end_of_run: datetime | None) -> tuple[datetime, datetime] | None:
    start = parse_ts(step.get("started_at"))
    if start is None:
        return None
    end = parse_ts(step.get("finished_at"))
    if end is None and isinstance(step.get("duration"), int | float) and step.get("status") == "done":
        end = start + timedelta(seconds=float(step["duration"]))
    if end is None:
        end = max(end_of_run or start, start)
    return start, max(end, start)


@dataclass(frozen=True)
class _Layout:
    """Timeline geometry in SVG user units: ``wide`` for laptops and print, ``narrow`` for phones."""

    name: str
    width: float
    label_w: float  # the step-title column (0: titles go above their bars)
    right: float
    top: float  # room for the marker labels and the axis labels above the rows
    row: float
    group: float  # a phase's header row
    bar: float
    bar_dy: float  # the bar's offset inside its row
    label_chars: int  # characters of a step title shown (the full title is in the bar's tooltip)
    ticks: int  # about how many axis ticks


WIDE = _Layout("wide", 960, 270, 28, 52, 22, 26, 14, 4, 38, 7)


NARROW = _Layout("narrow", 380, 0, 10, 52, 32, 24, 10, 17, 56, 3)


TL_MIN_BAR = 3  # user units: a step of a few milliseconds still shows as a bar


TL_BOTTOM = 12  # user units below the last row


def timeline(summary: Summary, groups: list[dict[str, Any]], lay: _Layout) -> dict[str, Any] | None:
    steps = [s for g in groups for s in g["steps"]]
    end_of_run = parse_ts(summary["finished_at"])
    if end_of_run is None:
        ends = [parse_ts(s.get("finished_at")) or parse_ts(s.get("started_at")) for s in steps]
        known = [e for e in ends if e is not None]
        end_of_run = max(known) if known else None
    spans = {id(s): step_span(s, end_of_run) for s in steps}
    starts = [sp[0] for sp in spans.values() if sp]
    if not starts:
        return None
    ref, has_anchor = reference(summary, starts)
    assert ref is not None  # starts is not empty, so a reference exists
    markers_raw: list[tuple[str, str, Any]] = []
    d = summary["decision"]
    if d and d["at"]:
        markers_raw.append(("decision", f"{str(d['decision'] or '').upper()}", d["at"]))
    for f in summary["fired"] or []:
        markers_raw.append(("fired", f"{f['trigger']} fired", f["at"]))
    rb = summary["rollback"]
    if rb and rb["started_at"]:
        markers_raw.append(("rollback", "rollback", rb["started_at"]))
    secs = [(a - ref).total_seconds() for sp in spans.values() if sp for a in sp]
    secs += [s for m in markers_raw if (s := seconds_since(ref, m[2])) is not None]
    x0, x1 = (lay.label_w or 8.0), lay.width - lay.right
    axis = _Axis(ref, has_anchor, min(secs), max(secs), x0, x1)

    rows: list[dict[str, Any]] = []
    y = lay.top
    for g in groups:
        g_start, g_end = seconds_since(ref, g["started_at"]), seconds_since(ref, g["finished_at"])
        span_row = None
        if g_start is not None:
            g_end = g_end if g_end is not None else max(secs)
            span_row = {"x": axis.x(g_start), "w": max(axis.x(g_end) - axis.x(g_start), 1.0)}
        rows.append(
            {
                "kind": "group",
                "y": y,
                "title": shorten(str(g["title"]), lay.label_chars + 4),
                "full": f"{g['title']}: {str(g['outcome']).upper()}",
                "outcome": g["outcome"],
                "span": span_row if lay.label_w else None,  # narrow: the title fills the header row
            }
        )
        y += lay.group
        for s in g["steps"]:
            sp = spans[id(s)]
            outcome = outcome_key(s)
            title = str(s.get("title") or s.get("id"))
            row: dict[str, Any] = {
                "kind": "step",
                "y": y,
                "id": s.get("id"),
                "title": shorten(title, lay.label_chars),
                "outcome": outcome,
                "bar": None,
            }
            if sp is not None:
                x = axis.x((sp[0] - ref).total_seconds())
                x_end = axis.x((sp[1] - ref).total_seconds())
                w = max(x_end - x, TL_MIN_BAR)
                row["bar"] = {
                    "x": min(x, x1 - w),
                    "y": y + lay.bar_dy,
                    "w": round(w, 2),
                    "tip": (
                        f"{title} ({s.get('id')}): {outcome.upper()}, "
                        f"{ttext((sp[0] - ref).total_seconds()) if has_anchor else clock_text(s.get('started_at'))}"
                        f"{', ' + duration_text(s.get('duration')) if s.get('duration') is not None else ''}"
                        f"{' — ' + shorten(str(s.get('summary')), 200) if s.get('summary') else ''}"
                    ),
                }
            else:
                row["note"] = "did not run" if outcome == "pending" else outcome
            rows.append(row)
            y += lay.row
    markers = [
        {"kind": kind, "x": axis.x(sec), "label": label, "tip": f"{label} at {clock_text(at)}"}
        for kind, label, at in markers_raw
        if (sec := seconds_since(ref, at)) is not None
    ]
    _spread_labels(markers, x1)
    return {
        "layout": lay.name,
        "width": lay.width,
        "height": y + TL_BOTTOM,
        "plot_x0": x0,
        "plot_x1": x1,
        "top": lay.top,
        "bar_h": lay.bar,
        "group_h": lay.group,
        "label_x": 18 if lay.label_w else 8,
        "label_dy": 15 if lay.label_w else 12,
        "rows": rows,
        "ticks": axis.ticks(lay.ticks),
        "markers": markers,
        "axis_label": "T-time (relative to T-0)" if has_anchor else "time since the run started",
        "bars": sum(1 for r in rows if r.get("bar")),
    }


MARKER_LINES = 2  # label lines above the rows; a marker that finds no room keeps only its tooltip


def _spread_labels(markers: list[dict[str, Any]], right: float) -> None:
    """Marker labels that would overlap move to the next line; near the right edge they end at their line."""
    line_end = [-1e9] * MARKER_LINES  # where the last label on each line ends
    for m in sorted(markers, key=lambda m: m["x"]):
        width = 6.5 * len(m["label"]) + 6  # approximate at the 11 px bold label size
        m["anchor"] = "end" if m["x"] + width > right else "start"
        left = m["x"] - width if m["anchor"] == "end" else m["x"]
        free = [i for i in range(MARKER_LINES) if line_end[i] < left]
        m["lx"] = m["x"] - 3 if m["anchor"] == "end" else m["x"] + 3
        if not free:
            m["label"] = ""
            m["ly"] = 14
            continue
        line_end[free[0]] = left + width
        m["ly"] = 14 + 13 * free[0]


def seconds_since(ref: datetime, ts: Any) -> float | None:
    at = parse_ts(ts)
    return None if at is None else (at - ref).total_seconds()


def _breached(value: float, thresholds: list[tuple[str, float]]) -> bool:
    """Whether a value meets any parsed comparison (the simple single-comparison case is the usual one)."""
    checks = {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    return any(checks[op](value, num) for op, num in thresholds)


def metric_chart(trigger: dict[str, Any], ref: datetime | None, has_anchor: bool, lay: _ChartLayout) -> dict[str, Any]:
    thresholds = parse_thresholds(trigger.get("when"))
    raw_points = []
    for p in trigger.get("history") or []:
        if isinstance(p, list | tuple) and len(p) == 2 and isinstance(p[1], int | float) and parse_ts(p[0]):
            raw_points.append((parse_ts(p[0]), float(p[1])))
    gaps = [
        (parse_ts(g[0]), str(g[1])) for g in trigger.get("gaps") or [] if isinstance(g, list | tuple) and parse_ts(g[0])
    ]
    fired = [f for f in trigger.get("fired_list") or [] if parse_ts(f.get("at"))]
    chart: dict[str, Any] = {
        "layout": lay.name,
        "width": lay.width,
        "height": lay.height,
        "thresholds": [{"op": op, "value": num_text(v)} for op, v in thresholds],
        "points_count": len(raw_points),
        "gaps_count": len(gaps),
    }
    times = [t for t, _ in raw_points if t] + [t for t, _ in gaps if t] + [parse_ts(f["at"]) for f in fired]
    known_times = [t for t in times if t is not None]
    if not raw_points or not known_times:
        chart["empty"] = True
        return chart
    if ref is None:
        ref, has_anchor = min(known_times), False
    secs = [(t - ref).total_seconds() for t in known_times]
    axis = _Axis(ref, has_anchor, min(secs), max(secs), lay.left, lay.width - lay.right)
    values = [v for _, v in raw_points] + [v for _, v in thresholds]
    lo, hi = min(values), max(values)
    if min(v for _, v in raw_points) >= 0 and lo >= 0:
        lo = 0.0  # a rate or a count reads against zero
    if hi - lo < 1e-12:  # a flat series at the threshold: give it some room above (and below unless at 0)
        pad = (abs(hi) or 1.0) * 0.5
        hi, lo = hi + pad, (lo - pad if lo != 0 else 0.0)
    hi += (hi - lo) * 0.06  # headroom, so the highest point does not sit on the frame
    y_step = _nice_step(hi - lo, 4)
    lo = math.floor(lo / y_step + 1e-9) * y_step
    hi = math.ceil(hi / y_step - 1e-9) * y_step
    if hi == lo:
        hi = lo + y_step
    y0, y1 = lay.height - lay.bottom, lay.top

    def y(v: float) -> float:
        return round(y0 - (v - lo) / (hi - lo) * (y0 - y1), 2)

    pts = []
    for t, v in raw_points:
        assert t is not None
        pts.append(
            {
                "x": axis.x((t - ref).total_seconds()),
                "y": y(v),
                "breach": _breached(v, thresholds),
                "tip": f"{num_text(v)} at {clock_text(t.isoformat())}",
            }
        )
    lines = []
    for op, v in thresholds:
        ly = y(v)
        # The breach side of the line is shaded so that a reader sees at once which values are bad.
        if op in (">", ">="):
            shade = {"y": y1, "h": max(ly - y1, 0)}
        elif op in ("<", "<="):
            shade = {"y": ly, "h": max(y0 - ly, 0)}
        else:
            shade = None
        lines.append({"y": ly, "label": f"threshold {op} {num_text(v)}", "shade": shade})
    chart.update(
        {
            "empty": False,
            "x0": lay.left,
            "x1": lay.width - lay.right,
            "y0": y0,
            "y1": y1,
            "points": pts,
            "path": " ".join(f"{p['x']},{p['y']}" for p in pts),
            "lines": lines,
            "yticks": [{"y": y(v), "label": num_text(v)} for v in _ticks(lo, hi, y_step)],
            "xticks": axis.ticks(lay.xticks),
            "gaps": [
                {"x": axis.x((t - ref).total_seconds()), "tip": f"{why} at {clock_text(t.isoformat())}"}
                for t, why in gaps
                if t is not None
            ],
            "fired": [
                {"x": axis.x(s), "tip": f"fired at {clock_text(f['at'])}: {f.get('reason') or ''}"}
                for f in fired
                if (s := seconds_since(ref, f["at"])) is not None
            ],
        }
    )
    return chart
