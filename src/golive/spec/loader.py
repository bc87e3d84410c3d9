"""Load a runbook file into a validated :class:`~golive.spec.models.Runbook`, or say everything wrong with it.

Every problem found in one pass is reported as ``file:line:column: field.path: message`` with a suggestion
for near misses. The loader never lets another exception type out: for any input it returns a runbook or
raises :class:`golive.exceptions.RunbookInvalid` (exit code 2).

Stages: size limit -> decode (UTF-8) -> libyaml parse events straight into plain data with a position map
(line:column; no node tree, bounded events and values) -> version check -> shape (pydantic) -> plugin params -> cross-field rules -> references.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import functools
import gc
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from golive import __version__, exceptions
from golive.spec import codecheck, durations, models, refs, vartypes

__all__ = [
    "LoadedRunbook",
    "decode_text",
    "load",
    "load_text",
    "resolve_vars",
    "resolve_vars_with_sources",
    "var_env_key",
]

Loc = tuple[str | int, ...]
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


_SAFE_KEYS = ("secret", "password", "token", "api_key", "apikey", "authorization", "private")
CONDITION_NAMES = frozenset({"vars", "steps"})  # what a step's or a phase's `if:` may read
# Aliases can make a tiny file expand into billions of values ("billion laughs"); a 2,000-step runbook
# has about 40,000, so this bound only stops abuse.
MAX_YAML_VALUES = 600_000  # values built from one file, aliases expanded (20,000 steps: about 400,000)
# Limits checked as the file is read and parsed (no node tree is ever composed): a runbook over them is refused
# at the cost of the limit, whatever it holds. A 20,000-step runbook is about 3 MiB and 550,000 events.
MAX_RUNBOOK_BYTES = 16 * 1024 * 1024  # bytes of one runbook file
MAX_YAML_EVENTS = 900_000  # YAML parse events (scalars, collection starts and ends) of one file
MAX_SCALAR_CHARS = 1024 * 1024  # characters of one value; a runbook value is a line or a paragraph


@dataclass(frozen=True)
class LoadedRunbook:
    """A valid runbook with where it came from."""

    runbook: models.Runbook
    path: str
    text: str
    digest: str  # sha256 of the file bytes
    vars: dict[str, Any] = field(default_factory=dict)  # resolved: defaults < environment < --var
    var_sources: dict[str, str] = field(default_factory=dict)  # name -> runbook | environment | start


# --- YAML with positions ---------------------------------------------------------------------------


class _Builder:
    """Plain data and a position map, built straight from libyaml's parse events.

    No node tree is composed: a node keeps two position marks and costs about 1 KB, several times the
    data it becomes, so a 20,000-step runbook would need ~170 MB for nodes alone. The limits (events, values
    with alias expansion, characters of one value) are checked as the events arrive, so an oversized
    document is refused at the cost of the limit, not of the input.

    Every event is read by :meth:`_next` and turned into a value by :meth:`_value`; the common case (a plain
    or quoted string without a tag or an anchor) is decided there without a node, a constructor or the
    resolver's regular expressions.
    """

    def __init__(self, text: str, file: str, problems: list[exceptions.Problem]) -> None:
        self.file = file
        self.problems = problems
        self.pos: dict[Loc, tuple[int, int]] = {}
        # Keys of a {flow, mapping} that have no value: `{title: Deploy, smoke}` reads `smoke` as a key, the
        # usual sign of a comma in an unquoted value.
        self.flow_bare_keys: set[Loc] = set()
        self.parser = _Loader(text)  # libyaml's parser with the safe resolver
        self._get_event = self.parser.get_event
        self.constructor = yaml.constructor.SafeConstructor()
        self.events = 0  # parse events read, bounded by MAX_YAML_EVENTS
        self.count = 0  # values built, aliases expanded, bounded by MAX_YAML_VALUES
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, values it holds)
        self.open: set[str] = set()  # anchors being built (an alias to one of them is recursive)
        # A plain scalar whose first character no implicit resolver (null, bool, int, float, timestamp, merge,
        # value) starts with is a string: the resolver would try no pattern on it. Not when path resolvers
        # are registered (PyYAML's safe loader has none): then every scalar goes through the resolver.
        resolvers = self.parser.yaml_implicit_resolvers
        self._plain_str_first = None if self.parser.yaml_path_resolvers else frozenset(resolvers)

    def close(self) -> None:
        self.parser.dispose()

    def _next(self) -> Any:
        event = self._get_event()
        self.events += 1
        if self.events > MAX_YAML_EVENTS:
            self._too_many_events(event)
        return event

    def _too_many_events(self, event: Any) -> None:
        self._problem(event, (), f"more than {MAX_YAML_EVENTS:,} YAML nodes; a runbook is never this big (split it)")
        raise exceptions.RunbookInvalid(self.problems)

    def document(self) -> tuple[bool, Any]:
        """(found, value) of the only document; more than one is a problem."""
        self._next()  # stream start
        if self.parser.check_event(yaml.StreamEndEvent):
            return False, None
        self._next()  # document start
        value = self.build(())
        self._next()  # document end
        if not self.parser.check_event(yaml.StreamEndEvent):
            self._next()  # the second document's start; its first node is where a person looks
            self._problem(self.parser.peek_event(), (), "more than one YAML document; put one runbook per file")
            raise exceptions.RunbookInvalid(self.problems)
        return True, value

    def _counted(self, event: Any, loc: Loc, n: int) -> None:
        self.count += n
        if self.count > MAX_YAML_VALUES:
            self._problem(
                event, loc, f"more than {MAX_YAML_VALUES:,} values (aliases expanding?); a runbook is never this big"
            )
            raise exceptions.RunbookInvalid(self.problems)

    def build(self, loc: Loc) -> Any:
        return self._value(self._next(), loc)

    def _value(self, event: Any, loc: Loc) -> Any:
        """The value that starts with ``event`` (already read), its position recorded at ``loc``."""
        mark = event.start_mark
        if loc not in self.pos:
            self.pos[loc] = (mark.line + 1, mark.column + 1)
        cls = type(event)
        if cls is yaml.AliasEvent:
            name = event.anchor
            if name in self.open:
                self._problem(event, loc, "this alias refers to a value that contains it; write the value out")
                return None
            if name not in self.anchors:
                self._problem(event, loc, f"alias *{name} names no anchor (&{name}) before it")
                return None
            value, size = self.anchors[name]
            self._counted(event, loc, size)
            return value
        before = self.count
        self.count = before + 1
        if self.count > MAX_YAML_VALUES:
            self._counted(event, loc, 0)  # refuses, naming this value
        anchor = event.anchor
        if cls is yaml.ScalarEvent:
            value = event.value
            first = self._plain_str_first
            if (
                first is not None
                and anchor is None
                and event.tag is None
                and len(value) <= MAX_SCALAR_CHARS
                and (not event.implicit[0] or (value and value[0] not in first))
            ):
                return value  # a string, as the resolver and SafeConstructor.construct_yaml_str would give it
        if anchor:
            self.open.add(anchor)
        try:
            if cls is yaml.ScalarEvent:
                value = self._scalar(event, loc)
            elif cls is yaml.MappingStartEvent:
                value = self._mapping(loc, flow=bool(event.flow_style))
            else:
                value = self._sequence(loc)
        finally:
            if anchor:
                self.open.discard(anchor)
        if anchor:
            self.anchors[anchor] = (value, self.count - before)
        return value

    def _sequence(self, loc: Loc) -> list[Any]:
        out: list[Any] = []
        while True:
            event = self._next()
            if type(event) is yaml.SequenceEndEvent:
                return out
            out.append(self._value(event, (*loc, len(out))))

    def _mapping(self, loc: Loc, flow: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pos = self.pos
        while True:
            key_event = self._get_event()
            self.events += 1
            cls = type(key_event)
            if cls is not yaml.ScalarEvent and cls is not yaml.MappingEndEvent:
                self._problem(key_event, loc, "a mapping key must be a plain string")
            if self.events > MAX_YAML_EVENTS:
                self._too_many_events(key_event)
            if cls is yaml.MappingEndEvent:
                return out
            if cls is not yaml.ScalarEvent:
                self._value(key_event, (*loc, "<key>"))
                self.build((*loc, "<value>"))
                continue
            key = str(key_event.value)
            kmark: Any = key_event.start_mark
            if key == "<<" and key_event.implicit[0]:
                self._problem(key_event, loc, "YAML merge keys ('<<') are not supported; write the fields out")
                self.build((*loc, "<merge>"))
                continue
            here = (*loc, key)
            if key in out:
                self._problem(key_event, here, f"duplicate key {key!r} (the first is at line {pos[here][0]})")
                self.build((*loc, "<duplicate>"))
                continue
            pos[here] = (kmark.line + 1, kmark.column + 1)
            if flow:
                nxt = self.parser.peek_event()
                if type(nxt) is yaml.ScalarEvent and nxt.value == "" and nxt.implicit[0]:
                    self.flow_bare_keys.add(here)
            out[key] = self._value(self._next(), here)

    def _scalar(self, event: Any, loc: Loc) -> Any:
        value = event.value
        if len(value) > MAX_SCALAR_CHARS:
            self._problem(
                event,
                loc,
                f"this value is {len(value):,} characters long; the limit is {MAX_SCALAR_CHARS:,} "
                "(keep big content in a file and name its path)",
            )
            return None
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.parser.resolve(yaml.ScalarNode, value, event.implicit)
        if tag == _STR_TAG:  # most values; what SafeConstructor.construct_yaml_str returns
            return value
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        try:
            return self.constructor.construct_object(node, deep=True)
        except Exception as exc:  # libyaml and the constructor raise several types for odd scalars
            # A MarkedYAMLError's str() repeats the position as '<unicode string>, line 2'; keep the problem.
            self._problem(event, loc, f"cannot read this value: {getattr(exc, 'problem', None) or exc}")
            return None
        finally:
            # The constructor remembers every node it built (for anchors it never sees here): forget them, or
            # each scalar's node and marks would live as long as the load.
            self.constructor.constructed_objects.clear()

    def _problem(self, event: Any, loc: Loc, message: str) -> None:
        mark = event.start_mark
        self.problems.append(exceptions.Problem(self.file, mark.line + 1, mark.column + 1, fmt_loc(loc), message))


def fmt_loc(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# --- helpers ----------------------------------------------------------------------------------------


def suggest(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'qa'?)`` for the closest option, case aside (`QA` is a near miss of `qa`), or ""."""
    opts = [str(o) for o in options]
    word = str(word)
    same_but_case = [o for o in opts if o.lower() == word.lower() and o != word]
    if same_but_case:
        return f" (did you mean {same_but_case[0]!r}?)"
    by_lower = {o.lower(): o for o in opts}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[match[0]]!r}?)" if match else ""


