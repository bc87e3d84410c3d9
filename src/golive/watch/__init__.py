"""Watching and rolling back: trigger evaluation, observation windows and the hypercare scheduler.

The engine builds one :class:`TriggerEvaluator` per trigger, runs observe steps with
:func:`golive.watch.observe.observe` (the module ``observe`` is exported, not the function, so the
name stays the module's) and hypercare with :class:`HypercareRunner`; the rollback itself, flags and run state are the engine's.

The names below are imported on first use: the run state needs only ``golive.watch.samples``, and a
pre-flight (no triggers, no hypercare) should not pay for importing the watchers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from golive.watch import hypercare, observe, triggers
    from golive.watch.hypercare import CheckRecord, HypercareRunner, TickResult, control_summary, schedule
    from golive.watch.observe import ObserveResult
    from golive.watch.triggers import Evaluation, TriggerEvaluator, TriggerState, plugin_source_factory

# name -> (module, attribute or None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "hypercare": ("golive.watch.hypercare", None),
    "observe": ("golive.watch.observe", None),
    "triggers": ("golive.watch.triggers", None),
    "CheckRecord": ("golive.watch.hypercare", "CheckRecord"),
    "HypercareRunner": ("golive.watch.hypercare", "HypercareRunner"),
    "TickResult": ("golive.watch.hypercare", "TickResult"),
    "control_summary": ("golive.watch.hypercare", "control_summary"),
    "schedule": ("golive.watch.hypercare", "schedule"),
    "ObserveResult": ("golive.watch.observe", "ObserveResult"),
    "Evaluation": ("golive.watch.triggers", "Evaluation"),
    "TriggerEvaluator": ("golive.watch.triggers", "TriggerEvaluator"),
    "TriggerState": ("golive.watch.triggers", "TriggerState"),
    "plugin_source_factory": ("golive.watch.triggers", "plugin_source_factory"),
}

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


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'golive.watch' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value
