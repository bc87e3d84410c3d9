"""golive: turn a production go-live runbook into code that runs.

The public Python API. Names are imported on first use, so ``import golive`` (and ``golive --help``) stays
cheap::

    import golive
    loaded = golive.load("runbook.yaml")
    store = golive.open_store(".golive/golive.db")
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ChainBroken",
    "Engine",
    "GoliveError",
    "Outcome",
    "Redactor",
    "Registry",
    "Result",
    "RuleRefused",
    "Runbook",
    "RunbookInvalid",
    "Store",
    "UsageError",
    "__version__",
    "create_run",
    "default_registry",
    "load",
    "open_run",
    "open_store",
    "summarize",
]

__version__ = "0.1.0"

_LAZY = {
    "ChainBroken": "golive.exceptions",
    "GoliveError": "golive.exceptions",
    "RuleRefused": "golive.exceptions",
    "RunbookInvalid": "golive.exceptions",
    "UsageError": "golive.exceptions",
    "Engine": "golive.engine.runner",
    "create_run": "golive.engine.handle",
    "open_run": "golive.engine.acts",
    "summarize": "golive.views.summary",
    "Outcome": "golive.results",
    "Result": "golive.results",
    "Redactor": "golive.redact",
    "Registry": "golive.plugins.registry",
    "default_registry": "golive.plugins.registry",
    "Runbook": "golive.spec.models",
    "load": "golive.spec.loader",
    "Store": "golive.store.base",
    "open_store": "golive.store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'golive' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
