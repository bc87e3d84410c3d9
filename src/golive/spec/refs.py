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
from collections.abc import Callable, Iterable, Iterator, Mapping
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


def _strings_with_refs(value: Any, path: list[str | int], out: list[tuple[tuple[str | int, ...], str]]) -> None:
    """:func:`walk_strings`, keeping only strings that hold ``${{``: the path of a string is made only when it
    does (a runbook's data is tens of thousands of values, a few thousand of them templated). dict, list and
    tuple are told apart with C-level checks before the (slower) Mapping check for other mappings."""
    if isinstance(value, str):
        if "${{" in value:
            out.append((tuple(path), value))
        return
    if isinstance(value, list | tuple):
        pairs: Iterable[tuple[Any, Any]] = enumerate(value)
        keyed = False
    elif isinstance(value, Mapping):
        pairs = value.items()
        keyed = True
    else:
        return
    for k, v in pairs:
        if isinstance(v, str):
            if "${{" in v:
                out.append(((*path, str(k) if keyed else k), v))
        elif isinstance(v, dict | list | tuple | Mapping):
            path.append(str(k) if keyed else k)
            _strings_with_refs(v, path, out)
            path.pop()


def scan(value: Any) -> Iterator[tuple[tuple[str | int, ...], Ref | RefError]]:
    """Every reference (or reference error) inside nested data, with the path of its string."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    _strings_with_refs(value, [], found)
    for path, s in found:
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
