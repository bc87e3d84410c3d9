"""The one expression language of golive: safe conditions and JSON paths.

Conditions (``expect``, ``when``, trigger thresholds) are Python-like expressions evaluated by
`simpleeval <https://pypi.org/project/simpleeval/>`_, which walks the AST itself and never calls
``eval``. JSON paths are `JMESPath <https://jmespath.org>`_ expressions; the ``$.a.b[0]`` form that
runbook authors know from JSONPath is accepted and translated (``$.a.b[0]`` -> ``a.b[0]``).

What a condition may use::

    comparisons   == != < <= > >= in not in          value < 0.15, status in [200, 204]
    boolean logic and or not                          ok and not degraded
    arithmetic    + - * / // % **                     errors / total < 0.01
    literals      numbers, 'strings', [lists], {dicts}, true/false/null (and True/False/None)
    attributes    body.items, json.status             (on dicts: the key, never a dict method)
    indexing      rows[0][1], headers['content-type']
    JSON paths    $.status, $.items[0].id            (into ``json`` if given, else ``body``)
    functions     len abs min max sum round int float str bool any all lower upper
                  startswith endswith contains matches jp

:func:`compile_condition` checks the syntax, the node types and every name once, when the runbook
loads, and raises :class:`golive.exceptions.UsageError` with a message that points at the problem.
:meth:`Condition.evaluate` raises :class:`ConditionError` when the data does not fit the condition
(a missing key, comparing a string with a number); callers turn that into a failed check, never a pass.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jmespath
import jmespath.exceptions
import simpleeval

from golive import exceptions, patterns, sandbox
from golive.exceptions import ConditionError

__all__ = [
    "FUNCTIONS",
    "Condition",
    "ConditionError",
    "compile_condition",
    "compile_path",
    "json_path",
    "to_jmespath",
]

MAX_CONDITION_LENGTH = 2000  # characters; a condition is a one-liner, not a program
# Bounds checked before an operation runs, so evaluation costs little whatever the condition and the data:
# a big-integer power or product runs inside one bytecode and holds the GIL, so no timeout could stop it.
MAX_INT_BITS = 4096  # bits of an integer result of **, * or + (about 1e1233; no metric is that big)
MAX_SEQUENCE = 100_000  # items or characters of a string or list built by * or +


def _jp(doc: Any, path: str) -> Any:
    return json_path(doc, path)


def _matches(text: Any, pattern: Any) -> bool:
    # RE2: linear in the text whatever the pattern (golive.patterns).
    try:
        return patterns.search(str(pattern), str(text)) is not None
    except patterns.PatternError as exc:
        raise ConditionError(str(exc)) from None


def _int_bits(v: Any) -> int:
    return abs(v).bit_length() if isinstance(v, int) and not isinstance(v, bool) else 0


def _safe_pow(a: Any, b: Any) -> Any:
    big_ints = isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool) and b > 0 and abs(a) > 1
    if big_ints and _int_bits(a) * b > MAX_INT_BITS:
        raise ConditionError(f"{a} ** {b} is too big to compute (over {MAX_INT_BITS} bits)")
    if isinstance(b, int) and not isinstance(b, bool) and b < 0 and _int_bits(b) > 64:
        raise ConditionError(f"exponent {b} is too big")
    return a**b


def _seq_len(v: Any) -> int | None:
    return len(v) if isinstance(v, str | list | tuple | bytes) else None


def _safe_mult(a: Any, b: Any) -> Any:
    for seq, n in ((a, b), (b, a)):
        size = _seq_len(seq)
        if size is not None and isinstance(n, int) and size * max(n, 0) > MAX_SEQUENCE:
            raise ConditionError(f"repeating {size} items {n} times is too long (over {MAX_SEQUENCE:,})")
    if _int_bits(a) + _int_bits(b) > MAX_INT_BITS:
        raise ConditionError(f"the product is too big to compute (over {MAX_INT_BITS} bits)")
    return a * b


def _safe_add(a: Any, b: Any) -> Any:
    sa, sb = _seq_len(a), _seq_len(b)
    if sa is not None and sb is not None and sa + sb > MAX_SEQUENCE:
        raise ConditionError(f"joining {sa} and {sb} items is too long (over {MAX_SEQUENCE:,})")
    return a + b


def _safe_mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes):
        raise ConditionError("'%' formatting of text is not supported in conditions")
    return a % b


_OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    **simpleeval.DEFAULT_OPERATORS,
    ast.Pow: _safe_pow,
    ast.Mult: _safe_mult,
    ast.Add: _safe_add,
    ast.Mod: _safe_mod,
}


# Everything a condition can call. Kept small and pure: no I/O, no randomness, no attribute access.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "abs": abs,
    "min": min,
    "max": max,
    "sum": sum,
    "round": round,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "any": any,
    "all": all,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "startswith": lambda s, p: str(s).startswith(str(p)),
    "endswith": lambda s, p: str(s).endswith(str(p)),
    "contains": lambda container, item: item in container,
    "matches": _matches,
    "jp": _jp,
}

# JSON spellings, so a condition copied from a JSON document reads naturally.
_CONSTANTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}

_DOLLAR_ROOT = "__doc__root"  # name the `$` paths are evaluated against; not reachable by authors

# AST nodes a condition may contain; anything else (lambda, comprehension, walrus, f-strings with
# format specs...) is refused at load time rather than discovered mid-run.
_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.Dict,
)

# `$` followed by a JSONPath-style path: `$`, `$.a`, `$.a.b[0]`, `$['odd key'].x`, `$.items[*].id`.
_DOLLAR_PATH = re.compile(r"""\$(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[(?:\d+|\*|'[^']*'|"[^"]*")\])*""")


class _Eval(simpleeval.EvalWithCompoundTypes):  # type: ignore[misc]  # simpleeval ships no type hints
    """simpleeval with dict keys before dict methods: ``body.items`` is the key ``items``."""

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            raise simpleeval.FeatureNotAvailable(f"attribute {node.attr!r} is not available")
        base = self._eval(node.value)
        if isinstance(base, Mapping):
            if node.attr in base:
                return base[node.attr]
            raise ConditionError(f"key {node.attr!r} is missing (keys: {_keys(base)})")
        raise ConditionError(f"cannot read .{node.attr} of a {type(base).__name__}")


def _keys(doc: Mapping[Any, Any]) -> str:
    keys = sorted(str(k) for k in doc)
    return ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "") if keys else "none"


class Condition:
    """A compiled condition: checked once at load time, evaluated many times."""

    __slots__ = ("_names", "_tree", "text")

    def __init__(self, text: str, tree: ast.Expression, names: frozenset[str]) -> None:
        self.text = text
        self._tree = tree
        self._names = names

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"

    @property
    def names(self) -> frozenset[str]:
        """The names this condition reads (after ``$`` paths were rewritten)."""
        return self._names

    def evaluate(self, names: Mapping[str, Any]) -> bool:
        """True or False for these values; :class:`ConditionError` if the data does not fit.

        The result must be a boolean: a condition that evaluates to ``3`` or ``"ok"`` is an error,
        so a typo like ``value`` (instead of ``value > 0``) cannot pass by accident.
        """
        env: dict[str, Any] = dict(_CONSTANTS)
        env.update(names)
        if _DOLLAR_ROOT in self._names:
            env[_DOLLAR_ROOT] = names.get("json", names.get("body"))
        evaluator = _Eval(operators=_OPERATORS, names=env, functions=FUNCTIONS)
        try:
            result = evaluator.eval(self.text, previously_parsed=self._tree.body)
        except ConditionError as exc:
            raise ConditionError(f"condition `{self.text}`: {exc.message}") from None
        except simpleeval.NameNotDefined as exc:
            raise ConditionError(f"condition `{self.text}`: no value for {exc.name!r}") from None
        except (simpleeval.InvalidExpression, ArithmeticError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise ConditionError(f"condition `{self.text}`: {type(exc).__name__}: {exc}") from None
        if not isinstance(result, bool):
            raise ConditionError(f"condition `{self.text}` gave {result!r}, not true or false")
        return result


def _rewrite_dollar_paths(text: str) -> str:
    """Replace each ``$...`` path outside string literals with ``jp(<root>, '<jmespath>')``."""
    out: list[str] = []
    i = 0
    quote: str | None = None
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            out.append(ch)
            i += 1
            continue
        if ch == "$":
            match = _DOLLAR_PATH.match(text, i)
            assert match is not None  # the pattern matches a bare `$` at least
            path = to_jmespath(match.group(0))
            out.append(f"jp({_DOLLAR_ROOT}, {path!r})")
            i = match.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _compile(text: str, names: frozenset[str] | None) -> Condition:
    if not isinstance(text, str) or not text.strip():
        raise exceptions.UsageError("condition is empty; write one like `value < 0.15`")
    if len(text) > MAX_CONDITION_LENGTH:
        raise exceptions.UsageError(f"condition is {len(text)} characters long; the limit is {MAX_CONDITION_LENGTH}")
    source = _rewrite_dollar_paths(text.strip())
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        col = (exc.offset or 1) - 1
        pointer = f"\n  {text.strip()}\n  {' ' * max(col, 0)}^" if source == text.strip() else ""
        raise exceptions.UsageError(
            f"condition `{text}` is not valid: {exc.msg} at column {col + 1}{pointer}"
        ) from None
    used: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise exceptions.UsageError(
                f"condition `{text}` uses {type(node).__name__}, which conditions do not support "
                "(use comparisons, and/or/not, arithmetic, len(), indexing and $.paths)"
            )
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise exceptions.UsageError(f"condition `{text}`: attribute {node.attr!r} is not allowed")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise exceptions.UsageError(
                    f"condition `{text}` calls {called}(), which is not available; "
                    f"functions: {', '.join(sorted(FUNCTIONS))}"
                )
            if node.keywords:
                raise exceptions.UsageError(f"condition `{text}`: keyword arguments are not supported")
            # A pattern or a path written out is compiled now, so `validate` refuses a bad one.
            literal = node.args[1] if len(node.args) > 1 else None
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                if node.func.id == "matches":
                    try:
                        patterns.check(literal.value)
                    except patterns.PatternError as exc:
                        raise exceptions.UsageError(f"condition `{text}`: {exc}") from None
                elif node.func.id == "jp":
                    compile_path(literal.value)
        if isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in _CONSTANTS:
            used.add(node.id)
    if names is not None:
        unknown = sorted(used - names - {_DOLLAR_ROOT})
        if unknown:
            hint = f"; available: {', '.join(sorted(names))}" if names else ""
            raise exceptions.UsageError(
                f"condition `{text}` uses unknown name{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(u) for u in unknown)}{hint}"
            )
    return Condition(text.strip(), tree, frozenset(used))


def compile_condition(text: str, names: Iterable[str] | None = None) -> Condition:
    """Check a condition and return it compiled; :class:`UsageError` says what is wrong.

    ``names`` are the values the condition may read (e.g. ``{"value"}`` for a metric threshold,
    ``{"status", "json", "body", "headers", "latency_ms"}`` for an HTTP check). With ``None``, any
    name is accepted at load time and a missing one is reported when the condition is evaluated.
    """
    return _compile(text, frozenset(names) if names is not None else None)


_BRACKET_KEY = re.compile(r"""\[(?:'([^']*)'|"([^"]*)")\]""")


def to_jmespath(path: str) -> str:
    """Translate a ``$.a.b[0]`` path to JMESPath (``a.b[0]``); a JMESPath expression passes as is."""
    p = path.strip()
    if not p.startswith("$"):
        return p
    p = p[1:]
    # $['odd key'] -> ."odd key" (JMESPath quotes identifiers with double quotes)
    p = _BRACKET_KEY.sub(lambda m: '."' + (m.group(1) if m.group(1) is not None else m.group(2)) + '"', p)
    if p.startswith("."):
        p = p[1:]
    if not p:
        return "@"
    # Hyphenated keys are common in headers and JSON; JMESPath needs them quoted.
    parts = re.split(r"(\.|\[[^\]]*\])", p)
    fixed = []
    for part in parts:
        if part and part != "." and not part.startswith("[") and not part.startswith('"') and "-" in part:
            fixed.append(f'"{part}"')
        else:
            fixed.append(part)
    return "".join(fixed)


@functools.lru_cache(maxsize=4096)
def compile_path(path: str) -> jmespath.parser.ParsedResult:
    """Compile a JSON path once; :class:`UsageError` if it is not valid."""
    expr = to_jmespath(path)
    try:
        return jmespath.compile(expr)
    except jmespath.exceptions.JMESPathError as exc:
        raise exceptions.UsageError(
            f"JSON path {path!r} is not valid ({exc}); write it like $.status or $.items[0].id"
        ) from None


def json_path(doc: Any, path: str) -> Any:
    """The value at ``path`` (``$.a.b[0]`` or JMESPath) in ``doc``; ``None`` when it is not there."""
    compiled = compile_path(path)
    try:
        if sandbox.is_linear(compiled.parsed):
            return compiled.search(doc)
        # Multi-selects, flattens, pipes and functions can grow without bound: a killable worker runs them.
        return sandbox.search(compiled.expression, doc)
    except sandbox.SandboxError as exc:
        raise ConditionError(str(exc)) from None
    except jmespath.exceptions.JMESPathError as exc:
        raise ConditionError(f"JSON path {path!r}: {exc}") from None
