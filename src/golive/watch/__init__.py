"""Watching and rolling back: trigger evaluation, observation windows and the hypercare scheduler.

The engine builds one :class:`TriggerEvaluator` per trigger, runs observe steps with
:func:`golive.watch.observe.observe` (the module ``observe`` is exported, not the function, so the
name stays the module's) and hypercare with :class:`HypercareRunner`; the rollback itself, flags and run state are the engine's.
"""

from __future__ import annotations

from golive.watch import hypercare, observe, triggers
from golive.watch.hypercare import CheckRecord, HypercareRunner, TickResult, control_summary, schedule
from golive.watch.observe import ObserveResult
from golive.watch.triggers import Evaluation, TriggerEvaluator, TriggerState, plugin_source_factory

__all__ = [
    "CheckRecord",
    "Evaluation",
    "HypercareRunner",
    "ObserveResult",
    "TickResult",
    "TriggerEvaluator",
    "TriggerState",
    "control_summary",
    "hypercare",
    "observe",
    "plugin_source_factory",
    "schedule",
    "triggers",
]
