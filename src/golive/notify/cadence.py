"""The update cadence: when status updates are due, as pure functions of the tiers, the run's anchors and
what was already sent.

A tier speaks every ``every`` inside its window, measured from its anchor (the run's start or the GO
decision). Its slots are ``anchor + from + k*every`` for k = 1, 2, ...; the window is **(from, until]**:
the update at a tier's start belongs to the tier before it, the one at its end to the tier itself. So the
seed's "every 30m for the first 2 hours" sends at 30, 60, 90 and 120 minutes after GO (4 updates) and
"hourly to 24 hours" at 3h, 4h, ..., 24h (22 updates).

A run is complete when it finished, or, when it passed with a GO and has hypercare, when its hypercare
ends (:func:`complete_at`): status updates go on through hypercare (``golive hypercare`` sends them).

A tier without ``until`` runs until its anchor's end, and that end is **exclusive**, because a milestone
message goes out at that moment anyway: a start-anchored tier stops at GO (the GO announcement replaces
the update) or at the run's end; a GO-anchored tier stops at the run's end. Nothing is due after the run
ended, and a GO-anchored tier says nothing until there is a GO.

Slots are on a fixed grid from the anchor; checkpoint messages do not move it, so the schedule a reader
sees in advance is the one that happens. When updates were missed (golive was down), only the latest
missed slot of each tier is sent, with the count of the ones it replaces: nobody wants five stale status
updates in a row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from golive.spec import models

__all__ = [
    "DEFAULT_CADENCE",
    "Anchors",
    "Due",
    "complete_at",
    "due",
    "last_sent",
    "next_due",
    "schedule",
    "tier_keys",
    "tiers_for",
]

_EPS = 1e-6  # seconds; float slack so that 2h / 30m counts 4 slots, not 3.999...

# The payments seed's plan: every 15m during the cutover, every 30m for the first 2 hours after GO, then
# hourly to 24 hours. Used when a runbook's comms section says nothing about cadence (`cadence: []`
# turns status updates off).
DEFAULT_CADENCE: tuple[models.CadenceTier, ...] = tuple(
    models.CadenceTier.model_validate(t)
    for t in (
        {"name": "cutover", "anchor": "start", "every": "15m"},
        {"name": "first-2h", "anchor": "go", "from": "0s", "until": "2h", "every": "30m"},
        {"name": "2h-24h", "anchor": "go", "from": "2h", "until": "24h", "every": "1h"},
    )
)


@dataclass(frozen=True, slots=True)
class Anchors:
    """The moments a cadence is measured from. ``go`` and ``end`` are None until they happen."""

    start: datetime
    go: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Due:
    """One status update slot."""

    tier: str  # the tier's key (its name, or tier-N)
    slot: int  # 1-based number of the update within its tier
    due_at: datetime
    anchor: str  # "start" or "go"
    elapsed: float  # seconds from the anchor to due_at
    template: str
    channels: tuple[str, ...]
    missed: int = 0  # earlier slots of this tier never sent, which this one replaces

    def as_dict(self) -> dict[str, Any]:
        from golive.clock import utc_iso

        return {
            "tier": self.tier,
            "slot": self.slot,
            "due_at": utc_iso(self.due_at),
            "anchor": self.anchor,
            "elapsed": self.elapsed,
            "template": self.template,
            "channels": list(self.channels),
            "missed": self.missed,
        }


def complete_at(
    runbook: models.Runbook, go: datetime | None, finished: datetime | None, passed: bool
) -> datetime | None:
    """When the run is complete, for the cadence: a run that passed with a GO and has hypercare is complete
    when its hypercare ends (the last tier's ``until`` or the last report, after GO), so status updates go
    on through hypercare; any other run when it finished. None while it runs."""
    if finished is None:
        return None
    hc = runbook.hypercare
    lengths = [t.until for t in hc.tiers] + [r.at for r in hc.reports]
    if passed and go is not None and lengths:
        return max(finished, go + timedelta(seconds=max(lengths)))
    return finished


def tiers_for(comms: models.Comms) -> tuple[models.CadenceTier, ...]:
    """The runbook's tiers; :data:`DEFAULT_CADENCE` when its comms section does not mention cadence."""
    return comms.cadence if "cadence" in comms.model_fields_set else DEFAULT_CADENCE


def tier_keys(tiers: Sequence[models.CadenceTier]) -> list[str]:
    """A stable key per tier: its name, or ``tier-N``; a repeated name gets ``-N`` so keys stay unique."""
    keys: list[str] = []
    for i, tier in enumerate(tiers):
        key = tier.name or f"tier-{i + 1}"
        if key in keys:
            key = f"{key}-{i + 1}"
        keys.append(key)
    return keys


def _window(tier: models.CadenceTier, anchors: Anchors) -> tuple[datetime, float, float] | None:
    """(anchor time, last slot offset allowed inclusive, exclusive bound offset) or None if inactive."""
    if tier.anchor == "go":
        if anchors.go is None:
            return None
        base = anchors.go
        implicit_end = anchors.end
    else:
        base = anchors.start
        implicit_end = anchors.go or anchors.end
    until = tier.until if tier.until is not None else math.inf
    hard = math.inf
    if tier.until is None and implicit_end is not None:
        hard = (implicit_end - base).total_seconds()
    if anchors.end is not None:  # nothing after the run ended, whatever the tier says
        hard = min(hard, (anchors.end - base).total_seconds())
    return base, until, hard


def _max_slot(tier: models.CadenceTier, until: float, hard: float, upto: float) -> int:
    """The highest k whose offset from+k*every is <= until and <= upto, and < hard."""
    k = math.inf
    if until != math.inf:
        k = math.floor((until - tier.from_) / tier.every + _EPS)
    if upto != math.inf:
        k = min(k, math.floor((upto - tier.from_) / tier.every + _EPS))
    if hard != math.inf:
        k = min(k, math.ceil((hard - tier.from_) / tier.every - _EPS) - 1)
    if k == math.inf:
        raise ValueError("an unbounded cadence tier needs an upper time")
    return max(0, int(k))


def _slot(key: str, tier: models.CadenceTier, base: datetime, k: int, missed: int = 0) -> Due:
    offset = tier.from_ + k * tier.every
    return Due(
        tier=key,
        slot=k,
        due_at=base + timedelta(seconds=offset),
        anchor=tier.anchor,
        elapsed=offset,
        template=tier.template,
        channels=tier.channels,
        missed=missed,
    )


def _tops(
    tiers: Sequence[models.CadenceTier], anchors: Anchors, at: datetime
) -> Iterator[tuple[str, models.CadenceTier, datetime, int]]:
    """Per tier that has a window: its key, the tier, its base time and its highest slot at or before ``at``."""
    for key, tier in zip(tier_keys(tiers), tiers, strict=True):
        win = _window(tier, anchors)
        if win is None:
            continue
        base, until, hard = win
        yield key, tier, base, _max_slot(tier, until, hard, (at - base).total_seconds())


def _in_time_order(slots: Iterable[Due]) -> list[Due]:
    return sorted(slots, key=lambda d: (d.due_at, d.tier))


def schedule(tiers: Sequence[models.CadenceTier], anchors: Anchors, upto: datetime) -> list[Due]:
    """Every slot up to ``upto`` (inclusive), in time order: the plan as it stands."""
    return _in_time_order(
        _slot(key, tier, base, k) for key, tier, base, top in _tops(tiers, anchors, upto) for k in range(1, top + 1)
    )


def due(tiers: Sequence[models.CadenceTier], anchors: Anchors, sent: Mapping[str, int], now: datetime) -> list[Due]:
    """The updates to send now: per tier, the latest slot at or before ``now`` newer than the last sent
    (``sent``: tier key -> highest slot sent, see :func:`last_sent`)."""
    return _in_time_order(
        _slot(key, tier, base, top, missed=top - sent.get(key, 0) - 1)
        for key, tier, base, top in _tops(tiers, anchors, now)
        if top > sent.get(key, 0)
    )


def next_due(
    tiers: Sequence[models.CadenceTier], anchors: Anchors, sent: Mapping[str, int], now: datetime
) -> Due | None:
    """The next update: one due now and not sent, else the earliest slot after ``now``; None when no
    tier will speak again (or a GO-anchored tier waits for a GO that has not happened)."""
    pending = due(tiers, anchors, sent, now)
    if pending:
        return pending[0]
    best: Due | None = None
    for key, tier in zip(tier_keys(tiers), tiers, strict=True):
        win = _window(tier, anchors)
        if win is None:
            continue
        base, until, hard = win
        offset = (now - base).total_seconds()
        k = max(sent.get(key, 0), math.floor((offset - tier.from_) / tier.every + _EPS)) + 1
        k = max(k, 1)
        last = _max_slot(tier, until, hard, math.inf) if (until != math.inf or hard != math.inf) else k
        if k > last:
            continue
        cand = _slot(key, tier, base, k)
        if best is None or cand.due_at < best.due_at:
            best = cand
    return best


def last_sent(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Tier key -> highest slot sent, from comms records (``comms_sent`` event data). A slot counts as
    sent once it was attempted, delivered or not: retries already happened, and repeating a stale update
    later helps nobody."""
    out: dict[str, int] = {}
    for rec in records:
        tier = rec.get("tier")
        slot = rec.get("slot")
        if isinstance(tier, str) and isinstance(slot, int):
            out[tier] = max(out.get(tier, 0), slot)
    return out
