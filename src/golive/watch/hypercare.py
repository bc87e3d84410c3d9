"""Hypercare: checks on a tiered schedule after GO, control reports at their set times, alerts on failures.

Schedule (:func:`schedule`)
    Each tier is half-open, ``[from, until)``: it ticks at ``from``, ``from + every``, ... while before
    ``until`` (``times_per_day: n`` means ``every: 24h / n``, so 3x daily is every 8 hours). The end of the
    last tier (the largest ``until``) is one more, closing tick, so the end of hypercare is itself checked
    ("72 hours stable"). Ticks of overlapping or touching tiers are merged (deduplicated to the
    millisecond) and sorted. The payments seed's tiers (0-6h every 30m, 6-24h hourly, 24-72h 3x daily)
    give 12 + 18 + 6 + 1 = 37 ticks.

Per-check cadence (:func:`check_schedule`)
    A check with its own ``every`` (the seed's stuck-job detector every 30m, the daily reconciliation every
    24h) runs on that grid from GO, by the same rule: ``[0, end)`` plus the closing tick at the end of
    hypercare (the largest tier ``until``). A check without ``every`` runs at every tier tick. Only
    ``check`` steps are run; ``manual`` hypercare steps are a person's (``golive confirm``) and are listed,
    not run, in the reports.

Slots
    A tick is a slot; each check runs at most once per slot of its schedule. When
    :meth:`HypercareRunner.tick` runs, each check's current slot is the latest tick of its schedule at or
    before now; the checks whose current slot is not done yet run (concurrently), each result is recorded,
    and a failure or error also records an alert. Earlier slots whose checks never ran (golive was down,
    cron was late) are not run late -- a check now is a check now -- but recorded as missed, with an
    alert, and count against the control reports. A second tick at the same time does
    nothing; after a restart, :meth:`HypercareRunner.restore` rebuilds the done slots, missed slots and
    written reports from the run's events.

Reports
    A report is written on the first tick at or after ``go + at``, after that tick's checks ran, so the
    24-hour report includes the 24-hour slot. A report whose writer fails is alerted and retried on the
    next tick (every :data:`REPORT_RETRY` at most when running forever).

Events (``record`` receives ``{"type": ..., "data": {...}}``)::

    hypercare_check   {slot, check_id, outcome, summary, ts}
    hypercare_missed  {slot, check_ids}
    hypercare_alert   {kind: check_failed | slot_missed | report_failed, message, slot?, check_id?, report?}
    hypercare_report  {report, title, due_at, written_at, status, summary}
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from golive import clock as clock_mod
from golive import results
from golive.spec import models
from golive.watch import samples as samples_mod

__all__ = [
    "ACTION_EVENT_TYPES",
    "DEFAULT_CHECK_TIMEOUT",
    "REPORT_RETRY",
    "CheckRecord",
    "HypercareRunner",
    "TickResult",
    "check_schedule",
    "control_summary",
    "schedule",
]

DAY = 86400.0  # seconds
DEFAULT_CHECK_TIMEOUT = 300.0  # seconds; a hypercare check that sets no timeout is an error past this
REPORT_RETRY = 60.0  # seconds between attempts to write a report whose writer failed
_MS = 1000  # ticks are deduplicated at millisecond resolution

ACTION_EVENT_TYPES = ("action_finished",)  # run events that a control report lists as actions
TRIGGER_EVENT_TYPES = ("trigger_fired", "trigger_evaluated")

RunCheck = Callable[[models.Step], Awaitable[results.Result | results.Outcome]]
Record = Callable[[dict[str, Any]], Awaitable[None]]
WriteReport = Callable[[models.HypercareReport, dict[str, Any]], Awaitable[None]]
EventsSource = Callable[[], Awaitable[Iterable[Mapping[str, Any]]]]
Companion = Callable[[datetime], Awaitable[datetime | None]]


def tier_every(tier: models.HypercareTier) -> float:
    """A tier's period in seconds (``times_per_day: 3`` -> 28800)."""
    if tier.every is not None:
        return tier.every
    assert tier.times_per_day is not None  # the model requires exactly one of the two
    return DAY / tier.times_per_day


