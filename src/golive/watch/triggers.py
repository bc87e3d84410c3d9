"""Rollback triggers: one evaluator per trigger turns metric readings into a state.

A trigger reads its metric source every ``interval`` and applies, in this order:

1. **errors** -- a reading that is an error (the source failed, timed out or raised, or ``when`` could not
   be evaluated) counts as a consecutive error. At ``max_errors`` consecutive errors the trigger *fires*
   with the reason ``fails closed after N consecutive errors``: a watch that cannot see is not a pass.
   Fewer errors leave the breach streak as it was (unknown is neither a breach nor a recovery).
2. **no data** -- an empty result or NaN (``MetricReading.status == "no_data"``; never 0):

   - ``fail``   treats no data as a breach; ``for`` applies to it like to any breach, so with the default
     ``for: 0`` it fires at once.
   - ``ignore`` treats no data as ok: the breach streak resets.
   - ``hold``   changes nothing: the breach streak and the firing status stay as they were; the state
     shows ``held``.
3. **when** -- the condition on ``value`` (:func:`golive.expr.compile_condition`); true is a breach.
4. **for** -- a breach fires only once breaches have been seen at consecutive evaluations spanning at
   least ``for`` (measured on the monotonic clock from the first breach of the streak, with a slack of
   :data:`FOR_SLACK` of the interval so that scheduling jitter does not cost a whole extra interval).
   With ``for: 0`` the first breach fires.

A trigger *fires* once, on the evaluation where it becomes firing; it stays firing (without firing again)
until an ok evaluation (or ignored no data) clears it. Triggers without a source are raised by a person
through the engine (:meth:`TriggerEvaluator.fire`); :meth:`TriggerEvaluator.evaluate_once` on them reads
nothing.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from golive import clock as clock_mod
from golive import expr, results
from golive.spec import durations, models
from golive.watch import sources

__all__ = [
    "BASELINE_NAMES",
    "FOR_SLACK",
    "HISTORY_POINTS",
    "Evaluation",
    "ReadMetric",
    "SourceFactory",
    "TriggerEvaluator",
    "TriggerState",
    "compare",
    "plugin_source_factory",
]

HISTORY_POINTS = 120  # readings kept per trigger for the sparkline
BASELINE_NAMES = ("value", "baseline", "delta", "ratio", "delta_pts")  # what `when` sees with a baseline
FOR_SLACK = 0.1  # fraction of the interval forgiven when checking `for`
MAX_READ_TIMEOUT = 30.0  # seconds; a read never takes longer than min(interval, this) before it is an error
MIN_READ_TIMEOUT = 1.0  # seconds; a very short interval still gives the source this long

ReadMetric = sources.ReadMetric
"""Reads the trigger's metric once."""

SourceFactory = sources.SourceFactory
"""Makes the reader of a trigger's ``source`` (plugin and params); called once per evaluator."""


class TriggerState(enum.StrEnum):
    OK = "ok"  # the last reading was not a breach
    PENDING = "pending"  # breaching, but not yet for as long as `for`
    FIRING = "firing"  # fired: sustained breach, no data under `no_data: fail`, or too many errors
    NO_DATA = "no_data"  # no data, ignored (`no_data: ignore`)
    ERROR = "error"  # the last reading failed; fewer than `max_errors` in a row
    HELD = "held"  # no data under `no_data: hold`: everything kept as it was


