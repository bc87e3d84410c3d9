"""Reading canary and baseline samples through metric sources, for judges and for triggers.

A baseline is one of (:class:`golive.spec.models.Baseline`):

- ``offset``: the same query shifted back (``offset: 1w`` reads last week's same window);
- ``before``: the same query over a window of that length ending at T-0;
- ``source`` (+ ``total`` for a rate): a second query, e.g. the stable fleet;
- ``run``: the recorded samples of a pinned earlier run (the caller looks them up in the store).

Shifted and windowed reads need a source that can read the past: Prometheus (its ``range``, ``step`` and
``offset`` params). Pure: everything is read through a :data:`golive.watch.sources.SourceFactory`.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from golive import results
from golive.exceptions import BaselineError
from golive.spec import models
from golive.watch import judge as judge_mod
from golive.watch import sources

__all__ = [
    "HISTORY_SOURCES",
    "BaselineError",
    "Earlier",
    "baseline_reader",
    "collect",
    "windowed",
]

HISTORY_SOURCES = models.HISTORY_SOURCES  # metric sources that read a window in the past


@dataclass(frozen=True)
class Earlier:
    """What a pinned earlier run recorded: per judge metric id its canary samples (and totals), per
    trigger id its values."""

    run_id: str
    samples: Mapping[str, tuple[tuple[float, ...], tuple[float, ...] | None]]
    values: Mapping[str, tuple[float, ...]]


def _dur(seconds: float) -> str:
    return f"{max(0.0, seconds):.3f}s"


def windowed(ref: models.MetricRef, *, window: float | None, step: float | None, offset: float) -> models.MetricRef:
    """``ref`` read over ``window`` seconds (sampled every ``step``) ending ``offset`` seconds ago."""
    if ref.type not in HISTORY_SOURCES:
        raise BaselineError(
            f"a {ref.type!r} source cannot read a window in the past; use a prometheus source, or a 'source' "
            "or 'run' baseline"
        )
    w = dict(ref.with_)
    if window is not None:
        w["range"] = _dur(window)
    if step is not None:
        w["step"] = _dur(step)
    if offset > 0:
        w["offset"] = _dur(offset + _seconds(w.get("offset")))
    return ref.model_copy(update={"with_": w})


def _seconds(value: object) -> float:
    from golive.spec import durations

    return durations.parse_duration(value) if value else 0.0


Series = tuple[tuple[float, float], ...]


async def _series(factory: sources.SourceFactory, ref: models.MetricRef) -> Series:
    """The points of one read: a range query's series, or the one value of an instant read."""
    reading = await factory(ref)()
    if reading.status == "error":
        raise BaselineError(reading.error or "the source failed")
    if reading.status == "no_data" or reading.value is None:
        return ()
    if reading.series:
        return tuple((t, v) for t, v in reading.series if math.isfinite(v))
    return ((0.0, reading.value),)