def _what(value: Any) -> str:
    """How a YAML value reads to a person: 'a list', 'text', 'a number'."""
    import datetime

    if value is None:
        return "nothing (null)"
    for types, name in (
        (bool, "a boolean"),
        (int | float, "a number"),
        (str, "text"),
        (list, "a list"),
        (dict, "a mapping"),
        (datetime.date, "a date"),
    ):
        if isinstance(value, types):
            return name
    return type(value).__name__


def _items(value: Any) -> list[Any]:
    """A list field's items, or none when it is not a list (the shape check already reported that)."""
    return value if isinstance(value, list) else []


class _Ctx:
    def __init__(self, file: str, pos: dict[Loc, tuple[int, int]], problems: list[exceptions.Problem]) -> None:
        self.file = file
        self.pos = pos
        self.problems = problems
        self.var_types: Mapping[str, str] = {}  # declared (or implied) type of each var
        self.flow_bare_keys: set[Loc] = set()  # see _Builder.flow_bare_keys

    def where(self, loc: Loc) -> tuple[int, int]:
        probe = tuple(loc)
        while probe:
            if probe in self.pos:
                return self.pos[probe]
            probe = probe[:-1]
        return self.pos.get((), (1, 1))

    def add(self, loc: Loc, message: str) -> None:
        line, col = self.where(loc)
        self.problems.append(exceptions.Problem(self.file, line, col, fmt_loc(loc), message))


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that owns the field at loc (for suggestions)."""
    import typing

    cur: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            return None
        fields = {f.alias or n: f for n, f in cur.model_fields.items()}
        f = fields.get(str(part))
        if f is None:
            return cur
        ann = f.annotation
        nxt: Any = None
        stack = [ann]
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                nxt = t
                break
            args = typing.get_args(t)
            origin = typing.get_origin(t)
            if origin is dict and len(args) == 2:
                stack.append(args[1])
            else:
                stack.extend(args)
        cur = nxt
    return cur if isinstance(cur, type) and issubclass(cur, BaseModel) else None


_UNION_TAGS = re.compile(
    r"^(int|str|float|bool|none|list\[.*\]|dict\[.*\]|tuple\[.*\]|function-.*|[A-Z][A-Za-z]+|literal\[.*\]|lax-or-strict.*|json-or-python.*)$"
)


def _clean_loc(loc: Loc, data: Any) -> Loc:
    """Drop pydantic's union-member tags from a location, keeping only real keys and indexes."""
    out: list[str | int] = []
    cur = data
    for part in loc:
        if isinstance(part, int):
            if isinstance(cur, list) and part < len(cur):
                cur = cur[part]
                out.append(part)
            continue
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
            out.append(part)
        elif part == "[key]" or _UNION_TAGS.match(part):
            continue
        else:
            out.append(part)
            cur = None
    return tuple(out)


def _pydantic_problems(ctx: _Ctx, exc: ValidationError, data: Any, base: Loc, model: type[BaseModel]) -> None:
    seen: set[Loc] = set()
    # A value the YAML builder already refused (bad tag, recursive alias) reaches pydantic as null; one
    # problem per field is enough.
    reported = {p.path for p in ctx.problems}
    errors = exc.errors(include_url=False)
    cleaned = [_clean_loc(tuple(e["loc"]), data) for e in errors]
    for err, loc in zip(errors, cleaned, strict=True):
        if err["type"] == "too_short" and any(len(o) > len(loc) and o[: len(loc)] == loc for o in cleaned):
            continue  # a list emptied by its own items' errors; those errors say more

        full = (*base, *loc)
        kind = err["type"]
        msg = err["msg"]
        got = _what(err.get("input"))
        if "[key]" in err["loc"]:  # the key of a mapping is wrong, not its value
            if kind == "string_pattern_mismatch":
                msg = f"name {err['input']!r} must start with a letter and use only letters, digits, '_', '-', '.'"
            elif kind in ("enum", "literal_error"):
                expected = re.findall(r"'([^']+)'", str(err.get("ctx", {}).get("expected", "")))
                msg = f"unknown key {err['input']!r}{suggest(str(err['input']), expected)}; expected one of {', '.join(expected)}"
        elif kind == "extra_forbidden":
            owner = _model_at(model, loc[:-1])
            options = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
            msg = f"unknown field {loc[-1]!r}{suggest(str(loc[-1]), options)}"
            if full in ctx.flow_bare_keys:
                msg += (
                    f"; in {{...}} a comma ends a value: if the value before {loc[-1]!r} holds a comma, quote it "
                    f'("..., {loc[-1]}")'
                )
        elif kind in ("enum", "literal_error"):
            expected = re.findall(r"'([^']+)'", str(err.get("ctx", {}).get("expected", "")))
            what = "step kind" if loc and loc[-1] == "kind" else f"value for {loc[-1]!r}" if loc else "value"
            msg = f"unknown {what} {err['input']!r}{suggest(str(err['input']), expected)}; expected one of {', '.join(expected)}"
        elif kind == "missing":
            msg = f"missing required field {loc[-1]!r}" if loc else "missing field"
        elif kind.startswith("value_error"):
            msg = msg.removeprefix("Value error, ")
        elif kind == "string_pattern_mismatch" and loc and loc[-1] == "id":
            msg = f"id {err['input']!r} must start with a letter and use only letters, digits, '_', '-', '.'"
        elif kind in ("tuple_type", "list_type"):
            msg = f"expected a list ('- item' lines or [a, b]), got {got}"
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            msg = f"expected a mapping ('key: value' lines), got {got}"
        elif kind == "string_type":
            msg = f"expected text, got {got}" + ("; quote it" if got in ("a number", "a date", "a boolean") else "")
        elif kind.startswith(("datetime_", "date_")):
            msg = f"expected an ISO 8601 date-time with a timezone, e.g. '2026-03-01T10:00:00Z', got {err['input']!r}"
        elif kind == "too_short":
            least = err.get("ctx", {}).get("min_length", 1)
            msg = f"must not be empty: give at least {least} item{'s' if least != 1 else ''}"
        if (full in seen and kind not in ("extra_forbidden",)) or fmt_loc(full) in reported:
            continue
        seen.add(full)
        ctx.add(full, msg)


