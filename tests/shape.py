"""A run-time check of a value against the read model's TypedDicts (golive.views.model), for tests.

mypy checks the keys readers name; this checks that what ``summarize`` really returns has exactly the keys
the model declares (every required key, no key it does not know), recursing through lists, dicts, nested
views and optional values. It checks keys, not the types of leaf values.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin, get_type_hints

__all__ = ["shape_errors"]


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def shape_errors(value: Any, tp: Any, path: str = "summary") -> list[str]:
    """Every place where ``value`` does not have the keys ``tp`` declares, as ``path: what``."""
    if tp is Any or tp is object:
        return []
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        arms = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return [] if len(arms) < len(get_args(tp)) else [f"{path}: None where {tp} is expected"]
        found = [shape_errors(value, a, path) for a in arms]
        return [] if any(not f for f in found) else found[0]
    if _is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__} where {tp.__name__} is expected"]
        hints = get_type_hints(tp)
        errors = [f"{path}: unknown key {k!r}" for k in value if k not in hints]
        errors += [f"{path}: missing key {k!r}" for k in sorted(tp.__required_keys__) if k not in value]
        for k, v in value.items():
            if k in hints:
                errors += shape_errors(v, hints[k], f"{path}.{k}")
        return errors
    if origin is list and isinstance(value, list):
        (item,) = get_args(tp) or (Any,)
        return [e for i, v in enumerate(value) for e in shape_errors(v, item, f"{path}[{i}]")]
    if origin is dict and isinstance(value, dict):
        _, item = get_args(tp) or (Any, Any)
        return [e for k, v in value.items() for e in shape_errors(v, item, f"{path}[{k!r}]")]
    if origin in (list, dict):
        return [f"{path}: {type(value).__name__} where {origin.__name__} is expected"]
    return []
