"""Helpers shared by the built-in plugins: durations, expect blocks, redacted results, atomic writes.

The shared HTTP client lives in :mod:`golive.plugins._http`; its factory is re-exported here so the
engine can make one per run::

    client = _util.make_http_client()
    ctx = StepContext(params=..., http_pool=lambda: client)
    ...
    await client.aclose()
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from golive import clock as clock_mod
from golive import exceptions, expr, results
from golive.exceptions import SecretMissing
from golive.plugins import base
from golive.plugins._http import HttpClient, HttpFailure, HttpResponse, TlsOptions, make_http_client
from golive.spec import codecheck, durations

__all__ = [
    "Duration",
    "ExpectBase",
    "HttpClient",
    "HttpFailure",
    "HttpResponse",
    "SecretMissing",
    "TlsOptions",
    "atomic_write",
    "excerpt",
    "finish",
    "fmt",
    "looks_secret",
    "make_http_client",
    "parse_duration",
    "parse_timestamp",
    "resolve_path",
]

EXCERPT_CHARS = 2000  # characters of output kept in a result; the evidence store is not a log sink


# ---------------------------------------------------------------------------------------------- durations

# One rule for every duration golive reads (golive.spec.durations): a number with its unit.
parse_duration = durations.parse_duration
Duration = durations.Duration


fmt_duration = durations.format_duration


# ---------------------------------------------------------------------------------------------- expect


class ExpectBase(base.Params):
    """Base of every ``expect`` block: the structured fields of a plugin, plus ``condition``.

    A plain string in place of the block is shorthand for ``{condition: <string>}``. The condition is
    compiled when the params are validated (at runbook load), against the names in ``names``.
    """

    names: ClassVar[frozenset[str]] = frozenset()

    condition: str | None = Field(
        default=None,
        description="A condition over the result, e.g. `value < 0.15` or `len(body.items) > 0`; "
        "JSON paths like `$.status` read the response. See docs/plugins.md for the names.",
        json_schema_extra=codecheck.code_field("condition"),
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"condition": data}
        return data

    values: dict[str, Any] = Field(
        default_factory=dict,
        description='Named values the condition reads, e.g. {account: "${{ vars.account_id }}"} for '
        "`json.Account == account`: a templated value reaches a condition only this way, as data.",
    )

    @model_validator(mode="after")
    def _check_condition(self) -> ExpectBase:
        clash = sorted(set(self.values) & self.names)
        if clash:
            raise ValueError(f"values {', '.join(clash)}: these names are the result's; choose other names")
        if self.condition is not None:
            try:
                expr.compile_condition(self.condition, self.names | set(self.values))
            except exceptions.UsageError as exc:
                # pydantic reports a ValueError with the field path, which the loader maps to line:column.
                raise ValueError(exc.message) from None
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema = handler.resolve_ref_schema(json_schema)
        return {
            "anyOf": [
                dict(json_schema),
                {
                    "type": "string",
                    "description": "shorthand for {condition: <string>}; names: " + ", ".join(sorted(cls.names)),
                },
            ]
        }

    def check_condition(self, names: Mapping[str, Any]) -> str | None:
        """``None`` when there is no condition or it holds; otherwise why it does not."""
        verdict = self.condition_verdict(names)
        return None if verdict is None or verdict[0] else verdict[1]

    def condition_verdict(self, names: Mapping[str, Any]) -> tuple[bool, str] | None:
        """``None`` without a condition; else whether it holds and the values it judged, e.g.
        ``(True, "`value < 0.15` holds (value=0.02)")``."""
        if self.condition is None:
            return None
        cond = expr.compile_condition(self.condition, self.names | set(self.values))
        names = {**self.values, **names}
        try:
            ok = cond.evaluate(names)
        except expr.ConditionError as exc:
            return False, exc.message
        if ok:
            return True, f"`{self.condition}` holds ({describe_names(cond.names, names)})"
        return False, f"condition `{self.condition}` is false ({describe_names(cond.names, names)})"


class Verdicts:
    """What a check judged, in order: each value seen with its expectation, and whether it held. The summary
    of a failure is the failed judgements; of a pass, every judgement, so a reader sees the numbers."""

    def __init__(self) -> None:
        self.items: list[tuple[bool, str]] = []

    def add(self, ok: bool, text: str) -> None:
        self.items.append((ok, text))

    def compare(self, name: str, seen: Any, op: str, want: Any, ok: bool) -> None:
        """``name=seen, expected op want`` (``scalar=1001, expected == 1000``)."""
        self.add(ok, f"{name}={fmt(seen)}, expected {op} {fmt(want)}")

    @property
    def failures(self) -> list[str]:
        return [t for ok, t in self.items if not ok]

    def summary(self, default: str = "") -> str:
        failed = self.failures
        if failed:
            return "; ".join(failed)
        return "; ".join(t for _, t in self.items) or default


def describe_names(used: frozenset[str], names: Mapping[str, Any]) -> str:
    """``value=0.2, status=503`` for the scalar names a condition used, to say what was seen."""
    parts = []
    for n in sorted(used):
        if n in names:
            v = names[n]
            if isinstance(v, int | float | bool | str) or v is None:
                parts.append(f"{n}={fmt(v)}")
            elif isinstance(v, Mapping | list):
                # A JSON document (`json.value < 0.01`): what was seen, compact and cut, so a refusal can quote it.
                parts.append(f"{n}={cut_head(json.dumps(v, separators=(',', ':'), default=str), FMT_CHARS)}")
    return ", ".join(parts) if parts else "seen values are in the details"


# ---------------------------------------------------------------------------------------------- results


# A run of characters that tokens, keys and addresses are made of: a cut inside one leaves a fragment that no
# redaction rule recognises (half an AWS key id), so a cut never keeps a partial run at its edge.
_TOKEN_EDGE_END = re.compile(r"[\w.@+/=:-]+$")
_TOKEN_EDGE_START = re.compile(r"^[\w.@+/=:-]+")
FMT_CHARS = 200  # characters of a value shown in a summary


def cut_head(text: str, limit: int) -> str:
    """The first ``limit`` characters, without a partial token at the cut."""
    if len(text) <= limit:
        return text
    return _TOKEN_EDGE_END.sub("", text[:limit]) + "..."


def fmt(value: Any) -> str:
    """A value as a summary shows it: strings quoted, JSON literals as JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + cut_head(value, FMT_CHARS) + '"'
    if isinstance(value, float):
        return f"{value:.6g}"
    return cut_head(repr(value), FMT_CHARS)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The end of ``text`` (where errors usually are), cut to ``limit`` characters."""
    if len(text) <= limit:
        return text
    tail = _TOKEN_EDGE_START.sub("", text[-limit:])  # no partial token at the cut
    return f"[... {len(text) - len(tail)} characters cut ...]\n" + tail


def _redact_tree(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {(redact(k) if isinstance(k, str) else k): _redact_tree(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_tree(v, redact) for v in value]
    return value


def finish(
    ctx: base.StepContext,
    outcome: results.Outcome,
    summary: str,
    *,
    details: Mapping[str, Any] | None = None,
    output: Any = None,
    evidence: tuple[results.Evidence, ...] = (),
) -> results.Result:
    """Build a Result with every string in it passed through ``ctx.redact``: the one way out."""
    redact = ctx.redact
    ev = tuple(
        results.Evidence(
            name=e.name,
            content=redact(e.content.decode("utf-8", "replace")).encode("utf-8"),
            media_type=e.media_type,
        )
        if e.media_type.startswith(("text/", "application/json"))
        else e
        for e in evidence
    )
    return results.Result(
        outcome=outcome,
        summary=redact(summary),
        details=_redact_tree(dict(details or {}), redact),
        output=_redact_tree(output, redact),
        evidence=ev,
    )


_SECRET_NAME = re.compile(
    r"(secret|token|passw|pwd|passphrase|api[_-]?key|apikey|private|credential|auth|session|cookie|"
    r"signature|sig$|dsn|database_url|conn(ection)?_?str)",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    """True for names whose value must never be shown (``*_TOKEN``, ``*_API_KEY``, ``DATABASE_URL``...)."""
    return _SECRET_NAME.search(name) is not None


# ---------------------------------------------------------------------------------------------- files and time


def step_timeout(ctx: base.StepContext, own: float | None) -> float:
    """The plugin's own ``timeout`` param where it sets one, else the step's timeout."""
    return own if own is not None else ctx.timeout


def resolve_path(ctx: base.StepContext, path: str | Path) -> Path:
    """A path from a runbook, relative to the run's working directory."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else ctx.workdir / p


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``path`` so readers see the old or the new content, never half of it (temp + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_timestamp(text: str, fmt_: str | None = None, *, assume_utc: bool = True) -> datetime:
    """A timezone-aware datetime from ISO 8601 (default) or a ``strptime`` format; naive means UTC."""
    text = text.strip()
    if fmt_:
        ts = datetime.strptime(text, fmt_)
    else:
        return clock_mod.parse_time(text, naive_is_utc=assume_utc)
    if ts.tzinfo is None:
        if not assume_utc:
            raise ValueError(f"timestamp {text!r} has no timezone")
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def same(seen: Any, want: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` and ``"1"`` is not ``1``, but ``1`` equals ``1.0``."""
    if isinstance(want, bool) or isinstance(seen, bool):
        return type(seen) is type(want) and seen == want
    if isinstance(want, int | float) and isinstance(seen, int | float):
        return float(seen) == float(want)
    return bool(type(seen) is type(want) and seen == want) or (want is None and seen is None)


def compare_paths(doc: Any, expected: Mapping[str, Any], judged: Verdicts | None = None) -> list[str]:
    """One ``$.status is "degraded", expected "ok"`` line per JSON path whose value differs (every path's
    judgement goes to ``judged`` too, when given)."""
    failures = []
    for path, want in expected.items():
        try:
            seen = expr.json_path(doc, path)
        except expr.ConditionError as exc:
            failures.append(exc.message)
            if judged is not None:
                judged.add(False, exc.message)
            continue
        if not same(seen, want):
            failures.append(f"{path} is {fmt(seen)}, expected {fmt(want)}")
            if judged is not None:
                judged.add(False, failures[-1])
        elif judged is not None:
            judged.compare(path, seen, "==", want, True)
    return failures


def secret_text(value: Any) -> str | None:
    """The plain value of a ``SecretStr`` (or a str) param, for sending; never for showing."""
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter is not None else str(value)


def env_text(value: Any) -> Any:
    """An ``env:`` mapping with typed values as the text a process sees (``true``, ``3``, ``0.5``).

    A typed var (``type: bool``/``int``/``number``) keeps its type when it is a whole reference; the
    environment holds text only, so it is spelled out here rather than refused.
    """
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for k, v in value.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, int | float):
            out[k] = str(v)
        else:
            out[k] = v
    return out
