"""Which channels a message goes to: a channel's ``events`` / ``except`` filters and minimum severity, the
channels a trigger or a notify step names, and the rehearsal marker.

A channel names comms events (``decision_go``, ``status_update``, ...) or event groups named after the run's
events (``decision_recorded`` is ``decision_go`` and ``decision_no_go``; ``rollback_started`` is
``rollback_triggered``). A message that names its channels (a notify step's or a trigger's ``channels:``)
goes to exactly those: the author chose them, so no filter applies. Any other message goes to every
declared channel whose filters take it. A message no declared channel takes is still kept in golive's own
log, so the record of what the run had to say is complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from golive.spec import comms as comms_vocab
from golive.spec import models

__all__ = [
    "EVENT_GROUPS",
    "EVENT_SEVERITY",
    "REHEARSAL_MARKERS",
    "SEVERITIES",
    "expand",
    "known_events",
    "marker",
    "route",
    "severity_of",
    "takes",
]

SEVERITIES = ("info", "warning", "high", "critical")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}

EVENT_GROUPS = comms_vocab.EVENT_GROUPS
known_events = comms_vocab.known_events

# How severe each message is unless the sender says otherwise (a trigger's fire carries its own severity;
# a failed rollback is critical).
EVENT_SEVERITY: Mapping[str, str] = {
    "run_started": "info",
    "phase_started": "info",
    "phase_passed": "info",
    "canary_passed": "info",
    "status_update": "info",
    "hypercare_report": "info",
    "manual_waiting": "info",
    "decision_go": "info",
    "decision_approved": "info",
    "notify": "info",
    "decision_pending": "warning",
    "step_failed": "warning",
    "hypercare_alert": "warning",
    "phase_failed": "high",
    "canary_failed": "high",
    "decision_no_go": "high",
    "action_unknown": "high",
    "pause": "high",
    "trigger_fired": "warning",
    "rollback_complete": "high",
    "rollback_triggered": "critical",
}

# The first words of every message a rehearsal or a dry run sends, so nobody mistakes it for the real thing.
REHEARSAL_MARKERS: Mapping[str, str] = {"rehearsal": "[REHEARSAL]", "dry-run": "[DRY RUN]"}


def marker(mode: str | None) -> str | None:
    """The marker of a run mode (None for a live run)."""
    return REHEARSAL_MARKERS.get(mode or "live")


def expand(names: Iterable[str]) -> set[str]:
    """Event names with each group replaced by its members (and kept, so a template named like it matches)."""
    out: set[str] = set()
    for n in names:
        out.add(n)
        out.update(EVENT_GROUPS.get(n, ()))
    return out


def severity_of(event: str, given: str | None = None) -> str:
    """The severity of a message: the one given, else the event's default, else info."""
    if given in _RANK:
        return str(given)
    return EVENT_SEVERITY.get(event, "info")


def takes(channel: models.Channel, event: str, severity: str) -> bool:
    """Whether a channel's filters take this message."""
    if channel.events and event not in expand(channel.events):
        return False
    if channel.except_ and event in expand(channel.except_):
        return False
    return channel.min_severity is None or _RANK.get(severity, 0) >= _RANK[channel.min_severity]


def route(
    channels: Sequence[models.Channel],
    event: str,
    severity: str,
    named: Sequence[str] | None = None,
    *,
    fallback: str = "log",
) -> tuple[str, ...]:
    """The channel ids a message goes to: ``named`` when given, else the declared channels whose filters take
    it, else ``fallback`` (golive's log) so that nothing is said into the void."""
    if named:
        return tuple(dict.fromkeys(named))
    ids = tuple(c.id for c in channels if takes(c, event, severity))
    return ids or (fallback,)
