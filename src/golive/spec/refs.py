"""Template references: ``${{ vars.x }}``, ``${{ secrets.y }}``, ``${{ steps.<id>.output.<path> }}``.

A reference is a dotted path into one of these roots:

- ``vars.<name>``                       a declared variable (after --var and environment overrides)
- ``secrets.<name>``                    a declared secret, resolved at run time, always redacted
- ``steps.<id>.output[.<path>]``        the output of an earlier step (dict keys or list indexes)
- ``steps.<id>.outcome``                ``pass``, ``fail``, ...
- ``steps.<id>.inputs.<name>``          what a person entered when confirming a manual step
- ``release.tag|sha``, ``run.id|mode|started_at``, ``roles.<role>`` (the holder's name), ``env.<NAME>``

They are checked when the runbook loads (:func:`scan`) and rendered when a step runs (:func:`render`).
A string that is exactly one reference keeps the referenced value's type (an int stays an int).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from golive.exceptions import RefError

__all__ = ["ROOTS", "Ref", "RefError", "find_refs", "render", "scan"]

PATTERN = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_.-]*|\[\d+\])*$")
ROOTS = ("vars", "secrets", "steps", "release", "run", "roles", "env")


@dataclass(frozen=True, slots=True)
class Ref:
    text: str  # the expression inside ${{ }}
    parts: tuple[str, ...]

    @property
    def root(self) -> str:
        return self.parts[0]


def _split(expr: str) -> tuple[str, ...]:
    parts: list[str] = []
    for chunk in expr.replace("]", "").split("."):
        for i, piece in enumerate(chunk.split("[")):
            if piece or i == 0:
                parts.append(piece)
    return tuple(parts)


def find_refs(text: str) -> Iterator[Ref]:
    """Every ``${{ }}`` reference in a string; malformed ones raise RefError."""
    for m in PATTERN.finditer(text):
        expr = m.group(1)
        if not expr:
            raise RefError("empty reference '${{ }}'")
        if not _PATH.match(expr):
            raise RefError(f"malformed reference '${{{{ {expr} }}}}': write a dotted path such as vars.base_url")
        parts = _split(expr)
        if parts[0] not in ROOTS:
            raise RefError(f"unknown reference root {parts[0]!r} in '${{{{ {expr} }}}}': use one of {', '.join(ROOTS)}")
        yield Ref(expr, parts)


def walk_strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string inside nested dicts/lists, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from walk_strings(v, (*path, str(k)))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from walk_strings(v, (*path, i))


def scan(value: Any) -> Iterator[tuple[tuple[str | int, ...], Ref | RefError]]:
    """Every reference (or reference error) inside nested data, with the path of its string."""
    for path, s in walk_strings(value):
        if "${{" not in s:
            continue
        try:
            for ref in find_refs(s):
                yield path, ref
        except RefError as exc:
            yield path, exc


def lookup(root: Any, parts: tuple[str, ...], expr: str) -> Any:
    cur = root
    for p in parts:
        if isinstance(cur, Mapping) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list | tuple) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise RefError(f"'${{{{ {expr} }}}}' does not resolve: no {p!r}")
    return cur


def render(value: Any, resolve: Callable[[Ref], Any]) -> Any:
    """Replace every reference inside nested data. ``resolve`` returns a reference's value."""
    if isinstance(value, str):
        if "${{" not in value:
            return value
        m = PATTERN.fullmatch(value.strip())
        # fullmatch lets the lazy group stretch over '}}:${{', so "${{ a }}:${{ b }}" would match whole.
        if m and "${{" not in m.group(1):
            return resolve(next(find_refs(value)))
        return PATTERN.sub(lambda mm: _to_text(resolve(next(find_refs(mm.group(0))))), value)
    if isinstance(value, Mapping):
        return {k: render(v, resolve) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render(v, resolve) for v in value]
    return value


def _to_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)
