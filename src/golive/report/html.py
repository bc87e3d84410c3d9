"""The HTML report of a run: one self-contained page (inline CSS and SVG, no script, no network).

:func:`render` turns the run summary (:func:`golive.engine.summary.summarize`) into the page and is pure: the
same summary always gives the same bytes. :func:`render_run` first reads what the summary leaves out from the
store (every trigger evaluation for the full metric series, the event chain check, the evidence blobs
re-hashed) and then calls :func:`render`.

Every value from a run is untrusted text: the templates autoescape everything, and the page carries a
Content-Security-Policy that allows no script and no fetch, so a value that slipped through could neither
run nor phone home. The chart geometry is computed here, in Python; the templates only draw it.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jinja2

from golive import __version__, exceptions
from golive import clock as clock_mod
from golive.spec import durations
from golive.watch import samples as samples_mod

if TYPE_CHECKING:
    from golive.engine import acts
    from golive.store import base as store_base

__all__ = ["MAX_SERIES_POINTS", "parse_thresholds", "render", "render_run", "series_from_events"]

MAX_SERIES_POINTS = 600  # points per metric chart; longer series are thinned keeping each bucket's min and max
MAX_REHASH_BYTES = 64 * 1024 * 1024  # bytes; a larger evidence blob is reported as stored, not re-hashed
SUMMARY_CHARS = 400  # characters of a step summary shown before the cell scrolls


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
FINAL_STATUSES = ("passed", "no_go", "rolled_back", "stopped", "failed")  # golive.engine.state.FINAL, as summary values
VERDICT_CLASS = {"GO": "go", "NO-GO": "nogo", "ROLLED BACK": "rolledback"}

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CMP = r"(>=|<=|==|!=|>|<)"
_VALUE_FIRST = re.compile(rf"\bvalue\s*{_CMP}\s*({_NUM})")
_NUMBER_FIRST = re.compile(rf"({_NUM})\s*{_CMP}\s*value\b")
_MIRROR = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}


# -- public API ---------------------------------------------------------------------------------------------


def render(summary: dict[str, Any]) -> str:
    """The report page of a run summary (extra keys from :func:`render_run` are used when present)."""
    return _template().render(r=_view(summary))


async def render_run(
    handle: acts.RunHandle, data: dict[str, Any] | None = None, *, rehash_evidence: bool = True
) -> str:
    """The report page of a stored run, with full metric series, the chain check and the evidence re-hashed.

    ``rehash_evidence=False`` is for the evidence packer, which hashes every blob as it copies it and refuses
    the pack on a mismatch: the page then says the hashes are checked by the pack, instead of reading every
    blob a second time.
    """
    if data is None:
        from golive.engine import summary as summary_mod

        data = summary_mod.summarize(handle)
    store = handle.store
    events = await store.events(handle.run_id)
    series = series_from_events(events)
    triggers = []
    for t in data.get("triggers") or []:
        full = series.get(str(t.get("id")))
        if full is not None:
            last = {"value": full["points"][-1][1]} if full["points"] else {}
            t = {**t, "history": full["points"], "gaps": full["gaps"], **last}
        triggers.append(t)
    digests = sorted({str(e["sha256"]) for e in _evidence_items(data) if e.get("sha256")})
    return render(
        {
            **data,
            "triggers": triggers,
            "chain": await _chain_status(store, handle.run_id),
            "blob_status": {
                d: (
                    await _blob_status(store, d)
                    if rehash_evidence
                    else {"status": "verified", "detail": "re-hashed as it was packed (checksums.json)"}
                )
                for d in digests
            },
        }
    )


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


def series_from_events(events: Iterable[store_base.Event]) -> dict[str, dict[str, list[list[Any]]]]:
    """Each trigger's recorded values ``points`` [[ts, value]] and its no-data/error evaluations ``gaps``.

    Reads ``trigger_evaluated`` and ``trigger_fired`` (the evaluation that fired carries its value too).
    """
    out: dict[str, dict[str, list[list[Any]]]] = {}
    for ev in events:
        if ev.type not in ("trigger_evaluated", "trigger_fired"):
            continue
        d = ev.data
        tid = str(d.get("trigger_id") or d.get("trigger") or "")
        if not tid:
            continue
        entry = out.setdefault(tid, {"points": [], "gaps": []})
        for at, status, value, _ in samples_mod.samples_of(d, ev.ts):
            ts = clock_mod.utc_iso(at)
            if value is not None and math.isfinite(value):
                entry["points"].append([ts, float(value)])
            else:
                entry["gaps"].append([ts, status or "no data"])
    for entry in out.values():
        entry["points"] = _thin(entry["points"], MAX_SERIES_POINTS)
        entry["gaps"] = entry["gaps"][-MAX_SERIES_POINTS:]
    return out


# -- store reads for render_run -----------------------------------------------------------------------------


async def _chain_status(store: store_base.Store, run_id: str) -> dict[str, Any]:
    try:
        count = await store.verify(run_id)
    except exceptions.GoliveError as exc:
        return {"status": "broken", "detail": exc.message}
    except NotImplementedError:
        return {"status": "unchecked", "detail": "this store cannot verify chains"}
    return {"status": "verified", "detail": f"{count} events, every hash links to the one before"}


async def _blob_status(store: store_base.Store, digest: str) -> dict[str, Any]:
    """Whether the evidence blob is in the store and still hashes to its name."""
    try:
        try:
            info = await store.blob_info(digest)
            if info.size > MAX_REHASH_BYTES:
                return {"status": "stored", "detail": f"stored, {info.size} bytes (too large to re-hash here)"}
        except NotImplementedError:
            pass
        data = await store.get_blob(digest)
    except exceptions.NotFound:
        return {"status": "missing", "detail": "not in the store"}
    except exceptions.GoliveError as exc:
        return {"status": "missing", "detail": exc.message}
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        return {"status": "mismatch", "detail": f"stored bytes hash to {actual}"}
    return {"status": "verified", "detail": "re-hashed from the store: matches"}


# -- the view model ---------------------------------------------------------------------------------------


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("golive.report", "templates"),
        autoescape=True,  # every value from a run is untrusted text, the CSS and SVG templates included
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("report.html.j2")


def _ts(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return clock_mod.parse_time(value)  # golive writes UTC; a naive time is UTC, never mixed
    except ValueError:
        return None


def _clock(value: Any) -> str:
    """'2026-11-23T04:56:35.183Z' -> '2026-11-23 04:56:35 UTC' (or the text as given if it is not a time)."""
    at = _ts(value)
    if at is None:
        return str(value) if value else ""
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _ttext(seconds: float | None, decimals: int = 0) -> str:
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


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return ""
    return durations.format_duration(seconds)


def _size(n: Any) -> str:
    if not isinstance(n, int) or isinstance(n, bool):
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _between(start: Any, end: Any) -> float | None:
    """Seconds from one timestamp to another, or None when either is missing."""
    a, b = _ts(start), _ts(end)
    return (b - a).total_seconds() if a is not None and b is not None else None


def _num(v: float) -> str:
    return f"{v:.4g}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outcome(step: dict[str, Any]) -> str:
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


def _thin(points: list[list[Any]], limit: int) -> list[list[Any]]:
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
        at = _ts(ts)
        return None if at is None else (at - self.ref).total_seconds()

    def x(self, sec: float) -> float:
        return round(self.x0 + (sec - self.lo) / (self.hi - self.lo) * (self.x1 - self.x0), 2)

    def label(self, sec: float, decimals: int = 0) -> str:
        text = _ttext(sec, decimals)
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


def _reference(summary: dict[str, Any], starts: list[datetime]) -> tuple[datetime | None, bool]:
    anchor = _ts(summary.get("anchor"))
    if anchor is not None:
        return anchor, True
    created = _ts(summary.get("created_at"))
    if created is not None:
        return created, False
    return (min(starts), False) if starts else (None, False)


def _step_span(step: dict[str, Any], end_of_run: datetime | None) -> tuple[datetime, datetime] | None:
    start = _ts(step.get("started_at"))
    if start is None:
        return None
    end = _ts(step.get("finished_at"))
    if end is None and isinstance(step.get("duration"), int | float) and step.get("status") == "done":
        end = start + timedelta(seconds=float(step["duration"]))
    if end is None:
        end = max(end_of_run or start, start)
    return start, max(end, start)


def _groups(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Phases in order, then the rollback steps that ran, each with its steps."""
    groups = []
    final = summary.get("status") in FINAL_STATUSES
    for ph in summary.get("phases") or []:
        outcome = ph.get("outcome") or "pending"
        if final and outcome == "running":
            outcome = "stopped"  # the run ended (a rollback, a NO-GO) while this phase was still running
        groups.append(
            {
                "id": ph.get("id"),
                "title": ph.get("title") or ph.get("id"),
                "outcome": outcome,
                "planned_at": ph.get("planned_at"),
                "started_at": ph.get("started_at"),
                "finished_at": ph.get("finished_at"),
                "steps": list(ph.get("steps") or []),
                "is_rollback": False,
            }
        )
    rb_steps = [s for s in summary.get("rollback_steps") or [] if s.get("status") not in (None, "pending")]
    if rb_steps:
        rb = summary.get("rollback") or {}
        groups.append(
            {
                "id": "rollback",
                "title": "Rollback",
                "outcome": rb.get("outcome") or "running",
                "planned_at": None,
                "started_at": rb.get("started_at"),
                "finished_at": rb.get("finished_at"),
                "steps": rb_steps,
                "is_rollback": True,
            }
        )
    return groups


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


