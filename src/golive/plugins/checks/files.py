"""File and log checks: a file exists with the right content and age; a log shows a recent success.

A log check that finds a matching line keeps it as evidence (`log.json`: the source, the pattern, the window,
the line and its age, redacted), the proof a pre-flight hands in; no matching line is a FAIL with no proof.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from golive import patterns, results
from golive.plugins import _logs, _proc, _util, base

__all__ = ["FileCheck", "FileParams", "LogCheck", "LogParams"]

_HASH_BLOCK = 1024 * 1024  # bytes per read while hashing


class FileParams(base.Params):
    """A file that must (or must not) exist, with an optional digest, size and age."""

    path: str = Field(description="File path (relative to the run's directory).", min_length=1)
    exists: bool = Field(default=True, description="Whether the file must exist (false: must be absent).")
    sha256: str | None = Field(default=None, description="Expected SHA-256 of the content (hex).")
    max_age: _util.Duration | None = Field(default=None, description="Modified no longer ago than this, e.g. 24h.")
    min_bytes: int | None = Field(default=None, ge=0, description="At least this many bytes.")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", v):
            raise ValueError("sha256 must be 64 hexadecimal characters")
        return v.lower() if v else v


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


class FileCheck(base.CheckPlugin):
    """A file exists (or not), has the expected SHA-256, size and age."""

    name = "file"
    params = FileParams
    description = "File exists / is absent; sha256, minimum size, maximum age."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: FileParams = ctx.params
        path = _util.resolve_path(ctx, p.path)
        if not p.exists:
            if path.exists():
                return _util.finish(ctx, results.Outcome.FAIL, f"{p.path} exists, expected it to be absent")
            return _util.finish(ctx, results.Outcome.PASS, f"{p.path} is absent", output={"exists": False})
        try:
            st = path.stat()
        except FileNotFoundError:
            return _util.finish(ctx, results.Outcome.FAIL, f"{p.path} does not exist", output={"exists": False})
        except OSError as exc:
            return _util.finish(ctx, results.Outcome.ERROR, f"cannot stat {p.path}: {exc.strerror}")
        if not path.is_file():
            return _util.finish(ctx, results.Outcome.FAIL, f"{p.path} is not a regular file")
        age = (ctx.clock.now() - datetime.fromtimestamp(st.st_mtime, UTC)).total_seconds()
        output: dict[str, object] = {"exists": True, "bytes": st.st_size, "age_seconds": round(age, 1)}
        failures = []
        if p.min_bytes is not None and st.st_size < p.min_bytes:
            failures.append(f"{p.path} is {st.st_size} bytes, expected at least {p.min_bytes}")
        if p.max_age is not None and age > p.max_age:
            failures.append(
                f"{p.path} was modified {_util.fmt_duration(age)} ago, expected within {_util.fmt_duration(p.max_age)}"
            )
        if p.sha256 is not None:
            try:
                digest = await asyncio.to_thread(_sha256, path)
            except OSError as exc:
                return _util.finish(ctx, results.Outcome.ERROR, f"cannot read {p.path}: {exc.strerror}")
            output["sha256"] = digest
            if digest != p.sha256:
                failures.append(f"sha256 is {digest[:12]}..., expected {p.sha256[:12]}...")
        if failures:
            return _util.finish(ctx, results.Outcome.FAIL, "; ".join(failures), output=output)
        return _util.finish(ctx, results.Outcome.PASS, f"{p.path} is present ({st.st_size} bytes)", output=output)


class LogParams(_logs.LogSourceParams):
    """The last line matching a pattern must be recent."""

    within: _util.Duration = Field(description="The last match must be no older than this, e.g. 8h.")


def _command_lines(stdout: str) -> Iterable[str]:
    return reversed([ln for ln in stdout.splitlines() if ln])


class LogCheck(base.CheckPlugin):
    """Find the last line matching ``pattern`` and check that its timestamp is within ``within``.

    Outputs ``last_success_age_hours``, as pre-flight scripts report refresh jobs
    (``shopify_token_refresh_last_success PASS last_success_age_hours=0.07``).
    """

    name = "log"
    params = LogParams
    description = "Last log line matching a pattern has a timestamp within a window (e.g. refresh within 8h)."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: LogParams = ctx.params
        pattern = patterns.compile(p.pattern)
        ts_regex = patterns.compile(p.timestamp_regex)
        source = p.path or _proc.describe_command(p.command or "")
        if p.path is not None:
            path = _util.resolve_path(ctx, p.path)
            try:
                found = await asyncio.to_thread(_last_match, _logs.reverse_lines(path, p.max_bytes), pattern)
            except OSError as exc:
                return _util.finish(ctx, results.Outcome.ERROR, f"cannot read {p.path}: {exc.strerror or exc}")
        else:
            assert p.command is not None
            timeout = _util.step_timeout(ctx, p.timeout)
            try:
                res = await _proc.run_command(p.command, cwd=ctx.workdir, timeout=timeout)
            except _proc.ProcFailure as exc:
                return _util.finish(ctx, results.Outcome.ERROR, exc.message)
            if res.timed_out:
                return _util.finish(ctx, results.Outcome.ERROR, f"log command timed out after {timeout:g} s")
            if res.exit_code != 0:
                return _util.finish(
                    ctx, results.Outcome.ERROR, f"log command exited {res.exit_code}: {res.stderr.strip()[-300:]}"
                )
            found = _last_match(_command_lines(res.stdout), pattern)
        if found is None:
            return _util.finish(
                ctx,
                results.Outcome.FAIL,
                f"no line matches /{p.pattern}/ in {source}, expected one within {_util.fmt_duration(p.within)}",
                output={"last_success_age_hours": None},
            )
        ts = _logs.find_timestamp(found, ts_regex, p.timestamp_format)
        if ts is None:
            return _util.finish(
                ctx,
                results.Outcome.ERROR,
                f"the last line matching /{p.pattern}/ has no timestamp that parses "
                f"(timestamp_regex /{p.timestamp_regex}/, format {p.timestamp_format or 'ISO 8601'})",
                details={"line": _util.excerpt(found, 300)},
            )
        age = max(0.0, (ctx.clock.now() - ts).total_seconds())
        hours = round(age / 3600.0, 2)
        output = {"last_success_age_hours": hours, "last_success_at": ts.isoformat(), "line": _util.excerpt(found, 300)}
        # The proof a pre-flight keeps (e.g. shopify_token_refresh_log.json): where, what, and the line found
        # (redacted with everything else by finish).
        proof = {"source": source, "pattern": p.pattern, "within_hours": round(p.within / 3600.0, 2), **output}
        evidence = (
            results.Evidence(name="log.json", content=json.dumps(proof).encode(), media_type="application/json"),
        )
        if age > p.within:
            return _util.finish(
                ctx,
                results.Outcome.FAIL,
                f"last match {hours:g} h ago, expected within {_util.fmt_duration(p.within)}; "
                f"last_success_age_hours={hours:g}",
                output=output,
                evidence=evidence,
            )
        return _util.finish(
            ctx,
            results.Outcome.PASS,
            f"last_success_age_hours={hours:g} (within {_util.fmt_duration(p.within)})",
            output=output,
            evidence=evidence,
        )


def _last_match(lines: Iterable[str], pattern: Any) -> str | None:
    try:
        for line in lines:
            if pattern.search(line):
                return line
        return None
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()  # a reverse_lines generator holds the file open until closed
