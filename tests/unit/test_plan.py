"""The plan: step levels, parallel groups, earliest starts and the critical path by ``expected``."""

from __future__ import annotations

from typing import Any

from golive.spec import models
from golive.spec import plan as plan_mod

MINUTE = 60.0  # seconds


def _manual(sid: str, expected: str | None, needs: tuple[str, ...] = ()) -> dict[str, Any]:
    step: dict[str, Any] = {"id": sid, "kind": "manual", "role": "ops", "needs": list(needs)}
    if expected is not None:
        step["expected"] = expected
    return step


def _runbook() -> models.Runbook:
    # Phase "prep": a -> (b, c) -> d, where c (10m) is longer than b (2m), so a, c, d is critical.
    # Phase "go": x and y independent; y (7m) is longer.
    return models.Runbook.model_validate(
        {
            "golive": 1,
            "name": "plan-test",
            "t0": "2026-03-01T10:00:00Z",
            "roles": {"ops": {}},
            "phases": [
                {
                    "id": "prep",
                    "at": "T-60m",
                    "steps": [
                        _manual("a", "5m"),
                        _manual("b", "2m", ("a",)),
                        _manual("c", "10m", ("a",)),
                        _manual("d", "1m", ("b", "c")),
                    ],
                },
                {"id": "go", "steps": [_manual("x", "3m"), _manual("y", "7m"), _manual("z", None)]},
            ],
        }
    )


def test_steps_after_the_same_needs_form_a_parallel_group() -> None:
    """b and c both need only a, so they may run at the same time; so may x, y and z."""
    plan = plan_mod.make_plan(_runbook())
    prep, go = plan.phases
    assert prep.parallel_groups == (("b", "c"),)
    assert go.parallel_groups == (("x", "y", "z"),)


def test_levels_count_the_longest_needs_chain() -> None:
    """A step's level is one more than its deepest need."""
    prep = plan_mod.make_plan(_runbook()).phases[0]
    assert {s.id: s.level for s in prep.steps} == {"a": 0, "b": 1, "c": 1, "d": 2}


def test_earliest_start_is_the_latest_finish_of_the_needs() -> None:
    """d waits for c (a 5m + c 10m = 15m), not for the shorter b."""
    prep = plan_mod.make_plan(_runbook()).phases[0]
    starts = {s.id: s.earliest_start for s in prep.steps}
    assert starts == {"a": 0.0, "b": 5 * MINUTE, "c": 5 * MINUTE, "d": 15 * MINUTE}


def test_critical_path_follows_the_longest_chain_phase_after_phase() -> None:
    """The critical path is a, c, d in prep then y in go; its length is the sum of their expected times."""
    plan = plan_mod.make_plan(_runbook())
    assert plan.phases[0].critical_path == ("a", "c", "d")
    assert plan.phases[1].critical_path == ("y",)
    assert plan.critical_path == ("a", "c", "d", "y")
    assert plan.expected == (5 + 10 + 1 + 7) * MINUTE
    flagged = {s.id for ph in plan.phases for s in ph.steps if s.on_critical_path}
    assert flagged == {"a", "c", "d", "y"}


def test_steps_without_expected_are_listed_and_count_as_zero() -> None:
    """z has no expected duration: it is named in missing_expected."""
    plan = plan_mod.make_plan(_runbook())
    assert plan.missing_expected == ("z",)
    z = next(s for s in plan.phases[1].steps if s.id == "z")
    assert z.expected is None


def test_plan_keeps_t0_and_phase_t_times() -> None:
    """The plan carries T-0 as ISO text and each phase's declared T-time in seconds."""
    plan = plan_mod.make_plan(_runbook())
    assert plan.t0 == "2026-03-01T10:00:00+00:00"
    assert plan.phases[0].at == -60 * MINUTE
    assert plan.phases[1].at is None


def test_a_phase_of_one_chain_has_no_parallel_group() -> None:
    """Steps that each need the one before run one at a time."""
    rb = models.Runbook.model_validate(
        {
            "golive": 1,
            "name": "chain",
            "roles": {"ops": {}},
            "phases": [
                {"id": "p", "steps": [_manual("a", "1m"), _manual("b", "1m", ("a",)), _manual("c", "1m", ("b",))]}
            ],
        }
    )
    phase = plan_mod.make_plan(rb).phases[0]
    assert phase.parallel_groups == ()
    assert phase.critical_path == ("a", "b", "c")
    assert phase.expected == 3 * MINUTE


def test_observe_window_counts_as_its_expected_duration() -> None:
    """An observe step without `expected` lasts its `duration` in the plan (a 60m window is 60m)."""
    rb = models.Runbook.model_validate(
        {
            "golive": 1,
            "name": "observe",
            "roles": {"ops": {}},
            "phases": [
                {
                    "id": "watch",
                    "steps": [
                        _manual("deploy", "10m"),
                        {"id": "observe", "kind": "observe", "duration": "60m", "needs": ["deploy"]},
                    ],
                }
            ],
        }
    )
    plan = plan_mod.make_plan(rb)
    assert plan.expected == 70 * MINUTE
    assert plan.critical_path == ("deploy", "observe")
    assert plan.missing_expected == ()
