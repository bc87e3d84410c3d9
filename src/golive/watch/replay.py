"""Replay a finished run through edited triggers and judges: "would this have rolled back, and when?"

Every reading a trigger took in an observation window is in the run's events (the ``samples`` batched in
``trigger_evaluated`` / ``trigger_fired`` events, :mod:`golive.watch.samples`), and every judgement stores its samples. A replay
feeds the recorded readings, in their order and at their times, through the edited runbook's triggers
(matched by id; a new ``when``, ``for``, ``no_data``, ``max_errors`` or ``then`` applies), window by window,
and re-judges each judged step's recorded samples with the edited judge. Nothing is read again from the
sources: a trigger whose source or baseline changed sees the old readings.

Pure: :func:`replay` takes the events (as dicts) and the edited runbook.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from golive import results
from golive.spec import models
from golive.watch import judge as judge_mod
from golive.watch import samples as samples_mod
from golive.watch import triggers

__all__ = ["Replay", "ReplayedJudge", "ReplayedWindow", "parse_ts", "replay"]


parse_ts = samples_mod.parse_ts


class _Clock:
    """The replay's clock: set to each recorded reading's time."""

    def __init__(self, at: datetime) -> None:
        self._start = at
        self._now = at

    def set(self, at: datetime) -> None:
        self._now = max(self._now, at)

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (self._now - self._start).total_seconds()

    async def sleep(self, seconds: float) -> None:  # never called: nothing waits in a replay
        await asyncio.sleep(0)


@dataclass
class ReplayedWindow:
    """One observe window as it was, and as the edited triggers would have seen it."""

    step: str
    started_at: datetime
    ended_at: datetime | None
    readings: int = 0
    fired: list[dict[str, Any]] = field(default_factory=list)  # every fire, in order
    stopped_by: dict[str, Any] | None = None  # the first rollback/pause fire: the window would end there


@dataclass
class ReplayedJudge:
    step: str
    was: str | None
    now: str
    score: float | None
    reason: str
    stopped: dict[str, Any] | None = None  # a sequential judge's first crossing: {then, ts, after, reason}


@dataclass
class Replay:
    """What the edited triggers and judges would have done on a finished run."""

    run_id: str
    anchor: datetime | None
    actual_status: str
    actual_reason: str
    actual_at: datetime | None  # when the rollback started (or the run finished)
    windows: list[ReplayedWindow]
    judges: list[ReplayedJudge]
    unknown_triggers: list[str]  # edited triggers with no recorded readings (new ids)

    @property
    def first_stop(self) -> tuple[ReplayedWindow, dict[str, Any]] | None:
        """The earliest rollback or pause: a trigger's, or a sequential judge's first crossing."""
        found: list[tuple[ReplayedWindow, dict[str, Any]]] = [(w, w.stopped_by) for w in self.windows if w.stopped_by]
        for j in self.judges:
            w = next((w for w in self.windows if w.step == j.step), None)
            if j.stopped is not None and w is not None:
                found.append((w, j.stopped))
        return min(found, key=lambda f: str(f[1]["ts"])) if found else None

    def t(self, at: datetime | None) -> str:
        """``T+7m12s`` relative to the run's T-0 (or the time of day without one)."""
        if at is None:
            return "-"
        if self.anchor is None:
            return at.strftime("%H:%M:%S")
        secs = (at - self.anchor).total_seconds()
        sign = "+" if secs >= 0 else "-"
        secs = abs(round(secs))
        h, rest = divmod(secs, 3600)
        m, s = divmod(rest, 60)
        text = (f"{h}h" if h else "") + (f"{m}m" if m or h else "") + f"{s}s"
        return f"T{sign}{text}"

    def verdict(self) -> str:
        """One line: what would have happened instead of what did."""
        actual = self.actual_status.upper().replace("_", " ")
        stop = self.first_stop
        failed = next((j for j in self.judges if j.now == "FAIL"), None)
        if stop is not None:
            w, ev = stop
            what = "rollback" if ev["then"] == "rollback" else "pause for the IC"
            by = "sequential judge" if str(ev["trigger_id"]).endswith(".judge") else f"trigger {ev['trigger_id']}"
            return f"{what} at {self.t(parse_ts(ev['ts']))} in {w.step} ({by}: {ev['reason']}) instead of {actual}"
        if failed is not None:
            return f"judge of {failed.step} would FAIL ({failed.reason}) instead of {failed.was or 'not judged'}"
        return f"no trigger would stop a window; the run would still end {actual}"

    def as_json(self) -> dict[str, Any]:
        stop = self.first_stop
        return {
            "run_id": self.run_id,
            "verdict": self.verdict(),
            "actual": {
                "status": self.actual_status,
                "reason": self.actual_reason,
                "at": self.actual_at.isoformat() if self.actual_at else None,
                "t": self.t(self.actual_at) if self.actual_at else None,
            },
            "would": None
            if stop is None
            else {
                "then": stop[1]["then"],
                "trigger": stop[1]["trigger_id"],
                "step": stop[0].step,
                "at": stop[1]["ts"],
                "t": self.t(parse_ts(stop[1]["ts"])),
                "reason": stop[1]["reason"],
            },
            "windows": [
                {
                    "step": w.step,
                    "started_at": w.started_at.isoformat(),
                    "ended_at": w.ended_at.isoformat() if w.ended_at else None,
                    "readings": w.readings,
                    "fired": w.fired,
                }
                for w in self.windows
            ],
            "judges": [
                {"step": j.step, "was": j.was, "now": j.now, "score": j.score, "reason": j.reason, "stopped": j.stopped}
                for j in self.judges
            ],
            "unknown_triggers": self.unknown_triggers,
        }


