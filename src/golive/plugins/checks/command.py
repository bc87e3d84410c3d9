"""Command check: run a program (argv list or shell string) and check exit code and output."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field, field_validator

from golive import patterns, results
from golive.plugins import _proc, _util, base
from golive.spec import codecheck

__all__ = ["CommandCheck", "CommandExpect", "CommandParams", "command_result"]


def _check_regex(v: str | list[str] | None) -> str | list[str] | None:
    for pattern in [v] if isinstance(v, str) else v or []:
        patterns.check(pattern, multiline=True)  # a PatternError is a ValueError: reported with file:line
    return v


class CommandExpect(_util.ExpectBase):
    """What the command must do. A string is a condition (names: exit_code, stdout, stderr, json,
    elapsed_ms)."""

    names: ClassVar[frozenset[str]] = frozenset({"exit_code", "stdout", "stderr", "json", "elapsed_ms"})

    exit_code: int | list[int] = Field(default=0, description="Expected exit code, or a list of accepted codes.")
    stdout: str | list[str] | None = Field(
        default=None,
        description="Regex stdout must contain a match for (multiline); a list: every one must match, in any order.",
        json_schema_extra=codecheck.code_field("regex"),
    )
    stderr: str | None = Field(
        default=None,
        description="Regex stderr must contain a match for (multiline).",
        json_schema_extra=codecheck.code_field("regex"),
    )
    stdout_not: str | None = Field(
        default=None,
        description="Regex stdout must NOT match (e.g. `FAIL`).",
        json_schema_extra=codecheck.code_field("regex"),
    )

    check_regexes = field_validator("stdout", "stderr", "stdout_not")(_check_regex)


class CommandParams(base.Params):
    """A command to run and what it must do."""

    run: str | list[str] = Field(
        description="An argv list (no shell), or a string run by /bin/sh -c. `${{ }}` may not stand in the "
        "string form or in an interpreter's -c text: pass values through `env`.",
        json_schema_extra=codecheck.code_field("argv"),
    )
    cwd: str | None = Field(default=None, description="Working directory (default: the run's directory).")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment variables: how a templated value reaches a shell command, as data.",
    )

    _env_text = field_validator("env", mode="before")(_util.env_text)
    inherit_env: bool = Field(default=True, description="Start from golive's own environment.")
    stdin: str | None = Field(
        default=None,
        description="Text written to the command's standard input.",
        json_schema_extra=codecheck.code_field("stdin"),
    )
    timeout: _util.Duration | None = Field(
        default=None, description="Time limit; the process group is killed after it (default: the step's timeout)."
    )
    expect: CommandExpect = Field(default_factory=CommandExpect, description="Exit code and output expected.")

    @field_validator("run")
    @classmethod
    def _not_empty(cls, v: str | list[str]) -> str | list[str]:
        if (isinstance(v, str) and not v.strip()) or (isinstance(v, list) and (not v or not v[0])):
            raise ValueError("the command is empty")
        return v


def _last_line(text: str) -> str:
    # ``text`` is already redacted: cutting first could leave half a secret that no rule recognises.
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


async def command_result(ctx: base.StepContext, p: CommandParams) -> results.Result:
    """Run ``p.run`` and judge it against ``p.expect``; shared by the command check and action."""
    shown = _proc.describe_command(p.run)
    timeout = _util.step_timeout(ctx, p.timeout)
    cwd = _util.resolve_path(ctx, p.cwd) if p.cwd else ctx.workdir
    try:
        res = await _proc.run_command(
            p.run, cwd=cwd, env=p.env, inherit_env=p.inherit_env, timeout=timeout, stdin=p.stdin
        )
    except _proc.ProcFailure as exc:
        return _util.finish(ctx, results.Outcome.ERROR, exc.message, details={"command": shown})
    # What is shown (excerpts, the log, the last line in a summary) is cut from redacted text, never cut first:
    # a secret cut in half is no longer recognised. Expectations still match the raw output.
    shown_out, shown_err = ctx.redact(res.stdout), ctx.redact(res.stderr)
    output: dict[str, Any] = {
        "exit_code": res.exit_code,
        "stdout": _util.excerpt(shown_out),
        "stderr": _util.excerpt(shown_err),
        "elapsed_ms": round(res.elapsed_ms, 1),
    }
    details = {"command": shown, "timed_out": res.timed_out, "truncated": res.truncated}
    log = (
        f"$ {shown}\n--- exit {res.exit_code} in {res.elapsed_ms:.0f} ms ---\n--- stdout ---\n"
        f"{_util.excerpt(shown_out, 20000)}\n--- stderr ---\n{_util.excerpt(shown_err, 20000)}\n"
    )
    evidence = (results.Evidence(name="command.log", content=log.encode()),)
    if res.timed_out:
        return _util.finish(
            ctx,
            results.Outcome.ERROR,
            f"command timed out after {timeout:g} s (process group killed)",
            details=details,
            output=output,
            evidence=evidence,
        )
    exp = p.expect
    judged = _util.Verdicts()
    codes = exp.exit_code if isinstance(exp.exit_code, list) else [exp.exit_code]
    want = " or ".join(map(str, codes))
    if res.exit_code in codes:
        judged.add(True, f"exit_code={res.exit_code}, expected {want}")
    else:
        # Both sides of what the command said: a compare (diff, test, a checker script) explains itself in
        # either stream, and the exit code alone says nothing about what differed.
        said = [
            f"{name}: {line!r}"
            for name, line in (("stdout", _last_line(shown_out)), ("stderr", _last_line(shown_err)))
            if line
        ]
        judged.add(False, f"exit_code={res.exit_code}, expected {want}" + (f" ({'; '.join(said)})" if said else ""))
    for wanted in [exp.stdout] if isinstance(exp.stdout, str) else exp.stdout or []:
        if patterns.search(wanted, res.stdout, multiline=True) is None:
            judged.add(False, f"stdout does not match /{wanted}/ (last line: {_last_line(shown_out)!r})")
        else:
            judged.add(True, f"stdout matches /{wanted}/")
    if exp.stderr is not None:
        if patterns.search(exp.stderr, res.stderr, multiline=True) is None:
            judged.add(False, f"stderr does not match /{exp.stderr}/ (last line: {_last_line(shown_err)!r})")
        else:
            judged.add(True, f"stderr matches /{exp.stderr}/")
    if exp.stdout_not is not None:
        bad = patterns.search(exp.stdout_not, res.stdout, multiline=True)
        if bad is not None:
            judged.add(
                False, f"stdout matches /{exp.stdout_not}/, expected no match ({ctx.redact(bad.group(0))[:100]!r})"
            )
        else:
            judged.add(True, f"stdout has no match for /{exp.stdout_not}/")
    doc: Any = None
    if exp.condition is not None:
        try:
            doc = json.loads(res.stdout)
        except ValueError:
            doc = None
        verdict = exp.condition_verdict(
            {
                "exit_code": res.exit_code,
                "stdout": res.stdout,
                "stderr": res.stderr,
                "json": doc,
                "elapsed_ms": res.elapsed_ms,
            }
        )
        if verdict is not None:
            judged.add(*verdict)
    if judged.failures:
        return _util.finish(
            ctx, results.Outcome.FAIL, judged.summary(), details=details, output=output, evidence=evidence
        )
    return _util.finish(
        ctx,
        results.Outcome.PASS,
        f"{judged.summary()} in {res.elapsed_ms:.0f} ms",
        details=details,
        output=output,
        evidence=evidence,
    )


class CommandCheck(base.CheckPlugin):
    """Run a command; pass on the expected exit code and output."""

    name = "command"
    params = CommandParams
    description = "Run a command (argv or shell); expect exit code, stdout/stderr regex; killed on timeout."

    async def run(self, ctx: base.StepContext) -> results.Result:
        return await command_result(ctx, ctx.params)
