"""Values are data, never code: where a ``${{ }}`` reference may not stand.

A templated value (a var, a step's output, a manual input, an API field) reaches a process only as an argv
element of a command that is not an interpreter's ``-c`` text, or as an environment variable; SQL only as a
bound parameter. So, when a runbook loads, a reference is refused inside:

- a string-form ``run:`` (``/bin/sh -c`` runs it) and the code argument of an interpreter in an argv list
  (``sh -c``, ``bash -c``, ``python -c``, ``perl -e``, ``node -e``, ``psql -c``, ``mysql -e``, ``ssh`` and
  its remote command, ``awk``/``sed``/``jq`` programs), and the standard input of an interpreter that reads
  its program from it;
- SQL text, PromQL text, JSON paths (JMESPath), conditions, regular expressions and GraphQL documents.

Plugins mark such fields on their params model with :func:`code_field` (``json_schema_extra``); nested
params models (an ``expect`` block) are walked. Exceptions, because they are not text that could be code:
a var declared ``type: int | number | duration | bool`` is a checked literal and may stand in PromQL, a JSON
path or a condition; a regex may take a var (it runs on a linear-time engine), never a step's output or an
input; SQL text may be exactly one var declared ``type: sql`` (code on purpose, set
only by the runbook or by whoever starts the run).
"""

from __future__ import annotations

import functools
import posixpath
import re
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from golive.spec import refs, vartypes

__all__ = ["CODE_KEY", "code_field", "problems"]

CODE_KEY = "x-golive-code"  # json_schema_extra key naming the language of a field's text

Loc = tuple[str | int, ...]

_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "fish", "busybox"})
_PYTHONS = re.compile(r"^(python|pypy)[0-9.]*$")
_EVAL_FLAGS = {
    "perl": ("-e", "-E"),
    "ruby": ("-e",),
    "node": ("-e", "--eval", "-p", "--print"),
    "nodejs": ("-e", "--eval", "-p", "--print"),
    "php": ("-r",),
    "psql": ("-c", "--command"),
    "mysql": ("-e", "--execute"),
    "mariadb": ("-e", "--execute"),
    "pwsh": ("-c", "-command", "-Command"),
    "powershell": ("-c", "-command", "-Command"),
    "osascript": ("-e",),
    "lua": ("-e",),
}
_PROGRAM_FIRST = frozenset({"awk", "gawk", "mawk", "nawk", "sed", "jq", "yq"})  # first operand is a program
_STDIN_PROGRAMS = _SHELLS | frozenset({"psql", "mysql", "mariadb", "sqlite3", "perl", "ruby", "node", "php", "lua"})
_WRAPPERS = frozenset({"env", "sudo", "doas", "nice", "nohup", "timeout", "exec", "command", "stdbuf", "time"})

_FIX = {
    "shell": 'pass it through env: (env: {VERSION: "${{ vars.version }}"} and "$VERSION" in the command), or '
    'run an argv list with the value as its own element (run: [deploy, --version, "${{ vars.version }}"])',
    "sql": 'pass it as a bound parameter (parameters: {version: "${{ vars.version }}"} and :version in the '
    "query), or declare a var 'type: sql' that holds the whole statement",
    "promql": "write the query out (a var declared 'type: int', 'number' or 'duration' may stand in it), or "
    "declare a var 'type: promql' that holds the whole query",
    "jmespath": "write the path out; only a var declared 'type: int', 'number' or 'duration' may stand in it",
    "condition": 'give it to the condition as a named value (expect: {condition: "json.Account == account", '
    "values: {account: \"${{ vars.account_id }}\"}}), or use a var declared 'type: int', 'number', "
    "'duration' or 'bool'",
    "regex": "a pattern may come from a var (the runbook's or the starter's), never from a step's output or a "
    "person's input; write the pattern out",
    "graphql": 'pass it in variables: (variables: {id: "${{ vars.id }}"} and $id in the document)',
}
_WHAT = {
    "shell": "shell command text",
    "sql": "SQL text",
    "promql": "PromQL text",
    "jmespath": "a JSON path",
    "condition": "a condition",
    "regex": "a regular expression",
    "graphql": "a GraphQL document",
}


