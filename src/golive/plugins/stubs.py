"""Stubs at the transport: a rehearsal that replaces the outside world where golive meets it.

A stubs file (YAML, ``stubs: 1`` at the top) answers in place of the network, processes, databases, secret
providers, flag stores and metric sources. It replaces only the transport: the HTTP client's request, the
process spawn, the SQL driver's execute, a secret provider's lookup, a flag store, and Prometheus' HTTP API
for metric series, a service's ``/metrics`` page for its counters. Every plugin still builds its request,
parses the answer and judges ``expect`` exactly as in a live run, so a stubbed answer fails the same
expectation a live one fails.

A counter stub is a Prometheus counter: its value only grows, by a rate per second of run time that may
change in phases, so a source that reads increases between two scrapes (a ``scrape`` trigger's ``rate`` or
``ratio``) sees traffic and errors as it would on a live service. A page lists every counter stubbed for its
URL (the first stub of a metric and label set wins, so a scenario's fault replaces the file's counter).

In a stubbed run an outside call that no stub matches fails closed (an ``error`` outcome for the step, never a
pass) and is listed in :attr:`StubTransport.unstubbed`, which the run records at its end.

:class:`Recorder` is the other direction: on a rehearsal or dry-run against a real environment it lets every
call through, keeps what the outside world answered (redacted), and writes it as a stubs file to replay later.

The active transport is a context variable: the run sets it around its engine, every task the engine starts
inherits it, and two runs in one process never see each other's stubs.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json as jsonlib
import re
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from golive import clock as clock_mod
from golive import exceptions
from golive.plugins._stubbed import activate, active, recording
from golive.spec.durations import Duration

if TYPE_CHECKING:
    from golive.plugins import _http, _proc, _sql, base

__all__ = [
    "Recorder",
    "StubTransport",
    "StubsFile",
    "activate",
    "active",
    "load_stubs",
    "recording",
]

STUBS_VERSION = 1
MAX_STUBS_BYTES = 16 * 1024 * 1024  # a stubs file is configuration, not a data dump
MAX_RANGE_POINTS = 11_000  # points of one stubbed range answer (Prometheus refuses more)
RECORD_BODY_LIMIT = 64 * 1024  # characters of one recorded body or output
_UNRECORDED_HEADERS = frozenset({"set-cookie", "www-authenticate", "proxy-authenticate", "authorization"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------------------- the file format


class HttpAnswer(_Model):
    """One HTTP answer: a status with headers and a body (text or JSON), or a failure."""

    status: int = Field(default=200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_: Any = Field(default=None, alias="json")
    latency: Duration = 0.0
    fail: Literal["timeout", "connect", "tls"] | None = Field(
        default=None, description="Answer with this failure instead of a response."
    )

    @model_validator(mode="after")
    def _one_body(self) -> HttpAnswer:
        if self.body is not None and self.json_ is not None:
            raise ValueError("give either body or json, not both")
        return self


class HttpPhase(HttpAnswer):
    until: Duration | None = Field(default=None, description="Run time (from the run's start) this answer lasts.")


class HttpStub(_Model):
    """Requests matched by method and URL pattern (a glob over scheme://host/path, query excluded)."""

    method: str | None = None
    url: str = Field(min_length=1)
    query: dict[str, str] = Field(default_factory=dict, description="Query parameters that must be present.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Request headers that must be present (name: a glob over the value)."
    )
    respond: HttpAnswer | None = None
    sequence: list[HttpPhase] | None = None

    @model_validator(mode="after")
    def _answer(self) -> HttpStub:
        if (self.respond is None) == (self.sequence is None):
            raise ValueError("give either respond or sequence")
        return self


class CommandResult(_Model):
    exit: int = 0
    stdout: str = ""
    stderr: str = ""
    files: dict[str, str] = Field(default_factory=dict, description="Files the command writes (under its cwd).")
    latency: Duration = 0.0

    @model_validator(mode="after")
    def _safe_paths(self) -> CommandResult:
        for name in self.files:
            p = PurePosixPath(name)
            if p.is_absolute() or ".." in p.parts or not p.parts:
                raise ValueError(f"files: {name!r} must be a relative path inside the command's directory")
        return self


class CommandPhase(CommandResult):
    until: Duration | None = None


class CommandStub(_Model):
    """Commands matched by argv (a glob per element; ``**`` matches any rest) or by the whole command line."""

    argv: list[str] | None = None
    command: str | None = Field(default=None, description="A glob over the shell-quoted command line.")
    result: CommandResult | None = None
    sequence: list[CommandPhase] | None = None

    @model_validator(mode="after")
    def _shape(self) -> CommandStub:
        if (self.argv is None) == (self.command is None):
            raise ValueError("give either argv or command")
        if (self.result is None) == (self.sequence is None):
            raise ValueError("give either result or sequence")
        return self


class SqlAnswer(_Model):
    columns: list[str] = Field(default_factory=list)
    rows: list[Any] = Field(default_factory=list, description="Lists of values, or mappings of column to value.")
    rowcount: int | None = None
    error: str | None = None


class SqlPhase(SqlAnswer):
    until: Duration | None = None


class SqlStub(_Model):
    """Statements matched by a regular expression (searched, case-insensitive, whitespace collapsed)."""

    query: str = Field(min_length=1)
    url: str | None = Field(default=None, description="A glob over the database URL (credentials removed).")
    result: SqlAnswer | None = None
    sequence: list[SqlPhase] | None = None

    @model_validator(mode="after")
    def _shape(self) -> SqlStub:
        if (self.result is None) == (self.sequence is None):
            raise ValueError("give either result or sequence")
        try:
            re.compile(self.query)
        except re.error as exc:
            raise ValueError(f"query: not a valid regular expression: {exc}") from None
        return self


class SeriesPoint(_Model):
    value: float | None = Field(description="The metric's value; null means the query returns no data.")
    until: Duration | None = None
    noise: float = Field(
        default=0.0,
        ge=0,
        description="Standard deviation of noise added to each point (the same noise for the same query and "
        "instant, so a rehearsal replays identically); a judge needs samples that vary.",
    )


class MetricStub(_Model):
    """A Prometheus query answered with a series over run time ("0.1% until 5m, then 8%")."""

    query: str = Field(min_length=1, description="The PromQL text, exactly (whitespace collapsed).")
    labels: dict[str, str] = Field(default_factory=dict)
    series: list[SeriesPoint] = Field(min_length=1)


class CounterPhase(_Model):
    per_second: float = Field(ge=0, description="How fast the counter grows, per second of run time.")
    until: Duration | None = Field(default=None, description="Run time (from the run's start) this rate lasts.")


class CounterStub(_Model):
    """A Prometheus counter on a ``/metrics`` page, growing over run time ("20 orders/s, 3 errors/s from 5m")."""

    url: str = Field(min_length=1, description="The page (a glob over scheme://host/path) that exposes it.")
    metric: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", description="The sample name, e.g. x_total.")
    labels: dict[str, str] = Field(default_factory=dict)
    start: float = Field(default=0.0, ge=0, description="The counter's value at the run's start.")
    rate: list[CounterPhase] = Field(min_length=1, description="Its growth per second, in phases over run time.")

    @field_validator("labels")
    @classmethod
    def _label_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name):
                raise ValueError(f"labels: {name!r} is not a Prometheus label name")
        return v

    def value_at(self, elapsed: float) -> float:
        """The counter's value ``elapsed`` seconds of run time after the start: the sum of each phase's rate
        over the part of ``[0, elapsed]`` it covers (never less than ``start``; a counter never goes down)."""
        total, since = self.start, 0.0
        for ph in self.rate:
            end = elapsed if ph.until is None else min(float(ph.until), elapsed)
            if end > since:
                total += ph.per_second * (end - since)
                since = end
            if ph.until is None or since >= elapsed:
                break
        if since < elapsed:  # past the last phase's until: the last rate goes on
            total += self.rate[-1].per_second * (elapsed - since)
        return total