def _readings(ev: Mapping[str, Any]) -> list[tuple[datetime, str, float | None, float | None]]:
    return samples_mod.samples_of(ev.get("data") or {}, ev.get("ts"))


def _never(ref: models.MetricRef) -> triggers.ReadMetric:
    async def read() -> results.MetricReading:
        return results.MetricReading.failed("a replay reads nothing")

    return read


def _reading(status: str, value: float | None) -> results.MetricReading:
    if status == "ok" and value is not None:
        return results.MetricReading.of(float(value))
    if status == "no_data":
        return results.MetricReading.no_data("no data (recorded)")
    return results.MetricReading.failed(f"recorded {status}")


def replay(events: Iterable[Mapping[str, Any]], runbook: models.Runbook) -> Replay:
    """Replay a run's recorded readings and judgements through ``runbook``'s triggers and judges."""
    evs = sorted(events, key=lambda e: int(e.get("seq") or 0))
    run_id = str(next((e.get("run_id") for e in evs), ""))
    anchor = None
    status, reason, finished = "running", "", None
    rollback_at = None
    windows: list[ReplayedWindow] = []
    open_window: dict[str, ReplayedWindow] = {}
    per_window: dict[int, dict[str, list[tuple[datetime, str, float | None, float | None]]]] = {}
    judged: dict[str, dict[str, Any]] = {}
    recorded_ids: set[str] = set()
    observe_steps = {s.id for _, s in runbook.all_steps() if s.kind is models.StepKind.OBSERVE}
    for e in evs:
        t, d, sid = e.get("type"), e.get("data") or {}, e.get("step_id")
        if t == "run_created":
            anchor = parse_ts(d.get("anchor"))
        elif t == "run_finished":
            status, reason, finished = str(d.get("status") or ""), str(d.get("reason") or ""), parse_ts(e.get("ts"))
        elif t == "rollback_started" and rollback_at is None:
            rollback_at = parse_ts(e.get("ts"))
        elif t == "step_started" and isinstance(sid, str) and (sid in observe_steps or sid in open_window):
            w = ReplayedWindow(step=sid, started_at=parse_ts(e.get("ts")) or datetime.now(UTC), ended_at=None)
            windows.append(w)
            open_window[sid] = w
            per_window[id(w)] = {}
        elif t in ("step_finished", "step_waiting") and isinstance(sid, str) and sid in open_window:
            open_window.pop(sid).ended_at = parse_ts(e.get("ts"))
        elif t in ("trigger_evaluated", "trigger_fired") and isinstance(sid, str) and sid in open_window:
            tid = str(d.get("trigger_id") or d.get("trigger"))
            recorded_ids.add(tid)
            per_window[id(open_window[sid])].setdefault(tid, []).extend(_readings(e))
        if t == "step_finished" and isinstance(sid, str):
            j = (d.get("details") or {}).get("judge")
            if isinstance(j, dict):
                judged[sid] = j

    for w in windows:
        _replay_window(w, per_window[id(w)], runbook)
    return Replay(
        run_id=run_id,
        anchor=anchor,
        actual_status=status,
        actual_reason=reason,
        actual_at=rollback_at or finished,
        windows=windows,
        judges=_rejudge(runbook, judged, {w.step: w for w in windows}),
        unknown_triggers=sorted(t.id for t in runbook.triggers if t.source is not None and t.id not in recorded_ids),
    )


