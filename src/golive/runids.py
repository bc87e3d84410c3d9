"""Run ids: one pattern everywhere (CLI, API, store, evidence packs).

A run id names files (``evidence-<id>.zip``), URLs (``/api/v1/runs/<id>``) and log lines, so it is a plain
token: a letter or digit, then letters, digits, ``.``, ``_``, ``-``; at most 100 characters (no ``/``, so it
can never climb out of a directory).
"""

from __future__ import annotations

import re

from golive import exceptions

__all__ = ["PATTERN", "check"]

PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_RE = re.compile(PATTERN)


def check(run_id: str, flag: str = "--run-id") -> str:
    """``run_id`` if it fits the pattern, else UsageError (exit code 2) with the rule."""
    if not isinstance(run_id, str) or not _RE.match(run_id):
        raise exceptions.UsageError(
            f"{flag} {run_id!r}: a run id starts with a letter or digit and has only letters, digits, '.', '_' "
            "and '-' (at most 100 characters, no '..')"
        )
    return run_id