def code_field(language: str) -> dict[str, Any]:
    """``json_schema_extra`` for a params field whose text is code in ``language``."""
    return {CODE_KEY: language}


def _language(field: Any) -> str | None:
    extra = getattr(field, "json_schema_extra", None)
    if isinstance(extra, Mapping):
        lang = extra.get(CODE_KEY)
        return lang if isinstance(lang, str) else None
    return None


def _submodels(annotation: Any) -> list[type[BaseModel]]:
    out: list[type[BaseModel]] = []
    stack = [annotation]
    while stack:
        t = stack.pop()
        if isinstance(t, type) and issubclass(t, BaseModel):
            out.append(t)
            continue
        stack.extend(typing.get_args(t))
    return out


def _refs(text: str) -> list[refs.Ref]:
    try:
        return list(refs.find_refs(text))
    except refs.RefError:
        return []  # reported by the reference check


def _allowed(ref: refs.Ref, language: str, var_types: Mapping[str, str], whole: bool) -> bool:
    if ref.root != "vars" or len(ref.parts) != 2:
        return False
    type_ = var_types.get(ref.parts[1])
    if language in ("sql", "promql") and whole and type_ == language:
        return True  # a query held by a var declared to hold one (set only by the runbook or the starter)
    if language == "sql":
        return False
    if language in ("promql", "jmespath", "condition"):
        return type_ in vartypes.LITERAL_TYPES
    if language == "regex":
        return type_ is not None  # patterns run on a linear-time engine; a var is set by the runbook or starter
    return False


def _text_problems(text: str, language: str, var_types: Mapping[str, str], loc: Loc) -> Iterator[tuple[Loc, str]]:
    if "${{" not in text:
        return
    found = _refs(text)
    whole = len(found) == 1 and refs.PATTERN.fullmatch(text.strip()) is not None
    seen: set[str] = set()
    for ref in found:
        if _allowed(ref, language, var_types, whole) or ref.text in seen:
            continue
        seen.add(ref.text)
        shown = "${{ " + ref.text + " }}"
        hint = ""
        if language in ("sql", "promql") and ref.root == "vars" and whole:
            name = ref.parts[1] if len(ref.parts) > 1 else ""
            hint = f" (declare vars.{name} 'type: {language}' if it is a query)"
        yield (
            loc,
            f"{shown} inside {_WHAT[language]}: a value there would run as code{hint}; {_FIX[language]}",
        )