def _replay_window(
    w: ReplayedWindow,
    readings: Mapping[str, list[tuple[datetime, str, float | None, float | None]]],
    runbook: models.Runbook,
) -> None:
    step = runbook.step(w.step)
    watched = set(step.triggers) if step is not None and step.triggers else None
    merged: list[tuple[datetime, str, str, float | None, float | None]] = []
    for tid, rows in readings.items():
        seen: set[datetime] = set()
        for at, status, value, base in rows:
            if at not in seen:
                seen.add(at)
                merged.append((at, tid, status, value, base))
    merged.sort(key=lambda r: (r[0], r[1]))
    clock = _Clock(w.started_at)
    evaluators: dict[str, triggers.TriggerEvaluator] = {}
    for t in runbook.triggers:
        if t.source is not None and (watched is None or t.id in watched):
            evaluators[t.id] = triggers.TriggerEvaluator(
                t, _never, clock, baseline=_never(t.source) if t.baseline is not None else None
            )
    for at, tid, status, value, base in merged:
        ev = evaluators.get(tid)
        if ev is None:
            continue
        clock.set(at)
        w.readings += 1
        baseline = results.MetricReading.of(float(base)) if base is not None else None
        got = ev.apply(_reading(status, value), baseline)
        if got.fired:
            fired = {
                "trigger_id": tid,
                "ts": got.ts.isoformat(),
                "then": got.then,
                "reason": got.reason,
                "value": got.value,
            }
            w.fired.append(fired)
            if got.then in ("rollback", "pause") and w.stopped_by is None:
                w.stopped_by = fired
                return  # the window would have ended here


def _rejudge(
    runbook: models.Runbook, judged: Mapping[str, Mapping[str, Any]], windows: Mapping[str, ReplayedWindow]
) -> list[ReplayedJudge]:
    out = []
    for _, step in runbook.all_steps():
        spec: models.Judge | None = step.judge
        if spec is None and step.kind is models.StepKind.CHECK and step.type == models.JUDGE_CHECK:
            try:
                spec = models.Judge.model_validate(step.with_)
            except ValueError:
                continue
        was = judged.get(step.id)
        if spec is None or was is None:
            continue
        recorded = {m.get("id"): m.get("samples") or {} for m in was.get("metrics") or [] if isinstance(m, dict)}
        samples = {}
        for m in spec.metrics:
            got = recorded.get(m.id)
            if not got:
                samples[m.id] = judge_mod.Samples(canary=(), baseline=(), error="not recorded in this run")
                continue
            total_c, total_b = got.get("canary_total"), got.get("baseline_total")
            samples[m.id] = judge_mod.Samples(
                canary=tuple(got.get("canary") or ()),
                baseline=tuple(got.get("baseline") or ()),
                canary_total=tuple(total_c) if total_c is not None else None,
                baseline_total=tuple(total_b) if total_b is not None else None,
            )
        try:
            j = judge_mod.judge(spec, samples)
            stopped = _sequential(step.id, spec, samples, windows.get(step.id)) if spec.sequential else None
        except ValueError as exc:  # a metric changed kind (a rate without recorded totals)
            out.append(ReplayedJudge(step.id, str(was.get("verdict")), "INCONCLUSIVE", None, str(exc)))
            continue
        out.append(ReplayedJudge(step.id, str(was.get("verdict")), j.verdict.value, j.score, j.reason, stopped))
    return out


def _sequential(
    step_id: str, spec: models.Judge, samples: Mapping[str, judge_mod.Samples], window: ReplayedWindow | None
) -> dict[str, Any] | None:
    """Replay a sequential judge's looks on the recorded window: sample k is taken as k * step into the
    window, so a look after every step sees the first k samples of each side."""
    if window is None:
        return None
    from golive.watch import sequential

    clock = _Clock(window.started_at)

    async def no_reads(seconds: float) -> Mapping[str, judge_mod.Samples]:
        return samples

    watch = sequential.SequentialWatch(f"{step_id}.judge", spec, no_reads, clock)
    longest = max((len(s.canary) for s in samples.values()), default=0)
    for k in range(1, longest + 1):
        prefix = {mid: _prefix(s, k) for mid, s in samples.items()}
        at = window.started_at + timedelta(seconds=(k - 1) * spec.step)
        clock.set(at)
        ev = watch.judge(prefix)
        if ev.fired:
            return {"trigger_id": f"{step_id}.judge", "then": ev.then, "ts": at.isoformat(), "reason": ev.reason}
    return None


def _prefix(s: judge_mod.Samples, k: int) -> judge_mod.Samples:
    return judge_mod.Samples(
        canary=s.canary[:k],
        baseline=s.baseline[:k],
        canary_total=s.canary_total[:k] if s.canary_total is not None else None,
        baseline_total=s.baseline_total[:k] if s.baseline_total is not None else None,
        error=s.error,
    )