class DnsAnswer(_Model):
    rcode: Literal["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "TIMEOUT"] = "NOERROR"
    answers: list[str] = Field(default_factory=list, description="The records' values (addresses, names).")
    canonical_name: str | None = None
    ttl: int = Field(default=300, ge=0)


class DnsPhase(DnsAnswer):
    until: Duration | None = None


class DnsStub(_Model):
    """A name's answer, by record type and resolver (a glob over its address; the system resolver is 'system')."""

    name: str = Field(min_length=1)
    type: str = "A"
    server: str = Field(default="*", description="A glob over the resolver asked ('8.8.8.8', 'system').")
    answer: DnsAnswer | None = None
    sequence: list[DnsPhase] | None = None

    @model_validator(mode="after")
    def _shape(self) -> DnsStub:
        if (self.answer is None) == (self.sequence is None):
            raise ValueError("give either answer or sequence")
        return self


class StubsFile(_Model):
    """A stubs file, ``stubs: 1``."""

    stubs: Literal[1]
    http: list[HttpStub] = Field(default_factory=list)
    commands: list[CommandStub] = Field(default_factory=list)
    sql: list[SqlStub] = Field(default_factory=list)
    secrets: dict[str, str] | None = Field(
        default=None, description="Values by secret name or provider id; when given, every secret must be here."
    )
    flags: dict[str, Any] | None = Field(
        default=None, description="Initial values of an in-memory flag store that replaces the runbook's provider."
    )
    metrics: list[MetricStub] = Field(default_factory=list)
    counters: list[CounterStub] = Field(
        default_factory=list, description="Counters on a /metrics page, growing by a rate over run time."
    )
    dns: list[DnsStub] = Field(default_factory=list)
    env: dict[str, str] | None = Field(
        default=None,
        description="The environment `env` checks see (never the real process environment); a name not here is "
        "not set. Without it, an `env` check fails closed as unstubbed.",
    )

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for name, value in (v or {}).items():
            if not name or "=" in name or "\0" in name:
                raise ValueError(f"env: {name!r} is not a variable name (no '=', no NUL, not empty)")
            if "\0" in value:
                raise ValueError(f"env: {name}: a value cannot hold a NUL byte")
        return v


@dataclass(frozen=True)
class LoadedStubs:
    path: str
    digest: str
    stubs: StubsFile


def read_yaml(p: Path, what: str, max_bytes: int) -> tuple[bytes, Any, Any]:
    """A YAML file's bytes, node tree (for lines in messages) and data; a clear UsageError otherwise."""
    import yaml

    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise exceptions.UsageError(f"{p}: cannot read {what}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise exceptions.UsageError(f"{p}: a {what} is at most {max_bytes // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise exceptions.UsageError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return raw, yaml.compose(text, Loader=loader), yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        raise exceptions.UsageError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


def load_stubs(path: str | Path) -> LoadedStubs:
    """Read and validate a stubs file; :class:`exceptions.UsageError` naming file, line and field otherwise."""
    p = Path(path)
    raw, node, data = read_yaml(p, "stubs file", MAX_STUBS_BYTES)
    if not isinstance(data, dict) or "stubs" not in data:
        raise exceptions.UsageError(f"{p}:1:1: a stubs file starts with 'stubs: 1'")
    try:
        model = StubsFile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = [str(x) for x in err["loc"]]
            line = _line_of(node, err["loc"])
            lines.append(f"{p}:{line}: {'.'.join(loc)}: {err['msg']}")
        raise exceptions.UsageError("invalid stubs file:\n" + "\n".join(lines)) from None
    return LoadedStubs(str(p), hashlib.sha256(raw).hexdigest(), model)


def _line_of(node: Any, loc: Sequence[Any]) -> int:
    """The 1-based line of the deepest node of ``loc`` that exists."""
    import yaml

    line = 1
    for key in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    if node is not None:
        line = node.start_mark.line + 1
    return line


# ------------------------------------------------------------------------------------------ the transport


def _phase(phases: Sequence[Any], elapsed: float) -> Any:
    """The first phase whose ``until`` lies ahead of ``elapsed`` (or has none)."""
    for ph in phases:
        if ph.until is None or elapsed < ph.until:
            return ph
    return phases[-1]


def _float(text: str | None, default: float) -> float:
    try:
        return float(text) if text is not None else default
    except ValueError:
        return default


def _noisy(m: MetricStub, point: SeriesPoint, at: float) -> float | None:
    """The point's value, plus its noise for this query and instant (seeded, so replays are identical)."""
    if point.value is None:
        return None
    if not point.noise:
        return float(point.value)
    import random

    seed = hashlib.sha256(f"{_collapse(m.query)}|{round(at, 3)}".encode()).digest()
    return float(point.value) + random.Random(seed).gauss(0.0, point.noise)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _label_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _url_key(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", dict(parse_qsl(parts.query, keep_blank_values=True))


def _argv_matches(pattern: Sequence[str], argv: Sequence[str]) -> bool:
    for i, pat in enumerate(pattern):
        if pat == "**":
            return True
        if i >= len(argv) or not fnmatch.fnmatchcase(argv[i], pat):
            return False
    return len(argv) == len(pattern)


class _MemoryFlags:
    """The in-memory flag store of a stubbed run; every write is kept in ``writes``."""

    def __init__(self, initial: Mapping[str, Any]) -> None:
        self.values: dict[str, Any] = dict(initial)
        self.writes: list[tuple[str, Any]] = []


@dataclass
class StubTransport:
    """Answers a run's outside calls from a stubs file; unmatched calls fail closed and are listed."""

    stubs: StubsFile
    clock: clock_mod.Clock = field(default_factory=clock_mod.SystemClock)
    source: str = "stubs"
    unstubbed: list[str] = field(default_factory=list)
    outbox: list[dict[str, str]] = field(default_factory=list)
    calls: int = 0
    _start: float | None = None
    _flags: _MemoryFlags | None = None

    def __post_init__(self) -> None:
        self._start = self.clock.monotonic()
        self._flags = _MemoryFlags(self.stubs.flags or {})

    def elapsed(self) -> float:
        """Run time (scaled, on the run's clock) since the transport was activated."""
        return self.clock.monotonic() - (self._start or 0.0)

    def _miss(self, what: str) -> str:
        if what not in self.unstubbed:
            self.unstubbed.append(what)
        return f"unstubbed in this rehearsal: {what} (add it to {self.source}, or record one with --record)"

    # -- HTTP --
    async def http(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        timeout: float,  # noqa: ASYNC109  # a stub answers for the boundary that owns the deadline
        headers: Mapping[str, str] | None = None,
    ) -> _http.HttpResponse:
        from golive.plugins import _http

        self.calls += 1
        method = method.upper()
        base_url, query = _url_key(url)
        query.update(params or {})
        metric = self._metric_answer(base_url, query)
        if metric is not None:
            return _http.HttpResponse(200, {"content-type": "application/json"}, metric, 0.0, url)
        page = self._counters_page(base_url) if method == "GET" else None
        if page is not None:
            return _http.HttpResponse(200, {"content-type": "text/plain; version=0.0.4"}, page, 0.0, url)
        for stub in self.stubs.http:
            if stub.method is not None and stub.method.upper() != method:
                continue
            if not fnmatch.fnmatchcase(base_url, stub.url):
                continue
            if any(query.get(k) != v for k, v in stub.query.items()):
                continue
            if stub.headers:
                sent = {k.lower(): v for k, v in (headers or {}).items()}
                if any(not fnmatch.fnmatchcase(sent.get(k.lower(), "\0"), v) for k, v in stub.headers.items()):
                    continue
            ans = stub.respond if stub.respond is not None else _phase(stub.sequence or [], self.elapsed())
            if ans.latency:
                if ans.latency >= timeout:
                    await self.clock.sleep(timeout)
                    raise _http.HttpFailure("timeout", f"{method} {base_url} timed out after {timeout:g} s")
                await self.clock.sleep(ans.latency)
            if ans.fail == "timeout":
                raise _http.HttpFailure("timeout", f"{method} {base_url} timed out after {timeout:g} s")
            if ans.fail == "connect":
                host = urlsplit(url).netloc
                raise _http.HttpFailure("connect", f"cannot connect to {host}: Connection refused")
            if ans.fail == "tls":
                raise _http.HttpFailure("tls", f"TLS verification of {urlsplit(url).netloc} failed")
            headers = {k.lower(): v for k, v in ans.headers.items()}
            if ans.json_ is not None:
                body = jsonlib.dumps(ans.json_).encode()
                headers.setdefault("content-type", "application/json")
            else:
                body = (ans.body or "").encode()
            return _http.HttpResponse(ans.status, headers, body, float(ans.latency) * 1000.0, url)
        raise _http.HttpFailure("connect", self._miss(f"HTTP {method} {base_url}"))

    def _metric_answer(self, base_url: str, query: Mapping[str, str]) -> bytes | None:
        if not self.stubs.metrics or not base_url.endswith(("/api/v1/query", "/api/v1/query_range")):
            return None
        promql = _collapse(query.get("query", ""))
        for m in self.stubs.metrics:
            if _collapse(m.query) != promql:
                continue
            now = time.time()
            if base_url.endswith("query_range"):
                values = self._range(m, query, now)
                result: list[Any] = [{"metric": m.labels, "values": values}] if values else []
            else:
                at = _float(query.get("time"), now)
                point = _phase(m.series, self.elapsed() - (now - at))
                value = _noisy(m, point, at)
                result = [] if value is None else [{"metric": m.labels, "value": [at, repr(value)]}]
            kind = "matrix" if base_url.endswith("query_range") else "vector"
            return jsonlib.dumps({"status": "success", "data": {"resultType": kind, "result": result}}).encode()
        return None

    def _counters_page(self, base_url: str) -> bytes | None:
        """The text exposition of every counter stubbed for this page, at the current run time."""
        seen: dict[tuple[str, tuple[tuple[str, str], ...]], CounterStub] = {}
        for c in self.stubs.counters:
            if fnmatch.fnmatchcase(base_url, c.url):
                seen.setdefault((c.metric, tuple(sorted(c.labels.items()))), c)
        if not seen:
            return None
        elapsed = max(0.0, self.elapsed())
        lines: list[str] = []
        typed: set[str] = set()
        for (name, labels), c in seen.items():
            if name not in typed:
                typed.add(name)
                lines.append(f"# TYPE {name} counter")
            sel = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels)
            lines.append(f"{name}{{{sel}}} {c.value_at(elapsed)!r}" if sel else f"{name} {c.value_at(elapsed)!r}")
        return ("\n".join(lines) + "\n").encode()

    def _range(self, m: MetricStub, query: Mapping[str, str], now: float) -> list[list[Any]]:
        """One point per ``step`` from ``start`` to ``end``, each the series' value at that run time (a point
        before the run started takes the series' first value), so a judge reads a window of samples."""
        end = _float(query.get("end"), now)
        step = max(_float(query.get("step"), 60.0), 1e-3)
        start = _float(query.get("start"), end)
        out: list[list[Any]] = []
        n = min(int((end - start) / step + 1e-9), MAX_RANGE_POINTS - 1)
        for i in range(n + 1):
            t = start + i * step
            value = _noisy(m, _phase(m.series, self.elapsed() - (now - t)), t)
            if value is not None:
                out.append([t, repr(value)])
        return out

    # -- processes --
    async def command(self, argv: Sequence[str], cwd: Path, timeout: float) -> _proc.ProcResult:  # noqa: ASYNC109
        from golive.plugins import _proc

        self.calls += 1
        line = shlex.join(argv)
        for stub in self.stubs.commands:
            hit = (
                _argv_matches(stub.argv, argv)
                if stub.argv is not None
                else fnmatch.fnmatchcase(line, stub.command or "")
            )
            if not hit:
                continue
            res = stub.result if stub.result is not None else _phase(stub.sequence or [], self.elapsed())
            if res.latency >= timeout:
                await self.clock.sleep(timeout)
                return _proc.ProcResult(None, "", "", timeout * 1000.0, True, False)
            if res.latency:
                await self.clock.sleep(res.latency)
            for name, content in res.files.items():
                target = cwd / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")
            return _proc.ProcResult(res.exit, res.stdout, res.stderr, float(res.latency) * 1000.0, False, False)
        raise _proc.ProcFailure(self._miss(f"command {line}"))

    # -- SQL --
    async def sql(self, url: str, statements: Sequence[str]) -> _sql.SqlResult:
        from golive.plugins import _sql

        self.calls += 1
        safe = _sql.safe_url(url)
        last: Any = None
        for stmt in statements:
            text = _collapse(stmt)
            for stub in self.stubs.sql:
                if stub.url is not None and not fnmatch.fnmatchcase(safe, stub.url):
                    continue
                if re.search(stub.query, text, re.IGNORECASE):
                    last = stub.result if stub.result is not None else _phase(stub.sequence or [], self.elapsed())
                    break
            else:
                raise _sql.SqlFailure(self._miss(f"SQL {text[:120]}"))
            if last.error:
                raise _sql.SqlFailure(f"database {safe}: {last.error}")
        assert last is not None  # statements is never empty (the plugins' params require one)
        columns = list(last.columns)
        rows: list[list[Any]] = []
        for r in last.rows:
            if isinstance(r, Mapping):
                for k in r:
                    if k not in columns:
                        columns.append(k)
                rows.append([r.get(c) for c in columns])
            else:
                rows.append(list(r) if isinstance(r, list | tuple) else [r])
        rowcount = last.rowcount if last.rowcount is not None else len(rows)
        return _sql.SqlResult(columns, rows, rowcount, False)

    # -- DNS --
    def dns(self, name: str, record_type: str, server: str) -> DnsAnswer:
        """The stubbed answer for ``name`` asked of ``server``; a name no stub answers fails closed."""
        self.calls += 1
        want = name.rstrip(".").lower()
        for stub in self.stubs.dns:
            if stub.name.rstrip(".").lower() != want or stub.type.upper() != record_type.upper():
                continue
            if not fnmatch.fnmatchcase(server, stub.server):
                continue
            return stub.answer if stub.answer is not None else _phase(stub.sequence or [], self.elapsed())
        raise exceptions.PluginError(self._miss(f"DNS {record_type} {name} at {server}"))

    # -- secrets and flags --
    def secret(self, name: str, secret_id: str, key: str | None) -> str:
        table = self.stubs.secrets
        if table is None:
            raise exceptions.SecretError(self._miss(f"secret {name}"))
        for k in (name, f"{secret_id}#{key}" if key else secret_id, secret_id):
            if k in table:
                return table[k]
        raise exceptions.SecretError(self._miss(f"secret {name} ({secret_id})"))

    def env(self, name: str) -> str | None:
        """The value of ``name`` in the stubs' ``env:`` (None: not set); no ``env:`` at all fails closed."""
        if self.stubs.env is None:
            raise exceptions.PluginError(self._miss(f"env {name} (give the run's environment as env:)"))
        return self.stubs.env.get(name)

    def secret_provider(self) -> base.SecretProvider:
        """A secret provider answering from ``secrets:`` by id (a missing one fails closed and is listed)."""
        return _stub_secret_provider(self)

    def flag_provider(self) -> base.FlagProvider | None:
        """An in-memory flag store when the stubs give ``flags:``; None leaves the runbook's provider."""
        if self.stubs.flags is None or self._flags is None:
            return None
        return _memory_flag_provider(self._flags)

    @property
    def flag_values(self) -> dict[str, Any]:
        return dict(self._flags.values) if self._flags else {}

    # -- comms --
    def deliver(self, channel: str, title: str, body: str) -> None:
        """A message for a real channel stays here: a stubbed rehearsal never posts to the outside world."""
        self.outbox.append({"channel": channel, "title": title, "body": body})

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "calls": self.calls,
            "unstubbed": list(self.unstubbed),
            "messages_held": len(self.outbox),
            "flags": self.flag_values,
        }


def _stub_secret_provider(transport: StubTransport) -> base.SecretProvider:
    from golive.plugins import base

    class StubSecrets(base.SecretProvider):
        name = "stub-secrets"
        kind = "secret"
        params = base.Params
        description = "The secrets of a stubbed rehearsal."

        def __init__(self) -> None:
            self.options = base.Params()

        async def resolve(self, secret_id: str, key: str | None = None) -> str:
            return transport.secret(secret_id, secret_id, key)

    return StubSecrets()


def _memory_flag_provider(store: _MemoryFlags) -> base.FlagProvider:
    from golive.plugins import base

    class MemoryFlags(base.FlagProvider):
        name = "stub-memory"
        kind = "flag"
        params = base.Params
        description = "The in-memory flag store of a stubbed rehearsal."

        def __init__(self) -> None:
            self.options = base.Params()

        async def get(self, name: str) -> Any:
            return store.values.get(name)

        async def set(self, name: str, value: Any) -> None:
            store.values[name] = value
            store.writes.append((name, value))

    return MemoryFlags()


# --------------------------------------------------------------------------------------------- recording


@dataclass
class _Call:
    kind: str
    key: tuple[Any, ...]
    at: float
    answer: dict[str, Any]


@dataclass
class Recorder:
    """Lets every call through and keeps what the outside world answered, redacted, to write as stubs."""

    redact: Callable[[str], str] = field(default=lambda s: s)
    clock: clock_mod.Clock = field(default_factory=clock_mod.SystemClock)
    calls: list[_Call] = field(default_factory=list)
    secret_names: list[str] = field(default_factory=list)
    _start: float = 0.0

    def __post_init__(self) -> None:
        self._start = self.clock.monotonic()

    def _at(self) -> float:
        return round(self.clock.monotonic() - self._start, 3)

    def _text(self, text: str) -> str:
        clean = self.redact(text)
        return clean if len(clean) <= RECORD_BODY_LIMIT else clean[:RECORD_BODY_LIMIT]

    def http(self, method: str, url: str, params: Mapping[str, str] | None, resp: _http.HttpResponse) -> None:
        base_url, query = _url_key(url)
        query.update(params or {})
        base_url = self.redact(base_url)
        ctype = resp.headers.get("content-type", "")
        answer: dict[str, Any] = {"status": resp.status}
        # Every header as answered (redacted; cookies and auth challenges never kept), so a replay gives the
        # plugins the same response and the same evidence.
        headers = {k: self.redact(v) for k, v in resp.headers.items() if k not in _UNRECORDED_HEADERS}
        if headers:
            answer["headers"] = headers
        text = resp.text()
        if "json" in ctype:
            try:
                answer["json"] = jsonlib.loads(self._text(text))
            except ValueError:
                answer["body"] = self._text(text)
        elif text:
            answer["body"] = self._text(text)
        clean_query = {k: self.redact(v) for k, v in sorted(query.items()) if k not in ("start", "end", "time")}
        key = (method.upper(), base_url, tuple(clean_query.items()))
        self.calls.append(_Call("http", key, self._at(), answer))

    def command(self, argv: Sequence[str], res: _proc.ProcResult) -> None:
        key = tuple(self.redact(a) for a in argv)
        answer = {"exit": res.exit_code if res.exit_code is not None else 124, "stdout": self._text(res.stdout)}
        if res.stderr:
            answer["stderr"] = self._text(res.stderr)
        self.calls.append(_Call("command", key, self._at(), answer))

    def sql(self, statements: Sequence[str], res: _sql.SqlResult) -> None:
        key = (self.redact(_collapse(statements[-1])),)
        rows = jsonlib.loads(self.redact(jsonlib.dumps(res.rows, default=str)))
        answer = {"columns": list(res.columns), "rows": rows, "rowcount": res.rowcount}
        self.calls.append(_Call("sql", key, self._at(), answer))

    def secret(self, name: str) -> None:
        if name not in self.secret_names:
            self.secret_names.append(name)

    def to_stubs(self) -> dict[str, Any]:
        """The stubs document: one stub per distinct call, a sequence where its answer changed over time."""
        groups: dict[tuple[str, tuple[Any, ...]], list[_Call]] = {}
        for c in self.calls:
            groups.setdefault((c.kind, c.key), []).append(c)
        doc: dict[str, Any] = {"stubs": STUBS_VERSION}
        http: list[dict[str, Any]] = []
        commands: list[dict[str, Any]] = []
        sql: list[dict[str, Any]] = []
        for (kind, key), calls in groups.items():
            phases: list[dict[str, Any]] = []
            for c in calls:
                if phases and phases[-1]["answer"] == c.answer:
                    continue
                if phases:
                    phases[-1]["until"] = f"{c.at:g}s"
                phases.append({"answer": c.answer})
            answers: Any = (
                phases[0]["answer"]
                if len(phases) == 1
                else [{**p["answer"], **({"until": p["until"]} if "until" in p else {})} for p in phases]
            )
            one = len(phases) == 1
            if kind == "http":
                entry: dict[str, Any] = {"method": key[0], "url": key[1]}
                if key[2]:
                    entry["query"] = dict(key[2])
                entry["respond" if one else "sequence"] = answers
                http.append(entry)
            elif kind == "command":
                commands.append({"argv": list(key), ("result" if one else "sequence"): answers})
            else:
                sql.append({"query": "^" + re.escape(key[0]) + "$", ("result" if one else "sequence"): answers})
        if http:
            doc["http"] = http
        if commands:
            doc["commands"] = commands
        if sql:
            doc["sql"] = sql
        if self.secret_names:
            # Never the value: a placeholder a person replaces if a stub's answer depends on it.
            doc["secrets"] = {n: f"stub-{n}" for n in self.secret_names}
        return doc

    def write(self, path: str | Path) -> Path:
        import yaml

        p = Path(path)
        header = (
            "# golive stubs recorded from a run; every value passed through the run's redactor.\n"
            "# Replay with: golive run RUNBOOK --mode rehearsal --stubs " + p.name + "\n"
        )
        p.write_text(header + yaml.safe_dump(self.to_stubs(), sort_keys=False, allow_unicode=True), encoding="utf-8")
        return p


# ------------------------------------------------------------------------------------------ activation

# active(), recording() and activate() live in golive.plugins._stubbed (imported by every run).