def _timeline(summary: dict[str, Any], groups: list[dict[str, Any]], lay: _Layout) -> dict[str, Any] | None:
    steps = [s for g in groups for s in g["steps"]]
    end_of_run = _ts(summary.get("finished_at"))
    if end_of_run is None:
        ends = [_ts(s.get("finished_at")) or _ts(s.get("started_at")) for s in steps]
        known = [e for e in ends if e is not None]
        end_of_run = max(known) if known else None
    spans = {id(s): _step_span(s, end_of_run) for s in steps}
    starts = [sp[0] for sp in spans.values() if sp]
    if not starts:
        return None
    ref, has_anchor = _reference(summary, starts)
    assert ref is not None  # starts is not empty, so a reference exists
    markers_raw: list[tuple[str, str, Any]] = []
    d = summary.get("decision") or {}
    if d.get("at"):
        markers_raw.append(("decision", f"{str(d.get('decision') or '').upper()}", d["at"]))
    for f in summary.get("fired") or []:
        markers_raw.append(("fired", f"{f.get('trigger')} fired", f.get("at")))
    rb = summary.get("rollback") or {}
    if rb.get("started_at"):
        markers_raw.append(("rollback", "rollback", rb["started_at"]))
    secs = [(a - ref).total_seconds() for sp in spans.values() if sp for a in sp]
    secs += [s for m in markers_raw if (s := _sec(ref, m[2])) is not None]
    x0, x1 = (lay.label_w or 8.0), lay.width - lay.right
    axis = _Axis(ref, has_anchor, min(secs), max(secs), x0, x1)

    rows: list[dict[str, Any]] = []
    y = lay.top
    for g in groups:
        g_start, g_end = _sec(ref, g["started_at"]), _sec(ref, g["finished_at"])
        span_row = None
        if g_start is not None:
            g_end = g_end if g_end is not None else max(secs)
            span_row = {"x": axis.x(g_start), "w": max(axis.x(g_end) - axis.x(g_start), 1.0)}
        rows.append(
            {
                "kind": "group",
                "y": y,
                "title": _short(str(g["title"]), lay.label_chars + 4),
                "full": f"{g['title']}: {str(g['outcome']).upper()}",
                "outcome": g["outcome"],
                "span": span_row if lay.label_w else None,  # narrow: the title fills the header row
            }
        )
        y += lay.group
        for s in g["steps"]:
            sp = spans[id(s)]
            outcome = _outcome(s)
            title = str(s.get("title") or s.get("id"))
            row: dict[str, Any] = {
                "kind": "step",
                "y": y,
                "id": s.get("id"),
                "title": _short(title, lay.label_chars),
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
                        f"{_ttext((sp[0] - ref).total_seconds()) if has_anchor else _clock(s.get('started_at'))}"
                        f"{', ' + _duration(s.get('duration')) if s.get('duration') is not None else ''}"
                        f"{' — ' + _short(str(s.get('summary')), 200) if s.get('summary') else ''}"
                    ),
                }
            else:
                row["note"] = "did not run" if outcome == "pending" else outcome
            rows.append(row)
            y += lay.row
    markers = [
        {"kind": kind, "x": axis.x(sec), "label": label, "tip": f"{label} at {_clock(at)}"}
        for kind, label, at in markers_raw
        if (sec := _sec(ref, at)) is not None
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


def _sec(ref: datetime, ts: Any) -> float | None:
    at = _ts(ts)
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


def _metric_chart(trigger: dict[str, Any], ref: datetime | None, has_anchor: bool, lay: _ChartLayout) -> dict[str, Any]:
    thresholds = parse_thresholds(trigger.get("when"))
    raw_points = []
    for p in trigger.get("history") or []:
        if isinstance(p, list | tuple) and len(p) == 2 and isinstance(p[1], int | float) and _ts(p[0]):
            raw_points.append((_ts(p[0]), float(p[1])))
    gaps = [(_ts(g[0]), str(g[1])) for g in trigger.get("gaps") or [] if isinstance(g, list | tuple) and _ts(g[0])]
    fired = [f for f in trigger.get("fired_list") or [] if _ts(f.get("at"))]
    chart: dict[str, Any] = {
        "layout": lay.name,
        "width": lay.width,
        "height": lay.height,
        "thresholds": [{"op": op, "value": _num(v)} for op, v in thresholds],
        "points_count": len(raw_points),
        "gaps_count": len(gaps),
    }
    times = [t for t, _ in raw_points if t] + [t for t, _ in gaps if t] + [_ts(f["at"]) for f in fired]
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
                "tip": f"{_num(v)} at {_clock(t.isoformat())}",
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
        lines.append({"y": ly, "label": f"threshold {op} {_num(v)}", "shade": shade})
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
            "yticks": [{"y": y(v), "label": _num(v)} for v in _ticks(lo, hi, y_step)],
            "xticks": axis.ticks(lay.xticks),
            "gaps": [
                {"x": axis.x((t - ref).total_seconds()), "tip": f"{why} at {_clock(t.isoformat())}"}
                for t, why in gaps
                if t is not None
            ],
            "fired": [
                {"x": axis.x(s), "tip": f"fired at {_clock(f['at'])}: {f.get('reason') or ''}"}
                for f in fired
                if (s := _sec(ref, f["at"])) is not None
            ],
        }
    )
    return chart


