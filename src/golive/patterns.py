"""Runbook regular expressions, on RE2: time linear in the text, whatever the pattern.

Python's ``re`` backtracks: ``^(a+)+$`` against ``aaaa…!`` takes exponential time, holds the GIL, and no
timeout can interrupt it. Every pattern a runbook gives (``expect.stdout``, an HTTP body or header pattern, a
log pattern, a manual input's ``pattern``, ``matches()`` in a condition) runs on RE2 through Google's own
binding (`google-re2 <https://pypi.org/project/google-re2/>`_), which guarantees time linear in the input and
bounded memory. RE2 has no backreferences or lookaround; such a pattern is refused when the runbook loads,
with the reason.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

from golive.exceptions import PatternError

__all__ = ["MAX_PATTERN_CHARS", "PatternError", "check", "compile", "fullmatch", "search"]

MAX_PATTERN_CHARS = 4096  # characters in one pattern; a runbook pattern is a line, not a program
MAX_PROGRAM_MEMORY = 8 * 1024 * 1024  # bytes RE2 may use for one compiled pattern (its default)


def _options() -> Any:
    opts = re2.Options()
    opts.log_errors = False  # the error is raised (and reported with file:line), not printed to stderr
    opts.max_mem = MAX_PROGRAM_MEMORY
    return opts


@functools.lru_cache(maxsize=4096)
def compile(pattern: str, *, multiline: bool = False) -> Any:  # the module is a small `re`
    """The compiled pattern; :class:`PatternError` names the problem."""
    if not isinstance(pattern, str):
        raise PatternError(f"a pattern must be text, got {type(pattern).__name__}")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"pattern is {len(pattern):,} characters long; the limit is {MAX_PATTERN_CHARS:,}")
    source = f"(?m){pattern}" if multiline else pattern
    try:
        return re2.compile(source, _options())
    except re2.error as exc:
        why = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = ""
        if "(?<" in pattern or "(?=" in pattern or "(?!" in pattern or "\\1" in pattern or "invalid escape" in why:
            hint = " (golive runs patterns on RE2, in linear time: no lookaround or backreferences)"
        raise PatternError(f"regex {pattern!r} is not valid: {why}{hint}") from None


def check(pattern: str, *, multiline: bool = False) -> None:
    """Raise :class:`PatternError` (a ValueError) when ``pattern`` cannot run; for validators."""
    compile(pattern, multiline=multiline)


def search(pattern: str, text: str, *, multiline: bool = False) -> Any:
    """The first match of ``pattern`` in ``text``, or None."""
    return compile(pattern, multiline=multiline).search(text)


def fullmatch(pattern: str, text: str) -> Any:
    """A match of ``pattern`` over the whole of ``text``, or None."""
    return compile(pattern).fullmatch(text)
