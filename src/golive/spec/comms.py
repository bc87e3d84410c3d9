"""The vocabulary of comms routing: the events golive announces and the groups a channel may name.

It lives with the runbook format because the loader checks a channel's ``events`` / ``except`` against it;
the notifier (:mod:`golive.notify.routing`) applies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["EVENTS", "EVENT_GROUPS", "known_events"]

# Every event golive sends a message for by itself (the template names of docs/comms.md), plus `notify`
# (a notify step without a template), `trigger_fired` (a notify trigger, or a trigger that names channels)
# and `hypercare_alert`.
EVENTS = (
    "run_started",
    "phase_started",
    "phase_passed",
    "phase_failed",
    "canary_passed",
    "canary_failed",
    "phase_waived",
    "canary_waived",
    "step_failed",
    "decision_go",
    "decision_no_go",
    "decision_pending",
    "decision_approved",
    "manual_waiting",
    "action_unknown",
    "pause",
    "trigger_fired",
    "rollback_triggered",
    "rollback_complete",
    "rollback_interrupted",
    "run_stopped",
    "window_overrun",
    "freeze_started",
    "status_update",
    "hypercare_report",
    "hypercare_alert",
    "notify",
)

# Names a channel may use for several comms events at once, after the run's event types.
EVENT_GROUPS: Mapping[str, tuple[str, ...]] = {
    "decision_recorded": ("decision_go", "decision_no_go"),
    "decision": ("decision_pending", "decision_approved", "decision_go", "decision_no_go"),
    "rollback_started": ("rollback_triggered",),
    "rollback_finished": ("rollback_complete",),
    "rollback": ("rollback_triggered", "rollback_complete"),
    "phase_finished": ("phase_passed", "phase_failed", "canary_passed", "canary_failed"),
    "checkpoint": ("phase_passed", "phase_failed", "canary_passed", "canary_failed"),
    "trigger": ("trigger_fired", "pause"),
    "waiting": ("manual_waiting", "decision_pending", "action_unknown", "pause"),
    "hypercare": ("hypercare_report", "hypercare_alert"),
    "failure": ("step_failed", "phase_failed", "canary_failed", "decision_no_go", "rollback_triggered"),
}


def known_events(templates: Iterable[str] = ()) -> set[str]:
    """Every name a channel's ``events`` / ``except`` may use: comms events, groups and the runbook's own
    template names (a notify step's ``template``)."""
    return {*EVENTS, *EVENT_GROUPS, *templates} - {"title"}