def _argv_code(argv: list[Any]) -> tuple[set[int], bool]:
    """Indexes of argv elements that are program text, and whether standard input is program text."""
    i = 0
    while i < len(argv) and isinstance(argv[i], str) and posixpath.basename(argv[i]) in _WRAPPERS:
        wrapper = posixpath.basename(argv[i])
        i += 1
        while i < len(argv) and isinstance(argv[i], str) and (argv[i].startswith("-") or "=" in argv[i]):
            i += 1
        if wrapper == "timeout" and i < len(argv):
            i += 1  # the duration
    if i >= len(argv) or not isinstance(argv[i], str):
        return set(), False
    prog = posixpath.basename(argv[i])
    args = [a if isinstance(a, str) else "" for a in argv[i + 1 :]]
    base = i + 1
    code: set[int] = set()
    positional = [k for k, a in enumerate(args) if not a.startswith("-")]
    if prog in _SHELLS or _PYTHONS.match(prog):
        for k, a in enumerate(args):
            if a == "--":
                break
            is_c = a == "-c" if _PYTHONS.match(prog) else re.fullmatch(r"-[A-Za-z]*c[A-Za-z]*", a) is not None
            if is_c:
                if k + 1 < len(args):
                    code.add(base + k + 1)
                return code, False
        script_given = any(a != "-" for a in (args[k] for k in positional))
        return code, not script_given
    if prog in _EVAL_FLAGS:
        flags = _EVAL_FLAGS[prog]
        for k, a in enumerate(args):
            if a in flags and k + 1 < len(args):
                code.add(base + k + 1)
            elif any(a.startswith(f + "=") for f in flags if f.startswith("--")):
                code.add(base + k)
        reads_file = any(a in ("-f", "--file") or a.startswith("--file=") for a in args)
        return code, prog in _STDIN_PROGRAMS and not code and not reads_file
    if prog == "sqlite3":
        if positional:
            code.update(base + k for k in positional[1:])
        return code, len(positional) <= 1
    if prog in _PROGRAM_FIRST:
        if prog == "sed" and any(a in ("-e", "--expression", "-f") for a in args):
            code.update(base + k + 1 for k, a in enumerate(args) if a in ("-e", "--expression") and k + 1 < len(args))
            return code, False
        if positional:
            code.add(base + positional[0])
        return code, False
    if prog == "ssh":
        # ssh joins everything after the host into one remote shell command.
        takes_value = set("bcDEeFIiJLlmOopQRSWw")
        k = 0
        while k < len(args):
            a = args[k]
            if a.startswith("-") and len(a) == 2 and a[1] in takes_value:
                k += 2
                continue
            if a.startswith("-"):
                k += 1
                continue
            code.update(range(base + k + 1, base + len(args)))
            break
        return code, False
    return code, False


def problems(
    model: type[BaseModel], params: Mapping[str, Any], var_types: Mapping[str, str], loc: Loc
) -> list[tuple[Loc, str]]:
    """Every reference in ``params`` that stands where code is read, with its location and the fix."""
    out: list[tuple[Loc, str]] = []
    _walk(model, params, var_types, loc, out)
    return out


@functools.cache
def _fields(model: type[BaseModel]) -> tuple[tuple[str, str, str | None, tuple[type[BaseModel], ...]], ...]:
    """(name, key, language, nested params models) of each field of ``model``, in field order; read once per model
    (params models are classes, built once: a runbook of 2,000 steps walks the same few thousands of times)."""
    return tuple(
        (name, field.alias or name, _language(field), tuple(_submodels(field.annotation)))
        for name, field in model.model_fields.items()
    )


def _walk(model: type[BaseModel], params: Any, var_types: Mapping[str, str], loc: Loc, out: list[Any]) -> None:
    fields = _fields(model)
    if isinstance(params, str):
        # An expect block written as a string is its condition.
        if any(name == "condition" and lang == "condition" for name, _, lang, _ in fields):
            out.extend(_text_problems(params, "condition", var_types, loc))
        return
    if not isinstance(params, Mapping):
        return
    stdin_is_code = False
    for _, key, lang, sub_models in fields:
        if key not in params:
            continue
        value = params[key]
        here = (*loc, key)
        if lang == "argv":
            if isinstance(value, str):
                out.extend(_text_problems(value, "shell", var_types, here))
            elif isinstance(value, list):
                code, stdin_is_code = _argv_code(value)
                if value and isinstance(value[0], str):
                    code.add(0)  # the program itself
                for k in sorted(code):
                    if k < len(value) and isinstance(value[k], str):
                        out.extend(_text_problems(value[k], "shell", var_types, (*here, k)))
        elif lang is not None and lang != "stdin":
            for sub, text in refs.walk_strings(value):
                out.extend(_text_problems(text, lang, var_types, (*here, *sub)))
        for sub_model in sub_models:
            if isinstance(value, Mapping | str):
                _walk(sub_model, value, var_types, here, out)
            elif isinstance(value, list):
                for k, item in enumerate(value):
                    _walk(sub_model, item, var_types, (*here, k), out)
    if stdin_is_code:
        for _, key, lang, _ in fields:
            if lang == "stdin" and isinstance(params.get(key), str):
                out.extend(_text_problems(params[key], "shell", var_types, (*loc, key)))