class Evaluation(BaseModel):
    """One evaluation of one trigger: what was read and what it means."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger_id: str
    ts: datetime
    status: str  # the reading's: ok | no_data | error | manual
    value: float | None
    baseline: float | None = None  # the baseline's value, for a trigger with a baseline
    breached: bool | None  # None when unknown (an error, or held no data)
    state: TriggerState
    fired: bool  # this evaluation made the trigger fire
    consecutive_breaches: int
    consecutive_errors: int
    since: datetime  # when the trigger entered `state`
    breaching_since: datetime | None  # start of the current breach streak
    reason: str
    when: str | None
    then: str
    severity: str

    @property
    def stops_observe(self) -> bool:
        """True when a rollback or pause trigger is firing, newly or still (notify only informs).

        Still-firing counts too: a breach that began before an observation window must not let the
        window pass just because the trigger fired earlier.
        """
        return self.state is TriggerState.FIRING and self.then in ("rollback", "pause")

    def event_data(self) -> dict[str, Any]:
        """The JSON data of the ``trigger_evaluated`` / ``trigger_fired`` event for this evaluation."""
        return {
            "trigger_id": self.trigger_id,
            "trigger": self.trigger_id,  # the name the engine's state fold reads for fired triggers
            "ts": clock_mod.utc_iso(self.ts),
            "status": self.status,
            "value": self.value,
            **({"baseline": self.baseline} if self.baseline is not None else {}),
            "breached": self.breached,
            "state": self.state.value,
            "fired": self.fired,
            "consecutive_breaches": self.consecutive_breaches,
            "consecutive_errors": self.consecutive_errors,
            "since": clock_mod.utc_iso(self.since),
            "breaching_since": clock_mod.utc_iso(self.breaching_since) if self.breaching_since else None,
            "reason": self.reason,
            "when": self.when,
            "then": self.then,
            "severity": self.severity,
        }


class TriggerEvaluator:
    """Evaluates one trigger, keeping its streaks and a bounded history of readings."""

    def __init__(
        self,
        trigger: models.Trigger,
        source_factory: SourceFactory | None,
        clock: clock_mod.Clock,
        *,
        redact: Callable[[str], str] = lambda s: s,
        history_points: int = HISTORY_POINTS,
        read_timeout: float | None = None,
        baseline: ReadMetric | None = None,
    ) -> None:
        """``read_timeout`` (seconds) defaults to the interval, within [MIN_READ_TIMEOUT, MAX_READ_TIMEOUT].
        ``baseline`` reads the trigger's baseline (default: :func:`golive.watch.baselines.baseline_reader`
        without T-0 or an earlier run)."""
        self.trigger = trigger
        self.clock = clock
        self._redact = redact
        self.read_timeout = (
            read_timeout if read_timeout is not None else max(MIN_READ_TIMEOUT, min(trigger.interval, MAX_READ_TIMEOUT))
        )
        names = set(BASELINE_NAMES) if trigger.baseline is not None else {"value"}
        self._condition = expr.compile_condition(trigger.when, names=names) if trigger.when else None
        self._baseline: ReadMetric | None = None
        if trigger.source is not None:
            if source_factory is None:
                raise ValueError(f"trigger {trigger.id!r} has a source; a source_factory is needed to read it")
            self._read: ReadMetric | None = source_factory(trigger.source)
            if trigger.baseline is not None:
                if baseline is None:
                    from golive.watch import baselines

                    baseline = baselines.baseline_reader(trigger, source_factory, now=clock.now)
                self._baseline = baseline
        else:
            self._read = None
        self.history: deque[tuple[float, float | None]] = deque(maxlen=history_points)
        self._breaches = 0
        self._errors = 0
        self._breach_start: float | None = None  # monotonic seconds
        self._breach_start_at: datetime | None = None
        self._firing = False
        self._state = TriggerState.OK
        self._since = clock.now()
        self._last: Evaluation | None = None
        self._base_value: float | None = None

    # -- read-only views --
    @property
    def id(self) -> str:
        return self.trigger.id

    @property
    def manual(self) -> bool:
        """True for a trigger raised by a person (no metric source)."""
        return self._read is None

    @property
    def interval(self) -> float:
        return self.trigger.interval

    @property
    def firing(self) -> bool:
        return self._firing

    @property
    def last(self) -> Evaluation | None:
        """The latest evaluation, if any."""
        return self._last

    def continue_firing(self, since: datetime) -> None:
        """Take up a firing state that an earlier reader of this trigger left (an earlier engine of the same run,
        read back from its log): the trigger stays firing without firing again until a reading clears it."""
        self._firing = True
        self._state = TriggerState.FIRING
        self._since = since

    def reset(self) -> None:
        """Forget streaks and the firing status (e.g. after the IC decided to continue and wants re-arming)."""
        self._breaches = 0
        self._errors = 0
        self._breach_start = None
        self._breach_start_at = None
        self._firing = False
        self._set_state(TriggerState.OK, self.clock.now())

    # -- evaluation --
    async def evaluate_once(self) -> Evaluation:
        """Read the source once and apply errors, no_data, when and for. A manual trigger reads nothing."""
        if self._read is None:
            now = self.clock.now()
            return self._make(now, "manual", None, None, "raised by a person; nothing to read", fired=False)
        if self._baseline is None:
            return self.apply(await self._safe_read(self._read))
        reading, base = await asyncio.gather(self._safe_read(self._read), self._safe_read(self._baseline))
        return self.apply(reading, base)

    def apply(self, reading: results.MetricReading, baseline: results.MetricReading | None = None) -> Evaluation:
        """Apply one reading (already taken; with the baseline's when the trigger has one) to the trigger's
        state; the pure core of evaluate_once."""
        now = self.clock.now()
        mono = self.clock.monotonic()
        t = self.trigger
        if reading.status == "ok" and reading.value is not None and math.isnan(reading.value):
            reading = results.MetricReading.no_data("value is NaN")
        self._base_value = None
        if t.baseline is not None and reading.status == "ok":
            if baseline is None:
                baseline = results.MetricReading.failed("the baseline was not read")
            if baseline.status == "ok" and baseline.value is not None and math.isnan(baseline.value):
                baseline = results.MetricReading.no_data("value is NaN")
            if baseline.status == "error":
                reading = results.MetricReading.failed(f"baseline: {baseline.error}")
            elif baseline.status == "no_data" or baseline.value is None:
                reading = results.MetricReading.no_data(f"baseline: {baseline.error or 'empty result'}")

        if reading.status not in ("ok", "no_data"):
            return self._on_error(now, reading.error or f"reading status {reading.status!r}")

        if reading.status == "no_data":
            self._errors = 0
            self.history.append((now.timestamp(), None))
            why = reading.error or "empty result"
            if t.no_data == "ignore":
                self._clear(now)
                self._set_state(TriggerState.NO_DATA, now)
                return self._make(now, "no_data", None, False, f"no data ({why}); ignored", fired=False)
            if t.no_data == "hold":
                self._set_state(TriggerState.HELD, now)
                return self._make(
                    now, "no_data", None, None, f"no data ({why}); holding the previous state", fired=False
                )
            return self._on_breach(now, mono, "no_data", None, f"no data ({why}) and no_data is 'fail'")

        value = reading.value
        assert value is not None  # status ok always carries a value
        self.history.append((now.timestamp(), value))
        if self._condition is None:
            return self._on_error(now, "the trigger has a source but no 'when' condition")
        names: dict[str, float] = {"value": value}
        if t.baseline is not None:
            assert baseline is not None
            assert baseline.value is not None
            names = compare(value, baseline.value)
            self._base_value = baseline.value
        try:
            breached = self._condition.evaluate(names)
        except expr.ConditionError as exc:
            return self._on_error(now, exc.message, value=value)
        self._errors = 0
        if not breached:
            self._clear(now)
            self._set_state(TriggerState.OK, now)
            return self._make(now, "ok", value, False, f"{_fmt(value)}: `{t.when}` is false", fired=False)
        return self._on_breach(now, mono, "ok", value, f"{_fmt(value)}: `{t.when}` is true")

    def fire(self, reason: str, actor: str | None = None) -> Evaluation:
        """Fire the trigger by hand (a person raised it); returns the firing evaluation."""
        now = self.clock.now()
        who = f" by {actor}" if actor else ""
        fired = not self._firing
        self._firing = True
        self._set_state(TriggerState.FIRING, now)
        return self._make(now, "manual", None, True, f"raised{who}: {reason}", fired=fired)

    # -- internals --
    async def _safe_read(self, read: ReadMetric | None) -> results.MetricReading:
        assert read is not None
        timeout = self.read_timeout
        try:
            async with asyncio.timeout(timeout):
                reading = await read()
        except TimeoutError:
            return results.MetricReading.failed(f"the metric source did not answer within {timeout:g}s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a plugin bug or a network error is an error reading, never a pass
            return results.MetricReading.failed(f"{type(exc).__name__}: {exc}")
        if not isinstance(reading, results.MetricReading):
            return results.MetricReading.failed(f"the metric source returned {type(reading).__name__}, not a reading")
        return reading

    def _on_error(self, now: datetime, why: str, value: float | None = None) -> Evaluation:
        self._errors += 1
        why = self._redact(why)
        limit = self.trigger.max_errors
        if self._errors >= limit:
            fired = not self._firing
            self._firing = True
            self._set_state(TriggerState.FIRING, now)
            return self._make(
                now,
                "error",
                value,
                None,
                f"fails closed after {self._errors} consecutive error{'s' if self._errors > 1 else ''}: {why}",
                fired=fired,
            )
        self._set_state(TriggerState.ERROR, now)
        return self._make(now, "error", value, None, f"error {self._errors} of {limit}: {why}", fired=False)

    def _on_breach(self, now: datetime, mono: float, status: str, value: float | None, why: str) -> Evaluation:
        self._breaches += 1
        if self._breach_start is None:
            self._breach_start = mono
            self._breach_start_at = now
        sustained = mono - self._breach_start + FOR_SLACK * self.trigger.interval
        if sustained >= self.trigger.for_:
            fired = not self._firing
            self._firing = True
            self._set_state(TriggerState.FIRING, now)
            held = f" for {_dur(mono - self._breach_start)}" if self.trigger.for_ > 0 else ""
            return self._make(now, status, value, True, f"{why}{held}", fired=fired)
        self._set_state(TriggerState.FIRING if self._firing else TriggerState.PENDING, now)
        return self._make(
            now,
            status,
            value,
            True,
            f"{why}; breaching for {_dur(mono - self._breach_start)} of {_dur(self.trigger.for_)}",
            fired=False,
        )

    def _clear(self, now: datetime) -> None:
        self._breaches = 0
        self._breach_start = None
        self._breach_start_at = None
        self._firing = False

    def _set_state(self, state: TriggerState, now: datetime) -> None:
        if state is not self._state:
            self._state = state
            self._since = now

    def _make(
        self, now: datetime, status: str, value: float | None, breached: bool | None, reason: str, *, fired: bool
    ) -> Evaluation:
        t = self.trigger
        ev = Evaluation(
            trigger_id=t.id,
            ts=now,
            status=status,
            value=value,
            baseline=self._base_value,
            breached=breached,
            state=self._state,
            fired=fired,
            consecutive_breaches=self._breaches,
            consecutive_errors=self._errors,
            since=self._since,
            breaching_since=self._breach_start_at,
            reason=reason,
            when=t.when,
            then=t.then,
            severity=t.severity,
        )
        self._last = ev
        return ev


def compare(value: float, baseline: float) -> dict[str, float]:
    """The names a condition with a baseline sees: ``value``, ``baseline``, ``delta`` (value - baseline),
    ``ratio`` (value / baseline; 1 when both are 0, infinite when only the baseline is) and ``delta_pts``
    (the delta in percentage points, for rates as fractions: 0.97 vs 0.99 is -2)."""
    ratio = value / baseline if baseline != 0 else 1.0 if value == 0 else math.copysign(math.inf, value)
    return {
        "value": value,
        "baseline": baseline,
        "delta": value - baseline,
        "ratio": ratio,
        "delta_pts": (value - baseline) * 100.0,
    }


def _fmt(value: float) -> str:
    return f"value {value:.6g}"


_dur = durations.format_duration


def plugin_source_factory(
    registry: Any | None = None,
    *,
    context: Callable[[str, Any], Any] | None = None,
    render: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> SourceFactory:
    """A :data:`SourceFactory` that reads through a registered ``metric`` plugin.

    ``registry`` defaults to :func:`golive.plugins.registry.default_registry`. ``render`` fills run-time
    references in ``with`` (vars, secrets) before validation. ``context(name, params)`` builds the
    :class:`golive.plugins.base.StepContext` the plugin reads with; the default has the system clock.
    An unknown plugin or bad params raise :class:`golive.exceptions.UsageError` when the factory is
    called (when the evaluator is built), not mid-watch.
    """
    from pydantic import ValidationError

    from golive import exceptions
    from golive.plugins import base
    from golive.plugins import registry as registry_mod

    reg = registry or registry_mod.default_registry()

    def factory(ref: models.MetricRef) -> ReadMetric:
        cls = reg.get("metric", ref.type)
        if cls is None:
            known = ", ".join(reg.names("metric")) or "none installed"
            raise exceptions.UsageError(f"unknown metric source {ref.type!r} (known: {known})")
        raw = dict(render(ref.with_) if render else ref.with_)
        try:
            params = cls.params.model_validate(raw)
        except ValidationError as exc:
            raise exceptions.UsageError(f"metric source {ref.type!r}: invalid 'with': {exc}") from None
        plugin = cls()
        if not isinstance(plugin, base.MetricSource):
            raise exceptions.PluginError(f"plugin {ref.type!r} is not a metric source")
        ctx = context(ref.type, params) if context else base.StepContext(params=params, step_id=f"metric:{ref.type}")

        async def read() -> results.MetricReading:
            return await plugin.read(ctx)

        return read

    return factory
