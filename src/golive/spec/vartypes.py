"""Typed variables: what a ``--var``, a ``GOLIVE_VAR_<NAME>`` or an API ``vars`` value becomes.

A var declares ``type: string | bool | int | number | duration | url | sql``. A value given as text (the
CLI, the environment) is coerced to that type and checked; a value of the wrong shape is refused with the
var's name, the value and the fix, before anything runs. A var with no ``type`` takes the type of its
default (``true`` -> bool, ``3`` -> int, ``0.5`` -> number, anything else -> string), so a runbook written
before types existed reads as it did.

``sql`` (and ``promql``) marks a var that holds code on purpose (a query the runbook runs). It is the only
kind of value that may stand for SQL (PromQL) text; it may be set only by the runbook file or by whoever starts the run (the start
role), never by a step's output, a manual input or a later act, and the run records it as code.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from typing import Any, Literal, get_args

from golive.spec import durations

__all__ = ["CODE_TYPES", "TYPES", "VAR_ENV_PREFIX", "VarType", "coerce", "infer", "var_env_key"]

VarType = Literal["string", "bool", "int", "number", "duration", "url", "sql", "promql"]
TYPES: tuple[str, ...] = get_args(VarType)
CODE_TYPES = frozenset({"sql", "promql"})  # vars whose value is code by declaration
# Types whose values are plain literals (no quotes, no operators) once coerced: safe to stand in a
# numeric field (a duration, a threshold, a count) of the runbook itself.
LITERAL_TYPES = frozenset({"bool", "int", "number", "duration"})

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_INT = re.compile(r"^[+-]?\d{1,30}$")
MAX_VAR_CHARS = 64 * 1024  # characters in one var value; a var is a setting, not a payload
VAR_ENV_PREFIX = "GOLIVE_VAR_"  # environment variables that set vars (and that a command step never inherits)


def var_env_key(name: str) -> str:
    """The environment variable that sets a var: GOLIVE_VAR_<NAME>."""
    return VAR_ENV_PREFIX + name.upper().replace("-", "_").replace(".", "_")


def infer(default: Any) -> VarType:
    """The type of an untyped var, from its default."""
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "number"
    return "string"


def coerce(name: str, type_: VarType, value: Any) -> Any:
    """``value`` as a ``type_``; ValueError names the var, the value and the fix."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) > MAX_VAR_CHARS:
        raise ValueError(f"variable {name!r} is {len(value):,} characters long; the limit is {MAX_VAR_CHARS:,}")
    shown = repr(value) if not isinstance(value, str) or len(value) <= 80 else repr(value[:77] + "...")
    if type_ in ("string", "sql", "promql"):
        if isinstance(value, bool):
            return "true" if value else "false"
        if not isinstance(value, str | int | float):
            raise ValueError(f"variable {name!r} ({type_}) must be text, got {type(value).__name__}")
        if type_ in CODE_TYPES and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"variable {name!r} ({type_}) must be a non-empty query, got {shown}")
        return value if isinstance(value, str) else str(value)
    if type_ == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"variable {name!r} (bool) must be true or false (or yes/no, on/off, 1/0), got {shown}")
    if type_ == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.match(value.strip()):
            return int(value.strip())
        raise ValueError(f"variable {name!r} (int) must be a whole number such as 3, got {shown}")
    if type_ == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            number: float | int = value
        elif isinstance(value, str):
            text = value.strip()
            try:
                number = int(text) if _INT.match(text) else float(text)
            except ValueError:
                raise ValueError(f"variable {name!r} (number) must be a number such as 0.05, got {shown}") from None
        else:
            raise ValueError(f"variable {name!r} (number) must be a number such as 0.05, got {shown}")
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"variable {name!r} (number) must be a finite number, got {shown}")
        return number
    if type_ == "duration":
        if not isinstance(value, str):
            raise ValueError(f"variable {name!r} (duration) needs a unit, e.g. '{value}s' or '{value}m'")
        try:
            durations.parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"variable {name!r} (duration): {exc}") from None
        return value.strip().replace(" ", "")
    if type_ == "url":
        if not isinstance(value, str):
            raise ValueError(f"variable {name!r} (url) must be a URL such as https://api.example.com, got {shown}")
        text = value.strip()
        parts = urllib.parse.urlsplit(text)
        if (
            not parts.scheme
            or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme)
            or not (parts.netloc or parts.scheme == "file")
            or any(c.isspace() or ord(c) < 32 for c in text)
        ):
            raise ValueError(
                f"variable {name!r} (url) must be an absolute URL such as https://api.example.com, got {shown}"
            )
        return text
    raise ValueError(f"variable {name!r}: unknown type {type_!r}; use one of {', '.join(TYPES)}")
