"""The public API is explicit: golive.__all__ is pinned, and every name in it resolves."""

from __future__ import annotations

import golive

EXPECTED = {
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
}


def test_all_is_pinned() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert set(golive.__all__) == EXPECTED


def test_every_exported_name_resolves() -> None:
    """Each name in __all__ is importable from the package."""
    for name in golive.__all__:
        assert getattr(golive, name) is not None, name