def _evidence_items(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for g in _groups(summary):
        for s in g["steps"]:
            for e in s.get("evidence") or []:
                if isinstance(e, dict):
                    out.append({**e, "step": s.get("id"), "step_title": s.get("title") or s.get("id")})
    return out


def _judgements(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each judged step: its verdict and a row per metric, canary against baseline."""

    def num(v: Any) -> str:
        return _num(float(v)) if isinstance(v, int | float) else "–"

    out = []
    for j in summary.get("judgements") or []:
        rows = []
        for m in j.get("metrics") or []:
            effect = m.get("effect")
            p = m.get("p_adjusted")
            rows.append(
                {
                    "id": m.get("id") or "",
                    "kind": m.get("kind") or "",
                    "critical": bool(m.get("critical")),
                    "status": str(m.get("status") or ""),
                    "test": m.get("test") or "",
                    "canary": num(m.get("canary")),
                    "baseline": num(m.get("baseline")),
                    "n": f"{m.get('n_canary') or 0} / {m.get('n_baseline') or 0}",
                    "effect": f"{effect:+.1%}"
                    if isinstance(effect, int | float) and abs(effect) != float("inf")
                    else "–",
                    "p": f"{p:.3g}" if isinstance(p, int | float) else "–",
                    "reason": m.get("reason") or "",
                }
            )
        score = j.get("score")
        out.append(
            {
                "step": j.get("step") or "",
                "title": j.get("title") or j.get("step") or "",
                "verdict": str(j.get("verdict") or ""),
                "score": f"{score:.0f}" if isinstance(score, int | float) else "–",
                "reason": j.get("reason") or "",
                "rows": rows,
            }
        )
    return out


def _view(summary: dict[str, Any]) -> dict[str, Any]:
    """Everything the template shows, already formatted; the template adds no logic beyond loops."""
    groups = _groups(summary)
    timeline = _timeline(summary, groups, WIDE)
    ref, has_anchor = _reference(summary, [])
    verdict = str(summary.get("verdict") or summary.get("status_label") or "UNKNOWN")

    def tt(ts: Any) -> str:
        s = _sec(ref, ts) if ref is not None and has_anchor else None
        return _ttext(s) if s is not None else ""

    decision = summary.get("decision")
    dec_view = None
    if decision:
        dec_view = {
            "decision": str(decision.get("decision") or "").upper(),
            "by": decision.get("by") or "",
            "at": _clock(decision.get("at")),
            "t": tt(decision.get("at")),
            "reason": decision.get("reason") or "",
            "statement": decision.get("statement") or "",
            "step": decision.get("step") or "",
            "default": bool(decision.get("default")),
        }
    rb = summary.get("rollback")
    rb_view = None
    if rb:
        rb_view = {
            "reason": rb.get("reason") or "",
            "by": rb.get("by") or "",
            "source": rb.get("source") or "",
            "started_at": _clock(rb.get("started_at")),
            "t": tt(rb.get("started_at")),
            "finished_at": _clock(rb.get("finished_at")),
            "outcome": str(rb.get("outcome") or "running"),
            "took": _duration(_between(rb.get("started_at"), rb.get("finished_at"))),
        }

    step_rows: list[dict[str, Any]] = []
    rollback_rows: list[dict[str, Any]] = []
    for g in groups:
        if not g["is_rollback"]:
            step_rows.append({"group": True, "title": g["title"], "outcome": g["outcome"], "planned": g["planned_at"]})
        for s in g["steps"]:
            summary_text = str(s.get("summary") or "")
            (rollback_rows if g["is_rollback"] else step_rows).append(
                {
                    "group": False,
                    "id": s.get("id"),
                    "title": s.get("title") or s.get("id"),
                    "kind": s.get("kind") or "",
                    "planned": s.get("planned_at") or "",
                    "t": tt(s.get("started_at")) or _clock(s.get("started_at"))[11:19],  # no T-0: the time of day
                    "duration": _duration(s.get("duration")),
                    "expected": _duration(s.get("expected")),
                    "outcome": _outcome(s),
                    "who": s.get("actor") or s.get("holder") or "",
                    "role": s.get("role") or "",
                    "attempts": s.get("attempts") or 0,
                    "summary": summary_text,
                    "long": len(summary_text) > SUMMARY_CHARS,
                    "waiver": s.get("waiver"),
                    "blocking": s.get("blocking", True),
                }
            )

    blob_status = summary.get("blob_status") or {}
    evidence = []
    for e in _evidence_items(summary):
        st = blob_status.get(e.get("sha256")) or {}
        evidence.append(
            {
                "step": e["step"],
                "step_title": e["step_title"],
                "name": e.get("name") or "",
                "media_type": e.get("media_type") or "",
                "size": _size(e.get("size")),
                "sha256": str(e.get("sha256") or ""),
                "status": st.get("status") or "",
                "detail": st.get("detail") or "",
            }
        )

    fired_by_trigger: dict[str, list[dict[str, Any]]] = {}
    for f in summary.get("fired") or []:
        fired_by_trigger.setdefault(str(f.get("trigger")), []).append(f)
    triggers = []
    for t in summary.get("triggers") or []:
        fired = fired_by_trigger.get(str(t.get("id")), [])
        triggers.append(
            {
                "id": t.get("id"),
                "title": t.get("title") or t.get("id"),
                "when": t.get("when") or "",
                "then": t.get("then") or "",
                "severity": t.get("severity") or "",
                "state": t.get("state") or "not evaluated",
                "value": _num(t["value"]) if isinstance(t.get("value"), int | float) else "",
                "reason": t.get("reason") or "",
                "fired": [{"at": _clock(f.get("at")), "t": tt(f.get("at")), "reason": f.get("reason")} for f in fired],
                "chart": _metric_chart({**t, "fired_list": fired}, ref, has_anchor, CHART_WIDE),
                "chart_narrow": _metric_chart({**t, "fired_list": fired}, ref, has_anchor, CHART_NARROW),
            }
        )

    checklist = [
        {
            "title": i.get("title") or i.get("id"),
            "status": i.get("status") or "missing",
            "steps": ", ".join(i.get("steps") or []),
            "missing": ", ".join(i.get("missing_steps") or []),
        }
        for i in summary.get("evidence_checklist") or []
    ]
    comp = summary.get("completion") or {}
    signoffs = [
        {
            "area": area,
            "title": v.get("title") or area,
            "signed": bool(v.get("by")),
            "by": v.get("by") or "",
            "at": _clock(v.get("at")),
            "statement": v.get("statement") or "",
        }
        for area, v in (summary.get("signoffs") or {}).items()
    ]
    rel = summary.get("release") or {}
    artifacts = [
        ", ".join(f"{k}: {v}" for k, v in a.items()) if isinstance(a, dict) else str(a)
        for a in rel.get("artifacts") or []
    ]
    return {
        "title": summary.get("title") or summary.get("runbook") or "golive run",
        "run_id": summary.get("run_id") or "",
        "runbook": summary.get("runbook") or "",
        "service": summary.get("service") or "",
        "environment": summary.get("environment") or "",
        "mode": summary.get("mode") or "",
        "rehearsal_note": summary.get("rehearsal_note") or "",
        "verdict": verdict,
        "verdict_class": VERDICT_CLASS.get(verdict, "other"),
        "status_label": summary.get("status_label") or "",
        "reason": summary.get("reason") or "",
        "started": _clock(summary.get("created_at")),
        "finished": _clock(summary.get("finished_at")) or "not finished",
        "elapsed": _duration(_between(summary.get("created_at"), summary.get("finished_at"))),
        "anchor": _clock(summary.get("anchor")),
        "release": {
            "tag": rel.get("tag") or "",
            "sha": rel.get("sha") or "",
            "artifacts": artifacts,
            "other": {k: v for k, v in rel.items() if k not in ("tag", "sha", "artifacts")},
        },
        "digest": summary.get("digest") or "",
        "head_hash": summary.get("head_hash") or "",
        "events": summary.get("events") or 0,
        "chain": summary.get("chain"),
        "decision": dec_view,
        "rollback": rb_view,
        "waivers": [{**w, "at": _clock(w.get("at")), "t": tt(w.get("at"))} for w in summary.get("waivers") or []],
        "refusals": [{**r, "at": _clock(r.get("at")), "t": tt(r.get("at"))} for r in summary.get("refusals") or []],
        "pending": [
            {
                "id": p.get("id"),
                "title": p.get("title") or p.get("id"),
                "waiting_for": p.get("waiting_for"),
                "deadline": _clock(p.get("deadline")),
            }
            for p in summary.get("pending") or []
        ],
        "timeline": timeline,
        "timeline_narrow": _timeline(summary, groups, NARROW),
        "steps": step_rows,
        "rollback_steps": rollback_rows,
        "follow_ups": [f for f in summary.get("follow_ups") or [] if f.get("status") != "not-due"],
        "steps_planned": any(row.get("planned") for row in step_rows if not row["group"]),
        "triggers": triggers,
        "judgements": _judgements(summary),
        "coverage": summary.get("coverage") or [],
        "evidence": evidence,
        "checklist": checklist,
        "checklist_missing": sum(1 for i in checklist if i["status"] == "missing"),
        "completion": {
            "complete": bool(comp.get("complete")),
            "criteria": [
                {"title": c.get("title") or c.get("id"), "met": bool(c.get("met")), "why": list(c.get("why") or [])}
                for c in comp.get("criteria") or []
            ],
        },
        "signoffs": signoffs,
        "signoffs_pending": sum(1 for s in signoffs if not s["signed"]),
        "signoff_fields": [
            {
                "title": f.get("title") or f.get("id"),
                "value": "" if f.get("value") is None else str(f.get("value")),
                "by": f.get("by") or "",
            }
            for f in summary.get("signoff_fields") or []
        ],
        "scribe": [
            {
                "planned": t.get("planned") or "",
                "t": t.get("t") or "",
                "what": t.get("what") or "",
                "result": t.get("result") or "",
                "at": _clock(t.get("at")),
                "actor": t.get("actor") or "",
            }
            for t in summary.get("timeline") or []
        ],
        "roles": [
            {
                "id": rid,
                "title": r.get("title") or rid,
                "holder": r.get("holder") or "",
                "description": r.get("description") or "",
            }
            for rid, r in (summary.get("roles") or {}).items()
        ],
        "comms": [
            {
                "at": _clock(c.get("at")),
                "t": tt(c.get("at")),
                "channel": c.get("channel") or "",
                "event": c.get("event") or "",
                "ok": bool(c.get("ok")),
                "error": c.get("error") or "",
                "text": c.get("text") or "",
            }
            for c in summary.get("comms") or []
        ],
        "hypercare": [
            {
                "at": _clock(h.get("at")),
                "step": h.get("step") or "",
                "slot": h.get("slot") if h.get("slot") is not None else "",
                "outcome": str(h.get("outcome") or ""),
            }
            for h in summary.get("hypercare") or []
        ],
        "reports": [
            {"id": rid, "at": _clock(r.get("at")), "summary": r.get("summary") or ""}
            for rid, r in (summary.get("reports") or {}).items()
        ],
        "outcomes": OUTCOMES,
        "version": __version__,
    }
