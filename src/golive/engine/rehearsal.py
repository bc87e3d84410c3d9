"""Rehearsals in minutes: time scaling, stubs at the transport, and recording, as a run's settings.

A rehearsal may be scaled in time (``--time-scale 60`` or a wall-time budget): every wait, window, deadline,
cadence, ``at:`` and retry back-off runs on a :class:`golive.clock.ScaledClock`, and events carry scaled
times; the factor and the real anchor are recorded with the run, so any process that works on it later
(resume, hypercare, an act from another terminal) rebuilds the same clock and the real time of every event
can be recovered (``real = anchor + (scaled - anchor) / factor``).

A rehearsal may run against stubs (:mod:`golive.plugins.stubs`); a rehearsal or a dry-run may record what
the outside world answered into a stubs file. A live run refuses all three: it meets the real world at real
time. What was stubbed, what was called without a stub (each such call failed closed) and what messages
were held back is recorded at the end of the run as a ``rehearsal_report`` event.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive import clock as clock_mod
from golive import exceptions

if TYPE_CHECKING:
    from golive.plugins import stubs as stubs_mod

__all__ = [
    "RehearsalSettings",
    "act_transport",
    "clock_for",
    "outside_world",
    "settings_from_params",
    "time_scale_for_budget",
]

MAX_TIME_SCALE = 1_000_000.0


@dataclass(frozen=True)
class RehearsalSettings:
    """How a run meets time and the outside world."""

    time_scale: float | None = None
    anchor: str | None = None  # ISO UTC: where scaled and real time coincide
    stubs: stubs_mod.LoadedStubs | None = None
    record: str | None = None

    def check_mode(self, mode: str) -> None:
        """A live run refuses stubs, time scaling and recording; recording needs a rehearsal or a dry-run."""
        if mode != "rehearsal":
            what = [
                w
                for w, on in (("--time-scale", self.time_scale is not None), ("--stubs", self.stubs is not None))
                if on
            ]
            if what:
                raise exceptions.UsageError(
                    f"{' and '.join(what)} only with --mode rehearsal: {mode} meets the real world at real time"
                )
        if self.record is not None and mode not in ("rehearsal", "dry-run"):
            raise exceptions.UsageError(
                "--record only with --mode rehearsal or --mode dry-run (against staging): a live run records nothing"
            )
        if self.record is not None and self.stubs is not None:
            raise exceptions.UsageError("--record and --stubs together would record the stubs: choose one")
        if self.time_scale is not None and not 0 < self.time_scale <= MAX_TIME_SCALE:
            raise exceptions.UsageError(f"--time-scale {self.time_scale:g}: give a factor above 0 and at most 1000000")

    def params(self) -> dict[str, Any]:
        """What the run records of these settings (in its parameters and its run_created event)."""
        out: dict[str, Any] = {}
        if self.time_scale is not None and self.time_scale != 1.0:
            out["time_scale"] = self.time_scale
            out["anchor"] = self.anchor
        if self.stubs is not None:
            out["stubs"] = {"path": self.stubs.path, "sha256": self.stubs.digest}
        if self.record is not None:
            out["record"] = self.record
        return out

    def clock(self) -> clock_mod.Clock | None:
        if self.time_scale is None or self.time_scale == 1.0:
            return None
        anchor = clock_mod.parse_time(self.anchor) if self.anchor else None
        return clock_mod.ScaledClock(self.time_scale, anchor)


def new_settings(
    *,
    time_scale: float | None = None,
    stubs_path: str | Path | None = None,
    record: str | Path | None = None,
    now: datetime | None = None,
) -> RehearsalSettings:
    """Settings for a new run; the anchor of a scaled run is now."""
    anchor = clock_mod.utc_iso(now or datetime.now(UTC)) if time_scale not in (None, 1.0) else None
    loaded = None
    if stubs_path is not None:
        from golive.plugins import stubs as stubs_mod  # imported only by runs that use stubs: start-up

        loaded = stubs_mod.load_stubs(stubs_path)
    return RehearsalSettings(time_scale, anchor, loaded, str(record) if record is not None else None)


def settings_from_params(params: Mapping[str, Any], *, stubs_path: str | Path | None = None) -> RehearsalSettings:
    """The settings a run was created with, for resume and other processes.

    A stubbed run needs its stubs file again: the recorded path, or ``stubs_path`` (``--stubs``) when it moved;
    its digest must match the recorded one, so a resumed rehearsal answers as the first half did.
    """
    reh = dict(params.get("rehearsal") or {})
    loaded = None
    if reh.get("stubs"):
        from golive.plugins import stubs as stubs_mod

        want = reh["stubs"]
        path = stubs_path or want.get("path")
        loaded = stubs_mod.load_stubs(path)
        if loaded.digest != want.get("sha256"):
            raise exceptions.UsageError(
                f"stubs file {path} changed since the run started (sha256 {loaded.digest[:12]}…, the run recorded "
                f"{str(want.get('sha256'))[:12]}…): restore it, or start a new rehearsal"
            )
    return RehearsalSettings(reh.get("time_scale"), reh.get("anchor"), loaded, reh.get("record"))


def clock_for(params: Mapping[str, Any]) -> clock_mod.Clock | None:
    """The scaled clock of a run created with a time scale, or None for real time."""
    reh = dict(params.get("rehearsal") or {})
    if not reh.get("time_scale"):
        return None
    return RehearsalSettings(reh["time_scale"], reh.get("anchor")).clock()


def act_transport(settings: RehearsalSettings, clock: clock_mod.Clock | None = None) -> stubs_mod.StubTransport | None:
    """The stubs an act from another process meets (a recheck at a decision), for a stubbed rehearsal."""
    if settings.stubs is None:
        return None
    from golive.plugins import stubs as stubs_mod

    return stubs_mod.StubTransport(settings.stubs.stubs, clock or clock_mod.SystemClock(), source=settings.stubs.path)


def time_scale_for_budget(planned_seconds: float, budget_seconds: float) -> float:
    """The factor that fits a run planned to last ``planned_seconds`` into ``budget_seconds`` of real time."""
    if budget_seconds <= 0:
        raise exceptions.UsageError("--time-budget must be a positive duration, e.g. 2m")
    return max(1.0, planned_seconds / budget_seconds)


@contextlib.asynccontextmanager
async def outside_world(
    engine: Any, settings: RehearsalSettings
) -> AsyncIterator[stubs_mod.StubTransport | stubs_mod.Recorder | None]:
    """Run the engine inside this: the stubs (or the recorder) become the run's outside world.

    On the way out a stubbed run records a ``rehearsal_report`` event (calls answered, unstubbed calls,
    messages held back, the in-memory flags); a recording run writes its stubs file.
    """
    if settings.stubs is None and settings.record is None:
        yield None  # the real world: nothing to put in its place (and the stubs module is never imported)
        return
    from golive.plugins import stubs as stubs_mod

    transport: stubs_mod.StubTransport | None = None
    recorder: stubs_mod.Recorder | None = None
    if settings.stubs is not None:
        transport = stubs_mod.StubTransport(settings.stubs.stubs, engine.clock, source=settings.stubs.path)
    elif settings.record is not None:
        recorder = stubs_mod.Recorder(redact=engine.redactor.redact, clock=engine.clock)
    try:
        with stubs_mod.activate(transport, recorder):
            yield transport or recorder
    finally:
        if transport is not None:
            with contextlib.suppress(exceptions.StoreError):
                await engine.emit("rehearsal_report", **_redacted(engine, transport.summary()))
        if recorder is not None and settings.record is not None:
            path = recorder.write(settings.record)
            with contextlib.suppress(exceptions.StoreError):
                await engine.emit("rehearsal_report", recorded=str(path), calls=len(recorder.calls))


def _redacted(engine: Any, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = engine.redactor.redact_obj(data)
    return out