def schedule(tiers: Sequence[models.HypercareTier], start: datetime) -> list[datetime]:
    """Every hypercare tick after ``start`` (GO): tiers half-open, plus the closing tick; sorted, unique."""
    offsets: set[int] = set()  # milliseconds after start
    for tier in tiers:
        every = tier_every(tier)
        if every <= 0:
            raise ValueError(f"hypercare tier from {tier.from_}s: the period must be positive")
        k = 0
        while True:
            t = tier.from_ + k * every  # multiply, never accumulate, so 3x daily stays on the hour
            if t >= tier.until - 1e-6:
                break
            offsets.add(round(t * _MS))
            k += 1
    if tiers:
        offsets.add(round(max(t.until for t in tiers) * _MS))
    return [start + timedelta(milliseconds=ms) for ms in sorted(offsets)]


def check_schedule(check: models.Step, tiers: Sequence[models.HypercareTier], start: datetime) -> list[datetime]:
    """A hypercare check's ticks: its own ``every`` grid up to the end of the tiers, else the tier ticks."""
    if check.every is None:
        return schedule(tiers, start)
    if not tiers:
        return []
    if check.every <= 0:
        raise ValueError(f"hypercare check {check.id}: 'every' must be positive")
    end = max(t.until for t in tiers)
    offsets: set[int] = set()
    k = 0
    while k * check.every < end - 1e-6:
        offsets.add(round(k * check.every * _MS))
        k += 1
    offsets.add(round(end * _MS))
    return [start + timedelta(milliseconds=ms) for ms in sorted(offsets)]


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """One hypercare check result in one slot."""

    check_id: str
    slot: datetime
    outcome: results.Outcome
    summary: str
    ts: datetime


@dataclass
class TickResult:
    """What one tick did."""

    slot: datetime | None
    checks: list[CheckRecord] = field(default_factory=list)
    missed: list[datetime] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    report_failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """False when a check failed or errored, a slot was missed or a report could not be written."""
        return all(c.outcome.ok for c in self.checks) and not self.missed and not self.report_failures


