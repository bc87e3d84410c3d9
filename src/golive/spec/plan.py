"""The plan of a runbook: phases and steps in order, T-times, roles, parallel groups and the critical path.

Inside a phase, a step's earliest start is the latest finish of its ``needs``; steps with the same earliest
start and no dependency between them run in parallel. Phases run one after another, so the critical path is
the longest ``needs`` chain of each phase, phase after phase, weighted by ``expected``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from golive.spec import models

__all__ = ["PhasePlan", "Plan", "StepPlan", "make_plan"]


@dataclass(frozen=True)
class StepPlan:
    id: str
    title: str
    kind: str
    role: str | None
    at: float | None  # seconds relative to T-0, declared
    expected: float | None  # seconds
    needs: tuple[str, ...]
    level: int  # 0 = can start when the phase starts; steps of one level may run in parallel
    earliest_start: float  # seconds after the phase starts, by expected durations
    on_critical_path: bool = False
    blocking: bool = True


@dataclass(frozen=True)
class PhasePlan:
    id: str
    title: str
    at: float | None
    steps: tuple[StepPlan, ...]
    parallel_groups: tuple[tuple[str, ...], ...]  # groups of 2+ steps that may run at the same time
    critical_path: tuple[str, ...]
    expected: float  # seconds, along the critical path


@dataclass(frozen=True)
class Plan:
    name: str
    t0: str | None
    phases: tuple[PhasePlan, ...]
    critical_path: tuple[str, ...]
    expected: float  # seconds
    missing_expected: tuple[str, ...] = field(default=())  # steps without `expected` (counted as 0)


def _expected(step: models.Step) -> float | None:
    """A step's expected duration: its ``expected``, else an observe step's window (its length is known)."""
    if step.expected is not None:
        return step.expected
    if step.kind is models.StepKind.OBSERVE:
        return step.duration
    return None


def _phase_plan(phase: models.Phase) -> PhasePlan:
    steps = {s.id: s for s in phase.steps}
    finish: dict[str, float] = {}
    start: dict[str, float] = {}
    level: dict[str, int] = {}
    prev: dict[str, str | None] = {}

    def visit(sid: str) -> float:
        if sid in finish:
            return finish[sid]
        s = steps[sid]
        best, best_from, lvl = 0.0, None, 0
        for n in s.needs:
            if n not in steps:
                continue
            f = visit(n)
            lvl = max(lvl, level[n] + 1)
            if best_from is None or f > best:
                best, best_from = f, n
        start[sid] = best
        level[sid] = lvl
        prev[sid] = best_from
        finish[sid] = best + (_expected(s) or 0.0)
        return finish[sid]

    for sid in steps:
        visit(sid)
    end = max(finish.values(), default=0.0)
    last = max(steps, key=lambda k: (finish[k], -list(steps).index(k))) if steps else None
    path: list[str] = []
    cur = last
    while cur is not None:
        path.append(cur)
        cur = prev[cur]
    path.reverse()
    on_path = set(path)
    by_level: dict[int, list[str]] = {}
    for sid in steps:
        by_level.setdefault(level[sid], []).append(sid)
    groups = tuple(tuple(g) for _, g in sorted(by_level.items()) if len(g) > 1)
    plans = tuple(
        StepPlan(
            id=s.id,
            title=s.title or s.id,
            kind=s.kind.value,
            role=s.role,
            at=s.at,
            expected=_expected(s),
            needs=s.needs,
            level=level[s.id],
            earliest_start=start[s.id],
            on_critical_path=s.id in on_path,
            blocking=s.blocking,
        )
        for s in phase.steps
    )
    return PhasePlan(phase.id, phase.title or phase.id, phase.at, plans, groups, tuple(path), end)


def make_plan(runbook: models.Runbook) -> Plan:
    phases = tuple(_phase_plan(p) for p in runbook.phases)
    missing = tuple(s.id for p in runbook.phases for s in p.steps if _expected(s) is None)
    return Plan(
        name=runbook.name,
        t0=runbook.t0.isoformat() if runbook.t0 else None,
        phases=phases,
        critical_path=tuple(sid for ph in phases for sid in ph.critical_path),
        expected=sum(ph.expected for ph in phases),
        missing_expected=missing,
    )