# --- vars -----------------------------------------------------------------------------------------


def resolve_vars(
    runbook: models.Runbook,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Variable values: defaults, then GOLIVE_VAR_<NAME> from the environment, then --var overrides.

    Each value is coerced to its var's type (:mod:`golive.spec.vartypes`); a value that does not fit is a
    UsageError naming the var and the fix.
    """
    return resolve_vars_with_sources(runbook, overrides, environ)[0]


def resolve_vars_with_sources(
    runbook: models.Runbook,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`resolve_vars` and where each value came from: ``runbook``, ``environment`` or ``start``."""
    values = runbook.var_defaults()
    sources = dict.fromkeys(values, "runbook")
    env = os.environ if environ is None else environ
    for name in runbook.vars:
        key = var_env_key(name)
        if key in env:
            if runbook.var_type(name) in vartypes.CODE_TYPES:
                raise exceptions.UsageError(
                    f"{key}: variable {name!r} is declared 'type: {runbook.var_type(name)}' (it holds code), so "
                    f"it is taken only from the runbook or from --var when the run starts; unset {key}"
                )
            values[name] = env[key]
            sources[name] = "environment"
    for name, value in (overrides or {}).items():
        if name not in runbook.vars:
            raise exceptions.UsageError(
                f"--var {name}: the runbook declares no variable {name!r}{suggest(name, runbook.vars)}; "
                f"declared: {', '.join(sorted(runbook.vars)) or 'none'}"
            )
        values[name] = value
        sources[name] = "start"
    missing = [
        n for n, v in runbook.vars.items() if isinstance(v, models.Var) and v.required and values.get(n) in (None, "")
    ]
    if missing:
        raise exceptions.UsageError(
            f"required variable(s) without a value: {', '.join(missing)}; pass --var NAME=VALUE or set "
            + ", ".join(var_env_key(m) for m in missing)
        )
    for name, value in list(values.items()):
        if value == "" and sources[name] == "runbook":
            continue  # an empty default is "not set"; required vars were checked above
        try:
            values[name] = vartypes.coerce(name, runbook.var_type(name), value)
        except ValueError as exc:
            flag = {"start": f"--var {name}", "environment": var_env_key(name)}.get(sources[name], f"vars.{name}")
            raise exceptions.UsageError(f"{flag}: {exc}") from None
    return values, sources


var_env_key = vartypes.var_env_key


# Fields of the runbook itself (not plugin params) that may take a typed var: durations, thresholds, counts.
LITERAL_FIELDS = frozenset(
    {
        "duration",
        "timeout",
        "expected",
        "deadline",
        "every",
        "interval",
        "for",
        "retries",
        "attempts",
        "backoff",
        "max_backoff",
        "factor",
        "concurrency",
        "default_timeout",
        "decision_deadline",
        "min_coverage",
        "max_errors",
        "from",
        "until",
        "times_per_day",
    }
)
_EXACT_VAR = re.compile(r"^\s*\$\{\{\s*vars\.([A-Za-z][A-Za-z0-9_.-]*)\s*\}\}\s*$")
_VAR_IN_TEXT = re.compile(r"\$\{\{\s*vars\.([A-Za-z][A-Za-z0-9_.-]*)\s*\}\}")


def _raw_var_types(data: Mapping[str, Any]) -> dict[str, str]:
    raw = data.get("vars")
    out: dict[str, str] = {}
    if not isinstance(raw, dict):
        return out
    for name, v in raw.items():
        if isinstance(v, dict):
            t = v.get("type")
            out[name] = t if isinstance(t, str) and t in vartypes.TYPES else vartypes.infer(v.get("default"))
        else:
            out[name] = vartypes.infer(v)
    return out


def _literal_var_values(
    data: Mapping[str, Any], overrides: Mapping[str, Any] | None, environ: Mapping[str, str] | None
) -> dict[str, Any]:
    """The values of literal-typed vars (bool, int, number, duration), as far as they can be read now."""
    raw = data.get("vars")
    if not isinstance(raw, dict):
        return {}
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name, type_ in _raw_var_types(data).items():
        if type_ not in vartypes.LITERAL_TYPES:
            continue
        v = raw[name]
        value = v.get("default") if isinstance(v, dict) else v
        if var_env_key(name) in env:
            value = env[var_env_key(name)]
        if overrides and name in overrides:
            value = overrides[name]
        try:
            out[name] = vartypes.coerce(name, type_, value)  # type: ignore[arg-type]  # checked: in TYPES
        except ValueError as exc:
            if overrides and name in overrides:
                raise exceptions.UsageError(f"--var {name}: {exc}") from None
            continue  # resolve_vars reports it with the environment variable or the default that set it
    return out


def _fill_literal_vars(ctx: _Ctx, data: Any, values: Mapping[str, Any], types: Mapping[str, str], loc: Loc) -> None:
    """Put typed vars into the runbook's own duration, threshold and count fields (not into plugin params).

    ``duration: "${{ vars.observe_for }}"`` takes the var's value when its type is duration, int, number or
    bool; a trigger's ``when`` may compare with one (``value > ${{ vars.max_error_rate }}``). Any other var
    there is refused with the fix: such a field holds a number, never text that could be code.
    """
    if isinstance(data, list):
        for i, item in enumerate(data):
            _fill_literal_vars(ctx, item, values, types, (*loc, i))
        return
    if not isinstance(data, dict):
        return
    for key, value in list(data.items()):
        if key == "with" or key == "vars":
            continue  # plugin params are rendered when the step runs; vars are the source
        here = (*loc, key)
        if isinstance(value, dict | list):
            _fill_literal_vars(ctx, value, values, types, here)
            continue
        if not isinstance(value, str) or "${{" not in value:
            continue
        if key in LITERAL_FIELDS:
            m = _EXACT_VAR.match(value)
            name = m.group(1) if m else None
            if name is None or types.get(name) not in vartypes.LITERAL_TYPES:
                ctx.add(
                    here,
                    f"{key!r} takes a duration or a number; a var there must be the whole value and declared "
                    f"'type: duration', 'int' or 'number' (got {value.strip()!r})",
                )
            elif name in values:
                data[key] = values[name]
        elif key == "when" and len(loc) >= 2 and loc[0] == "triggers":

            def literal(m: re.Match[str]) -> str:
                name = m.group(1)
                if types.get(name) not in vartypes.LITERAL_TYPES or name not in values:
                    return m.group(0)  # refused below
                v = values[name]
                if types[name] == "duration":
                    v = durations.parse_duration(v)
                return repr(v)

            filled = _VAR_IN_TEXT.sub(literal, value)
            if "${{" in filled:
                ctx.add(
                    here,
                    "a trigger's 'when' may use only vars declared 'type: int', 'number', 'duration' or 'bool' "
                    "(a threshold); declare the var so",
                )
            else:
                data[key] = filled


# --- plugin params ----------------------------------------------------------------------------------


def _render_vars_only(value: Any, var_values: Mapping[str, Any]) -> Any:
    def resolve(ref: refs.Ref) -> Any:
        if ref.root == "vars" and len(ref.parts) == 2 and ref.parts[1] in var_values:
            v = var_values[ref.parts[1]]
            return "${{ " + ref.text + " }}" if v is None else v
        return "${{ " + ref.text + " }}"

    try:
        return refs.render(value, resolve)
    except refs.RefError:
        return value


def _check_params(
    ctx: _Ctx, registry: Any, kind: str, type_name: Any, params: Any, loc: Loc, var_values: Mapping[str, Any]
) -> None:
    if not isinstance(type_name, str):
        return
    plugin = registry.get(kind, type_name)
    label = {
        "check": "check type",
        "action": "action type",
        "metric": "metric source",
        "flag": "flag provider",
        "secret": "secret provider",
    }[kind]
    if plugin is None:
        names = registry.names(kind)
        ctx.add(
            (*loc[:-1], "type" if kind in ("check", "action", "metric", "flag") else "provider"),
            f"unknown {label} {type_name!r}{suggest(type_name, names)}; available: {', '.join(names) or 'none'}",
        )
        return
    if params is None:
        params = {}
    if not isinstance(params, dict):
        ctx.add(loc, f"must be a mapping of {type_name} params")
        return
    # Values are data, never code: a reference inside shell, SQL, PromQL, a JSON path, a condition or a regex.
    for where, message in codecheck.problems(plugin.params, params, ctx.var_types, loc):
        ctx.add(where, message)
    rendered = _render_vars_only(params, var_values)
    try:
        plugin.params.model_validate(rendered)
    except ValidationError as exc:
        sub: list[exceptions.Problem] = []
        inner = _Ctx(ctx.file, ctx.pos, sub)
        _pydantic_problems(inner, exc, rendered, loc, plugin.params)
        for p in sub:
            sub_loc = tuple(_parse_path(p.path[len(fmt_loc(loc)) :]))
            # A field that still holds a reference once variables are filled in (a secret, a step's output, a
            # variable without a value) is checked when the step runs; one made of variables is checked now.
            after = _get(rendered, sub_loc)
            if isinstance(after, str) and "${{" in after:
                continue
            raw = _get(params, sub_loc)
            if isinstance(raw, str) and "${{" in raw:
                p = exceptions.Problem(p.file, p.line, p.column, p.path, f"{p.message} (from {raw.strip()})")
            ctx.problems.append(p)


def _parse_path(text: str) -> list[str | int]:
    out: list[str | int] = []
    for m in re.finditer(r"\.?([^.\[\]]+)|\[(\d+)\]", text):
        out.append(int(m.group(2)) if m.group(2) is not None else m.group(1))
    return out


def _get(data: Any, loc: Loc) -> Any:
    cur = data
    for p in loc:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
            continue
        if isinstance(cur, list) and isinstance(p, int) and p < len(cur):
            cur = cur[p]
            continue
        return None
    return cur


# --- cross-field rules ------------------------------------------------------------------------------


def _sections(data: dict[str, Any]) -> list[tuple[str, Loc, list[Any]]]:
    """(section id, loc of its steps list, steps) for phases, rollback and hypercare."""
    out: list[tuple[str, Loc, list[Any]]] = []
    for i, ph in enumerate(_items(data.get("phases"))):
        if isinstance(ph, dict) and isinstance(ph.get("steps"), list):
            out.append((str(ph.get("id", f"phases[{i}]")), ("phases", i, "steps"), ph["steps"]))
    rb = data.get("rollback")
    if isinstance(rb, dict):
        for key in ("steps", "confirm"):
            if isinstance(rb.get(key), list):
                out.append((f"rollback.{key}" if key == "confirm" else "rollback", ("rollback", key), rb[key]))
    hc = data.get("hypercare")
    if isinstance(hc, dict) and isinstance(hc.get("checks"), list):
        out.append(("hypercare", ("hypercare", "checks"), hc["checks"]))
    return out


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m in graph and state.get(m) is None:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for node in graph:
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def _routing_events(templates: Mapping[str, Any]) -> set[str]:
    """The names a channel's ``events`` / ``except`` may use."""
    from golive.spec import comms

    return comms.known_events(str(k) for k in templates)


def _cross_checks(ctx: _Ctx, data: dict[str, Any], registry: Any, var_values: Mapping[str, Any]) -> None:
    ctx.var_types = _raw_var_types(data)
    roles = data.get("roles") if isinstance(data.get("roles"), dict) else {}
    declared_roles = set(roles or {})
    vars_ = set(data.get("vars") or {}) if isinstance(data.get("vars"), dict) else set()
    secrets = data.get("secrets") if isinstance(data.get("secrets"), dict) else {}
    phases = [p for p in _items(data.get("phases")) if isinstance(p, dict)]
    phase_ids = [str(p.get("id")) for p in phases if p.get("id") is not None]
    triggers = (
        [t for t in _items(data.get("triggers")) if isinstance(t, dict)]
        if isinstance(data.get("triggers"), list)
        else []
    )
    trigger_ids = {str(t.get("id")) for t in triggers}
    comms = data.get("comms") if isinstance(data.get("comms"), dict) else {}
    channel_ids = {"log"} | {str(c.get("id")) for c in _items((comms or {}).get("channels")) if isinstance(c, dict)}
    signoff = data.get("signoff") if isinstance(data.get("signoff"), dict) else {}
    area_ids = {str(a.get("id")) for a in _items((signoff or {}).get("areas")) if isinstance(a, dict)}
    hypercare = data.get("hypercare") if isinstance(data.get("hypercare"), dict) else {}
    report_ids = {str(r.get("id")) for r in _items((hypercare or {}).get("reports")) if isinstance(r, dict)}

    # step ids, sections, order
    step_section: dict[str, str] = {}
    step_order: dict[str, int] = {}
    section_index = {pid: i for i, pid in enumerate(phase_ids)}
    seen_phase: dict[str, Loc] = {}
    for i, ph in enumerate(phases):
        pid = ph.get("id")
        if isinstance(pid, str):
            if pid in seen_phase:
                ctx.add(("phases", i, "id"), f"duplicate phase id {pid!r} (also phases[{seen_phase[pid][1]}])")
            seen_phase[pid] = ("phases", i)
    sections = _sections(data)
    step_kind: dict[str, str] = {}
    for sec_id, loc, steps in sections:
        for j, st in enumerate(steps):
            if not isinstance(st, dict) or not isinstance(st.get("id"), str):
                continue
            sid = st["id"]
            step_kind.setdefault(sid, str(st.get("kind")))
            if sid in step_section:
                ctx.add((*loc, j, "id"), f"duplicate step id {sid!r} (already used in {step_section[sid]})")
                continue
            if sid in seen_phase:
                ctx.add((*loc, j, "id"), f"step id {sid!r} is also a phase id; ids must be unique")
            step_section[sid] = sec_id
            step_order[sid] = section_index.get(sec_id, len(phase_ids) + 1)

    def check_role(loc: Loc, role: Any) -> None:
        if role is None or not isinstance(role, str):
            return
        if role not in declared_roles:
            ctx.add(loc, f"undeclared role {role!r}{suggest(role, declared_roles)}; declare it under 'roles:'")

    def check_quorum(loc: Loc, q: Any) -> None:
        """The roles and steps a quorum names must exist (its shape is the model's)."""
        if not isinstance(q, dict):
            return
        for key in ("of", "not"):
            for k, role in enumerate(_items(q.get(key)) or []):
                check_role((*loc, key, k), role)
        for k, sid in enumerate(_items(q.get("not_performers_of")) or []):
            if isinstance(sid, str) and sid not in step_section:
                ctx.add(
                    (*loc, "not_performers_of", k),
                    f"unknown step {sid!r}{suggest(sid, list(step_section))}; name a step whose performer may not "
                    "approve",
                )

    settings_ = data.get("settings") if isinstance(data.get("settings"), dict) else {}
    check_quorum(("settings", "waiver_quorum"), (settings_ or {}).get("waiver_quorum"))

    ancestors: dict[str, set[str]] = {}
    for sec_id, loc, steps in sections:
        local = {st.get("id"): st for st in steps if isinstance(st, dict) and isinstance(st.get("id"), str)}
        graph: dict[str, list[str]] = {}
        for j, st in enumerate(steps):
            if not isinstance(st, dict):
                continue
            sid = st.get("id")
            sloc = (*loc, j)
            check_role((*sloc, "role"), st.get("role"))
            for qkey in ("quorum", "waiver_quorum"):
                check_quorum((*sloc, qkey), st.get(qkey))
            if "every" in st and sec_id != "hypercare":
                ctx.add(
                    (*sloc, "every"),
                    "'every' belongs to hypercare checks; a step of a phase or of the rollback runs once",
                )
            needs = _items(st.get("needs"))
            if isinstance(needs, list):
                graph[str(sid)] = [n for n in needs if isinstance(n, str)]
                for k, need in enumerate(needs):
                    if not isinstance(need, str):
                        continue
                    if need == sid:
                        ctx.add((*sloc, "needs", k), f"step {sid!r} needs itself")
                    elif need not in local:
                        where = step_section.get(need)
                        hint = (
                            f"; {need!r} is in {where!r}, and phases already run in order, so drop it"
                            if where
                            else suggest(need, [str(k) for k in local])
                        )
                        ctx.add(
                            (*sloc, "needs", k),
                            f"unknown step {need!r} in needs (needs name steps of this phase){hint}",
                        )
            if isinstance(st.get("if"), str):
                _check_expression(ctx, (*sloc, "if"), st["if"], CONDITION_NAMES)
            kind = st.get("kind")
            if kind == "check" and st.get("type") == models.JUDGE_CHECK:
                _check_judge(ctx, registry, st.get("with"), (*sloc, "with"), var_values, check=True)
            elif kind in ("check", "action") and "type" in st:
                _check_params(ctx, registry, str(kind), st.get("type"), st.get("with"), (*sloc, "with"), var_values)
            if kind == "observe" and isinstance(st.get("judge"), dict):
                _check_judge(ctx, registry, st.get("judge"), (*sloc, "judge"), var_values, check=False)
            if kind == "decision":
                for key in ("requires", "requires_strict"):
                    for k, req in enumerate(_items(st.get(key))):
                        if isinstance(req, str) and req not in step_section and req not in seen_phase:
                            ctx.add(
                                (*sloc, key, k),
                                f"decision {key} unknown step or phase {req!r}"
                                f"{suggest(req, [*step_section, *seen_phase])}",
                            )
                for k, rid in enumerate(_items(st.get("recheck"))):
                    if not isinstance(rid, str):
                        continue
                    target = step_kind.get(rid)
                    if target is None:
                        ctx.add(
                            (*sloc, "recheck", k),
                            f"recheck names unknown step {rid!r}{suggest(rid, [s for s, kd in step_kind.items() if kd == 'check'])}",
                        )
                    elif target != "check" or step_section.get(rid) not in seen_phase:
                        ctx.add(
                            (*sloc, "recheck", k),
                            f"recheck names {rid!r}, a {target} step{'' if target != 'check' else ' outside the phases'}; "
                            "recheck runs check steps of the phases again (kind: check)",
                        )
            if kind == "observe":
                for k, tid in enumerate(_items(st.get("triggers"))):
                    if isinstance(tid, str) and tid not in trigger_ids:
                        ctx.add((*sloc, "triggers", k), f"unknown trigger {tid!r}{suggest(tid, trigger_ids)}")
            if kind == "notify":
                for k, ch in enumerate(_items(st.get("channels"))):
                    if isinstance(ch, str) and ch not in channel_ids:
                        ctx.add((*sloc, "channels", k), f"unknown channel {ch!r}{suggest(ch, channel_ids)}")
        cycle = _find_cycle(graph)
        if cycle:
            first = cycle[0]
            j = next((j for j, st in enumerate(steps) if isinstance(st, dict) and st.get("id") == first), 0)
            ctx.add((*loc, j, "needs"), f"cycle in needs: {' -> '.join(cycle)}")
        else:
            for sid in graph:
                acc: set[str] = set()
                todo = list(graph.get(sid, []))
                while todo:
                    n = todo.pop()
                    if n not in acc:
                        acc.add(n)
                        todo.extend(graph.get(n, []))
                ancestors[sid] = acc

    for i, ph in enumerate(phases):
        if isinstance(ph.get("if"), str):
            _check_expression(ctx, ("phases", i, "if"), ph["if"], CONDITION_NAMES)

    # roles named elsewhere
    settings = data.get("settings") if isinstance(data.get("settings"), dict) else {}
    for key in ("waiver_roles", "rollback_roles"):
        for k, r in enumerate(_items((settings or {}).get(key))):
            check_role(("settings", key, k), r)
    rb = data.get("rollback") if isinstance(data.get("rollback"), dict) else {}
    for k, r in enumerate(_items((rb or {}).get("roles"))):
        check_role(("rollback", "roles", k), r)
    restore = (rb or {}).get("restore_flags")
    if isinstance(restore, dict) and isinstance(restore.get("after"), str):
        plan_steps = [str(s.get("id")) for s in _items((rb or {}).get("steps")) if isinstance(s, dict)]
        if restore["after"] not in plan_steps:
            ctx.add(
                ("rollback", "restore_flags", "after"),
                f"restore_flags after unknown rollback step {restore['after']!r}{suggest(restore['after'], plan_steps)}; "
                f"name one of rollback.steps: {', '.join(plan_steps) or 'none declared'}",
            )
    if restore is not None and restore != "never" and not isinstance(data.get("flags"), dict):
        ctx.add(("rollback", "restore_flags"), "restore_flags needs a 'flags:' section (there are no flags to restore)")
    seen_follow: set[str] = set()
    for k, fu in enumerate(_items((rb or {}).get("follow_up"))):
        fid = fu.get("id") if isinstance(fu, dict) else f"follow-up-{k + 1}"
        if isinstance(fu, dict):
            check_role(("rollback", "follow_up", k, "role"), fu.get("role"))
        if isinstance(fid, str):
            if fid in seen_follow or fid in step_section:
                ctx.add(("rollback", "follow_up", k, "id"), f"duplicate id {fid!r}; a follow-up id must be unique")
            seen_follow.add(fid)
    for k, a in enumerate(_items((signoff or {}).get("areas"))):
        if isinstance(a, dict):
            check_role(("signoff", "areas", k, "role"), a.get("role"))
    for k, f in enumerate(_items((signoff or {}).get("fields"))):
        if isinstance(f, dict):
            check_role(("signoff", "fields", k, "role"), f.get("role"))
            if isinstance(f.get("pattern"), str):
                try:
                    re.compile(f["pattern"])
                except re.error as exc:
                    ctx.add(("signoff", "fields", k, "pattern"), f"not a valid regular expression: {exc}")
    if isinstance(hypercare, dict):
        check_role(("hypercare", "role"), hypercare.get("role"))

    # secrets, flags, triggers
    for name, sec in (secrets or {}).items():
        if isinstance(sec, dict) and isinstance(sec.get("provider"), str):
            _check_params(
                ctx,
                registry,
                "secret",
                sec["provider"],
                sec.get("options"),
                ("secrets", name, "options"),
                var_values,
            )
    flags = data.get("flags")
    if isinstance(flags, dict) and isinstance(flags.get("provider"), dict):
        prov = flags["provider"]
        _check_params(
            ctx,
            registry,
            "flag",
            prov.get("type"),
            prov.get("with"),
            ("flags", "provider", "with"),
            var_values,
        )
        plugin = registry.get("flag", prov.get("type")) if isinstance(prov.get("type"), str) else None
        if plugin is not None and plugin.read_only and flags.get("safe"):
            ctx.add(
                ("flags", "provider", "type"),
                f"flag provider {prov['type']!r} is read-only, so a rollback could not restore `safe`; use a provider "
                "that writes (e.g. launchdarkly, unleash, flagd), and read this one in `flag` checks with `source:`",
            )
    for i, trig in enumerate(triggers):
        src = trig.get("source")
        if isinstance(src, dict):
            _check_params(
                ctx,
                registry,
                "metric",
                src.get("type"),
                src.get("with"),
                ("triggers", i, "source", "with"),
                var_values,
            )
        when = trig.get("when")
        base = trig.get("baseline")
        if isinstance(when, str):
            names = {"value", "baseline", "delta", "ratio", "delta_pts"} if isinstance(base, dict) else {"value"}
            _check_expression(ctx, ("triggers", i, "when"), when, names)
        if isinstance(base, dict) and isinstance(src, dict):
            _check_baseline(ctx, registry, base, src, ("triggers", i, "baseline"), var_values)
    for i, trig in enumerate(triggers):
        armed = trig.get("armed") if isinstance(trig, dict) else None
        if not isinstance(armed, dict):
            continue
        start, until = armed.get("from"), armed.get("until")
        if isinstance(start, str) and start not in phase_ids:
            ctx.add(("triggers", i, "armed", "from"), f"unknown phase {start!r}{suggest(start, phase_ids)}")
        if isinstance(until, str) and until not in ("end", "hypercare") and until not in phase_ids:
            ctx.add(
                ("triggers", i, "armed", "until"),
                f"unknown phase {until!r}{suggest(until, phase_ids)}; or 'end' (the cutover's end) or 'hypercare'",
            )
        elif (
            isinstance(start, str)
            and isinstance(until, str)
            and start in phase_ids
            and until in phase_ids
            and phase_ids.index(until) < phase_ids.index(start)
        ):
            ctx.add(("triggers", i, "armed", "until"), f"phase {until!r} comes before {start!r} (armed.from)")
    for i, pager in enumerate(_items(data.get("pagers"))):
        if isinstance(pager, dict):
            for k, tid in enumerate(_items(pager.get("triggers"))):
                if isinstance(tid, str) and tid not in trigger_ids:
                    ctx.add(("pagers", i, "triggers", k), f"unknown trigger {tid!r}{suggest(tid, trigger_ids)}")
    seen_trig: set[str] = set()
    for i, trig in enumerate(triggers):
        tid = trig.get("id")
        if isinstance(tid, str):
            if tid in seen_trig:
                ctx.add(("triggers", i, "id"), f"duplicate trigger id {tid!r}")
            seen_trig.add(tid)

    # comms
    templates_decl = (comms or {}).get("templates")
    known_events = _routing_events(templates_decl if isinstance(templates_decl, dict) else {})
    for k, ch in enumerate(_items((comms or {}).get("channels"))):
        if not isinstance(ch, dict):
            continue
        for key in ("events", "except"):
            for m, name in enumerate(_items(ch.get(key))):
                if isinstance(name, str) and name not in known_events:
                    ctx.add(
                        ("comms", "channels", k, key, m),
                        f"unknown comms event {name!r}{suggest(name, known_events)}; events and groups: "
                        + ", ".join(sorted(known_events)),
                    )
    for i, trig in enumerate(triggers):
        for m, ch in enumerate(_items(trig.get("channels"))):
            if isinstance(ch, str) and ch not in channel_ids:
                ctx.add(("triggers", i, "channels", m), f"unknown channel {ch!r}{suggest(ch, channel_ids)}")
    for k, tier in enumerate(_items((comms or {}).get("cadence"))):
        if isinstance(tier, dict):
            for m, ch in enumerate(_items(tier.get("channels"))):
                if isinstance(ch, str) and ch not in channel_ids:
                    ctx.add(
                        ("comms", "cadence", k, "channels", m),
                        f"unknown channel {ch!r}{suggest(ch, channel_ids)}",
                    )
    templates = (comms or {}).get("templates")
    if isinstance(templates, dict):
        _check_templates(ctx, templates)

    # evidence checklist and completion
    for i, item in enumerate(_items(data.get("evidence"))):
        if isinstance(item, dict):
            for k, sid in enumerate(_items(item.get("steps"))):
                if isinstance(sid, str) and sid not in step_section:
                    ctx.add(("evidence", i, "steps", k), f"unknown step {sid!r}{suggest(sid, step_section)}")
    for i, crit in enumerate(_items(data.get("completion"))):
        if not isinstance(crit, dict):
            continue
        for k, sid in enumerate(_items(crit.get("steps"))):
            if isinstance(sid, str) and sid not in step_section and sid not in seen_phase:
                ctx.add(
                    ("completion", i, "steps", k),
                    f"unknown step or phase {sid!r}{suggest(sid, [*step_section, *seen_phase])}",
                )
        for k, area in enumerate(_items(crit.get("signoffs"))):
            if isinstance(area, str) and area not in area_ids:
                ctx.add(
                    ("completion", i, "signoffs", k),
                    f"unknown sign-off area {area!r}{suggest(area, area_ids)}",
                )
        for k, rid in enumerate(_items(crit.get("reports"))):
            if isinstance(rid, str) and rid not in report_ids:
                ctx.add(
                    ("completion", i, "reports", k),
                    f"unknown hypercare report {rid!r}{suggest(rid, report_ids)}",
                )

    _check_schedule(ctx, data, phases, check_role)

    # references anywhere in the document
    for loc, item in refs.scan(data):
        if isinstance(item, refs.RefError):
            ctx.add(loc, str(item))
            continue
        _check_ref(
            ctx,
            loc,
            item,
            vars_,
            set(secrets or {}),
            step_section,
            step_order,
            ancestors,
            declared_roles,
            data,
        )


_ICS_CACHE: dict[tuple[str, int, int], Any] = {}  # (path, mtime_ns, size) -> parsed calendar
ICS_CACHE_MAX = 16  # calendars kept parsed (the loader's check and the start gate read the same file)
# Off while a run's stored runbook is read back: a shared .ics changed or gone since the run began must not make
# the run unreadable (status, acts, rollback); the start gate reads it itself and fails closed.
_CHECK_FILES: contextvars.ContextVar[bool] = contextvars.ContextVar("golive_check_files", default=True)


@contextlib.contextmanager
def stored_runbook() -> Iterator[None]:
    """Validate a run's stored runbook text without reading the outside files it names (freeze calendars)."""
    token = _CHECK_FILES.set(False)
    try:
        yield
    finally:
        _CHECK_FILES.reset(token)


def read_ics(path: Path) -> Any:
    """A shared freeze calendar (an ``icalendar.Calendar``), or a UsageError naming the file and the fault.

    Parsed once per file version: icalendar needs about a millisecond per event, and the loader (to refuse a bad
    file at validate) and the start gate read the same file."""
    import icalendar

    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        if key in _ICS_CACHE:
            return _ICS_CACHE[key]
        raw = path.read_bytes()
    except OSError as exc:
        raise exceptions.UsageError(f"{path}: cannot read the freeze calendar: {exc.strerror or exc}") from None
    try:
        cal = icalendar.Calendar.from_ical(raw)
    except ValueError as exc:
        raise exceptions.UsageError(f"{path}: not an RFC 5545 calendar: {exc}") from None
    if not isinstance(cal, icalendar.Calendar):
        raise exceptions.UsageError(f"{path}: not an RFC 5545 calendar (no VCALENDAR)")
    from datetime import date

    import recurring_ical_events

    try:  # any span expands every event: a missing or broken DTSTART, DTEND, EXDATE or RRULE shows here
        recurring_ical_events.of(cal).between(date(1970, 1, 1), date(1970, 1, 2))
    except Exception as exc:  # the libraries raise many types (KeyError, BrokenCalendarProperty, rrule errors)
        raise exceptions.UsageError(f"{path}: an event does not read: {type(exc).__name__}: {exc}") from None
    if len(_ICS_CACHE) >= ICS_CACHE_MAX:
        _ICS_CACHE.pop(next(iter(_ICS_CACHE)))
    _ICS_CACHE[key] = cal
    return cal


def _check_schedule(ctx: _Ctx, data: dict[str, Any], phases: list[Any], check_role: Callable[[Loc, Any], None]) -> None:
    """Windows and freezes: a T-time edge needs ``t0``, roles are declared, a shared .ics file is readable."""
    windows: list[tuple[Loc, Any]] = [(("window",), data.get("window"))]
    windows += [(("phases", i, "window"), ph.get("window")) for i, ph in enumerate(phases)]
    for loc, win in windows:
        if not isinstance(win, dict):
            continue
        for edge in ("not_before", "not_after"):
            v = win.get(edge)
            if isinstance(v, str) and v.strip().startswith("T") and data.get("t0") is None:
                ctx.add(
                    (*loc, edge),
                    f"{v!r} is a T-time but the runbook has no t0; set t0 (e.g. t0: 2026-03-07T02:00:00Z) or write "
                    "a date-time with a timezone",
                )
        for k, role in enumerate(_items(win.get("waivable_by"))):
            check_role((*loc, "waivable_by", k), role)
        if isinstance(win.get("on_overrun"), dict):
            check_role((*loc, "on_overrun", "role"), win["on_overrun"].get("role"))
    base = Path(ctx.file).parent
    for i, fr in enumerate(_items(data.get("freeze"))):
        if not isinstance(fr, dict):
            continue
        for k, role in enumerate(_items(fr.get("waivable_by"))):
            check_role(("freeze", i, "waivable_by", k), role)
        ics = fr.get("ics")
        if isinstance(ics, str) and _CHECK_FILES.get():
            path = Path(ics) if Path(ics).is_absolute() else base / ics
            try:
                read_ics(path)
            except exceptions.UsageError as exc:
                ctx.add(("freeze", i, "ics"), f"{exc.message}; give the path of an .ics file relative to the runbook")


def _check_ref(
    ctx: _Ctx,
    loc: Loc,
    ref: refs.Ref,
    vars_: set[str],
    secrets: set[str],
    step_section: Mapping[str, str],
    step_order: Mapping[str, int],
    ancestors: Mapping[str, set[str]],
    roles: set[str],
    data: dict[str, Any],
) -> None:
    parts = ref.parts
    shown = "${{ " + ref.text + " }}"
    if ref.root in ("vars", "secrets", "roles"):
        pool = {"vars": vars_, "secrets": secrets, "roles": roles}[ref.root]
        if len(parts) < 2 or parts[1] not in pool:
            name = parts[1] if len(parts) > 1 else ""
            ctx.add(
                loc,
                f"{shown}: unknown {ref.root[:-1] if ref.root != 'vars' else 'variable'} {name!r}{suggest(name, pool)}",
            )
        return
    if ref.root == "release" and (len(parts) < 2 or parts[1] not in ("tag", "sha", "artifacts", "notes")):
        ctx.add(loc, f"{shown}: release has tag, sha, artifacts and notes")
        return
    if ref.root == "run" and (
        len(parts) < 2
        or parts[1] not in ("id", "mode", "started_at", "name", "service", "environment", "status", "reason")
    ):
        ctx.add(loc, f"{shown}: run has id, mode, started_at, name, service, environment, status and reason")
        return
    if ref.root != "steps":
        return
    if len(parts) < 3 or parts[2] not in ("output", "outcome", "inputs", "summary"):
        ctx.add(
            loc,
            f"{shown}: write steps.<id>.output[.path], steps.<id>.outcome, steps.<id>.summary or steps.<id>.inputs.<name>",
        )
        return
    target = parts[1]
    if target not in step_section:
        ctx.add(loc, f"{shown}: unknown step {target!r}{suggest(target, step_section)}")
        return
    # A step may only read steps that are sure to have run before it.
    if len(loc) >= 4 and loc[0] in ("phases", "rollback", "hypercare"):
        user = _get(data, loc[:4] if loc[0] == "phases" else loc[:3])
        if isinstance(user, dict) and isinstance(user.get("id"), str):
            uid = user["id"]
            if uid == target:
                ctx.add(loc, f"{shown}: a step cannot read its own result")
            elif step_section.get(uid) == step_section.get(target) and target not in ancestors.get(uid, set()):
                ctx.add(loc, f"{shown}: step {target!r} runs in the same phase; add it to this step's needs")
            elif step_order.get(target, 0) > step_order.get(uid, 0):
                ctx.add(loc, f"{shown}: step {target!r} runs after this one")


def _check_metric_ref(ctx: _Ctx, registry: Any, ref: Any, loc: Loc, var_values: Mapping[str, Any]) -> None:
    if isinstance(ref, dict):
        _check_params(ctx, registry, "metric", ref.get("type"), ref.get("with"), (*loc, "with"), var_values)


def _check_baseline(
    ctx: _Ctx, registry: Any, base: dict[str, Any], source: Any, loc: Loc, var_values: Mapping[str, Any]
) -> None:
    """A baseline's second query has valid params; a shifted or windowed one reads a source that can."""
    _check_metric_ref(ctx, registry, base.get("source"), (*loc, "source"), var_values)
    _check_metric_ref(ctx, registry, base.get("total"), (*loc, "total"), var_values)
    for key in ("offset", "before"):
        kind = source.get("type") if isinstance(source, dict) else None
        if base.get(key) is not None and isinstance(kind, str) and kind not in models.HISTORY_SOURCES:
            ctx.add(
                (*loc, key),
                f"a {key!r} baseline reads the past, which a {kind!r} source cannot; use a prometheus source, "
                "or a 'source' or 'run' baseline",
            )


def _check_judge(ctx: _Ctx, registry: Any, judge: Any, loc: Loc, var_values: Mapping[str, Any], *, check: bool) -> None:
    """A judge's shape (models.Judge), each metric's sources and baselines, and a check's window."""
    if not isinstance(judge, dict):
        ctx.add(loc, "must be a mapping: metrics, baseline, window, ...")
        return
    try:
        models.Judge.model_validate(_render_vars_only(judge, var_values))
    except ValidationError as exc:
        _pydantic_problems(ctx, exc, judge, loc, models.Judge)
        return
    if check and judge.get("window") is None:
        ctx.add(loc, "a judge check needs 'window' (how far back the canary is read, e.g. '30m')")
    default = judge.get("baseline")
    for k, metric in enumerate(_items(judge.get("metrics"))):
        if not isinstance(metric, dict):
            continue
        mloc = (*loc, "metrics", k)
        _check_metric_ref(ctx, registry, metric.get("source"), (*mloc, "source"), var_values)
        _check_metric_ref(ctx, registry, metric.get("total"), (*mloc, "total"), var_values)
        own = metric.get("baseline")
        base, bloc = (own, (*mloc, "baseline")) if isinstance(own, dict) else (default, (*loc, "baseline"))
        if isinstance(base, dict):
            _check_baseline(ctx, registry, base, metric.get("source"), bloc, var_values)


def _check_expression(ctx: _Ctx, loc: Loc, text: str, names: Iterable[str]) -> None:
    try:
        from golive import expr
    except ImportError:  # pragma: no cover - expr ships with golive
        return
    try:
        expr.compile_condition(text, names=names)
    except exceptions.UsageError as exc:
        ctx.add(loc, exc.message)
    except TypeError:
        try:
            expr.compile_condition(text)
        except exceptions.UsageError as exc:
            ctx.add(loc, exc.message)


def _check_templates(ctx: _Ctx, templates: Mapping[str, Any]) -> None:
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment()
    for name, text in templates.items():
        if not isinstance(text, str):
            ctx.add(("comms", "templates", name), "a template must be a string")
            continue
        try:
            env.parse(text)
        except TemplateSyntaxError as exc:
            ctx.add(("comms", "templates", name), f"template syntax error: {exc.message}")


# --- entry points -----------------------------------------------------------------------------------


def load(
    path: str | os.PathLike[str],
    *,
    var_overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    registry: Any = None,
) -> LoadedRunbook:
    """Load and validate a runbook file. Raises RunbookInvalid (every problem) or UsageError."""
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_RUNBOOK_BYTES and p.is_file():
            raise exceptions.RunbookInvalid([_too_big(name, size)])
        raw = p.read_bytes()
    except FileNotFoundError:
        raise exceptions.RunbookInvalid([exceptions.Problem(name, 0, 0, "", "no such file")]) from None
    except IsADirectoryError:
        raise exceptions.RunbookInvalid(
            [exceptions.Problem(name, 0, 0, "", "is a directory, not a runbook file")]
        ) from None
    except OSError as exc:
        raise exceptions.RunbookInvalid([exceptions.Problem(name, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    return load_bytes(raw, name, var_overrides=var_overrides, environ=environ, registry=registry)


def load_text(text: str, name: str = "<runbook>", **kw: Any) -> LoadedRunbook:
    return load_bytes(text.encode("utf-8"), name, **kw)


def load_bytes(
    raw: bytes,
    name: str,
    *,
    var_overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    registry: Any = None,
) -> LoadedRunbook:
    # Loading builds tens of thousands of short-lived acyclic objects (YAML nodes, dicts, models); the cyclic
    # garbage collector would scan them again and again for nothing: with it paused, a 2,000-step runbook
    # loads in about a third of the time. The input size bounds the memory, and it is re-enabled after.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(raw, name, var_overrides, environ, registry)
    except (exceptions.RunbookInvalid, exceptions.UsageError):
        raise
    except RecursionError:
        raise exceptions.RunbookInvalid([exceptions.Problem(name, 0, 0, "", "nested too deeply to read")]) from None
    except Exception as exc:  # fail closed with our own error type, whatever the input
        raise exceptions.RunbookInvalid(
            [exceptions.Problem(name, 0, 0, "", f"cannot be read as a runbook: {type(exc).__name__}: {exc}")]
        ) from None
    finally:
        if gc_was_enabled:
            gc.enable()


def _too_big(name: str, size: int) -> exceptions.Problem:
    return exceptions.Problem(
        name,
        0,
        0,
        "",
        f"the file is {size:,} bytes; a runbook may be at most {MAX_RUNBOOK_BYTES:,} bytes "
        "(split it, or keep big content in files it names)",
    )


def decode_text(raw: bytes, name: str) -> str:
    """UTF-8 text of a file's bytes (a BOM dropped), or RunbookInvalid naming the line and column of the
    first byte that is not UTF-8, or of a NUL byte. Shared by the loader and ``golive import``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise exceptions.RunbookInvalid(
            [
                exceptions.Problem(
                    name, line, col, "", f"not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
                )
            ]
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise exceptions.RunbookInvalid(
            [exceptions.Problem(name, line, 1, "", "contains a NUL byte; this is not a text file")]
        )
    return text


def _load(
    raw: bytes,
    name: str,
    var_overrides: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None,
    registry: Any,
) -> LoadedRunbook:
    if len(raw) > MAX_RUNBOOK_BYTES:
        raise exceptions.RunbookInvalid([_too_big(name, len(raw))])
    text = decode_text(raw, name)
    problems: list[exceptions.Problem] = []
    builder = _Builder(text, name, problems)
    try:
        found, data = builder.document()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = f"YAML syntax error: {exc.problem or exc.context}"
        lines = text.splitlines()
        if mark and mark.line < len(lines) and lines[mark.line][mark.column : mark.column + 1] == "\t":
            message = "YAML syntax error: a tab cannot indent YAML; use spaces"
        elif exc.problem and exc.context and exc.context_mark and exc.context_mark.line != getattr(mark, "line", -1):
            # The problem is often found at the end of the file; say where the broken construct began.
            message += f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
        raise exceptions.RunbookInvalid([exceptions.Problem(name, line, col, "", message)]) from None
    except yaml.YAMLError as exc:
        raise exceptions.RunbookInvalid([exceptions.Problem(name, 1, 1, "", f"YAML error: {exc}")]) from None
    finally:
        builder.close()
    if not found:
        raise exceptions.RunbookInvalid(
            [exceptions.Problem(name, 1, 1, "", "the file is empty; a runbook starts with 'golive: 1'")]
        )
    ctx = _Ctx(name, builder.pos, problems)
    ctx.flow_bare_keys = builder.flow_bare_keys
    if not isinstance(data, dict):
        ctx.add((), f"a runbook must be a mapping with 'golive: 1' at the top, not {_what(data)}")
        raise exceptions.RunbookInvalid(problems)
    version = data.get("golive")
    if "golive" not in data:
        ctx.add((), "missing 'golive: 1' at the top (the runbook format version)")
        raise exceptions.RunbookInvalid(problems)
    if version != models.FORMAT_VERSION or isinstance(version, bool):
        if isinstance(version, str) and version.strip() == str(models.FORMAT_VERSION):
            why = f"the format version is the number {models.FORMAT_VERSION}, not the text {version!r}: write golive: 1 without quotes"
        else:
            why = f"unsupported golive format version {version!r}: this golive reads version {models.FORMAT_VERSION}"
        ctx.add(("golive",), why)
        raise exceptions.RunbookInvalid(problems)

    runbook: models.Runbook | None = None
    # Typed vars may stand in the runbook's own durations, thresholds and counts: filled in before the shape
    # check so that they are checked as the values they become (in place: only known typed vars are filled).
    if "${{" in text:
        _fill_literal_vars(ctx, data, _literal_var_values(data, var_overrides, environ), _raw_var_types(data), ())
    try:
        runbook = models.Runbook.model_validate(data)
    except ValidationError as exc:
        _pydantic_problems(ctx, exc, data, (), models.Runbook)

    if registry is None:
        from golive.plugins import registry as registry_mod

        registry = registry_mod.default_registry()

    var_values: dict[str, Any] = {}
    var_sources: dict[str, str] = {}
    if runbook is not None:
        try:
            var_values, var_sources = resolve_vars_with_sources(runbook, var_overrides, environ)
        except exceptions.UsageError as exc:
            if var_overrides:
                raise
            var_values = runbook.var_defaults()
            if "required variable" not in exc.message:
                ctx.add(("vars",), exc.message)
    else:
        raw_vars = data.get("vars") if isinstance(data.get("vars"), dict) else {}
        var_values = {k: (v.get("default") if isinstance(v, dict) else v) for k, v in (raw_vars or {}).items()}
    _cross_checks(ctx, data, registry, var_values)
    if problems or runbook is None:
        raise exceptions.RunbookInvalid(problems or [exceptions.Problem(name, 1, 1, "", "invalid runbook")])
    return LoadedRunbook(
        runbook=runbook,
        path=name,
        text=text,
        digest=hashlib.sha256(raw).hexdigest(),
        vars=var_values,
        var_sources=var_sources,
    )


def is_secret_name(name: str) -> bool:
    low = name.lower()
    return any(k in low for k in _SAFE_KEYS)


# --- validated-runbook cache: a runbook already validated, kept as JSON by the code that validated it ------


@functools.cache
def validated_code_digest() -> str:
    """Digest of golive's version and of the format's code (this package's sources): a runbook validated by
    other code is never read back from a cache."""
    h = hashlib.sha256(__version__.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:32]


def dump_loaded(loaded: LoadedRunbook) -> str:
    """A validated runbook as JSON text (the model as it validates again, its vars); :func:`undump_loaded`
    gives back an equal one without reading YAML, importing plugins or running the cross-field rules.
    ValueError when the model would not validate back to an equal one (then nothing is cached)."""
    # Only the fields the runbook set: validation fills in the defaults again (some rules refuse a field
    # that is present at all where it does not belong, even at its default).
    dumped = loaded.runbook.model_dump_json(by_alias=True, round_trip=True, exclude_unset=True)
    if models.Runbook.model_validate_json(dumped) != loaded.runbook:
        raise ValueError("the validated runbook does not validate back to itself; not cached")
    return json.dumps(
        {
            "runbook": dumped,
            "path": loaded.path,
            "digest": loaded.digest,
            "vars": loaded.vars,
            "var_sources": loaded.var_sources,
        },
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def undump_loaded(data: str, text: str) -> LoadedRunbook:
    """The runbook :func:`dump_loaded` wrote (``text``: the runbook's text, kept once in the run record).
    ValueError (pydantic's ValidationError is one) when ``data`` is not such a dump or not of ``text``."""
    raw = json.loads(data)
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != raw["digest"]:
        raise ValueError("the cached runbook is not of this text")
    runbook = models.Runbook.model_validate_json(raw["runbook"])
    return LoadedRunbook(
        runbook, str(raw["path"]), text, str(raw["digest"]), dict(raw["vars"]), dict(raw["var_sources"])
    )