class HypercareRunner:
    """Runs a runbook's hypercare: due checks per slot, control reports, alerts; idempotent per slot."""

    def __init__(
        self,
        spec: models.HypercareSpec,
        go_time: datetime,
        clock: clock_mod.Clock,
        run_check: RunCheck,
        record: Record,
        write_report: WriteReport,
        *,
        events_source: EventsSource | None = None,
        companion: Companion | None = None,
    ) -> None:
        """``events_source`` returns the run's events (``Event.as_dict()`` shape) for the reports' triggers and
        actions. ``companion(now)`` runs after every tick (the run's status updates) and returns when it is
        next due, or None."""
        if go_time.tzinfo is None:
            raise ValueError("go_time must be timezone-aware (UTC)")
        self.spec = spec
        self.go_time = go_time
        self.clock = clock
        self._run_check = run_check
        self._record = record
        self._write_report = write_report
        self._events_source = events_source
        self._companion = companion
        self._companion_wake: datetime | None = None
        self.checks = [c for c in spec.checks if c.kind is models.StepKind.CHECK]
        self.manual = [c.id for c in spec.checks if c.kind is not models.StepKind.CHECK]
        self.check_ticks = {c.id: check_schedule(c, spec.tiers, go_time) for c in self.checks}
        self.ticks = sorted(
            {t for ticks in self.check_ticks.values() for t in ticks} | set(schedule(spec.tiers, go_time))
        )
        self.history: list[CheckRecord] = []
        self.done: set[tuple[str, datetime]] = set()  # (check id, slot)
        self.missed: dict[datetime, tuple[str, ...]] = {}  # slot -> checks that did not run in it
        self.written: set[str] = set()
        self._report_failed_at: dict[str, datetime] = {}
        self._lock = asyncio.Lock()

    @property
    def end(self) -> datetime | None:
        """The last tick, or the last report's due time if later."""
        times = [*self.ticks[-1:], *(self._due(r) for r in self.spec.reports)]
        return max(times) if times else None

    # -- restoring from the event log --
    def restore(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Rebuild done slots, missed slots, history and written reports from the run's events."""
        for ev in events:
            data = ev.get("data") or {}
            kind = ev.get("type")
            if kind == "hypercare_check":
                slot = _parse(data["slot"])
                rec = CheckRecord(
                    check_id=str(data["check_id"]),
                    slot=slot,
                    outcome=results.Outcome(data["outcome"]),
                    summary=str(data.get("summary", "")),
                    ts=_parse(data.get("ts") or data["slot"]),
                )
                if (rec.check_id, slot) not in self.done:
                    self.done.add((rec.check_id, slot))
                    self.history.append(rec)
            elif kind == "hypercare_missed":
                slot = _parse(data["slot"])
                self.missed[slot] = tuple(dict.fromkeys((*self.missed.get(slot, ()), *(data.get("check_ids") or ()))))
            elif kind == "hypercare_report":
                self.written.add(str(data["report"]))

    # -- scheduling --
    def current_slot(self, now: datetime, check_id: str | None = None) -> datetime | None:
        """The latest tick at or before ``now`` (of one check's schedule, or of any)."""
        return _latest(self.check_ticks[check_id] if check_id is not None else self.ticks, now)

    def next_wake(self, now: datetime) -> datetime | None:
        """When something is next due after ``now``: a tick, a report, a retry of a failed report, or the
        companion (a status update)."""
        candidates = [t for t in self.ticks if t > now]
        end = self.end
        # The companion (status updates) speaks within hypercare only: it never keeps a finished one running.
        if self._companion_wake is not None and end is not None and self._companion_wake <= end:
            candidates.append(max(self._companion_wake, now + timedelta(milliseconds=1)))
        for r in self.spec.reports:
            if r.id in self.written:
                continue
            due = self._due(r)
            if due > now:
                candidates.append(due)
            else:
                failed = self._report_failed_at.get(r.id, now)
                candidates.append(max(failed + timedelta(seconds=REPORT_RETRY), now + timedelta(milliseconds=1)))
        return min(candidates) if candidates else None

    def _due(self, report: models.HypercareReport) -> datetime:
        return self.go_time + timedelta(seconds=report.at)

    # -- one tick --
    async def tick(self, now: datetime | None = None) -> TickResult:
        """Run what is due at ``now`` (default: the clock): the current slot's checks, missed slots, reports."""
        async with self._lock:
            now = now or self.clock.now()
            result = TickResult(slot=self.current_slot(now))
            missed: dict[datetime, list[str]] = {}
            due: list[tuple[models.Step, datetime]] = []
            for check in self.checks:
                slot = self.current_slot(now, check.id)
                if slot is None:
                    continue
                for t in self.check_ticks[check.id]:
                    if t >= slot:
                        break
                    if (check.id, t) not in self.done and check.id not in self.missed.get(t, ()):
                        missed.setdefault(t, []).append(check.id)
                if (check.id, slot) not in self.done:
                    due.append((check, slot))
            for t, ids in sorted(missed.items()):
                self.missed[t] = (*self.missed.get(t, ()), *ids)
                result.missed.append(t)
                await self._record({"type": "hypercare_missed", "data": {"slot": _iso(t), "check_ids": ids}})
                await self._record(
                    {
                        "type": "hypercare_alert",
                        "data": {
                            "kind": "slot_missed",
                            "slot": _iso(t),
                            "message": f"hypercare slot {_iso(t)} was missed: {', '.join(ids)} did not run",
                        },
                    }
                )
            outcomes = await asyncio.gather(*(self._one_check(c) for c, _ in due))
            for (check, slot), (outcome, summary) in zip(due, outcomes, strict=True):
                rec = CheckRecord(check.id, slot, outcome, summary, self.clock.now())
                self.done.add((check.id, slot))
                self.history.append(rec)
                result.checks.append(rec)
                await self._record(
                    {
                        "type": "hypercare_check",
                        "data": {
                            "slot": _iso(slot),
                            "check_id": check.id,
                            "outcome": outcome.value,
                            "summary": summary,
                            "ts": _iso(rec.ts),
                        },
                    }
                )
                if results.gates(outcome):
                    await self._record(
                        {
                            "type": "hypercare_alert",
                            "data": {
                                "kind": "check_failed",
                                "slot": _iso(slot),
                                "check_id": check.id,
                                "outcome": outcome.value,
                                "message": f"hypercare check {check.id} {outcome.value}: {summary}",
                            },
                        }
                    )
            for report in self.spec.reports:
                if report.id in self.written or self._due(report) > now:
                    continue
                await self._report(report, now, result)
            if self._companion is not None:
                self._companion_wake = await self._companion(now)
            return result

    async def _one_check(self, step: models.Step) -> tuple[results.Outcome, str]:
        timeout = step.timeout or DEFAULT_CHECK_TIMEOUT
        try:
            async with asyncio.timeout(timeout):
                got = await self._run_check(step)
        except TimeoutError:
            return results.Outcome.ERROR, f"no result within {timeout:g}s"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a check that blows up is an error, never a pass
            return results.Outcome.ERROR, f"{type(exc).__name__}: {exc}"
        if isinstance(got, results.Result):
            return got.outcome, got.summary
        if isinstance(got, results.Outcome):
            return got, ""
        return results.Outcome.ERROR, f"the check returned {type(got).__name__}, not a result"

    async def _report(self, report: models.HypercareReport, now: datetime, result: TickResult) -> None:
        due = self._due(report)
        try:
            events = list(await self._events_source()) if self._events_source else []
            summary = control_summary(
                report,
                self.spec,
                self.go_time,
                due,
                self.clock.now(),
                self.history,
                self.ticks,
                self.missed,
                events,
                check_ticks=self.check_ticks,
            )
            await self._write_report(report, summary)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # alert and retry on the next tick; an unwritten report is never "done"
            self._report_failed_at[report.id] = now
            result.report_failures.append(report.id)
            await self._record(
                {
                    "type": "hypercare_alert",
                    "data": {
                        "kind": "report_failed",
                        "report": report.id,
                        "message": f"hypercare report {report.id} could not be written: {type(exc).__name__}: {exc}",
                    },
                }
            )
            return
        self.written.add(report.id)
        self._report_failed_at.pop(report.id, None)
        result.reports.append(report.id)
        await self._record(
            {
                "type": "hypercare_report",
                "data": {
                    "report": report.id,
                    "title": report.title,
                    "due_at": _iso(due),
                    "written_at": summary["written_at"],
                    "status": summary["status"],
                    "summary": summary,
                },
            }
        )

    # -- long-running --
    async def run_forever(self, until: datetime | None = None) -> None:
        """Tick whenever something is due until the schedule and every report are done (or ``until``)."""
        while True:
            now = self.clock.now()
            if until is not None and now >= until:
                return
            await self.tick(now)
            wake = self.next_wake(self.clock.now())
            if wake is None:
                return
            if until is not None and wake > until:
                wake = until
            await self.clock.sleep(max(0.0, (wake - self.clock.now()).total_seconds()))


def control_summary(
    report: models.HypercareReport,
    spec: models.HypercareSpec,
    go_time: datetime,
    due: datetime,
    written_at: datetime,
    history: Sequence[CheckRecord],
    ticks: Sequence[datetime],
    missed: Mapping[datetime, Sequence[str]],
    events: Sequence[Mapping[str, Any]] = (),
    *,
    check_ticks: Mapping[str, Sequence[datetime]] | None = None,
) -> dict[str, Any]:
    """The control report's content for the window [GO, due]: checks, failures, missed slots, metrics,
    triggers fired and actions (from the run's events), and a pass/fail status."""
    in_window = [r for r in history if go_time <= r.slot <= due]
    checks: dict[str, dict[str, Any]] = {
        c.id: {
            "scheduled": len([t for t in (check_ticks or {}).get(c.id, ticks) if go_time <= t <= due]),
            "runs": 0,
            "pass": 0,
            "warn": 0,
            "fail": 0,
            "error": 0,
            "last": None,
        }
        for c in spec.checks
        if c.kind is models.StepKind.CHECK
    }
    failures: list[dict[str, Any]] = []
    for rec in sorted(in_window, key=lambda r: (r.slot, r.check_id)):
        row = checks.setdefault(rec.check_id, {"runs": 0, "pass": 0, "warn": 0, "fail": 0, "error": 0, "last": None})
        row["runs"] += 1
        if rec.outcome.value in row:
            row[rec.outcome.value] += 1
        row["last"] = rec.outcome.value
        if results.gates(rec.outcome):
            failures.append(
                {
                    "check_id": rec.check_id,
                    "slot": _iso(rec.slot),
                    "at": _iso(rec.ts),
                    "outcome": rec.outcome.value,
                    "summary": rec.summary,
                }
            )
    missed_rows = [
        {"slot": _iso(t), "check_ids": list(ids)} for t, ids in sorted(missed.items()) if go_time <= t <= due
    ]
    triggers_fired: list[dict[str, Any]] = []
    metrics: dict[str, dict[str, Any]] = {}
    actions: list[dict[str, Any]] = []
    for ev in events:
        kind = ev.get("type")
        data = ev.get("data") or {}
        if kind in TRIGGER_EVENT_TYPES:
            tid = str(data.get("trigger_id"))
            for at, _, value, _ in samples_mod.samples_of(data, ev.get("ts")):
                if value is None or not go_time <= at <= due:
                    continue
                m = metrics.setdefault(tid, {"samples": 0, "min": value, "max": value, "last": value})
                m["samples"] += 1
                m["min"] = min(m["min"], value)
                m["max"] = max(m["max"], value)
                m["last"] = value
        ts_text = data.get("ts") if kind in TRIGGER_EVENT_TYPES else ev.get("ts")
        if not ts_text:
            continue
        ts = _parse(str(ts_text))
        if not go_time <= ts <= due:
            continue
        if kind in TRIGGER_EVENT_TYPES:
            if kind == "trigger_fired":
                triggers_fired.append(
                    {
                        "trigger_id": tid,
                        "at": str(ts_text),
                        "then": data.get("then"),
                        "severity": data.get("severity"),
                        "reason": data.get("reason"),
                    }
                )
        elif kind in ACTION_EVENT_TYPES:
            actions.append(
                {
                    "step_id": ev.get("step_id"),
                    "at": str(ts_text),
                    "outcome": data.get("outcome"),
                    "summary": data.get("summary", ""),
                    "actor": ev.get("actor"),
                }
            )
    scheduled = [t for t in ticks if go_time <= t <= due]
    slots_run = {r.slot for r in in_window}
    status = "fail" if failures or missed_rows or triggers_fired else "pass"
    return {
        "report_id": report.id,
        "title": report.title,
        "includes": list(report.includes),
        "status": status,
        "go_time": _iso(go_time),
        "due_at": _iso(due),
        "written_at": _iso(written_at),
        "window": {"from": _iso(go_time), "until": _iso(due)},
        "focus": list(spec.focus),
        "role": spec.role,
        "slots": {"scheduled": len(scheduled), "run": len(slots_run), "missed": len(missed_rows)},
        "checks": checks,
        "manual_checks": [c.id for c in spec.checks if c.kind is not models.StepKind.CHECK],
        "failures": failures,
        "missed": missed_rows,
        "metrics": metrics,
        "triggers_fired": triggers_fired,
        "actions": actions,
    }


def _latest(ticks: Sequence[datetime], now: datetime) -> datetime | None:
    slot = None
    for t in ticks:
        if t > now:
            break
        slot = t
    return slot


def _iso(ts: datetime) -> str:
    return clock_mod.utc_iso(ts)


def _parse(text: str) -> datetime:
    return clock_mod.parse_time(text)