def _paired(events: Series, totals: Series, step: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Events and totals joined on their timestamps: two range queries run a few milliseconds apart, so
    each event takes the total nearest in time, within half a step (a sample missing on one side is
    dropped)."""
    times = [t for t, _ in totals]
    pairs: list[tuple[float, float]] = []
    for t, v in events:
        i = bisect.bisect_left(times, t)
        near = min((j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - t), default=None)
        if near is not None and abs(times[near] - t) < step / 2:
            pairs.append((v, totals[near][1]))
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


async def _metric(
    spec: models.Judge,
    metric: models.JudgeMetric,
    factory: sources.SourceFactory,
    *,
    window: float,
    since_t0: float | None,
    earlier: Earlier | None,
) -> judge_mod.Samples:
    b = spec.baseline_of(metric)
    rate = metric.kind == "rate"

    def canary(ref: models.MetricRef) -> models.MetricRef:
        return windowed(ref, window=window, step=spec.step, offset=0.0) if ref.type in HISTORY_SOURCES else ref

    reads: list[models.MetricRef] = [canary(metric.source)]
    if rate:
        assert metric.total is not None
        reads.append(canary(metric.total))
    from_run: tuple[tuple[float, ...], tuple[float, ...] | None] | None = None
    if b.offset is not None:
        reads += [windowed(r, window=window, step=spec.step, offset=b.offset) for r in reads[: 1 + rate]]
    elif b.before is not None:
        if since_t0 is None or since_t0 < 0:
            raise BaselineError("a 'before' baseline needs T-0 to have passed")
        reads += [
            windowed(r, window=b.before, step=spec.step, offset=since_t0)
            for r in ([metric.source, metric.total] if rate else [metric.source])
            if r is not None
        ]
    elif b.source is not None:
        reads.append(canary(b.source))
        if rate:
            assert b.total is not None
            reads.append(canary(b.total))
    else:
        if earlier is None or metric.id not in earlier.samples:
            raise BaselineError(f"run {b.run} recorded no samples of metric {metric.id!r}")
        from_run = earlier.samples[metric.id]
    got = await asyncio.gather(*(_series(factory, r) for r in reads))
    if rate:
        ce, ct = _paired(got[0], got[1], spec.step)
        if from_run is not None:
            be, bt = from_run[0], from_run[1]
        else:
            be, bt = _paired(got[2], got[3], spec.step)
        return judge_mod.Samples(canary=ce, baseline=be, canary_total=ct, baseline_total=bt)
    c = tuple(v for _, v in got[0])
    base = from_run[0] if from_run is not None else tuple(v for _, v in got[1])
    return judge_mod.Samples(canary=c, baseline=base)


async def collect(
    spec: models.Judge,
    factory: sources.SourceFactory,
    *,
    window: float,
    now: datetime,
    t0: datetime | None = None,
    earlier: Earlier | None = None,
) -> dict[str, judge_mod.Samples]:
    """Every metric's canary samples over the last ``window`` seconds and its baseline's. A metric that
    cannot be read gets :class:`Samples` with ``error`` (the judge calls it inconclusive), never a pass."""
    since_t0 = (now - t0).total_seconds() if t0 is not None else None

    async def one(m: models.JudgeMetric) -> judge_mod.Samples:
        try:
            return await _metric(spec, m, factory, window=window, since_t0=since_t0, earlier=earlier)
        except BaselineError as exc:
            return judge_mod.Samples(canary=(), baseline=(), error=str(exc))
        except Exception as exc:  # an unknown plugin, bad params or a plugin bug: no samples, not a pass
            return judge_mod.Samples(canary=(), baseline=(), error=f"{type(exc).__name__}: {exc}")

    out = await asyncio.gather(*(one(m) for m in spec.metrics))
    return {m.id: s for m, s in zip(spec.metrics, out, strict=True)}


def baseline_reader(
    trigger: models.Trigger,
    factory: sources.SourceFactory,
    *,
    now: Callable[[], datetime],
    t0: Callable[[], datetime | None] = lambda: None,
    earlier: Earlier | None = None,
) -> sources.ReadMetric:
    """Reads a trigger's baseline value: the shifted query, the window before T-0 (its average), the second
    query, or the mean of what the earlier run recorded for this trigger."""
    b = trigger.baseline
    if b is None or trigger.source is None:
        raise ValueError(f"trigger {trigger.id!r} has no baseline")
    source = trigger.source
    if b.source is not None:
        return factory(b.source)
    if b.offset is not None:
        return factory(windowed(source, window=None, step=None, offset=b.offset))
    if b.before is not None:
        before = b.before

        async def read_before() -> results.MetricReading:
            start = t0()
            if start is None or now() < start:
                return results.MetricReading.failed("a 'before' baseline needs T-0 to have passed")
            ref = windowed(source, window=before, step=None, offset=(now() - start).total_seconds())
            ref = ref.model_copy(update={"with_": {**ref.with_, "aggregation": "avg"}})
            return await factory(ref)()

        return read_before
    values: Sequence[float] = earlier.values.get(trigger.id, ()) if earlier is not None else ()

    async def read_run() -> results.MetricReading:
        if not values:
            return results.MetricReading.failed(f"run {b.run} recorded no values of trigger {trigger.id!r}")
        return results.MetricReading.of(sum(values) / len(values))

    return read_run
