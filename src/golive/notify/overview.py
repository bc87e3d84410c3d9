"""A run's comms as plain data: what was sent and what is due next. ``golive comms``, the API and the
dashboard read this; the input is the run's ``comms_sent`` records and its anchors, nothing else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from golive import clock as clock_mod
from golive.clock import utc_iso
from golive.notify import cadence
from golive.spec import models

__all__ = ["anchors", "overview"]

UPCOMING = 5  # slots shown ahead by default


def _ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return clock_mod.parse_time(value)


def anchors(started_at: str | None, go_at: str | None, finished_at: str | None) -> cadence.Anchors | None:
    """The cadence anchors of a run from its timestamps (ISO 8601); None before it started."""
    start = _ts(started_at)
    if start is None:
        return None
    return cadence.Anchors(start, _ts(go_at), _ts(finished_at))


def overview(
    runbook: models.Runbook,
    comms: Sequence[Mapping[str, Any]],
    *,
    started_at: str | None,
    go_at: str | None,
    finished_at: str | None,
    now: datetime,
    upcoming: int = UPCOMING,
    passed: bool = False,
) -> dict[str, Any]:
    """``sent``: every delivery record in order; ``failed``: how many were not delivered; ``due_now``:
    status updates due and not sent; ``next``: the next update; ``upcoming``: the next slots on the grid.
    ``passed``: the run passed, so its status updates go on through hypercare (:func:`cadence.complete_at`)."""
    tiers = cadence.tiers_for(runbook.comms)
    sent_slots = cadence.last_sent(comms)
    anc = anchors(started_at, go_at, finished_at)
    if anc is not None:
        anc = cadence.Anchors(anc.start, anc.go, cadence.complete_at(runbook, anc.go, anc.end, passed))
    due_now: list[dict[str, Any]] = []
    nxt: dict[str, Any] | None = None
    ahead: list[dict[str, Any]] = []
    if anc is not None:
        due_now = [d.as_dict() for d in cadence.due(tiers, anc, sent_slots, now)]
        n = cadence.next_due(tiers, anc, sent_slots, now)
        nxt = n.as_dict() if n is not None else None
        ahead = _ahead(tiers, anc, now, upcoming)
    return {
        "now": utc_iso(now),
        "channels": [
            {
                "id": c.id,
                "required": c.required,
                "events": list(c.events),
                "except": list(c.except_),
                "min_severity": c.min_severity,
                "rehearsal": c.rehearsal is not None,
            }
            for c in runbook.comms.channels
        ]
        or [{"id": "log", "required": False}],
        "tiers": [
            {
                "tier": key,
                "anchor": t.anchor,
                "from": t.from_,
                "until": t.until,
                "every": t.every,
                "template": t.template,
            }
            for key, t in zip(cadence.tier_keys(tiers), tiers, strict=True)
        ],
        "sent": [dict(r) for r in comms],
        "failed": sum(1 for r in comms if not r.get("ok")),
        "due_now": due_now,
        "next": nxt,
        "upcoming": ahead,
    }


def _ahead(
    tiers: Sequence[models.CadenceTier], anc: cadence.Anchors, now: datetime, count: int
) -> list[dict[str, Any]]:
    """The next ``count`` slots after ``now``, looking ahead in growing windows (bounded)."""
    from datetime import timedelta

    horizon = timedelta(hours=1)
    for _ in range(8):  # 1h, 2h, 4h ... 128h: enough for any cadence a runbook declares
        later = [d for d in cadence.schedule(tiers, anc, now + horizon) if d.due_at > now]
        if len(later) >= count:
            break
        horizon *= 2
    return [d.as_dict() for d in later[:count]]
